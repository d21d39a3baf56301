//! Conditioning of low-rank full covariances `Σ = A Aᵀ + λ I` (`A`: D × S, a component's
//! scaled, centred training samples) on observed coordinates, through S × S algebra only:
//! `H = λ I + A_oᵀ A_o = L Lᵀ`, `Σ_oo⁻¹ = (I − A_o H⁻¹ A_oᵀ) / λ`, gain
//! `Σ_mo Σ_oo⁻¹ = A_m H⁻¹ A_oᵀ`, and conditional covariance `λ (I + F Fᵀ)` with `F = A_m L⁻ᵀ`
//! — again low rank plus ridge. The weights, means and draws never form an O × O or M × M
//! matrix; only [`LowRankPart::covariance`] writes the M × M conditional covariance out.
//! [`crate::condition::PatternConditioner`] uses one part per component.

use nalgebra::{Cholesky, DMatrix, DVector};
use rand::Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

use crate::error::{GmmError, Result};
use crate::lowrank::LowRankCovariances;

/// One low-rank component conditioned on one set of observed coordinates.
#[derive(Debug, Clone)]
pub(crate) struct LowRankPart {
    /// `A_o`, O × S.
    a_o: DMatrix<f64>,
    /// Lower Cholesky factor `L` of `H`, S × S.
    chol_h: DMatrix<f64>,
    /// `F = A_m L⁻ᵀ`, M × S.
    cond_factor: DMatrix<f64>,
    /// `log det Σ_oo = (O − S) log λ + 2 Σ log L_jj`.
    log_det_oo: f64,
    /// λ.
    reg_covar: f64,
}

impl LowRankPart {
    /// One part per component of `lr` for the `observed` and `missing` coordinates.
    pub(crate) fn for_pattern(
        lr: &LowRankCovariances,
        observed: &[usize],
        missing: &[usize],
    ) -> Result<Vec<LowRankPart>> {
        let factors = lr.factors()?;
        let samples = lr.training().samples(); // D × N, centred
        let reg_covar = lr.reg_covar();
        factors
            .par_iter()
            .enumerate()
            .map(|(k, f)| {
                let mu = lr.centred_means.column(k);
                let s = f.n_active();
                let a = |row: usize, col: usize| {
                    f.scale[col] * (samples[(row, f.active[col])] - mu[row])
                };
                let a_o = DMatrix::from_fn(observed.len(), s, |i, c| a(observed[i], c));
                let a_m = DMatrix::from_fn(missing.len(), s, |i, c| a(missing[i], c));
                let mut h = a_o.tr_mul(&a_o);
                for j in 0..s {
                    h[(j, j)] += reg_covar;
                }
                let not_pd = || GmmError::NotPositiveDefinite {
                    component: k,
                    reg_covar,
                    detail:
                        "the S × S factorisation of the observed coordinates' covariance failed"
                            .into(),
                };
                let chol_h = Cholesky::new(h).ok_or_else(not_pd)?.unpack();
                let sum_log: f64 = chol_h.diagonal().iter().map(|v| v.ln()).sum();
                let log_det_oo =
                    (observed.len() as f64 - s as f64) * reg_covar.ln() + 2.0 * sum_log;
                if !log_det_oo.is_finite() {
                    return Err(not_pd());
                }
                // Fᵀ = L⁻¹ A_mᵀ.
                let mut ft = a_m.transpose();
                if !chol_h.solve_lower_triangular_mut(&mut ft) {
                    return Err(not_pd());
                }
                Ok(LowRankPart {
                    a_o,
                    chol_h,
                    cond_factor: ft.transpose(),
                    log_det_oo,
                    reg_covar,
                })
            })
            .collect()
    }

    /// `L⁻¹ A_oᵀ v` (S values).
    fn projection(&self, v: &DVector<f64>) -> DVector<f64> {
        let mut y = self.a_o.tr_mul(v);
        self.chol_h.solve_lower_triangular_unchecked_mut(&mut y);
        y
    }

    /// `vᵀ Σ_oo⁻¹ v` by Woodbury, `(‖v‖² − ‖L⁻¹ A_oᵀ v‖²) / λ`, and `log det Σ_oo`, for
    /// `v = x_o − μ_o`.
    pub(crate) fn mahalanobis_and_log_det(&self, v: &DVector<f64>) -> (f64, f64) {
        let y = self.projection(v);
        let maha = ((v.norm_squared() - y.norm_squared()) / self.reg_covar).max(0.0);
        (maha, self.log_det_oo)
    }

    /// `Σ_mo Σ_oo⁻¹ v = A_m H⁻¹ A_oᵀ v = F L⁻¹ A_oᵀ v` (M values).
    pub(crate) fn mean_shift(&self, v: &DVector<f64>) -> DVector<f64> {
        &self.cond_factor * self.projection(v)
    }

    /// The M × M conditional covariance `λ (I + F Fᵀ)`.
    pub(crate) fn covariance(&self) -> DMatrix<f64> {
        let mut c = &self.cond_factor * self.cond_factor.transpose();
        for j in 0..c.nrows() {
            c[(j, j)] += 1.0;
        }
        c * self.reg_covar
    }

    /// A draw of the conditional noise from standard normals `z` (M) and S more from `rng`:
    /// `λ (I + F Fᵀ) = (√λ [I F]) (√λ [I F])ᵀ`, so no M × M factorisation.
    pub(crate) fn noise(&self, z: DVector<f64>, rng: &mut impl Rng) -> DVector<f64> {
        let zs = DVector::from_fn(self.cond_factor.ncols(), |_, _| {
            rng.sample::<f64, _>(StandardNormal)
        });
        (z + &self.cond_factor * zs) * self.reg_covar.sqrt()
    }
}
