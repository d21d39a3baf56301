//! Queries of a fitted model on the GPU: per-sample log-likelihoods (`score_samples`),
//! posterior probabilities (`predict_proba`) and labels (`predict`).
//!
//! Dense models run through the E-step kernels: the model's parameters go up once, the data
//! in chunks as for a fit, and only the requested results come back (f32, widened to f64).
//! Low-rank models run their projections `X_c x` (N D per sample, the largest part of a query)
//! as exact integer products on the GPU (`crate::gpu::exact`, through
//! `crate::lowrank::query`) and the N × N solves, centring
//! and norms on the host in f64, so they give the CPU's numbers to rounding.

use nalgebra::{DMatrix, DVector};

use crate::backend::gpu::GpuBackend;
use crate::error::Result;
use crate::gpu::GpuContext;
use crate::lowrank::query::{low_rank, lowrank_blocks};
use crate::lowrank::Products;
use crate::model::GaussianMixture;

/// Uploads `x` and runs the E-step of a dense `model` over it.
fn e_step(ctx: &GpuContext, model: &GaussianMixture, x: &DMatrix<f64>) -> Result<GpuBackend> {
    model.check_data(x)?;
    let mut backend = GpuBackend::from_host_for_queries(ctx, x)?;
    backend.run_e_step(model.density_params())?;
    Ok(backend)
}

/// Log-density `log p(x_i)` of every sample (N × D data), computed on `ctx` (f32 for dense
/// models, f64-accurate for low-rank ones).
pub(super) fn score_samples(
    ctx: &GpuContext,
    model: &GaussianMixture,
    x: &DMatrix<f64>,
) -> Result<DVector<f64>> {
    if let Some(lr) = low_rank(model) {
        let (_, log_norm) = lowrank_blocks(&Products::Gpu(ctx.clone()), model, lr, x)?;
        return Ok(DVector::from_vec(log_norm));
    }
    e_step(ctx, model, x)?.log_likelihoods()
}

/// Posterior probability of each component for each sample, N × K, computed on `ctx`.
pub(super) fn predict_proba(
    ctx: &GpuContext,
    model: &GaussianMixture,
    x: &DMatrix<f64>,
) -> Result<DMatrix<f64>> {
    if let Some(lr) = low_rank(model) {
        return Ok(lowrank_blocks(&Products::Gpu(ctx.clone()), model, lr, x)?
            .0
            .transpose());
    }
    e_step(ctx, model, x)?.read_responsibilities()
}
