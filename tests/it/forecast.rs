//! Time-series forecasting: windows and transforms, near-exact forecasts of a noiseless sine,
//! baselines, argument errors, and the command line.

use crate::common::cli::{assert_success, gaussmix};
use crate::common::path_str as s;

use gaussmix::forecast::window::{embed, window_origins, Encoding};
use gaussmix::forecast::{
    self, parse_series, Builtin, Errors, ForecastConfig, LinearAr, Transform, TransformChoice,
    WindowModel,
};
use gaussmix::CovarianceType;

fn sine(n: usize, period: f64) -> Vec<f64> {
    (0..n)
        .map(|t| (2.0 * std::f64::consts::PI * t as f64 / period).sin())
        .collect()
}

fn config(window: usize, horizon: usize, k: usize, transform: Transform) -> ForecastConfig {
    ForecastConfig {
        window,
        horizon,
        n_components: k,
        transform: TransformChoice::Fixed(transform),
        reg_covar: 1e-8,
        ..ForecastConfig::default()
    }
}

#[test]
fn a_noiseless_sine_is_forecast_nearly_exactly() {
    let y = sine(400, 23.0);
    for transform in Transform::ALL {
        for k in [1, 3] {
            let run = forecast::run(&y, &config(4, 3, k, transform)).unwrap();
            let e = Errors::of(&run.gmm, &run.truth);
            let p = Errors::of(&run.persistence, &run.truth);
            assert!(e.rmse < 1e-3, "{transform}, K={k}: rmse {}", e.rmse);
            assert!(p.rmse > 0.1, "persistence should not be exact: {}", p.rmse);
            assert!(
                Errors::of(&run.ar, &run.truth).rmse < 1e-6,
                "AR is exact on a sine"
            );
            assert_eq!(run.truth.ncols(), 3);
            assert_eq!(run.n_test(), 400 - 320 - 3 + 1);
        }
    }
}

#[test]
fn iterated_forecasts_of_a_sine_are_nearly_exact_too() {
    let y = sine(300, 17.0);
    let mut c = config(3, 6, 2, Transform::None);
    c.iterated = true;
    c.n_paths = 20;
    let run = forecast::run(&y, &c).unwrap();
    let e = Errors::of(&run.gmm, &run.truth);
    assert!(e.rmse < 1e-3, "{}", e.rmse);
    // intervals of a nearly deterministic system are narrow and contain the mean
    for i in 0..run.n_test() {
        for h in 0..6 {
            assert!(run.lower[(i, h)] <= run.upper[(i, h)]);
            assert!(run.upper[(i, h)] - run.lower[(i, h)] < 0.05);
        }
    }
}

#[test]
fn transforms_map_back_to_the_original_values_exactly() {
    let y: Vec<f64> = (0..40)
        .map(|t| 3.0 + 0.5 * t as f64 + (t as f64).sin())
        .collect();
    let train = &y[..30];
    for transform in Transform::ALL.into_iter().chain([Transform::Seasonal(3)]) {
        let enc = Encoding::fit(transform, train);
        let (w, h) = (5, 4);
        let x = embed(&y, &enc, w, h, window_origins(w, h, y.len()));
        let p = transform.n_past(w);
        for (i, t) in window_origins(w, h, y.len()).enumerate() {
            let features: Vec<f64> = (p..p + h).map(|j| x[(i, j)]).collect();
            let (offset, map) = enc.to_levels(&y[t + 1 - w..=t], h);
            let back = offset + map * nalgebra::DVector::from_vec(features);
            for j in 0..h {
                assert!((back[j] - y[t + 1 + j]).abs() < 1e-12, "{transform}");
            }
            assert_eq!(enc.past_features(&y[t + 1 - w..=t]).len(), p);
        }
    }
}

#[test]
fn window_norm_and_diff_follow_a_trend_that_none_cannot() {
    // A sine on a steep linear trend: the test part lies above every training value.
    let y: Vec<f64> = (0..400)
        .map(|t| 0.2 * t as f64 + (2.0 * std::f64::consts::PI * t as f64 / 25.0).sin())
        .collect();
    let rmse = |t| {
        let run = forecast::run(&y, &config(6, 2, 2, t)).unwrap();
        if t == Transform::None {
            // every test input is above the training levels, and the run says so
            assert!(
                run.outside_training.len() * 10 >= run.n_test() * 9,
                "{} of {}",
                run.outside_training.len(),
                run.n_test()
            );
            let r = run.report_json();
            assert_eq!(
                r["inputs_outside_training"]["count"].as_u64().unwrap() as usize,
                run.outside_training.len()
            );
        } else {
            assert!(run.outside_training.len() * 10 < run.n_test(), "{t}");
        }
        Errors::of(&run.gmm, &run.truth).rmse
    };
    let (none, diff, norm) = (
        rmse(Transform::None),
        rmse(Transform::Diff),
        rmse(Transform::WindowNorm),
    );
    assert!(
        diff < 0.05 && norm < 0.05,
        "diff {diff}, window-norm {norm}"
    );
    assert!(none > 10.0 * diff.max(norm), "none {none}");
    // and auto finds a relative transform by validation inside the training part
    let mut c = config(6, 2, 2, Transform::None);
    c.transform = TransformChoice::Auto;
    let run = forecast::run(&y, &c).unwrap();
    assert_ne!(run.transform, Transform::None, "{:?}", run.validation);
    // the three transforms, and seasonal differencing at the sine's period (25), which a
    // window of 6 cannot use
    assert_eq!(run.period, Some((25, true)));
    assert_eq!(run.validation.len(), 4);
    assert!(run.validation[3]
        .1
        .as_ref()
        .unwrap_err()
        .contains("at least 26"));
}

#[test]
fn relative_levels_give_every_level_of_a_window_from_its_last_past_value() {
    let y: Vec<f64> = (0..40)
        .map(|t| 3.0 + 0.5 * t as f64 + (t as f64).sin())
        .collect();
    let (w, h) = (5, 3);
    for transform in [Transform::Diff, Transform::WindowNorm] {
        let enc = Encoding::fit(transform, &y[..30]);
        let g = enc.relative_levels(w, h).unwrap();
        let x = embed(&y, &enc, w, h, window_origins(w, h, y.len()));
        for (i, t) in window_origins(w, h, y.len()).enumerate() {
            let z = x.row(i).transpose();
            let rel = &g * z * enc.scale;
            for pos in 0..w + h {
                let level = y[t + 1 - w + pos];
                assert!(
                    (y[t] + rel[pos] - level).abs() < 1e-9,
                    "{transform}, origin {t}, position {pos}"
                );
            }
        }
    }
    for transform in [Transform::None, Transform::Seasonal(2)] {
        assert!(Encoding::fit(transform, &y).relative_levels(w, h).is_none());
    }
}

/// A noisy nonlinear signal on a trend, for forecasts from pasts with gaps.
fn trend_signal(n: usize, seed: u64) -> Vec<f64> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|t| {
            let t = t as f64;
            0.02 * t + (t / 5.0).sin() + 0.1 * (rng.random::<f64>() - 0.5)
        })
        .collect()
}

fn assert_same_mixture(
    a: &gaussmix::condition::ConditionalMixture,
    b: &gaussmix::condition::ConditionalMixture,
    what: &str,
) {
    assert!((&a.weights - &b.weights).amax() < 1e-8, "{what}: weights");
    assert!((&a.means - &b.means).amax() < 1e-8, "{what}: means");
    for (ca, cb) in a.covariances.iter().zip(&b.covariances) {
        assert!((ca - cb).amax() < 1e-8, "{what}: covariances");
    }
}

#[test]
fn a_past_with_gaps_is_forecast_exactly_under_the_relative_transforms() {
    use gaussmix::condition::PatternConditioner;
    let y = trend_signal(300, 4);
    let (w, h) = (6, 2);
    let fit = gaussmix::FitConfig::new(2).seed(1).reg_covar(1e-6);
    let past: Vec<f64> = y[200..206].to_vec();
    let known = |features: &[f64]| -> Vec<usize> {
        (0..features.len())
            .filter(|&j| !features[j].is_nan())
            .collect()
    };
    // window-norm, a gap inside the past (its last value known): the features of the other
    // values are known and the gap's is missing, so the forecast is the ordinary conditioning
    // on the known features.
    let m = WindowModel::fit(&y[..250], Transform::WindowNorm, w, h, &fit).unwrap();
    let mut gappy = past.clone();
    gappy[2] = f64::NAN;
    let features = m.encoding.past_features(&gappy);
    let observed = known(&features);
    let x_o: Vec<f64> = observed.iter().map(|&j| features[j]).collect();
    let cond = PatternConditioner::new(m.model.params(), &observed)
        .unwrap()
        .condition(&x_o)
        .unwrap();
    let n_missing = features.len() - observed.len();
    let mut select = nalgebra::DMatrix::zeros(h, n_missing + h);
    select
        .columns_mut(n_missing, h)
        .copy_from(&(nalgebra::DMatrix::identity(h, h) * m.encoding.scale));
    let expected = cond
        .affine(&nalgebra::DVector::from_element(h, gappy[5]), &select)
        .unwrap();
    assert_same_mixture(
        &m.forecast(&gappy).unwrap(),
        &expected,
        "window-norm, inner gap",
    );
    // diff, the last past value missing: the two differences next to it are missing, the
    // others known, and y_{t+h} = y_{t−1} + s (z_{t−1} + Σ_{j≤h} z_{t+j}).
    let m = WindowModel::fit(&y[..250], Transform::Diff, w, h, &fit).unwrap();
    let mut gappy = past.clone();
    gappy[5] = f64::NAN;
    let features = m.encoding.past_features(&gappy);
    let observed = known(&features);
    assert_eq!(observed, vec![0, 1, 2, 3], "the last difference is unknown");
    let x_o: Vec<f64> = observed.iter().map(|&j| features[j]).collect();
    let cond = PatternConditioner::new(m.model.params(), &observed)
        .unwrap()
        .condition(&x_o)
        .unwrap();
    // missing coordinates: z_4 (the last past difference), then the h future ones
    let s = m.encoding.scale;
    let map = nalgebra::DMatrix::from_fn(h, 1 + h, |i, j| if j <= i + 1 { s } else { 0.0 });
    let expected = cond
        .affine(&nalgebra::DVector::from_element(h, gappy[4]), &map)
        .unwrap();
    assert_same_mixture(
        &m.forecast(&gappy).unwrap(),
        &expected,
        "diff, last value missing",
    );
    // window-norm, the last past value missing: every feature is relative to an unknown
    // level; the forecast is finite and near the one from the complete past.
    let m = WindowModel::fit(&y[..250], Transform::WindowNorm, w, h, &fit).unwrap();
    let mut gappy = past.clone();
    gappy[5] = f64::NAN;
    let with_gap = m.forecast(&gappy).unwrap().mean();
    let complete = m.forecast(&past).unwrap().mean();
    assert!(with_gap.iter().all(|v| v.is_finite()));
    assert!(
        (with_gap - complete).amax() < 0.5,
        "one missing value moves the forecast a little"
    );
    let e = m.forecast(&[f64::NAN; 6]).unwrap_err().to_string();
    assert!(e.contains("none of the 6 past values"), "{e}");
}

#[test]
fn a_trending_series_with_gaps_keeps_the_level_invariant_transforms() {
    // A trend the test part carries above every training value, with 5 % of the values
    // missing: the levels as they are would extrapolate badly; cross-validation picks a
    // level-invariant transform, and the forecasts stay unbiased and at least as good as AR.
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(21);
    let mut y = trend_signal(800, 5);
    for v in y.iter_mut().skip(8) {
        if rng.random::<f64>() < 0.05 {
            *v = f64::NAN;
        }
    }
    let c = ForecastConfig {
        window: 6,
        horizon: 2,
        n_init: 1,
        candidate_components: vec![1, 2, 4],
        ..ForecastConfig::default()
    };
    let run = forecast::run(&y, &c).unwrap();
    assert_ne!(run.transform, Transform::None, "{}", run.chosen);
    let known: Vec<(f64, f64)> = run
        .gmm
        .iter()
        .zip(run.truth.iter())
        .filter(|(_, t)| !t.is_nan())
        .map(|(g, t)| (*g, *t))
        .collect();
    let bias = known.iter().map(|(g, t)| g - t).sum::<f64>() / known.len() as f64;
    assert!(bias.abs() < 0.05, "bias {bias}");
    let (g, ar) = (
        Errors::of(&run.gmm, &run.truth).rmse,
        Errors::of(&run.ar, &run.truth).rmse,
    );
    assert!(g <= 1.02 * ar, "mixture {g}, AR {ar}");
    assert!(run.gmm.iter().all(|v| v.is_finite()));
}

#[test]
fn the_ar_baseline_recovers_an_exact_linear_recursion() {
    // y_t = c + a1 y_{t−1} + a2 y_{t−2} with roots on the unit circle: a persistent
    // oscillation around c / (1 − a1 − a2), which a window of 2 fits exactly.
    let (a1, a2, c) = (2.0 * 0.3f64.cos(), -1.0, 0.7);
    let mut y: Vec<f64> = vec![1.0, 0.0];
    for t in 2..200 {
        y.push(c + a1 * y[t - 1] + a2 * y[t - 2]);
    }
    let ar = LinearAr::fit(&y[..150], 2, 1).unwrap();
    let coef = &ar.coefficients;
    // intercept first, then the past values oldest first
    assert!((coef[(0, 0)] - c).abs() < 1e-8, "{coef}");
    assert!(
        (coef[(1, 0)] - a2).abs() < 1e-8 && (coef[(2, 0)] - a1).abs() < 1e-8,
        "{coef}"
    );
    let f = ar.forecast(&y[160..162]);
    assert!((f[0] - y[162]).abs() < 1e-8);
}

#[test]
fn bad_arguments_are_clear_errors() {
    let y = sine(100, 10.0);
    let err = |c: ForecastConfig| forecast::run(&y, &c).unwrap_err().to_string();
    let e = err(config(0, 1, 1, Transform::None));
    assert!(e.contains("window") && e.contains("at least 1"), "{e}");
    let e = err(config(3, 0, 1, Transform::None));
    assert!(e.contains("horizon") && e.contains("at least 1"), "{e}");
    let e = err(config(99, 5, 1, Transform::None));
    assert!(e.contains("longer than the series (100 values)"), "{e}");
    for f in [0.0, 1.0, -0.1, 1.5, f64::NAN] {
        let mut c = config(3, 1, 1, Transform::None);
        c.test_fraction = f;
        let e = err(c);
        assert!(
            e.contains("test_fraction") && e.contains("strictly between 0 and 1"),
            "{f}: {e}"
        );
    }
    let e = err(config(10, 5, 40, Transform::None));
    assert!(
        e.contains("training windows") && e.contains("40 components"),
        "{e}"
    );
    let e = err(config(1, 1, 1, Transform::Diff));
    assert!(e.contains("at least 2"), "{e}");
    let mut c = config(3, 1, 1, Transform::None);
    c.level = 1.0;
    assert!(err(c).contains("level"));
    // a test part shorter than the horizon
    let mut c = config(3, 30, 1, Transform::None);
    c.test_fraction = 0.25;
    let e = err(c);
    assert!(e.contains("shorter than the horizon"), "{e}");
}

#[test]
fn series_are_read_from_lines_or_a_named_csv_column() {
    assert_eq!(
        parse_series("1\n2.5\n\n-3\n", None, "s").unwrap(),
        vec![1.0, 2.5, -3.0]
    );
    assert_eq!(
        parse_series("value\n1\n2\n", None, "s").unwrap(),
        vec![1.0, 2.0]
    );
    let csv = "year,\"spots\",x\n1700,5,1\n1701,11,2\n";
    assert_eq!(
        parse_series(csv, Some("spots"), "s").unwrap(),
        vec![5.0, 11.0]
    );
    let e = parse_series(csv, None, "f.csv").unwrap_err().to_string();
    assert!(e.contains("column=NAME"), "{e}");
    let e = parse_series(csv, Some("nope"), "f.csv")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no column named 'nope'") && e.contains("year, spots, x"),
        "{e}"
    );
    let e = parse_series("1\n2\nabc\n", None, "f.txt")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 3") && e.contains("'abc'"), "{e}");
    let e = parse_series("1\nnan\n", None, "f.txt")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 2"), "{e}");
    assert!(parse_series("\n\n", None, "f").is_err());
    assert_eq!(Builtin::SantaFe.series().len(), 1000);
    assert_eq!(Builtin::Sunspots.series().len(), 309);
}

#[test]
fn the_report_has_every_method_and_the_split() {
    let y = Builtin::Sunspots.series();
    let c = ForecastConfig {
        window: 8,
        horizon: 2,
        n_components: 2,
        covariance_type: CovarianceType::Full,
        n_init: 1,
        ..ForecastConfig::default()
    };
    let run = forecast::run(&y, &c).unwrap();
    let r = run.report_json();
    for m in ["gmm", "persistence", "ar"] {
        assert!(r[m]["rmse"].as_f64().unwrap() > 0.0);
        assert!(r[m]["mae"].as_f64().unwrap() > 0.0);
        assert!(r[m]["mae"].as_f64().unwrap() <= r[m]["rmse"].as_f64().unwrap());
    }
    assert_eq!(r["window"], 8);
    assert_eq!(r["horizon"], 2);
    assert_eq!(r["n_test"].as_u64().unwrap() as usize, run.n_test());
    assert_eq!(r["n_train"].as_u64().unwrap() as usize, 247 - 8 - 2 + 1);
    assert!(r["transform"].is_string());
    let cov = r["interval_coverage"].as_f64().unwrap();
    assert!(cov > 0.5 && cov <= 1.0, "{cov}");
    assert_eq!(r["validation_fraction"], 0.3);
    let mut csv = Vec::new();
    run.write_csv(&mut csv).unwrap();
    let text = String::from_utf8(csv).unwrap();
    assert_eq!(text.lines().count(), 1 + run.n_test() * 2);
}

#[test]
fn the_command_line_writes_the_report_csv_and_plot_and_rejects_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let out = gaussmix(&[
        "forecast",
        "--builtin",
        "sunspots",
        "-k",
        "2",
        "--n-init",
        "1",
        "--out",
        s(dir.path()),
        "--report",
        s(&report),
    ]);
    assert_success(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("applied: ") && stdout.contains("cross-validation: 3 folds"),
        "{stdout}"
    );
    assert!(stdout.contains("persistence") && stdout.contains("linear AR"));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert!(json["gmm"]["rmse"].as_f64().unwrap() > 0.0);
    let png = std::fs::read(dir.path().join("forecast_sunspots.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    assert!(dir.path().join("forecast_sunspots.csv").exists());
    // a CSV column from a file
    let csv = dir.path().join("s.csv");
    let mut text = String::from("t,v\n");
    for (i, v) in sine(120, 12.0).iter().enumerate() {
        text.push_str(&format!("{i},{v}\n"));
    }
    std::fs::write(&csv, text).unwrap();
    assert_success(&gaussmix(&[
        "forecast",
        "--column",
        "v",
        "-w",
        "4",
        "--horizon",
        "2",
        "-k",
        "1",
        "--transform",
        "none",
        s(&csv),
    ]));
    for (args, needle) in [
        (vec!["--window", "0"], "window"),
        (vec!["--horizon", "0"], "horizon"),
        (vec!["--test-fraction", "1.2"], "test_fraction"),
        (vec!["--window", "400"], "longer than the series"),
        (
            vec!["--transform", "log"],
            "use auto, none, diff, window-norm or seasonal",
        ),
    ] {
        let out = gaussmix(&[&["forecast", "--builtin", "sunspots"], &args[..]].concat());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn one_component_forecasts_are_the_least_squares_ar_forecasts() {
    // A single Gaussian's conditional mean is linear in the past with the least-squares
    // coefficients of the training windows, so with K = 1 (no transform, a negligible ridge)
    // the mixture and the AR baseline must agree on real data.
    let y = Builtin::Sunspots.series();
    let mut c = config(9, 3, 1, Transform::None);
    c.reg_covar = 1e-12;
    let run = forecast::run(&y, &c).unwrap();
    let diff = (&run.gmm - &run.ar).amax();
    assert!(diff < 1e-6, "K = 1 differs from AR by {diff}");
    // and with K = 3 it is a different, nonlinear forecaster
    let mut c3 = config(9, 3, 3, Transform::None);
    c3.reg_covar = 1e-6;
    let run3 = forecast::run(&y, &c3).unwrap();
    assert!((&run3.gmm - &run3.ar).amax() > 1.0);
}

/// The README's forecast table, row by row, from the commands it names
/// (`gaussmix forecast --builtin NAME --report R.json`), to the digits it prints. The claims
/// beside the table are asserted too: on the chaotic laser the mixture at least halves the
/// linear AR error by more than a third, and on sunspots it is within 3 % of AR but not better.
#[test]
fn the_readme_forecast_table_is_what_the_commands_print() {
    struct Row {
        name: &'static str,
        transform: &'static str,
        windows: (u64, u64),
        gmm: (f64, f64),
        persistence: (f64, f64),
        ar: (f64, f64),
        coverage_percent: f64,
    }
    let rows = [
        Row {
            name: "santafe",
            transform: "window-norm",
            windows: (784, 196),
            gmm: (8.81, 4.53),
            persistence: (72.28, 58.97),
            ar: (14.41, 10.92),
            coverage_percent: 90.9,
        },
        Row {
            name: "sunspots",
            transform: "none",
            windows: (236, 60),
            gmm: (27.61, 19.16),
            persistence: (59.99, 47.43),
            ar: (27.06, 18.63),
            coverage_percent: 92.2,
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    for row in rows {
        let report = dir.path().join(format!("{}.json", row.name));
        let out = gaussmix(&["forecast", "--builtin", row.name, "--report", s(&report)]);
        assert_success(&out);
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        let name = row.name;
        assert_eq!(r["transform"], row.transform, "{name}");
        assert_eq!(r["n_train"], row.windows.0, "{name}");
        assert_eq!(r["n_test"], row.windows.1, "{name}");
        for (method, (rmse, mae)) in [
            ("gmm", row.gmm),
            ("persistence", row.persistence),
            ("ar", row.ar),
        ] {
            let got = (
                r[method]["rmse"].as_f64().unwrap(),
                r[method]["mae"].as_f64().unwrap(),
            );
            // printed to two decimals: within half a unit of the last digit
            assert!(
                (got.0 - rmse).abs() <= 0.005 + 1e-9 && (got.1 - mae).abs() <= 0.005 + 1e-9,
                "{name} {method}: README says {rmse} / {mae}, the command gives {got:?}"
            );
        }
        let coverage = 100.0 * r["interval_coverage"].as_f64().unwrap();
        assert!(
            (coverage - row.coverage_percent).abs() <= 0.05 + 1e-9,
            "{name}: coverage {coverage}"
        );
    }
    let rmse = |name: &str, method: &str| -> f64 {
        let text = std::fs::read_to_string(dir.path().join(format!("{name}.json"))).unwrap();
        let r: serde_json::Value = serde_json::from_str(&text).unwrap();
        r[method]["rmse"].as_f64().unwrap()
    };
    assert!(rmse("santafe", "gmm") <= 0.65 * rmse("santafe", "ar"));
    let ratio = rmse("sunspots", "gmm") / rmse("sunspots", "ar");
    assert!(ratio > 1.0 && ratio < 1.03, "sunspots gmm / ar = {ratio}");
}

/// The README's table of every shipped series, forecast with only the window and the horizon
/// given (`gaussmix forecast FILE -w W --horizon H --report R.json`): the transform, K and
/// the covariance type chosen by cross-validation, the test RMSE of the mixture and both
/// baselines to their printed digits, and the interval coverage. And the claims beside it:
/// the mixture beats persistence on every series but real investment (0.4 % behind), is
/// within 2 % of the linear AR model on all of them, beats AR clearly on the laser, and its
/// 90 % intervals cover 85–95 % of the test values on every series.
#[test]
fn the_readme_series_table_is_what_the_commands_print() {
    // name, file, W, H, chosen, (gmm, persistence, ar RMSE), coverage %
    type Row = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        [f64; 3],
        f64,
    );
    let rows: [Row; 17] = [
        (
            "santafe",
            "santafe_laser_a.txt",
            "12",
            "5",
            "window-norm 8 full",
            [8.656, 72.28, 14.41],
            90.9,
        ),
        (
            "sunspots",
            "sunspots_yearly.txt",
            "9",
            "3",
            "none 1 full",
            [27.06, 59.99, 27.06],
            91.7,
        ),
        (
            "nile",
            "series/nile.txt",
            "5",
            "1",
            "none 1 full",
            [125.3, 153.1, 125.3],
            95.0,
        ),
        (
            "elnino",
            "series/elnino.txt",
            "13",
            "3",
            "none 2 full",
            [0.8091, 2.227, 0.7935],
            89.9,
        ),
        (
            "co2",
            "series/co2_weekly.txt",
            "8",
            "4",
            "window-norm 4 full",
            [0.6796, 0.931, 0.7548],
            90.0,
        ),
        (
            "us_realgdp",
            "series/us_realgdp.txt",
            "8",
            "2",
            "none 1 full",
            [119.3, 148.6, 119.3],
            88.8,
        ),
        (
            "us_cpi",
            "series/us_cpi.txt",
            "8",
            "2",
            "window-norm 1 full",
            [2.265, 2.651, 2.264],
            85.0,
        ),
        (
            "us_unemp",
            "series/us_unemp.txt",
            "8",
            "2",
            "window-norm 2 full",
            [0.3836, 0.5652, 0.3838],
            88.8,
        ),
        (
            "us_realcons",
            "series/us_realcons.txt",
            "8",
            "2",
            "none 1 full",
            [56.98, 100.6, 56.98],
            87.5,
        ),
        (
            "us_realinv",
            "series/us_realinv.txt",
            "8",
            "2",
            "window-norm 4 diag",
            [101.9, 101.5, 114.5],
            88.8,
        ),
        (
            "us_realgovt",
            "series/us_realgovt.txt",
            "8",
            "2",
            "none 1 full",
            [18.63, 20.45, 18.63],
            93.8,
        ),
        (
            "us_realdpi",
            "series/us_realdpi.txt",
            "8",
            "2",
            "none 1 full",
            [95.12, 129.7, 95.12],
            92.5,
        ),
        (
            "us_m1",
            "series/us_m1.txt",
            "8",
            "2",
            "window-norm 1 full",
            [28.37, 37.74, 28.23],
            91.2,
        ),
        (
            "us_tbilrate",
            "series/us_tbilrate.txt",
            "8",
            "2",
            "none 2 full",
            [0.7165, 0.7956, 0.8745],
            88.8,
        ),
        (
            "us_infl",
            "series/us_infl.txt",
            "8",
            "2",
            "window-norm 1 full",
            [3.503, 3.999, 3.448],
            86.2,
        ),
        (
            "us_realint",
            "series/us_realint.txt",
            "8",
            "2",
            "none 1 full",
            [3.306, 3.925, 3.306],
            85.0,
        ),
        (
            "us_pop",
            "series/us_pop.txt",
            "8",
            "2",
            "none 1 full",
            [0.05541, 1.106, 0.05541],
            95.0,
        ),
    ];
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let dir = tempfile::tempdir().unwrap();
    for (name, file, w, h, chosen, rmse, coverage) in rows {
        let report = dir.path().join(format!("{name}.json"));
        let series = assets.join(file);
        assert_success(&gaussmix(&[
            "forecast",
            s(&series),
            "-w",
            w,
            "--horizon",
            h,
            "--report",
            s(&report),
        ]));
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        let got_choice = format!(
            "{} {} {}",
            r["transform"].as_str().unwrap(),
            r["n_components"],
            r["covariance_type"].as_str().unwrap()
        );
        assert_eq!(got_choice, chosen, "{name}");
        let got: Vec<f64> = ["gmm", "persistence", "ar"]
            .iter()
            .map(|m| r[m]["rmse"].as_f64().unwrap())
            .collect();
        for (g, printed) in got.iter().zip(rmse) {
            // four significant digits, as printed
            assert!(
                (g - printed).abs() <= 5e-4 * printed.abs(),
                "{name}: README says {printed}, the command gives {g}"
            );
        }
        let c = 100.0 * r["interval_coverage"].as_f64().unwrap();
        assert!((c - coverage).abs() <= 0.05 + 1e-9, "{name}: coverage {c}");
        assert!(
            (85.0..=95.0).contains(&c),
            "{name}: coverage {c} outside 85-95 %"
        );
        if name == "us_realinv" {
            // The one shortfall the README names: 0.4 % behind persistence on RMSE.
            assert!(got[0] > got[1] && got[0] < 1.005 * got[1], "{name}");
        } else {
            assert!(got[0] < got[1], "{name}: the mixture beats persistence");
        }
        assert!(got[0] <= 1.02 * got[2], "{name}: within 2 % of AR");
    }
    let laser: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("santafe.json")).unwrap())
            .unwrap();
    assert!(laser["gmm"]["rmse"].as_f64().unwrap() < 0.65 * laser["ar"]["rmse"].as_f64().unwrap());
}

#[test]
fn the_selection_never_looks_at_the_test_part() {
    // Scrambling the test part changes the test errors but neither the choice nor any
    // cross-validation score.
    let y = Builtin::Sunspots.series();
    let c = ForecastConfig {
        window: 6,
        horizon: 2,
        n_init: 1,
        candidate_components: vec![1, 3],
        candidate_covariances: vec![CovarianceType::Full, CovarianceType::Diag],
        ..ForecastConfig::default()
    };
    let a = forecast::run(&y, &c).unwrap();
    let mut z = y.clone();
    let n_train = a.n_train_points;
    for (i, v) in z[n_train..].iter_mut().enumerate() {
        *v = 500.0 - *v + (i % 7) as f64 * 13.0;
    }
    let b = forecast::run(&z, &c).unwrap();
    assert_eq!(a.chosen, b.chosen);
    assert_eq!(a.validation, b.validation);
    assert_eq!(a.interval_scales, b.interval_scales);
    assert!(
        a.validation.len() >= 3 * 3,
        "every transform, K and covariance tried"
    );
    assert_ne!(a.gmm, b.gmm, "the test part itself did change");
}

#[test]
fn online_calibration_uses_only_the_values_known_at_each_origin() {
    // Changing one test value leaves every forecast made before it is known (points and
    // intervals) as it was, and changes the intervals of some later origin.
    let y = Builtin::Sunspots.series();
    let c = ForecastConfig {
        window: 6,
        horizon: 2,
        n_components: 2,
        n_init: 1,
        transform: TransformChoice::Fixed(Transform::None),
        ..ForecastConfig::default()
    };
    let a = forecast::run(&y, &c).unwrap();
    let m = a.n_train_points + 12;
    let mut z = y.clone();
    z[m] += 150.0;
    let b = forecast::run(&z, &c).unwrap();
    assert_eq!(a.origins, b.origins);
    for (i, &t) in a.origins.iter().enumerate() {
        if t < m {
            assert_eq!(a.gmm.row(i), b.gmm.row(i), "origin {t}");
            assert_eq!(a.lower.row(i), b.lower.row(i), "origin {t}");
            assert_eq!(a.upper.row(i), b.upper.row(i), "origin {t}");
        }
    }
    assert_ne!(
        a.interval_scales_by_origin, b.interval_scales_by_origin,
        "a later origin knows the changed value"
    );
    assert_eq!(
        a.interval_scales, b.interval_scales,
        "the folds did not change"
    );
    // The first origin knows only the folds.
    let first: Vec<f64> = a.interval_scales_by_origin.row(0).iter().copied().collect();
    assert_eq!(first, a.interval_scales);
}

#[test]
fn online_calibration_follows_noise_that_grows_in_the_test_part() {
    // An AR(1) whose noise is 2.5 times larger in the test part than in the training part:
    // intervals calibrated on the folds alone cover far too little; online calibration
    // widens them as the larger errors become known.
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let noise = Normal::new(0.0, 1.0).unwrap();
    let n = 1000;
    let mut y = vec![0.0; n];
    for t in 1..n {
        let sigma = if t < 800 { 1.0 } else { 2.5 };
        y[t] = 0.7 * y[t - 1] + sigma * noise.sample(&mut rng);
    }
    let c = ForecastConfig {
        window: 4,
        horizon: 1,
        n_components: 1,
        n_init: 1,
        transform: TransformChoice::Fixed(Transform::None),
        ..ForecastConfig::default()
    };
    let online = forecast::run(&y, &c).unwrap().interval_coverage();
    let fixed = forecast::run(
        &y,
        &ForecastConfig {
            online_calibration: false,
            ..c.clone()
        },
    )
    .unwrap()
    .interval_coverage();
    assert!(fixed < 0.7, "folds alone: coverage {fixed}");
    assert!(online > 0.84 && online < 0.95, "online: coverage {online}");
}

#[test]
fn a_linear_trend_plus_noise_is_forecast_without_bias() {
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let noise = Normal::new(0.0, 1.0).unwrap();
    let y: Vec<f64> = (0..600)
        .map(|t| 5.0 + 0.25 * t as f64 + noise.sample(&mut rng))
        .collect();
    let c = ForecastConfig {
        window: 6,
        horizon: 3,
        n_init: 1,
        ..ForecastConfig::default()
    }
    .choose_components()
    .choose_covariance();
    let run = forecast::run(&y, &c).unwrap();
    // the test part lies above every training value: a level-invariant representation, or
    // the linear K = 1, is needed
    let bias = (&run.gmm - &run.truth).mean();
    let rmse = Errors::of(&run.gmm, &run.truth).rmse;
    assert!(bias.abs() < 0.15, "bias {bias} ({})", run.chosen);
    assert!(rmse < 1.5, "rmse {rmse} ({})", run.chosen);
    let coverage = run.interval_coverage();
    assert!(coverage > 0.8 && coverage < 0.97, "coverage {coverage}");
}

/// A smooth nonlinear signal (two sines and a little noise) with gaps of 2–4 values.
fn gappy_signal() -> (Vec<f64>, Vec<f64>) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let truth: Vec<f64> = (0..800)
        .map(|t| {
            let t = t as f64;
            (2.0 * std::f64::consts::PI * t / 17.0).sin()
                + 0.5 * (2.0 * std::f64::consts::PI * t / 6.3).sin()
                + 0.03 * (rng.random::<f64>() - 0.5)
        })
        .collect();
    let mut y = truth.clone();
    let mut t = 10;
    while t < 790 {
        if rng.random::<f64>() < 0.04 {
            let len = rng.random_range(2..=4);
            for v in &mut y[t..t + len] {
                *v = f64::NAN;
            }
            t += len + 3;
        }
        t += 1;
    }
    (truth, y)
}

#[test]
fn gaps_in_a_smooth_nonlinear_signal_are_filled_better_than_by_linear_interpolation() {
    use gaussmix::forecast::interpolate::linear_interpolation;
    use gaussmix::forecast::{interpolate, InterpolateConfig};
    let (truth, y) = gappy_signal();
    let missing: Vec<usize> = (0..y.len()).filter(|&i| y[i].is_nan()).collect();
    assert!(missing.len() > 50);
    let filled = interpolate(&y, &InterpolateConfig::default()).unwrap();
    let lin = linear_interpolation(&y).unwrap();
    let rmse = |g: &[f64]| {
        (missing
            .iter()
            .map(|&i| (g[i] - truth[i]).powi(2))
            .sum::<f64>()
            / missing.len() as f64)
            .sqrt()
    };
    let (mixture, linear) = (rmse(&filled.filled), rmse(&lin));
    assert!(mixture < 0.5 * linear, "mixture {mixture}, linear {linear}");
    // observed values are kept; the intervals cover most of the true values
    for (v, f) in y.iter().zip(&filled.filled) {
        if !v.is_nan() {
            assert_eq!(f, v);
        }
    }
    let inside = missing
        .iter()
        .filter(|&&i| filled.lower[i] <= truth[i] && truth[i] <= filled.upper[i])
        .count() as f64
        / missing.len() as f64;
    assert!(inside > 0.7, "coverage {inside}");
    // and the self-check on hidden observed values says the same
    assert!(filled.check.n_hidden > 0);
    assert!(filled.check.rmse_mixture < filled.check.rmse_linear);
}

#[test]
fn gaps_are_read_and_bad_gappy_input_is_a_clear_error() {
    use gaussmix::forecast::{interpolate, parse_series_with_gaps, InterpolateConfig};
    let v = parse_series_with_gaps("1\nnan\n\nNA\n5\n\n", None, "s").unwrap();
    assert_eq!(v.len(), 5);
    assert!(v[1].is_nan() && v[2].is_nan() && v[3].is_nan() && v[4] == 5.0);
    let v = parse_series_with_gaps("t,x\n0,1\n1,\n2,null\n3,4\n", Some("x"), "s").unwrap();
    assert!(v[1].is_nan() && v[2].is_nan() && v[3] == 4.0);
    let e = parse_series_with_gaps("1\nabc\n", None, "f.txt")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 2") && e.contains("nan, NA"), "{e}");
    // forecasting says where gaps are filled
    let e = parse_series("1\nnan\n", None, "f.txt")
        .unwrap_err()
        .to_string();
    assert!(e.contains("interpolate"), "{e}");
    let c = InterpolateConfig::default();
    let e = interpolate(&[f64::NAN; 20], &c).unwrap_err().to_string();
    assert!(e.contains("every value of the series is missing"), "{e}");
    let e = interpolate(&[1.0, f64::NAN, 3.0], &c)
        .unwrap_err()
        .to_string();
    assert!(e.contains("longer than the series (3 values)"), "{e}");
    let (_, mut y) = gappy_signal();
    for v in &mut y[100..130] {
        *v = f64::NAN;
    }
    let e = interpolate(&y, &c).unwrap_err().to_string();
    assert!(
        e.contains("the gap at values 100..") && e.contains("use a window longer than the gap"),
        "{e}"
    );
}

#[test]
fn the_command_line_fills_a_series_one_row_per_time_step() {
    let (_, y) = gappy_signal();
    let dir = tempfile::tempdir().unwrap();
    let series = dir.path().join("g.csv");
    let mut text = String::from("t,level\n");
    for (i, v) in y.iter().enumerate() {
        if v.is_nan() {
            text.push_str(&format!("{i},NA\n"));
        } else {
            text.push_str(&format!("{i},{v}\n"));
        }
    }
    std::fs::write(&series, text).unwrap();
    let out = dir.path().join("filled.csv");
    let report = dir.path().join("r.json");
    let done = gaussmix(&[
        "interpolate",
        s(&series),
        "--column",
        "level",
        "-o",
        s(&out),
        "--report",
        s(&report),
    ]);
    assert_success(&done);
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(stdout.contains("linear interpolation"), "{stdout}");
    let filled = std::fs::read_to_string(&out).unwrap();
    let mut lines = filled.lines();
    assert_eq!(lines.next(), Some("index,value,lower,upper,observed"));
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    assert_eq!(rows.len(), y.len());
    for (i, r) in rows.iter().enumerate() {
        let v: f64 = r[1].parse().unwrap();
        assert!(v.is_finite());
        assert_eq!(r[4], if y[i].is_nan() { "0" } else { "1" });
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(
        json["n_missing"].as_u64().unwrap() as usize,
        y.iter().filter(|v| v.is_nan()).count()
    );
    assert!(json["check"]["rmse_linear_interpolation"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_seasonal_period_is_detected_and_used() {
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};
    // monthly-like: a yearly cycle on a trend, with noise
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let noise = Normal::new(0.0, 0.2).unwrap();
    let y: Vec<f64> = (0..480)
        .map(|t| {
            0.02 * t as f64
                + 2.0 * (2.0 * std::f64::consts::PI * t as f64 / 12.0).sin()
                + noise.sample(&mut rng)
        })
        .collect();
    assert_eq!(forecast::baseline::detect_period(&y[..384]), Some(12));
    assert_eq!(
        forecast::baseline::detect_period(&sine(300, 23.0)),
        Some(23)
    );
    let c = ForecastConfig {
        window: 14,
        horizon: 3,
        n_init: 1,
        ..ForecastConfig::default()
    };
    let run = forecast::run(&y, &c).unwrap();
    assert_eq!(run.period, Some((12, true)));
    assert!(run
        .validation
        .iter()
        .any(|(cand, r)| cand.transform == Transform::Seasonal(12) && r.is_ok()));
    let naive = run.seasonal_naive.as_ref().unwrap();
    // y[t + h − 12] for the first origin
    let t = run.origins[0];
    assert_eq!(naive[(0, 0)], y[t + 1 - 12]);
    let r = run.report_json();
    assert_eq!(r["period"], 12);
    assert!(r["seasonal_naive"]["rmse"].as_f64().unwrap() > 0.0);
    // the mixture beats the seasonal-naive forecast, whose error carries the noise twice
    let g = Errors::of(&run.gmm, &run.truth).rmse;
    assert!(g < Errors::of(naive, &run.truth).rmse, "{g}");
    // seasonal differencing by itself follows the trend and the cycle
    let mut fixed = c.clone();
    fixed.transform = TransformChoice::Fixed(Transform::Seasonal(0));
    let run = forecast::run(&y, &fixed).unwrap();
    assert_eq!(run.transform, Transform::Seasonal(12));
    assert!(
        Errors::of(&run.gmm, &run.truth).rmse < 0.5,
        "{}",
        run.chosen
    );
}

#[test]
fn bad_periods_are_clear_errors() {
    let y = sine(100, 10.0);
    let mut c = config(4, 1, 1, Transform::None);
    c.period = Some(150);
    let e = forecast::run(&y, &c).unwrap_err().to_string();
    assert!(
        e.contains("period") && e.contains("shorter than the series (100 values)"),
        "{e}"
    );
    c.period = Some(1);
    assert!(forecast::run(&y, &c)
        .unwrap_err()
        .to_string()
        .contains("at least 2"));
    // seasonal differencing without a period in sight
    let noise: Vec<f64> = {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        (0..200).map(|_| rng.random::<f64>()).collect()
    };
    let mut c = config(4, 1, 1, Transform::Seasonal(0));
    c.period = None;
    let e = forecast::run(&noise, &c).unwrap_err().to_string();
    assert!(
        e.contains("no seasonal period") && e.contains("period"),
        "{e}"
    );
    // a period longer than the window: seasonal differencing says what it needs
    let mut c = config(4, 1, 1, Transform::Seasonal(0));
    c.period = Some(10);
    let e = forecast::run(&y, &c).unwrap_err().to_string();
    assert!(e.contains("at least 11"), "{e}");
}

#[test]
fn a_series_with_gaps_trains_on_incomplete_windows_and_forecasts_from_incomplete_pasts() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12);
    let complete: Vec<f64> = (0..600)
        .map(|t| {
            let t = t as f64;
            (t / 6.0).sin() + 0.4 * (t / 2.3).sin() + 0.05 * (rng.random::<f64>() - 0.5)
        })
        .collect();
    let mut y = complete.clone();
    for v in y.iter_mut().skip(5) {
        if rng.random::<f64>() < 0.05 {
            *v = f64::NAN;
        }
    }
    let c = ForecastConfig {
        window: 6,
        horizon: 2,
        n_init: 1,
        n_components: 3,
        ..ForecastConfig::default()
    };
    let full = forecast::run(&complete, &c).unwrap();
    let run = forecast::run(&y, &c).unwrap();
    assert!(
        run.validation
            .iter()
            .any(|(c, _)| c.transform == Transform::WindowNorm)
            && run
                .validation
                .iter()
                .any(|(c, _)| c.transform == Transform::Diff),
        "every level-invariant transform is tried on a series with gaps"
    );
    let gappy_pasts = run
        .origins
        .iter()
        .filter(|&&t| y[t - 5..=t].iter().any(|v| v.is_nan()))
        .count();
    assert!(
        gappy_pasts > 10,
        "{gappy_pasts} origins with a gap in their past"
    );
    for m in [&run.gmm, &run.lower, &run.upper, &run.ar, &run.persistence] {
        assert!(m.iter().all(|v| v.is_finite()), "every forecast is made");
    }
    let (g, f) = (
        Errors::of(&run.gmm, &run.truth).rmse,
        Errors::of(&full.gmm, &full.truth).rmse,
    );
    assert!(g < 1.6 * f, "with gaps {g}, complete {f}");
    assert!(g < Errors::of(&run.persistence, &run.truth).rmse);
    // scored on the known values only
    let known = run.truth.iter().filter(|v| !v.is_nan()).count();
    assert!(known < run.truth.len());
    let cov = run.interval_coverage();
    assert!(cov > 0.75 && cov <= 1.0, "coverage {cov}");
    // seasonal differencing cannot forecast from a past with gaps
    let mut other = c.clone();
    other.transform = TransformChoice::Fixed(Transform::Seasonal(0));
    other.period = Some(4);
    let e = forecast::run(&y, &other).unwrap_err().to_string();
    assert!(e.contains("gaps") && e.contains("seasonal"), "{e}");
    let e = forecast::run(&[f64::NAN; 40], &c).unwrap_err().to_string();
    assert!(e.contains("every value of the series is missing"), "{e}");
}
