//! [`ConditionalMixture`]: the mixture over the missing coordinates given observed values, and
//! its queries (mean, covariance, variance, density, CDF, quantiles, intervals, samples, affine
//! maps).

use nalgebra::{Cholesky, DMatrix, DVector};
use rand::Rng;
use rand_distr::StandardNormal;

use super::normal::normal_cdf;
use crate::error::{GmmError, Result};
use crate::linalg::{log_sum_exp, LN_2PI};

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

/// Index drawn with probabilities `w` (which sum to one).
pub(super) fn pick_component(w: &[f64], rng: &mut impl Rng) -> usize {
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
pub(super) fn correlated(
    cov: &DMatrix<f64>,
    z: &DVector<f64>,
    component: usize,
) -> Result<DVector<f64>> {
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
