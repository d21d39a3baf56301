//! The WGSL compute shaders and their pipelines.
//!
//! Every shader is one file under `shaders/`, compiled into the binary with `include_str!`,
//! with a single entry point `main` and one bind group whose layout wgpu derives from the
//! shader (every declared binding is used).

/// `(name, source)` of every shader, for the pipelines and for validation tests.
pub const SHADERS: [(&str, &str); 6] = [
    ("estep_full", include_str!("../../shaders/estep_full.wgsl")),
    ("estep_diag", include_str!("../../shaders/estep_diag.wgsl")),
    (
        "estep_normalize",
        include_str!("../../shaders/estep_normalize.wgsl"),
    ),
    (
        "mstep_means",
        include_str!("../../shaders/mstep_means.wgsl"),
    ),
    (
        "mstep_diag_scatter",
        include_str!("../../shaders/mstep_diag_scatter.wgsl"),
    ),
    (
        "mstep_full_scatter",
        include_str!("../../shaders/mstep_full_scatter.wgsl"),
    ),
];

/// Samples per workgroup of the full/tied E-step kernel.
pub const ESTEP_FULL_SAMPLES: u32 = 64;
/// Samples per workgroup of the diag/spherical E-step kernel.
pub const ESTEP_DIAG_SAMPLES: u32 = 64;
/// Samples per workgroup of the normalisation kernel (and per log-likelihood partial sum).
pub const NORMALIZE_SAMPLES: u32 = 256;
/// Edge of the square tiles of the M-step kernels.
pub const TILE: u32 = 16;

/// The uniform block every kernel reads (`struct Dims` in the shaders).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Dims {
    /// Samples in this chunk.
    pub rows: u32,
    /// Features.
    pub d: u32,
    /// Components.
    pub k: u32,
    /// 1 when one precision factor serves every component (tied).
    pub shared_factor: u32,
    /// M-step: samples per group.
    pub span: u32,
    /// M-step: number of groups.
    pub n_groups: u32,
    /// M-step: `ceil(d / 16)`.
    pub d_tiles: u32,
    /// Padding to 32 bytes.
    pub pad: u32,
}

/// The compute pipelines, built once per device.
pub struct Kernels {
    pub estep_full: wgpu::ComputePipeline,
    pub estep_diag: wgpu::ComputePipeline,
    pub estep_normalize: wgpu::ComputePipeline,
    pub mstep_means: wgpu::ComputePipeline,
    pub mstep_diag_scatter: wgpu::ComputePipeline,
    pub mstep_full_scatter: wgpu::ComputePipeline,
}

impl Kernels {
    /// Compiles every shader on `device`.
    pub fn new(device: &wgpu::Device) -> Self {
        let build = |name: &str| {
            let source = SHADERS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, s)| *s)
                .expect("shader listed in SHADERS");
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(name),
                source: wgpu::ShaderSource::Wgsl(source.into()),
            });
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(name),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        Kernels {
            estep_full: build("estep_full"),
            estep_diag: build("estep_diag"),
            estep_normalize: build("estep_normalize"),
            mstep_means: build("mstep_means"),
            mstep_diag_scatter: build("mstep_diag_scatter"),
            mstep_full_scatter: build("mstep_full_scatter"),
        }
    }
}
