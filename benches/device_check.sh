#!/usr/bin/env bash
# The real-GPU check, in two steps: prepare here, run there.
#
#     bash benches/device_check.sh prepare     # here: build, download the loaders, fill the kit
#     bash benches/device_check.sh run         # there: one command, no network, no Rust
#     bash benches/device_check.sh check-size  # the kit is under 60 MiB (CI)
#
# `prepare` (on the development machine, x86-64 like the GPU machine) builds the release
# binary and the GPU test binaries without debug info (the `devcheck` profile: release, debug =
# 0, symbols stripped; the test binaries are found in cargo's JSON output), downloads the Debian
# packages of the Vulkan and EGL loaders (and the few libraries NVIDIA's Vulkan driver loads),
# copies the files the tests read at run time and this script with `gpu_anchors.py`, and puts
# it all in one folder, `device-check-kit/` (git ignores it; KIT=DIR puts it elsewhere). It
# fails when the folder is 60 MiB or more.
#
# `run` needs nothing but that folder and the system: copy the folder to the GPU machine and
# run `bash device-check-kit/device_check.sh run` there (or `bash benches/device_check.sh run`
# in a checkout that has the kit). It checks the kit's checksums and the system's glibc,
# unpacks each loader package whose library the system lacks (`dpkg -x`, or a few lines of
# Python where there is no dpkg; its libraries go into the system's library folder, then
# `ldconfig`; without root, into a scratch folder named in LD_LIBRARY_PATH), points the paths
# compiled into the test binaries at the kit, selects wgpu's Vulkan backend (WGPU_BACKEND),
# falls back to the NVIDIA driver's own ICD file (VK_DRIVER_FILES) when the loader finds no
# GPU, then runs `gaussmix devices`, the GPU tests (CI=true: they fail
# rather than skip without an adapter), `gaussmix bench` (200 000 × 32, K = 16, full, with the
# faces-sized Gram matrix; diag; the large case, 1 000 000 × 64, K = 64, diag, with a 2000 ×
# 16384 Gram matrix), the anchors beside it (`gpu_anchors.py`: scikit-learn on the CPU and on
# PyTorch CUDA tensors, gaussmix CPU and GPU, same data, same run, when python3 is there) and
# the faces on the GPU and the CPU. Every step has its own time limit and the whole run a
# budget (DEVICE_CHECK_BUDGET, 420 s), so it ends inside 8 minutes whatever hangs.
#
# It writes ${OUT:-device-check}/summary.txt (every figure, the adapter, the driver, one line
# per step and a closing RESULT line) and each step's whole output under logs/. It exits 1 when
# any GPU test or measurement failed, timed out or was not reached, and says which.
#
# DEVICE_CHECK_QUICK=1 (or `run --quick`) shrinks every size for a dry run on a software
# adapter (lavapipe) and gives the slow steps longer limits; DEVICE_CHECK_PYTHON picks the
# Python of the anchors (DEVICE_CHECK_ANCHOR_ARGS adds to its arguments);
# DEVICE_CHECK_ONLY="tests bench" runs only the steps so named.
set -uo pipefail

KIT_MAX_MIB=60
# Debian package -> the library it brings; a package is unpacked only when its library is
# missing. libGLX_nvidia.so.0 (NVIDIA's Vulkan driver) needs libGLdispatch, libX11 and libXext.
DEB_LIBS="libvulkan1:libvulkan.so.1 libegl1:libEGL.so.1 libglvnd0:libGLdispatch.so.0
libx11-6:libX11.so.6 libxext6:libXext.so.6 libxcb1:libxcb.so.1 libxau6:libXau.so.6
libxdmcp6:libXdmcp.so.6 libbsd0:libbsd.so.0 libmd0:libmd.so.0"
PROFILE=devcheck

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { echo "device_check: $*" >&2; exit 1; }

usage() {
    sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    echo "(see the comments at the top of ${BASH_SOURCE[0]} for what each step does)"
}

# The kit: the folder this script runs from when it is inside one, else device-check-kit/
# beside benches/ (or $KIT).
kit_dir() {
    if [[ -f "$here/KIT" ]]; then
        echo "$here"
    else
        echo "${KIT:-$(cd "$here/.." && pwd)/device-check-kit}"
    fi
}

kit_size_check() {
    local kit=$1
    [[ -f "$kit/KIT" ]] || { echo "device_check: no kit at $kit (run: bash benches/device_check.sh prepare)" >&2; return 1; }
    local bytes mib
    bytes=$(du -sb "$kit" | cut -f1)
    mib=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
    if (( bytes >= KIT_MAX_MIB * 1048576 )); then
        echo "device_check: FAIL: the kit $kit is $mib MiB, over the $KIT_MAX_MIB MiB limit" >&2
        du -sb "$kit"/* | sort -rn | head -5 | awk '{ printf "  %8.1f MiB  %s\n", $1 / 1048576, $2 }' >&2
        return 1
    fi
    echo "device_check: kit $kit is $mib MiB (limit $KIT_MAX_MIB MiB): ok"
}

# ------------------------------------------------------------------------------------------
# prepare

prepare() {
    local repo kit tmp
    repo="$(cd "$here/.." && pwd)"
    [[ -f "$repo/Cargo.toml" ]] || die "prepare runs from a checkout (no Cargo.toml in $repo)"
    kit="$(kit_dir)"
    [[ "$kit" != "$here" ]] || die "prepare runs from the checkout's benches/, not from a kit"
    command -v cargo >/dev/null || die "prepare needs cargo"
    command -v apt-get >/dev/null || die "prepare needs apt-get (Debian packages of the loaders)"
    command -v python3 >/dev/null || command -v jq >/dev/null ||
        die "prepare needs python3 or jq (to read cargo's JSON output)"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' RETURN

    # Release, without debug info, stripped: a profile of its own, so that it neither
    # rebuilds nor replaces target/release.
    export CARGO_PROFILE_DEVCHECK_INHERITS=release CARGO_PROFILE_DEVCHECK_DEBUG=0 \
        CARGO_PROFILE_DEVCHECK_STRIP=symbols
    echo "== building gaussmix and the test binaries (profile $PROFILE: release, no debug info)"
    # Only the GPU test targets: `it` (all integration tests in one; its GPU tests are under
    # `gpu::`) or `gpu_*`, as cargo metadata lists them.
    local targets
    targets="$(cd "$repo" && cargo metadata --format-version 1 --no-deps --locked 2>/dev/null |
        jq -r '.packages[] | select(.name=="gaussmix") | .targets[] | select(.kind|index("test")) | .name | select(.=="it" or startswith("gpu_"))' 2>/dev/null ||
        true)"
    if [[ -z "$targets" ]] && command -v python3 >/dev/null; then
        targets="$(cd "$repo" && cargo metadata --format-version 1 --no-deps --locked | python3 -c '
import json, sys
for p in json.load(sys.stdin)["packages"]:
    for t in p["targets"] if p["name"] == "gaussmix" else []:
        if "test" in t["kind"] and (t["name"] == "it" or t["name"].startswith("gpu_")):
            print(t["name"])')"
    fi
    [[ -n "$targets" ]] || die "cargo metadata lists no test target 'it' or 'gpu_*'"
    local test_args=() t
    for t in $targets; do test_args+=(--test "$t"); done
    echo "   test targets: $targets" | tr '\n' ' '
    echo
    # One cargo command: it also builds the gaussmix the tests start (CARGO_BIN_EXE_gaussmix),
    # with the features the tests' dependencies unify; a separate `cargo build` would build
    # every dependency a second time for the same program.
    (cd "$repo" && cargo test --profile "$PROFILE" --locked --no-run --message-format=json "${test_args[@]}") \
        >"$tmp/tests.json" || {
        jq -r 'select(.reason=="compiler-message" and .message.level=="error") | .message.rendered' \
            "$tmp/tests.json" 2>/dev/null | head -40 >&2
        die "cargo test --no-run failed"
    }

    # From cargo's JSON: the gaussmix executable, and the test executables of the targets `it`
    # (all integration tests in one; its GPU tests are under `gpu::`) or `gpu_*`.
    local select
    select='
import json, sys
for line in open(sys.argv[1]):
    try:
        a = json.loads(line)
    except ValueError:
        continue
    if a.get("reason") != "compiler-artifact" or not a.get("executable"):
        continue
    t, p = a["target"], a["profile"]
    if sys.argv[2] == "bin" and "bin" in t["kind"] and t["name"] == "gaussmix" and not p["test"]:
        print(t["name"] + "\t" + a["executable"])
    if sys.argv[2] == "tests" and p["test"] and "test" in t["kind"] and (
            t["name"] == "it" or t["name"].startswith("gpu_")):
        print(t["name"] + "\t" + a["executable"])
'
    pick() {
        if command -v python3 >/dev/null; then
            python3 -c "$select" "$1" "$2"
        elif [[ $2 == bin ]]; then
            jq -r 'select(.reason=="compiler-artifact" and .executable!=null and (.target.kind|index("bin")) and .target.name=="gaussmix" and (.profile.test|not)) | .target.name+"\t"+.executable' "$1"
        else
            jq -r 'select(.reason=="compiler-artifact" and .executable!=null and .profile.test and (.target.kind|index("test")) and (.target.name=="it" or (.target.name|startswith("gpu_")))) | .target.name+"\t"+.executable' "$1"
        fi
    }
    local bin tests
    bin="$(pick "$tmp/tests.json" bin | head -1 | cut -f2)"
    [[ -x "$bin" ]] || die "cargo's JSON output names no gaussmix executable"
    pick "$tmp/tests.json" tests | sort -u >"$tmp/tests.list"
    [[ -s "$tmp/tests.list" ]] || die "cargo's JSON output names no test target 'it' or 'gpu_*'"

    echo "== filling $kit"
    rm -rf "$kit"
    mkdir -p "$kit/bin" "$kit/tests" "$kit/debs" "$kit/root"
    cp "$bin" "$kit/bin/gaussmix"
    local names="" name exe
    while IFS=$'\t' read -r name exe; do
        cp "$exe" "$kit/tests/$name"
        names+="$name "
    done <"$tmp/tests.list"
    if command -v strip >/dev/null; then
        strip "$kit/bin/gaussmix" "$kit"/tests/* 2>/dev/null || true
    fi

    # What the test binaries read at run time from their CARGO_MANIFEST_DIR (compiled in as
    # an absolute path): the shader sources and tests/data; and the gaussmix they start
    # (CARGO_BIN_EXE_gaussmix, also absolute). `run` makes those paths lead into the kit.
    mkdir -p "$kit/root/tests"
    cp -r "$repo/shaders" "$kit/root/shaders"
    cp -r "$repo/tests/data" "$kit/root/tests/data"
    local bin_rel
    case "$bin" in
        "$repo"/*)
            bin_rel="${bin#"$repo"/}"
            mkdir -p "$kit/root/$(dirname "$bin_rel")"
            # A relative link, so the kit can move.
            local up
            up="$(dirname "$bin_rel" | sed 's|[^/][^/]*|..|g')"
            ln -s "$up/../bin/gaussmix" "$kit/root/$bin_rel"
            ;;
    esac

    echo "== downloading the loader packages"
    local debs="" pair
    for pair in $DEB_LIBS; do debs+="${pair%%:*} "; done
    # shellcheck disable=SC2086
    # (Package lists that are missing or stale: update them once, then try again.)
    (cd "$kit/debs" && apt-get download $debs) ||
        { [[ $EUID -eq 0 ]] && apt-get update -qq && (cd "$kit/debs" && apt-get download $debs); } ||
        die "apt-get download $debs failed"

    cp "$here/device_check.sh" "$here/gpu_anchors.py" "$kit/"
    local glibc commit dirty
    glibc="$(grep -aohE 'GLIBC_2\.[0-9]+(\.[0-9]+)?' "$kit/bin/gaussmix" "$kit"/tests/* |
        sed 's/GLIBC_//' | sort -uV | tail -1)"
    commit="${DEVICE_CHECK_COMMIT:-$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)}"
    dirty="$(git -C "$repo" --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null | head -1)"
    {
        echo "# The kit of benches/device_check.sh; 'run' reads this file."
        printf 'KIT_COMMIT=%q\n' "$commit${dirty:+ (with uncommitted changes)}"
        printf 'KIT_BUILT=%q\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
        printf 'KIT_RUSTC=%q\n' "$(rustc --version 2>/dev/null || echo unknown)"
        printf 'KIT_MANIFEST_DIR=%q\n' "$repo"
        printf 'KIT_BIN_EXE=%q\n' "$bin"
        printf 'KIT_TESTS=%q\n' "${names% }"
        printf 'KIT_GLIBC=%q\n' "${glibc:-0}"
    } >"$kit/KIT"
    (cd "$kit" && find . -type f ! -name SHA256SUMS -print0 | sort -z | xargs -0 sha256sum >SHA256SUMS)

    echo "== kit contents"
    (cd "$kit" && du -ab bin/* tests/* && du -sb debs root) | awk '{ printf "  %8.1f MiB  %s\n", $1 / 1048576, $2 }' 
    echo "  test targets: ${names% }; needs glibc >= ${glibc:-?}"
    kit_size_check "$kit" || exit 1
    echo "== next: copy $kit to the GPU machine, run: bash $(basename "$kit")/device_check.sh run"
}

# ------------------------------------------------------------------------------------------
# run

ldconfig_bin() {
    local c
    for c in ldconfig /sbin/ldconfig /usr/sbin/ldconfig; do
        command -v "$c" >/dev/null 2>&1 && { echo "$c"; return; }
    done
}

# (No awk here exits early: under pipefail, ldconfig's SIGPIPE would fail the pipeline.)
lib_path() { # soname: where the dynamic loader finds it (LD_LIBRARY_PATH, then its cache)
    local d
    for d in ${LD_LIBRARY_PATH:+${LD_LIBRARY_PATH//:/ }}; do [[ -e "$d/$1" ]] && { echo "$d/$1"; return 0; }; done
    [[ -n "$LDCONFIG" ]] && "$LDCONFIG" -p 2>/dev/null |
        awk -v so="$1" '$1 == so && /x86-64/ && !found { print $NF; found = 1 } END { exit !found }'
}

has_lib() { lib_path "$1" >/dev/null; }

# Unpacks a .deb without dpkg when there is none (an ar archive holding data.tar.*).
deb_extract() { # deb dest
    if command -v dpkg >/dev/null; then
        dpkg -x "$1" "$2"
    elif [[ -n "$PY" ]]; then
        "$PY" - "$1" "$2" <<'EOF'
import io, sys, tarfile
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"!<arch>\n", "not a .deb"
i = 8
while i < len(data):
    name = data[i:i + 16].decode().strip().rstrip("/")
    size = int(data[i + 48:i + 58].decode().strip())
    body = data[i + 60:i + 60 + size]
    if name.startswith("data.tar"):
        tarfile.open(fileobj=io.BytesIO(body)).extractall(sys.argv[2])
        break
    i += 60 + size + (size & 1)
else:
    sys.exit("no data.tar in " + sys.argv[1])
EOF
    else
        return 1
    fi
}

# State of the run.
SUMMARY=""
LOGS=""
START=$SECONDS
BUDGET=420
RESULTS=()
FAILS=()
KIT_DIR=""
CLEANUP=()

say() { echo "$*" | tee -a "$SUMMARY"; }

record() { # name status seconds note
    RESULTS+=("$(printf '%-8s %6s s  %-22s %s' "$2" "$3" "$1" "$4")")
    case "$2" in ok | note | n/a) ;; *) FAILS+=("$1") ;; esac
}

# step NAME LIMIT CMD...: runs CMD under `timeout` (at most what is left of the budget), its
# output into logs/NAME.log; sets STEP_RC and STEP_SECS. The caller records the outcome.
step() {
    local name=$1 lim=$2
    shift 2
    local left=$((BUDGET - (SECONDS - START) - 10))
    STEP_LOG="$LOGS/$name.log"
    if ((left < 5)); then
        say "== $name: not run: the run's time budget ($BUDGET s) is spent"
        STEP_RC=125
        STEP_SECS=0
        return
    fi
    ((lim > left)) && lim=$left
    local shown="$*"
    say "== $name (limit $lim s): ${shown//$KIT_DIR\//kit/}"
    local t0=${EPOCHREALTIME:-$SECONDS}
    timeout -k 5 "$lim" "$@" </dev/null >"$STEP_LOG" 2>&1
    STEP_RC=$?
    STEP_SECS=$(awk -v a="$t0" -v b="${EPOCHREALTIME:-$SECONDS}" 'BEGIN { printf "%.1f", b - a }')
    if ((STEP_RC == 124 || STEP_RC == 137)); then
        echo "TIMED OUT after $lim s (killed)" >>"$STEP_LOG"
    fi
}

# The outcome of the last step: ok, or the reason it failed.
outcome() { # name [failure reason despite exit 0] [note when ok]
    local name=$1 why=${2:-} note=${3:-}
    if ((STEP_RC == 125)) && [[ ! -s "$STEP_LOG" ]]; then
        record "$name" "NOT RUN" 0 "the run's time budget was spent"
    elif ((STEP_RC == 124 || STEP_RC == 137)); then
        record "$name" "TIMEOUT" "$STEP_SECS" "killed at its time limit"
    elif ((STEP_RC != 0)); then
        record "$name" "FAILED" "$STEP_SECS" "exit $STEP_RC: $(grep -v XDG_RUNTIME_DIR "$STEP_LOG" | grep -m1 -E 'error|Error|panicked|FAILED' | cut -c1-150)"
    elif [[ -n "$why" ]]; then
        record "$name" "FAILED" "$STEP_SECS" "$why"
    else
        record "$name" "ok" "$STEP_SECS" "$note"
    fi
}

# A step's output into the summary, less the GL backend's complaint about a missing
# XDG_RUNTIME_DIR (harmless on a headless machine; it stays in the step's log).
show() { grep -v 'XDG_RUNTIME_DIR is invalid' "$STEP_LOG" | sed 's/^/    /' | tee -a "$SUMMARY"; }

# The EM table of `gaussmix bench` has a gpu row, and so has its Gram table when it has one.
bench_used_gpu() {
    grep -qE '^ *[0-9]+ +[0-9]+ +[0-9]+ +[a-z]+ +gpu ' "$STEP_LOG" || return 1
    ! grep -q '^notice:' "$STEP_LOG"
}

# NVIDIA's Vulkan ICD file, or one written here for the driver's library when there is none.
nvidia_icd() {
    local f lib d
    for f in /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json \
        /usr/local/share/vulkan/icd.d/nvidia_icd*.json /usr/share/vulkan/icd.d/nvidia*.json \
        /etc/vulkan/icd.d/nvidia*.json; do
        [[ -f "$f" ]] && { echo "$f"; return 0; }
    done
    lib="$([[ -n "$LDCONFIG" ]] && "$LDCONFIG" -p 2>/dev/null | awk '/libGLX_nvidia\.so\.0 .*x86-64/ && !f { print $NF; f = 1 }')"
    if [[ -z "$lib" ]]; then
        for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/nvidia/lib64 /usr/lib /lib64; do
            [[ -e "$d/libGLX_nvidia.so.0" ]] && { lib="$d/libGLX_nvidia.so.0"; break; }
        done
    fi
    [[ -n "$lib" ]] || return 1
    f="$TMPD/nvidia_icd.json"
    printf '{ "file_format_version": "1.0.0", "ICD": { "library_path": "%s", "api_version": "1.3.0" } }\n' "$lib" >"$f"
    echo "$f"
}

# An adapter line of `gaussmix devices` that is a real GPU (not a CPU/software one).
devices_have_gpu() { grep -qiE 'DiscreteGpu|IntegratedGpu|VirtualGpu|discrete|integrated' "$STEP_LOG"; }

# DEVICE_CHECK_ONLY="tests bench" runs only the steps whose names start so (and the setup).
wanted() {
    [[ -z "${DEVICE_CHECK_ONLY:-}" ]] && return 0
    local w
    for w in $DEVICE_CHECK_ONLY; do [[ $1 == "$w"* ]] && return 0; done
    return 1
}

cleanup() {
    local i
    for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do
        eval "${CLEANUP[i]}" 2>/dev/null || true
    done
}

run_check() {
    local quick=${DEVICE_CHECK_QUICK:-0}
    [[ "${1:-}" == "--quick" ]] && quick=1
    local kit
    kit="$(kit_dir)"
    KIT_DIR="$kit"
    local out="${OUT:-device-check}"
    mkdir -p "$out/logs" || die "cannot create $out"
    out="$(cd "$out" && pwd)"
    SUMMARY="$out/summary.txt"
    LOGS="$out/logs"
    : >"$SUMMARY"
    TMPD="$(mktemp -d "${TMPDIR:-/tmp}/gaussmix-device-check.XXXXXX")"
    CLEANUP+=("rm -rf '$TMPD'")
    trap cleanup EXIT
    trap 'say "== interrupted"; exit 130' INT TERM
    BUDGET=${DEVICE_CHECK_BUDGET:-$( ((quick)) && echo 1500 || echo 420)}
    LDCONFIG="$(ldconfig_bin)"
    PY="${DEVICE_CHECK_PYTHON:-$(command -v python3 || true)}"

    # Limits (seconds): real sizes on a real GPU; the quick sizes on a software adapter.
    local t_tests=90 t_tests_all=150 t_bench=75 t_anchors=170 t_diag=45 t_large=90 t_faces=60
    local bench_args=(--iters 5) diag_args=(--iters 5 --covariance diag --gram 0x0)
    local large_args=(--n 1000000 --d 64 --k 64 --covariance diag --iters 3 --gram 2000x16384)
    local anchor_args=()
    if ((quick)); then
        t_tests=600 t_tests_all=900 t_bench=120 t_anchors=400 t_diag=90 t_large=180 t_faces=180
        bench_args=(--n 4000 --d 8 --k 4 --iters 1 --gram 200x1024)
        diag_args=(--n 4000 --d 8 --k 4 --iters 1 --covariance diag --gram 0x0)
        large_args=(--n 20000 --d 16 --k 8 --covariance diag --iters 1 --gram 400x2048)
        anchor_args=(--quick)
    fi

    say "== gaussmix device check, $(date -u +%Y-%m-%dT%H:%M:%SZ)$( ((quick)) && echo ', QUICK (dry-run sizes)')"
    say "== host: $(uname -srm), $(nproc 2>/dev/null || echo '?') CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null), glibc $(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{ print $2 }'), budget $BUDGET s"
    say "== kit: $kit"
    if [[ ! -f "$kit/KIT" ]]; then
        say "== FAIL: no kit at $kit: run 'bash benches/device_check.sh prepare' on the development machine and copy the folder here"
        say "RESULT: FAIL (no kit)"
        exit 1
    fi
    # shellcheck disable=SC1091
    source "$kit/KIT"
    say "== kit: gaussmix $KIT_COMMIT, built $KIT_BUILT with $KIT_RUSTC; test targets: $KIT_TESTS"
    local bin="$kit/bin/gaussmix"
    # A copy that lost the executable bits (some transfers do) still runs.
    chmod +x "$kit"/bin/* "$kit"/tests/* 2>/dev/null || true

    # The kit is whole (a copy cut short fails here, not in a later step).
    if command -v sha256sum >/dev/null; then
        if (cd "$kit" && sha256sum --quiet -c SHA256SUMS) >"$LOGS/kit.log" 2>&1; then
            record kit ok 0 "checksums match"
        else
            say "== kit: checksums do not match:"
            sed 's/^/    /' "$LOGS/kit.log" | head -10 | tee -a "$SUMMARY"
            record kit FAILED 0 "files differ from SHA256SUMS (an incomplete copy?)"
        fi
    fi
    local glibc
    glibc="$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{ print $2 }')"
    if [[ -n "$glibc" ]] && [[ "$(printf '%s\n%s\n' "$KIT_GLIBC" "$glibc" | sort -V | head -1)" != "$KIT_GLIBC" ]]; then
        say "== FAIL: the kit's binaries need glibc >= $KIT_GLIBC, this system has $glibc"
        record glibc FAILED 0 "needs glibc >= $KIT_GLIBC, found $glibc"
    fi

    # Loaders: unpack a package only when the system lacks its library. Each package is
    # unpacked (dpkg -x) into a scratch folder and its shared libraries are copied into the
    # system's library folder (where libc.so.6 is), then `ldconfig`: unpacking straight onto /
    # could replace a merged-/usr system's /lib link with a folder. Without root, they go to a
    # scratch folder named in LD_LIBRARY_PATH.
    local pair pkg so deb libdir="" ok_libs="" missing="" x
    for pair in $DEB_LIBS; do
        pkg=${pair%%:*} so=${pair#*:}
        if has_lib "$so"; then
            ok_libs+="$so "
            continue
        fi
        deb="$(ls "$kit/debs/${pkg}"_*.deb 2>/dev/null | head -1)"
        if [[ -z "$deb" ]]; then
            missing+="$so "
            say "== loader: $so is missing and the kit has no $pkg package"
            continue
        fi
        if [[ -z "$libdir" ]]; then
            libdir="$([[ -n "$LDCONFIG" ]] && "$LDCONFIG" -p 2>/dev/null | awk '/libc\.so\.6 .*x86-64/ && !f { print $NF; f = 1 }')"
            libdir="${libdir%/*}"
            if [[ $EUID -ne 0 || -z "$libdir" || ! -w "$libdir" ]]; then
                libdir="$TMPD/lib"
                mkdir -p "$libdir"
                export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
                say "== loader: cannot write to the system's library folder: LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
            fi
        fi
        x="$TMPD/deb/$pkg"
        mkdir -p "$x"
        if deb_extract "$deb" "$x" >>"$LOGS/loaders.log" 2>&1; then
            find "$x" -path '*/x86_64-linux-gnu/*' -name '*.so*' -exec cp -a {} "$libdir/" \; 2>>"$LOGS/loaders.log"
        fi
        if [[ -e "$libdir/$so" ]]; then
            say "== loader: $so was missing: unpacked $(basename "$deb") (dpkg -x), its libraries copied into $libdir"
        else
            say "== loader: $so is missing and unpacking $(basename "$deb") failed (see logs/loaders.log)"
            missing+="$so "
        fi
    done
    [[ -n "$libdir" && -n "$LDCONFIG" && $EUID -eq 0 ]] && timeout 60 "$LDCONFIG" >>"$LOGS/loaders.log" 2>&1
    for so in $missing; do has_lib "$so" && missing="${missing/$so /}"; done
    [[ -n "$ok_libs" ]] && say "== loader: found on the system: $ok_libs"
    if has_lib libvulkan.so.1; then
        record loader ok 0 "libvulkan.so.1: $(lib_path libvulkan.so.1)"
    else
        record loader FAILED 0 "no Vulkan loader (libvulkan.so.1): no Vulkan adapter can be found"
    fi
    [[ -n "$missing" ]] && say "== loader: still missing: $missing"

    # The paths compiled into the test binaries: their manifest dir and the gaussmix they run.
    if [[ ! -e "$KIT_MANIFEST_DIR" ]]; then
        if mkdir -p "$(dirname "$KIT_MANIFEST_DIR")" 2>/dev/null && ln -s "$kit/root" "$KIT_MANIFEST_DIR" 2>/dev/null; then
            CLEANUP+=("rm -f '$KIT_MANIFEST_DIR'")
            say "== tests: $KIT_MANIFEST_DIR (compiled into the tests) -> $kit/root, for this run"
        else
            say "== tests: cannot create $KIT_MANIFEST_DIR: the tests that read files under it will fail"
        fi
    else
        say "== tests: $KIT_MANIFEST_DIR (compiled into the tests) exists here; they read its shaders/ and tests/data/"
        local sub
        for sub in shaders tests/data; do
            if ! diff -rq "$kit/root/$sub" "$KIT_MANIFEST_DIR/$sub" >/dev/null 2>&1; then
                say "== tests: WARNING: $KIT_MANIFEST_DIR/$sub differs from the kit's (another checkout?): a test that reads it may fail for that reason"
            fi
        done
    fi
    if [[ ! -e "$KIT_BIN_EXE" ]]; then
        if mkdir -p "$(dirname "$KIT_BIN_EXE")" 2>/dev/null && ln -s "$bin" "$KIT_BIN_EXE" 2>/dev/null; then
            CLEANUP+=("rm -f '$KIT_BIN_EXE'")
            say "== tests: $KIT_BIN_EXE -> $bin, for this run"
        else
            say "== tests: cannot create $KIT_BIN_EXE: the tests that start gaussmix will fail"
        fi
    fi

    # Vulkan only, unless WGPU_BACKEND says otherwise: the engine's target. Without a Vulkan
    # loader wgpu would otherwise take the GL backend (EGL) where it finds one, and the GPU
    # tests fail there slowly instead of at once.
    if [[ -z "${WGPU_BACKEND:-}" ]]; then
        export WGPU_BACKEND=vulkan
        say "== wgpu: WGPU_BACKEND=vulkan for every step (set WGPU_BACKEND to choose another)"
    else
        say "== wgpu: WGPU_BACKEND=$WGPU_BACKEND (from the environment)"
    fi

    # The GPU and its driver.
    local gpu_hw=0
    if command -v nvidia-smi >/dev/null; then
        step nvidia-smi 20 nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv
        show
        ((STEP_RC == 0)) && gpu_hw=1
        outcome nvidia-smi
    else
        say "== nvidia-smi: not found (no NVIDIA driver tools here)"
        [[ -e /dev/nvidia0 ]] && gpu_hw=1
        record nvidia-smi n/a 0 "not found"
    fi
    [[ -e /dev/dri/renderD128 || -e /dev/nvidia0 || -e /dev/kfd ]] && gpu_hw=1

    step devices 30 "$bin" devices
    show
    if ! devices_have_gpu && ((STEP_RC != 124 && STEP_RC != 137)); then
        local icd
        if [[ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]] && icd="$(nvidia_icd)"; then
            say "== devices: no GPU adapter; retrying with NVIDIA's ICD file: VK_DRIVER_FILES=$icd"
            export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"
            step devices-nvidia-icd 30 "$bin" devices
            show
        elif ((gpu_hw)) && [[ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]]; then
            say "== devices: no NVIDIA Vulkan driver here (no nvidia_icd.json, no libGLX_nvidia.so.0): in a container, NVIDIA_DRIVER_CAPABILITIES must include 'graphics' (or be 'all') for Vulkan; 'compute,utility' gives CUDA only"
        fi
    fi
    local devices_why=""
    if ((STEP_RC == 0)) && ! devices_have_gpu; then
        if grep -qE '^[0-9]+ ' "$STEP_LOG"; then
            if ((gpu_hw)); then
                devices_why="a GPU is present but wgpu finds only a software adapter"
            else
                say "== devices: no GPU hardware here: the GPU steps run on a software adapter (a dry run, not a GPU measurement)"
            fi
        else
            devices_why="no adapter found"
        fi
    fi
    local devices_rc=$STEP_RC
    if [[ -n "$devices_why" ]] || ((STEP_RC != 0)); then
        # Why the Vulkan loader found nothing, in its own words.
        VK_LOADER_DEBUG=error,warn timeout 20 "$bin" devices </dev/null 2>&1 | grep -v XDG_RUNTIME_DIR | grep -iE 'loader|icd|error' | uniq | head -8 | sed 's/^/    vulkan: /' | tee -a "$SUMMARY"
        # And what the other backends would have found.
        WGPU_BACKEND=vulkan,gl timeout 20 "$bin" devices </dev/null 2>&1 | grep -v XDG_RUNTIME_DIR | head -6 | sed 's/^/    every backend: /' | tee -a "$SUMMARY"
    fi
    STEP_RC=$devices_rc
    outcome devices "$devices_why"
    local adapter driver
    adapter="$(grep -m1 '^default:' "$STEP_LOG" | sed 's/^default: *//')"
    # The driver column of the adapter that is used (the table's row of the same name).
    driver="$(awk -v a="$adapter" 'NR > 1 && /^[0-9]+ / && index(a, $2) { sub(/.*  /, ""); print; exit }' "$STEP_LOG")"

    # The GPU tests: CI=true, so that a missing adapter fails them instead of skipping them.
    local t tests_end=$((SECONDS + t_tests_all)) lim filter
    for t in $KIT_TESTS; do
        wanted "tests-$t" || continue
        filter=()
        [[ $t == it ]] && filter=(gpu)
        lim=$((tests_end - SECONDS))
        ((lim > t_tests)) && lim=$t_tests
        ((lim < 5)) && lim=5
        step "tests-$t" "$lim" env CI=true RUST_BACKTRACE=0 "$kit/tests/$t" "${filter[@]}" --color never
        grep -E '^running [0-9]+ tests?$|^test .*(FAILED|ignored)|^test result|panicked at|^TIMED OUT' "$STEP_LOG" |
            sed 's/^/    /' | tee -a "$SUMMARY"
        # The messages under the panics, each once, with how many tests gave it.
        grep -A1 'panicked at' "$STEP_LOG" | grep -vE 'panicked at|^--$' | sort | uniq -c |
            sort -rn | head -8 | cut -c1-400 | sed 's/^ *\([0-9]*\) /      [\1x] /' | tee -a "$SUMMARY"
        if grep -q '^running 0 tests' "$STEP_LOG" && ! grep -qE '^running [1-9]' "$STEP_LOG"; then
            outcome "tests-$t" "no test ran (filter: ${filter[*]:-none})"
        else
            outcome "tests-$t" "" "$(grep -m1 '^test result' "$STEP_LOG" | sed 's/^test result: ok\. //; s/; [0-9]* measured.*//')"
        fi
    done

    if wanted bench; then
        step bench "$t_bench" "$bin" bench "${bench_args[@]}"
        show
        outcome bench "$(bench_used_gpu || echo 'no GPU row: the GPU was not used')"
    fi

    # The anchors: scikit-learn (CPU; array API on PyTorch CUDA) beside gaussmix (CPU, GPU).
    if ! wanted anchors; then
        :
    elif [[ -z "$PY" ]]; then
        say "== anchors: not run: python3 not found"
        record anchors n/a 0 "python3 not found"
    else
        # The script keeps to a budget of its own inside the step's limit, to print its tables.
        lim=$((BUDGET - (SECONDS - START) - 10))
        ((lim > t_anchors)) && lim=$t_anchors
        step anchors "$t_anchors" "$PY" "$kit/gpu_anchors.py" --gaussmix "$bin" --out "$out" \
            --budget $((lim > 30 ? lim - 15 : 15)) "${anchor_args[@]}" ${DEVICE_CHECK_ANCHOR_ARGS:-}
        show
        if ((STEP_RC == 3)); then
            record anchors n/a "$STEP_SECS" "$(grep -m1 'NOT RUN' "$STEP_LOG" | cut -c1-150)"
        else
            outcome anchors "$(grep -m1 '^anchors: FAILED' "$STEP_LOG")"
        fi
    fi

    if wanted bench-diag; then
        step bench-diag "$t_diag" "$bin" bench "${diag_args[@]}"
        show
        outcome bench-diag "$(bench_used_gpu || echo 'no GPU row: the GPU was not used')"
    fi

    if wanted bench-large; then
        step bench-large "$t_large" "$bin" bench "${large_args[@]}"
        show
        outcome bench-large "$(bench_used_gpu || echo 'no GPU row: the GPU was not used')"
    fi

    local dev
    for dev in gpu cpu; do
        wanted "faces-$dev" || continue
        step "faces-$dev" "$t_faces" "$bin" faces --device "$dev" --out "$out/faces-$dev"
        show
        outcome "faces-$dev"
    done

    say ""
    say "== adapter: ${adapter:-none}"
    say "== driver: ${driver:-unknown}$(command -v nvidia-smi >/dev/null && echo "; NVIDIA driver $(timeout 10 nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)")"
    [[ -n "${DEVICE_CHECK_ONLY:-}" ]] && say "== only the steps matching: $DEVICE_CHECK_ONLY (DEVICE_CHECK_ONLY)"
    say "== steps ($((SECONDS - START)) s in all):"
    local r
    for r in "${RESULTS[@]}"; do say "   $r"; done
    if ((${#FAILS[@]})); then
        say "RESULT: FAIL: ${#FAILS[@]} of ${#RESULTS[@]} checks failed: ${FAILS[*]} (whole outputs in $LOGS)"
        exit 1
    fi
    say "RESULT: PASS: ${#RESULTS[@]} checks ($((SECONDS - START)) s); summary in $SUMMARY"
}

case "${1:-}" in
    prepare) prepare ;;
    run) shift; run_check "$@" ;;
    check-size) kit_size_check "${2:-$(kit_dir)}" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
esac
