//! With N = 400 faces of D = 4096 pixels and K = 24 full components, nothing of size D × D is
//! ever allocated — nor, when completing a face from its upper half (O = M = 2048 observed and
//! missing pixels), anything of size M × M. A counting global allocator (this test binary only,
//! which is why it is not part of `tests/it`) records the largest single allocation and the
//! peak of live bytes while the library works.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use gaussmix::condition::PatternConditioner;
use gaussmix::{fit, Covariances, DeviceChoice, FitConfig, FitOptions, GaussianMixture, Samples};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

struct CountingAllocator;

static LARGEST: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static RECORDING: AtomicBool = AtomicBool::new(false);
/// The tests share the counters: one records at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn grew(size: usize) {
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    if RECORDING.load(Ordering::Relaxed) {
        LARGEST.fetch_max(size, Ordering::Relaxed);
        PEAK.fetch_max(live, Ordering::Relaxed);
    }
}

fn shrank(size: usize) {
    LIVE.fetch_sub(size, Ordering::Relaxed);
}

// SAFETY: defers every call to the system allocator; only counts sizes.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrank(layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            shrank(layout.size());
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Runs `f` with the counters on: its result, the largest single allocation, and the peak of
/// live bytes above what was live when it started.
fn recorded<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    let base = LIVE.load(Ordering::SeqCst);
    LARGEST.store(0, Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    RECORDING.store(true, Ordering::SeqCst);
    let out = f();
    RECORDING.store(false, Ordering::SeqCst);
    let peak = PEAK.load(Ordering::SeqCst).saturating_sub(base);
    (out, LARGEST.load(Ordering::SeqCst), peak)
}

const F64: usize = std::mem::size_of::<f64>();

#[test]
fn faces_fit_score_sample_and_completion_never_allocate_an_m_by_m_matrix() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let faces = gaussmix::faces::olivetti_faces().unwrap();
    let (n, d) = faces.shape();
    assert_eq!((n, d), (400, 4096));
    let config = FitConfig::new(24).max_iter(2).seed(0);
    let observed = gaussmix::faces::upper_half();
    let m = d - observed.len();

    let ((model, scores, labels, draws, lower, drawn_lower), largest, _) = recorded(|| {
        let model = fit(
            &Samples::new(&faces).unwrap(),
            &config,
            FitOptions::new().device(DeviceChoice::Cpu),
        )
        .unwrap();
        let scores = model.score_samples(&faces).unwrap();
        let labels = model.predict(&faces).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (draws, _) = model.sample(24, &mut rng).unwrap();
        // Completing a face from its upper half: conditioning on 2048 observed pixels.
        let conditioner = PatternConditioner::new(model.params(), &observed).unwrap();
        let x_o: Vec<f64> = observed.iter().map(|&j| faces[(7, j)]).collect();
        let lower = conditioner.conditional_mean(&x_o).unwrap();
        let drawn_lower = conditioner.draw(&x_o, &mut rng).unwrap();
        (model, scores, labels, draws, lower, drawn_lower)
    });
    assert_eq!(lower.len(), m);
    assert!(lower
        .iter()
        .chain(drawn_lower.iter())
        .all(|v| v.is_finite()));
    assert!(matches!(model.covariances(), Covariances::LowRank(_)));
    assert!(scores.iter().all(|v| v.is_finite()));
    assert_eq!(labels.len(), n);
    assert_eq!(draws.shape(), (24, d));
    // The README's claim: no D × D matrix, and conditioning builds no M × M (or O × O) one.
    let m_by_m = m * m * F64;
    assert!(
        largest < m_by_m,
        "largest allocation {largest} bytes is not below one M × M matrix ({m_by_m} bytes)"
    );
    // The data themselves (N × D f64) are the biggest thing the path needs.
    assert!(largest >= n * d * F64);
}

#[test]
fn the_one_line_door_fits_the_faces_on_the_low_rank_path_in_well_under_a_gigabyte() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let faces = gaussmix::faces::olivetti_faces().unwrap();
    let (n, d) = faces.shape();
    let started = std::time::Instant::now();
    let (model, largest, peak) =
        recorded(|| GaussianMixture::fit(&faces, &FitConfig::new(24)).unwrap());
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        matches!(model.covariances(), Covariances::LowRank(_)),
        "GaussianMixture::fit took the dense path: {}",
        model.summary().device
    );
    assert!(model.summary().converged, "{:?}", model.summary());
    let d_by_d = d * d * F64;
    assert!(
        largest < d_by_d,
        "largest allocation {largest} ≥ one D × D matrix ({d_by_d})"
    );
    assert!(
        largest < n * d * F64 * 2,
        "largest allocation {largest} bytes"
    );
    assert!(
        peak < 1 << 30,
        "peak of live bytes {peak} is not under 1 GiB"
    );
    // Not a timing assertion (benchmarks hold those): the figure, for the record.
    eprintln!(
        "GaussianMixture::fit(faces 400 × 4096, K = 24): {seconds:.3} s, {} iterations, largest allocation {:.1} MB, peak live {:.1} MB",
        model.summary().n_iter,
        largest as f64 / 1e6,
        peak as f64 / 1e6
    );
}

/// A streamed fit's memory is O(chunk · D + K · D² + the sampled rows), whatever N is:
/// on 300 000 × 4 values (9.6 MB as f64) read in chunks of 4 096 rows, no allocation holds a
/// quarter of the data, and the live bytes never reach half of them.
#[test]
fn a_streamed_fit_never_holds_the_data() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let (n, d) = (300_000, 4);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let x = nalgebra::DMatrix::from_fn(n, d, |i, _| {
        use rand::Rng;
        (i % 3) as f64 * 6.0 + rng.random::<f64>()
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npy");
    gaussmix::io::write_matrix(&path, &x).unwrap();
    drop(x);
    let data_bytes = n * d * F64;
    let (model, largest, peak) = recorded(|| {
        let samples = Samples::streamed(gaussmix::io::NpyRows::open(&path).unwrap(), 4096).unwrap();
        fit(&samples, &FitConfig::new(3).seed(1), FitOptions::new()).unwrap()
    });
    assert!(model.summary().converged);
    eprintln!(
        "streamed fit of {n} × {d}: largest allocation {:.2} MB, peak live {:.2} MB, data {:.1} MB",
        largest as f64 / 1e6,
        peak as f64 / 1e6,
        data_bytes as f64 / 1e6
    );
    assert!(
        largest < data_bytes / 4,
        "largest allocation {largest} of {data_bytes}"
    );
    assert!(peak < data_bytes / 2, "peak live {peak} of {data_bytes}");
}
