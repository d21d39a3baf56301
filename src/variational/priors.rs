//! The priors of a variational Bayesian mixture, as scikit-learn's `BayesianGaussianMixture`
//! defines them: a Dirichlet process (stick-breaking Beta(1, γ₀)) or a Dirichlet distribution
//! (Dir(γ₀)) on the weights, and a Normal-Wishart prior on each component (mean m₀ with
//! precision β₀, ν₀ degrees of freedom, scale W₀ given as a covariance).
//!
//! Every prior left unset takes scikit-learn's default from the data: γ₀ = 1/K, β₀ = 1,
//! m₀ = the data mean, ν₀ = D, and W₀ = the data covariance with N − 1 in the denominator
//! (full, tied), its diagonal (diag), or the mean of that diagonal (spherical).

use nalgebra::{DMatrix, DVector};

use crate::covariance::CovarianceType;
use crate::error::{GmmError, Result};

/// The prior on the mixing weights (scikit-learn's `weight_concentration_prior_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WeightPrior {
    /// A truncated Dirichlet process (stick-breaking): scikit-learn's default.
    #[default]
    DirichletProcess,
    /// A symmetric Dirichlet distribution.
    DirichletDistribution,
}

impl WeightPrior {
    /// scikit-learn's name.
    pub fn as_str(self) -> &'static str {
        match self {
            WeightPrior::DirichletProcess => "dirichlet_process",
            WeightPrior::DirichletDistribution => "dirichlet_distribution",
        }
    }
}

impl std::fmt::Display for WeightPrior {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for WeightPrior {
    type Err = GmmError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "dirichlet-process" | "dirichlet_process" => Ok(WeightPrior::DirichletProcess),
            "dirichlet" | "dirichlet-distribution" | "dirichlet_distribution" => {
                Ok(WeightPrior::DirichletDistribution)
            }
            other => Err(GmmError::param(
                "weight_concentration_prior_type",
                other,
                "use dirichlet-process (dirichlet_process) or dirichlet (dirichlet_distribution)",
            )),
        }
    }
}

/// The prior on the covariances, W₀, in the layout of the covariance type: a D × D matrix
/// (full, tied), D variances (diag), or one variance (spherical).
#[derive(Debug, Clone, PartialEq)]
pub enum CovariancePrior {
    /// D × D, symmetric positive definite (full and tied).
    Matrix(DMatrix<f64>),
    /// D positive variances (diag).
    Diagonal(DVector<f64>),
    /// One positive variance (spherical).
    Scalar(f64),
}

/// The settings of a variational fit: the weight prior's type and any priors given (`None`:
/// scikit-learn's default from the data; see the module documentation).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VariationalConfig {
    /// Dirichlet process (default) or Dirichlet distribution.
    pub weight_prior: WeightPrior,
    /// γ₀ > 0 (default 1/K).
    pub weight_concentration: Option<f64>,
    /// β₀ > 0 (default 1).
    pub mean_precision: Option<f64>,
    /// m₀, D values (default: the data mean).
    pub mean: Option<DVector<f64>>,
    /// ν₀ > D − 1 (default D).
    pub degrees_of_freedom: Option<f64>,
    /// W₀ (default: from the data covariance).
    pub covariance: Option<CovariancePrior>,
}

/// Every prior, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Priors {
    /// The weight prior's type.
    pub weight_prior: WeightPrior,
    /// γ₀ (`weight_concentration_prior_`).
    pub weight_concentration: f64,
    /// β₀ (`mean_precision_prior_`).
    pub mean_precision: f64,
    /// m₀ (`mean_prior_`).
    pub mean: DVector<f64>,
    /// ν₀ (`degrees_of_freedom_prior_`).
    pub degrees_of_freedom: f64,
    /// W₀ (`covariance_prior_`).
    pub covariance: CovariancePrior,
}

fn positive(name: &'static str, v: Option<f64>) -> Result<()> {
    match v {
        Some(x) if !(x > 0.0 && x.is_finite()) => Err(GmmError::param(
            name,
            x,
            "use a finite value > 0 (or leave it unset for scikit-learn's default)",
        )),
        _ => Ok(()),
    }
}

impl VariationalConfig {
    /// The settings with the given weight prior and every other prior at its default.
    pub fn new(weight_prior: WeightPrior) -> Self {
        VariationalConfig {
            weight_prior,
            ..Default::default()
        }
    }

    /// Checks every given prior against the covariance type and the dimension D.
    pub fn validate(&self, covariance_type: CovarianceType, d: usize) -> Result<()> {
        positive("weight_concentration_prior", self.weight_concentration)?;
        positive("mean_precision_prior", self.mean_precision)?;
        if let Some(m) = &self.mean {
            if m.len() != d {
                return Err(GmmError::param(
                    "mean_prior",
                    format!("shape ({},)", m.len()),
                    format!("give one value per feature: shape ({d},)"),
                ));
            }
            if let Some(j) = m.iter().position(|v| !v.is_finite()) {
                return Err(GmmError::param(
                    "mean_prior",
                    format!("{} at index {j}", m[j]),
                    "the prior mean must be finite",
                ));
            }
        }
        if let Some(nu) = self.degrees_of_freedom {
            if !(nu > d as f64 - 1.0 && nu.is_finite()) {
                return Err(GmmError::param(
                    "degrees_of_freedom_prior",
                    nu,
                    format!(
                        "use a finite value > D − 1 = {} (default D = {d})",
                        d as f64 - 1.0
                    ),
                ));
            }
        }
        if let Some(c) = &self.covariance {
            check_covariance_prior(c, covariance_type, d)?;
        }
        Ok(())
    }

    /// The priors, with defaults from the data `xt` (D × N, one sample per column; with
    /// sample weights, their weighted mean and covariance, as of repeated rows) where none is
    /// given. Without data every prior must be given.
    pub fn resolve(
        &self,
        xt: Option<&DMatrix<f64>>,
        weights: Option<&DVector<f64>>,
        covariance_type: CovarianceType,
        k: usize,
    ) -> Result<Priors> {
        let need_data = |what: &'static str| {
            GmmError::param(
                what,
                "unset",
                "its default comes from the data, which are not on the host here; give it",
            )
        };
        let data_mean = || -> Result<DVector<f64>> {
            let xt = xt.ok_or_else(|| need_data("mean_prior"))?;
            Ok(column_mean(xt, weights))
        };
        let mean = match &self.mean {
            Some(m) => m.clone(),
            None => data_mean()?,
        };
        let d = mean.len();
        let covariance = match &self.covariance {
            Some(c) => c.clone(),
            None => {
                let xt = xt.ok_or_else(|| need_data("covariance_prior"))?;
                default_covariance_prior(xt, weights, covariance_type)?
            }
        };
        Ok(Priors {
            weight_prior: self.weight_prior,
            weight_concentration: self.weight_concentration.unwrap_or(1.0 / k as f64),
            mean_precision: self.mean_precision.unwrap_or(1.0),
            mean,
            degrees_of_freedom: self.degrees_of_freedom.unwrap_or(d as f64),
            covariance,
        })
    }
}

/// scikit-learn's default W₀: the sample covariance of the data (N − 1 in the denominator), its
/// diagonal, or the mean of its diagonal.
fn default_covariance_prior(
    xt: &DMatrix<f64>,
    weights: Option<&DVector<f64>>,
    covariance_type: CovarianceType,
) -> Result<CovariancePrior> {
    let (d, n) = xt.shape();
    let total = weights.map_or(n as f64, |w| w.sum());
    if total <= 1.0 {
        return Err(GmmError::InvalidData(
            "the default covariance prior needs more than one sample (or a total weight above 1); give covariance_prior".into(),
        ));
    }
    let mean = column_mean(xt, weights);
    let mut centred = xt.clone();
    for (j, m) in mean.iter().enumerate() {
        centred.row_mut(j).add_scalar_mut(-m);
    }
    // With weights, each centred sample counts √w_i in the products (w_i in the squares).
    if let Some(w) = weights {
        for (i, mut col) in centred.column_iter_mut().enumerate() {
            col *= w[i].sqrt();
        }
    }
    let denom = total - 1.0;
    Ok(match covariance_type {
        CovarianceType::Full | CovarianceType::Tied => {
            CovariancePrior::Matrix(&centred * centred.transpose() / denom)
        }
        CovarianceType::Diag | CovarianceType::Spherical => {
            let var = DVector::from_fn(d, |j, _| centred.row(j).norm_squared() / denom);
            if covariance_type == CovarianceType::Diag {
                CovariancePrior::Diagonal(var)
            } else {
                CovariancePrior::Scalar(var.mean())
            }
        }
    })
}

fn check_covariance_prior(
    c: &CovariancePrior,
    covariance_type: CovarianceType,
    d: usize,
) -> Result<()> {
    let name = "covariance_prior";
    let bad = |v: f64| {
        GmmError::param(
            name,
            v,
            "prior variances must be finite and > 0 (or leave it unset for the data's)",
        )
    };
    match (covariance_type, c) {
        (CovarianceType::Full | CovarianceType::Tied, CovariancePrior::Matrix(m)) => {
            if m.shape() != (d, d) {
                return Err(GmmError::param(
                    name,
                    format!("shape ({}, {})", m.nrows(), m.ncols()),
                    format!("give a ({d}, {d}) matrix for {covariance_type} covariances"),
                ));
            }
            if let Some(p) = m.iter().position(|v| !v.is_finite()) {
                return Err(bad(m[p]));
            }
            if (m - m.transpose()).amax() > 1e-10 * m.amax().max(1.0) {
                return Err(GmmError::param(
                    name,
                    "an asymmetric matrix",
                    "the covariance prior must be symmetric",
                ));
            }
            if nalgebra::linalg::Cholesky::new(m.clone()).is_none() {
                return Err(GmmError::param(
                    name,
                    "a matrix that is not positive definite",
                    "the covariance prior must be symmetric positive definite",
                ));
            }
            Ok(())
        }
        (CovarianceType::Diag, CovariancePrior::Diagonal(v)) => {
            if v.len() != d {
                return Err(GmmError::param(
                    name,
                    format!("shape ({},)", v.len()),
                    format!("give {d} variances for diag covariances"),
                ));
            }
            match v.iter().find(|x| !(**x > 0.0 && x.is_finite())) {
                Some(&x) => Err(bad(x)),
                None => Ok(()),
            }
        }
        (CovarianceType::Spherical, CovariancePrior::Scalar(x)) => {
            if *x > 0.0 && x.is_finite() {
                Ok(())
            } else {
                Err(bad(*x))
            }
        }
        (t, _) => Err(GmmError::param(
            name,
            "the wrong shape",
            format!(
                "for {t} covariances give {}",
                match t {
                    CovarianceType::Full | CovarianceType::Tied => format!("a ({d}, {d}) matrix"),
                    CovarianceType::Diag => format!("{d} variances"),
                    CovarianceType::Spherical => "one variance".to_string(),
                }
            ),
        )),
    }
}

/// The mean of the columns of `xt` (D × N), weighted when weights are given.
fn column_mean(xt: &DMatrix<f64>, weights: Option<&DVector<f64>>) -> DVector<f64> {
    match weights {
        None => DVector::from_fn(xt.nrows(), |j, _| xt.row(j).mean()),
        Some(w) => xt * w / w.sum(),
    }
}
