//! Missing values in data: which coordinates each row observes (its *pattern*), grouped so
//! that the conditioning work of a pattern is done once, and the column means of the observed
//! entries.

use std::collections::HashMap;

use nalgebra::{DMatrix, DVector};

use crate::error::{GmmError, Result};

/// Rows sharing one set of observed coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct MissingPattern {
    /// Observed coordinates (increasing).
    pub observed: Vec<usize>,
    /// Missing (NaN) coordinates (increasing).
    pub missing: Vec<usize>,
    /// The rows with this pattern (increasing).
    pub rows: Vec<usize>,
}

/// Groups the rows of `x` (N × D) by which entries are NaN, in order of first appearance.
pub fn group_by_pattern(x: &DMatrix<f64>) -> Vec<MissingPattern> {
    let d = x.ncols();
    let mut index: HashMap<Vec<bool>, usize> = HashMap::new();
    let mut patterns: Vec<MissingPattern> = Vec::new();
    for i in 0..x.nrows() {
        let key: Vec<bool> = (0..d).map(|j| x[(i, j)].is_nan()).collect();
        let p = *index.entry(key.clone()).or_insert_with(|| {
            patterns.push(MissingPattern {
                observed: (0..d).filter(|&j| !key[j]).collect(),
                missing: (0..d).filter(|&j| key[j]).collect(),
                rows: Vec::new(),
            });
            patterns.len() - 1
        });
        patterns[p].rows.push(i);
    }
    patterns
}

/// Fails on ±inf (NaN is allowed: it marks a missing entry).
pub(crate) fn check_no_infinite(x: &DMatrix<f64>) -> Result<()> {
    for i in 0..x.nrows() {
        for j in 0..x.ncols() {
            let v = x[(i, j)];
            if v.is_infinite() {
                return Err(GmmError::NonFinite {
                    row: i,
                    column: j,
                    value: v,
                });
            }
        }
    }
    Ok(())
}

/// Column means over the observed entries; an error names a column with none.
pub fn observed_column_means(x: &DMatrix<f64>) -> Result<DVector<f64>> {
    weighted_observed_column_means(x, None)
}

/// [`observed_column_means`] with sample weights (rows of weight w count w times).
pub fn weighted_observed_column_means(
    x: &DMatrix<f64>,
    weights: Option<&DVector<f64>>,
) -> Result<DVector<f64>> {
    let d = x.ncols();
    let mut means = DVector::zeros(d);
    for j in 0..d {
        let (sum, count) = x
            .column(j)
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.is_nan())
            .fold((0.0, 0.0), |(s, c), (i, v)| match weights {
                None => (s + v, c + 1.0),
                Some(w) => (s + w[i] * v, c + w[i]),
            });
        if count == 0.0 {
            return Err(GmmError::InvalidData(format!(
                "column {j} (0-based) has no observed value (of positive weight); drop it before fitting"
            )));
        }
        means[j] = sum / count;
    }
    Ok(means)
}

/// The data with every NaN replaced by its column's observed mean.
pub fn mean_imputed(x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    Ok(imputed_with(x, &observed_column_means(x)?))
}

/// The data with every NaN of column j replaced by `means[j]`.
pub fn imputed_with(x: &DMatrix<f64>, means: &DVector<f64>) -> DMatrix<f64> {
    DMatrix::from_fn(x.nrows(), x.ncols(), |i, j| {
        let v = x[(i, j)];
        if v.is_nan() {
            means[j]
        } else {
            v
        }
    })
}
