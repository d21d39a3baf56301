//! `gaussmix demo`: the main job on embedded real data, with no arguments.
//!
//! The Santa Fe laser series (shipped in `assets/`) is embedded in delay coordinates
//! (x_t, x_{t+1}); mixtures of K = 1..=8 full-covariance components are fitted, the number of
//! components is chosen by BIC, and the chosen model and a picture of it are written.

use std::path::PathBuf;
use std::time::Instant;

use nalgebra::DMatrix;
use plotters::prelude::*;

use gaussmix::{
    fit, CovarianceType, Covariances, DeviceChoice, FitConfig, FitOptions, GaussianMixture, Samples,
};

/// The laser series, embedded at build time.
pub const LASER: &str = include_str!("../../assets/santafe_laser_a.txt");

/// Arguments of `gaussmix demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory for the model and the picture (created if needed).
    #[arg(long, default_value = "gaussmix-demo")]
    pub out: PathBuf,
    /// Largest number of components tried.
    #[arg(long, default_value_t = 8)]
    pub max_k: usize,
    /// Where to compute: auto, cpu or gpu.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// The laser series in delay coordinates: row t is (x_t, x_{t+1}).
pub fn laser_pairs() -> DMatrix<f64> {
    let v: Vec<f64> = LASER
        .lines()
        .filter_map(|l| l.trim().parse::<f64>().ok())
        .collect();
    DMatrix::from_fn(v.len() - 1, 2, |i, j| v[i + j])
}

/// Runs `gaussmix demo`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.max_k < 1 {
        anyhow::bail!("--max-k must be at least 1");
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| anyhow::anyhow!("{}: cannot create the directory: {e}", args.out.display()))?;
    let x = laser_pairs();
    println!(
        "Santa Fe laser series (assets/santafe_laser_a.txt) in delay coordinates: {} points (x_t, x_t+1)",
        x.nrows()
    );
    println!("   K   iterations   lower bound          BIC   seconds");
    let started = Instant::now();
    let mut best: Option<(f64, GaussianMixture)> = None;
    let mut said = false;
    for k in 1..=args.max_k {
        let config = FitConfig::new(k)
            .covariance_type(CovarianceType::Full)
            .n_init(3)
            .seed(args.seed);
        let mut notice = |s: &str| {
            if !said {
                eprintln!("note: {s}");
            }
        };
        let model = fit(
            &Samples::new(&x)?,
            &config,
            FitOptions::new().device(args.device).notice(&mut notice),
        )?;
        said = true;
        let bic = model.bic(&x)?;
        println!(
            "{k:>4}   {:>10}   {:>11.5}   {:>10.2}   {:>7.3}",
            model.summary().n_iter,
            model.summary().lower_bound,
            bic,
            model.summary().seconds
        );
        if best.as_ref().is_none_or(|(b, _)| bic < *b) {
            best = Some((bic, model));
        }
    }
    let (bic, model) = best.expect("at least one K");
    let model_path = args.out.join("laser_model.npz");
    let png_path = args.out.join("laser_mixture.png");
    gaussmix::io::save_model(&model_path, &model)?;
    draw(&x, &model, &png_path)?;
    println!(
        "chosen by BIC: K = {} (BIC {bic:.2}) on {}; all fits took {:.2} s",
        model.n_components(),
        model.summary().device,
        started.elapsed().as_secs_f64()
    );
    println!("wrote {} and {}", model_path.display(), png_path.display());
    Ok(())
}

/// Scatter of the points coloured by component, with 1σ and 2σ ellipses of every component.
fn draw(x: &DMatrix<f64>, model: &GaussianMixture, path: &std::path::Path) -> anyhow::Result<()> {
    let (w, h) = (900u32, 800u32);
    let mut buf = vec![0u8; (w * h * 3) as usize];
    let labels = model.predict(x)?;
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        let (lo, hi) = (x.min() - 5.0, x.max() + 5.0);
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "Santa Fe laser, delay coordinates: {} full-covariance components (BIC)",
                    model.n_components()
                ),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(lo..hi, lo..hi)?;
        chart
            .configure_mesh()
            .x_desc("x(t)")
            .y_desc("x(t+1)")
            .draw()?;
        let colour = |k: usize| Palette99::pick(k).to_rgba();
        chart.draw_series(
            (0..x.nrows())
                .map(|i| Circle::new((x[(i, 0)], x[(i, 1)]), 2, colour(labels[i]).filled())),
        )?;
        let Covariances::Full(covs) = model.covariances() else {
            anyhow::bail!("the demo fits full covariances");
        };
        for (k, c) in covs.iter().enumerate() {
            let eig = nalgebra::SymmetricEigen::new(c.clone());
            for scale in [1.0, 2.0] {
                let pts: Vec<(f64, f64)> = (0..=96)
                    .map(|t| {
                        let a = t as f64 / 96.0 * std::f64::consts::TAU;
                        let (u, v) = (
                            a.cos() * eig.eigenvalues[0].max(0.0).sqrt() * scale,
                            a.sin() * eig.eigenvalues[1].max(0.0).sqrt() * scale,
                        );
                        let p = eig.eigenvectors.column(0) * u + eig.eigenvectors.column(1) * v;
                        (model.means()[(k, 0)] + p[0], model.means()[(k, 1)] + p[1])
                    })
                    .collect();
                chart.draw_series(std::iter::once(PathElement::new(
                    pts,
                    colour(k).stroke_width(2),
                )))?;
            }
            chart.draw_series(std::iter::once(Cross::new(
                (model.means()[(k, 0)], model.means()[(k, 1)]),
                6,
                BLACK.stroke_width(2),
            )))?;
        }
        root.present()?;
    }
    let img = image::RgbImage::from_raw(w, h, buf).expect("buffer of the right size");
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )?;
    gaussmix::output::write_atomic(path, |out| out.write_all(&bytes))?;
    Ok(())
}
