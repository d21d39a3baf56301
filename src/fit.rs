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

/// With `--device auto`, the low-rank path computes its Gram matrix (2 N² D flops) on the GPU
/// only above this size: below it the CPU's f64 GEMM takes well under a second (the faces,
/// 1.3·10⁹ flops, take 12 ms), less than the GPU's upload, 21-fold integer work and read-back.
pub const AUTO_GPU_GRAM_FLOPS: f64 = 1e11;

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

/// Where the low-rank path of N × D data runs, given the user's choice and the device it
/// resolved to: `auto` keeps a small Gram matrix on the CPU.
fn low_rank_device(choice: DeviceChoice, resolved: Device, n: usize, d: usize) -> Device {
    let gram_flops = 2.0 * (n as f64).powi(2) * d as f64;
    if choice == DeviceChoice::Auto && gram_flops < AUTO_GPU_GRAM_FLOPS {
        Device::Cpu
    } else {
        resolved
    }
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
        let resolved = device;
        let device = low_rank_device(options.device, resolved, x.nrows(), x.ncols());
        if resolved == Device::Gpu && device == Device::Cpu {
            say("the exact low-rank path (fewer samples than dimensions) runs on the CPU: its Gram matrix is too small to gain from the GPU (--device gpu forces it)");
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_keeps_small_gram_matrices_on_the_cpu_and_gpu_forces_the_gpu() {
        use DeviceChoice::{Auto, Cpu, Gpu};
        // The faces: 1.3·10⁹ flops.
        assert_eq!(low_rank_device(Auto, Device::Gpu, 400, 4096), Device::Cpu);
        assert_eq!(low_rank_device(Gpu, Device::Gpu, 400, 4096), Device::Gpu);
        // 5000 × 65536: 3.3·10¹² flops.
        assert_eq!(low_rank_device(Auto, Device::Gpu, 5000, 65536), Device::Gpu);
        assert_eq!(low_rank_device(Auto, Device::Cpu, 5000, 65536), Device::Cpu);
        assert_eq!(low_rank_device(Cpu, Device::Cpu, 5000, 65536), Device::Cpu);
    }
}
