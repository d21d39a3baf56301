//! The distributed backend: this member's rows (in memory on its CPU or GPU, or streamed from
//! its file) behind a [`Collective`]. Every iteration each member computes the statistics of
//! its own rows, all members all-gather them, and every member merges them in rank order, so
//! every member holds bit-for-bit the same statistics, and so the same model.
//!
//! Each member's statistics are moved to a shift that every member knows (the E-step means,
//! or the initial means) before they are sent, so only `N_k`, `Σ r x`, the upper triangle of
//! each scatter (or its diagonal) and `Σ log p` travel: `3 + K(1 + D + D(D+1)/2)` doubles for
//! full covariances. A member with no rows sends zeros. Any member's failure reaches every
//! member at the same exchange ([`exchange`]).

use std::sync::Arc;
use std::time::Instant;

use nalgebra::{DMatrix, DVector};

use crate::backend::Backend;
use crate::collective::{exchange, Collective};
use crate::covariance::CovarianceType;
use crate::error::{GmmError, Result};
use crate::init::nearest_labels;
use crate::params::MixtureParams;
use crate::stats::{Scatter, SufficientStats};

/// This member's part of the data.
pub(crate) struct LocalPart {
    /// The backend over this member's rows; none when it has no rows.
    pub(crate) backend: Option<Box<dyn Backend>>,
    /// The rows as columns (D × n), when they are in memory: the initial assignment to the
    /// nearest means is made from them for backends that keep responsibilities.
    pub(crate) columns: Option<Arc<DMatrix<f64>>>,
}

/// The distributed [`Backend`]; see the module documentation.
pub(crate) struct DistributedBackend {
    group: Arc<dyn Collective>,
    local: LocalPart,
    /// All members' rows together.
    n: usize,
    d: usize,
    exchanges: usize,
    bytes_sent: usize,
    exchange_seconds: f64,
}

impl DistributedBackend {
    /// This member's part of `n` rows of `d` features over `group`. Every member must have
    /// made its part (agreed through [`crate::collective::exchange_with`]) before the first
    /// exchange of statistics.
    pub(crate) fn new(group: Arc<dyn Collective>, local: LocalPart, n: usize, d: usize) -> Self {
        DistributedBackend {
            group,
            local,
            n,
            d,
            exchanges: 0,
            bytes_sent: 0,
            exchange_seconds: 0.0,
        }
    }

    /// Every member's `local` values in rank order (or the first failure), counted.
    fn gather(&mut self, local: Result<Vec<f64>>) -> Result<Vec<Vec<f64>>> {
        let started = Instant::now();
        self.bytes_sent += local.as_ref().map_or(0, |v| 8 * v.len());
        let all = exchange(self.group.as_ref(), local);
        self.exchanges += 1;
        self.exchange_seconds += started.elapsed().as_secs_f64();
        all
    }

    /// This member's statistics (`compute` on its backend, or zeros without rows) about
    /// `shift`, exchanged and merged in rank order.
    fn merged(
        &mut self,
        shift: &DMatrix<f64>,
        covariance_type: CovarianceType,
        compute: impl FnOnce(&mut dyn Backend, Option<&DMatrix<f64>>) -> Result<SufficientStats>,
    ) -> Result<SufficientStats> {
        let columns = self.local.columns.clone();
        let local = match self.local.backend.as_mut() {
            Some(b) => compute(b.as_mut(), columns.as_deref()),
            None => Ok(zero_stats(shift, covariance_type)),
        }
        .and_then(|mut s| {
            s.reshift(shift)?;
            Ok(encode(&s))
        });
        let parts = self.gather(local)?;
        let mut parts = parts.iter().map(|p| decode(p, shift, covariance_type));
        let mut total = parts.next().expect("a group has at least one member")?;
        for p in parts {
            total.merge(&p?)?;
        }
        Ok(total)
    }
}

/// Statistics of no rows.
fn zero_stats(shift: &DMatrix<f64>, covariance_type: CovarianceType) -> SufficientStats {
    let (k, d) = shift.shape();
    SufficientStats {
        covariance_type,
        n_samples: 0,
        nk: DVector::zeros(k),
        sum_x: DMatrix::zeros(k, d),
        shift: shift.clone(),
        scatter: match covariance_type {
            CovarianceType::Full | CovarianceType::Tied => {
                Scatter::Full(vec![DMatrix::zeros(d, d); k])
            }
            CovarianceType::Diag | CovarianceType::Spherical => Scatter::Diag(DMatrix::zeros(k, d)),
        },
        log_likelihood: Some(0.0),
    }
}

/// `[n, has Σ log p, Σ log p, N_k…, Σ r x (row by row)…, scatter…]`, the scatter as each
/// component's upper triangle (row by row) or the diagonals (K × D, row by row).
fn encode(s: &SufficientStats) -> Vec<f64> {
    let (k, d) = s.sum_x.shape();
    let mut v = Vec::with_capacity(3 + k * (1 + d + d * (d + 1) / 2));
    v.push(s.n_samples as f64);
    v.push(if s.log_likelihood.is_some() { 1.0 } else { 0.0 });
    v.push(s.log_likelihood.unwrap_or(0.0));
    v.extend(s.nk.iter());
    for c in 0..k {
        v.extend(s.sum_x.row(c).iter());
    }
    match &s.scatter {
        Scatter::Full(m) => {
            for s in m {
                for i in 0..d {
                    v.extend((i..d).map(|j| s[(i, j)]));
                }
            }
        }
        Scatter::Diag(m) => {
            for c in 0..k {
                v.extend(m.row(c).iter());
            }
        }
        Scatter::LowRank(_) => unreachable!("low-rank statistics are not distributed"),
    }
    v
}

/// The statistics [`encode`] wrote, about `shift`.
fn decode(
    v: &[f64],
    shift: &DMatrix<f64>,
    covariance_type: CovarianceType,
) -> Result<SufficientStats> {
    let (k, d) = shift.shape();
    let full = matches!(covariance_type, CovarianceType::Full | CovarianceType::Tied);
    let scatter_len = if full { k * d * (d + 1) / 2 } else { k * d };
    if v.len() != 3 + k + k * d + scatter_len {
        return Err(GmmError::InvalidData(format!(
            "a member sent {} values of statistics, not the {} of {k} components × {d} features ({covariance_type}): do all members run the same build and settings?",
            v.len(),
            3 + k + k * d + scatter_len
        )));
    }
    let nk = DVector::from_column_slice(&v[3..3 + k]);
    let sum_x = DMatrix::from_row_slice(k, d, &v[3 + k..3 + k + k * d]);
    let mut rest = &v[3 + k + k * d..];
    let scatter = if full {
        Scatter::Full(
            (0..k)
                .map(|_| {
                    let mut m = DMatrix::<f64>::zeros(d, d);
                    for i in 0..d {
                        for j in i..d {
                            m[(i, j)] = rest[0];
                            m[(j, i)] = rest[0];
                            rest = &rest[1..];
                        }
                    }
                    m
                })
                .collect(),
        )
    } else {
        Scatter::Diag(DMatrix::from_row_slice(k, d, rest))
    };
    Ok(SufficientStats {
        covariance_type,
        n_samples: v[0] as usize,
        nk,
        sum_x,
        shift: shift.clone(),
        scatter,
        log_likelihood: (v[1] != 0.0).then_some(v[2]),
    })
}

fn not_kept(what: &str) -> GmmError {
    GmmError::InvalidData(format!(
        "{what} needs every sample's responsibilities in one place, which a distributed fit does not gather; initialise from means (k-means on a gathered sample, or given means)"
    ))
}

impl Backend for DistributedBackend {
    fn describe(&self) -> String {
        let local = self
            .local
            .backend
            .as_ref()
            .map_or_else(|| "no rows".to_string(), |b| b.describe());
        format!(
            "{local}; distributed ({}): {} exchanges, {:.3e} bytes sent, {:.3} s in exchanges",
            self.group.describe(),
            self.exchanges,
            self.bytes_sent as f64,
            self.exchange_seconds
        )
    }

    fn n_samples(&self) -> usize {
        self.n
    }

    fn n_features(&self) -> usize {
        self.d
    }

    fn keeps_responsibilities(&self) -> bool {
        false
    }

    fn set_responsibilities(&mut self, _resp: &DMatrix<f64>) -> Result<()> {
        Err(not_kept("setting responsibilities"))
    }

    fn e_step(&mut self, params: &MixtureParams) -> Result<f64> {
        let local = match self.local.backend.as_mut() {
            Some(b) => b.e_step(params).map(|ll| vec![ll]),
            None => Ok(vec![0.0]),
        };
        Ok(self.gather(local)?.iter().map(|p| p[0]).sum())
    }

    fn m_step_stats(&mut self, _covariance_type: CovarianceType) -> Result<SufficientStats> {
        Err(not_kept("an M-step from kept responsibilities"))
    }

    fn responsibilities(&self) -> Result<DMatrix<f64>> {
        Err(not_kept("reading the responsibilities"))
    }

    fn statistics(
        &mut self,
        params: &MixtureParams,
        covariance_type: CovarianceType,
    ) -> Result<SufficientStats> {
        let shift = params.means.clone();
        self.merged(&shift, covariance_type, |b, _| {
            b.statistics(params, covariance_type)
        })
    }

    fn stats_of_nearest(
        &mut self,
        means: &DMatrix<f64>,
        covariance_type: CovarianceType,
    ) -> Result<SufficientStats> {
        self.merged(means, covariance_type, |b, columns| match columns {
            Some(xt) if b.keeps_responsibilities() => {
                b.stats_of_labels(&nearest_labels(xt, means), means.nrows(), covariance_type)
            }
            _ => b.stats_of_nearest(means, covariance_type),
        })
    }

    fn set_reg_covar(&mut self, reg_covar: f64) {
        if let Some(b) = self.local.backend.as_mut() {
            b.set_reg_covar(reg_covar);
        }
    }

    fn fallbacks(&self) -> Vec<String> {
        self.local
            .backend
            .as_ref()
            .map_or_else(Vec::new, |b| b.fallbacks())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::CpuBackend;
    use crate::collective::ThreadGroup;

    /// The CPU backend, failing at its `fail_at`-th statistics (an unreadable chunk, say).
    struct FailingAt {
        inner: CpuBackend,
        calls: usize,
        fail_at: usize,
    }

    impl Backend for FailingAt {
        fn describe(&self) -> String {
            "failing".into()
        }
        fn n_samples(&self) -> usize {
            self.inner.n_samples()
        }
        fn n_features(&self) -> usize {
            self.inner.n_features()
        }
        fn set_responsibilities(&mut self, resp: &DMatrix<f64>) -> Result<()> {
            self.inner.set_responsibilities(resp)
        }
        fn e_step(&mut self, params: &MixtureParams) -> Result<f64> {
            self.inner.e_step(params)
        }
        fn m_step_stats(&mut self, t: CovarianceType) -> Result<SufficientStats> {
            self.inner.m_step_stats(t)
        }
        fn responsibilities(&self) -> Result<DMatrix<f64>> {
            self.inner.responsibilities()
        }
        fn statistics(&mut self, p: &MixtureParams, t: CovarianceType) -> Result<SufficientStats> {
            self.calls += 1;
            if self.calls == self.fail_at {
                return Err(GmmError::file("shard-1.npy", "cannot read rows 0..50"));
            }
            self.inner.statistics(p, t)
        }
    }

    #[test]
    fn a_member_failing_mid_fit_stops_every_member_at_the_same_iteration() {
        let x = DMatrix::from_fn(150, 2, |i, j| {
            (i % 3) as f64 * 4.0 + ((i * 7 + j * 5) % 13) as f64 * 0.2
        });
        let means = DMatrix::from_fn(3, 2, |c, _| c as f64);
        let config = crate::FitConfig::new(3)
            .tol(0.0)
            .max_iter(50)
            .init(crate::InitMethod::Means(means))
            .check(150, 2)
            .unwrap();
        let members = ThreadGroup::new(3).unwrap();
        let iterations = std::sync::Mutex::new(vec![0; 3]);
        let errors: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = members
                .into_iter()
                .enumerate()
                .map(|(rank, m)| {
                    let (x, config, iterations) = (&x, &config, &iterations);
                    s.spawn(move || {
                        let rows = x.rows(rank * 50, 50).transpose();
                        let xt = Arc::new(rows);
                        let cpu = CpuBackend::from_columns(Arc::clone(&xt));
                        let backend: Box<dyn Backend> = if rank == 1 {
                            Box::new(FailingAt {
                                inner: cpu,
                                calls: 0,
                                fail_at: 4,
                            })
                        } else {
                            Box::new(cpu)
                        };
                        let local = LocalPart {
                            backend: Some(backend),
                            columns: Some(xt),
                        };
                        let group: Arc<dyn Collective> = Arc::new(m);
                        let mut b = DistributedBackend::new(group, local, 150, 2);
                        let mut progress = |e: &crate::IterationEvent| {
                            iterations.lock().unwrap()[rank] = e.iter;
                            std::ops::ControlFlow::Continue(())
                        };
                        crate::em::fit(&mut b, None, config, None, &mut progress)
                            .unwrap_err()
                            .to_string()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(errors[1], "shard-1.npy: cannot read rows 0..50");
        for e in [&errors[0], &errors[2]] {
            assert_eq!(e, "rank 1 of 3 failed: shard-1.npy: cannot read rows 0..50");
        }
        // three iterations done everywhere, the fourth failed everywhere
        assert_eq!(*iterations.lock().unwrap(), vec![3, 3, 3]);
    }

    #[test]
    fn statistics_travel_exactly() {
        let k = 2;
        let d = 3;
        let shift = DMatrix::from_fn(k, d, |i, j| (i + 2 * j) as f64 * 0.5);
        for covariance_type in [CovarianceType::Full, CovarianceType::Diag] {
            let mut s = zero_stats(&shift, covariance_type);
            s.n_samples = 7;
            s.nk = DVector::from_vec(vec![3.25, 3.75]);
            s.sum_x = DMatrix::from_fn(k, d, |i, j| (i * 10 + j) as f64 / 3.0);
            s.scatter = match covariance_type {
                CovarianceType::Full => Scatter::Full(
                    (0..k)
                        .map(|c| {
                            let a = DMatrix::from_fn(d, d, |i, j| (c + i * d + j) as f64 / 7.0);
                            &a * a.transpose()
                        })
                        .collect(),
                ),
                _ => Scatter::Diag(DMatrix::from_fn(k, d, |i, j| (i + j) as f64 / 9.0)),
            };
            s.log_likelihood = Some(-12.5);
            let v = encode(&s);
            let expected_len = match covariance_type {
                CovarianceType::Full => 3 + k * (1 + d + d * (d + 1) / 2),
                _ => 3 + k * (1 + 2 * d),
            };
            assert_eq!(v.len(), expected_len);
            assert_eq!(decode(&v, &shift, covariance_type).unwrap(), s);
            assert!(decode(&v[1..], &shift, covariance_type)
                .unwrap_err()
                .to_string()
                .contains("same build and settings"));
        }
    }
}
