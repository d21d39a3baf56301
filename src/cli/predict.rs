//! `gaussmix predict`: the most probable component of every sample, or all probabilities.

use std::path::PathBuf;

use crate::cli::common::{load_model, read_data_for};
use gaussmix::{DeviceChoice, Work};

/// Arguments of `gaussmix predict`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model file (.npz).
    pub model: PathBuf,
    /// Data with the model's features.
    pub data: PathBuf,
    /// Write the N × K posterior probabilities instead of labels.
    #[arg(long)]
    pub proba: bool,
    /// Output (.npy or .csv).
    #[arg(short = 'o', long)]
    pub output: PathBuf,
    /// Where to compute: cpu (f64, the default), gpu (f32 E-step kernels for dense models;
    /// exact integer products and f64 for low-rank ones), or auto (GPU if one is found, else
    /// CPU).
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
}

/// Runs `gaussmix predict`.
pub fn run(args: Args) -> anyhow::Result<()> {
    gaussmix::output::check_output_path(&args.output)?;
    let model = load_model(&args.model)?;
    let x = read_data_for(&args.data, &model)?;
    let device = args
        .device
        .resolve(Work::Dense, &mut |s| eprintln!("note: {s}"))?;
    // Computed in full before the output file is created: a failure writes nothing.
    if args.proba {
        let p = model.predict_proba_on(&x, &device)?;
        gaussmix::io::write_matrix(&args.output, &p)?;
    } else {
        let labels = model.predict_on(&x, &device)?;
        gaussmix::io::write_labels(&args.output, &labels)?;
    }
    println!(
        "wrote {} for {} samples to {}",
        if args.proba {
            "probabilities"
        } else {
            "labels"
        },
        x.nrows(),
        args.output.display()
    );
    Ok(())
}
