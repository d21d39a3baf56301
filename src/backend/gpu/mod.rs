//! The GPU backend (split by step: [`estep`], [`mstep`], the device-side sums of per-group
//! partials in [`reduce`], and the f64 [`fallback`] of unusable f32 statistics): data and
//! responsibilities stay on the device; per iteration only the parameters go up (means,
//! precision Cholesky factors, log-constants: K·D·D floats at most) and only one row of
//! totals comes back (the log-likelihood, N_k, Σ r·x, the means and the scatter: O(K·D²)
//! floats, whatever N). An EM iteration (`Backend::statistics`) is one submission and one
//! wait: E-step, M-step passes and their reductions are recorded in one command buffer.
//!
//! Data larger than one storage binding (`max_storage_buffer_binding_size`) is processed in
//! chunks of rows: every kernel is dispatched once per chunk on a bound sub-range. Chunks start
//! at multiples of 64 rows, so their byte offsets (64·D·4 = 256·D) meet any storage-offset
//! alignment WebGPU allows.

use std::num::NonZeroU64;
use std::sync::Arc;

use nalgebra::{DMatrix, DVector};

mod estep;
mod fallback;
mod mstep;
mod reduce;

use crate::backend::cpu::CpuBackend;
use crate::backend::Backend;
use crate::covariance::CovarianceType;
use crate::error::{GmmError, Result};
use crate::gpu::context::GpuContext;
use crate::gpu::kernels::{Dims, ESTEP_DIAG_SAMPLES, ESTEP_FULL_SAMPLES, NORMALIZE_SAMPLES, TILE};
use crate::params::MixtureParams;
use crate::stats::SufficientStats;
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
    /// rows: the sample weights (f32), or a one-float placeholder without weights.
    weights: wgpu::Buffer,
}

/// Per-step totals on the device, what the host reads back.
struct Totals {
    /// Σ_i log p(x_i) of the last E-step (one float).
    log_likelihood: wgpu::Buffer,
    /// One log-likelihood row per chunk, when there are several.
    ll_chunks: Option<wgpu::Buffer>,
    /// K × (D + 1): Σ r·x and N_k per component.
    moments: wgpu::Buffer,
    /// The scatter sums (K·D·D floats for full and tied, K·D for diag and spherical).
    scatter: Option<wgpu::Buffer>,
    /// One row of M-step totals per chunk, when there are several.
    chunk_rows: Option<wgpu::Buffer>,
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
    /// Means used by the M-step's scatter (K × D), computed on the device.
    m_means: wgpu::Buffer,
    /// Partial M-step statistics of one chunk.
    partial: Option<wgpu::Buffer>,
    /// The totals of the partial sums.
    totals: Totals,
    /// Whether responsibilities have been set or computed.
    has_resp: bool,
}

/// The wgpu backend of the shared EM loop ([`crate::em::fit`]).
pub(crate) struct GpuBackend {
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
    /// Sample weights, if any: the E-step multiplies every sample's responsibilities by its
    /// weight on the device, and weights its log-likelihood sum.
    weights: Option<Arc<DVector<f64>>>,
}

/// How a chunk's M-step is split into groups: `(groups, span)`.
fn plan_groups(rows: usize, per_group_floats: usize) -> (usize, usize) {
    let by_budget = (PARTIAL_BUDGET_FLOATS / per_group_floats.max(1)).max(1);
    let want = rows.div_ceil(MIN_GROUP_SPAN).clamp(1, MAX_GROUPS);
    let groups = want.min(by_budget);
    let span = rows.div_ceil(groups).next_multiple_of(TILE as usize);
    (rows.div_ceil(span), span)
}

/// `total` (Σ log p(x_i) from the device), or the error that some sample has zero density.
fn finite_log_likelihood(total: f64) -> Result<f64> {
    if !total.is_finite() {
        return Err(GmmError::Numerical(format!(
            "the log-likelihood became {total} on the GPU (f32): some samples have zero density under every component; scale the data, raise reg_covar or use device=cpu (f64)"
        )));
    }
    Ok(total)
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
    pub(crate) fn from_host(ctx: &GpuContext, x: &DMatrix<f64>) -> Result<Self> {
        Self::upload(ctx, x, None, true)
    }

    /// Uploads `x` for queries (E-steps only): no f64 copy is kept on the host, so an M-step
    /// has no CPU fallback.
    pub(crate) fn from_host_for_queries(ctx: &GpuContext, x: &DMatrix<f64>) -> Result<Self> {
        Self::upload(ctx, x, None, false)
    }

    /// Uses data that already live on the device: `buffer` holds `n_samples × n_features` f32
    /// values, row-major, from its start, and was created with `BufferUsages::STORAGE`.
    /// Nothing is copied; the buffer must stay unchanged while the backend uses it.
    pub(crate) fn from_buffer(
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
            return Err(GmmError::InvalidData(
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
            max_chunk_rows: ctx.max_chunk_rows(),
            state: None,
            host: None,
            fallback_cpu: None,
            reg_covar: DEFAULT_REG_COVAR,
            m_steps: 0,
            fallbacks: Vec::new(),
            weights: None,
        };
        backend.max_rows_per_binding()?;
        Ok(backend)
    }

    /// The ridge the EM loop adds to the covariances (`FitConfig::reg_covar`; 1e-6 unless set).
    ///
    /// The backend checks that the f32 statistics of every M-step are finite and factor with
    /// this ridge; when they do not, it recomputes them in f64 on the CPU (data from the host)
    /// or retries with a larger ridge (data in an application's buffer). See
    /// `Backend::fallbacks`.
    pub(crate) fn set_reg_covar(&mut self, reg_covar: f64) {
        self.reg_covar = reg_covar;
    }

    /// A one-line summary of `Backend::fallbacks`, or `None` when there were none.
    pub(crate) fn fallback_summary(&self) -> Option<String> {
        let first = self.fallbacks.first()?;
        Some(format!(
            "{} of {} M-steps fell back from the GPU's f32 statistics (first: {first})",
            self.fallbacks.len(),
            self.m_steps
        ))
    }

    /// The data as columns (D × N) in f64, when they came from the host (shared, not copied).
    pub(crate) fn host_samples(&self) -> Option<Arc<DMatrix<f64>>> {
        self.host.clone()
    }

    /// Number of chunks the data are processed in (known once K is, i.e. after the first
    /// E-step or `set_responsibilities`; 0 before).
    pub(crate) fn n_chunks(&self) -> usize {
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
            return Err(GmmError::DeviceLimit(format!(
                "{} features do not fit {} rows in one storage binding of {bind} bytes; use device=cpu",
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
                "the value {v:e} does not fit in f32, which the GPU computes in; scale the data or use device=cpu"
            )));
        }
        let mut backend = GpuBackend {
            ctx: ctx.clone(),
            n,
            d,
            segments: Vec::new(),
            max_chunk_rows: max_chunk_rows.or(ctx.max_chunk_rows()),
            state: None,
            host: keep_host.then(|| Arc::new(x.transpose())),
            fallback_cpu: None,
            reg_covar: DEFAULT_REG_COVAR,
            m_steps: 0,
            fallbacks: Vec::new(),
            weights: None,
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
            ctx.write_buffer(&buffer, 0, bytemuck::cast_slice(&data));
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
            return Err(GmmError::DeviceLimit(format!(
                "{k} components exceed the device's {} workgroups per dimension; use device=cpu",
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
            return Err(GmmError::DeviceLimit(format!(
                "{k} components do not fit {ROW_ALIGN} rows of responsibilities in one storage binding; use device=cpu"
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
                    weights: self.chunk_weights(start, rows)?,
                });
                local += rows;
                start += rows;
            }
        }
        let n_chunks = chunks.len();
        let totals = Totals {
            log_likelihood: self.buffer("log-likelihood total", 4, storage_usage())?,
            ll_chunks: if n_chunks > 1 {
                Some(self.buffer("log-likelihood per chunk", n_chunks * 4, storage_usage())?)
            } else {
                None
            },
            moments: self.buffer("M-step moments", k * (d + 1) * 4, storage_usage())?,
            scatter: None,
            chunk_rows: None,
        };
        self.state = Some(State {
            k,
            chunks,
            e_means: self.buffer("means", k * d * 4, storage_usage())?,
            log_const: self.buffer("log-constants", k * 4, storage_usage())?,
            prec: None,
            m_means: self.buffer("M-step means", k * d * 4, storage_usage())?,
            partial: None,
            totals,
            has_resp: false,
        });
        Ok(())
    }

    /// The sample weights of rows `start..start + rows` on the device (f32), or a
    /// placeholder of one float when there are none (the E-step then does not read it).
    fn chunk_weights(&self, start: usize, rows: usize) -> Result<wgpu::Buffer> {
        match &self.weights {
            Some(w) => {
                let b = self.buffer("sample weights", rows * 4, storage_usage())?;
                self.write(&b, &to_f32(w.rows(start, rows).iter().copied()));
                Ok(b)
            }
            None => self.buffer("no sample weights", 4, storage_usage()),
        }
    }

    /// The same backend with sample weights (one per sample, checked by the caller).
    pub(crate) fn with_weights(mut self, weights: Option<Arc<DVector<f64>>>) -> Self {
        self.weights = weights;
        self.state = None;
        self
    }

    fn uniform(&self, dims: Dims) -> wgpu::Buffer {
        self.uniform_bytes(bytemuck::bytes_of(&dims))
    }

    fn uniform_bytes(&self, bytes: &[u8]) -> wgpu::Buffer {
        // create + write rather than mapped-at-creation: a lost device then yields an error
        // at the next wait instead of a panic while mapping.
        let b = self.ctx.device().create_buffer(&wgpu::BufferDescriptor {
            label: Some("gaussmix dims"),
            size: bytes.len() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.ctx.write_buffer(&b, 0, bytes);
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
        self.ctx.write_buffer(buffer, 0, bytemuck::cast_slice(data));
    }

    fn state(&self) -> Result<&State> {
        self.state.as_ref().ok_or_else(|| {
            GmmError::InvalidData("no responsibilities yet: run an E-step or set them first".into())
        })
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
                let w = self.weights.as_ref().map_or(1.0, |w| w[i]);
                data.extend(resp.row(i).iter().map(|&v| (v * w) as f32));
            }
            self.write(&c.resp, &data);
        }
        self.state.as_mut().expect("state").has_resp = true;
        Ok(())
    }

    fn e_step(&mut self, params: &MixtureParams) -> Result<f64> {
        finite_log_likelihood(self.run_e_step(params)?)
    }

    fn m_step_stats(&mut self, covariance_type: CovarianceType) -> Result<SufficientStats> {
        let stats = self.gpu_m_step_stats(covariance_type)?;
        self.with_fallback(stats, covariance_type)
    }

    /// The E-step and the M-step in one submission, with one wait for all their totals.
    fn statistics(
        &mut self,
        params: &MixtureParams,
        covariance_type: CovarianceType,
    ) -> Result<SufficientStats> {
        let mut enc = self.encode_e_step(params)?;
        self.encode_m_step(&mut enc, covariance_type)?;
        let state = self.state()?;
        let mut sources = vec![(&state.totals.log_likelihood, 0, 4)];
        sources.extend(self.m_step_sources(covariance_type)?);
        let words = self.ctx.read_f32_after(enc, &sources)?;
        let total = finite_log_likelihood(words[0] as f64)?;
        let stats = self.parse_m_step(covariance_type, &words[1..])?;
        let mut stats = self.with_fallback(stats, covariance_type)?;
        stats.log_likelihood = Some(total);
        Ok(stats)
    }

    fn responsibilities(&self) -> Result<DMatrix<f64>> {
        self.read_responsibilities()
    }

    fn fallbacks(&self) -> Vec<String> {
        self.fallbacks.clone()
    }

    fn set_reg_covar(&mut self, reg_covar: f64) {
        self.reg_covar = reg_covar;
    }

    fn log_likelihoods(&self) -> Result<DVector<f64>> {
        GpuBackend::log_likelihoods(self)
    }

    fn chunks(&self) -> usize {
        self.n_chunks()
    }

    fn sample_weights(&self) -> Option<&DVector<f64>> {
        self.weights.as_deref()
    }
}
