//! Conditioning a Gaussian mixture on observed coordinates.
//!
//! Given a mixture over `D` coordinates and the values `x_o` of a set of observed coordinates,
//! the distribution of the remaining (missing) coordinates `x_m` is again a Gaussian mixture:
//!
//! - component `k` keeps its identity, with mean `μ_m + Σ_mo Σ_oo⁻¹ (x_o − μ_o)` and covariance
//!   `Σ_mm − Σ_mo Σ_oo⁻¹ Σ_om` (the Schur complement), both through a Cholesky factor of `Σ_oo`;
//! - its weight is the posterior `π_k N(x_o | μ_o, Σ_oo) / p(x_o)`, evaluated in log space and
//!   normalised with log-sum-exp. Only the **marginal** density of the observed part enters:
//!   scoring a vector whose unknown part is padded with zeros (a common shortcut) weights the
//!   components by how close their means are to zero in the unknown coordinates, which is wrong.
//!
//! A [`PatternConditioner`] does the per-pattern work (factorisations, gains, conditional
//! covariances) once, so that many samples with the same observed set cost only triangular
//! solves and matrix–vector products. [`ConditionalMixture`] answers the queries: mean (point
//! forecast), per-coordinate variance (law of total variance), quantiles and central intervals
//! (bisection on the one-dimensional mixture CDF), samples, and affine maps of the result.
//!
//! Every covariance type is handled: `full` and `tied` (one shared matrix) densely, `diag` and
//! `spherical` without any D × D matrix (their conditionals are the marginals of the missing
//! coordinates; only the weights change), and low-rank full covariances (`Σ = A Aᵀ + λ I`,
//! N < D) through S × S matrices, S the samples a component keeps — the weights, means and
//! draws never form an O × O or M × M matrix; only [`PatternConditioner::component_covariance`]
//! (and so [`PatternConditioner::condition`]) writes the M × M conditional covariance out.

mod mixture;
mod normal;
mod pattern;

pub use mixture::ConditionalMixture;
pub use normal::normal_cdf;
pub use pattern::PatternConditioner;

use crate::error::Result;
use crate::params::MixtureParams;

/// Conditions `params` on the values `x_o` of the coordinates `observed`; the result is over
/// the other coordinates in increasing order.
pub fn condition(
    params: &MixtureParams,
    observed: &[usize],
    x_o: &[f64],
) -> Result<ConditionalMixture> {
    PatternConditioner::new(params, observed)?.condition(x_o)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Φ by Simpson integration of the density from 0, for comparison.
    fn cdf_by_integration(x: f64) -> f64 {
        let n = 20_000;
        let h = x / n as f64;
        let f = |u: f64| (-0.5 * u * u).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let mut s = f(0.0) + f(x);
        for i in 1..n {
            s += f(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        0.5 + s * h / 3.0
    }

    #[test]
    fn normal_cdf_matches_integration_and_known_values() {
        for &x in &[-6.0, -3.3, -2.4, -1.0, -0.2, 0.0, 0.7, 1.5, 3.2, 3.6, 5.0] {
            let a = normal_cdf(x);
            let b = cdf_by_integration(x);
            assert!((a - b).abs() < 1e-12, "x = {x}: {a} vs {b}");
        }
        assert!((normal_cdf(1.959_963_984_540_054) - 0.975).abs() < 1e-14);
        // Far tail: Φ(−10) ≈ 7.6198530241605e-24 (relative accuracy, not absolute).
        let tail = normal_cdf(-10.0);
        assert!(
            (tail / 7.619_853_024_160_527e-24 - 1.0).abs() < 1e-10,
            "{tail}"
        );
        // Continuity where the two methods meet (t = 1.5): the step across it is the density.
        let x = 1.5 * std::f64::consts::SQRT_2;
        let delta = 1e-6;
        let density = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let step = normal_cdf(-x + delta) - normal_cdf(-x - delta);
        let mismatch = (step - 2.0 * delta * density).abs() / normal_cdf(-x);
        assert!(mismatch < 2e-14, "relative jump {mismatch:e}");
    }
}
