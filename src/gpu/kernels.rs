//! The WGSL compute shaders and their pipelines.
//!
//! Every shader is one file under `shaders/`, compiled into the binary with `include_str!`,
//! with a single entry point `main` and one bind group whose layout wgpu derives from the
//! shader (every declared binding is used). The EM kernels share their uniform block,
//! `struct Dims`, from `shaders/dims.wgsl`, which is put in front of each of their sources.

/// The `struct Dims` every EM kernel reads, written once (`shaders/dims.wgsl`).
pub const DIMS_PRELUDE: &str = include_str!("../../shaders/dims.wgsl");

/// The source of an EM kernel: the `Dims` prelude, then the kernel's own file.
macro_rules! em_kernel {
    ($file:literal) => {
        concat!(
            include_str!("../../shaders/dims.wgsl"),
            include_str!(concat!("../../shaders/", $file))
        )
    };
}

/// `(name, source)` of every shader, for the pipelines and for validation tests.
pub const SHADERS: [(&str, &str); 9] = [
    ("estep_full", em_kernel!("estep_full.wgsl")),
    ("estep_diag", em_kernel!("estep_diag.wgsl")),
    ("estep_normalize", em_kernel!("estep_normalize.wgsl")),
    ("mstep_means", em_kernel!("mstep_means.wgsl")),
    ("mstep_diag_scatter", em_kernel!("mstep_diag_scatter.wgsl")),
    ("mstep_full_scatter", em_kernel!("mstep_full_scatter.wgsl")),
    ("mstep_finish_means", em_kernel!("mstep_finish_means.wgsl")),
    (
        "reduce_groups",
        include_str!("../../shaders/reduce_groups.wgsl"),
    ),
    (
        "exact_products",
        include_str!("../../shaders/exact_products.wgsl"),
    ),
];

/// Samples per workgroup of the full/tied E-step kernel with 64-column tiles (the fewest of
/// its variants).
pub const ESTEP_FULL_SAMPLES: u32 = 64;

/// The line of `estep_full.wgsl` that sets the tile; replaced to build the narrower variants.
const ESTEP_FULL_TILE_LINE: &str = "const TJ: u32 = 64u; const TL: u32 = 16u;";

/// Variants of the full/tied E-step kernel: `(output columns per tile TJ, reduction depth TL)`.
/// A workgroup of 256 threads covers `4 × 256 / (TJ / 4)` samples: 64, 128 or 256.
pub const ESTEP_FULL_TILES: [(u32, u32); 3] = [(16, 8), (32, 16), (64, 16)];

/// The tile width of the full/tied E-step kernel for `d` features: the narrowest that
/// covers `d`, or 64.
pub fn estep_full_tile(d: usize) -> u32 {
    ESTEP_FULL_TILES
        .iter()
        .map(|t| t.0)
        .find(|&tj| d <= tj as usize)
        .unwrap_or(64)
}

/// Samples per workgroup of the full/tied E-step kernel with tiles of `tj` columns.
pub fn estep_full_samples(tj: u32) -> u32 {
    4 * 256 / (tj / 4)
}

/// The source of the full/tied E-step kernel with tiles of `tj` columns and depth `tl`.
pub fn estep_full_source(tj: u32, tl: u32) -> String {
    let source = SHADERS[0].1;
    assert!(
        source.contains(ESTEP_FULL_TILE_LINE),
        "estep_full.wgsl lost its tile line"
    );
    source.replace(
        ESTEP_FULL_TILE_LINE,
        &format!("const TJ: u32 = {tj}u; const TL: u32 = {tl}u;"),
    )
}
/// Samples per workgroup of the diag/spherical E-step kernel.
pub const ESTEP_DIAG_SAMPLES: u32 = 64;
/// Samples per workgroup of the normalisation kernel (and per log-likelihood partial sum).
pub const NORMALIZE_SAMPLES: u32 = 256;
/// Edge of the square tiles of the M-step kernels.
pub const TILE: u32 = 16;
/// Threads per workgroup of the group-sum reduction (`shaders/reduce_groups.wgsl`).
pub const REDUCE_THREADS: u32 = 256;
/// Threads per workgroup of the means kernel (`shaders/mstep_finish_means.wgsl`).
pub const FINISH_MEANS_THREADS: u32 = 64;

/// The uniform block every EM kernel reads (`struct Dims` in `shaders/dims.wgsl`).
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
    /// 1 when the E-step multiplies the responsibilities by sample weights (binding 4 of
    /// `estep_normalize.wgsl`); also pads the block to 32 bytes.
    pub weighted: u32,
}

/// The uniform block of the group-sum reduction (`struct ReduceDims` in
/// `shaders/reduce_groups.wgsl`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ReduceDims {
    /// Rows of partial sums to add.
    pub groups: u32,
    /// Floats per row.
    pub width: u32,
    /// Columns per workgroup (a power of two up to [`REDUCE_THREADS`]).
    pub cols: u32,
    /// Workgroups along x (the rest along y).
    pub blocks_x: u32,
    /// Where the totals go in the output buffer, in floats.
    pub out_offset: u32,
    /// Padding to 32 bytes.
    pub pad: [u32; 3],
}

/// The compute pipelines, built once per device.
pub struct Kernels {
    /// The full/tied E-step, one pipeline per entry of [`ESTEP_FULL_TILES`].
    pub estep_full: Vec<(u32, wgpu::ComputePipeline)>,
    pub estep_diag: wgpu::ComputePipeline,
    pub estep_normalize: wgpu::ComputePipeline,
    pub mstep_means: wgpu::ComputePipeline,
    pub mstep_diag_scatter: wgpu::ComputePipeline,
    pub mstep_full_scatter: wgpu::ComputePipeline,
    /// The means from the reduced first-pass totals, on the device.
    pub mstep_finish_means: wgpu::ComputePipeline,
    /// Sums per-group partial statistics on the device.
    pub reduce_groups: wgpu::ComputePipeline,
    /// Exact integer products for the low-rank path ([`crate::gpu::exact`]).
    pub exact_products: wgpu::ComputePipeline,
}

impl Kernels {
    /// The full/tied E-step pipeline for `d` features and its samples per workgroup.
    pub fn estep_full_for(&self, d: usize) -> (&wgpu::ComputePipeline, u32) {
        let tj = estep_full_tile(d);
        let p = self
            .estep_full
            .iter()
            .find(|(t, _)| *t == tj)
            .map(|(_, p)| p)
            .expect("a pipeline per tile");
        (p, estep_full_samples(tj))
    }

    /// Compiles every shader on `device`.
    pub fn new(device: &wgpu::Device) -> Self {
        let build_source = |name: &str, source: String| {
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
        let build = |name: &str| {
            let source = SHADERS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, s)| *s)
                .expect("shader listed in SHADERS");
            build_source(name, source.to_string())
        };
        Kernels {
            estep_full: ESTEP_FULL_TILES
                .iter()
                .map(|&(tj, tl)| (tj, build_source("estep_full", estep_full_source(tj, tl))))
                .collect(),
            estep_diag: build("estep_diag"),
            estep_normalize: build("estep_normalize"),
            mstep_means: build("mstep_means"),
            mstep_diag_scatter: build("mstep_diag_scatter"),
            mstep_full_scatter: build("mstep_full_scatter"),
            mstep_finish_means: build("mstep_finish_means"),
            reduce_groups: build("reduce_groups"),
            exact_products: build("exact_products"),
        }
    }
}
