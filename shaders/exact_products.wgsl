// Exact products C = Aᵀ B of f64 matrices (the Gram matrix and the projections of the exact
// low-rank path), by error-free integer slicing: the host scales every column of A and B by a
// power of two and writes each value as 6 signed 9-bit digits (packed two per u32, as i16).
// For every output element this kernel sums, exactly, the digit products of each level
// u = s + t < 6:
//     level[i, j, u] = sum_l sum_{s + t = u} a_digit[s][i][l] * b_digit[t][j][l]
// in i32 for up to FLUSH features at a time (at most 6 * 511² * 1024 < 2³¹), then in a 64-bit
// accumulator made of two words. The host combines the levels (exactly, then one rounding to
// f64). No rounding happens on the device, so the result is the same on every GPU.

struct Dims {
    n_a: u32,
    n_b: u32,
    d: u32,
    upper_only: u32, // 1: a block of a symmetric product, tiles below the diagonal skipped
}

const PAIRS: u32 = 3u;      // u32 words per value: digits (0, 1), (2, 3), (4, 5)
const LEVELS: u32 = 6u;     // digit levels kept
const FLUSH: u32 = 1024u;   // features summed in i32 before the 64-bit accumulation

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> a: array<u32>;           // [pair][n_a][d]
@group(0) @binding(2) var<storage, read> b: array<u32>;           // [pair][n_b][d]
@group(0) @binding(3) var<storage, read_write> levels: array<u32>; // [n_a][n_b][LEVELS][lo, hi]

var<workgroup> ta: array<u32, 768>; // [pair][16 samples of A][16 features]
var<workgroup> tb: array<u32, 768>; // [pair][16 samples of B][16 features]

fn low_digit(w: u32) -> i32 {
    return bitcast<i32>(w << 16u) >> 16u;
}

fn high_digit(w: u32) -> i32 {
    return bitcast<i32>(w) >> 16u;
}

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    if (dims.upper_only == 1u && wid.x < wid.y) {
        return; // the host mirrors these tiles
    }
    let d = dims.d;
    let i = wid.y * 16u + lid.y;
    let j = wid.x * 16u + lid.x;
    var part: array<i32, 6>;
    var lo: array<u32, 6>;
    var hi: array<i32, 6>;
    var since_flush = 0u;
    for (var l0 = 0u; l0 < d; l0 += 16u) {
        let l = l0 + lid.x;
        let load_a = wid.y * 16u + lid.y;
        let load_b = wid.x * 16u + lid.y;
        for (var p = 0u; p < PAIRS; p += 1u) {
            var va = 0u;
            var vb = 0u;
            if (l < d && load_a < dims.n_a) {
                va = a[(p * dims.n_a + load_a) * d + l];
            }
            if (l < d && load_b < dims.n_b) {
                vb = b[(p * dims.n_b + load_b) * d + l];
            }
            ta[(p * 16u + lid.y) * 16u + lid.x] = va;
            tb[(p * 16u + lid.y) * 16u + lid.x] = vb;
        }
        workgroupBarrier();
        for (var f = 0u; f < 16u; f += 1u) {
            let a01 = ta[lid.y * 16u + f];
            let a23 = ta[(16u + lid.y) * 16u + f];
            let a45 = ta[(32u + lid.y) * 16u + f];
            let b01 = tb[lid.x * 16u + f];
            let b23 = tb[(16u + lid.x) * 16u + f];
            let b45 = tb[(32u + lid.x) * 16u + f];
            let a0 = low_digit(a01);
            let a1 = high_digit(a01);
            let a2 = low_digit(a23);
            let a3 = high_digit(a23);
            let a4 = low_digit(a45);
            let a5 = high_digit(a45);
            let b0 = low_digit(b01);
            let b1 = high_digit(b01);
            let b2 = low_digit(b23);
            let b3 = high_digit(b23);
            let b4 = low_digit(b45);
            let b5 = high_digit(b45);
            part[0] += a0 * b0;
            part[1] += a0 * b1 + a1 * b0;
            part[2] += a0 * b2 + a1 * b1 + a2 * b0;
            part[3] += a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0;
            part[4] += a0 * b4 + a1 * b3 + a2 * b2 + a3 * b1 + a4 * b0;
            part[5] += a0 * b5 + a1 * b4 + a2 * b3 + a3 * b2 + a4 * b1 + a5 * b0;
        }
        workgroupBarrier();
        since_flush += 16u;
        if (since_flush >= FLUSH || l0 + 16u >= d) {
            since_flush = 0u;
            for (var u = 0u; u < LEVELS; u += 1u) {
                let x = part[u];
                let sum = lo[u] + bitcast<u32>(x);
                hi[u] += select(0i, -1i, x < 0i) + select(0i, 1i, sum < lo[u]);
                lo[u] = sum;
                part[u] = 0i;
            }
        }
    }
    if (i < dims.n_a && j < dims.n_b) {
        let base = (i * dims.n_b + j) * LEVELS * 2u;
        for (var u = 0u; u < LEVELS; u += 1u) {
            levels[base + 2u * u] = lo[u];
            levels[base + 2u * u + 1u] = bitcast<u32>(hi[u]);
        }
    }
}
