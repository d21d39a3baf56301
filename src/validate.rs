//! Checks on input matrices that every path shares.

use nalgebra::DMatrix;

use crate::error::{GmmError, Result};

/// Fails on the first non-finite entry, naming its row and column (row-major scan).
pub fn check_finite(x: &DMatrix<f64>) -> Result<()> {
    if x.iter().all(|v| v.is_finite()) {
        return Ok(());
    }
    for i in 0..x.nrows() {
        for j in 0..x.ncols() {
            let v = x[(i, j)];
            if !v.is_finite() {
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

/// Checks that the data can be fitted at all: at least two samples, at least one feature,
/// every value finite.
pub fn check_fit_data(x: &DMatrix<f64>) -> Result<()> {
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(GmmError::InvalidData(format!(
            "the data are empty ({} rows × {} columns); give at least two samples with at least one feature",
            x.nrows(),
            x.ncols()
        )));
    }
    if x.nrows() < 2 {
        return Err(GmmError::InvalidData(
            "only one sample: a mixture needs at least two samples to estimate a covariance".into(),
        ));
    }
    check_finite(x)
}
