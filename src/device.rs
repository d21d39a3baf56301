//! Device choice: CPU, GPU, or automatic (GPU when an adapter exists, else CPU, with a notice),
//! and model queries (score, predict) on the chosen device.

use std::fmt;
use std::str::FromStr;

use nalgebra::{DMatrix, DVector};

use crate::error::{GmmError, Result};
use crate::gpu::GpuContext;
use crate::model::GaussianMixture;

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// GPU when an adapter is available, else CPU (saying so).
    #[default]
    Auto,
    /// The f64 CPU path.
    Cpu,
    /// The wgpu path; fails when no adapter is found.
    Gpu,
}

/// Where the work actually runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// The f64 CPU path.
    Cpu,
    /// The wgpu path.
    Gpu,
}

impl FromStr for DeviceChoice {
    type Err = GmmError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "gpu" => Ok(DeviceChoice::Gpu),
            other => Err(GmmError::param("device", other, "use auto, cpu or gpu")),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceChoice::Auto => "auto",
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Gpu => "gpu",
        })
    }
}

/// Resolves a choice to a device, reporting an automatic fallback through `notice`.
pub fn resolve(choice: DeviceChoice, notice: &mut dyn FnMut(&str)) -> Result<Device> {
    match choice {
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Gpu => {
            crate::gpu::check_available()?;
            Ok(Device::Gpu)
        }
        DeviceChoice::Auto => match crate::gpu::check_available() {
            Ok(()) => match GpuContext::shared()?.adapter() {
                // A software rasteriser (lavapipe, llvmpipe, WARP) runs on these same CPU
                // cores in f32, slower than the f64 CPU engine: `auto` does not pick it.
                Some(a) if a.device_type == "Cpu" => {
                    notice(&format!(
                        "the only GPU adapter is a software one ({}); running on the CPU, which is faster (--device gpu forces it)",
                        a.name
                    ));
                    Ok(Device::Cpu)
                }
                _ => Ok(Device::Gpu),
            },
            Err(e) => {
                notice(&format!("no usable GPU ({e}); running on the CPU"));
                Ok(Device::Cpu)
            }
        },
    }
}

/// `log p(x_i)` of every sample (rows of `x`) on the chosen device: f64 on the CPU; on the GPU
/// f32 with the E-step kernels for dense models, exact products and f64 for low-rank ones.
pub fn score_samples(
    model: &GaussianMixture,
    x: &DMatrix<f64>,
    choice: DeviceChoice,
    notice: &mut dyn FnMut(&str),
) -> Result<DVector<f64>> {
    match resolve(choice, notice)? {
        Device::Cpu => model.score_samples(x),
        Device::Gpu => crate::gpu::query::score_samples(&GpuContext::shared()?, model, x),
    }
}

/// Posterior probabilities (N × K) on the chosen device; see [`score_samples`].
pub fn predict_proba(
    model: &GaussianMixture,
    x: &DMatrix<f64>,
    choice: DeviceChoice,
    notice: &mut dyn FnMut(&str),
) -> Result<DMatrix<f64>> {
    match resolve(choice, notice)? {
        Device::Cpu => model.predict_proba(x),
        Device::Gpu => crate::gpu::query::predict_proba(&GpuContext::shared()?, model, x),
    }
}

/// Most probable component of every sample on the chosen device; see [`score_samples`].
pub fn predict(
    model: &GaussianMixture,
    x: &DMatrix<f64>,
    choice: DeviceChoice,
    notice: &mut dyn FnMut(&str),
) -> Result<Vec<usize>> {
    match resolve(choice, notice)? {
        Device::Cpu => model.predict(x),
        Device::Gpu => crate::gpu::query::predict(&GpuContext::shared()?, model, x),
    }
}
