//! With N = 400 faces of D = 4096 pixels and K = 24 full components, nothing of size D × D is
//! ever allocated: a counting global allocator (this test binary only) records the largest single
//! allocation made during a fit, scoring, sampling and completing a face from its upper half.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use gaussmix::condition::PatternConditioner;
use gaussmix::{fit, Covariances, DeviceChoice, FitConfig, FitOptions, FullPath};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

struct LargestAllocation;

static LARGEST: AtomicUsize = AtomicUsize::new(0);
static RECORDING: AtomicBool = AtomicBool::new(false);

// SAFETY: defers every call to the system allocator; only records sizes.
unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if RECORDING.load(Ordering::Relaxed) {
            LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if RECORDING.load(Ordering::Relaxed) {
            LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        }
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if RECORDING.load(Ordering::Relaxed) {
            LARGEST.fetch_max(new_size, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

#[test]
fn faces_fit_score_and_sample_never_allocate_a_d_by_d_matrix() {
    let faces = gaussmix::faces::olivetti_faces().unwrap();
    let (n, d) = faces.shape();
    assert_eq!((n, d), (400, 4096));
    let config = FitConfig::new(24).max_iter(2).seed(0);

    RECORDING.store(true, Ordering::SeqCst);
    let model = fit(
        &faces,
        &config,
        FitOptions {
            device: DeviceChoice::Cpu,
            full_path: FullPath::Auto,
            ..Default::default()
        },
        &mut |_| {},
    )
    .unwrap();
    let scores = model.score_samples(&faces).unwrap();
    let labels = model.predict(&faces).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (draws, _) = model.sample(24, &mut rng).unwrap();
    // Completing a face from its upper half: conditioning on 2048 observed pixels.
    let observed = gaussmix::faces::upper_half();
    let conditioner = PatternConditioner::new(&model.params, &observed).unwrap();
    let x_o: Vec<f64> = observed.iter().map(|&j| faces[(7, j)]).collect();
    let lower = conditioner.conditional_mean(&x_o).unwrap();
    let drawn_lower = conditioner.draw(&x_o, &mut rng).unwrap();
    RECORDING.store(false, Ordering::SeqCst);
    assert_eq!(lower.len(), d - observed.len());
    assert!(lower
        .iter()
        .chain(drawn_lower.iter())
        .all(|v| v.is_finite()));

    assert!(matches!(model.covariances(), Covariances::LowRank(_)));
    assert!(scores.iter().all(|v| v.is_finite()));
    assert_eq!(labels.len(), n);
    assert_eq!(draws.shape(), (24, d));
    let largest = LARGEST.load(Ordering::SeqCst);
    let d_by_d = d * d * std::mem::size_of::<f64>();
    assert!(
        largest < d_by_d,
        "largest allocation {largest} bytes is not below one D × D matrix ({d_by_d} bytes)"
    );
    // The data themselves (N × D f64) are the biggest thing the path needs.
    assert!(largest >= n * d * std::mem::size_of::<f64>());
}
