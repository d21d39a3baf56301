// M-step, between the two passes: the means from the device-reduced first-pass totals,
//   means[k, j] = (sum_i r_ik x_ij) / (N_k + 10 eps)        (as `SufficientStats::means`),
// so that the scatter pass needs nothing from the host. The host reads these means back as
// the scatter's shift, and re-centres the scatter on its f64 means exactly.

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> moments: array<f32>;    // k x (d + 1): sum r x | N_k
@group(0) @binding(2) var<storage, read_write> means: array<f32>; // k x d

// `NK_EPS` of the host: 10 x the f64 machine epsilon (a normal f32).
const NK_EPS: f32 = 2.220446e-15;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let d = dims.d;
    let i = gid.x;
    if (i >= dims.k * d) {
        return;
    }
    let c = i / d;
    let j = i - c * d;
    means[i] = moments[c * (d + 1u) + j] / (moments[c * (d + 1u) + d] + NK_EPS);
}
