//! Small dense kernels on column-major f64 blocks: a strided GEMM (through `matrixmultiply`,
//! the kernel nalgebra itself uses) and a stable log-sum-exp.

use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut, DVector};

/// `ln(2π)`.
pub(crate) const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// A read-only strided matrix: element (i, j) is at `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub struct Strided<'a> {
    data: &'a [f64],
    rows: usize,
    cols: usize,
    rs: isize,
    cs: isize,
}

impl<'a> Strided<'a> {
    /// A contiguous column-major slice seen as `rows × cols`.
    pub fn col_major(data: &'a [f64], rows: usize, cols: usize) -> Self {
        assert!(data.len() >= rows * cols);
        Strided {
            data,
            rows,
            cols,
            rs: 1,
            cs: rows as isize,
        }
    }

    /// A nalgebra view (any strides).
    pub fn view(m: &'a DMatrixView<'a, f64>) -> Self {
        let (rs, cs) = m.strides();
        let len = if m.nrows() == 0 || m.ncols() == 0 {
            0
        } else {
            (m.nrows() - 1) * rs + (m.ncols() - 1) * cs + 1
        };
        // SAFETY: the view's elements lie within `len` entries of its first element.
        let data = unsafe { std::slice::from_raw_parts(m.as_ptr(), len) };
        Strided {
            data,
            rows: m.nrows(),
            cols: m.ncols(),
            rs: rs as isize,
            cs: cs as isize,
        }
    }

    /// A whole matrix.
    pub fn of(m: &'a DMatrix<f64>) -> Self {
        Strided::col_major(m.as_slice(), m.nrows(), m.ncols())
    }

    /// The transpose (no copy).
    pub fn t(self) -> Self {
        Strided {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

/// `c = alpha · a · b + beta · c` with `c` a contiguous column-major matrix.
pub fn gemm(
    alpha: f64,
    a: Strided<'_>,
    b: Strided<'_>,
    beta: f64,
    c: &mut DMatrixViewMut<'_, f64>,
) {
    assert_eq!(a.cols, b.rows, "gemm: inner dimensions differ");
    assert_eq!(
        (a.rows, b.cols),
        (c.nrows(), c.ncols()),
        "gemm: output shape"
    );
    if a.rows == 0 || b.cols == 0 {
        return;
    }
    if a.cols == 0 {
        c.scale_mut(beta);
        return;
    }
    let (crs, ccs) = c.strides();
    // SAFETY: shapes and strides were checked above; matrixmultiply reads `a` and `b` within
    // their strided extents and writes only the elements of `c`.
    unsafe {
        matrixmultiply::dgemm(
            a.rows,
            a.cols,
            b.cols,
            alpha,
            a.data.as_ptr(),
            a.rs,
            a.cs,
            b.data.as_ptr(),
            b.rs,
            b.cs,
            beta,
            c.as_mut_ptr(),
            crs as isize,
            ccs as isize,
        );
    }
}

/// The mean of the columns of `xt` (D × N): each group of columns summed (in parallel), then
/// the groups in order, so the result depends on the groups, never on the thread count.
pub fn mean_of_columns(xt: &DMatrix<f64>, groups: &[std::ops::Range<usize>]) -> DVector<f64> {
    use rayon::prelude::*;
    let (d, n) = xt.shape();
    let partial: Vec<DVector<f64>> = groups
        .par_iter()
        .map(|r| {
            let mut s = DVector::<f64>::zeros(d);
            for i in r.clone() {
                s += xt.column(i);
            }
            s
        })
        .collect();
    let mut mean = DVector::<f64>::zeros(d);
    for p in partial {
        mean += p;
    }
    mean / n.max(1) as f64
}

/// Defines `$name`, which runs `$body` (an `#[inline(always)]` function of the same
/// arguments) compiled for AVX2 where the CPU has it (x86-64), otherwise as it is: for the
/// element-wise loops (distances, packing) that the baseline x86-64 target compiles to 2-wide
/// SSE2. (A target-feature function that takes a closure does not reliably get it inlined,
/// so each loop gets its own pair of functions.) The loops keep their sums in explicit lanes
/// and Rust never fuses a multiply and an add by itself, so the results are the same bit for
/// bit; AVX2 only widens the registers.
macro_rules! with_avx2 {
    ($name:ident, $avx2:ident, $body:ident, ($($arg:ident: $ty:ty),*)) => {
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2, checked just above.
                unsafe { $avx2($($arg),*) };
                return;
            }
            $body($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        unsafe fn $avx2($($arg: $ty),*) {
            $body($($arg),*)
        }
    };
}
pub(crate) use with_avx2;

/// Whether this CPU runs the hand-written AVX2 + FMA kernels (`density::fused`,
/// `backend::moments::fused`); elsewhere their GEMM twins serve.
pub(crate) fn avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `log Σ exp(v)` computed stably; `-inf` for an empty or all `-inf` input.
pub fn log_sum_exp(v: &[f64]) -> f64 {
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    max + v.iter().map(|x| (x - max).exp()).sum::<f64>().ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemm_matches_nalgebra_with_transposes() {
        let a = DMatrix::from_fn(5, 3, |i, j| (i * 3 + j) as f64 * 0.1 - 0.4);
        let b = DMatrix::from_fn(5, 4, |i, j| ((i + 2 * j) % 7) as f64 - 3.0);
        let mut c = DMatrix::from_element(3, 4, 1.0);
        gemm(
            2.0,
            Strided::of(&a).t(),
            Strided::of(&b),
            0.5,
            &mut c.as_view_mut(),
        );
        let expect = a.transpose() * &b * 2.0 + DMatrix::from_element(3, 4, 0.5);
        assert!((c - expect).amax() < 1e-12);
    }

    #[test]
    fn log_sum_exp_is_stable() {
        assert!((log_sum_exp(&[1000.0, 1000.0]) - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert_eq!(
            log_sum_exp(&[f64::NEG_INFINITY, f64::NEG_INFINITY]),
            f64::NEG_INFINITY
        );
        assert!((log_sum_exp(&[-1e4, 0.0]) - 0.0).abs() < 1e-12);
    }
}
