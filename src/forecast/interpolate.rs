//! Filling the gaps of a series (the "interpolation" of Eirola & Lendasse 2013): a mixture
//! over windows of `window` consecutive values is fitted by the missing-value EM to every
//! window that has an observed value, gaps included, and each missing value becomes its
//! conditional mean given the observed values of the window centred on it, with a central
//! interval from the conditional mixture's quantiles.
//!
//! How good that is, is checked on the series itself: a seeded tenth of the observed values
//! (at least one, never the first or last) is hidden, filled both ways, and the RMSE of the
//! mixture is reported next to that of linear interpolation.

use std::collections::HashMap;

use nalgebra::DMatrix;
use rand::seq::IndexedRandom;
use rand::SeedableRng;

use super::baseline::all_missing;
pub use super::baseline::linear_interpolation;
use crate::condition::PatternConditioner;
use crate::config::FitConfig;
use crate::covariance::CovarianceType;
use crate::error::{GmmError, Result};

/// Settings of [`interpolate`].
#[derive(Debug, Clone)]
pub struct InterpolateConfig {
    /// Consecutive values per window (≥ 2): the context a missing value is filled from.
    pub window: usize,
    /// Mixture components.
    pub n_components: usize,
    /// Covariance structure.
    pub covariance_type: CovarianceType,
    /// Probability of the central intervals.
    pub level: f64,
    /// Fraction of the observed values hidden for the check against linear interpolation.
    pub holdout_fraction: f64,
    /// Seed of the fit and of the hidden values.
    pub seed: u64,
    /// EM initialisations.
    pub n_init: usize,
    /// Ridge on the (standardised) covariances.
    pub reg_covar: f64,
}

impl Default for InterpolateConfig {
    fn default() -> Self {
        InterpolateConfig {
            window: 8,
            n_components: 4,
            covariance_type: CovarianceType::Full,
            level: 0.9,
            holdout_fraction: 0.1,
            seed: 0,
            n_init: 3,
            reg_covar: 1e-4,
        }
    }
}

/// The series with its gaps filled.
#[derive(Debug, Clone, PartialEq)]
pub struct Interpolation {
    /// The values, NaN where missing.
    pub series: Vec<f64>,
    /// The observed values, and the conditional means where missing.
    pub filled: Vec<f64>,
    /// Lower ends of the intervals (the value itself where observed).
    pub lower: Vec<f64>,
    /// Upper ends of the intervals (the value itself where observed).
    pub upper: Vec<f64>,
    /// The check on hidden observed values.
    pub check: HoldoutCheck,
}

/// Observed values hidden, then filled by the mixture and by linear interpolation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HoldoutCheck {
    /// How many values were hidden.
    pub n_hidden: usize,
    /// RMSE of the mixture's fills.
    pub rmse_mixture: f64,
    /// RMSE of linear interpolation.
    pub rmse_linear: f64,
    /// Fraction of hidden values inside the mixture's intervals.
    pub coverage: f64,
}

impl Interpolation {
    /// Number of missing values filled.
    pub fn n_missing(&self) -> usize {
        self.series.iter().filter(|v| v.is_nan()).count()
    }

    /// One row per time step: `index,value,lower,upper,observed`.
    pub fn write_csv(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(w, "index,value,lower,upper,observed")?;
        for i in 0..self.filled.len() {
            writeln!(
                w,
                "{i},{},{},{},{}",
                self.filled[i],
                self.lower[i],
                self.upper[i],
                u8::from(!self.series[i].is_nan())
            )?;
        }
        Ok(())
    }

    /// The report as JSON.
    pub fn report_json(&self, config: &InterpolateConfig) -> serde_json::Value {
        serde_json::json!({
            "series_length": self.series.len(),
            "n_missing": self.n_missing(),
            "window": config.window,
            "n_components": config.n_components,
            "covariance_type": config.covariance_type.as_str(),
            "interval_level": config.level,
            "check": {
                "n_hidden": self.check.n_hidden,
                "rmse_mixture": self.check.rmse_mixture,
                "rmse_linear_interpolation": self.check.rmse_linear,
                "interval_coverage": self.check.coverage,
            },
            "seed": config.seed,
        })
    }
}

/// Fills the gaps of `y` (NaN = missing); see the module documentation.
pub fn interpolate(y: &[f64], config: &InterpolateConfig) -> Result<Interpolation> {
    if y.iter().any(|v| v.is_infinite()) {
        return Err(GmmError::InvalidData(
            "the series holds an infinite value; remove it or mark it missing (nan)".into(),
        ));
    }
    let observed: Vec<usize> = (0..y.len()).filter(|&i| !y[i].is_nan()).collect();
    if observed.is_empty() {
        return Err(all_missing());
    }
    if config.window < 2 {
        return Err(GmmError::param(
            "window",
            config.window,
            "fill from windows of at least 2 values",
        ));
    }
    if config.window > y.len() {
        return Err(GmmError::param(
            "window",
            config.window,
            format!(
                "the window is longer than the series ({} values); use a shorter window",
                y.len()
            ),
        ));
    }
    if !(config.level > 0.0 && config.level < 1.0) {
        return Err(GmmError::param(
            "level",
            config.level,
            "use an interval probability strictly between 0 and 1 (default 0.9)",
        ));
    }
    let (filled, lower, upper) = fill(y, config)?;
    // The check: hide a seeded tenth of the interior observed values and fill them again.
    let interior: Vec<usize> = observed[1..observed.len().saturating_sub(1).max(1)].to_vec();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(config.seed);
    let n_hide = ((interior.len() as f64 * config.holdout_fraction).round() as usize)
        .clamp(usize::from(!interior.is_empty()), interior.len());
    let hidden: Vec<usize> = interior
        .choose_multiple(&mut rng, n_hide)
        .copied()
        .collect();
    let check = if hidden.is_empty() {
        HoldoutCheck {
            n_hidden: 0,
            rmse_mixture: f64::NAN,
            rmse_linear: f64::NAN,
            coverage: f64::NAN,
        }
    } else {
        let mut z = y.to_vec();
        for &i in &hidden {
            z[i] = f64::NAN;
        }
        let (f, lo, hi) = fill(&z, config)?;
        let lin = linear_interpolation(&z)?;
        let rmse = |g: &[f64]| {
            (hidden.iter().map(|&i| (g[i] - y[i]).powi(2)).sum::<f64>() / hidden.len() as f64)
                .sqrt()
        };
        HoldoutCheck {
            n_hidden: hidden.len(),
            rmse_mixture: rmse(&f),
            rmse_linear: rmse(&lin),
            coverage: hidden
                .iter()
                .filter(|&&i| lo[i] <= y[i] && y[i] <= hi[i])
                .count() as f64
                / hidden.len() as f64,
        }
    };
    Ok(Interpolation {
        series: y.to_vec(),
        filled,
        lower,
        upper,
        check,
    })
}

/// The filled series and its intervals.
fn fill(y: &[f64], config: &InterpolateConfig) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let n = y.len();
    let w = config.window;
    // Standardised by the observed values, as the forecasts' `none` transform does.
    let encoding = super::window::Encoding::fit(super::window::Transform::None, y);
    let (mean, sd) = (encoding.centre, encoding.scale);
    let z = encoding.past_features(y);
    // Every window with an observed value is a training sample, gaps and all.
    let starts: Vec<usize> = (0..=n - w)
        .filter(|&t| z[t..t + w].iter().any(|v| !v.is_nan()))
        .collect();
    let k = config.n_components;
    if starts.len() < 2 * k.max(1) {
        return Err(GmmError::InvalidData(format!(
            "only {} windows of {w} values with an observed value, for {k} components (at least {} needed); use a shorter window or fewer components",
            starts.len(),
            2 * k.max(1)
        )));
    }
    let x = DMatrix::from_fn(starts.len(), w, |r, j| z[starts[r] + j]);
    let gaps = x.iter().any(|v| v.is_nan());
    let samples = if gaps {
        crate::samples::Samples::with_missing(&x)?
    } else {
        crate::samples::Samples::new(&x)?
    };
    let fit_config = FitConfig::new(k)
        .covariance_type(config.covariance_type)
        .seed(config.seed)
        .n_init(config.n_init)
        .reg_covar(config.reg_covar)
        .max_iter(300);
    let model = crate::fit::fit(
        &samples,
        &fit_config,
        crate::fit::FitOptions::new().device(crate::device::DeviceChoice::Cpu),
    )?;
    let mut filled = y.to_vec();
    let mut lower = y.to_vec();
    let mut upper = y.to_vec();
    let mut conditioners: HashMap<Vec<usize>, PatternConditioner> = HashMap::new();
    for i in (0..n).filter(|&i| y[i].is_nan()) {
        // The window centred on i (shifted at the ends of the series).
        let t = i.saturating_sub(w / 2).min(n - w);
        let observed: Vec<usize> = (0..w).filter(|&j| !z[t + j].is_nan()).collect();
        if observed.is_empty() {
            let run_end = (i..n).find(|&j| !y[j].is_nan()).unwrap_or(n);
            let run_start = (0..i).rev().find(|&j| !y[j].is_nan()).map_or(0, |j| j + 1);
            return Err(GmmError::param(
                "window",
                w,
                format!(
                    "the gap at values {run_start}..{run_end} has no observed value within a window of {w} around value {i}; use a window longer than the gap (at least {})",
                    2 * (run_end - run_start) + 1
                ),
            ));
        }
        let c = match conditioners.entry(observed.clone()) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(PatternConditioner::new(model.params(), &observed)?)
            }
        };
        let x_o: Vec<f64> = observed.iter().map(|&j| z[t + j]).collect();
        let cond = c.condition(&x_o)?;
        let at = c
            .missing()
            .iter()
            .position(|&j| j == i - t)
            .expect("i is missing in its window");
        let (lo, hi) = cond.interval(config.level)?;
        filled[i] = mean + sd * cond.mean()[at];
        lower[i] = mean + sd * lo[at];
        upper[i] = mean + sd * hi[at];
    }
    Ok((filled, lower, upper))
}
