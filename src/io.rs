//! Data and model files: `.npy`, `.csv`, image directories in; `.npy`/`.csv` out; models as
//! `.npz` with scikit-learn's attribute names.
//!
//! (Interface fixed first so that every command can be written against it; bodies follow.)

use std::path::Path;

use nalgebra::DMatrix;

use crate::error::{GmmError, Result};
use crate::model::GaussianMixture;

/// Whether non-finite values are accepted when reading data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Any NaN or ±inf is an error naming its file, row and column.
    Reject,
    /// NaN entries (empty CSV fields, `nan`, `NA`) are kept as NaN (for imputation and
    /// EM with missing values); ±inf is still an error.
    AllowNan,
}

/// Reads a data matrix (N × D, one sample per row) from `.npy`, `.csv`/`.txt`, or a directory
/// of grayscale images, by extension.
pub fn read_matrix(path: &Path, missing: Missing) -> Result<DMatrix<f64>> {
    let _ = missing;
    Err(GmmError::file(path, "reading data is not implemented yet"))
}

/// Writes a matrix as `.npy` (f64) or `.csv` by extension, atomically.
pub fn write_matrix(path: &Path, m: &DMatrix<f64>) -> Result<()> {
    let _ = m;
    Err(GmmError::file(path, "writing data is not implemented yet"))
}

/// Saves a model as `.npz` (scikit-learn attribute names), atomically.
pub fn save_model(path: &Path, model: &GaussianMixture) -> Result<()> {
    let _ = model;
    Err(GmmError::file(path, "saving models is not implemented yet"))
}

/// Loads a model written by [`save_model`] or from Python in the same layout.
pub fn load_model(path: &Path) -> Result<GaussianMixture> {
    Err(GmmError::file(
        path,
        "loading models is not implemented yet",
    ))
}
