//! The GPU M-step statistics: two passes over the data on the device (N_k and Σ r·x, then the
//! centred scatter about the means they give), their per-group partial sums added on the
//! device ([`super::reduce`]), and the means formed there between the passes. One row of
//! totals comes back: O(K·D²) floats, whatever N.

use nalgebra::{DMatrix, DVector};

use super::reduce::row_target;
use super::{plan_groups, storage_usage, GpuBackend, Res};
use crate::covariance::CovarianceType;
use crate::error::{GmmError, Result};
use crate::gpu::kernels::{Dims, FINISH_MEANS_THREADS, TILE};
use crate::stats::{Scatter, SufficientStats};

/// Whether `covariance_type` needs the full D × D scatter (else its diagonal).
fn is_full(covariance_type: CovarianceType) -> bool {
    matches!(covariance_type, CovarianceType::Full | CovarianceType::Tied)
}

/// Floats of one group's (and of the total) scatter: K·D·D or K·D.
fn scatter_width(covariance_type: CovarianceType, k: usize, d: usize) -> usize {
    if is_full(covariance_type) {
        k * d * d
    } else {
        k * d
    }
}

impl GpuBackend {
    /// The M-step statistics from the f32 kernels: one submission, one wait.
    pub(super) fn gpu_m_step_stats(
        &mut self,
        covariance_type: CovarianceType,
    ) -> Result<SufficientStats> {
        let mut enc = self
            .ctx
            .device()
            .create_command_encoder(&Default::default());
        self.encode_m_step(&mut enc, covariance_type)?;
        let sources = self.m_step_sources(covariance_type)?;
        let words = self.ctx.read_f32_after(enc, &sources)?;
        self.parse_m_step(covariance_type, &words)
    }

    /// Allocates (or grows) the M-step's buffers: the per-group partials of one chunk, the
    /// per-chunk rows of totals, the scatter totals.
    fn prepare_m_step(&mut self, covariance_type: CovarianceType) -> Result<()> {
        let d = self.d;
        let state = self.state()?;
        let k = state.k;
        let n_chunks = state.chunks.len();
        let widths = [k * (d + 1), scatter_width(covariance_type, k, d)];
        let bind = self.ctx.limits().max_storage_buffer_binding_size as usize;
        let mut largest = 4;
        for &w in &widths {
            for c in &state.chunks {
                let bytes = plan_groups(c.rows, w).0 * w * 4;
                if bytes > bind {
                    return Err(GmmError::DeviceLimit(format!(
                        "the M-step statistics ({} bytes per group of samples) exceed one storage binding of {bind} bytes; use fewer components or device=cpu",
                        w * 4
                    )));
                }
                largest = largest.max(bytes);
            }
        }
        let rows_bytes = n_chunks * widths[0].max(widths[1]) * 4;
        if n_chunks > 1 && rows_bytes > bind {
            return Err(GmmError::DeviceLimit(format!(
                "the M-step totals of {n_chunks} chunks ({rows_bytes} bytes) exceed one storage binding of {bind} bytes; use fewer components or device=cpu"
            )));
        }
        let too_small =
            |b: Option<&wgpu::Buffer>, bytes: usize| b.is_none_or(|b| (b.size() as usize) < bytes);
        let scatter_bytes = widths[1] * 4;
        let grow_partial = too_small(state.partial.as_ref(), largest);
        let grow_rows = n_chunks > 1 && too_small(state.totals.chunk_rows.as_ref(), rows_bytes);
        let grow_scatter = too_small(state.totals.scatter.as_ref(), scatter_bytes);
        if grow_partial {
            let b = self.buffer("M-step partial sums", largest, storage_usage())?;
            self.state.as_mut().expect("state").partial = Some(b);
        }
        if grow_rows {
            let b = self.buffer("M-step totals per chunk", rows_bytes, storage_usage())?;
            self.state.as_mut().expect("state").totals.chunk_rows = Some(b);
        }
        if grow_scatter {
            let b = self.buffer("M-step scatter totals", scatter_bytes, storage_usage())?;
            self.state.as_mut().expect("state").totals.scatter = Some(b);
        }
        Ok(())
    }

    /// Records the M-step after whatever `enc` holds (the E-step of the same iteration, say):
    /// per chunk, pass 1 (N_k and Σ r·x per group) and its sum; the means; per chunk, pass 2
    /// (the centred scatter per group) and its sum. The totals stay on the device
    /// ([`GpuBackend::m_step_sources`]).
    pub(super) fn encode_m_step(
        &mut self,
        enc: &mut wgpu::CommandEncoder,
        covariance_type: CovarianceType,
    ) -> Result<()> {
        self.ctx.check_faults()?;
        if !self.state.as_ref().is_some_and(|s| s.has_resp) {
            return Err(GmmError::InvalidData(
                "no responsibilities yet: run an E-step or set them first".into(),
            ));
        }
        self.prepare_m_step(covariance_type)?;
        let d = self.d;
        let state = self.state()?;
        let k = state.k;
        let n_chunks = state.chunks.len();
        let kernels = self.ctx.kernels();
        let partial = state.partial.as_ref().expect("partial buffer");
        let totals = &state.totals;
        let rows = totals.chunk_rows.as_ref();
        let scatter = totals.scatter.as_ref().expect("scatter totals");
        let mut pass = enc.begin_compute_pass(&Default::default());

        // Pass 1: N_k and Σ r·x per group, summed into `moments`.
        let width = d + 1;
        for (ci, chunk) in state.chunks.iter().enumerate() {
            let (groups, span) = plan_groups(chunk.rows, k * width);
            let dims = Dims {
                span: span as u32,
                n_groups: groups as u32,
                ..self.dims(chunk, k)
            };
            let uniform = self.uniform(dims);
            let bg = self.bind_group(
                &kernels.mstep_means,
                &[
                    Res::Whole(&uniform),
                    self.x_range(chunk),
                    Res::Whole(&chunk.resp),
                    Res::Whole(partial),
                ],
            );
            pass.set_pipeline(&kernels.mstep_means);
            pass.set_bind_group(0, &bg, &[]);
            pass.dispatch_workgroups(
                (width as u32).div_ceil(TILE),
                (k as u32).div_ceil(TILE),
                groups as u32,
            );
            let (out, at) = row_target(n_chunks, ci, k * width, &totals.moments, rows);
            self.encode_reduce(&mut pass, partial, groups, k * width, out, at)?;
        }
        self.encode_chunk_totals(&mut pass, n_chunks, k * width, &totals.moments, rows)?;

        // The means, on the device.
        let uniform = self.uniform(Dims {
            d: d as u32,
            k: k as u32,
            ..Default::default()
        });
        let bg = self.bind_group(
            &kernels.mstep_finish_means,
            &[
                Res::Whole(&uniform),
                Res::Whole(&totals.moments),
                Res::Whole(&state.m_means),
            ],
        );
        pass.set_pipeline(&kernels.mstep_finish_means);
        pass.set_bind_group(0, &bg, &[]);
        pass.dispatch_workgroups(((k * d) as u32).div_ceil(FINISH_MEANS_THREADS), 1, 1);

        // Pass 2: the centred scatter around these means, summed into `scatter`.
        let full = is_full(covariance_type);
        let width = scatter_width(covariance_type, k, d);
        let t = d.div_ceil(TILE as usize) as u32;
        for (ci, chunk) in state.chunks.iter().enumerate() {
            let (groups, span) = plan_groups(chunk.rows, width);
            let dims = Dims {
                span: span as u32,
                n_groups: groups as u32,
                ..self.dims(chunk, k)
            };
            let uniform = self.uniform(dims);
            let pipeline = if full {
                &kernels.mstep_full_scatter
            } else {
                &kernels.mstep_diag_scatter
            };
            let bg = self.bind_group(
                pipeline,
                &[
                    Res::Whole(&uniform),
                    self.x_range(chunk),
                    Res::Whole(&chunk.resp),
                    Res::Whole(&state.m_means),
                    Res::Whole(partial),
                ],
            );
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &bg, &[]);
            if full {
                pass.dispatch_workgroups(t * (t + 1) / 2, k as u32, groups as u32);
            } else {
                pass.dispatch_workgroups(
                    (d as u32).div_ceil(TILE),
                    (k as u32).div_ceil(TILE),
                    groups as u32,
                );
            }
            let (out, at) = row_target(n_chunks, ci, width, scatter, rows);
            self.encode_reduce(&mut pass, partial, groups, width, out, at)?;
        }
        self.encode_chunk_totals(&mut pass, n_chunks, width, scatter, rows)?;
        Ok(())
    }

    /// What the host reads back after [`GpuBackend::encode_m_step`]: the moments
    /// (K × (D + 1)), the means of pass 2 (K × D) and the scatter totals.
    pub(super) fn m_step_sources(
        &self,
        covariance_type: CovarianceType,
    ) -> Result<Vec<(&wgpu::Buffer, u64, u64)>> {
        let state = self.state()?;
        let (k, d) = (state.k, self.d);
        let scatter = state.totals.scatter.as_ref().ok_or_else(|| {
            GmmError::InvalidData("no M-step recorded: the scatter totals are missing".into())
        })?;
        Ok(vec![
            (&state.totals.moments, 0, (k * (d + 1) * 4) as u64),
            (&state.m_means, 0, (k * d * 4) as u64),
            (
                scatter,
                0,
                (scatter_width(covariance_type, k, d) * 4) as u64,
            ),
        ])
    }

    /// The statistics from the words [`GpuBackend::m_step_sources`] named, in order; the
    /// scatter is about the device's means (its shift).
    pub(super) fn parse_m_step(
        &self,
        covariance_type: CovarianceType,
        words: &[f32],
    ) -> Result<SufficientStats> {
        let (k, d) = (self.state()?.k, self.d);
        let (moments, rest) = words.split_at(k * (d + 1));
        let (means, scatter) = rest.split_at(k * d);
        let width = d + 1;
        let nk = DVector::from_fn(k, |c, _| moments[c * width + d] as f64);
        let sum_x = DMatrix::from_fn(k, d, |c, j| moments[c * width + j] as f64);
        let shift = DMatrix::from_fn(k, d, |c, j| means[c * d + j] as f64);
        let scatter = if is_full(covariance_type) {
            Scatter::Full(
                (0..k)
                    .map(|c| {
                        let m = &scatter[c * d * d..(c + 1) * d * d];
                        // Only the upper triangle was computed: mirror it.
                        DMatrix::from_fn(d, d, |a, b| m[a.min(b) * d + a.max(b)] as f64)
                    })
                    .collect(),
            )
        } else {
            Scatter::Diag(DMatrix::from_fn(k, d, |c, j| scatter[c * d + j] as f64))
        };
        Ok(SufficientStats {
            covariance_type,
            n_samples: self.n,
            shift,
            nk,
            sum_x,
            scatter,
            log_likelihood: None,
        })
    }
}
