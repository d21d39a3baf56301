//! Queries of a fitted model on a [`Device`]: per-sample log-likelihoods, posterior
//! probabilities, labels and the mean score. On the CPU they are the model's own f64 methods;
//! on a GPU, dense models run the E-step kernels (f32) and low-rank models their projections
//! as exact integer products (f64-accurate).

#[cfg(feature = "gpu")]
mod gpu;

use nalgebra::{DMatrix, DVector};

use crate::device::Device;
use crate::error::{GmmError, Result};
use crate::model::GaussianMixture;

impl GaussianMixture {
    /// `log p(x_i)` of every row of `x` on `device`.
    pub fn score_samples_on(&self, x: &DMatrix<f64>, device: &Device) -> Result<DVector<f64>> {
        match device {
            Device::Cpu => self.score_samples(x),
            #[cfg(feature = "gpu")]
            Device::Gpu(ctx) => gpu::score_samples(ctx, self, x),
        }
    }

    /// The mean of [`GaussianMixture::score_samples_on`].
    pub fn score_on(&self, x: &DMatrix<f64>, device: &Device) -> Result<f64> {
        if x.nrows() == 0 {
            return Err(GmmError::InvalidData("no samples to score".into()));
        }
        Ok(self.score_samples_on(x, device)?.mean())
    }

    /// Posterior probabilities (N × K) of the rows of `x` on `device`.
    pub fn predict_proba_on(&self, x: &DMatrix<f64>, device: &Device) -> Result<DMatrix<f64>> {
        match device {
            Device::Cpu => self.predict_proba(x),
            #[cfg(feature = "gpu")]
            Device::Gpu(ctx) => gpu::predict_proba(ctx, self, x),
        }
    }

    /// The most probable component of every row of `x` on `device`.
    pub fn predict_on(&self, x: &DMatrix<f64>, device: &Device) -> Result<Vec<usize>> {
        match device {
            Device::Cpu => self.predict(x),
            #[cfg(feature = "gpu")]
            Device::Gpu(_) => {
                let p = self.predict_proba_on(x, device)?;
                Ok(p.row_iter().map(|r| r.transpose().imax()).collect())
            }
        }
    }
}
