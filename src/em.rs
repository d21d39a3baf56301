//! The EM loop, written once for every backend.
//!
//! Semantics follow scikit-learn's `GaussianMixture.fit`: for each of `n_init` initialisations,
//! iterate E-step → M-step, recording the mean per-sample log-likelihood of the E-step (the
//! "lower bound") and stopping when it changes by less than `tol`; keep the initialisation with
//! the highest final lower bound.
//!
//! With `reg_covar = 0` every iteration cannot decrease the log-likelihood (EM's monotonicity).
//! With `reg_covar > 0` the M-step adds a ridge that is not part of the likelihood's maximiser,
//! so tiny decreases (of the order of `reg_covar` relative to the variances) are legitimate.

use std::time::Instant;

use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::backend::Backend;
use crate::config::{FitConfig, InitMethod};
use crate::error::{GmmError, Result};
use crate::init::initial_responsibilities;
use crate::model::{FitSummary, GaussianMixture};
use crate::params::MixtureParams;

/// Progress of the fit, reported once per EM iteration.
#[derive(Debug, Clone, Copy)]
pub struct IterationEvent {
    /// Which initialisation (0-based) of how many.
    pub init: usize,
    /// Total initialisations.
    pub n_init: usize,
    /// Iteration number within this initialisation (1-based).
    pub iter: usize,
    /// `max_iter`.
    pub max_iter: usize,
    /// Mean per-sample log-likelihood before this iteration's M-step.
    pub lower_bound: f64,
    /// Change from the previous iteration (`inf` on the first).
    pub change: f64,
}

/// The random generator of initialisation `init` under `seed`: one independent stream each.
pub fn init_rng(seed: u64, init: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(init as u64);
    rng
}

/// First parameters of one initialisation: responsibilities from `config.init`, one M-step.
fn initial_params<B: Backend + ?Sized>(
    backend: &mut B,
    init_samples: Option<&DMatrix<f64>>,
    config: &FitConfig,
    init: usize,
) -> Result<MixtureParams> {
    let xt = match (&config.init, init_samples) {
        (_, Some(xt)) => xt,
        (InitMethod::Labels(l), None) => {
            let resp = crate::init::one_hot(l, config.n_components);
            backend.set_responsibilities(&resp)?;
            let stats = backend.m_step_stats(config.covariance_type)?;
            return MixtureParams::from_stats(stats, config.reg_covar);
        }
        (other, None) => {
            return Err(GmmError::param(
                "init",
                other.name(),
                "the data are not on the host, so only label initialisation is possible; give labels or a warm-start model",
            ))
        }
    };
    let mut rng = init_rng(config.seed, init);
    let resp = initial_responsibilities(
        xt,
        config.n_components,
        &config.init,
        config.kmeans_iter,
        &mut rng,
    );
    backend.set_responsibilities(&resp)?;
    let stats = backend.m_step_stats(config.covariance_type)?;
    let mut params = MixtureParams::from_stats(stats, config.reg_covar)?;
    if let InitMethod::Means(m) = &config.init {
        params.means = m.clone();
    }
    Ok(params)
}

/// Runs EM on `backend`.
///
/// `init_samples` are the data as columns (D × N) for the initialisation (k-means etc.); it may
/// be `None` when the data live only on a device and the initialisation does not need them.
/// `warm_start` continues from a fitted model instead of initialising (one run, as
/// scikit-learn's `warm_start=True`).
pub fn fit<B: Backend + ?Sized>(
    backend: &mut B,
    init_samples: Option<&DMatrix<f64>>,
    config: &FitConfig,
    warm_start: Option<&GaussianMixture>,
    on_iteration: &mut dyn FnMut(&IterationEvent),
) -> Result<GaussianMixture> {
    let started = Instant::now();
    let n = backend.n_samples();
    let d = backend.n_features();
    config.validate(n, d)?;
    if let Some(w) = warm_start {
        if w.n_features() != d {
            return Err(GmmError::DimensionMismatch {
                expected: w.n_features(),
                found: d,
            });
        }
        if w.n_components() != config.n_components || w.covariance_type() != config.covariance_type
        {
            return Err(GmmError::param(
                "warm_start",
                format!("{} components, {}", w.n_components(), w.covariance_type()),
                format!(
                    "the warm-start model must have the requested {} components and {} covariances",
                    config.n_components, config.covariance_type
                ),
            ));
        }
    }
    let n_init = if warm_start.is_some() {
        1
    } else {
        config.n_init
    };
    let mut best: Option<(usize, f64, MixtureParams, Vec<f64>, bool, usize)> = None;
    for init in 0..n_init {
        let mut params = match warm_start {
            Some(w) => w.params.clone(),
            None => initial_params(backend, init_samples, config, init)?,
        };
        let mut lower_bound = warm_start.map_or(f64::NEG_INFINITY, |w| w.fit.lower_bound);
        let mut history = Vec::new();
        let mut converged = false;
        let mut n_iter = 0;
        for iter in 1..=config.max_iter {
            let prev = lower_bound;
            lower_bound = backend.e_step(&params)?;
            let stats = backend.m_step_stats(config.covariance_type)?;
            params = MixtureParams::from_stats(stats, config.reg_covar)?;
            history.push(lower_bound);
            n_iter = iter;
            let change = lower_bound - prev;
            on_iteration(&IterationEvent {
                init,
                n_init,
                iter,
                max_iter: config.max_iter,
                lower_bound,
                change,
            });
            if change.abs() < config.tol {
                converged = true;
                break;
            }
        }
        if config.max_iter == 0 {
            lower_bound = backend.e_step(&params)?;
        }
        let better = best.as_ref().is_none_or(|b| lower_bound > b.1);
        if better {
            best = Some((init, lower_bound, params, history, converged, n_iter));
        }
    }
    let (best_init, lower_bound, params, history, converged, n_iter) = best.expect("n_init ≥ 1");
    Ok(GaussianMixture {
        params,
        reg_covar: config.reg_covar,
        fit: FitSummary {
            converged,
            n_iter,
            lower_bound,
            lower_bound_history: history,
            n_init,
            best_init,
            device: backend.describe(),
            seconds: started.elapsed().as_secs_f64(),
        },
    })
}
