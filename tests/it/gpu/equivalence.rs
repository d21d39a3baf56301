//! The GPU backend (f32 on the device, f64 reductions on the host) agrees with the f64 CPU
//! backend on the same data and the same (label) initialisation, for every covariance type,
//! odd dimensions (not multiples of the 16/64 tiles), K = 1, tiny N, and data processed in
//! many chunks (forced small through the chunk-size knob so it stays fast on lavapipe).
//!
//! Without an adapter these tests print a notice and pass, unless `CI=true`, where they fail.
//!
//! Tolerances (f32 has a relative precision of 6e-8; sums run over ≤ 1024 samples per group):
//! counts 1e-5 relative; means 1e-4 × data scale; covariances 2e-4 × the largest entry;
//! per-sample log-likelihoods 2e-4 × (1 + |value|); responsibilities 1e-3 absolute;
//! lower-bound history 1e-4 × (1 + |value|).

mod common;

use common::context;

use gaussmix::backend::cpu::{normalize_in_place, weighted_log_prob, CpuBackend};
use gaussmix::backend::Backend;
use gaussmix::em;
use gaussmix::gpu::{GpuBackend, GpuContext};
use gaussmix::init::one_hot;
use gaussmix::{CovarianceType, Covariances, FitConfig, GmmError, InitMethod, MixtureParams};
use nalgebra::{DMatrix, DVector};

/// Data from three separated, correlated components in `d` dimensions, and labels in 0..k.
fn data(n: usize, d: usize, k: usize, seed: u64) -> (DMatrix<f64>, Vec<usize>) {
    let (x, labels) = common::draw(&common::truth(d), n, seed);
    let labels = labels.iter().map(|&l| l % k).collect();
    (x, labels)
}

fn covariance_entries(c: &Covariances) -> Vec<f64> {
    match c {
        Covariances::Full(m) => m.iter().flat_map(|m| m.iter().copied()).collect(),
        Covariances::Tied(m) | Covariances::Diag(m) => m.iter().copied().collect(),
        Covariances::Spherical(v) => v.iter().copied().collect(),
        Covariances::LowRank(_) => unreachable!(),
    }
}

fn assert_close(what: &str, a: &[f64], b: &[f64], tol: impl Fn(f64) -> f64) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol(*x),
            "{what}[{i}]: cpu {x} vs gpu {y} (diff {:e}, tolerance {:e})",
            (x - y).abs(),
            tol(*x)
        );
    }
}

fn assert_stats_close(ct: CovarianceType, cpu: &mut CpuBackend, gpu: &mut GpuBackend) {
    let sc = cpu.m_step_stats(ct).unwrap();
    let sg = gpu.m_step_stats(ct).unwrap();
    assert_close("N_k", sc.nk.as_slice(), sg.nk.as_slice(), |v| {
        1e-5 * v.abs() + 1e-4
    });
    let scale = sc.means.amax().max(1.0);
    assert_close("means", sc.means.as_slice(), sg.means.as_slice(), |_| {
        1e-4 * scale
    });
    let cc = covariance_entries(&sc.covariances);
    let cg = covariance_entries(&sg.covariances);
    let cmax = cc.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert_close("covariances", &cc, &cg, |_| 2e-4 * cmax);
}

/// One M-step from labels, one E-step, one M-step from the soft responsibilities.
fn one_iteration_agrees(ct: CovarianceType, n: usize, d: usize, k: usize, chunk: Option<usize>) {
    let Some(ctx) = context() else { return };
    let (x, labels) = data(n, d, k, 11 + n as u64 + d as u64);
    let mut cpu = CpuBackend::new(&x);
    let mut gpu = match chunk {
        Some(c) => GpuBackend::from_host_with_chunk_rows(&ctx, &x, c).unwrap(),
        None => GpuBackend::from_host(&ctx, &x).unwrap(),
    };
    let resp = one_hot(&labels, k);
    cpu.set_responsibilities(&resp).unwrap();
    gpu.set_responsibilities(&resp).unwrap();
    if let Some(c) = chunk {
        assert_eq!(gpu.n_chunks(), n.div_ceil(c.next_multiple_of(64)));
    }
    assert_stats_close(ct, &mut cpu, &mut gpu);

    let params = MixtureParams::from_stats(cpu.m_step_stats(ct).unwrap(), 1e-6).unwrap();
    let lb_cpu = cpu.e_step(&params).unwrap();
    let lb_gpu = gpu.e_step(&params).unwrap();
    assert!(
        (lb_cpu - lb_gpu).abs() <= 1e-4 * (1.0 + lb_cpu.abs()),
        "lower bound: cpu {lb_cpu} vs gpu {lb_gpu}"
    );

    let mut wlp = weighted_log_prob(&params, cpu.samples_as_columns().as_view()).unwrap();
    let ll_cpu = normalize_in_place(&mut wlp);
    let ll_gpu = gpu.log_likelihoods().unwrap();
    assert_close("log-likelihood", &ll_cpu, ll_gpu.as_slice(), |v| {
        2e-4 * (1.0 + v.abs())
    });
    let rc = cpu.responsibilities().unwrap();
    let rg = gpu.responsibilities().unwrap();
    assert_eq!(rg.shape(), (n, k));
    assert_close("responsibilities", rc.as_slice(), rg.as_slice(), |_| 1e-3);
    for i in 0..n {
        let s: f64 = rg.row(i).sum();
        assert!((s - 1.0).abs() < 1e-5, "row {i} sums to {s}");
    }

    // The M-step from soft responsibilities (each backend from its own E-step).
    assert_stats_close(ct, &mut cpu, &mut gpu);
}

/// A whole label-initialised fit on both backends: histories and final parameters agree.
fn fit_agrees(ct: CovarianceType, n: usize, d: usize, k: usize, chunk: Option<usize>) {
    let Some(ctx) = context() else { return };
    let (x, labels) = data(n, d, k, 5 + d as u64);
    let config = FitConfig::new(k)
        .covariance_type(ct)
        .init(InitMethod::Labels(labels))
        .max_iter(8)
        .tol(0.0);
    let mut cpu = CpuBackend::new(&x);
    let mut gpu = match chunk {
        Some(c) => GpuBackend::from_host_with_chunk_rows(&ctx, &x, c).unwrap(),
        None => GpuBackend::from_host(&ctx, &x).unwrap(),
    };
    let mc = em::fit(&mut cpu, None, &config, None, &mut |_| {}).unwrap();
    let mg = em::fit(&mut gpu, None, &config, None, &mut |_| {}).unwrap();
    assert!(mg.fit.device.starts_with("gpu"), "{}", mg.fit.device);
    assert_eq!(mc.fit.lower_bound_history.len(), 8);
    assert_close(
        "lower-bound history",
        &mc.fit.lower_bound_history,
        &mg.fit.lower_bound_history,
        |v| 1e-4 * (1.0 + v.abs()),
    );
    let scale = mc.means().amax().max(1.0);
    assert_close(
        "fitted means",
        mc.means().as_slice(),
        mg.means().as_slice(),
        |_| 1e-3 * scale,
    );
    assert_close(
        "fitted weights",
        mc.weights().as_slice(),
        mg.weights().as_slice(),
        |_| 1e-4,
    );
    let cc = covariance_entries(&mc.params.covariances);
    let cg = covariance_entries(&mg.params.covariances);
    let cmax = cc.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert_close("fitted covariances", &cc, &cg, |_| 1e-3 * cmax);
}

#[test]
fn one_iteration_every_type_odd_dimension() {
    for ct in CovarianceType::ALL {
        one_iteration_agrees(ct, 300, 5, 3, None);
        one_iteration_agrees(ct, 200, 17, 3, None);
    }
}

#[test]
fn one_iteration_dimension_beyond_one_output_tile() {
    // 67 > 64 output columns of the full E-step kernel and > 4 scatter tiles.
    one_iteration_agrees(CovarianceType::Full, 96, 67, 2, None);
    one_iteration_agrees(CovarianceType::Tied, 96, 67, 2, None);
    one_iteration_agrees(CovarianceType::Diag, 96, 67, 2, None);
}

#[test]
fn one_iteration_at_every_full_estep_tile() {
    // The full/tied E-step picks 16-, 32- or 64-column tiles by D: both sides of each edge.
    for d in [16, 17, 32, 33] {
        one_iteration_agrees(CovarianceType::Full, 200, d, 3, None);
        one_iteration_agrees(CovarianceType::Tied, 200, d, 2, None);
    }
    // Narrow tiles take up to 256 samples per workgroup: chunks of 64 rows still work.
    one_iteration_agrees(CovarianceType::Full, 600, 5, 3, Some(64));
}

#[test]
fn one_iteration_single_component() {
    for ct in CovarianceType::ALL {
        one_iteration_agrees(ct, 150, 3, 1, None);
    }
}

#[test]
fn one_iteration_tiny_n() {
    for ct in CovarianceType::ALL {
        one_iteration_agrees(ct, 5, 2, 2, None);
    }
}

#[test]
fn one_iteration_many_chunks() {
    // 1000 rows in chunks of 64 (the last one partial): 16 chunks, each its own buffer.
    for ct in CovarianceType::ALL {
        one_iteration_agrees(ct, 1000, 5, 3, Some(64));
    }
    one_iteration_agrees(CovarianceType::Full, 700, 9, 3, Some(130));
}

#[test]
fn fit_every_type_agrees() {
    for ct in CovarianceType::ALL {
        fit_agrees(ct, 400, 3, 3, None);
    }
}

#[test]
fn fit_chunked_agrees() {
    fit_agrees(CovarianceType::Full, 600, 7, 3, Some(64));
    fit_agrees(CovarianceType::Diag, 600, 7, 3, Some(128));
}

#[test]
fn fit_from_device_buffer_in_chunks_agrees() {
    // One application-owned buffer bound chunk by chunk at aligned offsets.
    let Some(ctx) = context() else { return };
    let (x, labels) = data(500, 6, 3, 2);
    let host: Vec<f32> = (0..x.nrows())
        .flat_map(|i| x.row(i).iter().map(|&v| v as f32).collect::<Vec<_>>())
        .collect();
    use wgpu::util::DeviceExt;
    let buffer = ctx
        .device()
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("app data"),
            contents: bytemuck::cast_slice(&host),
            usage: wgpu::BufferUsages::STORAGE,
        });
    let config = FitConfig::new(3)
        .covariance_type(CovarianceType::Full)
        .init(InitMethod::Labels(labels))
        .max_iter(5)
        .tol(0.0);
    let mut gpu = GpuBackend::from_buffer(&ctx, &buffer, 500, 6).unwrap();
    gpu.set_max_chunk_rows(128);
    let mg = em::fit(&mut gpu, None, &config, None, &mut |_| {}).unwrap();
    assert_eq!(gpu.n_chunks(), 4);
    let mut cpu = CpuBackend::new(&x);
    let mc = em::fit(&mut cpu, None, &config, None, &mut |_| {}).unwrap();
    assert_close(
        "lower-bound history",
        &mc.fit.lower_bound_history,
        &mg.fit.lower_bound_history,
        |v| 1e-4 * (1.0 + v.abs()),
    );
    // The public entry point too.
    let mf = gaussmix::gpu::fit_buffer(&ctx, &buffer, 500, 6, &config, None, &mut |_| {}).unwrap();
    assert_close(
        "fit_buffer history",
        &mg.fit.lower_bound_history,
        &mf.fit.lower_bound_history,
        |v| 1e-5 * (1.0 + v.abs()),
    );
}

#[test]
fn public_fit_runs_on_the_gpu() {
    let Some(_) = context() else { return };
    let (x, _) = data(300, 4, 3, 9);
    let config = FitConfig::new(3)
        .covariance_type(CovarianceType::Diag)
        .seed(1);
    let options = gaussmix::FitOptions {
        device: gaussmix::DeviceChoice::Gpu,
        ..Default::default()
    };
    let m = gaussmix::fit(&x, &config, options, &mut |_| {}).unwrap();
    assert!(m.fit.device.starts_with("gpu"), "{}", m.fit.device);
    let cpu = gaussmix::GaussianMixture::fit(&x, &config).unwrap();
    assert!(
        (m.fit.lower_bound - cpu.fit.lower_bound).abs() < 1e-3 * (1.0 + cpu.fit.lower_bound.abs()),
        "gpu {} vs cpu {}",
        m.fit.lower_bound,
        cpu.fit.lower_bound
    );
}

#[test]
fn collapsed_component_is_not_positive_definite() {
    let Some(ctx) = context() else { return };
    let (x, _) = data(60, 3, 3, 4);
    // Component 1 holds a single sample: its covariance is exactly zero without reg_covar.
    let mut labels = vec![0; 60];
    labels[7] = 1;
    let config = FitConfig::new(2)
        .covariance_type(CovarianceType::Full)
        .init(InitMethod::Labels(labels))
        .reg_covar(0.0);
    let mut gpu = GpuBackend::from_host(&ctx, &x).unwrap();
    let err = em::fit(&mut gpu, None, &config, None, &mut |_| {}).unwrap_err();
    assert!(
        matches!(err, GmmError::NotPositiveDefinite { component: 1, .. }),
        "{err}"
    );
}

#[test]
fn non_label_init_without_host_data_is_refused() {
    let Some(ctx) = context() else { return };
    let (x, _) = data(50, 2, 2, 1);
    let mut gpu = GpuBackend::from_host(&ctx, &x).unwrap();
    let err = em::fit(&mut gpu, None, &FitConfig::new(2), None, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("label"), "{err}");
}

#[test]
fn lost_device_is_an_error() {
    let Some(_) = context() else { return };
    let ctx = GpuContext::new().unwrap();
    let (x, labels) = data(100, 3, 2, 3);
    let mut gpu = GpuBackend::from_host(&ctx, &x).unwrap();
    gpu.set_responsibilities(&one_hot(&labels, 2)).unwrap();
    let stats = gpu.m_step_stats(CovarianceType::Diag).unwrap();
    let params = MixtureParams::from_stats(stats, 1e-6).unwrap();
    ctx.device().destroy();
    let err = gpu.e_step(&params).unwrap_err();
    assert!(matches!(err, GmmError::Gpu(_)), "{err}");
    let _ = DVector::<f64>::zeros(1);
}

/// The user-facing promise: `fit --device gpu` and `--device cpu` on the same data and seed
/// (k-means initialisation on the host, then EM to convergence) end at the same lower bound
/// within 1e-4 relative, for every covariance type.
#[test]
fn same_seed_same_lower_bound_on_both_devices() {
    let Some(_) = context() else { return };
    let (x, _) = data(1500, 4, 3, 21);
    for ct in CovarianceType::ALL {
        let config = FitConfig::new(3).covariance_type(ct).seed(4);
        let on = |device| {
            gaussmix::fit(
                &x,
                &config,
                gaussmix::FitOptions {
                    device,
                    ..Default::default()
                },
                &mut |_| {},
            )
            .unwrap()
        };
        let cpu = on(gaussmix::DeviceChoice::Cpu);
        let gpu = on(gaussmix::DeviceChoice::Gpu);
        assert!(gpu.fit.device.starts_with("gpu"), "{}", gpu.fit.device);
        let (a, b) = (cpu.fit.lower_bound, gpu.fit.lower_bound);
        assert!((a - b).abs() <= 1e-4 * a.abs(), "{ct}: cpu {a} vs gpu {b}");
    }
}
