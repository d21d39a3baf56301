//! Where the largest products of the low-rank path run: the Gram matrix `X_c X_cᵀ` of a fit
//! (N² D) and the projections `X_c x` of queried samples (N D per sample). The rest — N × N
//! factorisations and solves, and the O(N D K) weighted means, centring and norms — runs on
//! the host.
//!
//! Both engines are accurate to about f64 rounding, which the low-rank algebra needs (it
//! subtracts nearly equal numbers before dividing by λ): the CPU by an f64 GEMM, the GPU by
//! exact integer products ([`crate::gpu::exact`], whose error is bounded relative to each
//! sample's largest value), so both give the same model to rounding.

use nalgebra::{DMatrix, DMatrixView};

use crate::device::Device;
use crate::error::Result;
#[cfg(feature = "gpu")]
use crate::gpu::GpuContext;
use crate::lowrank::gemm::cpu_transpose_times;

/// The engine for the low-rank path's D-dimensional products.
#[derive(Clone, Debug, Default)]
pub enum Products {
    /// f64 GEMM on the host (rayon).
    #[default]
    Cpu,
    /// Exact integer products on a GPU.
    #[cfg(feature = "gpu")]
    Gpu(GpuContext),
}

impl From<&Device> for Products {
    fn from(device: &Device) -> Self {
        match device {
            Device::Cpu => Products::Cpu,
            #[cfg(feature = "gpu")]
            Device::Gpu(ctx) => Products::Gpu(ctx.clone()),
        }
    }
}

impl Products {
    /// `aᵀ b` for `a` D × N and `b` D × m: N × m.
    pub fn transpose_times(
        &self,
        a: DMatrixView<'_, f64>,
        b: DMatrixView<'_, f64>,
    ) -> Result<DMatrix<f64>> {
        match self {
            Products::Cpu => Ok(cpu_transpose_times(a, b)),
            #[cfg(feature = "gpu")]
            Products::Gpu(ctx) => crate::gpu::exact::transpose_times(ctx, a, b),
        }
    }

    /// `aᵀ a` for `a` D × N, exactly symmetric.
    pub fn gram(&self, a: DMatrixView<'_, f64>) -> Result<DMatrix<f64>> {
        match self {
            Products::Cpu => {
                // The two triangles come from separate GEMM tasks: average them.
                let mut g = cpu_transpose_times(a, a);
                for j in 0..g.ncols() {
                    for i in 0..j {
                        let v = 0.5 * (g[(i, j)] + g[(j, i)]);
                        g[(i, j)] = v;
                        g[(j, i)] = v;
                    }
                }
                Ok(g)
            }
            // Computed once per pair and mirrored: exactly symmetric already.
            #[cfg(feature = "gpu")]
            Products::Gpu(ctx) => crate::gpu::exact::gram(ctx, a),
        }
    }

    /// Where the products run, in a few words.
    pub fn describe(&self) -> String {
        match self {
            Products::Cpu => "cpu".into(),
            #[cfg(feature = "gpu")]
            Products::Gpu(ctx) => ctx
                .describe()
                .replace(", f32,", ", exact integer products,"),
        }
    }
}
