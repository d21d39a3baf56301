//! The GPU E-step: weighted log-densities and their normalisation on the device, per chunk,
//! and the log-likelihood summed on the device: one float comes back.

use nalgebra::{DMatrix, DVector};

use super::reduce::row_target;
use super::{storage_usage, to_f32, GpuBackend, Res};
use crate::covariance::Covariances;
use crate::error::{GmmError, Result};
use crate::gpu::kernels::{Dims, ESTEP_DIAG_SAMPLES, NORMALIZE_SAMPLES};
use crate::linalg::LN_2PI;
use crate::params::MixtureParams;

impl GpuBackend {
    /// The E-step on the device under `params`: keeps responsibilities and per-sample
    /// log-likelihoods on the device and returns their sum (maybe non-finite).
    pub(crate) fn run_e_step(&mut self, params: &MixtureParams) -> Result<f64> {
        let enc = self.encode_e_step(params)?;
        let total = &self.state()?.totals.log_likelihood;
        let v = self.ctx.read_f32_after(enc, &[(total, 0, 4)])?;
        Ok(v[0] as f64)
    }

    /// Uploads `params` and records the E-step: responsibilities and per-sample
    /// log-likelihoods in every chunk, and their sum in `totals.log_likelihood`. Nothing is
    /// submitted yet.
    pub(super) fn encode_e_step(&mut self, params: &MixtureParams) -> Result<wgpu::CommandEncoder> {
        self.ctx.check_faults()?;
        let k = params.n_components();
        let d = self.d;
        if params.n_features() != d {
            return Err(GmmError::DimensionMismatch {
                expected: params.n_features(),
                found: d,
            });
        }
        self.ensure_state(k)?;
        let prec = &params.precisions;
        let (full, shared, factors): (bool, bool, Vec<f32>) = match &prec.cholesky {
            Covariances::Full(us) => (
                true,
                false,
                to_f32(us.iter().flat_map(|u| u.transpose().as_slice().to_vec())),
            ),
            Covariances::Tied(u) => (true, true, to_f32(u.transpose().iter().copied())),
            Covariances::Diag(p) => (false, false, to_f32(p.transpose().iter().copied())),
            Covariances::Spherical(p) => (
                false,
                false,
                to_f32((0..k).flat_map(|c| std::iter::repeat_n(p[c], d))),
            ),
            Covariances::LowRank(_) => {
                return Err(GmmError::InvalidData(
                    "low-rank covariances are not supported by the GPU engine; use device=cpu or the dense full path"
                        .into(),
                ))
            }
        };
        let log_const: Vec<f32> = (0..k)
            .map(|c| (params.weights[c].ln() + prec.log_det(c, d) - 0.5 * d as f64 * LN_2PI) as f32)
            .collect();
        let means = to_f32(params.means.transpose().iter().copied());
        let needs_prec = self
            .state()?
            .prec
            .as_ref()
            .is_none_or(|b| b.size() as usize != factors.len() * 4);
        if needs_prec {
            let b = self.buffer("precision factors", factors.len() * 4, storage_usage())?;
            self.state.as_mut().expect("state").prec = Some(b);
        }
        let state = self.state()?;
        let prec_buf = state.prec.as_ref().expect("precision buffer");
        self.write(prec_buf, &factors);
        self.write(&state.e_means, &means);
        self.write(&state.log_const, &log_const);

        let kernels = self.ctx.kernels();
        let device = self.ctx.device();
        let mut enc = device.create_command_encoder(&Default::default());
        let n_chunks = state.chunks.len();
        let totals = &state.totals.log_likelihood;
        for (ci, chunk) in state.chunks.iter().enumerate() {
            let dims = Dims {
                shared_factor: shared as u32,
                weighted: self.weights.is_some() as u32,
                ..self.dims(chunk, k)
            };
            let uniform = self.uniform(dims);
            let (pipeline, per_group) = if full {
                kernels.estep_full_for(d)
            } else {
                (&kernels.estep_diag, ESTEP_DIAG_SAMPLES)
            };
            let bg = self.bind_group(
                pipeline,
                &[
                    Res::Whole(&uniform),
                    self.x_range(chunk),
                    Res::Whole(&state.e_means),
                    Res::Whole(prec_buf),
                    Res::Whole(&state.log_const),
                    Res::Whole(&chunk.resp),
                ],
            );
            let norm_bg = self.bind_group(
                &kernels.estep_normalize,
                &[
                    Res::Whole(&uniform),
                    Res::Whole(&chunk.resp),
                    Res::Whole(&chunk.log_norm),
                    Res::Whole(&chunk.ll_partial),
                    Res::Whole(&chunk.weights),
                ],
            );
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &bg, &[]);
            pass.dispatch_workgroups((chunk.rows as u32).div_ceil(per_group), k as u32, 1);
            pass.set_pipeline(&kernels.estep_normalize);
            pass.set_bind_group(0, &norm_bg, &[]);
            pass.dispatch_workgroups((chunk.rows as u32).div_ceil(NORMALIZE_SAMPLES), 1, 1);
            let (out, at) = row_target(n_chunks, ci, 1, totals, state.totals.ll_chunks.as_ref());
            let groups = chunk.rows.div_ceil(NORMALIZE_SAMPLES as usize);
            self.encode_reduce(&mut pass, &chunk.ll_partial, groups, 1, out, at)?;
        }
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            self.encode_chunk_totals(
                &mut pass,
                n_chunks,
                1,
                totals,
                state.totals.ll_chunks.as_ref(),
            )?;
        }
        self.state.as_mut().expect("state").has_resp = true;
        Ok(enc)
    }

    /// Per-sample log-likelihoods `log Σ_k π_k N(x_i | μ_k, Σ_k)` of the last E-step.
    pub(crate) fn log_likelihoods(&self) -> Result<DVector<f64>> {
        let state = self.state()?;
        let sources: Vec<_> = state
            .chunks
            .iter()
            .map(|c| (&c.log_norm, 0, (c.rows * 4) as u64))
            .collect();
        let v = self.ctx.read_f32(&sources)?;
        Ok(DVector::from_iterator(self.n, v.iter().map(|&x| x as f64)))
    }

    pub(crate) fn read_responsibilities(&self) -> Result<DMatrix<f64>> {
        let state = self.state()?;
        let sources: Vec<_> = state
            .chunks
            .iter()
            .map(|c| (&c.resp, 0, (c.rows * state.k * 4) as u64))
            .collect();
        let v = self.ctx.read_f32(&sources)?;
        Ok(DMatrix::from_iterator(state.k, self.n, v.iter().map(|&x| x as f64)).transpose())
    }
}
