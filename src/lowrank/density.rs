//! Log-densities of new points under low-rank components, through `X_c x` (O(N D) per point)
//! and the N × N factors — never a D × D matrix.

use nalgebra::{DMatrix, DMatrixView};
use rayon::prelude::*;

use crate::error::{GmmError, Result};
use crate::lowrank::covariances::LowRankCovariances;
use crate::lowrank::products::Products;

impl LowRankCovariances {
    /// Log-densities `log N(x | μ_k, Σ_k)` for a block of samples stored as columns (D × n),
    /// written into `out` (K × n). `means` (K × D) are the model's means, in the data's
    /// coordinates.
    ///
    /// For `v = x − μ_k`: `A_kᵀ v = diag(s_k) (X_c v − 1 (μ̄_kᵀ v))` with `μ̄_k = X_cᵀ w_k` the
    /// component's weighted mean (centred), so one product `X_c x` serves every component.
    pub fn log_gaussian_prob(
        &self,
        means: &DMatrix<f64>,
        xt: DMatrixView<'_, f64>,
        out: &mut DMatrix<f64>,
    ) -> Result<()> {
        self.log_gaussian_prob_with(&Products::Cpu, means, xt, out)
    }

    /// [`LowRankCovariances::log_gaussian_prob`] with the D-dimensional products (`X_c x`,
    /// `X_c μ_k`, `μ̄_kᵀ x`) computed by `products`: the CPU, or the GPU's exact products.
    pub fn log_gaussian_prob_with(
        &self,
        products: &Products,
        means: &DMatrix<f64>,
        xt: DMatrixView<'_, f64>,
        out: &mut DMatrix<f64>,
    ) -> Result<()> {
        let (k, d, n) = (self.n_components(), self.n_features(), xt.ncols());
        if xt.nrows() != d || means.shape() != (k, d) {
            return Err(GmmError::DimensionMismatch {
                expected: d,
                found: xt.nrows(),
            });
        }
        assert_eq!(out.shape(), (k, n), "output block shape");
        let factors = self.factors()?;
        let centre = self.training.centre();
        let mut xc = xt.clone_owned();
        for mut col in xc.column_iter_mut() {
            col -= centre;
        }
        // Means relative to the centre, as columns (D × K).
        let mut mc = means.transpose();
        for mut col in mc.column_iter_mut() {
            col -= centre;
        }
        // X_c x (N × n) and X_c μ_k (N × K) in one product, so that X_c is read once.
        let mut rhs = DMatrix::<f64>::zeros(d, n + k);
        rhs.columns_mut(0, n).copy_from(&xc);
        rhs.columns_mut(n, k).copy_from(&mc);
        let both = self.training.project_with(products, rhs.as_view())?;
        let (projected, projected_means) = (both.columns(0, n), both.columns(n, k));
        let mean_dots = products.transpose_times(self.centred_means.as_view(), xc.as_view())?; // K × n: μ̄_kᵀ x
        let rows: Vec<Vec<f64>> = (0..k)
            .into_par_iter()
            .map(|c| {
                let f = &factors[c];
                let mu = mc.column(c);
                let shift = self.centred_means.column(c).dot(&mu); // μ̄_kᵀ μ_k
                let v_sq: Vec<f64> = xc
                    .column_iter()
                    .map(|x| {
                        x.iter()
                            .zip(mu.iter())
                            .map(|(a, b)| (a - b) * (a - b))
                            .sum()
                    })
                    .collect();
                let b = DMatrix::from_fn(f.n_active(), n, |a, i| {
                    let j = f.active[a];
                    let wv = mean_dots[(c, i)] - shift; // μ̄_kᵀ v_i
                    f.scale[a] * (projected[(j, i)] - projected_means[(j, c)] - wv)
                });
                let mut row = vec![0.0; n];
                f.log_density(b, &v_sq, self.reg_covar, d, &mut row);
                row
            })
            .collect();
        for (c, row) in rows.iter().enumerate() {
            for (i, v) in row.iter().enumerate() {
                out[(c, i)] = *v;
            }
        }
        Ok(())
    }
}
