//! The N × N factorisation of one component, `M_k = λ I + diag(s_k) C_k diag(s_k) = L_k L_kᵀ`,
//! and the Woodbury Mahalanobis distances and determinant it gives.
//!
//! Samples whose weight is so small that their whole contribution to `Σ_k` lies below the
//! rounding of `λ` (`w_ik ‖x_i − μ_k‖² ≤ DROP_RELATIVE · λ`) are left out of the factor: this
//! changes no number beyond f64 rounding and makes a component that owns n_k samples cost
//! O(n_k³) instead of O(N³).

use nalgebra::{DMatrix, DVector};

use crate::error::{GmmError, Result};
use crate::linalg::LN_2PI;
use crate::lowrank::training::TrainingSet;

/// A sample is dropped from a component when its share of `Σ_k` is below this multiple of λ.
const DROP_RELATIVE: f64 = 1e-18;

/// Everything the density and the sampler of one component need.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentFactor {
    /// The samples kept (S, ascending).
    pub(crate) active: Vec<usize>,
    /// `s_i = √w_ik` for i in S.
    pub(crate) scale: DVector<f64>,
    /// Lower Cholesky factor `L` of `M = λ I + diag(s) C[S, S] diag(s)` (|S| × |S|).
    pub(crate) chol: DMatrix<f64>,
    /// `g = G w_k` (N): `X_c μ_k` for the component's own (weighted) mean.
    pub(crate) gram_weights: DVector<f64>,
    /// `m = w_kᵀ G w_k = ‖μ_k − centre‖²`.
    pub(crate) mean_sq: f64,
    /// `log det Σ_k = (D − |S|) log λ + 2 Σ log L_jj`.
    pub(crate) log_det: f64,
}

impl ComponentFactor {
    /// Factors component `component` with weights `w` (N) and ridge `reg_covar` > 0.
    pub fn new(
        training: &TrainingSet,
        w: &[f64],
        reg_covar: f64,
        component: usize,
    ) -> Result<Self> {
        let d = training.n_features();
        let gram = training.gram();
        let gw = gram * DVector::from_column_slice(w);
        let m: f64 = w.iter().zip(gw.iter()).map(|(a, b)| a * b).sum();
        // C_ii = ‖x_i − μ_k‖² for every sample.
        let active: Vec<usize> = (0..w.len())
            .filter(|&i| {
                let c_ii = (gram[(i, i)] - 2.0 * gw[i] + m).max(0.0);
                w[i] * c_ii > DROP_RELATIVE * reg_covar
            })
            .collect();
        let n_active = active.len();
        let scale = DVector::from_iterator(n_active, active.iter().map(|&i| w[i].sqrt()));
        let mut mat = DMatrix::<f64>::from_fn(n_active, n_active, |a, b| {
            let (i, j) = (active[a], active[b]);
            scale[a] * (gram[(i, j)] - gw[i] - gw[j] + m) * scale[b]
        });
        for a in 0..n_active {
            mat[(a, a)] += reg_covar;
        }
        let not_pd = |detail: String| GmmError::NotPositiveDefinite {
            component,
            reg_covar,
            detail,
        };
        let chol = nalgebra::linalg::Cholesky::new(mat)
            .ok_or_else(|| not_pd("the N × N factorisation of the low-rank form failed".into()))?
            .unpack();
        let mut sum_log = 0.0;
        for a in 0..n_active {
            let v = chol[(a, a)];
            if !(v.is_finite() && v > 0.0) {
                return Err(not_pd(format!("pivot {v:e} of the N × N factorisation")));
            }
            sum_log += v.ln();
        }
        let log_det = (d - n_active) as f64 * reg_covar.ln() + 2.0 * sum_log;
        if !log_det.is_finite() {
            return Err(not_pd(format!("log-determinant {log_det}")));
        }
        Ok(ComponentFactor {
            active,
            scale,
            chol,
            gram_weights: gw,
            mean_sq: m,
            log_det,
        })
    }

    /// Number of samples kept in the factor.
    pub fn n_active(&self) -> usize {
        self.active.len()
    }

    /// The samples kept in the factor.
    pub fn active_samples(&self) -> &[usize] {
        &self.active
    }

    /// `log det Σ_k`.
    pub fn log_det(&self) -> f64 {
        self.log_det
    }

    /// Log-densities from the projected deviations: column i of `b` is `A_kᵀ v_i` restricted
    /// to the kept samples (|S| × n, consumed), and `v_sq[i] = ‖v_i‖²`, where
    /// `v_i = x_i − μ`. Writes `log N(x_i | μ, Σ_k)` into `out` (n).
    pub fn log_density(
        &self,
        mut b: DMatrix<f64>,
        v_sq: &[f64],
        reg_covar: f64,
        d: usize,
        out: &mut [f64],
    ) {
        debug_assert_eq!(b.nrows(), self.n_active());
        if self.n_active() > 0 {
            // Y = L⁻¹ B; Woodbury: vᵀ Σ⁻¹ v = (‖v‖² − ‖Y v‖²) / λ.
            self.chol.solve_lower_triangular_unchecked_mut(&mut b);
        }
        let constant = d as f64 * LN_2PI + self.log_det;
        for (i, o) in out.iter_mut().enumerate() {
            let y_sq = if self.n_active() > 0 {
                b.column(i).norm_squared()
            } else {
                0.0
            };
            let maha = ((v_sq[i] - y_sq) / reg_covar).max(0.0);
            *o = -0.5 * (constant + maha);
        }
    }
}
