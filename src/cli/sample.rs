//! `gaussmix sample`: draw samples from a model, as data and (for image models) as pictures.

use std::path::PathBuf;
use std::time::Instant;

use crate::cli::common::load_model;
use gaussmix::seeded_rng;

/// Arguments of `gaussmix sample`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model file (.npz).
    pub model: PathBuf,
    /// Number of samples.
    #[arg(short = 'n', long, default_value_t = 1)]
    pub n: usize,
    /// Seed of the draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output samples (.npy or .csv), N × D.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Also write the component of every sample (.npy or .csv).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Write the samples as PNG pictures into this directory (one grid and one file per sample).
    #[arg(long, requires = "shape")]
    pub png: Option<PathBuf>,
    /// Image shape HEIGHTxWIDTH of an image model (e.g. 64x64), for --png.
    #[arg(long)]
    pub shape: Option<String>,
}

/// Runs `gaussmix sample`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.output.is_none() && args.png.is_none() {
        anyhow::bail!("say where the samples go: -o OUT.npy|OUT.csv and/or --png DIR --shape HxW");
    }
    if args.n == 0 {
        anyhow::bail!("-n must be at least 1");
    }
    // Every output is checked before anything is written, so that a bad second output
    // cannot leave the first one behind.
    for p in args.output.iter().chain(&args.labels) {
        gaussmix::io::check_data_output(p)?;
    }
    let shape = args
        .shape
        .as_deref()
        .map(gaussmix::imagegrid::parse_shape)
        .transpose()?;
    let model = load_model(&args.model)?;
    if let Some((h, w)) = shape {
        if h * w != model.n_features() {
            anyhow::bail!(
                "--shape {h}x{w} has {} pixels but the model has {} features",
                h * w,
                model.n_features()
            );
        }
    }
    if let Some(dir) = &args.png {
        if !dir.is_dir() {
            std::fs::create_dir_all(dir).map_err(|e| {
                anyhow::anyhow!("{}: cannot create the directory: {e}", dir.display())
            })?;
        }
    }
    let mut rng = seeded_rng(args.seed, 0);
    let started = Instant::now();
    let (x, labels) = model.sample(args.n, &mut rng)?;
    let seconds = started.elapsed().as_secs_f64();
    // The pictures are composed before any file is written, so that a failure there leaves
    // no data file behind.
    let mut pictures = Vec::new();
    if let (Some(dir), Some((h, w))) = (&args.png, shape) {
        let columns = (args.n as f64).sqrt().ceil() as usize;
        pictures.push((
            dir.join("samples.png"),
            gaussmix::imagegrid::grid(&x, h, w, columns, false)?,
        ));
        for i in 0..x.nrows() {
            pictures.push((
                dir.join(format!("sample_{i:04}.png")),
                gaussmix::imagegrid::grid(&x.rows(i, 1).into_owned(), h, w, 1, false)?,
            ));
        }
    }
    if let Some(out) = &args.output {
        gaussmix::io::write_matrix(out, &x)?;
    }
    if let Some(out) = &args.labels {
        gaussmix::io::write_labels(out, &labels)?;
    }
    for (path, img) in &pictures {
        gaussmix::imagegrid::save_png(img, path)?;
    }
    println!(
        "drew {} samples in {:.3} ms ({:.1} µs per sample)",
        args.n,
        seconds * 1e3,
        seconds * 1e6 / args.n as f64
    );
    Ok(())
}
