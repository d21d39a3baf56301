//! Conditioning costs at 10 000 rows × 16 dims, K = 8: imputing with 20 % of entries missing
//! (grouped by pattern), one EM iteration with missing values (full, diag), and conditioning
//! 1 000 rows on 11 of the 16 coordinates with 90 % intervals (a forecast's work). Speed goals
//! live here, not in tests.

use criterion::{criterion_group, criterion_main, Criterion};
use gaussmix::condition::PatternConditioner;
use gaussmix::missing::{impute, ImputeMode};
use gaussmix::{
    fit, CovarianceType, Device, DeviceChoice, Engine, FitConfig, FitOptions, GaussianMixture,
    Samples,
};
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

fn data(n: usize, d: usize, k: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres = DMatrix::<f64>::from_fn(k, d, |_, _| rng.random::<f64>() * 10.0 - 5.0);
    DMatrix::from_fn(n, d, |i, j| {
        centres[(i % k, j)] + rng.sample::<f64, _>(StandardNormal)
    })
}

fn with_holes(x: &DMatrix<f64>, fraction: f64, seed: u64) -> DMatrix<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    x.map(|v| {
        if rng.random::<f64>() < fraction {
            f64::NAN
        } else {
            v
        }
    })
}

/// The f64 CPU fit (the model the conditioning runs on).
fn fit_cpu(x: &DMatrix<f64>, config: &FitConfig) -> GaussianMixture {
    fit(
        &Samples::new(x).unwrap(),
        config,
        FitOptions::new().device(DeviceChoice::Cpu),
    )
    .unwrap()
}

fn conditioning(c: &mut Criterion) {
    let (n, d, k) = (10_000, 16, 8);
    let x = data(n, d, k, 1);
    let holes = with_holes(&x, 0.2, 2);
    let model = fit_cpu(&x, &FitConfig::new(k).seed(3).max_iter(20));
    let mut group = c.benchmark_group("condition_10000x16_k8");
    group.sample_size(10);
    group.bench_function("impute_mean", |b| {
        b.iter(|| impute(model.params(), &holes, ImputeMode::Mean).unwrap())
    });
    for ct in [CovarianceType::Full, CovarianceType::Diag] {
        let mut engine =
            Engine::new(&Samples::with_missing(&holes).unwrap(), &Device::Cpu).unwrap();
        let m = fit_cpu(
            &x,
            &FitConfig::new(k).covariance_type(ct).seed(3).max_iter(5),
        );
        engine.e_step(m.params()).unwrap();
        group.bench_function(format!("em_iteration_missing_{ct}"), |b| {
            b.iter(|| {
                engine.e_step(m.params()).unwrap();
                engine.m_step(ct).unwrap().to_params(1e-6).unwrap()
            })
        });
    }
    let observed: Vec<usize> = (0..11).collect();
    let cond = PatternConditioner::new(model.params(), &observed).unwrap();
    let rows: Vec<Vec<f64>> = (0..1000)
        .map(|i| x.row(i).iter().take(11).copied().collect())
        .collect();
    group.bench_function("condition_and_interval_1000_rows_11_of_16_observed", |b| {
        b.iter(|| {
            for r in &rows {
                let c = cond.condition(r).unwrap();
                c.interval(0.9).unwrap();
            }
        })
    });
    group.finish();
}

criterion_group!(benches, conditioning);
criterion_main!(benches);
