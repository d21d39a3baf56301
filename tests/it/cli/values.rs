//! The CLI's outputs checked for their values, not only their shapes: `predict` (labels and
//! `--proba`, CPU and GPU) against the library, `--labels-init` / `--means-init` fits against
//! the library's fit from the same initialisation, and `sample`'s moments against the model's.

use crate::common::cli::{assert_success, gaussmix, Dir};
use crate::common::{cli_data as data, fit_cpu, path_str as s, write_csv};
use gaussmix::io::{load_model, read_labels, read_matrix, Missing};
use gaussmix::{FitConfig, InitMethod};
use nalgebra::{DMatrix, DVector};

#[test]
fn predict_labels_and_probabilities_equal_the_library() {
    let d = Dir::new();
    let x = data();
    write_csv(&d.p("x.csv"), &x);
    let model_path = d.p("m.npz");
    assert_success(&gaussmix(&[
        "fit",
        s(&d.p("x.csv")),
        "-k",
        "3",
        "--device",
        "cpu",
        "--seed",
        "4",
        "-o",
        s(&model_path),
    ]));
    let model = load_model(&model_path).unwrap();
    let want_labels = model.predict(&x).unwrap();
    let want_proba = model.predict_proba(&x).unwrap();
    let gpu = crate::common::context().is_some();
    for device in ["cpu", "gpu"] {
        if device == "gpu" && !gpu {
            continue;
        }
        let labels = d.p(&format!("labels-{device}.csv"));
        assert_success(&gaussmix(&[
            "predict",
            s(&model_path),
            s(&d.p("x.csv")),
            "--device",
            device,
            "-o",
            s(&labels),
        ]));
        let got = read_labels(&labels).unwrap();
        let proba = d.p(&format!("p-{device}.npy"));
        assert_success(&gaussmix(&[
            "predict",
            s(&model_path),
            s(&d.p("x.csv")),
            "--proba",
            "--device",
            device,
            "-o",
            s(&proba),
        ]));
        let p = read_matrix(&proba, Missing::Reject).unwrap();
        assert_eq!(p.shape(), want_proba.shape());
        if device == "cpu" {
            assert_eq!(got, want_labels, "CPU labels differ from the library's");
            assert!((&p - &want_proba).amax() < 1e-12, "CPU probabilities");
        } else {
            // f32 on the device: probabilities within the GPU section's 1e-3, and labels equal
            // wherever the two best components are not within that of each other.
            assert!((&p - &want_proba).amax() < 1e-3, "GPU probabilities");
            for (i, (&g, &w)) in got.iter().zip(&want_labels).enumerate() {
                let margin = want_proba[(i, w)] - want_proba[(i, g)];
                assert!(
                    g == w || margin < 2e-3,
                    "sample {i}: GPU label {g}, CPU {w}"
                );
            }
        }
    }
}

#[test]
fn labels_init_and_means_init_fits_equal_the_library_fit() {
    let d = Dir::new();
    let x = data();
    write_csv(&d.p("x.csv"), &x);
    let (_, labels) = crate::common::draw(&crate::common::truth(3), 600, 7);
    std::fs::write(
        d.p("l.csv"),
        labels.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    // Means that are not the truth, so that EM has work to do.
    let means = crate::common::truth(3).means.map(|v| v * 0.8 + 0.3);
    write_csv(&d.p("mu.csv"), &means);
    for (flag, file, init) in [
        ("--labels-init", "l.csv", InitMethod::Labels(labels.clone())),
        ("--means-init", "mu.csv", InitMethod::Means(means.clone())),
    ] {
        for cov in gaussmix::CovarianceType::ALL {
            let out = d.p("m.npz");
            assert_success(&gaussmix(&[
                "fit",
                s(&d.p("x.csv")),
                "-k",
                "3",
                "--covariance",
                cov.as_str(),
                flag,
                s(&d.p(file)),
                "--device",
                "cpu",
                "-o",
                s(&out),
            ]));
            let cli = load_model(&out).unwrap();
            let lib = fit_cpu(
                &x,
                &FitConfig::new(3).covariance_type(cov).init(init.clone()),
            )
            .unwrap();
            assert_eq!(cli.params(), lib.params(), "{flag} {cov}");
            assert_eq!(
                cli.summary().lower_bound_history,
                lib.summary().lower_bound_history,
                "{flag} {cov}"
            );
        }
    }
}

#[test]
fn sample_output_has_the_model_moments() {
    let d = Dir::new();
    let x = data();
    write_csv(&d.p("x.csv"), &x);
    let model_path = d.p("m.npz");
    assert_success(&gaussmix(&[
        "fit",
        s(&d.p("x.csv")),
        "-k",
        "3",
        "--device",
        "cpu",
        "-o",
        s(&model_path),
    ]));
    let model = load_model(&model_path).unwrap();
    let n = 40_000;
    assert_success(&gaussmix(&[
        "sample",
        s(&model_path),
        "-n",
        &n.to_string(),
        "--seed",
        "5",
        "-o",
        s(&d.p("s.npy")),
        "--labels",
        s(&d.p("l.npy")),
    ]));
    let smp = read_matrix(&d.p("s.npy"), Missing::Reject).unwrap();
    let labels = read_labels(&d.p("l.npy")).unwrap();
    let p = model.params();
    let dd = x.ncols();
    // The mixture's mean and covariance: Σ π μ, and Σ π (Σ_k + μ_k μ_kᵀ) − m mᵀ.
    let mut mean = DVector::<f64>::zeros(dd);
    let mut second = DMatrix::<f64>::zeros(dd, dd);
    let gaussmix::Covariances::Full(covs) = &p.covariances else {
        panic!("full covariances expected")
    };
    for (k, cov) in covs.iter().enumerate() {
        let mu = p.means.row(k).transpose();
        mean += &mu * p.weights[k];
        second += (cov + &mu * mu.transpose()) * p.weights[k];
    }
    let cov = &second - &mean * mean.transpose();
    let got_mean = DVector::from_fn(dd, |j, _| smp.column(j).mean());
    for j in 0..dd {
        let se = (cov[(j, j)] / n as f64).sqrt();
        assert!((got_mean[j] - mean[j]).abs() < 5.0 * se, "mean {j}");
    }
    let centred = DMatrix::from_fn(n, dd, |i, j| smp[(i, j)] - got_mean[j]);
    let got_cov = centred.transpose() * &centred / (n as f64 - 1.0);
    let scale = cov.diagonal().max();
    assert!(
        (&got_cov - &cov).amax() < 0.05 * scale,
        "{got_cov} vs {cov}"
    );
    // Component frequencies follow the weights (binomial, 5 standard errors).
    for k in 0..3 {
        let f = labels.iter().filter(|&&l| l == k).count() as f64 / n as f64;
        let se = (p.weights[k] * (1.0 - p.weights[k]) / n as f64).sqrt();
        assert!((f - p.weights[k]).abs() < 5.0 * se, "weight {k}: {f}");
    }
}
