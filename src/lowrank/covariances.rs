//! `LowRankCovariances`: full covariances `Σ_k = A_k A_kᵀ + λ I` held as the centred training
//! samples (shared), the per-component sample weights and λ — never a D × D matrix.

use std::borrow::Cow;
use std::sync::Arc;

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

use crate::error::{GmmError, Result};
use crate::lowrank::factor::ComponentFactor;
use crate::lowrank::gemm::times;
use crate::lowrank::training::TrainingSet;

/// Full covariances stored exactly as `Σ_k = A_k A_kᵀ + λ I` without any D × D matrix.
///
/// `A_k = (X_c − μ_k 1ᵀ)ᵀ diag(√w_k)` (D × N), where `X_c` are the centred training samples,
/// `w_k = r_·k / N_k` the component's normalised responsibilities, and `μ_k = X_cᵀ w_k` its
/// weighted mean (relative to the training centre).
#[derive(Debug, Clone, PartialEq)]
pub struct LowRankCovariances {
    pub(crate) training: Arc<TrainingSet>,
    /// `w_k` as columns, N × K.
    pub(crate) weights: DMatrix<f64>,
    /// `μ_k − centre = X_cᵀ w_k` as columns, D × K.
    pub(crate) centred_means: DMatrix<f64>,
    /// The ridge λ (`reg_covar`).
    pub(crate) reg_covar: f64,
    /// The N × N factors, present on the `precisions_cholesky_` side of a model.
    pub(crate) factors: Option<Arc<Vec<ComponentFactor>>>,
}

impl LowRankCovariances {
    /// Covariances for the component weights `weights` (N × K, column k = `r_·k / N_k`) over
    /// `training`, with ridge `reg_covar`.
    pub fn new(training: Arc<TrainingSet>, weights: DMatrix<f64>, reg_covar: f64) -> Result<Self> {
        if weights.nrows() != training.n_samples() {
            return Err(GmmError::InvalidModel(format!(
                "low-rank sample weights have {} rows for {} training samples",
                weights.nrows(),
                training.n_samples()
            )));
        }
        let centred_means = times(training.samples(), &weights);
        Ok(LowRankCovariances {
            training,
            weights,
            centred_means,
            reg_covar,
            factors: None,
        })
    }

    /// The ridge λ.
    pub fn reg_covar(&self) -> f64 {
        self.reg_covar
    }

    /// Adds `reg` to λ (every variance); drops factors computed for the old λ.
    pub fn add_ridge(&mut self, reg: f64) {
        self.reg_covar += reg;
        self.factors = None;
    }

    /// Number of components K.
    pub fn n_components(&self) -> usize {
        self.weights.ncols()
    }

    /// Number of features D.
    pub fn n_features(&self) -> usize {
        self.training.n_features()
    }

    /// Number of training samples N that span the covariances.
    pub fn n_samples(&self) -> usize {
        self.training.n_samples()
    }

    /// The per-component sample weights (N × K, column k sums to one unless the component is
    /// empty).
    pub fn sample_weights(&self) -> &DMatrix<f64> {
        &self.weights
    }

    /// The training samples the covariances are built on.
    pub fn training(&self) -> &Arc<TrainingSet> {
        &self.training
    }

    /// The weighted means `μ_k = centre + X_cᵀ w_k` (K × D), around which `A_k` is centred.
    pub fn weighted_means(&self) -> DMatrix<f64> {
        let c = self.training.centre();
        DMatrix::from_fn(self.n_components(), self.n_features(), |k, j| {
            c[j] + self.centred_means[(j, k)]
        })
    }

    /// The factors of the N × N systems, computed now if this value does not carry them.
    pub fn factors(&self) -> Result<Cow<'_, [ComponentFactor]>> {
        match &self.factors {
            Some(f) => Ok(Cow::Borrowed(f.as_slice())),
            None => Ok(Cow::Owned(self.factorise()?)),
        }
    }

    fn factorise(&self) -> Result<Vec<ComponentFactor>> {
        if self.reg_covar.is_nan() || self.reg_covar <= 0.0 {
            return Err(GmmError::NotPositiveDefinite {
                component: 0,
                reg_covar: self.reg_covar,
                detail: "with fewer samples than features a full covariance is singular unless reg_covar > 0".into(),
            });
        }
        (0..self.n_components())
            .into_par_iter()
            .map(|k| {
                ComponentFactor::new(
                    &self.training,
                    self.weights.column(k).as_slice(),
                    self.reg_covar,
                    k,
                )
            })
            .collect()
    }

    /// Factors the N × N systems: a copy of these covariances that carries its factors (the
    /// precision side of a model), and `-½ log det Σ_k` per component.
    pub fn with_factors(&self) -> Result<(LowRankCovariances, DVector<f64>)> {
        let factors = self.factorise()?;
        let log_det_cholesky =
            DVector::from_iterator(factors.len(), factors.iter().map(|f| -0.5 * f.log_det()));
        let mut with_factors = self.clone();
        with_factors.factors = Some(Arc::new(factors));
        Ok((with_factors, log_det_cholesky))
    }

    /// Checks that every stored number is finite.
    pub fn check_finite(&self) -> Result<()> {
        let bad = |what: &str| {
            Err(GmmError::InvalidModel(format!(
                "low-rank covariances: {what} has a non-finite entry; the fit diverged or the model file is damaged"
            )))
        };
        if !self.reg_covar.is_finite() {
            return bad("reg_covar");
        }
        if let Some(k) = (0..self.weights.ncols())
            .find(|&k| self.weights.column(k).iter().any(|v| !v.is_finite()))
        {
            return bad(&format!("the sample weights of component {k}"));
        }
        if self.centred_means.iter().any(|v| !v.is_finite()) {
            return bad("the weighted means");
        }
        if !self.training.is_finite() {
            return bad("the training data");
        }
        Ok(())
    }

    /// Checks shapes against K components and D features, and the weights and λ.
    pub fn validate(&self, k: usize, d: usize) -> Result<()> {
        let bad = |what: String| {
            Err(GmmError::InvalidModel(format!(
                "low-rank covariances: {what}"
            )))
        };
        if self.n_components() != k {
            return bad(format!(
                "sample weights for {} components, but the model has {k}",
                self.n_components()
            ));
        }
        if self.n_features() != d {
            return bad(format!(
                "training data with {} features, but the model has {d}",
                self.n_features()
            ));
        }
        if self.weights.nrows() != self.n_samples()
            || self.centred_means.shape() != (d, k)
            || self.training.gram().shape() != (self.n_samples(), self.n_samples())
        {
            return bad("inconsistent array shapes".into());
        }
        if !(self.reg_covar > 0.0 && self.reg_covar.is_finite()) {
            return bad(format!(
                "reg_covar is {}; it must be finite and > 0 (with fewer samples than features Σ is singular otherwise)",
                self.reg_covar
            ));
        }
        for c in 0..k {
            let col = self.weights.column(c);
            if col.iter().any(|v| v.is_nan() || *v < 0.0) {
                return bad(format!("component {c} has a negative or NaN sample weight"));
            }
            let sum = col.sum();
            if sum > 1.0 + 1e-6 {
                return bad(format!(
                    "the sample weights of component {c} sum to {sum}, more than 1; they must be responsibilities divided by their sum"
                ));
            }
        }
        if let Some(f) = &self.factors {
            if f.len() != k {
                return bad(format!("{} factors for {k} components", f.len()));
            }
        }
        Ok(())
    }

    /// The dense D × D covariances, one per component, if `K · D² · 8` bytes fit in
    /// `max_bytes`. Only for export and checks: nothing in the low-rank path needs them.
    pub fn to_dense(&self, max_bytes: usize) -> Result<Vec<DMatrix<f64>>> {
        let (k, d, n) = (self.n_components(), self.n_features(), self.n_samples());
        let bytes = (k as u128) * (d as u128) * (d as u128) * 8;
        if bytes > max_bytes as u128 {
            return Err(GmmError::InvalidParameter {
                name: "dense export",
                value: format!("{k} × {d} × {d} covariances ({})", size(bytes as f64)),
                hint: format!(
                    "that exceeds the allowed {}; keep the low-rank form (it scores, predicts and samples exactly) or allow more (max_gb)",
                    size(max_bytes as f64)
                ),
            });
        }
        let samples = self.training.samples();
        let mats = (0..k)
            .map(|c| {
                let mu = self.centred_means.column(c);
                let mut a = DMatrix::<f64>::zeros(d, n);
                for i in 0..n {
                    let s = self.weights[(i, c)].sqrt();
                    let mut col = a.column_mut(i);
                    col.copy_from(&samples.column(i));
                    col -= &mu;
                    col *= s;
                }
                let aat = times(&a, &a.transpose());
                let mut sigma = (&aat + aat.transpose()) * 0.5;
                for j in 0..d {
                    sigma[(j, j)] += self.reg_covar;
                }
                sigma
            })
            .collect();
        Ok(mats)
    }
}

/// A byte count for people: `3.2 GB`, `41 MB`, `12 kB`, `800 bytes`.
fn size(bytes: f64) -> String {
    if bytes >= 1e9 {
        format!("{:.1} GB", bytes / 1e9)
    } else if bytes >= 1e6 {
        format!("{:.0} MB", bytes / 1e6)
    } else if bytes >= 1e3 {
        format!("{:.0} kB", bytes / 1e3)
    } else {
        format!("{bytes:.0} bytes")
    }
}
