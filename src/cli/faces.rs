//! `gaussmix faces`: fit the embedded Olivetti faces with full covariances (exactly, through
//! the low-rank path) and write training faces, component means and new faces as PNG grids.

use std::path::PathBuf;

use gaussmix::faces::{run as run_faces, FacesJob};
use gaussmix::DeviceChoice;

/// Arguments of `gaussmix faces`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of mixture components.
    #[arg(long, default_value_t = 24)]
    pub k: usize,
    /// Seed of the initialisation and of the draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Number of new faces to draw.
    #[arg(long, default_value_t = 24)]
    pub n_samples: usize,
    /// Output directory (created if missing).
    #[arg(long, default_value = "gaussmix-faces")]
    pub out: PathBuf,
    /// EM iterations at most.
    #[arg(long, default_value_t = 100)]
    pub max_iter: usize,
    /// Convergence threshold on the change of the mean log-likelihood.
    #[arg(long, default_value_t = 1e-3)]
    pub tol: f64,
    /// Added to the diagonal of every covariance (scikit-learn's default, 1e-6; larger values
    /// smooth the new and completed faces).
    #[arg(long, default_value_t = 1e-6, allow_negative_numbers = true)]
    pub reg_covar: f64,
    /// Where to fit: cpu, gpu (the Gram matrix on the GPU, exact integer products; the N × N
    /// algebra stays on the CPU) or auto.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
    /// Held-out faces to complete from their upper half (the last image of each of the first
    /// people, left out of a second fit); 0 skips it.
    #[arg(long, default_value_t = 8)]
    pub complete: usize,
}

/// Runs `gaussmix faces`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let job = FacesJob {
        n_components: args.k,
        seed: args.seed,
        n_samples: args.n_samples,
        max_iter: args.max_iter,
        tol: args.tol,
        reg_covar: args.reg_covar,
        out: args.out,
        device: args.device,
        complete: args.complete,
    };
    let report = run_faces(&job, &mut |s| eprintln!("note: {s}"), &mut |e| {
        eprintln!(
            "  iteration {:>3}: mean log-likelihood {:.4} (change {:.3e})",
            e.iter, e.lower_bound, e.change
        );
        std::ops::ControlFlow::Continue(())
    })?;
    let m = &report.model;
    println!(
        "faces: {} × {} (decoded in {:.3} s), {} full-covariance components ({})",
        gaussmix::faces::N_FACES,
        gaussmix::faces::FACE_HEIGHT * gaussmix::faces::FACE_WIDTH,
        report.load_seconds,
        m.n_components(),
        if report.low_rank {
            "exact low-rank form"
        } else {
            "dense"
        }
    );
    println!(
        "fit: {:.3} s including initialisation, {} iterations, {}, mean log-likelihood {:.4}",
        report.fit_seconds,
        m.summary().n_iter,
        if m.summary().converged {
            "converged"
        } else {
            "not converged (raise --max-iter)"
        },
        m.summary().lower_bound
    );
    println!("device: {}", m.summary().device);
    println!(
        "sampling: {:.3} ms per face (sample(1)), {:.3} ms for all {} faces at once",
        report.seconds_per_draw * 1e3,
        report.batch_draw_seconds * 1e3,
        job.n_samples
    );
    if let Some(c) = &report.completion {
        println!(
            "completion: {} held-out faces (fit without them: {:.3} s), lower half from the upper half in {:.3} s: RMSE {:.4} per pixel (the mean face: {:.4}; the training face with the nearest upper half: {:.4})",
            c.held_out.len(),
            c.fit_seconds,
            c.complete_seconds,
            c.rmse,
            c.rmse_mean_face,
            c.rmse_nearest_face
        );
    }
    if let Some(w) = &report.save_warning {
        eprintln!("warning: the model was not saved: {w}");
    }
    for p in &report.written {
        println!("wrote {}", p.display());
    }
    Ok(())
}
