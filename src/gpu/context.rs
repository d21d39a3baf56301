//! The wgpu device the GPU engine runs on: created here (headless) or handed in by another
//! wgpu application.

use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::error::{GmmError, Result};
use crate::gpu::kernels::Kernels;
use crate::gpu::traffic::{Traffic, TrafficCounter};

/// How long to wait for a map callback before polling the device again.
const CALLBACK_POLL: Duration = Duration::from_millis(20);
/// How long a map callback may lag behind its (finished) submission before the device is
/// taken to be hung. Generous: under heavy load another thread may be descheduled between
/// retiring our submission and firing our callback.
const CALLBACK_PATIENCE: Duration = Duration::from_secs(120);

/// What the engine reports about an adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterSummary {
    /// The adapter's name (e.g. `llvmpipe (LLVM 15.0.7, 256 bits)`).
    pub name: String,
    /// Graphics API backend (Vulkan, Metal, Dx12, Gl).
    pub backend: String,
    /// Discrete, integrated, virtual or CPU.
    pub device_type: String,
    /// Driver name and version information.
    pub driver: String,
    /// Largest storage buffer binding, bytes (data beyond it is processed in chunks).
    pub max_storage_buffer_binding_size: u64,
    /// Largest buffer, bytes.
    pub max_buffer_size: u64,
    /// Whether the adapter offers 64-bit floats in shaders.
    pub shader_f64: bool,
}

impl AdapterSummary {
    fn of(info: &wgpu::AdapterInfo, limits: &wgpu::Limits, features: wgpu::Features) -> Self {
        AdapterSummary {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: format!("{} {}", info.driver, info.driver_info)
                .trim()
                .to_string(),
            max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
            max_buffer_size: limits.max_buffer_size,
            shader_f64: features.contains(wgpu::Features::SHADER_F64),
        }
    }
}

/// The backends gaussmix opens: Vulkan, Metal, DX12 (wgpu's primary backends) unless
/// `WGPU_BACKEND` names others. Not OpenGL: its compute support is too limited for the engine,
/// and on Linux probing it opens EGL, whose Mesa build tries to reach a Wayland display and
/// prints `error: XDG_RUNTIME_DIR is invalid or not set in the environment.` on a headless
/// machine — noise in every default `gaussmix fit`.
fn backends() -> wgpu::Backends {
    wgpu::Backends::from_env().unwrap_or(wgpu::Backends::PRIMARY)
}

/// A headless instance over [`backends`], with wgpu's other settings from the environment.
///
/// Mesa's implicit Vulkan layer `VK_LAYER_MESA_device_select` connects to a Wayland display
/// when it sorts devices and prints `error: XDG_RUNTIME_DIR is invalid or not set in the
/// environment.` on a headless machine. wgpu chooses among the adapters itself, so the layer
/// adds nothing here: unless the user set it, `NODEVICE_SELECT=1` (the layer's own switch) is
/// set once, before the first instance is created.
fn instance() -> wgpu::Instance {
    static QUIET_DEVICE_SELECT: std::sync::Once = std::sync::Once::new();
    QUIET_DEVICE_SELECT.call_once(|| {
        if std::env::var_os("NODEVICE_SELECT").is_none() {
            std::env::set_var("NODEVICE_SELECT", "1");
        }
    });
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    desc.backends = backends();
    wgpu::Instance::new(desc)
}

/// Every adapter gaussmix can use on this machine (Vulkan, Metal, DX12, or the backends named
/// by `WGPU_BACKEND`).
pub fn list_adapters() -> Vec<AdapterSummary> {
    let instance = instance();
    pollster::block_on(instance.enumerate_adapters(backends()))
        .iter()
        .map(|a| AdapterSummary::of(&a.get_info(), &a.limits(), a.features()))
        .collect()
}

/// What the device's callbacks reported.
#[derive(Default)]
struct Faults {
    /// Why the device was lost, once it is (sticky: a lost device stays lost).
    lost: Option<String>,
    /// Uncaptured errors not yet reported.
    errors: Vec<String>,
}

struct Inner {
    device: wgpu::Device,
    queue: wgpu::Queue,
    adapter: Option<AdapterSummary>,
    limits: wgpu::Limits,
    kernels: OnceLock<Kernels>,
    /// Uncaptured errors and device loss, recorded by callbacks on a device we created.
    faults: Arc<Mutex<Faults>>,
    /// Bytes written and read back, and host round trips, through this context.
    traffic: TrafficCounter,
}

/// A wgpu device and queue with the engine's compiled kernels. Cheap to clone (shared).
#[derive(Clone)]
pub struct GpuContext {
    inner: Arc<Inner>,
    /// At most this many rows per buffer and per dispatch (a tuning and testing knob).
    max_chunk_rows: Option<usize>,
}

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl GpuContext {
    /// Creates a headless device on the highest-performance adapter.
    pub fn new() -> Result<Self> {
        Self::with_power_preference(wgpu::PowerPreference::HighPerformance)
    }

    /// Creates a headless device on the adapter wgpu picks for `power`.
    ///
    /// The `WGPU_BACKEND` and `WGPU_ADAPTER_NAME` environment variables are honoured.
    pub fn with_power_preference(power: wgpu::PowerPreference) -> Result<Self> {
        let instance = instance();
        let adapter = match pollster::block_on(wgpu::util::initialize_adapter_from_env(&instance, None)) {
            Ok(a) => a,
            Err(_) => pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: power,
                force_fallback_adapter: false,
                compatible_surface: None,
                ..Default::default()
            }))
            .map_err(|e| {
                GmmError::GpuUnavailable(format!(
                    "no GPU adapter found ({e}); install a Vulkan, Metal or DirectX 12 driver (Mesa's lavapipe works as a software fallback) or use device=cpu"
                ))
            })?,
        };
        let info = adapter.get_info();
        let limits = adapter.limits();
        let summary = AdapterSummary::of(&info, &limits, adapter.features());
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("gaussmix"),
            required_features: wgpu::Features::empty(),
            // The adapter's own limits: the largest bindings and buffers it allows.
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| {
            GmmError::GpuUnavailable(format!("could not open a device on {}: {e}", info.name))
        })?;
        let faults = Arc::new(Mutex::new(Faults::default()));
        let f = faults.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
            f.errors.push(e.to_string());
        }));
        let f = faults.clone();
        device.set_device_lost_callback(move |reason, msg| {
            let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
            f.lost = Some(format!("{reason:?}: {msg}"));
        });
        let limits = device.limits();
        Ok(GpuContext {
            inner: Arc::new(Inner {
                device,
                queue,
                adapter: Some(summary),
                limits,
                kernels: OnceLock::new(),
                faults,
                traffic: TrafficCounter::default(),
            }),
            max_chunk_rows: None,
        })
    }

    /// Wraps a device and queue owned by another wgpu application. Their error handlers and
    /// device-lost callback are left alone; the engine's own failures still come back as errors.
    pub fn from_device(device: &wgpu::Device, queue: &wgpu::Queue) -> Self {
        GpuContext {
            inner: Arc::new(Inner {
                device: device.clone(),
                queue: queue.clone(),
                adapter: None,
                limits: device.limits(),
                kernels: OnceLock::new(),
                faults: Arc::new(Mutex::new(Faults::default())),
                traffic: TrafficCounter::default(),
            }),
            max_chunk_rows: None,
        }
    }

    /// The same device, processing data in chunks of at most `rows` rows (rounded up to a
    /// multiple of 64) per buffer and per dispatch, as data larger than one storage binding
    /// are. A tuning and testing knob.
    pub fn with_max_chunk_rows(&self, rows: usize) -> Self {
        GpuContext {
            inner: self.inner.clone(),
            max_chunk_rows: Some(rows),
        }
    }

    /// The chunk size set by [`GpuContext::with_max_chunk_rows`].
    pub fn max_chunk_rows(&self) -> Option<usize> {
        self.max_chunk_rows
    }

    /// A process-wide context on the default adapter, created on first use (what
    /// [`crate::Device::gpu`] hands out; no engine reaches for it).
    pub(crate) fn shared() -> Result<Self> {
        static SHARED: OnceLock<std::result::Result<GpuContext, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                GpuContext::new().map_err(|e| match e {
                    GmmError::GpuUnavailable(m) => m,
                    other => other.to_string(),
                })
            })
            .clone()
            .map_err(GmmError::GpuUnavailable)
    }

    /// The wgpu device.
    pub fn device(&self) -> &wgpu::Device {
        &self.inner.device
    }

    /// The wgpu queue.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.inner.queue
    }

    /// The device's limits.
    pub fn limits(&self) -> &wgpu::Limits {
        &self.inner.limits
    }

    /// The adapter, when this context created the device itself.
    pub fn adapter(&self) -> Option<&AdapterSummary> {
        self.inner.adapter.as_ref()
    }

    /// One line: adapter name, backend, type and the binding limit.
    pub fn describe(&self) -> String {
        let mib = self.inner.limits.max_storage_buffer_binding_size as f64 / (1u64 << 20) as f64;
        match &self.inner.adapter {
            Some(a) => format!(
                "gpu ({}, {}, {}, f32, max binding {mib:.0} MiB)",
                a.name, a.backend, a.device_type
            ),
            None => format!("gpu (host application's device, f32, max binding {mib:.0} MiB)"),
        }
    }

    /// The host–device traffic through this context so far (every clone of it, and so every
    /// engine and query on it, counts): subtract an earlier snapshot to get what happened in
    /// between, e.g. per EM iteration.
    pub fn traffic(&self) -> Traffic {
        self.inner.traffic.snapshot()
    }

    /// Writes `data` into `buffer` at `offset` through the queue, counting the bytes.
    pub(crate) fn write_buffer(&self, buffer: &wgpu::Buffer, offset: u64, data: &[u8]) {
        self.inner.traffic.wrote(data.len() as u64);
        self.inner.queue.write_buffer(buffer, offset, data);
    }

    pub(crate) fn kernels(&self) -> &Kernels {
        self.inner
            .kernels
            .get_or_init(|| Kernels::new(&self.inner.device))
    }

    /// Fails when the device was lost (every later call fails too), or with the first
    /// uncaptured error recorded since the last check.
    pub(crate) fn check_faults(&self) -> Result<()> {
        let has_errors = {
            let f = self.inner.faults.lock().unwrap_or_else(|p| p.into_inner());
            f.lost.is_none() && !f.errors.is_empty()
        };
        if has_errors {
            // A destroyed or lost device reports its loss only from a later poll, while
            // work on it already fails validation ("buffer is invalid"): poll once so that
            // the loss, the cause, is what we report.
            let _ = self.inner.device.poll(wgpu::PollType::Poll);
        }
        let mut f = self.inner.faults.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(why) = f.lost.clone() {
            f.errors.clear();
            return Err(GmmError::DeviceLost(format!(
                "the GPU device was lost ({why}); nothing was written from this run: rerun it, or use device=cpu"
            )));
        }
        if let Some(first) = f.errors.first().cloned() {
            f.errors.clear();
            return Err(GmmError::Gpu(first));
        }
        Ok(())
    }

    /// Whether the device was lost (as far as its callbacks have said).
    pub fn is_lost(&self) -> bool {
        self.inner
            .faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .lost
            .is_some()
    }

    /// Runs `f` (buffer creation, say) and turns an out-of-memory or validation error on the
    /// device into an error naming `what`.
    pub(crate) fn scoped<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T> {
        let oom = self
            .inner
            .device
            .push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self
            .inner
            .device
            .push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        let v = pollster::block_on(validation.pop());
        let o = pollster::block_on(oom.pop());
        if let Some(e) = o {
            return Err(GmmError::OutOfMemory(format!(
                "out of GPU memory for {what} ({e}); use fewer samples or components, or device=cpu"
            )));
        }
        if let Some(e) = v {
            return Err(GmmError::Gpu(format!("{what}: {e}")));
        }
        Ok(out)
    }

    /// Copies `bytes` bytes from `offset` of each `(buffer, offset, bytes)` into one staging
    /// buffer, waits, and returns them as f32, in order.
    pub(crate) fn read_f32(&self, sources: &[(&wgpu::Buffer, u64, u64)]) -> Result<Vec<f32>> {
        self.read_words(sources)
    }

    /// As [`GpuContext::read_f32`], for u32 words.
    pub(crate) fn read_u32(&self, sources: &[(&wgpu::Buffer, u64, u64)]) -> Result<Vec<u32>> {
        self.read_words(sources)
    }

    fn read_words<T: bytemuck::Pod>(
        &self,
        sources: &[(&wgpu::Buffer, u64, u64)],
    ) -> Result<Vec<T>> {
        let enc = self
            .inner
            .device
            .create_command_encoder(&Default::default());
        self.read_words_after(enc, sources)
    }

    /// Submits the work recorded in `enc`, then (in the same submission) copies `bytes`
    /// bytes from `offset` of each `(buffer, offset, bytes)` into one staging buffer, waits
    /// once, and returns them as f32, in order: one host round trip.
    pub(crate) fn read_f32_after(
        &self,
        enc: wgpu::CommandEncoder,
        sources: &[(&wgpu::Buffer, u64, u64)],
    ) -> Result<Vec<f32>> {
        self.read_words_after(enc, sources)
    }

    fn read_words_after<T: bytemuck::Pod>(
        &self,
        mut enc: wgpu::CommandEncoder,
        sources: &[(&wgpu::Buffer, u64, u64)],
    ) -> Result<Vec<T>> {
        let total: u64 = sources.iter().map(|s| s.2).sum();
        if total == 0 {
            self.inner.queue.submit([enc.finish()]);
            return Ok(Vec::new());
        }
        let device = &self.inner.device;
        let staging = self.scoped("a read-back buffer", || {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("gaussmix read-back"),
                size: total,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        })?;
        let mut at = 0;
        for &(buf, offset, bytes) in sources {
            enc.copy_buffer_to_buffer(buf, offset, &staging, at, bytes);
            at += bytes;
        }
        let index = self.inner.queue.submit([enc.finish()]);
        self.map_read_words(&staging, index)
    }

    /// Maps a `MAP_READ` buffer written by submission `index`, waits, and returns its
    /// contents (one host round trip, counted in [`GpuContext::traffic`]).
    ///
    /// The device may be shared by several threads (the process-wide [`GpuContext::shared`],
    /// or an application's device). wgpu fires a map callback on whichever thread's `poll`
    /// retires the submission, *after* that poll has released the device: so our own poll can
    /// return with the work done while the callback is still about to run on another thread.
    /// Hence we wait for the callback itself, polling again while it has not come, rather than
    /// expecting it the moment our poll returns.
    fn map_read_words<T: bytemuck::Pod>(
        &self,
        staging: &wgpu::Buffer,
        index: wgpu::SubmissionIndex,
    ) -> Result<Vec<T>> {
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        let mut done_since: Option<Instant> = None;
        let mapped = loop {
            if let Err(e) = self.inner.device.poll(wgpu::PollType::Wait {
                submission_index: Some(index.clone()),
                timeout: None,
            }) {
                self.check_faults()?;
                return Err(GmmError::DeviceLost(format!(
                    "waiting for the GPU failed ({e}); the device may have been lost: rerun, or use device=cpu"
                )));
            }
            match rx.recv_timeout(CALLBACK_POLL) {
                Ok(r) => break r,
                Err(RecvTimeoutError::Timeout) => {
                    self.check_faults()?;
                    let since = *done_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > CALLBACK_PATIENCE {
                        return Err(GmmError::DeviceLost(format!(
                            "the GPU finished the work but the read-back was not delivered within {} s (device hung or lost); rerun, or use device=cpu",
                            CALLBACK_PATIENCE.as_secs()
                        )));
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.check_faults()?;
                    return Err(GmmError::DeviceLost(
                        "the GPU dropped the read-back without completing it (device lost); rerun, or use device=cpu".into(),
                    ));
                }
            }
        };
        if let Err(e) = mapped {
            self.check_faults()?;
            return Err(GmmError::DeviceLost(format!(
                "reading results back from the GPU failed ({e}); the device may have been lost: rerun, or use device=cpu"
            )));
        }
        self.check_faults()?;
        self.inner.traffic.read_back(staging.size());
        let out = {
            let view = staging
                .get_mapped_range(..)
                .map_err(|e| GmmError::Gpu(format!("mapping the read-back buffer: {e}")))?;
            bytemuck::cast_slice::<u8, T>(&view).to_vec()
        };
        staging.unmap();
        Ok(out)
    }
}
