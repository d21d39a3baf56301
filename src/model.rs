//! A fitted Gaussian mixture and its queries: `score_samples`, `score`, `predict`,
//! `predict_proba`, `sample`, `bic`, `aic`.

use nalgebra::{DMatrix, DVector};
use rand::Rng;
use rand_distr::{Binomial, Distribution, StandardNormal};
use rayon::prelude::*;

use crate::covariance::{CovarianceType, Covariances, Precisions};
use crate::density::{normalize_in_place, weighted_log_prob};
use crate::error::{GmmError, Result};
use crate::linalg::log_sum_exp;
use crate::params::MixtureParams;
use crate::samples::check_finite;
use crate::variational::{Posterior, Priors};

const QUERY_BLOCK: usize = 1024;

/// How a fit went.
#[derive(Debug, Clone, PartialEq)]
pub struct FitSummary {
    /// Whether the last change of the lower bound was below `tol`.
    pub converged: bool,
    /// EM iterations of the kept initialisation.
    pub n_iter: usize,
    /// Mean per-sample log-likelihood at the last E-step of the kept initialisation.
    pub lower_bound: f64,
    /// The lower bound at every iteration of the kept initialisation.
    pub lower_bound_history: Vec<f64>,
    /// Number of initialisations tried.
    pub n_init: usize,
    /// Which initialisation was kept (0-based).
    pub best_init: usize,
    /// Where the fit ran.
    pub device: String,
    /// One line per M-step whose GPU statistics (f32) were unusable and were recomputed in
    /// f64 or given a larger ridge; empty when none were.
    pub fallbacks: Vec<String>,
    /// Wall-clock seconds of the fit.
    pub seconds: f64,
}

impl Default for FitSummary {
    fn default() -> Self {
        FitSummary {
            converged: false,
            n_iter: 0,
            lower_bound: f64::NEG_INFINITY,
            lower_bound_history: Vec::new(),
            n_init: 0,
            best_init: 0,
            device: String::new(),
            fallbacks: Vec::new(),
            seconds: 0.0,
        }
    }
}

/// A Gaussian mixture model: parameters plus how they were fitted. Fitted by
/// [`crate::fit()`] (or [`GaussianMixture::fit`]), loaded from a model file, or built from
/// parameters ([`GaussianMixture::from_params`]).
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMixture {
    params: MixtureParams,
    reg_covar: f64,
    summary: FitSummary,
    variational: Option<Box<VariationalFit>>,
}

/// What a variational Bayesian fit adds to a mixture: its priors, its posterior, and the
/// parameters its density queries use.
#[derive(Debug, Clone, PartialEq)]
pub struct VariationalFit {
    /// The priors, resolved (scikit-learn's `*_prior_` attributes).
    pub priors: Priors,
    /// The posterior (`weight_concentration_`, `mean_precision_`, `degrees_of_freedom_`, and
    /// `weights_`, `means_`, `covariances_`).
    pub posterior: Posterior,
    /// The E-step's parameters ([`Posterior::density_params`]), which `score_samples`,
    /// `predict` and `predict_proba` use, as scikit-learn's do.
    density: MixtureParams,
}

impl VariationalFit {
    /// The number of components that hold more than 1 % of the expected weight.
    pub fn effective_components(&self) -> usize {
        self.posterior
            .params
            .weights
            .iter()
            .filter(|&&w| w > 0.01)
            .count()
    }
}

impl GaussianMixture {
    /// A model from given parameters (no fit information).
    pub fn from_params(params: MixtureParams, reg_covar: f64) -> Self {
        Self::from_fit(params, reg_covar, FitSummary::default())
    }

    /// A model from given parameters and how they were fitted.
    pub fn from_fit(params: MixtureParams, reg_covar: f64, summary: FitSummary) -> Self {
        GaussianMixture {
            params,
            reg_covar,
            summary,
            variational: None,
        }
    }

    /// A variational Bayesian mixture from its posterior and priors: `weights_`, `means_` and
    /// `covariances_` are the posterior's, and the density queries use its expected
    /// log-densities (scikit-learn's `BayesianGaussianMixture` semantics).
    pub fn from_variational(
        posterior: Posterior,
        priors: Priors,
        reg_covar: f64,
        summary: FitSummary,
    ) -> Self {
        let density = posterior.density_params();
        GaussianMixture {
            params: posterior.params.clone(),
            reg_covar,
            summary,
            variational: Some(Box::new(VariationalFit {
                priors,
                posterior,
                density,
            })),
        }
    }

    /// The priors and posterior of a variational Bayesian fit; `None` for maximum likelihood.
    pub fn variational(&self) -> Option<&VariationalFit> {
        self.variational.as_deref()
    }

    /// The parameters the density queries (score, predict, predict_proba) evaluate: the
    /// mixture's own, or a variational fit's expected log-densities.
    pub fn density_params(&self) -> &MixtureParams {
        match &self.variational {
            Some(v) => &v.density,
            None => &self.params,
        }
    }

    /// Weights, means, covariances and precision factors.
    pub fn params(&self) -> &MixtureParams {
        &self.params
    }

    /// The ridge `reg_covar` the model was fitted with (added to every covariance).
    pub fn reg_covar(&self) -> f64 {
        self.reg_covar
    }

    /// How the fit went (convergence, iterations, lower bounds, device, time).
    pub fn summary(&self) -> &FitSummary {
        &self.summary
    }

    /// Replaces the fit information (for example with the one a model file records).
    pub fn set_summary(&mut self, summary: FitSummary) {
        self.summary = summary;
    }

    /// The model's parameters, by value.
    pub fn into_params(self) -> MixtureParams {
        self.params
    }

    /// Number of components K.
    pub fn n_components(&self) -> usize {
        self.params.n_components()
    }

    /// Number of features D.
    pub fn n_features(&self) -> usize {
        self.params.n_features()
    }

    /// Covariance type.
    pub fn covariance_type(&self) -> CovarianceType {
        self.params.covariance_type()
    }

    /// Mixing weights.
    pub fn weights(&self) -> &DVector<f64> {
        &self.params.weights
    }

    /// Means, K × D.
    pub fn means(&self) -> &DMatrix<f64> {
        &self.params.means
    }

    /// Covariances in scikit-learn's layout.
    pub fn covariances(&self) -> &Covariances {
        &self.params.covariances
    }

    /// Precision Cholesky factors (`precisions_cholesky_`) and log-determinants.
    pub fn precisions(&self) -> &Precisions {
        &self.params.precisions
    }

    /// Fails unless `x` has the model's number of features and only finite values.
    pub(crate) fn check_data(&self, x: &DMatrix<f64>) -> Result<()> {
        if x.ncols() != self.n_features() {
            return Err(GmmError::DimensionMismatch {
                expected: self.n_features(),
                found: x.ncols(),
            });
        }
        check_finite(x)
    }

    /// Applies `f` to K × n blocks of weighted log-probabilities of the rows of `x`, in parallel,
    /// and gathers the per-block results in order.
    fn map_blocks<T: Send>(
        &self,
        x: &DMatrix<f64>,
        f: impl Fn(DMatrix<f64>) -> T + Sync,
    ) -> Result<Vec<T>> {
        self.check_data(x)?;
        let n = x.nrows();
        let blocks: Vec<usize> = (0..n.div_ceil(QUERY_BLOCK)).collect();
        blocks
            .par_iter()
            .map(|&b| {
                let start = b * QUERY_BLOCK;
                let len = QUERY_BLOCK.min(n - start);
                let xt = x.rows(start, len).transpose();
                weighted_log_prob(self.density_params(), xt.as_view()).map(&f)
            })
            .collect()
    }

    /// `log π_k + log N(x_i | μ_k, Σ_k)`, N × K.
    pub fn weighted_log_prob(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        let blocks = self.map_blocks(x, |b| b)?;
        let mut out = DMatrix::<f64>::zeros(x.nrows(), self.n_components());
        let mut row = 0;
        for b in blocks {
            out.rows_mut(row, b.ncols()).copy_from(&b.transpose());
            row += b.ncols();
        }
        Ok(out)
    }

    /// Log-density `log p(x_i)` of every sample.
    pub fn score_samples(&self, x: &DMatrix<f64>) -> Result<DVector<f64>> {
        let blocks = self.map_blocks(x, |b| {
            b.column_iter()
                .map(|c| log_sum_exp(c.as_slice()))
                .collect::<Vec<_>>()
        })?;
        Ok(DVector::from_iterator(
            x.nrows(),
            blocks.into_iter().flatten(),
        ))
    }

    /// Mean log-density of the samples.
    pub fn score(&self, x: &DMatrix<f64>) -> Result<f64> {
        if x.nrows() == 0 {
            return Err(GmmError::InvalidData("no samples to score".into()));
        }
        Ok(self.score_samples(x)?.mean())
    }

    /// Posterior probability of each component for each sample, N × K.
    pub fn predict_proba(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        let blocks = self.map_blocks(x, |mut b| {
            normalize_in_place(&mut b);
            b
        })?;
        let mut out = DMatrix::<f64>::zeros(x.nrows(), self.n_components());
        let mut row = 0;
        for b in blocks {
            out.rows_mut(row, b.ncols()).copy_from(&b.transpose());
            row += b.ncols();
        }
        Ok(out)
    }

    /// Most probable component of each sample.
    pub fn predict(&self, x: &DMatrix<f64>) -> Result<Vec<usize>> {
        let blocks =
            self.map_blocks(x, |b| b.column_iter().map(|c| c.imax()).collect::<Vec<_>>())?;
        Ok(blocks.into_iter().flatten().collect())
    }

    /// Number of free parameters (scikit-learn's count).
    pub fn n_parameters(&self) -> usize {
        let k = self.n_components();
        let d = self.n_features();
        self.covariance_type().n_cov_parameters(k, d) + k * d + k - 1
    }

    /// Bayesian information criterion on `x` (lower is better).
    pub fn bic(&self, x: &DMatrix<f64>) -> Result<f64> {
        let n = x.nrows() as f64;
        Ok(-2.0 * self.score(x)? * n + self.n_parameters() as f64 * n.ln())
    }

    /// Akaike information criterion on `x` (lower is better).
    pub fn aic(&self, x: &DMatrix<f64>) -> Result<f64> {
        let n = x.nrows() as f64;
        Ok(-2.0 * self.score(x)? * n + 2.0 * self.n_parameters() as f64)
    }

    /// The weighted mean log-likelihood Σ w_i log p(x_i) / Σ w_i, and Σ w_i, of `x` with
    /// sample weights `w` (finite, ≥ 0, not all zero).
    fn weighted_log_likelihood(&self, x: &DMatrix<f64>, w: &[f64]) -> Result<(f64, f64)> {
        crate::samples::weighted_mean(self.score_samples(x)?.as_slice(), w)
    }

    /// [`GaussianMixture::score`] with sample weights: Σ w_i log p(x_i) / Σ w_i, what a
    /// weighted fit's lower bound is.
    pub fn score_weighted(&self, x: &DMatrix<f64>, w: &[f64]) -> Result<f64> {
        Ok(self.weighted_log_likelihood(x, w)?.0)
    }

    /// BIC with sample weights: −2 Σ w_i log p(x_i) + p ln Σ w_i (integer weights give the
    /// BIC of the repeated rows).
    pub fn bic_weighted(&self, x: &DMatrix<f64>, w: &[f64]) -> Result<f64> {
        let (mean, total) = self.weighted_log_likelihood(x, w)?;
        Ok(-2.0 * mean * total + self.n_parameters() as f64 * total.ln())
    }

    /// AIC with sample weights: −2 Σ w_i log p(x_i) + 2p.
    pub fn aic_weighted(&self, x: &DMatrix<f64>, w: &[f64]) -> Result<f64> {
        let (mean, total) = self.weighted_log_likelihood(x, w)?;
        Ok(-2.0 * mean * total + 2.0 * self.n_parameters() as f64)
    }

    /// How many of `n` draws fall on each component (a multinomial draw, by binomial splits).
    fn component_counts(&self, n: usize, rng: &mut impl Rng) -> Vec<usize> {
        let w = &self.params.weights;
        let mut counts = vec![0usize; w.len()];
        let mut left = n as u64;
        let mut mass = 1.0f64;
        for k in 0..w.len() {
            if left == 0 {
                break;
            }
            if k + 1 == w.len() {
                counts[k] = left as usize;
                break;
            }
            let p = (w[k] / mass).clamp(0.0, 1.0);
            let c = Binomial::new(left, p).map(|b| b.sample(rng)).unwrap_or(0);
            counts[k] = c as usize;
            left -= c;
            mass -= w[k];
            if mass <= 0.0 {
                counts[k] += left as usize;
                left = 0;
            }
        }
        counts
    }

    /// Draws `n` samples (N × D) and their component labels, grouped by component as
    /// scikit-learn does. Every draw goes through the stored precision Cholesky factors
    /// (a triangular solve per draw; no factorisation), and components with no draws cost
    /// nothing.
    pub fn sample(&self, n: usize, rng: &mut impl Rng) -> Result<(DMatrix<f64>, Vec<usize>)> {
        let d = self.n_features();
        let counts = self.component_counts(n, rng);
        let mut out = DMatrix::<f64>::zeros(n, d);
        let mut labels = Vec::with_capacity(n);
        let mut row = 0;
        for (k, &count) in counts.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let z = DMatrix::<f64>::from_fn(d, count, |_, _| rng.sample(StandardNormal));
            let draws = self.transform_standard_normal(k, z, rng)?;
            for i in 0..count {
                let mut r = out.row_mut(row + i);
                r.copy_from(&(draws.column(i).transpose() + self.params.means.row(k)));
            }
            labels.extend(std::iter::repeat_n(k, count));
            row += count;
        }
        Ok((out, labels))
    }

    /// Maps standard-normal columns `z` (D × m) to draws of component `k` minus its mean.
    fn transform_standard_normal(
        &self,
        k: usize,
        mut z: DMatrix<f64>,
        rng: &mut impl Rng,
    ) -> Result<DMatrix<f64>> {
        let prec = &self.params.precisions.cholesky;
        match prec {
            Covariances::Full(us) => solve_upper_transpose(&us[k], &mut z),
            Covariances::Tied(u) => solve_upper_transpose(u, &mut z),
            Covariances::Diag(p) => {
                for mut col in z.column_iter_mut() {
                    for j in 0..col.len() {
                        col[j] /= p[(k, j)];
                    }
                }
            }
            Covariances::Spherical(p) => z /= p[k],
            Covariances::LowRank(lr) => return lr.sample_centred(k, z, rng),
        }
        Ok(z)
    }
}

/// `z ← U⁻ᵀ z` (so that `cov(U⁻ᵀ z) = (U Uᵀ)⁻¹ = Σ`): one lower-triangular solve.
fn solve_upper_transpose(u: &DMatrix<f64>, z: &mut DMatrix<f64>) {
    let lower = u.transpose();
    lower.solve_lower_triangular_mut(z);
}
