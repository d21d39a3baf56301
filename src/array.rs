//! A plain n-dimensional f64 array (row-major, C order): the interchange form between the
//! model structures and `.npy`/`.npz` files.

/// An n-dimensional array of f64 in C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub struct NdArray {
    /// The shape, outermost first.
    pub shape: Vec<usize>,
    /// The values, last index fastest.
    pub data: Vec<f64>,
}

impl NdArray {
    /// An array of the given shape; panics if `data` has the wrong length (a programming error).
    pub fn new(shape: Vec<usize>, data: Vec<f64>) -> Self {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "NdArray shape and data disagree"
        );
        NdArray { shape, data }
    }

    /// A 0-dimensional array holding one value.
    pub fn scalar(v: f64) -> Self {
        NdArray {
            shape: vec![],
            data: vec![v],
        }
    }

    /// A 2-D array from a nalgebra matrix.
    pub fn from_matrix(m: &nalgebra::DMatrix<f64>) -> Self {
        NdArray {
            shape: vec![m.nrows(), m.ncols()],
            data: m.transpose().as_slice().to_vec(),
        }
    }

    /// The 2-D array as a nalgebra matrix, or `None` if it is not 2-D.
    pub fn to_matrix(&self) -> Option<nalgebra::DMatrix<f64>> {
        match self.shape.as_slice() {
            [r, c] => Some(nalgebra::DMatrix::from_row_slice(*r, *c, &self.data)),
            _ => None,
        }
    }
}
