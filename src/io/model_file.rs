//! Model files: an `.npz` archive whose arrays carry scikit-learn's `GaussianMixture` attribute
//! names, so that Python can `np.load` it and set the attributes of an estimator, and a file
//! written from Python in the same layout loads here.
//!
//! | array | shape | meaning |
//! |---|---|---|
//! | `weights_` | (K,) | mixing weights |
//! | `means_` | (K, D) | component means |
//! | `covariances_` | full (K, D, D), tied (D, D), diag (K, D), spherical (K,) | covariances (with `reg_covar` added) |
//! | `precisions_cholesky_` | as `covariances_` | upper-triangular `U` with `Σ⁻¹ = U Uᵀ` (diag/spherical: `1/√σ²`) |
//! | `precisions_` | as `covariances_` | `Σ⁻¹` |
//! | `covariance_type` | 0-d string | `full`, `tied`, `diag` or `spherical` |
//! | `converged_`, `n_iter_`, `lower_bound_`, `lower_bounds_` | scalars, (n_iter,) | how the fit went |
//! | `n_features_in_`, `reg_covar` | scalars | D, the ridge used |
//! | `covariance_storage` | 0-d string | `dense`, or `low-rank` for the exact high-dimensional form, whose arrays (`lowrank_*`) replace the three covariance arrays |
//!
//! A variational Bayesian model adds the arrays of `BayesianGaussianMixture`
//! ([`super::variational_file`]); its `weights_`, `means_` and `covariances_` are the
//! posterior's.
//!
//! On loading, `covariances_` is the truth (or `precisions_cholesky_` when it is the only one);
//! when both are present they must agree. Arrays not listed here (other than scikit-learn's
//! hyper-parameters) are rejected, since they mean the file is not what it claims to be.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::path::Path;

use nalgebra::{DMatrix, DVector};

use super::npy::{self, NpyValue};
use super::variational_file;
use crate::array::NdArray;
use crate::covariance::{CovarianceType, Covariances};
use crate::error::{GmmError, Result};
use crate::lowrank::LowRankCovariances;
use crate::model::{FitSummary, GaussianMixture};
use crate::output::write_atomic;
use crate::params::MixtureParams;

/// Names a model file may hold besides the low-rank arrays: ours, and scikit-learn's other
/// estimator attributes and hyper-parameters (so a Python dump of `vars(gm)` loads).
const KNOWN: &[&str] = &[
    "weights_",
    "means_",
    "covariances_",
    "precisions_cholesky_",
    "precisions_",
    "covariance_type",
    "covariance_storage",
    "converged_",
    "n_iter_",
    "lower_bound_",
    "lower_bounds_",
    "n_features_in_",
    "reg_covar",
    "n_components",
    "tol",
    "max_iter",
    "n_init",
    "init_params",
    "random_state",
    "warm_start",
    "verbose",
    "verbose_interval",
    "weights_init",
    "means_init",
    "precisions_init",
];

enum Entry {
    F64(NdArray),
    I64(Vec<usize>, Vec<usize>),
    Bool(bool),
    Text(String),
}

fn covariance_arrays(c: &Covariances) -> NdArray {
    match c {
        Covariances::Full(ms) => {
            let d = ms.first().map_or(0, |m| m.nrows());
            let data = ms
                .iter()
                .flat_map(|m| m.transpose().as_slice().to_vec())
                .collect();
            NdArray::new(vec![ms.len(), d, d], data)
        }
        Covariances::Tied(m) | Covariances::Diag(m) => NdArray::from_matrix(m),
        Covariances::Spherical(v) => NdArray::new(vec![v.len()], v.as_slice().to_vec()),
        Covariances::LowRank(_) => {
            unreachable!("low-rank covariances are stored by their own arrays")
        }
    }
}

/// `Σ⁻¹ = U Uᵀ` in the layout of the type.
fn precisions_of(prec_chol: &Covariances) -> Covariances {
    match prec_chol {
        Covariances::Full(us) => Covariances::Full(us.iter().map(|u| u * u.transpose()).collect()),
        Covariances::Tied(u) => Covariances::Tied(u * u.transpose()),
        Covariances::Diag(p) => Covariances::Diag(p.map(|x| x * x)),
        Covariances::Spherical(p) => Covariances::Spherical(p.map(|x| x * x)),
        Covariances::LowRank(_) => unreachable!(),
    }
}

/// Saves `model` as `.npz`, atomically.
pub fn save_model(path: &Path, model: &GaussianMixture) -> Result<()> {
    let ext = crate::output::extension(path);
    if ext != "npz" {
        return Err(GmmError::file(
            path,
            format!("models are saved as .npz, not '.{ext}'; name the file MODEL.npz"),
        ));
    }
    let bytes = model_to_bytes(model).map_err(|e| GmmError::file(path, e.to_string()))?;
    write_atomic(path, |w| w.write_all(&bytes))
}

/// The bytes of the `.npz` model file [`save_model`] writes (for pickling, or sending a model
/// elsewhere); [`model_from_bytes`] reads them back.
pub fn model_to_bytes(model: &GaussianMixture) -> Result<Vec<u8>> {
    let p = model.params();
    let mut entries: Vec<(String, Entry)> = vec![
        (
            "weights_".into(),
            Entry::F64(NdArray::new(
                vec![p.weights.len()],
                p.weights.as_slice().to_vec(),
            )),
        ),
        ("means_".into(), Entry::F64(NdArray::from_matrix(&p.means))),
        (
            "covariance_type".into(),
            Entry::Text(p.covariance_type().as_str().into()),
        ),
        ("converged_".into(), Entry::Bool(model.summary().converged)),
        (
            "n_iter_".into(),
            Entry::I64(vec![], vec![model.summary().n_iter]),
        ),
        (
            "lower_bound_".into(),
            Entry::F64(NdArray::scalar(model.summary().lower_bound)),
        ),
        (
            "lower_bounds_".into(),
            Entry::F64(NdArray::new(
                vec![model.summary().lower_bound_history.len()],
                model.summary().lower_bound_history.clone(),
            )),
        ),
        (
            "n_features_in_".into(),
            Entry::I64(vec![], vec![p.n_features()]),
        ),
        (
            "reg_covar".into(),
            Entry::F64(NdArray::scalar(model.reg_covar())),
        ),
    ];
    if let Some(v) = model.variational() {
        let (arrays, prior_type) = variational_file::arrays(v);
        entries.push((
            "weight_concentration_prior_type".into(),
            Entry::Text(prior_type),
        ));
        entries.extend(arrays.into_iter().map(|(n, a)| (n, Entry::F64(a))));
    }
    match &p.covariances {
        Covariances::LowRank(lr) => {
            entries.push(("covariance_storage".into(), Entry::Text("low-rank".into())));
            entries.extend(lr.to_arrays().into_iter().map(|(n, a)| (n, Entry::F64(a))));
        }
        dense => {
            entries.push(("covariance_storage".into(), Entry::Text("dense".into())));
            entries.push(("covariances_".into(), Entry::F64(covariance_arrays(dense))));
            entries.push((
                "precisions_cholesky_".into(),
                Entry::F64(covariance_arrays(&p.precisions.cholesky)),
            ));
            entries.push((
                "precisions_".into(),
                Entry::F64(covariance_arrays(&precisions_of(&p.precisions.cholesky))),
            ));
        }
    }
    zip_entries(&entries)
        .map_err(|e| GmmError::InvalidModel(format!("cannot build the model archive: {e}")))
}

/// A model from the bytes of an `.npz` model file ([`model_to_bytes`], or a file's contents).
pub fn model_from_bytes(bytes: Vec<u8>) -> Result<GaussianMixture> {
    parse_model(Path::new("<model bytes>"), bytes)
}

fn zip_entries(entries: &[(String, Entry)]) -> std::io::Result<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(
            entries
                .iter()
                .any(|(_, e)| matches!(e, Entry::F64(a) if a.data.len() * 8 > (1 << 30))),
        );
    for (name, entry) in entries {
        zip.start_file(format!("{name}.npy"), options)
            .map_err(std::io::Error::other)?;
        let mut buf = Vec::new();
        match entry {
            Entry::F64(a) => npy::write_f64(&mut buf, &a.shape, &a.data)?,
            Entry::I64(shape, v) => npy::write_i64_shaped(&mut buf, shape, v)?,
            Entry::Bool(b) => npy::write_bool(&mut buf, *b)?,
            Entry::Text(t) => npy::write_text(&mut buf, t)?,
        }
        zip.write_all(&buf)?;
    }
    Ok(zip.finish().map_err(std::io::Error::other)?.into_inner())
}

/// Reads every array of an `.npz` archive.
fn read_npz(path: &Path, bytes: Vec<u8>) -> Result<BTreeMap<String, NpyValue>> {
    let bad = |m: String| GmmError::file(path, m);
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
        bad(format!("not a valid .npz model file ({e}); it may be truncated or not a model: save it again with `gaussmix fit -o` or numpy.savez"))
    })?;
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| {
            bad(format!(
                "damaged archive entry {i} ({e}); save the model again"
            ))
        })?;
        let name = entry.name().trim_end_matches(".npy").to_string();
        let mut buf = Vec::with_capacity(entry.size().min(1 << 30) as usize);
        entry.read_to_end(&mut buf).map_err(|e| {
            bad(format!(
                "array '{name}' is damaged ({e}); save the model again"
            ))
        })?;
        let value = npy::decode(&buf[..]).map_err(|m| bad(format!("array '{name}': {m}")))?;
        out.insert(name, value);
    }
    Ok(out)
}

/// Loads a model written by [`save_model`] or from Python in the same layout.
pub fn load_model(path: &Path) -> Result<GaussianMixture> {
    if path.is_dir() {
        return Err(GmmError::file(
            path,
            "is a directory, not a model file (.npz)",
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        GmmError::file(
            path,
            match e.kind() {
                std::io::ErrorKind::NotFound => "model file not found; check the path".to_string(),
                _ => format!("cannot open: {e}"),
            },
        )
    })?;
    parse_model(path, bytes)
}

/// Parses the bytes of a model file; `path` only names it in errors.
pub fn parse_model(path: &Path, bytes: Vec<u8>) -> Result<GaussianMixture> {
    let arrays = read_npz(path, bytes)?;
    let bad = |m: String| GmmError::file(path, m);
    let text = |name: &str| -> Result<Option<String>> {
        match arrays.get(name) {
            None => Ok(None),
            Some(NpyValue::Text(t)) => Ok(Some(t.clone())),
            Some(_) => Err(bad(format!("'{name}' must be a string"))),
        }
    };
    let float = |name: &str| -> Result<Option<NdArray>> {
        match arrays.get(name) {
            None => Ok(None),
            Some(NpyValue::Float(a)) | Some(NpyValue::Integer(a)) => Ok(Some(a.clone())),
            Some(NpyValue::Text(_)) => {
                Err(bad(format!("'{name}' must be numeric, found a string")))
            }
        }
    };
    let scalar = |name: &str| -> Result<Option<f64>> {
        match float(name)? {
            None => Ok(None),
            Some(a) if a.data.len() == 1 => Ok(Some(a.data[0])),
            Some(a) => Err(bad(format!(
                "'{name}' must be a single value, found shape {:?}",
                a.shape
            ))),
        }
    };
    let required = |name: &str| -> Result<NdArray> {
        float(name)?.ok_or_else(|| bad(format!("the array '{name}' is missing; a model file needs weights_, means_, covariance_type and covariances_ (or precisions_cholesky_)")))
    };

    let covariance_type: CovarianceType = text("covariance_type")?
        .ok_or_else(|| {
            bad("the string 'covariance_type' is missing (full, tied, diag or spherical)".into())
        })?
        .parse()
        .map_err(|e: GmmError| bad(e.to_string()))?;
    let storage = text("covariance_storage")?.unwrap_or_else(|| "dense".into());
    let low_rank = match storage.as_str() {
        "dense" => false,
        "low-rank" => true,
        other => {
            return Err(bad(format!(
                "unknown covariance_storage '{other}' (dense or low-rank)"
            )))
        }
    };
    if !low_rank {
        if let Some(extra) = arrays.keys().find(|k| {
            !KNOWN.contains(&k.as_str()) && !variational_file::NAMES.contains(&k.as_str())
        }) {
            return Err(bad(format!(
                "unexpected array '{extra}'; a model file holds only the GaussianMixture attributes (weights_, means_, covariances_, …): remove it"
            )));
        }
    }

    let weights = required("weights_")?;
    let means = required("means_")?;
    let k = weights.data.len();
    if weights.shape.len() != 1 {
        return Err(bad(format!(
            "weights_ must be 1-D (K,), found shape {:?}",
            weights.shape
        )));
    }
    let means = match means.shape.as_slice() {
        [r, _] if *r == k => means.to_matrix().expect("2-D"),
        s => {
            return Err(bad(format!(
                "means_ must have shape ({k}, D) to match weights_, found {s:?}"
            )))
        }
    };
    let d = means.ncols();
    let reg_covar = scalar("reg_covar")?.unwrap_or(1e-6);

    let covariances = if low_rank {
        let lr_arrays: BTreeMap<String, NdArray> = arrays
            .iter()
            .filter_map(|(n, v)| match v {
                NpyValue::Float(a) | NpyValue::Integer(a) => Some((n.clone(), a.clone())),
                NpyValue::Text(_) => None,
            })
            .collect();
        Covariances::LowRank(
            LowRankCovariances::from_arrays(&lr_arrays).map_err(|e| bad(e.to_string()))?,
        )
    } else {
        let cov = float("covariances_")?;
        let chol = float("precisions_cholesky_")?;
        match (cov, chol) {
            (Some(c), chol) => {
                let covs = dense_from_array(covariance_type, &c, k, d).map_err(|m| bad(format!("covariances_: {m}")))?;
                if let Some(u) = chol {
                    let u = dense_from_array(covariance_type, &u, k, d).map_err(|m| bad(format!("precisions_cholesky_: {m}")))?;
                    check_consistent(&covs, &u, reg_covar).map_err(&bad)?;
                }
                covs
            }
            (None, Some(u)) => {
                let u = dense_from_array(covariance_type, &u, k, d).map_err(|m| bad(format!("precisions_cholesky_: {m}")))?;
                crate::covariance::Precisions { cholesky: u, log_det_cholesky: DVector::zeros(0) }
                    .to_covariances()
                    .map_err(|e| bad(e.to_string()))?
            }
            (None, None) => return Err(bad("neither covariances_ nor precisions_cholesky_ is present; the model needs one of them".into())),
        }
    };
    let params = MixtureParams::new(
        DVector::from_vec(weights.data),
        means,
        covariances,
        reg_covar,
    )
    .map_err(|e| bad(e.to_string()))?;
    let history = float("lower_bounds_")?.map(|a| a.data).unwrap_or_default();
    let fit = FitSummary {
        converged: scalar("converged_")?.is_some_and(|v| v != 0.0),
        n_iter: scalar("n_iter_")?.map_or(history.len(), |v| v.max(0.0) as usize),
        lower_bound: scalar("lower_bound_")?.unwrap_or(f64::NEG_INFINITY),
        lower_bound_history: history,
        n_init: 1,
        best_init: 0,
        device: String::new(),
        fallbacks: Vec::new(),
        seconds: 0.0,
    };
    match variational_file::parse(&arrays, &params).map_err(bad)? {
        Some((posterior, priors)) => Ok(GaussianMixture::from_variational(
            posterior, priors, reg_covar, fit,
        )),
        None => Ok(GaussianMixture::from_fit(params, reg_covar, fit)),
    }
}

/// Dense covariances (or factors) of type `t` from an array, checking the shape.
fn dense_from_array(
    t: CovarianceType,
    a: &NdArray,
    k: usize,
    d: usize,
) -> std::result::Result<Covariances, String> {
    let expected: Vec<usize> = match t {
        CovarianceType::Full => vec![k, d, d],
        CovarianceType::Tied => vec![d, d],
        CovarianceType::Diag => vec![k, d],
        CovarianceType::Spherical => vec![k],
    };
    if a.shape != expected {
        return Err(format!("shape {:?} does not fit {t} covariances of {k} components in {d} dimensions; expected {expected:?}", a.shape));
    }
    Ok(match t {
        CovarianceType::Full => Covariances::Full(
            a.data
                .chunks(d * d)
                .map(|c| DMatrix::from_row_slice(d, d, c))
                .collect(),
        ),
        CovarianceType::Tied => Covariances::Tied(DMatrix::from_row_slice(d, d, &a.data)),
        CovarianceType::Diag => Covariances::Diag(DMatrix::from_row_slice(k, d, &a.data)),
        CovarianceType::Spherical => Covariances::Spherical(DVector::from_vec(a.data.clone())),
    })
}

/// Checks that stored precision factors invert the stored covariances.
fn check_consistent(
    covs: &Covariances,
    chol: &Covariances,
    reg_covar: f64,
) -> std::result::Result<(), String> {
    let ours = crate::covariance::compute_precisions(covs, reg_covar).map_err(|e| e.to_string())?;
    let (a, b) = (covariance_arrays(&ours.cholesky), covariance_arrays(chol));
    let scale = a
        .data
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(1e-300);
    let diff = a
        .data
        .iter()
        .zip(&b.data)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    if diff / scale > 1e-6 {
        return Err(format!(
            "precisions_cholesky_ does not match covariances_ (relative difference {:.1e}); the file is inconsistent: drop one of them",
            diff / scale
        ));
    }
    Ok(())
}
