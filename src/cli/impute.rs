//! `gaussmix impute`: fill the missing (NaN) entries of a data file from a fitted model.

use std::path::PathBuf;

use anyhow::Context;

use gaussmix::io::{load_model, read_matrix, write_matrix, Missing};
use gaussmix::missing::{group_by_pattern, impute, ImputeMode};

/// Arguments of `gaussmix impute`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The fitted model (.npz).
    pub model: PathBuf,
    /// The data (.npy or .csv), N × D, with NaN (or empty CSV fields) where values are missing.
    pub data: PathBuf,
    /// Where to write the completed data (.npy or .csv by extension).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Fill each row with one draw from its conditional distribution instead of the
    /// conditional mean.
    #[arg(long)]
    pub sample: bool,
    /// Seed of the draws (with --sample).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Runs `gaussmix impute`.
pub fn run(args: Args) -> anyhow::Result<()> {
    gaussmix::io::check_data_output(&args.output)?;
    let model = load_model(&args.model)?;
    let x = read_matrix(&args.data, Missing::AllowNan)?;
    let mode = if args.sample {
        ImputeMode::Draw { seed: args.seed }
    } else {
        ImputeMode::Mean
    };
    let patterns = group_by_pattern(&x);
    let n_missing: usize = patterns
        .iter()
        .map(|p| p.missing.len() * p.rows.len())
        .sum();
    let incomplete: usize = patterns
        .iter()
        .filter(|p| !p.missing.is_empty())
        .map(|p| p.rows.len())
        .sum();
    let empty: usize = patterns
        .iter()
        .filter(|p| p.observed.is_empty())
        .map(|p| p.rows.len())
        .sum();
    let filled = impute(model.params(), &x, mode)
        .with_context(|| format!("imputing {}", args.data.display()))?;
    write_matrix(&args.output, &filled)?;
    println!(
        "filled {n_missing} missing entries in {incomplete} of {} rows ({} missing patterns; {empty} rows with nothing observed got the {}) with the conditional {}; wrote {}",
        x.nrows(),
        patterns.iter().filter(|p| !p.missing.is_empty()).count(),
        if args.sample { "a draw from the model" } else { "model's mean" },
        if args.sample { "draws" } else { "means" },
        args.output.display()
    );
    Ok(())
}
