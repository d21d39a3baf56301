//! Conditioning: a fitted mixture over (x_t, x_t+1) pairs of a series, conditioned on x_t,
//! gives the mixture of x_t+1 — its mean is a forecast, its quantiles an interval.
//!
//! Run: `cargo run --release --example condition`

use gaussmix::condition::PatternConditioner;
use gaussmix::{CovarianceType, FitConfig, GaussianMixture};
use nalgebra::DMatrix;

fn main() -> Result<(), gaussmix::GmmError> {
    // A nonlinear map with noise: x_t+1 = 3.7 x_t (1 − x_t) + ε.
    let mut x = vec![0.3f64];
    for t in 0..4000 {
        let e = ((t * 7919 % 1000) as f64 / 1000.0 - 0.5) * 0.02;
        let next = (3.7 * x[t] * (1.0 - x[t]) + e).clamp(0.0, 1.0);
        x.push(next);
    }
    let pairs = DMatrix::from_fn(x.len() - 1, 2, |i, j| x[i + j]);
    let model = GaussianMixture::fit(
        &pairs,
        &FitConfig::new(8)
            .covariance_type(CovarianceType::Full)
            .seed(1),
    )?;
    // Observe coordinate 0 (x_t); the conditional mixture is over coordinate 1 (x_t+1).
    let conditioner = PatternConditioner::new(model.params(), &[0])?;
    for &now in &[0.2, 0.5, 0.8] {
        let next = conditioner.condition(&[now])?;
        let (lo, hi) = next.interval(0.9)?;
        println!(
            "x_t = {now:.1}: E[x_t+1] = {:.3} (true map {:.3}), 90 % interval [{:.3}, {:.3}]",
            next.mean()[0],
            3.7 * now * (1.0 - now),
            lo[0],
            hi[0]
        );
    }
    Ok(())
}
