//! Covariance types, their storage, and the precision Cholesky factors computed from them.
//!
//! Storage follows scikit-learn's `GaussianMixture` attribute layout so that model files map
//! one-to-one onto `covariances_` and `precisions_cholesky_`:
//!
//! | type        | `covariances_` | `precisions_cholesky_`                                    |
//! |-------------|----------------|-----------------------------------------------------------|
//! | `full`      | K × (D × D)    | K × (D × D) upper-triangular `U` with `Σ⁻¹ = U Uᵀ`       |
//! | `tied`      | D × D          | D × D, as for `full`                                      |
//! | `diag`      | K × D          | K × D, `1/√σ²`                                            |
//! | `spherical` | K              | K, `1/√σ²`                                                |
//!
//! The `LowRank` variant is the exact high-dimensional representation of `full` covariances
//! (see [`crate::lowrank`]); it never holds a D × D matrix.

use std::fmt;
use std::str::FromStr;

use nalgebra::{DMatrix, DVector};

use crate::error::{GmmError, Result};
use crate::lowrank::LowRankCovariances;

/// The structure imposed on the component covariances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CovarianceType {
    /// Each component has its own general covariance matrix.
    Full,
    /// All components share one general covariance matrix.
    Tied,
    /// Each component has its own diagonal covariance matrix.
    Diag,
    /// Each component has its own single variance.
    Spherical,
}

impl CovarianceType {
    /// All covariance types, for tests and help texts.
    pub const ALL: [CovarianceType; 4] = [
        CovarianceType::Full,
        CovarianceType::Tied,
        CovarianceType::Diag,
        CovarianceType::Spherical,
    ];

    /// scikit-learn's name for the type.
    pub fn as_str(self) -> &'static str {
        match self {
            CovarianceType::Full => "full",
            CovarianceType::Tied => "tied",
            CovarianceType::Diag => "diag",
            CovarianceType::Spherical => "spherical",
        }
    }

    /// Number of free covariance parameters for `k` components in `d` dimensions
    /// (scikit-learn's `_n_parameters` convention).
    pub fn n_cov_parameters(self, k: usize, d: usize) -> usize {
        match self {
            CovarianceType::Full => k * d * (d + 1) / 2,
            CovarianceType::Tied => d * (d + 1) / 2,
            CovarianceType::Diag => k * d,
            CovarianceType::Spherical => k,
        }
    }
}

impl fmt::Display for CovarianceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CovarianceType {
    type Err = GmmError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "full" => Ok(CovarianceType::Full),
            "tied" => Ok(CovarianceType::Tied),
            "diag" => Ok(CovarianceType::Diag),
            "spherical" => Ok(CovarianceType::Spherical),
            other => Err(GmmError::param(
                "covariance_type",
                other,
                "use one of full, tied, diag, spherical",
            )),
        }
    }
}

/// Component covariances in scikit-learn's layout (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub enum Covariances {
    /// K matrices of D × D.
    Full(Vec<DMatrix<f64>>),
    /// One D × D matrix shared by all components.
    Tied(DMatrix<f64>),
    /// K × D variances.
    Diag(DMatrix<f64>),
    /// K variances.
    Spherical(DVector<f64>),
    /// Exact low-rank-plus-ridge full covariances for N < D.
    LowRank(LowRankCovariances),
}

impl Covariances {
    /// M-step covariances from the per-component centred scatter matrices
    /// `Σ_i r_ik (x_i − μ_k)(x_i − μ_k)ᵀ` and the counts `N_k`: full (each over its `N_k`) or
    /// tied (their sum over `N`). `reg_covar` is added later, when the factors are computed.
    pub fn from_full_scatter(
        covariance_type: CovarianceType,
        mut scatter: Vec<DMatrix<f64>>,
        nk: &DVector<f64>,
    ) -> Self {
        match covariance_type {
            CovarianceType::Full => {
                for (c, m) in scatter.iter_mut().enumerate() {
                    *m /= nk[c];
                }
                Covariances::Full(scatter)
            }
            CovarianceType::Tied => {
                let d = scatter.first().map_or(0, |m| m.nrows());
                let mut total = DMatrix::<f64>::zeros(d, d);
                for m in scatter {
                    total += m;
                }
                total /= nk.sum();
                Covariances::Tied(total)
            }
            other => panic!("{other} covariances come from diagonal scatters"),
        }
    }

    /// M-step covariances from the diagonals of the scatter matrices (K × D) and the counts
    /// `N_k`: diag (each row over its `N_k`) or spherical (each row's mean over `N_k`).
    pub fn from_diag_scatter(
        covariance_type: CovarianceType,
        mut scatter: DMatrix<f64>,
        nk: &DVector<f64>,
    ) -> Self {
        let (k, d) = scatter.shape();
        match covariance_type {
            CovarianceType::Diag => {
                for c in 0..k {
                    scatter.row_mut(c).scale_mut(1.0 / nk[c]);
                }
                Covariances::Diag(scatter)
            }
            CovarianceType::Spherical => Covariances::Spherical(DVector::from_fn(k, |c, _| {
                scatter.row(c).sum() / (d as f64 * nk[c])
            })),
            other => panic!("{other} covariances come from full scatter matrices"),
        }
    }

    /// The covariance type this storage represents (`LowRank` is a `Full` model).
    pub fn covariance_type(&self) -> CovarianceType {
        match self {
            Covariances::Full(_) | Covariances::LowRank(_) => CovarianceType::Full,
            Covariances::Tied(_) => CovarianceType::Tied,
            Covariances::Diag(_) => CovarianceType::Diag,
            Covariances::Spherical(_) => CovarianceType::Spherical,
        }
    }

    /// Adds `reg` to every variance (the diagonal of every matrix).
    pub fn add_ridge(&mut self, reg: f64) {
        match self {
            Covariances::Full(mats) => {
                for m in mats {
                    for i in 0..m.nrows() {
                        m[(i, i)] += reg;
                    }
                }
            }
            Covariances::Tied(m) => {
                for i in 0..m.nrows() {
                    m[(i, i)] += reg;
                }
            }
            Covariances::Diag(v) => v.add_scalar_mut(reg),
            Covariances::Spherical(v) => v.add_scalar_mut(reg),
            Covariances::LowRank(lr) => lr.add_ridge(reg),
        }
    }

    /// Checks that every stored number is finite, naming the first component that is not.
    pub fn check_finite(&self) -> Result<()> {
        let bad = |k: usize| {
            Err(GmmError::InvalidModel(format!(
                "component {k}: covariance has a non-finite entry; the fit diverged or the model file is damaged"
            )))
        };
        match self {
            Covariances::Full(mats) => {
                for (k, m) in mats.iter().enumerate() {
                    if m.iter().any(|v| !v.is_finite()) {
                        return bad(k);
                    }
                }
            }
            Covariances::Tied(m) => {
                if m.iter().any(|v| !v.is_finite()) {
                    return bad(0);
                }
            }
            Covariances::Diag(m) => {
                for k in 0..m.nrows() {
                    if m.row(k).iter().any(|v| !v.is_finite()) {
                        return bad(k);
                    }
                }
            }
            Covariances::Spherical(v) => {
                for (k, x) in v.iter().enumerate() {
                    if !x.is_finite() {
                        return bad(k);
                    }
                }
            }
            Covariances::LowRank(lr) => lr.check_finite()?,
        }
        Ok(())
    }
}

/// Precision Cholesky factors in scikit-learn's `precisions_cholesky_` layout, plus the
/// log-determinant terms the log-density needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Precisions {
    /// The factors (same variant as the covariances they come from; `LowRank` keeps its own).
    pub cholesky: Covariances,
    /// `Σ_j log U_jj` per component, i.e. `-½ log det Σ_k` (K entries).
    pub log_det_cholesky: DVector<f64>,
}

/// The upper-triangular `U` with `Σ⁻¹ = U Uᵀ`, from one covariance matrix.
pub fn precision_cholesky_of(
    cov: &DMatrix<f64>,
    component: usize,
    reg_covar: f64,
) -> Result<DMatrix<f64>> {
    let d = cov.nrows();
    let chol = nalgebra::linalg::Cholesky::new(cov.clone()).ok_or_else(|| {
        GmmError::NotPositiveDefinite {
            component,
            reg_covar,
            detail: "Cholesky factorisation failed".into(),
        }
    })?;
    let l = chol.l();
    if l.diagonal().iter().any(|v| !v.is_finite() || *v <= 0.0) {
        return Err(GmmError::NotPositiveDefinite {
            component,
            reg_covar,
            detail: "zero or non-finite pivot".into(),
        });
    }
    // U = (L⁻¹)ᵀ: solve L Y = I for Y = L⁻¹.
    let mut inv = DMatrix::<f64>::identity(d, d);
    l.solve_lower_triangular_mut(&mut inv);
    Ok(inv.transpose())
}

/// Covariance matrix from a precision Cholesky factor: `Σ = (U Uᵀ)⁻¹`.
pub fn covariance_from_precision_cholesky(u: &DMatrix<f64>) -> Option<DMatrix<f64>> {
    let d = u.nrows();
    // Σ = (U Uᵀ)⁻¹ = U⁻ᵀ U⁻¹ = Vᵀ V with V = U⁻¹.
    let mut v = DMatrix::<f64>::identity(d, d);
    if !u.solve_upper_triangular_mut(&mut v) {
        return None;
    }
    Some(v.transpose() * &v)
}

fn sum_log_diag(u: &DMatrix<f64>) -> f64 {
    u.diagonal().iter().map(|v| v.ln()).sum()
}

/// Computes the precision Cholesky factors and log-determinants of `covariances`.
///
/// `reg_covar` is only used to word the error message when a matrix is not positive definite.
pub fn compute_precisions(covariances: &Covariances, reg_covar: f64) -> Result<Precisions> {
    let not_pd = |k: usize, v: f64| GmmError::NotPositiveDefinite {
        component: k,
        reg_covar,
        detail: format!("variance {v:e} is not positive"),
    };
    match covariances {
        Covariances::Full(mats) => {
            let factors: Vec<DMatrix<f64>> = mats
                .iter()
                .enumerate()
                .map(|(k, c)| precision_cholesky_of(c, k, reg_covar))
                .collect::<Result<_>>()?;
            let log_det = DVector::from_iterator(factors.len(), factors.iter().map(sum_log_diag));
            Ok(Precisions {
                cholesky: Covariances::Full(factors),
                log_det_cholesky: log_det,
            })
        }
        Covariances::Tied(c) => {
            let u = precision_cholesky_of(c, 0, reg_covar)?;
            let ld = sum_log_diag(&u);
            Ok(Precisions {
                cholesky: Covariances::Tied(u),
                log_det_cholesky: DVector::from_element(1, ld),
            })
        }
        Covariances::Diag(v) => {
            let mut p = v.clone();
            for k in 0..v.nrows() {
                for j in 0..v.ncols() {
                    let x = v[(k, j)];
                    if !(x > 0.0 && x.is_finite()) {
                        return Err(not_pd(k, x));
                    }
                    p[(k, j)] = 1.0 / x.sqrt();
                }
            }
            let ld = DVector::from_iterator(
                p.nrows(),
                p.row_iter().map(|r| r.iter().map(|x| x.ln()).sum()),
            );
            Ok(Precisions {
                cholesky: Covariances::Diag(p),
                log_det_cholesky: ld,
            })
        }
        Covariances::Spherical(v) => {
            for (k, &x) in v.iter().enumerate() {
                if !(x > 0.0 && x.is_finite()) {
                    return Err(not_pd(k, x));
                }
            }
            let p = v.map(|x| 1.0 / x.sqrt());
            // log det of the D×D factor is D·log p; the caller scales by D (see log_det_for).
            let ld = p.map(|x| x.ln());
            Ok(Precisions {
                cholesky: Covariances::Spherical(p),
                log_det_cholesky: ld,
            })
        }
        Covariances::LowRank(lr) => {
            let (with_factors, log_det_cholesky) = lr.with_factors()?;
            Ok(Precisions {
                cholesky: Covariances::LowRank(with_factors),
                log_det_cholesky,
            })
        }
    }
}

impl Precisions {
    /// `Σ_j log U_jj` for component `k` in `d` dimensions (`-½ log det Σ_k`).
    pub fn log_det(&self, k: usize, d: usize) -> f64 {
        match &self.cholesky {
            Covariances::Tied(_) => self.log_det_cholesky[0],
            Covariances::Spherical(_) => d as f64 * self.log_det_cholesky[k],
            _ => self.log_det_cholesky[k],
        }
    }

    /// Rebuilds covariances from precision factors (used when a model file carries only
    /// `precisions_cholesky_`).
    pub fn to_covariances(&self) -> Result<Covariances> {
        let singular = |k: usize| {
            GmmError::InvalidModel(format!(
                "component {k}: precision Cholesky factor is singular"
            ))
        };
        Ok(match &self.cholesky {
            Covariances::Full(us) => Covariances::Full(
                us.iter()
                    .enumerate()
                    .map(|(k, u)| covariance_from_precision_cholesky(u).ok_or_else(|| singular(k)))
                    .collect::<Result<_>>()?,
            ),
            Covariances::Tied(u) => {
                Covariances::Tied(covariance_from_precision_cholesky(u).ok_or_else(|| singular(0))?)
            }
            Covariances::Diag(p) => Covariances::Diag(p.map(|x| 1.0 / (x * x))),
            Covariances::Spherical(p) => Covariances::Spherical(p.map(|x| 1.0 / (x * x))),
            Covariances::LowRank(lr) => Covariances::LowRank(lr.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_cholesky_inverts_the_covariance() {
        let c = DMatrix::from_row_slice(3, 3, &[4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0]);
        let u = precision_cholesky_of(&c, 0, 0.0).unwrap();
        let prec = &u * u.transpose();
        let id = &prec * &c;
        assert!((id - DMatrix::<f64>::identity(3, 3)).amax() < 1e-12);
        // upper triangular
        assert_eq!(u[(1, 0)], 0.0);
        let back = covariance_from_precision_cholesky(&u).unwrap();
        assert!((back - c).amax() < 1e-12);
    }

    #[test]
    fn not_positive_definite_names_the_component() {
        let c = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 1.0]);
        let err = compute_precisions(&Covariances::Full(vec![DMatrix::identity(2, 2), c]), 1e-6)
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("component 1"), "{msg}");
        assert!(msg.contains("reg_covar"), "{msg}");
    }
}
