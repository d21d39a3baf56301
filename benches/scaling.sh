#!/usr/bin/env bash
# Out-of-core and distributed EM, measured in one run on this machine:
#
#     bash benches/scaling.sh                 # both parts
#     PARTS=mpi bash benches/scaling.sh       # only the 1–4 rank table (PARTS=stream: only streaming)
#
# Streaming: a float64 .npy of about 2 GB (N = 8 000 000 × D = 32; SIZE_ROWS=… changes N) is fitted in
# memory and streamed, with the same settings (K = 8, diag, 3 iterations from the same
# means); /usr/bin/time gives each one's peak RSS, and the summary lines their seconds per
# iteration. GB/s per pass = the file's bytes / the seconds of one streamed iteration.
#
# MPI: 400 000 × 16, K = 8, full, from the same means, on P = 1…4 ranks of `mpirun` (one rayon
# thread per rank, so that P ranks use P cores; this machine has `nproc` of them). Each
# configuration runs 1 and 21 iterations; (t21 − t1) / 20 is the time of one iteration, and
# the summary line gives the seconds spent in the all-gathers. The model in README.md
# ("Distributed EM") predicts each line from the P = 1 time, the bytes per exchange and a
# latency; this prints both.
#
# Needs Open MPI (openmpi-bin libopenmpi-dev libclang-dev) and /usr/bin/time (Debian: time).
set -euo pipefail
cd "$(dirname "$0")/.."
PARTS=${PARTS:-"stream mpi"}
WORK=${WORK:-$(mktemp -d)}
trap 'rm -rf "$WORK"' EXIT
cargo build --release --locked --features mpi --bin gaussmix >&2
G=$PWD/target/release/gaussmix
MPIRUN=(mpirun --allow-run-as-root --oversubscribe)
export OMPI_MCA_btl_vader_single_copy_mechanism=none
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1e6}' /proc/meminfo)"

# A K-component model to draw data from: a fit to a small blob of rows.
make_data() { # N D FILE
    python3 - "$2" > "$WORK/seed.csv" <<'EOF'
import random, sys
d = int(sys.argv[1]); random.seed(7)
for i in range(4000):
    c = i % 8
    print(",".join(f"{random.gauss(4.0 * c * ((j + c) % 3 - 1), 1.0 + 0.1 * j):.6f}" for j in range(d)))
EOF
    "$G" fit "$WORK/seed.csv" -k 8 --covariance full -q -o "$WORK/seed.npz" --device cpu >/dev/null
    "$G" sample "$WORK/seed.npz" -n "$1" -o "$3" --seed 1 >/dev/null
    # Initial means: the first 8 rows, the same for every run below.
    python3 - "$3" "$WORK/means.csv" <<'EOF'
import struct, sys, ast
with open(sys.argv[1], "rb") as f:
    f.read(8); n = struct.unpack("<H", f.read(2))[0]; h = ast.literal_eval(f.read(n).decode())
    d = h["shape"][1]
    rows = [struct.unpack(f"<{d}d", f.read(8 * d)) for _ in range(8)]
with open(sys.argv[2], "w") as out:
    for r in rows: out.write(",".join(repr(v) for v in r) + "\n")
EOF
}

# Seconds of the fit in a summary line ("…, 1.234 s; model written to …").
seconds() { sed -n 's/.*, \([0-9.]*\) s; model written.*/\1/p'; }
exchange_seconds() { sed -n 's/.* \([0-9.]*\) s in exchanges.*/\1/p'; }

if [[ " $PARTS " == *" stream "* ]]; then
    ROWS=${SIZE_ROWS:-8000000}
    make_data "$ROWS" 32 "$WORK/big.npy"
    BYTES=$(stat -c %s "$WORK/big.npy")
    echo
    echo "streaming: $ROWS × 32 float64, $(awk -v b="$BYTES" 'BEGIN {printf "%.2f GB", b/1e9}') file, K = 8 diag, 3 iterations from the same means"
    printf '%-10s %12s %14s %10s\n' mode "s/iteration" "peak RSS (MB)" "GB/s"
    for mode in memory stream; do
        flag=(); [[ $mode == stream ]] && flag=(--stream)
        for iters in 1 4; do
            /usr/bin/time -f '%M' -o "$WORK/rss-$mode-$iters" "$G" fit "$WORK/big.npy" -k 8 --covariance diag \
                --means-init "$WORK/means.csv" --tol 0 --max-iter $iters --device cpu -q "${flag[@]}" \
                -o "$WORK/m.npz" > "$WORK/out-$mode-$iters"
        done
        t1=$(seconds < "$WORK/out-$mode-1"); t4=$(seconds < "$WORK/out-$mode-4")
        per=$(awk -v a="$t1" -v b="$t4" 'BEGIN {printf "%.3f", (b - a) / 3}')
        rss=$(awk '{printf "%.0f", $1/1024}' "$WORK/rss-$mode-4")
        gbs=$(awk -v b="$BYTES" -v t="$per" 'BEGIN {printf "%.2f", b / 1e9 / t}')
        printf '%-10s %12s %14s %10s\n' "$mode" "$per" "$rss" "$gbs"
    done
    rm -f "$WORK/big.npy"
fi

if [[ " $PARTS " == *" mpi "* ]]; then
    make_data 400000 16 "$WORK/x.npy"
    echo
    echo "distributed: 400 000 × 16 float64, K = 8 full, from the same means; RAYON_NUM_THREADS=1 per rank"
    printf '%-3s %12s %16s %14s %14s\n' P "s/iteration" "exchange s/iter" "predicted s" "speed-up"
    base=""
    for p in 1 2 3 4; do
        for iters in 1 21; do
            RAYON_NUM_THREADS=1 "${MPIRUN[@]}" -n $p "$G" fit "$WORK/x.npy" --distributed -k 8 \
                --means-init "$WORK/means.csv" --tol 0 --max-iter $iters --device cpu -q \
                -o "$WORK/d.npz" > "$WORK/mpi-$p-$iters"
        done
        t1=$(seconds < "$WORK/mpi-$p-1"); t21=$(seconds < "$WORK/mpi-$p-21")
        e1=$(exchange_seconds < "$WORK/mpi-$p-1"); e21=$(exchange_seconds < "$WORK/mpi-$p-21")
        per=$(awk -v a="$t1" -v b="$t21" 'BEGIN {printf "%.4f", (b - a) / 20}')
        ex=$(awk -v a="$e1" -v b="$e21" 'BEGIN {printf "%.4f", (b - a) / 20}')
        [[ -z $base ]] && base=$per
        # The model: compute T1 / min(P, cores), plus the all-gather's latency and bytes
        # (1 227 doubles from each rank, at 1 GB/s and 50 µs per step over shared memory).
        cores=$(nproc)
        pred=$(awk -v t="$base" -v p="$p" -v c="$cores" 'BEGIN {
            e = p < c ? p : c; lat = (p > 1) ? 50e-6 * log(p) / log(2) : 0;
            printf "%.4f", t / e + lat + (p - 1) * 1227 * 8 / 1e9 }')
        up=$(awk -v a="$base" -v b="$per" 'BEGIN {printf "%.2f×", a / b}')
        printf '%-3s %12s %16s %14s %14s\n' "$p" "$per" "$ex" "$pred" "$up"
    done
fi
