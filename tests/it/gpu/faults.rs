//! GPU faults: f32 statistics that overflow or do not factor fall back to f64 on the CPU
//! (host data) or to a larger ridge (an application's buffer), and say so; a lost device ends
//! the fit with `GmmError::DeviceLost`.
//!
//! Without an adapter these tests print a notice and pass, unless `CI=true`, where they fail.

use std::ops::ControlFlow;

use crate::common::{context, fit_cpu};

use gaussmix::gpu::GpuContext;
use gaussmix::{
    fit, CovarianceType, Device, DeviceChoice, FitConfig, FitOptions, GmmError, InitMethod,
    IterationEvent, Samples,
};
use nalgebra::DMatrix;

fn data(n: usize, d: usize, k: usize, seed: u64) -> (DMatrix<f64>, Vec<usize>) {
    let (x, labels) = crate::common::draw(&crate::common::truth(d), n, seed);
    let labels = labels.iter().map(|&l| l % k).collect();
    (x, labels)
}

fn app_buffer(ctx: &GpuContext, x: &DMatrix<f64>) -> wgpu::Buffer {
    use wgpu::util::DeviceExt;
    let host: Vec<f32> = (0..x.nrows())
        .flat_map(|i| x.row(i).iter().map(|&v| v as f32).collect::<Vec<_>>())
        .collect();
    ctx.device()
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("app data"),
            contents: bytemuck::cast_slice(&host),
            usage: wgpu::BufferUsages::STORAGE,
        })
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * (1.0 + a.abs())
}

/// Values around 1e20 fit f32, but their squares (1e40) do not: every scatter overflows on
/// the GPU, and every M-step must come from the f64 CPU fallback, matching the CPU fit.
#[test]
fn overflowing_statistics_fall_back_to_f64_on_the_cpu() {
    let Some(ctx) = context() else { return };
    for ct in CovarianceType::ALL {
        let (x, labels) = data(400, 4, 3, 21);
        let x = x * 1e20;
        let config = FitConfig::new(3)
            .covariance_type(ct)
            .init(InitMethod::Labels(labels))
            .max_iter(6)
            .tol(0.0);
        let mg = fit(
            &Samples::new(&x).unwrap(),
            &config,
            FitOptions::new().on(&Device::Gpu(ctx.clone())),
        )
        .unwrap();
        let mc = fit_cpu(&x, &config).unwrap();
        let fallbacks = &mg.summary().fallbacks;
        // The initial M-step and one per iteration.
        assert_eq!(fallbacks.len(), 7, "{ct}: {fallbacks:?}");
        assert!(fallbacks[0].contains("overflowed"), "{fallbacks:?}");
        assert!(
            fallbacks
                .iter()
                .all(|f| f.contains("recomputed in f64 on the CPU")),
            "{fallbacks:?}"
        );
        assert!(
            mg.summary().device.contains("7 of 7 M-steps fell back"),
            "{}",
            mg.summary().device
        );
        for (a, b) in mc
            .summary()
            .lower_bound_history
            .iter()
            .zip(&mg.summary().lower_bound_history)
        {
            assert!(close(*a, *b, 1e-4), "{ct}: cpu {a} vs gpu {b}");
        }
        let scale = mc.means().amax();
        for (a, b) in mc.means().iter().zip(mg.means().iter()) {
            assert!(
                (a - b).abs() <= 1e-3 * scale,
                "{ct}: mean cpu {a} vs gpu {b}"
            );
        }
    }
}

/// The public entry point reports the fallback through the notice callback.
#[test]
fn public_fit_reports_the_fallback_in_a_notice() {
    let Some(_) = context() else { return };
    let (x, _) = data(300, 3, 2, 4);
    let x = x * 1e20;
    let config = FitConfig::new(2)
        .covariance_type(CovarianceType::Full)
        .seed(3)
        .max_iter(5);
    let mut notices = Vec::new();
    let mut notice = |s: &str| notices.push(s.to_string());
    let options = FitOptions::new()
        .device(DeviceChoice::Gpu)
        .notice(&mut notice);
    let m = fit(&Samples::new(&x).unwrap(), &config, options).unwrap();
    assert!(
        m.summary().device.starts_with("gpu"),
        "{}",
        m.summary().device
    );
    assert!(
        m.summary().device.contains("fell back"),
        "{}",
        m.summary().device
    );
    assert!(
        notices
            .iter()
            .any(|n| n.contains("fell back") && n.contains("f64 on the CPU")),
        "{notices:?}"
    );
    assert!(!m.summary().fallbacks.is_empty());
    let cpu = fit_cpu(&x, &config).unwrap();
    assert!(
        close(cpu.summary().lower_bound, m.summary().lower_bound, 1e-3),
        "cpu {} vs gpu {}",
        cpu.summary().lower_bound,
        m.summary().lower_bound
    );
}

/// Data only in an application's buffer: no f64 copy to fall back to, so an overflow is a
/// clear error, not a model with infinite covariances.
#[test]
fn overflow_in_an_app_buffer_is_a_clear_error() {
    let Some(ctx) = context() else { return };
    let (x, labels) = data(200, 3, 2, 8);
    let x = x * 1e20;
    let buffer = app_buffer(&ctx, &x);
    let config = FitConfig::new(2)
        .covariance_type(CovarianceType::Diag)
        .init(InitMethod::Labels(labels))
        .max_iter(3);
    let err = fit(
        &Samples::gpu_buffer(&buffer, 200, 3).unwrap(),
        &config,
        FitOptions::new().on(&Device::Gpu(ctx.clone())),
    )
    .unwrap_err();
    assert!(matches!(err, GmmError::Numerical(_)), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("overflowed") && msg.contains("scale the data"),
        "{msg}"
    );
}

/// Data only in an application's buffer: a covariance that does not factor (a constant
/// feature with reg_covar = 0) is retried with a larger ridge, and the model says so.
#[test]
fn singular_covariance_in_an_app_buffer_gets_a_larger_ridge() {
    let Some(ctx) = context() else { return };
    let (mut x, labels) = data(300, 3, 2, 6);
    x.column_mut(1).fill(2.5);
    let buffer = app_buffer(&ctx, &x);
    let config = FitConfig::new(2)
        .covariance_type(CovarianceType::Full)
        .init(InitMethod::Labels(labels.clone()))
        .reg_covar(0.0)
        .max_iter(4);
    let device = Device::Gpu(ctx.clone());
    let m = fit(
        &Samples::gpu_buffer(&buffer, 300, 3).unwrap(),
        &config,
        FitOptions::new().on(&device),
    )
    .unwrap();
    assert!(
        m.summary().device.contains("fell back"),
        "{}",
        m.summary().device
    );
    assert!(
        m.summary().device.contains("added"),
        "{}",
        m.summary().device
    );
    assert!(
        !m.summary().fallbacks.is_empty()
            && m.summary().fallbacks.iter().all(|f| f.contains("added")),
        "{:?}",
        m.summary().fallbacks
    );
    // The same data from the host: f64 cannot factor it either, so the fit fails as on the CPU.
    let err = fit(
        &Samples::new(&x).unwrap(),
        &config,
        FitOptions::new().on(&device),
    )
    .unwrap_err();
    assert!(matches!(err, GmmError::NotPositiveDefinite { .. }), "{err}");
}

/// A device lost in the middle of a fit ends it with a GPU error, not a model.
#[test]
fn device_lost_during_a_fit_is_a_gpu_error() {
    let Some(_) = context() else { return };
    let ctx = GpuContext::new().unwrap();
    let (x, labels) = data(300, 4, 2, 5);
    let config = FitConfig::new(2)
        .covariance_type(CovarianceType::Full)
        .init(InitMethod::Labels(labels))
        .max_iter(10)
        .tol(0.0);
    let device = ctx.device().clone();
    let mut destroy = |e: &IterationEvent| {
        if e.iter == 2 {
            device.destroy();
        }
        ControlFlow::Continue(())
    };
    let result = fit(
        &Samples::new(&x).unwrap(),
        &config,
        FitOptions::new()
            .on(&Device::Gpu(ctx.clone()))
            .progress(&mut destroy),
    );
    let err = result.unwrap_err();
    assert!(matches!(err, GmmError::DeviceLost(_)), "{err}");
    assert!(err.is_gpu());
    let msg = err.to_string();
    assert!(msg.contains("lost") || msg.contains("destroyed"), "{msg}");
}
