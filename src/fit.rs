//! The one entry point that fits a mixture: validates the data, picks the path (dense or exact
//! low-rank full covariances) and the device (CPU or GPU), and runs the shared EM loop.

use nalgebra::DMatrix;

use crate::config::FitConfig;
use crate::covariance::CovarianceType;
use crate::device::{resolve, Device, DeviceChoice};
use crate::em::IterationEvent;
use crate::error::Result;
use crate::model::GaussianMixture;
use crate::validate::check_fit_data;

/// Which representation full covariances use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FullPath {
    /// Chosen by flop count (low-rank when it is cheaper, typically N < D).
    #[default]
    Auto,
    /// Dense D × D matrices.
    Dense,
    /// Exact low-rank-plus-ridge factors (never a D × D matrix).
    LowRank,
}

/// Options of a fit beyond the model settings.
#[derive(Default)]
pub struct FitOptions<'a> {
    /// Where to run.
    pub device: DeviceChoice,
    /// Representation of full covariances.
    pub full_path: FullPath,
    /// Continue from this model instead of initialising.
    pub warm_start: Option<&'a GaussianMixture>,
    /// Called with one line of information (device chosen, fallbacks) for the user.
    pub notice: Option<&'a mut dyn FnMut(&str)>,
}

/// Fits a mixture to `x` (N × D, one sample per row).
pub fn fit(
    x: &DMatrix<f64>,
    config: &FitConfig,
    mut options: FitOptions<'_>,
    on_iteration: &mut dyn FnMut(&IterationEvent),
) -> Result<GaussianMixture> {
    check_fit_data(x)?;
    config.validate(x.nrows(), x.ncols())?;
    let mut say = |s: &str| {
        if let Some(n) = options.notice.as_mut() {
            n(s)
        }
    };
    let device = resolve(options.device, &mut say)?;
    let low_rank = config.covariance_type == CovarianceType::Full
        && match options.full_path {
            FullPath::Dense => false,
            FullPath::LowRank => true,
            FullPath::Auto => crate::lowrank::is_cheaper(x.nrows(), x.ncols(), config.n_components),
        };
    if low_rank {
        if device == Device::Gpu {
            say("the exact low-rank path (fewer samples than dimensions): the Gram matrix is computed on the GPU with exact integer products, the N × N factorisations of every iteration on the CPU in f64");
        }
        return crate::lowrank::fit(x, config, device, options.warm_start, on_iteration);
    }
    match device {
        Device::Cpu => {
            GaussianMixture::fit_with_progress(x, config, options.warm_start, on_iteration)
        }
        Device::Gpu => crate::gpu::fit(x, config, options.warm_start, &mut say, on_iteration),
    }
}
