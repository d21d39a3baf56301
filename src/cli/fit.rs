//! `gaussmix fit`: fit a mixture to data and save the model.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::cli::common::{load_model, read_data, read_sample_weight, Progress};
use gaussmix::variational::CovariancePrior;
use gaussmix::{
    fit, CovarianceType, DeviceChoice, FitConfig, FitOptions, FullPath, GmmError, InitMethod,
    Samples, VariationalConfig, WeightPrior,
};
use nalgebra::{DMatrix, DVector};

/// Arguments of `gaussmix fit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Data: .npy (f32/f64, 2-D), .csv/.tsv/.txt (optional header), or a directory of images.
    #[arg(required_unless_present = "shards")]
    pub data: Option<PathBuf>,
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
    /// A variational Bayesian fit (scikit-learn's BayesianGaussianMixture): priors let
    /// superfluous components lose their weight. Its lower bound is scikit-learn's for that
    /// model, a total over the samples, and --tol applies to it.
    #[arg(long)]
    pub bayesian: bool,
    /// The weights' prior: dirichlet-process (stick-breaking, default) or dirichlet.
    #[arg(long, requires = "bayesian", default_value = "dirichlet-process")]
    pub weight_prior: WeightPrior,
    /// The weight concentration prior γ₀ > 0 (default 1/K).
    #[arg(long, requires = "bayesian", allow_negative_numbers = true)]
    pub weight_concentration: Option<f64>,
    /// The precision prior on the means β₀ > 0 (default 1).
    #[arg(long, requires = "bayesian", allow_negative_numbers = true)]
    pub mean_precision_prior: Option<f64>,
    /// The prior mean, D values (.npy or .csv; default the data mean).
    #[arg(long, requires = "bayesian")]
    pub mean_prior: Option<PathBuf>,
    /// The Wishart degrees of freedom ν₀ > D − 1 (default D).
    #[arg(long, requires = "bayesian", allow_negative_numbers = true)]
    pub degrees_of_freedom_prior: Option<f64>,
    /// The covariance prior W₀: a number (that variance on every feature) or a file (.npy or
    /// .csv: D × D for full and tied, D values for diag); default from the data covariance.
    #[arg(long, requires = "bayesian", allow_negative_numbers = true)]
    pub covariance_prior: Option<String>,
    /// Sample weights, one per sample (.npy or .csv; finite, ≥ 0): the fit maximises
    /// Σ w log p(x), so an integer weight counts as that many copies of the row. Runs on the
    /// CPU.
    #[arg(long)]
    pub sample_weight: Option<PathBuf>,
    /// Read the data (.npy, or delimited text) in chunks every EM iteration instead of
    /// loading them (memory O(chunk·D + K·D²), independent of N); the initial means come from
    /// k-means on a seeded sample of max(20 000, 1 000·K) rows (those an in-memory fit
    /// clusters), or from --means-init or --labels-init.
    #[arg(long)]
    pub stream: bool,
    /// Rows per chunk of a streamed fit.
    #[arg(long, default_value_t = 65_536)]
    pub chunk_rows: usize,
    /// Stream a .npy or text file automatically when an in-memory fit would need more than
    /// this many bytes (two f64 copies of the data and the responsibilities; for text, twice
    /// the file's size). Default: half of the machine's memory.
    #[arg(long)]
    pub max_memory: Option<u64>,
    /// Fit over the processes of an MPI job (`mpirun -n P gaussmix fit DATA.npy
    /// --distributed …`): each process reads its own share of the rows (its CPU or GPU
    /// computes their statistics, streamed with --stream), the statistics are all-gathered
    /// and merged in rank order every iteration, so every process holds the same model,
    /// and rank 0 writes it. Needs a build with the `mpi` feature.
    #[arg(long)]
    pub distributed: bool,
    /// Shard files instead of DATA, as a pattern with `*` or `?` in the file name
    /// ('data-*.npy'; any data format), in name order: each process of the MPI job reads
    /// a run of consecutive shards (some may get none). Implies --distributed.
    #[arg(long, value_name = "PATTERN")]
    pub shards: Option<String>,
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

/// Reads D values (a row, a column, or one per line) from a file.
fn read_values(path: &Path) -> anyhow::Result<DVector<f64>> {
    let m = read_data(path)?;
    if m.nrows() != 1 && m.ncols() != 1 {
        anyhow::bail!(
            "{}: expected one row or one column of values, found {} × {}",
            path.display(),
            m.nrows(),
            m.ncols()
        );
    }
    Ok(DVector::from_iterator(m.len(), m.iter().copied()))
}

/// `--covariance-prior`: a number (that variance on every feature, in the covariance type's
/// layout) or a file.
fn covariance_prior(
    arg: &str,
    covariance_type: CovarianceType,
    d: usize,
) -> anyhow::Result<CovariancePrior> {
    if let Ok(v) = arg.parse::<f64>() {
        return Ok(match covariance_type {
            CovarianceType::Full | CovarianceType::Tied => {
                CovariancePrior::Matrix(DMatrix::identity(d, d) * v)
            }
            CovarianceType::Diag => CovariancePrior::Diagonal(DVector::from_element(d, v)),
            CovarianceType::Spherical => CovariancePrior::Scalar(v),
        });
    }
    let path = Path::new(arg);
    if !path.exists() {
        anyhow::bail!(
            "--covariance-prior '{arg}' is neither a number nor an existing file; give a variance or a .npy/.csv file"
        );
    }
    Ok(match covariance_type {
        CovarianceType::Full | CovarianceType::Tied => CovariancePrior::Matrix(read_data(path)?),
        CovarianceType::Diag => CovariancePrior::Diagonal(read_values(path)?),
        CovarianceType::Spherical => {
            let v = read_values(path)?;
            if v.len() != 1 {
                anyhow::bail!(
                    "{}: a spherical covariance prior is one value, found {}",
                    path.display(),
                    v.len()
                );
            }
            CovariancePrior::Scalar(v[0])
        }
    })
}

/// The priors of `--bayesian`, or `None`.
fn variational(args: &Args, d: usize) -> anyhow::Result<Option<VariationalConfig>> {
    if !args.bayesian {
        return Ok(None);
    }
    Ok(Some(VariationalConfig {
        weight_prior: args.weight_prior,
        weight_concentration: args.weight_concentration,
        mean_precision: args.mean_precision_prior,
        mean: args.mean_prior.as_deref().map(read_values).transpose()?,
        degrees_of_freedom: args.degrees_of_freedom_prior,
        covariance: args
            .covariance_prior
            .as_deref()
            .map(|c| covariance_prior(c, args.covariance, d))
            .transpose()?,
    }))
}

/// Half of the machine's memory (`MemTotal` of /proc/meminfo), or 8 GB when unknown.
fn default_max_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?.to_string();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(8_000_000_000, |kib| kib * 1024 / 2)
}

/// Whether to stream: `--stream`, or a file whose in-memory fit would exceed `--max-memory`
/// (then a note says so). A `.npy` file is read in chunks of rows; a CSV/TSV/text file line
/// by line.
pub(crate) fn should_stream(
    args: &Args,
    data: &Path,
    quiet: bool,
) -> anyhow::Result<Option<Box<dyn gaussmix::RowSource>>> {
    use gaussmix::RowSource;
    let ext = data
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let is_npy = ext == "npy";
    let is_text = matches!(ext.as_str(), "csv" | "tsv" | "txt" | "dat") && data.is_file();
    if args.stream && !is_npy && !is_text {
        anyhow::bail!(
            "{}: a streamed fit reads .npy or delimited text (.csv, .tsv, .txt) files; convert the data or fit in memory without --stream",
            data.display()
        );
    }
    if args.stream {
        return Ok(Some(open_rows(data, is_npy)?));
    }
    let budget = args.max_memory.unwrap_or_else(default_max_memory);
    let (need, npy) = if is_npy {
        // Without --stream, a file the chunked reader cannot take (an integer array, a
        // damaged header) is read in memory, whose reader words its own errors.
        let Ok(rows) = gaussmix::io::NpyRows::open(data) else {
            return Ok(None);
        };
        let (n, d) = (rows.n_rows() as u64, rows.n_features() as u64);
        (n * d * 8 * 2 + n * args.components as u64 * 8, Some(rows))
    } else if is_text {
        // About one f64 per few characters of text, twice: a rough but safe estimate.
        let size = std::fs::metadata(data).map(|m| m.len()).unwrap_or(0);
        (size * 2, None)
    } else {
        return Ok(None);
    };
    if need <= budget {
        return Ok(None);
    }
    if !quiet {
        eprintln!(
            "note: an in-memory fit of {} would need about {:.1} GB, more than --max-memory {:.1} GB: streaming it in chunks of {} rows",
            data.display(),
            need as f64 / 1e9,
            budget as f64 / 1e9,
            args.chunk_rows
        );
    }
    // The .npy reader is open already; a text file is counted only now.
    Ok(Some(match npy {
        Some(rows) => Box::new(rows),
        None => open_rows(data, false)?,
    }))
}

/// The chunked reader of a `.npy` file or of a delimited text file.
pub(crate) fn open_rows(path: &Path, is_npy: bool) -> anyhow::Result<Box<dyn gaussmix::RowSource>> {
    Ok(if is_npy {
        Box::new(gaussmix::io::NpyRows::open(path)?)
    } else {
        Box::new(gaussmix::io::CsvRows::open(path)?)
    })
}

/// Runs `gaussmix fit`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.distributed || args.shards.is_some() {
        return crate::cli::distributed::run(args);
    }
    let data = args
        .data
        .clone()
        .expect("clap requires DATA without --shards");
    gaussmix::io::check_model_output(&args.output)?;
    let (samples, n_samples) = match should_stream(&args, &data, args.quiet)? {
        Some(rows) => {
            use gaussmix::RowSource;
            let n = rows.n_rows();
            (Samples::streamed(rows, args.chunk_rows)?, n)
        }
        None => {
            // A fit large enough for `auto` to look for a GPU looks while the data are read.
            let _probe = early_probe(&args, &data);
            // One sample per column: a C-order .npy file is that layout already, and the CPU
            // engine uses it in place (no transposed copies of the data).
            let xt = gaussmix::io::read_matrix_columns(&data, gaussmix::io::Missing::Reject)?;
            let n = xt.ncols();
            let samples = Samples::from_columns(xt)
                .map_err(|e| anyhow::anyhow!("{}: {e}", data.display()))?;
            (samples, n)
        }
    };
    let samples = match &args.sample_weight {
        Some(p) => samples.weighted(&read_sample_weight(p, n_samples)?)?,
        None => samples,
    };
    fit_and_save(&args, &samples, args.quiet, true)
}

/// The GPU probe of `auto`, started now on a background thread when the data are a `.npy`
/// file whose header shows a fit large enough for `auto` to look for a GPU.
fn early_probe(args: &Args, data: &Path) -> Option<gaussmix::device::AutoProbe> {
    use gaussmix::RowSource;
    if args.device != DeviceChoice::Auto || args.full_path == FullPath::LowRank {
        return None;
    }
    let rows = gaussmix::io::NpyRows::open(data).ok()?;
    let (n, d) = (rows.n_rows(), rows.n_features());
    if args.covariance == CovarianceType::Full
        && args.full_path == FullPath::Auto
        && gaussmix::lowrank::is_cheaper(n, d, args.components)
    {
        // The exact low-rank path decides on its own (its Gram matrix is its only GPU work).
        return None;
    }
    let work = gaussmix::Work::Em {
        n,
        d,
        k: args.components,
        quadratic: matches!(args.covariance, CovarianceType::Full | CovarianceType::Tied),
    };
    DeviceChoice::Auto
        .probes(work)
        .then(gaussmix::device::AutoProbe::start)
}

/// The settings of the flags, checked for `n × d` data.
fn fit_config(args: &Args, n_samples: usize, n_features: usize) -> anyhow::Result<FitConfig> {
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
        variational: variational(args, n_features)?,
        ..FitConfig::default()
    };
    config
        .validate(n_samples, n_features)
        .map_err(|e| name_init_file(e, args))?;
    Ok(config)
}

/// The checked settings and the warm-start model of the flags, for `n × d` data.
pub(crate) fn prepare(
    args: &Args,
    n_samples: usize,
    n_features: usize,
) -> anyhow::Result<(FitConfig, Option<gaussmix::GaussianMixture>)> {
    let config = fit_config(args, n_samples, n_features)?;
    let warm = args.warm_start.as_deref().map(load_model).transpose()?;
    if let (Some(w), Some(path)) = (&warm, &args.warm_start) {
        check_warm_start(w, path, n_features, &config)?;
    }
    Ok((config, warm))
}

/// Fits `samples` with the flags' settings; `save` writes the model and prints the summary
/// line (all but rank 0 of a distributed fit only fit).
fn fit_and_save(args: &Args, samples: &Samples<'_>, quiet: bool, save: bool) -> anyhow::Result<()> {
    let prepared = prepare(args, samples.n_samples(), samples.n_features())?;
    fit_prepared(args, samples, prepared, quiet, save)
}

/// [`fit_and_save`] with the settings prepared.
pub(crate) fn fit_prepared(
    args: &Args,
    samples: &Samples<'_>,
    (config, warm): (FitConfig, Option<gaussmix::GaussianMixture>),
    quiet: bool,
    save: bool,
) -> anyhow::Result<()> {
    let (n_samples, n_features) = (samples.n_samples(), samples.n_features());
    let mut notice = |s: &str| {
        if !quiet {
            eprintln!("note: {s}")
        }
    };
    let mut progress = Progress::new(quiet, args.max_iter);
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
    let result = fit(samples, &config, options);
    progress.finish();
    let model = result?;
    if !save {
        return Ok(());
    }
    gaussmix::io::save_model(&args.output, &model)?;
    let f = model.summary();
    let (kind, bound, effective) = match model.variational() {
        Some(v) => (
            format!(
                "a variational Bayesian mixture ({} prior) of ",
                v.priors.weight_prior
            ),
            "scikit-learn's variational bound, a total over the samples",
            format!(
                ", {} effective components (more than 1 % of the weight)",
                v.effective_components()
            ),
        ),
        None => (
            String::new(),
            "mean log-likelihood per sample",
            String::new(),
        ),
    };
    println!(
        "fitted {kind}{} {} components to {} samples × {} features on {}: {} iterations ({}), lower bound {:.6} ({bound}){effective}, {:.3} s; model written to {}",
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
