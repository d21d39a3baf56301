//! Scoring and prediction on the GPU (the E-step kernels, f32) agree with the f64 CPU queries
//! of the same model, through the library API and the `--device` flag of the CLI; low-rank
//! models (exact products on the GPU, N × N algebra in f64) agree to f64 accuracy.
//!
//! Without an adapter these tests print a notice and pass, unless `CI=true`, where they fail.

use crate::common::cli::{assert_success, gaussmix};
use crate::common::{context, fit_cpu};

use gaussmix::{
    CovarianceType, Covariances, Device, DeviceChoice, FitConfig, GaussianMixture, GmmError, Work,
};
use nalgebra::DMatrix;

/// The device a choice gives for queries (what `gaussmix::device::{score_samples, …}` resolved
/// on every call), with its notice.
fn resolve(choice: DeviceChoice, notice: &mut dyn FnMut(&str)) -> Device {
    choice.resolve(Work::Dense, notice).unwrap()
}

fn model_and_data(ct: CovarianceType, d: usize, n: usize) -> (GaussianMixture, DMatrix<f64>) {
    let (x, _) = crate::common::draw(&crate::common::truth(d), n, 17 + d as u64);
    let config = FitConfig::new(3).covariance_type(ct).seed(2).max_iter(20);
    let model = fit_cpu(&x, &config).unwrap();
    // Score held-out samples from the same distribution.
    let (y, _) = crate::common::draw(&crate::common::truth(d), n, 99);
    (model, y)
}

#[test]
fn gpu_scores_and_probabilities_agree_with_the_cpu() {
    let Some(ctx) = context() else { return };
    let gpu_device = Device::Gpu(ctx);
    for ct in CovarianceType::ALL {
        for d in [3, 17] {
            let (model, y) = model_and_data(ct, d, 700);
            let cpu = model.score_samples(&y).unwrap();
            let gpu = model.score_samples_on(&y, &gpu_device).unwrap();
            assert_eq!(gpu.len(), y.nrows());
            for (i, (a, b)) in cpu.iter().zip(gpu.iter()).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-4 * a.abs().max(1.0),
                    "{ct} d={d} sample {i}: cpu {a} vs gpu {b}"
                );
            }
            let (mc, mg) = (cpu.mean(), gpu.mean());
            assert!(
                (mc - mg).abs() <= 1e-4 * mc.abs(),
                "{ct}: mean {mc} vs {mg}"
            );

            let pc = model.predict_proba(&y).unwrap();
            let pg = model.predict_proba_on(&y, &gpu_device).unwrap();
            assert_eq!(pg.shape(), pc.shape());
            let worst = pc
                .iter()
                .zip(pg.iter())
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(worst <= 1e-3, "{ct} d={d}: probabilities differ by {worst}");
            // Labels agree wherever the CPU's choice is not a near tie.
            let lc = model.predict(&y).unwrap();
            let lg = model.predict_on(&y, &gpu_device).unwrap();
            for i in 0..y.nrows() {
                if pc[(i, lc[i])] > 0.51 {
                    assert_eq!(lc[i], lg[i], "{ct} d={d} sample {i}");
                }
            }
        }
    }
}

#[test]
fn device_choice_routes_queries() {
    let Some(ctx) = context() else { return };
    let (model, y) = model_and_data(CovarianceType::Full, 5, 300);
    let mut notices = Vec::<String>::new();
    let on_cpu = resolve(DeviceChoice::Cpu, &mut |s| notices.push(s.into()));
    assert!(!on_cpu.is_gpu());
    let cpu = model.score_samples_on(&y, &on_cpu).unwrap();
    assert_eq!(cpu, model.score_samples(&y).unwrap());
    assert_eq!(
        model.score_on(&y, &on_cpu).unwrap(),
        model.score(&y).unwrap()
    );
    for choice in [DeviceChoice::Gpu, DeviceChoice::Auto] {
        let device = resolve(choice, &mut |s| notices.push(s.into()));
        let gpu = model.score_samples_on(&y, &device).unwrap();
        for (a, b) in cpu.iter().zip(gpu.iter()) {
            assert!(
                (a - b).abs() <= 1e-4 * a.abs().max(1.0),
                "{choice}: {a} vs {b}"
            );
        }
        let device = resolve(choice, &mut |s| notices.push(s.into()));
        let p = model.predict_proba_on(&y, &device).unwrap();
        for r in p.row_iter() {
            assert!((r.sum() - 1.0).abs() < 1e-5);
        }
    }
    // `auto` takes a hardware adapter silently; a software one (lavapipe) it declines, saying so.
    let software = ctx.adapter().is_some_and(|a| a.device_type == "Cpu");
    assert_eq!(
        resolve(DeviceChoice::Auto, &mut |_| {}).is_gpu(),
        !software,
        "auto takes a hardware adapter, declines a software one"
    );
    if software {
        assert_eq!(notices.len(), 2, "{notices:?}");
        assert!(
            notices.iter().all(|n| n.contains("software")),
            "{notices:?}"
        );
    } else {
        assert!(notices.is_empty(), "{notices:?}");
    }
    // Wrong number of features: the same error as on the CPU.
    let z = DMatrix::<f64>::zeros(4, 6);
    let err = model
        .score_samples_on(&z, &resolve(DeviceChoice::Gpu, &mut |_| {}))
        .unwrap_err();
    assert!(
        matches!(
            err,
            GmmError::DimensionMismatch {
                expected: 5,
                found: 6
            }
        ),
        "{err}"
    );
}

#[test]
fn low_rank_models_on_the_gpu_agree_with_the_cpu_to_1e9() {
    let Some(ctx) = context() else { return };
    let gpu_device = Device::Gpu(ctx);
    // A low-rank model (N < D, exact low-rank full covariances) with the default
    // reg_covar = 1e-6: its Mahalanobis distances subtract numbers ~10⁶ times larger than the
    // result, so f32 products would leave nothing of them.
    let x = nalgebra::DMatrix::from_fn(30, 40, |i, j| {
        ((i * 7 + j * 13) % 17) as f64 * 0.1 + (i % 2) as f64 * 3.0 + ((i * j) % 5) as f64 * 0.01
    });
    let y = nalgebra::DMatrix::from_fn(10, 40, |i, j| ((i * 5 + j * 3) % 11) as f64 * 0.1);
    let model = gaussmix::fit(
        &gaussmix::Samples::new(&x).unwrap(),
        &gaussmix::FitConfig::new(2),
        gaussmix::FitOptions::new()
            .device(DeviceChoice::Cpu)
            .full_path(gaussmix::FullPath::LowRank),
    )
    .unwrap();
    assert!(matches!(
        model.params().covariances,
        Covariances::LowRank(_)
    ));
    let mut notices = Vec::<String>::new();
    // New points and the training points themselves (where the cancellation is worst).
    for data in [&y, &x] {
        let cpu = model.score_samples(data).unwrap();
        let device = resolve(DeviceChoice::Gpu, &mut |s| notices.push(s.into()));
        assert!(device.is_gpu());
        let gpu = model.score_samples_on(data, &device).unwrap();
        for (a, b) in cpu.iter().zip(gpu.iter()) {
            assert!(
                (a - b).abs() <= 1e-9 * (1.0 + a.abs()),
                "score_samples: cpu {a} gpu {b}"
            );
        }
        let p_cpu = model.predict_proba(data).unwrap();
        let p_gpu = model.predict_proba_on(data, &gpu_device).unwrap();
        assert!((p_cpu - p_gpu).amax() < 1e-9);
        assert_eq!(
            model.predict(data).unwrap(),
            model.predict_on(data, &device).unwrap()
        );
    }
    assert!(notices.is_empty(), "{notices:?}");
    // Wrong number of features: the same error as on the CPU.
    let z = nalgebra::DMatrix::<f64>::zeros(3, 41);
    let err = model.score_samples_on(&z, &gpu_device).unwrap_err();
    assert!(
        matches!(
            err,
            GmmError::DimensionMismatch {
                expected: 40,
                found: 41
            }
        ),
        "{err}"
    );
}

#[test]
fn cli_score_and_predict_on_the_gpu() {
    let Some(_) = context() else { return };
    let dir = std::env::temp_dir().join(format!("gaussmix-gpu-queries-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (model, y) = model_and_data(CovarianceType::Diag, 4, 400);
    let model_path = dir.join("m.npz");
    let data_path = dir.join("y.npy");
    gaussmix::io::save_model(&model_path, &model).unwrap();
    gaussmix::io::write_matrix(&data_path, &y).unwrap();
    let run = |args: &[&str]| {
        let out = gaussmix(args);
        assert_success(&out);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let m = model_path.to_str().unwrap();
    let d = data_path.to_str().unwrap();
    let mean =
        |stdout: String| -> f64 { stdout.split_whitespace().nth(2).unwrap().parse().unwrap() };
    let cpu = mean(run(&["score", m, d, "--device", "cpu"]));
    let gpu = mean(run(&["score", m, d, "--device", "gpu"]));
    assert!(
        (cpu - gpu).abs() <= 1e-4 * cpu.abs(),
        "cpu {cpu} vs gpu {gpu}"
    );
    let labels = dir.join("l.csv");
    run(&[
        "predict",
        m,
        d,
        "--device",
        "gpu",
        "-o",
        labels.to_str().unwrap(),
    ]);
    let lg = gaussmix::io::read_labels(&labels).unwrap();
    assert_eq!(lg.len(), y.nrows());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cli_auto_falls_back_to_the_cpu_without_an_adapter() {
    // No adapter on this backend (as on a machine without a GPU driver): `auto` runs on the
    // CPU and says so; `gpu` fails with a clear message and writes nothing.
    let dir = std::env::temp_dir().join(format!("gaussmix-gpu-auto-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (model, y) = model_and_data(CovarianceType::Spherical, 3, 200);
    let model_path = dir.join("m.npz");
    let data_path = dir.join("y.npy");
    gaussmix::io::save_model(&model_path, &model).unwrap();
    gaussmix::io::write_matrix(&data_path, &y).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_gaussmix"))
            .args(args)
            .env("WGPU_BACKEND", "metal")
            .env_remove("WGPU_ADAPTER_NAME")
            .output()
            .unwrap()
    };
    let m = model_path.to_str().unwrap();
    let d = data_path.to_str().unwrap();
    let out = run(&["score", m, d, "--device", "auto"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("running on the CPU"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let printed: f64 = stdout.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!(
        (printed - model.score(&y).unwrap()).abs() < 1e-8,
        "{stdout}"
    );
    let labels = dir.join("l.csv");
    let out = run(&[
        "predict",
        m,
        d,
        "--device",
        "gpu",
        "-o",
        labels.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("no GPU adapter"), "{stderr}");
    assert!(!labels.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
