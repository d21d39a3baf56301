//! Parallel f64 products of the low-rank path over fixed blocks of output columns (the block
//! layout depends on the sizes only, so results do not depend on the thread count).

use nalgebra::{DMatrix, DMatrixView};
use rayon::prelude::*;

use crate::linalg::{gemm, Strided};

/// Output columns per parallel GEMM task (fixed, so results do not depend on the thread count).
const GEMM_COLUMNS: usize = 64;

/// `aᵀ b` with `a` D × N and `b` D × m, parallel over fixed blocks of output columns.
pub(crate) fn transpose_times(a: &DMatrix<f64>, b: DMatrixView<'_, f64>) -> DMatrix<f64> {
    cpu_transpose_times(a.as_view(), b)
}

/// [`transpose_times`] for views.
pub(crate) fn cpu_transpose_times(
    a: DMatrixView<'_, f64>,
    b: DMatrixView<'_, f64>,
) -> DMatrix<f64> {
    assert_eq!(a.nrows(), b.nrows(), "inner dimensions differ");
    let (n, m) = (a.ncols(), b.ncols());
    let mut out = DMatrix::<f64>::zeros(n, m);
    if n == 0 {
        return out;
    }
    let block = |start: usize, chunk: &mut [f64]| {
        let cols = chunk.len() / n;
        let bv = b.columns(start, cols);
        let mut target = nalgebra::DMatrixViewMut::from_slice(chunk, n, cols);
        gemm(
            1.0,
            Strided::view(&a).t(),
            Strided::view(&bv),
            0.0,
            &mut target,
        );
    };
    for_column_blocks(out.as_mut_slice(), n, block);
    out
}

/// `a b` with `a` D × N and `b` N × m, parallel over fixed blocks of output columns.
pub(crate) fn times(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    assert_eq!(a.ncols(), b.nrows(), "inner dimensions differ");
    let (d, m) = (a.nrows(), b.ncols());
    let mut out = DMatrix::<f64>::zeros(d, m);
    if d == 0 {
        return out;
    }
    let block = |start: usize, chunk: &mut [f64]| {
        let cols = chunk.len() / d;
        let bv = b.columns(start, cols);
        let mut target = nalgebra::DMatrixViewMut::from_slice(chunk, d, cols);
        gemm(1.0, Strided::of(a), Strided::view(&bv), 0.0, &mut target);
    };
    for_column_blocks(out.as_mut_slice(), d, block);
    out
}

/// Runs `block(first_column, columns)` over fixed blocks of `GEMM_COLUMNS` columns of a
/// column-major output with `rows` rows: in parallel when there are several blocks, inline
/// when there is one (a single draw or a small batch pays no thread hand-off).
fn for_column_blocks(out: &mut [f64], rows: usize, block: impl Fn(usize, &mut [f64]) + Sync) {
    if out.len() <= rows * GEMM_COLUMNS {
        block(0, out);
        return;
    }
    out.par_chunks_mut(rows * GEMM_COLUMNS)
        .enumerate()
        .for_each(|(b, chunk)| block(b * GEMM_COLUMNS, chunk));
}
