//! Queries of a fitted model on the GPU: per-sample log-likelihoods (`score_samples`),
//! posterior probabilities (`predict_proba`) and labels (`predict`), through the E-step
//! kernels. The model's parameters go up once, the data in chunks as for a fit, and only the
//! requested results come back (f32, widened to f64).

use nalgebra::{DMatrix, DVector};

use crate::covariance::Covariances;
use crate::error::{GmmError, Result};
use crate::gpu::backend::GpuBackend;
use crate::gpu::context::GpuContext;
use crate::model::GaussianMixture;

/// Whether the GPU engine can evaluate `model` (low-rank covariances it cannot).
pub fn supports(model: &GaussianMixture) -> bool {
    !matches!(model.params.covariances, Covariances::LowRank(_))
}

/// Uploads `x` and runs the E-step of `model` over it.
fn e_step(ctx: &GpuContext, model: &GaussianMixture, x: &DMatrix<f64>) -> Result<GpuBackend> {
    if !supports(model) {
        return Err(GmmError::Gpu(
            "low-rank covariances are not supported by the GPU engine; use --device cpu".into(),
        ));
    }
    if x.ncols() != model.n_features() {
        return Err(GmmError::DimensionMismatch {
            expected: model.n_features(),
            found: x.ncols(),
        });
    }
    crate::validate::check_finite(x)?;
    let mut backend = GpuBackend::from_host_for_queries(ctx, x)?;
    backend.run_e_step(&model.params)?;
    Ok(backend)
}

/// Log-density `log p(x_i)` of every sample (N × D data), computed on `ctx` in f32.
pub fn score_samples(
    ctx: &GpuContext,
    model: &GaussianMixture,
    x: &DMatrix<f64>,
) -> Result<DVector<f64>> {
    e_step(ctx, model, x)?.log_likelihoods()
}

/// Posterior probability of each component for each sample, N × K, computed on `ctx`.
pub fn predict_proba(
    ctx: &GpuContext,
    model: &GaussianMixture,
    x: &DMatrix<f64>,
) -> Result<DMatrix<f64>> {
    e_step(ctx, model, x)?.read_responsibilities()
}

/// Most probable component of each sample, computed on `ctx`.
pub fn predict(ctx: &GpuContext, model: &GaussianMixture, x: &DMatrix<f64>) -> Result<Vec<usize>> {
    let p = predict_proba(ctx, model, x)?;
    Ok(p.row_iter().map(|r| r.transpose().imax()).collect())
}
