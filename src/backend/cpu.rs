//! The CPU backend: f64 throughout, rayon over fixed blocks of samples, GEMM inside blocks.
//!
//! Samples are stored as the columns of a D × N matrix so that every block of samples is one
//! contiguous slice. Blocks have a fixed size that depends only on N (never on the thread
//! count), and partial sums are combined in block order, so results are bit-identical
//! whatever the number of threads.

use std::sync::Arc;

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

use crate::backend::moments::{self, Shape, MAX_PACKED_DIM};
use crate::backend::{separate_statistics, Backend};
use crate::covariance::CovarianceType;
use crate::density::{normalize_in_place, Density};
use crate::error::Result;
use crate::linalg::{gemm, mean_of_columns, Strided};
use crate::params::MixtureParams;
use crate::stats::{Scatter, SufficientStats};

/// Samples per E-step block: small enough that the K·D × block intermediate stays in cache.
const E_BLOCK: usize = 256;
/// At most this many partial M-step sums (fixed by N, so the reduction order is too).
const M_GROUPS: usize = 32;

/// Fixed block boundaries for the M-step partial sums (depend on N only).
fn m_groups(n: usize, per_group_bytes: usize) -> Vec<std::ops::Range<usize>> {
    let by_size = n.div_ceil(2048).max(1);
    let by_memory = (256usize << 20) / per_group_bytes.max(1);
    let groups = by_size.min(M_GROUPS).min(by_memory.max(1)).min(n.max(1));
    let step = n.div_ceil(groups);
    (0..groups)
        .map(|g| (g * step).min(n)..((g + 1) * step).min(n))
        .filter(|r| !r.is_empty())
        .collect()
}

/// How much cancellation the packed moments may suffer before a component's scatter is formed
/// again about its own mean: 10⁴, i.e. at most 4 of f64's 16 digits.
const CANCELLATION_LIMIT: f64 = 1e4;

/// The f64 CPU backend.
pub struct CpuBackend {
    /// Samples as columns, D × N (shared with the initialisation, never copied).
    xt: Arc<DMatrix<f64>>,
    /// Responsibilities, K × N (column i belongs to sample i).
    resp: DMatrix<f64>,
    /// The shift of the M-step's packed moments: the data's mean.
    shift: DVector<f64>,
    /// Sample weights, if any: the kept responsibilities are multiplied by them.
    weights: Option<Arc<DVector<f64>>>,
}

impl CpuBackend {
    /// Takes the data as N × D (one sample per row).
    pub fn new(x: &DMatrix<f64>) -> Self {
        Self::from_columns(Arc::new(x.transpose()))
    }

    /// Takes the data as columns (D × N, one sample per column), shared, not copied.
    pub fn from_columns(xt: Arc<DMatrix<f64>>) -> Self {
        let shift = mean_of_columns(&xt, &m_groups(xt.ncols(), xt.nrows() * 8));
        let n = xt.ncols();
        CpuBackend {
            xt,
            resp: DMatrix::zeros(0, n),
            shift,
            weights: None,
        }
    }

    /// The same backend with sample weights (one per sample, checked by the caller).
    pub fn with_weights(mut self, weights: Option<Arc<DVector<f64>>>) -> Self {
        self.weights = weights;
        self
    }

    /// Multiplies the responsibilities of the samples `start..` (columns of `block`, K × B) by
    /// their weights and returns the weighted sum of their log-likelihoods `log_norm`.
    fn weigh_block(&self, block: &mut DMatrix<f64>, log_norm: &[f64], start: usize) -> f64 {
        let w = self.weights.as_deref();
        if let Some(w) = w {
            for (j, mut col) in block.column_iter_mut().enumerate() {
                col *= w[start + j];
            }
        }
        crate::backend::weighted_sum(log_norm, w, start)
    }

    /// The data, one sample per column (D × N).
    pub fn samples_as_columns(&self) -> Arc<DMatrix<f64>> {
        Arc::clone(&self.xt)
    }

    /// `Σ_i r_ik` and `Σ_i r_ik x_i` (D × K), summed over fixed groups in order.
    fn weighted_sums(&self) -> (DVector<f64>, DMatrix<f64>) {
        let k = self.resp.nrows();
        let d = self.xt.nrows();
        let n = self.xt.ncols();
        let groups = m_groups(n, k * d * 8);
        let partials: Vec<(DVector<f64>, DMatrix<f64>)> = groups
            .par_iter()
            .map(|r| {
                let x = self.xt.columns(r.start, r.len());
                let resp = self.resp.columns(r.start, r.len());
                let nk = DVector::from_iterator(k, resp.row_iter().map(|row| row.sum()));
                let mut sx = DMatrix::<f64>::zeros(d, k);
                gemm(
                    1.0,
                    Strided::view(&x),
                    Strided::view(&resp).t(),
                    0.0,
                    &mut sx.as_view_mut(),
                );
                (nk, sx)
            })
            .collect();
        let mut nk = DVector::<f64>::zeros(k);
        let mut sx = DMatrix::<f64>::zeros(d, k);
        for (pn, ps) in partials {
            nk += pn;
            sx += ps;
        }
        (nk, sx)
    }

    /// Σ_i r_ik (x_i − μ_k)(x_i − μ_k)ᵀ for every k (centred, so no cancellation).
    fn full_scatter(&self, means: &DMatrix<f64>, which: &[bool]) -> Vec<DMatrix<f64>> {
        let k = self.resp.nrows();
        let d = self.xt.nrows();
        let n = self.xt.ncols();
        let groups = m_groups(n, k * d * d * 8);
        let means_rows: Vec<f64> = means.transpose().as_slice().to_vec();
        let xs = self.xt.as_slice();
        let rs = self.resp.as_slice();
        let partials: Vec<Vec<DMatrix<f64>>> = groups
            .par_iter()
            .map(|r| {
                let mut acc = vec![DMatrix::<f64>::zeros(d, d); k];
                let mut z = DMatrix::<f64>::zeros(d, E_BLOCK.min(r.len()));
                let mut start = r.start;
                while start < r.end {
                    let len = E_BLOCK.min(r.end - start);
                    for (c, acc_c) in acc.iter_mut().enumerate() {
                        if !which[c] {
                            continue;
                        }
                        let mu = &means_rows[c * d..(c + 1) * d];
                        let zs = z.as_mut_slice();
                        // Samples whose responsibility underflowed to exactly zero add exactly
                        // nothing: leave them out of the product (often most of them, once
                        // the components have separated).
                        let mut used = 0;
                        for i in 0..len {
                            let r_ic = rs[(start + i) * k + c];
                            if r_ic == 0.0 {
                                continue;
                            }
                            let w = r_ic.sqrt();
                            let x = &xs[(start + i) * d..(start + i + 1) * d];
                            for ((zv, xv), m) in
                                zs[used * d..(used + 1) * d].iter_mut().zip(x).zip(mu)
                            {
                                *zv = (xv - m) * w;
                            }
                            used += 1;
                        }
                        if used == 0 {
                            continue;
                        }
                        let zv = z.columns(0, used);
                        gemm(
                            1.0,
                            Strided::view(&zv),
                            Strided::view(&zv).t(),
                            1.0,
                            &mut acc_c.as_view_mut(),
                        );
                    }
                    start += len;
                }
                acc
            })
            .collect();
        let mut total = vec![DMatrix::<f64>::zeros(d, d); k];
        for p in partials {
            for (t, m) in total.iter_mut().zip(p) {
                *t += m;
            }
        }
        // exact symmetry
        for t in &mut total {
            let sym = (&*t + t.transpose()) * 0.5;
            *t = sym;
        }
        total
    }

    /// Σ_i r_ik (x_ij − μ_kj)² for the components in `which` (others zero), K × D.
    fn diag_scatter(&self, means: &DMatrix<f64>, which: &[bool]) -> DMatrix<f64> {
        let k = self.resp.nrows();
        let d = self.xt.nrows();
        let n = self.xt.ncols();
        let means_rows: Vec<f64> = means.transpose().as_slice().to_vec();
        let partials: Vec<Vec<f64>> = m_groups(n, k * d * 8)
            .par_iter()
            .map(|r| {
                let mut acc = vec![0.0; k * d];
                let xs = self.xt.as_slice();
                let rs = self.resp.as_slice();
                for i in r.clone() {
                    let x = &xs[i * d..(i + 1) * d];
                    for (c, &w) in rs[i * k..(i + 1) * k].iter().enumerate() {
                        if w == 0.0 || !which[c] {
                            continue;
                        }
                        let mu = &means_rows[c * d..(c + 1) * d];
                        let a = &mut acc[c * d..(c + 1) * d];
                        for ((av, xv), m) in a.iter_mut().zip(x).zip(mu) {
                            let t = xv - m;
                            *av += w * t * t;
                        }
                    }
                }
                acc
            })
            .collect();
        let mut total = vec![0.0; k * d];
        for p in partials {
            for (t, v) in total.iter_mut().zip(p) {
                *t += v;
            }
        }
        DMatrix::from_row_slice(k, d, &total)
    }

    /// Keeps the packed moments' accuracy bounded. Moving a scatter from the data's mean s to
    /// a component's mean μ cancels about N_k (μ_j − s_j)² out of each diagonal entry, so
    /// f64 keeps about 16 − log10(N_k (μ_j − s_j)² / S_jj) digits of S_jj. A component that
    /// would keep fewer than 12 digits in any dimension (a mean far from the data's mean
    /// compared with the component's spread, such as a near-constant feature) gets its scatter
    /// again, centred on its own mean, from the kept responsibilities.
    fn refine(&self, stats: &mut SufficientStats) -> Result<()> {
        let means = stats.means();
        let mut about_means = stats.clone();
        about_means.reshift(&means)?;
        let (k, d) = means.shape();
        let diagonal = |c: usize, j: usize| match &about_means.scatter {
            Scatter::Full(m) => m[c][(j, j)],
            Scatter::Diag(m) => m[(c, j)],
            Scatter::LowRank(_) => f64::INFINITY,
        };
        let which: Vec<bool> = (0..k)
            .map(|c| {
                (0..d).any(|j| {
                    let offset = stats.nk[c] * (means[(c, j)] - self.shift[j]).powi(2);
                    offset > 0.0 && offset > CANCELLATION_LIMIT * diagonal(c, j)
                })
            })
            .collect();
        if !which.iter().any(|&w| w) {
            return Ok(());
        }
        match &mut stats.scatter {
            Scatter::Full(s) => {
                let exact = self.full_scatter(&means, &which);
                for (c, e) in exact.into_iter().enumerate() {
                    if which[c] {
                        s[c] = e;
                    }
                }
            }
            Scatter::Diag(s) => {
                let exact = self.diag_scatter(&means, &which);
                for c in (0..k).filter(|&c| which[c]) {
                    s.set_row(c, &exact.row(c));
                }
            }
            Scatter::LowRank(_) => return Ok(()),
        }
        for c in (0..k).filter(|&c| which[c]) {
            stats.shift.set_row(c, &means.row(c));
        }
        Ok(())
    }

    /// The M-step statistics of the kept responsibilities as packed moments about the data's
    /// mean ([`moments`]), per fixed group of samples, summed in group order.
    fn packed_stats(&self, covariance_type: CovarianceType) -> Result<SufficientStats> {
        let shape = Shape::of(covariance_type);
        self.grouped_stats(covariance_type, |r, packed, acc| {
            let mut start = r.start;
            while start < r.end {
                let len = E_BLOCK.min(r.end - start);
                moments::accumulate(
                    shape,
                    self.xt.columns(start, len),
                    &self.shift,
                    self.resp.columns(start, len),
                    packed,
                    acc,
                );
                start += len;
            }
        })
    }

    /// [`CpuBackend::packed_stats`] of hard labels, each sample's moments added to its own
    /// component only (`moments::accumulate_labels`): the same groups, order and sums. Only
    /// where `moments::serves_labels` holds.
    fn packed_stats_of_labels(
        &self,
        labels: &[usize],
        covariance_type: CovarianceType,
    ) -> Result<SufficientStats> {
        let weights = self.weights.as_deref().map(|w| w.as_slice());
        self.grouped_stats(covariance_type, |r, row, acc| {
            moments::accumulate_labels(
                self.xt.columns(r.start, r.len()),
                &self.shift,
                &labels[r.clone()],
                weights.map(|w| &w[r.clone()]),
                row,
                acc,
            )
        })
    }

    /// The statistics of packed moments that `add` sums over each fixed group of samples
    /// ([`m_groups`], in parallel, each into its own accumulator with its own scratch space),
    /// summed in group order.
    fn grouped_stats(
        &self,
        covariance_type: CovarianceType,
        add: impl Fn(std::ops::Range<usize>, &mut Vec<f64>, &mut DMatrix<f64>) + Sync,
    ) -> Result<SufficientStats> {
        let k = self.resp.nrows();
        let (d, n) = self.xt.shape();
        let rows = Shape::of(covariance_type).rows(d);
        let partials: Vec<DMatrix<f64>> = m_groups(n, rows * k * 8)
            .par_iter()
            .map(|r| {
                let mut acc = DMatrix::<f64>::zeros(rows, k);
                add(r.clone(), &mut Vec::new(), &mut acc);
                acc
            })
            .collect();
        let mut acc = DMatrix::<f64>::zeros(rows, k);
        for p in partials {
            acc += p;
        }
        let mut stats = moments::to_stats(covariance_type, &acc, &self.shift, n);
        self.refine(&mut stats)?;
        Ok(stats)
    }

    /// Whether the packed moments serve this covariance type at this D.
    fn packs(&self, covariance_type: CovarianceType) -> bool {
        Shape::of(covariance_type) == Shape::Diag || self.xt.nrows() <= MAX_PACKED_DIM
    }
}

impl Backend for CpuBackend {
    fn describe(&self) -> String {
        format!("cpu (f64, {} threads)", rayon::current_num_threads())
    }

    fn n_samples(&self) -> usize {
        self.xt.ncols()
    }

    fn n_features(&self) -> usize {
        self.xt.nrows()
    }

    fn set_responsibilities(&mut self, resp: &DMatrix<f64>) -> Result<()> {
        crate::backend::check_responsibility_rows(resp, self.n_samples())?;
        let mut resp = resp.clone();
        crate::backend::weigh_rows(&mut resp, self.weights.as_deref());
        self.resp = resp.transpose();
        Ok(())
    }

    fn e_step(&mut self, params: &MixtureParams) -> Result<f64> {
        let k = params.n_components();
        let n = self.n_samples();
        if self.resp.nrows() != k {
            self.resp = crate::memory::zeros_matrix(k, n);
        }
        let mut resp = std::mem::take(&mut self.resp);
        let xt = &*self.xt;
        let density = Density::weighted(params);
        let this = &*self;
        let log_norms: Vec<Result<f64>> = resp
            .as_mut_slice()
            .par_chunks_mut(k * E_BLOCK)
            .enumerate()
            .map_init(
                || (Vec::new(), DMatrix::<f64>::zeros(k, E_BLOCK)),
                |(scratch, wlp), (b, out)| {
                    let start = b * E_BLOCK;
                    let len = out.len() / k;
                    if wlp.ncols() != len {
                        *wlp = DMatrix::zeros(k, len);
                    }
                    density.eval(xt.columns(start, len), wlp, scratch)?;
                    let log_norm = normalize_in_place(wlp);
                    let sum = this.weigh_block(wlp, log_norm.as_slice(), start);
                    out.copy_from_slice(wlp.as_slice());
                    Ok(sum)
                },
            )
            .collect();
        self.resp = resp;
        let mut total = 0.0;
        for v in log_norms {
            total += v?;
        }
        Ok(total)
    }

    fn m_step_stats(&mut self, covariance_type: CovarianceType) -> Result<SufficientStats> {
        if self.packs(covariance_type) {
            return self.packed_stats(covariance_type);
        }
        // Large D, full or tied: each component's centred product z zᵀ is large enough for
        // an efficient GEMM of its own.
        let (nk, sx) = self.weighted_sums();
        let sum_x = sx.transpose();
        let stats = SufficientStats {
            covariance_type,
            n_samples: self.n_samples(),
            shift: DMatrix::zeros(sum_x.nrows(), sum_x.ncols()),
            nk,
            sum_x,
            scatter: Scatter::Diag(DMatrix::zeros(0, 0)),
            log_likelihood: None,
        };
        // Centred on the means themselves, so the M-step needs no correction.
        let means = stats.means();
        let scatter = Scatter::Full(self.full_scatter(&means, &vec![true; means.nrows()]));
        Ok(SufficientStats {
            shift: means,
            scatter,
            ..stats
        })
    }

    /// The E-step and the M-step sums in one pass over the data: each block of samples gets
    /// its responsibilities and adds its packed moments while it is in cache.
    fn statistics(
        &mut self,
        params: &MixtureParams,
        covariance_type: CovarianceType,
    ) -> Result<SufficientStats> {
        if !self.packs(covariance_type) {
            return separate_statistics(self, params, covariance_type);
        }
        let shape = Shape::of(covariance_type);
        let k = params.n_components();
        let (d, n) = self.xt.shape();
        if self.resp.nrows() != k {
            self.resp = crate::memory::zeros_matrix(k, n);
        }
        let rows = shape.rows(d);
        let groups = m_groups(n, rows * k * 8);
        let step = groups[0].len();
        let density = Density::weighted(params);
        let mut resp = std::mem::take(&mut self.resp);
        let this = &*self;
        let (xt, shift) = (&*this.xt, &this.shift);
        let partials: Vec<Result<(DMatrix<f64>, f64)>> = resp
            .as_mut_slice()
            .par_chunks_mut(step * k)
            .enumerate()
            .map(|(g, out)| {
                let start = g * step;
                let len = out.len() / k;
                let mut acc = DMatrix::<f64>::zeros(rows, k);
                let (mut scratch, mut packed) = (Vec::new(), Vec::new());
                let mut wlp = DMatrix::<f64>::zeros(k, E_BLOCK.min(len));
                let mut log_likelihood = 0.0;
                let mut at = 0;
                while at < len {
                    let bl = E_BLOCK.min(len - at);
                    if wlp.ncols() != bl {
                        wlp = DMatrix::zeros(k, bl);
                    }
                    let x = xt.columns(start + at, bl);
                    density.eval(x, &mut wlp, &mut scratch)?;
                    let log_norm = normalize_in_place(&mut wlp);
                    log_likelihood += this.weigh_block(&mut wlp, log_norm.as_slice(), start + at);
                    out[at * k..(at + bl) * k].copy_from_slice(wlp.as_slice());
                    moments::accumulate(shape, x, shift, wlp.as_view(), &mut packed, &mut acc);
                    at += bl;
                }
                Ok((acc, log_likelihood))
            })
            .collect();
        self.resp = resp;
        let mut acc = DMatrix::<f64>::zeros(rows, k);
        let mut log_likelihood = 0.0;
        for p in partials {
            let (a, l) = p?;
            acc += a;
            log_likelihood += l;
        }
        let mut stats = moments::to_stats(covariance_type, &acc, &self.shift, n);
        self.refine(&mut stats)?;
        stats.log_likelihood = Some(log_likelihood);
        Ok(stats)
    }

    fn responsibilities(&self) -> Result<DMatrix<f64>> {
        Ok(self.resp.transpose())
    }

    /// Hard labels become the kept responsibilities (K × N) directly, without the N × K
    /// one-hot matrix and its transposed copy: the same values, so the same statistics.
    fn stats_of_labels(
        &mut self,
        labels: &[usize],
        k: usize,
        covariance_type: CovarianceType,
    ) -> Result<SufficientStats> {
        let n = self.n_samples();
        if labels.len() != n {
            return Err(crate::error::GmmError::InvalidData(format!(
                "{} initial labels for {n} samples; give one label per sample",
                labels.len()
            )));
        }
        if let Some(i) = labels.iter().position(|&l| l >= k) {
            return Err(crate::error::GmmError::InvalidData(format!(
                "initial label {} of sample {i} is not in 0..{k}; labels number the components from 0",
                labels[i]
            )));
        }
        let mut resp = std::mem::take(&mut self.resp);
        if resp.shape() == (k, n) {
            resp.fill(0.0);
        } else {
            resp = crate::memory::zeros_matrix(k, n);
        }
        let w = self.weights.as_deref();
        for (i, (col, &l)) in resp
            .as_mut_slice()
            .chunks_exact_mut(k)
            .zip(labels)
            .enumerate()
        {
            col[l] = w.map_or(1.0, |w| w[i]);
        }
        self.resp = resp;
        if self.packs(covariance_type) && moments::serves_labels(Shape::of(covariance_type)) {
            return self.packed_stats_of_labels(labels, covariance_type);
        }
        self.m_step_stats(covariance_type)
    }

    fn sample_weights(&self) -> Option<&DVector<f64>> {
        self.weights.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::covariance::Covariances;

    /// A component far from the data's mean compared with its spread (cancellation of about
    /// 10¹² in the packed moments) still gets its scatter to f64 accuracy: the refinement
    /// forms it about its own mean. Checked against the two-pass formula, every type.
    #[test]
    fn far_tight_components_keep_their_covariance_accuracy() {
        let (n, d) = (400, 3);
        // Half the samples near the origin with unit spread, half near 1e3 with spread 1e-3.
        let x = DMatrix::from_fn(n, d, |i, j| {
            let wiggle = (((i * 7 + j * 13) % 17) as f64 - 8.0) / 8.0;
            if i < n / 2 {
                wiggle
            } else {
                1e3 + 1e-3 * wiggle + j as f64
            }
        });
        let labels: Vec<usize> = (0..n).map(|i| usize::from(i >= n / 2)).collect();
        let resp = crate::init::one_hot(&labels, 2);
        for ct in [CovarianceType::Full, CovarianceType::Diag] {
            let mut b = CpuBackend::new(&x);
            b.set_responsibilities(&resp).unwrap();
            let params = b.m_step_stats(ct).unwrap().to_params(0.0).unwrap();
            let rows: Vec<usize> = (n / 2..n).collect();
            let mean: Vec<f64> = (0..d)
                .map(|j| rows.iter().map(|&i| x[(i, j)]).sum::<f64>() / rows.len() as f64)
                .collect();
            for j in 0..d {
                let var: f64 = rows
                    .iter()
                    .map(|&i| (x[(i, j)] - mean[j]).powi(2))
                    .sum::<f64>()
                    / rows.len() as f64;
                let got = match &params.covariances {
                    Covariances::Full(c) => c[1][(j, j)],
                    Covariances::Diag(c) => c[(1, j)],
                    _ => unreachable!(),
                };
                assert!(
                    ((got - var) / var).abs() < 1e-9,
                    "{ct}: variance {got} against {var}"
                );
            }
        }
    }

    /// Statistics of hard labels, written straight into the responsibilities, equal those of
    /// the one-hot responsibilities set on the backend (with and without sample weights);
    /// labels of the wrong length or outside 0..K are errors that say so.
    #[test]
    fn stats_of_labels_equal_those_of_one_hot_responsibilities() {
        let x = DMatrix::from_fn(500, 3, |i, j| (((i * 13 + j * 5) % 19) as f64 - 9.0) * 0.3);
        let labels: Vec<usize> = (0..500).map(|i| (i * 11) % 4).collect();
        let weights = Arc::new(DVector::from_fn(500, |i, _| 0.5 + (i % 3) as f64));
        for w in [None, Some(weights)] {
            for ct in CovarianceType::ALL {
                let mut direct = CpuBackend::new(&x).with_weights(w.clone());
                let mut one_hot = CpuBackend::new(&x).with_weights(w.clone());
                let a = direct.stats_of_labels(&labels, 4, ct).unwrap();
                one_hot
                    .set_responsibilities(&crate::init::one_hot(&labels, 4))
                    .unwrap();
                let b = one_hot.m_step_stats(ct).unwrap();
                assert_eq!(a.nk, b.nk, "{ct}: counts");
                assert_eq!(a.sum_x, b.sum_x, "{ct}: sums");
                assert_eq!(
                    a.to_params(1e-6).unwrap(),
                    b.to_params(1e-6).unwrap(),
                    "{ct}: parameters"
                );
            }
        }
        let mut b = CpuBackend::new(&x);
        let short = b
            .stats_of_labels(&labels[..499], 4, CovarianceType::Full)
            .unwrap_err()
            .to_string();
        assert!(
            short.contains("499 initial labels for 500 samples"),
            "{short}"
        );
        let mut wrong = labels.clone();
        wrong[7] = 4;
        let out = b
            .stats_of_labels(&wrong, 4, CovarianceType::Full)
            .unwrap_err()
            .to_string();
        assert!(out.contains("label 4 of sample 7 is not in 0..4"), "{out}");
    }

    /// The fused pass (`statistics`: E-step and moments block by block) gives the statistics
    /// of the separate E-step then M-step, for every covariance type.
    #[test]
    fn the_fused_pass_equals_the_e_step_then_the_m_step() {
        let x = DMatrix::from_fn(3000, 5, |i, j| {
            (((i * 31 + j * 17) % 23) as f64 - 11.0) * 0.2 + (i % 3) as f64 * 1.5
        });
        let labels: Vec<usize> = (0..3000).map(|i| (i * 7) % 3).collect();
        for ct in CovarianceType::ALL {
            let mut b = CpuBackend::new(&x);
            b.set_responsibilities(&crate::init::one_hot(&labels, 3))
                .unwrap();
            let params = b.m_step_stats(ct).unwrap().to_params(1e-6).unwrap();
            let fused = b.statistics(&params, ct).unwrap();
            let ll = b.e_step(&params).unwrap();
            let apart = b.m_step_stats(ct).unwrap();
            assert!((fused.log_likelihood.unwrap() - ll).abs() < 1e-9 * ll.abs());
            let (pf, pa) = (
                fused.to_params(1e-6).unwrap(),
                apart.to_params(1e-6).unwrap(),
            );
            assert!((&pf.means - &pa.means).amax() < 1e-12, "{ct}");
            assert!((&pf.weights - &pa.weights).amax() < 1e-14, "{ct}");
            let entries = |c: &Covariances| -> Vec<f64> {
                match c {
                    Covariances::Full(m) => m.iter().flat_map(|m| m.iter().copied()).collect(),
                    Covariances::Tied(m) | Covariances::Diag(m) => m.iter().copied().collect(),
                    Covariances::Spherical(v) => v.iter().copied().collect(),
                    Covariances::LowRank(_) => unreachable!(),
                }
            };
            let (cf, ca) = (entries(&pf.covariances), entries(&pa.covariances));
            assert_eq!(cf.len(), ca.len());
            for (f, a) in cf.iter().zip(&ca) {
                assert!((f - a).abs() < 1e-12 * (1.0 + a.abs()), "{ct}");
            }
        }
    }
}
