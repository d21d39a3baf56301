// M-step, first pass: per group of samples, the partial sums
//   partial[g, k, c] = sum_{i in group g} r_ik * [x_i | 1]_c     (c = d gives N_k)
// i.e. R^T [X | 1] as a 16 x 16-tiled product through workgroup memory. `reduce_groups` adds
// the groups on the device and `mstep_finish_means` divides to get the means.

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;              // rows x d
@group(0) @binding(2) var<storage, read> resp: array<f32>;           // rows x k
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;  // groups x k x (d + 1)

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
            } else if (c == d) {
                v = 1.0;
            }
        }
        rs[lid.y * 16u + lid.x] = r;
        xs[lid.y * 16u + lid.x] = v;
        workgroupBarrier();
        for (var s = 0u; s < 16u; s += 1u) {
            acc += rs[s * 16u + lid.y] * xs[s * 16u + lid.x];
        }
        workgroupBarrier();
    }
    if (comp < kk && c <= d) {
        partial[(g * kk + comp) * (d + 1u) + c] = acc;
    }
}
