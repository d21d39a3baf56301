//! The GPU backend: data and responsibilities stay on the device; per iteration only the
//! parameters go up (means, precision Cholesky factors, log-constants: K·D·D floats at most)
//! and only the per-group partial statistics come back, added on the host in f64.
//!
//! Data larger than one storage binding (`max_storage_buffer_binding_size`) is processed in
//! chunks of rows: every kernel is dispatched once per chunk on a bound sub-range. Chunks start
//! at multiples of 64 rows, so their byte offsets (64·D·4 = 256·D) meet any storage-offset
//! alignment WebGPU allows.

use std::num::NonZeroU64;
use std::sync::Arc;

use nalgebra::{DMatrix, DVector};

use crate::backend::cpu::CpuBackend;
use crate::backend::Backend;
use crate::covariance::{CovarianceType, Covariances};
use crate::error::{GmmError, Result};
use crate::gpu::context::GpuContext;
use crate::gpu::kernels::{Dims, ESTEP_DIAG_SAMPLES, ESTEP_FULL_SAMPLES, NORMALIZE_SAMPLES, TILE};
use crate::params::{MStepStats, MixtureParams, NK_EPS};

const LN_2PI: f64 = 1.837_877_066_409_345_5;
/// Chunks (and upload segments) hold a multiple of this many rows.
const ROW_ALIGN: usize = 64;
/// The M-step aims at groups of at least this many samples...
const MIN_GROUP_SPAN: usize = 1024;
/// ...and at most this many groups per chunk.
const MAX_GROUPS: usize = 256;
/// Partial statistics of one chunk stay below this many floats (16 MiB) when possible.
const PARTIAL_BUDGET_FLOATS: usize = 4 << 20;
/// The ridge assumed until [`GpuBackend::set_reg_covar`] says otherwise (the library default).
const DEFAULT_REG_COVAR: f64 = 1e-6;
/// Without host data, a covariance that does not factor is retried with an extra ridge of
/// `RIDGE_BASE × mean variance × 10^j`, for j < `RIDGE_STEPS`.
const RIDGE_BASE: f64 = 1e-6;
const RIDGE_STEPS: i32 = 6;

/// A stretch of rows of the data in one device buffer.
struct Segment {
    buffer: wgpu::Buffer,
    /// Byte offset of the segment's first row in `buffer`.
    offset: u64,
    rows: usize,
}

/// Rows processed by one dispatch of every kernel.
struct Chunk {
    segment: usize,
    /// Byte offset of the chunk's first row in its segment's buffer.
    x_offset: u64,
    /// Index of the chunk's first row in the whole data.
    start: usize,
    rows: usize,
    /// rows × K: weighted log-densities, then responsibilities.
    resp: wgpu::Buffer,
    /// rows: per-sample log-likelihood of the last E-step.
    log_norm: wgpu::Buffer,
    /// One log-likelihood sum per normalisation workgroup.
    ll_partial: wgpu::Buffer,
}

/// Everything that depends on the number of components.
struct State {
    k: usize,
    chunks: Vec<Chunk>,
    /// Means used by the E-step (K × D).
    e_means: wgpu::Buffer,
    /// `log π_k + log det U_k − D/2 log 2π` (K).
    log_const: wgpu::Buffer,
    /// Precision factors: K·D·D (full), D·D (tied) or K·D (diag, spherical).
    prec: Option<wgpu::Buffer>,
    /// Means used by the M-step's scatter (K × D).
    m_means: wgpu::Buffer,
    /// Partial M-step statistics of one chunk.
    partial: Option<wgpu::Buffer>,
    /// Whether responsibilities have been set or computed.
    has_resp: bool,
}

/// The wgpu backend of the shared EM loop ([`crate::em::fit`]).
pub struct GpuBackend {
    ctx: GpuContext,
    n: usize,
    d: usize,
    segments: Vec<Segment>,
    max_chunk_rows: Option<usize>,
    state: Option<State>,
    /// The data in f64 on the host as columns, D × N (when they came from there), for the
    /// f64 fallback of the M-step statistics and for the initialisation.
    host: Option<Arc<DMatrix<f64>>>,
    /// The CPU backend of the fallback, built on first use.
    fallback_cpu: Option<CpuBackend>,
    /// The ridge the EM loop will add: statistics that do not factor with it trigger the
    /// fallback.
    reg_covar: f64,
    /// M-steps computed so far.
    m_steps: usize,
    /// One line per M-step whose f32 statistics were replaced or repaired.
    fallbacks: Vec<String>,
}

/// Why f32 statistics cannot be used, or `None` when they factor with `reg_covar`.
fn stats_problem(stats: &MStepStats, reg_covar: f64) -> Option<Problem> {
    let finite = stats.nk.iter().all(|v| v.is_finite())
        && stats.means.iter().all(|v| v.is_finite())
        && covariance_values(&stats.covariances).all(|v| v.is_finite());
    if !finite {
        return Some(Problem::NonFinite);
    }
    match MixtureParams::from_stats(stats.clone(), reg_covar) {
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

fn covariance_values(c: &Covariances) -> Box<dyn Iterator<Item = f64> + '_> {
    match c {
        Covariances::Full(m) => Box::new(m.iter().flat_map(|m| m.iter().copied())),
        Covariances::Tied(m) | Covariances::Diag(m) => Box::new(m.iter().copied()),
        Covariances::Spherical(v) => Box::new(v.iter().copied()),
        Covariances::LowRank(_) => Box::new(std::iter::empty()),
    }
}

/// Adds `extra` to the variances (the diagonal) of `c`.
fn add_to_variances(c: &mut Covariances, extra: f64) {
    match c {
        Covariances::Full(m) => {
            for m in m {
                for j in 0..m.nrows() {
                    m[(j, j)] += extra;
                }
            }
        }
        Covariances::Tied(m) => {
            for j in 0..m.nrows() {
                m[(j, j)] += extra;
            }
        }
        Covariances::Diag(m) => m.add_scalar_mut(extra),
        Covariances::Spherical(v) => v.add_scalar_mut(extra),
        Covariances::LowRank(_) => {}
    }
}

/// Mean variance (diagonal entry) of `c`.
fn mean_variance(c: &Covariances) -> f64 {
    let diag: Vec<f64> = match c {
        Covariances::Full(m) => m
            .iter()
            .flat_map(|m| m.diagonal().iter().copied().collect::<Vec<_>>())
            .collect(),
        Covariances::Tied(m) => m.diagonal().iter().copied().collect(),
        Covariances::Diag(m) => m.iter().copied().collect(),
        Covariances::Spherical(v) => v.iter().copied().collect(),
        Covariances::LowRank(_) => Vec::new(),
    };
    if diag.is_empty() {
        0.0
    } else {
        diag.iter().map(|v| v.abs()).sum::<f64>() / diag.len() as f64
    }
}

/// How a chunk's M-step is split into groups: `(groups, span)`.
fn plan_groups(rows: usize, per_group_floats: usize) -> (usize, usize) {
    let by_budget = (PARTIAL_BUDGET_FLOATS / per_group_floats.max(1)).max(1);
    let want = rows.div_ceil(MIN_GROUP_SPAN).clamp(1, MAX_GROUPS);
    let groups = want.min(by_budget);
    let span = rows.div_ceil(groups).next_multiple_of(TILE as usize);
    (rows.div_ceil(span), span)
}

fn storage_usage() -> wgpu::BufferUsages {
    wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC
}

fn to_f32(values: impl Iterator<Item = f64>) -> Vec<f32> {
    values.map(|v| v as f32).collect()
}

/// A bind-group entry: a whole buffer or a byte range of one.
enum Res<'a> {
    Whole(&'a wgpu::Buffer),
    Range(&'a wgpu::Buffer, u64, u64),
}

impl GpuBackend {
    /// Uploads `x` (N × D, one sample per row) to the device as f32.
    pub fn from_host(ctx: &GpuContext, x: &DMatrix<f64>) -> Result<Self> {
        Self::upload(ctx, x, None, true)
    }

    /// Uploads `x` for queries (E-steps only): no f64 copy is kept on the host, so an M-step
    /// has no CPU fallback.
    pub(crate) fn from_host_for_queries(ctx: &GpuContext, x: &DMatrix<f64>) -> Result<Self> {
        Self::upload(ctx, x, None, false)
    }

    /// As [`GpuBackend::from_host`], with at most `max_chunk_rows` rows (rounded up to a
    /// multiple of 64) per buffer and per dispatch. A tuning and testing knob: it makes small
    /// data go through the chunked path that data larger than one binding takes.
    pub fn from_host_with_chunk_rows(
        ctx: &GpuContext,
        x: &DMatrix<f64>,
        max_chunk_rows: usize,
    ) -> Result<Self> {
        Self::upload(ctx, x, Some(max_chunk_rows), true)
    }

    /// Uses data that already live on the device: `buffer` holds `n_samples × n_features` f32
    /// values, row-major, from its start, and was created with `BufferUsages::STORAGE`.
    /// Nothing is copied; the buffer must stay unchanged while the backend uses it.
    pub fn from_buffer(
        ctx: &GpuContext,
        buffer: &wgpu::Buffer,
        n_samples: usize,
        n_features: usize,
    ) -> Result<Self> {
        if n_samples == 0 || n_features == 0 {
            return Err(GmmError::InvalidData(format!(
                "the data are {n_samples} × {n_features}; give at least one sample and one feature"
            )));
        }
        if !buffer.usage().contains(wgpu::BufferUsages::STORAGE) {
            return Err(GmmError::Gpu(
                "the data buffer lacks BufferUsages::STORAGE; create it with STORAGE usage".into(),
            ));
        }
        let need = (n_samples * n_features * 4) as u64;
        if buffer.size() < need {
            return Err(GmmError::InvalidData(format!(
                "the data buffer has {} bytes but {n_samples} × {n_features} f32 values need {need}",
                buffer.size()
            )));
        }
        let backend = GpuBackend {
            ctx: ctx.clone(),
            n: n_samples,
            d: n_features,
            segments: vec![Segment {
                buffer: buffer.clone(),
                offset: 0,
                rows: n_samples,
            }],
            max_chunk_rows: None,
            state: None,
            host: None,
            fallback_cpu: None,
            reg_covar: DEFAULT_REG_COVAR,
            m_steps: 0,
            fallbacks: Vec::new(),
        };
        backend.max_rows_per_binding()?;
        Ok(backend)
    }

    /// Sets the largest number of rows per dispatch (rounded up to a multiple of 64); see
    /// [`GpuBackend::from_host_with_chunk_rows`].
    pub fn set_max_chunk_rows(&mut self, rows: usize) {
        self.max_chunk_rows = Some(rows);
        self.state = None;
    }

    /// The context the backend runs on.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// The ridge the EM loop adds to the covariances (`FitConfig::reg_covar`; 1e-6 unless set).
    ///
    /// The backend checks that the f32 statistics of every M-step are finite and factor with
    /// this ridge; when they do not, it recomputes them in f64 on the CPU (data from the host)
    /// or retries with a larger ridge (data in an application's buffer). See
    /// [`GpuBackend::fallbacks`].
    pub fn set_reg_covar(&mut self, reg_covar: f64) {
        self.reg_covar = reg_covar;
    }

    /// One line for every M-step whose f32 statistics from the GPU were unusable (overflow,
    /// or a covariance that is not positive definite) and were recomputed in f64 on the CPU
    /// or given a larger ridge. Empty when the GPU's statistics were used throughout.
    pub fn fallbacks(&self) -> &[String] {
        &self.fallbacks
    }

    /// M-step statistics computed so far.
    pub fn m_steps(&self) -> usize {
        self.m_steps
    }

    /// A one-line summary of [`GpuBackend::fallbacks`], or `None` when there were none.
    pub fn fallback_summary(&self) -> Option<String> {
        let first = self.fallbacks.first()?;
        Some(format!(
            "{} of {} M-steps fell back from the GPU's f32 statistics (first: {first})",
            self.fallbacks.len(),
            self.m_steps
        ))
    }

    /// The data as columns (D × N) in f64, when they came from the host (shared, not copied).
    pub fn host_samples(&self) -> Option<Arc<DMatrix<f64>>> {
        self.host.clone()
    }

    /// Number of chunks the data are processed in (known once K is, i.e. after the first
    /// E-step or `set_responsibilities`; 0 before).
    pub fn n_chunks(&self) -> usize {
        self.state.as_ref().map_or(0, |s| s.chunks.len())
    }

    fn knob(&self) -> usize {
        self.max_chunk_rows
            .map_or(usize::MAX, |r| r.max(1).next_multiple_of(ROW_ALIGN))
    }

    /// Rows of D features that fit one storage binding, rounded down to the row alignment.
    fn max_rows_per_binding(&self) -> Result<usize> {
        let bind = self.ctx.limits().max_storage_buffer_binding_size as usize;
        let rows = (bind / (4 * self.d)) / ROW_ALIGN * ROW_ALIGN;
        if rows == 0 {
            return Err(GmmError::Gpu(format!(
                "{} features do not fit {} rows in one storage binding of {bind} bytes; use --device cpu",
                self.d, ROW_ALIGN
            )));
        }
        Ok(rows)
    }

    fn upload(
        ctx: &GpuContext,
        x: &DMatrix<f64>,
        max_chunk_rows: Option<usize>,
        keep_host: bool,
    ) -> Result<Self> {
        let (n, d) = x.shape();
        if n == 0 || d == 0 {
            return Err(GmmError::InvalidData(format!(
                "the data are {n} × {d}; give at least one sample and one feature"
            )));
        }
        if let Some(v) = x.iter().find(|v| v.abs() > f32::MAX as f64) {
            return Err(GmmError::InvalidData(format!(
                "the value {v:e} does not fit in f32, which the GPU computes in; scale the data or use --device cpu"
            )));
        }
        let mut backend = GpuBackend {
            ctx: ctx.clone(),
            n,
            d,
            segments: Vec::new(),
            max_chunk_rows,
            state: None,
            host: keep_host.then(|| Arc::new(x.transpose())),
            fallback_cpu: None,
            reg_covar: DEFAULT_REG_COVAR,
            m_steps: 0,
            fallbacks: Vec::new(),
        };
        let by_buffer = (ctx.limits().max_buffer_size as usize / (4 * d)) / ROW_ALIGN * ROW_ALIGN;
        let seg_rows = backend
            .max_rows_per_binding()?
            .min(by_buffer.max(ROW_ALIGN))
            .min(backend.knob());
        let mut start = 0;
        while start < n {
            let rows = seg_rows.min(n - start);
            let mut data = Vec::with_capacity(rows * d);
            for i in start..start + rows {
                data.extend(x.row(i).iter().map(|&v| v as f32));
            }
            let buffer = backend.buffer("the data", rows * d * 4, storage_usage())?;
            ctx.queue()
                .write_buffer(&buffer, 0, bytemuck::cast_slice(&data));
            backend.segments.push(Segment {
                buffer,
                offset: 0,
                rows,
            });
            start += rows;
        }
        Ok(backend)
    }

    fn buffer(&self, what: &str, bytes: usize, usage: wgpu::BufferUsages) -> Result<wgpu::Buffer> {
        self.ctx.scoped(what, || {
            self.ctx.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some(what),
                size: (bytes.max(4)) as u64,
                usage,
                mapped_at_creation: false,
            })
        })
    }

    /// Lays out chunks and allocates the K-dependent buffers (once per K).
    fn ensure_state(&mut self, k: usize) -> Result<()> {
        if self.state.as_ref().is_some_and(|s| s.k == k) {
            return Ok(());
        }
        let limits = self.ctx.limits();
        if k > limits.max_compute_workgroups_per_dimension as usize {
            return Err(GmmError::Gpu(format!(
                "{k} components exceed the device's {} workgroups per dimension; use --device cpu",
                limits.max_compute_workgroups_per_dimension
            )));
        }
        let bind = limits.max_storage_buffer_binding_size as usize;
        let by_resp = (bind / (4 * k)) / ROW_ALIGN * ROW_ALIGN;
        let by_dispatch = limits.max_compute_workgroups_per_dimension as usize
            * ESTEP_FULL_SAMPLES.min(ESTEP_DIAG_SAMPLES) as usize;
        let chunk_rows = self
            .max_rows_per_binding()?
            .min(by_resp)
            .min(by_dispatch / ROW_ALIGN * ROW_ALIGN)
            .min(self.knob());
        if chunk_rows == 0 {
            return Err(GmmError::Gpu(format!(
                "{k} components do not fit {ROW_ALIGN} rows of responsibilities in one storage binding; use --device cpu"
            )));
        }
        let d = self.d;
        let mut chunks = Vec::new();
        let mut start = 0;
        for (si, seg) in self.segments.iter().enumerate() {
            let mut local = 0;
            while local < seg.rows {
                let rows = chunk_rows.min(seg.rows - local);
                let ll_groups = rows.div_ceil(NORMALIZE_SAMPLES as usize);
                chunks.push(Chunk {
                    segment: si,
                    x_offset: seg.offset + (local * d * 4) as u64,
                    start,
                    rows,
                    resp: self.buffer("responsibilities", rows * k * 4, storage_usage())?,
                    log_norm: self.buffer("log-likelihoods", rows * 4, storage_usage())?,
                    ll_partial: self.buffer(
                        "log-likelihood partial sums",
                        ll_groups * 4,
                        storage_usage(),
                    )?,
                });
                local += rows;
                start += rows;
            }
        }
        self.state = Some(State {
            k,
            chunks,
            e_means: self.buffer("means", k * d * 4, storage_usage())?,
            log_const: self.buffer("log-constants", k * 4, storage_usage())?,
            prec: None,
            m_means: self.buffer("M-step means", k * d * 4, storage_usage())?,
            partial: None,
            has_resp: false,
        });
        Ok(())
    }

    fn uniform(&self, dims: Dims) -> wgpu::Buffer {
        // create + write rather than mapped-at-creation: a lost device then yields an error
        // at the next wait instead of a panic while mapping.
        let b = self.ctx.device().create_buffer(&wgpu::BufferDescriptor {
            label: Some("gaussmix dims"),
            size: std::mem::size_of::<Dims>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.ctx
            .queue()
            .write_buffer(&b, 0, bytemuck::bytes_of(&dims));
        b
    }

    fn bind_group(
        &self,
        pipeline: &wgpu::ComputePipeline,
        resources: &[Res<'_>],
    ) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry<'_>> = resources
            .iter()
            .enumerate()
            .map(|(i, r)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: match *r {
                    Res::Whole(b) => b.as_entire_binding(),
                    Res::Range(b, offset, size) => {
                        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                            buffer: b,
                            offset,
                            size: NonZeroU64::new(size),
                        })
                    }
                },
            })
            .collect();
        self.ctx
            .device()
            .create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &pipeline.get_bind_group_layout(0),
                entries: &entries,
            })
    }

    fn dims(&self, chunk: &Chunk, k: usize) -> Dims {
        Dims {
            rows: chunk.rows as u32,
            d: self.d as u32,
            k: k as u32,
            d_tiles: self.d.div_ceil(TILE as usize) as u32,
            ..Default::default()
        }
    }

    fn x_range<'a>(&'a self, chunk: &Chunk) -> Res<'a> {
        Res::Range(
            &self.segments[chunk.segment].buffer,
            chunk.x_offset,
            (chunk.rows * self.d * 4) as u64,
        )
    }

    fn write(&self, buffer: &wgpu::Buffer, data: &[f32]) {
        self.ctx
            .queue()
            .write_buffer(buffer, 0, bytemuck::cast_slice(data));
    }

    fn state(&self) -> Result<&State> {
        self.state.as_ref().ok_or_else(|| {
            GmmError::Gpu("no responsibilities yet: run an E-step or set them first".into())
        })
    }

    /// Per-sample log-likelihoods `log Σ_k π_k N(x_i | μ_k, Σ_k)` of the last E-step.
    pub fn log_likelihoods(&self) -> Result<DVector<f64>> {
        let state = self.state()?;
        let sources: Vec<_> = state
            .chunks
            .iter()
            .map(|c| (&c.log_norm, 0, (c.rows * 4) as u64))
            .collect();
        let v = self.ctx.read_f32(&sources)?;
        Ok(DVector::from_iterator(self.n, v.iter().map(|&x| x as f64)))
    }

    /// Runs one M-step kernel per chunk and returns the partial sums, `per_group` floats per
    /// group, of all chunks in order.
    fn m_pass(
        &mut self,
        per_group: usize,
        run: &dyn Fn(&Self, &mut wgpu::ComputePass<'_>, &Chunk, Dims, &wgpu::Buffer),
    ) -> Result<Vec<f32>> {
        let k = self.state()?.k;
        let plans: Vec<(usize, usize)> = self
            .state()?
            .chunks
            .iter()
            .map(|c| plan_groups(c.rows, per_group))
            .collect();
        let bind = self.ctx.limits().max_storage_buffer_binding_size as usize;
        let largest = plans.iter().map(|p| p.0 * per_group * 4).max().unwrap_or(4);
        if largest > bind {
            return Err(GmmError::Gpu(format!(
                "the M-step statistics ({} bytes per group of samples) exceed one storage binding of {bind} bytes; use fewer components or --device cpu",
                per_group * 4
            )));
        }
        let grow = self
            .state
            .as_ref()
            .and_then(|s| s.partial.as_ref())
            .is_none_or(|p| (p.size() as usize) < largest);
        if grow {
            let p = self.buffer("M-step partial sums", largest, storage_usage())?;
            self.state.as_mut().expect("state").partial = Some(p);
        }
        let total: usize = plans.iter().map(|p| p.0 * per_group * 4).sum();
        let staging = self.buffer(
            "M-step read-back",
            total,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        )?;
        let state = self.state()?;
        let partial = state.partial.as_ref().expect("partial buffer");
        let device = self.ctx.device();
        let mut enc = device.create_command_encoder(&Default::default());
        let mut at = 0u64;
        for (chunk, &(groups, span)) in state.chunks.iter().zip(&plans) {
            let dims = Dims {
                span: span as u32,
                n_groups: groups as u32,
                ..self.dims(chunk, k)
            };
            {
                let mut pass = enc.begin_compute_pass(&Default::default());
                run(self, &mut pass, chunk, dims, partial);
            }
            let bytes = (groups * per_group * 4) as u64;
            enc.copy_buffer_to_buffer(partial, 0, &staging, at, bytes);
            at += bytes;
        }
        let index = self.ctx.queue().submit([enc.finish()]);
        self.ctx.map_read(&staging, index)
    }
}

impl Backend for GpuBackend {
    fn describe(&self) -> String {
        match self.fallback_summary() {
            None => self.ctx.describe(),
            Some(f) => format!("{}; {f}", self.ctx.describe()),
        }
    }

    fn n_samples(&self) -> usize {
        self.n
    }

    fn n_features(&self) -> usize {
        self.d
    }

    fn set_responsibilities(&mut self, resp: &DMatrix<f64>) -> Result<()> {
        crate::backend::check_responsibility_rows(resp, self.n)?;
        let k = resp.ncols();
        self.ensure_state(k)?;
        let state = self.state()?;
        for c in &state.chunks {
            let mut data = Vec::with_capacity(c.rows * k);
            for i in c.start..c.start + c.rows {
                data.extend(resp.row(i).iter().map(|&v| v as f32));
            }
            self.write(&c.resp, &data);
        }
        self.state.as_mut().expect("state").has_resp = true;
        Ok(())
    }

    fn e_step(&mut self, params: &MixtureParams) -> Result<f64> {
        let mean = self.run_e_step(params)?;
        if !mean.is_finite() {
            return Err(GmmError::InvalidData(format!(
                "the log-likelihood became {mean} on the GPU (f32): some samples have zero density under every component; scale the data, raise reg_covar or use --device cpu (f64)"
            )));
        }
        Ok(mean)
    }

    fn m_step_stats(&mut self, covariance_type: CovarianceType) -> Result<MStepStats> {
        self.m_step_with_fallback(covariance_type)
    }

    fn responsibilities(&self) -> Result<DMatrix<f64>> {
        self.read_responsibilities()
    }
}

impl GpuBackend {
    /// The E-step on the device under `params`: keeps responsibilities and per-sample
    /// log-likelihoods on the device and returns the mean log-likelihood (maybe non-finite).
    pub(crate) fn run_e_step(&mut self, params: &MixtureParams) -> Result<f64> {
        self.ctx.check_faults()?;
        let k = params.n_components();
        let d = self.d;
        if params.n_features() != d {
            return Err(GmmError::DimensionMismatch {
                expected: params.n_features(),
                found: d,
            });
        }
        self.ensure_state(k)?;
        let prec = &params.precisions;
        let (full, shared, factors): (bool, bool, Vec<f32>) = match &prec.cholesky {
            Covariances::Full(us) => (
                true,
                false,
                to_f32(us.iter().flat_map(|u| u.transpose().as_slice().to_vec())),
            ),
            Covariances::Tied(u) => (true, true, to_f32(u.transpose().iter().copied())),
            Covariances::Diag(p) => (false, false, to_f32(p.transpose().iter().copied())),
            Covariances::Spherical(p) => (
                false,
                false,
                to_f32((0..k).flat_map(|c| std::iter::repeat_n(p[c], d))),
            ),
            Covariances::LowRank(_) => {
                return Err(GmmError::Gpu(
                    "low-rank covariances are not supported by the GPU engine; use --device cpu or the dense full path"
                        .into(),
                ))
            }
        };
        let log_const: Vec<f32> = (0..k)
            .map(|c| (params.weights[c].ln() + prec.log_det(c, d) - 0.5 * d as f64 * LN_2PI) as f32)
            .collect();
        let means = to_f32(params.means.transpose().iter().copied());
        let needs_prec = self
            .state()?
            .prec
            .as_ref()
            .is_none_or(|b| b.size() as usize != factors.len() * 4);
        if needs_prec {
            let b = self.buffer("precision factors", factors.len() * 4, storage_usage())?;
            self.state.as_mut().expect("state").prec = Some(b);
        }
        let state = self.state()?;
        let prec_buf = state.prec.as_ref().expect("precision buffer");
        self.write(prec_buf, &factors);
        self.write(&state.e_means, &means);
        self.write(&state.log_const, &log_const);

        let kernels = self.ctx.kernels();
        let device = self.ctx.device();
        let mut enc = device.create_command_encoder(&Default::default());
        for chunk in &state.chunks {
            let dims = Dims {
                shared_factor: shared as u32,
                ..self.dims(chunk, k)
            };
            let uniform = self.uniform(dims);
            let (pipeline, per_group) = if full {
                kernels.estep_full_for(d)
            } else {
                (&kernels.estep_diag, ESTEP_DIAG_SAMPLES)
            };
            let bg = self.bind_group(
                pipeline,
                &[
                    Res::Whole(&uniform),
                    self.x_range(chunk),
                    Res::Whole(&state.e_means),
                    Res::Whole(prec_buf),
                    Res::Whole(&state.log_const),
                    Res::Whole(&chunk.resp),
                ],
            );
            let norm_bg = self.bind_group(
                &kernels.estep_normalize,
                &[
                    Res::Whole(&uniform),
                    Res::Whole(&chunk.resp),
                    Res::Whole(&chunk.log_norm),
                    Res::Whole(&chunk.ll_partial),
                ],
            );
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &bg, &[]);
            pass.dispatch_workgroups((chunk.rows as u32).div_ceil(per_group), k as u32, 1);
            pass.set_pipeline(&kernels.estep_normalize);
            pass.set_bind_group(0, &norm_bg, &[]);
            pass.dispatch_workgroups((chunk.rows as u32).div_ceil(NORMALIZE_SAMPLES), 1, 1);
        }
        self.ctx.queue().submit([enc.finish()]);
        let sources: Vec<_> = state
            .chunks
            .iter()
            .map(|c| {
                let groups = c.rows.div_ceil(NORMALIZE_SAMPLES as usize);
                (&c.ll_partial, 0, (groups * 4) as u64)
            })
            .collect();
        let partial = self.ctx.read_f32(&sources)?;
        self.state.as_mut().expect("state").has_resp = true;
        let total: f64 = partial.iter().map(|&v| v as f64).sum();
        Ok(total / self.n as f64)
    }

    /// The M-step statistics from the device, replaced by f64 ones from the CPU (or given a
    /// larger ridge) when they are unusable.
    fn m_step_with_fallback(&mut self, covariance_type: CovarianceType) -> Result<MStepStats> {
        let stats = self.gpu_m_step_stats(covariance_type)?;
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
            Problem::NonFinite => Err(GmmError::InvalidData(format!(
                "M-step {step}: {problem} on the GPU, and the data live only in the application's buffer, so there is no f64 fallback; scale the data in the buffer (values whose squares exceed 3e38 overflow f32), or fit from host data (gaussmix::gpu::fit or the CPU)"
            ))),
            Problem::NotPositiveDefinite(_) => {
                let base = RIDGE_BASE * mean_variance(&stats.covariances).max(self.reg_covar);
                for j in 0..RIDGE_STEPS {
                    let extra = base * 10f64.powi(j);
                    let mut repaired = stats.clone();
                    add_to_variances(&mut repaired.covariances, extra);
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

    pub(crate) fn read_responsibilities(&self) -> Result<DMatrix<f64>> {
        let state = self.state()?;
        let sources: Vec<_> = state
            .chunks
            .iter()
            .map(|c| (&c.resp, 0, (c.rows * state.k * 4) as u64))
            .collect();
        let v = self.ctx.read_f32(&sources)?;
        Ok(DMatrix::from_iterator(state.k, self.n, v.iter().map(|&x| x as f64)).transpose())
    }

    /// The M-step statistics from the f32 kernels (partial sums added on the host in f64).
    fn gpu_m_step_stats(&mut self, covariance_type: CovarianceType) -> Result<MStepStats> {
        self.ctx.check_faults()?;
        if !self.state.as_ref().is_some_and(|s| s.has_resp) {
            return Err(GmmError::Gpu(
                "no responsibilities yet: run an E-step or set them first".into(),
            ));
        }
        let d = self.d;
        let k = self.state()?.k;
        let ctx = self.ctx.clone();
        let kernels = ctx.kernels();

        // Pass 1: N_k and Σ r·x per group; f64 on the host.
        let width = d + 1;
        let partial = self.m_pass(k * width, &|me, pass, chunk, dims, out| {
            let uniform = me.uniform(dims);
            let bg = me.bind_group(
                &kernels.mstep_means,
                &[
                    Res::Whole(&uniform),
                    me.x_range(chunk),
                    Res::Whole(&chunk.resp),
                    Res::Whole(out),
                ],
            );
            pass.set_pipeline(&kernels.mstep_means);
            pass.set_bind_group(0, &bg, &[]);
            pass.dispatch_workgroups(
                (width as u32).div_ceil(TILE),
                (k as u32).div_ceil(TILE),
                dims.n_groups,
            );
        })?;
        let mut nk = DVector::<f64>::from_element(k, NK_EPS);
        let mut sx = DMatrix::<f64>::zeros(k, d);
        for group in partial.chunks_exact(k * width) {
            for c in 0..k {
                let row = &group[c * width..(c + 1) * width];
                for j in 0..d {
                    sx[(c, j)] += row[j] as f64;
                }
                nk[c] += row[d] as f64;
            }
        }
        let mut means = sx;
        for c in 0..k {
            let inv = 1.0 / nk[c];
            means.row_mut(c).scale_mut(inv);
        }

        // Pass 2: the centred scatter around these means.
        let means_f32 = to_f32(means.transpose().iter().copied());
        self.write(&self.state()?.m_means, &means_f32);
        let full = matches!(covariance_type, CovarianceType::Full | CovarianceType::Tied);
        let covariances = if full {
            let t = d.div_ceil(TILE as usize) as u32;
            let partial = self.m_pass(k * d * d, &|me, pass, chunk, dims, out| {
                let uniform = me.uniform(dims);
                let state = me.state.as_ref().expect("state");
                let bg = me.bind_group(
                    &kernels.mstep_full_scatter,
                    &[
                        Res::Whole(&uniform),
                        me.x_range(chunk),
                        Res::Whole(&chunk.resp),
                        Res::Whole(&state.m_means),
                        Res::Whole(out),
                    ],
                );
                pass.set_pipeline(&kernels.mstep_full_scatter);
                pass.set_bind_group(0, &bg, &[]);
                pass.dispatch_workgroups(t * (t + 1) / 2, k as u32, dims.n_groups);
            })?;
            let mut scatter = vec![DMatrix::<f64>::zeros(d, d); k];
            for group in partial.chunks_exact(k * d * d) {
                for (c, s) in scatter.iter_mut().enumerate() {
                    let m = &group[c * d * d..(c + 1) * d * d];
                    for a in 0..d {
                        for b in a..d {
                            s[(a, b)] += m[a * d + b] as f64;
                        }
                    }
                }
            }
            for s in &mut scatter {
                for a in 0..d {
                    for b in 0..a {
                        s[(a, b)] = s[(b, a)];
                    }
                }
            }
            Covariances::from_full_scatter(covariance_type, scatter, &nk)
        } else {
            let partial = self.m_pass(k * d, &|me, pass, chunk, dims, out| {
                let uniform = me.uniform(dims);
                let state = me.state.as_ref().expect("state");
                let bg = me.bind_group(
                    &kernels.mstep_diag_scatter,
                    &[
                        Res::Whole(&uniform),
                        me.x_range(chunk),
                        Res::Whole(&chunk.resp),
                        Res::Whole(&state.m_means),
                        Res::Whole(out),
                    ],
                );
                pass.set_pipeline(&kernels.mstep_diag_scatter);
                pass.set_bind_group(0, &bg, &[]);
                pass.dispatch_workgroups(
                    (d as u32).div_ceil(TILE),
                    (k as u32).div_ceil(TILE),
                    dims.n_groups,
                );
            })?;
            let mut s = DMatrix::<f64>::zeros(k, d);
            for group in partial.chunks_exact(k * d) {
                for c in 0..k {
                    for j in 0..d {
                        s[(c, j)] += group[c * d + j] as f64;
                    }
                }
            }
            Covariances::from_diag_scatter(covariance_type, s, &nk)
        };
        Ok(MStepStats {
            nk,
            means,
            covariances,
        })
    }
}
