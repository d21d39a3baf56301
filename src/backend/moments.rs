//! The CPU M-step sums of a block of samples as one GEMM: with z = x − s for a shift s shared
//! by all components (the data's mean), the rows
//!
//! - `z_a z_b` for a ≥ b (the packed lower triangle, full and tied covariances) or `z_a²`
//!   (diag and spherical),
//! - `z_a`,
//! - `1`,
//!
//! of every sample, times the responsibilities, give each component's scatter about s,
//! `Σ r (x − s)` and `N_k` at once: (rows × B) · (B × K). That is the M-step's useful work
//! (K·D(D+1)/2 multiply-adds per sample for full covariances) in one large product instead of
//! K small ones. [`SufficientStats::to_params`] then moves the scatter to each component's
//! mean exactly (parallel axis); its rounding grows with (‖μ_k − s‖ / σ_k)², which a shift at
//! the data's mean keeps small.
//!
//! The packed rows are D(D+1)/2 + D + 1 per sample, so this form serves small and moderate D
//! ([`MAX_PACKED_DIM`]); beyond it the CPU backend forms each component's centred product.
//! For full covariances on CPUs with AVX2 and FMA the product is a kernel of our own
//! ([`fused`]) instead of `matrixmultiply`.

use nalgebra::{DMatrix, DMatrixView, DVector};

use crate::covariance::CovarianceType;
use crate::linalg::{gemm, with_avx2, Strided};
use crate::stats::{Scatter, SufficientStats};

mod fused;

/// Largest D for the packed second moments of full covariances.
pub const MAX_PACKED_DIM: usize = 64;

/// Which second moments the rows hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The packed lower triangle of z zᵀ.
    Full,
    /// The squares z_a².
    Diag,
}

impl Shape {
    /// The shape a covariance type needs.
    pub fn of(covariance_type: CovarianceType) -> Shape {
        match covariance_type {
            CovarianceType::Full | CovarianceType::Tied => Shape::Full,
            CovarianceType::Diag | CovarianceType::Spherical => Shape::Diag,
        }
    }

    /// Second-moment rows per sample.
    fn second(self, d: usize) -> usize {
        match self {
            Shape::Full => d * (d + 1) / 2,
            Shape::Diag => d,
        }
    }

    /// All rows per sample: second moments, first moments, one.
    pub fn rows(self, d: usize) -> usize {
        self.second(d) + d + 1
    }
}

/// Adds the moments of the samples `xt` (D × B, one per column) under the responsibilities
/// `resp` (K × B) to `acc` (rows × K). `packed` is scratch space, reused between calls.
///
/// The rows are built into a `rows × B` matrix (for full covariances row by row, each row one
/// product over all B samples; for diag ones sample by sample), then multiplied once.
pub fn accumulate(
    shape: Shape,
    xt: DMatrixView<'_, f64>,
    shift: &DVector<f64>,
    resp: DMatrixView<'_, f64>,
    packed: &mut Vec<f64>,
    acc: &mut DMatrix<f64>,
) {
    let n = xt.ncols();
    let mut start = 0;
    while start < n {
        let len = SUB_BLOCK.min(n - start);
        accumulate_block(
            shape,
            xt.columns(start, len),
            shift,
            resp.columns(start, len),
            packed,
            acc,
        );
        start += len;
    }
}

/// Samples per packed product: the packed rows (D(D+1)/2 + D + 1 per sample) stay in a
/// core's L2 cache for D up to about 40.
const SUB_BLOCK: usize = 48;

fn accumulate_block(
    shape: Shape,
    xt: DMatrixView<'_, f64>,
    shift: &DVector<f64>,
    resp: DMatrixView<'_, f64>,
    packed: &mut Vec<f64>,
    acc: &mut DMatrix<f64>,
) {
    if shape == Shape::Full && fused::available() {
        fused::accumulate(xt, shift, resp, packed, acc);
        return;
    }
    let (d, b) = xt.shape();
    let rows = shape.rows(d);
    let second = shape.second(d);
    packed.resize(rows * b, 0.0);
    if shape == Shape::Diag {
        // Few rows per sample: written sample by sample (rows × B, column-major), contiguous
        // stores instead of a transposition. The product sees the same matrix, so the same
        // sums.
        pack_diag(xt, shift, &mut packed[..rows * b]);
        gemm(
            1.0,
            Strided::col_major(&packed[..rows * b], rows, b),
            Strided::view(&resp).t(),
            1.0,
            &mut acc.as_view_mut(),
        );
        return;
    }
    let (sq, rest) = packed[..rows * b].split_at_mut(second * b);
    let (z, ones) = rest.split_at_mut(d * b);
    pack_full(xt, shift, b, sq, z);
    ones.fill(1.0);
    gemm(
        1.0,
        Strided::col_major(&packed[..rows * b], b, rows).t(),
        Strided::view(&resp).t(),
        1.0,
        &mut acc.as_view_mut(),
    );
}

/// Whether [`accumulate_labels`] serves `shape` on this CPU: full moments, AVX2 and FMA.
pub fn serves_labels(shape: Shape) -> bool {
    shape == Shape::Full && fused::available()
}

/// [`accumulate`] for one-hot responsibilities given as `labels` (with `weights`, or 1): the
/// same sums bit for bit at a K-th of the work. Only where [`serves_labels`] holds.
pub fn accumulate_labels(
    xt: DMatrixView<'_, f64>,
    shift: &DVector<f64>,
    labels: &[usize],
    weights: Option<&[f64]>,
    row: &mut Vec<f64>,
    acc: &mut DMatrix<f64>,
) {
    fused::accumulate_labels(xt, shift, labels, weights, row, acc);
}

with_avx2!(pack_diag, pack_diag_avx2, pack_diag_body, (
    xt: DMatrixView<'_, f64>,
    shift: &DVector<f64>,
    packed: &mut [f64]
));

/// The diag rows of every sample of `xt` (D × B) about `shift`, one sample after another:
/// `z_a²` (D), `z_a` (D), 1.
#[inline(always)]
fn pack_diag_body(xt: DMatrixView<'_, f64>, shift: &DVector<f64>, packed: &mut [f64]) {
    let d = xt.nrows();
    let shift = shift.as_slice();
    for (col, out) in xt.column_iter().zip(packed.chunks_exact_mut(2 * d + 1)) {
        let (sq, rest) = out.split_at_mut(d);
        let (z, one) = rest.split_at_mut(d);
        for (((q, zv), x), s) in sq.iter_mut().zip(z.iter_mut()).zip(col.iter()).zip(shift) {
            let v = x - s;
            *zv = v;
            *q = v * v;
        }
        one[0] = 1.0;
    }
}

with_avx2!(pack_full, pack_full_avx2, pack_full_body, (
    xt: DMatrixView<'_, f64>,
    shift: &DVector<f64>,
    b: usize,
    sq: &mut [f64],
    z: &mut [f64]
));

/// The packed rows of `xt` (D × B) about `shift`, row by row (each row one product over all
/// B samples: long, contiguous loops): the lower triangle of z zᵀ into `sq`, the shifted
/// samples into `z` (D × B, row-major).
#[inline(always)]
fn pack_full_body(
    xt: DMatrixView<'_, f64>,
    shift: &DVector<f64>,
    b: usize,
    sq: &mut [f64],
    z: &mut [f64],
) {
    let d = xt.nrows();
    // z (D × B, row-major): the shifted samples, transposed.
    for (j, col) in xt.column_iter().enumerate() {
        for (a, (xv, s)) in col.iter().zip(shift.iter()).enumerate() {
            z[a * b + j] = xv - s;
        }
    }
    let mut row = 0;
    for a in 0..d {
        let za = &z[a * b..(a + 1) * b];
        for bb in 0..=a {
            let zb = &z[bb * b..(bb + 1) * b];
            for ((u, x), y) in sq[row * b..(row + 1) * b].iter_mut().zip(za).zip(zb) {
                *u = x * y;
            }
            row += 1;
        }
    }
}

/// The statistics of accumulated moments `acc` (rows × K) about `shift`.
pub fn to_stats(
    covariance_type: CovarianceType,
    acc: &DMatrix<f64>,
    shift: &DVector<f64>,
    n_samples: usize,
) -> SufficientStats {
    let shape = Shape::of(covariance_type);
    let k = acc.ncols();
    let d = shift.len();
    let second = shape.second(d);
    let nk = DVector::from_fn(k, |c, _| acc[(second + d, c)]);
    // Σ r x = Σ r (x − s) + N_k s.
    let sum_x = DMatrix::from_fn(k, d, |c, a| acc[(second + a, c)] + nk[c] * shift[a]);
    let scatter = match shape {
        Shape::Full => Scatter::Full(
            (0..k)
                .map(|c| {
                    let mut m = DMatrix::<f64>::zeros(d, d);
                    let mut at = 0;
                    for a in 0..d {
                        for bb in 0..=a {
                            let v = acc[(at + bb, c)];
                            m[(a, bb)] = v;
                            m[(bb, a)] = v;
                        }
                        at += a + 1;
                    }
                    m
                })
                .collect(),
        ),
        Shape::Diag => Scatter::Diag(DMatrix::from_fn(k, d, |c, a| acc[(a, c)])),
    };
    SufficientStats {
        covariance_type,
        n_samples,
        nk,
        sum_x,
        shift: DMatrix::from_fn(k, d, |_, a| shift[a]),
        scatter,
        log_likelihood: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fused_full_kernel_agrees_with_the_gemm_product() {
        if !fused::available() {
            return;
        }
        for (d, b, k) in [(32, 48, 16), (7, 13, 5), (1, 3, 1)] {
            let xt = DMatrix::from_fn(d, b, |a, j| ((a * 7 + j * 3) % 11) as f64 * 0.3 - 1.0);
            let resp = DMatrix::from_fn(k, b, |c, j| ((c * 5 + j) % 7) as f64 / 7.0);
            let shift = DVector::from_fn(d, |a, _| a as f64 * 0.1);
            let rows = Shape::Full.rows(d);
            let start = DMatrix::from_fn(rows, k, |i, c| (i + c) as f64 * 0.01);
            let mut got = start.clone();
            fused::accumulate(
                xt.as_view(),
                &shift,
                resp.as_view(),
                &mut Vec::new(),
                &mut got,
            );
            // The GEMM product of the same rows.
            let z = DMatrix::from_fn(d, b, |a, j| xt[(a, j)] - shift[a]);
            let mut m = DMatrix::<f64>::zeros(rows, b);
            for j in 0..b {
                let mut at = 0;
                for a in 0..d {
                    for bb in 0..=a {
                        m[(at, j)] = z[(a, j)] * z[(bb, j)];
                        at += 1;
                    }
                }
                for a in 0..d {
                    m[(at + a, j)] = z[(a, j)];
                }
                m[(rows - 1, j)] = 1.0;
            }
            let want = &start + &m * resp.transpose();
            for (x, y) in got.iter().zip(want.iter()) {
                assert!(
                    (x - y).abs() <= 1e-12 * (1.0 + y.abs()),
                    "d={d} k={k}: {x} vs {y}"
                );
            }
        }
    }

    #[test]
    fn labels_give_the_sums_of_their_one_hot_responsibilities_bit_for_bit() {
        let (d, b, k) = (32, 300, 16);
        let xt = DMatrix::from_fn(d, b, |a, j| ((a * 7 + j * 3) % 11) as f64 * 0.37 - 1.3);
        let shift = DVector::from_fn(d, |a, _| a as f64 * 0.1);
        let labels: Vec<usize> = (0..b).map(|j| (j * 7) % k).collect();
        let weights: Vec<f64> = (0..b).map(|j| 0.5 + (j % 3) as f64 * 0.25).collect();
        for w in [None, Some(&weights[..])] {
            let resp = DMatrix::from_fn(k, b, |c, j| {
                if labels[j] == c {
                    w.map_or(1.0, |w| w[j])
                } else {
                    0.0
                }
            });
            let rows = Shape::Full.rows(d);
            if !serves_labels(Shape::Full) {
                return; // no AVX2 and FMA here: the general path serves labels too
            }
            let mut by_labels = DMatrix::zeros(rows, k);
            accumulate_labels(
                xt.as_view(),
                &shift,
                &labels,
                w,
                &mut Vec::new(),
                &mut by_labels,
            );
            let mut general = DMatrix::zeros(rows, k);
            accumulate(
                Shape::Full,
                xt.as_view(),
                &shift,
                resp.as_view(),
                &mut Vec::new(),
                &mut general,
            );
            assert_eq!(by_labels, general);
        }
        assert!(!serves_labels(Shape::Diag));
    }

    #[test]
    fn packed_moments_equal_the_direct_sums() {
        let (d, b, k) = (5, 37, 3);
        let xt = DMatrix::from_fn(d, b, |a, j| ((a * 7 + j * 3) % 11) as f64 * 0.3 - 1.0);
        let resp = DMatrix::from_fn(k, b, |c, j| ((c + j) % 4) as f64 * 0.25);
        let shift = DVector::from_fn(d, |a, _| a as f64 * 0.1);
        for ct in [CovarianceType::Full, CovarianceType::Diag] {
            let shape = Shape::of(ct);
            let mut acc = DMatrix::zeros(shape.rows(d), k);
            let mut scratch = Vec::new();
            // Two calls over two halves equal one over the whole.
            accumulate(
                shape,
                xt.columns(0, 20),
                &shift,
                resp.columns(0, 20),
                &mut scratch,
                &mut acc,
            );
            accumulate(
                shape,
                xt.columns(20, b - 20),
                &shift,
                resp.columns(20, b - 20),
                &mut scratch,
                &mut acc,
            );
            let stats = to_stats(ct, &acc, &shift, b);
            for c in 0..k {
                let nk: f64 = resp.row(c).sum();
                assert!((stats.nk[c] - nk).abs() < 1e-12);
                let mut s = DMatrix::<f64>::zeros(d, d);
                for j in 0..b {
                    let z = xt.column(j) - &shift;
                    s += &z * z.transpose() * resp[(c, j)];
                    for a in 0..d {
                        let sx: f64 = (0..b).map(|i| resp[(c, i)] * xt[(a, i)]).sum();
                        assert!((stats.sum_x[(c, a)] - sx).abs() < 1e-10);
                    }
                }
                match &stats.scatter {
                    Scatter::Full(m) => assert!((&m[c] - &s).amax() < 1e-10),
                    Scatter::Diag(m) => {
                        for a in 0..d {
                            assert!((m[(c, a)] - s[(a, a)]).abs() < 1e-10);
                        }
                    }
                    Scatter::LowRank(_) => unreachable!(),
                }
            }
        }
    }
}
