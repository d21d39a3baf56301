//! Exact full-covariance mixtures when samples are fewer than dimensions (N < D).
//!
//! The M-step's full covariance is, exactly,
//! `Σ_k = A_k A_kᵀ + λ I` with `A_k = (X − 1μ_kᵀ)ᵀ diag(√w_k)` (D × N) and `w_k = r_·k / N_k`,
//! so every quantity EM and the queries need comes from N × N matrices:
//!
//! - the data are centred once and their Gram matrix `G = X_c X_cᵀ` is computed once
//!   ([`training`]);
//! - per component, `M_k = λ I + diag(s_k) C_k diag(s_k) = L_k L_kᵀ` (N × N Cholesky, with
//!   `C_k` the Gram matrix centred on `μ_k`, `s_k = √w_k`) gives Mahalanobis distances by the
//!   Woodbury identity and `log det Σ_k = (D − N) log λ + 2 Σ log L_jj` by the determinant
//!   lemma ([`factor`]);
//! - new points are scored through `X_c x` (O(N D) per point, [`density`]);
//! - draws are `μ_k + A_k ζ + √λ ε` (O(N D) per draw, no factorisation, [`sample`]).
//!
//! The model keeps the centred training matrix (shared through an `Arc`, never copied by EM),
//! its centre, the N × K weights and λ — 400 × 4096 faces take 13 MB where 24 dense
//! 4096² covariances would take 3.2 GB. It is the same model as the dense path: equal to
//! rounding in every score, probability, lower bound and moment (`tests/lowrank.rs`).
//!
//! Samples whose weight in a component lies below f64 rounding of λ are left out of that
//! component's factor, so a component that owns n_k samples costs O(n_k³), not O(N³).
//!
//! The EM loop is the shared one ([`crate::em::fit`]) over [`LowRankBackend`].

pub mod arrays;
pub mod backend;
pub mod covariances;
pub mod density;
pub mod factor;
pub mod products;
pub mod sample;
pub mod training;

pub use backend::LowRankBackend;
pub use covariances::LowRankCovariances;
pub use factor::ComponentFactor;
pub use products::Products;
pub use training::TrainingSet;

use nalgebra::DMatrix;

use crate::config::{FitConfig, InitMethod};
use crate::covariance::CovarianceType;
use crate::device::Device;
use crate::em::IterationEvent;
use crate::error::{GmmError, Result};
use crate::model::GaussianMixture;

/// Floating-point operations of one dense full-covariance EM iteration: scatter and E-step
/// products (N D² each) and the Cholesky factorisation and inverse (D³/3 each), per component.
pub fn dense_iteration_flops(n: usize, d: usize, k: usize) -> f64 {
    let (n, d, k) = (n as f64, d as f64, k as f64);
    k * (2.0 * n * d * d + 2.0 * d * d * d / 3.0)
}

/// Floating-point operations of one low-rank EM iteration when every sample weighs in every
/// component (the worst case): N × N Cholesky (N³/3) and triangular solve (N³) per component,
/// the weighted means (N D K), plus the Gram matrix (N² D), counted as if paid every iteration.
pub fn lowrank_iteration_flops(n: usize, d: usize, k: usize) -> f64 {
    let (n, d, k) = (n as f64, d as f64, k as f64);
    n * n * d + k * (4.0 * n * n * n / 3.0 + n * d + 2.0 * n * n)
}

/// Whether the exact low-rank path costs fewer flops than the dense one for N × D data and K
/// full components. Only for N < D: with N ≥ D the dense scatter is already full rank, and the
/// low-rank form would need `reg_covar > 0` where the dense one does not.
pub fn is_cheaper(n: usize, d: usize, k: usize) -> bool {
    n < d && lowrank_iteration_flops(n, d, k) < dense_iteration_flops(n, d, k)
}

/// Fits full covariances through the low-rank path, with the shared EM loop, every
/// initialisation method and warm start (from a low-rank or a dense model).
///
/// With `Device::Gpu` the Gram matrix — the largest product of a fit, N² D — is computed on
/// the GPU by exact integer products ([`crate::gpu::exact`]); the N × N work of every
/// iteration (and its O(N D K) weighted means) stays on the host in f64.
pub fn fit(
    x: &DMatrix<f64>,
    config: &FitConfig,
    device: Device,
    warm_start: Option<&GaussianMixture>,
    on_iteration: &mut dyn FnMut(&IterationEvent),
) -> Result<GaussianMixture> {
    let products = match device {
        Device::Cpu => Products::Cpu,
        Device::Gpu => Products::Gpu(crate::gpu::GpuContext::shared()?),
    };
    fit_with(x, config, &products, warm_start, on_iteration)
}

/// [`fit`] with the Gram matrix computed by `products`: the CPU, or
/// `Products::Gpu(GpuContext::from_device(&device, &queue))` for a device another wgpu
/// application owns.
pub fn fit_with(
    x: &DMatrix<f64>,
    config: &FitConfig,
    products: &Products,
    warm_start: Option<&GaussianMixture>,
    on_iteration: &mut dyn FnMut(&IterationEvent),
) -> Result<GaussianMixture> {
    crate::validate::check_fit_data(x)?;
    if config.covariance_type != CovarianceType::Full {
        return Err(GmmError::param(
            "covariance_type",
            config.covariance_type,
            "the low-rank path fits full covariances only; use the dense path for other types",
        ));
    }
    if config.reg_covar.is_nan() || config.reg_covar <= 0.0 {
        return Err(GmmError::param(
            "reg_covar",
            config.reg_covar,
            "the exact low-rank path needs reg_covar > 0: with fewer samples than features a full covariance is singular otherwise (the default is 1e-6)",
        ));
    }
    let mut backend = LowRankBackend::new_with(x, products)?;
    // Distance-based initialisations see the samples through an isometric N-dimensional
    // embedding (same distances, N/D of the work); given means live in D dimensions.
    let init_samples = match &config.init {
        InitMethod::Means(_) => None,
        _ if x.nrows() < x.ncols() => backend.training().isometric_coordinates(),
        _ => None,
    }
    .unwrap_or_else(|| x.transpose());
    crate::em::fit(
        &mut backend,
        Some(&init_samples),
        config,
        warm_start,
        on_iteration,
    )
}
