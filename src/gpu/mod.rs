//! The wgpu path (placeholder until the GPU engine lands).

use nalgebra::DMatrix;

use crate::config::FitConfig;
use crate::em::IterationEvent;
use crate::error::{GmmError, Result};
use crate::model::GaussianMixture;

/// Checks that a GPU adapter can be used.
pub fn check_available() -> Result<()> {
    Err(GmmError::Gpu("the GPU engine is not built yet".into()))
}

/// Fits on the GPU.
pub fn fit(
    _x: &DMatrix<f64>,
    _config: &FitConfig,
    _warm_start: Option<&GaussianMixture>,
    _on_iteration: &mut dyn FnMut(&IterationEvent),
) -> Result<GaussianMixture> {
    check_available()?;
    unreachable!()
}
