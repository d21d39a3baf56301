//! The whole forecast of a 2 000-point series with only the window and the horizon given:
//! cross-validating transform × K ∈ {1, 2, 4, 8} × {full, diag} over three folds, the final
//! fit, the calibrated test forecasts and the baselines (what `gaussmix forecast SERIES -w 10`
//! does). The goal (issue 12): within seconds on 2 cores. Speed goals live here, not in tests.

use criterion::{criterion_group, criterion_main, Criterion};
use gaussmix::forecast::{self, ForecastConfig};

/// A noisy nonlinear oscillation with a slow drift, 2 000 points, deterministic.
fn series() -> Vec<f64> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let mut y: Vec<f64> = vec![0.3, 0.1];
    for t in 2..2000 {
        let v = 1.7 * y[t - 1] - 0.8 * y[t - 2] + 0.4 * (y[t - 1] * 3.0).sin() + 0.1 * noise();
        y.push(v);
    }
    y.iter()
        .enumerate()
        .map(|(t, v)| v + 0.0005 * t as f64)
        .collect()
}

fn bench(c: &mut Criterion) {
    let y = series();
    let config = ForecastConfig {
        window: 10,
        horizon: 1,
        ..ForecastConfig::default()
    }
    .choose_components()
    .choose_covariance();
    let mut g = c.benchmark_group("forecast_select");
    g.sample_size(10);
    g.bench_function("2000 points, W = 10, H = 1, everything chosen", |b| {
        b.iter(|| forecast::run(&y, &config).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
