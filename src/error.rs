//! The library's error type: every failure names the problem and what to do about it.

use std::path::PathBuf;

/// Errors returned by gaussmix. Each message names the problem and, where there is one, the remedy.
#[derive(Debug, thiserror::Error)]
pub enum GmmError {
    /// A parameter is out of its valid range.
    #[error("invalid parameter {name} = {value}: {hint}")]
    InvalidParameter {
        name: &'static str,
        value: String,
        hint: String,
    },

    /// The data cannot be used as given.
    #[error("invalid data: {0}")]
    InvalidData(String),

    /// A non-finite value at a given place in the data.
    #[error("non-finite value {value} at row {row}, column {column} (0-based): remove or impute it first")]
    NonFinite {
        row: usize,
        column: usize,
        value: f64,
    },

    /// The number of features of the data differs from the model's.
    #[error("dimension mismatch: the model has {expected} features but the data have {found}; use data with the columns the model was fitted on")]
    DimensionMismatch { expected: usize, found: usize },

    /// A covariance matrix is not positive definite.
    #[error("component {component}: the covariance is not positive definite ({detail}). Fitting failed because this component has an ill-defined covariance (for instance collapsed onto one or a few points); increase reg_covar (now {reg_covar:e}), use fewer components, or scale the data")]
    NotPositiveDefinite {
        component: usize,
        reg_covar: f64,
        detail: String,
    },

    /// A model (in memory or loaded from a file) is inconsistent.
    #[error("invalid model: {0}")]
    InvalidModel(String),

    /// Reading or writing a file failed.
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },

    /// The arithmetic broke down (non-finite statistics or log-likelihoods): scale the data,
    /// raise `reg_covar`, or use the f64 CPU device.
    #[error("numerical failure: {0}")]
    Numerical(String),

    /// No usable GPU adapter (no driver, or none that wgpu can open).
    #[error("GPU unavailable: {0}")]
    GpuUnavailable(String),

    /// The GPU device was lost or hung during the work; nothing from that run is kept.
    #[error("GPU device lost: {0}")]
    DeviceLost(String),

    /// The GPU ran out of memory.
    #[error("GPU out of memory: {0}")]
    OutOfMemory(String),

    /// The work exceeds a limit of the device (binding size, workgroup count, …).
    #[error("GPU device limit: {0}")]
    DeviceLimit(String),

    /// Any other GPU failure (a validation error reported by the driver, say).
    #[error("GPU: {0}")]
    Gpu(String),

    /// Another member of a distributed fit failed (its message is given); every member stops
    /// at the same collective, and no model is written.
    #[error("rank {rank} of {size} failed: {message}")]
    Distributed {
        rank: usize,
        size: usize,
        message: String,
    },

    /// A failure worded by the caller (an application's own reading of a member's rows, say),
    /// passed on as it is.
    #[error("{0}")]
    Caller(String),

    /// The caller asked the fit to stop (a progress callback returned `Break`).
    #[error("interrupted: {0}")]
    Interrupted(String),
}

impl GmmError {
    /// A file error with a path and a message.
    pub fn file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        GmmError::File {
            path: path.into(),
            message: message.into(),
        }
    }

    /// An invalid-parameter error.
    pub fn param(name: &'static str, value: impl ToString, hint: impl Into<String>) -> Self {
        GmmError::InvalidParameter {
            name,
            value: value.to_string(),
            hint: hint.into(),
        }
    }
}

impl GmmError {
    /// Whether this error comes from the GPU device (so the CPU device may still serve).
    pub fn is_gpu(&self) -> bool {
        matches!(
            self,
            GmmError::GpuUnavailable(_)
                | GmmError::DeviceLost(_)
                | GmmError::OutOfMemory(_)
                | GmmError::DeviceLimit(_)
                | GmmError::Gpu(_)
        )
    }
}

/// The library's result type.
pub type Result<T, E = GmmError> = std::result::Result<T, E>;
