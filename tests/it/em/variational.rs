//! Variational fits beyond the scikit-learn oracle: model files, bad priors, n_init, warm
//! starts, and the paths that refuse them.

use crate::common::cli::{assert_success, gaussmix};
use crate::common::path_str as s;
use crate::common::{draw, fit_cpu, truth};

use gaussmix::variational::{CovariancePrior, WeightConcentration};
use gaussmix::{
    fit, CovarianceType, DeviceChoice, FitConfig, FitOptions, FullPath, InitMethod, Samples,
    VariationalConfig, WeightPrior,
};
use nalgebra::{DMatrix, DVector};

fn bayes(k: usize, t: CovarianceType, prior: WeightPrior) -> FitConfig {
    FitConfig::new(k)
        .covariance_type(t)
        .variational(VariationalConfig::new(prior))
}

#[test]
fn variational_models_round_trip_through_model_files() {
    let (x, _) = draw(&truth(3), 400, 1);
    let dir = tempfile::tempdir().unwrap();
    for t in CovarianceType::ALL {
        for prior in [
            WeightPrior::DirichletProcess,
            WeightPrior::DirichletDistribution,
        ] {
            let m = fit_cpu(&x, &bayes(5, t, prior)).unwrap();
            let path = dir.path().join(format!("{t}-{prior}.npz"));
            gaussmix::io::save_model(&path, &m).unwrap();
            let back = gaussmix::io::load_model(&path).unwrap();
            let (a, b) = (m.variational().unwrap(), back.variational().unwrap());
            assert_eq!(a.priors, b.priors, "{t} {prior}");
            assert_eq!(a.posterior, b.posterior, "{t} {prior}");
            // The density queries use the posterior's expected log-densities, not the weights.
            let (sa, sb) = (
                m.score_samples(&x).unwrap(),
                back.score_samples(&x).unwrap(),
            );
            assert_eq!(sa, sb, "{t} {prior}");
            let plain = gaussmix::GaussianMixture::from_params(m.params().clone(), 1e-6);
            assert!((plain.score_samples(&x).unwrap() - &sa).amax() > 1e-6);
        }
    }
}

#[test]
fn damaged_variational_model_files_are_clear_errors() {
    let (x, _) = draw(&truth(2), 200, 2);
    let m = fit_cpu(
        &x,
        &bayes(3, CovarianceType::Diag, WeightPrior::DirichletProcess),
    )
    .unwrap();
    let bytes = gaussmix::io::model_to_bytes(&m).unwrap();
    // Rewrite one array at a time through numpy-free means: drop it from the archive.
    let dir = tempfile::tempdir().unwrap();
    for (drop, needle) in [
        (
            "weight_concentration_prior_type",
            "weight_concentration_prior_type' is missing",
        ),
        ("mean_precision_", "'mean_precision_' is missing"),
        ("covariance_prior_", "'covariance_prior_' is missing"),
    ] {
        let mut zin = zip::ZipArchive::new(std::io::Cursor::new(bytes.clone())).unwrap();
        let path = dir.path().join(format!("no-{drop}.npz"));
        let mut zout = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        for i in 0..zin.len() {
            let e = zin.by_index(i).unwrap();
            if e.name() != format!("{drop}.npy") {
                zout.raw_copy_file(e).unwrap();
            }
        }
        zout.finish().unwrap();
        let err = gaussmix::io::load_model(&path).unwrap_err().to_string();
        assert!(
            err.contains(needle) && err.contains(s(&path)),
            "{drop}: {err}"
        );
    }
}

#[test]
fn bad_priors_are_clear_errors() {
    let (x, _) = draw(&truth(3), 100, 3);
    let d = 3;
    let run = |t: CovarianceType, v: VariationalConfig| {
        fit_cpu(&x, &FitConfig::new(3).covariance_type(t).variational(v))
            .unwrap_err()
            .to_string()
    };
    let full = CovarianceType::Full;
    let cases: Vec<(CovarianceType, VariationalConfig, &str)> = vec![
        (
            full,
            VariationalConfig {
                weight_concentration: Some(-1.0),
                ..Default::default()
            },
            "weight_concentration_prior",
        ),
        (
            full,
            VariationalConfig {
                weight_concentration: Some(f64::NAN),
                ..Default::default()
            },
            "weight_concentration_prior",
        ),
        (
            full,
            VariationalConfig {
                mean_precision: Some(0.0),
                ..Default::default()
            },
            "mean_precision_prior",
        ),
        (
            full,
            VariationalConfig {
                mean: Some(DVector::zeros(d + 1)),
                ..Default::default()
            },
            "shape (3,)",
        ),
        (
            full,
            VariationalConfig {
                mean: Some(DVector::from_element(d, f64::NAN)),
                ..Default::default()
            },
            "mean_prior",
        ),
        (
            full,
            VariationalConfig {
                degrees_of_freedom: Some(1.5),
                ..Default::default()
            },
            "> D − 1 = 2",
        ),
        (
            full,
            VariationalConfig {
                covariance: Some(CovariancePrior::Matrix(DMatrix::identity(2, 2))),
                ..Default::default()
            },
            "(3, 3)",
        ),
        (
            full,
            VariationalConfig {
                covariance: Some(CovariancePrior::Matrix(-DMatrix::identity(3, 3))),
                ..Default::default()
            },
            "positive definite",
        ),
        (
            full,
            VariationalConfig {
                covariance: Some(CovariancePrior::Diagonal(DVector::from_element(3, 1.0))),
                ..Default::default()
            },
            "a (3, 3) matrix",
        ),
        (
            CovarianceType::Diag,
            VariationalConfig {
                covariance: Some(CovariancePrior::Diagonal(DVector::from_vec(vec![
                    1.0, -2.0, 1.0,
                ]))),
                ..Default::default()
            },
            "covariance_prior",
        ),
        (
            CovarianceType::Spherical,
            VariationalConfig {
                covariance: Some(CovariancePrior::Scalar(f64::INFINITY)),
                ..Default::default()
            },
            "covariance_prior",
        ),
    ];
    for (t, v, needle) in cases {
        let e = run(t, v.clone());
        assert!(e.contains(needle), "{v:?}: {e}");
    }
    // scikit-learn's BayesianGaussianMixture has no *_init parameters.
    let e = fit_cpu(
        &x,
        &bayes(3, full, WeightPrior::DirichletProcess).means_init(DMatrix::zeros(3, 3)),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("means_init") && e.contains("priors"), "{e}");
}

#[test]
fn n_init_keeps_the_best_bound_and_warm_starts_continue() {
    let (x, _) = draw(&truth(2), 300, 4);
    let one = fit_cpu(
        &x,
        &bayes(6, CovarianceType::Full, WeightPrior::DirichletProcess).init(InitMethod::Random),
    )
    .unwrap();
    let config = bayes(6, CovarianceType::Full, WeightPrior::DirichletProcess)
        .init(InitMethod::Random)
        .n_init(4);
    let best = fit_cpu(&x, &config).unwrap();
    assert!(best.summary().lower_bound >= one.summary().lower_bound);
    assert_eq!(best.summary().n_init, 4);
    // Different initialisations reach different bounds, and the kept one is the best.
    let seeds: Vec<f64> = (1..4)
        .map(|seed| {
            fit_cpu(&x, &config.clone().n_init(1).seed(seed))
                .unwrap()
                .summary()
                .lower_bound
        })
        .collect();
    assert!(
        seeds
            .iter()
            .any(|&b| (b - one.summary().lower_bound).abs() > 1e-6),
        "{seeds:?}"
    );
    assert_eq!(
        best.summary().lower_bound,
        *best.summary().lower_bound_history.last().unwrap()
    );
    // A warm start from the converged posterior stops within a few iterations.
    let warm = fit(
        &Samples::new(&x).unwrap(),
        &bayes(6, CovarianceType::Full, WeightPrior::DirichletProcess),
        FitOptions::new()
            .device(DeviceChoice::Cpu)
            .warm_start(&best),
    )
    .unwrap();
    assert!(
        warm.summary().converged && warm.summary().n_iter <= 3,
        "{:?}",
        warm.summary()
    );
    assert!((warm.summary().lower_bound - best.summary().lower_bound).abs() < 1e-2);
    // and a warm start must be of the same kind
    let ml = fit_cpu(&x, &FitConfig::new(6)).unwrap();
    let e = fit(
        &Samples::new(&x).unwrap(),
        &bayes(6, CovarianceType::Full, WeightPrior::DirichletProcess),
        FitOptions::new().device(DeviceChoice::Cpu).warm_start(&ml),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("variational"), "{e}");
}

#[test]
fn paths_without_a_variational_form_refuse_it() {
    let (mut x, _) = draw(&truth(3), 100, 5);
    let config = bayes(2, CovarianceType::Full, WeightPrior::DirichletProcess);
    let e = fit(
        &Samples::new(&x).unwrap(),
        &config,
        FitOptions::new()
            .device(DeviceChoice::Cpu)
            .full_path(FullPath::LowRank),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no exact low-rank form"), "{e}");
    x[(3, 1)] = f64::NAN;
    let e = fit(
        &Samples::with_missing(&x).unwrap(),
        &config,
        FitOptions::new().device(DeviceChoice::Cpu),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("complete data"), "{e}");
    // With fewer samples than features, full covariances run dense (small enough here).
    let wide = DMatrix::from_fn(20, 30, |i, j| {
        ((i * 7 + j * 13) % 17) as f64 + (i % 2) as f64 * 9.0
    });
    let m = fit_cpu(
        &wide,
        &bayes(2, CovarianceType::Full, WeightPrior::DirichletProcess),
    )
    .unwrap();
    assert!(matches!(m.covariances(), gaussmix::Covariances::Full(_)));
}

#[test]
fn the_command_line_fits_saves_and_reports_a_variational_model() {
    let (x, _) = draw(&truth(2), 300, 6);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("x.csv");
    crate::common::write_csv(&data, &x);
    let model = dir.path().join("m.npz");
    let out = gaussmix(&[
        "fit",
        s(&data),
        "-k",
        "6",
        "--bayesian",
        "--weight-prior",
        "dirichlet",
        "--covariance",
        "diag",
        "--seed",
        "3",
        "-o",
        s(&model),
        "-q",
    ]);
    assert_success(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("variational Bayesian") && stdout.contains("effective components"),
        "{stdout}"
    );
    let m = gaussmix::io::load_model(&model).unwrap();
    let v = m.variational().unwrap();
    assert!(matches!(
        v.posterior.weight_concentration,
        WeightConcentration::Distribution(_)
    ));
    // The same fit through the library.
    let lib = fit_cpu(
        &x,
        &bayes(6, CovarianceType::Diag, WeightPrior::DirichletDistribution).seed(3),
    )
    .unwrap();
    assert_eq!(lib.variational().unwrap().posterior, v.posterior);
    // Priors from the command line: a number for the covariance prior, a file for the mean.
    let mean = dir.path().join("mean.csv");
    std::fs::write(&mean, "0\n0\n").unwrap();
    let out = gaussmix(&[
        "fit",
        s(&data),
        "-k",
        "3",
        "--bayesian",
        "--covariance-prior",
        "2",
        "--mean-prior",
        s(&mean),
        "--degrees-of-freedom-prior",
        "4",
        "-o",
        s(&model),
        "-q",
    ]);
    assert_success(&out);
    let p = gaussmix::io::load_model(&model)
        .unwrap()
        .variational()
        .unwrap()
        .priors
        .clone();
    assert_eq!(
        p.covariance,
        CovariancePrior::Matrix(DMatrix::identity(2, 2) * 2.0)
    );
    assert_eq!(p.mean, DVector::zeros(2));
    assert_eq!(p.degrees_of_freedom, 4.0);
    // Bad priors name the flag, and leave no model behind.
    let bad_model = dir.path().join("bad.npz");
    for (args, needle) in [
        (
            vec!["--degrees-of-freedom-prior", "0.5"],
            "--degrees-of-freedom-prior",
        ),
        (
            vec!["--weight-concentration", "-1"],
            "--weight-concentration",
        ),
        (vec!["--covariance-prior", "nope.npy"], "--covariance-prior"),
    ] {
        let mut all = vec![
            "fit",
            s(&data),
            "-k",
            "3",
            "--bayesian",
            "-o",
            s(&bad_model),
        ];
        all.extend(args.iter());
        let out = gaussmix(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(needle),
            "{args:?}: {stderr}"
        );
        assert!(!bad_model.exists());
    }
    let out = gaussmix(&[
        "fit",
        s(&data),
        "-k",
        "3",
        "--weight-prior",
        "dirichlet",
        "-o",
        s(&bad_model),
    ]);
    assert!(!out.status.success());
}

#[test]
fn variational_models_answer_every_query() {
    // sample and condition use weights_, means_ and covariances_; predict and score the
    // expected log-densities; the CLI's queries read the model file.
    let (x, _) = draw(&truth(3), 600, 11);
    let m = fit_cpu(
        &x,
        &bayes(6, CovarianceType::Full, WeightPrior::DirichletProcess),
    )
    .unwrap();
    let (draws, comps) = m.sample(4000, &mut gaussmix::seeded_rng(1, 0)).unwrap();
    assert_eq!(draws.shape(), (4000, 3));
    let mean = draws.row_mean();
    let want = m.weights().transpose() * m.means();
    assert!((mean - want).amax() < 0.3, "sample mean");
    assert!(comps.iter().all(|&c| c < 6));
    let cond = gaussmix::condition::PatternConditioner::new(m.params(), &[0]).unwrap();
    let given = cond.conditional_mean(&[x[(0, 0)]]).unwrap();
    assert_eq!(given.len(), 2);
    assert!(given.iter().all(|v| v.is_finite()));
    let labels = m.predict(&x).unwrap();
    let proba = m.predict_proba(&x).unwrap();
    for (i, &l) in labels.iter().enumerate() {
        assert_eq!(proba.row(i).transpose().imax(), l);
    }
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.npz");
    gaussmix::io::save_model(&model, &m).unwrap();
    let data = dir.path().join("x.csv");
    crate::common::write_csv(&data, &x);
    let out_labels = dir.path().join("labels.csv");
    assert_success(&gaussmix(&[
        "predict",
        s(&model),
        s(&data),
        "-o",
        s(&out_labels),
    ]));
    let read: Vec<usize> = std::fs::read_to_string(&out_labels)
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert_eq!(read, labels);
    let out = gaussmix(&["score", s(&model), s(&data)]);
    assert_success(&out);
    let mean_ll = m.score(&x).unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{mean_ll:.9}")));
    assert_success(&gaussmix(&[
        "sample",
        s(&model),
        "-n",
        "5",
        "-o",
        s(&dir.path().join("d.npy")),
    ]));
    assert_success(&gaussmix(&["info", s(&model)]));
}
