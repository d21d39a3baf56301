//! `gaussmix predict`: the most probable component of every sample, or all probabilities.

use std::path::PathBuf;

use crate::cli::common::{load_model, read_data_for};

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
}

/// Runs `gaussmix predict`.
pub fn run(args: Args) -> anyhow::Result<()> {
    crate::output::check_output_path(&args.output)?;
    let model = load_model(&args.model)?;
    let x = read_data_for(&args.data, &model)?;
    if args.proba {
        crate::io::write_matrix(&args.output, &model.predict_proba(&x)?)?;
    } else {
        crate::io::write_labels(&args.output, &model.predict(&x)?)?;
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
