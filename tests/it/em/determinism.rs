//! The same seed gives bit-identical models on the CPU path whatever the thread count.

use crate::common::{draw, fit_cpu, truth};
use gaussmix::{CovarianceType, FitConfig, GaussianMixture, InitMethod};

fn fit_with_threads(
    threads: usize,
    x: &nalgebra::DMatrix<f64>,
    cfg: &FitConfig,
) -> GaussianMixture {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| fit_cpu(x, cfg).unwrap())
}

#[test]
fn same_seed_bit_identical_across_thread_counts() {
    let t = truth(5);
    // Enough samples for many E-step and M-step blocks.
    let (x, _) = draw(&t, 9000, 17);
    for ct in CovarianceType::ALL {
        for init in [InitMethod::KMeans, InitMethod::Random] {
            let cfg = FitConfig::new(4)
                .covariance_type(ct)
                .init(init.clone())
                .n_init(2)
                .seed(123)
                .max_iter(15);
            let one = fit_with_threads(1, &x, &cfg);
            let three = fit_with_threads(3, &x, &cfg);
            assert_eq!(
                one.params(),
                three.params(),
                "{ct} / {init}: parameters differ between 1 and 3 threads"
            );
            assert_eq!(
                one.summary().lower_bound_history,
                three.summary().lower_bound_history
            );
        }
    }
}

#[test]
fn different_seeds_can_differ() {
    let t = truth(2);
    let (x, _) = draw(&t, 600, 3);
    let a = fit_cpu(
        &x,
        &FitConfig::new(5)
            .init(InitMethod::Random)
            .seed(1)
            .max_iter(3),
    )
    .unwrap();
    let b = fit_cpu(
        &x,
        &FitConfig::new(5)
            .init(InitMethod::Random)
            .seed(2)
            .max_iter(3),
    )
    .unwrap();
    assert_ne!(a.params(), b.params(), "the seed had no effect");
}

/// The exact low-rank path (N < D) and EM with missing values are as deterministic as the
/// dense path: bit-identical models on 1 and 3 threads.
#[test]
fn low_rank_and_missing_value_fits_are_bit_identical_across_thread_counts() {
    use gaussmix::{DeviceChoice, FitOptions, FullPath, Samples};
    let in_pool = |threads: usize, f: &(dyn Fn() -> GaussianMixture + Sync)| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(f)
    };
    // 60 samples in 200 dimensions, three groups.
    let wide = nalgebra::DMatrix::from_fn(60, 200, |i, j| {
        (((i * 37 + j * 11) % 29) as f64 - 14.0) * 0.1 + (i % 3) as f64 * 2.0
    });
    let low_rank = || {
        gaussmix::fit(
            &Samples::new(&wide).unwrap(),
            &FitConfig::new(3).seed(5).max_iter(10),
            FitOptions::new()
                .device(DeviceChoice::Cpu)
                .full_path(FullPath::LowRank),
        )
        .unwrap()
    };
    let (a, b) = (in_pool(1, &low_rank), in_pool(3, &low_rank));
    assert_eq!(a.params(), b.params(), "low-rank: 1 and 3 threads differ");
    assert_eq!(
        a.summary().lower_bound_history,
        b.summary().lower_bound_history
    );

    let t = truth(5);
    let (mut x, _) = draw(&t, 6000, 23);
    let d = x.ncols();
    for i in (0..x.nrows()).step_by(7) {
        x[(i, i % d)] = f64::NAN;
    }
    for ct in CovarianceType::ALL {
        let missing = || {
            gaussmix::fit(
                &Samples::with_missing(&x).unwrap(),
                &FitConfig::new(3).covariance_type(ct).seed(9).max_iter(8),
                FitOptions::new().device(DeviceChoice::Cpu),
            )
            .unwrap()
        };
        let (a, b) = (in_pool(1, &missing), in_pool(3, &missing));
        assert_eq!(
            a.params(),
            b.params(),
            "missing values, {ct}: 1 and 3 threads differ"
        );
    }
}

/// Data given as columns (what a C-order `.npy` file holds; the CLI's door) give the same
/// model as the same data given as rows.
#[test]
fn samples_as_columns_give_the_model_of_samples_as_rows() {
    use gaussmix::{DeviceChoice, FitOptions, FullPath, Samples};
    let t = truth(4);
    let (x, _) = draw(&t, 3000, 31);
    for ct in CovarianceType::ALL {
        let cfg = FitConfig::new(3).covariance_type(ct).seed(2).max_iter(12);
        let options = || {
            FitOptions::new()
                .device(DeviceChoice::Cpu)
                .full_path(FullPath::Dense)
        };
        let rows = gaussmix::fit(&Samples::new(&x).unwrap(), &cfg, options()).unwrap();
        let cols = gaussmix::fit(
            &Samples::from_columns(x.transpose()).unwrap(),
            &cfg,
            options(),
        )
        .unwrap();
        assert_eq!(rows.params(), cols.params(), "{ct}");
    }
    // The same checks at the door: too few samples, and a non-finite value named by its
    // row and column in the N × D view.
    assert!(Samples::from_columns(nalgebra::DMatrix::zeros(3, 1)).is_err());
    let mut bad = x.transpose();
    bad[(2, 7)] = f64::INFINITY;
    let err = Samples::from_columns(bad).unwrap_err().to_string();
    assert!(err.contains('7') && err.contains('2'), "{err}");
}
