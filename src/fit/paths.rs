//! The engines behind [`crate::fit()`], one function per path; each builds its backend and
//! runs the shared EM loop. Crate-private: the door chooses among them.

use nalgebra::DMatrix;

use crate::backend::cpu::CpuBackend;
use crate::backend::lowrank::LowRankBackend;
use crate::backend::missing::MissingDataBackend;
use crate::config::{InitMethod, ValidFitConfig};
use crate::device::Device;
use crate::em::{self, Progress};
use crate::error::{GmmError, Result};
use crate::lowrank::Products;
use crate::model::GaussianMixture;

/// Sample weights of the data, if any.
type Weights = Option<std::sync::Arc<nalgebra::DVector<f64>>>;

/// Dense EM on the CPU, f64.
pub(super) fn fit_cpu(
    x: &DMatrix<f64>,
    weights: Weights,
    config: &ValidFitConfig,
    warm_start: Option<&GaussianMixture>,
    progress: Progress<'_>,
) -> Result<GaussianMixture> {
    run_cpu(
        CpuBackend::new(x).with_weights(weights),
        config,
        warm_start,
        progress,
    )
}

/// Dense EM on the CPU with the samples given as columns (D × N), used in place.
pub(super) fn fit_cpu_columns(
    xt: std::sync::Arc<DMatrix<f64>>,
    weights: Weights,
    config: &ValidFitConfig,
    warm_start: Option<&GaussianMixture>,
    progress: Progress<'_>,
) -> Result<GaussianMixture> {
    run_cpu(
        CpuBackend::from_columns(xt).with_weights(weights),
        config,
        warm_start,
        progress,
    )
}

fn run_cpu(
    mut backend: CpuBackend,
    config: &ValidFitConfig,
    warm_start: Option<&GaussianMixture>,
    progress: Progress<'_>,
) -> Result<GaussianMixture> {
    let xt = backend.samples_as_columns();
    em::fit(&mut backend, Some(&*xt), config, warm_start, progress)
}

/// Dense EM on a GPU with data from the host. When the f32 statistics of an M-step are
/// unusable (overflow, or a covariance that does not factor with `reg_covar`), that M-step is
/// recomputed in f64 on the CPU; `notice` then hears one line summarising the fallbacks,
/// which the model's summary also records.
#[cfg(feature = "gpu")]
pub(super) fn fit_gpu(
    ctx: &crate::gpu::GpuContext,
    x: &DMatrix<f64>,
    weights: Weights,
    config: &ValidFitConfig,
    warm_start: Option<&GaussianMixture>,
    notice: &mut dyn FnMut(&str),
    progress: Progress<'_>,
) -> Result<GaussianMixture> {
    use crate::backend::gpu::GpuBackend;
    let mut backend = GpuBackend::from_host(ctx, x)?.with_weights(weights);
    backend.set_reg_covar(config.reg_covar);
    // The backend keeps the f64 data (D × N) for the fallback; the initialisation uses them.
    let xt = backend.host_samples().expect("host data");
    let result = em::fit(&mut backend, Some(&*xt), config, warm_start, progress);
    if let Some(s) = backend.fallback_summary() {
        notice(&s);
    }
    result
}

/// Dense EM on data that already live on the device of `ctx`: `buffer` holds N × D f32
/// values, row-major, with `BufferUsages::STORAGE`.
///
/// The data never come back to the host, so the initialisation must not need them: labels
/// (e.g. from the application's own clustering) or a warm-start model. There is no f64 copy
/// of the data: an M-step whose f32 statistics overflow ends the fit with an error that says
/// so; one whose covariance does not factor is retried with a larger ridge, which the model's
/// summary reports.
#[cfg(feature = "gpu")]
pub(super) fn fit_buffer(
    ctx: &crate::gpu::GpuContext,
    buffer: &wgpu::Buffer,
    config: &ValidFitConfig,
    warm_start: Option<&GaussianMixture>,
    progress: Progress<'_>,
) -> Result<GaussianMixture> {
    use crate::backend::gpu::GpuBackend;
    let (n, d) = config.shape();
    let mut backend = GpuBackend::from_buffer(ctx, buffer, n, d)?;
    backend.set_reg_covar(config.reg_covar);
    em::fit(&mut backend, None, config, warm_start, progress)
}

/// Full covariances through the exact low-rank path, with every initialisation method and
/// warm start (from a low-rank or a dense model). On a GPU device the Gram matrix — the
/// largest product of a fit, N² D — is computed by exact integer products; the N × N work of
/// every iteration (and its O(N D K) weighted means) stays on the host in f64.
pub(super) fn fit_low_rank(
    x: &DMatrix<f64>,
    weights: Weights,
    config: &ValidFitConfig,
    device: &Device,
    warm_start: Option<&GaussianMixture>,
    progress: Progress<'_>,
) -> Result<GaussianMixture> {
    if config.reg_covar.is_nan() || config.reg_covar <= 0.0 {
        return Err(GmmError::param(
            "reg_covar",
            config.reg_covar,
            "the exact low-rank path needs reg_covar > 0: with fewer samples than features a full covariance is singular otherwise (the default is 1e-6)",
        ));
    }
    let mut backend = LowRankBackend::new_with(x, &Products::from(device))?.with_weights(weights);
    // Distance-based initialisations see the samples through an isometric N-dimensional
    // embedding (same distances, N/D of the work); given means live in D dimensions.
    let init_samples = match &config.init {
        InitMethod::Means(_) => None,
        _ if x.nrows() < x.ncols() => backend.training().isometric_coordinates(),
        _ => None,
    }
    .unwrap_or_else(|| x.transpose());
    em::fit(
        &mut backend,
        Some(&init_samples),
        config,
        warm_start,
        progress,
    )
}

/// EM on the observed-data likelihood of `x` (N × D, NaN where missing). The initialisation
/// (k-means etc.) sees the data with column-mean imputation; the lower bound is the mean
/// observed-data log-likelihood `log p(x_o)` per row.
pub(super) fn fit_missing(
    x: &DMatrix<f64>,
    weights: Weights,
    config: &ValidFitConfig,
    progress: Progress<'_>,
) -> Result<GaussianMixture> {
    let mut backend = MissingDataBackend::new(x)?.with_weights(weights)?;
    let init_samples = backend.mean_imputed().transpose();
    em::fit(&mut backend, Some(&init_samples), config, None, progress)
}

/// EM on data read in chunks every pass ([`crate::Samples::streamed`]), each chunk's
/// statistics on `device` (a GPU uploads every chunk in turn): one pass per iteration, plus one for a seeded sample of rows (clustered by `config.init` for the
/// initial means, unless means are given or a warm start continues) and one for the
/// initial statistics.
pub(super) fn fit_streamed(
    stream: &crate::samples::Stream,
    config: &ValidFitConfig,
    device: &Device,
    warm_start: Option<&GaussianMixture>,
    progress: Progress<'_>,
) -> Result<GaussianMixture> {
    use crate::backend::stream::{sample_rows, StreamBackend};
    use crate::backend::Backend;
    use crate::init::sample::sample_size;
    let (n, d) = config.shape();
    if config.variational.is_some() {
        return Err(GmmError::param(
            "variational",
            "priors",
            "a streamed variational fit is not supported yet (its default priors need a pass of their own); fit in memory",
        ));
    }
    let mut backend = StreamBackend::new(stream, n, d);
    #[cfg(feature = "gpu")]
    if let Device::Gpu(ctx) = device {
        backend = backend.on_gpu(ctx);
    }
    #[cfg(not(feature = "gpu"))]
    let _ = device;
    backend.set_reg_covar(config.reg_covar);
    let sample = match (&config.init, warm_start) {
        (InitMethod::Means(_) | InitMethod::Labels(_), _) | (_, Some(_)) => None,
        _ => Some(sample_rows(
            &mut backend,
            sample_size(config.n_components),
            &mut em::sample_rng(config.seed),
        )?),
    };
    em::fit(&mut backend, sample.as_ref(), config, warm_start, progress)
}
