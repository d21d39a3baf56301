//! Reading a univariate time series from text: one value per line, or one named column of a
//! CSV file with a header.

use crate::error::{GmmError, Result};

/// The built-in series, compiled into the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// Santa Fe competition data set A (far-infrared laser, chaotic), 1000 points.
    SantaFe,
    /// Yearly mean sunspot numbers 1700–2008, 309 points.
    Sunspots,
}

impl Builtin {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::SantaFe => "santafe",
            Builtin::Sunspots => "sunspots",
        }
    }

    /// The embedded text.
    pub fn text(self) -> &'static str {
        match self {
            Builtin::SantaFe => include_str!("../../assets/santafe_laser_a.txt"),
            Builtin::Sunspots => include_str!("../../assets/sunspots_yearly.txt"),
        }
    }

    /// The series.
    pub fn series(self) -> Vec<f64> {
        parse_series(self.text(), None, self.name()).expect("embedded series parse")
    }
}

impl std::str::FromStr for Builtin {
    type Err = GmmError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "santafe" => Ok(Builtin::SantaFe),
            "sunspots" => Ok(Builtin::Sunspots),
            other => Err(GmmError::param("builtin", other, "use santafe or sunspots")),
        }
    }
}

fn fields(line: &str) -> Vec<String> {
    line.split(',')
        .map(|f| f.trim().trim_matches('"').trim().to_string())
        .collect()
}

/// Whether `field` marks a missing value: empty, `nan`, `NA` or `null`, in any case.
fn is_gap(field: &str) -> bool {
    field.is_empty() || ["nan", "na", "null"].contains(&field.to_ascii_lowercase().as_str())
}

fn parse_value(field: &str, line_no: usize, source: &str, gaps: bool) -> Result<f64> {
    if gaps && is_gap(field) {
        return Ok(f64::NAN);
    }
    let v: f64 = field.parse().map_err(|_| {
        GmmError::InvalidData(format!(
            "{source}, line {line_no}: '{field}' is not a number; {}",
            if gaps {
                "mark a missing value with nan, NA or an empty field"
            } else {
                "a series must be complete here (gaussmix interpolate fills gaps)"
            }
        ))
    })?;
    if !v.is_finite() {
        return Err(GmmError::InvalidData(format!(
            "{source}, line {line_no}: value {v} is not finite; {}",
            if gaps {
                "mark a missing value with nan, NA or an empty field"
            } else {
                "a series must be complete here (gaussmix interpolate fills gaps)"
            }
        )));
    }
    Ok(v)
}

/// Parses a series from `text` (`source` names it in errors). Without `column`, every
/// non-empty line holds one value (a single non-numeric first line is taken as a header);
/// with `column`, the first non-empty line is a CSV header and the values are that column.
/// Every value must be a finite number; [`parse_series_with_gaps`] takes missing ones.
pub fn parse_series(text: &str, column: Option<&str>, source: &str) -> Result<Vec<f64>> {
    parse(text, column, source, false)
}

/// [`parse_series`] with gaps: `nan`, `NA`, `null` or an empty field (or, in a one-column
/// file, an empty line between values) is a missing value, NaN.
pub fn parse_series_with_gaps(text: &str, column: Option<&str>, source: &str) -> Result<Vec<f64>> {
    parse(text, column, source, true)
}

fn parse(text: &str, column: Option<&str>, source: &str, gaps: bool) -> Result<Vec<f64>> {
    let numbered: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.starts_with('#'))
        .collect();
    // Empty lines are gaps only between values of a one-column file with gaps.
    let keep_empty = gaps && column.is_none();
    let first = numbered.iter().position(|(_, l)| !l.is_empty());
    let last = numbered.iter().rposition(|(_, l)| !l.is_empty());
    let body = match (first, last) {
        (Some(a), Some(b)) => &numbered[a..=b],
        _ => &numbered[..0],
    };
    let mut lines = body
        .iter()
        .copied()
        .filter(|(_, l)| keep_empty || !l.is_empty());
    let mut values = Vec::new();
    match column {
        Some(name) => {
            let (_, header) = lines.next().ok_or_else(|| {
                GmmError::InvalidData(format!(
                    "{source}: the file is empty; give a CSV with a header line"
                ))
            })?;
            let names = fields(header);
            let col = names.iter().position(|n| n == name).ok_or_else(|| {
                GmmError::InvalidData(format!(
                    "{source}: no column named '{name}'; the header has: {}",
                    names.join(", ")
                ))
            })?;
            for (line_no, line) in lines {
                let f = fields(line);
                let field = f.get(col).ok_or_else(|| {
                    GmmError::InvalidData(format!(
                        "{source}, line {line_no}: only {} fields, but column '{name}' is field {}",
                        f.len(),
                        col + 1
                    ))
                })?;
                values.push(parse_value(field, line_no, source, gaps)?);
            }
        }
        None => {
            for (idx, (line_no, line)) in lines.enumerate() {
                let f = fields(line);
                if f.len() > 1 {
                    return Err(GmmError::InvalidData(format!(
                        "{source}, line {line_no}: {} fields; this looks like a CSV with several columns, so name the series with column=NAME",
                        f.len()
                    )));
                }
                if idx == 0 && !is_gap(&f[0]) && f[0].parse::<f64>().is_err() {
                    continue; // a one-column header
                }
                values.push(parse_value(&f[0], line_no, source, gaps)?);
            }
        }
    }
    if values.is_empty() {
        return Err(GmmError::InvalidData(format!(
            "{source}: no values found; give one value per line or a CSV column"
        )));
    }
    Ok(values)
}
