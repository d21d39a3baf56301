//! The integration tests, as one test binary (one link of the crate and wgpu instead of one
//! per file). Grouped by what they exercise; `cargo test --test it gpu::` runs the GPU group.

mod common;

mod architecture;
mod cli;
mod condition;
mod distributed;
mod em;
mod forecast;
mod fuzz_corpus;
mod gpu;
mod lowrank;
mod missing;
mod mpi;
mod stream;
