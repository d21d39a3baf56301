//! Totals of per-group partial sums on the device (`shaders/reduce_groups.wgsl`), so that
//! what the host reads back per step is one row of statistics, whatever N.
//!
//! A chunk's groups are added into the totals directly when the data are one chunk; with
//! several chunks, each chunk's row goes to a scratch buffer (one row per chunk) and a last
//! reduction adds the rows. Each total is a nearly pairwise f32 sum (a few groups per lane,
//! then a tree over the lanes), so rounding grows with the logarithm of the number of groups.

use super::{GmmError, GpuBackend, Res, Result};
use crate::gpu::kernels::{ReduceDims, REDUCE_THREADS};

/// Groups one lane adds in sequence, at most, before the pairwise tree (when the workgroup
/// has lanes enough).
const GROUPS_PER_LANE: usize = 8;

/// Columns per workgroup for `groups` rows: as many lanes per column as keep each lane's
/// sequential run within [`GROUPS_PER_LANE`], the rest of the 256 threads as columns.
fn columns(groups: usize) -> u32 {
    let threads = REDUCE_THREADS as usize;
    let lanes = groups
        .div_ceil(GROUPS_PER_LANE)
        .next_power_of_two()
        .clamp(1, threads);
    (threads / lanes) as u32
}

/// Where a chunk's row of totals goes: the totals themselves for a single chunk, else its
/// row of the scratch buffer.
pub(super) fn row_target<'a>(
    n_chunks: usize,
    chunk: usize,
    width: usize,
    totals: &'a wgpu::Buffer,
    scratch: Option<&'a wgpu::Buffer>,
) -> (&'a wgpu::Buffer, usize) {
    match scratch {
        Some(s) if n_chunks > 1 => (s, chunk * width),
        _ => (totals, 0),
    }
}

impl GpuBackend {
    /// Records `out[out_offset + j] = Σ_g input[g·width + j]` for `j < width`.
    pub(super) fn encode_reduce(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        input: &wgpu::Buffer,
        groups: usize,
        width: usize,
        out: &wgpu::Buffer,
        out_offset: usize,
    ) -> Result<()> {
        let cols = columns(groups);
        let blocks = width.div_ceil(cols as usize);
        let per_dim = self.ctx.limits().max_compute_workgroups_per_dimension as usize;
        let blocks_x = blocks.min(per_dim);
        let blocks_y = blocks.div_ceil(blocks_x);
        if blocks_y > per_dim {
            return Err(GmmError::DeviceLimit(format!(
                "summing {width} statistics needs {blocks} workgroups, more than the device dispatches; use fewer components or device=cpu"
            )));
        }
        let dims = ReduceDims {
            groups: groups as u32,
            width: width as u32,
            cols,
            blocks_x: blocks_x as u32,
            out_offset: out_offset as u32,
            pad: [0; 3],
        };
        let uniform = self.uniform_bytes(bytemuck::bytes_of(&dims));
        let pipeline = &self.ctx.kernels().reduce_groups;
        let bg = self.bind_group(
            pipeline,
            &[Res::Whole(&uniform), Res::Whole(input), Res::Whole(out)],
        );
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &bg, &[]);
        pass.dispatch_workgroups(blocks_x as u32, blocks_y as u32, 1);
        Ok(())
    }

    /// After every chunk's row went to [`row_target`]: adds the rows of `scratch` into
    /// `totals` when there are several.
    pub(super) fn encode_chunk_totals(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        n_chunks: usize,
        width: usize,
        totals: &wgpu::Buffer,
        scratch: Option<&wgpu::Buffer>,
    ) -> Result<()> {
        match scratch {
            Some(s) if n_chunks > 1 => self.encode_reduce(pass, s, n_chunks, width, totals, 0),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_add_few_groups_each_and_fill_the_workgroup() {
        for groups in [1, 2, 7, 8, 9, 100, 196, 256, 782, 2048, 5000] {
            let cols = columns(groups) as usize;
            let lanes = 256 / cols;
            assert_eq!(cols * lanes, 256, "{groups}");
            assert!(
                groups.div_ceil(lanes) <= GROUPS_PER_LANE || lanes == 256,
                "{groups}"
            );
        }
        assert_eq!(columns(1), 256);
        assert_eq!(columns(196), 8);
    }
}
