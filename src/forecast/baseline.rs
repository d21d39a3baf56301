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
        let a = DMatrix::from_fn(n, window + 1, |i, j| {
            let t = origins.start + i;
            if j == 0 {
                1.0
            } else {
                train[t + 1 - window + (j - 1)]
            }
        });
        let b = DMatrix::from_fn(n, horizon, |i, h| train[origins.start + i + 1 + h]);
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
