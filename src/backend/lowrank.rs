//! The low-rank [`Backend`]: EM for full covariances through N × N matrices only, driven by the
//! shared loop in `crate::em`.
//!
//! The E-step on the training samples reads everything from the Gram matrix `G = X_c X_cᵀ`:
//! for `v_i = x_i − μ_k`, `X_c v_i = G[:, i] − X_c μ_k` and `‖v_i‖² = G_ii − 2 (X_c μ_k)_i + ‖μ_k‖²`
//! (all centred), so the E-step costs O(K N³) at most and reaches D only through `G` (computed
//! once); the M-step's weighted means `X_cᵀ W` cost O(N D K).

use std::sync::Arc;

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

use crate::backend::Backend;
use crate::covariance::{CovarianceType, Covariances};
use crate::density::{normalize_in_place, weighted_log_prob};
use crate::error::{GmmError, Result};
use crate::lowrank::covariances::LowRankCovariances;
use crate::lowrank::products::Products;
use crate::lowrank::training::TrainingSet;
use crate::params::{MixtureParams, NK_EPS};
use crate::stats::{Scatter, SufficientStats};

/// Samples per block when the E-step has to score the training samples as new points.
const SCORE_BLOCK: usize = 512;

/// EM for full covariances on N < D data through the exact low-rank form.
pub struct LowRankBackend {
    training: Arc<TrainingSet>,
    /// Where the Gram matrix was computed.
    products: Products,
    /// Responsibilities, N × K (times the sample weights, if any).
    resp: DMatrix<f64>,
    /// Sample weights, if any.
    weights: Option<Arc<DVector<f64>>>,
}

impl LowRankBackend {
    /// The same backend with sample weights (one per sample, checked by the caller).
    pub fn with_weights(mut self, weights: Option<Arc<DVector<f64>>>) -> Self {
        self.weights = weights;
        self
    }

    /// Takes the data as N × D (one sample per row); centres them and computes their Gram
    /// matrix (O(N² D), once).
    #[cfg(test)]
    pub fn new(x: &DMatrix<f64>) -> Self {
        Self::new_with(x, &Products::Cpu).expect("CPU products do not fail")
    }

    /// As [`LowRankBackend::new`], with the Gram matrix computed by `products` (e.g. the
    /// GPU's exact products).
    pub fn new_with(x: &DMatrix<f64>, products: &Products) -> Result<Self> {
        Ok(LowRankBackend {
            training: Arc::new(TrainingSet::new_with(x, products)?),
            products: products.clone(),
            resp: DMatrix::zeros(x.nrows(), 0),
            weights: None,
        })
    }

    /// The centred training samples and their Gram matrix.
    pub fn training(&self) -> &Arc<TrainingSet> {
        &self.training
    }

    /// Whether `lr` is built on this backend's training samples (then the Gram matrix serves).
    fn owns(&self, lr: &LowRankCovariances) -> bool {
        Arc::ptr_eq(&lr.training, &self.training) || lr.training.same_samples(&self.training)
    }

    /// Weighted log-probabilities (K × N) of the training samples under low-rank components
    /// built on them, from the Gram matrix.
    fn weighted_log_prob_gram(
        &self,
        params: &MixtureParams,
        lr: &LowRankCovariances,
    ) -> Result<DMatrix<f64>> {
        let t = &*self.training;
        let (n, d, k) = (t.n_samples(), t.n_features(), params.n_components());
        let gram = t.gram();
        let centre = t.centre();
        let factors = lr.factors()?;
        // X_c μ_k and ‖μ_k‖² (centred) for the means in `params`: from G when they are the
        // components' own weighted means (always, except right after a means initialisation).
        let own_means = (0..k)
            .all(|c| (0..d).all(|j| params.means[(c, j)] == centre[j] + lr.centred_means[(j, c)]));
        let (projected_means, means_sq): (DMatrix<f64>, Vec<f64>) = if own_means {
            (
                DMatrix::from_fn(n, k, |i, c| factors[c].gram_weights[i]),
                factors.iter().map(|f| f.mean_sq).collect(),
            )
        } else {
            let mut mc = params.means.transpose();
            for mut col in mc.column_iter_mut() {
                col -= centre;
            }
            let sq = mc.column_iter().map(|c| c.norm_squared()).collect();
            (t.project_with(&self.products, mc.as_view())?, sq)
        };
        let rows: Vec<Vec<f64>> = (0..k)
            .into_par_iter()
            .map(|c| {
                let f = &factors[c];
                let e = projected_means.column(c);
                let w = lr.weights.column(c);
                let we = w.dot(&e); // μ̄_kᵀ μ_k
                let v_sq: Vec<f64> = (0..n)
                    .map(|i| (gram[(i, i)] - 2.0 * e[i] + means_sq[c]).max(0.0))
                    .collect();
                let b = DMatrix::from_fn(f.n_active(), n, |a, i| {
                    let j = f.active[a];
                    let wv = f.gram_weights[i] - we; // μ̄_kᵀ v_i
                    f.scale[a] * (gram[(j, i)] - e[j] - wv)
                });
                let mut row = vec![0.0; n];
                f.log_density(b, &v_sq, lr.reg_covar, d, &mut row);
                let log_weight = params.weights[c].ln();
                row.iter_mut().for_each(|v| *v += log_weight);
                row
            })
            .collect();
        Ok(DMatrix::from_fn(k, n, |c, i| rows[c][i]))
    }

    /// Weighted log-probabilities (K × N) of the training samples under any other parameters
    /// (a warm start from another model), scoring them as new points.
    fn weighted_log_prob_generic(&self, params: &MixtureParams) -> Result<DMatrix<f64>> {
        let t = &*self.training;
        let n = t.n_samples();
        let blocks: Vec<Result<DMatrix<f64>>> = (0..n.div_ceil(SCORE_BLOCK))
            .into_par_iter()
            .map(|b| {
                let start = b * SCORE_BLOCK;
                let len = SCORE_BLOCK.min(n - start);
                let mut xt = t.samples().columns(start, len).clone_owned();
                for mut col in xt.column_iter_mut() {
                    col += t.centre();
                }
                weighted_log_prob(params, xt.as_view())
            })
            .collect();
        let mut out = DMatrix::<f64>::zeros(params.n_components(), n);
        for (b, block) in blocks.into_iter().enumerate() {
            let block = block?;
            out.columns_mut(b * SCORE_BLOCK, block.ncols())
                .copy_from(&block);
        }
        Ok(out)
    }
}

impl Backend for LowRankBackend {
    fn describe(&self) -> String {
        let threads = rayon::current_num_threads();
        match &self.products {
            Products::Cpu => {
                format!("cpu (f64, exact low-rank full covariances, {threads} threads)")
            }
            #[cfg(feature = "gpu")]
            Products::Gpu(_) => format!(
                "cpu (f64, exact low-rank full covariances, {threads} threads) with the Gram matrix on {}",
                self.products.describe()
            ),
        }
    }

    fn n_samples(&self) -> usize {
        self.training.n_samples()
    }

    fn n_features(&self) -> usize {
        self.training.n_features()
    }

    fn set_responsibilities(&mut self, resp: &DMatrix<f64>) -> Result<()> {
        crate::backend::check_responsibility_rows(resp, self.n_samples())?;
        self.resp = resp.clone();
        crate::backend::weigh_rows(&mut self.resp, self.weights.as_deref());
        Ok(())
    }

    fn e_step(&mut self, params: &MixtureParams) -> Result<f64> {
        if params.n_features() != self.n_features() {
            return Err(GmmError::DimensionMismatch {
                expected: params.n_features(),
                found: self.n_features(),
            });
        }
        let mut wlp = match &params.precisions.cholesky {
            Covariances::LowRank(lr) if self.owns(lr) => self.weighted_log_prob_gram(params, lr)?,
            _ => self.weighted_log_prob_generic(params)?,
        };
        let log_norm = normalize_in_place(&mut wlp);
        self.resp = wlp.transpose();
        let w = self.weights.as_deref();
        crate::backend::weigh_rows(&mut self.resp, w);
        Ok(crate::backend::weighted_sum(log_norm.as_slice(), w, 0))
    }

    fn m_step_stats(&mut self, covariance_type: CovarianceType) -> Result<SufficientStats> {
        if covariance_type != CovarianceType::Full {
            return Err(GmmError::param(
                "covariance_type",
                covariance_type,
                "the low-rank path fits full covariances only; use the dense path for other types",
            ));
        }
        let k = self.resp.ncols();
        if k == 0 {
            return Err(GmmError::InvalidData(
                "no responsibilities yet: set them (initialise) before the M-step".into(),
            ));
        }
        let nk = DVector::from_iterator(k, self.resp.column_iter().map(|c| c.sum()));
        let mut weights = self.resp.clone();
        for c in 0..k {
            weights.column_mut(c).scale_mut(1.0 / (nk[c] + NK_EPS));
        }
        let lr = LowRankCovariances::new(self.training.clone(), weights, 0.0)?;
        let means = lr.weighted_means();
        let mut sum_x = means.clone();
        for c in 0..k {
            sum_x.row_mut(c).scale_mut(nk[c] + NK_EPS);
        }
        Ok(SufficientStats {
            covariance_type,
            n_samples: self.n_samples(),
            nk,
            sum_x,
            shift: means,
            scatter: Scatter::LowRank(Covariances::LowRank(lr)),
            log_likelihood: None,
        })
    }

    fn responsibilities(&self) -> Result<DMatrix<f64>> {
        Ok(self.resp.clone())
    }

    fn sample_weights(&self) -> Option<&DVector<f64>> {
        self.weights.as_deref()
    }
}
