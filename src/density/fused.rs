//! Full-covariance Mahalanobis distances in one fused pass, on CPUs with AVX2 and FMA.
//!
//! `y = Uᵀ x − Uᵀ μ_k` is formed eight rows of `Uᵀ` at a time for six samples at once, twelve
//! vector accumulators over the columns of the lower triangle only, and squared into the
//! distance while still in registers. So the E-step of full covariances does the
//! K·D(D+1)/2 useful multiply-adds per sample (plus the padding of the diagonal blocks)
//! without writing the K·D products to memory and reading them back.
//!
//! Every sample goes through the same vector operations (a last group of fewer than six is
//! padded), so a sample's result does not depend on where it falls in a block: the same on
//! any thread count. The sums are fused multiply-adds, so they differ in the last bits from
//! the GEMM path that CPUs without AVX2 and FMA take.

use nalgebra::{DMatrix, DMatrixView};

use super::Terms;

/// Rows of `Uᵀ` per tile (two vectors of four).
const ROWS: usize = 8;
/// Samples per group.
const SAMPLES: usize = 6;

/// Whether this CPU runs the fused kernel.
pub(super) fn available() -> bool {
    crate::linalg::avx2_fma()
}

/// Every component's `Uᵀ` cut into tiles of eight rows, each tile the columns its rows reach
/// (up to its last row: the lower triangle), eight values per column; and `Uᵀ μ_k`, padded
/// to whole tiles with zeros (padded rows add nothing).
pub(super) struct Panels {
    d: usize,
    tiles: usize,
    data: Vec<f64>,
    /// Start of tile t of component c in `data`, at `c * tiles + t`.
    offsets: Vec<usize>,
    /// `Uᵀ μ_c`, `tiles * 8` values per component.
    shift: Vec<f64>,
}

impl Panels {
    /// The panels of the precision factors `us` (upper triangular U_k) and the means (K × D).
    pub(super) fn new(us: &[DMatrix<f64>], means: &DMatrix<f64>) -> Panels {
        let d = means.ncols();
        let tiles = d.div_ceil(ROWS);
        let mut data = Vec::new();
        let mut offsets = Vec::with_capacity(us.len() * tiles);
        let mut shift = vec![0.0; us.len() * tiles * ROWS];
        for (c, u) in us.iter().enumerate() {
            let ut = u.transpose();
            let b = &ut * means.row(c).transpose();
            for t in 0..tiles {
                offsets.push(data.len());
                for j in 0..reach(t, d) {
                    for r in 0..ROWS {
                        let row = t * ROWS + r;
                        data.push(if row < d { ut[(row, j)] } else { 0.0 });
                    }
                }
            }
            shift[c * tiles * ROWS..c * tiles * ROWS + d].copy_from_slice(b.as_slice());
        }
        Panels {
            d,
            tiles,
            data,
            offsets,
            shift,
        }
    }

    /// The log-densities (K × n into `out`, sample after sample) of the samples `xt`
    /// (D × n, any column stride).
    pub(super) fn log_densities(
        &self,
        xt: DMatrixView<'_, f64>,
        terms: &Terms<'_>,
        out: &mut [f64],
    ) {
        let k = self.offsets.len() / self.tiles.max(1);
        let n = xt.ncols();
        assert_eq!(xt.nrows(), self.d);
        assert_eq!(xt.strides().0, 1, "samples as contiguous columns");
        assert_eq!(out.len(), k * n);
        #[cfg(target_arch = "x86_64")]
        {
            assert!(available(), "the fused kernel needs AVX2 and FMA");
            // SAFETY: the CPU has AVX2 and FMA (checked above); every pointer the kernel
            // reads lies inside `xt`, the panels or the padded copy (see `kernel`).
            unsafe { self.kernel(xt, terms, out, k) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (terms, out, k);
            unreachable!("the fused kernel is only prepared where it is available")
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn kernel(
        &self,
        xt: DMatrixView<'_, f64>,
        terms: &Terms<'_>,
        out: &mut [f64],
        k: usize,
    ) {
        let (d, n) = (self.d, xt.ncols());
        let cs = xt.strides().1;
        let base = xt.as_ptr();
        let whole = n / SAMPLES * SAMPLES;
        // The last, incomplete group, copied into six padded columns.
        let mut pad = vec![0.0; SAMPLES * d];
        for s in 0..n - whole {
            for j in 0..d {
                pad[s * d + j] = *base.add((whole + s) * cs + j);
            }
        }
        let mut dist = [0.0; SAMPLES];
        for c in 0..k {
            let mut i = 0;
            while i < n {
                let cols: [*const f64; SAMPLES] = if i < whole {
                    std::array::from_fn(|s| base.add((i + s) * cs))
                } else {
                    std::array::from_fn(|s| pad.as_ptr().add(s * d))
                };
                self.group(c, cols, &mut dist);
                for (s, m) in dist.iter().enumerate().take((n - i).min(SAMPLES)) {
                    out[(i + s) * k + c] = terms.finish(c, *m);
                }
                i += SAMPLES;
            }
        }
    }

    /// The squared distances ‖Uᵀ x − Uᵀ μ_c‖² of the six samples at `cols` (each D values).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn group(&self, c: usize, cols: [*const f64; SAMPLES], dist: &mut [f64; SAMPLES]) {
        use std::arch::x86_64::*;
        let mut part = [_mm256_setzero_pd(); SAMPLES];
        for t in 0..self.tiles {
            let panel = self.data.as_ptr().add(self.offsets[c * self.tiles + t]);
            let mut acc = [[_mm256_setzero_pd(); 2]; SAMPLES];
            for j in 0..reach(t, self.d) {
                let u0 = _mm256_loadu_pd(panel.add(ROWS * j));
                let u1 = _mm256_loadu_pd(panel.add(ROWS * j + 4));
                for s in 0..SAMPLES {
                    let x = _mm256_broadcast_sd(&*cols[s].add(j));
                    acc[s][0] = _mm256_fmadd_pd(u0, x, acc[s][0]);
                    acc[s][1] = _mm256_fmadd_pd(u1, x, acc[s][1]);
                }
            }
            let sh = self.shift.as_ptr().add((c * self.tiles + t) * ROWS);
            let (s0, s1) = (_mm256_loadu_pd(sh), _mm256_loadu_pd(sh.add(4)));
            for s in 0..SAMPLES {
                let d0 = _mm256_sub_pd(acc[s][0], s0);
                let d1 = _mm256_sub_pd(acc[s][1], s1);
                part[s] = _mm256_fmadd_pd(d0, d0, part[s]);
                part[s] = _mm256_fmadd_pd(d1, d1, part[s]);
            }
        }
        for s in 0..SAMPLES {
            let mut lanes = [0.0; 4];
            _mm256_storeu_pd(lanes.as_mut_ptr(), part[s]);
            dist[s] = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
        }
    }
}

/// Columns of `Uᵀ` that tile `t`'s rows reach (its last row's, or D).
fn reach(t: usize, d: usize) -> usize {
    ((t + 1) * ROWS).min(d)
}
