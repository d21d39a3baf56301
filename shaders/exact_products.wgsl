// Exact products C = Aᵀ B of f64 matrices (the Gram matrix and the projections of the exact
// low-rank path), by error-free integer slicing: the host scales every column of A and B by a
// power of two and writes each value as 6 signed 9-bit digits (packed two per u32, as i16).
// For every output element this kernel sums, exactly, the digit products of each level
// u = s + t < 6:
//     level[i, j, u] = sum_l sum_{s + t = u} a_digit[s][i][l] * b_digit[t][j][l]
// in i32 for up to FLUSH features at a time (at most 6 * 511² * 1024 < 2³¹), then in a 64-bit
// accumulator made of two words. The host combines the levels (exactly, then one rounding to
// f64). No rounding happens on the device, so the result is the same on every GPU.

struct ExactDims {
    n_a: u32,
    n_b: u32,
    d: u32,
    upper_only: u32, // 1: a block of a symmetric product, tiles below the diagonal skipped
}

const PAIRS: u32 = 3u;      // u32 words per value: digits (0, 1), (2, 3), (4, 5)
const LEVELS: u32 = 6u;     // digit levels kept
const FLUSH: u32 = 1024u;   // features summed in i32 before the 64-bit accumulation
const TS: u32 = 32u;        // output tile edge: each of the 16 × 16 threads computes 2 × 2
const TL: u32 = 16u;        // features per shared-memory step
const STRIDE: u32 = 17u;    // padded row of a shared tile (no bank conflicts across samples)

@group(0) @binding(0) var<uniform> dims: ExactDims;
@group(0) @binding(1) var<storage, read> a: array<u32>;           // [pair][n_a][d]
@group(0) @binding(2) var<storage, read> b: array<u32>;           // [pair][n_b][d]
@group(0) @binding(3) var<storage, read_write> levels: array<u32>; // [n_a][n_b][LEVELS][lo, hi]

var<workgroup> ta: array<u32, 1632>; // [pair][32 samples of A][STRIDE], 16 features used
var<workgroup> tb: array<u32, 1632>; // [pair][32 samples of B][STRIDE]

fn low_digit(w: u32) -> i32 {
    return bitcast<i32>(w << 16u) >> 16u;
}

fn high_digit(w: u32) -> i32 {
    return bitcast<i32>(w) >> 16u;
}

// The 6 digits of sample `s` of a shared tile at feature `f`.
fn digits_a(s: u32, f: u32) -> array<i32, 6> {
    let w0 = ta[s * STRIDE + f];
    let w1 = ta[(TS + s) * STRIDE + f];
    let w2 = ta[(2u * TS + s) * STRIDE + f];
    return array<i32, 6>(low_digit(w0), high_digit(w0), low_digit(w1), high_digit(w1),
                         low_digit(w2), high_digit(w2));
}

fn digits_b(s: u32, f: u32) -> array<i32, 6> {
    let w0 = tb[s * STRIDE + f];
    let w1 = tb[(TS + s) * STRIDE + f];
    let w2 = tb[(2u * TS + s) * STRIDE + f];
    return array<i32, 6>(low_digit(w0), high_digit(w0), low_digit(w1), high_digit(w1),
                         low_digit(w2), high_digit(w2));
}

// Adds the digit products of levels 0..5 of one feature to `part`.
fn add_levels(part: ptr<function, array<i32, 6>>, x: array<i32, 6>, y: array<i32, 6>) {
    (*part)[0] += x[0] * y[0];
    (*part)[1] += x[0] * y[1] + x[1] * y[0];
    (*part)[2] += x[0] * y[2] + x[1] * y[1] + x[2] * y[0];
    (*part)[3] += x[0] * y[3] + x[1] * y[2] + x[2] * y[1] + x[3] * y[0];
    (*part)[4] += x[0] * y[4] + x[1] * y[3] + x[2] * y[2] + x[3] * y[1] + x[4] * y[0];
    (*part)[5] += x[0] * y[5] + x[1] * y[4] + x[2] * y[3] + x[3] * y[2] + x[4] * y[1] + x[5] * y[0];
}

// Moves the i32 partial sums into the 64-bit accumulators (lo: u32, hi: i32) and clears them.
fn flush(part: ptr<function, array<i32, 6>>, lo: ptr<function, array<u32, 6>>,
         hi: ptr<function, array<i32, 6>>) {
    for (var u = 0u; u < LEVELS; u += 1u) {
        let x = (*part)[u];
        let sum = (*lo)[u] + bitcast<u32>(x);
        (*hi)[u] += select(0i, -1i, x < 0i) + select(0i, 1i, sum < (*lo)[u]);
        (*lo)[u] = sum;
        (*part)[u] = 0i;
    }
}

fn store(i: u32, j: u32, lo: array<u32, 6>, hi: array<i32, 6>) {
    if (i < dims.n_a && j < dims.n_b) {
        let base = (i * dims.n_b + j) * LEVELS * 2u;
        for (var u = 0u; u < LEVELS; u += 1u) {
            levels[base + 2u * u] = lo[u];
            levels[base + 2u * u + 1u] = bitcast<u32>(hi[u]);
        }
    }
}

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    if (dims.upper_only == 1u && wid.x < wid.y) {
        return; // the host mirrors these tiles
    }
    let d = dims.d;
    let i0 = wid.y * TS + lid.y; // rows i0 and i0 + 16 of C
    let j0 = wid.x * TS + lid.x; // columns j0 and j0 + 16
    var p00: array<i32, 6>;
    var p01: array<i32, 6>;
    var p10: array<i32, 6>;
    var p11: array<i32, 6>;
    var lo00: array<u32, 6>;
    var lo01: array<u32, 6>;
    var lo10: array<u32, 6>;
    var lo11: array<u32, 6>;
    var hi00: array<i32, 6>;
    var hi01: array<i32, 6>;
    var hi10: array<i32, 6>;
    var hi11: array<i32, 6>;
    var since_flush = 0u;
    for (var l0 = 0u; l0 < d; l0 += TL) {
        // Thread (x, y) loads feature l0 + x of samples y and y + 16 of both tiles.
        let l = l0 + lid.x;
        for (var half = 0u; half < 2u; half += 1u) {
            let s = lid.y + 16u * half;
            let load_a = wid.y * TS + s;
            let load_b = wid.x * TS + s;
            for (var p = 0u; p < PAIRS; p += 1u) {
                var va = 0u;
                var vb = 0u;
                if (l < d && load_a < dims.n_a) {
                    va = a[(p * dims.n_a + load_a) * d + l];
                }
                if (l < d && load_b < dims.n_b) {
                    vb = b[(p * dims.n_b + load_b) * d + l];
                }
                ta[(p * TS + s) * STRIDE + lid.x] = va;
                tb[(p * TS + s) * STRIDE + lid.x] = vb;
            }
        }
        workgroupBarrier();
        for (var f = 0u; f < TL; f += 1u) {
            let x0 = digits_a(lid.y, f);
            let x1 = digits_a(lid.y + 16u, f);
            let y0 = digits_b(lid.x, f);
            let y1 = digits_b(lid.x + 16u, f);
            add_levels(&p00, x0, y0);
            add_levels(&p01, x0, y1);
            add_levels(&p10, x1, y0);
            add_levels(&p11, x1, y1);
        }
        workgroupBarrier();
        since_flush += TL;
        if (since_flush >= FLUSH || l0 + TL >= d) {
            since_flush = 0u;
            flush(&p00, &lo00, &hi00);
            flush(&p01, &lo01, &hi01);
            flush(&p10, &lo10, &hi10);
            flush(&p11, &lo11, &hi11);
        }
    }
    store(i0, j0, lo00, hi00);
    store(i0, j0 + 16u, lo01, hi01);
    store(i0 + 16u, j0, lo10, hi10);
    store(i0 + 16u, j0 + 16u, lo11, hi11);
}
