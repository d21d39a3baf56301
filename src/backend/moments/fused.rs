//! The packed full-covariance moments times the responsibilities with an AVX2/FMA kernel of
//! our own, on CPUs that have them.
//!
//! The rows of every sample (`z_a z_b` for a ≥ b, `z_a`, 1; see [`super`]) are packed straight
//! into the layout the kernel reads: panels of eight rows, each panel sample after sample
//! (eight contiguous values per sample). A tile of eight rows × four components (eight
//! vector accumulators) then runs over the samples with two loads of the panel and four
//! broadcasts of the responsibilities per eight fused multiply-adds. Compared with handing
//! the same product to `matrixmultiply`, nothing is packed twice, and the thin shape
//! (hundreds of rows, K columns, 48 samples deep) costs no repacking per call.
//!
//! The sums run over the samples in order, per tile, so they do not depend on the thread
//! count; they are fused multiply-adds, so they differ in the last bits from the GEMM path of
//! CPUs without AVX2 and FMA.

use nalgebra::{DMatrix, DMatrixView, DVector};

use super::Shape;

/// Rows per panel (two vectors of four: with four components, eight accumulators, which
/// leave the registers for the loads; twelve rows spilled one accumulator).
const ROWS: usize = 8;
/// Components per tile (four broadcasts).
const COMPS: usize = 4;

/// Whether this CPU runs the fused kernel.
pub(super) fn available() -> bool {
    crate::linalg::avx2_fma()
}

/// Adds the full moments of the samples `xt` (D × B) about `shift` under `resp` (K × B) to
/// `acc` (rows × K, rows = D(D+1)/2 + D + 1). `packed` is scratch space.
pub(super) fn accumulate(
    xt: DMatrixView<'_, f64>,
    shift: &DVector<f64>,
    resp: DMatrixView<'_, f64>,
    packed: &mut Vec<f64>,
    acc: &mut DMatrix<f64>,
) {
    let (d, b) = xt.shape();
    let k = resp.nrows();
    let rows = Shape::Full.rows(d);
    assert_eq!((acc.nrows(), acc.ncols()), (rows, k));
    assert_eq!(resp.ncols(), b);
    let panels = rows.div_ceil(ROWS);
    let k_pad = k.div_ceil(COMPS) * COMPS;
    // Every entry is written below (padding included), so no zeroing pass.
    packed.resize(panels * ROWS * (b + 1) + b * k_pad, 0.0);
    #[cfg(target_arch = "x86_64")]
    {
        assert!(available(), "the fused kernel needs AVX2 and FMA");
        // SAFETY: AVX2 and FMA are there (checked above).
        unsafe { pack_and_multiply(xt, shift, resp, &mut packed[..], acc, panels, k_pad) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (xt, shift, resp, acc, k_pad);
        unreachable!("the fused kernel is only used where it is available")
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn pack_and_multiply(
    xt: DMatrixView<'_, f64>,
    shift: &DVector<f64>,
    resp: DMatrixView<'_, f64>,
    packed: &mut [f64],
    acc: &mut DMatrix<f64>,
    panels: usize,
    k_pad: usize,
) {
    let (b, k) = (xt.ncols(), resp.nrows());
    let (a, rest) = packed.split_at_mut(panels * ROWS * b);
    let (row, r) = rest.split_at_mut(panels * ROWS);
    pack(xt, shift, a, row);
    for j in 0..b {
        let out = &mut r[j * k_pad..(j + 1) * k_pad];
        for (c, o) in out.iter_mut().enumerate() {
            *o = if c < k { resp[(c, j)] } else { 0.0 };
        }
    }
    // SAFETY: `kernel` reads `a` (panels × 8 × b) and `r` (b × k_pad) within their lengths.
    kernel(a, r, b, k, k_pad, panels, acc)
}

/// The rows of every sample into panels of eight: row p of sample j at
/// `(p / 8) * 8 B + 8 j + p % 8`, the padding rows zero. `row` (panels × 8) is scratch:
/// one sample's rows, contiguous, before they are spread over the panels.
#[inline(always)]
fn pack(xt: DMatrixView<'_, f64>, shift: &DVector<f64>, a: &mut [f64], row: &mut [f64]) {
    let b = xt.ncols();
    let rows = Shape::Full.rows(xt.nrows());
    row[rows..].fill(0.0);
    for (j, col) in xt.column_iter().enumerate() {
        fill_row(col.as_slice(), shift.as_slice(), &mut row[..rows]);
        for (p, chunk) in row.chunks_exact(ROWS).enumerate() {
            a[p * ROWS * b + j * ROWS..][..ROWS].copy_from_slice(chunk);
        }
    }
}

/// One sample's rows about `shift`: `z_a z_b` for a ≥ b, `z_a`, 1.
#[inline(always)]
fn fill_row(x: &[f64], shift: &[f64], row: &mut [f64]) {
    let d = x.len();
    let (pairs, rest) = row.split_at_mut(row.len() - d - 1);
    let (z, one) = rest.split_at_mut(d);
    for ((zv, xv), s) in z.iter_mut().zip(x).zip(shift) {
        *zv = xv - s;
    }
    one[0] = 1.0;
    let mut at = 0;
    for i in 0..d {
        let zi = z[i];
        for (q, zj) in pairs[at..at + i + 1].iter_mut().zip(&z[..=i]) {
            *q = zi * zj;
        }
        at += i + 1;
    }
}

/// [`accumulate`] for one-hot responsibilities given as `labels` (sample j's weight
/// `weights[j]`, or 1): each sample's rows go to its own component's column only, a K-th of
/// the work, with the same fused multiply-adds in the same order as the kernel's, so the same
/// sums bit for bit (the kernel's products with a zero responsibility add exactly nothing).
pub(super) fn accumulate_labels(
    xt: DMatrixView<'_, f64>,
    shift: &DVector<f64>,
    labels: &[usize],
    weights: Option<&[f64]>,
    row: &mut Vec<f64>,
    acc: &mut DMatrix<f64>,
) {
    let (d, b) = xt.shape();
    assert_eq!(labels.len(), b);
    assert!(weights.is_none_or(|w| w.len() == b));
    assert_eq!(acc.nrows(), Shape::Full.rows(d));
    assert!(labels.iter().all(|&l| l < acc.ncols()));
    row.resize(Shape::Full.rows(d), 0.0);
    #[cfg(target_arch = "x86_64")]
    {
        assert!(available(), "the fused kernel needs AVX2 and FMA");
        // SAFETY: AVX2 and FMA are there (checked above).
        unsafe { labels_kernel(xt, shift, labels, weights, row, acc) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (shift, weights, acc);
        unreachable!("the fused kernel is only used where it is available")
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn labels_kernel(
    xt: DMatrixView<'_, f64>,
    shift: &DVector<f64>,
    labels: &[usize],
    weights: Option<&[f64]>,
    row: &mut [f64],
    acc: &mut DMatrix<f64>,
) {
    let rows = acc.nrows();
    let sums = acc.as_mut_slice();
    for (j, col) in xt.column_iter().enumerate() {
        fill_row(col.as_slice(), shift.as_slice(), row);
        let w = weights.map_or(1.0, |w| w[j]);
        // (a plain slice, so that the loop vectorises)
        let out = &mut sums[labels[j] * rows..(labels[j] + 1) * rows];
        for (o, v) in out.iter_mut().zip(row.iter()) {
            *o = v.mul_add(w, *o);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel(
    a: &[f64],
    r: &[f64],
    b: usize,
    k: usize,
    k_pad: usize,
    panels: usize,
    acc: &mut DMatrix<f64>,
) {
    use std::arch::x86_64::*;
    let rows = acc.nrows();
    for p in 0..panels {
        let panel = a.as_ptr().add(p * ROWS * b);
        for t in 0..k_pad / COMPS {
            // The tile of acc: rows 8p.., components 4t.. (copied when it crosses an edge).
            let row0 = p * ROWS;
            let comp0 = t * COMPS;
            let whole = row0 + ROWS <= rows && comp0 + COMPS <= k;
            let mut edge = [0.0; ROWS * COMPS];
            let (base, stride) = if whole {
                (acc.as_mut_ptr().add(row0 + comp0 * rows), rows)
            } else {
                for c in 0..COMPS.min(k - comp0) {
                    for i in 0..ROWS.min(rows - row0) {
                        edge[c * ROWS + i] = acc[(row0 + i, comp0 + c)];
                    }
                }
                (edge.as_mut_ptr(), ROWS)
            };
            let mut c = [[_mm256_setzero_pd(); 2]; COMPS];
            for (cc, col) in c.iter_mut().enumerate() {
                for (v, lane) in col.iter_mut().enumerate() {
                    *lane = _mm256_loadu_pd(base.add(cc * stride + 4 * v));
                }
            }
            for j in 0..b {
                let x = panel.add(j * ROWS);
                let (a0, a1) = (_mm256_loadu_pd(x), _mm256_loadu_pd(x.add(4)));
                let rj = r.as_ptr().add(j * k_pad + comp0);
                for (cc, col) in c.iter_mut().enumerate() {
                    let w = _mm256_broadcast_sd(&*rj.add(cc));
                    col[0] = _mm256_fmadd_pd(a0, w, col[0]);
                    col[1] = _mm256_fmadd_pd(a1, w, col[1]);
                }
            }
            for (cc, col) in c.iter().enumerate() {
                for (v, lane) in col.iter().enumerate() {
                    _mm256_storeu_pd(base.add(cc * stride + 4 * v), *lane);
                }
            }
            if !whole {
                for cc in 0..COMPS.min(k - comp0) {
                    for i in 0..ROWS.min(rows - row0) {
                        acc[(row0 + i, comp0 + cc)] = edge[cc * ROWS + i];
                    }
                }
            }
        }
    }
}
