//! An external oracle for fitting: scikit-learn's own EM on real data (iris, wine), started from
//! initial parameters that scikit-learn wrote (`tests/data/make_sklearn_fits.py`). gaussmix,
//! started from the same parameters, must give scikit-learn's fitted weights, means and
//! covariances, its number of iterations and its lower bound at every iteration, to 1e-8
//! relative, for every covariance type.

use std::io::Read;
use std::path::PathBuf;

use gaussmix::{
    fit, CovarianceType, Covariances, DeviceChoice, FitConfig, FitOptions, FullPath,
    GaussianMixture, MixtureParams, Samples,
};
use nalgebra::{DMatrix, DVector};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sklearn_fits")
        .join(name)
}

/// An array of the fixture: its shape and its values in C order.
pub(super) struct Array {
    pub(super) shape: Vec<usize>,
    pub(super) data: Vec<f64>,
}

fn read_npz(name: &str) -> std::collections::BTreeMap<String, Array> {
    read_npz_file(&fixture(name))
}

/// The numeric arrays of an `.npz` file written by numpy (strings are skipped).
pub(super) fn read_npz_file(path: &std::path::Path) -> std::collections::BTreeMap<String, Array> {
    let file = std::fs::File::open(path).unwrap();
    let mut zip = zip::ZipArchive::new(file).unwrap();
    let mut out = std::collections::BTreeMap::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let key = entry.name().trim_end_matches(".npy").to_string();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
        let shape: Vec<usize> = npy.shape().iter().map(|&s| s as usize).collect();
        let data: Vec<f64> = match npy.dtype() {
            npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float => {
                npy.into_vec::<f64>().unwrap()
            }
            npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Int => npy
                .into_vec::<i64>()
                .unwrap()
                .into_iter()
                .map(|v| v as f64)
                .collect(),
            npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Bool => npy
                .into_vec::<bool>()
                .unwrap()
                .into_iter()
                .map(|v| v as u8 as f64)
                .collect(),
            _ => continue, // strings (covariance type, version)
        };
        out.insert(key, Array { shape, data });
    }
    out
}

/// Row-major `rows × cols` from C-order values.
pub(super) fn matrix(rows: usize, cols: usize, v: &[f64]) -> DMatrix<f64> {
    DMatrix::from_row_slice(rows, cols, v)
}

/// Covariances of type `t` from an array in scikit-learn's layout.
pub(super) fn covariances(t: CovarianceType, a: &Array, k: usize, d: usize) -> Covariances {
    match t {
        CovarianceType::Full => Covariances::Full(
            (0..k)
                .map(|c| matrix(d, d, &a.data[c * d * d..(c + 1) * d * d]))
                .collect(),
        ),
        CovarianceType::Tied => Covariances::Tied(matrix(d, d, &a.data)),
        CovarianceType::Diag => Covariances::Diag(matrix(k, d, &a.data)),
        CovarianceType::Spherical => Covariances::Spherical(DVector::from_column_slice(&a.data)),
    }
}

/// Covariances from precision matrices (their inverses), as the E-step then sees them.
fn from_precisions(p: Covariances) -> Covariances {
    let inv = |m: &DMatrix<f64>| {
        let c = m
            .clone()
            .cholesky()
            .expect("positive definite precision")
            .inverse();
        (&c + c.transpose()) * 0.5
    };
    match p {
        Covariances::Full(ms) => Covariances::Full(ms.iter().map(inv).collect()),
        Covariances::Tied(m) => Covariances::Tied(inv(&m)),
        Covariances::Diag(m) => Covariances::Diag(m.map(|v| 1.0 / v)),
        Covariances::Spherical(v) => Covariances::Spherical(v.map(|v| 1.0 / v)),
        other => other,
    }
}

pub(super) fn values(c: &Covariances) -> Vec<f64> {
    match c {
        Covariances::Full(ms) => ms
            .iter()
            .flat_map(|m| m.transpose().iter().copied().collect::<Vec<_>>())
            .collect(),
        Covariances::Tied(m) | Covariances::Diag(m) => m.transpose().iter().copied().collect(),
        Covariances::Spherical(v) => v.iter().copied().collect(),
        Covariances::LowRank(_) => panic!("dense fixtures only"),
    }
}

#[track_caller]
pub(super) fn close(what: &str, ours: &[f64], theirs: &[f64], rtol: f64) {
    assert_eq!(ours.len(), theirs.len(), "{what}: lengths");
    let scale = theirs
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(1e-300);
    let worst = ours
        .iter()
        .zip(theirs)
        .map(|(a, b)| (a - b).abs() / scale)
        .fold(0.0, f64::max);
    assert!(
        worst <= rtol,
        "{what}: relative difference {worst:e} > {rtol:e}"
    );
}

#[test]
fn fits_from_scikit_learns_initial_parameters_reach_its_fitted_parameters() {
    let mut checked = 0;
    for set in ["iris", "wine"] {
        let x = gaussmix::io::read_matrix(
            &fixture(&format!("{set}.npy")),
            gaussmix::io::Missing::Reject,
        )
        .unwrap();
        let d = x.ncols();
        for t in [
            CovarianceType::Full,
            CovarianceType::Tied,
            CovarianceType::Diag,
            CovarianceType::Spherical,
        ] {
            let f = read_npz(&format!("{set}_{}.npz", t.as_str()));
            let k = f["weights_"].data.len();
            let start = MixtureParams::new(
                DVector::from_column_slice(&f["weights_init"].data),
                matrix(k, d, &f["means_init"].data),
                from_precisions(covariances(t, &f["precisions_init"], k, d)),
                0.0,
            )
            .unwrap();
            let warm = GaussianMixture::from_params(start, 1e-6);
            let config = FitConfig::new(k).covariance_type(t);
            let model = fit(
                &Samples::new(&x).unwrap(),
                &config,
                FitOptions::new()
                    .device(DeviceChoice::Cpu)
                    .full_path(FullPath::Dense)
                    .warm_start(&warm),
            )
            .unwrap();
            let what = format!("{set} {t}");
            let s = model.summary();
            assert_eq!(s.n_iter as f64, f["n_iter_"].data[0], "{what}: iterations");
            assert_eq!(
                s.converged,
                f["converged_"].data[0] != 0.0,
                "{what}: converged"
            );
            close(
                &format!("{what} lower bounds"),
                &s.lower_bound_history,
                &f["lower_bounds"].data,
                1e-8,
            );
            close(
                &format!("{what} lower bound"),
                &[s.lower_bound],
                &f["lower_bound_"].data,
                1e-8,
            );
            close(
                &format!("{what} weights"),
                model.weights().as_slice(),
                &f["weights_"].data,
                1e-8,
            );
            let means: Vec<f64> = model.means().transpose().iter().copied().collect();
            close(&format!("{what} means"), &means, &f["means_"].data, 1e-8);
            close(
                &format!("{what} covariances"),
                &values(model.covariances()),
                &f["covariances_"].data,
                1e-8,
            );
            assert_eq!(
                f["covariances_"].shape.iter().product::<usize>(),
                values(model.covariances()).len()
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 8);
}
