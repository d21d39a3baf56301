//! Shared helpers for the integration tests: synthetic mixtures with known parameters.
#![allow(dead_code)]

pub mod cli;

use gaussmix::{DeviceChoice, FitConfig, FitOptions, FullPath, GaussianMixture, Samples};
use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// A known mixture: weights, means (K × D) and full covariances.
pub struct Truth {
    pub weights: Vec<f64>,
    pub means: DMatrix<f64>,
    pub covs: Vec<DMatrix<f64>>,
}

/// Three well-separated components in `d` dimensions with distinct, correlated covariances.
pub fn truth(d: usize) -> Truth {
    let k = 3;
    let means = DMatrix::from_fn(k, d, |c, j| {
        (c as f64 - 1.0) * 8.0 + if j % 2 == 0 { 1.0 } else { -1.0 } * c as f64
    });
    let covs = (0..k)
        .map(|c| {
            let a = DMatrix::from_fn(d, d, |i, j| {
                (((i * 3 + j * 5 + c * 7) % 11) as f64 - 5.0) * 0.08
            });
            &a * a.transpose() + DMatrix::identity(d, d) * (0.5 + 0.3 * c as f64)
        })
        .collect();
    Truth {
        weights: vec![0.5, 0.3, 0.2],
        means,
        covs,
    }
}

/// Draws `n` samples from `t` (rows), with the true labels.
pub fn draw(t: &Truth, n: usize, seed: u64) -> (DMatrix<f64>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let d = t.means.ncols();
    let chols: Vec<DMatrix<f64>> = t
        .covs
        .iter()
        .map(|c| c.clone().cholesky().unwrap().l())
        .collect();
    let mut x = DMatrix::zeros(n, d);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let u: f64 = rng.random();
        let mut acc = 0.0;
        let mut k = t.weights.len() - 1;
        for (c, w) in t.weights.iter().enumerate() {
            acc += w;
            if u < acc {
                k = c;
                break;
            }
        }
        let z = DVector::from_fn(d, |_, _| rng.sample::<f64, _>(StandardNormal));
        let v = &chols[k] * z;
        for j in 0..d {
            x[(i, j)] = t.means[(k, j)] + v[j];
        }
        labels.push(k);
    }
    (x, labels)
}

/// Index of the fitted component whose mean is nearest to each true mean.
pub fn match_components(true_means: &DMatrix<f64>, fitted_means: &DMatrix<f64>) -> Vec<usize> {
    (0..true_means.nrows())
        .map(|c| {
            (0..fitted_means.nrows())
                .min_by(|&a, &b| {
                    let da = (fitted_means.row(a) - true_means.row(c)).norm();
                    let db = (fitted_means.row(b) - true_means.row(c)).norm();
                    da.partial_cmp(&db).unwrap()
                })
                .unwrap()
        })
        .collect()
}

/// The f64 CPU reference fit on the dense path: what `GaussianMixture::fit` was before the
/// one front door (which now chooses the device, and the low-rank path for N < D).
pub fn fit_cpu(x: &DMatrix<f64>, config: &FitConfig) -> gaussmix::Result<GaussianMixture> {
    gaussmix::fit(
        &Samples::new(x)?,
        config,
        FitOptions::new()
            .device(DeviceChoice::Cpu)
            .full_path(FullPath::Dense),
    )
}

/// Whether `CI` is set to a truthy value (`1`, `true`, `yes`, `on`, any case).
pub fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

/// The GPU context for a test, or `None` (with a skip notice) when no adapter is usable;
/// under a truthy `CI` a missing adapter fails the test instead of skipping it.
pub fn context() -> Option<gaussmix::gpu::GpuContext> {
    match gaussmix::Device::gpu() {
        Ok(gaussmix::Device::Gpu(c)) => Some(c),
        Ok(gaussmix::Device::Cpu) => unreachable!("Device::gpu gives a GPU"),
        Err(e) => {
            if on_ci() {
                panic!("CI is set but no GPU adapter is usable: {e}");
            }
            eprintln!("skipping GPU test: {e}");
            None
        }
    }
}

/// The GPU device for a test; see [`context`].
pub fn gpu_device() -> Option<gaussmix::Device> {
    context().map(gaussmix::Device::Gpu)
}

/// A path as the `&str` a command line takes.
pub fn path_str(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

/// Writes `x` as a headerless CSV file.
pub fn write_csv(path: &std::path::Path, x: &DMatrix<f64>) {
    let mut t = String::new();
    for r in x.row_iter() {
        let v: Vec<String> = r.iter().map(|v| v.to_string()).collect();
        t.push_str(&v.join(","));
        t.push('\n');
    }
    std::fs::write(path, t).unwrap();
}

/// The data of the command-line tests: 600 samples of the 3-D known mixture.
pub fn cli_data() -> DMatrix<f64> {
    draw(&truth(3), 600, 7).0
}

/// The stored numbers of dense covariances (a low-rank model's, made dense), in storage order.
pub fn covariance_values(c: &gaussmix::Covariances) -> Vec<f64> {
    use gaussmix::Covariances;
    match c {
        Covariances::Full(m) => m.iter().flat_map(|m| m.iter().copied()).collect(),
        Covariances::Tied(m) | Covariances::Diag(m) => m.iter().copied().collect(),
        Covariances::Spherical(v) => v.iter().copied().collect(),
        Covariances::LowRank(lr) => lr
            .to_dense(1 << 30)
            .unwrap()
            .iter()
            .flat_map(|m| m.iter().copied())
            .collect(),
    }
}

/// Asserts that two fits are the same to `rtol` of each quantity's largest value: iteration
/// count, lower-bound history, weights, means and covariances.
#[track_caller]
pub fn assert_same_fit(what: &str, a: &GaussianMixture, b: &GaussianMixture, rtol: f64) {
    let close = |name: &str, x: &[f64], y: &[f64]| {
        assert_eq!(x.len(), y.len(), "{what} {name}: lengths");
        let scale = y.iter().fold(1e-300f64, |m, v| m.max(v.abs()));
        let worst = x
            .iter()
            .zip(y)
            .map(|(p, q)| (p - q).abs() / scale)
            .fold(0.0, f64::max);
        assert!(worst <= rtol, "{what} {name}: {worst:e}");
    };
    assert_eq!(a.summary().n_iter, b.summary().n_iter, "{what}: iterations");
    close(
        "lower bounds",
        &a.summary().lower_bound_history,
        &b.summary().lower_bound_history,
    );
    close("weights", a.weights().as_slice(), b.weights().as_slice());
    close("means", a.means().as_slice(), b.means().as_slice());
    close(
        "covariances",
        &covariance_values(a.covariances()),
        &covariance_values(b.covariances()),
    );
}
