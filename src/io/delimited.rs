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
    let mut parser = LineParser::default();
    let mut values = Vec::new();
    let mut n_rows = 0usize;
    for (i, line) in text.lines().enumerate() {
        if let Some(row) = parser.row(path, i + 1, line)? {
            values.extend(row);
            n_rows += 1;
        }
    }
    let d = if n_rows == 0 {
        0
    } else {
        parser.width.unwrap_or(0)
    };
    Ok(DMatrix::from_row_slice(n_rows, d, &values))
}

/// The state of reading a delimited file line by line: the separator (from the first data
/// line), the number of fields, and whether the header has been seen.
#[derive(Debug, Clone, Default)]
struct LineParser {
    separator: Option<Separator>,
    width: Option<usize>,
    first_line: usize,
}

impl LineParser {
    /// The values of line `line_no` (1-based), or `None` for a blank line, a comment or the
    /// header; errors name the line and the column.
    fn row(&mut self, path: &Path, line_no: usize, line: &str) -> Result<Option<Vec<f64>>> {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            return Ok(None);
        }
        let sep = *self
            .separator
            .get_or_insert_with(|| Separator::detect(line));
        let fields = sep.split(line);
        let parsed: Vec<Option<f64>> = fields.iter().map(|f| parse_field(f)).collect();
        if self.width.is_none() {
            self.width = Some(fields.len());
            self.first_line = line_no;
            // A first line with no number in it is a header.
            if parsed.iter().all(|p| p.is_none_or(|v| v.is_nan()))
                && parsed.iter().any(|p| p.is_none())
            {
                return Ok(None);
            }
        }
        let w = self.width.expect("set above");
        if fields.len() != w {
            return Err(GmmError::file(
                path,
                format!(
                    "line {line_no} has {} fields but line {} has {w}; every row needs the same number of columns",
                    fields.len(),
                    self.first_line
                ),
            ));
        }
        let mut row = Vec::with_capacity(w);
        for (j, (p, f)) in parsed.iter().zip(&fields).enumerate() {
            match p {
                Some(v) => row.push(*v),
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
        Ok(Some(row))
    }
}

/// A delimited text file read in chunks of rows for a streamed fit
/// ([`crate::Samples::streamed`]): one pass on opening counts the rows, then every pass reads
/// the lines in order (a pass that starts again from row 0 rewinds the file). Memory is one
/// chunk, whatever the file's size.
pub struct CsvRows {
    path: std::path::PathBuf,
    n: usize,
    d: usize,
    reader: std::io::Lines<std::io::BufReader<std::fs::File>>,
    parser: LineParser,
    /// The next row the reader gives, and its line number.
    next_row: usize,
    line_no: usize,
    /// The file's size and modification time when its rows were counted; checked every pass.
    stamp: (u64, Option<std::time::SystemTime>),
}

impl CsvRows {
    /// Opens `path` and counts its rows (checking every value as it goes).
    pub fn open(path: &Path) -> Result<Self> {
        let mut rows = CsvRows {
            path: path.to_path_buf(),
            n: 0,
            d: 0,
            reader: Self::lines(path)?,
            parser: LineParser::default(),
            next_row: 0,
            line_no: 0,
            stamp: Self::stamp(path)?,
        };
        let mut n = 0;
        while let Some(row) = rows.next_values()? {
            rows.check_finite(&row, rows.line_no)?;
            n += 1;
        }
        rows.n = n;
        rows.d = rows.parser.width.unwrap_or(0);
        rows.rewind()?;
        Ok(rows)
    }

    fn lines(path: &Path) -> Result<std::io::Lines<std::io::BufReader<std::fs::File>>> {
        use std::io::BufRead;
        let f = std::fs::File::open(path)
            .map_err(|e| GmmError::file(path, format!("cannot open: {e}")))?;
        Ok(std::io::BufReader::new(f).lines())
    }

    fn stamp(path: &Path) -> Result<(u64, Option<std::time::SystemTime>)> {
        let meta = std::fs::metadata(path).map_err(|e| GmmError::file(path, e.to_string()))?;
        Ok((meta.len(), meta.modified().ok()))
    }

    fn rewind(&mut self) -> Result<()> {
        let now = Self::stamp(&self.path)?;
        if now != self.stamp {
            return Err(GmmError::file(
                &self.path,
                format!(
                    "the file changed while it was being read in chunks (it had {} bytes, now {}): a streamed fit reads it again on every pass; leave it unchanged until the fit ends, or write new data to a new file",
                    self.stamp.0, now.0
                ),
            ));
        }
        self.reader = Self::lines(&self.path)?;
        self.parser = LineParser::default();
        self.next_row = 0;
        self.line_no = 0;
        Ok(())
    }

    /// The next data row's values, or `None` at the end.
    fn next_values(&mut self) -> Result<Option<Vec<f64>>> {
        for line in self.reader.by_ref() {
            self.line_no += 1;
            let line = line.map_err(|e| {
                GmmError::file(
                    &self.path,
                    format!("cannot read line {}: {e}", self.line_no),
                )
            })?;
            if let Some(row) = self.parser.row(&self.path, self.line_no, &line)? {
                return Ok(Some(row));
            }
        }
        Ok(None)
    }

    fn check_finite(&self, row: &[f64], line_no: usize) -> Result<()> {
        match row.iter().position(|v| !v.is_finite()) {
            Some(j) => Err(GmmError::file(
                &self.path,
                format!(
                    "line {line_no}, column {} (1-based): {} is not a finite number (a streamed fit takes no missing values); remove or replace it",
                    j + 1,
                    if row[j].is_nan() { "a missing value".to_string() } else { row[j].to_string() }
                ),
            )),
            None => Ok(()),
        }
    }
}

impl crate::samples::RowSource for CsvRows {
    fn n_rows(&self) -> usize {
        self.n
    }

    fn n_features(&self) -> usize {
        self.d
    }

    fn read_columns(&mut self, start: usize, len: usize) -> Result<DMatrix<f64>> {
        if start != self.next_row {
            if start != 0 {
                return Err(GmmError::file(
                    &self.path,
                    format!(
                        "rows are read in order: asked for row {start}, the next is {}",
                        self.next_row
                    ),
                ));
            }
            self.rewind()?;
        }
        let mut values = Vec::with_capacity(len * self.d);
        for _ in 0..len {
            let row = self.next_values()?.ok_or_else(|| {
                GmmError::file(
                    &self.path,
                    "the file became shorter while it was read; do not change it during a fit",
                )
            })?;
            self.check_finite(&row, self.line_no)?;
            values.extend(row);
            self.next_row += 1;
        }
        Ok(DMatrix::from_vec(self.d, len, values))
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

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
