// Sums the per-group partial statistics on the device, so the host reads back one row
// instead of one per group:
//   out[out_offset + j] = sum_{g < groups} partial[g * width + j]      for j < width.
// Each workgroup of 256 threads takes `cols` columns (a power of two); its 256 / cols lanes
// per column each add a strided handful of groups, then the lanes are added pairwise in
// workgroup memory. So every total is a (nearly) pairwise f32 sum: its rounding error grows
// with log2(groups), not with the number of groups. Workgroups beyond `blocks_x` continue
// along y.

struct ReduceDims {
    groups: u32,     // rows of partial sums
    width: u32,      // floats per row
    cols: u32,       // columns per workgroup: 1, 2, 4, ..., 256
    blocks_x: u32,   // workgroups along x
    out_offset: u32, // where the totals go in `out`, in floats
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> rd: ReduceDims;
@group(0) @binding(1) var<storage, read> partial: array<f32>;   // groups x width
@group(0) @binding(2) var<storage, read_write> out: array<f32>; // width at out_offset

var<workgroup> sums: array<f32, 256>; // [lanes][cols]

@compute @workgroup_size(256)
fn main(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let cols = rd.cols;
    let lanes = 256u / cols;
    let col = li % cols;
    let lane = li / cols;
    let j = (wid.y * rd.blocks_x + wid.x) * cols + col;
    var acc = 0.0;
    if (j < rd.width) {
        for (var g = lane; g < rd.groups; g += lanes) {
            acc += partial[g * rd.width + j];
        }
    }
    sums[li] = acc;
    workgroupBarrier();
    for (var half = lanes >> 1u; half > 0u; half = half >> 1u) {
        if (lane < half) {
            sums[li] += sums[li + half * cols];
        }
        workgroupBarrier();
    }
    if (lane == 0u && j < rd.width) {
        out[rd.out_offset + j] = sums[col];
    }
}
