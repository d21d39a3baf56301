//! `.npy` arrays: numeric arrays read into f64 (any byte order, C or Fortran order), unicode
//! strings for model metadata, and f64/i64/bool/unicode arrays written in C order.

use std::io::Write;
use std::path::Path;

use nalgebra::DMatrix;
use npyz::{DType, NpyFile, Order, TypeChar, WriterBuilder};

use crate::array::NdArray;
use crate::error::{GmmError, Result};

/// What a `.npy` array holds, once decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyValue {
    /// Floating-point values (f16 excluded), as f64.
    Float(NdArray),
    /// Integer or boolean values, as f64 (exact below 2⁵³).
    Integer(NdArray),
    /// A unicode or byte string (0-d or 1-element array).
    Text(String),
}

/// Decodes one `.npy` stream; errors are plain sentences without the file name.
pub fn decode(bytes: &[u8]) -> std::result::Result<NpyValue, String> {
    check_plain_header(bytes)?;
    let npy = NpyFile::new(bytes).map_err(|e| format!("not a valid .npy array ({e})"))?;
    let shape: Vec<usize> = npy.shape().iter().map(|&s| s as usize).collect();
    let order = npy.order();
    let type_str = match npy.dtype() {
        DType::Plain(t) => t,
        _ => {
            return Err(
                "structured (record) arrays are not supported; save a plain numeric array".into(),
            )
        }
    };
    // The header's claim must fit in the file before anything is allocated for it.
    // At least one byte per element, so that zero-sized types cannot claim endless elements.
    let item_bytes = type_str.num_bytes().unwrap_or(usize::MAX).max(1);
    let claimed = shape
        .iter()
        .try_fold(item_bytes, |acc, &s| acc.checked_mul(s));
    if claimed.is_none_or(|c| c > bytes.len()) {
        return Err(format!(
            "the header claims shape {shape:?} of '{type_str}' but the file holds only {} bytes: it is truncated or damaged; write it again",
            bytes.len()
        ));
    }
    let size = type_str.size_field();
    let truncated = |e: std::io::Error| {
        format!("the payload is truncated or damaged ({e}); write the file again")
    };
    let numeric = |data: Vec<f64>| reorder(shape.clone(), order, data);
    Ok(match (type_str.type_char(), size) {
        (TypeChar::Float, 4) => NpyValue::Float(numeric(
            npy.into_vec::<f32>().map_err(truncated)?.into_iter().map(f64::from).collect(),
        )),
        (TypeChar::Float, 8) => NpyValue::Float(numeric(match payload(bytes, &shape) {
            // The common case (NumPy's default): little-endian f64, converted in one tight
            // loop straight from the bytes instead of value by value through a reader.
            Some(data) if type_str.endianness() != npyz::Endianness::Big => data
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect(),
            _ => npy.into_vec::<f64>().map_err(truncated)?,
        })),
        (TypeChar::Bool, _) => NpyValue::Integer(numeric(
            npy.into_vec::<bool>().map_err(truncated)?.into_iter().map(|b| b as u8 as f64).collect(),
        )),
        (TypeChar::Int, s) | (TypeChar::Uint, s) => {
            let signed = type_str.type_char() == TypeChar::Int;
            let v: Vec<f64> = match (signed, s) {
                (true, 1) => npy.into_vec::<i8>().map_err(truncated)?.into_iter().map(f64::from).collect(),
                (true, 2) => npy.into_vec::<i16>().map_err(truncated)?.into_iter().map(f64::from).collect(),
                (true, 4) => npy.into_vec::<i32>().map_err(truncated)?.into_iter().map(f64::from).collect(),
                (true, 8) => npy.into_vec::<i64>().map_err(truncated)?.into_iter().map(|x| x as f64).collect(),
                (false, 1) => npy.into_vec::<u8>().map_err(truncated)?.into_iter().map(f64::from).collect(),
                (false, 2) => npy.into_vec::<u16>().map_err(truncated)?.into_iter().map(f64::from).collect(),
                (false, 4) => npy.into_vec::<u32>().map_err(truncated)?.into_iter().map(f64::from).collect(),
                (false, 8) => npy.into_vec::<u64>().map_err(truncated)?.into_iter().map(|x| x as f64).collect(),
                _ => return Err(format!("unsupported integer type '{type_str}'")),
            };
            NpyValue::Integer(numeric(v))
        }
        (TypeChar::UnicodeStr, _) => {
            let v = npy.into_vec::<Vec<char>>().map_err(truncated)?;
            if v.len() != 1 {
                return Err(format!("expected one string, found {}", v.len()));
            }
            NpyValue::Text(v[0].iter().collect())
        }
        (TypeChar::ByteStr, _) => {
            let v = npy.into_vec::<Vec<u8>>().map_err(truncated)?;
            if v.len() != 1 {
                return Err(format!("expected one string, found {}", v.len()));
            }
            NpyValue::Text(String::from_utf8_lossy(&v[0]).into_owned())
        }
        (TypeChar::Complex, _) => {
            return Err(format!("complex values ('{type_str}') cannot be modelled; save the real part (x.real) or both parts as columns"))
        }
        (TypeChar::Float, _) => {
            return Err(format!("floating-point type '{type_str}' is not supported; convert to float32 or float64 (x.astype(np.float64))"))
        }
        _ => return Err(format!("unsupported element type '{type_str}'; save float32 or float64 values")),
    })
}

/// The payload of 8-byte elements of `shape` in a `.npy` stream (after the magic string, the
/// version, the header length and the header), when the stream holds all of it.
fn payload<'a>(bytes: &'a [u8], shape: &[usize]) -> Option<&'a [u8]> {
    let header_len = header_len(bytes)?;
    let len = shape
        .iter()
        .try_fold(8usize, |acc, &s| acc.checked_mul(s))?;
    bytes.get(header_len..header_len.checked_add(len)?)
}

/// Bytes before the payload of a `.npy` stream: the magic string, the version, the header
/// length (2 bytes in version 1, 4 after) and the header.
fn header_len(bytes: &[u8]) -> Option<usize> {
    Some(match bytes.get(6)? {
        1 => 10 + u16::from_le_bytes(bytes.get(8..10)?.try_into().ok()?) as usize,
        _ => 12 + u32::from_le_bytes(bytes.get(8..12)?.try_into().ok()?) as usize,
    })
}

/// Checks, before the header is parsed, that it has the shape NumPy gives a plain array's
/// header — `{'descr': …, 'fortran_order': …, 'shape': (…), }` — so that no crafted header
/// (nested lists or dicts, endless digits) can make the parser run for minutes. Structured
/// arrays, whose `descr` is a list, are refused here too: gaussmix reads plain arrays only.
pub(super) fn check_plain_header(bytes: &[u8]) -> std::result::Result<(), String> {
    let not_npy = |why: &str| format!("not a valid .npy array ({why})");
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(not_npy("no NumPy magic string at the start"));
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(not_npy(&format!("unknown format version {v}"))),
    };
    let header = bytes
        .get(start..start.saturating_add(len))
        .ok_or_else(|| not_npy("the header is cut short"))?;
    let header = std::str::from_utf8(header).map_err(|_| not_npy("the header is not text"))?;
    let trimmed = header.trim();
    let longest_digit_run = trimmed
        .split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    if header.len() > 4096
        || !trimmed.starts_with('{')
        || !trimmed.ends_with('}')
        || trimmed.contains('[')
        || trimmed.matches('{').count() != 1
        || trimmed.matches('}').count() != 1
        || trimmed.matches('(').count() > 1
        || trimmed.matches(')').count() > 1
        || longest_digit_run > 20
    {
        return Err(
            "not a plain NumPy array header (structured arrays and unusual headers are not read); save a plain float array with numpy.save".into(),
        );
    }
    Ok(())
}

/// Puts Fortran-ordered data into C (row-major) order.
fn reorder(shape: Vec<usize>, order: Order, data: Vec<f64>) -> NdArray {
    if order == Order::C || shape.len() < 2 {
        return NdArray::new(shape, data);
    }
    let n = data.len();
    // Fortran strides: first axis fastest.
    let mut f_strides = vec![1usize; shape.len()];
    for a in 1..shape.len() {
        f_strides[a] = f_strides[a - 1] * shape[a - 1];
    }
    let mut out = Vec::with_capacity(n);
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..n {
        out.push(
            data[idx
                .iter()
                .zip(&f_strides)
                .map(|(i, s)| i * s)
                .sum::<usize>()],
        );
        for a in (0..shape.len()).rev() {
            idx[a] += 1;
            if idx[a] < shape[a] {
                break;
            }
            idx[a] = 0;
        }
    }
    NdArray::new(shape, out)
}

fn read_all(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| GmmError::file(path, format!("cannot open: {e}")))
}

/// Reads a data matrix: a 2-D (or 1-D, read as one column) float32/float64 array.
pub fn read_npy_matrix(path: &Path) -> Result<DMatrix<f64>> {
    matrix_from_value(
        path,
        decode(&read_all(path)?).map_err(|m| GmmError::file(path, m))?,
    )
}

/// The header bytes read before deciding how to read the rest (NumPy pads headers to 64
/// bytes; a few kB at most in practice).
const HEAD_BYTES: u64 = 1 << 16;

/// NumPy's default layout — little-endian f64 in C order, 1-D or 2-D — read straight from
/// the file into its values (one copy, no intermediate bytes), or `None` for anything else
/// (and for a file too short for its header's claim), which the general decoder reads or
/// explains.
fn read_plain_f64(path: &Path) -> Result<Option<(Vec<usize>, Vec<f64>)>> {
    use std::io::{Read, Seek, SeekFrom};
    let open_error = |e: std::io::Error| GmmError::file(path, format!("cannot open: {e}"));
    let mut file = std::fs::File::open(path).map_err(open_error)?;
    let file_len = file.metadata().map_err(open_error)?.len();
    let mut head = Vec::new();
    (&mut file)
        .take(HEAD_BYTES)
        .read_to_end(&mut head)
        .map_err(open_error)?;
    if check_plain_header(&head).is_err() {
        return Ok(None);
    }
    let Ok(npy) = NpyFile::new(&head[..]) else {
        return Ok(None);
    };
    let shape: Vec<usize> = npy.shape().iter().map(|&s| s as usize).collect();
    let plain = matches!(npy.dtype(), DType::Plain(t)
        if t.type_char() == TypeChar::Float && t.size_field() == 8
            && t.endianness() != npyz::Endianness::Big);
    if !plain || npy.order() != Order::C || !(1..=2).contains(&shape.len()) {
        return Ok(None);
    }
    let Some(header_len) = header_len(&head).map(|h| h as u64) else {
        return Ok(None);
    };
    let Some(n) = shape.iter().try_fold(1usize, |acc, &s| acc.checked_mul(s)) else {
        return Ok(None);
    };
    if (n as u64)
        .checked_mul(8)
        .and_then(|b| b.checked_add(header_len))
        .is_none_or(|end| end > file_len)
    {
        return Ok(None);
    }
    let mut data = crate::memory::zeros(n);
    file.seek(SeekFrom::Start(header_len)).map_err(open_error)?;
    file.read_exact(bytemuck::cast_slice_mut(&mut data))
        .map_err(|e| GmmError::file(path, format!("cannot read the values: {e}")))?;
    if cfg!(target_endian = "big") {
        for v in &mut data {
            *v = f64::from_bits(v.to_bits().swap_bytes());
        }
    }
    Ok(Some((shape, data)))
}

/// Reads a data matrix as columns: D × N, one sample per column. A C-order array's values
/// are already in that layout, so the decoded values become the matrix without a copy.
pub fn read_npy_columns(path: &Path) -> Result<DMatrix<f64>> {
    if let Some((shape, data)) = read_plain_f64(path)? {
        match shape.as_slice() {
            [n] => return Ok(DMatrix::from_vec(1, *n, data)),
            [n, d] => return Ok(DMatrix::from_vec(*d, *n, data)),
            _ => {}
        }
    }
    let a = match decode(&read_all(path)?).map_err(|m| GmmError::file(path, m))? {
        NpyValue::Float(a) => a,
        other => return matrix_from_value(path, other).map(|m| m.transpose()),
    };
    match a.shape.as_slice() {
        [n] => Ok(DMatrix::from_vec(1, *n, a.data)),
        [n, d] => {
            let (n, d) = (*n, *d);
            Ok(DMatrix::from_vec(d, n, a.data))
        }
        _ => to_data_matrix(path, a).map(|m| m.transpose()),
    }
}

/// A data matrix from `.npy` bytes; `path` only names it in errors.
pub fn matrix_from_bytes(path: &Path, bytes: &[u8]) -> Result<DMatrix<f64>> {
    matrix_from_value(path, decode(bytes).map_err(|m| GmmError::file(path, m))?)
}

fn matrix_from_value(path: &Path, value: NpyValue) -> Result<DMatrix<f64>> {
    let a = match value {
        NpyValue::Float(a) => a,
        NpyValue::Integer(_) => {
            return Err(GmmError::file(
                path,
                "integer or boolean array: data must be floating point; convert it (x.astype(np.float64)) and save again",
            ))
        }
        NpyValue::Text(_) => return Err(GmmError::file(path, "a string array, not numeric data")),
    };
    to_data_matrix(path, a)
}

/// Reads labels: any numeric 1-D or one-column array.
pub fn read_npy_labels(path: &Path) -> Result<DMatrix<f64>> {
    match decode(&read_all(path)?).map_err(|m| GmmError::file(path, m))? {
        NpyValue::Float(a) | NpyValue::Integer(a) => to_data_matrix(path, a),
        NpyValue::Text(_) => Err(GmmError::file(path, "a string array, not labels")),
    }
}

fn to_data_matrix(path: &Path, a: NdArray) -> Result<DMatrix<f64>> {
    match a.shape.as_slice() {
        [n] => Ok(DMatrix::from_column_slice(*n, 1, &a.data)),
        [_, _] => Ok(a.to_matrix().expect("2-D")),
        s => Err(GmmError::file(
            path,
            format!(
                "a {}-D array of shape {s:?}: data must be 2-D (samples × features); reshape it, e.g. x.reshape(len(x), -1)",
                s.len()
            ),
        )),
    }
}

fn shape_u64(shape: &[usize]) -> Vec<u64> {
    shape.iter().map(|&s| s as u64).collect()
}

/// Writes f64 values of the given shape (C order).
pub fn write_f64(w: &mut dyn Write, shape: &[usize], data: &[f64]) -> std::io::Result<()> {
    let mut npy = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&shape_u64(shape))
        .writer(w)
        .begin_nd()?;
    npy.extend(data.iter().copied())?;
    npy.finish()
}

/// Writes a 1-D int64 array.
pub fn write_i64(w: &mut dyn Write, values: &[usize]) -> std::io::Result<()> {
    write_i64_shaped(w, &[values.len()], values)
}

/// Writes int64 values of the given shape (an empty shape is a 0-d scalar).
pub fn write_i64_shaped(
    w: &mut dyn Write,
    shape: &[usize],
    values: &[usize],
) -> std::io::Result<()> {
    let mut npy = npyz::WriteOptions::<i64>::new()
        .default_dtype()
        .shape(&shape_u64(shape))
        .writer(w)
        .begin_nd()?;
    npy.extend(values.iter().map(|&v| v as i64))?;
    npy.finish()
}

/// Writes a 0-d boolean.
pub fn write_bool(w: &mut dyn Write, value: bool) -> std::io::Result<()> {
    let mut npy = npyz::WriteOptions::<bool>::new()
        .default_dtype()
        .shape(&[])
        .writer(w)
        .begin_nd()?;
    npy.push(&value)?;
    npy.finish()
}

/// Writes a 0-d unicode string (NumPy `<U…`).
pub fn write_text(w: &mut dyn Write, text: &str) -> std::io::Result<()> {
    let n = text.chars().count().max(1);
    let dtype = DType::Plain(format!("<U{n}").parse().expect("valid type string"));
    let mut npy = npyz::WriteOptions::<str>::new()
        .dtype(dtype)
        .shape(&[])
        .writer(w)
        .begin_nd()?;
    npy.push(text)?;
    npy.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortran_order_is_transposed_to_c() {
        // shape (2, 3), Fortran data: columns first.
        let a = reorder(vec![2, 3], Order::Fortran, vec![1., 4., 2., 5., 3., 6.]);
        assert_eq!(a.data, vec![1., 2., 3., 4., 5., 6.]);
        let b = reorder(
            vec![2, 2, 2],
            Order::Fortran,
            (0..8).map(f64::from).collect(),
        );
        // C index (i,j,k) ↔ F offset i + 2j + 4k
        assert_eq!(b.data, vec![0., 4., 2., 6., 1., 5., 3., 7.]);
    }

    #[test]
    fn round_trips_text_and_numbers() {
        let mut buf = Vec::new();
        write_text(&mut buf, "spherical").unwrap();
        assert_eq!(
            decode(&buf[..]).unwrap(),
            NpyValue::Text("spherical".into())
        );
        let mut buf = Vec::new();
        write_f64(&mut buf, &[2, 2], &[1.0, -2.5, 3.0, 1e300]).unwrap();
        assert_eq!(
            decode(&buf[..]).unwrap(),
            NpyValue::Float(NdArray::new(vec![2, 2], vec![1.0, -2.5, 3.0, 1e300]))
        );
        let mut buf = Vec::new();
        write_i64_shaped(&mut buf, &[], &[7]).unwrap();
        assert_eq!(
            decode(&buf[..]).unwrap(),
            NpyValue::Integer(NdArray::new(vec![], vec![7.0]))
        );
        let mut buf = Vec::new();
        write_bool(&mut buf, true).unwrap();
        assert_eq!(
            decode(&buf[..]).unwrap(),
            NpyValue::Integer(NdArray::new(vec![], vec![1.0]))
        );
    }

    #[test]
    fn zero_sized_elements_cannot_claim_a_huge_shape() {
        for descr in ["<U0", "|S0", "|V0"] {
            let mut header = format!(
                "{{'descr': '{descr}', 'fortran_order': False, 'shape': (1000000000000,), }}"
            );
            while (10 + header.len() + 1) % 64 != 0 {
                header.push(' ');
            }
            header.push('\n');
            let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
            bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
            bytes.extend_from_slice(header.as_bytes());
            let started = std::time::Instant::now();
            assert!(decode(&bytes).is_err(), "{descr}");
            assert!(started.elapsed().as_secs() < 5, "{descr}");
        }
    }

    #[test]
    fn truncated_payload_is_an_error() {
        let mut buf = Vec::new();
        write_f64(&mut buf, &[4, 4], &[0.5; 16]).unwrap();
        buf.truncate(buf.len() - 20);
        let err = decode(&buf[..]).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
    }

    /// NumPy's default layout is read straight into the values (the same as the general
    /// decoder gives); anything else, and a file shorter than its header claims, goes to the
    /// general decoder, which reads it or says what is wrong.
    #[test]
    fn plain_f64_files_read_directly_and_others_fall_back() {
        let dir = tempfile::tempdir().unwrap();
        let values: Vec<f64> = (0..15).map(|v| v as f64 * 0.25 - 1.0).collect();
        let mut buf = Vec::new();
        write_f64(&mut buf, &[5, 3], &values).unwrap();
        let plain = dir.path().join("plain.npy");
        std::fs::write(&plain, &buf).unwrap();
        let (shape, data) = read_plain_f64(&plain).unwrap().expect("the direct read");
        assert_eq!((shape, &data), (vec![5, 3], &values));
        let NpyValue::Float(general) = decode(&buf).unwrap() else {
            panic!("floats")
        };
        assert_eq!(general.data, values);
        let xt = read_npy_columns(&plain).unwrap();
        assert_eq!((xt.nrows(), xt.ncols()), (3, 5));
        assert_eq!(xt[(2, 1)], values[5]);

        let short = dir.path().join("short.npy");
        std::fs::write(&short, &buf[..buf.len() - 20]).unwrap();
        assert!(read_plain_f64(&short).unwrap().is_none());
        let err = read_npy_columns(&short).unwrap_err().to_string();
        assert!(
            err.contains("truncated") && err.contains("short.npy"),
            "{err}"
        );

        // Big-endian values: not the direct read, but the same numbers.
        let header = "{'descr': '>f8', 'fortran_order': False, 'shape': (5, 3), }";
        let mut big = b"\x93NUMPY\x01\x00".to_vec();
        let pad = 64 - (10 + header.len() + 1) % 64;
        let header = format!("{header}{}\n", " ".repeat(pad));
        big.extend_from_slice(&(header.len() as u16).to_le_bytes());
        big.extend_from_slice(header.as_bytes());
        for v in &values {
            big.extend_from_slice(&v.to_be_bytes());
        }
        let be = dir.path().join("big.npy");
        std::fs::write(&be, &big).unwrap();
        assert!(read_plain_f64(&be).unwrap().is_none());
        assert_eq!(read_npy_columns(&be).unwrap(), xt);
    }
}
