//! Exact products `Aᵀ B` of f64 matrices on the GPU, for the low-rank path's Gram matrix and
//! projections.
//!
//! The low-rank algebra subtracts nearly equal numbers: a training sample's Mahalanobis
//! distance is `(‖v‖² − ‖L⁻¹ Aᵀ v‖²) / λ` with λ = 10⁻⁶ and `‖v‖²` in the thousands for the
//! faces, so the products `X_c X_cᵀ` and `X_c x` need f64 accuracy (~10⁻¹⁶ relative); f32's
//! 10⁻⁷ would leave nothing of the distance. GPUs rarely offer f64, so the products are done
//! without rounding, in integers (an Ozaki-style error-free transformation):
//!
//! 1. the host scales each column of A and B by a power of two `2^e` into (−1, 1) and rounds it
//!    to 54 bits, written as 6 signed digits of 9 bits (`DIGITS × DIGIT_BITS`);
//! 2. the kernel (`shaders/exact_products.wgsl`) sums the digit products of every level
//!    `u = s + t < LEVELS` exactly (i32 per 1024 features, then 64 bits);
//! 3. the host combines the levels: `c_ij = 2^(e_i + e_j) Σ_u level_u 2^(−9 (u + 2))`.
//!
//! The only approximations are the 54-bit rounding of the inputs and the levels `u ≥ 6` left
//! out; together they stay below `6 · D · 2⁻⁵⁴ · 2^(e_i + e_j) ≤ 24 · D · 2⁻⁵⁴ · max|a_i| max|b_j|`
//! per element (`max|a_i|` the largest magnitude in column i), and the levels are combined in
//! i128 with one final rounding. The error is relative to each column's largest entry, not to
//! `Σ|a_l b_l|` as an f64 product's: entries far below their column's maximum keep fewer bits.
//! For the low-rank path a column is one sample (its D values, of one scale), which this
//! suits. The result does not depend on the GPU: [`host_products`] does the same integer
//! arithmetic on the CPU and the tests require both to agree bit for bit.

use nalgebra::{DMatrix, DMatrixView};

use crate::error::{GmmError, Result};
use crate::gpu::context::GpuContext;

/// Bits per digit.
pub const DIGIT_BITS: u32 = 9;
/// Digits per value (54 bits).
pub const DIGITS: usize = 6;
/// Digit levels `s + t` summed.
pub const LEVELS: usize = 6;
/// u32 words per value on the device (two i16 digits each).
const WORDS: usize = DIGITS / 2;
/// Output edge of one workgroup's tile (16 × 16 threads, 2 × 2 outputs each).
const TILE: usize = 32;
/// Columns of A or B per dispatch at most (bounds the grid).
const MAX_BLOCK: usize = 4096;
/// Bytes of one dispatch's level buffer at most.
const MAX_LEVEL_BYTES: usize = 256 << 20;
/// Output elements × features of one dispatch at most (each costs 21 integer multiply-adds).
const MAX_DISPATCH: f64 = (1u64 << 31) as f64;

/// The uniform block of `exact_products.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct ExactDims {
    n_a: u32,
    n_b: u32,
    d: u32,
    /// 1: skip the tiles below the diagonal (a block of a symmetric product).
    upper_only: u32,
}

/// The columns of a matrix as signed digits, with their power-of-two scales.
#[derive(Debug, Clone, PartialEq)]
pub struct Sliced {
    /// Rows (features) D.
    pub rows: usize,
    /// `2^exponents[j]` bounds column j's magnitudes.
    pub exponents: Vec<i32>,
    /// Digits, `[column][row][digit]`, most significant first.
    pub digits: Vec<[i16; DIGITS]>,
}

/// `x · 2^e` without intermediate overflow or underflow (exact unless the result leaves the
/// normal range).
fn scale_pow2(mut x: f64, mut e: i32) -> f64 {
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e)
}

/// The smallest `e` with `max_abs < 2^e` (0 for a zero column).
fn column_exponent(max_abs: f64) -> i32 {
    if max_abs == 0.0 || !max_abs.is_finite() {
        return 0;
    }
    let mut e = max_abs.log2().floor() as i32 + 1;
    while scale_pow2(max_abs, -e) >= 1.0 {
        e += 1;
    }
    while e > -1074 && scale_pow2(max_abs, -(e - 1)) < 1.0 {
        e -= 1;
    }
    e
}

/// Writes every column of `a` (D × n) as digits: `a_lj ≈ 2^e_j Σ_s digit_s 2^(−9 (s + 1))`,
/// exact to 2⁻⁵⁴ of the column's largest magnitude. Non-finite values are an error.
pub fn slice_columns(a: DMatrixView<'_, f64>) -> Result<Sliced> {
    check_finite(a)?;
    let bits = DIGIT_BITS * DIGITS as u32;
    let mask = (1i64 << DIGIT_BITS) - 1;
    let mut exponents = Vec::with_capacity(a.ncols());
    let mut digits = Vec::with_capacity(a.len());
    for col in a.column_iter() {
        let e = column_exponent(col.amax());
        exponents.push(e);
        for &v in col.iter() {
            // |v 2^-e| < 1, so the integer has at most 54 bits and the top digit < 2^9.
            let int = scale_pow2(v, bits as i32 - e).round() as i64;
            let (sign, mag) = (int.signum(), int.abs());
            let mut d = [0i16; DIGITS];
            for (s, digit) in d.iter_mut().enumerate() {
                let shift = DIGIT_BITS * (DIGITS - 1 - s) as u32;
                *digit = (sign * ((mag >> shift) & mask)) as i16;
            }
            digits.push(d);
        }
    }
    Ok(Sliced {
        rows: a.nrows(),
        exponents,
        digits,
    })
}

impl Sliced {
    /// Number of columns.
    pub fn n_columns(&self) -> usize {
        self.exponents.len()
    }

    /// The device layout of columns `range`: `[word][column][row]`, word `p` holding digits
    /// `2p` (low half) and `2p + 1` (high half) as i16.
    fn device_words(&self, range: std::ops::Range<usize>) -> Vec<u32> {
        let n = range.len();
        let mut out = vec![0u32; WORDS * n * self.rows];
        for (c, col) in range.enumerate() {
            for r in 0..self.rows {
                let d = &self.digits[col * self.rows + r];
                for p in 0..WORDS {
                    let low = d[2 * p] as u16 as u32;
                    let high = d[2 * p + 1] as u16 as u32;
                    out[(p * n + c) * self.rows + r] = low | (high << 16);
                }
            }
        }
        out
    }
}

/// `c_ij` from its exact levels and the two column exponents: the levels are summed exactly
/// (`Σ_u level_u 2^(9 (5 − u))`, at most about `D · 2⁶⁶`, in i128) and rounded once.
fn combine(levels: &[i64], e_a: i32, e_b: i32) -> f64 {
    let mut total: i128 = 0;
    for (u, &level) in levels.iter().enumerate() {
        total += (level as i128) << (DIGIT_BITS as usize * (LEVELS - 1 - u));
    }
    // Level u weighs 2^(−9 (u + 2)) = 2^(9 (5 − u)) · 2^(−63).
    let shift = DIGIT_BITS as i32 * (LEVELS as i32 + 1);
    scale_pow2(total as f64, e_a + e_b - shift)
}

/// The kernel's arithmetic on the CPU: `Aᵀ B` (n × m) from the digits, in i64. The reference
/// the GPU must match bit for bit.
pub fn host_products(a: &Sliced, b: &Sliced) -> DMatrix<f64> {
    assert_eq!(a.rows, b.rows, "inner dimensions differ");
    let d = a.rows;
    DMatrix::from_fn(a.n_columns(), b.n_columns(), |i, j| {
        let mut levels = [0i64; LEVELS];
        for l in 0..d {
            let (x, y) = (&a.digits[i * d + l], &b.digits[j * d + l]);
            for (s, &xs) in x.iter().enumerate() {
                for (t, &yt) in y.iter().enumerate().take(LEVELS - s) {
                    levels[s + t] += xs as i64 * yt as i64;
                }
            }
        }
        combine(&levels, a.exponents[i], b.exponents[j])
    })
}

/// `Aᵀ B` for `a` D × n and `b` D × m, on the GPU of `ctx`, within the error bound of the
/// module documentation.
pub fn transpose_times(
    ctx: &GpuContext,
    a: DMatrixView<'_, f64>,
    b: DMatrixView<'_, f64>,
) -> Result<DMatrix<f64>> {
    transpose_times_in_blocks(ctx, a, b, MAX_BLOCK)
}

/// [`transpose_times`] with at most `max_block` columns of A and of B per dispatch (the
/// device's binding limits may make blocks smaller still). The result does not depend on the
/// blocks.
pub fn transpose_times_in_blocks(
    ctx: &GpuContext,
    a: DMatrixView<'_, f64>,
    b: DMatrixView<'_, f64>,
    max_block: usize,
) -> Result<DMatrix<f64>> {
    if a.nrows() != b.nrows() {
        return Err(GmmError::DimensionMismatch {
            expected: a.nrows(),
            found: b.nrows(),
        });
    }
    products(
        ctx,
        &slice_columns(a)?,
        &slice_columns(b)?,
        max_block,
        false,
    )
}

/// `Aᵀ A` (exactly symmetric) on the GPU; see [`transpose_times`]. Only the upper half is
/// computed.
pub fn gram(ctx: &GpuContext, a: DMatrixView<'_, f64>) -> Result<DMatrix<f64>> {
    gram_in_blocks(ctx, a, MAX_BLOCK)
}

/// [`gram`] with at most `max_block` columns per dispatch; the result does not depend on it.
pub fn gram_in_blocks(
    ctx: &GpuContext,
    a: DMatrixView<'_, f64>,
    max_block: usize,
) -> Result<DMatrix<f64>> {
    let s = slice_columns(a)?;
    products(ctx, &s, &s, max_block, true)
}

fn check_finite(a: DMatrixView<'_, f64>) -> Result<()> {
    match a.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        None => Ok(()),
        Some((p, v)) => Err(GmmError::InvalidData(format!(
            "an exact GPU product was given the non-finite value {v} (row {}, column {} of a {} × {} operand); check the data for NaN or infinite entries",
            p % a.nrows().max(1),
            p / a.nrows().max(1),
            a.nrows(),
            a.ncols()
        ))),
    }
}

/// Columns per block: one block's digits must fit a binding, one block pair's levels (and
/// their read-back copy) at most `MAX_LEVEL_BYTES`, and one dispatch at most `MAX_DISPATCH`
/// digit-vector products (so that no single dispatch runs for long enough to trip a driver's
/// watchdog).
fn block_columns(ctx: &GpuContext, d: usize) -> Result<usize> {
    let limits = ctx.limits();
    let bind = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size) as usize;
    let per_column = WORDS * d.max(1) * 4;
    let by_digits = bind / per_column;
    let by_levels = ((bind.min(MAX_LEVEL_BYTES) / (LEVELS * 2 * 4)) as f64).sqrt() as usize;
    let by_work = ((MAX_DISPATCH / d.max(1) as f64).sqrt() as usize).max(TILE);
    let cols = by_digits.min(by_levels).min(by_work).min(MAX_BLOCK);
    if cols == 0 {
        return Err(GmmError::DeviceLimit(format!(
            "one sample of {d} features needs {per_column} bytes, more than the device's largest storage binding ({bind} bytes); use device=cpu"
        )));
    }
    Ok(cols)
}

/// `aᵀ b` from the digits, block by block. With `symmetric` (a is b), only the blocks and
/// tiles on or above the diagonal are computed and the rest mirrored.
fn products(
    ctx: &GpuContext,
    a: &Sliced,
    b: &Sliced,
    max_block: usize,
    symmetric: bool,
) -> Result<DMatrix<f64>> {
    let (n, m, d) = (a.n_columns(), b.n_columns(), a.rows);
    let mut out = DMatrix::<f64>::zeros(n, m);
    if n == 0 || m == 0 || d == 0 {
        return Ok(out);
    }
    let block = block_columns(ctx, d)?.min(max_block.max(1));
    for a0 in (0..n).step_by(block) {
        let na = block.min(n - a0);
        let a_buf = upload(
            ctx,
            "exact product digits (A)",
            &a.device_words(a0..a0 + na),
        )?;
        for b0 in (0..m).step_by(block) {
            if symmetric && b0 < a0 {
                continue;
            }
            let nb = block.min(m - b0);
            // Within the diagonal block, tiles below the diagonal are skipped.
            let skip_lower = symmetric && a0 == b0;
            let b_buf = upload(
                ctx,
                "exact product digits (B)",
                &b.device_words(b0..b0 + nb),
            )?;
            let dims = ExactDims {
                n_a: na as u32,
                n_b: nb as u32,
                d: d as u32,
                upper_only: u32::from(skip_lower),
            };
            let words = block_levels(ctx, &a_buf, &b_buf, dims)?;
            for i in 0..na {
                for j in 0..nb {
                    if skip_lower && j / TILE < i / TILE {
                        continue;
                    }
                    let levels = read_levels(&words[(i * nb + j) * LEVELS * 2..]);
                    out[(a0 + i, b0 + j)] =
                        combine(&levels, a.exponents[a0 + i], b.exponents[b0 + j]);
                }
            }
        }
    }
    if symmetric {
        // What was skipped: blocks below the diagonal, and tiles below the diagonal within a
        // diagonal block (tiles counted from the block's start).
        for j in 0..m {
            for i in (j + 1)..n {
                let lower_block = j / block < i / block;
                let lower_tile = (j % block) / TILE < (i % block) / TILE;
                if lower_block || lower_tile {
                    out[(i, j)] = out[(j, i)];
                }
            }
        }
    }
    Ok(out)
}

/// A storage buffer holding `words`.
fn upload(ctx: &GpuContext, what: &str, words: &[u32]) -> Result<wgpu::Buffer> {
    let buf = ctx.scoped(what, || {
        ctx.device().create_buffer(&wgpu::BufferDescriptor {
            label: Some(what),
            size: (words.len().max(1) * 4) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    })?;
    ctx.write_buffer(&buf, 0, bytemuck::cast_slice(words));
    Ok(buf)
}

/// Runs the kernel on one pair of digit blocks and reads back its levels
/// (`n_a × n_b × LEVELS × [lo, hi]` words).
fn block_levels(
    ctx: &GpuContext,
    a_buf: &wgpu::Buffer,
    b_buf: &wgpu::Buffer,
    dims: ExactDims,
) -> Result<Vec<u32>> {
    let device = ctx.device();
    let pipeline = &ctx.kernels().exact_products;
    let bytes = (dims.n_a as usize * dims.n_b as usize * LEVELS * 2 * 4) as u64;
    let levels = ctx.scoped("exact product levels", || {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("exact product levels"),
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        })
    })?;
    let uniform = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("exact product dims"),
        size: std::mem::size_of::<ExactDims>() as u64,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    ctx.write_buffer(&uniform, 0, bytemuck::bytes_of(&dims));
    let entries: Vec<wgpu::BindGroupEntry<'_>> = [&uniform, a_buf, b_buf, &levels]
        .iter()
        .enumerate()
        .map(|(i, buf)| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: buf.as_entire_binding(),
        })
        .collect();
    let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &entries,
    });
    let mut enc = device.create_command_encoder(&Default::default());
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups(
            (dims.n_b as usize).div_ceil(TILE) as u32,
            (dims.n_a as usize).div_ceil(TILE) as u32,
            1,
        );
    }
    ctx.queue().submit([enc.finish()]);
    ctx.read_u32(&[(&levels, 0, bytes)])
}

/// The LEVELS exact sums of one output element from its `[lo, hi]` word pairs.
fn read_levels(words: &[u32]) -> [i64; LEVELS] {
    let mut levels = [0i64; LEVELS];
    for (u, l) in levels.iter_mut().enumerate() {
        let low = words[2 * u] as i64;
        let high = words[2 * u + 1] as i32 as i64;
        *l = (high << 32) + low;
    }
    levels
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reconstruct(s: &Sliced, col: usize, row: usize) -> f64 {
        let d = &s.digits[col * s.rows + row];
        let mut v = 0.0;
        for (k, &digit) in d.iter().enumerate() {
            v += digit as f64 * 2f64.powi(-(DIGIT_BITS as i32) * (k as i32 + 1));
        }
        scale_pow2(v, s.exponents[col])
    }

    #[test]
    fn digits_reconstruct_every_value_to_54_bits() {
        let a = DMatrix::from_fn(37, 5, |i, j| {
            let x = ((i * 7919 + j * 104729) % 1000) as f64 / 997.0 - 0.5;
            x * 10f64.powi(j as i32 * 3 - 6)
        });
        let s = slice_columns(a.as_view()).unwrap();
        for j in 0..5 {
            let max = a.column(j).amax();
            assert!(max < 2f64.powi(s.exponents[j]));
            assert!(max >= 2f64.powi(s.exponents[j] - 1));
            for i in 0..37 {
                let err = (reconstruct(&s, j, i) - a[(i, j)]).abs();
                assert!(err <= max * 2f64.powi(-54), "({i},{j}): {err:e}");
                for &digit in &s.digits[j * 37 + i] {
                    assert!(digit.abs() < 512);
                }
            }
        }
    }

    #[test]
    fn integer_products_match_f64_products() {
        let a = DMatrix::from_fn(300, 9, |i, j| {
            (((i * 31 + j * 17) % 101) as f64 / 50.0 - 1.0) * (1.0 + j as f64)
        });
        let b = DMatrix::from_fn(300, 4, |i, j| ((i * 13 + j * 7) % 29) as f64 * 1e-3 - 0.01);
        let exact = host_products(
            &slice_columns(a.as_view()).unwrap(),
            &slice_columns(b.as_view()).unwrap(),
        );
        let reference = a.transpose() * &b;
        for i in 0..9 {
            for j in 0..4 {
                let scale: f64 = (0..300).map(|l| (a[(l, i)] * b[(l, j)]).abs()).sum();
                let err = (exact[(i, j)] - reference[(i, j)]).abs();
                assert!(err <= 1e-14 * scale, "({i},{j}): {err:e} of {scale:e}");
            }
        }
        // Zero columns and a single row.
        let z = DMatrix::<f64>::zeros(3, 2);
        assert_eq!(
            host_products(
                &slice_columns(z.as_view()).unwrap(),
                &slice_columns(z.as_view()).unwrap()
            ),
            DMatrix::zeros(2, 2)
        );
    }

    #[test]
    fn exponents_bound_columns_tightly() {
        assert_eq!(column_exponent(0.0), 0);
        assert_eq!(column_exponent(1.0), 1);
        assert_eq!(column_exponent(0.75), 0);
        assert_eq!(column_exponent(0.5), 0);
        assert_eq!(column_exponent(f64::MAX), 1024);
        assert_eq!(column_exponent(f64::MIN_POSITIVE), -1021);
        assert_eq!(column_exponent(5e-324), -1073);
    }
}
