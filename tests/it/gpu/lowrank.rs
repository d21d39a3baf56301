//! The GPU half of the exact low-rank path: the exact integer products of
//! `shaders/exact_products.wgsl` equal the host's emulation of the same arithmetic bit for bit
//! and an f64 product to rounding, and a low-rank fit with its Gram matrix on the GPU is the
//! CPU's fit to 1e-9.
//!
//! Without an adapter these tests print a notice and pass, unless `CI=true`, where they fail.

use crate::common::context;

use gaussmix::gpu::exact::{self, host_products, slice_columns};
use gaussmix::{
    fit, Covariances, Device, DeviceChoice, FitConfig, FitOptions, FullPath, GaussianMixture,
    Samples,
};
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// Values over a wide range of magnitudes and both signs, some columns all zero.
fn awkward(d: usize, n: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    DMatrix::from_fn(d, n, |_, j| {
        if j % 7 == 3 {
            return 0.0;
        }
        let z: f64 = rng.sample(StandardNormal);
        let scale = 10f64.powi((j % 5) as i32 * 4 - 8);
        if rng.random::<f64>() < 0.1 {
            z * scale * 1e-9
        } else {
            z * scale
        }
    })
}

/// `Σ_l |a_li b_lj|`: the scale of an f64 product's rounding.
fn abs_products(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    a.abs().transpose() * b.abs()
}

#[test]
fn exact_products_match_the_host_bit_for_bit_and_f64_to_rounding() {
    let Some(ctx) = context() else { return };
    // D = 1100 crosses the kernel's 1024-feature flush; 37 and 19 leave partial tiles.
    let a = awkward(1100, 37, 1);
    let b = awkward(1100, 19, 2);
    let gpu = exact::transpose_times(&ctx, a.as_view(), b.as_view()).unwrap();
    let host = host_products(
        &slice_columns(a.as_view()).unwrap(),
        &slice_columns(b.as_view()).unwrap(),
    );
    assert_eq!(gpu.shape(), (37, 19));
    for (g, h) in gpu.iter().zip(host.iter()) {
        assert_eq!(g.to_bits(), h.to_bits(), "gpu {g:e} host {h:e}");
    }
    // The documented bound, 24 · D · 2⁻⁵⁴ · max|a_i| max|b_j| (plus the final rounding),
    // against the f64 product (whose own rounding is below D · 2⁻⁵³ · Σ|a_l b_l|).
    let reference = a.transpose() * &b;
    let scale = abs_products(&a, &b);
    for i in 0..37 {
        for j in 0..19 {
            let err = (gpu[(i, j)] - reference[(i, j)]).abs();
            let bound = 24.0 * 1100.0 * 2f64.powi(-54) * a.column(i).amax() * b.column(j).amax()
                + 1100.0 * 2f64.powi(-53) * scale[(i, j)]
                + f64::EPSILON * reference[(i, j)].abs();
            assert!(err <= bound, "({i},{j}): {err:e} > {bound:e}");
        }
    }
    // Blocks smaller than the matrices give the same numbers.
    let blocked = exact::transpose_times_in_blocks(&ctx, a.as_view(), b.as_view(), 5).unwrap();
    assert_eq!(blocked, gpu);
    // The Gram matrix (upper tiles computed, the rest mirrored) is exactly symmetric and equal
    // to the general product, in one block and in blocks that are not multiples of the tile.
    let g = exact::gram(&ctx, a.as_view()).unwrap();
    assert_eq!(g, g.transpose());
    let general = exact::transpose_times(&ctx, a.as_view(), a.as_view()).unwrap();
    assert_eq!(g, general);
    for block in [21, 33] {
        let g_blocks = exact::gram_in_blocks(&ctx, a.as_view(), block).unwrap();
        assert_eq!(g_blocks, general, "blocks of {block}");
    }
    // Bad input is an error, not a wrong number.
    let mut bad = b.clone();
    bad[(5, 5)] = f64::NAN;
    assert!(exact::transpose_times(&ctx, a.as_view(), bad.as_view()).is_err());
    let short = DMatrix::<f64>::zeros(1099, 2);
    assert!(exact::transpose_times(&ctx, a.as_view(), short.as_view()).is_err());
}

/// `n` samples in `d` dimensions from 3 clusters with 4-dimensional latent structure.
fn clustered(n: usize, d: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut normal = move || rng.sample::<f64, _>(StandardNormal);
    let centres = DMatrix::from_fn(3, d, |_, _| 2.0 * normal());
    let loadings: Vec<DMatrix<f64>> = (0..3)
        .map(|_| DMatrix::from_fn(d, 4, |_, _| 0.5 * normal()))
        .collect();
    DMatrix::from_fn(n, d, |i, j| {
        let c = i % 3;
        let z: f64 = (0..4).map(|f| loadings[c][(j, f)] * normal()).sum();
        5.0 + centres[(c, j)] + z + 0.2 * normal()
    })
}

fn fit_on(x: &DMatrix<f64>, device: DeviceChoice, notices: &mut Vec<String>) -> GaussianMixture {
    let mut notice = |s: &str| notices.push(s.to_string());
    fit(
        &Samples::new(x).unwrap(),
        &FitConfig::new(3).seed(4).max_iter(30),
        FitOptions::new()
            .device(device)
            .full_path(FullPath::Auto)
            .notice(&mut notice),
    )
    .unwrap()
}

#[test]
fn low_rank_fit_with_the_gram_matrix_on_the_gpu_is_the_cpu_fit() {
    let Some(shared) = context() else { return };
    let x = clustered(60, 240, 9);
    let mut notices = Vec::new();
    let cpu = fit_on(&x, DeviceChoice::Cpu, &mut notices);
    assert!(notices.is_empty(), "{notices:?}");
    let gpu = fit_on(&x, DeviceChoice::Gpu, &mut notices);
    assert!(
        notices
            .iter()
            .any(|s| s.contains("Gram matrix is computed on the GPU")),
        "{notices:?}"
    );
    assert!(matches!(gpu.params().covariances, Covariances::LowRank(_)));
    assert!(
        gpu.summary().device.contains("Gram matrix on gpu"),
        "{}",
        gpu.summary().device
    );
    let (hc, hg) = (
        &cpu.summary().lower_bound_history,
        &gpu.summary().lower_bound_history,
    );
    assert_eq!(hc.len(), hg.len());
    for (a, b) in hc.iter().zip(hg.iter()) {
        assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "{a} vs {b}");
    }
    assert!((&cpu.params().means - &gpu.params().means).amax() < 1e-9);
    assert!((&cpu.params().weights - &gpu.params().weights).amax() < 1e-9);
    // No M-step fell back to f64: the GPU's own products served throughout.
    assert!(
        gpu.summary().fallbacks.is_empty(),
        "{:?}",
        gpu.summary().fallbacks
    );
    // The same fit on a device handed in by another wgpu application.
    let app = Device::from_wgpu(shared.device(), shared.queue());
    let on_app = fit(
        &Samples::new(&x).unwrap(),
        &FitConfig::new(3).seed(4).max_iter(30),
        FitOptions::new().on(&app).full_path(FullPath::LowRank),
    )
    .unwrap();
    assert!(matches!(
        on_app.params().covariances,
        Covariances::LowRank(_)
    ));
    assert!(
        on_app.summary().device.contains("Gram matrix on gpu"),
        "{}",
        on_app.summary().device
    );
    assert!(
        on_app.summary().fallbacks.is_empty(),
        "{:?}",
        on_app.summary().fallbacks
    );
    assert_eq!(
        on_app.summary().lower_bound_history,
        gpu.summary().lower_bound_history
    );
    let y = clustered(20, 240, 10);
    let (sc, sg) = (
        cpu.score_samples(&y).unwrap(),
        gpu.score_samples(&y).unwrap(),
    );
    for (a, b) in sc.iter().zip(sg.iter()) {
        assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "{a} vs {b}");
    }
}
