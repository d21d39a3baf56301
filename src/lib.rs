//! # gaussmix
//!
//! Gaussian mixture models fitted by expectation–maximisation, on the CPU in f64 (the reference
//! path) and on the GPU through wgpu compute shaders.
//!
//! The flow through the crate is one way: data → validated matrix ([`validate`]) →
//! initialisation ([`init`]) → EM loop ([`em`]) over a [`backend::Backend`] → fitted
//! [`GaussianMixture`] → queries (score, predict, sample, condition) → outputs ([`io`]).
//!
//! ```
//! use gaussmix::{FitConfig, GaussianMixture, CovarianceType};
//! use nalgebra::DMatrix;
//! let x = DMatrix::from_fn(200, 2, |i, j| if i < 100 { -3.0 } else { 3.0 } + ((i * 7 + j * 3) % 11) as f64 * 0.1);
//! let model = GaussianMixture::fit(&x, &FitConfig::new(2).covariance_type(CovarianceType::Diag)).unwrap();
//! assert_eq!(model.n_components(), 2);
//! ```

pub mod array;
pub mod backend;
pub mod cli;
pub mod condition;
pub mod config;
pub mod covariance;
pub mod device;
pub mod em;
pub mod error;
pub mod faces;
pub mod fit;
pub mod forecast;
pub mod gpu;
pub mod imagegrid;
pub mod init;
pub mod io;
pub mod linalg;
pub mod lowrank;
pub mod missing;
pub mod model;
pub mod output;
pub mod params;
pub mod validate;

pub use config::{FitConfig, InitMethod};
pub use covariance::{CovarianceType, Covariances};
pub use device::DeviceChoice;
pub use error::{GmmError, Result};
pub use fit::{fit, FitOptions, FullPath};
pub use model::{FitSummary, GaussianMixture};
pub use params::MixtureParams;
