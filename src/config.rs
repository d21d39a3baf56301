//! Fit settings, with scikit-learn's defaults.

use std::fmt;
use std::str::FromStr;

use nalgebra::{DMatrix, DVector};

use crate::covariance::{
    covariance_from_precision_cholesky, CovarianceType, Covariances, Precisions,
};
use crate::error::{GmmError, Result};
use crate::variational::priors::VariationalConfig;

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
                "use kmeans, k-means++, random or random-from-data (or give means_init / labels_init)",
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
    /// Lloyd iterations of the `kmeans` initialisation, at most (scikit-learn's `KMeans`
    /// default, 300); it stops earlier when the labels settle or on `kmeans_tol`.
    pub kmeans_iter: usize,
    /// Tolerance of the `kmeans` initialisation: Lloyd stops when the total squared shift of
    /// the centres is at most this times the mean per-feature variance of the data
    /// (scikit-learn's `KMeans(tol=1e-4)`).
    pub kmeans_tol: f64,
    /// scikit-learn's `weights_init`: mixing weights (K, in [0, 1], summing to one) that replace
    /// the initialisation's. With all three of `weights_init`, `means_init` and
    /// `precisions_init` given, the initialisation (`init`) is skipped, as scikit-learn does;
    /// otherwise `init` gives responsibilities, one M-step gives parameters, and the given
    /// ones replace theirs.
    pub weights_init: Option<DVector<f64>>,
    /// scikit-learn's `means_init`: means (K × D) that replace the initialisation's (unlike
    /// [`InitMethod::Means`], the responsibilities still come from `init`).
    pub means_init: Option<DMatrix<f64>>,
    /// scikit-learn's `precisions_init`: precision matrices `Σ⁻¹` in scikit-learn's layout for
    /// the covariance type — full: K matrices D × D (`Covariances::Full`), tied: one D × D
    /// (`Tied`), diag: K × D (`Diag`), spherical: K (`Spherical`) — that replace the
    /// initialisation's; the first E-step uses them.
    pub precisions_init: Option<Covariances>,
    /// A variational Bayesian fit (scikit-learn's `BayesianGaussianMixture`) with these
    /// priors, instead of maximum likelihood. Its lower bound, and so `tol`, is scikit-learn's
    /// for that model: a total over the samples, not a mean.
    pub variational: Option<VariationalConfig>,
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
            kmeans_iter: 300,
            kmeans_tol: 1e-4,
            weights_init: None,
            means_init: None,
            precisions_init: None,
            variational: None,
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

    /// Sets scikit-learn's `weights_init` (see [`FitConfig::weights_init`]).
    pub fn weights_init(mut self, weights: DVector<f64>) -> Self {
        self.weights_init = Some(weights);
        self
    }

    /// Sets scikit-learn's `means_init` (see [`FitConfig::means_init`]).
    pub fn means_init(mut self, means: DMatrix<f64>) -> Self {
        self.means_init = Some(means);
        self
    }

    /// Sets scikit-learn's `precisions_init` (see [`FitConfig::precisions_init`]).
    pub fn precisions_init(mut self, precisions: Covariances) -> Self {
        self.precisions_init = Some(precisions);
        self
    }

    /// A variational Bayesian fit with these priors (see [`FitConfig::variational`]).
    pub fn variational(mut self, priors: VariationalConfig) -> Self {
        self.variational = Some(priors);
        self
    }

    /// Checks every setting against the data's size, once: the engines take the result and
    /// check nothing again (linfa's `Params → ValidParams`).
    pub fn check(&self, n_samples: usize, n_features: usize) -> Result<ValidFitConfig> {
        self.validate(n_samples, n_features)?;
        Ok(ValidFitConfig {
            config: self.clone(),
            n_samples,
            n_features,
        })
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
        if !(self.kmeans_tol >= 0.0 && self.kmeans_tol.is_finite()) {
            return Err(GmmError::param(
                "kmeans_tol",
                self.kmeans_tol,
                "use a finite tolerance ≥ 0 (default 1e-4)",
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
        if let Some(w) = &self.weights_init {
            check_weights_init(w, k)?;
        }
        if let Some(m) = &self.means_init {
            if m.nrows() != k || m.ncols() != n_features {
                return Err(GmmError::param(
                    "means_init",
                    format!("shape ({}, {})", m.nrows(), m.ncols()),
                    format!(
                        "give the means as a ({k}, {n_features}) array (components × features)"
                    ),
                ));
            }
            if let Some(p) = m.iter().position(|v| !v.is_finite()) {
                return Err(GmmError::param(
                    "means_init",
                    format!("{} at row {}, column {}", m[p], p % k, p / k),
                    "initial means must be finite",
                ));
            }
        }
        if let Some(p) = &self.precisions_init {
            factor_precisions_init(p, self.covariance_type, k, n_features)?;
        }
        if let Some(v) = &self.variational {
            v.validate(self.covariance_type, n_features)?;
            let given = [
                ("weights_init", self.weights_init.is_some()),
                ("means_init", self.means_init.is_some()),
                ("precisions_init", self.precisions_init.is_some()),
                ("init=means", matches!(self.init, InitMethod::Means(_))),
            ];
            if let Some((name, _)) = given.iter().find(|(_, g)| *g) {
                return Err(GmmError::param(
                    name,
                    "given",
                    "a variational fit starts from responsibilities (an init method or labels), as scikit-learn's BayesianGaussianMixture does; set the priors instead (mean_prior, covariance_prior, ...)",
                ));
            }
        }
        Ok(())
    }
}

/// Checks `weights_init` as scikit-learn does: K entries in [0, 1] that sum to one (here to
/// within 1e-6, the tolerance of a model's weights).
fn check_weights_init(w: &DVector<f64>, k: usize) -> Result<()> {
    if w.len() != k {
        return Err(GmmError::param(
            "weights_init",
            format!("shape ({},)", w.len()),
            format!("give one weight per component: shape ({k},)"),
        ));
    }
    if let Some((j, v)) = w
        .iter()
        .enumerate()
        .find(|(_, v)| !(**v >= 0.0 && **v <= 1.0))
    {
        return Err(GmmError::param(
            "weights_init",
            format!("{v} at index {j}"),
            "weights must lie in [0, 1]",
        ));
    }
    let sum = w.sum();
    if (sum - 1.0).abs() > 1e-6 {
        return Err(GmmError::param(
            "weights_init",
            format!("weights summing to {sum}"),
            "the weights must sum to 1: divide them by their sum",
        ));
    }
    Ok(())
}

/// The upper-triangular `U` with `U Uᵀ = P` (a Cholesky factorisation in reversed order), or
/// `None` when `P` is not positive definite.
fn upper_cholesky(p: &DMatrix<f64>) -> Option<DMatrix<f64>> {
    let d = p.nrows();
    // J P J = L Lᵀ with J the exchange matrix; then U = J L J is upper triangular and
    // U Uᵀ = J L Lᵀ J = P.
    let reversed = DMatrix::from_fn(d, d, |i, j| p[(d - 1 - i, d - 1 - j)]);
    let l = nalgebra::linalg::Cholesky::new(reversed)?.unpack();
    let u = DMatrix::from_fn(d, d, |i, j| l[(d - 1 - i, d - 1 - j)]);
    u.diagonal()
        .iter()
        .all(|v| v.is_finite() && *v > 0.0)
        .then_some(u)
}

/// Checks `precisions_init` (scikit-learn's layout for `covariance_type`: shapes, finite,
/// symmetric positive definite matrices or positive values) and returns the covariances and
/// precision factors it stands for: `U` with `U Uᵀ = Σ⁻¹` (upper triangular, as the fitted
/// factors are), `√p` for diag and spherical.
pub(crate) fn factor_precisions_init(
    p: &Covariances,
    covariance_type: CovarianceType,
    k: usize,
    d: usize,
) -> Result<(Covariances, Precisions)> {
    let layout = match covariance_type {
        CovarianceType::Full => format!("({k}, {d}, {d})"),
        CovarianceType::Tied => format!("({d}, {d})"),
        CovarianceType::Diag => format!("({k}, {d})"),
        CovarianceType::Spherical => format!("({k},)"),
    };
    let wrong_shape = |found: String| {
        GmmError::param(
            "precisions_init",
            found,
            format!("{covariance_type} precisions have the shape {layout}"),
        )
    };
    let matrix = |m: &DMatrix<f64>, c: usize| -> Result<DMatrix<f64>> {
        if m.nrows() != d || m.ncols() != d {
            return Err(wrong_shape(format!(
                "a {} × {} matrix",
                m.nrows(),
                m.ncols()
            )));
        }
        let not_spd = || {
            GmmError::param(
                "precisions_init",
                format!("matrix {c}"),
                format!("'{covariance_type} precision' should be symmetric, positive-definite"),
            )
        };
        if m.iter().any(|v| !v.is_finite()) {
            return Err(not_spd());
        }
        // numpy.allclose(P, Pᵀ), as scikit-learn checks.
        let symmetric = (0..d).all(|i| {
            (0..i).all(|j| (m[(i, j)] - m[(j, i)]).abs() <= 1e-8 + 1e-5 * m[(j, i)].abs())
        });
        if !symmetric {
            return Err(not_spd());
        }
        upper_cholesky(m).ok_or_else(not_spd)
    };
    let positive = |v: &[f64]| -> Result<()> {
        if v.iter().all(|x| x.is_finite() && *x > 0.0) {
            Ok(())
        } else {
            Err(GmmError::param(
                "precisions_init",
                "a value ≤ 0 or not finite",
                format!("'{covariance_type} precision' should be positive"),
            ))
        }
    };
    let log_diag = |u: &DMatrix<f64>| u.diagonal().iter().map(|v| v.ln()).sum::<f64>();
    let singular = || {
        GmmError::param(
            "precisions_init",
            "a singular matrix",
            format!("'{covariance_type} precision' should be symmetric, positive-definite"),
        )
    };
    let (covariances, cholesky, log_det) = match (covariance_type, p) {
        (CovarianceType::Full, Covariances::Full(ps)) => {
            if ps.len() != k {
                return Err(wrong_shape(format!("{} matrices", ps.len())));
            }
            let us = ps
                .iter()
                .enumerate()
                .map(|(c, m)| matrix(m, c))
                .collect::<Result<Vec<_>>>()?;
            let covs = us
                .iter()
                .map(|u| covariance_from_precision_cholesky(u).ok_or_else(singular))
                .collect::<Result<Vec<_>>>()?;
            let ld = DVector::from_iterator(k, us.iter().map(log_diag));
            (Covariances::Full(covs), Covariances::Full(us), ld)
        }
        (CovarianceType::Tied, Covariances::Tied(m)) => {
            let u = matrix(m, 0)?;
            let cov = covariance_from_precision_cholesky(&u).ok_or_else(singular)?;
            let ld = DVector::from_element(1, log_diag(&u));
            (Covariances::Tied(cov), Covariances::Tied(u), ld)
        }
        (CovarianceType::Diag, Covariances::Diag(m)) => {
            if m.nrows() != k || m.ncols() != d {
                return Err(wrong_shape(format!("({}, {})", m.nrows(), m.ncols())));
            }
            positive(m.as_slice())?;
            let u = m.map(f64::sqrt);
            let ld =
                DVector::from_iterator(k, u.row_iter().map(|r| r.iter().map(|x| x.ln()).sum()));
            (
                Covariances::Diag(m.map(|x| 1.0 / x)),
                Covariances::Diag(u),
                ld,
            )
        }
        (CovarianceType::Spherical, Covariances::Spherical(v)) => {
            if v.len() != k {
                return Err(wrong_shape(format!("({},)", v.len())));
            }
            positive(v.as_slice())?;
            let u = v.map(f64::sqrt);
            let ld = u.map(f64::ln);
            (
                Covariances::Spherical(v.map(|x| 1.0 / x)),
                Covariances::Spherical(u),
                ld,
            )
        }
        (_, other) => {
            return Err(wrong_shape(match other {
                Covariances::LowRank(_) => "low-rank covariances".to_string(),
                dense => format!("{} precisions", dense.covariance_type()),
            }))
        }
    };
    Ok((
        covariances,
        Precisions {
            cholesky,
            log_det_cholesky: log_det,
        },
    ))
}

/// A [`FitConfig`] checked against data of a given size ([`FitConfig::check`]); it reads as
/// the config it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidFitConfig {
    config: FitConfig,
    n_samples: usize,
    n_features: usize,
}

impl ValidFitConfig {
    /// The settings.
    pub fn config(&self) -> &FitConfig {
        &self.config
    }

    /// The data size the settings were checked against: (N, D).
    pub fn shape(&self) -> (usize, usize) {
        (self.n_samples, self.n_features)
    }
}

impl std::ops::Deref for ValidFitConfig {
    type Target = FitConfig;
    fn deref(&self) -> &FitConfig {
        &self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precisions_init_are_factored_upper_triangular_and_checked_as_scikit_learn_does() {
        let p = DMatrix::from_row_slice(3, 3, &[4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0]);
        let (cov, prec) =
            factor_precisions_init(&Covariances::Tied(p.clone()), CovarianceType::Tied, 2, 3)
                .unwrap();
        let (Covariances::Tied(u), Covariances::Tied(c)) = (&prec.cholesky, &cov) else {
            panic!("tied in, tied out")
        };
        assert!((u * u.transpose() - &p).amax() < 1e-12);
        assert_eq!((u[(1, 0)], u[(2, 0)], u[(2, 1)]), (0.0, 0.0, 0.0));
        assert!((c * &p - DMatrix::<f64>::identity(3, 3)).amax() < 1e-12);
        assert!((prec.log_det_cholesky[0] - 0.5 * p.determinant().ln()).abs() < 1e-12);

        let not_spd = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 1.0]);
        let err = factor_precisions_init(
            &Covariances::Full(vec![not_spd]),
            CovarianceType::Full,
            1,
            2,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("'full precision' should be symmetric, positive-definite"),
            "{err}"
        );
        let err = factor_precisions_init(
            &Covariances::Spherical(DVector::from_vec(vec![1.0, 0.0])),
            CovarianceType::Spherical,
            2,
            3,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("'spherical precision' should be positive"),
            "{err}"
        );
        let err = factor_precisions_init(
            &Covariances::Diag(DMatrix::from_element(2, 3, 1.0)),
            CovarianceType::Full,
            2,
            3,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("(2, 3, 3)"), "{err}");
    }

    #[test]
    fn initial_weights_and_means_are_checked() {
        let base = FitConfig::new(2);
        let bad_sum = base.clone().weights_init(DVector::from_vec(vec![0.5, 0.6]));
        assert!(bad_sum
            .validate(10, 3)
            .unwrap_err()
            .to_string()
            .contains("sum to 1"));
        let negative = base
            .clone()
            .weights_init(DVector::from_vec(vec![1.5, -0.5]));
        assert!(negative
            .validate(10, 3)
            .unwrap_err()
            .to_string()
            .contains("[0, 1]"));
        let shape = base.clone().means_init(DMatrix::zeros(3, 3));
        assert!(shape
            .validate(10, 3)
            .unwrap_err()
            .to_string()
            .contains("(2, 3)"));
        let ok = base
            .weights_init(DVector::from_vec(vec![0.25, 0.75]))
            .means_init(DMatrix::zeros(2, 3))
            .precisions_init(Covariances::Diag(DMatrix::from_element(2, 3, 2.0)))
            .covariance_type(CovarianceType::Diag);
        ok.validate(10, 3).unwrap();
    }
}
