//! The one way to fit: [`fit()`] takes validated [`Samples`], the settings and
//! [`FitOptions`], chooses the path — dense or exact low-rank full covariances, with or without
//! missing values, from the host or from an application's GPU buffer — and the [`Device`], and
//! runs the shared EM loop. [`GaussianMixture::fit`] is the one-line door over it.

mod distributed;
mod paths;

use std::ops::ControlFlow;

use nalgebra::DMatrix;

use crate::config::{FitConfig, ValidFitConfig};
use crate::covariance::CovarianceType;
use crate::device::{Device, DeviceChoice, Work};
use crate::em::{IterationEvent, Progress};
use crate::error::{GmmError, Result};
use crate::model::GaussianMixture;
use crate::samples::Samples;

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

impl std::str::FromStr for FullPath {
    type Err = GmmError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(FullPath::Auto),
            "dense" => Ok(FullPath::Dense),
            "low-rank" | "lowrank" | "low_rank" => Ok(FullPath::LowRank),
            other => Err(GmmError::param(
                "full_path",
                other,
                "use auto, dense or low-rank",
            )),
        }
    }
}

/// Options of a fit beyond the model settings; every one has a default.
#[derive(Default)]
pub struct FitOptions<'a> {
    /// Where to run, when no device is handed in ([`FitOptions::on`]); default `auto`.
    pub device: DeviceChoice,
    /// A device to run on (for example an application's own wgpu device); overrides
    /// `device`.
    pub on: Option<&'a Device>,
    /// Representation of full covariances.
    pub full_path: FullPath,
    /// Continue from this model instead of initialising (scikit-learn's `warm_start`).
    pub warm_start: Option<&'a GaussianMixture>,
    /// Hears one line of information for the user (device chosen, fallbacks).
    pub notice: Option<&'a mut dyn FnMut(&str)>,
    /// Hears every EM iteration, and may stop the fit.
    pub progress: Option<Progress<'a>>,
}

impl<'a> FitOptions<'a> {
    /// The defaults: `auto` device and full path, no warm start, no callbacks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the device choice.
    pub fn device(mut self, device: DeviceChoice) -> Self {
        self.device = device;
        self
    }

    /// Runs on `device` (a GPU context an application handed in, say).
    pub fn on(mut self, device: &'a Device) -> Self {
        self.on = Some(device);
        self
    }

    /// Sets the representation of full covariances.
    pub fn full_path(mut self, full_path: FullPath) -> Self {
        self.full_path = full_path;
        self
    }

    /// Continues from `model`.
    pub fn warm_start(mut self, model: &'a GaussianMixture) -> Self {
        self.warm_start = Some(model);
        self
    }

    /// Sends notices to `notice`.
    pub fn notice(mut self, notice: &'a mut dyn FnMut(&str)) -> Self {
        self.notice = Some(notice);
        self
    }

    /// Reports every iteration to `progress`.
    pub fn progress(mut self, progress: Progress<'a>) -> Self {
        self.progress = Some(progress);
        self
    }
}

/// Fits a Gaussian mixture to `samples` with the settings `config`.
///
/// - Full covariances take the exact low-rank path when it is cheaper (N < D, see
///   [`crate::lowrank`]) unless `options.full_path` says otherwise.
/// - Samples with missing values ([`Samples::with_missing`]) are fitted by EM on the
///   observed-data likelihood, on the CPU.
/// - Samples in a GPU buffer ([`Samples::gpu_buffer`]) need the device that holds them
///   (`options.on`), and an initialisation that does not read the data (labels or a warm
///   start).
/// - With the same seed, CPU fits are bit-identical whatever the number of threads.
pub fn fit(
    samples: &Samples<'_>,
    config: &FitConfig,
    options: FitOptions<'_>,
) -> Result<GaussianMixture> {
    let (n, d) = (samples.n_samples(), samples.n_features());
    if n < 2 {
        return Err(GmmError::InvalidData(format!(
            "{n} samples: a mixture needs at least two samples to estimate a covariance"
        )));
    }
    let config = config.check(n, d)?;
    let FitOptions {
        device: choice,
        on,
        full_path,
        warm_start,
        mut notice,
        progress,
    } = options;
    let mut say = |s: &str| {
        if let Some(f) = notice.as_mut() {
            f(s)
        }
    };
    let weights = samples.weights().cloned();
    let mut quiet = |_: &IterationEvent| ControlFlow::Continue(());
    let progress = progress.unwrap_or(&mut quiet);

    #[cfg(feature = "gpu")]
    if let Some(buffer) = samples.buffer() {
        let ctx = on.and_then(Device::gpu_context).ok_or_else(|| {
            GmmError::param(
                "device",
                "none",
                "data in a GPU buffer are fitted on the device that holds them: pass it with FitOptions::on(&Device::from_wgpu(&device, &queue))",
            )
        })?;
        if samples.weights().is_some() {
            return Err(GmmError::param(
                "sample_weight",
                "given",
                "data in a GPU buffer are fitted without sample weights; fit host data to weigh samples",
            ));
        }
        return paths::fit_buffer(ctx, buffer, &config, warm_start, progress);
    }
    if let Some(part) = samples.distributed_part() {
        if config.variational.is_some() {
            return Err(GmmError::param(
                "variational",
                "priors",
                "a distributed variational fit is not supported (its default priors need every row in one place); fit on one process",
            ));
        }
        if config.covariance_type == CovarianceType::Full
            && (full_path == FullPath::LowRank
                || (full_path == FullPath::Auto
                    && crate::lowrank::is_cheaper(n, d, config.n_components)))
        {
            return Err(GmmError::param(
                "full_path",
                "low-rank",
                format!(
                    "{n} samples of {d} features take the exact low-rank path, which is not distributed: its N × N Gram matrix needs every pair of rows, so each member would receive all the data ({:.1} MB) anyway, and they fit on one machine; fit on one process, or force full_path=dense",
                    (n * d * 8) as f64 / 1e6
                ),
            ));
        }
        let device = device_for(on, choice, Work::Dense, &mut say);
        return distributed::fit_distributed(part, &config, device, warm_start, progress);
    }
    if let Some(stream) = samples.stream() {
        if samples.weights().is_some() {
            return Err(GmmError::param(
                "sample_weight",
                "given",
                "a streamed fit takes no sample weights yet; fit in memory to weigh samples",
            ));
        }
        let device = device_for(on, choice, Work::Dense, &mut say)?;
        return paths::fit_streamed(stream, &config, &device, warm_start, progress);
    }
    if samples.has_missing() {
        if config.variational.is_some() {
            return Err(GmmError::param(
                "variational",
                "priors",
                "a variational fit needs complete data: the missing-value EM is maximum likelihood only; impute the data first or fit without priors",
            ));
        }
        let x = samples.matrix()?;
        if on.is_some_and(Device::is_gpu) || choice == DeviceChoice::Gpu {
            say("EM with missing values runs on the CPU (f64): the GPU engine has no missing-value E-step");
        }
        if warm_start.is_some() {
            return Err(GmmError::param(
                "warm_start",
                "a model",
                "a fit with missing values starts from its own initialisation; fill the missing values (impute) to continue from a model",
            ));
        }
        return paths::fit_missing(x, weights, &config, progress);
    }
    let low_rank = config.covariance_type == CovarianceType::Full
        && match full_path {
            FullPath::Dense => false,
            FullPath::LowRank => true,
            FullPath::Auto => {
                config.variational.is_none()
                    && crate::lowrank::is_cheaper(n, d, config.n_components)
            }
        };
    if config.variational.is_some() {
        check_variational_path(n, d, &config, low_rank)?;
    }
    if low_rank {
        let device = device_for(on, choice, Work::LowRank { n, d }, &mut say)?;
        if device.is_gpu() {
            say("the exact low-rank path (fewer samples than dimensions): the Gram matrix is computed on the GPU with exact integer products, the N × N factorisations of every iteration on the CPU in f64");
        } else if choice == DeviceChoice::Auto && on.is_none() {
            say("the exact low-rank path (fewer samples than dimensions) runs on the CPU: its Gram matrix is too small to gain from a GPU (device=gpu forces it)");
        }
        return paths::fit_low_rank(
            samples.matrix()?,
            weights,
            &config,
            &device,
            warm_start,
            progress,
        );
    }
    let work = Work::Em {
        n,
        d,
        k: config.n_components,
        quadratic: matches!(
            config.covariance_type,
            CovarianceType::Full | CovarianceType::Tied
        ),
    };
    let device = device_for(on, choice, work, &mut say)?;
    match &device {
        Device::Cpu => match samples.columns() {
            Some(xt) => paths::fit_cpu_columns(xt, weights, &config, warm_start, progress),
            None => paths::fit_cpu(samples.matrix()?, weights, &config, warm_start, progress),
        },
        #[cfg(feature = "gpu")]
        Device::Gpu(ctx) => {
            let x = samples.matrix()?;
            paths::fit_gpu(ctx, x, weights, &config, warm_start, &mut say, progress)
        }
    }
}

/// The device the caller handed in, or the one `choice` resolves to for `work`.
fn device_for(
    on: Option<&Device>,
    choice: DeviceChoice,
    work: Work,
    say: &mut dyn FnMut(&str),
) -> Result<Device> {
    match on {
        Some(dev) => Ok(dev.clone()),
        None => choice.resolve(work, say),
    }
}

/// The largest dense full covariances a variational fit builds (K·D² doubles) before it
/// refuses: 2 GB.
const VARIATIONAL_DENSE_LIMIT_BYTES: f64 = 2e9;

/// A variational fit of full covariances has no exact low-rank form: its Wishart prior adds
/// the data covariance W₀ (rank up to N − 1) and a ridge scaled by each component's count, so
/// each posterior covariance is a different low-rank term plus a different multiple of I, and
/// the E-step's expected log-density needs ψ terms of D × D posteriors. It runs dense, and
/// refuses when K dense D × D matrices would not fit in a reasonable memory.
fn check_variational_path(
    n: usize,
    d: usize,
    config: &ValidFitConfig,
    low_rank: bool,
) -> Result<()> {
    let k = config.n_components;
    if low_rank {
        return Err(GmmError::param(
            "full_path",
            "low-rank",
            "a variational fit has no exact low-rank form (its Wishart prior adds the data covariance and a per-component ridge to every covariance); use full_path=auto or dense, or diag covariances",
        ));
    }
    let bytes = (k * d * d) as f64 * 8.0;
    if config.covariance_type == CovarianceType::Full
        && n < d
        && bytes > VARIATIONAL_DENSE_LIMIT_BYTES
    {
        return Err(GmmError::param(
            "variational",
            format!("{k} full {d} × {d} covariances"),
            format!(
                "a variational fit of full covariances is dense ({:.1} GB for these) and has no exact low-rank form with fewer samples than features; use diag or spherical covariances, fewer components, or the maximum-likelihood fit (exact low-rank)",
                bytes / 1e9
            ),
        ));
    }
    Ok(())
}

impl GaussianMixture {
    /// Fits a mixture to `x` (N × D, one sample per row) with the default options: the
    /// automatic device and full path (so N < D full covariances take the exact low-rank
    /// path). The same as `gaussmix::fit(&Samples::new(x)?, config, FitOptions::default())`.
    pub fn fit(x: &DMatrix<f64>, config: &FitConfig) -> Result<Self> {
        fit(&Samples::new(x)?, config, FitOptions::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_line_door_takes_the_low_rank_path_when_samples_are_fewer_than_features() {
        let x = DMatrix::from_fn(12, 40, |i, j| {
            ((i * 7 + j * 3) % 13) as f64 + (i / 6) as f64 * 5.0
        });
        let m = GaussianMixture::fit(&x, &FitConfig::new(2).seed(1)).unwrap();
        assert!(
            matches!(m.covariances(), crate::Covariances::LowRank(_)),
            "{:?}",
            m.summary().device
        );
    }

    #[test]
    fn a_progress_callback_can_stop_the_fit() {
        let x = DMatrix::from_fn(60, 2, |i, j| {
            ((i * 7 + j * 3) % 11) as f64 + (i % 2) as f64 * 9.0
        });
        let mut seen = 0;
        let mut stop = |_: &IterationEvent| {
            seen += 1;
            ControlFlow::Break(())
        };
        let err = fit(
            &Samples::new(&x).unwrap(),
            &FitConfig::new(2).tol(0.0),
            FitOptions::new()
                .device(DeviceChoice::Cpu)
                .progress(&mut stop),
        )
        .unwrap_err();
        assert!(matches!(err, GmmError::Interrupted(_)), "{err}");
        assert_eq!(seen, 1);
    }
}
