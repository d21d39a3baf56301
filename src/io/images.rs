//! A directory of images as a data matrix: one row per image (sorted by file name), pixels
//! row-major, grayscale values in [0, 1].

use std::path::Path;

use nalgebra::DMatrix;

use crate::error::{GmmError, Result};

/// Reads every visible file of `dir` as an image; all must have the same size.
pub fn read_image_dir(dir: &Path) -> Result<DMatrix<f64>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| GmmError::file(dir, format!("cannot list the directory: {e}")))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(GmmError::file(
            dir,
            "the directory holds no image files; give a directory of same-sized grayscale images",
        ));
    }
    let mut size = None;
    let mut values = Vec::new();
    for f in &files {
        let img = image::open(f).map_err(|e| {
            GmmError::file(
                f,
                format!("cannot read as an image ({e}); remove it from the directory"),
            )
        })?;
        let dims = (img.width(), img.height());
        let (w0, h0) = *size.get_or_insert(dims);
        if dims != (w0, h0) {
            return Err(GmmError::file(
                f,
                format!(
                    "is {}×{} but {} is {w0}×{h0}; all images must have the same size",
                    dims.0,
                    dims.1,
                    files[0].display()
                ),
            ));
        }
        let gray = img.to_luma16();
        values.extend(gray.pixels().map(|p| p.0[0] as f64 / 65535.0));
    }
    let (w, h) = size.expect("at least one image");
    Ok(DMatrix::from_row_slice(
        files.len(),
        (w * h) as usize,
        &values,
    ))
}
