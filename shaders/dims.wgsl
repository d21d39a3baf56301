// The uniform block every EM kernel reads (`kernels::Dims` on the host). The engine puts this
// file in front of each EM kernel's source (`kernels::SHADERS`), so the struct is written once.

struct Dims {
    rows: u32,          // samples in this chunk
    d: u32,             // features
    k: u32,             // components
    shared_factor: u32, // 1: one factor for every component (tied)
    span: u32,          // M-step: samples per group
    n_groups: u32,      // M-step: groups
    d_tiles: u32,       // M-step: ceil(d / 16)
    weighted: u32,      // E-step: 1 when responsibilities are multiplied by sample weights
}

