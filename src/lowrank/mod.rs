//! Exact full-covariance mixtures when samples are fewer than dimensions (N < D).
//!
//! Placeholder: the representation is filled in by the high-dimensional work (issue 4).

use nalgebra::{DMatrix, DMatrixView};

use crate::covariance::Precisions;
use crate::error::{GmmError, Result};

/// Full covariances stored exactly as `Σ_k = A_k A_kᵀ + λ I` without any D × D matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct LowRankCovariances {
    /// The ridge λ (`reg_covar`).
    pub reg_covar: f64,
}

impl LowRankCovariances {
    /// Checks that every stored number is finite.
    pub fn check_finite(&self) -> Result<()> {
        Ok(())
    }

    /// Checks shapes against K components and D features.
    pub fn validate(&self, _k: usize, _d: usize) -> Result<()> {
        Ok(())
    }

    /// Factors the N × N systems.
    pub fn compute_precisions(&self) -> Result<Precisions> {
        Err(GmmError::InvalidModel(
            "low-rank covariances are not available yet".into(),
        ))
    }

    /// Log-densities `log N(x | μ_k, Σ_k)` for a block of samples stored as columns (D × n),
    /// written into `out` (K × n).
    pub fn log_gaussian_prob(
        &self,
        _precisions: &Precisions,
        _means: &DMatrix<f64>,
        _xt: DMatrixView<'_, f64>,
        _out: &mut DMatrix<f64>,
    ) -> Result<()> {
        Err(GmmError::InvalidModel(
            "low-rank covariances are not available yet".into(),
        ))
    }
}

impl LowRankCovariances {
    /// Maps standard-normal columns `z` (D × m) to centred draws of component `k`.
    pub fn sample_centred(
        &self,
        _k: usize,
        _z: DMatrix<f64>,
        _rng: &mut impl rand::Rng,
    ) -> Result<DMatrix<f64>> {
        Err(GmmError::InvalidModel(
            "low-rank covariances are not available yet".into(),
        ))
    }
}

/// Whether the exact low-rank path costs fewer flops than the dense one for N × D data and K
/// full components.
pub fn is_cheaper(_n: usize, _d: usize, _k: usize) -> bool {
    false
}

/// Fits full covariances through the low-rank path.
pub fn fit(
    _x: &DMatrix<f64>,
    _config: &crate::config::FitConfig,
    _device: crate::device::Device,
    _warm_start: Option<&crate::model::GaussianMixture>,
    _on_iteration: &mut dyn FnMut(&crate::em::IterationEvent),
) -> Result<crate::model::GaussianMixture> {
    Err(GmmError::InvalidModel(
        "low-rank covariances are not available yet".into(),
    ))
}

impl LowRankCovariances {
    /// The arrays this representation stores in a model file (names and shapes documented in
    /// the README), beside `weights_` and `means_`.
    pub fn to_arrays(&self) -> Vec<(String, crate::array::NdArray)> {
        vec![(
            "reg_covar".into(),
            crate::array::NdArray::scalar(self.reg_covar),
        )]
    }

    /// Rebuilds the representation from a model file's arrays.
    pub fn from_arrays(
        arrays: &std::collections::BTreeMap<String, crate::array::NdArray>,
    ) -> Result<Self> {
        let _ = arrays;
        Err(GmmError::InvalidModel(
            "low-rank covariances are not available yet".into(),
        ))
    }
}
