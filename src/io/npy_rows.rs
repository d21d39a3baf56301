//! A `.npy` file (C or Fortran order) read in chunks of rows ([`NpyRows`]), for fits on data larger than memory
//! ([`crate::Samples::streamed`]): only the header is read when the file is opened, and each
//! chunk is read, converted to f64 and checked when a pass asks for it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use nalgebra::DMatrix;
use npyz::{DType, Endianness, NpyFile, Order, TypeChar};

use super::npy::check_plain_header;
use crate::error::{GmmError, Result};
use crate::samples::RowSource;

/// The rows of a 2-D (or 1-D: one feature) float32 or float64 `.npy` file, in C order (one
/// read per chunk) or Fortran order (one read per column and chunk).
pub struct NpyRows {
    path: PathBuf,
    file: File,
    /// Byte offset of the first value.
    offset: u64,
    n: usize,
    d: usize,
    /// 4 (float32) or 8 (float64).
    item: usize,
    big_endian: bool,
    /// Column after column (Fortran order) rather than row after row.
    fortran: bool,
    /// The file's size and modification time when it was opened: a file that changes while
    /// it is streamed is an error, not a silent mix of two data sets.
    stamp: (u64, Option<std::time::SystemTime>),
    /// Memory of earlier reads, reused: the raw bytes, and a recycled matrix's values.
    bytes: Vec<u8>,
    spare: Vec<f64>,
}

impl NpyRows {
    /// Opens `path` and reads its header; errors name the file and say what to do.
    pub fn open(path: &Path) -> Result<Self> {
        let bad = |m: String| GmmError::file(path, m);
        let mut file = File::open(path).map_err(|e| bad(format!("cannot open: {e}")))?;
        let size = file.metadata().map_err(|e| bad(e.to_string()))?.len();
        let mut head = [0u8; 12];
        let got = file.read(&mut head).map_err(|e| bad(e.to_string()))?;
        if got < 10 || &head[..6] != b"\x93NUMPY" {
            return Err(bad("not a .npy file (no NumPy magic string)".into()));
        }
        let (len, start) = match head[6] {
            1 => (u16::from_le_bytes([head[8], head[9]]) as u64, 10u64),
            2 | 3 if got >= 12 => (
                u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as u64,
                12,
            ),
            v => return Err(bad(format!("unknown .npy format version {v}"))),
        };
        let offset = start + len;
        if offset > size || len > 1 << 16 {
            return Err(bad(
                "the .npy header is cut short or damaged; write the file again".into(),
            ));
        }
        let mut header = vec![0u8; offset as usize];
        file.seek(SeekFrom::Start(0))
            .map_err(|e| bad(e.to_string()))?;
        file.read_exact(&mut header)
            .map_err(|e| bad(e.to_string()))?;
        check_plain_header(&header).map_err(&bad)?;
        let npy =
            NpyFile::new(&header[..]).map_err(|e| bad(format!("not a valid .npy array ({e})")))?;
        let shape: Vec<usize> = npy.shape().iter().map(|&s| s as usize).collect();
        let (n, d) = match shape.as_slice() {
            [n] => (*n, 1),
            [n, d] => (*n, *d),
            s => {
                return Err(bad(format!(
                    "a {}-D array; data must be 2-D (samples × features)",
                    s.len()
                )))
            }
        };
        let fortran = npy.order() == Order::Fortran && d > 1;
        let DType::Plain(t) = npy.dtype() else {
            return Err(bad(
                "structured (record) arrays are not supported; save a plain float array".into(),
            ));
        };
        let item = match (t.type_char(), t.size_field()) {
            (TypeChar::Float, 4) => 4,
            (TypeChar::Float, 8) => 8,
            _ => {
                return Err(bad(format!(
                    "element type '{t}': a streamed fit reads float32 or float64 values; convert them (x.astype(numpy.float64))"
                )))
            }
        };
        let need = (n as u64)
            .checked_mul(d as u64)
            .and_then(|v| v.checked_mul(item as u64))
            .and_then(|v| v.checked_add(offset));
        if need.is_none_or(|need| need > size) {
            return Err(bad(format!(
                "the header claims {n} × {d} values but the file holds only {size} bytes: it is truncated; write it again"
            )));
        }
        let stamp = (size, file.metadata().ok().and_then(|m| m.modified().ok()));
        Ok(NpyRows {
            path: path.to_path_buf(),
            file,
            offset,
            n,
            d,
            item,
            big_endian: t.endianness() == Endianness::Big,
            fortran,
            stamp,
            bytes: Vec::new(),
            spare: Vec::new(),
        })
    }
}

impl RowSource for NpyRows {
    fn n_rows(&self) -> usize {
        self.n
    }

    fn n_features(&self) -> usize {
        self.d
    }

    fn read_columns(&mut self, start: usize, len: usize) -> Result<DMatrix<f64>> {
        let bad = |m: String| GmmError::file(&self.path, m);
        if start + len > self.n {
            return Err(bad(format!(
                "rows {start}..{} asked of {} rows",
                start + len,
                self.n
            )));
        }
        let meta = self.file.metadata().map_err(|e| bad(e.to_string()))?;
        if (meta.len(), meta.modified().ok()) != self.stamp {
            return Err(bad(format!(
                "the file changed while it was being read in chunks (it had {} bytes, now {}): a streamed fit reads it again on every pass; leave it unchanged until the fit ends, or write new data to a new file",
                self.stamp.0,
                meta.len()
            )));
        }
        let count = len * self.d;
        let failed =
            |e: std::io::Error| bad(format!("cannot read rows {start}..{}: {e}", start + len));
        let mut values = std::mem::take(&mut self.spare);
        values.clear();
        values.resize(count, 0.0);
        if !self.fortran && self.item == 8 && !self.big_endian && cfg!(target_endian = "little") {
            // Native f64 row after row: read straight into the values, with no conversion.
            let at = self.offset + (start * self.d * 8) as u64;
            self.file
                .seek(SeekFrom::Start(at))
                .and_then(|_| self.file.read_exact(bytemuck::cast_slice_mut(&mut values)))
                .map_err(failed)?;
        } else {
            let mut bytes = std::mem::take(&mut self.bytes);
            bytes.clear();
            bytes.resize(count * self.item, 0);
            if self.fortran {
                // Column j's rows start..start + len, one read each, interleaved into row order.
                let mut column = vec![0u8; len * self.item];
                for j in 0..self.d {
                    let at = self.offset + ((j * self.n + start) * self.item) as u64;
                    self.file
                        .seek(SeekFrom::Start(at))
                        .and_then(|_| self.file.read_exact(&mut column))
                        .map_err(failed)?;
                    for (i, v) in column.chunks_exact(self.item).enumerate() {
                        let to = (i * self.d + j) * self.item;
                        bytes[to..to + self.item].copy_from_slice(v);
                    }
                }
            } else {
                let at = self.offset + (start * self.d * self.item) as u64;
                self.file
                    .seek(SeekFrom::Start(at))
                    .and_then(|_| self.file.read_exact(&mut bytes))
                    .map_err(failed)?;
            }
            let item = self.item;
            for (v, b) in values.iter_mut().zip(bytes.chunks_exact(item)) {
                *v = match (item, self.big_endian) {
                    (8, false) => f64::from_le_bytes(b.try_into().expect("8")),
                    (8, true) => f64::from_be_bytes(b.try_into().expect("8")),
                    (_, false) => f32::from_le_bytes(b.try_into().expect("4")) as f64,
                    (_, true) => f32::from_be_bytes(b.try_into().expect("4")) as f64,
                };
            }
            self.bytes = bytes;
        }
        if let Some(p) = values.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!(
                "row {}, column {}: {} is not a finite number; remove or replace it (a streamed fit takes no missing values)",
                start + p / self.d,
                p % self.d,
                values[p]
            )));
        }
        // C order: row after row, so the values are the columns of a D × len matrix.
        Ok(DMatrix::from_vec(self.d, len, values))
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn recycle(&mut self, used: DMatrix<f64>) {
        self.spare = used.data.into();
    }
}
