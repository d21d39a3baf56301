//! Data and model files.
//!
//! - Data in ([`read_matrix`]): `.npy` (f32 or f64, 1-D or 2-D, C or Fortran order, either
//!   byte order), `.csv`/`.tsv`/`.txt` (delimiter detected, optional header, `#` comments), or a
//!   directory of same-sized images (grayscale; one flattened row per image in sorted file
//!   order, values in [0, 1]).
//! - Data out ([`write_matrix`], [`write_labels`]): `.npy` or `.csv` by extension, atomically.
//! - Models ([`save_model`], [`load_model`]; in memory [`model_to_bytes`],
//!   [`model_from_bytes`]): `.npz` with scikit-learn's attribute names.
//!
//! Every error names the file and, where there is one, the row and column, and says what to do.

mod delimited;
#[cfg(feature = "cli")]
mod images;
mod model_file;
mod npy;
mod npy_rows;
mod row_sources;
mod variational_file;

use std::path::Path;

use nalgebra::DMatrix;

use crate::error::{GmmError, Result};
use crate::output::{extension, write_atomic};

pub use delimited::CsvRows;
pub use model_file::{load_model, model_from_bytes, model_to_bytes, parse_model, save_model};
pub use npy_rows::NpyRows;
pub use row_sources::{ConcatRows, RowRange};

/// Parsers of in-memory file contents (for embedded data and the fuzz targets); `name` only
/// labels errors.
pub mod parse {
    pub use crate::io::delimited::parse_delimited as delimited;
    pub use crate::io::model_file::parse_model as model;

    /// Decodes a `.npy` byte stream into a data matrix.
    pub fn npy(
        name: &std::path::Path,
        bytes: &[u8],
    ) -> crate::error::Result<nalgebra::DMatrix<f64>> {
        crate::io::npy::matrix_from_bytes(name, bytes)
    }
}

/// Whether non-finite values are accepted when reading data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Any NaN or ±inf is an error naming its file, row and column.
    Reject,
    /// NaN entries (empty CSV fields, `nan`, `NA`) are kept as NaN (for imputation and
    /// EM with missing values); ±inf is still an error.
    AllowNan,
}

#[cfg(feature = "cli")]
fn read_image_dir(path: &Path) -> Result<DMatrix<f64>> {
    images::read_image_dir(path)
}

#[cfg(not(feature = "cli"))]
fn read_image_dir(path: &Path) -> Result<DMatrix<f64>> {
    Err(GmmError::file(
        path,
        "a directory: reading image directories needs gaussmix built with the `cli` feature; give a .npy or CSV file",
    ))
}

/// Reads a data matrix (N × D, one sample per row) from `.npy`, `.csv`/`.tsv`/`.txt`, or a
/// directory of grayscale images. An empty result is an error.
pub fn read_matrix(path: &Path, missing: Missing) -> Result<DMatrix<f64>> {
    let meta = std::fs::metadata(path).map_err(|e| {
        GmmError::file(
            path,
            match e.kind() {
                std::io::ErrorKind::NotFound => "file not found; check the path".to_string(),
                _ => format!("cannot read: {e}"),
            },
        )
    })?;
    let x = if meta.is_dir() {
        read_image_dir(path)?
    } else {
        match extension(path).as_str() {
            "npy" => npy::read_npy_matrix(path)?,
            "csv" | "tsv" | "txt" | "dat" => delimited::read_delimited(path)?,
            "npz" => {
                return Err(GmmError::file(
                    path,
                    "this is an .npz archive (a model?); data must be one .npy array, a CSV file or an image directory",
                ))
            }
            other => {
                return Err(GmmError::file(
                    path,
                    format!(
                        "unknown data format '.{other}'; give a .npy, .csv, .tsv or .txt file or a directory of images"
                    ),
                ))
            }
        }
    };
    check_not_empty(path, x.nrows(), x.ncols())?;
    check_values(path, &x, missing)?;
    Ok(x)
}

/// Reads a data matrix as columns (D × N, one sample per column): what [`read_matrix`] reads,
/// transposed. `.npy` files in C order (NumPy's default) are read without any copy beyond
/// decoding; the CPU engine works on this layout directly.
pub fn read_matrix_columns(path: &Path, missing: Missing) -> Result<DMatrix<f64>> {
    if extension(path) != "npy" || std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Ok(read_matrix(path, missing)?.transpose());
    }
    let xt = npy::read_npy_columns(path)?;
    check_not_empty(path, xt.ncols(), xt.nrows())?;
    let any_bad = {
        use rayon::prelude::*;
        xt.as_slice()
            .par_chunks(1 << 16)
            .any(|c| c.iter().any(|&v| is_bad(v, missing)))
    };
    if any_bad {
        // The first bad value in row order is the first in the columns' memory order.
        check_values(path, &xt.transpose(), missing)?;
    }
    Ok(xt)
}

/// A data matrix of `rows` × `cols` holds at least one value.
fn check_not_empty(path: &Path, rows: usize, cols: usize) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Err(GmmError::file(
            path,
            format!(
                "no data ({rows} rows × {cols} columns); the file must hold at least one sample"
            ),
        ));
    }
    Ok(())
}

/// ±inf always, and NaN unless `missing` allows it.
fn is_bad(v: f64, missing: Missing) -> bool {
    v.is_infinite() || (v.is_nan() && missing == Missing::Reject)
}

/// Rejects ±inf always and NaN unless `missing` allows it, naming row and column (0-based, as
/// NumPy indexes them).
fn check_values(path: &Path, x: &DMatrix<f64>, missing: Missing) -> Result<()> {
    let bad = |v: f64| is_bad(v, missing);
    if !x.iter().any(|&v| bad(v)) {
        return Ok(());
    }
    for i in 0..x.nrows() {
        for j in 0..x.ncols() {
            let v = x[(i, j)];
            if bad(v) {
                let remedy = if v.is_nan() {
                    "remove the row, or fill it with `gaussmix impute` first"
                } else {
                    "remove or replace it (infinite values cannot be modelled)"
                };
                return Err(GmmError::file(
                    path,
                    format!("non-finite value {v} at row {i}, column {j} (0-based): {remedy}"),
                ));
            }
        }
    }
    Ok(())
}

/// Writes a matrix as `.npy` (f64, C order) or `.csv` by extension, atomically.
pub fn write_matrix(path: &Path, m: &DMatrix<f64>) -> Result<()> {
    match extension(path).as_str() {
        "npy" => write_atomic(path, |w| {
            npy::write_f64(w, &[m.nrows(), m.ncols()], m.transpose().as_slice())
        }),
        "csv" => write_atomic(path, |w| delimited::write_csv(w, m)),
        other => Err(unknown_output(path, other)),
    }
}

/// Writes integer labels as a 1-D `.npy` (int64) or a one-column `.csv`, atomically.
pub fn write_labels(path: &Path, labels: &[usize]) -> Result<()> {
    match extension(path).as_str() {
        "npy" => write_atomic(path, |w| npy::write_i64(w, labels)),
        "csv" => write_atomic(path, |w| {
            for l in labels {
                writeln!(w, "{l}")?;
            }
            Ok(())
        }),
        other => Err(unknown_output(path, other)),
    }
}

/// Reads integer labels (one per sample) from `.npy` (integer or integral float) or a
/// one-column text file.
pub fn read_labels(path: &Path) -> Result<Vec<usize>> {
    let m = if extension(path) == "npy" {
        npy::read_npy_labels(path)?
    } else {
        read_matrix(path, Missing::Reject)?
    };
    if m.ncols() != 1 {
        return Err(GmmError::file(
            path,
            format!("labels must be one column, found {} columns", m.ncols()),
        ));
    }
    m.iter()
        .enumerate()
        .map(|(i, &v)| {
            if v >= 0.0 && v.fract() == 0.0 && v < 1e15 {
                Ok(v as usize)
            } else {
                Err(GmmError::file(
                    path,
                    format!("label {v} at row {i} is not a non-negative integer"),
                ))
            }
        })
        .collect()
}

fn unknown_output(path: &Path, ext: &str) -> GmmError {
    if ext.is_empty() {
        return GmmError::file(path, "the output has no extension; name it .npy or .csv");
    }
    GmmError::file(
        path,
        format!("cannot write '.{ext}' files; name the output .npy or .csv"),
    )
}

/// Checks, before any work is done, that `path` names a model file [`save_model`] can write:
/// a `.npz` file in an existing directory.
pub fn check_model_output(path: &Path) -> Result<()> {
    if extension(path) != "npz" {
        return Err(GmmError::file(
            path,
            "the model is saved as .npz; name the output MODEL.npz",
        ));
    }
    crate::output::check_output_path(path)
}

/// Checks, before any work is done, that `path` names an output [`write_matrix`] and
/// [`write_labels`] can write: a `.npy` or `.csv` file in an existing directory.
pub fn check_data_output(path: &Path) -> Result<()> {
    match extension(path).as_str() {
        "npy" | "csv" => crate::output::check_output_path(path),
        other => Err(unknown_output(path, other)),
    }
}
