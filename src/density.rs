//! Log-densities of a mixture's components and their normalisation into responsibilities:
//! the arithmetic that the CPU backends, the model's queries and conditioning share.

use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut};

use crate::covariance::Covariances;
use crate::error::Result;
use crate::linalg::{gemm, with_avx2, Strided};
use crate::params::MixtureParams;

use crate::linalg::LN_2PI;

mod fused;

/// A mixture's log-densities prepared once for many blocks of samples: the stacked
/// triangular factors and shifts (full, tied), or the per-component rows (diag, spherical),
/// and each component's constant term.
pub struct Density<'p> {
    params: &'p MixtureParams,
    prepared: Prepared,
    /// `log π_k` added to every log-density (weighted log-probabilities), or nothing.
    log_weights: Option<Vec<f64>>,
}

enum Prepared {
    /// `y = Uᵀ x − Uᵀ μ_k` for every component at once. `Uᵀ` is lower triangular, so its
    /// columns split at `h`: the first `h` columns (all rows) are one product, the lower-right
    /// block (rows and columns from `h`) a second one, which skips the zero upper-right block
    /// (a quarter of the work). Rows of `y` are ordered region A (rows below `h` of every
    /// component), then region B (rows from `h`). Tied covariances share one `Uᵀ` (D × D,
    /// `h = D`).
    Triangular {
        first: DMatrix<f64>,
        second: Option<DMatrix<f64>>,
        h: usize,
        shift: Vec<f64>,
        tied: bool,
    },
    /// Full covariances on a CPU with AVX2 and FMA: the fused kernel ([`fused`]).
    Fused(fused::Panels),
    Diag {
        means_rows: Vec<f64>,
        prec_rows: Vec<f64>,
    },
    Spherical {
        means_rows: Vec<f64>,
    },
    LowRank,
}

/// Dimensions from which the triangular product is split in two.
const SPLIT_FROM: usize = 16;

/// Σ (a_j − b_j)², in four independent partial sums (so it vectorises).
#[inline]
fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..4 {
            let t = x[l] - y[l];
            acc[l] += t * t;
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (x, y) in ra.iter().zip(rb) {
        let t = x - y;
        s += t * t;
    }
    s
}

/// Σ ((a_j − b_j) p_j)², in four independent partial sums.
#[inline]
fn scaled_sq_dist(a: &[f64], b: &[f64], p: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let (ca, cb, cp) = (a.chunks_exact(4), b.chunks_exact(4), p.chunks_exact(4));
    let (ra, rb, rp) = (ca.remainder(), cb.remainder(), cp.remainder());
    for ((x, y), q) in ca.zip(cb).zip(cp) {
        for l in 0..4 {
            let t = (x[l] - y[l]) * q[l];
            acc[l] += t * t;
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for ((x, y), q) in ra.iter().zip(rb).zip(rp) {
        let t = (x - y) * q;
        s += t * t;
    }
    s
}

impl<'p> Density<'p> {
    /// The log-densities `log N(x | μ_k, Σ_k)` of `params`.
    pub fn new(params: &'p MixtureParams) -> Self {
        Density::with_fused(params, fused::available())
    }

    /// As [`Density::new`], with the fused full-covariance kernel only if `fused` (which
    /// needs AVX2 and FMA); otherwise the GEMM path.
    fn with_fused(params: &'p MixtureParams, fused: bool) -> Self {
        let k = params.n_components();
        let d = params.n_features();
        let prepared = match &params.precisions.cholesky {
            Covariances::Full(us) if fused => {
                Prepared::Fused(fused::Panels::new(us, &params.means))
            }
            Covariances::Full(us) => {
                let h = if d >= SPLIT_FROM { d.div_ceil(2) } else { d };
                let rest = d - h;
                let mut first = DMatrix::<f64>::zeros(k * d, h);
                let mut second = DMatrix::<f64>::zeros(k * rest, rest);
                let mut shift = vec![0.0; k * d];
                for (c, u) in us.iter().enumerate() {
                    let ut = u.transpose();
                    let b = &ut * params.means.row(c).transpose();
                    for r in 0..d {
                        let row = if r < h {
                            c * h + r
                        } else {
                            k * h + c * rest + (r - h)
                        };
                        for col in 0..h {
                            first[(row, col)] = ut[(r, col)];
                        }
                        if r >= h {
                            for col in h..d {
                                second[(row - k * h, col - h)] = ut[(r, col)];
                            }
                        }
                        shift[row] = b[r];
                    }
                }
                Prepared::Triangular {
                    first,
                    second: (rest > 0).then_some(second),
                    h,
                    shift,
                    tied: false,
                }
            }
            Covariances::Tied(u) => {
                let mut shift = vec![0.0; k * d];
                for c in 0..k {
                    let b = u.transpose() * params.means.row(c).transpose();
                    shift[c * d..(c + 1) * d].copy_from_slice(b.as_slice());
                }
                Prepared::Triangular {
                    first: u.transpose(),
                    second: None,
                    h: d,
                    shift,
                    tied: true,
                }
            }
            Covariances::Diag(p) => Prepared::Diag {
                means_rows: params.means.transpose().as_slice().to_vec(),
                prec_rows: p.transpose().as_slice().to_vec(),
            },
            Covariances::Spherical(_) => Prepared::Spherical {
                means_rows: params.means.transpose().as_slice().to_vec(),
            },
            Covariances::LowRank(_) => Prepared::LowRank,
        };
        Density {
            params,
            prepared,
            log_weights: None,
        }
    }

    /// The weighted log-probabilities `log π_k + log N(x | μ_k, Σ_k)` of `params`.
    pub fn weighted(params: &'p MixtureParams) -> Self {
        Density {
            log_weights: Some(params.weights.iter().map(|w| w.ln()).collect()),
            ..Density::new(params)
        }
    }

    /// Writes the log-densities of the samples in `xt` (D × n, one sample per column) to
    /// `out` (K × n). `scratch` is reused between calls (it holds the products `Uᵀ x`).
    pub fn eval(
        &self,
        xt: DMatrixView<'_, f64>,
        out: &mut DMatrix<f64>,
        scratch: &mut Vec<f64>,
    ) -> Result<()> {
        let params = self.params;
        let k = params.n_components();
        let d = params.n_features();
        let n = xt.ncols();
        assert_eq!(xt.nrows(), d);
        assert_eq!((out.nrows(), out.ncols()), (k, n));
        let prec = &params.precisions;
        let terms = Terms {
            const_term: -0.5 * d as f64 * LN_2PI,
            log_det: (0..k).map(|c| prec.log_det(c, d)).collect(),
            log_weights: self.log_weights.as_deref(),
        };
        match &self.prepared {
            Prepared::Triangular {
                first,
                second,
                h,
                shift,
                tied,
            } => {
                let rows = first.nrows();
                scratch.resize(rows * n, 0.0);
                let mut y = DMatrixViewMut::from_slice(&mut scratch[..rows * n], rows, n);
                let top = xt.rows(0, *h);
                gemm(1.0, Strided::of(first), Strided::view(&top), 0.0, &mut y);
                if let Some(second) = second {
                    let below = xt.rows(*h, d - h);
                    let mut yb = y.rows_mut(k * h, second.nrows());
                    gemm(
                        1.0,
                        Strided::of(second),
                        Strided::view(&below),
                        1.0,
                        &mut yb,
                    );
                }
                let ys = &scratch[..rows * n];
                let os = out.as_mut_slice();
                triangular_log_densities(ys, (k, d, *h), shift, *tied, &terms, os);
            }
            Prepared::Fused(panels) => panels.log_densities(xt, &terms, out.as_mut_slice()),
            Prepared::Diag {
                means_rows,
                prec_rows,
            } => {
                let os = out.as_mut_slice();
                diag_log_densities(xt, means_rows, prec_rows, &terms, os);
            }
            Prepared::Spherical { means_rows } => {
                let Covariances::Spherical(p) = &prec.cholesky else {
                    unreachable!("spherical factors")
                };
                let os = out.as_mut_slice();
                for i in 0..n {
                    let x = xt.column(i);
                    let x = column_slice(&x);
                    for c in 0..k {
                        let dist = sq_dist(x, &means_rows[c * d..(c + 1) * d]);
                        os[i * k + c] = terms.finish(c, dist * p[c] * p[c]);
                    }
                }
            }
            Prepared::LowRank => {
                let Covariances::LowRank(lr) = &prec.cholesky else {
                    unreachable!("low-rank factors")
                };
                lr.log_gaussian_prob(&params.means, xt, out)?;
                if let Some(w) = &self.log_weights {
                    for (c, lw) in w.iter().enumerate() {
                        out.row_mut(c).add_scalar_mut(*lw);
                    }
                }
            }
        }
        Ok(())
    }
}

/// The constant terms of the log-densities: `−½ D ln 2π`, each component's `ln det U_k`,
/// and `log π_k` for weighted log-probabilities.
struct Terms<'a> {
    const_term: f64,
    log_det: Vec<f64>,
    log_weights: Option<&'a [f64]>,
}

impl Terms<'_> {
    /// `log N` (plus `log π_k`) of component `c` from its Mahalanobis distance.
    #[inline(always)]
    fn finish(&self, c: usize, maha: f64) -> f64 {
        let v = self.const_term - 0.5 * maha + self.log_det[c];
        match self.log_weights {
            Some(w) => v + w[c],
            None => v,
        }
    }
}

with_avx2!(triangular_log_densities, triangular_avx2, triangular_body, (
    ys: &[f64],
    dims: (usize, usize, usize),
    shift: &[f64],
    tied: bool,
    terms: &Terms<'_>,
    out: &mut [f64]
));

with_avx2!(diag_log_densities, diag_avx2, diag_body, (
    xt: DMatrixView<'_, f64>,
    means_rows: &[f64],
    prec_rows: &[f64],
    terms: &Terms<'_>,
    out: &mut [f64]
));

/// The log-densities (K × n into `out`) from the products `ys` (rows × n, region A then
/// region B, see [`Prepared::Triangular`]) and the shifts; `dims` is (K, D, h).
#[inline(always)]
fn triangular_body(
    ys: &[f64],
    (k, d, h): (usize, usize, usize),
    shift: &[f64],
    tied: bool,
    terms: &Terms<'_>,
    out: &mut [f64],
) {
    let rows = if tied { d } else { k * d };
    let rest = d - h;
    for (col, o) in ys.chunks_exact(rows).zip(out.chunks_exact_mut(k)) {
        for (c, o) in o.iter_mut().enumerate() {
            let maha = if tied {
                sq_dist(col, &shift[c * d..(c + 1) * d])
            } else {
                let (a, b) = col.split_at(k * h);
                let (sa, sb) = shift.split_at(k * h);
                sq_dist(&a[c * h..(c + 1) * h], &sa[c * h..(c + 1) * h])
                    + sq_dist(&b[c * rest..(c + 1) * rest], &sb[c * rest..(c + 1) * rest])
            };
            *o = terms.finish(c, maha);
        }
    }
}

/// The diagonal log-densities (K × n into `out`) of the samples `xt` (D × n) from the
/// component rows of means and precision factors (K × D, row-major).
#[inline(always)]
fn diag_body(
    xt: DMatrixView<'_, f64>,
    means_rows: &[f64],
    prec_rows: &[f64],
    terms: &Terms<'_>,
    out: &mut [f64],
) {
    let d = xt.nrows();
    let k = means_rows.len() / d.max(1);
    for (i, o) in out.chunks_exact_mut(k).enumerate() {
        let x = xt.column(i);
        let x = column_slice(&x);
        for (c, o) in o.iter_mut().enumerate() {
            let mu = &means_rows[c * d..(c + 1) * d];
            let pr = &prec_rows[c * d..(c + 1) * d];
            *o = terms.finish(c, scaled_sq_dist(x, mu, pr));
        }
    }
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
    Density::weighted(params).eval(xt, &mut out, &mut Vec::new())?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::covariance::CovarianceType;
    use nalgebra::DVector;

    /// The fused kernel gives the GEMM path's log-densities to rounding, and a sample's value
    /// does not depend on the block it is evaluated in (groups of six, a padded last one).
    #[test]
    fn the_fused_kernel_agrees_with_the_gemm_path_and_ignores_block_boundaries() {
        if !fused::available() {
            return;
        }
        for (d, k, n) in [(13, 3, 37), (32, 4, 25), (3, 2, 5), (8, 1, 6)] {
            let covs: Vec<DMatrix<f64>> = (0..k)
                .map(|c| {
                    let a = DMatrix::from_fn(d, d, |i, j| {
                        (((i * 5 + j * 3 + c * 7) % 11) as f64 - 5.0) * 0.1
                    });
                    &a * a.transpose() + DMatrix::identity(d, d) * (0.5 + c as f64)
                })
                .collect();
            let means = DMatrix::from_fn(k, d, |c, j| (c as f64 - 1.0) * 0.7 + j as f64 * 0.05);
            let weights = DVector::from_element(k, 1.0 / k as f64);
            let params = MixtureParams::new(weights, means, Covariances::Full(covs), 0.0).unwrap();
            let xt = DMatrix::from_fn(d, n, |j, i| ((i * 3 + j * 7) % 5) as f64 * 0.4 - 0.8);
            let eval = |density: &Density<'_>, from: usize, len: usize| {
                let mut out = DMatrix::zeros(k, len);
                density
                    .eval(xt.columns(from, len), &mut out, &mut Vec::new())
                    .unwrap();
                out
            };
            let fused = Density::with_fused(&params, true);
            assert!(matches!(fused.prepared, Prepared::Fused(_)));
            let gemm = Density::with_fused(&params, false);
            let (a, b) = (eval(&fused, 0, n), eval(&gemm, 0, n));
            for (x, y) in a.iter().zip(b.iter()) {
                assert!(
                    (x - y).abs() <= 1e-12 * (1.0 + y.abs()),
                    "d={d}: {x} vs {y}"
                );
            }
            for from in [1, n / 2, n - 1] {
                let part = eval(&fused, from, n - from);
                assert_eq!(part, a.columns(from, n - from), "d={d}, from sample {from}");
            }
        }
    }

    /// The split triangular product (D ≥ 16) and the shared tied factor give the textbook
    /// log-density, log N(x | μ, Σ) = −½ (D ln 2π + ln det Σ + (x − μ)ᵀ Σ⁻¹ (x − μ)).
    #[test]
    fn log_densities_match_the_textbook_formula() {
        for (d, ct) in [
            (20, CovarianceType::Full),
            (7, CovarianceType::Full),
            (17, CovarianceType::Tied),
            (9, CovarianceType::Diag),
            (6, CovarianceType::Spherical),
        ] {
            let k = 3;
            let covs: Vec<DMatrix<f64>> = (0..k)
                .map(|c| {
                    let a = DMatrix::from_fn(d, d, |i, j| {
                        (((i * 5 + j * 3 + c * 7) % 11) as f64 - 5.0) * 0.1
                    });
                    let mut s = &a * a.transpose() + DMatrix::identity(d, d) * (0.5 + c as f64);
                    match ct {
                        CovarianceType::Diag => s = DMatrix::from_diagonal(&s.diagonal()),
                        CovarianceType::Spherical => s = DMatrix::identity(d, d) * s[(0, 0)],
                        _ => {}
                    }
                    if ct == CovarianceType::Tied && c > 0 {
                        s = DMatrix::identity(d, d);
                    }
                    s
                })
                .collect();
            let covs = match ct {
                CovarianceType::Tied => vec![covs[0].clone(); k],
                _ => covs,
            };
            let layout = match ct {
                CovarianceType::Full => Covariances::Full(covs.clone()),
                CovarianceType::Tied => Covariances::Tied(covs[0].clone()),
                CovarianceType::Diag => {
                    Covariances::Diag(DMatrix::from_fn(k, d, |c, j| covs[c][(j, j)]))
                }
                CovarianceType::Spherical => {
                    Covariances::Spherical(DVector::from_fn(k, |c, _| covs[c][(0, 0)]))
                }
            };
            let means = DMatrix::from_fn(k, d, |c, j| (c as f64 - 1.0) * 0.7 + j as f64 * 0.05);
            let weights = DVector::from_vec(vec![0.2, 0.3, 0.5]);
            let params = MixtureParams::new(weights.clone(), means.clone(), layout, 0.0).unwrap();
            let n = 9;
            let xt = DMatrix::from_fn(d, n, |j, i| ((i * 3 + j) % 5) as f64 * 0.4 - 0.8);
            let got = weighted_log_prob(&params, xt.as_view()).unwrap();
            for c in 0..k {
                let chol = covs[c].clone().cholesky().unwrap();
                let log_det = 2.0 * chol.l().diagonal().iter().map(|v| v.ln()).sum::<f64>();
                for i in 0..n {
                    let diff = xt.column(i) - means.row(c).transpose();
                    let maha = diff.dot(&chol.solve(&diff));
                    let want = weights[c].ln() - 0.5 * (d as f64 * LN_2PI + log_det + maha);
                    assert!((got[(c, i)] - want).abs() < 1e-10, "{ct} d={d} c={c} i={i}");
                }
            }
        }
    }
}
