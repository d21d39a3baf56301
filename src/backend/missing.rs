//! EM with missing values (Ghahramani & Jordan, 1994), as a [`Backend`] driven by the shared
//! EM loop:
//! - E-step: for row `i` with observed part `o` and missing part `m`, the responsibility of
//!   component `k` is `∝ π_k N(x_o | μ_k,o, Σ_k,oo)` (the observed-data likelihood, whose mean
//!   log is the lower bound reported), and the conditional moments are
//!   `x̂_ik = E[x | x_o, k]` (observed values, missing ones from the conditional mean) and
//!   `C_ik = Cov[x_m | x_o, k]` (the Schur complement, zero outside the missing block);
//! - M-step statistics: `N_k = Σ_i r_ik`, `Σ_i r_ik x̂_ik`, and the expected scatter
//!   `Σ_i r_ik ((x̂_ik − μ_k)(x̂_ik − μ_k)ᵀ + C_ik)` about the means, i.e. `E[x xᵀ]` including the
//!   conditional covariance correction; diag, spherical and tied are the usual reductions.
//!
//! Before the first E-step the missing entries are filled with their column means (and no
//! correction): this is also what the k-means initialisation sees.

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

use crate::backend::Backend;
use crate::condition::PatternConditioner;
use crate::covariance::CovarianceType;
use crate::error::{GmmError, Result};
use crate::linalg::log_sum_exp;
use crate::params::MixtureParams;
use crate::patterns::{
    check_no_infinite, group_by_pattern, imputed_with, observed_column_means,
    weighted_observed_column_means, MissingPattern,
};
use crate::stats::{Scatter, SufficientStats};

/// Rows per block of the M-step partial sums (fixed, so the summation order is too).
const M_BLOCK: usize = 512;

/// A [`Backend`] for data with NaN entries: the E-step conditions every row on its observed
/// entries, the M-step uses the expected sufficient statistics.
pub(crate) struct MissingDataBackend {
    /// The data, N × D, NaN where missing.
    x: DMatrix<f64>,
    patterns: Vec<MissingPattern>,
    /// Pattern index of every row.
    pattern_of: Vec<usize>,
    /// Responsibilities, N × K.
    resp: DMatrix<f64>,
    /// Per row: the expected values of its missing entries under each component, K × m_i
    /// stored row-major (component after component) from `offsets[i]`.
    imputed: Vec<f64>,
    offsets: Vec<usize>,
    /// Column means of the observed entries (the starting imputation).
    column_means: DVector<f64>,
    /// Per pattern and component, the conditional covariance of the missing block
    /// (empty until the first E-step: the mean imputation carries no correction).
    cond_covs: Vec<Vec<DMatrix<f64>>>,
    /// Sample weights, if any: the kept responsibilities are multiplied by them.
    weights: Option<std::sync::Arc<DVector<f64>>>,
}

impl MissingDataBackend {
    /// The same backend with sample weights (one per sample, checked by the caller).
    pub fn with_weights(mut self, weights: Option<std::sync::Arc<DVector<f64>>>) -> Result<Self> {
        if weights.is_some() {
            self.column_means = weighted_observed_column_means(&self.x, weights.as_deref())?;
        }
        self.weights = weights;
        Ok(self)
    }

    /// The data with the (weighted) observed column means in place of the missing values:
    /// what the initialisation sees.
    pub fn mean_imputed(&self) -> DMatrix<f64> {
        imputed_with(&self.x, &self.column_means)
    }

    /// Takes the data as N × D with NaN marking missing entries.
    pub fn new(x: &DMatrix<f64>) -> Result<Self> {
        if x.nrows() < 2 || x.ncols() == 0 {
            return Err(GmmError::InvalidData(format!(
                "the data are {} rows × {} columns; give at least two samples with at least one feature",
                x.nrows(),
                x.ncols()
            )));
        }
        check_no_infinite(x)?;
        let column_means = observed_column_means(x)?;
        let patterns = group_by_pattern(x);
        let mut pattern_of = vec![0; x.nrows()];
        for (p, pat) in patterns.iter().enumerate() {
            for &i in &pat.rows {
                pattern_of[i] = p;
            }
        }
        Ok(MissingDataBackend {
            x: x.clone(),
            patterns,
            pattern_of,
            resp: DMatrix::zeros(x.nrows(), 0),
            imputed: Vec::new(),
            offsets: Vec::new(),
            column_means,
            cond_covs: Vec::new(),
            weights: None,
        })
    }

    fn n_components(&self) -> usize {
        self.resp.ncols()
    }

    /// Lays out the per-row imputation storage for `k` components, filled with column means.
    fn reset_imputation(&mut self, k: usize) {
        let mut offsets = Vec::with_capacity(self.x.nrows());
        let mut imputed = Vec::new();
        for i in 0..self.x.nrows() {
            offsets.push(imputed.len());
            let missing = &self.patterns[self.pattern_of[i]].missing;
            for _ in 0..k {
                imputed.extend(missing.iter().map(|&j| self.column_means[j]));
            }
        }
        self.offsets = offsets;
        self.imputed = imputed;
        self.cond_covs.clear();
    }

    /// `x̂_ik`: row `i` with its missing entries filled by component `k`'s expectation.
    fn expected_row(&self, i: usize, k: usize, out: &mut [f64]) {
        let pattern = &self.patterns[self.pattern_of[i]];
        for (j, o) in out.iter_mut().enumerate() {
            *o = self.x[(i, j)];
        }
        let m = pattern.missing.len();
        let base = self.offsets[i] + k * m;
        for (t, &j) in pattern.missing.iter().enumerate() {
            out[j] = self.imputed[base + t];
        }
    }

    /// Σ_i r_ik (x̂_ik − μ_k)(x̂_ik − μ_k)ᵀ + Σ_i r_ik C_ik, or only its diagonal.
    fn expected_scatter(&self, means: &DMatrix<f64>, diagonal_only: bool) -> Vec<DMatrix<f64>> {
        let n = self.x.nrows();
        let d = self.x.ncols();
        let k = self.n_components();
        let blocks: Vec<std::ops::Range<usize>> = (0..n.div_ceil(M_BLOCK))
            .map(|b| b * M_BLOCK..((b + 1) * M_BLOCK).min(n))
            .collect();
        let shape = if diagonal_only { (d, 1) } else { (d, d) };
        let partials: Vec<Vec<DMatrix<f64>>> = blocks
            .par_iter()
            .map(|r| {
                let mut acc = vec![DMatrix::<f64>::zeros(shape.0, shape.1); k];
                let mut row = vec![0.0; d];
                for i in r.clone() {
                    for (c, acc_c) in acc.iter_mut().enumerate() {
                        let w = self.resp[(i, c)];
                        if w == 0.0 {
                            continue;
                        }
                        self.expected_row(i, c, &mut row);
                        for (j, v) in row.iter_mut().enumerate() {
                            *v -= means[(c, j)];
                        }
                        if diagonal_only {
                            for (j, v) in row.iter().enumerate() {
                                acc_c[(j, 0)] += w * v * v;
                            }
                        } else {
                            for b in 0..d {
                                let wb = w * row[b];
                                for a in 0..d {
                                    acc_c[(a, b)] += wb * row[a];
                                }
                            }
                        }
                    }
                }
                acc
            })
            .collect();
        let mut total = vec![DMatrix::<f64>::zeros(shape.0, shape.1); k];
        for p in partials {
            for (t, m) in total.iter_mut().zip(p) {
                *t += m;
            }
        }
        // The conditional covariance correction, once per pattern and component.
        for (p, pattern) in self.patterns.iter().enumerate() {
            let Some(covs) = self.cond_covs.get(p) else {
                continue;
            };
            if pattern.missing.is_empty() {
                continue;
            }
            for (c, cov) in covs.iter().enumerate() {
                let mass: f64 = pattern.rows.iter().map(|&i| self.resp[(i, c)]).sum();
                for (a, &ja) in pattern.missing.iter().enumerate() {
                    if diagonal_only {
                        total[c][(ja, 0)] += mass * cov[(a, a)];
                    } else {
                        for (b, &jb) in pattern.missing.iter().enumerate() {
                            total[c][(ja, jb)] += mass * cov[(a, b)];
                        }
                    }
                }
            }
        }
        if !diagonal_only {
            for t in &mut total {
                let sym = (&*t + t.transpose()) * 0.5;
                *t = sym;
            }
        }
        total
    }
}

/// What the E-step computes for one pattern.
struct PatternResult {
    /// Per row of the pattern: responsibilities (K), imputed values (K × m), log p(x_o).
    rows: Vec<(Vec<f64>, Vec<f64>, f64)>,
    cond_covs: Vec<DMatrix<f64>>,
}

impl Backend for MissingDataBackend {
    fn describe(&self) -> String {
        format!(
            "cpu (f64, {} threads, missing values: {} patterns)",
            rayon::current_num_threads(),
            self.patterns.len()
        )
    }

    fn n_samples(&self) -> usize {
        self.x.nrows()
    }

    fn n_features(&self) -> usize {
        self.x.ncols()
    }

    fn set_responsibilities(&mut self, resp: &DMatrix<f64>) -> Result<()> {
        crate::backend::check_responsibility_rows(resp, self.n_samples())?;
        self.resp = resp.clone();
        crate::backend::weigh_rows(&mut self.resp, self.weights.as_deref());
        self.reset_imputation(resp.ncols());
        Ok(())
    }

    fn e_step(&mut self, params: &MixtureParams) -> Result<f64> {
        let k = params.n_components();
        if self.resp.ncols() != k || self.offsets.is_empty() {
            self.resp = DMatrix::zeros(self.x.nrows(), k);
            self.reset_imputation(k);
        }
        let x = &self.x;
        let results: Vec<PatternResult> = self
            .patterns
            .par_iter()
            .map(|pattern| {
                let cond = PatternConditioner::new(params, &pattern.observed)?;
                let rows = pattern
                    .rows
                    .iter()
                    .map(|&i| {
                        let x_o: Vec<f64> = pattern.observed.iter().map(|&j| x[(i, j)]).collect();
                        let lj = cond.log_joint_observed(&x_o);
                        let log_norm = log_sum_exp(&lj);
                        let resp: Vec<f64> = lj.iter().map(|v| (v - log_norm).exp()).collect();
                        let mut imputed = Vec::with_capacity(k * pattern.missing.len());
                        if !pattern.missing.is_empty() {
                            for c in 0..k {
                                imputed.extend(cond.component_mean(c, &x_o).iter());
                            }
                        }
                        (resp, imputed, log_norm)
                    })
                    .collect();
                let cond_covs = if pattern.missing.is_empty() {
                    Vec::new()
                } else {
                    (0..k).map(|c| cond.component_covariance(c)).collect()
                };
                Ok(PatternResult { rows, cond_covs })
            })
            .collect::<Result<_>>()?;
        let mut log_norms = vec![0.0; self.x.nrows()];
        let mut cond_covs = Vec::with_capacity(results.len());
        for (pattern, result) in self.patterns.iter().zip(results) {
            for (&i, (resp, imputed, log_norm)) in pattern.rows.iter().zip(result.rows) {
                for (c, r) in resp.iter().enumerate() {
                    self.resp[(i, c)] = *r;
                }
                let start = self.offsets[i];
                self.imputed[start..start + imputed.len()].copy_from_slice(&imputed);
                log_norms[i] = log_norm;
            }
            cond_covs.push(result.cond_covs);
        }
        self.cond_covs = cond_covs;
        let w = self.weights.as_deref();
        crate::backend::weigh_rows(&mut self.resp, w);
        Ok(crate::backend::weighted_sum(&log_norms, w, 0))
    }

    fn m_step_stats(&mut self, covariance_type: CovarianceType) -> Result<SufficientStats> {
        let k = self.n_components();
        let d = self.n_features();
        if k == 0 {
            return Err(GmmError::InvalidData(
                "no responsibilities yet: set them or run an E-step before the M-step".into(),
            ));
        }
        let mut nk = DVector::zeros(k);
        let mut sum_x = DMatrix::<f64>::zeros(k, d);
        let mut row = vec![0.0; d];
        for i in 0..self.x.nrows() {
            for c in 0..k {
                let w = self.resp[(i, c)];
                if w == 0.0 {
                    continue;
                }
                nk[c] += w;
                self.expected_row(i, c, &mut row);
                for (j, v) in row.iter().enumerate() {
                    sum_x[(c, j)] += w * v;
                }
            }
        }
        let mut stats = SufficientStats {
            covariance_type,
            n_samples: self.n_samples(),
            shift: DMatrix::zeros(k, d),
            nk,
            sum_x,
            scatter: Scatter::Diag(DMatrix::zeros(0, 0)),
            log_likelihood: None,
        };
        // The expected scatter about the means themselves (no correction in the M-step).
        let means = stats.means();
        stats.scatter = match covariance_type {
            CovarianceType::Full | CovarianceType::Tied => {
                Scatter::Full(self.expected_scatter(&means, false))
            }
            CovarianceType::Diag | CovarianceType::Spherical => {
                let s = self.expected_scatter(&means, true);
                Scatter::Diag(DMatrix::from_fn(k, d, |c, j| s[c][(j, 0)]))
            }
        };
        stats.shift = means;
        Ok(stats)
    }

    fn responsibilities(&self) -> Result<DMatrix<f64>> {
        Ok(self.resp.clone())
    }

    fn sample_weights(&self) -> Option<&DVector<f64>> {
        self.weights.as_deref()
    }
}
