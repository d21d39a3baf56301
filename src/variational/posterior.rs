//! The variational posterior of a Bayesian mixture and its update from [`SufficientStats`]
//! (scikit-learn's `BayesianGaussianMixture._m_step`), the expected log-weights and
//! log-densities of its E-step, and its lower bound.
//!
//! The E-step of a variational fit is an ordinary mixture E-step with transformed parameters:
//! the means `means_`, Gaussians of `covariances_` (= E[Λ_k]⁻¹), and per component the log
//! weight E[ln π_k] + ½(D ln 2 + Σ_i ψ((ν_k − i)/2) − D/λ_k − D ln ν_k). So every backend
//! computes it unchanged ([`Posterior::density_params`]). Its lower bound needs the entropy of
//! the responsibilities, which follows exactly from the same statistics
//! ([`Posterior::lower_bound`]).

use std::f64::consts::LN_2;

use nalgebra::{DMatrix, DVector};

use super::priors::{CovariancePrior, Priors, WeightPrior};
use super::special::{digamma, ln_beta, ln_gamma};
use crate::covariance::{compute_precisions, CovarianceType, Covariances};
use crate::error::{GmmError, Result};
use crate::linalg::LN_2PI;
use crate::params::MixtureParams;
use crate::stats::{Scatter, SufficientStats};

/// The posterior over the weights: Beta(a_k, b_k) sticks (Dirichlet process) or Dir(α).
#[derive(Debug, Clone, PartialEq)]
pub enum WeightConcentration {
    /// Stick-breaking Beta parameters (scikit-learn's tuple `weight_concentration_`).
    Process {
        /// a_k = 1 + N_k.
        a: DVector<f64>,
        /// b_k = γ₀ + Σ_{j>k} N_j.
        b: DVector<f64>,
    },
    /// α_k = γ₀ + N_k.
    Distribution(DVector<f64>),
}

impl WeightConcentration {
    /// E[ln π_k].
    pub fn expected_log_weights(&self) -> DVector<f64> {
        match self {
            WeightConcentration::Process { a, b } => {
                let mut out = DVector::zeros(a.len());
                let mut before = 0.0;
                for k in 0..a.len() {
                    let ds = digamma(a[k] + b[k]);
                    out[k] = digamma(a[k]) - ds + before;
                    before += digamma(b[k]) - ds;
                }
                out
            }
            WeightConcentration::Distribution(alpha) => {
                let total = digamma(alpha.sum());
                alpha.map(|x| digamma(x) - total)
            }
        }
    }

    /// The expected weights (scikit-learn's `weights_`), normalised.
    pub fn expected_weights(&self) -> DVector<f64> {
        let w = match self {
            WeightConcentration::Process { a, b } => {
                let mut w = DVector::zeros(a.len());
                let mut rest = 1.0;
                for k in 0..a.len() {
                    let s = a[k] + b[k];
                    w[k] = a[k] / s * rest;
                    rest *= b[k] / s;
                }
                w
            }
            WeightConcentration::Distribution(alpha) => alpha.clone(),
        };
        let total = w.sum();
        w / total
    }

    /// The log normaliser of the weight posterior as scikit-learn's lower bound uses it.
    fn log_norm(&self) -> f64 {
        match self {
            WeightConcentration::Process { a, b } => -a
                .iter()
                .zip(b.iter())
                .map(|(&x, &y)| ln_beta(x, y))
                .sum::<f64>(),
            WeightConcentration::Distribution(alpha) => {
                ln_gamma(alpha.sum()) - alpha.iter().map(|&x| ln_gamma(x)).sum::<f64>()
            }
        }
    }
}

/// The variational posterior of a fitted Bayesian mixture.
#[derive(Debug, Clone, PartialEq)]
pub struct Posterior {
    /// The weights' posterior (`weight_concentration_`).
    pub weight_concentration: WeightConcentration,
    /// λ_k (`mean_precision_`), K.
    pub mean_precision: DVector<f64>,
    /// ν_k (`degrees_of_freedom_`): K values, or one for tied covariances.
    pub degrees_of_freedom: DVector<f64>,
    /// `weights_` (expected weights), `means_`, `covariances_` (E[Λ_k]⁻¹) and their precision
    /// factors: what `sample` and conditioning use.
    pub params: MixtureParams,
}

impl Posterior {
    /// The update from the statistics of responsibilities (scikit-learn's `_m_step`, and its
    /// `_initialize` for the first responsibilities).
    pub fn update(stats: &SufficientStats, priors: &Priors, reg_covar: f64) -> Result<Posterior> {
        if matches!(stats.scatter, Scatter::LowRank(_)) {
            return Err(GmmError::InvalidData(
                "a variational fit needs dense statistics, not the exact low-rank path's".into(),
            ));
        }
        let (nk, xk, sk) = stats.moments(reg_covar)?;
        let k = nk.len();
        let d = xk.ncols();
        let g0 = priors.weight_concentration;
        let weight_concentration = match priors.weight_prior {
            WeightPrior::DirichletProcess => {
                let a = nk.add_scalar(1.0);
                let mut b = DVector::from_element(k, g0);
                let mut after = 0.0;
                for c in (0..k).rev() {
                    b[c] = g0 + after;
                    after += nk[c];
                }
                WeightConcentration::Process { a, b }
            }
            WeightPrior::DirichletDistribution => {
                WeightConcentration::Distribution(nk.add_scalar(g0))
            }
        };
        let b0 = priors.mean_precision;
        let mean_precision = nk.add_scalar(b0);
        let mut means = DMatrix::zeros(k, d);
        for c in 0..k {
            for j in 0..d {
                means[(c, j)] = (b0 * priors.mean[j] + nk[c] * xk[(c, j)]) / mean_precision[c];
            }
        }
        let diff = |c: usize| DVector::from_fn(d, |j, _| xk[(c, j)] - priors.mean[j]);
        let nu0 = priors.degrees_of_freedom;
        let (degrees_of_freedom, covariances) = match (&sk, &priors.covariance) {
            (Covariances::Full(s), CovariancePrior::Matrix(w0)) => {
                let nu = nk.add_scalar(nu0);
                let c = (0..k)
                    .map(|c| {
                        let dc = diff(c);
                        let mut m = w0
                            + &s[c] * nk[c]
                            + &dc * dc.transpose() * (nk[c] * b0 / mean_precision[c]);
                        m /= nu[c];
                        m
                    })
                    .collect();
                (nu, Covariances::Full(c))
            }
            (Covariances::Tied(s), CovariancePrior::Matrix(w0)) => {
                let share = nk.sum() / k as f64;
                let nu = nu0 + share;
                let mut m = w0 + s * share;
                for c in 0..k {
                    let dc = diff(c);
                    m += &dc * dc.transpose() * (b0 / k as f64 * nk[c] / mean_precision[c]);
                }
                m /= nu;
                (DVector::from_element(1, nu), Covariances::Tied(m))
            }
            (Covariances::Diag(s), CovariancePrior::Diagonal(w0)) => {
                let nu = nk.add_scalar(nu0);
                let c = DMatrix::from_fn(k, d, |c, j| {
                    let dj = xk[(c, j)] - priors.mean[j];
                    (w0[j] + nk[c] * (s[(c, j)] + b0 / mean_precision[c] * dj * dj)) / nu[c]
                });
                (nu, Covariances::Diag(c))
            }
            (Covariances::Spherical(s), CovariancePrior::Scalar(w0)) => {
                let nu = nk.add_scalar(nu0);
                let c = DVector::from_fn(k, |c, _| {
                    let spread = diff(c).norm_squared() / d as f64;
                    (w0 + nk[c] * (s[c] + b0 / mean_precision[c] * spread)) / nu[c]
                });
                (nu, Covariances::Spherical(c))
            }
            _ => {
                return Err(GmmError::InvalidData(
                    "the covariance prior does not match the covariance type".into(),
                ))
            }
        };
        let weights = weight_concentration.expected_weights();
        let precisions = compute_precisions(&covariances, reg_covar)?;
        let params = MixtureParams {
            weights,
            means,
            covariances,
            precisions,
        };
        Ok(Posterior {
            weight_concentration,
            mean_precision,
            degrees_of_freedom,
            params,
        })
    }

    /// The covariance type.
    pub fn covariance_type(&self) -> CovarianceType {
        self.params.covariance_type()
    }

    /// ν of component `c` (the one value for tied covariances).
    fn nu(&self, c: usize) -> f64 {
        self.degrees_of_freedom[c.min(self.degrees_of_freedom.len() - 1)]
    }

    /// Per component, E[ln π_k] plus the terms of the expected log-density that do not depend
    /// on the sample: ½(D ln 2 + Σ_{i<D} ψ((ν_k − i)/2) − D/λ_k − D ln ν_k).
    pub fn log_weights(&self) -> DVector<f64> {
        let d = self.params.n_features() as f64;
        let mut out = self.weight_concentration.expected_log_weights();
        for c in 0..out.len() {
            let nu = self.nu(c);
            let psi: f64 = (0..self.params.n_features())
                .map(|i| digamma(0.5 * (nu - i as f64)))
                .sum();
            out[c] += 0.5 * (d * LN_2 + psi - d / self.mean_precision[c]) - 0.5 * d * nu.ln();
        }
        out
    }

    /// The parameters of the E-step and of the density queries (scikit-learn's
    /// `_estimate_weighted_log_prob`): Gaussians of `covariances_` about `means_`, with weights
    /// exp([`Posterior::log_weights`]) (not normalised, and never above 1).
    pub fn density_params(&self) -> MixtureParams {
        MixtureParams {
            weights: self.log_weights().map(f64::exp),
            ..self.params.clone()
        }
    }

    /// scikit-learn's lower bound for this posterior, with the entropy of the responsibilities
    /// of the E-step that gave `stats` under `used` (the density parameters of the previous
    /// posterior).
    ///
    /// Σ r ln r follows from the statistics: ln r_ik = ln w_k + ln N(x_i | μ_k, Σ_k) − ln p(x_i),
    /// so Σ_ik r_ik ln r_ik = Σ_k [N_k (ln w_k − ½ D ln 2π + ln det U_k) − ½ tr(P_k S_k)] − Σ_i ln
    /// p(x_i), with S_k the scatter about μ_k and P_k = U_k U_kᵀ.
    pub fn lower_bound(&self, stats: &SufficientStats, used: &MixtureParams) -> Result<f64> {
        let entropy = -sum_r_log_r(stats, used)?;
        let d = self.params.n_features();
        let k = self.params.n_components();
        let wishart = |nu: f64, log_det_chol: f64| {
            let ldc = log_det_chol - 0.5 * d as f64 * nu.ln();
            let lg: f64 = (0..d).map(|i| ln_gamma(0.5 * (nu - i as f64))).sum();
            -(nu * ldc + nu * d as f64 * 0.5 * LN_2 + lg)
        };
        let prec = &self.params.precisions;
        let log_wishart = match self.covariance_type() {
            CovarianceType::Tied => k as f64 * wishart(self.nu(0), prec.log_det(0, d)),
            _ => (0..k)
                .map(|c| wishart(self.nu(c), prec.log_det(c, d)))
                .sum(),
        };
        let lambda: f64 = self.mean_precision.iter().map(|l| l.ln()).sum();
        Ok(entropy - log_wishart - self.weight_concentration.log_norm() - 0.5 * d as f64 * lambda)
    }
}

/// Σ_ik r_ik ln r_ik of the E-step that gave `stats` under `used`; see
/// [`Posterior::lower_bound`].
fn sum_r_log_r(stats: &SufficientStats, used: &MixtureParams) -> Result<f64> {
    let log_likelihood = stats.log_likelihood.ok_or_else(|| {
        GmmError::InvalidData("the lower bound needs statistics of an E-step".into())
    })?;
    let mut about = stats.clone();
    about.reshift(&used.means)?;
    let d = used.n_features();
    let prec = &used.precisions;
    let mut total = 0.0;
    for c in 0..used.n_components() {
        let n = stats.nk[c];
        if n == 0.0 {
            continue;
        }
        let trace = match (&about.scatter, &prec.cholesky) {
            (Scatter::Full(s), Covariances::Full(u)) => trace_of(&s[c], &u[c]),
            (Scatter::Full(s), Covariances::Tied(u)) => trace_of(&s[c], u),
            (Scatter::Diag(s), Covariances::Diag(p)) => {
                (0..d).map(|j| s[(c, j)] * p[(c, j)] * p[(c, j)]).sum()
            }
            (Scatter::Diag(s), Covariances::Spherical(p)) => s.row(c).sum() * p[c] * p[c],
            _ => {
                return Err(GmmError::InvalidData(
                    "the statistics do not match the parameters' covariance type".into(),
                ))
            }
        };
        let log_det = prec.log_det(c, d);
        total += n * (used.weights[c].ln() - 0.5 * d as f64 * LN_2PI + log_det) - 0.5 * trace;
    }
    Ok(total - log_likelihood)
}

/// tr(U Uᵀ S) = Σ_ij S_ij (U Uᵀ)_ij.
fn trace_of(s: &DMatrix<f64>, u: &DMatrix<f64>) -> f64 {
    let p = u * u.transpose();
    s.component_mul(&p).sum()
}
