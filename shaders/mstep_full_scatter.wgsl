// M-step, second pass for full and tied covariances: the centred weighted scatter
//   partial[g, k, a, b] = sum_{i in group g} r_ik (x_ia - mu_ka)(x_ib - mu_kb)
// for the upper 16 x 16 tiles (a-tile <= b-tile) of every component; `reduce_groups` adds
// the groups on the device and the host mirrors the lower triangle. Centring before the
// product keeps f32 free of the cancellation of E[x x^T] - mu mu^T.

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;              // rows x d
@group(0) @binding(2) var<storage, read> resp: array<f32>;           // rows x k
@group(0) @binding(3) var<storage, read> means: array<f32>;          // k x d
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;  // groups x k x d x d

var<workgroup> za: array<f32, 256>; // [16 samples][16 rows a]: r * (x - mu)
var<workgroup> zb: array<f32, 256>; // [16 samples][16 cols b]: x - mu

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let d = dims.d;
    let kk = dims.k;
    let t = dims.d_tiles;
    // Upper tile pair (ta <= tb) from the linear index wid.x.
    var ta = 0u;
    var rem = wid.x;
    loop {
        if (rem < t - ta) {
            break;
        }
        rem -= t - ta;
        ta += 1u;
    }
    let tb = ta + rem;
    let comp = wid.y;
    let g = wid.z;
    let a = ta * 16u + lid.y;
    let b = tb * 16u + lid.x;
    let begin = g * dims.span;
    let end = min(begin + dims.span, dims.rows);
    let ca = ta * 16u + lid.x;
    let cb = tb * 16u + lid.x;
    var mua = 0.0;
    var mub = 0.0;
    if (ca < d) {
        mua = means[comp * d + ca];
    }
    if (cb < d) {
        mub = means[comp * d + cb];
    }
    var acc = 0.0;
    for (var s0 = begin; s0 < end; s0 += 16u) {
        let row = s0 + lid.y;
        var va = 0.0;
        var vb = 0.0;
        if (row < end) {
            let r = resp[row * kk + comp];
            if (ca < d) {
                va = r * (x[row * d + ca] - mua);
            }
            if (cb < d) {
                vb = x[row * d + cb] - mub;
            }
        }
        za[lid.y * 16u + lid.x] = va;
        zb[lid.y * 16u + lid.x] = vb;
        workgroupBarrier();
        for (var s = 0u; s < 16u; s += 1u) {
            acc += za[s * 16u + lid.y] * zb[s * 16u + lid.x];
        }
        workgroupBarrier();
    }
    if (a < d && b < d) {
        partial[((g * kk + comp) * d + a) * d + b] = acc;
    }
}
