//! CPU EM: parameter recovery, monotonicity, densities checked against a direct evaluation,
//! sampling moments.

use crate::common::{draw, fit_cpu, match_components, truth};
use gaussmix::{CovarianceType, Covariances, FitConfig, GaussianMixture, InitMethod};
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn full_cov(model: &GaussianMixture, k: usize) -> DMatrix<f64> {
    let d = model.n_features();
    match model.covariances() {
        Covariances::Full(c) => c[k].clone(),
        Covariances::Tied(c) => c.clone(),
        Covariances::Diag(c) => DMatrix::from_diagonal(&c.row(k).transpose()),
        Covariances::Spherical(c) => DMatrix::identity(d, d) * c[k],
        Covariances::LowRank(_) => unreachable!(),
    }
}

/// Direct evaluation of the mixture density from weights, means and covariances (no shared code
/// with the library's kernels: explicit inverse and determinant).
fn direct_log_density(model: &GaussianMixture, x: &DMatrix<f64>) -> Vec<f64> {
    let d = model.n_features();
    (0..x.nrows())
        .map(|i| {
            let mut p = 0.0;
            for k in 0..model.n_components() {
                let c = full_cov(model, k);
                let inv = c.clone().try_inverse().unwrap();
                let diff = x.row(i) - model.means().row(k);
                let m = (&diff * &inv * diff.transpose())[(0, 0)];
                let norm = ((2.0 * std::f64::consts::PI).powi(d as i32) * c.determinant()).sqrt();
                p += model.weights()[k] * (-0.5 * m).exp() / norm;
            }
            p.ln()
        })
        .collect()
}

#[test]
fn recovers_known_parameters_for_every_covariance_type() {
    let t = truth(3);
    let (x, _) = draw(&t, 6000, 11);
    for ct in CovarianceType::ALL {
        let model = fit_cpu(&x, &FitConfig::new(3).covariance_type(ct).seed(1)).unwrap();
        assert!(model.summary().converged, "{ct} did not converge");
        let idx = match_components(&t.means, model.means());
        for (c, &k) in idx.iter().enumerate() {
            assert!(
                (model.weights()[k] - t.weights[c]).abs() < 0.03,
                "{ct}: weight {c}"
            );
            let mean_err = (model.means().row(k) - t.means.row(c)).amax();
            assert!(mean_err < 0.15, "{ct}: mean {c} off by {mean_err}");
            if ct == CovarianceType::Full {
                let err = (full_cov(&model, k) - &t.covs[c]).amax();
                assert!(err < 0.25, "full: covariance {c} off by {err}");
            }
            if ct == CovarianceType::Diag {
                for j in 0..3 {
                    let v = full_cov(&model, k)[(j, j)];
                    assert!(
                        (v - t.covs[c][(j, j)]).abs() < 0.25,
                        "diag: variance {c},{j}"
                    );
                }
            }
        }
    }
}

#[test]
fn lower_bound_never_decreases_without_regularisation() {
    let t = truth(4);
    let (x, _) = draw(&t, 3000, 5);
    for ct in CovarianceType::ALL {
        let cfg = FitConfig::new(4)
            .covariance_type(ct)
            .reg_covar(0.0)
            .tol(0.0)
            .max_iter(40)
            .init(InitMethod::Random)
            .seed(9);
        let model = fit_cpu(&x, &cfg).unwrap();
        let h = &model.summary().lower_bound_history;
        assert_eq!(h.len(), 40);
        for w in h.windows(2) {
            assert!(
                w[1] >= w[0] - 1e-10 * w[0].abs(),
                "{ct}: lower bound fell from {} to {}",
                w[0],
                w[1]
            );
        }
        assert!(h[39] > h[0], "{ct}: EM made no progress");
    }
}

#[test]
fn score_samples_matches_direct_evaluation() {
    let t = truth(3);
    let (x, _) = draw(&t, 1500, 2);
    let (probe, _) = draw(&t, 50, 3);
    for ct in CovarianceType::ALL {
        let model = fit_cpu(&x, &FitConfig::new(3).covariance_type(ct)).unwrap();
        let ours = model.score_samples(&probe).unwrap();
        let direct = direct_log_density(&model, &probe);
        for i in 0..probe.nrows() {
            assert!(
                (ours[i] - direct[i]).abs() < 1e-9 * direct[i].abs().max(1.0),
                "{ct} row {i}"
            );
        }
        let proba = model.predict_proba(&probe).unwrap();
        for row in proba.row_iter() {
            assert!((row.sum() - 1.0).abs() < 1e-12);
        }
        let labels = model.predict(&probe).unwrap();
        for (i, &l) in labels.iter().enumerate() {
            assert_eq!(l, proba.row(i).transpose().imax());
        }
        assert!((model.score(&probe).unwrap() - ours.mean()).abs() < 1e-12);
    }
}

#[test]
fn sampling_reproduces_weights_means_and_covariances() {
    let t = truth(3);
    let (x, _) = draw(&t, 4000, 21);
    for ct in CovarianceType::ALL {
        let model = fit_cpu(&x, &FitConfig::new(3).covariance_type(ct)).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let n = 60000;
        let (s, labels) = model.sample(n, &mut rng).unwrap();
        assert_eq!(s.nrows(), n);
        for k in 0..3 {
            let rows: Vec<usize> = (0..n).filter(|&i| labels[i] == k).collect();
            let frac = rows.len() as f64 / n as f64;
            assert!((frac - model.weights()[k]).abs() < 0.01, "{ct}: weight {k}");
            let sub = DMatrix::from_fn(rows.len(), 3, |i, j| s[(rows[i], j)]);
            let mean: DVector<f64> = sub.row_mean().transpose();
            assert!(
                (mean.transpose() - model.means().row(k)).amax() < 0.06,
                "{ct}: mean {k}"
            );
            let centred = DMatrix::from_fn(rows.len(), 3, |i, j| sub[(i, j)] - mean[j]);
            let cov = centred.transpose() * &centred / (rows.len() as f64 - 1.0);
            let err = (cov - full_cov(&model, k)).amax();
            assert!(err < 0.12, "{ct}: covariance {k} off by {err}");
        }
    }
}

#[test]
fn same_seed_same_model_and_bic_counts() {
    let t = truth(2);
    let (x, _) = draw(&t, 800, 8);
    let cfg = FitConfig::new(3).n_init(2).seed(42);
    let a = fit_cpu(&x, &cfg).unwrap();
    let b = fit_cpu(&x, &cfg).unwrap();
    assert_eq!(a.params(), b.params());
    // scikit-learn: full K·D(D+1)/2 + K·D + K − 1 = 3·3 + 6 + 2 = 17
    assert_eq!(a.n_parameters(), 17);
    let n = x.nrows() as f64;
    let bic = a.bic(&x).unwrap();
    assert!((bic - (-2.0 * a.score(&x).unwrap() * n + 17.0 * n.ln())).abs() < 1e-9);
}
