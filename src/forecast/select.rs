//! Model selection by time-series cross-validation on the training part, and split-conformal
//! calibration of the intervals from the same folds. The test part is never looked at.
//!
//! The last `validation_fraction` of the training part (raised on short series to at least
//! [`MIN_VALIDATION_VALUES`] values, at most half) is cut into `n_folds` consecutive blocks. Fold f fits on every value before block f (an expanding origin) and forecasts
//! every origin whose targets lie in block f. A candidate (transform, K, covariance type) is
//! scored by the RMSE of all its fold forecasts. The choice follows the one-standard-error
//! rule: the fewest components whose error is within one standard error of the best one's,
//! and K = 1 — the linear AR model of the window — is always among the candidates when K is
//! chosen.
//!
//! The winner's fold forecasts also calibrate its intervals ([`super::calibrate`]).

use nalgebra::DMatrix;

use super::{fit_and_forecast, truth_at, Errors, ForecastConfig, MixtureForecasts, Transform};
use crate::covariance::CovarianceType;
use crate::error::{GmmError, Result};

/// One configuration the selection tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// The transform of the windows.
    pub transform: Transform,
    /// Mixture components.
    pub n_components: usize,
    /// Covariance structure.
    pub covariance_type: CovarianceType,
}

impl std::fmt::Display for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}, K = {}, {}",
            self.transform, self.n_components, self.covariance_type
        )
    }
}

/// Every candidate tried, with its cross-validated RMSE or why it could not be fitted.
pub type Validation = Vec<(Candidate, std::result::Result<f64, String>)>;

/// A candidate's forecasts on every fold, with the true values.
#[derive(Debug, Clone, Default)]
pub struct FoldForecasts {
    /// Per fold, the forecasts at its origins.
    pub forecasts: Vec<MixtureForecasts>,
    /// Per fold, the true values, origins × H.
    pub truth: Vec<DMatrix<f64>>,
}

impl FoldForecasts {
    /// Every origin's squared error, averaged over the horizon steps, fold after fold.
    pub fn origin_errors(&self) -> Vec<f64> {
        let mut out = Vec::new();
        for (f, t) in self.forecasts.iter().zip(&self.truth) {
            for i in 0..t.nrows() {
                // Over the known true values (every candidate has the same gaps).
                let d: Vec<f64> = (f.point.row(i) - t.row(i))
                    .iter()
                    .copied()
                    .filter(|e| !e.is_nan())
                    .collect();
                out.push(d.iter().map(|e| e * e).sum::<f64>() / d.len().max(1) as f64);
            }
        }
        out
    }

    /// RMSE over every fold's forecasts.
    pub fn rmse(&self) -> f64 {
        let (mut sum, mut n) = (0.0, 0usize);
        for (f, t) in self.forecasts.iter().zip(&self.truth) {
            let known = t.iter().filter(|v| !v.is_nan()).count();
            let e = Errors::of(&f.point, t).rmse;
            sum += e * e * known as f64;
            n += known;
        }
        (sum / n.max(1) as f64).sqrt()
    }
}

/// Fewest values the folds forecast, where the training part allows it (at most half of it
/// is used): the one-standard-error rule needs that many to tell a mixture from the linear
/// model (on the 100-year Nile, 30 % of the training part is 24 values, and K = 2 won by
/// chance).
pub const MIN_VALIDATION_VALUES: usize = 40;

/// The share of the training part the folds forecast: `validation_fraction`, raised towards
/// [`MIN_VALIDATION_VALUES`] values on short series, but never above one half (nor lowered).
pub fn validation_share(n_train: usize, config: &ForecastConfig) -> f64 {
    let wanted = (MIN_VALIDATION_VALUES as f64 / n_train.max(1) as f64).min(0.5);
    config.validation_fraction.max(wanted)
}

/// The folds of a training part of `n_train` values: `(fit_end, validation_end)` of each, so
/// that fold f fits on `train[..fit_end]` and forecasts the origins whose targets lie in
/// `fit_end..validation_end`. Blocks too short for one origin are merged away.
pub fn fold_bounds(n_train: usize, config: &ForecastConfig) -> Vec<(usize, usize)> {
    let start = ((n_train as f64) * (1.0 - validation_share(n_train, config))).floor() as usize;
    let folds = config.n_folds.max(1);
    let len = n_train - start.min(n_train);
    let mut bounds = Vec::new();
    for f in 0..folds {
        let a = start + len * f / folds;
        let b = start + len * (f + 1) / folds;
        if b >= a + config.horizon {
            bounds.push((a, b));
        }
    }
    bounds
}

/// `candidate`'s forecasts on every fold of `train`.
pub fn cross_validate(
    train: &[f64],
    config: &ForecastConfig,
    candidate: Candidate,
) -> Result<FoldForecasts> {
    let bounds = fold_bounds(train.len(), config);
    if bounds.is_empty() {
        return Err(GmmError::param(
            "validation_fraction",
            config.validation_fraction,
            format!(
                "the last {:.0} % of the training part ({} values) is shorter than the horizon ({}); use a larger validation fraction, a longer series or a shorter horizon",
                100.0 * config.validation_fraction,
                train.len(),
                config.horizon
            ),
        ));
    }
    let c = ForecastConfig {
        n_components: candidate.n_components,
        covariance_type: candidate.covariance_type,
        ..config.clone()
    };
    let mut out = FoldForecasts::default();
    for (fit_end, val_end) in bounds {
        let part = &train[..val_end];
        let (_, origins, f) = fit_and_forecast(part, fit_end, candidate.transform, &c)?;
        out.truth.push(truth_at(part, &origins, config.horizon));
        out.forecasts.push(f);
    }
    Ok(out)
}

/// The candidates: every transform unless one is fixed (seasonal differencing only with a
/// period and without `gaps`), every K of `config.candidate_components` (or
/// `config.n_components`), every covariance type of `config.candidate_covariances` (or
/// `config.covariance_type`).
pub fn candidates(config: &ForecastConfig, fixed: Option<Transform>, gaps: bool) -> Vec<Candidate> {
    let transforms: Vec<Transform> = match fixed {
        Some(t) => vec![t],
        None => {
            let mut all = Transform::ALL.to_vec();
            if let (Some(p), false) = (config.period, gaps) {
                all.push(Transform::Seasonal(p));
            }
            all
        }
    };
    let ks = if config.candidate_components.is_empty() {
        vec![config.n_components]
    } else {
        config.candidate_components.clone()
    };
    let covs = if config.candidate_covariances.is_empty() {
        vec![config.covariance_type]
    } else {
        config.candidate_covariances.clone()
    };
    let mut out = Vec::new();
    for &transform in &transforms {
        for &n_components in &ks {
            for &covariance_type in &covs {
                // With one component, diag and spherical forget every correlation between
                // past and future (the forecast is the mean), and tied is full.
                if n_components == 1 && covs.len() > 1 && covariance_type != CovarianceType::Full {
                    continue;
                }
                out.push(Candidate {
                    transform,
                    n_components,
                    covariance_type,
                });
            }
        }
    }
    out
}

/// Cross-validates every candidate and returns the best, every score, and the best's fold
/// forecasts (for calibration).
pub fn select(
    train: &[f64],
    config: &ForecastConfig,
    fixed: Option<Transform>,
) -> Result<(Candidate, Validation, FoldForecasts)> {
    let mut scores = Vec::new();
    let mut fitted: Vec<(Candidate, f64, FoldForecasts)> = Vec::new();
    let gaps = train.iter().any(|v| v.is_nan());
    for candidate in candidates(config, fixed, gaps) {
        let r = if config.window < candidate.transform.min_window() {
            Err(format!(
                "needs a window of at least {}",
                candidate.transform.min_window()
            ))
        } else {
            cross_validate(train, config, candidate).map_err(|e| e.to_string())
        };
        match r {
            Ok(folds) => {
                let rmse = folds.rmse();
                scores.push((candidate, Ok(rmse)));
                if rmse.is_finite() {
                    fitted.push((candidate, rmse, folds));
                }
            }
            Err(e) => scores.push((candidate, Err(e))),
        }
    }
    match one_standard_error_choice(fitted) {
        Some((c, folds)) => Ok((c, scores, folds)),
        None => Err(GmmError::InvalidData(format!(
            "no configuration could be cross-validated on the training part ({}); use a shorter window or horizon, fewer components, or a longer series",
            scores
                .iter()
                .map(|(c, r)| format!("{c}: {}", r.as_ref().err().cloned().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join("; ")
        ))),
    }
}

/// The one-standard-error rule: the candidate with the fewest components whose mean squared
/// error exceeds the best one's by at most one standard error of the paired per-origin
/// differences (the lowest error among those with that many components). A mixture must
/// beat the simpler models by more than the folds' noise to be chosen, so that on short or
/// nearly linear series the choice falls back to K = 1, the linear AR model.
fn one_standard_error_choice(
    fitted: Vec<(Candidate, f64, FoldForecasts)>,
) -> Option<(Candidate, FoldForecasts)> {
    let best = fitted
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))?
        .2
        .origin_errors();
    let within = |folds: &FoldForecasts| {
        let e = folds.origin_errors();
        if e.len() != best.len() || e.len() < 2 {
            return false;
        }
        let d: Vec<f64> = e.iter().zip(&best).map(|(a, b)| a - b).collect();
        let m = d.len() as f64;
        let mean = d.iter().sum::<f64>() / m;
        let var = d.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (m - 1.0);
        mean <= (var / m).sqrt()
    };
    fitted
        .into_iter()
        .filter(|(_, _, f)| within(f))
        .min_by(|a, b| {
            a.0.n_components
                .cmp(&b.0.n_components)
                .then(a.1.total_cmp(&b.1))
        })
        .map(|(c, _, f)| (c, f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_series_get_at_least_forty_validation_values_and_never_more_than_half() {
        let c = ForecastConfig::default();
        assert_eq!(validation_share(80, &c), 0.5);
        assert_eq!(validation_share(100, &c), 0.4);
        assert_eq!(validation_share(1000, &c), 0.3);
        let wide = ForecastConfig {
            validation_fraction: 0.6,
            ..ForecastConfig::default()
        };
        assert_eq!(
            validation_share(80, &wide),
            0.6,
            "a larger fraction is kept"
        );
        let bounds = fold_bounds(100, &c);
        assert_eq!(bounds.first().unwrap().0, 60);
        assert_eq!(bounds.last().unwrap().1, 100);
    }
}
