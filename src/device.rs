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

/// With [`DeviceChoice::Auto`], a dense EM fit runs on the GPU only when an iteration is
/// worth at least this many flops (about 2 N K D² for full and tied covariances, 8 N K D for
/// diag and spherical ones): below it the CPU's iteration takes tens of milliseconds, which a
/// GPU's start (device, kernels, upload) does not win back, and the probe for an adapter is
/// skipped (scikit-learn's digits, 1 797 × 64 with K = 10 full, is 1.5·10⁸).
pub const AUTO_GPU_EM_FLOPS: f64 = 5e8;

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
    /// Queries of a fitted model, or a dense EM fit of unknown size.
    Dense,
    /// A dense EM fit of N samples × D features with K components.
    Em {
        /// Samples N.
        n: usize,
        /// Features D.
        d: usize,
        /// Components K.
        k: usize,
        /// Full and tied covariances cost O(D²) per sample and component, the others O(D).
        quadratic: bool,
    },
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
    /// the low-rank path, no GPU below [`AUTO_GPU_GRAM_FLOPS`]; for a dense EM fit of known
    /// size, no GPU below [`AUTO_GPU_EM_FLOPS`] per iteration. Below those sizes no adapter
    /// is probed.
    pub fn resolve(self, work: Work, notice: &mut dyn FnMut(&str)) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Gpu => gpu_device(),
            DeviceChoice::Auto if !DeviceChoice::Auto.probes(work) => Ok(Device::Cpu),
            DeviceChoice::Auto => auto_device(notice),
        }
    }

    /// Whether resolving this choice for `work` looks for a GPU adapter: `gpu` always, `cpu`
    /// never, `auto` unless the work is below [`AUTO_GPU_GRAM_FLOPS`] (low-rank) or
    /// [`AUTO_GPU_EM_FLOPS`] (a dense EM fit of known size).
    pub fn probes(self, work: Work) -> bool {
        match self {
            DeviceChoice::Cpu => false,
            DeviceChoice::Gpu => true,
            DeviceChoice::Auto => match work {
                Work::LowRank { n, d } => {
                    2.0 * (n as f64).powi(2) * d as f64 >= AUTO_GPU_GRAM_FLOPS
                }
                Work::Em { n, d, k, quadratic } => {
                    let (n, d, k) = (n as f64, d as f64, k as f64);
                    let per_pair = if quadratic {
                        2.0 * d * (d + 1.0)
                    } else {
                        8.0 * d
                    };
                    n * k * per_pair >= AUTO_GPU_EM_FLOPS
                }
                Work::Dense => true,
            },
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

/// What `auto` gives for dense work, decided once per process (by [`AutoProbe`] in the
/// background, or by the first `resolve`), with the notice that explains a CPU.
#[cfg(feature = "gpu")]
static AUTO_DENSE: std::sync::OnceLock<(Device, Option<String>)> = std::sync::OnceLock::new();

#[cfg(feature = "gpu")]
fn auto_device(notice: &mut dyn FnMut(&str)) -> Result<Device> {
    let (device, why) = AUTO_DENSE.get_or_init(probe);
    if let Some(why) = why {
        notice(why);
    }
    Ok(device.clone())
}

/// Opens the default GPU device and keeps it unless it is missing or a software rasteriser.
#[cfg(feature = "gpu")]
fn probe() -> (Device, Option<String>) {
    match Device::gpu() {
        Ok(Device::Gpu(ctx)) => match ctx.adapter() {
            Some(a) if a.device_type == "Cpu" => (
                Device::Cpu,
                Some(format!(
                    "the only GPU adapter is a software one ({}); running on the CPU, which is faster (device=gpu forces it)",
                    a.name
                )),
            ),
            _ => (Device::Gpu(ctx), None),
        },
        Ok(cpu) => (cpu, None),
        Err(e) => (Device::Cpu, Some(format!("no usable GPU ({e}); running on the CPU"))),
    }
}

/// Decides what `auto` means on a background thread, so that probing the GPU (tens of
/// milliseconds for a Vulkan instance and device, even on a machine with only a software
/// adapter) overlaps with reading the data. The first `resolve` of `auto` then waits for
/// the probe instead of running it; dropping the guard waits for it too, so that the process
/// never exits while the driver is still being set up.
#[must_use = "dropping the probe waits for it"]
pub struct AutoProbe {
    #[cfg(feature = "gpu")]
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AutoProbe {
    /// Starts the probe (without the `gpu` feature, nothing to probe).
    pub fn start() -> AutoProbe {
        #[cfg(feature = "gpu")]
        {
            let thread = std::thread::Builder::new()
                .name("gaussmix-gpu-probe".into())
                .spawn(|| {
                    AUTO_DENSE.get_or_init(probe);
                })
                .ok();
            AutoProbe { thread }
        }
        #[cfg(not(feature = "gpu"))]
        AutoProbe {}
    }
}

impl Drop for AutoProbe {
    fn drop(&mut self) {
        #[cfg(feature = "gpu")]
        if let Some(t) = self.thread.take() {
            let _ = t.join();
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

    #[test]
    fn auto_keeps_small_em_fits_on_the_cpu_without_a_probe() {
        // The digits (1.5·10⁸ flops per iteration), whatever adapter there is; no notice,
        // because no adapter was looked at.
        let work = Work::Em {
            n: 1797,
            d: 64,
            k: 10,
            quadratic: true,
        };
        let mut notices = Vec::new();
        let dev = DeviceChoice::Auto
            .resolve(work, &mut |s| notices.push(s.to_string()))
            .unwrap();
        assert!(!dev.is_gpu());
        assert!(notices.is_empty(), "{notices:?}");
        // A diag fit of the same size is cheaper still.
        let diag = Work::Em {
            n: 1797,
            d: 64,
            k: 10,
            quadratic: false,
        };
        assert!(!DeviceChoice::Auto
            .resolve(diag, &mut |_| {})
            .unwrap()
            .is_gpu());
    }
}
