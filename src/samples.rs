//! Validated data: an N × D matrix (one sample per row) checked once, at the door, so that no
//! engine checks it again.
//!
//! - [`Samples::new`]: every value finite, N ≥ 2, D ≥ 1 — the data of a fit.
//! - [`Samples::with_missing`]: NaN means "missing" (EM with missing values); ±inf is still an
//!   error, and every row must keep at least one observed value.
//! - [`Samples::chunk`]: any number of rows (zero included), finite — the rows whose
//!   statistics one [`crate::Engine`] computes, for instance one shard of a larger data set.
//! - [`Samples::streamed`]: rows read on demand from a [`RowSource`] (a file larger than
//!   memory, read in chunks every EM iteration); each chunk is checked as it is read.
//! - [`Samples::gpu_buffer`]: data that already live in a `wgpu::Buffer` of an application
//!   (f32, row-major); they are never read back, so their values are not checked here (the GPU
//!   engine reports non-finite statistics instead).
//!
//! A `Samples` borrows the caller's matrix when given a reference (no copy) and owns it when
//! given a matrix. [`Samples::weighted`] attaches a weight to every sample: the fit then
//! maximises Σ w_i log p(x_i), so an integer weight counts like that many copies of the row.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, OnceLock};

use nalgebra::{DMatrix, DVector};

use crate::collective::{exchange_with, Collective};
use crate::error::{GmmError, Result};

/// A matrix given by reference (borrowed, no copy) or by value (owned).
pub trait MatrixInput<'a> {
    /// The matrix, borrowed or owned.
    fn into_cow(self) -> Cow<'a, DMatrix<f64>>;
}

impl<'a> MatrixInput<'a> for &'a DMatrix<f64> {
    fn into_cow(self) -> Cow<'a, DMatrix<f64>> {
        Cow::Borrowed(self)
    }
}

impl MatrixInput<'static> for DMatrix<f64> {
    fn into_cow(self) -> Cow<'static, DMatrix<f64>> {
        Cow::Owned(self)
    }
}

/// Rows read on demand: out-of-core data, such as a `.npy` file read in chunks
/// (`gaussmix::io::NpyRows`).
pub trait RowSource: Send {
    /// Number of rows N.
    fn n_rows(&self) -> usize;
    /// Number of features D.
    fn n_features(&self) -> usize;
    /// Rows `start..start + len` as columns (D × len). Every value must be finite; otherwise
    /// an error that names the row and the column.
    fn read_columns(&mut self, start: usize, len: usize) -> Result<DMatrix<f64>>;
    /// What the rows are, for messages (a file name).
    fn describe(&self) -> String;
    /// Hands back a matrix an earlier [`RowSource::read_columns`] returned, once it is no
    /// longer needed, so that the next read may reuse its memory (a streamed pass reads
    /// many chunks of one size); by default it is dropped.
    fn recycle(&mut self, _used: DMatrix<f64>) {}
}

impl<T: RowSource + ?Sized> RowSource for Box<T> {
    fn n_rows(&self) -> usize {
        (**self).n_rows()
    }

    fn n_features(&self) -> usize {
        (**self).n_features()
    }

    fn read_columns(&mut self, start: usize, len: usize) -> Result<DMatrix<f64>> {
        (**self).read_columns(start, len)
    }

    fn describe(&self) -> String {
        (**self).describe()
    }

    fn recycle(&mut self, used: DMatrix<f64>) {
        (**self).recycle(used)
    }
}

/// A [`RowSource`] and the rows per chunk it is read in.
#[derive(Clone)]
pub(crate) struct Stream {
    pub(crate) source: Arc<Mutex<dyn RowSource>>,
    pub(crate) chunk_rows: usize,
    pub(crate) name: String,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Stream({}, {} rows per chunk)",
            self.name, self.chunk_rows
        )
    }
}

/// This member's rows of data spread over a [`Collective`] group.
#[derive(Clone)]
pub(crate) struct Distributed<'a> {
    pub(crate) local: Box<Samples<'a>>,
    pub(crate) group: Arc<dyn Collective>,
}

impl std::fmt::Debug for Distributed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Distributed({}, {} local rows)",
            self.group.describe(),
            self.local.n
        )
    }
}

/// Where the values are.
#[derive(Debug, Clone)]
enum Data<'a> {
    /// This member's rows, the others' on other members.
    Distributed(Distributed<'a>),
    /// Read in chunks from a source, every pass.
    Streamed(Stream),
    Host(Cow<'a, DMatrix<f64>>),
    /// One sample per column (D × N), the CPU engine's layout; the N × D form is made only if
    /// a path asks for it.
    Columns {
        xt: Arc<DMatrix<f64>>,
        rows: OnceLock<DMatrix<f64>>,
    },
    #[cfg(feature = "gpu")]
    Buffer(&'a wgpu::Buffer),
}

/// An N × D data matrix that has been validated; see the module documentation.
#[derive(Debug, Clone)]
pub struct Samples<'a> {
    data: Data<'a>,
    n: usize,
    d: usize,
    missing: bool,
    weights: Option<Arc<DVector<f64>>>,
}

impl<'a> Samples<'a> {
    /// The data of a fit: N ≥ 2 rows, D ≥ 1 columns, every value finite.
    pub fn new(x: impl MatrixInput<'a>) -> Result<Self> {
        let x = x.into_cow();
        check_shape(&x)?;
        check_finite(&x)?;
        Ok(Self::host(x, false))
    }

    /// Data with missing values: NaN marks a missing entry; ±inf is an error. A row with no
    /// observed value is allowed (it carries no information about the mixture but its
    /// weights). Without any NaN this is [`Samples::new`].
    pub fn with_missing(x: impl MatrixInput<'a>) -> Result<Self> {
        let x = x.into_cow();
        check_shape(&x)?;
        let mut missing = false;
        for i in 0..x.nrows() {
            for j in 0..x.ncols() {
                let v = x[(i, j)];
                if v.is_nan() {
                    missing = true;
                } else if v.is_infinite() {
                    return Err(GmmError::NonFinite {
                        row: i,
                        column: j,
                        value: v,
                    });
                }
            }
        }
        Ok(Self::host(x, missing))
    }

    /// Rows whose statistics are computed on their own (one chunk or shard of larger data):
    /// any number of rows, at least one column, every value finite.
    pub fn chunk(x: impl MatrixInput<'a>) -> Result<Self> {
        let x = x.into_cow();
        if x.ncols() == 0 {
            return Err(GmmError::InvalidData(
                "the data have no columns; give at least one feature".into(),
            ));
        }
        check_finite(&x)?;
        Ok(Self::host(x, false))
    }

    /// [`Samples::chunk`] given one sample per column (D × n, any n, zero included): a
    /// member's rows of distributed data as a C-order `.npy` holds them, used in place.
    pub fn chunk_columns(xt: DMatrix<f64>) -> Result<Samples<'static>> {
        let (d, n) = xt.shape();
        if d == 0 {
            return Err(GmmError::InvalidData(
                "the data have no columns; give at least one feature".into(),
            ));
        }
        check_finite_columns(&xt)?;
        Ok(Samples {
            data: Data::Columns {
                xt: Arc::new(xt),
                rows: OnceLock::new(),
            },
            n,
            d,
            missing: false,
            weights: None,
        })
    }

    /// `n_samples × n_features` f32 values, row-major, in a buffer with
    /// `BufferUsages::STORAGE` on the device the fit runs on. The values are not read back or
    /// checked; the shape is.
    #[cfg(feature = "gpu")]
    pub fn gpu_buffer(
        buffer: &'a wgpu::Buffer,
        n_samples: usize,
        n_features: usize,
    ) -> Result<Self> {
        if n_samples < 2 || n_features == 0 {
            return Err(GmmError::InvalidData(format!(
                "the buffer is said to hold {n_samples} samples × {n_features} features; give at least two samples with at least one feature"
            )));
        }
        let need = (n_samples as u64) * (n_features as u64) * 4;
        if buffer.size() < need {
            return Err(GmmError::InvalidData(format!(
                "the buffer has {} bytes, fewer than the {need} of {n_samples} × {n_features} f32 values",
                buffer.size()
            )));
        }
        Ok(Samples {
            data: Data::Buffer(buffer),
            n: n_samples,
            d: n_features,
            missing: false,
            weights: None,
        })
    }

    fn host(x: Cow<'a, DMatrix<f64>>, missing: bool) -> Self {
        let (n, d) = x.shape();
        Samples {
            data: Data::Host(x),
            n,
            d,
            missing,
            weights: None,
        }
    }

    /// Number of samples N.
    pub fn n_samples(&self) -> usize {
        self.n
    }

    /// Number of features D.
    pub fn n_features(&self) -> usize {
        self.d
    }

    /// Whether some entries are missing (NaN).
    pub fn has_missing(&self) -> bool {
        self.missing
    }

    /// The same samples with a weight each (scikit-learn's `sample_weight`): N finite values
    /// ≥ 0, not all zero. The fit maximises Σ w_i log p(x_i): the statistics, the lower bound
    /// (a weighted mean) and the k-means initialisation are weighted, so integer weights act
    /// as repeated rows.
    pub fn weighted(mut self, weights: &[f64]) -> Result<Self> {
        check_weights(weights, self.n)?;
        self.weights = Some(Arc::new(DVector::from_column_slice(weights)));
        Ok(self)
    }

    /// The sample weights, when given.
    pub fn weights(&self) -> Option<&Arc<DVector<f64>>> {
        self.weights.as_ref()
    }

    /// The data of a fit given one sample per column (D × N: what a C-order `.npy` file or
    /// a row-major buffer holds), with the checks of [`Samples::new`]. The CPU engine uses
    /// this matrix as it is, without a transposed copy.
    pub fn from_columns(xt: DMatrix<f64>) -> Result<Samples<'static>> {
        check_dims(xt.ncols(), xt.nrows())?;
        Self::chunk_columns(xt)
    }

    /// Rows read from `source` in chunks of `chunk_rows` (≥ 1) every pass, never all in
    /// memory: N ≥ 2, D ≥ 1; the values are checked as each chunk is read.
    pub fn streamed(
        source: impl RowSource + 'static,
        chunk_rows: usize,
    ) -> Result<Samples<'static>> {
        let (n, d) = (source.n_rows(), source.n_features());
        check_dims(n, d)?;
        if chunk_rows == 0 {
            return Err(GmmError::param(
                "chunk_rows",
                0,
                "read at least one row per chunk",
            ));
        }
        let name = source.describe();
        Ok(Samples {
            data: Data::Streamed(Stream {
                source: Arc::new(Mutex::new(source)),
                chunk_rows,
                name,
            }),
            n,
            d,
            missing: false,
            weights: None,
        })
    }

    /// Data spread over the members of `group` (the processes of an MPI job, say): this
    /// member's rows are `local` (in memory, from [`Samples::chunk`], which allows zero rows,
    /// or [`Samples::streamed`]), or the error of reading them. This is a collective: every
    /// member calls it, and when any member's `local` is an error, every member gets an
    /// error naming that member. N is the total over the members; every member must have the
    /// same number of features. The fit then gives every member the same model, equal to
    /// the fit of all the rows in rank order on one process.
    pub fn distributed(
        local: Result<Samples<'a>>,
        group: Arc<dyn Collective>,
    ) -> Result<Samples<'a>> {
        let local = local.and_then(|s| {
            if s.missing || s.weights.is_some() {
                return Err(GmmError::InvalidData(
                    "a distributed fit takes complete, unweighted rows (missing values and sample weights are fitted on one process)".into(),
                ));
            }
            match s.data {
                Data::Host(_) | Data::Columns { .. } | Data::Streamed(_) => Ok(s),
                _ => Err(GmmError::InvalidData(
                    "a member's rows must be on its host (in memory or streamed from a file)"
                        .into(),
                )),
            }
        });
        let (local, shapes) =
            exchange_with(group.as_ref(), local, |s| vec![s.n as f64, s.d as f64])?;
        let n: usize = shapes.iter().map(|s| s[0] as usize).sum();
        if let Some((rank, s)) = shapes
            .iter()
            .enumerate()
            .find(|(_, s)| s[1] as usize != local.d)
        {
            return Err(GmmError::InvalidData(format!(
                "rank {rank} has {} features and rank {} has {}: every member's rows need the same columns",
                s[1],
                group.rank(),
                local.d
            )));
        }
        check_dims(n, local.d)?;
        let d = local.d;
        Ok(Samples {
            data: Data::Distributed(Distributed {
                local: Box::new(local),
                group,
            }),
            n,
            d,
            missing: false,
            weights: None,
        })
    }

    /// This member's part, when the data are spread over a group.
    pub(crate) fn distributed_part(&self) -> Option<&Distributed<'a>> {
        match &self.data {
            Data::Distributed(p) => Some(p),
            _ => None,
        }
    }

    /// The stream, when the data are read in chunks.
    pub(crate) fn stream(&self) -> Option<&Stream> {
        match &self.data {
            Data::Streamed(s) => Some(s),
            _ => None,
        }
    }

    /// The samples as columns (D × N), when they were given that way.
    pub(crate) fn columns(&self) -> Option<Arc<DMatrix<f64>>> {
        match &self.data {
            Data::Columns { xt, .. } => Some(Arc::clone(xt)),
            _ => None,
        }
    }

    /// The matrix, when the data are on the host.
    pub fn host_matrix(&self) -> Option<&DMatrix<f64>> {
        match &self.data {
            Data::Host(x) => Some(x),
            Data::Columns { xt, rows } => Some(rows.get_or_init(|| xt.transpose())),
            Data::Streamed(_) | Data::Distributed(_) => None,
            #[cfg(feature = "gpu")]
            Data::Buffer(_) => None,
        }
    }

    /// The matrix, or the error that the data live only on a device.
    pub(crate) fn matrix(&self) -> Result<&DMatrix<f64>> {
        self.host_matrix().ok_or_else(|| match &self.data {
            Data::Streamed(s) => GmmError::InvalidData(format!(
                "the data are streamed from {} (not in memory); this needs them in memory",
                s.name
            )),
            Data::Distributed(p) => GmmError::InvalidData(format!(
                "the data are spread over a group ({}); this needs them all in one place",
                p.group.describe()
            )),
            _ => GmmError::InvalidData(
                "the data live only in a GPU buffer; this needs them on the host".into(),
            ),
        })
    }

    /// The application's buffer, when the data live on a device.
    #[cfg(feature = "gpu")]
    pub(crate) fn buffer(&self) -> Option<&'a wgpu::Buffer> {
        match self.data {
            Data::Buffer(b) => Some(b),
            Data::Host(_) | Data::Columns { .. } | Data::Streamed(_) | Data::Distributed(_) => None,
        }
    }
}

/// Every value of `xt` (one sample per column) finite, or the error naming the first that
/// is not.
fn check_finite_columns(xt: &DMatrix<f64>) -> Result<()> {
    match xt.iter().position(|v| !v.is_finite()) {
        Some(t) => Err(GmmError::NonFinite {
            row: t / xt.nrows(),
            column: t % xt.nrows(),
            value: xt[t],
        }),
        None => Ok(()),
    }
}

/// At least two samples and one feature.
fn check_shape(x: &DMatrix<f64>) -> Result<()> {
    check_dims(x.nrows(), x.ncols())
}

fn check_dims(n: usize, d: usize) -> Result<()> {
    if n == 0 || d == 0 {
        return Err(GmmError::InvalidData(format!(
            "the data are empty ({n} rows × {d} columns); give at least two samples with at least one feature"
        )));
    }
    if n < 2 {
        return Err(GmmError::InvalidData(
            "only one sample: a mixture needs at least two samples to estimate a covariance".into(),
        ));
    }
    Ok(())
}

/// Fails on the first non-finite entry, naming its row and column (row-major scan).
pub(crate) fn check_finite(x: &DMatrix<f64>) -> Result<()> {
    if x.iter().all(|v| v.is_finite()) {
        return Ok(());
    }
    for i in 0..x.nrows() {
        for j in 0..x.ncols() {
            let v = x[(i, j)];
            if !v.is_finite() {
                return Err(GmmError::NonFinite {
                    row: i,
                    column: j,
                    value: v,
                });
            }
        }
    }
    Ok(())
}

/// Σ w_i v_i over the samples of positive weight: a sample of weight zero adds nothing, not
/// even a −∞ log-density. The weights are not checked.
pub(crate) fn weighted_total(values: &[f64], weights: &[f64]) -> f64 {
    values
        .iter()
        .zip(weights)
        .filter(|(_, &w)| w != 0.0)
        .map(|(v, w)| v * w)
        .sum()
}

/// The weighted mean Σ w_i v_i / Σ w_i of `values` and the total weight Σ w_i, after
/// [`check_weights`] (one weight per value).
pub fn weighted_mean(values: &[f64], weights: &[f64]) -> Result<(f64, f64)> {
    check_weights(weights, values.len())?;
    let total: f64 = weights.iter().sum();
    Ok((weighted_total(values, weights) / total, total))
}

/// Checks sample weights: one per sample, finite, ≥ 0, with a positive sum.
pub fn check_weights(weights: &[f64], n: usize) -> Result<()> {
    if weights.len() != n {
        return Err(GmmError::param(
            "sample_weight",
            format!("{} weights", weights.len()),
            format!("give one weight per sample ({n})"),
        ));
    }
    if let Some((i, &w)) = weights
        .iter()
        .enumerate()
        .find(|(_, w)| !(w.is_finite() && **w >= 0.0))
    {
        return Err(GmmError::param(
            "sample_weight",
            format!("{w} at row {i}"),
            "weights must be finite and ≥ 0",
        ));
    }
    if weights.iter().sum::<f64>() <= 0.0 {
        return Err(GmmError::param(
            "sample_weight",
            "all zero",
            "at least one sample needs a positive weight",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_checked_once_at_the_door() {
        let mut x = DMatrix::from_fn(3, 2, |i, j| (i + j) as f64);
        let s = Samples::new(&x).unwrap();
        assert_eq!(
            (s.n_samples(), s.n_features(), s.has_missing()),
            (3, 2, false)
        );
        x[(2, 1)] = f64::NAN;
        let err = Samples::new(&x).unwrap_err().to_string();
        assert!(err.contains("row 2, column 1"), "{err}");
        assert!(Samples::with_missing(&x).unwrap().has_missing());
        x[(1, 0)] = f64::INFINITY;
        assert!(Samples::with_missing(&x)
            .unwrap_err()
            .to_string()
            .contains("row 1, column 0"));
        let all_missing = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, f64::NAN, f64::NAN]);
        assert!(Samples::with_missing(&all_missing).unwrap().has_missing());
        assert!(Samples::new(DMatrix::<f64>::zeros(1, 3))
            .unwrap_err()
            .to_string()
            .contains("one sample"));
        assert!(Samples::new(DMatrix::<f64>::zeros(4, 0))
            .unwrap_err()
            .to_string()
            .contains("empty"));
        assert_eq!(
            Samples::chunk(DMatrix::<f64>::zeros(0, 3))
                .unwrap()
                .n_samples(),
            0
        );
    }
}
