//! Queries of a fitted model on the GPU: per-sample log-likelihoods (`score_samples`),
//! posterior probabilities (`predict_proba`) and labels (`predict`).
//!
//! Dense models run through the E-step kernels: the model's parameters go up once, the data
//! in chunks as for a fit, and only the requested results come back (f32, widened to f64).
//! Low-rank models run their projections `X_c x` (N D per sample, the largest part of a query)
//! as exact integer products on the GPU ([`crate::gpu::exact`]) and the N × N solves, centring
//! and norms on the host in f64, so they give the CPU's numbers to rounding.

use nalgebra::{DMatrix, DVector};

use crate::backend::cpu::normalize_in_place;
use crate::covariance::Covariances;
use crate::error::Result;
use crate::gpu::backend::GpuBackend;
use crate::gpu::context::GpuContext;
use crate::lowrank::{LowRankCovariances, Products};
use crate::model::GaussianMixture;

/// Samples per block of a low-rank query (bounds the N × block projections).
const LOWRANK_BLOCK: usize = 4096;

/// The low-rank covariances of `model`, if it has them: the precision side, which carries the
/// N × N factors (computed once, not per block).
fn low_rank(model: &GaussianMixture) -> Option<&LowRankCovariances> {
    match &model.params.precisions.cholesky {
        Covariances::LowRank(lr) => Some(lr),
        _ => None,
    }
}

/// Responsibilities (K × n, in place of the weighted log-probabilities) and log-likelihoods
/// of the rows of `x` under a low-rank model, block by block.
fn lowrank_blocks(
    ctx: &GpuContext,
    model: &GaussianMixture,
    lr: &LowRankCovariances,
    x: &DMatrix<f64>,
) -> Result<(DMatrix<f64>, Vec<f64>)> {
    model.check_data(x)?;
    let (n, k) = (x.nrows(), model.n_components());
    let products = Products::Gpu(ctx.clone());
    let mut resp = DMatrix::<f64>::zeros(k, n);
    let mut log_norm = Vec::with_capacity(n);
    for start in (0..n).step_by(LOWRANK_BLOCK) {
        let len = LOWRANK_BLOCK.min(n - start);
        let xt = x.rows(start, len).transpose();
        let mut block = DMatrix::<f64>::zeros(k, len);
        lr.log_gaussian_prob_with(&products, &model.params.means, xt.as_view(), &mut block)?;
        for c in 0..k {
            block
                .row_mut(c)
                .add_scalar_mut(model.params.weights[c].ln());
        }
        log_norm.extend(normalize_in_place(&mut block));
        resp.columns_mut(start, len).copy_from(&block);
    }
    Ok((resp, log_norm))
}

/// Uploads `x` and runs the E-step of a dense `model` over it.
fn e_step(ctx: &GpuContext, model: &GaussianMixture, x: &DMatrix<f64>) -> Result<GpuBackend> {
    model.check_data(x)?;
    let mut backend = GpuBackend::from_host_for_queries(ctx, x)?;
    backend.run_e_step(&model.params)?;
    Ok(backend)
}

/// Log-density `log p(x_i)` of every sample (N × D data), computed on `ctx` (f32 for dense
/// models, f64-accurate for low-rank ones).
pub fn score_samples(
    ctx: &GpuContext,
    model: &GaussianMixture,
    x: &DMatrix<f64>,
) -> Result<DVector<f64>> {
    if let Some(lr) = low_rank(model) {
        let (_, log_norm) = lowrank_blocks(ctx, model, lr, x)?;
        return Ok(DVector::from_vec(log_norm));
    }
    e_step(ctx, model, x)?.log_likelihoods()
}

/// Posterior probability of each component for each sample, N × K, computed on `ctx`.
pub fn predict_proba(
    ctx: &GpuContext,
    model: &GaussianMixture,
    x: &DMatrix<f64>,
) -> Result<DMatrix<f64>> {
    if let Some(lr) = low_rank(model) {
        return Ok(lowrank_blocks(ctx, model, lr, x)?.0.transpose());
    }
    e_step(ctx, model, x)?.read_responsibilities()
}

/// Most probable component of each sample, computed on `ctx`.
pub fn predict(ctx: &GpuContext, model: &GaussianMixture, x: &DMatrix<f64>) -> Result<Vec<usize>> {
    let p = predict_proba(ctx, model, x)?;
    Ok(p.row_iter().map(|r| r.transpose().imax()).collect())
}
