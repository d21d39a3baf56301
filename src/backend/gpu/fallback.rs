//! When the GPU's f32 M-step statistics are unusable (overflow, or a covariance that does not
//! factor with `reg_covar`): recomputed in f64 on the CPU from the GPU's responsibilities
//! (data from the host), or repaired with a larger ridge (data in an application's buffer).
//! Every such step is recorded (`Backend::fallbacks`).

use super::{GpuBackend, RIDGE_BASE, RIDGE_STEPS};
use crate::backend::cpu::CpuBackend;
use crate::backend::Backend;
use crate::covariance::CovarianceType;
use crate::error::{GmmError, Result};
use crate::params::NK_EPS;
use crate::stats::{Scatter, SufficientStats};

/// Why f32 statistics cannot be used, or `None` when they factor with `reg_covar`.
fn stats_problem(stats: &SufficientStats, reg_covar: f64) -> Option<Problem> {
    let finite = stats.nk.iter().all(|v| v.is_finite())
        && stats.sum_x.iter().all(|v| v.is_finite())
        && scatter_values(&stats.scatter).all(|v| v.is_finite());
    if !finite {
        return Some(Problem::NonFinite);
    }
    match stats.to_params(reg_covar) {
        Ok(_) => None,
        Err(GmmError::NotPositiveDefinite { component, .. }) => {
            Some(Problem::NotPositiveDefinite(component))
        }
        Err(_) => Some(Problem::NonFinite),
    }
}

/// What went wrong with f32 statistics.
#[derive(Debug, Clone, Copy)]
enum Problem {
    NonFinite,
    NotPositiveDefinite(usize),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::NonFinite => f.write_str("the f32 statistics overflowed (non-finite values)"),
            Problem::NotPositiveDefinite(c) => write!(
                f,
                "the f32 covariance of component {c} is not positive definite"
            ),
        }
    }
}

fn scatter_values(s: &Scatter) -> Box<dyn Iterator<Item = f64> + '_> {
    match s {
        Scatter::Full(m) => Box::new(m.iter().flat_map(|m| m.iter().copied())),
        Scatter::Diag(m) => Box::new(m.iter().copied()),
        Scatter::LowRank(_) => Box::new(std::iter::empty()),
    }
}

/// Adds `extra` to every variance of the covariances the statistics give: `extra · N_k` on
/// the diagonal of each component's scatter (which the M-step divides by `N_k`; for tied
/// covariances the sum over components divides by `Σ N_k`).
fn add_to_variances(stats: &mut SufficientStats, extra: f64) {
    let nk: Vec<f64> = stats.nk.iter().map(|v| v + NK_EPS).collect();
    match &mut stats.scatter {
        Scatter::Full(m) => {
            for (c, m) in m.iter_mut().enumerate() {
                for j in 0..m.nrows() {
                    m[(j, j)] += extra * nk[c];
                }
            }
        }
        Scatter::Diag(m) => {
            for (c, n) in nk.iter().enumerate() {
                m.row_mut(c).add_scalar_mut(extra * n);
            }
        }
        Scatter::LowRank(_) => {}
    }
}

/// Mean variance (diagonal entry of the covariance) the statistics give.
fn mean_variance(stats: &SufficientStats) -> f64 {
    let nk: Vec<f64> = stats.nk.iter().map(|v| v + NK_EPS).collect();
    let diag: Vec<f64> = match &stats.scatter {
        Scatter::Full(m) => m
            .iter()
            .enumerate()
            .flat_map(|(c, m)| m.diagonal().iter().map(|v| v / nk[c]).collect::<Vec<_>>())
            .collect(),
        Scatter::Diag(m) => (0..m.nrows())
            .flat_map(|c| m.row(c).iter().map(|v| v / nk[c]).collect::<Vec<_>>())
            .collect(),
        Scatter::LowRank(_) => Vec::new(),
    };
    if diag.is_empty() {
        0.0
    } else {
        diag.iter().map(|v| v.abs()).sum::<f64>() / diag.len() as f64
    }
}

impl GpuBackend {
    /// The M-step statistics `stats` from the device, replaced by f64 ones from the CPU (or
    /// given a larger ridge) when they are unusable.
    pub(super) fn with_fallback(
        &mut self,
        stats: SufficientStats,
        covariance_type: CovarianceType,
    ) -> Result<SufficientStats> {
        self.m_steps += 1;
        let Some(problem) = stats_problem(&stats, self.reg_covar) else {
            return Ok(stats);
        };
        let step = self.m_steps;
        if let Some(xt) = &self.host {
            // The data are on the host: the same statistics in f64 from the GPU's
            // responsibilities.
            let resp = self.read_responsibilities()?;
            let cpu = self
                .fallback_cpu
                .get_or_insert_with(|| CpuBackend::new(&xt.transpose()));
            cpu.set_responsibilities(&resp)?;
            let stats = cpu.m_step_stats(covariance_type)?;
            self.fallbacks.push(format!(
                "M-step {step}: {problem}; recomputed in f64 on the CPU"
            ));
            return Ok(stats);
        }
        match problem {
            Problem::NonFinite => Err(GmmError::Numerical(format!(
                "M-step {step}: {problem} on the GPU, and the data live only in the application's buffer, so there is no f64 fallback; scale the data in the buffer (values whose squares exceed 3e38 overflow f32), or fit from host data"
            ))),
            Problem::NotPositiveDefinite(_) => {
                let base = RIDGE_BASE * mean_variance(&stats).max(self.reg_covar);
                for j in 0..RIDGE_STEPS {
                    let extra = base * 10f64.powi(j);
                    let mut repaired = stats.clone();
                    add_to_variances(&mut repaired, extra);
                    if stats_problem(&repaired, self.reg_covar).is_none() {
                        self.fallbacks.push(format!(
                            "M-step {step}: {problem}; added {extra:e} to the variances beyond reg_covar"
                        ));
                        return Ok(repaired);
                    }
                }
                // Let the EM loop report the covariance that does not factor.
                Ok(stats)
            }
        }
    }
}
