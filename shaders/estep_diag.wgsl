// E-step, diagonal and spherical covariances (spherical precisions arrive broadcast to k x d):
//   wlp[i, k] = log_const[k] - 0.5 * sum_j ((x_ij - mu_kj) * p_kj)^2
// One thread per (sample, component); the workgroup's y index is the component.

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // rows x d
@group(0) @binding(2) var<storage, read> means: array<f32>;      // k x d
@group(0) @binding(3) var<storage, read> prec: array<f32>;       // k x d, 1 / sigma
@group(0) @binding(4) var<storage, read> log_const: array<f32>;  // k
@group(0) @binding(5) var<storage, read_write> wlp: array<f32>;  // rows x k

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let row = gid.x;
    let comp = wid.y;
    if (row >= dims.rows) {
        return;
    }
    let d = dims.d;
    let xb = row * d;
    let mb = comp * d;
    var maha = 0.0;
    for (var j = 0u; j < d; j += 1u) {
        let t = (x[xb + j] - means[mb + j]) * prec[mb + j];
        maha += t * t;
    }
    wlp[row * dims.k + comp] = log_const[comp] - 0.5 * maha;
}
