//! One EM iteration of the CPU engine (E-step, M-step statistics, host factorisation) at the
//! issue's reference size: 200 000 samples × 32 dims, K = 16, full covariances — plus the
//! other covariance types at the same size. Compare with `benches/sklearn_compare.py`.

use criterion::{criterion_group, criterion_main, Criterion};
use gaussmix::synthetic::one_hot;
use gaussmix::{CovarianceType, Device, Engine, Samples};
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// Synthetic data: K clusters with random centres and unit-ish spread, and their labels.
fn data(n: usize, d: usize, k: usize, seed: u64) -> (DMatrix<f64>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres = DMatrix::<f64>::from_fn(k, d, |_, _| rng.random::<f64>() * 20.0 - 10.0);
    let labels: Vec<usize> = (0..n).map(|_| rng.random_range(0..k)).collect();
    let x = DMatrix::from_fn(n, d, |i, j| {
        centres[(labels[i], j)] + rng.sample::<f64, _>(StandardNormal)
    });
    (x, labels)
}

fn em_iteration(c: &mut Criterion) {
    let (n, d, k) = (200_000, 32, 16);
    let (x, labels) = data(n, d, k, 7);
    let samples = Samples::new(&x).unwrap();
    let mut group = c.benchmark_group("em_iteration_cpu_200000x32_k16");
    group.sample_size(10);
    for ct in CovarianceType::ALL {
        let mut engine = Engine::new(&samples, &Device::Cpu).unwrap();
        engine.set_responsibilities(&one_hot(&labels, k)).unwrap();
        let params = engine.m_step(ct).unwrap().to_params(1e-6).unwrap();
        group.bench_function(ct.as_str(), |b| {
            b.iter(|| {
                engine.e_step(&params).unwrap();
                engine.m_step(ct).unwrap().to_params(1e-6).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, em_iteration);
criterion_main!(benches);
