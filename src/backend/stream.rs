//! The streaming backend: data read from a [`RowSource`] in chunks on every pass, never held
//! whole. Each chunk's statistics come from the CPU backend and merge exactly
//! ([`SufficientStats::merge`]), so one EM iteration is one pass over the source, and memory
//! is O(chunk · D + K · D²) whatever N is.
//!
//! The initialisation is one more pass: every sample goes to its nearest initial mean (from
//! k-means on a seeded sample of rows, or given), or to its given label, and the statistics of
//! those hard labels start EM, as [`crate::InitMethod::Means`] and
//! [`crate::InitMethod::Labels`] do in memory (the labels, one per sample, are the only
//! per-sample state a streamed fit then holds).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use nalgebra::DMatrix;

use crate::backend::cpu::CpuBackend;
use crate::backend::Backend;
use crate::covariance::CovarianceType;
use crate::error::{GmmError, Result};
use crate::init::nearest_labels;
use crate::init::sample::sample_indices;
use crate::params::MixtureParams;
use crate::samples::{RowSource, Stream};
use crate::stats::SufficientStats;

/// The streaming [`Backend`].
pub(crate) struct StreamBackend {
    /// The GPU that computes each chunk's statistics, or none (the CPU, f64).
    #[cfg(feature = "gpu")]
    gpu: Option<crate::gpu::GpuContext>,
    source: Arc<Mutex<dyn RowSource>>,
    name: String,
    n: usize,
    d: usize,
    chunk_rows: usize,
    /// Passes over the source so far, and the seconds they took.
    passes: usize,
    seconds: f64,
    /// The ridge of the fit (the GPU checks its f32 statistics against it).
    reg_covar: f64,
    /// The GPU chunks' M-steps recomputed in f64, one line each.
    fallbacks: Vec<String>,
}

impl StreamBackend {
    pub(crate) fn new(stream: &Stream, n: usize, d: usize) -> Self {
        StreamBackend {
            #[cfg(feature = "gpu")]
            gpu: None,
            source: Arc::clone(&stream.source),
            name: stream.name.clone(),
            n,
            d,
            chunk_rows: stream.chunk_rows,
            passes: 0,
            seconds: 0.0,
            reg_covar: 1e-6,
            fallbacks: Vec::new(),
        }
    }

    /// Computes each chunk's statistics on the GPU of `ctx` (uploaded chunk by chunk, each
    /// pass, with the GPU backend's f64 fallback); the initial assignment stays on the CPU.
    #[cfg(feature = "gpu")]
    pub(crate) fn on_gpu(mut self, ctx: &crate::gpu::GpuContext) -> Self {
        self.gpu = Some(ctx.clone());
        self
    }

    /// One pass: `f` on a CPU backend over every chunk, in order.
    fn pass<T>(&mut self, f: impl FnMut(&mut CpuBackend) -> Result<T>) -> Result<Vec<T>> {
        self.pass_columns(|xt| Ok(CpuBackend::from_columns(xt)), f)
    }

    /// One pass: every chunk read (D × len), made a backend by `make`, and `f` on it.
    fn pass_columns<B, T>(
        &mut self,
        mut make: impl FnMut(Arc<DMatrix<f64>>) -> Result<B>,
        mut f: impl FnMut(&mut B) -> Result<T>,
    ) -> Result<Vec<T>> {
        let started = Instant::now();
        let mut out = Vec::with_capacity(self.n.div_ceil(self.chunk_rows));
        let mut start = 0;
        while start < self.n {
            let len = self.chunk_rows.min(self.n - start);
            let xt = {
                let mut source = self.source.lock().map_err(|_| {
                    GmmError::InvalidData(format!("the reader of {} failed earlier", self.name))
                })?;
                source.read_columns(start, len)?
            };
            if xt.shape() != (self.d, len) {
                return Err(GmmError::InvalidData(format!(
                    "{}: rows {start}..{} came back as {} × {} values, not {} × {len}",
                    self.name,
                    start + len,
                    xt.nrows(),
                    xt.ncols(),
                    self.d
                )));
            }
            let xt = Arc::new(xt);
            let mut chunk = make(Arc::clone(&xt))?;
            out.push(f(&mut chunk)?);
            drop(chunk);
            // The chunk's memory serves the next read (no fresh pages every chunk).
            if let Ok(used) = Arc::try_unwrap(xt) {
                if let Ok(mut source) = self.source.lock() {
                    source.recycle(used);
                }
            }
            start += len;
        }
        self.passes += 1;
        self.seconds += started.elapsed().as_secs_f64();
        Ok(out)
    }

    /// The sum of the chunks' statistics, in chunk order.
    fn merged(parts: Vec<SufficientStats>) -> Result<SufficientStats> {
        let mut parts = parts.into_iter();
        let mut total = parts.next().expect("at least one chunk");
        for p in parts {
            total.merge(&p)?;
        }
        Ok(total)
    }
}

fn needs_memory(what: &str) -> GmmError {
    GmmError::InvalidData(format!(
        "{what} needs one row per sample in memory, which a streamed fit does not keep; initialise from means (k-means on a sample, or given means)"
    ))
}

impl Backend for StreamBackend {
    fn describe(&self) -> String {
        let rows_per_second = (self.passes * self.n) as f64 / self.seconds.max(1e-9);
        #[cfg(feature = "gpu")]
        let engine = match &self.gpu {
            Some(ctx) => ctx.describe(),
            None => format!("cpu (f64, {} threads)", rayon::current_num_threads()),
        };
        #[cfg(not(feature = "gpu"))]
        let engine = format!("cpu (f64, {} threads)", rayon::current_num_threads());
        format!(
            "{engine}, streamed from {} in chunks of {} rows: {} passes, {:.3e} rows/s",
            self.name, self.chunk_rows, self.passes, rows_per_second
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
        Err(needs_memory("setting responsibilities"))
    }

    fn e_step(&mut self, params: &MixtureParams) -> Result<f64> {
        Ok(self.pass(|c| c.e_step(params))?.iter().sum())
    }

    fn m_step_stats(&mut self, _covariance_type: CovarianceType) -> Result<SufficientStats> {
        Err(needs_memory("an M-step from kept responsibilities"))
    }

    fn responsibilities(&self) -> Result<DMatrix<f64>> {
        Err(needs_memory("reading the responsibilities"))
    }

    fn statistics(
        &mut self,
        params: &MixtureParams,
        covariance_type: CovarianceType,
    ) -> Result<SufficientStats> {
        #[cfg(feature = "gpu")]
        if let Some(ctx) = self.gpu.clone() {
            use crate::backend::gpu::GpuBackend;
            let reg_covar = self.reg_covar;
            let mut notes = Vec::new();
            let mut chunk = 0;
            let stats = self.pass_columns(
                |xt| {
                    let mut b = GpuBackend::from_host(&ctx, &xt.transpose())?;
                    b.set_reg_covar(reg_covar);
                    Ok(b)
                },
                |b| {
                    let s = b.statistics(params, covariance_type)?;
                    notes.extend(
                        b.fallbacks()
                            .into_iter()
                            .map(|f| format!("chunk {chunk}: {f}")),
                    );
                    chunk += 1;
                    Ok(s)
                },
            )?;
            self.fallbacks.extend(notes);
            return Self::merged(stats);
        }
        Self::merged(self.pass(|c| c.statistics(params, covariance_type))?)
    }

    fn set_reg_covar(&mut self, reg_covar: f64) {
        self.reg_covar = reg_covar;
    }

    fn fallbacks(&self) -> Vec<String> {
        self.fallbacks.clone()
    }

    fn stats_of_labels(
        &mut self,
        labels: &[usize],
        k: usize,
        covariance_type: CovarianceType,
    ) -> Result<SufficientStats> {
        let mut start = 0;
        Self::merged(self.pass(|c| {
            let n = c.n_samples();
            let stats = c.stats_of_labels(&labels[start..start + n], k, covariance_type);
            start += n;
            stats
        })?)
    }

    fn stats_of_nearest(
        &mut self,
        means: &DMatrix<f64>,
        covariance_type: CovarianceType,
    ) -> Result<SufficientStats> {
        Self::merged(self.pass(|c| {
            let labels = nearest_labels(&c.samples_as_columns(), means);
            c.stats_of_labels(&labels, means.nrows(), covariance_type)
        })?)
    }
}

/// A seeded uniform sample of `size` rows of the stream (all of them when `size ≥ N`), in
/// row order, as columns (D × size): the rows of [`sample_indices`], gathered in one pass, so
/// the same rows an in-memory fit of the same data clusters.
pub(crate) fn sample_rows(
    backend: &mut StreamBackend,
    size: usize,
    rng: &mut impl rand::Rng,
) -> Result<DMatrix<f64>> {
    let idx = sample_indices(backend.n, size, rng);
    let mut sample = DMatrix::<f64>::zeros(backend.d, idx.len().max(1));
    let (mut seen, mut taken) = (0usize, 0usize);
    backend.pass(|c| {
        let xt = c.samples_as_columns();
        while taken < idx.len() && idx[taken] < seen + xt.ncols() {
            sample.set_column(taken, &xt.column(idx[taken] - seen));
            taken += 1;
        }
        seen += xt.ncols();
        Ok(())
    })?;
    Ok(sample)
}
