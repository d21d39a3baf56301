//! The door for data on the host: validated `Samples`, settings, options, one `fit`, then
//! queries on the same device.
//!
//! Run: `cargo run --release --example host_data`

use std::ops::ControlFlow;

use gaussmix::{
    fit, CovarianceType, DeviceChoice, FitConfig, FitOptions, GaussianMixture, IterationEvent,
    Samples, Work,
};
use nalgebra::DMatrix;

fn main() -> Result<(), gaussmix::GmmError> {
    // Three clusters in 2-D, one sample per row.
    let x = DMatrix::from_fn(3000, 2, |i, j| {
        let c = (i % 3) as f64;
        let noise = (((i * 7919 + j * 104_729) % 1000) as f64 / 1000.0 - 0.5) * 2.0;
        (c - 1.0) * 5.0 * if j == 0 { 1.0 } else { -0.5 } + noise
    });

    // The one-line door: default options (automatic device and full path).
    let quick = GaussianMixture::fit(&x, &FitConfig::new(3))?;
    println!(
        "one line: {} iterations on {}",
        quick.summary().n_iter,
        quick.summary().device
    );

    // The door with every option: the data checked once, a device chosen by policy,
    // progress that could stop the fit, notices.
    let samples = Samples::new(&x)?;
    let config = FitConfig::new(3)
        .covariance_type(CovarianceType::Full)
        .n_init(2)
        .seed(7);
    let device = DeviceChoice::Auto.resolve(Work::Dense, &mut |s| println!("note: {s}"))?;
    let mut progress = |e: &IterationEvent| {
        println!(
            "  init {} iteration {}: lower bound {:.5}",
            e.init + 1,
            e.iter,
            e.lower_bound
        );
        ControlFlow::Continue(())
    };
    let model = fit(
        &samples,
        &config,
        FitOptions::new().on(&device).progress(&mut progress),
    )?;
    println!(
        "fitted on {}: converged {}, lower bound {:.5}, BIC {:.1}",
        device.describe(),
        model.summary().converged,
        model.summary().lower_bound,
        model.bic(&x)?
    );

    // Queries run on the same device.
    let labels = model.predict_on(&x, &device)?;
    let mean_ll = model.score_on(&x, &device)?;
    println!(
        "first labels {:?}, mean log-likelihood {mean_ll:.5}",
        &labels[..6]
    );
    let (draws, components) = model.sample(5, &mut gaussmix::seeded_rng(0, 0))?;
    println!(
        "drew {} samples from components {components:?}",
        draws.nrows()
    );
    Ok(())
}
