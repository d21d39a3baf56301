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
//! The EM loop is the shared one over the low-rank backend (`crate::backend::lowrank`);
//! conditioning of low-rank components is in [`condition`], and their queries on a device in
//! [`density`] (through [`Products`]).

pub mod arrays;
pub(crate) mod condition;
pub mod covariances;
pub mod density;
pub mod factor;
pub(crate) mod gemm;
pub mod products;
#[cfg(feature = "gpu")]
pub(crate) mod query;
pub mod sample;
pub mod training;

pub use covariances::LowRankCovariances;
pub use factor::ComponentFactor;
pub use products::Products;
pub use training::TrainingSet;

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
