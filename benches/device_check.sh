#!/usr/bin/env bash
# One prepared run of every GPU check and measurement, for a machine with a real GPU:
# the GPU test suites against it, the adapter list, `gaussmix bench` (EM iterations and the
# low-rank Gram matrix, CPU vs GPU in one run) and the faces fit with its Gram matrix on the
# GPU. Everything it prints is also written under $OUT (default ./device-check).
#
#     bash benches/device_check.sh            # about 5 minutes after the release build
set -uo pipefail
out="${OUT:-device-check}"
mkdir -p "$out"
log() { echo "== $*" | tee -a "$out/summary.txt"; }
run() { log "$*"; "$@" 2>&1 | tee -a "$out/summary.txt"; }

cargo build --release --locked 2>&1 | tail -1
bin=target/release/gaussmix
run nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
run "$bin" devices
log "GPU tests (CI=true: fail when no adapter is found)"
CI=true cargo test --release --locked --test gpu_equivalence --test gpu_queries \
    --test gpu_lowrank --test gpu_faults --test gpu_shaders 2>&1 \
    | grep -E "^test |test result|panicked" | tee -a "$out/summary.txt"
run "$bin" bench --iters 5
run "$bin" bench --iters 5 --covariance diag --gram 0x0
run "$bin" bench --iters 3 --large --gram 2000x16384
run "$bin" faces --device gpu --out "$out/faces-gpu"
run "$bin" faces --device cpu --out "$out/faces-cpu"
log "done; results in $out/summary.txt"
