//! Command-line interface: one module per subcommand, each with its `Args` and `run`.

use clap::{Parser, Subcommand};

pub(crate) mod bench;
pub(crate) mod common;
pub(crate) mod demo;
pub(crate) mod devices;
pub(crate) mod distributed;
pub(crate) mod export;
pub(crate) mod faces;
pub(crate) mod fit;
pub(crate) mod forecast;
pub(crate) mod impute;
pub(crate) mod info;
pub(crate) mod interpolate;
pub(crate) mod predict;
pub(crate) mod sample;
pub(crate) mod score;

/// Gaussian mixture models fitted by EM on the GPU (wgpu) and the CPU (f64).
#[derive(Debug, Parser)]
#[command(name = "gaussmix", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fit a mixture to data and save the model (.npz, scikit-learn attribute names).
    Fit(fit::Args),
    /// Mean log-likelihood of data under a model.
    Score(score::Args),
    /// Most probable component (or all probabilities) of every sample.
    Predict(predict::Args),
    /// Draw samples from a model.
    Sample(sample::Args),
    /// Describe a saved model.
    Info(info::Args),
    /// Write a model in scikit-learn's dense layout (expands low-rank covariances).
    Export(export::Args),
    /// Run the main job on the embedded default data.
    Demo(demo::Args),
    /// List GPU adapters.
    Devices(devices::Args),
    /// Time EM iterations on the CPU and the GPU side by side.
    Bench(bench::Args),
    /// Fit the Olivetti faces and write new faces as PNG.
    Faces(faces::Args),
    /// Forecast a time series by conditioning a mixture on the known past.
    Forecast(forecast::Args),
    /// Fill missing (NaN) entries with their conditional mean.
    Impute(impute::Args),
    /// Fill the gaps of a time series from a mixture over its windows.
    Interpolate(interpolate::Args),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Fit(a) => fit::run(a),
        Command::Score(a) => score::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Sample(a) => sample::run(a),
        Command::Info(a) => info::run(a),
        Command::Export(a) => export::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Devices(a) => devices::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Faces(a) => faces::run(a),
        Command::Forecast(a) => forecast::run(a),
        Command::Impute(a) => impute::run(a),
        Command::Interpolate(a) => interpolate::run(a),
    }
}
