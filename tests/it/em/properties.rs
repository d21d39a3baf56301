//! Property tests of EM's invariants on random well-conditioned data.

use crate::common::fit_cpu;
use gaussmix::{CovarianceType, FitConfig, InitMethod};
use nalgebra::DMatrix;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// N × D data from `k` random clusters.
fn clustered(n: usize, d: usize, k: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres = DMatrix::<f64>::from_fn(k, d, |_, _| rng.random::<f64>() * 10.0);
    DMatrix::from_fn(n, d, |i, j| {
        centres[(i % k, j)] + rng.sample::<f64, _>(StandardNormal)
    })
}

fn covariance_type() -> impl Strategy<Value = CovarianceType> {
    prop::sample::select(CovarianceType::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn responsibilities_sum_to_one(seed in 0u64..1000, n in 30usize..200, d in 1usize..5, k in 1usize..5, ct in covariance_type()) {
        let x = clustered(n, d, k.max(2), seed);
        let model = fit_cpu(&x, &FitConfig::new(k).covariance_type(ct).seed(seed).max_iter(5)).unwrap();
        let proba = model.predict_proba(&x).unwrap();
        for row in proba.row_iter() {
            prop_assert!((row.sum() - 1.0).abs() < 1e-10);
            prop_assert!(row.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }

    #[test]
    fn lower_bound_is_monotone_without_regularisation(seed in 0u64..1000, d in 1usize..4, k in 1usize..4, ct in covariance_type()) {
        let x = clustered(300, d, 3, seed);
        let cfg = FitConfig::new(k).covariance_type(ct).seed(seed).reg_covar(0.0).tol(0.0).max_iter(25).init(InitMethod::Random);
        let model = fit_cpu(&x, &cfg).unwrap();
        for w in model.summary().lower_bound_history.windows(2) {
            prop_assert!(w[1] >= w[0] - 1e-9 * w[0].abs().max(1.0), "fell from {} to {}", w[0], w[1]);
        }
    }

    #[test]
    fn permuting_samples_does_not_change_the_fit(seed in 0u64..1000, ct in covariance_type()) {
        let x = clustered(120, 3, 3, seed);
        let labels: Vec<usize> = (0..120).map(|i| i % 3).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed + 1);
        let mut perm: Vec<usize> = (0..120).collect();
        for i in (1..120).rev() {
            perm.swap(i, rng.random_range(0..=i));
        }
        let xp = DMatrix::from_fn(120, 3, |i, j| x[(perm[i], j)]);
        let lp: Vec<usize> = perm.iter().map(|&p| labels[p]).collect();
        let a = fit_cpu(&x, &FitConfig::new(3).covariance_type(ct).init(InitMethod::Labels(labels)).max_iter(10)).unwrap();
        let b = fit_cpu(&xp, &FitConfig::new(3).covariance_type(ct).init(InitMethod::Labels(lp)).max_iter(10)).unwrap();
        prop_assert!((&a.params().means - &b.params().means).amax() < 1e-8);
        prop_assert!((&a.params().weights - &b.params().weights).amax() < 1e-10);
        prop_assert!((a.summary().lower_bound - b.summary().lower_bound).abs() < 1e-9 * a.summary().lower_bound.abs());
    }
}
