//! `gaussmix interpolate`: fill the gaps of a series from a mixture over its windows, and
//! check the result against linear interpolation on hidden values.

use std::path::PathBuf;

use anyhow::Context;

use gaussmix::forecast::{self, InterpolateConfig};
use gaussmix::output::write_atomic;
use gaussmix::CovarianceType;

/// Arguments of `gaussmix interpolate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The series: text with one value per line, or a CSV with a header (see --column).
    /// Missing values are nan, NA, null or an empty field (or an empty line between values).
    pub series: PathBuf,
    /// The CSV column holding the series.
    #[arg(long)]
    pub column: Option<String>,
    /// Consecutive values per window: the context each gap is filled from.
    #[arg(short, long, default_value_t = 8)]
    pub window: usize,
    /// Mixture components.
    #[arg(short = 'k', long = "components", default_value_t = 4)]
    pub components: usize,
    /// Covariance structure: full, tied, diag or spherical.
    #[arg(long, default_value = "full")]
    pub covariance: CovarianceType,
    /// Probability of the intervals.
    #[arg(long, default_value_t = 0.9, allow_negative_numbers = true)]
    pub level: f64,
    /// EM initialisations.
    #[arg(long, default_value_t = 3)]
    pub n_init: usize,
    /// Seed of the fit and of the values hidden for the check.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The filled series: one row per time step, `index,value,lower,upper,observed`.
    #[arg(short = 'o', long)]
    pub output: PathBuf,
    /// Write the check and the settings as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

/// Runs `gaussmix interpolate`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.series)
        .with_context(|| format!("cannot read the series {}", args.series.display()))?;
    let source = args.series.display().to_string();
    let y = forecast::parse_series_with_gaps(&text, args.column.as_deref(), &source)?;
    gaussmix::output::check_output_path(&args.output)?;
    if let Some(path) = &args.report {
        gaussmix::output::check_output_path(path)?;
    }
    let config = InterpolateConfig {
        window: args.window,
        n_components: args.components,
        covariance_type: args.covariance,
        level: args.level,
        n_init: args.n_init,
        seed: args.seed,
        ..InterpolateConfig::default()
    };
    let filled =
        forecast::interpolate(&y, &config).map_err(|e| anyhow::anyhow!("{source}: {e}"))?;
    write_atomic(&args.output, |w| filled.write_csv(w))?;
    let c = filled.check;
    println!(
        "{source}: {} values, {} missing, filled from windows of {} (K = {}, {}) with {:.0}% intervals; wrote {}",
        y.len(),
        filled.n_missing(),
        config.window,
        config.n_components,
        config.covariance_type,
        config.level * 100.0,
        args.output.display()
    );
    if c.n_hidden > 0 {
        println!(
            "check on {} hidden observed values: RMSE {:.4} (mixture) vs {:.4} (linear interpolation); {:.1}% inside the intervals",
            c.n_hidden,
            c.rmse_mixture,
            c.rmse_linear,
            c.coverage * 100.0
        );
    }
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&filled.report_json(&config))?;
        write_atomic(path, |wr| writeln!(wr, "{json}"))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
