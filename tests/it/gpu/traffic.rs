//! Host–device traffic of GPU EM iterations (`gaussmix::gpu::Traffic`): the bytes read back
//! per iteration do not grow with N, and an iteration waits for the device at most twice.
//!
//! Each test opens a context of its own, so that the other tests running in parallel on the
//! shared one do not add to its counters.
//!
//! The figures at the issue's size (200 000 × 32, K = 16, full; minutes on lavapipe):
//! `CI=true cargo test --release --test it gpu::traffic::issue_size -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use gaussmix::gpu::{GpuContext, Traffic};
use gaussmix::synthetic::{one_hot, synthetic, Case};
use gaussmix::{CovarianceType, Device, Engine, MixtureParams, Samples};

/// A context of the test's own (failing under `CI=true` when there is no adapter).
fn own_context() -> Option<GpuContext> {
    crate::common::context()?;
    Some(GpuContext::new().expect("a second context on the adapter"))
}

/// What `iters` EM iterations on the GPU moved, one entry per iteration, after an initial
/// M-step from the labels; with the engine, the last parameters and the time per iteration.
fn iterations(
    ctx: &GpuContext,
    case: Case,
    iters: usize,
) -> (Engine, MixtureParams, Vec<Traffic>, Duration) {
    let (x, labels) = synthetic(&case, 7);
    let mut engine = Engine::new(&Samples::new(&x).unwrap(), &Device::Gpu(ctx.clone())).unwrap();
    engine
        .set_responsibilities(&one_hot(&labels, case.k))
        .unwrap();
    let mut params = engine
        .m_step(case.covariance)
        .unwrap()
        .to_params(1e-6)
        .unwrap();
    let mut per_iter = Vec::new();
    let started = Instant::now();
    for _ in 0..iters {
        let before = engine.traffic().expect("a GPU engine counts its traffic");
        let stats = engine.statistics(&params, case.covariance).unwrap();
        per_iter.push(engine.traffic().unwrap() - before);
        params = stats.to_params(1e-6).unwrap();
    }
    let elapsed = started.elapsed() / iters as u32;
    assert!(
        engine.fallbacks().is_empty(),
        "fell back: {:?}",
        engine.fallbacks()
    );
    (engine, params, per_iter, elapsed)
}

#[test]
fn read_back_per_iteration_is_independent_of_n_and_round_trips_are_at_most_two() {
    let Some(ctx) = own_context() else { return };
    for covariance in [CovarianceType::Full, CovarianceType::Diag] {
        let per_n: Vec<Vec<Traffic>> = [20_000, 80_000]
            .iter()
            .map(|&n| {
                let case = Case {
                    n,
                    d: 8,
                    k: 4,
                    covariance,
                };
                iterations(&ctx, case, 2).2
            })
            .collect();
        for (n, per_iter) in [20_000, 80_000].iter().zip(&per_n) {
            for t in per_iter {
                assert!(t.round_trips <= 2, "{covariance}, N = {n}: {t}");
                assert!(t.bytes_from_device > 0, "{covariance}, N = {n}: {t}");
            }
        }
        assert_eq!(per_n[0], per_n[1], "{covariance}: N = 20 000 vs 80 000");
    }
}

#[test]
fn the_steps_alone_wait_once_each() {
    let Some(ctx) = own_context() else { return };
    let case = Case {
        n: 3000,
        d: 5,
        k: 3,
        covariance: CovarianceType::Full,
    };
    let (mut engine, params, _, _) = iterations(&ctx, case, 1);
    let t0 = engine.traffic().unwrap();
    engine.e_step(&params).unwrap();
    let t1 = engine.traffic().unwrap();
    engine.m_step(case.covariance).unwrap();
    let t2 = engine.traffic().unwrap();
    assert_eq!((t1 - t0).round_trips, 1, "E-step: {}", t1 - t0);
    assert_eq!((t2 - t1).round_trips, 1, "M-step: {}", t2 - t1);
    // Reading the responsibilities back is one more, of N × K floats.
    engine.responsibilities().unwrap();
    let t3 = engine.traffic().unwrap() - t2;
    assert_eq!(t3.round_trips, 1);
    assert_eq!(t3.bytes_from_device, (3000 * 3 * 4) as u64);
}

#[test]
#[ignore = "minutes on lavapipe: run with --ignored --nocapture for the issue's figures"]
fn issue_size() {
    let Some(ctx) = own_context() else { return };
    let case = Case {
        n: 200_000,
        d: 32,
        k: 16,
        covariance: CovarianceType::Full,
    };
    let (_, _, per_iter, time) = iterations(&ctx, case, 3);
    println!(
        "{} x {}, K = {}, {}: {:.0} ms per iteration on {}",
        case.n,
        case.d,
        case.k,
        case.covariance,
        time.as_secs_f64() * 1e3,
        ctx.describe()
    );
    for (i, t) in per_iter.iter().enumerate() {
        println!("iteration {}: {t}", i + 1);
    }
    for t in &per_iter {
        assert!(t.round_trips <= 2, "{t}");
        assert!(t.bytes_from_device <= 300_000, "{t}");
    }
}
