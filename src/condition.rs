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

use nalgebra::{Cholesky, DMatrix, DVector, Dyn};
use rand::Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

use crate::covariance::Covariances;
use crate::error::{GmmError, Result};
use crate::linalg::log_sum_exp;
use crate::lowrank::LowRankCovariances;
use crate::params::MixtureParams;

const LN_2PI: f64 = 1.837_877_066_409_345_5;

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
    /// A low-rank full covariance `Σ = A Aᵀ + λ I` (`A`: D × S, the component's scaled,
    /// centred training samples), conditioned through S × S algebra only:
    /// `H = λ I + A_oᵀ A_o = L Lᵀ`, `Σ_oo⁻¹ = (I − A_o H⁻¹ A_oᵀ) / λ`, gain
    /// `Σ_mo Σ_oo⁻¹ = A_m H⁻¹ A_oᵀ`, and conditional covariance `λ (I + F Fᵀ)` with
    /// `F = A_m L⁻ᵀ` — again low rank plus ridge, never an O × O or M × M matrix.
    LowRank {
        /// `A_o`, O × S.
        a_o: DMatrix<f64>,
        /// Lower Cholesky factor `L` of `H`, S × S.
        chol_h: DMatrix<f64>,
        /// `F = A_m L⁻ᵀ`, M × S.
        cond_factor: DMatrix<f64>,
        /// `log det Σ_oo = (O − S) log λ + 2 Σ log L_jj`.
        log_det_oo: f64,
        /// λ.
        reg_covar: f64,
    },
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

fn low_rank_parts(
    lr: &LowRankCovariances,
    observed: &[usize],
    missing: &[usize],
) -> Result<Vec<ComponentPart>> {
    let factors = lr.factors()?;
    let samples = lr.training().samples(); // D × N, centred
    let reg_covar = lr.reg_covar();
    factors
        .par_iter()
        .enumerate()
        .map(|(k, f)| {
            let mu = lr.centred_means.column(k);
            let s = f.n_active();
            let a =
                |row: usize, col: usize| f.scale[col] * (samples[(row, f.active[col])] - mu[row]);
            let a_o = DMatrix::from_fn(observed.len(), s, |i, c| a(observed[i], c));
            let a_m = DMatrix::from_fn(missing.len(), s, |i, c| a(missing[i], c));
            let mut h = a_o.tr_mul(&a_o);
            for j in 0..s {
                h[(j, j)] += reg_covar;
            }
            let not_pd = || GmmError::NotPositiveDefinite {
                component: k,
                reg_covar,
                detail: "the S × S factorisation of the observed coordinates' covariance failed"
                    .into(),
            };
            let chol_h = Cholesky::new(h).ok_or_else(not_pd)?.unpack();
            let sum_log: f64 = chol_h.diagonal().iter().map(|v| v.ln()).sum();
            let log_det_oo = (observed.len() as f64 - s as f64) * reg_covar.ln() + 2.0 * sum_log;
            if !log_det_oo.is_finite() {
                return Err(not_pd());
            }
            // Fᵀ = L⁻¹ A_mᵀ.
            let mut ft = a_m.transpose();
            if !chol_h.solve_lower_triangular_mut(&mut ft) {
                return Err(not_pd());
            }
            Ok(ComponentPart::LowRank {
                a_o,
                chol_h,
                cond_factor: ft.transpose(),
                log_det_oo,
                reg_covar,
            })
        })
        .collect()
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
                (low_rank_parts(factored, &observed, &missing)?, false)
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
                    ComponentPart::LowRank {
                        a_o,
                        chol_h,
                        log_det_oo,
                        reg_covar,
                        ..
                    } => {
                        // Woodbury: vᵀ Σ_oo⁻¹ v = (‖v‖² − ‖L⁻¹ A_oᵀ v‖²) / λ.
                        let y = low_rank_projection(a_o, chol_h, &diff);
                        let maha = ((diff.norm_squared() - y.norm_squared()) / reg_covar).max(0.0);
                        (maha, *log_det_oo)
                    }
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
            // Σ_mo Σ_oo⁻¹ v = A_m H⁻¹ A_oᵀ v = F L⁻¹ A_oᵀ v.
            ComponentPart::LowRank {
                a_o,
                chol_h,
                cond_factor,
                ..
            } => mean += cond_factor * low_rank_projection(a_o, chol_h, &diff),
            ComponentPart::Diagonal { .. } => {}
        }
        mean
    }

    /// The conditional covariance of the missing coordinates under component `k` (M × M).
    pub fn component_covariance(&self, k: usize) -> DMatrix<f64> {
        match self.part(k) {
            ComponentPart::Dense { cond_cov, .. } => cond_cov.clone(),
            ComponentPart::LowRank {
                cond_factor,
                reg_covar,
                ..
            } => {
                let mut c = cond_factor * cond_factor.transpose();
                for j in 0..c.nrows() {
                    c[(j, j)] += 1.0;
                }
                c * *reg_covar
            }
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
            // λ (I + F Fᵀ) = (√λ [I F]) (√λ [I F])ᵀ: no M × M factorisation.
            ComponentPart::LowRank {
                cond_factor,
                reg_covar,
                ..
            } => {
                let zs = DVector::from_fn(cond_factor.ncols(), |_, _| {
                    rng.sample::<f64, _>(StandardNormal)
                });
                (z + cond_factor * zs) * reg_covar.sqrt()
            }
            ComponentPart::Diagonal { var_m, .. } => {
                DVector::from_fn(m, |j, _| z[j] * var_m[j].sqrt())
            }
        };
        Ok(mean + noise)
    }
}

/// `L⁻¹ A_oᵀ v` (S values).
fn low_rank_projection(
    a_o: &DMatrix<f64>,
    chol_h: &DMatrix<f64>,
    v: &DVector<f64>,
) -> DVector<f64> {
    let mut y = a_o.tr_mul(v);
    chol_h.solve_lower_triangular_unchecked_mut(&mut y);
    y
}

/// Index drawn with probabilities `w` (which sum to one).
fn pick_component(w: &[f64], rng: &mut impl Rng) -> usize {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for (k, &wk) in w.iter().enumerate() {
        acc += wk;
        if u < acc {
            return k;
        }
    }
    w.iter().rposition(|&v| v > 0.0).unwrap_or(0)
}

/// `L z` with `L Lᵀ = cov` (a tiny jitter is added if the Schur complement is numerically
/// semi-definite, e.g. when a missing coordinate is a deterministic function of observed ones).
fn correlated(cov: &DMatrix<f64>, z: &DVector<f64>, component: usize) -> Result<DVector<f64>> {
    if cov.nrows() == 0 {
        return Ok(DVector::zeros(0));
    }
    let scale = cov.diagonal().amax().max(f64::MIN_POSITIVE);
    for jitter in [0.0, 1e-12, 1e-10, 1e-8] {
        let mut c = cov.clone();
        for i in 0..c.nrows() {
            c[(i, i)] += jitter * scale;
        }
        if let Some(ch) = Cholesky::new(c) {
            return Ok(ch.l() * z);
        }
    }
    Err(GmmError::NotPositiveDefinite {
        component,
        reg_covar: 0.0,
        detail: "the conditional covariance is not positive semi-definite".into(),
    })
}

/// A Gaussian mixture over the missing coordinates, given observed values.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionalMixture {
    /// Posterior component weights (sum to one).
    pub weights: DVector<f64>,
    /// Conditional means per component, K × M.
    pub means: DMatrix<f64>,
    /// Conditional covariances per component, each M × M.
    pub covariances: Vec<DMatrix<f64>>,
    /// `log p(x_o)`: the marginal log-density of the observed values.
    pub log_marginal: f64,
}

impl ConditionalMixture {
    /// Number of coordinates M.
    pub fn dim(&self) -> usize {
        self.means.ncols()
    }

    /// The mean `Σ_k w_k μ_k` (the point forecast / imputation).
    pub fn mean(&self) -> DVector<f64> {
        (self.means.transpose() * &self.weights).column(0).into()
    }

    /// The covariance by the law of total variance: `Σ_k w_k (C_k + μ_k μ_kᵀ) − μ μᵀ`.
    pub fn covariance(&self) -> DMatrix<f64> {
        let mean = self.mean();
        let m = self.dim();
        let mut cov = DMatrix::zeros(m, m);
        for (k, &w) in self.weights.iter().enumerate() {
            let d: DVector<f64> = self.means.row(k).transpose() - &mean;
            cov += (&self.covariances[k] + &d * d.transpose()) * w;
        }
        cov
    }

    /// Per-coordinate variance (the diagonal of [`ConditionalMixture::covariance`]).
    pub fn variance(&self) -> DVector<f64> {
        let mean = self.mean();
        DVector::from_fn(self.dim(), |j, _| {
            self.weights
                .iter()
                .enumerate()
                .map(|(k, &w)| {
                    let d = self.means[(k, j)] - mean[j];
                    w * (self.covariances[k][(j, j)] + d * d)
                })
                .sum::<f64>()
        })
    }

    /// Density of the conditional mixture at `x_m`, in log space.
    pub fn log_density(&self, x_m: &[f64]) -> Result<f64> {
        let m = self.dim();
        if x_m.len() != m {
            return Err(GmmError::DimensionMismatch {
                expected: m,
                found: x_m.len(),
            });
        }
        let mut terms = Vec::with_capacity(self.weights.len());
        for (k, &w) in self.weights.iter().enumerate() {
            if w <= 0.0 {
                continue;
            }
            let ch = Cholesky::new(self.covariances[k].clone()).ok_or_else(|| {
                GmmError::NotPositiveDefinite {
                    component: k,
                    reg_covar: 0.0,
                    detail: "the conditional covariance is singular; it has no density".into(),
                }
            })?;
            let mut y = DVector::from_fn(m, |j, _| x_m[j] - self.means[(k, j)]);
            ch.l_dirty().solve_lower_triangular_mut(&mut y);
            let log_det: f64 = 2.0 * ch.l_dirty().diagonal().iter().map(|v| v.ln()).sum::<f64>();
            terms.push(w.ln() - 0.5 * (m as f64 * LN_2PI + log_det + y.norm_squared()));
        }
        Ok(log_sum_exp(&terms))
    }

    /// `P(X_j ≤ t)` for coordinate `j`: a one-dimensional mixture of normal CDFs.
    pub fn cdf(&self, j: usize, t: f64) -> f64 {
        self.weights
            .iter()
            .enumerate()
            .map(|(k, &w)| {
                let sd = self.covariances[k][(j, j)].max(0.0).sqrt();
                let mu = self.means[(k, j)];
                let p = if sd > 0.0 {
                    normal_cdf((t - mu) / sd)
                } else if t >= mu {
                    1.0
                } else {
                    0.0
                };
                w * p
            })
            .sum()
    }

    /// The `p`-quantile of coordinate `j`, by bisection on the mixture CDF (to 1e-12 of the
    /// narrowest component's standard deviation).
    pub fn quantile(&self, j: usize, p: f64) -> Result<f64> {
        if !(p > 0.0 && p < 1.0) {
            return Err(GmmError::param(
                "quantile",
                p,
                "give a probability strictly between 0 and 1",
            ));
        }
        if j >= self.dim() {
            return Err(GmmError::param(
                "coordinate",
                j,
                format!("the conditional has {} coordinates", self.dim()),
            ));
        }
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        let mut min_sd = f64::INFINITY;
        for k in 0..self.weights.len() {
            let sd = self.covariances[k][(j, j)].max(0.0).sqrt();
            let mu = self.means[(k, j)];
            lo = lo.min(mu - 40.0 * sd);
            hi = hi.max(mu + 40.0 * sd);
            if self.weights[k] > 0.0 && sd > 0.0 {
                min_sd = min_sd.min(sd);
            }
        }
        if lo == hi {
            return Ok(lo);
        }
        // Bisect until the bracket is far below the narrowest component's spread.
        let tol = 1e-12 * min_sd.min(hi - lo);
        for _ in 0..200 {
            if hi - lo <= tol {
                break;
            }
            let mid = 0.5 * (lo + hi);
            if mid <= lo || mid >= hi {
                break;
            }
            if self.cdf(j, mid) < p {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Ok(0.5 * (lo + hi))
    }

    /// Central interval of probability `level` (e.g. 0.9) for every coordinate:
    /// the `(1 − level)/2` and `(1 + level)/2` quantiles.
    pub fn interval(&self, level: f64) -> Result<(DVector<f64>, DVector<f64>)> {
        if !(level > 0.0 && level < 1.0) {
            return Err(GmmError::param(
                "level",
                level,
                "give an interval probability strictly between 0 and 1, e.g. 0.9",
            ));
        }
        let m = self.dim();
        let mut lower = DVector::zeros(m);
        let mut upper = DVector::zeros(m);
        for j in 0..m {
            lower[j] = self.quantile(j, 0.5 * (1.0 - level))?;
            upper[j] = self.quantile(j, 0.5 * (1.0 + level))?;
        }
        Ok((lower, upper))
    }

    /// `n` draws, one per row (n × M).
    pub fn sample(&self, n: usize, rng: &mut impl Rng) -> Result<DMatrix<f64>> {
        let m = self.dim();
        let mut out = DMatrix::zeros(n, m);
        for i in 0..n {
            let k = pick_component(self.weights.as_slice(), rng);
            let z = DVector::from_fn(m, |_, _| rng.sample::<f64, _>(StandardNormal));
            let x = self.means.row(k).transpose() + correlated(&self.covariances[k], &z, k)?;
            out.row_mut(i).copy_from(&x.transpose());
        }
        Ok(out)
    }

    /// The distribution of `offset + map · x_m`: each component's mean and covariance are
    /// mapped, the weights are unchanged (e.g. undoing a scaling, or summing differences).
    pub fn affine(&self, offset: &DVector<f64>, map: &DMatrix<f64>) -> Result<ConditionalMixture> {
        if map.ncols() != self.dim() || offset.len() != map.nrows() {
            return Err(GmmError::InvalidData(format!(
                "affine map of shape {} × {} with offset of {} entries does not fit a {}-dimensional conditional",
                map.nrows(),
                map.ncols(),
                offset.len(),
                self.dim()
            )));
        }
        let means = (&self.means * map.transpose()).map_with_location(|_, j, v| v + offset[j]);
        let covariances = self
            .covariances
            .iter()
            .map(|c| {
                let mc = map * c * map.transpose();
                (&mc + mc.transpose()) * 0.5
            })
            .collect();
        Ok(ConditionalMixture {
            weights: self.weights.clone(),
            means,
            covariances,
            log_marginal: self.log_marginal,
        })
    }
}

/// Conditions `params` on the values `x_o` of the coordinates `observed`; the result is over
/// the other coordinates in increasing order.
pub fn condition(
    params: &MixtureParams,
    observed: &[usize],
    x_o: &[f64],
) -> Result<ConditionalMixture> {
    PatternConditioner::new(params, observed)?.condition(x_o)
}

/// The standard normal CDF `Φ(x)`, accurate to about 1e-14 relative in both tails.
pub fn normal_cdf(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    let t = x / std::f64::consts::SQRT_2;
    if t < 0.0 {
        0.5 * erfc_nonneg(-t)
    } else {
        1.0 - 0.5 * erfc_nonneg(t)
    }
}

/// `erfc(t)` for `t ≥ 0`: a positive series for small `t`, a continued fraction beyond.
fn erfc_nonneg(t: f64) -> f64 {
    const FRAC_2_SQRT_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI;
    if t < 1.5 {
        // erf(t) = 2/√π · e^{−t²} · Σ_n 2ⁿ t^{2n+1} / (1·3·…·(2n+1)); all terms positive.
        let mut term = t;
        let mut sum = t;
        let t2 = t * t;
        let mut n = 0.0;
        while term > sum * 1e-17 {
            n += 1.0;
            term *= 2.0 * t2 / (2.0 * n + 1.0);
            sum += term;
        }
        1.0 - FRAC_2_SQRT_PI * (-t2).exp() * sum
    } else {
        if t > 27.3 {
            return 0.0;
        }
        // erfc(t) = e^{−t²}/√π · 1/(t + (1/2)/(t + 1/(t + (3/2)/(t + 2/(t + …))))),
        // evaluated from the tail; the depth that reaches full precision shrinks fast with t.
        let levels = if t < 2.0 {
            100
        } else if t < 3.0 {
            55
        } else if t < 4.0 {
            32
        } else {
            22
        };
        let mut f = t;
        for n in (1..=levels).rev() {
            f = t + (n as f64 * 0.5) / f;
        }
        (-t * t).exp() / (f * std::f64::consts::PI.sqrt())
    }
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
