//! The exact low-rank path at the faces size: 400 × 4096, K = 24 full components — one EM
//! iteration (E-step from the Gram matrix, M-step statistics, N × N factorisations) and one
//! draw. Compare with `benches/faces_sklearn.py` (scikit-learn's dense full covariances).

use criterion::{criterion_group, criterion_main, Criterion};
use gaussmix::backend::Backend;
use gaussmix::lowrank::LowRankBackend;
use gaussmix::{fit, CovarianceType, DeviceChoice, FitConfig, FitOptions, FullPath, MixtureParams};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn faces_lowrank(c: &mut Criterion) {
    let faces = gaussmix::faces::olivetti_faces().unwrap();
    let config = FitConfig::new(24).seed(0);
    let model = fit(
        &faces,
        &config,
        FitOptions {
            device: DeviceChoice::Cpu,
            full_path: FullPath::LowRank,
            ..Default::default()
        },
        &mut |_| {},
    )
    .unwrap();
    let mut group = c.benchmark_group("lowrank_faces_400x4096_k24");
    group.sample_size(10);
    group.bench_function("fit_to_convergence", |b| {
        b.iter(|| {
            fit(
                &faces,
                &config,
                FitOptions {
                    device: DeviceChoice::Cpu,
                    full_path: FullPath::LowRank,
                    ..Default::default()
                },
                &mut |_| {},
            )
            .unwrap()
        })
    });
    let mut backend = LowRankBackend::new(&faces);
    backend.e_step(&model.params).unwrap();
    group.bench_function("em_iteration", |b| {
        b.iter(|| {
            backend.e_step(&model.params).unwrap();
            let stats = backend.m_step_stats(CovarianceType::Full).unwrap();
            MixtureParams::from_stats(stats, 1e-6).unwrap()
        })
    });
    group.finish();

    let mut group = c.benchmark_group("lowrank_faces_sampling");
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    group.bench_function("sample_1", |b| {
        b.iter(|| model.sample(1, &mut rng).unwrap())
    });
    group.finish();
}

criterion_group!(benches, faces_lowrank);
criterion_main!(benches);
