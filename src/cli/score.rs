//! `gaussmix score`: mean log-likelihood of data under a model.

use std::path::PathBuf;

use nalgebra::DMatrix;

use crate::cli::common::{load_model, read_data_for, read_sample_weight};
use gaussmix::{DeviceChoice, Work};

/// Arguments of `gaussmix score`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model file (.npz).
    pub model: PathBuf,
    /// Data (.npy, .csv or an image directory) with the model's features.
    pub data: PathBuf,
    /// Also write the log-density of every sample here (.npy or .csv).
    #[arg(long)]
    pub per_sample: Option<PathBuf>,
    /// Where to compute: cpu (f64, the default), gpu (f32 E-step kernels for dense models;
    /// exact integer products and f64 for low-rank ones), or auto (GPU if one is found, else
    /// CPU).
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
    /// Sample weights, one per sample (.npy or .csv): the weighted mean log-likelihood, and
    /// BIC and AIC as of repeated rows (−2 Σ w log p + p ln Σ w).
    #[arg(long)]
    pub sample_weight: Option<PathBuf>,
}

/// Runs `gaussmix score`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(p) = &args.per_sample {
        gaussmix::output::check_output_path(p)?;
    }
    let model = load_model(&args.model)?;
    let x = read_data_for(&args.data, &model)?;
    let device = args
        .device
        .resolve(Work::Dense, &mut |s| eprintln!("note: {s}"))?;
    let log_density = model.score_samples_on(&x, &device)?;
    if let Some(out) = &args.per_sample {
        let column = DMatrix::from_column_slice(log_density.len(), 1, log_density.as_slice());
        gaussmix::io::write_matrix(out, &column)?;
    }
    let weights = args
        .sample_weight
        .as_deref()
        .map(|p| read_sample_weight(p, x.nrows()))
        .transpose()?;
    let (mean, n) = match &weights {
        Some(w) => {
            let (mean, total) = gaussmix::weighted_mean(log_density.as_slice(), w)?;
            println!(
                "weighted mean log-likelihood {mean:.9} over {} samples (total weight {total})",
                x.nrows()
            );
            (mean, total)
        }
        None => {
            let mean = log_density.mean();
            println!("mean log-likelihood {mean:.9} over {} samples", x.nrows());
            (mean, x.nrows() as f64)
        }
    };
    let params = model.n_parameters() as f64;
    println!(
        "BIC {:.6}  AIC {:.6}  ({} free parameters)",
        -2.0 * mean * n + params * n.ln(),
        -2.0 * mean * n + 2.0 * params,
        model.n_parameters()
    );
    Ok(())
}
