//! Backends: where the E-step and the M-step statistics are computed.
//!
//! The EM loop ([`crate::em`]) is written once; a backend holds the data (on the host or on a
//! device) and the current responsibilities, and supplies
//! - [`Backend::e_step`]: responsibilities under given parameters and the mean log-likelihood;
//! - [`Backend::m_step_stats`]: the weighted counts, means and covariances from them.
//!
//! The host then adds `reg_covar`, factors the covariances (Cholesky, f64) and hands the
//! factors back for the next E-step.

pub mod cpu;

use nalgebra::DMatrix;

use crate::covariance::CovarianceType;
use crate::error::Result;
use crate::params::{MStepStats, MixtureParams};

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

    /// E-step: computes and keeps the responsibilities under `params`; returns the mean
    /// per-sample log-likelihood (the lower bound, in scikit-learn's sense).
    fn e_step(&mut self, params: &MixtureParams) -> Result<f64>;

    /// M-step statistics from the kept responsibilities.
    fn m_step_stats(&mut self, covariance_type: CovarianceType) -> Result<MStepStats>;

    /// The kept responsibilities (N × K), copied to the host.
    fn responsibilities(&self) -> Result<DMatrix<f64>>;
}
