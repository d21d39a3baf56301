//! The training samples of a low-rank model: centred, stored one sample per column, with their
//! Gram matrix. Shared (`Arc`) by the backend and every model fitted on them, so that EM
//! iterations never copy the N × D data.

use nalgebra::{DMatrix, DMatrixView, DVector};

use crate::error::Result;
use crate::lowrank::gemm::transpose_times;
use crate::lowrank::products::Products;

/// Centred training samples `X_c` (as D × N columns), their centre, and `G = X_c X_cᵀ`.
#[derive(Debug, PartialEq)]
pub struct TrainingSet {
    samples: DMatrix<f64>,
    centre: DVector<f64>,
    gram: DMatrix<f64>,
    /// Whether every sample and centre value is finite (checked once: the set is immutable).
    finite: bool,
}

impl TrainingSet {
    /// Centres `x` (N × D, one sample per row) on its mean and computes the Gram matrix on
    /// the CPU.
    pub fn new(x: &DMatrix<f64>) -> Self {
        Self::new_with(x, &Products::Cpu).expect("CPU products do not fail")
    }

    /// Centres `x` (N × D, one sample per row) on its mean and computes the Gram matrix with
    /// `products` (the CPU, or the GPU's exact products).
    pub fn new_with(x: &DMatrix<f64>, products: &Products) -> Result<Self> {
        let n = x.nrows();
        let centre = DVector::from_iterator(
            x.ncols(),
            x.column_iter().map(|c| c.sum() / n.max(1) as f64),
        );
        let mut samples = x.transpose();
        for mut col in samples.column_iter_mut() {
            col -= &centre;
        }
        let gram = products.gram(samples.as_view())?;
        Ok(Self::with_gram(samples, centre, gram))
    }

    /// From samples already centred (D × N, one per column) and their centre (D).
    pub fn from_centred(samples: DMatrix<f64>, centre: DVector<f64>) -> Self {
        assert_eq!(samples.nrows(), centre.len(), "centre length");
        let gram = Products::Cpu
            .gram(samples.as_view())
            .expect("CPU products do not fail");
        Self::with_gram(samples, centre, gram)
    }

    fn with_gram(samples: DMatrix<f64>, centre: DVector<f64>, gram: DMatrix<f64>) -> Self {
        let finite = samples.iter().all(|v| v.is_finite()) && centre.iter().all(|v| v.is_finite());
        TrainingSet {
            samples,
            centre,
            gram,
            finite,
        }
    }

    /// Whether `other` holds the same samples and centre (its Gram matrix may come from
    /// another engine and differ in the last bits).
    pub fn same_samples(&self, other: &TrainingSet) -> bool {
        self.samples == other.samples && self.centre == other.centre
    }

    /// Whether every stored value is finite.
    pub fn is_finite(&self) -> bool {
        self.finite
    }

    /// Number of samples N.
    pub fn n_samples(&self) -> usize {
        self.samples.ncols()
    }

    /// Number of features D.
    pub fn n_features(&self) -> usize {
        self.samples.nrows()
    }

    /// The centred samples, one per column (D × N).
    pub fn samples(&self) -> &DMatrix<f64> {
        &self.samples
    }

    /// The centre that was subtracted (the mean of the training samples).
    pub fn centre(&self) -> &DVector<f64> {
        &self.centre
    }

    /// `G = X_c X_cᵀ` (N × N).
    pub fn gram(&self) -> &DMatrix<f64> {
        &self.gram
    }

    /// Coordinates of the samples in N dimensions with the same pairwise distances as the
    /// data (an isometric embedding of their affine hull), one sample per column (N × N), or
    /// `None` if the samples are affinely dependent (e.g. duplicates).
    ///
    /// Distance-based initialisations (k-means, k-means++, seeds drawn from the data) depend
    /// only on distances between samples and means of samples, so they give the same result
    /// on these coordinates at N/D of the cost. They come from the Cholesky factor `L` of
    /// `G + α 11ᵀ` (α > 0 fills the direction that centring removed without changing any
    /// distance: `‖l_i − l_j‖² = G_ii + G_jj − 2 G_ij = ‖x_i − x_j‖²`).
    pub fn isometric_coordinates(&self) -> Option<DMatrix<f64>> {
        let n = self.n_samples();
        let alpha = self.gram.trace() / n as f64;
        if !(alpha > 0.0 && alpha.is_finite()) {
            return None;
        }
        let shifted = self.gram.add_scalar(alpha);
        let l = nalgebra::linalg::Cholesky::new(shifted)?.unpack();
        if l.diagonal().iter().any(|v| !(*v > 0.0 && v.is_finite())) {
            return None;
        }
        Some(l.transpose())
    }

    /// `X_c v` for the columns `v` of `vs` (D × m): N × m. O(N D m).
    pub fn project(&self, vs: DMatrixView<'_, f64>) -> DMatrix<f64> {
        transpose_times(&self.samples, vs)
    }

    /// [`TrainingSet::project`] with `products` (the CPU, or the GPU's exact products).
    pub fn project_with(
        &self,
        products: &Products,
        vs: DMatrixView<'_, f64>,
    ) -> Result<DMatrix<f64>> {
        products.transpose_times(self.samples.as_view(), vs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lowrank::gemm::times;

    #[test]
    fn centring_and_gram_match_their_definitions() {
        let x = DMatrix::from_fn(7, 130, |i, j| {
            ((i * 31 + j * 17) % 23) as f64 * 0.3 + j as f64
        });
        let t = TrainingSet::new(&x);
        let mean = x.row_mean();
        let xc = DMatrix::from_fn(7, 130, |i, j| x[(i, j)] - mean[j]);
        assert!((t.samples() - xc.transpose()).amax() < 1e-12);
        let g = &xc * xc.transpose();
        assert!((t.gram() - &g).amax() < 1e-9 * g.amax());
        assert_eq!(t.gram(), &t.gram().transpose());
        let v = DMatrix::from_fn(130, 3, |i, j| (i + j) as f64 * 0.01);
        assert!((t.project(v.as_view()) - &xc * &v).amax() < 1e-9);
        let z = DMatrix::from_fn(7, 70, |i, j| (i as f64 - j as f64) * 0.1);
        assert!((times(t.samples(), &z) - xc.transpose() * &z).amax() < 1e-9);
    }

    #[test]
    fn isometric_coordinates_keep_every_distance() {
        let x = DMatrix::from_fn(9, 40, |i, j| {
            ((i * 13 + j * 7) % 17) as f64 * 0.2 + (i * j) as f64 * 0.01
        });
        let t = TrainingSet::new(&x);
        let y = t.isometric_coordinates().unwrap();
        assert_eq!(y.shape(), (9, 9));
        for i in 0..9 {
            for j in 0..9 {
                let dx = (x.row(i) - x.row(j)).norm_squared();
                let dy = (y.column(i) - y.column(j)).norm_squared();
                assert!(
                    (dx - dy).abs() < 1e-10 * (1.0 + dx),
                    "{i},{j}: {dx} vs {dy}"
                );
            }
        }
        let dup = DMatrix::from_fn(4, 10, |i, j| if i < 2 { j as f64 } else { (j * i) as f64 });
        assert!(
            TrainingSet::new(&dup).isometric_coordinates().is_none(),
            "duplicate rows"
        );
    }
}
