//! Sample weights: integer weights act as repeated rows on every CPU path (dense, exact
//! low-rank, missing values, variational), zero weights as dropped rows (the k-means
//! initialisation included), the weighted BIC is the repeated rows' BIC, and bad weights are
//! clear errors.

use crate::common::cli::{assert_success, gaussmix};
use crate::common::path_str as s;
use crate::common::{assert_same_fit, draw, truth};

use gaussmix::{
    fit, CovarianceType, Covariances, DeviceChoice, FitConfig, FitOptions, FullPath,
    GaussianMixture, InitMethod, Samples, VariationalConfig, WeightPrior,
};
use nalgebra::DMatrix;

/// Weights 1, 2, 3, … (cycling) and the data with each row repeated that many times.
fn repeated(x: &DMatrix<f64>, labels: &[usize]) -> (Vec<f64>, DMatrix<f64>, Vec<usize>) {
    let w: Vec<f64> = (0..x.nrows()).map(|i| (i % 3 + 1) as f64).collect();
    let mut rows = Vec::new();
    let mut rep_labels = Vec::new();
    for (i, &wi) in w.iter().enumerate() {
        for _ in 0..wi as usize {
            rows.push(x.row(i).into_owned());
            rep_labels.push(labels[i]);
        }
    }
    (w, DMatrix::from_rows(&rows), rep_labels)
}

fn fit_on(
    x: &DMatrix<f64>,
    w: Option<&[f64]>,
    config: &FitConfig,
    path: FullPath,
    missing: bool,
) -> GaussianMixture {
    let samples = if missing {
        Samples::with_missing(x)
    } else {
        Samples::new(x)
    }
    .unwrap();
    let samples = match w {
        Some(w) => samples.weighted(w).unwrap(),
        None => samples,
    };
    fit(
        &samples,
        config,
        FitOptions::new().device(DeviceChoice::Cpu).full_path(path),
    )
    .unwrap()
}

#[test]
fn integer_weights_act_as_repeated_rows_on_every_path() {
    let (x, labels) = draw(&truth(3), 300, 7);
    let (w, xr, lr) = repeated(&x, &labels);
    let base = |l: Vec<usize>| {
        FitConfig::new(3)
            .init(InitMethod::Labels(l))
            .tol(1e-8)
            .max_iter(30)
    };
    for t in CovarianceType::ALL {
        let cw = base(labels.clone()).covariance_type(t);
        let cr = base(lr.clone()).covariance_type(t);
        assert_same_fit(
            &format!("{t}"),
            &fit_on(&x, Some(&w), &cw, FullPath::Dense, false),
            &fit_on(&xr, None, &cr, FullPath::Dense, false),
            1e-10,
        );
        let vw = cw
            .clone()
            .variational(VariationalConfig::new(WeightPrior::DirichletProcess));
        let vr = cr
            .clone()
            .variational(VariationalConfig::new(WeightPrior::DirichletProcess));
        let (a, b) = (
            fit_on(&x, Some(&w), &vw, FullPath::Dense, false),
            fit_on(&xr, None, &vr, FullPath::Dense, false),
        );
        assert_same_fit(&format!("variational {t}"), &a, &b, 1e-10);
        let prior = |m: &GaussianMixture| match &m.variational().unwrap().priors.covariance {
            gaussmix::variational::CovariancePrior::Matrix(c) => c.iter().copied().collect(),
            gaussmix::variational::CovariancePrior::Diagonal(c) => c.iter().copied().collect(),
            gaussmix::variational::CovariancePrior::Scalar(c) => vec![*c],
        };
        let (pa, pb): (Vec<f64>, Vec<f64>) = (prior(&a), prior(&b));
        let worst = pa
            .iter()
            .zip(&pb)
            .map(|(p, q)| (p - q).abs() / q.abs())
            .fold(0.0, f64::max);
        assert!(
            worst < 1e-12,
            "{t}: the default covariance prior of repeated rows, {worst:e}"
        );
    }
    // The exact low-rank path (fewer samples than features).
    let wide = DMatrix::from_fn(24, 40, |i, j| {
        ((i * 7 + j * 13) % 17) as f64 * 0.3 + (i % 2) as f64 * 6.0
    });
    let wl: Vec<usize> = (0..24).map(|i| i % 2).collect();
    let (ww, wider, wlr) = repeated(&wide, &wl);
    let c = |l: Vec<usize>| {
        FitConfig::new(2)
            .init(InitMethod::Labels(l))
            .tol(1e-8)
            .max_iter(10)
    };
    let a = fit_on(&wide, Some(&ww), &c(wl.clone()), FullPath::LowRank, false);
    let b = fit_on(&wider, None, &c(wlr), FullPath::Dense, false);
    assert!(matches!(a.covariances(), Covariances::LowRank(_)));
    assert_same_fit("low-rank", &a, &b, 1e-8);
    // Missing values.
    let mut holes = x.clone();
    for i in (0..300).step_by(7) {
        holes[(i, i % 3)] = f64::NAN;
    }
    let (_, holes_r, _) = repeated(&holes, &labels);
    let cm = base(labels.clone());
    assert_same_fit(
        "missing",
        &fit_on(&holes, Some(&w), &cm, FullPath::Auto, true),
        &fit_on(&holes_r, None, &base(lr.clone()), FullPath::Auto, true),
        1e-10,
    );
}

#[test]
fn zero_weights_drop_rows_from_the_whole_fit_and_bic_is_the_repeated_rows() {
    // Far outliers with weight zero change nothing, not even the k-means initialisation.
    let (x, _) = draw(&truth(2), 400, 8);
    let mut with_outliers = x.clone().insert_rows(400, 20, 0.0);
    for i in 400..420 {
        with_outliers.set_row(i, &nalgebra::RowDVector::from_element(2, 1e3 + i as f64));
    }
    let mut w = vec![1.0; 420];
    w[400..].iter_mut().for_each(|v| *v = 0.0);
    let config = FitConfig::new(3).seed(5);
    let a = fit_on(&with_outliers, Some(&w), &config, FullPath::Dense, false);
    let b = fit_on(&x, Some(&[1.0; 400]), &config, FullPath::Dense, false);
    assert_same_fit("zero weights", &a, &b, 1e-10);
    // Weighted BIC = the BIC of the repeated rows.
    let labels = vec![0; 400];
    let (wr, xr, _) = repeated(&x, &labels);
    let bic_w = b.bic_weighted(&x, &wr).unwrap();
    let bic_r = b.bic(&xr).unwrap();
    assert!(
        (bic_w - bic_r).abs() < 1e-9 * bic_r.abs(),
        "{bic_w} vs {bic_r}"
    );
    assert!((b.score_weighted(&x, &wr).unwrap() - b.score(&xr).unwrap()).abs() < 1e-12);
    assert!((b.aic_weighted(&x, &wr).unwrap() - b.aic(&xr).unwrap()).abs() < 1e-9 * bic_r.abs());
}

#[test]
fn bad_weights_are_clear_errors() {
    let (x, _) = draw(&truth(2), 50, 9);
    let samples = || Samples::new(&x).unwrap();
    for (w, needle) in [
        (vec![1.0; 49], "49 weights"),
        (
            {
                let mut v = vec![1.0; 50];
                v[7] = -1.0;
                v
            },
            "-1 at row 7",
        ),
        (
            {
                let mut v = vec![1.0; 50];
                v[3] = f64::NAN;
                v
            },
            "NaN at row 3",
        ),
        (vec![0.0; 50], "all zero"),
    ] {
        let e = samples().weighted(&w).unwrap_err().to_string();
        assert!(e.contains("sample_weight") && e.contains(needle), "{e}");
    }
    let m = fit_on(&x, None, &FitConfig::new(2), FullPath::Dense, false);
    assert!(m
        .bic_weighted(&x, &[1.0; 3])
        .unwrap_err()
        .to_string()
        .contains("3 weights"));
}

#[test]
fn the_command_line_takes_sample_weights() {
    let (x, labels) = draw(&truth(2), 200, 10);
    let (w, xr, lr) = repeated(&x, &labels);
    let dir = tempfile::tempdir().unwrap();
    let (data, data_r) = (dir.path().join("x.csv"), dir.path().join("xr.csv"));
    crate::common::write_csv(&data, &x);
    crate::common::write_csv(&data_r, &xr);
    let weights = dir.path().join("w.csv");
    std::fs::write(
        &weights,
        w.iter().map(|v| format!("{v}\n")).collect::<String>(),
    )
    .unwrap();
    let lab = |l: &[usize], name: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, l.iter().map(|v| format!("{v}\n")).collect::<String>()).unwrap();
        p
    };
    let (la, lb) = (lab(&labels, "l.csv"), lab(&lr, "lr.csv"));
    let (ma, mb) = (dir.path().join("a.npz"), dir.path().join("b.npz"));
    assert_success(&gaussmix(&[
        "fit",
        s(&data),
        "-k",
        "3",
        "--sample-weight",
        s(&weights),
        "--labels-init",
        s(&la),
        "--device",
        "cpu",
        "-q",
        "-o",
        s(&ma),
    ]));
    assert_success(&gaussmix(&[
        "fit",
        s(&data_r),
        "-k",
        "3",
        "--labels-init",
        s(&lb),
        "--device",
        "cpu",
        "-q",
        "-o",
        s(&mb),
    ]));
    let (a, b) = (
        gaussmix::io::load_model(&ma).unwrap(),
        gaussmix::io::load_model(&mb).unwrap(),
    );
    assert_same_fit("cli", &a, &b, 1e-10);
    // score with weights prints the weighted mean log-likelihood and BIC
    let out = gaussmix(&["score", s(&ma), s(&data), "--sample-weight", s(&weights)]);
    assert_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    let bic = a.bic_weighted(&x, &w).unwrap();
    assert!(text.contains(&format!("{bic:.6}")), "{text} vs {bic}");
    // a bad weights file names the file and the row
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "1\n".repeat(199) + "-2\n").unwrap();
    let out = gaussmix(&[
        "fit",
        s(&data),
        "-k",
        "3",
        "--sample-weight",
        s(&bad),
        "-o",
        s(&ma),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("bad.csv") && stderr.contains("row 199"),
        "{stderr}"
    );
}
