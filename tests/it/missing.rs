//! EM with missing values and imputation.

use std::ops::ControlFlow;

use crate::common::cli::{assert_success, gaussmix};
use crate::common::fit_cpu;
use crate::common::path_str as s;

use gaussmix::condition::PatternConditioner;
use gaussmix::missing::{group_by_pattern, impute, mean_imputed, ImputeMode};
use gaussmix::{
    fit, CovarianceType, Covariances, Device, Engine, FitConfig, FitOptions, GaussianMixture,
    InitMethod, IterationEvent, MixtureParams, Samples, SufficientStats,
};
use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// EM with missing values (NaN): what `gaussmix::missing::fit_with_missing` was.
fn fit_with_missing(x: &DMatrix<f64>, config: &FitConfig) -> gaussmix::Result<GaussianMixture> {
    fit(&Samples::with_missing(x)?, config, FitOptions::new())
}

fn truth() -> MixtureParams {
    let covs = vec![
        DMatrix::from_row_slice(3, 3, &[1.0, 0.6, 0.2, 0.6, 1.0, -0.3, 0.2, -0.3, 0.8]),
        DMatrix::from_row_slice(3, 3, &[0.5, -0.2, 0.0, -0.2, 1.5, 0.5, 0.0, 0.5, 1.0]),
        DMatrix::from_row_slice(3, 3, &[1.2, 0.0, 0.4, 0.0, 0.4, 0.1, 0.4, 0.1, 0.9]),
    ];
    MixtureParams::new(
        DVector::from_column_slice(&[0.3, 0.45, 0.25]),
        DMatrix::from_row_slice(3, 3, &[0.0, 0.0, 0.0, 6.0, 0.0, -3.0, -3.0, 6.0, 3.0]),
        Covariances::Full(covs),
        0.0,
    )
    .unwrap()
}

fn draw(n: usize, seed: u64) -> DMatrix<f64> {
    let model = GaussianMixture::from_params(truth(), 0.0);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    model.sample(n, &mut rng).unwrap().0
}

fn remove_at_random(x: &DMatrix<f64>, fraction: f64, seed: u64) -> DMatrix<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    x.map(|v| {
        if rng.random::<f64>() < fraction {
            f64::NAN
        } else {
            v
        }
    })
}

/// The fitted component nearest to each true mean.
fn matching(fitted: &MixtureParams, truth: &MixtureParams) -> Vec<usize> {
    (0..truth.n_components())
        .map(|t| {
            (0..fitted.n_components())
                .min_by(|&a, &b| {
                    let da = (fitted.means.row(a) - truth.means.row(t)).norm();
                    let db = (fitted.means.row(b) - truth.means.row(t)).norm();
                    da.total_cmp(&db)
                })
                .unwrap()
        })
        .collect()
}

fn full(p: &MixtureParams, k: usize) -> DMatrix<f64> {
    match &p.covariances {
        Covariances::Full(m) => m[k].clone(),
        Covariances::Diag(v) => DMatrix::from_diagonal(&v.row(k).transpose()),
        _ => unreachable!(),
    }
}

/// Largest errors (weights, means, covariance entries) of `fitted` against `truth`.
fn errors(fitted: &MixtureParams, truth: &MixtureParams, diagonal_only: bool) -> (f64, f64, f64) {
    let m = matching(fitted, truth);
    let mut sorted = m.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        truth.n_components(),
        "two true components share one fitted"
    );
    let mut e = (0.0f64, 0.0f64, 0.0f64);
    for (t, &f) in m.iter().enumerate() {
        e.0 = e.0.max((fitted.weights[f] - truth.weights[t]).abs());
        e.1 = e.1.max((fitted.means.row(f) - truth.means.row(t)).amax());
        let mut tc = full(truth, t);
        if diagonal_only {
            tc = DMatrix::from_diagonal(&tc.diagonal());
        }
        e.2 = e.2.max((full(fitted, f) - tc).amax());
    }
    e
}

#[test]
fn em_with_20_percent_missing_recovers_the_parameters() {
    let x = draw(4000, 1);
    let holes = remove_at_random(&x, 0.2, 2);
    let n_missing = holes.iter().filter(|v| v.is_nan()).count();
    assert!((n_missing as f64 / x.len() as f64 - 0.2).abs() < 0.02);
    let config = FitConfig::new(3).n_init(2).seed(3).tol(1e-6).max_iter(500);
    let model = fit_with_missing(&holes, &config).unwrap();
    assert!(model.summary().converged);
    let (ew, em, ec) = errors(model.params(), &truth(), false);
    // The README's figures ("weights to 0.012, means to 0.062 and covariances to 0.060", "off
    // by 3.05"), at the digits it prints: the fit is seeded and the same on any thread count.
    assert!(ew <= 0.0125, "weights off by {ew}");
    assert!(em <= 0.0625, "means off by {em}");
    assert!(ec <= 0.0605, "covariances off by {ec}");
    // The correction matters: fitting mean-imputed data shrinks the variances and pulls
    // points to the column means, so it is much further off.
    let naive = fit_cpu(&mean_imputed(&holes).unwrap(), &config).unwrap();
    let (_, _, naive_ec) = errors(naive.params(), &truth(), false);
    eprintln!("20% missing: weights {ew:.4}, means {em:.4}, covariances {ec:.4}; mean-imputed covariances {naive_ec:.4}");
    assert!(
        (naive_ec - 3.05).abs() <= 0.005 && naive_ec > 40.0 * ec,
        "naive covariance error {naive_ec} vs {ec}"
    );
    // and the missing-data fit is close to the fit on the complete data
    let complete = fit_cpu(&x, &config).unwrap();
    let (_, em_c, _) = errors(model.params(), complete.params(), false);
    assert!(em_c < 0.1, "{em_c}");
}

#[test]
fn diagonal_em_with_missing_values_recovers_the_variances() {
    let x = draw(4000, 11);
    let holes = remove_at_random(&x, 0.2, 12);
    let config = FitConfig::new(3)
        .covariance_type(CovarianceType::Diag)
        .n_init(2)
        .seed(1)
        .tol(1e-6)
        .max_iter(500);
    let model = fit_with_missing(&holes, &config).unwrap();
    let (ew, em, ec) = errors(model.params(), &truth(), true);
    // A diagonal model of correlated components is biased, so compare against the diagonal
    // model fitted to the complete data rather than the truth for the tight check.
    let complete = fit_cpu(&x, &config).unwrap();
    let (_, em_c, ec_c) = errors(model.params(), complete.params(), false);
    eprintln!("diag, 20% missing: vs truth {ew:.4} {em:.4} {ec:.4}; vs complete-data fit {em_c:.4} {ec_c:.4}");
    assert!(ew < 0.03 && em < 0.15 && ec < 0.25, "{ew} {em} {ec}");
    assert!(
        em_c < 0.1 && ec_c < 0.12,
        "vs complete-data fit: {em_c} {ec_c}"
    );
}

#[test]
fn without_missing_values_it_is_the_ordinary_fit() {
    let x = draw(600, 4);
    for t in CovarianceType::ALL {
        let config = FitConfig::new(3).covariance_type(t).seed(7).tol(1e-8);
        let a = fit_with_missing(&x, &config).unwrap();
        let b = fit_cpu(&x, &config).unwrap();
        assert_eq!(a.summary().n_iter, b.summary().n_iter, "{t}");
        assert!((&a.params().means - &b.params().means).amax() < 1e-9, "{t}");
        assert!(
            (&a.params().weights - &b.params().weights).amax() < 1e-9,
            "{t}"
        );
        assert!(
            (a.summary().lower_bound - b.summary().lower_bound).abs() < 1e-9,
            "{t}"
        );
    }
}

/// Complete data given as data with missing values take the ordinary path above, so the
/// missing-values engine itself is compared on complete rows here: rows 0–1 (one entry
/// missing) go through it on both sides, rows 2.. through it on one side and through the
/// ordinary CPU engine on the other; the merged statistics agree at every EM iteration.
#[test]
fn the_missing_values_engine_on_complete_rows_is_the_ordinary_engine() {
    let x = draw(600, 4);
    let mut y = x.clone();
    y[(0, 1)] = f64::NAN;
    let n = x.nrows();
    for t in CovarianceType::ALL {
        let mut whole = Engine::new(&Samples::with_missing(&y).unwrap(), &Device::Cpu).unwrap();
        let head_rows = y.rows(0, 2).into_owned();
        let mut head =
            Engine::new(&Samples::with_missing(&head_rows).unwrap(), &Device::Cpu).unwrap();
        let tail_rows = x.rows(2, n - 2).into_owned();
        let mut tail = Engine::new(&Samples::new(&tail_rows).unwrap(), &Device::Cpu).unwrap();
        assert!(
            whole.describe().contains("missing values"),
            "{}",
            whole.describe()
        );
        assert!(
            head.describe().contains("missing values"),
            "{}",
            head.describe()
        );
        assert!(
            !tail.describe().contains("missing values"),
            "{}",
            tail.describe()
        );
        // Start from the complete data's fit after two iterations (the imputations of the
        // missing engines start from their own column means, so compare after an E-step).
        let start = fit_cpu(
            &x,
            &FitConfig::new(3)
                .covariance_type(t)
                .seed(7)
                .max_iter(2)
                .init(InitMethod::KMeans),
        )
        .unwrap()
        .into_params();
        let mut params = start;
        for iter in 0..25 {
            let a: SufficientStats = whole.statistics(&params, t).unwrap();
            let mut b = head.statistics(&params, t).unwrap();
            b.merge(&tail.statistics(&params, t).unwrap()).unwrap();
            assert_eq!(a.n_samples, n);
            assert_eq!(b.n_samples, n);
            let (la, lb) = (a.log_likelihood.unwrap(), b.log_likelihood.unwrap());
            assert!(
                (la - lb).abs() < 1e-9 * la.abs(),
                "{t}, iteration {iter}: {la} vs {lb}"
            );
            assert!((&a.nk - &b.nk).amax() < 1e-9, "{t}, iteration {iter}: nk");
            let (pa, pb) = (a.to_params(1e-6).unwrap(), b.to_params(1e-6).unwrap());
            assert!(
                (&pa.means - &pb.means).amax() < 1e-9,
                "{t}, iteration {iter}: means"
            );
            assert!(
                (&pa.weights - &pb.weights).amax() < 1e-9,
                "{t}, iteration {iter}: weights"
            );
            let diff = match (&pa.covariances, &pb.covariances) {
                (Covariances::Full(p), Covariances::Full(q)) => p
                    .iter()
                    .zip(q)
                    .map(|(u, v)| (u - v).amax())
                    .fold(0.0, f64::max),
                (Covariances::Tied(p), Covariances::Tied(q)) => (p - q).amax(),
                (Covariances::Diag(p), Covariances::Diag(q)) => (p - q).amax(),
                (Covariances::Spherical(p), Covariances::Spherical(q)) => (p - q).amax(),
                _ => panic!("{t}: covariance types differ"),
            };
            assert!(
                diff < 1e-9,
                "{t}, iteration {iter}: covariances differ by {diff}"
            );
            params = pa;
        }
    }
}

#[test]
fn the_observed_data_likelihood_never_decreases_for_every_covariance_type() {
    let x = remove_at_random(&draw(800, 5), 0.25, 6);
    for t in CovarianceType::ALL {
        let config = FitConfig::new(3)
            .covariance_type(t)
            .seed(2)
            .reg_covar(0.0)
            .tol(1e-9)
            .max_iter(60);
        let mut history = Vec::new();
        let mut record = |e: &IterationEvent| {
            history.push(e.lower_bound);
            ControlFlow::Continue(())
        };
        let model = fit(
            &Samples::with_missing(&x).unwrap(),
            &config,
            FitOptions::new().progress(&mut record),
        )
        .unwrap();
        for w in history.windows(2) {
            assert!(
                w[1] >= w[0] - 1e-9 * w[0].abs(),
                "{t}: {} then {}",
                w[0],
                w[1]
            );
        }
        // The bound is the mean observed-data log-likelihood: recompute it row by row.
        let patterns = group_by_pattern(&x);
        let mut total = 0.0;
        for p in &patterns {
            let cond = PatternConditioner::new(model.params(), &p.observed).unwrap();
            for &i in &p.rows {
                let x_o: Vec<f64> = p.observed.iter().map(|&j| x[(i, j)]).collect();
                total += cond.weights(&x_o).unwrap().1;
            }
        }
        let direct = total / x.nrows() as f64;
        // one more E-step under the final parameters has this value; it is ≥ the last bound
        assert!(
            direct >= model.summary().lower_bound - 1e-9,
            "{t}: {direct} < {}",
            model.summary().lower_bound
        );
        assert!(direct - model.summary().lower_bound < 1e-3, "{t}");
    }
}

#[test]
fn imputation_fills_each_row_from_its_own_pattern() {
    let params = truth();
    let mut x = draw(50, 8);
    x[(0, 1)] = f64::NAN; // one missing
    x[(1, 0)] = f64::NAN;
    x[(1, 2)] = f64::NAN; // two missing
    for j in 0..3 {
        x[(2, j)] = f64::NAN; // nothing observed
    }
    let out = impute(&params, &x, ImputeMode::Mean).unwrap();
    // complete rows copied
    for i in 3..50 {
        assert_eq!(out.row(i), x.row(i));
    }
    // observed entries kept
    assert_eq!(out[(0, 0)], x[(0, 0)]);
    assert_eq!(out[(1, 1)], x[(1, 1)]);
    // filled entries are the conditional means
    let c0 = PatternConditioner::new(&params, &[0, 2]).unwrap();
    let m0 = c0.conditional_mean(&[x[(0, 0)], x[(0, 2)]]).unwrap();
    assert!((out[(0, 1)] - m0[0]).abs() < 1e-12);
    let c1 = PatternConditioner::new(&params, &[1]).unwrap();
    let m1 = c1.conditional_mean(&[x[(1, 1)]]).unwrap();
    assert!((out[(1, 0)] - m1[0]).abs() < 1e-12 && (out[(1, 2)] - m1[1]).abs() < 1e-12);
    // nothing observed: the marginal mean
    let marginal = params.means.transpose() * &params.weights;
    assert!((out.row(2).transpose() - marginal).amax() < 1e-12);
    assert!(out.iter().all(|v| v.is_finite()));
    // draws: reproducible, different from the mean, observed entries kept
    let d1 = impute(&params, &x, ImputeMode::Draw { seed: 9 }).unwrap();
    let d2 = impute(&params, &x, ImputeMode::Draw { seed: 9 }).unwrap();
    let d3 = impute(&params, &x, ImputeMode::Draw { seed: 10 }).unwrap();
    assert_eq!(d1, d2);
    assert_ne!(d1, d3);
    assert_ne!(d1[(0, 1)], out[(0, 1)]);
    assert_eq!(d1[(0, 0)], x[(0, 0)]);
    assert_eq!(d1.rows(3, 47), x.rows(3, 47));
}

#[test]
fn imputed_values_beat_column_means_on_held_out_entries() {
    let x = draw(2000, 21);
    let holes = remove_at_random(&x, 0.2, 22);
    let model = fit_with_missing(&holes, &FitConfig::new(3).seed(1)).unwrap();
    let filled = impute(model.params(), &holes, ImputeMode::Mean).unwrap();
    let naive = mean_imputed(&holes).unwrap();
    let mut se = (0.0, 0.0);
    for i in 0..x.nrows() {
        for j in 0..3 {
            if holes[(i, j)].is_nan() {
                se.0 += (filled[(i, j)] - x[(i, j)]).powi(2);
                se.1 += (naive[(i, j)] - x[(i, j)]).powi(2);
            }
        }
    }
    eprintln!(
        "held-out squared error: conditional {:.1}, column means {:.1}",
        se.0, se.1
    );
    assert!(
        se.0 < 0.3 * se.1,
        "conditional {} vs column means {}",
        se.0,
        se.1
    );
}

#[test]
fn bad_inputs_are_clear_errors() {
    let mut x = draw(20, 3);
    for i in 0..20 {
        x[(i, 1)] = f64::NAN;
    }
    let e = fit_with_missing(&x, &FitConfig::new(2))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("column 1") && e.contains("no observed value"),
        "{e}"
    );
    let mut y = draw(20, 3);
    y[(4, 2)] = f64::INFINITY;
    let e = Samples::with_missing(&y).err().unwrap().to_string();
    assert!(e.contains("row 4") && e.contains("column 2"), "{e}");
    let e = impute(
        &truth(),
        &DMatrix::from_element(2, 2, 0.0),
        ImputeMode::Mean,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("dimension mismatch"), "{e}");
    let mut z = draw(30, 3);
    z[(0, 0)] = f64::NAN;
    let e = fit_with_missing(&z, &FitConfig::new(40))
        .unwrap_err()
        .to_string();
    assert!(e.contains("n_components"), "{e}");
}

#[test]
fn the_conditional_covariance_correction_removes_the_variance_bias() {
    // One Gaussian, many rows, 30% missing: the maximum-likelihood covariance is close to the
    // truth; leaving out the correction term would shrink the variances by roughly the
    // missing fraction times the conditional variances (≈ 0.1 here), which this would catch.
    let t = truth();
    let one = MixtureParams::new(
        DVector::from_element(1, 1.0),
        t.means.rows(0, 1).into_owned(),
        Covariances::Full(vec![full(&t, 0)]),
        0.0,
    )
    .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(31);
    let x = GaussianMixture::from_params(one.clone(), 0.0)
        .sample(20_000, &mut rng)
        .unwrap()
        .0;
    let holes = remove_at_random(&x, 0.3, 32);
    let model = fit_with_missing(&holes, &FitConfig::new(1).tol(1e-8).max_iter(500)).unwrap();
    let err = (full(model.params(), 0) - full(&one, 0)).amax();
    eprintln!("one Gaussian, 30% missing: covariance error {err:.4}");
    assert!(err < 0.04, "{err}");
}

/// The command line end to end: `gaussmix impute` equals the library's imputation.
#[test]
fn the_impute_command_matches_the_library() {
    use gaussmix::io::{read_matrix, save_model, write_matrix, Missing};
    let dir = tempfile::tempdir().unwrap();
    let x = draw(300, 41);
    let model = fit_cpu(&x, &FitConfig::new(3).seed(1)).unwrap();
    let holes = remove_at_random(&x, 0.2, 42);
    let (m, d, o) = (
        dir.path().join("m.npz"),
        dir.path().join("d.npy"),
        dir.path().join("o.npy"),
    );
    save_model(&m, &model).unwrap();
    write_matrix(&d, &holes).unwrap();
    assert_success(&gaussmix(&["impute", s(&m), s(&d), "-o", s(&o)]));
    let filled = read_matrix(&o, Missing::Reject).unwrap();
    let expect = impute(model.params(), &holes, ImputeMode::Mean).unwrap();
    assert!((filled - expect).amax() < 1e-9);
}
