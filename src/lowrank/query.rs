//! Queries of a low-rank model with its D-dimensional products on a chosen engine
//! ([`Products`]: the CPU or the GPU's exact integer products), block by block; the N × N
//! solves, centring and norms stay on the host in f64.

use nalgebra::DMatrix;

use crate::covariance::Covariances;
use crate::density::normalize_in_place;
use crate::error::Result;
use crate::lowrank::{LowRankCovariances, Products};
use crate::model::GaussianMixture;

/// Samples per block of a low-rank query (bounds the N × block projections).
const LOWRANK_BLOCK: usize = 4096;

/// The low-rank covariances of `model`, if it has them: the precision side, which carries the
/// N × N factors (computed once, not per block).
pub(crate) fn low_rank(model: &GaussianMixture) -> Option<&LowRankCovariances> {
    match &model.precisions().cholesky {
        Covariances::LowRank(lr) => Some(lr),
        _ => None,
    }
}

/// Responsibilities (K × n, in place of the weighted log-probabilities) and log-likelihoods
/// of the rows of `x` under a low-rank model, block by block.
pub(crate) fn lowrank_blocks(
    products: &Products,
    model: &GaussianMixture,
    lr: &LowRankCovariances,
    x: &DMatrix<f64>,
) -> Result<(DMatrix<f64>, Vec<f64>)> {
    model.check_data(x)?;
    let (n, k) = (x.nrows(), model.n_components());
    let mut resp = DMatrix::<f64>::zeros(k, n);
    let mut log_norm = Vec::with_capacity(n);
    for start in (0..n).step_by(LOWRANK_BLOCK) {
        let len = LOWRANK_BLOCK.min(n - start);
        let xt = x.rows(start, len).transpose();
        let mut block = DMatrix::<f64>::zeros(k, len);
        lr.log_gaussian_prob_with(products, model.means(), xt.as_view(), &mut block)?;
        for c in 0..k {
            block.row_mut(c).add_scalar_mut(model.weights()[c].ln());
        }
        log_norm.extend(normalize_in_place(&mut block));
        resp.columns_mut(start, len).copy_from(&block);
    }
    Ok((resp, log_norm))
}
