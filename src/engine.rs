//! [`Engine`]: the public face of the backends — the statistics of one EM iteration over some
//! rows, on a device. The EM loop of [`crate::fit()`] drives the same backends; an
//! application drives an engine itself to stream chunks, spread shards over machines, or time
//! an iteration: compute [`SufficientStats`] per chunk, [`SufficientStats::merge`] them, and
//! [`SufficientStats::to_params`].

use nalgebra::DMatrix;

use crate::backend::cpu::CpuBackend;
use crate::backend::lowrank::LowRankBackend;
use crate::backend::missing::MissingDataBackend;
use crate::backend::Backend;
use crate::covariance::CovarianceType;
use crate::device::Device;
use crate::error::{GmmError, Result};
use crate::lowrank::Products;
use crate::params::MixtureParams;
use crate::samples::Samples;
use crate::stats::SufficientStats;

/// EM statistics of a fixed set of samples on one device. The data stay where the engine put
/// them (on the GPU, uploaded once) between calls.
pub struct Engine {
    backend: Box<dyn Backend>,
    /// The device the backend runs on (the CPU for the missing-values backend).
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
    device: Device,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.backend.describe())
    }
}

impl Engine {
    /// An engine for `samples` on `device`: the dense CPU or GPU backend, or the
    /// missing-values backend (CPU) when the samples have missing entries. Data in a GPU
    /// buffer need the GPU device that holds them.
    pub fn new(samples: &Samples<'_>, device: &Device) -> Result<Engine> {
        #[cfg(feature = "gpu")]
        if let Some(buffer) = samples.buffer() {
            let ctx = device.gpu_context().ok_or_else(|| {
                GmmError::param(
                    "device",
                    "cpu",
                    "data in a GPU buffer are processed on the GPU device that holds them",
                )
            })?;
            let b = crate::backend::gpu::GpuBackend::from_buffer(
                ctx,
                buffer,
                samples.n_samples(),
                samples.n_features(),
            )?;
            return Ok(Engine {
                backend: Box::new(b),
                device: device.clone(),
            });
        }
        let x = samples.matrix()?;
        let weights = samples.weights().cloned();
        if samples.has_missing() {
            return Ok(Engine {
                backend: Box::new(MissingDataBackend::new(x)?.with_weights(weights)?),
                device: Device::Cpu,
            });
        }
        let backend: Box<dyn Backend> = match device {
            Device::Cpu => Box::new(CpuBackend::new(x).with_weights(weights)),
            #[cfg(feature = "gpu")]
            Device::Gpu(ctx) => {
                Box::new(crate::backend::gpu::GpuBackend::from_host(ctx, x)?.with_weights(weights))
            }
        };
        Ok(Engine {
            backend,
            device: device.clone(),
        })
    }

    /// An engine on the exact low-rank path (full covariances, N < D): the Gram matrix of the
    /// samples is computed once, on `device` (exact integer products on a GPU).
    pub fn low_rank(samples: &Samples<'_>, device: &Device) -> Result<Engine> {
        let b = LowRankBackend::new_with(samples.matrix()?, &Products::from(device))?
            .with_weights(samples.weights().cloned());
        Ok(Engine {
            backend: Box::new(b),
            device: device.clone(),
        })
    }

    /// The host–device traffic so far of the GPU context this engine runs on (shared with
    /// every engine and query on that context): subtract a snapshot taken before an
    /// iteration from one taken after it. `None` on the CPU.
    #[cfg(feature = "gpu")]
    pub fn traffic(&self) -> Option<crate::gpu::Traffic> {
        self.device.gpu_context().map(|c| c.traffic())
    }

    /// Where the work runs, in a few words.
    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    /// Number of samples N.
    pub fn n_samples(&self) -> usize {
        self.backend.n_samples()
    }

    /// Number of features D.
    pub fn n_features(&self) -> usize {
        self.backend.n_features()
    }

    /// Sets the responsibilities (N × K, rows summing to one), for instance an
    /// initialisation's hard labels.
    pub fn set_responsibilities(&mut self, resp: &DMatrix<f64>) -> Result<()> {
        if resp.iter().any(|v| !v.is_finite() || *v < 0.0) {
            return Err(GmmError::InvalidData(
                "responsibilities must be finite and non-negative".into(),
            ));
        }
        self.backend.set_responsibilities(resp)
    }

    /// The E-step under `params`: keeps the responsibilities and returns `Σ_i log p(x_i)`.
    pub fn e_step(&mut self, params: &MixtureParams) -> Result<f64> {
        self.check(params)?;
        self.backend.e_step(params)
    }

    /// The M-step sums of the kept responsibilities (no log-likelihood).
    pub fn m_step(&mut self, covariance_type: CovarianceType) -> Result<SufficientStats> {
        self.backend.m_step_stats(covariance_type)
    }

    /// One EM iteration's statistics: the E-step under `params`, then the M-step sums.
    pub fn statistics(
        &mut self,
        params: &MixtureParams,
        covariance_type: CovarianceType,
    ) -> Result<SufficientStats> {
        self.check(params)?;
        self.backend.statistics(params, covariance_type)
    }

    /// The kept responsibilities (N × K), on the host.
    pub fn responsibilities(&self) -> Result<DMatrix<f64>> {
        self.backend.responsibilities()
    }

    /// The ridge the M-step will add: a GPU engine checks that its f32 statistics factor
    /// with it and recomputes them in f64 when they do not (default 1e-6).
    pub fn set_reg_covar(&mut self, reg_covar: f64) {
        self.backend.set_reg_covar(reg_covar);
    }

    /// One line per M-step whose GPU statistics were recomputed in f64 or repaired; empty
    /// when the device's own statistics served throughout (always, on the CPU).
    pub fn fallbacks(&self) -> Vec<String> {
        self.backend.fallbacks()
    }

    /// Per-sample log-likelihoods of the last E-step, when the engine keeps them (a GPU
    /// engine does: f32, widened); an error otherwise.
    pub fn log_likelihoods(&self) -> Result<nalgebra::DVector<f64>> {
        self.backend.log_likelihoods()
    }

    /// How many chunks the data are processed in: 1 on the CPU; on a GPU, one per storage
    /// binding (or per [`crate::gpu::GpuContext::with_max_chunk_rows`] rows), known after the
    /// first E-step or `set_responsibilities`.
    pub fn chunks(&self) -> usize {
        self.backend.chunks()
    }

    fn check(&self, params: &MixtureParams) -> Result<()> {
        if params.n_features() != self.n_features() {
            return Err(GmmError::DimensionMismatch {
                expected: params.n_features(),
                found: self.n_features(),
            });
        }
        Ok(())
    }
}
