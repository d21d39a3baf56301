//! The CPU backend: f64 throughout, rayon over fixed blocks of samples, GEMM inside blocks.
//!
//! Samples are stored as the columns of a D × N matrix so that every block of samples is one
//! contiguous slice. Blocks have a fixed size that depends only on N (never on the thread
//! count), and partial sums are combined in block order, so results are bit-identical
//! whatever the number of threads.

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

use crate::backend::Backend;
use crate::covariance::CovarianceType;
use crate::density::{normalize_in_place, weighted_log_prob};
use crate::error::Result;
use crate::linalg::{gemm, Strided};
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
        Ok(total)
    }

    fn m_step_stats(&mut self, covariance_type: CovarianceType) -> Result<SufficientStats> {
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
        let scatter = match covariance_type {
            CovarianceType::Full | CovarianceType::Tied => Scatter::Full(self.full_scatter(&means)),
            CovarianceType::Diag | CovarianceType::Spherical => {
                Scatter::Diag(self.diag_scatter(&means))
            }
        };
        Ok(SufficientStats {
            shift: means,
            scatter,
            ..stats
        })
    }

    fn responsibilities(&self) -> Result<DMatrix<f64>> {
        Ok(self.resp.transpose())
    }
}
