//! # gaussmix
//!
//! Gaussian mixture models fitted by expectation–maximisation, on the CPU in f64 (the reference
//! path) and on the GPU through wgpu compute shaders, with an exact low-rank path for full
//! covariances when samples are fewer than dimensions, EM with missing values, and
//! conditioning (imputation, forecasting).
//!
//! One way through: validated [`Samples`] → initialisation → one EM loop over a backend that
//! supplies mergeable [`SufficientStats`] → a fitted [`GaussianMixture`] → queries (score,
//! predict, sample, condition) → outputs ([`io`]). `ARCHITECTURE.md` maps the modules.
//!
//! ```
//! use gaussmix::{fit, CovarianceType, DeviceChoice, FitConfig, FitOptions, GaussianMixture, Samples};
//! use nalgebra::DMatrix;
//! let x = DMatrix::from_fn(200, 2, |i, j| if i < 100 { -3.0 } else { 3.0 } + ((i * 7 + j * 3) % 11) as f64 * 0.1);
//! let config = FitConfig::new(2).covariance_type(CovarianceType::Diag);
//! // The one-line door (automatic device and path):
//! let model = GaussianMixture::fit(&x, &config).unwrap();
//! assert_eq!(model.n_components(), 2);
//! // The door with every option:
//! let model = fit(&Samples::new(&x).unwrap(), &config, FitOptions::new().device(DeviceChoice::Cpu)).unwrap();
//! assert!(model.summary().converged);
//! ```
//!
//! Cargo features: `gpu` (wgpu; the [`Device::Gpu`] engine) and `cli` (the `gaussmix`
//! command-line tool and its applications: faces, plots, image input), both on by default.
//! Without them the crate is the CPU core: EM of every kind, the low-rank path, conditioning
//! and model files.

pub(crate) mod array;
pub(crate) mod backend;
pub mod collective;
pub mod condition;
pub mod config;
pub mod covariance;
pub(crate) mod density;
pub mod device;
pub(crate) mod em;
mod engine;
pub mod error;
#[cfg(feature = "cli")]
pub mod faces;
mod fit;
pub mod forecast;
#[cfg(feature = "gpu")]
pub mod gpu;
#[cfg(feature = "cli")]
pub mod imagegrid;
pub(crate) mod init;
pub mod io;
pub(crate) mod linalg;
pub mod lowrank;
pub(crate) mod memory;
pub mod missing;
mod model;
#[cfg(feature = "mpi")]
pub mod mpi_world;
pub mod output;
pub mod params;
pub(crate) mod patterns;
mod query;
mod samples;
pub mod stats;
pub mod synthetic;
pub mod variational;

pub use config::{FitConfig, InitMethod, ValidFitConfig};
pub use covariance::{CovarianceType, Covariances, Precisions};
pub use device::{Device, DeviceChoice, Work};
pub use em::{IterationEvent, Progress};
pub use engine::Engine;
pub use error::{GmmError, Result};
pub use fit::{fit, FitOptions, FullPath};
pub use init::seeded_rng;
pub use model::{FitSummary, GaussianMixture, VariationalFit};
pub use params::MixtureParams;
pub use samples::{
    check_weights as check_sample_weights, weighted_mean, MatrixInput, RowSource, Samples,
};
pub use stats::{Scatter, SufficientStats};
pub use variational::{VariationalConfig, WeightPrior};
