//! Synthetic data for benchmarks and examples: Gaussian clusters with known labels, and the
//! useful floating-point work of one EM iteration (the model that GFLOP/s figures count).

use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::covariance::CovarianceType;
pub use crate::init::one_hot;

/// One benchmark case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    /// Samples N.
    pub n: usize,
    /// Features D.
    pub d: usize,
    /// Components K.
    pub k: usize,
    /// Covariance type.
    pub covariance: CovarianceType,
}

/// Synthetic data: `k` clusters with random centres and unit spread, and random labels.
pub fn synthetic(case: &Case, seed: u64) -> (DMatrix<f64>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres = DMatrix::<f64>::from_fn(case.k, case.d, |_, _| rng.random::<f64>() * 20.0 - 10.0);
    let labels: Vec<usize> = (0..case.n).map(|_| rng.random_range(0..case.k)).collect();
    let mut x = DMatrix::<f64>::zeros(case.n, case.d);
    for i in 0..case.n {
        for j in 0..case.d {
            x[(i, j)] = centres[(labels[i], j)] + rng.sample::<f64, _>(StandardNormal);
        }
    }
    (x, labels)
}

/// Overlapping clusters: `k` centres uniform in [−1, 1]ᴰ with unit spread (they overlap),
/// and labels drawn independently of the data — as an initialisation, they give
/// responsibilities that stay spread over all components for many iterations (the regime
/// in which an M-step cannot skip any sample of any component).
pub fn overlapping(case: &Case, seed: u64) -> (DMatrix<f64>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres = DMatrix::<f64>::from_fn(case.k, case.d, |_, _| rng.random::<f64>() * 2.0 - 1.0);
    let mut x = DMatrix::<f64>::zeros(case.n, case.d);
    for i in 0..case.n {
        let c = rng.random_range(0..case.k);
        for j in 0..case.d {
            x[(i, j)] = centres[(c, j)] + rng.sample::<f64, _>(StandardNormal);
        }
    }
    let labels = (0..case.n).map(|_| rng.random_range(0..case.k)).collect();
    (x, labels)
}

/// Floating-point operations of one EM iteration (a model of the useful work, the same for
/// both devices): E-step densities and log-sum-exp, M-step means and centred scatter.
pub fn flops_per_iteration(case: &Case) -> f64 {
    let (n, d, k) = (case.n as f64, case.d as f64, case.k as f64);
    let normalise = 4.0 * n * k;
    let means = 2.0 * n * k * (d + 1.0);
    match case.covariance {
        // triangular product (x−μ)ᵀU: d(d+1)/2 multiply-adds; scatter: upper triangle.
        CovarianceType::Full | CovarianceType::Tied => {
            n * k * (d * (d + 1.0) + 3.0 * d)
                + normalise
                + means
                + n * k * (d * (d + 1.0) + 2.0 * d)
        }
        CovarianceType::Diag | CovarianceType::Spherical => {
            4.0 * n * k * d + normalise + means + 3.0 * n * k * d
        }
    }
}
