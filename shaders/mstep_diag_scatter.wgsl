// M-step, second pass for diagonal and spherical covariances: centred weighted squares
//   partial[g, k, j] = sum_{i in group g} r_ik * (x_ij - mu_kj)^2
// with the means of the first pass (centring first keeps f32 free of cancellation).

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;              // rows x d
@group(0) @binding(2) var<storage, read> resp: array<f32>;           // rows x k
@group(0) @binding(3) var<storage, read> means: array<f32>;          // k x d
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;  // groups x k x d

var<workgroup> rs: array<f32, 256>; // [16 samples][16 components]
var<workgroup> xs: array<f32, 256>; // [16 samples][16 columns]

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let d = dims.d;
    let kk = dims.k;
    let c = wid.x * 16u + lid.x;
    let comp = wid.y * 16u + lid.y;
    let g = wid.z;
    let begin = g * dims.span;
    let end = min(begin + dims.span, dims.rows);
    var mu = 0.0;
    if (comp < kk && c < d) {
        mu = means[comp * d + c];
    }
    var acc = 0.0;
    for (var s0 = begin; s0 < end; s0 += 16u) {
        let row = s0 + lid.y;
        let rc = wid.y * 16u + lid.x;
        var r = 0.0;
        var v = 0.0;
        if (row < end) {
            if (rc < kk) {
                r = resp[row * kk + rc];
            }
            if (c < d) {
                v = x[row * d + c];
            }
        }
        rs[lid.y * 16u + lid.x] = r;
        xs[lid.y * 16u + lid.x] = v;
        workgroupBarrier();
        for (var s = 0u; s < 16u; s += 1u) {
            let t = xs[s * 16u + lid.x] - mu;
            acc += rs[s * 16u + lid.y] * t * t;
        }
        workgroupBarrier();
    }
    if (comp < kk && c < d) {
        partial[(g * kk + comp) * d + c] = acc;
    }
}
