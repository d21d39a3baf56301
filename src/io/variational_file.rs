//! The arrays a variational Bayesian model adds to a model file, with scikit-learn's
//! `BayesianGaussianMixture` attribute names:
//!
//! | array | shape | meaning |
//! |---|---|---|
//! | `weight_concentration_prior_type` | 0-d string | `dirichlet_process` or `dirichlet_distribution` |
//! | `weight_concentration_` | dirichlet_process (2, K): the Beta parameters a, b; dirichlet_distribution (K,) | the weights' posterior |
//! | `mean_precision_` | (K,) | λ_k |
//! | `degrees_of_freedom_` | (K,), tied 0-d | ν_k |
//! | `weight_concentration_prior_`, `mean_precision_prior_`, `degrees_of_freedom_prior_` | scalars | γ₀, β₀, ν₀ |
//! | `mean_prior_` | (D,) | m₀ |
//! | `covariance_prior_` | full, tied (D, D); diag (D,); spherical 0-d | W₀ |
//!
//! scikit-learn keeps `weight_concentration_` of a Dirichlet process as a tuple of two (K,)
//! arrays; the file stacks them, and the Python package turns them back into the tuple.

use std::collections::BTreeMap;

use nalgebra::{DMatrix, DVector};

use super::npy::NpyValue;
use crate::array::NdArray;
use crate::covariance::CovarianceType;
use crate::model::VariationalFit;
use crate::params::MixtureParams;
use crate::variational::{CovariancePrior, Posterior, Priors, WeightConcentration, WeightPrior};

/// The names this module reads and writes.
pub(super) const NAMES: &[&str] = &[
    "weight_concentration_prior_type",
    "weight_concentration_",
    "mean_precision_",
    "degrees_of_freedom_",
    "weight_concentration_prior_",
    "mean_precision_prior_",
    "degrees_of_freedom_prior_",
    "mean_prior_",
    "covariance_prior_",
];

fn vector(v: &DVector<f64>) -> NdArray {
    NdArray::new(vec![v.len()], v.as_slice().to_vec())
}

/// The numeric arrays of `v`, and its prior type's name.
pub(super) fn arrays(v: &VariationalFit) -> (Vec<(String, NdArray)>, String) {
    let post = &v.posterior;
    let p = &v.priors;
    let concentration = match &post.weight_concentration {
        WeightConcentration::Process { a, b } => {
            let mut data = a.as_slice().to_vec();
            data.extend_from_slice(b.as_slice());
            NdArray::new(vec![2, a.len()], data)
        }
        WeightConcentration::Distribution(alpha) => vector(alpha),
    };
    let dof = match post.covariance_type() {
        CovarianceType::Tied => NdArray::scalar(post.degrees_of_freedom[0]),
        _ => vector(&post.degrees_of_freedom),
    };
    let w0 = match &p.covariance {
        CovariancePrior::Matrix(m) => NdArray::from_matrix(m),
        CovariancePrior::Diagonal(d) => vector(d),
        CovariancePrior::Scalar(s) => NdArray::scalar(*s),
    };
    let out = vec![
        ("weight_concentration_".into(), concentration),
        ("mean_precision_".into(), vector(&post.mean_precision)),
        ("degrees_of_freedom_".into(), dof),
        (
            "weight_concentration_prior_".into(),
            NdArray::scalar(p.weight_concentration),
        ),
        (
            "mean_precision_prior_".into(),
            NdArray::scalar(p.mean_precision),
        ),
        (
            "degrees_of_freedom_prior_".into(),
            NdArray::scalar(p.degrees_of_freedom),
        ),
        ("mean_prior_".into(), vector(&p.mean)),
        ("covariance_prior_".into(), w0),
    ];
    (out, p.weight_prior.as_str().to_string())
}

/// The posterior and priors stored with `params`, or `None` when the file holds a
/// maximum-likelihood model (no `weight_concentration_prior_type`). Errors are messages for
/// the caller to attach to the file.
pub(super) fn parse(
    arrays: &BTreeMap<String, NpyValue>,
    params: &MixtureParams,
) -> Result<Option<(Posterior, Priors)>, String> {
    let weight_prior: WeightPrior = match arrays.get("weight_concentration_prior_type") {
        None => {
            if let Some(name) = NAMES.iter().find(|n| arrays.contains_key(**n)) {
                return Err(format!(
                    "'{name}' belongs to a variational model, but 'weight_concentration_prior_type' is missing; add it (dirichlet_process or dirichlet_distribution) or remove the variational arrays"
                ));
            }
            return Ok(None);
        }
        Some(NpyValue::Text(t)) => t
            .parse()
            .map_err(|e: crate::error::GmmError| e.to_string())?,
        Some(_) => return Err("'weight_concentration_prior_type' must be a string".into()),
    };
    let k = params.n_components();
    let d = params.n_features();
    let t = params.covariance_type();
    let get = |name: &str| -> Result<&NdArray, String> {
        match arrays.get(name) {
            Some(NpyValue::Float(a)) | Some(NpyValue::Integer(a)) => Ok(a),
            Some(NpyValue::Text(_)) => Err(format!("'{name}' must be numeric, found a string")),
            None => Err(format!(
                "the array '{name}' is missing; a variational model file needs {}",
                NAMES.join(", ")
            )),
        }
    };
    let shaped = |name: &str, shape: &[usize]| -> Result<Vec<f64>, String> {
        let a = get(name)?;
        let len: usize = shape.iter().product();
        if a.data.len() != len || (a.shape != shape && !(shape.is_empty() && len == 1)) {
            return Err(format!(
                "'{name}' must have shape {shape:?}, found {:?}",
                a.shape
            ));
        }
        if let Some(v) = a.data.iter().find(|v| !v.is_finite()) {
            return Err(format!("'{name}' holds {v}; it must be finite"));
        }
        Ok(a.data.clone())
    };
    let positive = |name: &str, shape: &[usize]| -> Result<Vec<f64>, String> {
        let v = shaped(name, shape)?;
        match v.iter().find(|x| **x <= 0.0) {
            Some(x) => Err(format!("'{name}' holds {x}; it must be > 0")),
            None => Ok(v),
        }
    };
    let weight_concentration = match weight_prior {
        WeightPrior::DirichletProcess => {
            let ab = positive("weight_concentration_", &[2, k])?;
            WeightConcentration::Process {
                a: DVector::from_column_slice(&ab[..k]),
                b: DVector::from_column_slice(&ab[k..]),
            }
        }
        WeightPrior::DirichletDistribution => WeightConcentration::Distribution(DVector::from_vec(
            positive("weight_concentration_", &[k])?,
        )),
    };
    let dof_shape: &[usize] = if t == CovarianceType::Tied { &[] } else { &[k] };
    let degrees_of_freedom = DVector::from_vec(positive("degrees_of_freedom_", dof_shape)?);
    if let Some(nu) = degrees_of_freedom.iter().find(|&&nu| nu <= d as f64 - 1.0) {
        return Err(format!(
            "'degrees_of_freedom_' holds {nu}; it must exceed D − 1 = {}",
            d - 1
        ));
    }
    let posterior = Posterior {
        weight_concentration,
        mean_precision: DVector::from_vec(positive("mean_precision_", &[k])?),
        degrees_of_freedom,
        params: params.clone(),
    };
    let covariance = match t {
        CovarianceType::Full | CovarianceType::Tied => CovariancePrior::Matrix(
            DMatrix::from_row_slice(d, d, &shaped("covariance_prior_", &[d, d])?),
        ),
        CovarianceType::Diag => {
            CovariancePrior::Diagonal(DVector::from_vec(positive("covariance_prior_", &[d])?))
        }
        CovarianceType::Spherical => {
            CovariancePrior::Scalar(positive("covariance_prior_", &[])?[0])
        }
    };
    let priors = Priors {
        weight_prior,
        weight_concentration: positive("weight_concentration_prior_", &[])?[0],
        mean_precision: positive("mean_precision_prior_", &[])?[0],
        mean: DVector::from_vec(shaped("mean_prior_", &[d])?),
        degrees_of_freedom: positive("degrees_of_freedom_prior_", &[])?[0],
        covariance,
    };
    Ok(Some((posterior, priors)))
}
