//! Sliding windows of a series, the transforms applied to them, and the mixture fitted on
//! them, which forecasts by conditioning on the known past.
//!
//! A window at origin `t` (the last known time) covers `W` past values `y[t−W+1..=t]` and
//! `H` future values `y[t+1..=t+H]`. Its features depend on the transform:
//!
//! | transform     | past features (P)                       | future features (H)          | back to levels                  |
//! |---------------|-----------------------------------------|------------------------------|---------------------------------|
//! | `none`        | `(y − c)/s` for the W past values        | `(y_{t+h} − c)/s`            | `c + s·z`                       |
//! | `diff`        | the W−1 differences inside the past      | `(y_{t+h} − y_{t+h−1})/s`    | `y_t + s·Σ_{j≤h} z_j`           |
//! | `window-norm` | `(y_{t−j} − y_t)/s`, j = W−1..1 (W−1)    | `(y_{t+h} − y_t)/s`          | `y_t + s·z`                     |
//! | `seasonal` (period p ≤ W − 1) | the W−p differences `y_j − y_{j−p}` inside the past | `(y_{t+h} − y_{t+h−p})/s` | `y_{t+h−mp} + s·Σ_{k<m} z_{h−kp}` |
//!
//! `c` is the mean and `s` the standard deviation of the training values for `none`; for the
//! relative transforms `s` is the standard deviation of the training differences (at lag p
//! for `seasonal`; so every transform hands EM numbers of order one). All three see the same W past values, so they
//! compare fairly. Back-transforms are affine, so a conditional mixture over features maps
//! exactly to a conditional mixture over future levels.

use std::fmt;
use std::str::FromStr;

use nalgebra::{DMatrix, DVector};

use crate::condition::{ConditionalMixture, PatternConditioner};
use crate::config::FitConfig;
use crate::covariance::Covariances;
use crate::error::{GmmError, Result};
use crate::model::GaussianMixture;
use crate::params::MixtureParams;

/// How windows are turned into features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transform {
    /// Values as they are (standardised by the training mean and deviation).
    None,
    /// First differences.
    Diff,
    /// Values relative to the last known value of the window.
    WindowNorm,
    /// Differences at lag `p` (a season); 0 stands for "the series' period" until it is known.
    Seasonal(usize),
}

impl Transform {
    /// Every transform without a period, in the order `auto` tries them (with a known period
    /// `auto` tries `Seasonal(p)` too).
    pub const ALL: [Transform; 3] = [Transform::None, Transform::Diff, Transform::WindowNorm];

    /// The command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            Transform::None => "none",
            Transform::Diff => "diff",
            Transform::WindowNorm => "window-norm",
            Transform::Seasonal(_) => "seasonal",
        }
    }

    /// Number of past features for a window of `w` values.
    pub fn n_past(self, w: usize) -> usize {
        match self {
            Transform::None => w,
            Transform::Diff | Transform::WindowNorm => w - 1,
            Transform::Seasonal(p) => w.saturating_sub(p),
        }
    }

    /// The smallest window the transform can use.
    pub fn min_window(self) -> usize {
        match self {
            Transform::None => 1,
            Transform::Diff | Transform::WindowNorm => 2,
            Transform::Seasonal(p) => p + 1,
        }
    }
}

impl fmt::Display for Transform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transform::Seasonal(p) if *p > 0 => write!(f, "seasonal({p})"),
            _ => f.write_str(self.as_str()),
        }
    }
}

impl FromStr for Transform {
    type Err = GmmError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Transform::None),
            "diff" => Ok(Transform::Diff),
            "window-norm" | "window_norm" => Ok(Transform::WindowNorm),
            "seasonal" => Ok(Transform::Seasonal(0)),
            other => Err(GmmError::param(
                "transform",
                other,
                "use auto, none, diff, window-norm or seasonal (with the series' period)",
            )),
        }
    }
}

/// A transform with the centre and scale estimated on training values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Encoding {
    /// The transform.
    pub transform: Transform,
    /// Subtracted before scaling (`none` only; 0 otherwise).
    pub centre: f64,
    /// Divides every feature.
    pub scale: f64,
}

/// Mean and standard deviation of the values that are not NaN (gaps).
fn mean_sd(v: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let v = v.filter(|x| !x.is_nan());
    let n = v.clone().count().max(1) as f64;
    let mean = v.clone().sum::<f64>() / n;
    let var = v.map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

impl Encoding {
    /// Estimates centre and scale from the training values.
    pub fn fit(transform: Transform, train: &[f64]) -> Self {
        let (centre, scale) = match transform {
            Transform::None => mean_sd(train.iter().copied()),
            Transform::Diff | Transform::WindowNorm => {
                let (_, sd) = mean_sd(train.windows(2).map(|p| p[1] - p[0]));
                (0.0, sd)
            }
            Transform::Seasonal(p) => {
                let (_, sd) = mean_sd(train.windows(p + 1).map(|w| w[p] - w[0]));
                (0.0, sd)
            }
        };
        Encoding {
            transform,
            centre,
            scale: if scale > 0.0 && scale.is_finite() {
                scale
            } else {
                1.0
            },
        }
    }

    /// Features of the past: `past` holds the W known values, oldest first.
    pub fn past_features(&self, past: &[f64]) -> Vec<f64> {
        let s = self.scale;
        let last = *past.last().expect("a window has at least one value");
        match self.transform {
            Transform::None => past.iter().map(|v| (v - self.centre) / s).collect(),
            Transform::Diff => past.windows(2).map(|p| (p[1] - p[0]) / s).collect(),
            Transform::WindowNorm => past[..past.len() - 1]
                .iter()
                .map(|v| (v - last) / s)
                .collect(),
            Transform::Seasonal(p) => (p..past.len())
                .map(|j| (past[j] - past[j - p]) / s)
                .collect(),
        }
    }

    /// Features of the future values given the known past (oldest first).
    pub fn future_features(&self, past: &[f64], future: &[f64]) -> Vec<f64> {
        let s = self.scale;
        let last = *past.last().expect("a window has at least one value");
        match self.transform {
            Transform::Seasonal(p) => {
                let w = past.len();
                // y_{t+h−p}: in the past for h ≤ p, else an earlier future value.
                let at = |i: isize| -> f64 {
                    if i < 0 {
                        past[(w as isize + i) as usize]
                    } else {
                        future[i as usize]
                    }
                };
                (0..future.len())
                    .map(|h| (future[h] - at(h as isize - p as isize)) / s)
                    .collect()
            }
            Transform::None => future.iter().map(|v| (v - self.centre) / s).collect(),
            Transform::Diff => {
                let mut prev = last;
                future
                    .iter()
                    .map(|&v| {
                        let f = (v - prev) / s;
                        prev = v;
                        f
                    })
                    .collect()
            }
            Transform::WindowNorm => future.iter().map(|v| (v - last) / s).collect(),
        }
    }

    /// The affine map (offset, matrix) from `h` future features to future levels, given the
    /// known past (oldest first).
    pub fn to_levels(&self, past: &[f64], h: usize) -> (DVector<f64>, DMatrix<f64>) {
        let s = self.scale;
        let last = *past.last().expect("a window has at least one value");
        match self.transform {
            Transform::Seasonal(p) => {
                // y_{t+1+i} = s·z_i + y_{t+1+i−p}, unrolled down to a known value.
                let w = past.len() as isize;
                let mut offset = DVector::zeros(h);
                let mut map = DMatrix::zeros(h, h);
                for i in 0..h as isize {
                    let mut j = i;
                    while j >= 0 {
                        map[(i as usize, j as usize)] = s;
                        j -= p as isize;
                    }
                    // j is now in −p..0: the known value y_{t+1+j}.
                    offset[i as usize] = past[(w + j) as usize];
                }
                (offset, map)
            }
            Transform::None => (
                DVector::from_element(h, self.centre),
                DMatrix::identity(h, h) * s,
            ),
            Transform::Diff => (
                DVector::from_element(h, last),
                DMatrix::from_fn(h, h, |i, j| if j <= i { s } else { 0.0 }),
            ),
            Transform::WindowNorm => (DVector::from_element(h, last), DMatrix::identity(h, h) * s),
        }
    }
}

impl Encoding {
    /// For a level-invariant transform (`diff`, `window-norm`), the matrix G of shape
    /// (W + H) × (P + H) with `y_i − y_t = s·(G z)_i` at every position i of a window (its
    /// W past values, then its H future ones; y_t is the last past value): how every level
    /// of the window follows from its features and one known level. `None` for `none` and
    /// `seasonal`, which are not determined by one level.
    pub fn relative_levels(&self, window: usize, horizon: usize) -> Option<DMatrix<f64>> {
        let last = window - 1;
        let p = window - 1;
        let mut g = DMatrix::zeros(window + horizon, p + horizon);
        match self.transform {
            Transform::WindowNorm => {
                for i in 0..last {
                    g[(i, i)] = 1.0;
                }
            }
            Transform::Diff => {
                // z_j = (y_{j+1} − y_j)/s inside the past: y_i − y_t = −s Σ_{j=i}^{W−2} z_j.
                for i in 0..last {
                    for j in i..last {
                        g[(i, j)] = -1.0;
                    }
                }
            }
            Transform::None | Transform::Seasonal(_) => return None,
        }
        for h in 0..horizon {
            match self.transform {
                Transform::WindowNorm => g[(window + h, p + h)] = 1.0,
                _ => {
                    for j in 0..=h {
                        g[(window + h, p + j)] = 1.0;
                    }
                }
            }
        }
        Some(g)
    }
}

/// Component `k`'s covariance as a dense `d × d` matrix.
fn dense_covariance(c: &Covariances, k: usize, d: usize) -> Result<DMatrix<f64>> {
    Ok(match c {
        Covariances::Full(m) => m[k].clone(),
        Covariances::Tied(m) => m.clone(),
        Covariances::Diag(v) => DMatrix::from_diagonal(&v.row(k).transpose()),
        Covariances::Spherical(v) => DMatrix::identity(d, d) * v[k],
        Covariances::LowRank(lr) => lr.to_dense(usize::MAX)?.swap_remove(k),
    })
}

/// Origins `t` (index of the last known value) of every full window inside `y[0..end]`.
pub fn window_origins(window: usize, horizon: usize, end: usize) -> std::ops::Range<usize> {
    let first = window - 1;
    let last_excl = end.saturating_sub(horizon);
    first..last_excl.max(first)
}

/// The feature matrix (one window per row) of the windows at `origins`.
pub fn embed(
    y: &[f64],
    encoding: &Encoding,
    window: usize,
    horizon: usize,
    origins: std::ops::Range<usize>,
) -> DMatrix<f64> {
    let p = encoding.transform.n_past(window);
    let rows: Vec<Vec<f64>> = origins
        .map(|t| {
            let past = &y[t + 1 - window..=t];
            let mut f = encoding.past_features(past);
            f.extend(encoding.future_features(past, &y[t + 1..=t + horizon]));
            f
        })
        .collect();
    DMatrix::from_fn(rows.len(), p + horizon, |i, j| rows[i][j])
}

/// A mixture over windows that forecasts by conditioning on the past.
#[derive(Debug, Clone)]
pub struct WindowModel {
    /// The encoding of windows into features.
    pub encoding: Encoding,
    /// Past values per window.
    pub window: usize,
    /// Future values per window.
    pub horizon: usize,
    /// The fitted mixture over `P + H` features.
    pub model: GaussianMixture,
    /// Number of training windows.
    pub n_windows: usize,
    /// The lowest marginal log-density of a training window's past features: a forecast
    /// input below it lies outside what the model was trained on.
    pub min_train_log_density: f64,
    conditioner: PatternConditioner,
}

impl WindowModel {
    /// Fits on every full window of `train`.
    pub fn fit(
        train: &[f64],
        transform: Transform,
        window: usize,
        horizon: usize,
        config: &FitConfig,
    ) -> Result<Self> {
        if window < transform.min_window() {
            return Err(GmmError::param(
                "window",
                window,
                format!(
                    "the {transform} transform needs a window of at least {} values",
                    transform.min_window()
                ),
            ));
        }
        let encoding = Encoding::fit(transform, train);
        let origins = window_origins(window, horizon, train.len());
        let k = config.n_components;
        let x = embed(train, &encoding, window, horizon, origins);
        // A series with gaps: windows with some values are trained on through the
        // missing-value EM; windows with none are left out.
        let gaps = x.iter().any(|v| v.is_nan());
        let x = if gaps {
            let keep: Vec<usize> = (0..x.nrows())
                .filter(|&r| x.row(r).iter().any(|v| !v.is_nan()))
                .collect();
            x.select_rows(&keep)
        } else {
            x
        };
        let n_windows = x.nrows();
        if n_windows < 2 * k.max(1) {
            return Err(GmmError::InvalidData(format!(
                "only {n_windows} training windows of {window} + {horizon} values{} for {k} components (at least {} needed); use a shorter window or horizon, fewer components, or a smaller test fraction{}",
                if gaps { " with an observed value" } else { "" },
                2 * k.max(1),
                if gaps { ", or fill the gaps" } else { "" }
            )));
        }
        let samples = if gaps {
            crate::samples::Samples::with_missing(&x)?
        } else {
            crate::samples::Samples::new(&x)?
        };
        // The CPU, always: a forecast's figures must not depend on the machine's GPU.
        let model = crate::fit::fit(
            &samples,
            config,
            crate::fit::FitOptions::new().device(crate::device::DeviceChoice::Cpu),
        )?;
        let p = transform.n_past(window);
        let observed: Vec<usize> = (0..p).collect();
        let conditioner = PatternConditioner::new(model.params(), &observed)?;
        // Over the training windows with a complete past (none: nothing is flagged).
        let mut min_train_log_density = f64::INFINITY;
        for r in 0..x.nrows() {
            let past: Vec<f64> = (0..p).map(|j| x[(r, j)]).collect();
            if past.iter().all(|v| !v.is_nan()) {
                min_train_log_density = min_train_log_density.min(conditioner.weights(&past)?.1);
            }
        }
        if min_train_log_density == f64::INFINITY {
            min_train_log_density = f64::NEG_INFINITY;
        }
        Ok(WindowModel {
            encoding,
            window,
            horizon,
            model,
            n_windows,
            min_train_log_density,
            conditioner,
        })
    }

    /// The features of the last `W` values, or the error that there are not `W` of them.
    fn past_features(&self, past: &[f64]) -> Result<Vec<f64>> {
        if past.len() != self.window {
            return Err(GmmError::InvalidData(format!(
                "{} past values given for a window of {}",
                past.len(),
                self.window
            )));
        }
        Ok(self.encoding.past_features(past))
    }

    /// The marginal log-density of the features of the last `W` values under the mixture;
    /// `None` when some are missing (a density over fewer features is not comparable).
    pub fn past_log_density(&self, past: &[f64]) -> Result<Option<f64>> {
        let features = self.past_features(past)?;
        if features.iter().any(|v| v.is_nan()) {
            return Ok(None);
        }
        Ok(Some(self.conditioner.weights(&features)?.1))
    }

    /// The conditional mixture of the next `H` levels given the last `W` values (oldest first).
    pub fn forecast(&self, past: &[f64]) -> Result<ConditionalMixture> {
        let features = self.past_features(past)?;
        let (offset, map) = self.encoding.to_levels(past, self.horizon);
        if features.iter().all(|v| !v.is_nan()) {
            return self.conditioner.condition(&features)?.affine(&offset, &map);
        }
        match self.encoding.transform {
            Transform::None => {}
            Transform::Diff | Transform::WindowNorm => return self.forecast_relative(past),
            Transform::Seasonal(p) => {
                return Err(GmmError::InvalidData(format!(
                    "the past has gaps, which the seasonal({p}) transform cannot encode; use transform none, diff or window-norm, or fill the gaps first (gaussmix interpolate)"
                )))
            }
        }
        // An incomplete past: condition on the values it has. The conditional mixture is then
        // over the missing past features and the H future ones (last); keep the future ones.
        let observed: Vec<usize> = (0..features.len())
            .filter(|&j| !features[j].is_nan())
            .collect();
        let x_o: Vec<f64> = observed.iter().map(|&j| features[j]).collect();
        let cond = PatternConditioner::new(self.model.params(), &observed)?.condition(&x_o)?;
        let m = features.len() - observed.len();
        let mut select = DMatrix::zeros(self.horizon, m + self.horizon);
        select.columns_mut(m, self.horizon).copy_from(&map);
        cond.affine(&offset, &select)
    }

    /// The conditional mixture of the next `H` levels given a past with gaps, under a
    /// level-invariant transform (`diff`, `window-norm`). Its features are not missing values
    /// but unknown: they are relative to levels the past may lack. Exactly: with r the last
    /// known past value, the known differences `(y_j − y_r)/s` and the future `(y_{t+h} −
    /// y_r)/s` are linear in the features (`G_j − G_r`, [`Encoding::relative_levels`]), so
    /// the mixture is mapped to them, conditioned on the known ones, and mapped back to
    /// levels from y_r. With a complete past this is the ordinary forecast.
    fn forecast_relative(&self, past: &[f64]) -> Result<ConditionalMixture> {
        let (w, h) = (self.window, self.horizon);
        let g = self
            .encoding
            .relative_levels(w, h)
            .expect("diff and window-norm are level-invariant");
        let known: Vec<usize> = (0..w).filter(|&j| !past[j].is_nan()).collect();
        let Some((&r, others)) = known.split_last() else {
            return Err(GmmError::InvalidData(format!(
                "none of the {w} past values of a forecast is known; a forecast needs at least one, so use a longer window or fill the gaps first (gaussmix interpolate)"
            )));
        };
        let rows: Vec<usize> = others.iter().copied().chain(w..w + h).collect();
        let map = DMatrix::from_fn(rows.len(), g.ncols(), |i, j| g[(rows[i], j)] - g[(r, j)]);
        let params = self.model.params();
        let d = params.n_features();
        let covariances = (0..params.n_components())
            .map(|k| {
                let mc = &map * dense_covariance(&params.covariances, k, d)? * map.transpose();
                Ok((&mc + mc.transpose()) * 0.5)
            })
            .collect::<Result<Vec<_>>>()?;
        let mapped = MixtureParams::new(
            params.weights.clone(),
            &params.means * map.transpose(),
            Covariances::Full(covariances),
            0.0,
        )?;
        let s = self.encoding.scale;
        let x_o: Vec<f64> = others.iter().map(|&j| (past[j] - past[r]) / s).collect();
        let observed: Vec<usize> = (0..others.len()).collect();
        PatternConditioner::new(&mapped, &observed)?
            .condition(&x_o)?
            .affine(
                &DVector::from_element(h, past[r]),
                &(DMatrix::identity(h, h) * s),
            )
    }
}
