//! Large zeroed buffers (the data read from a file, the K × N responsibilities) that the
//! operating system may back with transparent huge pages: one page fault per 2 MiB instead of
//! one per 4 KiB when they are first written. Only a hint: where the system does not offer
//! huge pages (or is not Linux), the buffers are ordinary ones, with the same contents.

use nalgebra::DMatrix;

/// Buffers from this many bytes get the hint (below it a huge page would not fit inside).
const HINT_FROM_BYTES: usize = 4 << 20;

/// `len` zeros, hinted for huge pages when large.
pub fn zeros(len: usize) -> Vec<f64> {
    let v = vec![0.0f64; len];
    advise_huge_pages(&v);
    v
}

/// A `rows × cols` matrix of zeros, hinted for huge pages when large.
pub fn zeros_matrix(rows: usize, cols: usize) -> DMatrix<f64> {
    DMatrix::from_vec(rows, cols, zeros(rows * cols))
}

/// Asks the kernel to back the whole 2 MiB pages inside `buf` with huge pages. A fresh large
/// allocation is not yet touched, so its first writes then fault in huge pages.
#[cfg(target_os = "linux")]
fn advise_huge_pages(buf: &[f64]) {
    const HUGE: usize = 2 << 20;
    let bytes = std::mem::size_of_val(buf);
    if bytes < HINT_FROM_BYTES {
        return;
    }
    let start = buf.as_ptr() as usize;
    let first = start.div_ceil(HUGE) * HUGE;
    let end = (start + bytes) / HUGE * HUGE;
    if end > first {
        // SAFETY: [first, end) lies inside `buf`'s allocation; MADV_HUGEPAGE changes how pages
        // are backed, never their contents. A failure (no THP support) is harmless.
        unsafe {
            libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_buf: &[f64]) {
    let _ = HINT_FROM_BYTES;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hinted buffers are ordinary zeros of the asked size, large or small.
    #[test]
    fn zeros_of_every_size() {
        for len in [0, 1, 1000, (HINT_FROM_BYTES / 8) * 3 + 5] {
            let v = zeros(len);
            assert_eq!(v.len(), len);
            assert!(v.iter().all(|&x| x == 0.0));
        }
        let m = zeros_matrix(3, 700_000);
        assert_eq!(m.shape(), (3, 700_000));
        assert_eq!(m.iter().filter(|&&x| x != 0.0).count(), 0);
    }
}
