//! [`PatternConditioner`]: the work of conditioning a mixture on one set of observed
//! coordinates, done once for every sample that shares it.

use nalgebra::{Cholesky, DMatrix, DVector, Dyn};
use rand::Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

use super::mixture::{correlated, pick_component, ConditionalMixture};
use crate::covariance::Covariances;
use crate::error::{GmmError, Result};
use crate::linalg::{log_sum_exp, LN_2PI};
use crate::lowrank::condition::LowRankPart;
use crate::params::MixtureParams;

/// The per-component pieces of a conditional that depend only on the observed set.
#[derive(Debug, Clone)]
enum ComponentPart {
    /// A general covariance (full, or the shared tied matrix).
    Dense {
        /// Cholesky factor of `Σ_oo` (absent when nothing is observed).
        chol_oo: Option<Cholesky<f64, Dyn>>,
        /// `log det Σ_oo`.
        log_det_oo: f64,
        /// `Σ_mo Σ_oo⁻¹`, M × O.
        gain: DMatrix<f64>,
        /// `Σ_mm − Σ_mo Σ_oo⁻¹ Σ_om`, M × M.
        cond_cov: DMatrix<f64>,
    },
    /// A low-rank full covariance `Σ = A Aᵀ + λ I`, conditioned through S × S algebra only.
    LowRank(LowRankPart),
    /// A diagonal covariance: coordinates are independent within the component.
    Diagonal {
        /// `1 / σ_j` of the observed coordinates.
        inv_sd_o: Vec<f64>,
        /// `log det Σ_oo`.
        log_det_oo: f64,
        /// `σ_j²` of the missing coordinates.
        var_m: Vec<f64>,
    },
}

/// Conditioning of one mixture on one set of observed coordinates.
#[derive(Debug, Clone)]
pub struct PatternConditioner {
    observed: Vec<usize>,
    missing: Vec<usize>,
    log_weights: Vec<f64>,
    /// Means of the observed coordinates per component, K × O.
    means_o: DMatrix<f64>,
    /// Means of the missing coordinates per component, K × M.
    means_m: DMatrix<f64>,
    /// One part per component, or one shared part (tied).
    parts: Vec<ComponentPart>,
    shared: bool,
}

fn select(m: &DMatrix<f64>, rows: &[usize], cols: &[usize]) -> DMatrix<f64> {
    DMatrix::from_fn(rows.len(), cols.len(), |i, j| m[(rows[i], cols[j])])
}

fn dense_part(
    cov: &DMatrix<f64>,
    observed: &[usize],
    missing: &[usize],
    component: usize,
) -> Result<ComponentPart> {
    let s_mm = select(cov, missing, missing);
    if observed.is_empty() {
        return Ok(ComponentPart::Dense {
            chol_oo: None,
            log_det_oo: 0.0,
            gain: DMatrix::zeros(missing.len(), 0),
            cond_cov: s_mm,
        });
    }
    let s_oo = select(cov, observed, observed);
    let chol = Cholesky::new(s_oo).ok_or_else(|| GmmError::NotPositiveDefinite {
        component,
        reg_covar: 0.0,
        detail: "the covariance of the observed coordinates has no Cholesky factor".into(),
    })?;
    let log_det_oo = 2.0
        * chol
            .l_dirty()
            .diagonal()
            .iter()
            .map(|v| v.ln())
            .sum::<f64>();
    if !log_det_oo.is_finite() {
        return Err(GmmError::NotPositiveDefinite {
            component,
            reg_covar: 0.0,
            detail: "the covariance of the observed coordinates is singular".into(),
        });
    }
    let s_om = select(cov, observed, missing);
    // Σ_oo X = Σ_om  ⇒  X = Σ_oo⁻¹ Σ_om, gain = Xᵀ.
    let gain = chol.solve(&s_om).transpose();
    let mut cond_cov = s_mm - &gain * &s_om;
    let sym = (&cond_cov + cond_cov.transpose()) * 0.5;
    cond_cov = sym;
    Ok(ComponentPart::Dense {
        chol_oo: Some(chol),
        log_det_oo,
        gain,
        cond_cov,
    })
}

fn diagonal_part(variances: &[f64], observed: &[usize], missing: &[usize]) -> ComponentPart {
    let log_det_oo = observed.iter().map(|&j| variances[j].ln()).sum();
    ComponentPart::Diagonal {
        inv_sd_o: observed
            .iter()
            .map(|&j| 1.0 / variances[j].sqrt())
            .collect(),
        log_det_oo,
        var_m: missing.iter().map(|&j| variances[j]).collect(),
    }
}

impl PatternConditioner {
    /// Prepares conditioning of `params` on the coordinates `observed` (0-based, any order;
    /// the missing coordinates are the others, in increasing order).
    pub fn new(params: &MixtureParams, observed: &[usize]) -> Result<Self> {
        let d = params.n_features();
        let k = params.n_components();
        let mut seen = vec![false; d];
        for &j in observed {
            if j >= d {
                return Err(GmmError::param(
                    "observed",
                    j,
                    format!("the model has {d} coordinates (0..{d}); name observed coordinates in that range"),
                ));
            }
            if seen[j] {
                return Err(GmmError::param(
                    "observed",
                    j,
                    "each observed coordinate may be named only once",
                ));
            }
            seen[j] = true;
        }
        let missing: Vec<usize> = (0..d).filter(|&j| !seen[j]).collect();
        let observed = observed.to_vec();
        let (parts, shared) = match &params.covariances {
            Covariances::Full(covs) => (
                covs.iter()
                    .enumerate()
                    .map(|(c, cov)| dense_part(cov, &observed, &missing, c))
                    .collect::<Result<Vec<_>>>()?,
                false,
            ),
            Covariances::Tied(cov) => (vec![dense_part(cov, &observed, &missing, 0)?], true),
            Covariances::Diag(v) => (
                (0..k)
                    .map(|c| {
                        let row: Vec<f64> = v.row(c).iter().copied().collect();
                        diagonal_part(&row, &observed, &missing)
                    })
                    .collect(),
                false,
            ),
            Covariances::Spherical(v) => (
                (0..k)
                    .map(|c| diagonal_part(&vec![v[c]; d], &observed, &missing))
                    .collect(),
                false,
            ),
            Covariances::LowRank(lr) => {
                // The precision side carries the N × N factors already computed.
                let factored = match &params.precisions.cholesky {
                    Covariances::LowRank(p) => p,
                    _ => lr,
                };
                (
                    LowRankPart::for_pattern(factored, &observed, &missing)?
                        .into_iter()
                        .map(ComponentPart::LowRank)
                        .collect(),
                    false,
                )
            }
        };
        let means_o = DMatrix::from_fn(k, observed.len(), |c, j| params.means[(c, observed[j])]);
        let means_m = DMatrix::from_fn(k, missing.len(), |c, j| params.means[(c, missing[j])]);
        Ok(PatternConditioner {
            observed,
            missing,
            log_weights: params.weights.iter().map(|w| w.ln()).collect(),
            means_o,
            means_m,
            parts,
            shared,
        })
    }

    /// The observed coordinates, in the order their values are expected.
    pub fn observed(&self) -> &[usize] {
        &self.observed
    }

    /// The missing coordinates (increasing), in the order of the conditional's coordinates.
    pub fn missing(&self) -> &[usize] {
        &self.missing
    }

    /// Number of components K.
    pub fn n_components(&self) -> usize {
        self.log_weights.len()
    }

    fn part(&self, k: usize) -> &ComponentPart {
        if self.shared {
            &self.parts[0]
        } else {
            &self.parts[k]
        }
    }

    fn check_observed(&self, x_o: &[f64]) -> Result<()> {
        if x_o.len() != self.observed.len() {
            return Err(GmmError::InvalidData(format!(
                "{} observed values given for {} observed coordinates; give one value per observed coordinate",
                x_o.len(),
                self.observed.len()
            )));
        }
        if let Some(i) = x_o.iter().position(|v| !v.is_finite()) {
            return Err(GmmError::InvalidData(format!(
                "observed value {i} (coordinate {}) is {}; observed values must be finite",
                self.observed[i], x_o[i]
            )));
        }
        Ok(())
    }

    /// `log π_k + log N(x_o | μ_k,o, Σ_k,oo)` for every component: the joint log-density of
    /// component and observed values, with the missing coordinates integrated out.
    pub fn log_joint_observed(&self, x_o: &[f64]) -> Vec<f64> {
        let o = self.observed.len();
        (0..self.n_components())
            .map(|k| {
                let diff = DVector::from_fn(o, |j, _| x_o[j] - self.means_o[(k, j)]);
                let (maha, log_det) = match self.part(k) {
                    ComponentPart::Dense {
                        chol_oo,
                        log_det_oo,
                        ..
                    } => match chol_oo {
                        None => (0.0, 0.0),
                        Some(ch) => {
                            let mut y = diff;
                            ch.l_dirty().solve_lower_triangular_mut(&mut y);
                            (y.norm_squared(), *log_det_oo)
                        }
                    },
                    ComponentPart::LowRank(p) => p.mahalanobis_and_log_det(&diff),
                    ComponentPart::Diagonal {
                        inv_sd_o,
                        log_det_oo,
                        ..
                    } => (
                        diff.iter()
                            .zip(inv_sd_o)
                            .map(|(t, p)| (t * p) * (t * p))
                            .sum(),
                        *log_det_oo,
                    ),
                };
                self.log_weights[k] - 0.5 * (o as f64 * LN_2PI + log_det + maha)
            })
            .collect()
    }

    /// The posterior component weights given `x_o` and `log p(x_o)`.
    pub fn weights(&self, x_o: &[f64]) -> Result<(DVector<f64>, f64)> {
        self.check_observed(x_o)?;
        let lj = self.log_joint_observed(x_o);
        let log_marginal = log_sum_exp(&lj);
        if !log_marginal.is_finite() {
            return Err(GmmError::InvalidData(format!(
                "the observed values have zero density under every component (log p = {log_marginal}); they are far outside the data the model was fitted on"
            )));
        }
        let w = DVector::from_iterator(lj.len(), lj.iter().map(|v| (v - log_marginal).exp()));
        Ok((w, log_marginal))
    }

    /// The conditional mean of the missing coordinates under component `k` (M values).
    pub fn component_mean(&self, k: usize, x_o: &[f64]) -> DVector<f64> {
        let mut mean: DVector<f64> = self.means_m.row(k).transpose();
        if self.observed.is_empty() {
            return mean;
        }
        let diff = DVector::from_fn(x_o.len(), |j, _| x_o[j] - self.means_o[(k, j)]);
        match self.part(k) {
            ComponentPart::Dense { gain, .. } => mean += gain * diff,
            ComponentPart::LowRank(p) => mean += p.mean_shift(&diff),
            ComponentPart::Diagonal { .. } => {}
        }
        mean
    }

    /// The conditional covariance of the missing coordinates under component `k` (M × M).
    pub fn component_covariance(&self, k: usize) -> DMatrix<f64> {
        match self.part(k) {
            ComponentPart::Dense { cond_cov, .. } => cond_cov.clone(),
            ComponentPart::LowRank(p) => p.covariance(),
            ComponentPart::Diagonal { var_m, .. } => {
                DMatrix::from_diagonal(&DVector::from_column_slice(var_m))
            }
        }
    }

    /// The full conditional mixture of the missing coordinates given `x_o`.
    pub fn condition(&self, x_o: &[f64]) -> Result<ConditionalMixture> {
        let (weights, log_marginal) = self.weights(x_o)?;
        let k = self.n_components();
        let m = self.missing.len();
        let mut means = DMatrix::zeros(k, m);
        for c in 0..k {
            means
                .row_mut(c)
                .copy_from(&self.component_mean(c, x_o).transpose());
        }
        let covariances = (0..k).map(|c| self.component_covariance(c)).collect();
        Ok(ConditionalMixture {
            weights,
            means,
            covariances,
            log_marginal,
        })
    }

    /// Conditions many samples sharing this observed set: `x_o` is n × O, one sample per row
    /// (in the order of [`PatternConditioner::observed`]); the factorisations are shared.
    pub fn condition_rows(&self, x_o: &DMatrix<f64>) -> Result<Vec<ConditionalMixture>> {
        if x_o.ncols() != self.observed.len() {
            return Err(GmmError::DimensionMismatch {
                expected: self.observed.len(),
                found: x_o.ncols(),
            });
        }
        (0..x_o.nrows())
            .into_par_iter()
            .map(|i| {
                let row: Vec<f64> = x_o.row(i).iter().copied().collect();
                self.condition(&row)
                    .map_err(|e| GmmError::InvalidData(format!("row {i} (0-based): {e}")))
            })
            .collect()
    }

    /// The conditional mean `E[x_m | x_o]` (M values), without building the full mixture.
    pub fn conditional_mean(&self, x_o: &[f64]) -> Result<DVector<f64>> {
        let (w, _) = self.weights(x_o)?;
        let mut mean = DVector::zeros(self.missing.len());
        for (k, &wk) in w.iter().enumerate() {
            if wk > 0.0 {
                mean.axpy(wk, &self.component_mean(k, x_o), 1.0);
            }
        }
        Ok(mean)
    }

    /// One draw of `x_m` from the conditional mixture given `x_o`.
    pub fn draw(&self, x_o: &[f64], rng: &mut impl Rng) -> Result<DVector<f64>> {
        let (w, _) = self.weights(x_o)?;
        let k = pick_component(w.as_slice(), rng);
        let mean = self.component_mean(k, x_o);
        let m = mean.len();
        let z = DVector::from_fn(m, |_, _| rng.sample::<f64, _>(StandardNormal));
        let noise = match self.part(k) {
            ComponentPart::Dense { cond_cov, .. } => correlated(cond_cov, &z, k)?,
            ComponentPart::LowRank(p) => p.noise(z, rng),
            ComponentPart::Diagonal { var_m, .. } => {
                DVector::from_fn(m, |j, _| z[j] * var_m[j].sqrt())
            }
        };
        Ok(mean + noise)
    }
}
