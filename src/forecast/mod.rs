//! Time-series forecasting with a Gaussian mixture over sliding windows.
//!
//! The series is cut at `n_train = ⌊n (1 − test_fraction)⌋`. Every window of `W` past and `H`
//! future values that lies inside the training part is a training sample; the mixture over
//! them ([`window::WindowModel`]) forecasts by conditioning on the `W` known values
//! ([`crate::condition`]): the conditional mean is the point forecast and the conditional
//! quantiles give the intervals. Test origins are every `t` from `n_train − 1` on whose `H`
//! future values exist; their past may reach back into the training part (it is known at
//! forecast time), their targets are all in the test part.
//!
//! - Direct forecasts (default): one model over `W + H` values, all `H` steps at once.
//! - Iterated (`iterated = true`): one model over `W + 1` values, applied `H` times feeding
//!   the point forecast back; the intervals come from simulated paths that feed back draws.
//!
//! Non-stationary series can be differenced or taken relative to the last known value
//! ([`window::Transform`]). What is not fixed — the transform under `auto`, K among
//! `candidate_components`, the covariance type among `candidate_covariances` — is chosen by
//! time-series cross-validation on the training part ([`select`]), whose folds also calibrate
//! the intervals (conformal, per horizon step, [`calibrate`]); by default the calibration then
//! goes on online, each test forecast's interval also calibrated on the errors of the earlier
//! test forecasts whose true values are known at its origin.
//!
//! Baselines on the same split: persistence (the last value) and a direct linear AR model of
//! the same window fitted by least squares ([`baseline`]).

pub mod baseline;
pub mod calibrate;
pub mod interpolate;
#[cfg(feature = "cli")]
pub mod plot;
pub mod select;
pub mod series;
pub mod window;

use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::config::FitConfig;
use crate::covariance::CovarianceType;
use crate::error::{GmmError, Result};

pub use baseline::LinearAr;
pub use interpolate::{interpolate, InterpolateConfig, Interpolation};
pub use select::{Candidate, Validation};
pub use series::{parse_series, parse_series_with_gaps, Builtin};
pub use window::{Transform, WindowModel};

/// The numbers of components cross-validation chooses among when K is not given (K = 1 is
/// the linear AR model of the window).
pub const COMPONENT_CANDIDATES: [usize; 4] = [1, 2, 4, 8];

/// The covariance types cross-validation chooses among when none is given.
pub const COVARIANCE_CANDIDATES: [CovarianceType; 2] = [CovarianceType::Full, CovarianceType::Diag];

/// Which transform to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransformChoice {
    /// Chosen by validation on the tail of the training part.
    Auto,
    /// This one.
    Fixed(Transform),
}

impl std::str::FromStr for TransformChoice {
    type Err = GmmError;
    fn from_str(s: &str) -> Result<Self> {
        if s == "auto" {
            Ok(TransformChoice::Auto)
        } else {
            Ok(TransformChoice::Fixed(s.parse()?))
        }
    }
}

/// Settings of a forecast run.
#[derive(Debug, Clone)]
pub struct ForecastConfig {
    /// Past values per window (W ≥ 1).
    pub window: usize,
    /// Future values per window (H ≥ 1).
    pub horizon: usize,
    /// Mixture components.
    pub n_components: usize,
    /// Covariance structure.
    pub covariance_type: CovarianceType,
    /// Fraction of the series (at its end) held out for testing, in (0, 1).
    pub test_fraction: f64,
    /// Fraction of the training part (at its end) that the cross-validation folds forecast;
    /// raised on short series towards [`select::MIN_VALIDATION_VALUES`] values, at most half.
    pub validation_fraction: f64,
    /// Cross-validation folds (consecutive blocks of the validation fraction).
    pub n_folds: usize,
    /// Numbers of components to choose among by cross-validation; empty: `n_components`.
    pub candidate_components: Vec<usize>,
    /// Covariance types to choose among by cross-validation; empty: `covariance_type`.
    pub candidate_covariances: Vec<CovarianceType>,
    /// Calibrate the intervals on the cross-validation folds (split-conformal, per step).
    pub calibrate: bool,
    /// Recency weighting of the calibration: the weight of a fold score halves every this
    /// many folds' worth of scores back from the newest; `None`: all weigh the same.
    pub calibration_half_life_folds: Option<f64>,
    /// Go on calibrating online through the test part: each test forecast's interval is also
    /// calibrated on the errors of the earlier test forecasts whose true values are known at
    /// its origin ([`calibrate::online_factors`]), as a forecaster running on the series
    /// would. `false`: the folds' calibration alone, the same for every origin.
    pub online_calibration: bool,
    /// The step γ of the online calibration's adaptive level (adaptive conformal inference):
    /// each test forecast scored moves the miss rate aimed at by γ (1 − level − miss); 0 keeps
    /// the level fixed.
    pub calibration_step: f64,
    /// The seasonal period (≥ 2), if known; `None`: detected from the training part's
    /// autocorrelation ([`baseline::detect_period`]), if it has one. With a period, `auto`
    /// also tries seasonal differencing and the seasonal-naive baseline is reported.
    pub period: Option<usize>,
    /// The transform.
    pub transform: TransformChoice,
    /// Iterated one-step forecasts instead of direct H-step ones.
    pub iterated: bool,
    /// Probability of the central forecast intervals, e.g. 0.9.
    pub level: f64,
    /// Simulated paths per origin for the intervals of iterated forecasts.
    pub n_paths: usize,
    /// Seed of the fit and of the simulated paths.
    pub seed: u64,
    /// EM initialisations.
    pub n_init: usize,
    /// Ridge on the (standardised) feature covariances.
    pub reg_covar: f64,
}

impl Default for ForecastConfig {
    fn default() -> Self {
        ForecastConfig {
            window: 10,
            horizon: 1,
            n_components: 4,
            covariance_type: CovarianceType::Full,
            test_fraction: 0.2,
            validation_fraction: 0.3,
            n_folds: 3,
            candidate_components: Vec::new(),
            candidate_covariances: Vec::new(),
            calibrate: true,
            calibration_half_life_folds: Some(0.5),
            online_calibration: true,
            calibration_step: 0.02,
            period: None,
            transform: TransformChoice::Auto,
            iterated: false,
            level: 0.9,
            n_paths: 200,
            seed: 0,
            n_init: 3,
            reg_covar: 1e-4,
        }
    }
}

impl ForecastConfig {
    /// The recency half-life of the interval calibration, in fold scores: one fold's worth
    /// (the scores of the last fold weigh about half of all), or none (∞) without it.
    fn calibration_half_life(&self, folds: &select::FoldForecasts) -> f64 {
        match self.calibration_half_life_folds {
            Some(f) if f > 0.0 => {
                let per_fold = folds.truth.iter().map(|t| t.nrows()).sum::<usize>() as f64
                    / folds.truth.len().max(1) as f64;
                f * per_fold.max(1.0)
            }
            _ => f64::INFINITY,
        }
    }

    /// These settings with K chosen by cross-validation among [`COMPONENT_CANDIDATES`].
    pub fn choose_components(mut self) -> Self {
        self.candidate_components = COMPONENT_CANDIDATES.to_vec();
        self
    }

    /// These settings with the covariance type chosen among [`COVARIANCE_CANDIDATES`].
    pub fn choose_covariance(mut self) -> Self {
        self.candidate_covariances = COVARIANCE_CANDIDATES.to_vec();
        self
    }

    /// The mixture's settings. One component cannot collapse onto a few windows, so it gets
    /// only a token ridge (at most 1e-10): `reg_covar` would bias its linear AR coefficients on
    /// the nearly collinear windows of a trending series (7 % on US GDP), and K = 1 is meant to
    /// be the least-squares AR model of the window.
    fn fit_config(&self) -> FitConfig {
        let reg_covar = if self.n_components == 1 {
            self.reg_covar.min(1e-10)
        } else {
            self.reg_covar
        };
        FitConfig::new(self.n_components)
            .covariance_type(self.covariance_type)
            .seed(self.seed)
            .n_init(self.n_init)
            .reg_covar(reg_covar)
            .max_iter(300)
    }

    /// Checks the settings against a series of `n` values.
    pub fn validate(&self, n: usize) -> Result<()> {
        if self.window == 0 {
            return Err(GmmError::param(
                "window",
                0,
                "use at least 1 past value per window",
            ));
        }
        if self.horizon == 0 {
            return Err(GmmError::param(
                "horizon",
                0,
                "forecast at least 1 step ahead",
            ));
        }
        if self.n_components == 0 || self.candidate_components.contains(&0) {
            return Err(GmmError::param(
                "n_components",
                0,
                "use at least 1 component",
            ));
        }
        if !(self.test_fraction > 0.0 && self.test_fraction < 1.0) {
            return Err(GmmError::param(
                "test_fraction",
                self.test_fraction,
                "use a fraction strictly between 0 and 1 (default 0.2)",
            ));
        }
        if !(self.validation_fraction > 0.0 && self.validation_fraction < 1.0) {
            return Err(GmmError::param(
                "validation_fraction",
                self.validation_fraction,
                "use a fraction strictly between 0 and 1 (default 0.2)",
            ));
        }
        if !(self.level > 0.0 && self.level < 1.0) {
            return Err(GmmError::param(
                "level",
                self.level,
                "use an interval probability strictly between 0 and 1 (default 0.9)",
            ));
        }
        if !(self.calibration_step >= 0.0 && self.calibration_step < 1.0) {
            return Err(GmmError::param(
                "calibration_step",
                self.calibration_step,
                "use a step of at least 0 and below 1 (default 0.02; 0 keeps the level fixed)",
            ));
        }
        if self.iterated && self.n_paths < 2 {
            return Err(GmmError::param(
                "n_paths",
                self.n_paths,
                "iterated intervals need at least 2 simulated paths",
            ));
        }
        if let Some(p) = self.period {
            if p < 2 || p >= n {
                return Err(GmmError::param(
                    "period",
                    p,
                    format!(
                        "a seasonal period must be at least 2 and shorter than the series ({n} values)"
                    ),
                ));
            }
        }
        if self.window + self.horizon > n {
            return Err(GmmError::param(
                "window",
                self.window,
                format!(
                    "a window of {} past + {} future values is longer than the series ({n} values); use a shorter window or horizon",
                    self.window, self.horizon
                ),
            ));
        }
        Ok(())
    }
}

/// RMSE and MAE over every test origin and horizon step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Errors {
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean absolute error.
    pub mae: f64,
}

impl Errors {
    /// Errors of `forecast` against `truth` (same shape), over the true values that are
    /// known (a gap in the series is not scored).
    pub fn of(forecast: &DMatrix<f64>, truth: &DMatrix<f64>) -> Self {
        let diff: Vec<f64> = (forecast - truth)
            .iter()
            .copied()
            .filter(|e| !e.is_nan())
            .collect();
        let n = diff.len().max(1) as f64;
        Errors {
            rmse: (diff.iter().map(|e| e * e).sum::<f64>() / n).sqrt(),
            mae: diff.iter().map(|e| e.abs()).sum::<f64>() / n,
        }
    }

    /// RMSE per horizon step (one per column), over the known true values.
    pub fn rmse_by_horizon(forecast: &DMatrix<f64>, truth: &DMatrix<f64>) -> Vec<f64> {
        (0..truth.ncols())
            .map(|h| {
                let d: Vec<f64> = (forecast.column(h) - truth.column(h))
                    .iter()
                    .copied()
                    .filter(|e| !e.is_nan())
                    .collect();
                (d.iter().map(|e| e * e).sum::<f64>() / d.len().max(1) as f64).sqrt()
            })
            .collect()
    }
}

/// The mixture's forecasts at every test origin, each n_test × H.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MixtureForecasts {
    /// Point forecasts (conditional means).
    pub point: DMatrix<f64>,
    /// Lower ends of the central intervals.
    pub lower: DMatrix<f64>,
    /// Upper ends of the central intervals.
    pub upper: DMatrix<f64>,
}

impl MixtureForecasts {
    fn zeros(n: usize, h: usize) -> Self {
        MixtureForecasts {
            point: DMatrix::zeros(n, h),
            lower: DMatrix::zeros(n, h),
            upper: DMatrix::zeros(n, h),
        }
    }
}

/// Everything a forecast run produced.
#[derive(Debug, Clone)]
pub struct ForecastRun {
    /// The series.
    pub series: Vec<f64>,
    /// Values in the training part.
    pub n_train_points: usize,
    /// Training windows.
    pub n_train_windows: usize,
    /// Test origins: index of the last known value of each forecast.
    pub origins: Vec<usize>,
    /// The transform applied.
    pub transform: Transform,
    /// The configuration applied (chosen by cross-validation where it was not fixed).
    pub chosen: Candidate,
    /// Cross-validated RMSE of every candidate tried (one entry when nothing was chosen).
    pub validation: Validation,
    /// The conformal factor of each horizon step's intervals from the folds alone (1 without
    /// calibration): the factors of the first test origin.
    pub interval_scales: Vec<f64>,
    /// The conformal factor of every test forecast, n_test × H: with online calibration, each
    /// origin's from the folds and the earlier test forecasts scored by then; otherwise
    /// `interval_scales` on every row.
    pub interval_scales_by_origin: DMatrix<f64>,
    /// Test origins whose past lies outside what the model was trained on: its marginal
    /// log-density is below every training window's (a level never seen, say). Their
    /// forecasts extrapolate.
    pub outside_training: Vec<usize>,
    /// True future values, n_test × H.
    pub truth: DMatrix<f64>,
    /// Mixture point forecasts (conditional means), n_test × H.
    pub gmm: DMatrix<f64>,
    /// Lower ends of the central intervals, n_test × H.
    pub lower: DMatrix<f64>,
    /// Upper ends of the central intervals, n_test × H.
    pub upper: DMatrix<f64>,
    /// Persistence forecasts, n_test × H.
    pub persistence: DMatrix<f64>,
    /// Linear AR forecasts, n_test × H.
    pub ar: DMatrix<f64>,
    /// The seasonal period used (given or detected), if any, and whether it was detected.
    pub period: Option<(usize, bool)>,
    /// Seasonal-naive forecasts (the value one period earlier), n_test × H, with a period.
    pub seasonal_naive: Option<DMatrix<f64>>,
    /// The settings.
    pub config: ForecastConfig,
}

impl ForecastRun {
    /// Number of test origins.
    pub fn n_test(&self) -> usize {
        self.origins.len()
    }

    /// Fraction of the known true values inside the mixture's intervals.
    pub fn interval_coverage(&self) -> f64 {
        let known = self.truth.iter().filter(|t| !t.is_nan()).count();
        let inside = self
            .truth
            .iter()
            .zip(self.lower.iter().zip(self.upper.iter()))
            .filter(|(t, (l, u))| *l <= *t && *t <= *u)
            .count();
        inside as f64 / known.max(1) as f64
    }

    /// Fraction of true values inside the intervals, per horizon step.
    pub fn interval_coverage_by_horizon(&self) -> Vec<f64> {
        (0..self.truth.ncols())
            .map(|h| {
                let n = self.truth.column(h).iter().filter(|t| !t.is_nan()).count();
                let inside = (0..self.truth.nrows())
                    .filter(|&i| {
                        self.lower[(i, h)] <= self.truth[(i, h)]
                            && self.truth[(i, h)] <= self.upper[(i, h)]
                    })
                    .count();
                inside as f64 / n.max(1) as f64
            })
            .collect()
    }

    /// The report as JSON: errors of every method, the split and what was applied.
    pub fn report_json(&self) -> serde_json::Value {
        let method = |m: &DMatrix<f64>| {
            let e = Errors::of(m, &self.truth);
            serde_json::json!({
                "rmse": e.rmse,
                "mae": e.mae,
                "rmse_by_horizon": Errors::rmse_by_horizon(m, &self.truth),
            })
        };
        let validation: Vec<serde_json::Value> = self
            .validation
            .iter()
            .map(|(c, r)| {
                let mut v = serde_json::json!({
                    "transform": c.transform.as_str(),
                    "n_components": c.n_components,
                    "covariance_type": c.covariance_type.as_str(),
                });
                match r {
                    Ok(rmse) => v["rmse"] = serde_json::json!(rmse),
                    Err(e) => v["error"] = serde_json::json!(e),
                }
                v
            })
            .collect();
        serde_json::json!({
            "gmm": method(&self.gmm),
            "persistence": method(&self.persistence),
            "ar": method(&self.ar),
            "seasonal_naive": self.seasonal_naive.as_ref().map(method),
            "period": self.period.map(|(p, _)| p),
            "period_detected": self.period.is_some_and(|(_, d)| d),
            "window": self.config.window,
            "horizon": self.config.horizon,
            "n_components": self.chosen.n_components,
            "covariance_type": self.chosen.covariance_type.as_str(),
            "iterated": self.config.iterated,
            "n_train": self.n_train_windows,
            "n_test": self.n_test(),
            "n_train_points": self.n_train_points,
            "series_length": self.series.len(),
            "test_fraction": self.config.test_fraction,
            "transform": self.transform.as_str(),
            "transform_requested": match self.config.transform {
                TransformChoice::Auto => "auto",
                TransformChoice::Fixed(t) => t.as_str(),
            },
            "validation_fraction": select::validation_share(self.n_train_points, &self.config),
            "n_folds": self.config.n_folds,
            "cross_validation": validation,
            "interval_level": self.config.level,
            "interval_coverage": self.interval_coverage(),
            "interval_coverage_by_horizon": self.interval_coverage_by_horizon(),
            "interval_calibrated": self.config.calibrate,
            "calibration_half_life_folds": self.config.calibration_half_life_folds,
            "interval_scales": self.interval_scales,
            "online_calibration": self.config.calibrate && self.config.online_calibration,
            "interval_scales_by_origin": self.interval_scales_by_origin.row_iter().map(|r| r.iter().copied().collect::<Vec<f64>>()).collect::<Vec<_>>(),
            "inputs_outside_training": {
                "count": self.outside_training.len(),
                "fraction": self.outside_training.len() as f64 / self.n_test().max(1) as f64,
                "origins": self.outside_training,
            },
            "seed": self.config.seed,
        })
    }

    /// The forecasts as CSV: one line per test origin and horizon step.
    pub fn write_csv(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(
            w,
            "origin,target_index,horizon,truth,gmm,gmm_lower,gmm_upper,persistence,ar"
        )?;
        for (i, &t) in self.origins.iter().enumerate() {
            for h in 0..self.config.horizon {
                writeln!(
                    w,
                    "{t},{},{},{},{},{},{},{},{}",
                    t + 1 + h,
                    h + 1,
                    self.truth[(i, h)],
                    self.gmm[(i, h)],
                    self.lower[(i, h)],
                    self.upper[(i, h)],
                    self.persistence[(i, h)],
                    self.ar[(i, h)],
                )?;
            }
        }
        Ok(())
    }
}

/// Mixture forecasts (point, lower, upper) at `origins` of `y` with a fitted direct model.
fn direct_forecasts(
    model: &WindowModel,
    y: &[f64],
    origins: &[usize],
    level: f64,
) -> Result<MixtureForecasts> {
    let w = model.window;
    let mut f = MixtureForecasts::zeros(origins.len(), model.horizon);
    for (i, &t) in origins.iter().enumerate() {
        let cond = model.forecast(&y[t + 1 - w..=t])?;
        let (lo, hi) = cond.interval(level)?;
        f.point.row_mut(i).copy_from(&cond.mean().transpose());
        f.lower.row_mut(i).copy_from(&lo.transpose());
        f.upper.row_mut(i).copy_from(&hi.transpose());
    }
    Ok(f)
}

/// Iterated one-step forecasts with a model of horizon 1: the point forecast feeds back the
/// conditional mean; the intervals are empirical quantiles of `n_paths` simulated paths that
/// feed back draws.
fn iterated_forecasts(
    model: &WindowModel,
    y: &[f64],
    origins: &[usize],
    horizon: usize,
    config: &ForecastConfig,
) -> Result<MixtureForecasts> {
    let w = model.window;
    let mut f = MixtureForecasts::zeros(origins.len(), horizon);
    for (i, &t) in origins.iter().enumerate() {
        let mut past: Vec<f64> = y[t + 1 - w..=t].to_vec();
        for h in 0..horizon {
            let next = model.forecast(&past[past.len() - w..])?.mean()[0];
            f.point[(i, h)] = next;
            past.push(next);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_stream(t as u64);
        let mut paths = vec![Vec::with_capacity(config.n_paths); horizon];
        for _ in 0..config.n_paths {
            let mut past: Vec<f64> = y[t + 1 - w..=t].to_vec();
            for path in paths.iter_mut() {
                let next = model
                    .forecast(&past[past.len() - w..])?
                    .sample(1, &mut rng)?[(0, 0)];
                path.push(next);
                past.push(next);
            }
        }
        for (h, mut path) in paths.into_iter().enumerate() {
            path.sort_by(f64::total_cmp);
            f.lower[(i, h)] = empirical_quantile(&path, 0.5 * (1.0 - config.level));
            f.upper[(i, h)] = empirical_quantile(&path, 0.5 * (1.0 + config.level));
        }
    }
    Ok(f)
}

/// Linear-interpolated quantile of sorted values.
fn empirical_quantile(sorted: &[f64], p: f64) -> f64 {
    let pos = p * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (pos - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Test origins of a series of `n` values split at `n_train`.
fn test_origins(n: usize, n_train: usize, horizon: usize) -> Vec<usize> {
    (n_train.saturating_sub(1)..n.saturating_sub(horizon)).collect()
}

/// Fits on `y[..n_train]` with `transform` and forecasts every test origin of `y`.
fn fit_and_forecast(
    y: &[f64],
    n_train: usize,
    transform: Transform,
    config: &ForecastConfig,
) -> Result<(WindowModel, Vec<usize>, MixtureForecasts)> {
    let origins = test_origins(y.len(), n_train, config.horizon);
    if origins.is_empty() {
        return Err(GmmError::InvalidData(format!(
            "the test part ({} values) is shorter than the horizon ({}); use a larger test fraction or a shorter horizon",
            y.len() - n_train,
            config.horizon
        )));
    }
    let train = &y[..n_train];
    let fit = config.fit_config();
    let (model, forecasts) = if config.iterated {
        let model = WindowModel::fit(train, transform, config.window, 1, &fit)?;
        let f = iterated_forecasts(&model, y, &origins, config.horizon, config)?;
        (model, f)
    } else {
        let model = WindowModel::fit(train, transform, config.window, config.horizon, &fit)?;
        let f = direct_forecasts(&model, y, &origins, config.level)?;
        (model, f)
    };
    Ok((model, origins, forecasts))
}

fn truth_at(y: &[f64], origins: &[usize], horizon: usize) -> DMatrix<f64> {
    DMatrix::from_fn(origins.len(), horizon, |i, h| y[origins[i] + 1 + h])
}

/// Splits `y`, fits, forecasts the test part and evaluates the mixture and both baselines.
pub fn run(y: &[f64], config: &ForecastConfig) -> Result<ForecastRun> {
    config.validate(y.len())?;
    if y.iter().any(|v| v.is_infinite()) {
        return Err(GmmError::InvalidData(
            "the series holds an infinite value; remove it or mark it missing (NaN)".into(),
        ));
    }
    if y.iter().all(|v| v.is_nan()) {
        return Err(baseline::all_missing());
    }
    let gaps = y.iter().any(|v| v.is_nan());
    let n = y.len();
    let n_train = ((n as f64) * (1.0 - config.test_fraction)).floor() as usize;
    if n_train < config.window + config.horizon {
        return Err(GmmError::param(
            "test_fraction",
            config.test_fraction,
            format!(
                "the training part has {n_train} values, fewer than one window of {} + {}; use a smaller test fraction or a shorter window",
                config.window, config.horizon
            ),
        ));
    }
    let train = &y[..n_train];
    let period = match config.period {
        Some(p) => Some((p, false)),
        // (a series with gaps has no autocorrelation to read a period from here)
        None if gaps => None,
        None => baseline::detect_period(train).map(|p| (p, true)),
    };
    let fixed = match config.transform {
        TransformChoice::Fixed(t @ Transform::Seasonal(_)) if gaps => {
            return Err(GmmError::param(
                "transform",
                t.as_str(),
                "the series has gaps, which seasonal differencing cannot forecast from (its levels do not follow from one known value); use transform none, diff, window-norm or auto, or fill the gaps first (gaussmix interpolate)",
            ))
        }
        TransformChoice::Fixed(Transform::Seasonal(0)) => match period {
            Some((p, _)) => Some(Transform::Seasonal(p)),
            None => {
                return Err(GmmError::param(
                    "transform",
                    "seasonal",
                    "no seasonal period was given or found in the training part; give period=P (--period P)",
                ))
            }
        },
        TransformChoice::Fixed(t) => Some(t),
        TransformChoice::Auto => None,
    };
    let with_period = ForecastConfig {
        period: period.map(|(p, _)| p),
        ..config.clone()
    };
    let (chosen, validation, folds) = select::select(train, &with_period, fixed)?;
    let transform = chosen.transform;
    let applied = ForecastConfig {
        n_components: chosen.n_components,
        covariance_type: chosen.covariance_type,
        ..config.clone()
    };
    let (model, origins, mut forecasts) = fit_and_forecast(y, n_train, transform, &applied)?;
    let truth = truth_at(y, &origins, config.horizon);
    let half_life = config.calibration_half_life(&folds);
    let interval_scales = if config.calibrate {
        calibrate::fold_factors(&folds, config.level, config.horizon, half_life)
    } else {
        vec![1.0; config.horizon]
    };
    let interval_scales_by_origin = if config.calibrate && config.online_calibration {
        calibrate::online_factors(
            &folds,
            &forecasts,
            &truth,
            &origins,
            config.level,
            half_life,
            config.calibration_step,
        )
    } else {
        DMatrix::from_fn(origins.len(), config.horizon, |_, h| interval_scales[h])
    };
    calibrate::apply(&mut forecasts, &interval_scales_by_origin);
    let mut outside_training = Vec::new();
    for &t in &origins {
        if model
            .past_log_density(&y[t + 1 - config.window..=t])?
            .is_some_and(|d| d < model.min_train_log_density)
        {
            outside_training.push(t);
        }
    }
    let MixtureForecasts {
        point: gmm,
        lower,
        upper,
    } = forecasts;
    let ar_model = LinearAr::fit(train, config.window, config.horizon)?;
    let w = config.window;
    let mut persistence = DMatrix::zeros(origins.len(), config.horizon);
    let mut ar = DMatrix::zeros(origins.len(), config.horizon);
    for (i, &t) in origins.iter().enumerate() {
        // The baselines need every past value: gaps filled from what is known at t.
        let filled = baseline::known_past(y, t, w);
        let past = &filled[..];
        persistence
            .row_mut(i)
            .copy_from(&baseline::persistence(past, config.horizon).transpose());
        ar.row_mut(i)
            .copy_from(&ar_model.forecast(past).transpose());
    }
    let seasonal_naive = period.map(|(p, _)| {
        DMatrix::from_fn(origins.len(), config.horizon, |i, h| {
            baseline::seasonal_naive(y, origins[i], h + 1, p)
        })
    });
    Ok(ForecastRun {
        period,
        seasonal_naive,
        series: y.to_vec(),
        n_train_points: n_train,
        n_train_windows: model.n_windows,
        truth,
        origins,
        transform,
        chosen,
        validation,
        interval_scales,
        interval_scales_by_origin,
        outside_training,
        gmm,
        lower,
        upper,
        persistence,
        ar,
        config: config.clone(),
    })
}
