//! Device choice: CPU, GPU, or automatic (GPU when an adapter exists, else CPU, with a notice).

use std::fmt;
use std::str::FromStr;

use crate::error::{GmmError, Result};

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
            Ok(()) => Ok(Device::Gpu),
            Err(e) => {
                notice(&format!("no usable GPU ({e}); running on the CPU"));
                Ok(Device::Cpu)
            }
        },
    }
}
