//! Delimited text: CSV/TSV/whitespace-separated numbers with an optional header line and `#`
//! comments. Missing entries (empty field, `nan`, `NA`) read as NaN; the caller decides whether
//! NaN is allowed.

use std::io::Write;
use std::path::Path;

use nalgebra::DMatrix;

use crate::error::{GmmError, Result};

/// How fields are separated on a line.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Separator {
    Char(char),
    Whitespace,
}

impl Separator {
    fn detect(line: &str) -> Self {
        for c in [',', '\t', ';'] {
            if line.contains(c) {
                return Separator::Char(c);
            }
        }
        Separator::Whitespace
    }

    fn split<'a>(&self, line: &'a str) -> Vec<&'a str> {
        match self {
            Separator::Char(c) => line.split(*c).map(str::trim).collect(),
            Separator::Whitespace => line.split_whitespace().collect(),
        }
    }
}

/// A field as a number: `Some(NaN)` for a missing entry, `None` when it is not a number.
fn parse_field(field: &str) -> Option<f64> {
    let f = field.trim().trim_matches('"');
    match f {
        "" | "NA" | "N/A" | "na" | "null" | "NULL" => return Some(f64::NAN),
        _ => {}
    }
    f.parse::<f64>().ok()
}

/// Reads a delimited text file into an N × D matrix.
pub fn read_delimited(path: &Path) -> Result<DMatrix<f64>> {
    let bytes =
        std::fs::read(path).map_err(|e| GmmError::file(path, format!("cannot read: {e}")))?;
    parse_delimited(path, bytes)
}

/// Parses the bytes of a delimited text file; `path` only names it in errors.
pub fn parse_delimited(path: &Path, bytes: Vec<u8>) -> Result<DMatrix<f64>> {
    let text = String::from_utf8(bytes).map_err(|e| {
        GmmError::file(
            path,
            format!(
                "not a text file (invalid UTF-8 at byte {}); give a CSV file or a .npy array",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    let lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let mut separator = None;
    let mut width = None;
    let mut values = Vec::new();
    let mut n_rows = 0usize;
    let mut first_line = 0usize;
    for (line_no, line) in lines {
        let sep = *separator.get_or_insert_with(|| Separator::detect(line));
        let fields = sep.split(line);
        let parsed: Vec<Option<f64>> = fields.iter().map(|f| parse_field(f)).collect();
        if width.is_none() {
            // A first line with no number in it is a header.
            if parsed.iter().all(|p| p.is_none_or(|v| v.is_nan()))
                && parsed.iter().any(|p| p.is_none())
            {
                width = Some(fields.len());
                first_line = line_no;
                continue;
            }
            width = Some(fields.len());
            first_line = line_no;
        }
        let w = width.expect("set above");
        if fields.len() != w {
            return Err(GmmError::file(
                path,
                format!(
                    "line {line_no} has {} fields but line {first_line} has {w}; every row needs the same number of columns",
                    fields.len()
                ),
            ));
        }
        for (j, (p, f)) in parsed.iter().zip(&fields).enumerate() {
            match p {
                Some(v) => values.push(*v),
                None => {
                    return Err(GmmError::file(
                        path,
                        format!(
                            "line {line_no}, column {} (1-based): '{f}' is not a number; fix or remove that value",
                            j + 1
                        ),
                    ))
                }
            }
        }
        n_rows += 1;
    }
    let d = if n_rows == 0 { 0 } else { width.unwrap_or(0) };
    Ok(DMatrix::from_row_slice(n_rows, d, &values))
}

/// Writes `m` as comma-separated values, one row per line, with every digit needed to read
/// back the same f64.
pub fn write_csv(w: &mut dyn Write, m: &DMatrix<f64>) -> std::io::Result<()> {
    for row in m.row_iter() {
        let mut first = true;
        for v in row.iter() {
            if !first {
                w.write_all(b",")?;
            }
            first = false;
            write!(w, "{v}")?;
        }
        w.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_str(s: &str) -> Result<DMatrix<f64>> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        std::fs::write(&p, s).unwrap();
        read_delimited(&p)
    }

    #[test]
    fn header_comments_and_separators() {
        let m = read_str("# comment\na,b\n1,2\n3,4\n").unwrap();
        assert_eq!(m, DMatrix::from_row_slice(2, 2, &[1., 2., 3., 4.]));
        let m = read_str("1 2 3\n4 5 6\n\n").unwrap();
        assert_eq!(m.shape(), (2, 3));
        let m = read_str("1\t2\n3\t\n").unwrap();
        assert!(m[(1, 1)].is_nan());
    }

    #[test]
    fn ragged_and_non_numeric_rows_name_the_place() {
        let e = read_str("1,2\n3\n").unwrap_err().to_string();
        assert!(e.contains("line 2 has 1 fields"), "{e}");
        let e = read_str("1,2\n3,abc\n").unwrap_err().to_string();
        assert!(e.contains("line 2, column 2") && e.contains("'abc'"), "{e}");
    }

    #[test]
    fn csv_round_trips_exactly() {
        let m = DMatrix::from_row_slice(2, 2, &[0.1, -1e-300, 1.0 / 3.0, 12345.678]);
        let mut buf = Vec::new();
        write_csv(&mut buf, &m).unwrap();
        let back = read_str(std::str::from_utf8(&buf).unwrap()).unwrap();
        assert_eq!(back, m);
    }
}
