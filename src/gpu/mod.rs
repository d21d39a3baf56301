//! The wgpu engine: WGSL compute shaders for the E-step and the M-step statistics, driven by
//! the shared EM loop ([`crate::em::fit`]) through [`GpuBackend`].
//!
//! - [`GpuContext`] owns a headless device ([`GpuContext::new`]) or wraps one handed in by
//!   another wgpu application ([`GpuContext::from_device`]).
//! - [`GpuBackend`] takes the data from the host ([`GpuBackend::from_host`]) or from a
//!   `wgpu::Buffer` the application already fills ([`GpuBackend::from_buffer`]); data and
//!   responsibilities stay on the device, and only parameters and per-group partial statistics
//!   (reduced on the host in f64) cross the bus.
//! - [`query`] scores and classifies samples under a fitted model: dense models with the
//!   E-step kernels, low-rank ones with [`exact`] products.
//! - [`exact`] computes f64-accurate products `Aᵀ B` in integer arithmetic, for the exact
//!   low-rank path (its Gram matrix and projections), which f32 cannot serve.
//! - The arithmetic of the EM kernels is f32 (the exact products use none). Covariances are accumulated as centred scatters
//!   (means first), so they do not suffer the cancellation of `E[xxᵀ] − μμᵀ`; the Cholesky
//!   factorisation stays on the host in f64.

pub mod backend;
pub mod context;
pub mod exact;
pub mod kernels;
pub mod query;

use nalgebra::DMatrix;

pub use backend::GpuBackend;
pub use context::{list_adapters, AdapterSummary, GpuContext};

use crate::config::FitConfig;
use crate::em::IterationEvent;
use crate::error::Result;
use crate::model::GaussianMixture;

/// Checks that a GPU adapter can be used (opens the shared device on first call).
pub fn check_available() -> Result<()> {
    GpuContext::shared().map(|_| ())
}

/// Fits on the GPU (the shared default device) with data from the host, N × D.
///
/// When the f32 statistics of an M-step are unusable (overflow, or a covariance that does
/// not factor with `reg_covar`), that M-step is recomputed in f64 on the CPU; `notice` then
/// hears one line summarising the fallbacks, which the fitted model's `fit.device` also
/// records.
pub fn fit(
    x: &DMatrix<f64>,
    config: &FitConfig,
    warm_start: Option<&GaussianMixture>,
    notice: &mut dyn FnMut(&str),
    on_iteration: &mut dyn FnMut(&IterationEvent),
) -> Result<GaussianMixture> {
    crate::validate::check_finite(x)?;
    let ctx = GpuContext::shared()?;
    let mut backend = GpuBackend::from_host(&ctx, x)?;
    backend.set_reg_covar(config.reg_covar);
    // The backend keeps the f64 data (D × N) for the fallback; the initialisation uses them.
    let xt = backend.host_samples().expect("host data");
    let result = crate::em::fit(&mut backend, Some(&*xt), config, warm_start, on_iteration);
    report_fallbacks(&backend, notice);
    result
}

/// Passes the backend's fallback summary, if any, to `notice`.
fn report_fallbacks(backend: &GpuBackend, notice: &mut dyn FnMut(&str)) {
    if let Some(s) = backend.fallback_summary() {
        notice(&s);
    }
}

/// Fits on data that already live on the device of `ctx`: `buffer` holds
/// `n_samples × n_features` f32 values, row-major, and has `BufferUsages::STORAGE`.
///
/// The data never come back to the host, so the initialisation must not need them: give
/// `InitMethod::Labels` (one label per sample, e.g. from the application's own clustering)
/// or a `warm_start` model. For k-means seeding, read a subsample back yourself, fit it with
/// [`crate::fit()`], and pass that model as `warm_start`.
///
/// There is no f64 copy of the data here: an M-step whose f32 statistics overflow ends the
/// fit with an error that says so; one whose covariance does not factor is retried with a
/// larger ridge, which the fitted model's `fit.device` then reports.
pub fn fit_buffer(
    ctx: &GpuContext,
    buffer: &wgpu::Buffer,
    n_samples: usize,
    n_features: usize,
    config: &FitConfig,
    warm_start: Option<&GaussianMixture>,
    on_iteration: &mut dyn FnMut(&IterationEvent),
) -> Result<GaussianMixture> {
    let mut backend = GpuBackend::from_buffer(ctx, buffer, n_samples, n_features)?;
    backend.set_reg_covar(config.reg_covar);
    crate::em::fit(&mut backend, None, config, warm_start, on_iteration)
}
