//! The arrays a low-rank model is saved as (beside `weights_` and `means_`): compact — the
//! centred training data, their centre, the per-component sample weights and λ; no D × D array.
//!
//! | array | shape | meaning |
//! |---|---|---|
//! | `lowrank_training_data` | (N, D) | training samples minus their mean |
//! | `lowrank_data_centre` | (D,) | the mean that was subtracted |
//! | `lowrank_sample_weights` | (N, K) | `w_ik = r_ik / N_k`: `Σ_k = Σ_i w_ik (x_i − μ̄_k)(x_i − μ̄_k)ᵀ + λ I` |
//! | `lowrank_reg_covar` | () | λ |
//!
//! Everything else (the Gram matrix, the weighted means `μ̄_k = Σ_i w_ik x_i`, the N × N
//! factors) is recomputed on loading.

use std::collections::BTreeMap;
use std::sync::Arc;

use nalgebra::{DMatrix, DVector};

use crate::array::NdArray;
use crate::error::{GmmError, Result};
use crate::lowrank::covariances::LowRankCovariances;
use crate::lowrank::training::TrainingSet;

/// Name of the centred training data, (N, D).
pub const TRAINING_DATA: &str = "lowrank_training_data";
/// Name of the data centre, (D,).
pub const DATA_CENTRE: &str = "lowrank_data_centre";
/// Name of the sample weights, (N, K).
pub const SAMPLE_WEIGHTS: &str = "lowrank_sample_weights";
/// Name of λ, a scalar.
pub const REG_COVAR: &str = "lowrank_reg_covar";

impl LowRankCovariances {
    /// The arrays this representation stores in a model file (see the module documentation),
    /// beside `weights_` and `means_`.
    pub fn to_arrays(&self) -> Vec<(String, NdArray)> {
        let t = &self.training;
        // The D × N column-major samples are the (N, D) row-major array as they are.
        let data = NdArray::new(
            vec![t.n_samples(), t.n_features()],
            t.samples().as_slice().to_vec(),
        );
        vec![
            (TRAINING_DATA.into(), data),
            (
                DATA_CENTRE.into(),
                NdArray::new(vec![t.n_features()], t.centre().as_slice().to_vec()),
            ),
            (SAMPLE_WEIGHTS.into(), NdArray::from_matrix(&self.weights)),
            (REG_COVAR.into(), NdArray::scalar(self.reg_covar)),
        ]
    }

    /// Rebuilds the representation from a model file's arrays (others are ignored).
    pub fn from_arrays(arrays: &BTreeMap<String, NdArray>) -> Result<Self> {
        let get = |name: &str| {
            arrays.get(name).ok_or_else(|| {
                GmmError::InvalidModel(format!(
                    "the low-rank model lacks the array '{name}'; the file is incomplete (save it again with gaussmix)"
                ))
            })
        };
        let shape_err = |name: &str, want: &str, a: &NdArray| {
            GmmError::InvalidModel(format!(
                "low-rank array '{name}' must have shape {want}, found {:?}",
                a.shape
            ))
        };
        let data = get(TRAINING_DATA)?;
        let (n, d) = match data.shape.as_slice() {
            [n, d] if *n >= 1 && *d >= 1 => (*n, *d),
            _ => return Err(shape_err(TRAINING_DATA, "(N, D) with N, D ≥ 1", data)),
        };
        let centre = get(DATA_CENTRE)?;
        if centre.shape != [d] {
            return Err(shape_err(DATA_CENTRE, &format!("({d},)"), centre));
        }
        let weights = get(SAMPLE_WEIGHTS)?;
        let weights = match weights.shape.as_slice() {
            [rows, k] if *rows == n && *k >= 1 => weights.to_matrix().expect("2-D"),
            _ => return Err(shape_err(SAMPLE_WEIGHTS, &format!("({n}, K)"), weights)),
        };
        let reg = get(REG_COVAR)?;
        if reg.data.len() != 1 {
            return Err(shape_err(REG_COVAR, "() (a scalar)", reg));
        }
        let finite = |name: &str, v: &[f64]| {
            if v.iter().all(|x| x.is_finite()) {
                Ok(())
            } else {
                Err(GmmError::InvalidModel(format!(
                    "low-rank array '{name}' has a non-finite entry; the model file is damaged"
                )))
            }
        };
        finite(TRAINING_DATA, &data.data)?;
        finite(DATA_CENTRE, &centre.data)?;
        finite(SAMPLE_WEIGHTS, weights.as_slice())?;
        let samples = DMatrix::from_column_slice(d, n, &data.data);
        let training = TrainingSet::from_centred(samples, DVector::from_column_slice(&centre.data));
        let lr = LowRankCovariances::new(Arc::new(training), weights, reg.data[0])?;
        lr.validate(lr.n_components(), d)?;
        Ok(lr)
    }
}
