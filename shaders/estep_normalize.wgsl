// E-step, second half: log-sum-exp over the components of every sample turns the weighted
// log-densities into responsibilities (in place) and the per-sample log-likelihood; each
// workgroup also writes the sum of its samples' log-likelihoods (added by `reduce_groups`).
// With sample weights (dims.weighted = 1) each sample's responsibilities and its term of the
// sum are multiplied by its weight, so the M-step sums are weighted.

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read_write> resp: array<f32>;     // rows x k: in wlp, out r
@group(0) @binding(2) var<storage, read_write> log_norm: array<f32>; // rows
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;  // one per workgroup
@group(0) @binding(4) var<storage, read> weights: array<f32>;        // rows (when weighted)

var<workgroup> sums: array<f32, 256>;

@compute @workgroup_size(256)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let row = gid.x;
    var lse = 0.0;
    if (row < dims.rows) {
        let k = dims.k;
        let base = row * k;
        var m = resp[base];
        for (var c = 1u; c < k; c += 1u) {
            m = max(m, resp[base + c]);
        }
        var s = 0.0;
        for (var c = 0u; c < k; c += 1u) {
            s += exp(resp[base + c] - m);
        }
        lse = m + log(s);
        var w = 1.0;
        if (dims.weighted == 1u) {
            w = weights[row];
        }
        for (var c = 0u; c < k; c += 1u) {
            resp[base + c] = w * exp(resp[base + c] - lse);
        }
        log_norm[row] = lse;
        if (w == 0.0) {
            lse = 0.0; // a sample of weight zero adds nothing, even with zero density
        } else {
            lse = w * lse;
        }
    }
    sums[lid.x] = lse;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride = stride >> 1u) {
        if (lid.x < stride) {
            sums[lid.x] += sums[lid.x + stride];
        }
        workgroupBarrier();
    }
    if (lid.x == 0u) {
        partial[wid.x] = sums[0];
    }
}
