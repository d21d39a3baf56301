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
