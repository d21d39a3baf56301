//! The exact low-rank path is the same model as dense full covariances: on data with N < D
//! small enough for both, every score, probability, lower bound, covariance and sampling
//! moment agrees to 1e-8 relative in f64.

use std::collections::BTreeMap;

use gaussmix::lowrank::{self, LowRankCovariances};
use gaussmix::{
    fit, Covariances, DeviceChoice, FitConfig, FitOptions, FullPath, GaussianMixture, InitMethod,
    MixtureParams, Samples,
};
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

const N: usize = 60;
const D: usize = 150;
const K: usize = 3;

/// `n` samples in `D` dimensions from `K` clusters, each a 5-dimensional latent structure plus
/// isotropic noise; `spread` scales the distance between the cluster centres.
fn clustered(n: usize, spread: f64, seed: u64) -> DMatrix<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut normal = move || rng.sample::<f64, _>(StandardNormal);
    let centres = DMatrix::from_fn(K, D, |_, _| spread * normal());
    let loadings: Vec<DMatrix<f64>> = (0..K)
        .map(|_| DMatrix::from_fn(D, 5, |_, _| 0.6 * normal()))
        .collect();
    let mut x = DMatrix::zeros(n, D);
    for i in 0..n {
        let c = i % K;
        let z = DMatrix::from_fn(5, 1, |_, _| normal());
        let v = &loadings[c] * z;
        for j in 0..D {
            x[(i, j)] = 3.0 + centres[(c, j)] + v[j] + 0.3 * normal();
        }
    }
    x
}

fn fit_path(x: &DMatrix<f64>, config: &FitConfig, path: FullPath) -> GaussianMixture {
    fit_warm(x, config, path, None)
}

fn fit_warm(
    x: &DMatrix<f64>,
    config: &FitConfig,
    path: FullPath,
    warm: Option<&GaussianMixture>,
) -> GaussianMixture {
    let mut options = FitOptions::new().device(DeviceChoice::Cpu).full_path(path);
    if let Some(m) = warm {
        options = options.warm_start(m);
    }
    fit(&Samples::new(x).unwrap(), config, options).unwrap()
}

fn low_rank_of(m: &GaussianMixture) -> &LowRankCovariances {
    match m.covariances() {
        Covariances::LowRank(lr) => lr,
        other => panic!(
            "expected low-rank covariances, got {:?}",
            other.covariance_type()
        ),
    }
}

/// max |a − b| / max |b|.
fn rel(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    (a - b).amax() / b.amax().max(f64::MIN_POSITIVE)
}

fn rel_vec(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

/// Asserts that the two fits are the same model, to `tol` relative.
fn assert_same_model(
    lr: &GaussianMixture,
    dense: &GaussianMixture,
    probe: &DMatrix<f64>,
    tol: f64,
) {
    assert_eq!(lr.summary().n_iter, dense.summary().n_iter);
    let h = rel_vec(
        &lr.summary().lower_bound_history,
        &dense.summary().lower_bound_history,
    );
    assert!(h < tol, "lower-bound history differs by {h:e}");
    let w = rel_vec(lr.weights().as_slice(), dense.weights().as_slice());
    assert!(w < tol, "weights differ by {w:e}");
    let m = rel(lr.means(), dense.means());
    assert!(m < tol, "means differ by {m:e}");
    let Covariances::Full(dense_covs) = dense.covariances() else {
        panic!("dense fit is not full")
    };
    let exported = low_rank_of(lr).to_dense(1 << 30).unwrap();
    assert_eq!(exported.len(), dense_covs.len());
    for (k, (a, b)) in exported.iter().zip(dense_covs).enumerate() {
        let c = rel(a, b);
        assert!(c < tol, "covariance {k} differs by {c:e}");
    }
    let s_lr = lr.score_samples(probe).unwrap();
    let s_dense = dense.score_samples(probe).unwrap();
    let s = rel_vec(s_lr.as_slice(), s_dense.as_slice());
    assert!(s < tol, "score_samples differ by {s:e}");
    let p = (lr.predict_proba(probe).unwrap() - dense.predict_proba(probe).unwrap()).amax();
    assert!(p < tol, "predict_proba differs by {p:e}");
    assert_eq!(lr.predict(probe).unwrap(), dense.predict(probe).unwrap());
    let bic = (lr.bic(probe).unwrap() - dense.bic(probe).unwrap()).abs()
        / dense.bic(probe).unwrap().abs();
    assert!(bic < tol, "BIC differs by {bic:e}");
}

/// Training samples followed by fresh samples of the same clusters.
fn probe(x: &DMatrix<f64>, fresh: &DMatrix<f64>) -> DMatrix<f64> {
    let mut p = DMatrix::zeros(x.nrows() + fresh.nrows(), D);
    p.rows_mut(0, x.nrows()).copy_from(x);
    p.rows_mut(x.nrows(), fresh.nrows()).copy_from(fresh);
    p
}

#[test]
fn low_rank_fit_is_the_dense_model_on_separated_clusters() {
    let x = clustered(N, 2.0, 1);
    let fresh = clustered(40, 2.0, 2);
    let config = FitConfig::new(K).seed(5).max_iter(12).tol(0.0);
    let dense = fit_path(&x, &config, FullPath::Dense);
    let lr = fit_path(&x, &config, FullPath::LowRank);
    assert!(matches!(dense.covariances(), Covariances::Full(_)));
    low_rank_of(&lr);
    assert_same_model(&lr, &dense, &probe(&x, &fresh), 1e-8);
}

#[test]
fn low_rank_fit_is_the_dense_model_with_soft_responsibilities() {
    // Overlapping clusters and a large ridge: responsibilities stay soft, so every sample
    // weighs in every component's factor.
    let x = clustered(N, 0.05, 3);
    let fresh = clustered(40, 0.05, 4);
    let config = FitConfig::new(K)
        .seed(2)
        .max_iter(10)
        .tol(0.0)
        .reg_covar(4.0);
    let dense = fit_path(&x, &config, FullPath::Dense);
    let lr = fit_path(&x, &config, FullPath::LowRank);
    let resp = lr.predict_proba(&x).unwrap();
    let soft = resp.iter().filter(|&&r| r > 1e-3 && r < 1.0 - 1e-3).count();
    assert!(
        soft > N / 2,
        "only {soft} soft responsibilities: the test data are too easy"
    );
    assert_same_model(&lr, &dense, &probe(&x, &fresh), 1e-8);
}

#[test]
fn every_initialisation_gives_the_dense_model() {
    let x = clustered(N, 1.0, 6);
    let means = DMatrix::from_fn(K, D, |c, j| x[(c * 7, j)] + 0.01 * j as f64);
    let labels: Vec<usize> = (0..N).map(|i| (i / 3) % K).collect();
    let inits = [
        InitMethod::KMeans,
        InitMethod::KMeansPlusPlus,
        InitMethod::Random,
        InitMethod::RandomFromData,
        InitMethod::Means(means),
        InitMethod::Labels(labels),
    ];
    for init in inits {
        let name = init.name();
        let config = FitConfig::new(K).seed(9).max_iter(4).tol(0.0).init(init);
        let dense = fit_path(&x, &config, FullPath::Dense);
        let lr = fit_path(&x, &config, FullPath::LowRank);
        let h = rel_vec(
            &lr.summary().lower_bound_history,
            &dense.summary().lower_bound_history,
        );
        assert!(h < 1e-8, "{name}: lower bounds differ by {h:e}");
        let s = rel_vec(
            lr.score_samples(&x).unwrap().as_slice(),
            dense.score_samples(&x).unwrap().as_slice(),
        );
        assert!(s < 1e-8, "{name}: scores differ by {s:e}");
    }
}

#[test]
fn warm_start_continues_the_same_iterations() {
    let x = clustered(N, 1.0, 8);
    let config = FitConfig::new(K).seed(4).max_iter(6).tol(0.0);
    let straight = fit_path(&x, &config, FullPath::LowRank);
    let first = fit_path(&x, &config.clone().max_iter(3), FullPath::LowRank);
    let cont = fit_warm(
        &x,
        &config.clone().max_iter(3),
        FullPath::LowRank,
        Some(&first),
    );
    let h = rel_vec(
        &cont.summary().lower_bound_history,
        &straight.summary().lower_bound_history[3..],
    );
    assert!(h < 1e-12, "low-rank warm start drifts by {h:e}");
    // From a dense model: the training samples are scored as new points, then EM goes on in
    // the low-rank form.
    let dense_first = fit_path(&x, &config.clone().max_iter(3), FullPath::Dense);
    let cont = fit_warm(
        &x,
        &config.clone().max_iter(3),
        FullPath::LowRank,
        Some(&dense_first),
    );
    low_rank_of(&cont);
    let h = rel_vec(
        &cont.summary().lower_bound_history,
        &straight.summary().lower_bound_history[3..],
    );
    assert!(h < 1e-8, "warm start from a dense model drifts by {h:e}");
}

#[test]
fn sampling_has_the_dense_moments() {
    let x = clustered(N, 2.0, 10);
    let config = FitConfig::new(K).seed(1).max_iter(8).tol(0.0);
    let dense = fit_path(&x, &config, FullPath::Dense);
    let lr_model = fit_path(&x, &config, FullPath::LowRank);
    let Covariances::LowRank(lr) = &lr_model.params().precisions.cholesky else {
        panic!("no low-rank factors")
    };
    let Covariances::Full(dense_covs) = dense.covariances() else {
        panic!("dense fit is not full")
    };
    let lambda = lr.reg_covar();
    for (k, sigma) in dense_covs.iter().enumerate() {
        // The draw is linear in (ζ, ε): its covariance is T_ζ T_ζᵀ + T_ε T_εᵀ, exactly.
        let t_zeta = lr
            .draw_centred(k, &DMatrix::identity(N, N), DMatrix::zeros(D, N))
            .unwrap();
        let t_eps = lr
            .draw_centred(k, &DMatrix::zeros(N, D), DMatrix::identity(D, D))
            .unwrap();
        let implied = &t_zeta * t_zeta.transpose() + &t_eps * t_eps.transpose();
        let c = rel(&implied, sigma);
        assert!(c < 1e-8, "component {k}: draw covariance differs by {c:e}");
        assert!((t_eps - DMatrix::identity(D, D) * lambda.sqrt()).amax() == 0.0);
    }
    // And the draws themselves: component means and spread, within sampling error.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let n = 6000;
    let (draws, labels) = lr_model.sample(n, &mut rng).unwrap();
    for (k, sigma) in dense_covs.iter().enumerate() {
        let rows: Vec<usize> = (0..n).filter(|&i| labels[i] == k).collect();
        let m = rows.len() as f64;
        let expected = dense.weights()[k] * n as f64;
        assert!(
            (m - expected).abs() < 5.0 * expected.sqrt() + 1.0,
            "component {k}: {m} draws"
        );
        let mean = DMatrix::from_fn(1, D, |_, j| {
            rows.iter().map(|&i| draws[(i, j)]).sum::<f64>() / m
        });
        let trace: f64 = sigma.trace();
        let err = (mean - dense.means().row(k)).norm_squared();
        // E‖x̄ − μ‖² = tr Σ / m; allow five times that.
        assert!(
            err < 5.0 * trace / m,
            "component {k}: sample mean off by {err:e}"
        );
        let spread: f64 = rows
            .iter()
            .map(|&i| (draws.row(i) - dense.means().row(k)).norm_squared())
            .sum::<f64>()
            / m;
        assert!(
            (spread / trace - 1.0).abs() < 0.1,
            "component {k}: spread {spread} vs trace {trace}"
        );
    }
}

#[test]
fn model_arrays_round_trip_and_stay_compact() {
    let x = clustered(N, 1.0, 12);
    let config = FitConfig::new(K).seed(3).max_iter(5);
    let model = fit_path(&x, &config, FullPath::LowRank);
    let lr = low_rank_of(&model);
    let arrays: BTreeMap<String, _> = lr.to_arrays().into_iter().collect();
    let biggest = arrays.values().map(|a| a.data.len()).max().unwrap();
    assert_eq!(
        biggest,
        N * D,
        "the training data are the largest array; nothing D × D"
    );
    let back = LowRankCovariances::from_arrays(&arrays).unwrap();
    let params = MixtureParams::new(
        model.weights().clone(),
        model.means().clone(),
        Covariances::LowRank(back),
        model.reg_covar(),
    )
    .unwrap();
    let loaded = GaussianMixture::from_params(params, model.reg_covar());
    let a = loaded.score_samples(&x).unwrap();
    let b = model.score_samples(&x).unwrap();
    assert!(rel_vec(a.as_slice(), b.as_slice()) < 1e-12);

    let mut missing = arrays.clone();
    missing.remove("lowrank_sample_weights");
    let err = LowRankCovariances::from_arrays(&missing)
        .unwrap_err()
        .to_string();
    assert!(err.contains("lowrank_sample_weights"), "{err}");
    let mut bad = arrays.clone();
    bad.get_mut("lowrank_reg_covar").unwrap().data[0] = 0.0;
    let err = LowRankCovariances::from_arrays(&bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("reg_covar"), "{err}");
}

#[test]
fn path_choice_follows_the_flop_counts() {
    assert!(lowrank::is_cheaper(400, 4096, 24));
    assert!(lowrank::is_cheaper(N, D, K));
    assert!(!lowrank::is_cheaper(200_000, 32, 16));
    assert!(!lowrank::is_cheaper(500, 500, 4), "never when N ≥ D");
    // Auto picks the low-rank form for N < D.
    let x = clustered(N, 1.0, 14);
    let auto = fit_path(&x, &FitConfig::new(K).max_iter(2), FullPath::Auto);
    low_rank_of(&auto);
    // And so does the one-line door (its default options are the automatic ones).
    let door = GaussianMixture::fit(&x, &FitConfig::new(K).max_iter(2)).unwrap();
    low_rank_of(&door);
}

#[test]
fn misuse_is_reported_with_a_remedy() {
    let x = clustered(N, 1.0, 16);
    let config = FitConfig::new(K).reg_covar(0.0);
    let err = fit(
        &Samples::new(&x).unwrap(),
        &config,
        FitOptions::new()
            .device(DeviceChoice::Cpu)
            .full_path(FullPath::LowRank),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("reg_covar"), "{err}");
    let model = fit_path(&x, &FitConfig::new(K).max_iter(2), FullPath::LowRank);
    let err = low_rank_of(&model).to_dense(1000).unwrap_err().to_string();
    assert!(err.contains("low-rank"), "{err}");
    let wrong = DMatrix::zeros(4, D + 1);
    assert!(model.score_samples(&wrong).is_err());
}

/// Conditioning a low-rank model (S × S algebra) equals conditioning its dense export:
/// weights, log p(x_o), conditional means and covariances to 1e-8, and draws with the
/// conditional moments — for observed sets of several sizes, in any order.
#[test]
fn conditioning_a_low_rank_model_equals_conditioning_its_dense_export() {
    use gaussmix::condition::PatternConditioner;
    let x = clustered(N, 2.0, 31);
    let model = fit_path(&x, &FitConfig::new(K).seed(3), FullPath::LowRank);
    let dense = MixtureParams::new(
        model.weights().clone(),
        model.means().clone(),
        Covariances::Full(low_rank_of(&model).to_dense(1 << 30).unwrap()),
        model.reg_covar(),
    )
    .unwrap();
    let fresh = clustered(4, 2.0, 32);
    // Fewer observed coordinates than samples, more, none, and all (reversed order).
    let reversed: Vec<usize> = (0..D).rev().collect();
    let scattered: Vec<usize> = (0..D).filter(|j| j % 3 != 1).rev().collect();
    for observed in [
        (0..10).map(|j| j * 7).collect::<Vec<_>>(),
        scattered,
        Vec::new(),
        reversed,
    ] {
        let lr = PatternConditioner::new(model.params(), &observed).unwrap();
        let de = PatternConditioner::new(&dense, &observed).unwrap();
        assert_eq!(lr.missing(), de.missing());
        for row in [x.row(5), fresh.row(0), fresh.row(3)] {
            let x_o: Vec<f64> = observed.iter().map(|&j| row[j]).collect();
            let a = lr.condition(&x_o).unwrap();
            let b = de.condition(&x_o).unwrap();
            let o = observed.len();
            assert!((a.weights.clone() - &b.weights).amax() < 1e-8, "O = {o}");
            let lm = (a.log_marginal - b.log_marginal).abs() / b.log_marginal.abs().max(1.0);
            assert!(
                lm < 1e-8,
                "O = {o}: log p(x_o) {} vs {}",
                a.log_marginal,
                b.log_marginal
            );
            if a.dim() > 0 {
                assert!(rel(&a.means, &b.means) < 1e-8, "O = {o}: means");
                for (ca, cb) in a.covariances.iter().zip(&b.covariances) {
                    assert!(rel(ca, cb) < 1e-8, "O = {o}: covariance");
                }
                let m = lr.conditional_mean(&x_o).unwrap();
                assert!((m - a.mean()).amax() < 1e-9 * (1.0 + a.mean().amax()));
            }
        }
    }
    // Draws: the conditional mean and variance of the most probable component's coordinates.
    let observed: Vec<usize> = (0..D).filter(|j| j % 2 == 0).collect();
    let lr = PatternConditioner::new(model.params(), &observed).unwrap();
    let x_o: Vec<f64> = observed.iter().map(|&j| x[(0, j)]).collect();
    let target = lr.condition(&x_o).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let n = 4000;
    let draws: Vec<_> = (0..n).map(|_| lr.draw(&x_o, &mut rng).unwrap()).collect();
    let mean = draws
        .iter()
        .fold(nalgebra::DVector::zeros(lr.missing().len()), |a, v| a + v)
        / n as f64;
    let var = draws
        .iter()
        .fold(nalgebra::DVector::zeros(mean.len()), |a, v| {
            a + (v - &mean).component_mul(&(v - &mean))
        })
        / n as f64;
    let (want_mean, want_var) = (target.mean(), target.variance());
    for j in 0..mean.len() {
        let sd = want_var[j].sqrt();
        assert!(
            (mean[j] - want_mean[j]).abs() < 5.0 * sd / (n as f64).sqrt() + 1e-12,
            "coordinate {j}: mean {} vs {}",
            mean[j],
            want_mean[j]
        );
        assert!(
            (var[j] / want_var[j] - 1.0).abs() < 0.15,
            "coordinate {j}: variance {} vs {}",
            var[j],
            want_var[j]
        );
    }
}

/// The README's face-completion figures, from what `gaussmix faces` prints (8 held-out faces,
/// K = 24, seed 0, tol 1e-3, max_iter 100), to the digits it prints: the mixture's RMSE per
/// pixel and both baselines, and the smoother completions of a larger ridge.
#[test]
fn the_readme_face_completion_figures_hold() {
    let faces = gaussmix::faces::olivetti_faces().unwrap();
    let complete = |reg_covar: f64| {
        let config = FitConfig::new(24)
            .seed(0)
            .tol(1e-3)
            .max_iter(100)
            .reg_covar(reg_covar);
        gaussmix::faces::complete_held_out(&faces, &config, 8, DeviceChoice::Cpu).unwrap()
    };
    let near = |got: f64, printed: f64| (got - printed).abs() <= 0.5e-4 + 1e-12;
    let c = complete(1e-6);
    assert!(
        near(c.rmse, 0.1107) && near(c.rmse_mean_face, 0.1623) && near(c.rmse_nearest_face, 0.1225),
        "mixture {} mean face {} nearest face {}",
        c.rmse,
        c.rmse_mean_face,
        c.rmse_nearest_face
    );
    assert!(c.rmse < c.rmse_nearest_face && c.rmse_nearest_face < c.rmse_mean_face);
    let smooth = complete(1e-2).rmse;
    let smoother = complete(0.1).rmse;
    assert!(
        near(smooth, 0.1070) && near(smoother, 0.1025),
        "reg_covar 1e-2: {smooth}, 0.1: {smoother}"
    );
}
