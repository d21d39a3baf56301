//! The wgpu engine against the f64 CPU reference (lavapipe in CI).

mod equivalence;
mod faults;
mod lowrank;
mod precision;
mod queries;
mod shaders;
mod traffic;
