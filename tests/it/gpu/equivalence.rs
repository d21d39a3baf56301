//! The GPU backend (f32 on the device, its sums too) agrees with the f64 CPU
//! backend on the same data and the same (label) initialisation, for every covariance type,
//! odd dimensions (not multiples of the 16/64 tiles), K = 1, tiny N, and data processed in
//! many chunks (forced small through the chunk-size knob so it stays fast on lavapipe).
//!
//! Without an adapter these tests print a notice and pass, unless `CI=true`, where they fail.
//!
//! Tolerances are set from the measured f32 error with a margin of at least 15: on lavapipe the
//! largest error of each quantity over all these tests used this fraction of its tolerance
//! (`GAUSSMIX_TOLERANCE_REPORT=1 CI=true cargo test --test it gpu::equivalence -- --nocapture`
//! prints it): counts 0.105 of 1e-5 relative (+ 1e-4); means 0.016 of 1e-4 × data scale;
//! covariances 0.037 of 2e-5 × the largest entry; per-sample log-likelihoods 0.057 of
//! 2e-5 × (1 + |value|); responsibilities 0.054 of 1e-4 absolute; lower-bound histories 0.006
//! of 1e-5 × (1 + |value|); fitted means and covariances 0.027 and 0.029 of 1e-5 × their scale.
//! (Before this measurement the tolerances were 10 to 100 times looser: responsibilities 1e-3,
//! covariances 2e-4, histories 1e-4.) Sums run over ≤ 1024 samples per group, and the groups
//! are added pairwise on the device; `precision.rs` checks many groups.

use crate::common::{context, fit_cpu};

use gaussmix::gpu::GpuContext;
use gaussmix::synthetic::one_hot;
use gaussmix::{
    fit, CovarianceType, Covariances, Device, DeviceChoice, Engine, FitConfig, FitOptions,
    GaussianMixture, GmmError, InitMethod, Samples, SufficientStats, VariationalConfig,
    WeightPrior,
};
use nalgebra::{DMatrix, DVector};

/// Data from three separated, correlated components in `d` dimensions, and labels in 0..k.
fn data(n: usize, d: usize, k: usize, seed: u64) -> (DMatrix<f64>, Vec<usize>) {
    let (x, labels) = crate::common::draw(&crate::common::truth(d), n, seed);
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
    if std::env::var_os("GAUSSMIX_TOLERANCE_REPORT").is_some() {
        // The largest error as a fraction of its tolerance (how the tolerances were set:
        // `GAUSSMIX_TOLERANCE_REPORT=1 cargo test --test it gpu::equivalence -- --nocapture`).
        let worst = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs() / tol(*x))
            .fold(0.0f64, f64::max);
        eprintln!("tolerance use: {what}: {worst:.3e}");
    }
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol(*x),
            "{what}[{i}]: cpu {x} vs gpu {y} (diff {:e}, tolerance {:e})",
            (x - y).abs(),
            tol(*x)
        );
    }
}

/// What an M-step gives before the ridge: `N_k + 10ε`, the means, and the covariances
/// (scatter about the means over `N_k`) in the layout of the covariance type.
fn m_step_moments(stats: &SufficientStats) -> (DVector<f64>, DMatrix<f64>, Covariances) {
    stats.moments(0.0).unwrap()
}

fn assert_no_fallback(what: &str, gpu: &Engine) {
    assert!(
        gpu.fallbacks().is_empty(),
        "{what}: the GPU fell back to f64: {:?}",
        gpu.fallbacks()
    );
}

fn assert_stats_close(ct: CovarianceType, cpu: &mut Engine, gpu: &mut Engine) {
    let sc = cpu.m_step(ct).unwrap();
    let sg = gpu.m_step(ct).unwrap();
    assert_no_fallback(&format!("{ct}, {}", gpu.describe()), gpu);
    assert_eq!(sc.n_samples, sg.n_samples);
    let (nk_c, means_c, cov_c) = m_step_moments(&sc);
    let (nk_g, means_g, cov_g) = m_step_moments(&sg);
    assert_close("N_k", nk_c.as_slice(), nk_g.as_slice(), |v| {
        1e-5 * v.abs() + 1e-4
    });
    let scale = means_c.amax().max(1.0);
    assert_close("means", means_c.as_slice(), means_g.as_slice(), |_| {
        1e-4 * scale
    });
    let cc = covariance_entries(&cov_c);
    let cg = covariance_entries(&cov_g);
    let cmax = cc.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert_close("covariances", &cc, &cg, |_| 2e-5 * cmax);
}

/// The GPU device, processing the data in chunks of `chunk` rows when given.
fn gpu_on(ctx: &GpuContext, chunk: Option<usize>) -> Device {
    match chunk {
        Some(c) => Device::Gpu(ctx.with_max_chunk_rows(c)),
        None => Device::Gpu(ctx.clone()),
    }
}

/// One M-step from labels, one E-step, one M-step from the soft responsibilities.
fn one_iteration_agrees(ct: CovarianceType, n: usize, d: usize, k: usize, chunk: Option<usize>) {
    let Some(ctx) = context() else { return };
    let (x, labels) = data(n, d, k, 11 + n as u64 + d as u64);
    let samples = Samples::new(&x).unwrap();
    let mut cpu = Engine::new(&samples, &Device::Cpu).unwrap();
    let mut gpu = Engine::new(&samples, &gpu_on(&ctx, chunk)).unwrap();
    gpu.set_reg_covar(1e-6);
    let resp = one_hot(&labels, k);
    cpu.set_responsibilities(&resp).unwrap();
    gpu.set_responsibilities(&resp).unwrap();
    if let Some(c) = chunk {
        assert_eq!(gpu.chunks(), n.div_ceil(c.next_multiple_of(64)));
    }
    assert_stats_close(ct, &mut cpu, &mut gpu);

    let params = cpu.m_step(ct).unwrap().to_params(1e-6).unwrap();
    // `e_step` gives Σ_i log p(x_i): compare the means, as the lower bound is.
    let lb_cpu = cpu.e_step(&params).unwrap() / n as f64;
    let lb_gpu = gpu.e_step(&params).unwrap() / n as f64;
    assert!(
        (lb_cpu - lb_gpu).abs() <= 1e-4 * (1.0 + lb_cpu.abs()),
        "lower bound: cpu {lb_cpu} vs gpu {lb_gpu}"
    );

    // The f64 per-sample log-likelihoods of the same parameters, on the CPU.
    let ll_cpu = GaussianMixture::from_params(params.clone(), 1e-6)
        .score_samples(&x)
        .unwrap();
    let ll_gpu = gpu.log_likelihoods().unwrap();
    assert_close(
        "log-likelihood",
        ll_cpu.as_slice(),
        ll_gpu.as_slice(),
        |v| 2e-5 * (1.0 + v.abs()),
    );
    let rc = cpu.responsibilities().unwrap();
    let rg = gpu.responsibilities().unwrap();
    assert_eq!(rg.shape(), (n, k));
    assert_close("responsibilities", rc.as_slice(), rg.as_slice(), |_| 1e-4);
    for i in 0..n {
        let s: f64 = rg.row(i).sum();
        assert!((s - 1.0).abs() < 1e-5, "row {i} sums to {s}");
    }

    // The M-step from soft responsibilities (each engine from its own E-step).
    assert_stats_close(ct, &mut cpu, &mut gpu);
}

/// Asserts that a GPU fit served its statistics itself (no M-step recomputed in f64).
#[track_caller]
fn assert_own_statistics(m: &GaussianMixture) {
    assert!(
        m.summary().device.starts_with("gpu"),
        "{}",
        m.summary().device
    );
    assert!(
        m.summary().fallbacks.is_empty(),
        "the GPU fell back to f64: {:?}",
        m.summary().fallbacks
    );
}

/// A whole label-initialised fit on both devices: histories and final parameters agree.
fn fit_agrees(ct: CovarianceType, n: usize, d: usize, k: usize, chunk: Option<usize>) {
    let (x, labels) = data(n, d, k, 5 + d as u64);
    let config = FitConfig::new(k)
        .covariance_type(ct)
        .init(InitMethod::Labels(labels))
        .max_iter(8)
        .tol(0.0);
    fit_agrees_with(&x, &config, chunk);
}

/// [`fit_agrees`] for given data and settings.
fn fit_agrees_with(x: &DMatrix<f64>, config: &FitConfig, chunk: Option<usize>) {
    fit_agrees_weighted(x, None, config, chunk)
}

/// [`fit_agrees_with`] with sample weights on both devices.
fn fit_agrees_weighted(
    x: &DMatrix<f64>,
    weights: Option<&[f64]>,
    config: &FitConfig,
    chunk: Option<usize>,
) {
    let Some(ctx) = context() else { return };
    let samples = || {
        let s = Samples::new(x).unwrap();
        match weights {
            Some(w) => s.weighted(w).unwrap(),
            None => s,
        }
    };
    let mc = fit(
        &samples(),
        config,
        FitOptions::new()
            .device(DeviceChoice::Cpu)
            .full_path(gaussmix::FullPath::Dense),
    )
    .unwrap();
    let device = gpu_on(&ctx, chunk);
    let mg = fit(&samples(), config, FitOptions::new().on(&device)).unwrap();
    assert_own_statistics(&mg);
    assert_eq!(mc.summary().lower_bound_history.len(), 8);
    assert_close(
        "lower-bound history",
        &mc.summary().lower_bound_history,
        &mg.summary().lower_bound_history,
        |v| 1e-5 * (1.0 + v.abs()),
    );
    let scale = mc.means().amax().max(1.0);
    assert_close(
        "fitted means",
        mc.means().as_slice(),
        mg.means().as_slice(),
        |_| 1e-5 * scale,
    );
    assert_close(
        "fitted weights",
        mc.weights().as_slice(),
        mg.weights().as_slice(),
        |_| 1e-4,
    );
    let cc = covariance_entries(mc.covariances());
    let cg = covariance_entries(mg.covariances());
    let cmax = cc.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert_close("fitted covariances", &cc, &cg, |_| 1e-5 * cmax);
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
    // 67 > 64 output columns of the full E-step kernel and > 4 scatter tiles. Full
    // covariances need more samples per component than dimensions here: with 96 samples
    // (25 in component 1) the rank-24 f32 covariance does not factor with reg_covar = 1e-6,
    // the engine recomputes it in f64 on the CPU, and the comparison would be the CPU's with
    // itself; 300 samples give 213 and 87.
    one_iteration_agrees(CovarianceType::Full, 300, 67, 2, None);
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
fn variational_fit_every_type_and_weight_prior_agrees() {
    // The variational E-step is the mixture E-step with transformed parameters, and its
    // update and lower bound use only the statistics, so the GPU's statistics serve it too.
    for ct in CovarianceType::ALL {
        for prior in [
            WeightPrior::DirichletProcess,
            WeightPrior::DirichletDistribution,
        ] {
            let (x, labels) = data(600, 5, 4, 11);
            let config = FitConfig::new(4)
                .covariance_type(ct)
                .init(InitMethod::Labels(labels))
                .max_iter(8)
                .tol(0.0)
                .variational(VariationalConfig::new(prior));
            fit_agrees_with(&x, &config, None);
        }
    }
}

#[test]
fn weighted_fit_every_type_agrees_in_chunks() {
    // The E-step multiplies each sample's responsibilities by its weight on the device; the
    // chunks each carry their rows' weights. Zero weights included.
    for ct in CovarianceType::ALL {
        let (x, labels) = data(900, 6, 3, 13);
        let w: Vec<f64> = (0..900).map(|i| (i % 4) as f64 * 0.75).collect();
        let config = FitConfig::new(3)
            .covariance_type(ct)
            .init(InitMethod::Labels(labels))
            .max_iter(8)
            .tol(0.0);
        fit_agrees_weighted(&x, Some(&w), &config, Some(256));
        fit_agrees_weighted(
            &x,
            Some(&w),
            &config.clone().variational(VariationalConfig::default()),
            None,
        );
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
        .init(InitMethod::Labels(labels.clone()))
        .max_iter(5)
        .tol(0.0);
    let samples = Samples::gpu_buffer(&buffer, 500, 6).unwrap();
    let chunked = Device::Gpu(ctx.with_max_chunk_rows(128));
    // The engine on the buffer in chunks of 128 rows: 4 chunks, and the CPU's statistics.
    let mut engine = Engine::new(&samples, &chunked).unwrap();
    let mut cpu = Engine::new(&Samples::new(&x).unwrap(), &Device::Cpu).unwrap();
    let resp = one_hot(&labels, 3);
    engine.set_responsibilities(&resp).unwrap();
    cpu.set_responsibilities(&resp).unwrap();
    assert_eq!(engine.chunks(), 4);
    assert_stats_close(CovarianceType::Full, &mut cpu, &mut engine);
    // The fit on the buffer in chunks, against the CPU's.
    let mg = fit(&samples, &config, FitOptions::new().on(&chunked)).unwrap();
    assert_own_statistics(&mg);
    let mc = fit_cpu(&x, &config).unwrap();
    assert_close(
        "lower-bound history",
        &mc.summary().lower_bound_history,
        &mg.summary().lower_bound_history,
        |v| 1e-5 * (1.0 + v.abs()),
    );
    // And in one chunk.
    let mf = fit(
        &samples,
        &config,
        FitOptions::new().on(&Device::Gpu(ctx.clone())),
    )
    .unwrap();
    assert_own_statistics(&mf);
    assert_close(
        "one-chunk buffer history",
        &mg.summary().lower_bound_history,
        &mf.summary().lower_bound_history,
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
    let m = fit(
        &Samples::new(&x).unwrap(),
        &config,
        FitOptions::new().device(DeviceChoice::Gpu),
    )
    .unwrap();
    assert_own_statistics(&m);
    let cpu = fit_cpu(&x, &config).unwrap();
    assert!(
        (m.summary().lower_bound - cpu.summary().lower_bound).abs()
            < 1e-3 * (1.0 + cpu.summary().lower_bound.abs()),
        "gpu {} vs cpu {}",
        m.summary().lower_bound,
        cpu.summary().lower_bound
    );
}

#[test]
fn collapsed_component_is_not_positive_definite() {
    let Some(ctx) = context() else { return };
    let (x, _) = data(60, 3, 3, 4);
    // Component 1 holds a single sample: its covariance is exactly zero without reg_covar.
    let mut labels = vec![0; 60];
    labels[7] = 1;
    // The GPU's own statistics (they factor with the default ridge, so no fallback) do not
    // factor without it.
    let mut gpu = Engine::new(&Samples::new(&x).unwrap(), &Device::Gpu(ctx.clone())).unwrap();
    gpu.set_responsibilities(&one_hot(&labels, 2)).unwrap();
    let stats = gpu.m_step(CovarianceType::Full).unwrap();
    assert_no_fallback("full", &gpu);
    let err = stats.to_params(0.0).unwrap_err();
    assert!(
        matches!(err, GmmError::NotPositiveDefinite { component: 1, .. }),
        "{err}"
    );
    // A fit with reg_covar = 0 on the GPU ends with the same error (after the f64 fallback
    // fails to factor it too).
    let config = FitConfig::new(2)
        .covariance_type(CovarianceType::Full)
        .init(InitMethod::Labels(labels))
        .reg_covar(0.0);
    let err = fit(
        &Samples::new(&x).unwrap(),
        &config,
        FitOptions::new().on(&Device::Gpu(ctx)),
    )
    .unwrap_err();
    assert!(
        matches!(err, GmmError::NotPositiveDefinite { component: 1, .. }),
        "{err}"
    );
}

#[test]
fn non_label_init_without_host_data_is_refused() {
    let Some(ctx) = context() else { return };
    let (x, _) = data(50, 2, 2, 1);
    // Data only in a device buffer: k-means (the default) would need them on the host.
    use wgpu::util::DeviceExt;
    let host: Vec<f32> = x.transpose().iter().map(|&v| v as f32).collect();
    let buffer = ctx
        .device()
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("app data"),
            contents: bytemuck::cast_slice(&host),
            usage: wgpu::BufferUsages::STORAGE,
        });
    let err = fit(
        &Samples::gpu_buffer(&buffer, 50, 2).unwrap(),
        &FitConfig::new(2),
        FitOptions::new().on(&Device::Gpu(ctx)),
    )
    .unwrap_err();
    assert!(err.to_string().contains("label"), "{err}");
}

#[test]
fn lost_device_is_an_error() {
    let Some(_) = context() else { return };
    let ctx = GpuContext::new().unwrap();
    let (x, labels) = data(100, 3, 2, 3);
    let mut gpu = Engine::new(&Samples::new(&x).unwrap(), &Device::Gpu(ctx.clone())).unwrap();
    gpu.set_responsibilities(&one_hot(&labels, 2)).unwrap();
    let stats = gpu.m_step(CovarianceType::Diag).unwrap();
    assert_no_fallback("diag", &gpu);
    let params = stats.to_params(1e-6).unwrap();
    ctx.device().destroy();
    let err = gpu.e_step(&params).unwrap_err();
    assert!(matches!(err, GmmError::DeviceLost(_)), "{err}");
    assert!(err.is_gpu());
}

/// The user-facing promise: `fit --device gpu` and `--device cpu` on the same data and seed
/// (k-means initialisation on the host, then EM to convergence) end at the same lower bound
/// within 1e-4 relative, for every covariance type.
#[test]
fn same_seed_same_lower_bound_on_both_devices() {
    let Some(_) = context() else { return };
    let (x, _) = data(1500, 4, 3, 21);
    let samples = Samples::new(&x).unwrap();
    for ct in CovarianceType::ALL {
        let config = FitConfig::new(3).covariance_type(ct).seed(4);
        let on = |device| fit(&samples, &config, FitOptions::new().device(device)).unwrap();
        let cpu = on(DeviceChoice::Cpu);
        let gpu = on(DeviceChoice::Gpu);
        assert_own_statistics(&gpu);
        let (a, b) = (cpu.summary().lower_bound, gpu.summary().lower_bound);
        assert!((a - b).abs() <= 1e-4 * a.abs(), "{ct}: cpu {a} vs gpu {b}");
    }
}

#[test]
fn a_streamed_fit_on_the_gpu_agrees_with_the_cpu() {
    // Every chunk is uploaded in turn and its statistics reduced on the device; from the
    // same initial means the fit is the CPU's within the GPU tolerances.
    let Some(ctx) = context() else { return };
    let (x, _) = data(3000, 5, 3, 17);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npy");
    gaussmix::io::write_matrix(&path, &x).unwrap();
    let means = DMatrix::from_fn(3, 5, |c, j| (c as f64 - 1.0) * 8.0 + j as f64 * 0.2);
    for ct in CovarianceType::ALL {
        let config = FitConfig::new(3)
            .covariance_type(ct)
            .init(InitMethod::Means(means.clone()))
            .max_iter(8)
            .tol(0.0);
        let mc = fit_cpu(&x, &config).unwrap();
        let source = gaussmix::io::NpyRows::open(&path).unwrap();
        let mg = fit(
            &Samples::streamed(source, 700).unwrap(),
            &config,
            FitOptions::new().on(&Device::Gpu(ctx.clone())),
        )
        .unwrap();
        let desc = &mg.summary().device;
        assert!(
            desc.starts_with("gpu") && desc.contains("streamed"),
            "{desc}"
        );
        assert!(
            mg.summary().fallbacks.is_empty(),
            "{:?}",
            mg.summary().fallbacks
        );
        assert_close(
            "streamed lower-bound history",
            &mc.summary().lower_bound_history,
            &mg.summary().lower_bound_history,
            |v| 1e-5 * (1.0 + v.abs()),
        );
        let scale = mc.means().amax().max(1.0);
        assert_close(
            "streamed means",
            mc.means().as_slice(),
            mg.means().as_slice(),
            |_| 1e-5 * scale,
        );
        let cc = covariance_entries(mc.covariances());
        let cmax = cc.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert_close(
            "streamed covariances",
            &cc,
            &covariance_entries(mg.covariances()),
            |_| 1e-5 * cmax,
        );
    }
}

#[test]
fn a_distributed_fit_with_members_on_the_gpu_agrees_with_the_cpu() {
    // Two members of an in-process group, one computing its rows' statistics on the GPU and
    // one on the CPU: from the same initial means the fit is the CPU's within the GPU
    // tolerances, and both members hold the same model.
    use gaussmix::collective::{Collective, ThreadGroup};
    let Some(ctx) = context() else { return };
    let (x, _) = data(3000, 5, 3, 18);
    let means = DMatrix::from_fn(3, 5, |c, j| (c as f64 - 1.0) * 8.0 + j as f64 * 0.2);
    let config = FitConfig::new(3)
        .init(InitMethod::Means(means))
        .max_iter(8)
        .tol(0.0);
    let mc = fit_cpu(&x, &config).unwrap();
    let members = ThreadGroup::new(2).unwrap();
    let models: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = members
            .into_iter()
            .enumerate()
            .map(|(rank, m)| {
                let (x, config, ctx) = (&x, &config, ctx.clone());
                s.spawn(move || {
                    let rows = if rank == 0 {
                        x.rows(0, 1800)
                    } else {
                        x.rows(1800, 1200)
                    };
                    let local = Samples::chunk_columns(rows.transpose()).unwrap();
                    let group: std::sync::Arc<dyn Collective> = std::sync::Arc::new(m);
                    let samples = Samples::distributed(Ok(local), group).unwrap();
                    let device = if rank == 0 {
                        Device::Gpu(ctx)
                    } else {
                        Device::Cpu
                    };
                    fit(&samples, config, FitOptions::new().on(&device)).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        models[0].params(),
        models[1].params(),
        "both members: one model"
    );
    let desc = &models[0].summary().device;
    assert!(
        desc.starts_with("gpu") && desc.contains("distributed"),
        "{desc}"
    );
    assert_close(
        "distributed lower-bound history",
        &mc.summary().lower_bound_history,
        &models[0].summary().lower_bound_history,
        |v| 1e-5 * (1.0 + v.abs()),
    );
    let scale = mc.means().amax().max(1.0);
    assert_close(
        "distributed means",
        mc.means().as_slice(),
        models[0].means().as_slice(),
        |_| 1e-5 * scale,
    );
}
