//! Grayscale image grids: rows of a data matrix shown as pictures (faces, samples, means).

use std::path::Path;

use image::{GrayImage, ImageFormat, Luma};
use nalgebra::DMatrix;

use crate::error::{GmmError, Result};
use crate::output::write_atomic;

/// Parses an image shape written `HxW` (e.g. `64x64`).
pub fn parse_shape(s: &str) -> Result<(usize, usize)> {
    let bad = || {
        GmmError::param(
            "shape",
            s,
            "write the image shape as HEIGHTxWIDTH, e.g. 64x64",
        )
    };
    let (h, w) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let h: usize = h.trim().parse().map_err(|_| bad())?;
    let w: usize = w.trim().parse().map_err(|_| bad())?;
    if h == 0 || w == 0 {
        return Err(bad());
    }
    Ok((h, w))
}

/// Lays out the rows of `images` (each `height · width` values, row-major pixels) in a grid of
/// `columns` columns with a 2-pixel gap. Values are clamped to [0, 1] unless `normalize`, which
/// stretches each image's own range to [0, 1] (for means or components with another scale).
pub fn grid(
    images: &DMatrix<f64>,
    height: usize,
    width: usize,
    columns: usize,
    normalize: bool,
) -> Result<GrayImage> {
    if images.ncols() != height * width {
        return Err(GmmError::InvalidData(format!(
            "rows have {} values, which is not {height}×{width} = {}; give the right shape",
            images.ncols(),
            height * width
        )));
    }
    let n = images.nrows();
    let columns = columns.clamp(1, n.max(1));
    let rows = n.div_ceil(columns).max(1);
    let gap = 2;
    let mut img = GrayImage::from_pixel(
        (columns * (width + gap) + gap) as u32,
        (rows * (height + gap) + gap) as u32,
        Luma([255]),
    );
    for i in 0..n {
        let row = images.row(i);
        let (lo, hi) = if normalize {
            (row.min(), row.max())
        } else {
            (0.0, 1.0)
        };
        let span = if hi > lo { hi - lo } else { 1.0 };
        let (gr, gc) = (i / columns, i % columns);
        for y in 0..height {
            for x in 0..width {
                let v = ((row[y * width + x] - lo) / span).clamp(0.0, 1.0);
                let px = (gap + gc * (width + gap) + x) as u32;
                let py = (gap + gr * (height + gap) + y) as u32;
                img.put_pixel(px, py, Luma([(v * 255.0).round() as u8]));
            }
        }
    }
    Ok(img)
}

/// Writes a PNG atomically.
pub fn save_png(img: &GrayImage, path: &Path) -> Result<()> {
    let mut bytes = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut bytes), ImageFormat::Png)
        .map_err(|e| GmmError::file(path, format!("cannot encode PNG: {e}")))?;
    write_atomic(path, |w| w.write_all(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_places_pixels_and_checks_shape() {
        let imgs = DMatrix::from_fn(3, 4, |i, j| if j == 0 { 1.0 } else { i as f64 * 0.1 });
        let g = grid(&imgs, 2, 2, 2, false).unwrap();
        assert_eq!(g.dimensions(), (2 * 4 + 2, 2 * 4 + 2));
        assert_eq!(g.get_pixel(2, 2)[0], 255);
        assert_eq!(g.get_pixel(3, 2)[0], 0);
        assert!(grid(&imgs, 3, 2, 2, false).is_err());
        assert_eq!(parse_shape("64x32").unwrap(), (64, 32));
        assert!(parse_shape("64").is_err());
    }
}
