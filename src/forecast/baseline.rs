//! Reference forecasters on the same windows: persistence (the last known value) and a
//! direct linear autoregression fitted by least squares.

use nalgebra::{DMatrix, DVector};

use crate::error::{GmmError, Result};

/// A direct linear AR model: `y_{t+h} = a_h + Σ_j b_{h,j} y_{t−W+1+j}` for every `h ≤ H`,
/// each horizon its own least-squares fit on the same training windows as the mixture.
#[derive(Debug, Clone)]
pub struct LinearAr {
    /// (1 + W) × H coefficients: intercept first, then the past values oldest first.
    pub coefficients: DMatrix<f64>,
}

impl LinearAr {
    /// Fits on every full window of `train` (origins `W−1 ..= len−1−H`).
    pub fn fit(train: &[f64], window: usize, horizon: usize) -> Result<Self> {
        let origins = super::window::window_origins(window, horizon, train.len());
        let n = origins.len();
        if n < window + 1 {
            return Err(GmmError::InvalidData(format!(
                "only {n} training windows for a linear AR model with {} coefficients; use a shorter window or a smaller test fraction",
                window + 1
            )));
        }
        // The windows without a gap (all of them for a complete series).
        let complete: Vec<usize> = origins
            .clone()
            .filter(|&t| {
                train[t + 1 - window..=t + horizon]
                    .iter()
                    .all(|v| !v.is_nan())
            })
            .collect();
        let n = complete.len();
        if n < window + 1 {
            return Err(GmmError::InvalidData(format!(
                "only {n} training windows without a gap for a linear AR model with {} coefficients; use a shorter window or a smaller test fraction",
                window + 1
            )));
        }
        let a = DMatrix::from_fn(n, window + 1, |i, j| {
            let t = complete[i];
            if j == 0 {
                1.0
            } else {
                train[t + 1 - window + (j - 1)]
            }
        });
        let b = DMatrix::from_fn(n, horizon, |i, h| train[complete[i] + 1 + h]);
        let svd = a.svd(true, true);
        let coefficients = svd.solve(&b, 1e-12).map_err(|e| {
            GmmError::InvalidData(format!("least squares for the AR baseline failed: {e}"))
        })?;
        Ok(LinearAr { coefficients })
    }

    /// Forecasts of the next `H` values from the last `W` values (oldest first).
    pub fn forecast(&self, past: &[f64]) -> DVector<f64> {
        let mut x = DVector::zeros(past.len() + 1);
        x[0] = 1.0;
        for (j, v) in past.iter().enumerate() {
            x[j + 1] = *v;
        }
        self.coefficients.transpose() * x
    }
}

/// Persistence: every future value equals the last known one.
pub fn persistence(past: &[f64], horizon: usize) -> DVector<f64> {
    DVector::from_element(
        horizon,
        *past.last().expect("a window has at least one value"),
    )
}

/// The seasonal-naive forecast of `y[t + h]` from origin `t`: the latest value a whole number
/// of periods `p` earlier that is known at `t` (`y[t + h − p·⌈h/p⌉]`, as [`known_value`]
/// has it).
pub fn seasonal_naive(y: &[f64], t: usize, h: usize, p: usize) -> f64 {
    let back = p * h.div_ceil(p);
    known_value(y, t, t + h - back)
}

/// The seasonal period of `train`, if it has a clear one: among the local maxima of the
/// autocorrelation of the linearly detrended values (lags 2 to n/3, at most 400) above 0.3,
/// the first that reaches 80 % of the highest (so the fundamental, not a multiple of it).
pub fn detect_period(train: &[f64]) -> Option<usize> {
    let n = train.len();
    if n < 8 {
        return None;
    }
    // Detrend by least squares on t.
    let tm = (n - 1) as f64 / 2.0;
    let ym = train.iter().sum::<f64>() / n as f64;
    let (mut sty, mut stt) = (0.0, 0.0);
    for (t, v) in train.iter().enumerate() {
        let dt = t as f64 - tm;
        sty += dt * (v - ym);
        stt += dt * dt;
    }
    let slope = if stt > 0.0 { sty / stt } else { 0.0 };
    let r: Vec<f64> = train
        .iter()
        .enumerate()
        .map(|(t, v)| v - ym - slope * (t as f64 - tm))
        .collect();
    let var: f64 = r.iter().map(|v| v * v).sum();
    if var <= 0.0 {
        return None;
    }
    let max_lag = (n / 3).min(400);
    let acf = |lag: usize| -> f64 { (lag..n).map(|t| r[t] * r[t - lag]).sum::<f64>() / var };
    let values: Vec<f64> = (0..=max_lag + 1)
        .map(|l| if l < n { acf(l) } else { 0.0 })
        .collect();
    let peaks: Vec<usize> = (2..=max_lag)
        .filter(|&l| values[l] > values[l - 1] && values[l] >= values[l + 1] && values[l] > 0.3)
        .collect();
    let best = peaks
        .iter()
        .map(|&l| values[l])
        .fold(f64::NEG_INFINITY, f64::max);
    // The fundamental, not a multiple of it: the first peak nearly as high as the highest.
    peaks.into_iter().find(|&l| values[l] >= 0.8 * best)
}

/// The value of `y[i]` (`i ≤ t`) as known at `t`: observed, or for a gap linearly between
/// the observed values around it, the last observed value when the gap runs to `t`, the
/// first observed after it when the gap starts the series (NaN when nothing up to `t` is
/// observed).
pub fn known_value(y: &[f64], t: usize, i: usize) -> f64 {
    if !y[i].is_nan() {
        return y[i];
    }
    let before = (0..i).rev().find(|&j| !y[j].is_nan());
    let after = (i + 1..=t).find(|&j| !y[j].is_nan());
    match (before, after) {
        (Some(a), Some(b)) => {
            let s = (i - a) as f64 / (b - a) as f64;
            y[a] + s * (y[b] - y[a])
        }
        (Some(a), None) => y[a],
        (None, Some(b)) => y[b],
        (None, None) => f64::NAN,
    }
}

/// The last `w` values of `y` up to `t` as known at `t` ([`known_value`]).
pub fn known_past(y: &[f64], t: usize, w: usize) -> Vec<f64> {
    (t + 1 - w..=t).map(|i| known_value(y, t, i)).collect()
}

/// Linear interpolation of the whole series: every value as known at its end
/// ([`known_value`]).
pub fn linear_interpolation(y: &[f64]) -> Result<Vec<f64>> {
    if y.iter().all(|v| v.is_nan()) {
        return Err(all_missing());
    }
    Ok((0..y.len())
        .map(|i| known_value(y, y.len() - 1, i))
        .collect())
}

/// The error of a series without an observed value.
pub(crate) fn all_missing() -> GmmError {
    GmmError::InvalidData(
        "every value of the series is missing; give a series with observed values".into(),
    )
}
