//! Fit settings, with scikit-learn's defaults.

use std::fmt;
use std::str::FromStr;

use nalgebra::DMatrix;

use crate::covariance::CovarianceType;
use crate::error::{GmmError, Result};

/// How the first responsibilities are chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum InitMethod {
    /// k-means++ seeding, then Lloyd iterations; responsibilities are the final hard labels.
    KMeans,
    /// k-means++ seeding only; every sample is assigned to its nearest seed.
    KMeansPlusPlus,
    /// Uniformly random responsibilities, normalised per sample.
    Random,
    /// K distinct samples drawn at random as seeds; every sample goes to its nearest seed.
    RandomFromData,
    /// Given initial means (K × D): samples go to their nearest mean, covariances and weights
    /// come from that assignment, and the means are the given ones.
    Means(DMatrix<f64>),
    /// Given hard labels, one per sample, in `0..K`.
    Labels(Vec<usize>),
}

impl InitMethod {
    /// The name used on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            InitMethod::KMeans => "kmeans",
            InitMethod::KMeansPlusPlus => "k-means++",
            InitMethod::Random => "random",
            InitMethod::RandomFromData => "random-from-data",
            InitMethod::Means(_) => "means",
            InitMethod::Labels(_) => "labels",
        }
    }

    /// Whether restarts with different seeds can differ.
    pub fn is_random(&self) -> bool {
        !matches!(self, InitMethod::Means(_) | InitMethod::Labels(_))
    }
}

impl fmt::Display for InitMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for InitMethod {
    type Err = GmmError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "kmeans" => Ok(InitMethod::KMeans),
            "k-means++" | "kmeans++" => Ok(InitMethod::KMeansPlusPlus),
            "random" => Ok(InitMethod::Random),
            "random-from-data" | "random_from_data" => Ok(InitMethod::RandomFromData),
            other => Err(GmmError::param(
                "init",
                other,
                "use kmeans, k-means++, random or random-from-data (or give --means-init / --labels-init)",
            )),
        }
    }
}

/// Settings of one fit. Defaults follow scikit-learn's `GaussianMixture`.
#[derive(Debug, Clone, PartialEq)]
pub struct FitConfig {
    /// Number of components K.
    pub n_components: usize,
    /// Covariance structure.
    pub covariance_type: CovarianceType,
    /// Initialisation.
    pub init: InitMethod,
    /// Number of initialisations; the fit with the best final lower bound is kept.
    pub n_init: usize,
    /// EM iterations per initialisation (0 keeps the initial parameters).
    pub max_iter: usize,
    /// Convergence threshold on the change of the mean per-sample log-likelihood.
    pub tol: f64,
    /// Added to the diagonal of every covariance.
    pub reg_covar: f64,
    /// Seed of every random choice.
    pub seed: u64,
    /// Lloyd iterations of the `kmeans` initialisation (at most; stops when labels settle).
    pub kmeans_iter: usize,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            n_components: 1,
            covariance_type: CovarianceType::Full,
            init: InitMethod::KMeans,
            n_init: 1,
            max_iter: 100,
            tol: 1e-3,
            reg_covar: 1e-6,
            seed: 0,
            kmeans_iter: 30,
        }
    }
}

impl FitConfig {
    /// Default settings with `k` components.
    pub fn new(k: usize) -> Self {
        FitConfig {
            n_components: k,
            ..Default::default()
        }
    }

    /// Sets the covariance type.
    pub fn covariance_type(mut self, t: CovarianceType) -> Self {
        self.covariance_type = t;
        self
    }

    /// Sets the initialisation.
    pub fn init(mut self, init: InitMethod) -> Self {
        self.init = init;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets `max_iter`.
    pub fn max_iter(mut self, n: usize) -> Self {
        self.max_iter = n;
        self
    }

    /// Sets `tol`.
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Sets `reg_covar`.
    pub fn reg_covar(mut self, r: f64) -> Self {
        self.reg_covar = r;
        self
    }

    /// Sets `n_init`.
    pub fn n_init(mut self, n: usize) -> Self {
        self.n_init = n;
        self
    }

    /// Checks every setting against the data size, with advice on what to change.
    pub fn validate(&self, n_samples: usize, n_features: usize) -> Result<()> {
        let k = self.n_components;
        if k < 1 {
            return Err(GmmError::param(
                "n_components",
                k,
                "use at least 1 component",
            ));
        }
        if k > n_samples {
            return Err(GmmError::param(
                "n_components",
                k,
                format!("there are only {n_samples} samples; use at most that many components"),
            ));
        }
        if self.n_init < 1 {
            return Err(GmmError::param(
                "n_init",
                self.n_init,
                "use at least 1 initialisation",
            ));
        }
        if !(self.tol >= 0.0 && self.tol.is_finite()) {
            return Err(GmmError::param(
                "tol",
                self.tol,
                "use a finite tolerance ≥ 0 (default 1e-3)",
            ));
        }
        if !(self.reg_covar >= 0.0 && self.reg_covar.is_finite()) {
            return Err(GmmError::param(
                "reg_covar",
                self.reg_covar,
                "use a finite value ≥ 0 (default 1e-6)",
            ));
        }
        match &self.init {
            InitMethod::Means(m) => {
                if m.nrows() != k || m.ncols() != n_features {
                    return Err(GmmError::param(
                        "means_init",
                        format!("{} × {}", m.nrows(), m.ncols()),
                        format!("initial means must be {k} × {n_features} (components × features)"),
                    ));
                }
                if let Some(p) = m.iter().position(|v| !v.is_finite()) {
                    return Err(GmmError::param(
                        "means_init",
                        format!("row {}, column {}", p % k, p / k),
                        "initial means must be finite",
                    ));
                }
            }
            InitMethod::Labels(l) => {
                if l.len() != n_samples {
                    return Err(GmmError::param(
                        "labels_init",
                        format!("{} labels", l.len()),
                        format!("give one label per sample ({n_samples})"),
                    ));
                }
                if let Some((i, &v)) = l.iter().enumerate().find(|(_, &v)| v >= k) {
                    return Err(GmmError::param(
                        "labels_init",
                        format!("{v} at row {i}"),
                        format!("labels must lie in 0..{k}"),
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }
}
