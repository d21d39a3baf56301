//! `gaussmix fit`: fit a mixture to data and save the model.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::cli::common::{load_model, read_data, Progress};
use gaussmix::{
    fit, CovarianceType, DeviceChoice, FitConfig, FitOptions, FullPath, GmmError, InitMethod,
    Samples,
};

/// Arguments of `gaussmix fit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Data: .npy (f32/f64, 2-D), .csv/.tsv/.txt (optional header), or a directory of images.
    pub data: PathBuf,
    /// Number of mixture components K.
    #[arg(short = 'k', long = "components")]
    pub components: usize,
    /// Covariance type: full, diag, spherical or tied.
    #[arg(long, default_value = "full")]
    pub covariance: CovarianceType,
    /// Initialisation: kmeans (k-means++ then Lloyd), k-means++, random, random-from-data.
    #[arg(long, default_value = "kmeans")]
    pub init: InitMethod,
    /// Initial means, K × D (.npy or .csv); overrides --init.
    #[arg(long, conflicts_with = "labels_init")]
    pub means_init: Option<PathBuf>,
    /// Initial hard labels, one per sample in 0..K (.npy or .csv); overrides --init.
    #[arg(long)]
    pub labels_init: Option<PathBuf>,
    /// Continue from a saved model instead of initialising (scikit-learn's warm_start).
    #[arg(long, conflicts_with_all = ["means_init", "labels_init"])]
    pub warm_start: Option<PathBuf>,
    /// Number of initialisations; the best lower bound is kept.
    #[arg(long, default_value_t = 1)]
    pub n_init: usize,
    /// Maximum EM iterations per initialisation.
    #[arg(long, default_value_t = 100)]
    pub max_iter: usize,
    /// Convergence threshold on the change of the mean per-sample log-likelihood.
    #[arg(long, default_value_t = 1e-3, allow_negative_numbers = true)]
    pub tol: f64,
    /// Added to the diagonal of every covariance.
    #[arg(long, default_value_t = 1e-6, allow_negative_numbers = true)]
    pub reg_covar: f64,
    /// Seed of every random choice (same seed, same model, on any thread count).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where to compute: auto (GPU if one is found, else CPU), cpu, or gpu.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// Full covariances as dense matrices, exact low-rank factors (N < D), or chosen by cost.
    #[arg(long, default_value = "auto")]
    pub full_path: FullPath,
    /// Output model file (.npz, scikit-learn attribute names).
    #[arg(short = 'o', long)]
    pub output: PathBuf,
    /// No progress output.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Puts the file of `--means-init` or `--labels-init` in front of an error about it.
fn name_init_file(e: GmmError, args: &Args) -> anyhow::Error {
    let file = match &e {
        GmmError::InvalidParameter {
            name: "means_init", ..
        } => args.means_init.as_ref(),
        GmmError::InvalidParameter {
            name: "labels_init",
            ..
        } => args.labels_init.as_ref(),
        _ => None,
    };
    match file {
        Some(p) => anyhow::anyhow!("{}: {e}", p.display()),
        None => e.into(),
    }
}

/// Checks a warm-start model against the data and the requested fit, naming its file.
fn check_warm_start(
    w: &gaussmix::GaussianMixture,
    path: &Path,
    n_features: usize,
    config: &FitConfig,
) -> anyhow::Result<()> {
    if w.n_features() != n_features {
        anyhow::bail!(
            "{}: the warm-start model has {} features but the data have {n_features}; give a model fitted on the same columns",
            path.display(),
            w.n_features(),
        );
    }
    if w.n_components() != config.n_components || w.covariance_type() != config.covariance_type {
        anyhow::bail!(
            "{}: the warm-start model has {} components ({}) but the fit asks for {} components ({}); give -k and --covariance matching the model, or another model",
            path.display(),
            w.n_components(),
            w.covariance_type(),
            config.n_components,
            config.covariance_type
        );
    }
    Ok(())
}

/// Runs `gaussmix fit`.
pub fn run(args: Args) -> anyhow::Result<()> {
    gaussmix::io::check_model_output(&args.output)?;
    // One sample per column: a C-order .npy file is that layout already, and the CPU engine
    // uses it in place (no transposed copies of the data).
    let xt = gaussmix::io::read_matrix_columns(&args.data, gaussmix::io::Missing::Reject)?;
    let (n_features, n_samples) = xt.shape();
    let samples =
        Samples::from_columns(xt).map_err(|e| anyhow::anyhow!("{}: {e}", args.data.display()))?;
    let init = if let Some(p) = &args.means_init {
        InitMethod::Means(read_data(p)?)
    } else if let Some(p) = &args.labels_init {
        InitMethod::Labels(gaussmix::io::read_labels(p)?)
    } else {
        args.init.clone()
    };
    let config = FitConfig {
        n_components: args.components,
        covariance_type: args.covariance,
        init,
        n_init: args.n_init,
        max_iter: args.max_iter,
        tol: args.tol,
        reg_covar: args.reg_covar,
        seed: args.seed,
        ..FitConfig::default()
    };
    config
        .validate(n_samples, n_features)
        .map_err(|e| name_init_file(e, &args))?;
    let warm = args.warm_start.as_deref().map(load_model).transpose()?;
    if let (Some(w), Some(path)) = (&warm, &args.warm_start) {
        check_warm_start(w, path, n_features, &config)?;
    }
    let quiet = args.quiet;
    let mut notice = |s: &str| {
        if !quiet {
            eprintln!("note: {s}")
        }
    };
    let mut progress = Progress::new(args.quiet, args.max_iter);
    let started = Instant::now();
    let mut report = |e: &gaussmix::IterationEvent| progress.update(e);
    let mut options = FitOptions::new()
        .device(args.device)
        .full_path(args.full_path)
        .notice(&mut notice)
        .progress(&mut report);
    if let Some(w) = &warm {
        options = options.warm_start(w);
    }
    let result = fit(&samples, &config, options);
    progress.finish();
    let model = result?;
    gaussmix::io::save_model(&args.output, &model)?;
    let f = model.summary();
    println!(
        "fitted {} {} components to {} samples × {} features on {}: {} iterations ({}), lower bound {:.6} (mean log-likelihood per sample), {:.3} s; model written to {}",
        model.n_components(),
        model.covariance_type(),
        n_samples,
        n_features,
        f.device,
        f.n_iter,
        if f.converged { "converged" } else { "not converged: raise --max-iter or --tol" },
        f.lower_bound,
        started.elapsed().as_secs_f64(),
        args.output.display()
    );
    Ok(())
}
