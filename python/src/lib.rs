//! `gaussmix._gaussmix`: the Rust engine under the `gaussmix` Python package.
//!
//! The Python layer (`gaussmix/_mixture.py`) holds the scikit-learn interface, validation and
//! messages; this module only moves arrays in and out and runs the library with the GIL
//! released.
//!
//! - Data come in as 2-D float32 or float64 NumPy arrays of any memory order and are read
//!   in place (no Python-side copy); the engine builds its own f64 layout once.
//! - Fits release the GIL and, between EM iterations, take it back to run the progress
//!   callback and `PyErr_CheckSignals`: a Ctrl-C stops the fit cleanly and is raised as
//!   `KeyboardInterrupt`.
//! - A fitted model is a `Model`; pickling goes through the CLI's `.npz` model format
//!   (`to_bytes` / `from_bytes`), which also holds low-rank models.

use std::ops::ControlFlow;
use std::sync::{Arc, OnceLock};

use nalgebra::{DMatrix, DVector};
use numpy::ndarray::{Array1, Array2, Array3, ArrayView2, ArrayViewD, IxDyn};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArrayDyn,
    PyUntypedArrayMethods,
};
use pyo3::create_exception;
use pyo3::exceptions::{
    PyKeyboardInterrupt, PyMemoryError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use gaussmix::condition::{ConditionalMixture, PatternConditioner};
use gaussmix::covariance::{precision_cholesky_of, CovarianceType, Covariances};
use gaussmix::forecast::{ForecastConfig, TransformChoice};
use gaussmix::missing::ImputeMode;
use gaussmix::variational::{CovariancePrior, VariationalConfig, WeightConcentration};
use gaussmix::{
    Device, DeviceChoice, FitConfig, FitOptions, FullPath, GaussianMixture, GmmError, InitMethod,
    IterationEvent, MixtureParams, Samples,
};

create_exception!(
    _gaussmix,
    GpuError,
    PyRuntimeError,
    "The GPU could not be used (no adapter, device lost, out of memory, a device limit)."
);
create_exception!(
    _gaussmix,
    DenseTooLargeError,
    PyMemoryError,
    "A dense D × D array of a low-rank model would exceed the allowed size."
);

/// A library error as the Python exception scikit-learn would raise for it.
fn py_err(e: GmmError) -> PyErr {
    match e {
        GmmError::Interrupted(m) => PyKeyboardInterrupt::new_err(m),
        e if e.is_gpu() => GpuError::new_err(e.to_string()),
        GmmError::InvalidParameter {
            name: "dense export",
            ..
        } => DenseTooLargeError::new_err(e.to_string()),
        e => PyValueError::new_err(e.to_string()),
    }
}

/// Samples and their labels, as NumPy arrays.
type Draws<'py> = (Bound<'py, PyArray2<f64>>, Bound<'py, PyArray1<i64>>);
/// Lower and upper ends of intervals.
type Bounds<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>);

/// Data read in place: a float64 or float32 2-D array of any layout.
enum Data<'py> {
    F64(PyReadonlyArray2<'py, f64>),
    F32(PyReadonlyArray2<'py, f32>),
}

impl<'py> Data<'py> {
    fn extract(x: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(a) = x.extract::<PyReadonlyArray2<'py, f64>>() {
            return Ok(Data::F64(a));
        }
        if let Ok(a) = x.extract::<PyReadonlyArray2<'py, f32>>() {
            return Ok(Data::F32(a));
        }
        Err(PyTypeError::new_err(
            "expected a 2-D numpy array of float32 or float64 (native byte order)",
        ))
    }

    fn view(&self) -> View<'_> {
        match self {
            Data::F64(a) => View::F64(a.as_array()),
            Data::F32(a) => View::F32(a.as_array()),
        }
    }
}

/// A view of the data that may cross into a GIL-free closure.
enum View<'a> {
    F64(ArrayView2<'a, f64>),
    F32(ArrayView2<'a, f32>),
}

impl View<'_> {
    /// (rows, columns).
    fn dim(&self) -> (usize, usize) {
        match self {
            View::F64(v) => v.dim(),
            View::F32(v) => v.dim(),
        }
    }

    /// The engine's f64 column-major matrix, built once from the caller's buffer.
    fn to_matrix(&self) -> DMatrix<f64> {
        match self {
            View::F64(v) => to_matrix(v),
            View::F32(v) => to_matrix(v),
        }
    }
}

fn to_matrix<T: Copy + Into<f64>>(v: &ArrayView2<'_, T>) -> DMatrix<f64> {
    let (n, d) = v.dim();
    let mut out = vec![0.0f64; n * d];
    if let Some(s) = v.as_slice() {
        // C order: transpose in blocks of rows so that reads and writes stay in cache.
        const B: usize = 64;
        for i0 in (0..n).step_by(B) {
            let i1 = (i0 + B).min(n);
            for j in 0..d {
                let col = &mut out[j * n..(j + 1) * n];
                for i in i0..i1 {
                    col[i] = s[i * d + j].into();
                }
            }
        }
    } else if let Some(s) = v.t().as_slice() {
        // Fortran order: already column-major.
        for (o, &x) in out.iter_mut().zip(s) {
            *o = x.into();
        }
    } else {
        for j in 0..d {
            for i in 0..n {
                out[j * n + i] = v[[i, j]].into();
            }
        }
    }
    DMatrix::from_vec(n, d, out)
}

fn matrix_to_array(m: &DMatrix<f64>) -> Array2<f64> {
    Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)])
}

fn matrices_to_array(ms: &[DMatrix<f64>], d: usize) -> Array3<f64> {
    Array3::from_shape_fn((ms.len(), d, d), |(k, i, j)| ms[k][(i, j)])
}

fn vector_to_array(v: &DVector<f64>) -> Array1<f64> {
    Array1::from_iter(v.iter().copied())
}

/// Dense covariances (or precisions) of type `t` from an array in scikit-learn's layout.
fn covariances_from_array(
    t: CovarianceType,
    a: ArrayViewD<'_, f64>,
    k: usize,
    d: usize,
    what: &str,
) -> PyResult<Covariances> {
    let shape = a.shape().to_vec();
    let expected: Vec<usize> = match t {
        CovarianceType::Full => vec![k, d, d],
        CovarianceType::Tied => vec![d, d],
        CovarianceType::Diag => vec![k, d],
        CovarianceType::Spherical => vec![k],
    };
    if shape != expected {
        return Err(PyValueError::new_err(format!(
            "The parameter '{what}' should have the shape of {}, but got {}",
            py_shape(&expected),
            py_shape(&shape)
        )));
    }
    let at = |idx: &[usize]| a[IxDyn(idx)];
    Ok(match t {
        CovarianceType::Full => Covariances::Full(
            (0..k)
                .map(|c| DMatrix::from_fn(d, d, |i, j| at(&[c, i, j])))
                .collect(),
        ),
        CovarianceType::Tied => Covariances::Tied(DMatrix::from_fn(d, d, |i, j| at(&[i, j]))),
        CovarianceType::Diag => Covariances::Diag(DMatrix::from_fn(k, d, |i, j| at(&[i, j]))),
        CovarianceType::Spherical => Covariances::Spherical(DVector::from_fn(k, |i, _| at(&[i]))),
    })
}

/// A covariance prior in scikit-learn's layout for the type: (D, D) for full and tied, (D,)
/// for diag, a scalar for spherical.
fn covariance_prior_from_array(
    t: CovarianceType,
    a: ArrayViewD<'_, f64>,
    d: usize,
) -> PyResult<CovariancePrior> {
    let shape = a.shape().to_vec();
    let expected: Vec<usize> = match t {
        CovarianceType::Full | CovarianceType::Tied => vec![d, d],
        CovarianceType::Diag => vec![d],
        CovarianceType::Spherical => vec![],
    };
    if shape != expected {
        return Err(PyValueError::new_err(format!(
            "The parameter 'covariance_prior' should have the shape of {}, but got {}",
            py_shape(&expected),
            py_shape(&shape)
        )));
    }
    let v: Vec<f64> = a.iter().copied().collect();
    Ok(match t {
        CovarianceType::Full | CovarianceType::Tied => {
            CovariancePrior::Matrix(DMatrix::from_row_slice(d, d, &v))
        }
        CovarianceType::Diag => CovariancePrior::Diagonal(DVector::from_vec(v)),
        CovarianceType::Spherical => CovariancePrior::Scalar(v[0]),
    })
}

fn py_shape(s: &[usize]) -> String {
    match s {
        [a] => format!("({a},)"),
        _ => format!(
            "({})",
            s.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn parse<T: std::str::FromStr<Err = GmmError>>(s: &str) -> PyResult<T> {
    s.parse::<T>().map_err(py_err)
}

/// Resolves `device` for queries: the GPU only when asked for (`gpu`); `auto` and `cpu` query
/// on the CPU in f64 (scikit-learn's numbers).
fn query_device(device: &str) -> PyResult<Device> {
    match parse::<DeviceChoice>(device)? {
        DeviceChoice::Gpu => Device::gpu().map_err(py_err),
        _ => Ok(Device::Cpu),
    }
}

/// A fitted (or loaded, or built) Gaussian mixture.
#[pyclass(module = "gaussmix._gaussmix", frozen)]
struct Model {
    inner: Arc<GaussianMixture>,
}

impl Model {
    fn new(m: GaussianMixture) -> Self {
        Model { inner: Arc::new(m) }
    }

    /// The bytes of one dense covariance-shaped array of this model.
    fn dense_bytes(&self) -> u128 {
        let (k, d) = (
            self.inner.n_components() as u128,
            self.inner.n_features() as u128,
        );
        match self.inner.covariance_type() {
            CovarianceType::Full => k * d * d * 8,
            CovarianceType::Tied => d * d * 8,
            CovarianceType::Diag => k * d * 8,
            CovarianceType::Spherical => k * 8,
        }
    }

    /// Dense covariances (for a low-rank model, formed if they fit in `max_bytes`).
    fn dense_covariances(&self, max_bytes: u64) -> PyResult<Covariances> {
        match self.inner.covariances() {
            Covariances::LowRank(lr) => {
                let max = usize::try_from(max_bytes).unwrap_or(usize::MAX);
                Ok(Covariances::Full(lr.to_dense(max).map_err(py_err)?))
            }
            dense => Ok(dense.clone()),
        }
    }

    fn dense_precision_factors(&self, max_bytes: u64) -> PyResult<Covariances> {
        match self.inner.covariances() {
            Covariances::LowRank(_) => {
                let reg = self.inner.reg_covar();
                match self.dense_covariances(max_bytes)? {
                    Covariances::Full(cs) => Ok(Covariances::Full(
                        cs.iter()
                            .enumerate()
                            .map(|(k, c)| precision_cholesky_of(c, k, reg))
                            .collect::<gaussmix::Result<_>>()
                            .map_err(py_err)?,
                    )),
                    _ => unreachable!("low-rank models are full"),
                }
            }
            _ => Ok(self.inner.precisions().cholesky.clone()),
        }
    }
}

fn covariances_to_py(py: Python<'_>, c: &Covariances, d: usize) -> Py<PyAny> {
    match c {
        Covariances::Full(ms) => matrices_to_array(ms, d)
            .into_pyarray(py)
            .into_any()
            .unbind(),
        Covariances::Tied(m) | Covariances::Diag(m) => {
            matrix_to_array(m).into_pyarray(py).into_any().unbind()
        }
        Covariances::Spherical(v) => vector_to_array(v).into_pyarray(py).into_any().unbind(),
        Covariances::LowRank(_) => unreachable!("densified before"),
    }
}

fn precisions_from_factors(c: &Covariances) -> Covariances {
    match c {
        Covariances::Full(us) => Covariances::Full(us.iter().map(|u| u * u.transpose()).collect()),
        Covariances::Tied(u) => Covariances::Tied(u * u.transpose()),
        Covariances::Diag(p) => Covariances::Diag(p.map(|x| x * x)),
        Covariances::Spherical(p) => Covariances::Spherical(p.map(|x| x * x)),
        Covariances::LowRank(_) => unreachable!("densified before"),
    }
}

#[pymethods]
impl Model {
    /// A model from the bytes of an `.npz` model file (the CLI's format).
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        let bytes = data.to_vec();
        let m = py
            .detach(move || gaussmix::io::model_from_bytes(bytes))
            .map_err(py_err)?;
        Ok(Model::new(m))
    }

    /// A model from its parameters in scikit-learn's layout: `covariances` or, when it is
    /// `None`, `precisions_cholesky`.
    #[staticmethod]
    #[pyo3(signature = (covariance_type, weights, means, covariances=None, precisions_cholesky=None, reg_covar=1e-6))]
    fn from_params(
        covariance_type: &str,
        weights: PyReadonlyArray1<'_, f64>,
        means: PyReadonlyArray2<'_, f64>,
        covariances: Option<PyReadonlyArrayDyn<'_, f64>>,
        precisions_cholesky: Option<PyReadonlyArrayDyn<'_, f64>>,
        reg_covar: f64,
    ) -> PyResult<Self> {
        let t: CovarianceType = parse(covariance_type)?;
        let w = DVector::from_iterator(weights.len(), weights.as_array().iter().copied());
        let mu = to_matrix(&means.as_array());
        let (k, d) = mu.shape();
        if w.len() != k {
            return Err(PyValueError::new_err(format!(
                "The parameter 'weights' should have the shape of ({k},), but got ({},)",
                w.len()
            )));
        }
        let covs = match (covariances, precisions_cholesky) {
            (Some(c), _) => covariances_from_array(t, c.as_array(), k, d, "covariances")?,
            (None, Some(u)) => {
                let u = covariances_from_array(t, u.as_array(), k, d, "precisions_cholesky")?;
                gaussmix::Precisions {
                    cholesky: u,
                    log_det_cholesky: DVector::zeros(0),
                }
                .to_covariances()
                .map_err(py_err)?
            }
            (None, None) => {
                return Err(PyValueError::new_err(
                    "give covariances or precisions_cholesky",
                ))
            }
        };
        let params = MixtureParams::new(w, mu, covs, reg_covar).map_err(py_err)?;
        Ok(Model::new(GaussianMixture::from_params(params, reg_covar)))
    }

    /// Pickles as the bytes of the CLI's model file (low-rank models included).
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let module = py.import("gaussmix._gaussmix")?;
        Ok((module.getattr("model_from_bytes")?, (self.to_bytes(py)?,)))
    }

    /// The model as the bytes of an `.npz` model file (the CLI's format).
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let inner = &self.inner;
        let bytes = py
            .detach(|| gaussmix::io::model_to_bytes(inner))
            .map_err(py_err)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// A copy with the fit information of another model file's summary (n_iter, lower bounds…).
    #[pyo3(signature = (converged, n_iter, lower_bound, lower_bounds))]
    fn with_summary(
        &self,
        converged: bool,
        n_iter: usize,
        lower_bound: f64,
        lower_bounds: Vec<f64>,
    ) -> Self {
        let mut m = (*self.inner).clone();
        let mut s = m.summary().clone();
        s.converged = converged;
        s.n_iter = n_iter;
        s.lower_bound = lower_bound;
        s.lower_bound_history = lower_bounds;
        m.set_summary(s);
        Model::new(m)
    }

    #[getter]
    fn covariance_type(&self) -> &'static str {
        self.inner.covariance_type().as_str()
    }

    #[getter]
    fn n_components(&self) -> usize {
        self.inner.n_components()
    }

    #[getter]
    fn n_features(&self) -> usize {
        self.inner.n_features()
    }

    #[getter]
    fn reg_covar(&self) -> f64 {
        self.inner.reg_covar()
    }

    /// The priors and posterior of a variational fit with scikit-learn's attribute names
    /// (`weight_concentration_` a tuple (a, b) for a Dirichlet process), or `None`.
    fn variational<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(v) = self.inner.variational() else {
            return Ok(None);
        };
        let out = PyDict::new(py);
        let (post, p) = (&v.posterior, &v.priors);
        out.set_item("weight_concentration_prior_type", p.weight_prior.as_str())?;
        match &post.weight_concentration {
            WeightConcentration::Process { a, b } => out.set_item(
                "weight_concentration_",
                (
                    vector_to_array(a).into_pyarray(py),
                    vector_to_array(b).into_pyarray(py),
                ),
            )?,
            WeightConcentration::Distribution(alpha) => out.set_item(
                "weight_concentration_",
                vector_to_array(alpha).into_pyarray(py),
            )?,
        }
        out.set_item(
            "mean_precision_",
            vector_to_array(&post.mean_precision).into_pyarray(py),
        )?;
        if self.inner.covariance_type() == CovarianceType::Tied {
            out.set_item("degrees_of_freedom_", post.degrees_of_freedom[0])?;
        } else {
            out.set_item(
                "degrees_of_freedom_",
                vector_to_array(&post.degrees_of_freedom).into_pyarray(py),
            )?;
        }
        out.set_item("weight_concentration_prior_", p.weight_concentration)?;
        out.set_item("mean_precision_prior_", p.mean_precision)?;
        out.set_item("mean_prior_", vector_to_array(&p.mean).into_pyarray(py))?;
        out.set_item("degrees_of_freedom_prior_", p.degrees_of_freedom)?;
        match &p.covariance {
            CovariancePrior::Matrix(m) => {
                out.set_item("covariance_prior_", matrix_to_array(m).into_pyarray(py))?
            }
            CovariancePrior::Diagonal(d) => {
                out.set_item("covariance_prior_", vector_to_array(d).into_pyarray(py))?
            }
            CovariancePrior::Scalar(s) => out.set_item("covariance_prior_", *s)?,
        }
        out.set_item("effective_components", v.effective_components())?;
        Ok(Some(out))
    }

    /// Whether the covariances are held in the exact low-rank form (full, N < D).
    #[getter]
    fn is_low_rank(&self) -> bool {
        matches!(self.inner.covariances(), Covariances::LowRank(_))
    }

    /// Bytes of one dense covariance-shaped array (`covariances_`, `precisions_`, …).
    #[getter]
    fn dense_nbytes(&self) -> u128 {
        self.dense_bytes()
    }

    /// Number of free parameters (scikit-learn's count).
    #[getter]
    fn n_parameters(&self) -> usize {
        self.inner.n_parameters()
    }

    #[getter]
    fn converged(&self) -> bool {
        self.inner.summary().converged
    }

    #[getter]
    fn n_iter(&self) -> usize {
        self.inner.summary().n_iter
    }

    #[getter]
    fn lower_bound(&self) -> f64 {
        self.inner.summary().lower_bound
    }

    #[getter]
    fn lower_bounds<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.inner.summary().lower_bound_history)
    }

    #[getter]
    fn device(&self) -> String {
        self.inner.summary().device.clone()
    }

    #[getter]
    fn fallbacks(&self) -> Vec<String> {
        self.inner.summary().fallbacks.clone()
    }

    #[getter]
    fn seconds(&self) -> f64 {
        self.inner.summary().seconds
    }

    #[getter]
    fn n_init(&self) -> usize {
        self.inner.summary().n_init
    }

    #[getter]
    fn best_init(&self) -> usize {
        self.inner.summary().best_init
    }

    fn weights<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, self.inner.weights().as_slice())
    }

    fn means<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        matrix_to_array(self.inner.means()).into_pyarray(py)
    }

    /// `covariances_` (dense; a low-rank model's only if they fit in `max_bytes`).
    fn covariances(&self, py: Python<'_>, max_bytes: u64) -> PyResult<Py<PyAny>> {
        let c = py.detach(|| self.dense_covariances(max_bytes))?;
        Ok(covariances_to_py(py, &c, self.inner.n_features()))
    }

    /// `precisions_cholesky_` (dense; a low-rank model's only if they fit in `max_bytes`).
    fn precisions_cholesky(&self, py: Python<'_>, max_bytes: u64) -> PyResult<Py<PyAny>> {
        let u = py.detach(|| self.dense_precision_factors(max_bytes))?;
        Ok(covariances_to_py(py, &u, self.inner.n_features()))
    }

    /// `precisions_` (dense; a low-rank model's only if they fit in `max_bytes`).
    fn precisions(&self, py: Python<'_>, max_bytes: u64) -> PyResult<Py<PyAny>> {
        let p = py.detach(|| {
            self.dense_precision_factors(max_bytes)
                .map(|u| precisions_from_factors(&u))
        })?;
        Ok(covariances_to_py(py, &p, self.inner.n_features()))
    }

    /// `log p(x_i)` of every row.
    #[pyo3(signature = (x, device="cpu"))]
    fn score_samples<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        device: &str,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let data = Data::extract(x)?;
        let view = data.view();
        let dev = query_device(device)?;
        let inner = &self.inner;
        let v = py
            .detach(|| inner.score_samples_on(&view.to_matrix(), &dev))
            .map_err(py_err)?;
        Ok(PyArray1::from_slice(py, v.as_slice()))
    }

    /// Posterior probabilities, N × K.
    #[pyo3(signature = (x, device="cpu"))]
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        device: &str,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let data = Data::extract(x)?;
        let view = data.view();
        let dev = query_device(device)?;
        let inner = &self.inner;
        let p = py
            .detach(|| {
                inner
                    .predict_proba_on(&view.to_matrix(), &dev)
                    .map(|p| matrix_to_array(&p))
            })
            .map_err(py_err)?;
        Ok(p.into_pyarray(py))
    }

    /// Most probable component of every row.
    #[pyo3(signature = (x, device="cpu"))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        device: &str,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let data = Data::extract(x)?;
        let view = data.view();
        let dev = query_device(device)?;
        let inner = &self.inner;
        let labels = py
            .detach(|| inner.predict_on(&view.to_matrix(), &dev))
            .map_err(py_err)?;
        Ok(labels
            .into_iter()
            .map(|l| l as i64)
            .collect::<Vec<_>>()
            .into_pyarray(py))
    }

    /// `n` draws and their component labels, grouped by component; `seed` and `stream` pick
    /// gaussmix's own generator (ChaCha8).
    #[pyo3(signature = (n, seed, stream=0))]
    fn sample<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        seed: u64,
        stream: usize,
    ) -> PyResult<Draws<'py>> {
        let inner = &self.inner;
        let (x, labels) = py
            .detach(|| {
                let mut rng = gaussmix::seeded_rng(seed, stream);
                inner
                    .sample(n, &mut rng)
                    .map(|(x, l)| (matrix_to_array(&x), l))
            })
            .map_err(py_err)?;
        Ok((
            x.into_pyarray(py),
            labels
                .into_iter()
                .map(|l| l as i64)
                .collect::<Vec<_>>()
                .into_pyarray(py),
        ))
    }

    /// Fills the NaN entries of `x` with their conditional mean (or a draw, with a seed).
    #[pyo3(signature = (x, seed=None))]
    fn impute<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        seed: Option<u64>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let data = Data::extract(x)?;
        let view = data.view();
        let inner = &self.inner;
        let mode = match seed {
            Some(seed) => ImputeMode::Draw { seed },
            None => ImputeMode::Mean,
        };
        let out = py
            .detach(|| {
                gaussmix::missing::impute(inner.params(), &view.to_matrix(), mode)
                    .map(|m| matrix_to_array(&m))
            })
            .map_err(py_err)?;
        Ok(out.into_pyarray(py))
    }

    /// The conditional distributions of the other coordinates given the values `x_o` (one row
    /// per conditioning) of the coordinates `observed`.
    fn condition(
        &self,
        py: Python<'_>,
        observed: Vec<usize>,
        x_o: PyReadonlyArray2<'_, f64>,
    ) -> PyResult<Vec<Conditional>> {
        let rows = to_matrix(&x_o.as_array());
        let inner = &self.inner;
        let cond = py
            .detach(|| PatternConditioner::new(inner.params(), &observed))
            .map_err(py_err)?;
        if rows.ncols() != cond.observed().len() {
            return Err(PyValueError::new_err(format!(
                "{} observed values per row for {} observed coordinates",
                rows.ncols(),
                cond.observed().len()
            )));
        }
        let cond = Arc::new(cond);
        let mut out = Vec::with_capacity(rows.nrows());
        for i in 0..rows.nrows() {
            let x: Vec<f64> = rows.row(i).iter().copied().collect();
            // Fails now (not at the first query) when x_o has zero density.
            let (w, log_marginal) = cond.weights(&x).map_err(py_err)?;
            out.push(Conditional {
                cond: cond.clone(),
                x_o: x,
                weights: w,
                log_marginal,
                full: OnceLock::new(),
            });
        }
        Ok(out)
    }
}

/// The mixture over the other coordinates given observed values.
#[pyclass(module = "gaussmix._gaussmix", frozen)]
struct Conditional {
    cond: Arc<PatternConditioner>,
    x_o: Vec<f64>,
    weights: DVector<f64>,
    log_marginal: f64,
    full: OnceLock<ConditionalMixture>,
}

impl Conditional {
    /// The whole conditional mixture (with its M × M covariances), formed on first use.
    fn full(&self, py: Python<'_>) -> PyResult<&ConditionalMixture> {
        if let Some(f) = self.full.get() {
            return Ok(f);
        }
        let f = py
            .detach(|| self.cond.condition(&self.x_o))
            .map_err(py_err)?;
        Ok(self.full.get_or_init(|| f))
    }
}

#[pymethods]
impl Conditional {
    /// Indices of the observed coordinates.
    #[getter]
    fn observed(&self) -> Vec<usize> {
        self.cond.observed().to_vec()
    }

    /// Indices of the coordinates the distribution is over (increasing).
    #[getter]
    fn missing(&self) -> Vec<usize> {
        self.cond.missing().to_vec()
    }

    /// Posterior component weights given the observed values.
    #[getter]
    fn weights<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, self.weights.as_slice())
    }

    /// `log p(x_o)`, the marginal log-density of the observed values.
    #[getter]
    fn log_marginal(&self) -> f64 {
        self.log_marginal
    }

    /// The conditional mean `E[x_m | x_o]`.
    fn mean<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let m = py
            .detach(|| self.cond.conditional_mean(&self.x_o))
            .map_err(py_err)?;
        Ok(PyArray1::from_slice(py, m.as_slice()))
    }

    /// Per-component conditional means, K × M.
    fn component_means<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let k = self.cond.n_components();
        let m = self.cond.missing().len();
        let means: Vec<DVector<f64>> = py.detach(|| {
            (0..k)
                .map(|c| self.cond.component_mean(c, &self.x_o))
                .collect()
        });
        Ok(Array2::from_shape_fn((k, m), |(c, j)| means[c][j]).into_pyarray(py))
    }

    /// Per-component conditional covariances, K × M × M.
    fn component_covariances<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let f = self.full(py)?;
        let m = f.dim();
        Ok(matrices_to_array(&f.covariances, m)
            .into_pyarray(py)
            .into_any())
    }

    /// The covariance of the mixture (law of total variance), M × M.
    fn covariance<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let f = self.full(py)?;
        Ok(matrix_to_array(&f.covariance()).into_pyarray(py))
    }

    /// Per-coordinate variance.
    fn variance<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let f = self.full(py)?;
        Ok(PyArray1::from_slice(py, f.variance().as_slice()))
    }

    /// Central interval of probability `level` of every coordinate: (lower, upper).
    fn interval<'py>(&self, py: Python<'py>, level: f64) -> PyResult<Bounds<'py>> {
        let f = self.full(py)?;
        let (lo, hi) = py.detach(|| f.interval(level)).map_err(py_err)?;
        Ok((
            PyArray1::from_slice(py, lo.as_slice()),
            PyArray1::from_slice(py, hi.as_slice()),
        ))
    }

    /// The `p`-quantile of every coordinate.
    fn quantile<'py>(&self, py: Python<'py>, p: f64) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let f = self.full(py)?;
        let q = py
            .detach(|| {
                (0..f.dim())
                    .map(|j| f.quantile(j, p))
                    .collect::<gaussmix::Result<Vec<_>>>()
            })
            .map_err(py_err)?;
        Ok(PyArray1::from_vec(py, q))
    }

    /// `log p(x_m | x_o)` at the rows of `x_m` (n × M).
    fn log_density<'py>(
        &self,
        py: Python<'py>,
        x_m: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let f = self.full(py)?;
        let x = to_matrix(&x_m.as_array());
        let v = (0..x.nrows())
            .map(|i| f.log_density(&x.row(i).iter().copied().collect::<Vec<_>>()))
            .collect::<gaussmix::Result<Vec<_>>>()
            .map_err(py_err)?;
        Ok(PyArray1::from_vec(py, v))
    }

    /// `n` draws (n × M) with gaussmix's generator under `seed`.
    fn sample<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        seed: u64,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let m = self.cond.missing().len();
        let draws = py
            .detach(|| {
                let mut rng = gaussmix::seeded_rng(seed, 0);
                (0..n)
                    .map(|_| self.cond.draw(&self.x_o, &mut rng))
                    .collect::<gaussmix::Result<Vec<_>>>()
            })
            .map_err(py_err)?;
        Ok(Array2::from_shape_fn((n, m), |(i, j)| draws[i][j]).into_pyarray(py))
    }
}

/// A model from the bytes of an `.npz` model file (unpickling).
#[pyfunction]
fn model_from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Model> {
    Model::from_bytes(py, data)
}

/// Fits a mixture. Returns the model and the notices of the fit (device chosen, fallbacks).
#[pyfunction]
#[pyo3(signature = (
    x, n_components, covariance_type="full", init="kmeans", n_init=1, max_iter=100, tol=1e-3,
    reg_covar=1e-6, seed=0, device="auto", full_path="auto", weights_init=None, means_init=None,
    precisions_init=None, warm_start=None, missing=false, progress=None,
    weight_concentration_prior_type=None, weight_concentration_prior=None,
    mean_precision_prior=None, mean_prior=None, degrees_of_freedom_prior=None,
    covariance_prior=None, labels_init=None, sample_weight=None
))]
#[allow(clippy::too_many_arguments)]
fn fit(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    n_components: usize,
    covariance_type: &str,
    init: &str,
    n_init: usize,
    max_iter: usize,
    tol: f64,
    reg_covar: f64,
    seed: u64,
    device: &str,
    full_path: &str,
    weights_init: Option<PyReadonlyArray1<'_, f64>>,
    means_init: Option<PyReadonlyArray2<'_, f64>>,
    precisions_init: Option<PyReadonlyArrayDyn<'_, f64>>,
    warm_start: Option<PyRef<'_, Model>>,
    missing: bool,
    progress: Option<Py<PyAny>>,
    weight_concentration_prior_type: Option<&str>,
    weight_concentration_prior: Option<f64>,
    mean_precision_prior: Option<f64>,
    mean_prior: Option<PyReadonlyArray1<'_, f64>>,
    degrees_of_freedom_prior: Option<f64>,
    covariance_prior: Option<PyReadonlyArrayDyn<'_, f64>>,
    labels_init: Option<Vec<usize>>,
    sample_weight: Option<PyReadonlyArray1<'_, f64>>,
) -> PyResult<(Model, Vec<String>)> {
    let weights: Option<Vec<f64>> = sample_weight.map(|w| w.as_array().iter().copied().collect());
    let t: CovarianceType = parse(covariance_type)?;
    let init: InitMethod = match labels_init {
        Some(labels) => InitMethod::Labels(labels),
        None => parse(init)?,
    };
    let device: DeviceChoice = parse(device)?;
    let full_path: FullPath = parse(full_path)?;
    let data = Data::extract(x)?;
    let d = data.view().dim().1;
    let mut config = FitConfig::new(n_components)
        .covariance_type(t)
        .init(init)
        .n_init(n_init)
        .max_iter(max_iter)
        .tol(tol)
        .reg_covar(reg_covar)
        .seed(seed);
    if let Some(w) = weights_init {
        config = config.weights_init(DVector::from_iterator(
            w.len(),
            w.as_array().iter().copied(),
        ));
    }
    if let Some(m) = means_init {
        config = config.means_init(to_matrix(&m.as_array()));
    }
    if let Some(p) = precisions_init {
        config = config.precisions_init(covariances_from_array(
            t,
            p.as_array(),
            n_components,
            d,
            "precisions",
        )?);
    }
    if let Some(prior_type) = weight_concentration_prior_type {
        config = config.variational(VariationalConfig {
            weight_prior: parse(prior_type)?,
            weight_concentration: weight_concentration_prior,
            mean_precision: mean_precision_prior,
            mean: mean_prior.map(|m| DVector::from_iterator(m.len(), m.as_array().iter().copied())),
            degrees_of_freedom: degrees_of_freedom_prior,
            covariance: covariance_prior
                .map(|c| covariance_prior_from_array(t, c.as_array(), d))
                .transpose()?,
        });
    }
    let warm: Option<Arc<GaussianMixture>> = warm_start.map(|w| w.inner.clone());
    let view = data.view();
    let outcome = py.detach(move || {
        let x = view.to_matrix();
        let mut notices: Vec<String> = Vec::new();
        let mut raised: Option<PyErr> = None;
        let result = {
            let mut notice = |s: &str| notices.push(s.to_string());
            let mut report = |e: &IterationEvent| -> ControlFlow<()> {
                Python::attach(|py| {
                    if let Err(err) = py.check_signals() {
                        raised = Some(err);
                        return ControlFlow::Break(());
                    }
                    if let Some(p) = &progress {
                        if let Err(err) = p.call1(py, (e.init, e.iter, e.lower_bound, e.change)) {
                            raised = Some(err);
                            return ControlFlow::Break(());
                        }
                    }
                    ControlFlow::Continue(())
                })
            };
            let samples = if missing {
                Samples::with_missing(&x)
            } else {
                Samples::new(&x)
            };
            let samples = match &weights {
                Some(w) => samples.and_then(|s| s.weighted(w)),
                None => samples,
            };
            samples.and_then(|samples| {
                let mut options = FitOptions::new()
                    .device(device)
                    .full_path(full_path)
                    .notice(&mut notice)
                    .progress(&mut report);
                if let Some(w) = warm.as_deref() {
                    options = options.warm_start(w);
                }
                gaussmix::fit(&samples, &config, options)
            })
        };
        (result, raised, notices)
    });
    match outcome {
        (_, Some(err), _) => Err(err),
        (Ok(m), None, notices) => Ok((Model::new(m), notices)),
        (Err(e), None, _) => Err(py_err(e)),
    }
}

/// Runs the CLI's `forecast` on `series`; returns the JSON report (text) and the forecasts.
#[pyfunction]
#[pyo3(signature = (
    series, window=10, horizon=1, n_components=None, covariance_type=None, test_fraction=0.2,
    validation_fraction=0.3, n_folds=3, calibrate=true, calibration_half_life=0.5,
    online_calibration=true, calibration_step=0.02, period=None, transform="auto",
    iterated=false, level=0.9, n_paths=200, seed=0, n_init=3, reg_covar=1e-4
))]
#[allow(clippy::too_many_arguments)]
fn forecast<'py>(
    py: Python<'py>,
    series: Vec<f64>,
    window: usize,
    horizon: usize,
    n_components: Option<usize>,
    covariance_type: Option<&str>,
    test_fraction: f64,
    validation_fraction: f64,
    n_folds: usize,
    calibrate: bool,
    calibration_half_life: f64,
    online_calibration: bool,
    calibration_step: f64,
    period: Option<usize>,
    transform: &str,
    iterated: bool,
    level: f64,
    n_paths: usize,
    seed: u64,
    n_init: usize,
    reg_covar: f64,
) -> PyResult<(String, Bound<'py, PyDict>)> {
    // What is not given is chosen by cross-validation on the training part.
    let mut config = ForecastConfig {
        window,
        horizon,
        test_fraction,
        validation_fraction,
        n_folds,
        calibrate,
        calibration_half_life_folds: (calibration_half_life > 0.0).then_some(calibration_half_life),
        online_calibration,
        calibration_step,
        period,
        transform: parse::<TransformChoice>(transform)?,
        iterated,
        level,
        n_paths,
        seed,
        n_init,
        reg_covar,
        ..ForecastConfig::default()
    };
    match n_components {
        Some(k) => config.n_components = k,
        None => config = config.choose_components(),
    }
    match covariance_type {
        Some(c) => config.covariance_type = parse(c)?,
        None => config = config.choose_covariance(),
    }
    let run = py
        .detach(|| gaussmix::forecast::run(&series, &config))
        .map_err(py_err)?;
    let report = serde_json::to_string(&run.report_json())
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    let arrays = PyDict::new(py);
    arrays.set_item(
        "origins",
        run.origins
            .iter()
            .map(|&o| o as i64)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    for (name, m) in [
        ("truth", &run.truth),
        ("gmm", &run.gmm),
        ("lower", &run.lower),
        ("upper", &run.upper),
        ("persistence", &run.persistence),
        ("ar", &run.ar),
    ] {
        arrays.set_item(name, matrix_to_array(m).into_pyarray(py))?;
    }
    Ok((report, arrays))
}

/// Runs the CLI's `interpolate` on `series` (NaN = missing); returns the JSON report (text)
/// and the filled values with their interval ends.
#[pyfunction]
#[pyo3(signature = (
    series, window=8, n_components=4, covariance_type="full", level=0.9, seed=0, n_init=3,
    reg_covar=1e-4
))]
#[allow(clippy::too_many_arguments)]
fn interpolate<'py>(
    py: Python<'py>,
    series: Vec<f64>,
    window: usize,
    n_components: usize,
    covariance_type: &str,
    level: f64,
    seed: u64,
    n_init: usize,
    reg_covar: f64,
) -> PyResult<(String, Bound<'py, PyDict>)> {
    let config = gaussmix::forecast::InterpolateConfig {
        window,
        n_components,
        covariance_type: parse(covariance_type)?,
        level,
        seed,
        n_init,
        reg_covar,
        ..gaussmix::forecast::InterpolateConfig::default()
    };
    let filled = py
        .detach(|| gaussmix::forecast::interpolate(&series, &config))
        .map_err(py_err)?;
    let report = serde_json::to_string(&filled.report_json(&config))
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    let arrays = PyDict::new(py);
    for (name, v) in [
        ("value", &filled.filled),
        ("lower", &filled.lower),
        ("upper", &filled.upper),
    ] {
        arrays.set_item(name, v.clone().into_pyarray(py))?;
    }
    Ok((report, arrays))
}

/// An embedded series: `santafe` or `sunspots`.
#[pyfunction]
fn builtin_series(name: &str) -> PyResult<Vec<f64>> {
    Ok(parse::<gaussmix::forecast::Builtin>(name)?.series())
}

/// The GPU adapters wgpu can open on this machine.
#[pyfunction]
fn devices(py: Python<'_>) -> PyResult<Vec<Bound<'_, PyDict>>> {
    let adapters = py.detach(gaussmix::gpu::list_adapters);
    adapters
        .into_iter()
        .map(|a| {
            let d = PyDict::new(py);
            d.set_item("name", a.name)?;
            d.set_item("backend", a.backend)?;
            d.set_item("device_type", a.device_type)?;
            d.set_item("driver", a.driver)?;
            d.set_item(
                "max_storage_buffer_binding_size",
                a.max_storage_buffer_binding_size,
            )?;
            d.set_item("max_buffer_size", a.max_buffer_size)?;
            d.set_item("shader_f64", a.shader_f64)?;
            Ok(d)
        })
        .collect()
}

/// The embedded Olivetti faces (`assets/olivetti_faces.png`: a 20 × 20 grid of 64 × 64 faces
/// in scikit-learn's order, 8-bit values v with the data `f32(v / 242)`), 400 × 4096 float32.
#[pyfunction]
fn olivetti_faces(py: Python<'_>) -> PyResult<Bound<'_, PyArray2<f32>>> {
    const PNG: &[u8] = include_bytes!("../../assets/olivetti_faces.png");
    const N: usize = 400;
    const SIDE: usize = 64;
    const COLUMNS: usize = 20;
    const MAX: f32 = 242.0;
    let bad =
        |e: String| PyRuntimeError::new_err(format!("the embedded faces cannot be decoded: {e}"));
    let decoder = png::Decoder::new(std::io::Cursor::new(PNG));
    let mut reader = decoder.read_info().map_err(|e| bad(e.to_string()))?;
    let mut buf = vec![
        0u8;
        reader
            .output_buffer_size()
            .ok_or_else(|| bad("too large".into()))?
    ];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| bad(e.to_string()))?;
    let (width, height) = (info.width as usize, info.height as usize);
    if info.color_type != png::ColorType::Grayscale
        || info.bit_depth != png::BitDepth::Eight
        || width != COLUMNS * SIDE
        || height != N / COLUMNS * SIDE
    {
        return Err(bad(format!(
            "{width} × {height} pixels, {:?} {:?}; expected an 8-bit grayscale 1280 × 1280 grid",
            info.color_type, info.bit_depth
        )));
    }
    let faces = Array2::from_shape_fn((N, SIDE * SIDE), |(i, p)| {
        let (gy, gx) = (i / COLUMNS, i % COLUMNS);
        let (y, x) = (p / SIDE, p % SIDE);
        f32::from(buf[(gy * SIDE + y) * info.line_size + gx * SIDE + x]) / MAX
    });
    Ok(faces.into_pyarray(py))
}

#[pymodule]
fn _gaussmix(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Model>()?;
    m.add_class::<Conditional>()?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(model_from_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(forecast, m)?)?;
    m.add_function(wrap_pyfunction!(interpolate, m)?)?;
    m.add_function(wrap_pyfunction!(builtin_series, m)?)?;
    m.add_function(wrap_pyfunction!(devices, m)?)?;
    m.add_function(wrap_pyfunction!(olivetti_faces, m)?)?;
    m.add("GpuError", m.py().get_type::<GpuError>())?;
    m.add(
        "DenseTooLargeError",
        m.py().get_type::<DenseTooLargeError>(),
    )?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
