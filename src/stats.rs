//! Sufficient statistics of one EM iteration over a set of samples: what every backend (CPU,
//! GPU, low-rank, missing values, and any chunk of rows) supplies to the EM loop, what merges
//! across chunks, shards and machines, and what the M-step turns into parameters.
//!
//! For responsibilities `r_ik` over the rows covered:
//! - `nk[k] = Σ_i r_ik`;
//! - `sum_x[k] = Σ_i r_ik x_i`;
//! - the scatter `S_k = Σ_i r_ik (x_i − m_k)(x_i − m_k)ᵀ` about a stated shift `m_k` (its
//!   diagonal for diag and spherical covariances);
//! - `log_likelihood = Σ_i log p(x_i)` under the parameters of the E-step that gave `r`.
//!
//! A scatter about one shift becomes the scatter about another exactly (the parallel-axis
//! identity `S_m' = S_m + d cᵀ + c dᵀ + N d dᵀ`, with `d = m − m'` and `c = Σ r (x − m)`), so
//! statistics computed with different shifts — each chunk centred on its own means, say —
//! merge without loss of accuracy; a shift close to the means keeps f64 from cancelling.

use nalgebra::{DMatrix, DVector};

use crate::covariance::{CovarianceType, Covariances};
use crate::error::{GmmError, Result};
use crate::params::{MixtureParams, NK_EPS};

/// The second-moment part of [`SufficientStats`].
#[derive(Debug, Clone, PartialEq)]
pub enum Scatter {
    /// Per component, the D × D scatter about the shift (full and tied covariances).
    Full(Vec<DMatrix<f64>>),
    /// Per component, the diagonal of the scatter about the shift, K × D (diag, spherical).
    Diag(DMatrix<f64>),
    /// The exact low-rank path's M-step covariances (which keep per-sample weights, not sums):
    /// they do not merge with other statistics.
    LowRank(Covariances),
}

/// Sufficient statistics of a set of samples under given responsibilities; see the module
/// documentation. Computed by [`crate::Engine`] for any rows on any device, combined with
/// [`SufficientStats::merge`], and turned into parameters by [`SufficientStats::to_params`].
#[derive(Debug, Clone, PartialEq)]
pub struct SufficientStats {
    /// The covariance type the scatter serves.
    pub covariance_type: CovarianceType,
    /// How many samples (rows) the statistics cover.
    pub n_samples: usize,
    /// `Σ_i r_ik`, K.
    pub nk: DVector<f64>,
    /// `Σ_i r_ik x_i`, K × D.
    pub sum_x: DMatrix<f64>,
    /// The shift `m_k` of each component's scatter, K × D.
    pub shift: DMatrix<f64>,
    /// `Σ_i r_ik (x_i − m_k)(x_i − m_k)ᵀ` (or its diagonal).
    pub scatter: Scatter,
    /// `Σ_i log p(x_i)` under the E-step's parameters; `None` when the responsibilities were
    /// given rather than computed (an initialisation).
    pub log_likelihood: Option<f64>,
}

impl SufficientStats {
    /// Number of components K.
    pub fn n_components(&self) -> usize {
        self.nk.len()
    }

    /// Number of features D.
    pub fn n_features(&self) -> usize {
        self.sum_x.ncols()
    }

    /// The mean per-sample log-likelihood (scikit-learn's lower bound for EM), when known.
    pub fn mean_log_likelihood(&self) -> Option<f64> {
        self.log_likelihood.map(|s| s / self.n_samples as f64)
    }

    /// The weighted means `Σ r x / (N_k + 10ε)`, K × D, as the M-step forms them.
    pub fn means(&self) -> DMatrix<f64> {
        let mut means = self.sum_x.clone();
        for c in 0..self.n_components() {
            let inv = 1.0 / (self.nk[c] + NK_EPS);
            means.row_mut(c).scale_mut(inv);
        }
        means
    }

    /// Moves every component's scatter to be about `shift` (K × D), exactly.
    pub fn reshift(&mut self, shift: &DMatrix<f64>) -> Result<()> {
        if shift.shape() != self.shift.shape() {
            return Err(GmmError::InvalidData(format!(
                "a shift of {} × {} for statistics of {} components × {} features",
                shift.nrows(),
                shift.ncols(),
                self.n_components(),
                self.n_features()
            )));
        }
        if *shift == self.shift {
            return Ok(());
        }
        let k = self.n_components();
        for c in 0..k {
            let n = self.nk[c];
            // d = m − m', centred = Σ r (x − m) = sum_x − N m.
            let d = (self.shift.row(c) - shift.row(c)).transpose();
            let centred = (self.sum_x.row(c) - self.shift.row(c) * n).transpose();
            match &mut self.scatter {
                Scatter::Full(s) => {
                    let cross = &d * centred.transpose();
                    s[c] += &cross + cross.transpose() + &d * d.transpose() * n;
                }
                Scatter::Diag(s) => {
                    for j in 0..d.len() {
                        s[(c, j)] += 2.0 * d[j] * centred[j] + n * d[j] * d[j];
                    }
                }
                Scatter::LowRank(_) => return Err(low_rank_merge()),
            }
        }
        self.shift.copy_from(shift);
        Ok(())
    }

    /// Adds `other` (statistics of other rows under the same parameters) to these. The
    /// scatters are brought to this side's shift first, so the sum is exact up to rounding.
    pub fn merge(&mut self, other: &SufficientStats) -> Result<()> {
        if other.covariance_type != self.covariance_type
            || other.nk.len() != self.nk.len()
            || other.sum_x.shape() != self.sum_x.shape()
        {
            return Err(GmmError::InvalidData(format!(
                "cannot merge statistics of {} components × {} features ({}) with {} × {} ({})",
                self.n_components(),
                self.n_features(),
                self.covariance_type,
                other.n_components(),
                other.n_features(),
                other.covariance_type
            )));
        }
        let mut other = other.clone();
        other.reshift(&self.shift)?;
        match (&mut self.scatter, &other.scatter) {
            (Scatter::Full(a), Scatter::Full(b)) => {
                for (x, y) in a.iter_mut().zip(b) {
                    *x += y;
                }
            }
            (Scatter::Diag(a), Scatter::Diag(b)) => *a += b,
            _ => return Err(low_rank_merge()),
        }
        self.n_samples += other.n_samples;
        self.nk += &other.nk;
        self.sum_x += &other.sum_x;
        self.log_likelihood = match (self.log_likelihood, other.log_likelihood) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        Ok(())
    }

    /// The M-step: weights `N_k / N`, means `Σ r x / N_k`, covariances from the scatter about
    /// the means plus `reg_covar·I`, and their precision factors.
    pub fn to_params(&self, reg_covar: f64) -> Result<MixtureParams> {
        let (nk, means, covariances) = self.moments(reg_covar)?;
        let weights = &nk / nk.sum();
        MixtureParams::new(weights, means, covariances, reg_covar)
    }

    /// The M-step's moments, scikit-learn's `_estimate_gaussian_parameters`: the counts
    /// `N_k + 10ε`, the weighted means, and the covariances about them plus `reg_covar·I`
    /// (not yet factored). [`SufficientStats::to_params`] and the variational update start
    /// from these.
    pub fn moments(&self, reg_covar: f64) -> Result<(DVector<f64>, DMatrix<f64>, Covariances)> {
        let nk = self.nk.add_scalar(NK_EPS);
        // The low-rank form's means come from its weights; the others from the sums.
        let means = match self.scatter {
            Scatter::LowRank(_) => self.shift.clone(),
            _ => self.means(),
        };
        if nk.iter().any(|v| !v.is_finite()) || means.iter().any(|v| !v.is_finite()) {
            return Err(GmmError::Numerical(
                "the M-step produced non-finite means; the data may contain values too large for the arithmetic (scale the data)".into(),
            ));
        }
        let mut about_means = self.clone();
        if !matches!(self.scatter, Scatter::LowRank(_)) {
            about_means.reshift(&means)?;
        }
        let mut covariances = match about_means.scatter {
            Scatter::Full(s) => Covariances::from_full_scatter(self.covariance_type, s, &nk),
            Scatter::Diag(s) => Covariances::from_diag_scatter(self.covariance_type, s, &nk),
            Scatter::LowRank(c) => c,
        };
        covariances.add_ridge(reg_covar);
        Ok((nk, means, covariances))
    }
}

fn low_rank_merge() -> GmmError {
    GmmError::InvalidData(
        "the exact low-rank path's statistics keep per-sample weights and cannot be merged or re-centred; fit such data in one piece".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Statistics of rows `x` (N × D) with responsibilities `r` (N × K) about `shift`.
    fn direct(
        x: &DMatrix<f64>,
        r: &DMatrix<f64>,
        shift: &DMatrix<f64>,
        diag: bool,
    ) -> SufficientStats {
        let (n, d) = x.shape();
        let k = r.ncols();
        let nk = DVector::from_fn(k, |c, _| r.column(c).sum());
        let sum_x = r.transpose() * x;
        let mut full = vec![DMatrix::zeros(d, d); k];
        for c in 0..k {
            for i in 0..n {
                let v = (x.row(i) - shift.row(c)).transpose();
                full[c] += &v * v.transpose() * r[(i, c)];
            }
        }
        let scatter = if diag {
            Scatter::Diag(DMatrix::from_fn(k, d, |c, j| full[c][(j, j)]))
        } else {
            Scatter::Full(full)
        };
        SufficientStats {
            covariance_type: if diag {
                CovarianceType::Diag
            } else {
                CovarianceType::Full
            },
            n_samples: n,
            nk,
            sum_x,
            shift: shift.clone(),
            scatter,
            log_likelihood: Some(-1.5 * n as f64),
        }
    }

    fn data() -> (DMatrix<f64>, DMatrix<f64>) {
        let x = DMatrix::from_fn(9, 3, |i, j| {
            ((i * 7 + j * 3) % 11) as f64 * 0.7 - 2.0 + j as f64
        });
        let r = DMatrix::from_fn(9, 2, |i, c| {
            if c == 0 {
                (i as f64 + 1.0) / 10.0
            } else {
                1.0 - (i as f64 + 1.0) / 10.0
            }
        });
        (x, r)
    }

    fn close(a: &SufficientStats, b: &SufficientStats) {
        let (pa, pb) = (a.to_params(1e-6).unwrap(), b.to_params(1e-6).unwrap());
        assert!((&pa.means - &pb.means).amax() < 1e-12);
        assert!((&pa.weights - &pb.weights).amax() < 1e-12);
        let diff = match (&pa.covariances, &pb.covariances) {
            (Covariances::Full(x), Covariances::Full(y)) => x
                .iter()
                .zip(y)
                .map(|(p, q)| (p - q).amax())
                .fold(0.0, f64::max),
            (Covariances::Diag(x), Covariances::Diag(y)) => (x - y).amax(),
            _ => panic!("covariance types differ"),
        };
        assert!(diff < 1e-12, "covariances differ by {diff}");
    }

    #[test]
    fn stats_of_two_row_ranges_with_their_own_shifts_merge_into_the_whole() {
        let (x, r) = data();
        for diag in [false, true] {
            let zero = DMatrix::zeros(2, 3);
            let whole = direct(&x, &r, &zero, diag);
            let (xa, ra) = (x.rows(0, 4).into_owned(), r.rows(0, 4).into_owned());
            let (xb, rb) = (x.rows(4, 5).into_owned(), r.rows(4, 5).into_owned());
            let mut a = direct(&xa, &ra, &DMatrix::from_element(2, 3, 1.5), diag);
            let b = direct(
                &xb,
                &rb,
                &DMatrix::from_fn(2, 3, |c, j| c as f64 - j as f64),
                diag,
            );
            a.merge(&b).unwrap();
            assert_eq!(a.n_samples, 9);
            assert_eq!(a.log_likelihood, Some(-13.5));
            close(&a, &whole);
            // And a reshift is exact: the scatter about the means equals the direct one.
            let mut about = whole.clone();
            about.reshift(&a.means()).unwrap();
            let direct_about = direct(&x, &r, &a.means(), diag);
            let err = match (&about.scatter, &direct_about.scatter) {
                (Scatter::Full(p), Scatter::Full(q)) => (&p[1] - &q[1]).amax(),
                (Scatter::Diag(p), Scatter::Diag(q)) => (p - q).amax(),
                _ => unreachable!(),
            };
            assert!(err < 1e-12, "{err}");
        }
    }

    #[test]
    fn mismatched_statistics_do_not_merge() {
        let (x, r) = data();
        let mut a = direct(&x, &r, &DMatrix::zeros(2, 3), false);
        let b = direct(&x, &r, &DMatrix::zeros(2, 3), true);
        let err = a.merge(&b).unwrap_err().to_string();
        assert!(err.contains("cannot merge"), "{err}");
        let err = a.reshift(&DMatrix::zeros(3, 3)).unwrap_err().to_string();
        assert!(err.contains("shift of 3 × 3"), "{err}");
    }
}
