//! Where the work runs: a [`Device`] carries what it runs on (nothing for the CPU, a wgpu
//! device and queue for the GPU), and every fit and query takes one. A [`DeviceChoice`]
//! (`auto`, `cpu`, `gpu`) resolves to a device here, in one place that holds the whole
//! automatic policy.

use std::fmt;
use std::str::FromStr;

use crate::error::{GmmError, Result};
#[cfg(feature = "gpu")]
use crate::gpu::GpuContext;

/// With [`DeviceChoice::Auto`], the low-rank path computes its Gram matrix (2 N² D flops) on
/// the GPU only above this size: below it the CPU's f64 GEMM takes well under a second (the
/// faces, 1.3·10⁹ flops, take 12 ms), less than the GPU's upload, 21-fold integer work and
/// read-back.
pub const AUTO_GPU_GRAM_FLOPS: f64 = 1e11;

/// A device to run on. Cheap to clone (the GPU context is shared).
#[derive(Clone, Debug, Default)]
pub enum Device {
    /// The f64 CPU engine (rayon over all cores).
    #[default]
    Cpu,
    /// A wgpu device and queue: created headless by gaussmix ([`Device::gpu`]) or handed in by
    /// an application ([`Device::from_wgpu`]).
    #[cfg(feature = "gpu")]
    Gpu(GpuContext),
}

impl Device {
    /// The process's default headless GPU device (created on first use and shared, so its
    /// compiled kernels serve every later call). Fails with [`GmmError::GpuUnavailable`] when
    /// no adapter can be opened.
    #[cfg(feature = "gpu")]
    pub fn gpu() -> Result<Device> {
        Ok(Device::Gpu(GpuContext::shared()?))
    }

    /// A device and queue that another wgpu application owns. Their error handlers and
    /// device-lost callback are left alone; the engine's own failures come back as errors.
    #[cfg(feature = "gpu")]
    pub fn from_wgpu(device: &wgpu::Device, queue: &wgpu::Queue) -> Device {
        Device::Gpu(GpuContext::from_device(device, queue))
    }

    /// Whether this is a GPU device.
    pub fn is_gpu(&self) -> bool {
        !matches!(self, Device::Cpu)
    }

    /// The GPU context, for a GPU device.
    #[cfg(feature = "gpu")]
    pub fn gpu_context(&self) -> Option<&GpuContext> {
        match self {
            Device::Gpu(ctx) => Some(ctx),
            Device::Cpu => None,
        }
    }

    /// One line saying what this device is.
    pub fn describe(&self) -> String {
        match self {
            Device::Cpu => format!("cpu (f64, {} threads)", rayon::current_num_threads()),
            #[cfg(feature = "gpu")]
            Device::Gpu(ctx) => ctx.describe(),
        }
    }
}

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// A hardware GPU when one is usable and worth it, else the CPU (saying why).
    #[default]
    Auto,
    /// The f64 CPU engine.
    Cpu,
    /// The default GPU; fails when no adapter is found.
    Gpu,
}

/// The work a device is chosen for: the automatic policy depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// A dense EM fit, or queries of a fitted model.
    Dense,
    /// The exact low-rank path on N × D data, whose only GPU work is its Gram matrix.
    LowRank {
        /// Samples N.
        n: usize,
        /// Features D.
        d: usize,
    },
}

impl DeviceChoice {
    /// The device this choice gives for `work`; `notice` hears why `auto` chose the CPU.
    ///
    /// The policy of `auto`: no GPU when no adapter opens; no software rasteriser (lavapipe,
    /// llvmpipe, WARP: they run f32 on the CPU's own cores, slower than the f64 engine); for
    /// the low-rank path, no GPU below [`AUTO_GPU_GRAM_FLOPS`].
    pub fn resolve(self, work: Work, notice: &mut dyn FnMut(&str)) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Gpu => gpu_device(),
            DeviceChoice::Auto => {
                if let Work::LowRank { n, d } = work {
                    let gram_flops = 2.0 * (n as f64).powi(2) * d as f64;
                    if gram_flops < AUTO_GPU_GRAM_FLOPS {
                        return Ok(Device::Cpu);
                    }
                }
                auto_device(notice)
            }
        }
    }
}

#[cfg(feature = "gpu")]
fn gpu_device() -> Result<Device> {
    Device::gpu()
}

#[cfg(not(feature = "gpu"))]
fn gpu_device() -> Result<Device> {
    Err(GmmError::GpuUnavailable(
        "this build of gaussmix has no GPU engine (built without the `gpu` feature); use device=cpu".into(),
    ))
}

#[cfg(feature = "gpu")]
fn auto_device(notice: &mut dyn FnMut(&str)) -> Result<Device> {
    match Device::gpu() {
        Ok(Device::Gpu(ctx)) => match ctx.adapter() {
            Some(a) if a.device_type == "Cpu" => {
                notice(&format!(
                    "the only GPU adapter is a software one ({}); running on the CPU, which is faster (device=gpu forces it)",
                    a.name
                ));
                Ok(Device::Cpu)
            }
            _ => Ok(Device::Gpu(ctx)),
        },
        Ok(cpu) => Ok(cpu),
        Err(e) => {
            notice(&format!("no usable GPU ({e}); running on the CPU"));
            Ok(Device::Cpu)
        }
    }
}

#[cfg(not(feature = "gpu"))]
fn auto_device(_notice: &mut dyn FnMut(&str)) -> Result<Device> {
    Ok(Device::Cpu)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_keeps_small_gram_matrices_on_the_cpu() {
        // The faces: 1.3·10⁹ flops — the CPU, whatever adapter there is, and without a probe.
        let work = Work::LowRank { n: 400, d: 4096 };
        let dev = DeviceChoice::Auto.resolve(work, &mut |_| {}).unwrap();
        assert!(!dev.is_gpu());
        assert!(!DeviceChoice::Cpu
            .resolve(Work::LowRank { n: 5000, d: 65536 }, &mut |_| {})
            .unwrap()
            .is_gpu());
    }
}
