//! Degenerate data that real users hit: the fit either succeeds with finite parameters or stops
//! with a clear error — never NaN in a model.

use crate::common::{draw, fit_cpu, truth};
use gaussmix::{CovarianceType, FitConfig, GaussianMixture, GmmError, InitMethod};
use nalgebra::DMatrix;

fn assert_finite(model: &GaussianMixture, what: &str) {
    let p = model.params();
    assert!(p.weights.iter().all(|v| v.is_finite()), "{what}: weights");
    assert!(p.means.iter().all(|v| v.is_finite()), "{what}: means");
    p.covariances
        .check_finite()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        model.summary().lower_bound.is_finite(),
        "{what}: lower bound"
    );
}

fn fit_all_types(x: &DMatrix<f64>, k: usize, what: &str) {
    for ct in CovarianceType::ALL {
        let model = fit_cpu(x, &FitConfig::new(k).covariance_type(ct).seed(3))
            .unwrap_or_else(|e| panic!("{what} / {ct}: {e}"));
        assert_finite(&model, &format!("{what} / {ct}"));
        let s = model.score_samples(x).unwrap();
        assert!(s.iter().all(|v| v.is_finite()), "{what} / {ct}: scores");
    }
}

#[test]
fn duplicated_points() {
    let t = truth(3);
    let (x, _) = draw(&t, 50, 1);
    // every point five times
    let x = DMatrix::from_fn(250, 3, |i, j| x[(i % 50, j)]);
    fit_all_types(&x, 3, "duplicates");
}

#[test]
fn constant_feature() {
    let t = truth(3);
    let (mut x, _) = draw(&t, 300, 2);
    x.column_mut(1).fill(4.2);
    fit_all_types(&x, 3, "constant feature");
}

#[test]
fn all_points_identical() {
    let x = DMatrix::from_element(20, 3, 1.5);
    fit_all_types(&x, 2, "identical points");
}

#[test]
fn scaled_by_1e6_and_1e_minus_6() {
    let t = truth(3);
    let (x, _) = draw(&t, 600, 4);
    fit_all_types(&(&x * 1e6), 3, "scaled 1e6");
    fit_all_types(&(&x * 1e-6), 3, "scaled 1e-6");
}

#[test]
fn k_close_to_n() {
    let t = truth(2);
    let (x, _) = draw(&t, 12, 5);
    fit_all_types(&x, 11, "K = N − 1");
    fit_all_types(&x, 12, "K = N");
}

#[test]
fn more_dimensions_than_samples() {
    let x = DMatrix::from_fn(15, 40, |i, j| {
        ((i * 31 + j * 17) % 23) as f64 * 0.1 + if i < 8 { 0.0 } else { 5.0 }
    });
    fit_all_types(&x, 2, "D > N");
}

#[test]
fn collapsed_component_without_regularisation_is_a_clear_error() {
    // Two identical points form their own cluster; with reg_covar = 0 its covariance is singular.
    let mut x = DMatrix::from_fn(40, 2, |i, j| ((i * 7 + j * 3) % 13) as f64);
    for i in 0..3 {
        x[(i, 0)] = 100.0;
        x[(i, 1)] = 100.0;
    }
    let cfg = FitConfig::new(2).reg_covar(0.0).init(InitMethod::Labels(
        (0..40).map(|i| usize::from(i < 3)).collect(),
    ));
    let err = fit_cpu(&x, &cfg).unwrap_err();
    assert!(
        matches!(err, GmmError::NotPositiveDefinite { component: 1, .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("reg_covar") && msg.contains("component 1"),
        "{msg}"
    );
}

/// A component collapsed onto three identical points, for every covariance type. Without
/// regularisation: full covariances stop with a clear error naming component 1; tied ones
/// (pooled, so positive definite) and diag and spherical ones (whose variances are the
/// rounding of the mean, about 1e-27, positive, as in scikit-learn) give a finite model, or
/// the same error — never NaN. With the default `reg_covar`, a finite model for every type.
#[test]
fn collapsed_component_for_every_covariance_type() {
    let mut x = DMatrix::from_fn(40, 2, |i, j| ((i * 7 + j * 3) % 13) as f64);
    for i in 0..3 {
        x[(i, 0)] = 100.0;
        x[(i, 1)] = 100.0;
    }
    let labels: Vec<usize> = (0..40).map(|i| usize::from(i < 3)).collect();
    for ct in CovarianceType::ALL {
        let cfg = FitConfig::new(2)
            .covariance_type(ct)
            .init(InitMethod::Labels(labels.clone()));
        match (ct, fit_cpu(&x, &cfg.clone().reg_covar(0.0))) {
            (CovarianceType::Full, Ok(_)) => panic!("full: a singular covariance was accepted"),
            (_, Ok(m)) => assert_finite(&m, &format!("{ct}, collapsed, reg 0")),
            (CovarianceType::Tied, Err(e)) => panic!("tied: {e}"),
            (_, Err(e @ GmmError::NotPositiveDefinite { component: 1, .. })) => {
                assert!(e.to_string().contains("reg_covar"), "{ct}: {e}")
            }
            (ct, Err(e)) => panic!("{ct}: {e}"),
        }
        let m = fit_cpu(&x, &cfg).unwrap_or_else(|e| panic!("{ct}, default reg_covar: {e}"));
        assert_finite(&m, &format!("{ct}, collapsed, default reg_covar"));
    }
}
