//! `gaussmix forecast`: fit a mixture on sliding windows of a series and forecast its test
//! part, next to persistence and a linear AR model.

use std::path::{Path, PathBuf};

use anyhow::Context;

use gaussmix::forecast::{self, plot, Builtin, Errors, ForecastConfig, TransformChoice};
use gaussmix::output::write_atomic;
use gaussmix::CovarianceType;

/// Arguments of `gaussmix forecast`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The series: text with one value per line, or a CSV with a header (see --column).
    /// Gaps (nan, NA, null, an empty field) are allowed: windows with gaps train through the
    /// missing-value EM and forecasts condition on the values a past has.
    #[arg(required_unless_present = "builtin", conflicts_with = "builtin")]
    pub series: Option<PathBuf>,
    /// Use an embedded series instead of a file: santafe (laser, 1000 points) or sunspots
    /// (yearly, 309 points); each comes with its own default window, horizon and K.
    #[arg(long)]
    pub builtin: Option<Builtin>,
    /// The CSV column holding the series.
    #[arg(long)]
    pub column: Option<String>,
    /// Past values per window (default: 10, or the built-in series' own).
    #[arg(short, long)]
    pub window: Option<usize>,
    /// Steps ahead to forecast (default: 1, or the built-in series' own).
    #[arg(long)]
    pub horizon: Option<usize>,
    /// Mixture components (default: chosen among 1, 2, 4 and 8 by cross-validation on the
    /// training part, K = 1 being the linear AR model; or the built-in series' own).
    #[arg(short = 'k', long = "components")]
    pub components: Option<usize>,
    /// Covariance structure: full, tied, diag or spherical (default: chosen between full and
    /// diag by cross-validation; or the built-in series' own).
    #[arg(long)]
    pub covariance: Option<CovarianceType>,
    /// Fraction of the series, at its end, held out as the test part.
    #[arg(long, default_value_t = 0.2, allow_negative_numbers = true)]
    pub test_fraction: f64,
    /// auto (chosen by cross-validation on the training part), none, diff or window-norm.
    #[arg(long, default_value = "auto")]
    pub transform: TransformChoice,
    /// Fraction of the training part, at its end, that the cross-validation folds forecast
    /// (each fold fitted on every value before it; the test part is never used); raised on
    /// short series to at least 40 values, at most half.
    #[arg(long, default_value_t = 0.3, allow_negative_numbers = true)]
    pub validation_fraction: f64,
    /// Cross-validation folds.
    #[arg(long, default_value_t = 3)]
    pub n_folds: usize,
    /// The seasonal period (default: detected from the training part's autocorrelation, if
    /// it has a clear one). With a period, seasonal differencing is among the transforms
    /// and the seasonal-naive baseline is reported.
    #[arg(long)]
    pub period: Option<usize>,
    /// The mixture's own intervals, without the split-conformal calibration on the folds.
    #[arg(long)]
    pub no_calibrate: bool,
    /// Recency weighting of the calibration, in folds: a fold score's weight halves every
    /// this many folds' worth of scores back from the newest (0: all weigh the same).
    #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
    pub calibration_half_life: f64,
    /// Calibrate on the folds only, the same for every test origin. By default the
    /// calibration goes on through the test part: each forecast's interval is also calibrated
    /// on the errors of the earlier test forecasts whose true values are known at its origin.
    #[arg(long)]
    pub static_calibration: bool,
    /// Step of the online calibration's adaptive level (adaptive conformal inference): each
    /// test forecast whose true value becomes known moves the miss rate aimed at by
    /// STEP × (1 − level − miss); 0 keeps the level fixed.
    #[arg(long, default_value_t = 0.02, allow_negative_numbers = true)]
    pub calibration_step: f64,
    /// Iterated one-step forecasts instead of direct H-step ones.
    #[arg(long)]
    pub iterated: bool,
    /// Probability of the forecast intervals.
    #[arg(long, default_value_t = 0.9, allow_negative_numbers = true)]
    pub level: f64,
    /// EM initialisations (the best is kept).
    #[arg(long, default_value_t = 3)]
    pub n_init: usize,
    /// Directory for forecast_NAME.csv and forecast_NAME.png (created if missing).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the errors and settings as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Seed of the fit (and of the simulated paths of --iterated).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Defaults (window, horizon, components, covariance) of a built-in series. They were chosen
/// by the validation RMSE on the tail of the training part (never by the test part); the
/// README lists the grid that was tried.
fn preset(builtin: Option<Builtin>) -> (usize, usize, Option<usize>, Option<CovarianceType>) {
    match builtin {
        Some(Builtin::SantaFe) => (12, 5, Some(12), Some(CovarianceType::Full)),
        Some(Builtin::Sunspots) => (9, 3, Some(3), Some(CovarianceType::Tied)),
        None => (10, 1, None, None),
    }
}

/// Checks that `dir` is a directory or can be created as one: it is not an existing file and
/// no path above it is a file.
fn check_out_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        if !dir.is_dir() {
            anyhow::bail!(
                "{}: exists and is not a directory; give a directory for --out",
                dir.display()
            );
        }
        return Ok(());
    }
    if let Some(above) = dir.ancestors().skip(1).find(|a| a.exists()) {
        if !above.is_dir() {
            anyhow::bail!(
                "cannot create the output directory {}: {} is a file, not a directory; give another --out",
                dir.display(),
                above.display()
            );
        }
    }
    Ok(())
}

/// Runs `gaussmix forecast`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let (name, y) = match (&args.series, args.builtin) {
        (_, Some(b)) => (b.name().to_string(), b.series()),
        (Some(path), None) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the series {}", path.display()))?;
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "series".into());
            let source = path.display().to_string();
            (
                name,
                forecast::parse_series_with_gaps(&text, args.column.as_deref(), &source)?,
            )
        }
        (None, None) => anyhow::bail!("give a series file or --builtin santafe|sunspots"),
    };
    // The outputs are checked before the fit, so that an unwritable one fails at once and
    // leaves nothing behind (not even the files of the other output).
    if let Some(dir) = &args.out {
        check_out_dir(dir)?;
    }
    if let Some(path) = &args.report {
        gaussmix::output::check_output_path(path)?;
    }
    let (w, h, k, cov) = preset(args.builtin);
    let mut config = ForecastConfig {
        window: args.window.unwrap_or(w),
        horizon: args.horizon.unwrap_or(h),
        n_components: args.components.or(k).unwrap_or(1),
        covariance_type: args.covariance.or(cov).unwrap_or(CovarianceType::Full),
        test_fraction: args.test_fraction,
        validation_fraction: args.validation_fraction,
        n_folds: args.n_folds,
        calibrate: !args.no_calibrate,
        calibration_half_life_folds: (args.calibration_half_life > 0.0)
            .then_some(args.calibration_half_life),
        online_calibration: !args.static_calibration,
        calibration_step: args.calibration_step,
        period: args.period,
        transform: args.transform,
        iterated: args.iterated,
        level: args.level,
        n_init: args.n_init,
        seed: args.seed,
        ..ForecastConfig::default()
    };
    // What is neither given nor preset is chosen by cross-validation.
    if args.components.or(k).is_none() {
        config = config.choose_components();
    }
    if args.covariance.or(cov).is_none() {
        config = config.choose_covariance();
    }
    let fixed_or = |fixed: bool, v: String| if fixed { v } else { "chosen".to_string() };
    println!(
        "{name}: {} values; window {} + horizon {} ({}), K {}, covariance {}, transform {}, test fraction {}",
        y.len(),
        config.window,
        config.horizon,
        if config.iterated {
            "iterated one-step"
        } else {
            "direct"
        },
        fixed_or(config.candidate_components.is_empty(), format!("= {}", config.n_components)),
        fixed_or(config.candidate_covariances.is_empty(), config.covariance_type.to_string()),
        match config.transform {
            TransformChoice::Auto => "chosen".to_string(),
            TransformChoice::Fixed(t) => t.to_string(),
        },
        config.test_fraction
    );
    let run = forecast::run(&y, &config)?;
    println!(
        "cross-validation: {} folds over the last {:.0}% of the training part",
        config.n_folds,
        forecast::select::validation_share(run.n_train_points, &config) * 100.0
    );
    for (c, r) in &run.validation {
        let c = c.to_string();
        match r {
            Ok(v) => println!("  {c:<32} RMSE {v:.4}"),
            Err(e) => println!("  {c:<32} not usable: {e}"),
        }
    }
    println!("applied: {}", run.chosen);
    match run.period {
        Some((p, true)) => println!("seasonal period {p} (detected in the training part)"),
        Some((p, false)) => println!("seasonal period {p} (as given)"),
        None => println!("no seasonal period (none given, none detected)"),
    }
    println!(
        "{} training windows, {} test forecasts of {} steps",
        run.n_train_windows,
        run.n_test(),
        config.horizon
    );
    println!("{:<12} {:>12} {:>12}", "method", "RMSE", "MAE");
    let mut methods = vec![
        ("gmm", &run.gmm),
        ("persistence", &run.persistence),
        ("linear AR", &run.ar),
    ];
    if let Some(m) = &run.seasonal_naive {
        methods.push(("seasonal", m));
    }
    for (label, m) in methods {
        let e = Errors::of(m, &run.truth);
        println!("{label:<12} {:>12.4} {:>12.4}", e.rmse, e.mae);
    }
    println!(
        "{:.0}% intervals of the mixture{} contain {:.1}% of the test values (by horizon step: {})",
        config.level * 100.0,
        if config.calibrate {
            let scales = |q: &mut dyn Iterator<Item = f64>| {
                q.map(|q| format!("{q:.2}")).collect::<Vec<_>>().join(", ")
            };
            if config.online_calibration {
                let last = run.interval_scales_by_origin.nrows().saturating_sub(1);
                format!(
                    ", calibrated on the folds (scales {}) and online on the test forecasts known by then (scales at the last origin {})",
                    scales(&mut run.interval_scales.iter().copied()),
                    scales(&mut run.interval_scales_by_origin.row(last).iter().copied())
                )
            } else {
                format!(
                    ", calibrated on the folds (scales {})",
                    scales(&mut run.interval_scales.iter().copied())
                )
            }
        } else {
            String::new()
        },
        run.interval_coverage() * 100.0,
        run.interval_coverage_by_horizon()
            .iter()
            .map(|c| format!("{:.1}%", c * 100.0))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !run.outside_training.is_empty() {
        println!(
            "warning: the past of {} of {} test forecasts ({:.0}%, the first at index {}) lies outside the training windows (lower density than any of them): those forecasts extrapolate",
            run.outside_training.len(),
            run.n_test(),
            100.0 * run.outside_training.len() as f64 / run.n_test().max(1) as f64,
            run.outside_training[0]
        );
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the output directory {}", dir.display()))?;
        let csv = dir.join(format!("forecast_{name}.csv"));
        write_atomic(&csv, |wr| run.write_csv(wr))?;
        let png = dir.join(format!("forecast_{name}.png"));
        let title = format!(
            "{name}: {}-step {} forecasts (W={}, K={}, {}, transform {}) with {:.0}% intervals",
            config.horizon,
            if config.iterated {
                "iterated"
            } else {
                "direct"
            },
            config.window,
            run.chosen.n_components,
            run.chosen.covariance_type,
            run.transform,
            config.level * 100.0
        );
        let with_text = match plot::write_png(&png, &run, &title) {
            Ok(v) => v,
            Err(e) => {
                // No half set of outputs: the CSV goes when its plot cannot be written.
                let _ = std::fs::remove_file(&csv);
                return Err(e.into());
            }
        };
        println!("wrote {} and {}", csv.display(), png.display());
        if !with_text {
            println!("note: no usable font was found, so the plot has no text");
        }
    }
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&run.report_json())?;
        write_atomic(path, |wr| writeln!(wr, "{json}"))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
