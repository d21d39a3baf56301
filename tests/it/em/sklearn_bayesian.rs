//! The oracle for variational fits: scikit-learn's `BayesianGaussianMixture` on real data
//! (iris and wine, K = 6, so that components die out), for every covariance type and both
//! weight priors, started from the same k-means labels (`tests/data/make_sklearn_bayesian.py`
//! wrote them with scikit-learn's fits; `tests/data/bgm_spec.md` gives the algorithm). gaussmix
//! must give scikit-learn's priors, lower bound at every iteration, posterior and queries to
//! 1e-8 relative.

use std::path::PathBuf;

use gaussmix::variational::{CovariancePrior, WeightConcentration};
use gaussmix::{
    fit, CovarianceType, DeviceChoice, FitConfig, FitOptions, GaussianMixture, InitMethod, Samples,
    VariationalConfig, WeightPrior,
};
use nalgebra::DMatrix;

use super::sklearn_fit::{close, covariances, read_npz_file, values, Array};

type Fixture = std::collections::BTreeMap<String, Array>;

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sklearn_bayesian")
        .join(name)
}

fn data(set: &str) -> DMatrix<f64> {
    gaussmix::io::read_matrix(&path(&format!("{set}.npy")), gaussmix::io::Missing::Reject).unwrap()
}

/// The fit of fixture `f` on `x`: scikit-learn's settings, started from its k-means labels.
fn fit_like(
    x: &DMatrix<f64>,
    f: &Fixture,
    t: CovarianceType,
    prior: WeightPrior,
    device: DeviceChoice,
) -> GaussianMixture {
    let k = f["weights_"].data.len();
    let labels: Vec<usize> = f["kmeans_labels"]
        .data
        .iter()
        .map(|&v| v as usize)
        .collect();
    let config = FitConfig::new(k)
        .covariance_type(t)
        .init(InitMethod::Labels(labels))
        .variational(VariationalConfig::new(prior));
    fit(
        &Samples::new(x).unwrap(),
        &config,
        FitOptions::new().device(device),
    )
    .unwrap()
}

const TYPES: [CovarianceType; 4] = [
    CovarianceType::Full,
    CovarianceType::Tied,
    CovarianceType::Diag,
    CovarianceType::Spherical,
];

fn check(what: &str, model: &GaussianMixture, x: &DMatrix<f64>, f: &Fixture, rtol: f64) {
    let d = x.ncols();
    let k = model.n_components();
    let t = model.covariance_type();
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
        rtol,
    );
    let v = model.variational().expect("a variational model");
    let p = &v.priors;
    close(
        &format!("{what} mean prior"),
        p.mean.as_slice(),
        &f["mean_prior_"].data,
        rtol,
    );
    let w0: Vec<f64> = match &p.covariance {
        CovariancePrior::Matrix(m) => m.transpose().iter().copied().collect(),
        CovariancePrior::Diagonal(v) => v.iter().copied().collect(),
        CovariancePrior::Scalar(s) => vec![*s],
    };
    close(
        &format!("{what} covariance prior"),
        &w0,
        &f["covariance_prior_"].data,
        rtol,
    );
    assert_eq!(p.degrees_of_freedom, f["degrees_of_freedom_prior_"].data[0]);
    assert_eq!(
        p.weight_concentration,
        f["weight_concentration_prior_"].data[0]
    );
    let post = &v.posterior;
    match &post.weight_concentration {
        WeightConcentration::Process { a, b } => {
            close(
                &format!("{what} a"),
                a.as_slice(),
                &f["weight_concentration_a_"].data,
                rtol,
            );
            close(
                &format!("{what} b"),
                b.as_slice(),
                &f["weight_concentration_b_"].data,
                rtol,
            );
        }
        WeightConcentration::Distribution(alpha) => close(
            &format!("{what} alpha"),
            alpha.as_slice(),
            &f["weight_concentration_"].data,
            rtol,
        ),
    }
    close(
        &format!("{what} mean precision"),
        post.mean_precision.as_slice(),
        &f["mean_precision_"].data,
        rtol,
    );
    close(
        &format!("{what} degrees of freedom"),
        post.degrees_of_freedom.as_slice(),
        &f["degrees_of_freedom_"].data,
        rtol,
    );
    close(
        &format!("{what} weights"),
        model.weights().as_slice(),
        &f["weights_"].data,
        rtol,
    );
    let means: Vec<f64> = model.means().transpose().iter().copied().collect();
    close(&format!("{what} means"), &means, &f["means_"].data, rtol);
    close(
        &format!("{what} covariances"),
        &values(model.covariances()),
        &f["covariances_"].data,
        rtol,
    );
    let u = covariances(t, &f["precisions_cholesky_"], k, d);
    close(
        &format!("{what} precision factors"),
        &values(&model.precisions().cholesky),
        &values(&u),
        rtol,
    );
    let scores = model.score_samples(x).unwrap();
    close(
        &format!("{what} score_samples"),
        scores.as_slice(),
        &f["score_samples"].data,
        rtol,
    );
    let proba: Vec<f64> = model
        .predict_proba(x)
        .unwrap()
        .transpose()
        .iter()
        .copied()
        .collect();
    close(
        &format!("{what} predict_proba"),
        &proba,
        &f["predict_proba"].data,
        rtol,
    );
}

#[test]
fn variational_fits_match_scikit_learn_for_every_covariance_type_and_weight_prior() {
    let mut checked = 0;
    for set in ["iris", "wine"] {
        let x = data(set);
        for t in TYPES {
            for (tag, prior) in [
                ("dp", WeightPrior::DirichletProcess),
                ("dd", WeightPrior::DirichletDistribution),
            ] {
                let f = read_npz_file(&path(&format!("{set}_{}_{tag}.npz", t.as_str())));
                let model = fit_like(&x, &f, t, prior, DeviceChoice::Cpu);
                check(&format!("{set} {t} {tag}"), &model, &x, &f, 1e-8);
                let labels: Vec<f64> = model
                    .predict(&x)
                    .unwrap()
                    .iter()
                    .map(|&l| l as f64)
                    .collect();
                assert_eq!(labels, f["predict"].data, "{set} {t} {tag}: predict");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 16);
}

#[test]
fn superfluous_components_die_out() {
    // Two well-separated clusters, K = 8, a Dirichlet-process prior: two components keep
    // almost all the weight, as in scikit-learn's fit of the same data.
    let x = data("blobs");
    let f = read_npz_file(&path("blobs_full_dp.npz"));
    let model = fit_like(
        &x,
        &f,
        CovarianceType::Full,
        WeightPrior::DirichletProcess,
        DeviceChoice::Cpu,
    );
    check("blobs", &model, &x, &f, 1e-8);
    let v = model.variational().unwrap();
    assert_eq!(v.effective_components(), 2);
    let mut w: Vec<f64> = model.weights().iter().copied().collect();
    w.sort_by(|a, b| b.total_cmp(a));
    assert!(w[0] + w[1] > 0.97, "{w:?}");
    // A maximum-likelihood fit of the same data with K = 8 spreads the weight.
    let ml = fit(
        &Samples::new(&x).unwrap(),
        &FitConfig::new(8).seed(0),
        FitOptions::new().device(DeviceChoice::Cpu),
    )
    .unwrap();
    assert!(ml.weights().iter().filter(|&&w| w > 0.01).count() > 2);
}
