//! Mixture parameters: weights, means, covariances and their precision factors.

use nalgebra::{DMatrix, DVector};

use crate::covariance::{compute_precisions, CovarianceType, Covariances, Precisions};
use crate::error::{GmmError, Result};

/// The parameters of a Gaussian mixture together with the precision factors the E-step uses.
#[derive(Debug, Clone, PartialEq)]
pub struct MixtureParams {
    /// Mixing weights π (K, sum to one).
    pub weights: DVector<f64>,
    /// Component means, K × D.
    pub means: DMatrix<f64>,
    /// Component covariances (scikit-learn layout).
    pub covariances: Covariances,
    /// Precision Cholesky factors and log-determinants derived from `covariances`.
    pub precisions: Precisions,
}

/// A small constant added to the counts, as scikit-learn does (10 × machine epsilon).
pub const NK_EPS: f64 = 10.0 * f64::EPSILON;

impl MixtureParams {
    /// Builds parameters from weights, means and covariances, factoring the covariances.
    pub fn new(
        weights: DVector<f64>,
        means: DMatrix<f64>,
        covariances: Covariances,
        reg_covar: f64,
    ) -> Result<Self> {
        let precisions = compute_precisions(&covariances, reg_covar)?;
        let p = MixtureParams {
            weights,
            means,
            covariances,
            precisions,
        };
        p.validate()?;
        Ok(p)
    }

    /// Number of components K.
    pub fn n_components(&self) -> usize {
        self.means.nrows()
    }

    /// Number of features D.
    pub fn n_features(&self) -> usize {
        self.means.ncols()
    }

    /// The covariance type.
    pub fn covariance_type(&self) -> CovarianceType {
        self.covariances.covariance_type()
    }

    /// Checks shapes and finiteness; weights must be non-negative and sum to one.
    pub fn validate(&self) -> Result<()> {
        let k = self.means.nrows();
        let d = self.means.ncols();
        if k == 0 || d == 0 {
            return Err(GmmError::InvalidModel(
                "the model has no components or no features".into(),
            ));
        }
        if self.weights.len() != k {
            return Err(GmmError::InvalidModel(format!(
                "weights have {} entries but there are {k} means",
                self.weights.len()
            )));
        }
        for (j, &w) in self.weights.iter().enumerate() {
            if !(w.is_finite() && w >= 0.0) {
                return Err(GmmError::InvalidModel(format!(
                    "weight {j} is {w}; weights must be finite and non-negative"
                )));
            }
        }
        let sum = self.weights.sum();
        if (sum - 1.0).abs() > 1e-6 {
            return Err(GmmError::InvalidModel(format!(
                "weights sum to {sum}, not 1; renormalise them (divide by their sum)"
            )));
        }
        if let Some(pos) = self.means.iter().position(|v| !v.is_finite()) {
            return Err(GmmError::InvalidModel(format!(
                "mean of component {} has a non-finite entry",
                pos % k
            )));
        }
        let shape_err = |what: String| Err(GmmError::InvalidModel(what));
        match &self.covariances {
            Covariances::Full(m) => {
                if m.len() != k {
                    return shape_err(format!("{} full covariances for {k} components", m.len()));
                }
                if let Some(c) = m.iter().position(|c| c.nrows() != d || c.ncols() != d) {
                    return shape_err(format!("covariance {c} is not {d} × {d}"));
                }
            }
            Covariances::Tied(m) => {
                if m.nrows() != d || m.ncols() != d {
                    return shape_err(format!(
                        "tied covariance is {} × {}, not {d} × {d}",
                        m.nrows(),
                        m.ncols()
                    ));
                }
            }
            Covariances::Diag(m) => {
                if m.nrows() != k || m.ncols() != d {
                    return shape_err(format!(
                        "diag covariances are {} × {}, not {k} × {d}",
                        m.nrows(),
                        m.ncols()
                    ));
                }
            }
            Covariances::Spherical(v) => {
                if v.len() != k {
                    return shape_err(format!(
                        "{} spherical variances for {k} components",
                        v.len()
                    ));
                }
            }
            Covariances::LowRank(lr) => lr.validate(k, d)?,
        }
        self.covariances.check_finite()
    }
}
