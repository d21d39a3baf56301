//! `gaussmix export`: write a model in scikit-learn's dense layout — a low-rank model's
//! covariances expanded to K dense D × D matrices — when that fits in the memory allowed.

use std::path::PathBuf;

use crate::cli::common::load_model;
use gaussmix::{Covariances, GaussianMixture, MixtureParams};

/// Arguments of `gaussmix export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model file (.npz).
    pub model: PathBuf,
    /// Output model file (.npz) with dense `covariances_`, `precisions_` and
    /// `precisions_cholesky_`, loadable by scikit-learn.
    #[arg(short = 'o', long)]
    pub output: PathBuf,
    /// Largest size, in GB, of one array of K dense D × D matrices (the file holds three, and
    /// the export needs about as much memory).
    #[arg(long, default_value_t = 2.0, allow_negative_numbers = true)]
    pub max_gb: f64,
}

/// Runs `gaussmix export`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if !(args.max_gb.is_finite() && args.max_gb > 0.0) {
        anyhow::bail!(
            "--max-gb {} must be a positive number of gigabytes",
            args.max_gb
        );
    }
    gaussmix::io::check_model_output(&args.output)?;
    let model = load_model(&args.model)?;
    let dense = match model.covariances() {
        Covariances::LowRank(lr) => {
            let max_bytes = (args.max_gb * 1e9).min(usize::MAX as f64) as usize;
            let covariances = lr.to_dense(max_bytes)?;
            let params = MixtureParams::new(
                model.weights().clone(),
                model.means().clone(),
                Covariances::Full(covariances),
                model.reg_covar(),
            )?;
            GaussianMixture::from_fit(params, model.reg_covar(), model.summary().clone())
        }
        _ => {
            eprintln!("note: the model is dense already; writing it unchanged");
            model
        }
    };
    gaussmix::io::save_model(&args.output, &dense)?;
    println!(
        "wrote {} ({} components, {} features, dense {} covariances)",
        args.output.display(),
        dense.n_components(),
        dense.n_features(),
        dense.covariance_type()
    );
    Ok(())
}
