#!/usr/bin/env bash
# The whole test suite: the Rust crate, then the Python package (python/) against the Rust
# CLI. Exits non-zero on any failure.
#
#   ./test.sh                 # everything
#   GAUSSMIX_VENV=/path ./test.sh   # another virtual environment (default: .venv)
#
# Needs cargo and python3 with the venv module (Debian: apt-get install python3-venv).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

echo "== cargo test --locked"
cargo test --locked

VENV=${GAUSSMIX_VENV:-.venv}
echo "== Python environment: $VENV"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install --quiet --upgrade pip
"$PY" -m pip install --quiet numpy scikit-learn pytest pandas

echo "== pip install ./python (builds the extension with maturin, release profile)"
"$PY" -m pip install --quiet --force-reinstall --no-deps ./python

echo "== cargo build --bin gaussmix (the CLI, for the round-trip tests)"
cargo build --locked --bin gaussmix
export GAUSSMIX_CLI="$PWD/target/debug/gaussmix"

echo "== pytest python/tests"
# From python/tests' parent's parent, so that `import gaussmix` is the installed package.
"$PY" -m pytest python/tests -q -p no:cacheprovider
