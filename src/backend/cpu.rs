//! The CPU backend: f64 throughout, rayon over fixed blocks of samples, GEMM inside blocks.
//!
//! Samples are stored as the columns of a D × N matrix so that every block of samples is one
//! contiguous slice. Blocks have a fixed size that depends only on N (never on the thread
//! count), and partial sums are combined in block order, so results are bit-identical
//! whatever the number of threads.

use nalgebra::{DMatrix, DMatrixView, DVector};
use rayon::prelude::*;

use crate::backend::Backend;
use crate::covariance::{CovarianceType, Covariances};
use crate::error::Result;
use crate::linalg::{gemm, Strided};
use crate::params::{MStepStats, MixtureParams, NK_EPS};

/// Samples per E-step block: small enough that the K·D × block intermediate stays in cache.
const E_BLOCK: usize = 256;
/// At most this many partial M-step sums (fixed by N, so the reduction order is too).
const M_GROUPS: usize = 32;

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// Log-densities `log N(x_i | μ_k, Σ_k)` for the samples in `xt` (D × n, one sample per
/// column), written to `out` (K × n).
pub fn log_gaussian_prob(
    params: &MixtureParams,
    xt: DMatrixView<'_, f64>,
    out: &mut DMatrix<f64>,
) -> Result<()> {
    let k = params.n_components();
    let d = params.n_features();
    let n = xt.ncols();
    assert_eq!(xt.nrows(), d);
    assert_eq!((out.nrows(), out.ncols()), (k, n));
    let prec = &params.precisions;
    let const_term = -0.5 * d as f64 * LN_2PI;
    match &prec.cholesky {
        Covariances::Full(_) | Covariances::Tied(_) => {
            let factors: Vec<&DMatrix<f64>> = match &prec.cholesky {
                Covariances::Full(us) => us.iter().collect(),
                Covariances::Tied(u) => vec![u; k],
                _ => unreachable!(),
            };
            // y = Uᵀ x − Uᵀ μ: all K products in one GEMM against the stacked factors.
            let mut stacked = DMatrix::<f64>::zeros(k * d, d);
            let mut shift = DVector::<f64>::zeros(k * d);
            for (c, u) in factors.iter().enumerate() {
                stacked.rows_mut(c * d, d).copy_from(&u.transpose());
                let b = u.transpose() * params.means.row(c).transpose();
                shift.rows_mut(c * d, d).copy_from(&b);
            }
            let mut y = DMatrix::<f64>::zeros(k * d, n);
            let xv = xt;
            gemm(
                1.0,
                Strided::of(&stacked),
                Strided::view(&xv),
                0.0,
                &mut y.as_view_mut(),
            );
            for i in 0..n {
                let col = y.column(i);
                let col = col.as_slice();
                for c in 0..k {
                    let sh = &shift.as_slice()[c * d..(c + 1) * d];
                    let mut maha = 0.0;
                    for (yv, s) in col[c * d..(c + 1) * d].iter().zip(sh) {
                        let t = yv - s;
                        maha += t * t;
                    }
                    out[(c, i)] = const_term - 0.5 * maha + prec.log_det(c, d);
                }
            }
        }
        Covariances::Diag(p) => {
            let means_rows: Vec<f64> = params.means.transpose().as_slice().to_vec();
            let prec_rows: Vec<f64> = p.transpose().as_slice().to_vec();
            for i in 0..n {
                let x = xt.column(i);
                let x = column_slice(&x);
                for c in 0..k {
                    let mu = &means_rows[c * d..(c + 1) * d];
                    let pr = &prec_rows[c * d..(c + 1) * d];
                    let maha: f64 = x
                        .iter()
                        .zip(mu)
                        .zip(pr)
                        .map(|((xv, m), p)| {
                            let t = (xv - m) * p;
                            t * t
                        })
                        .sum();
                    out[(c, i)] = const_term - 0.5 * maha + prec.log_det(c, d);
                }
            }
        }
        Covariances::Spherical(p) => {
            let means_rows: Vec<f64> = params.means.transpose().as_slice().to_vec();
            for i in 0..n {
                let x = xt.column(i);
                let x = column_slice(&x);
                for c in 0..k {
                    let mu = &means_rows[c * d..(c + 1) * d];
                    let dist: f64 = x.iter().zip(mu).map(|(xv, m)| (xv - m) * (xv - m)).sum();
                    out[(c, i)] = const_term - 0.5 * dist * p[c] * p[c] + prec.log_det(c, d);
                }
            }
        }
        Covariances::LowRank(lr) => lr.log_gaussian_prob(prec, &params.means, xt, out)?,
    }
    Ok(())
}

/// The contiguous values of one column of a view whose columns are contiguous.
fn column_slice<'a>(col: &'a nalgebra::DVectorView<'_, f64>) -> &'a [f64] {
    debug_assert_eq!(col.strides().0, 1);
    // SAFETY: a column of a view with unit row stride is `len` contiguous values.
    unsafe { std::slice::from_raw_parts(col.as_ptr(), col.len()) }
}

/// `log π_k + log N(x_i | μ_k, Σ_k)` for the samples in `xt` (D × n), as K × n.
pub fn weighted_log_prob(params: &MixtureParams, xt: DMatrixView<'_, f64>) -> Result<DMatrix<f64>> {
    let mut out = DMatrix::<f64>::zeros(params.n_components(), xt.ncols());
    log_gaussian_prob(params, xt, &mut out)?;
    for c in 0..params.n_components() {
        let lw = params.weights[c].ln();
        out.row_mut(c).add_scalar_mut(lw);
    }
    Ok(out)
}

/// Turns a K × n block of weighted log-probabilities into responsibilities in place and
/// returns the per-sample log-likelihoods.
pub fn normalize_in_place(wlp: &mut DMatrix<f64>) -> Vec<f64> {
    let mut log_norm = Vec::with_capacity(wlp.ncols());
    for mut col in wlp.column_iter_mut() {
        let col = col.as_mut_slice();
        let max = col.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !max.is_finite() {
            // Zero (or undefined) density under every component: the caller reports it.
            col.iter_mut().for_each(|v| *v = (*v - max).exp());
            log_norm.push(max);
            continue;
        }
        // One exponential per entry: e = exp(v − max), r = e / Σe, log p = max + ln Σe.
        let mut sum = 0.0;
        for v in col.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        let inv = 1.0 / sum;
        col.iter_mut().for_each(|v| *v *= inv);
        log_norm.push(max + sum.ln());
    }
    log_norm
}

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

/// The f64 CPU backend.
pub struct CpuBackend {
    /// Samples as columns, D × N.
    xt: DMatrix<f64>,
    /// Responsibilities, K × N (column i belongs to sample i).
    resp: DMatrix<f64>,
}

impl CpuBackend {
    /// Takes the data as N × D (one sample per row).
    pub fn new(x: &DMatrix<f64>) -> Self {
        CpuBackend {
            xt: x.transpose(),
            resp: DMatrix::zeros(0, x.nrows()),
        }
    }

    /// The data, one sample per column (D × N).
    pub fn samples_as_columns(&self) -> &DMatrix<f64> {
        &self.xt
    }

    fn weighted_means(&self) -> (DVector<f64>, DMatrix<f64>) {
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
        let mut nk = DVector::<f64>::from_element(k, NK_EPS);
        let mut sx = DMatrix::<f64>::zeros(d, k);
        for (pn, ps) in partials {
            nk += pn;
            sx += ps;
        }
        let mut means = sx.transpose();
        for c in 0..k {
            let inv = 1.0 / nk[c];
            means.row_mut(c).scale_mut(inv);
        }
        (nk, means)
    }

    /// Σ_i r_ik (x_i − μ_k)(x_i − μ_k)ᵀ for every k (centred, so no cancellation).
    fn full_scatter(&self, means: &DMatrix<f64>) -> Vec<DMatrix<f64>> {
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

    /// Σ_i r_ik (x_ij − μ_kj)² for every k and j, K × D.
    fn diag_scatter(&self, means: &DMatrix<f64>) -> DMatrix<f64> {
        let k = self.resp.nrows();
        let d = self.xt.nrows();
        let n = self.xt.ncols();
        let means_rows: Vec<f64> = means.transpose().as_slice().to_vec();
        let groups = m_groups(n, k * d * 8);
        let partials: Vec<Vec<f64>> = groups
            .par_iter()
            .map(|r| {
                let mut acc = vec![0.0; k * d];
                let xs = self.xt.as_slice();
                let rs = self.resp.as_slice();
                for i in r.clone() {
                    let x = &xs[i * d..(i + 1) * d];
                    let resp = &rs[i * k..(i + 1) * k];
                    for (c, &w) in resp.iter().enumerate() {
                        if w == 0.0 {
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
        self.resp = resp.transpose();
        Ok(())
    }

    fn e_step(&mut self, params: &MixtureParams) -> Result<f64> {
        let k = params.n_components();
        let n = self.n_samples();
        if self.resp.nrows() != k {
            self.resp = DMatrix::zeros(k, n);
        }
        let xt = &self.xt;
        let log_norms: Vec<Result<f64>> = self
            .resp
            .as_mut_slice()
            .par_chunks_mut(k * E_BLOCK)
            .enumerate()
            .map(|(b, out)| {
                let start = b * E_BLOCK;
                let len = out.len() / k;
                let mut wlp = weighted_log_prob(params, xt.columns(start, len))?;
                let log_norm = normalize_in_place(&mut wlp);
                out.copy_from_slice(wlp.as_slice());
                Ok(log_norm.iter().sum())
            })
            .collect();
        let mut total = 0.0;
        for v in log_norms {
            total += v?;
        }
        crate::backend::finite_lower_bound(total / n as f64)
    }

    fn m_step_stats(&mut self, covariance_type: CovarianceType) -> Result<MStepStats> {
        let (nk, means) = self.weighted_means();
        let covariances = match covariance_type {
            CovarianceType::Full | CovarianceType::Tied => {
                Covariances::from_full_scatter(covariance_type, self.full_scatter(&means), &nk)
            }
            CovarianceType::Diag | CovarianceType::Spherical => {
                Covariances::from_diag_scatter(covariance_type, self.diag_scatter(&means), &nk)
            }
        };
        Ok(MStepStats {
            nk,
            means,
            covariances,
        })
    }

    fn responsibilities(&self) -> Result<DMatrix<f64>> {
        Ok(self.resp.transpose())
    }
}
