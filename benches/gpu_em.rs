//! EM on the GPU vs the CPU: E-step, M-step statistics and one full iteration (E-step,
//! M-step, host factorisation).
//!
//! Default sizes are reduced so that the bench runs in seconds even on a software adapter
//! (lavapipe): 20 000 × 16, K = 8, full and diag. Set `GAUSSMIX_BENCH_SIZES=issue` for the
//! issue's sizes: 200 000 × 32, K = 16, full and 1 000 000 × 64, K = 64, diag.
//! Without a GPU adapter only the CPU is measured (with a notice).

use criterion::{criterion_group, criterion_main, Criterion};
use gaussmix::synthetic::{one_hot, synthetic, Case};
use gaussmix::{CovarianceType, Device, Engine, Samples};

fn cases() -> Vec<Case> {
    let issue = std::env::var("GAUSSMIX_BENCH_SIZES").is_ok_and(|v| v == "issue");
    let (full, diag) = if issue {
        ((200_000, 32, 16), (1_000_000, 64, 64))
    } else {
        ((20_000, 16, 8), (20_000, 16, 8))
    };
    vec![
        Case {
            n: full.0,
            d: full.1,
            k: full.2,
            covariance: CovarianceType::Full,
        },
        Case {
            n: diag.0,
            d: diag.1,
            k: diag.2,
            covariance: CovarianceType::Diag,
        },
    ]
}

fn bench_backend(
    c: &mut Criterion,
    name: &str,
    case: &Case,
    engine: &mut Engine,
    labels: &[usize],
) {
    let ct = case.covariance;
    engine
        .set_responsibilities(&one_hot(labels, case.k))
        .unwrap();
    let params = engine.m_step(ct).unwrap().to_params(1e-6).unwrap();
    let mut group = c.benchmark_group(format!(
        "em_{}x{}_k{}_{}",
        case.n,
        case.d,
        case.k,
        ct.as_str()
    ));
    group.sample_size(10);
    group.bench_function(format!("{name}/e_step"), |b| {
        b.iter(|| engine.e_step(&params).unwrap())
    });
    group.bench_function(format!("{name}/m_step"), |b| {
        b.iter(|| engine.m_step(ct).unwrap())
    });
    group.bench_function(format!("{name}/iteration"), |b| {
        b.iter(|| {
            engine.e_step(&params).unwrap();
            engine.m_step(ct).unwrap().to_params(1e-6).unwrap()
        })
    });
    group.finish();
}

fn gpu_em(c: &mut Criterion) {
    let gpu = match Device::gpu() {
        Ok(device) => Some(device),
        Err(e) => {
            eprintln!("notice: {e}; benchmarking the CPU only");
            None
        }
    };
    for case in cases() {
        let (x, labels) = synthetic(&case, 7);
        let samples = Samples::new(&x).unwrap();
        let mut cpu = Engine::new(&samples, &Device::Cpu).unwrap();
        bench_backend(c, "cpu", &case, &mut cpu, &labels);
        if let Some(device) = &gpu {
            let mut engine = Engine::new(&samples, device).unwrap();
            bench_backend(c, "gpu", &case, &mut engine, &labels);
        }
    }
}

criterion_group!(benches, gpu_em);
criterion_main!(benches);
