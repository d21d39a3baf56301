//! EM on the CPU: recovery, degenerate data, determinism, properties, scikit-learn interop,
//! and variational Bayesian fits against scikit-learn's.

mod cpu;
mod degenerate;
mod determinism;
mod properties;
mod sklearn_bayesian;
mod sklearn_fit;
mod sklearn_interop;
mod variational;
mod weights;
