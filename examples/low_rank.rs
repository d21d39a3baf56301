//! The exact high-dimensional path: full covariances of 4096-dimensional faces, with fewer
//! samples (400) than dimensions, fitted through N × N algebra — never a D × D matrix.
//!
//! Run: `cargo run --release --example low_rank`

use gaussmix::{Covariances, FitConfig, GaussianMixture};

fn main() -> Result<(), gaussmix::GmmError> {
    let faces = gaussmix::faces::olivetti_faces()?; // 400 × 4096, embedded
    let started = std::time::Instant::now();
    // The one-line door takes the low-rank path by itself when it is cheaper (N < D).
    let model = GaussianMixture::fit(&faces, &FitConfig::new(24).seed(0))?;
    println!(
        "{} components × {} pixels, full covariances, fitted in {:.3} s ({} iterations)",
        model.n_components(),
        model.n_features(),
        started.elapsed().as_secs_f64(),
        model.summary().n_iter
    );
    let Covariances::LowRank(lr) = model.covariances() else {
        unreachable!("N < D full covariances take the low-rank path");
    };
    println!(
        "stored as {} training samples × {} weights (no 4096 × 4096 matrix)",
        lr.n_samples(),
        lr.n_components()
    );
    let (face, _) = model.sample(1, &mut gaussmix::seeded_rng(1, 0))?;
    println!(
        "a new face: {} pixels, mean brightness {:.3}; its log-density {:.1}",
        face.ncols(),
        face.mean(),
        model.score_samples(&face)?[0]
    );
    Ok(())
}
