//! Backends: where the E-step and the M-step statistics are computed.
//!
//! The EM loop ([`crate::em`]) is written once; a backend holds the data (on the host or on a
//! device) and the current responsibilities, and supplies
//! - [`Backend::e_step`]: responsibilities under given parameters and the summed
//!   log-likelihood;
//! - [`Backend::m_step_stats`]: the [`SufficientStats`] of the kept responsibilities.
//!
//! The host then turns the statistics into parameters ([`SufficientStats::to_params`]: adds
//! `reg_covar`, factors the covariances by Cholesky in f64) and hands them back for the next
//! E-step. Backends are crate-private; [`crate::Engine`] is their public face.

pub(crate) mod cpu;
pub(crate) mod distributed;
#[cfg(feature = "gpu")]
pub(crate) mod gpu;
pub(crate) mod lowrank;
pub(crate) mod missing;
pub(crate) mod moments;
pub(crate) mod stream;

use nalgebra::{DMatrix, DVector};

use crate::covariance::CovarianceType;
use crate::error::{GmmError, Result};
use crate::params::MixtureParams;
use crate::stats::SufficientStats;

/// Fails unless `resp` (responsibilities handed to a backend) has one row per sample.
pub(crate) fn check_responsibility_rows(resp: &DMatrix<f64>, n_samples: usize) -> Result<()> {
    if resp.nrows() != n_samples {
        return Err(GmmError::InvalidData(format!(
            "responsibilities have {} rows for {n_samples} samples",
            resp.nrows()
        )));
    }
    Ok(())
}

/// One EM iteration's statistics as two steps: the E-step under `params`, then the M-step sums
/// of its responsibilities, with the E-step's log-likelihood. What [`Backend::statistics`]
/// does unless a backend fuses the two.
pub(crate) fn separate_statistics<B: Backend + ?Sized>(
    backend: &mut B,
    params: &MixtureParams,
    covariance_type: CovarianceType,
) -> Result<SufficientStats> {
    let log_likelihood = backend.e_step(params)?;
    let mut stats = backend.m_step_stats(covariance_type)?;
    stats.log_likelihood = Some(log_likelihood);
    Ok(stats)
}

/// Multiplies every sample's responsibilities by its weight (`resp` N × K, one sample per
/// row), so that the M-step sums are weighted; nothing without weights.
pub(crate) fn weigh_rows(resp: &mut DMatrix<f64>, weights: Option<&DVector<f64>>) {
    if let Some(w) = weights {
        for (i, mut row) in resp.row_iter_mut().enumerate() {
            row *= w[i];
        }
    }
}

/// `Σ_i w_i v_i` for the samples `start..start + v.len()`, or `Σ_i v_i` without weights.
pub(crate) fn weighted_sum(v: &[f64], weights: Option<&DVector<f64>>, start: usize) -> f64 {
    match weights {
        Some(w) => crate::samples::weighted_total(v, &w.as_slice()[start..start + v.len()]),
        None => v.iter().sum(),
    }
}

/// The mean per-sample log-likelihood of an E-step, or the error that some sample has
/// zero density under every component.
pub(crate) fn finite_lower_bound(mean: f64) -> Result<f64> {
    if !mean.is_finite() {
        return Err(GmmError::Numerical(format!(
            "the log-likelihood became {mean}: some samples have zero density under every component; scale the data or raise reg_covar"
        )));
    }
    Ok(mean)
}

/// A place where EM's heavy lifting happens.
pub trait Backend {
    /// A short description of where the work runs (e.g. `cpu (f64, 2 threads)`).
    fn describe(&self) -> String;

    /// Number of samples N.
    fn n_samples(&self) -> usize;

    /// Number of features D.
    fn n_features(&self) -> usize;

    /// Sets the responsibilities (N × K, rows sum to one), e.g. from the initialisation.
    fn set_responsibilities(&mut self, resp: &DMatrix<f64>) -> Result<()>;

    /// E-step: computes and keeps the responsibilities under `params`; returns the summed
    /// log-likelihood `Σ_i log p(x_i)` (maybe non-finite: the EM loop reports that).
    fn e_step(&mut self, params: &MixtureParams) -> Result<f64>;

    /// M-step statistics from the kept responsibilities (without a log-likelihood).
    fn m_step_stats(&mut self, covariance_type: CovarianceType) -> Result<SufficientStats>;

    /// The kept responsibilities (N × K), copied to the host.
    fn responsibilities(&self) -> Result<DMatrix<f64>>;

    /// One EM iteration's statistics: the E-step under `params`, then the M-step sums, with
    /// the log-likelihood of that E-step.
    fn statistics(
        &mut self,
        params: &MixtureParams,
        covariance_type: CovarianceType,
    ) -> Result<SufficientStats> {
        separate_statistics(self, params, covariance_type)
    }

    /// The ridge the EM loop will add (a GPU backend checks its f32 statistics against it);
    /// ignored by default.
    fn set_reg_covar(&mut self, _reg_covar: f64) {}

    /// Per-sample log-likelihoods `log p(x_i)` of the last E-step, when the backend keeps them
    /// (the GPU does, on the device).
    fn log_likelihoods(&self) -> Result<nalgebra::DVector<f64>> {
        Err(GmmError::InvalidData(format!(
            "{} does not keep per-sample log-likelihoods; use GaussianMixture::score_samples",
            self.describe()
        )))
    }

    /// How many chunks (device buffers and dispatches) the data are processed in.
    fn chunks(&self) -> usize {
        1
    }

    /// Whether the backend keeps one row of responsibilities per sample (all but the
    /// streaming one), so that initial responsibilities can be set.
    fn keeps_responsibilities(&self) -> bool {
        true
    }

    /// The statistics of every sample assigned to its nearest mean in `means` (K × D), hard:
    /// how a backend that keeps no responsibilities (streaming) starts EM from initial means.
    fn stats_of_nearest(
        &mut self,
        _means: &DMatrix<f64>,
        _covariance_type: CovarianceType,
    ) -> Result<SufficientStats> {
        Err(GmmError::param(
            "init",
            "means",
            "the data are not on the host, so only label initialisation is possible; give labels or a warm-start model",
        ))
    }

    /// The statistics of hard `labels` (one per sample, in 0..k): what a label
    /// initialisation starts from. By default, one-hot responsibilities set on the backend;
    /// a backend that keeps none (streaming) computes them chunk by chunk.
    fn stats_of_labels(
        &mut self,
        labels: &[usize],
        k: usize,
        covariance_type: CovarianceType,
    ) -> Result<SufficientStats> {
        self.set_responsibilities(&crate::init::one_hot(labels, k))?;
        self.m_step_stats(covariance_type)
    }

    /// The sample weights, when the data carry them ([`crate::Samples::weighted`]): the
    /// backend then multiplies every sample's responsibilities by its weight (so its
    /// statistics are weighted) and weights its log-likelihood sum.
    fn sample_weights(&self) -> Option<&DVector<f64>> {
        None
    }

    /// Σ w_i (N without weights): what the mean log-likelihood divides by.
    fn total_weight(&self) -> f64 {
        self.sample_weights()
            .map_or(self.n_samples() as f64, |w| w.sum())
    }

    /// Notes about the run worth telling the user (for example GPU statistics recomputed in
    /// f64); none by default.
    fn fallbacks(&self) -> Vec<String> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_reject_responsibilities_of_the_wrong_length_and_zero_densities() {
        let x = DMatrix::from_fn(6, 2, |i, j| (i * 3 + j) as f64);
        let wrong = DMatrix::from_element(5, 2, 0.5);
        let mut cpu = cpu::CpuBackend::new(&x);
        let mut lowrank = lowrank::LowRankBackend::new(&x);
        for err in [
            cpu.set_responsibilities(&wrong).unwrap_err(),
            lowrank.set_responsibilities(&wrong).unwrap_err(),
        ] {
            assert!(
                err.to_string()
                    .contains("responsibilities have 5 rows for 6 samples"),
                "{err}"
            );
        }
        assert_eq!(finite_lower_bound(-3.5).unwrap(), -3.5);
        for bad in [f64::NEG_INFINITY, f64::NAN] {
            let err = finite_lower_bound(bad).unwrap_err().to_string();
            assert!(
                err.contains("zero density") && err.contains("reg_covar"),
                "{err}"
            );
        }
    }
}
