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

# The distributed (MPI) tests need Open MPI or MPICH and libclang (Debian: openmpi-bin
# libopenmpi-dev libclang-dev, which .ci/run installs): with them, the Rust tests are built
# with the `mpi` feature and run `mpirun -n 3`; without them they are left out with a note,
# and with CI=true that is an error.
FEATURES=()
if command -v mpirun >/dev/null && command -v mpicc >/dev/null \
    && ldconfig -p 2>/dev/null | grep libclang >/dev/null; then
    FEATURES=(--features mpi)
elif [ "${CI:-}" = true ]; then
    echo "error: CI=true, but MPI or libclang is missing: apt-get install -y openmpi-bin libopenmpi-dev libclang-dev" >&2
    exit 1
else
    echo "note: MPI or libclang not found: the distributed tests are left out (apt-get install -y openmpi-bin libopenmpi-dev libclang-dev)"
fi

echo "== cargo test --locked ${FEATURES[*]-}"
cargo test --locked ${FEATURES[@]+"${FEATURES[@]}"}

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
cargo build --locked --bin gaussmix ${FEATURES[@]+"${FEATURES[@]}"}
export GAUSSMIX_CLI="$PWD/target/debug/gaussmix"

echo "== pytest python/tests"
# From python/tests' parent's parent, so that `import gaussmix` is the installed package.
"$PY" -m pytest python/tests -q -p no:cacheprovider
