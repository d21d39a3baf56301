//! EM on the CPU: recovery, degenerate data, determinism, properties, scikit-learn interop.

mod cpu;
mod degenerate;
mod determinism;
mod properties;
mod sklearn_fit;
mod sklearn_interop;
