//! Squared distances between samples and a few centres in GEMM form,
//! ‖z‖² − 2 z·c + ‖c‖², on samples centred on their mean (z = x − x̄, as scikit-learn's KMeans
//! centres its data, so that the cancellation in that form stays small), one cache-sized block
//! of samples at a time.
//!
//! The blocks, and the groups of blocks that run in parallel, depend only on N, and partial
//! results are combined in group order: every result is the same on any number of threads.

use std::ops::Range;

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

use crate::linalg::{gemm, mean_of_columns, with_avx2, Strided};

/// Samples per block: the M × BLOCK products stay in cache.
pub const BLOCK: usize = 1024;
/// At most this many groups of blocks (the unit of parallel work and of partial sums).
const MAX_GROUPS: usize = 64;

/// Samples (D × N, one per column) seen relative to their mean.
pub struct CentredSamples<'a> {
    xt: &'a DMatrix<f64>,
    mean: DVector<f64>,
    /// ‖x_i − x̄‖² of every sample.
    sq_norms: Vec<f64>,
    groups: Vec<Range<usize>>,
    /// Sample weights, if any (weighted k-means, as scikit-learn's `sample_weight`).
    weights: Option<&'a DVector<f64>>,
}

/// Fixed groups of whole blocks covering `0..n` (they depend on `n` only).
fn groups_of(n: usize) -> Vec<Range<usize>> {
    let blocks = n.div_ceil(BLOCK).max(1);
    let count = blocks.div_ceil(4).clamp(1, MAX_GROUPS);
    let step = blocks.div_ceil(count) * BLOCK;
    (0..n.div_ceil(step).max(1))
        .map(|g| (g * step).min(n)..((g + 1) * step).min(n))
        .filter(|r| !r.is_empty())
        .collect()
}

impl<'a> CentredSamples<'a> {
    /// The mean and the centred squared norms of the samples in `xt` (D × N, N ≥ 1).
    pub fn new(xt: &'a DMatrix<f64>) -> Self {
        let n = xt.ncols();
        let groups = groups_of(n);
        let mean = mean_of_columns(xt, &groups);
        let mut sq_norms = vec![0.0; n];
        sq_norms
            .par_chunks_mut(BLOCK)
            .enumerate()
            .for_each(|(b, out)| {
                for (o, i) in out.iter_mut().zip(b * BLOCK..) {
                    *o = xt
                        .column(i)
                        .iter()
                        .zip(mean.iter())
                        .map(|(x, m)| (x - m) * (x - m))
                        .sum();
                }
            });
        CentredSamples {
            xt,
            mean,
            sq_norms,
            groups,
            weights: None,
        }
    }

    /// The same samples with a weight each (one per sample).
    pub fn weighted(mut self, weights: Option<&'a DVector<f64>>) -> Self {
        self.weights = weights;
        self
    }

    /// The weights, if any.
    pub fn weights(&self) -> Option<&'a DVector<f64>> {
        self.weights
    }

    /// The weight of sample `i` (1 without weights).
    pub fn weight(&self, i: usize) -> f64 {
        self.weights.map_or(1.0, |w| w[i])
    }

    /// Number of samples.
    pub fn n(&self) -> usize {
        self.xt.ncols()
    }

    /// Number of features.
    pub fn d(&self) -> usize {
        self.xt.nrows()
    }

    /// ‖x_i − x̄‖².
    pub fn sq_norm(&self, i: usize) -> f64 {
        self.sq_norms[i]
    }

    /// The mean over features of the per-feature variance (scikit-learn's scale for the
    /// k-means tolerance). With sample weights, of the weighted samples, so that zero weights
    /// act as dropped rows here too (scikit-learn's KMeans ignores the weights here).
    pub fn mean_variance(&self) -> f64 {
        let d = self.d().max(1) as f64;
        match self.weights {
            None => self.sum(&self.sq_norms) / (self.n() as f64 * d),
            Some(w) => {
                let total = w.sum();
                let weighted: Vec<f64> = self
                    .sq_norms
                    .iter()
                    .zip(w.iter())
                    .map(|(s, w)| s * w)
                    .collect();
                // Σ w ‖x − x̄‖² / W − ‖x̄_w − x̄‖²: the spread about the weighted mean.
                let offset = (self.xt * w / total - &self.mean).norm_squared();
                ((self.sum(&weighted) / total - offset) / d).max(0.0)
            }
        }
    }

    /// Samples per group (all groups but the last have exactly this many).
    pub fn group_len(&self) -> usize {
        self.groups[0].len()
    }

    /// Σ v_i over all samples, summed per group and then in group order (groups are the
    /// parallel units, combined in this order).
    pub fn sum(&self, v: &[f64]) -> f64 {
        let partial: Vec<f64> = self
            .groups
            .par_iter()
            .map(|r| v[r.clone()].iter().sum::<f64>())
            .collect();
        partial.iter().sum()
    }

    /// Samples `idx` as centred columns (D × len).
    pub fn centred_columns(&self, idx: &[usize]) -> DMatrix<f64> {
        DMatrix::from_fn(self.d(), idx.len(), |j, c| {
            self.xt[(j, idx[c])] - self.mean[j]
        })
    }

    /// Centres given as the rows of `rows` (M × D, original coordinates), centred, as columns.
    pub fn centre_rows(&self, rows: &DMatrix<f64>) -> DMatrix<f64> {
        DMatrix::from_fn(self.d(), rows.nrows(), |j, c| rows[(c, j)] - self.mean[j])
    }

    /// Walks the samples of `range` block by block: for each sample i, calls `f(i, x_i, p)`
    /// with x_i the sample's values and p_c = (x_i − x̄) · c_c for every (centred) centre
    /// column c_c of `centres` (D × M). The product runs on the samples in place, as
    /// x_i · c_c − x̄ · c_c: its rounding error is relative to |x_i|·|c_c|, not to |x_i|².
    pub fn walk(
        &self,
        range: Range<usize>,
        centres: &DMatrix<f64>,
        mut f: impl FnMut(usize, &[f64], &[f64]),
    ) {
        let d = self.d();
        let m = centres.ncols();
        let offsets: Vec<f64> = centres.column_iter().map(|c| c.dot(&self.mean)).collect();
        let xs = self.xt.as_slice();
        if m * d <= DIRECT_MAX {
            // Few, short centres: a product per sample from registers beats packing every
            // block of samples for a GEMM whose other side is this thin.
            let ct = centres.transpose();
            let ct = ct.as_slice();
            let (mut pa, mut pb) = (vec![0.0; m], vec![0.0; m]);
            let mut i = range.start;
            while i < range.end {
                let xa = &xs[i * d..(i + 1) * d];
                // The last odd sample pairs with itself.
                let ib = if i + 1 < range.end { i + 1 } else { i };
                let xb = &xs[ib * d..(ib + 1) * d];
                dots2(xa, xb, ct, m, &mut pa, &mut pb);
                for ((a, b), o) in pa.iter_mut().zip(pb.iter_mut()).zip(&offsets) {
                    *a -= o;
                    *b -= o;
                }
                f(i, xa, &pa);
                if ib != i {
                    f(ib, xb, &pb);
                }
                i += 2;
            }
            return;
        }
        let mut p = DMatrix::<f64>::zeros(m, BLOCK.min(range.len()));
        let mut start = range.start;
        while start < range.end {
            let len = BLOCK.min(range.end - start);
            let xb = self.xt.columns(start, len);
            let mut pb = p.columns_mut(0, len);
            gemm(
                1.0,
                Strided::of(centres).t(),
                Strided::view(&xb),
                0.0,
                &mut pb,
            );
            let ps = p.as_mut_slice();
            for j in 0..len {
                let pj = &mut ps[j * m..(j + 1) * m];
                for (v, o) in pj.iter_mut().zip(&offsets) {
                    *v -= o;
                }
                let i = start + j;
                f(i, &xs[i * d..(i + 1) * d], pj);
            }
            start += len;
        }
    }

    /// The mean of the samples.
    pub fn mean(&self) -> &DVector<f64> {
        &self.mean
    }
}

/// Centres × dimensions up to which [`CentredSamples::walk`] forms the products sample by
/// sample (the centres, 32 KiB at most, stay in the L1 cache) instead of by GEMM.
const DIRECT_MAX: usize = 4096;

with_avx2!(dots2, dots2_avx2, dots2_body, (
    xa: &[f64],
    xb: &[f64],
    ct: &[f64],
    m: usize,
    pa: &mut [f64],
    pb: &mut [f64]
));

/// `p_c = x · c_c` for the `m` centres stored as `ct` (D × m, row-major: the j-th entries of
/// all centres together), for two samples at once: sixteen independent accumulators (eight
/// centres × two samples) keep the adds from waiting on each other. The same multiplications
/// and additions in the same order on every machine (no fused multiply-add), so the results
/// do not depend on the instruction set; AVX2 only widens the registers.
#[inline(always)]
fn dots2_body(xa: &[f64], xb: &[f64], ct: &[f64], m: usize, pa: &mut [f64], pb: &mut [f64]) {
    let mut c0 = 0;
    while c0 + 8 <= m {
        let mut a = [0.0f64; 8];
        let mut b = [0.0f64; 8];
        for (j, (&va, &vb)) in xa.iter().zip(xb).enumerate() {
            let row: &[f64; 8] = ct[j * m + c0..j * m + c0 + 8].try_into().expect("8");
            for l in 0..8 {
                a[l] += va * row[l];
                b[l] += vb * row[l];
            }
        }
        pa[c0..c0 + 8].copy_from_slice(&a);
        pb[c0..c0 + 8].copy_from_slice(&b);
        c0 += 8;
    }
    // Four centres at a time (k-means++ candidates, K < 8): the same sums in the same order
    // as one at a time, in wider registers.
    while c0 + 4 <= m {
        let mut a = [0.0f64; 4];
        let mut b = [0.0f64; 4];
        for (j, (&va, &vb)) in xa.iter().zip(xb).enumerate() {
            let row: &[f64; 4] = ct[j * m + c0..j * m + c0 + 4].try_into().expect("4");
            for l in 0..4 {
                a[l] += va * row[l];
                b[l] += vb * row[l];
            }
        }
        pa[c0..c0 + 4].copy_from_slice(&a);
        pb[c0..c0 + 4].copy_from_slice(&b);
        c0 += 4;
    }
    for c in c0..m {
        let (mut a, mut b) = (0.0, 0.0);
        for (j, (&va, &vb)) in xa.iter().zip(xb).enumerate() {
            a += va * ct[j * m + c];
            b += vb * ct[j * m + c];
        }
        pa[c] = a;
        pb[c] = b;
    }
}

/// ‖c‖² of every column.
pub fn sq_norms_of(centres: &DMatrix<f64>) -> Vec<f64> {
    centres.column_iter().map(|c| c.norm_squared()).collect()
}

/// The nearest centre (D × K centred columns, see [`CentredSamples::centre_rows`]) of every
/// sample, ties to the lower index, and its squared distance.
pub fn nearest(data: &CentredSamples<'_>, centres: &DMatrix<f64>) -> (Vec<usize>, Vec<f64>) {
    let n = data.n();
    let cn = sq_norms_of(centres);
    let mut labels = vec![0usize; n];
    let mut dist = vec![0.0; n];
    let step = data.group_len();
    labels
        .par_chunks_mut(step)
        .zip(dist.par_chunks_mut(step))
        .enumerate()
        .for_each(|(g, (lab, dis))| {
            let start = g * step;
            data.walk(start..start + lab.len(), centres, |i, _x, p| {
                let (c, best) = argmin_score(&cn, p);
                lab[i - start] = c;
                dis[i - start] = (data.sq_norm(i) + best).max(0.0);
            });
        });
    (labels, dist)
}

/// The centre minimising ‖c‖² − 2 z·c (ties to the lower index) and that score.
pub fn argmin_score(cn: &[f64], p: &[f64]) -> (usize, f64) {
    let mut best = (0usize, f64::INFINITY);
    for (c, (&n2, &pc)) in cn.iter().zip(p).enumerate() {
        let s = n2 - 2.0 * pc;
        if s < best.1 {
            best = (c, s);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_cover_the_samples_in_whole_blocks() {
        for n in [1, 255, 256, 257, 5000, 200_000, 1_000_003] {
            let g = groups_of(n);
            assert_eq!(g.first().unwrap().start, 0);
            assert_eq!(g.last().unwrap().end, n);
            for w in g.windows(2) {
                assert_eq!(w[0].end, w[1].start);
                assert_eq!(w[0].len() % BLOCK, 0);
            }
            assert!(g.len() <= MAX_GROUPS);
        }
    }

    #[test]
    fn gemm_form_distances_match_direct_ones_far_from_the_origin() {
        // Data offset by 1e6: the centring keeps the GEMM form accurate.
        let xt = DMatrix::from_fn(5, 700, |j, i| 1e6 + ((i * 7 + j * 3) % 11) as f64 * 0.1);
        let data = CentredSamples::new(&xt);
        let rows = DMatrix::from_fn(3, 5, |c, j| 1e6 + (c + j) as f64 * 0.2);
        let (labels, dist) = nearest(&data, &data.centre_rows(&rows));
        for i in 0..700 {
            let direct: Vec<f64> = (0..3)
                .map(|c| (0..5).map(|j| (xt[(j, i)] - rows[(c, j)]).powi(2)).sum())
                .collect();
            let best = direct.iter().copied().fold(f64::INFINITY, f64::min);
            assert!((dist[i] - best).abs() < 1e-6 * (1.0 + best), "{i}");
            assert!(direct[labels[i]] <= best + 1e-6);
        }
    }
}
