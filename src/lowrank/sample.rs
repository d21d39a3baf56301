//! Exact draws from a low-rank component: `x − μ_k = A_k ζ + √λ ε` with `ζ ~ N(0, I_N)` and
//! `ε ~ N(0, I_D)`, whose covariance is `A_k A_kᵀ + λ I = Σ_k`. O(N D) per draw (O(n_k D) for a
//! component that owns n_k samples), no factorisation at all.

use nalgebra::DMatrix;
use rand::Rng;
use rand_distr::StandardNormal;

use crate::error::{GmmError, Result};
use crate::lowrank::covariances::LowRankCovariances;
use crate::lowrank::factor::ComponentFactor;

impl LowRankCovariances {
    /// Maps standard-normal columns `z` (D × m) to centred draws of component `k` (D × m): `z`
    /// is the `ε` part; the N-dimensional `ζ` part is drawn from `rng`.
    pub fn sample_centred(
        &self,
        k: usize,
        z: DMatrix<f64>,
        rng: &mut impl Rng,
    ) -> Result<DMatrix<f64>> {
        self.check_draw_shape(k, z.nrows())?;
        let factors = self.factors()?;
        let f = &factors[k];
        let zeta =
            DMatrix::<f64>::from_fn(f.n_active(), z.ncols(), |_, _| rng.sample(StandardNormal));
        Ok(self.apply_factor(k, f, &zeta, z))
    }

    /// The deterministic map behind [`Self::sample_centred`]: `A_k ζ + √λ ε` for the columns
    /// of `zeta` (N × m) and `eps` (D × m). Entries of `ζ` for samples left out of the factor
    /// (weights below f64 rounding of λ) do not contribute.
    pub fn draw_centred(
        &self,
        k: usize,
        zeta: &DMatrix<f64>,
        eps: DMatrix<f64>,
    ) -> Result<DMatrix<f64>> {
        self.check_draw_shape(k, eps.nrows())?;
        if zeta.nrows() != self.n_samples() || zeta.ncols() != eps.ncols() {
            return Err(GmmError::InvalidData(format!(
                "ζ must be {} × {} (training samples × draws), found {} × {}",
                self.n_samples(),
                eps.ncols(),
                zeta.nrows(),
                zeta.ncols()
            )));
        }
        let factors = self.factors()?;
        let f = &factors[k];
        let active = DMatrix::from_fn(f.n_active(), zeta.ncols(), |a, t| zeta[(f.active[a], t)]);
        Ok(self.apply_factor(k, f, &active, eps))
    }

    fn check_draw_shape(&self, k: usize, d: usize) -> Result<()> {
        if k >= self.n_components() {
            return Err(GmmError::param(
                "component",
                k,
                format!("the model has {} components", self.n_components()),
            ));
        }
        if d != self.n_features() {
            return Err(GmmError::DimensionMismatch {
                expected: self.n_features(),
                found: d,
            });
        }
        Ok(())
    }

    /// `A_S ζ + √λ ε` with `A_S` the columns of `A_k` kept in the factor (D × |S|): for each
    /// draw, `Σ_a s_a ζ_a x_a − μ_k Σ_a s_a ζ_a`, |S| contiguous AXPYs over the samples.
    fn apply_factor(
        &self,
        k: usize,
        f: &ComponentFactor,
        zeta: &DMatrix<f64>,
        eps: DMatrix<f64>,
    ) -> DMatrix<f64> {
        let mut out = eps * self.reg_covar.sqrt();
        let samples = self.training.samples();
        let d = self.n_features();
        let mu = self.centred_means.column(k);
        let mu = mu.as_slice();
        for (t, mut col) in out.column_iter_mut().enumerate() {
            let col = col.as_mut_slice();
            let mut total = 0.0;
            for (a, &i) in f.active.iter().enumerate() {
                let c = f.scale[a] * zeta[(a, t)];
                total += c;
                let x = &samples.as_slice()[i * d..(i + 1) * d];
                for (o, v) in col.iter_mut().zip(x) {
                    *o += c * v;
                }
            }
            for (o, m) in col.iter_mut().zip(mu) {
                *o -= total * m;
            }
        }
        out
    }
}
