//! Log-densities of a mixture's components and their normalisation into responsibilities:
//! the arithmetic that the CPU backends, the model's queries and conditioning share.

use nalgebra::{DMatrix, DMatrixView, DVector};

use crate::covariance::Covariances;
use crate::error::Result;
use crate::linalg::{gemm, Strided};
use crate::params::MixtureParams;

use crate::linalg::LN_2PI;

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
        Covariances::LowRank(lr) => lr.log_gaussian_prob(&params.means, xt, out)?,
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
