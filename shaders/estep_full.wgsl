// E-step, full and tied covariances: per-component weighted log-densities
//   wlp[i, k] = log_const[k] - 0.5 * || (x_i - mu_k)^T U_k ||^2
// where U_k is the upper-triangular precision Cholesky factor (Sigma_k^-1 = U_k U_k^T) and
// log_const[k] = log pi_k + sum_j log U_k[j, j] - D/2 log(2 pi) (computed on the host in f64).
//
// The Mahalanobis term is a tiled product Y = (X - mu_k) U_k through workgroup memory:
// a workgroup owns TS samples of one component, walks the output columns in tiles of TJ and
// the reduction index in steps of TL (skipping the zero lower triangle of U), and each of its
// TX x TY = 256 threads keeps a 4 x 4 block of Y in registers. Squares of Y are summed per
// sample and reduced across the TX column threads at the end.
//
// The engine compiles this file as is (TJ = 64, for D > 32) and with the TILE line below
// replaced for TJ = 32 (17 <= D <= 32) and TJ = 16 (D <= 16), so that small dimensions do not
// compute 64-column tiles that are mostly zero. Narrower tiles take more samples per workgroup.

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // rows x d, row-major
@group(0) @binding(2) var<storage, read> means: array<f32>;      // k x d
@group(0) @binding(3) var<storage, read> prec_chol: array<f32>;  // (k or 1) x d x d, row-major
@group(0) @binding(4) var<storage, read> log_const: array<f32>;  // k
@group(0) @binding(5) var<storage, read_write> wlp: array<f32>;  // rows x k

// TILE: output columns per tile, reduction depth per step.
const TJ: u32 = 64u; const TL: u32 = 16u;
const TX: u32 = TJ / 4u;   // column threads (4 columns each)
const TY: u32 = 256u / TX; // sample threads (4 samples each)
const TS: u32 = TY * 4u;   // samples per workgroup

var<workgroup> xs: array<f32, TL * TS>;  // [TL][TS]: x - mu, reduction index major
var<workgroup> us: array<f32, TL * TJ>;  // [TL][TJ]: rows of U
var<workgroup> red: array<f32, TS * TX>; // [TS][TX]: per-thread partial Mahalanobis terms

@compute @workgroup_size(TX, TY)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let tid = lid.y * TX + lid.x;
    let d = dims.d;
    let comp = wid.y;
    let s0 = wid.x * TS;
    var factor = comp;
    if (dims.shared_factor == 1u) {
        factor = 0u;
    }
    let u_base = factor * d * d;
    let m_base = comp * d;

    var maha = vec4<f32>(0.0, 0.0, 0.0, 0.0);
    for (var j0 = 0u; j0 < d; j0 += TJ) {
        var acc0 = vec4<f32>(0.0, 0.0, 0.0, 0.0);
        var acc1 = vec4<f32>(0.0, 0.0, 0.0, 0.0);
        var acc2 = vec4<f32>(0.0, 0.0, 0.0, 0.0);
        var acc3 = vec4<f32>(0.0, 0.0, 0.0, 0.0);
        // U is upper triangular: column j only needs rows l <= j.
        let l_end = min(d, j0 + TJ);
        for (var l0 = 0u; l0 < l_end; l0 += TL) {
            for (var e = tid; e < TL * TS; e += 256u) {
                let s = e / TL;
                let l = e % TL;
                let row = s0 + s;
                let col = l0 + l;
                var v = 0.0;
                if (row < dims.rows && col < d) {
                    v = x[row * d + col] - means[m_base + col];
                }
                xs[l * TS + s] = v;
            }
            for (var e = tid; e < TL * TJ; e += 256u) {
                let l = e / TJ;
                let j = e % TJ;
                let lr = l0 + l;
                let jc = j0 + j;
                var v = 0.0;
                if (lr < d && jc < d) {
                    v = prec_chol[u_base + lr * d + jc];
                }
                us[l * TJ + j] = v;
            }
            workgroupBarrier();
            for (var l = 0u; l < TL; l += 1u) {
                let xb = l * TS + lid.y * 4u;
                let ub = l * TJ + lid.x * 4u;
                let b = vec4<f32>(us[ub], us[ub + 1u], us[ub + 2u], us[ub + 3u]);
                acc0 += xs[xb] * b;
                acc1 += xs[xb + 1u] * b;
                acc2 += xs[xb + 2u] * b;
                acc3 += xs[xb + 3u] * b;
            }
            workgroupBarrier();
        }
        maha += vec4<f32>(dot(acc0, acc0), dot(acc1, acc1), dot(acc2, acc2), dot(acc3, acc3));
    }
    for (var i = 0u; i < 4u; i += 1u) {
        red[(lid.y * 4u + i) * TX + lid.x] = maha[i];
    }
    workgroupBarrier();
    for (var s = tid; s < TS; s += 256u) {
        var total = 0.0;
        for (var t = 0u; t < TX; t += 1u) {
            total += red[s * TX + t];
        }
        let row = s0 + s;
        if (row < dims.rows) {
            wlp[row * dims.k + comp] = log_const[comp] - 0.5 * total;
        }
    }
}
