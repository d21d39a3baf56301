//! Row sources made of other row sources: a range of rows of one source ([`RowRange`], one
//! process's share of a file), and several sources one after another ([`ConcatRows`], a run
//! of shard files). Errors are the inner sources' (which name the file, row and column).

use nalgebra::DMatrix;

use crate::error::{GmmError, Result};
use crate::samples::RowSource;

/// Rows `start..start + len` of `source`.
pub struct RowRange<S> {
    source: S,
    start: usize,
    len: usize,
}

impl<S: RowSource> RowRange<S> {
    /// Rows `start..start + len` of `source`, or an error when they are not all there.
    pub fn new(source: S, start: usize, len: usize) -> Result<Self> {
        if start + len > source.n_rows() {
            return Err(GmmError::InvalidData(format!(
                "{}: rows {start}..{} asked of {} rows",
                source.describe(),
                start + len,
                source.n_rows()
            )));
        }
        Ok(RowRange { source, start, len })
    }
}

impl<S: RowSource> RowSource for RowRange<S> {
    fn n_rows(&self) -> usize {
        self.len
    }

    fn n_features(&self) -> usize {
        self.source.n_features()
    }

    fn read_columns(&mut self, start: usize, len: usize) -> Result<DMatrix<f64>> {
        if start + len > self.len {
            return Err(GmmError::InvalidData(format!(
                "{}: rows {start}..{} of a range of {} rows",
                self.describe(),
                start + len,
                self.len
            )));
        }
        self.source.read_columns(self.start + start, len)
    }

    fn recycle(&mut self, used: DMatrix<f64>) {
        self.source.recycle(used)
    }

    fn describe(&self) -> String {
        format!(
            "{} (rows {}..{})",
            self.source.describe(),
            self.start,
            self.start + self.len
        )
    }
}

/// Several sources with the same number of features, one after another.
pub struct ConcatRows {
    parts: Vec<Box<dyn RowSource>>,
    /// The first row of every part, and the total after the last.
    starts: Vec<usize>,
}

impl ConcatRows {
    /// `parts` (at least one) in order; they must have the same number of features.
    pub fn new(parts: Vec<Box<dyn RowSource>>) -> Result<Self> {
        let Some(first) = parts.first() else {
            return Err(GmmError::InvalidData("no sources to read rows from".into()));
        };
        let d = first.n_features();
        let mut starts = vec![0];
        for p in &parts {
            if p.n_features() != d {
                return Err(GmmError::InvalidData(format!(
                    "{} has {} features and {} has {d}: shards need the same columns",
                    p.describe(),
                    p.n_features(),
                    first.describe()
                )));
            }
            starts.push(starts.last().expect("one start") + p.n_rows());
        }
        Ok(ConcatRows { parts, starts })
    }
}

impl RowSource for ConcatRows {
    fn n_rows(&self) -> usize {
        *self.starts.last().expect("one start")
    }

    fn n_features(&self) -> usize {
        self.parts[0].n_features()
    }

    fn read_columns(&mut self, start: usize, len: usize) -> Result<DMatrix<f64>> {
        let d = self.n_features();
        let mut out = DMatrix::<f64>::zeros(d, len);
        let mut done = 0;
        while done < len {
            let row = start + done;
            // The part holding `row`: the last whose first row is at most `row`.
            let p = self.starts.partition_point(|&s| s <= row) - 1;
            if p >= self.parts.len() {
                return Err(GmmError::InvalidData(format!(
                    "{}: rows {start}..{} asked of {} rows",
                    self.describe(),
                    start + len,
                    self.n_rows()
                )));
            }
            let take = (self.starts[p + 1] - row).min(len - done);
            let block = self.parts[p].read_columns(row - self.starts[p], take)?;
            out.columns_mut(done, take).copy_from(&block);
            done += take;
        }
        Ok(out)
    }

    fn describe(&self) -> String {
        match self.parts.len() {
            1 => self.parts[0].describe(),
            n => format!("{} … ({n} files)", self.parts[0].describe()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows whose values say where they are: row i, column j holds 10 i + j.
    struct Counting {
        n: usize,
        offset: usize,
    }

    impl RowSource for Counting {
        fn n_rows(&self) -> usize {
            self.n
        }
        fn n_features(&self) -> usize {
            2
        }
        fn read_columns(&mut self, start: usize, len: usize) -> Result<DMatrix<f64>> {
            assert!(start + len <= self.n);
            Ok(DMatrix::from_fn(2, len, |j, i| {
                (10 * (self.offset + start + i) + j) as f64
            }))
        }
        fn describe(&self) -> String {
            "counting".into()
        }
    }

    #[test]
    fn ranges_and_concatenations_read_the_rows_they_name() {
        let whole = Counting { n: 9, offset: 0 }.read_columns(0, 9).unwrap();
        let mut range = RowRange::new(Counting { n: 9, offset: 0 }, 3, 5).unwrap();
        assert_eq!(range.n_rows(), 5);
        assert_eq!(range.read_columns(1, 3).unwrap(), whole.columns(4, 3));
        assert!(range.read_columns(4, 2).is_err());
        assert!(RowRange::new(Counting { n: 9, offset: 0 }, 5, 5).is_err());
        let parts: Vec<Box<dyn RowSource>> = vec![
            Box::new(Counting { n: 2, offset: 0 }),
            Box::new(Counting { n: 0, offset: 2 }),
            Box::new(Counting { n: 4, offset: 2 }),
            Box::new(Counting { n: 3, offset: 6 }),
        ];
        let mut all = ConcatRows::new(parts).unwrap();
        assert_eq!(all.n_rows(), 9);
        assert_eq!(all.read_columns(0, 9).unwrap(), whole);
        assert_eq!(all.read_columns(1, 6).unwrap(), whole.columns(1, 6));
        assert!(ConcatRows::new(Vec::new()).is_err());
    }
}
