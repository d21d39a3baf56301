//! `gaussmix bench`: time EM iterations (E-step + M-step statistics + host factorisation) on
//! the CPU and the GPU side by side, and the exact low-rank path's Gram matrix (its largest
//! product, 2 N² D flops, once per fit).

use std::time::Instant;

use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use gaussmix::error::Result;
use gaussmix::gpu::GpuContext;
use gaussmix::lowrank::Products;
use gaussmix::synthetic::{flops_per_iteration, one_hot, overlapping, synthetic, Case};
use gaussmix::{CovarianceType, Device, Engine, Samples};

/// Arguments of `gaussmix bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Samples (a custom case; default cases otherwise).
    #[arg(long)]
    pub n: Option<usize>,
    /// Dimensions of the custom case.
    #[arg(long)]
    pub d: Option<usize>,
    /// Components of the custom case.
    #[arg(long)]
    pub k: Option<usize>,
    /// Covariance type of the custom case (full, tied, diag, spherical).
    #[arg(long)]
    pub covariance: Option<CovarianceType>,
    /// Timed iterations per case and device (after one warm-up iteration).
    #[arg(long, default_value_t = 5)]
    pub iters: usize,
    /// Devices to time, comma-separated.
    #[arg(long, default_value = "cpu,gpu", value_delimiter = ',')]
    pub device: Vec<String>,
    /// Also run the large default case (1 000 000 × 64, K = 64, diag).
    #[arg(long)]
    pub large: bool,
    /// Seed of the synthetic data.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Samples × dimensions of the low-rank Gram matrix case (the faces: 400x4096); 0x0 skips it.
    #[arg(long, default_value = "400x4096", value_parser = parse_gram_case, allow_hyphen_values = true)]
    pub gram: (usize, usize),
}

fn parse_gram_case(s: &str) -> std::result::Result<(usize, usize), String> {
    let bad = || format!("{s:?} is not SAMPLESxDIMENSIONS (e.g. 400x4096, or 0x0 to skip)");
    let (n, d) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    Ok((
        n.trim().parse().map_err(|_| bad())?,
        d.trim().parse().map_err(|_| bad())?,
    ))
}

/// Milliseconds to compute the Gram matrix `X_c X_cᵀ` of the low-rank path with `products`
/// (best of `iters` after one warm-up).
fn time_gram(x: &DMatrix<f64>, products: &Products, iters: usize) -> Result<f64> {
    products.gram(x.as_view())?;
    let mut best = f64::INFINITY;
    for _ in 0..iters.max(1) {
        let started = Instant::now();
        products.gram(x.as_view())?;
        best = best.min(started.elapsed().as_secs_f64() * 1e3);
    }
    Ok(best)
}

/// The low-rank path's Gram matrix on the CPU (f64 GEMM) and the GPU (exact integer products),
/// side by side.
fn gram_table(
    (n, d): (usize, usize),
    want_cpu: bool,
    gpu: Option<&GpuContext>,
    iters: usize,
    seed: u64,
) -> Result<()> {
    if n == 0 || d == 0 {
        return Ok(());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Samples as columns (D × N), as the low-rank path keeps them.
    let x = DMatrix::<f64>::from_fn(d, n, |_, _| rng.sample::<f64, _>(StandardNormal));
    let flops = 2.0 * (n * n * d) as f64;
    println!();
    println!(
        "{:>9} {:>5} {:>28} {:>7} {:>12} {:>9} {:>8}",
        "samples", "dims", "low-rank Gram matrix", "device", "ms", "GFLOP/s", "speedup"
    );
    let row = |device: &str, what: &str, ms: f64, base: Option<f64>| {
        println!(
            "{:>9} {:>5} {:>28} {:>7} {:>12.2} {:>9.2} {:>8}",
            n,
            d,
            what,
            device,
            ms,
            flops / (ms * 1e-3) / 1e9,
            base.map_or("".into(), |b| format!("{:.1}x", b / ms))
        );
    };
    let mut cpu_ms = None;
    if want_cpu {
        let ms = time_gram(&x, &Products::Cpu, iters)?;
        row("cpu", "f64 GEMM", ms, None);
        cpu_ms = Some(ms);
    }
    if let Some(ctx) = gpu {
        let ms = time_gram(&x, &Products::Gpu(ctx.clone()), iters)?;
        row("gpu", "exact integer products", ms, cpu_ms);
    }
    Ok(())
}

/// The machine's f64 GEMM rate, GFLOP/s: every rayon thread multiplies its own 512 × 512
/// matrices (`matrixmultiply`, the engine's kernels), best of a few
/// rounds. The yardstick of the "of GEMM" column.
fn gemm_peak() -> f64 {
    use rayon::prelude::*;
    const S: usize = 512;
    let threads = rayon::current_num_threads();
    let a = DMatrix::<f64>::from_fn(S, S, |i, j| ((i * 7 + j * 3) % 13) as f64 * 0.01);
    let b = a.transpose();
    let mut best = 0.0f64;
    for _ in 0..4 {
        let started = Instant::now();
        let reps = 3;
        let check: f64 = (0..threads)
            .into_par_iter()
            .map(|_| {
                let mut c = DMatrix::<f64>::zeros(S, S);
                for _ in 0..reps {
                    // SAFETY: three contiguous column-major S × S matrices.
                    unsafe {
                        matrixmultiply::dgemm(
                            S,
                            S,
                            S,
                            1.0,
                            a.as_ptr(),
                            1,
                            S as isize,
                            b.as_ptr(),
                            1,
                            S as isize,
                            0.0,
                            c.as_mut_ptr(),
                            1,
                            S as isize,
                        );
                    }
                }
                c[(0, 0)]
            })
            .sum();
        let secs = started.elapsed().as_secs_f64();
        assert!(check.is_finite());
        best = best.max((2 * S * S * S * reps * threads) as f64 / secs / 1e9);
    }
    best
}

/// Milliseconds per EM iteration of `engine` on its data, starting from `labels`, and on a GPU
/// the host ↔ device traffic per iteration (bytes each way, host round trips).
pub fn time_iterations(
    engine: &mut Engine,
    labels: &[usize],
    k: usize,
    covariance: CovarianceType,
    iters: usize,
) -> Result<(f64, Option<PerIteration>)> {
    engine.set_responsibilities(&one_hot(labels, k))?;
    let mut params = engine.m_step(covariance)?.to_params(1e-6)?;
    fn step(
        engine: &mut Engine,
        params: &mut gaussmix::MixtureParams,
        covariance: CovarianceType,
    ) -> Result<()> {
        *params = engine.statistics(params, covariance)?.to_params(1e-6)?;
        Ok(())
    }
    step(engine, &mut params, covariance)?; // warm-up (pipelines, allocations)
    let before = engine.traffic();
    let started = Instant::now();
    for _ in 0..iters.max(1) {
        step(engine, &mut params, covariance)?;
    }
    let ms = started.elapsed().as_secs_f64() * 1e3 / iters.max(1) as f64;
    let per = before.zip(engine.traffic()).map(|(b, a)| {
        let t = a.since(&b);
        let it = iters.max(1) as f64;
        PerIteration {
            to_device: t.bytes_to_device as f64 / it,
            from_device: t.bytes_from_device as f64 / it,
            round_trips: t.round_trips as f64 / it,
        }
    });
    Ok((ms, per))
}

/// Host ↔ device traffic of one GPU EM iteration.
#[derive(Debug, Clone, Copy)]
pub struct PerIteration {
    /// Bytes written to the device.
    pub to_device: f64,
    /// Bytes read back from the device.
    pub from_device: f64,
    /// Waits of the host on the device.
    pub round_trips: f64,
}

fn kb(bytes: f64) -> String {
    format!("{:.1} kB", bytes / 1e3)
}

/// Runs `gaussmix bench`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let custom =
        args.n.is_some() || args.d.is_some() || args.k.is_some() || args.covariance.is_some();
    let mut cases = Vec::new();
    if custom {
        cases.push(Case {
            n: args.n.unwrap_or(200_000),
            d: args.d.unwrap_or(32),
            k: args.k.unwrap_or(16),
            covariance: args.covariance.unwrap_or(CovarianceType::Full),
        });
    } else {
        cases.push(Case {
            n: 200_000,
            d: 32,
            k: 16,
            covariance: CovarianceType::Full,
        });
        if args.large {
            cases.push(Case {
                n: 1_000_000,
                d: 64,
                k: 64,
                covariance: CovarianceType::Diag,
            });
        }
    }
    for dev in &args.device {
        if dev != "cpu" && dev != "gpu" {
            anyhow::bail!("unknown device {dev:?} in --device; use cpu, gpu or cpu,gpu");
        }
    }
    let want_cpu = args.device.iter().any(|d| d == "cpu");
    let mut gpu = None;
    if args.device.iter().any(|d| d == "gpu") {
        match Device::gpu() {
            Ok(Device::Gpu(ctx)) => {
                eprintln!("GPU: {}", ctx.describe());
                gpu = Some(ctx);
            }
            Ok(Device::Cpu) => {}
            Err(e) => eprintln!("notice: {e}; timing the CPU only"),
        }
    }
    eprintln!("CPU: {} rayon threads, f64", rayon::current_num_threads());
    if want_cpu {
        println!(
            "GFLOP/s: useful work (synthetic::flops_per_iteration) per second; of GEMM: that over the better f64 GEMM rate measured just before and after the row (512 x 512 products, one per thread)"
        );
    }
    println!(
        "{:>9} {:>5} {:>4} {:>10} {:>10} {:>7} {:>10} {:>9} {:>12} {:>8}   GPU per iteration: to device / read back / round trips",
        "samples",
        "dims",
        "K",
        "covariance",
        "resp",
        "device",
        "ms/iter",
        "GFLOP/s",
        "of GEMM",
        "speedup",
    );
    for case in &cases {
        let flops = flops_per_iteration(case);
        // Well-separated clusters from their true labels, then overlapping clusters from
        // random labels (spread responsibilities: no sample can be skipped).
        for (regime, (x, labels)) in [
            ("separated", synthetic(case, args.seed)),
            ("spread", overlapping(case, args.seed)),
        ] {
            let mut cpu_ms = None;
            let mut peak = f64::NAN;
            #[rustfmt::skip]
            let row = |device: &str, ms: f64, peak: f64, base: Option<f64>, traffic: Option<PerIteration>| {
                let rate = flops / (ms * 1e-3) / 1e9;
                println!(
                    "{:>9} {:>5} {:>4} {:>10} {:>10} {:>7} {:>10.2} {:>9.2} {:>12} {:>8}   {}",
                    case.n,
                    case.d,
                    case.k,
                    case.covariance.as_str(),
                    regime,
                    device,
                    ms,
                    rate,
                    if device == "cpu" && peak.is_finite() {
                        format!("{:.0}% of {peak:.0}", 100.0 * rate / peak)
                    } else {
                        String::new()
                    },
                    base.map_or("".into(), |b| format!("{:.1}x", b / ms)),
                    traffic.map_or(String::new(), |t| format!(
                        "{} / {} / {:.1}",
                        kb(t.to_device),
                        kb(t.from_device),
                        t.round_trips
                    ))
                );
            };
            let samples = Samples::new(&x)?;
            if want_cpu {
                let mut engine = Engine::new(&samples, &Device::Cpu)?;
                // The better of the GEMM rates just before and just after the iterations, so
                // that a burst of load on a shared machine does not flatter the fraction.
                let before = gemm_peak();
                let (ms, _) =
                    time_iterations(&mut engine, &labels, case.k, case.covariance, args.iters)?;
                peak = before.max(gemm_peak());
                row("cpu", ms, peak, None, None);
                cpu_ms = Some(ms);
            }
            if let Some(ctx) = &gpu {
                let mut engine = Engine::new(&samples, &Device::Gpu(ctx.clone()))?;
                let (ms, traffic) =
                    time_iterations(&mut engine, &labels, case.k, case.covariance, args.iters)?;
                row("gpu", ms, peak, cpu_ms, traffic);
            }
        }
    }
    gram_table(args.gram, want_cpu, gpu.as_ref(), args.iters, args.seed)?;
    Ok(())
}
