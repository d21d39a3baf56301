//! The exact low-rank path at the faces size: 400 × 4096, K = 24 full components — one EM
//! iteration (E-step from the Gram matrix, M-step statistics, N × N factorisations) and one
//! draw. Compare with `benches/faces_sklearn.py` (scikit-learn's dense full covariances).
//! Also the Gram matrix on the CPU and, when an adapter is found, on the GPU.

use criterion::{criterion_group, criterion_main, Criterion};
use gaussmix::lowrank::Products;
use gaussmix::{
    fit, CovarianceType, Device, DeviceChoice, Engine, FitConfig, FitOptions, FullPath, Samples,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn faces_lowrank(c: &mut Criterion) {
    let faces = gaussmix::faces::olivetti_faces().unwrap();
    let config = FitConfig::new(24).seed(0);
    let samples = Samples::new(&faces).unwrap();
    let fit_faces = || {
        fit(
            &samples,
            &config,
            FitOptions::new()
                .device(DeviceChoice::Cpu)
                .full_path(FullPath::LowRank),
        )
        .unwrap()
    };
    let model = fit_faces();
    let mut group = c.benchmark_group("lowrank_faces_400x4096_k24");
    group.sample_size(10);
    group.bench_function("fit_to_convergence", |b| b.iter(fit_faces));
    let mut engine = Engine::low_rank(&samples, &Device::Cpu).unwrap();
    engine.e_step(model.params()).unwrap();
    group.bench_function("em_iteration", |b| {
        b.iter(|| {
            engine.e_step(model.params()).unwrap();
            let stats = engine.m_step(CovarianceType::Full).unwrap();
            stats.to_params(1e-6).unwrap()
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

/// The Gram matrix of the faces (the largest product of a low-rank fit): f64 GEMM on the
/// CPU against exact integer products on the GPU (skipped without an adapter).
fn faces_gram(c: &mut Criterion) {
    let faces = gaussmix::faces::olivetti_faces().unwrap();
    let xt = faces.transpose();
    let mut group = c.benchmark_group("lowrank_faces_gram_400x4096");
    group.sample_size(10);
    group.bench_function("cpu_f64", |b| {
        b.iter(|| Products::Cpu.gram(xt.as_view()).unwrap())
    });
    match Device::gpu() {
        Ok(device) => {
            let gpu = Products::from(&device);
            group.bench_function("gpu_exact", |b| b.iter(|| gpu.gram(xt.as_view()).unwrap()));
        }
        Err(e) => eprintln!("skipping the GPU Gram matrix: {e}"),
    }
    group.finish();
}

criterion_group!(benches, faces_lowrank, faces_gram);
criterion_main!(benches);
