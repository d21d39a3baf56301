//! The EM loop, written once for every backend, over [`SufficientStats`].
//!
//! Semantics follow scikit-learn's `GaussianMixture.fit`: for each of `n_init` initialisations,
//! iterate E-step → M-step, recording the mean per-sample log-likelihood of the E-step (the
//! "lower bound") and stopping when it changes by less than `tol`; keep the initialisation with
//! the highest final lower bound.
//!
//! Each iteration asks the backend for one [`SufficientStats`] (the E-step's log-likelihood and
//! the M-step sums of its responsibilities) and turns it into parameters
//! ([`SufficientStats::to_params`]). Any source of mergeable statistics — one device, chunks of
//! a file, shards on other machines — can drive the same loop.
//!
//! With `reg_covar = 0` every iteration cannot decrease the log-likelihood (EM's monotonicity).
//! With `reg_covar > 0` the M-step adds a ridge that is not part of the likelihood's maximiser,
//! so tiny decreases (of the order of `reg_covar` relative to the variances) are legitimate.

use std::borrow::Cow;
use std::ops::ControlFlow;
use std::time::Instant;

use nalgebra::DMatrix;

use crate::backend::{finite_lower_bound, Backend};
use crate::config::{factor_precisions_init, InitMethod, ValidFitConfig};
use crate::error::{GmmError, Result};
use crate::init::sample::{sample_columns, sample_size};
use crate::init::{
    cluster_means, initial_assignment, initial_responsibilities, nearest_labels, seeded_rng,
    Initial, SAMPLE_RUNS,
};
use crate::model::{FitSummary, GaussianMixture};
use crate::params::MixtureParams;
use crate::stats::SufficientStats;
use crate::variational::{Posterior, Priors};

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

/// What the EM loop reports to, once per iteration: return `ControlFlow::Break(())` to stop
/// the fit (it then ends with [`GmmError::Interrupted`]).
pub type Progress<'a> = &'a mut dyn FnMut(&IterationEvent) -> ControlFlow<()>;

/// The random generator of the rows that k-means clusters when it runs on a sample
/// ([`sample_columns`]): one stream for all initialisations, apart from theirs.
pub(crate) fn sample_rng(seed: u64) -> rand_chacha::ChaCha8Rng {
    seeded_rng(seed, usize::MAX)
}

/// The k-means settings of `config`, with `runs` seedings.
fn kmeans_settings(config: &ValidFitConfig, runs: usize) -> crate::init::KMeansSettings {
    crate::init::KMeansSettings {
        max_iter: config.kmeans_iter,
        tol: config.kmeans_tol,
        runs,
    }
}

/// The initial means (K × D) from clustering a sample of the data (D × S) by `config.init`:
/// for k-means, the best of `runs` runs.
fn sample_means(
    sample: &DMatrix<f64>,
    config: &ValidFitConfig,
    init: usize,
    runs: usize,
) -> DMatrix<f64> {
    let resp = initial_responsibilities(
        sample,
        None,
        config.n_components,
        &config.init,
        kmeans_settings(config, runs),
        &mut seeded_rng(config.seed, init),
    );
    cluster_means(sample, &resp)
}

/// The first statistics of one initialisation: responsibilities from `config.init`, then the
/// M-step sums of them.
fn initial_stats<B: Backend + ?Sized>(
    backend: &mut B,
    init_samples: Option<&DMatrix<f64>>,
    config: &ValidFitConfig,
    init: usize,
) -> Result<SufficientStats> {
    let resp = match (&config.init, init_samples) {
        (InitMethod::Labels(l), None) => {
            return backend.stats_of_labels(l, config.n_components, config.covariance_type)
        }
        (InitMethod::Means(m), None) => {
            return backend.stats_of_nearest(m, config.covariance_type)
        }
        (_, Some(sample)) if !backend.keeps_responsibilities() => {
            // A sample of data that are not all in memory (streaming): cluster the sample,
            // then every sample of the data goes to its nearest cluster mean.
            // All the samples (a short stream): one k-means run, as in memory.
            let runs = if sample.ncols() < backend.n_samples() {
                SAMPLE_RUNS
            } else {
                1
            };
            let means = sample_means(sample, config, init, runs);
            return backend.stats_of_nearest(&means, config.covariance_type);
        }
        (InitMethod::KMeans, Some(xt))
            if xt.ncols() > sample_size(config.n_components)
                && backend.sample_weights().is_none() =>
        {
            // Many samples: k-means on a seeded sample of them (the rows a streamed fit of
            // the same data clusters), then every sample to its nearest cluster mean.
            let sample = sample_columns(
                xt,
                sample_size(config.n_components),
                &mut sample_rng(config.seed),
            );
            let labels = nearest_labels(xt, &sample_means(&sample, config, init, SAMPLE_RUNS));
            return backend.stats_of_labels(&labels, config.n_components, config.covariance_type);
        }
        (_, Some(xt)) => match initial_assignment(
            xt,
            backend.sample_weights(),
            config.n_components,
            &config.init,
            kmeans_settings(config, 1),
            &mut seeded_rng(config.seed, init),
        ) {
            Initial::Labels(labels) => {
                return backend.stats_of_labels(
                    &labels,
                    config.n_components,
                    config.covariance_type,
                )
            }
            Initial::Responsibilities(resp) => resp,
        },
        (other, None) => {
            return Err(GmmError::param(
                "init",
                other.name(),
                "the data are not on the host, so only label initialisation is possible; give labels or a warm-start model",
            ))
        }
    };
    backend.set_responsibilities(&resp)?;
    backend.m_step_stats(config.covariance_type)
}

/// First parameters of one initialisation, with scikit-learn's semantics for
/// `weights_init`, `means_init` and `precisions_init`: responsibilities from `config.init`,
/// one M-step, then the given parameters replace the computed ones (and when all three are
/// given, the initialisation is skipped). Means of [`InitMethod::Means`] replace the computed
/// means too.
fn initial_params<B: Backend + ?Sized>(
    backend: &mut B,
    init_samples: Option<&DMatrix<f64>>,
    config: &ValidFitConfig,
    init: usize,
) -> Result<MixtureParams> {
    let given_precisions = config
        .precisions_init
        .as_ref()
        .map(|p| {
            let (k, d) = (config.n_components, config.shape().1);
            factor_precisions_init(p, config.covariance_type, k, d)
        })
        .transpose()?;
    let mut params = match (&config.weights_init, &config.means_init, &given_precisions) {
        (Some(w), Some(m), Some((covariances, precisions))) => MixtureParams {
            weights: w.clone(),
            means: m.clone(),
            covariances: covariances.clone(),
            precisions: precisions.clone(),
        },
        _ => initial_stats(backend, init_samples, config, init)?.to_params(config.reg_covar)?,
    };
    if let InitMethod::Means(m) = &config.init {
        params.means = m.clone();
    }
    if let Some(w) = &config.weights_init {
        params.weights = w.clone();
    }
    if let Some(m) = &config.means_init {
        params.means = m.clone();
    }
    if let Some((covariances, precisions)) = given_precisions {
        params.covariances = covariances;
        params.precisions = precisions;
    }
    params.validate()?;
    Ok(params)
}

/// What one initialisation iterates on: maximum-likelihood parameters, or a variational
/// posterior.
enum State {
    MaximumLikelihood(MixtureParams),
    Variational(Posterior),
}

impl State {
    /// The parameters of the next E-step.
    fn density(&self) -> Cow<'_, MixtureParams> {
        match self {
            State::MaximumLikelihood(p) => Cow::Borrowed(p),
            State::Variational(p) => Cow::Owned(p.density_params()),
        }
    }

    /// One iteration: the E-step's statistics on `backend`, then the update and its lower
    /// bound (the mean log-likelihood of the E-step for maximum likelihood, scikit-learn's
    /// variational bound for a posterior).
    fn step<B: Backend + ?Sized>(
        self,
        backend: &mut B,
        config: &ValidFitConfig,
        priors: Option<&Priors>,
    ) -> Result<(State, f64)> {
        let used = self.density();
        let stats = backend.statistics(&used, config.covariance_type)?;
        match (&self, priors) {
            (State::Variational(_), Some(priors)) => {
                let next = Posterior::update(&stats, priors, config.reg_covar)?;
                let lower_bound = finite_lower_bound(next.lower_bound(&stats, &used)?)?;
                Ok((State::Variational(next), lower_bound))
            }
            _ => {
                // The mean log-likelihood per sample (per unit of weight, with weights).
                let n = backend.total_weight();
                let lower_bound = finite_lower_bound(stats.log_likelihood.unwrap_or(f64::NAN) / n)?;
                Ok((
                    State::MaximumLikelihood(stats.to_params(config.reg_covar)?),
                    lower_bound,
                ))
            }
        }
    }
}

/// One initialisation's run: its final state, lower bound, history, and convergence.
struct Run {
    init: usize,
    state: State,
    lower_bound: f64,
    history: Vec<f64>,
    converged: bool,
    n_iter: usize,
}

/// Checks that a warm-start model fits the data and the settings.
fn check_warm_start(w: &GaussianMixture, config: &ValidFitConfig, d: usize) -> Result<()> {
    if w.n_features() != d {
        return Err(GmmError::DimensionMismatch {
            expected: w.n_features(),
            found: d,
        });
    }
    if w.n_components() != config.n_components || w.covariance_type() != config.covariance_type {
        return Err(GmmError::param(
            "warm_start",
            format!("{} components, {}", w.n_components(), w.covariance_type()),
            format!(
                "the warm-start model must have the requested {} components and {} covariances",
                config.n_components, config.covariance_type
            ),
        ));
    }
    if config.variational.is_some() != w.variational().is_some() {
        return Err(GmmError::param(
            "warm_start",
            if w.variational().is_some() {
                "a variational model"
            } else {
                "a maximum-likelihood model"
            },
            "a variational fit continues only from a variational model, and a maximum-likelihood fit only from a maximum-likelihood one",
        ));
    }
    Ok(())
}

/// The first state of one initialisation (or the warm start's).
fn initial_state<B: Backend + ?Sized>(
    backend: &mut B,
    init_samples: Option<&DMatrix<f64>>,
    config: &ValidFitConfig,
    priors: Option<&Priors>,
    warm_start: Option<&GaussianMixture>,
    init: usize,
) -> Result<State> {
    Ok(match (warm_start, priors) {
        (Some(w), None) => State::MaximumLikelihood(w.params().clone()),
        (Some(w), Some(_)) => State::Variational(
            w.variational()
                .expect("checked by check_warm_start")
                .posterior
                .clone(),
        ),
        (None, None) => {
            State::MaximumLikelihood(initial_params(backend, init_samples, config, init)?)
        }
        (None, Some(priors)) => {
            let stats = initial_stats(backend, init_samples, config, init)?;
            State::Variational(Posterior::update(&stats, priors, config.reg_covar)?)
        }
    })
}

/// Runs EM on `backend`: maximum likelihood, or a variational Bayesian fit when
/// `config.variational` is set.
///
/// `init_samples` are the data as columns (D × N) for the initialisation (k-means etc.) and
/// the data-dependent default priors; it may be `None` when the data live only on a device
/// and neither needs them. `warm_start` continues from a fitted model instead of initialising
/// (one run, as scikit-learn's `warm_start=True`).
pub(crate) fn fit<B: Backend + ?Sized>(
    backend: &mut B,
    init_samples: Option<&DMatrix<f64>>,
    config: &ValidFitConfig,
    warm_start: Option<&GaussianMixture>,
    progress: Progress<'_>,
) -> Result<GaussianMixture> {
    let started = Instant::now();
    if let Some(w) = warm_start {
        check_warm_start(w, config, backend.n_features())?;
    }
    let priors = config
        .variational
        .as_ref()
        .map(|v| {
            v.resolve(
                init_samples,
                backend.sample_weights(),
                config.covariance_type,
                config.n_components,
            )
        })
        .transpose()?;
    let n_init = if warm_start.is_some() {
        1
    } else {
        config.n_init
    };
    let mut best: Option<Run> = None;
    for init in 0..n_init {
        let mut state = initial_state(
            backend,
            init_samples,
            config,
            priors.as_ref(),
            warm_start,
            init,
        )?;
        let mut lower_bound = warm_start.map_or(f64::NEG_INFINITY, |w| w.summary().lower_bound);
        let mut history = Vec::new();
        let mut converged = false;
        let mut n_iter = 0;
        for iter in 1..=config.max_iter {
            let prev = lower_bound;
            (state, lower_bound) = state.step(backend, config, priors.as_ref())?;
            history.push(lower_bound);
            n_iter = iter;
            let change = lower_bound - prev;
            let event = IterationEvent {
                init,
                n_init,
                iter,
                max_iter: config.max_iter,
                lower_bound,
                change,
            };
            if progress(&event).is_break() {
                return Err(GmmError::Interrupted(format!(
                    "stopped by the caller at iteration {iter} of initialisation {}",
                    init + 1
                )));
            }
            if change.abs() < config.tol {
                converged = true;
                break;
            }
        }
        if let (0, State::MaximumLikelihood(params)) = (config.max_iter, &state) {
            lower_bound = finite_lower_bound(backend.e_step(params)? / backend.total_weight())?;
        }
        if best.as_ref().is_none_or(|b| lower_bound > b.lower_bound) {
            best = Some(Run {
                init,
                state,
                lower_bound,
                history,
                converged,
                n_iter,
            });
        }
    }
    let run = best.expect("n_init ≥ 1");
    let summary = FitSummary {
        converged: run.converged,
        n_iter: run.n_iter,
        lower_bound: run.lower_bound,
        lower_bound_history: run.history,
        n_init,
        best_init: run.init,
        device: backend.describe(),
        fallbacks: backend.fallbacks(),
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok(match (run.state, priors) {
        (State::Variational(posterior), Some(priors)) => {
            GaussianMixture::from_variational(posterior, priors, config.reg_covar, summary)
        }
        (State::Variational(_), None) => unreachable!("a posterior comes with its priors"),
        (State::MaximumLikelihood(params), _) => {
            GaussianMixture::from_fit(params, config.reg_covar, summary)
        }
    })
}

#[cfg(test)]
mod tests {
    use nalgebra::DVector;

    use crate::covariance::{CovarianceType, Covariances};
    use crate::{fit, DeviceChoice, FitConfig, FitOptions, Samples};

    use super::*;

    fn data() -> DMatrix<f64> {
        DMatrix::from_fn(90, 2, |i, j| {
            let c = (i % 3) as f64 * 6.0;
            c + ((i * 7 + j * 13) % 17) as f64 * 0.2 - 1.6 + j as f64
        })
    }

    #[test]
    fn given_initial_parameters_replace_the_initialisations_as_in_scikit_learn() {
        let x = data();
        let means = DMatrix::from_row_slice(3, 2, &[0.0, 1.0, 6.0, 7.0, 12.0, 13.0]);
        let weights = DVector::from_vec(vec![0.2, 0.3, 0.5]);
        let precisions = Covariances::Full(vec![DMatrix::identity(2, 2) * 2.0; 3]);
        let config = FitConfig::new(3)
            .max_iter(0)
            .weights_init(weights.clone())
            .means_init(means.clone())
            .precisions_init(precisions);
        let cpu = || FitOptions::new().device(DeviceChoice::Cpu);
        let m = fit(&Samples::new(&x).unwrap(), &config, cpu()).unwrap();
        assert_eq!(m.weights(), &weights);
        assert_eq!(m.means(), &means);
        let Covariances::Full(c) = m.covariances() else {
            panic!("full")
        };
        assert!((&c[1] - DMatrix::<f64>::identity(2, 2) * 0.5).amax() < 1e-15);
        // Only the means given: weights and covariances come from the k-means responsibilities.
        let partial = FitConfig::new(3).max_iter(0).means_init(means.clone());
        let p = fit(&Samples::new(&x).unwrap(), &partial, cpu()).unwrap();
        assert_eq!(p.means(), &means);
        let plain = fit(
            &Samples::new(&x).unwrap(),
            &FitConfig::new(3).max_iter(0),
            cpu(),
        )
        .unwrap();
        assert_eq!(p.weights(), plain.weights());
        assert_eq!(p.covariances(), plain.covariances());
        // The fit from given parameters converges like any other.
        let full = FitConfig::new(3)
            .weights_init(weights)
            .means_init(means)
            .covariance_type(CovarianceType::Spherical)
            .precisions_init(Covariances::Spherical(DVector::from_element(3, 1.0)));
        assert!(
            fit(&Samples::new(&x).unwrap(), &full, cpu())
                .unwrap()
                .summary()
                .converged
        );
    }
}
