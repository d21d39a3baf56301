//! The wgpu device layer: the device and its compiled kernels, and exact integer products.
//!
//! - [`GpuContext`] owns a headless device ([`GpuContext::new`]) or wraps one handed in by
//!   another wgpu application ([`GpuContext::from_device`]); [`crate::Device::Gpu`] carries
//!   one to every fit and query.
//! - [`kernels`] compiles the WGSL compute shaders of `shaders/` (the E-step and M-step
//!   statistics that the GPU backend dispatches, `crate::backend::gpu`).
//! - [`traffic`] counts what moves between host and device ([`Traffic`], from
//!   [`GpuContext::traffic`]): bytes each way and host round trips.
//! - [`exact`] computes f64-accurate products `Aᵀ B` in integer arithmetic, for the exact
//!   low-rank path (its Gram matrix and projections), which f32 cannot serve.
//!
//! The arithmetic of the EM kernels is f32 (the exact products use none). Covariances are
//! accumulated as centred scatters (means first), so they do not suffer the cancellation of
//! `E[xxᵀ] − μμᵀ`; the per-group partial sums are added on the device, pairwise (so one row
//! of totals comes back per step); the Cholesky factorisation stays on the host in f64.

pub mod context;
pub mod exact;
pub mod kernels;
pub mod traffic;

pub use context::{list_adapters, AdapterSummary, GpuContext};
pub use traffic::Traffic;
