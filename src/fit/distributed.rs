//! The distributed path of [`crate::fit()`]: data spread over the members of a
//! [`crate::collective::Collective`] group ([`crate::Samples::distributed`]).
//!
//! Every member builds a backend over its own rows (its CPU, its GPU, or its file streamed in
//! chunks), and the shared EM loop runs on every member over the
//! [`DistributedBackend`], which all-gathers and merges the members' statistics in rank order:
//! every member computes the same model. The initialisation clusters a sample gathered from
//! all members (every row in rank order up to [`sample_size`] rows in all, otherwise a
//! seeded sample from each member in proportion to its rows), then every row goes to its
//! nearest initial mean where it lives; so, with all rows gathered, the model is the one a
//! streamed fit of the same rows on one process gives.

use std::sync::Arc;

use nalgebra::DMatrix;

use crate::backend::cpu::CpuBackend;
use crate::backend::distributed::{DistributedBackend, LocalPart};
use crate::backend::stream::{sample_rows, StreamBackend};
use crate::backend::Backend;
use crate::collective::exchange_with;
use crate::config::{InitMethod, ValidFitConfig};
use crate::device::Device;
use crate::em::{self, Progress};
use crate::error::{GmmError, Result};
use crate::init::sample::{sample_columns, sample_size};
use crate::model::GaussianMixture;
use crate::samples::{Distributed, Samples};

/// EM over the group of `part`; `device` is this member's device (or the error of finding
/// it, which then stops every member).
pub(super) fn fit_distributed(
    part: &Distributed<'_>,
    config: &ValidFitConfig,
    device: Result<Device>,
    warm_start: Option<&GaussianMixture>,
    progress: Progress<'_>,
) -> Result<GaussianMixture> {
    let (n, d) = config.shape();
    if let InitMethod::Labels(_) = config.init {
        return Err(GmmError::param(
            "init",
            "labels",
            "a distributed fit keeps no per-sample state in one place; initialise from means (k-means on a gathered sample, or given means)",
        ));
    }
    let group = Arc::clone(&part.group);
    let sampled = !matches!(config.init, InitMethod::Means(_)) && warm_start.is_none();
    let n_local = part.local.n_samples();
    let size = sample_size(config.n_components);
    let sample_rows = if n <= size {
        n_local
    } else {
        (size * n_local).div_ceil(n)
    };
    let mut rng = crate::init::seeded_rng(config.seed, usize::MAX - group.rank());
    let local = device.and_then(|device| {
        local_part(&part.local, &device, config.reg_covar, |b| {
            if sampled {
                local_sample(b, sample_rows, &mut rng)
            } else {
                Ok(DMatrix::zeros(d, 0))
            }
        })
    });
    // One collective: every member's sample, or the failure to read its rows, which then
    // stops every member here.
    let ((local, _), parts) = exchange_with(group.as_ref(), local, |(_, s)| s.as_slice().to_vec())?;
    let sample = sampled.then(|| {
        let values: Vec<f64> = parts.concat();
        DMatrix::from_vec(d, values.len() / d, values)
    });
    let mut backend = DistributedBackend::new(group, local, n, d);
    em::fit(&mut backend, sample.as_ref(), config, warm_start, progress)
}

/// What a member's rows are: in memory or streamed, with the backend made for them.
enum Rows<'s> {
    Memory(Arc<DMatrix<f64>>),
    Stream(&'s mut StreamBackend),
}

/// This member's backend on `device` and the sample `sample` draws from its rows (D × m).
fn local_part(
    local: &Samples<'_>,
    device: &Device,
    reg_covar: f64,
    sample: impl FnOnce(Rows<'_>) -> Result<DMatrix<f64>>,
) -> Result<(LocalPart, DMatrix<f64>)> {
    let d = local.n_features();
    if local.n_samples() == 0 {
        return Ok((
            LocalPart {
                backend: None,
                columns: None,
            },
            DMatrix::zeros(d, 0),
        ));
    }
    if let Some(stream) = local.stream() {
        let mut b = StreamBackend::new(stream, local.n_samples(), d);
        #[cfg(feature = "gpu")]
        if let Device::Gpu(ctx) = device {
            b = b.on_gpu(ctx);
        }
        b.set_reg_covar(reg_covar);
        let s = sample(Rows::Stream(&mut b))?;
        let backend: Box<dyn Backend> = Box::new(b);
        return Ok((
            LocalPart {
                backend: Some(backend),
                columns: None,
            },
            s,
        ));
    }
    let xt = match local.columns() {
        Some(xt) => xt,
        None => Arc::new(local.matrix()?.transpose()),
    };
    let backend: Box<dyn Backend> = match device {
        Device::Cpu => Box::new(CpuBackend::from_columns(Arc::clone(&xt))),
        #[cfg(feature = "gpu")]
        Device::Gpu(ctx) => {
            let mut b = crate::backend::gpu::GpuBackend::from_host(ctx, local.matrix()?)?;
            b.set_reg_covar(reg_covar);
            Box::new(b)
        }
    };
    let s = sample(Rows::Memory(Arc::clone(&xt)))?;
    Ok((
        LocalPart {
            backend: Some(backend),
            columns: Some(xt),
        },
        s,
    ))
}

/// `size` rows of a member's rows (all of them, in order, when `size` ≥ its rows), seeded.
fn local_sample(rows: Rows<'_>, size: usize, rng: &mut impl rand::Rng) -> Result<DMatrix<f64>> {
    match rows {
        Rows::Stream(b) => sample_rows(b, size, rng),
        Rows::Memory(xt) => Ok(sample_columns(&xt, size, rng)),
    }
}
