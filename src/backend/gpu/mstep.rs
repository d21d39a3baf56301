//! The GPU M-step statistics: two passes over the data on the device (N_k and Σ r·x, then the
//! centred scatter about the means they give), with per-group partial sums added on the host
//! in f64.

use nalgebra::{DMatrix, DVector};

use super::{plan_groups, storage_usage, to_f32, Chunk, GpuBackend, Res};
use crate::covariance::CovarianceType;
use crate::error::{GmmError, Result};
use crate::gpu::kernels::{Dims, TILE};
use crate::stats::{Scatter, SufficientStats};

impl GpuBackend {
    /// Runs one M-step kernel per chunk and returns the partial sums, `per_group` floats per
    /// group, of all chunks in order.
    fn m_pass(
        &mut self,
        per_group: usize,
        run: &dyn Fn(&Self, &mut wgpu::ComputePass<'_>, &Chunk, Dims, &wgpu::Buffer),
    ) -> Result<Vec<f32>> {
        let k = self.state()?.k;
        let plans: Vec<(usize, usize)> = self
            .state()?
            .chunks
            .iter()
            .map(|c| plan_groups(c.rows, per_group))
            .collect();
        let bind = self.ctx.limits().max_storage_buffer_binding_size as usize;
        let largest = plans.iter().map(|p| p.0 * per_group * 4).max().unwrap_or(4);
        if largest > bind {
            return Err(GmmError::DeviceLimit(format!(
                "the M-step statistics ({} bytes per group of samples) exceed one storage binding of {bind} bytes; use fewer components or device=cpu",
                per_group * 4
            )));
        }
        let grow = self
            .state
            .as_ref()
            .and_then(|s| s.partial.as_ref())
            .is_none_or(|p| (p.size() as usize) < largest);
        if grow {
            let p = self.buffer("M-step partial sums", largest, storage_usage())?;
            self.state.as_mut().expect("state").partial = Some(p);
        }
        let total: usize = plans.iter().map(|p| p.0 * per_group * 4).sum();
        let staging = self.buffer(
            "M-step read-back",
            total,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        )?;
        let state = self.state()?;
        let partial = state.partial.as_ref().expect("partial buffer");
        let device = self.ctx.device();
        let mut enc = device.create_command_encoder(&Default::default());
        let mut at = 0u64;
        for (chunk, &(groups, span)) in state.chunks.iter().zip(&plans) {
            let dims = Dims {
                span: span as u32,
                n_groups: groups as u32,
                ..self.dims(chunk, k)
            };
            {
                let mut pass = enc.begin_compute_pass(&Default::default());
                run(self, &mut pass, chunk, dims, partial);
            }
            let bytes = (groups * per_group * 4) as u64;
            enc.copy_buffer_to_buffer(partial, 0, &staging, at, bytes);
            at += bytes;
        }
        let index = self.ctx.queue().submit([enc.finish()]);
        self.ctx.map_read(&staging, index)
    }

    /// The M-step statistics from the f32 kernels (partial sums added on the host in f64).
    pub(super) fn gpu_m_step_stats(
        &mut self,
        covariance_type: CovarianceType,
    ) -> Result<SufficientStats> {
        self.ctx.check_faults()?;
        if !self.state.as_ref().is_some_and(|s| s.has_resp) {
            return Err(GmmError::InvalidData(
                "no responsibilities yet: run an E-step or set them first".into(),
            ));
        }
        let d = self.d;
        let k = self.state()?.k;
        let ctx = self.ctx.clone();
        let kernels = ctx.kernels();

        // Pass 1: N_k and Σ r·x per group; f64 on the host.
        let width = d + 1;
        let partial = self.m_pass(k * width, &|me, pass, chunk, dims, out| {
            let uniform = me.uniform(dims);
            let bg = me.bind_group(
                &kernels.mstep_means,
                &[
                    Res::Whole(&uniform),
                    me.x_range(chunk),
                    Res::Whole(&chunk.resp),
                    Res::Whole(out),
                ],
            );
            pass.set_pipeline(&kernels.mstep_means);
            pass.set_bind_group(0, &bg, &[]);
            pass.dispatch_workgroups(
                (width as u32).div_ceil(TILE),
                (k as u32).div_ceil(TILE),
                dims.n_groups,
            );
        })?;
        let mut nk = DVector::<f64>::zeros(k);
        let mut sx = DMatrix::<f64>::zeros(k, d);
        for group in partial.chunks_exact(k * width) {
            for c in 0..k {
                let row = &group[c * width..(c + 1) * width];
                for j in 0..d {
                    sx[(c, j)] += row[j] as f64;
                }
                nk[c] += row[d] as f64;
            }
        }
        let mut stats = SufficientStats {
            covariance_type,
            n_samples: self.n,
            shift: DMatrix::zeros(k, d),
            nk,
            sum_x: sx,
            scatter: Scatter::Diag(DMatrix::zeros(0, 0)),
            log_likelihood: None,
        };
        let means = stats.means();

        // Pass 2: the centred scatter around these means.
        let means_f32 = to_f32(means.transpose().iter().copied());
        self.write(&self.state()?.m_means, &means_f32);
        let full = matches!(covariance_type, CovarianceType::Full | CovarianceType::Tied);
        stats.scatter = if full {
            let t = d.div_ceil(TILE as usize) as u32;
            let partial = self.m_pass(k * d * d, &|me, pass, chunk, dims, out| {
                let uniform = me.uniform(dims);
                let state = me.state.as_ref().expect("state");
                let bg = me.bind_group(
                    &kernels.mstep_full_scatter,
                    &[
                        Res::Whole(&uniform),
                        me.x_range(chunk),
                        Res::Whole(&chunk.resp),
                        Res::Whole(&state.m_means),
                        Res::Whole(out),
                    ],
                );
                pass.set_pipeline(&kernels.mstep_full_scatter);
                pass.set_bind_group(0, &bg, &[]);
                pass.dispatch_workgroups(t * (t + 1) / 2, k as u32, dims.n_groups);
            })?;
            let mut scatter = vec![DMatrix::<f64>::zeros(d, d); k];
            for group in partial.chunks_exact(k * d * d) {
                for (c, s) in scatter.iter_mut().enumerate() {
                    let m = &group[c * d * d..(c + 1) * d * d];
                    for a in 0..d {
                        for b in a..d {
                            s[(a, b)] += m[a * d + b] as f64;
                        }
                    }
                }
            }
            for s in &mut scatter {
                for a in 0..d {
                    for b in 0..a {
                        s[(a, b)] = s[(b, a)];
                    }
                }
            }
            Scatter::Full(scatter)
        } else {
            let partial = self.m_pass(k * d, &|me, pass, chunk, dims, out| {
                let uniform = me.uniform(dims);
                let state = me.state.as_ref().expect("state");
                let bg = me.bind_group(
                    &kernels.mstep_diag_scatter,
                    &[
                        Res::Whole(&uniform),
                        me.x_range(chunk),
                        Res::Whole(&chunk.resp),
                        Res::Whole(&state.m_means),
                        Res::Whole(out),
                    ],
                );
                pass.set_pipeline(&kernels.mstep_diag_scatter);
                pass.set_bind_group(0, &bg, &[]);
                pass.dispatch_workgroups(
                    (d as u32).div_ceil(TILE),
                    (k as u32).div_ceil(TILE),
                    dims.n_groups,
                );
            })?;
            let mut s = DMatrix::<f64>::zeros(k, d);
            for group in partial.chunks_exact(k * d) {
                for c in 0..k {
                    for j in 0..d {
                        s[(c, j)] += group[c * d + j] as f64;
                    }
                }
            }
            Scatter::Diag(s)
        };
        stats.shift = means;
        Ok(stats)
    }
}
