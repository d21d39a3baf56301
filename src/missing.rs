//! Imputation of missing (NaN) entries from a fitted mixture: each row's missing entries are
//! filled with their conditional mean given its observed entries (or a draw). Rows are
//! grouped by missing pattern ([`crate::patterns`]), so the conditioning work of a pattern
//! ([`crate::condition::PatternConditioner`]) is done once. Fitting with missing values is
//! `gaussmix::fit` on [`crate::Samples::with_missing`].

use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::condition::PatternConditioner;
use crate::error::{GmmError, Result};
use crate::params::MixtureParams;
use crate::patterns::check_no_infinite;
pub use crate::patterns::{group_by_pattern, mean_imputed, observed_column_means, MissingPattern};

/// How [`impute`] fills missing entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImputeMode {
    /// The conditional mean `E[x_m | x_o]`.
    Mean,
    /// One draw from `p(x_m | x_o)`; row `i` uses its own random stream of `seed`, so the
    /// result does not depend on the number of threads.
    Draw {
        /// Seed of the draws.
        seed: u64,
    },
}

/// Fills the NaN entries of every row of `x` (N × D) from the conditional distribution of the
/// model given that row's observed entries. Rows with nothing observed get the marginal mean
/// (or a draw from the model); rows with nothing missing are copied unchanged.
pub fn impute(params: &MixtureParams, x: &DMatrix<f64>, mode: ImputeMode) -> Result<DMatrix<f64>> {
    if x.ncols() != params.n_features() {
        return Err(GmmError::DimensionMismatch {
            expected: params.n_features(),
            found: x.ncols(),
        });
    }
    check_no_infinite(x)?;
    let patterns = group_by_pattern(x);
    let filled: Vec<Vec<(usize, DVector<f64>)>> = patterns
        .par_iter()
        .filter(|p| !p.missing.is_empty())
        .map(|p| {
            let cond = PatternConditioner::new(params, &p.observed)?;
            p.rows
                .iter()
                .map(|&i| {
                    let x_o: Vec<f64> = p.observed.iter().map(|&j| x[(i, j)]).collect();
                    let values = match mode {
                        ImputeMode::Mean => cond.conditional_mean(&x_o),
                        ImputeMode::Draw { seed } => {
                            let mut rng = ChaCha8Rng::seed_from_u64(seed);
                            rng.set_stream(i as u64);
                            cond.draw(&x_o, &mut rng)
                        }
                    }
                    .map_err(|e| GmmError::InvalidData(format!("row {i} (0-based): {e}")))?;
                    Ok((i, values))
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<_>>()?;
    let mut out = x.clone();
    for (p, rows) in patterns
        .iter()
        .filter(|p| !p.missing.is_empty())
        .zip(filled)
    {
        for (i, values) in rows {
            for (&j, v) in p.missing.iter().zip(values.iter()) {
                out[(i, j)] = *v;
            }
        }
    }
    Ok(out)
}
