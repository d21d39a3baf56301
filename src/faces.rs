//! The Olivetti faces application: 400 faces of 64 × 64 pixels (N = 400 < D = 4096), a mixture
//! of full-covariance Gaussians fitted exactly through the low-rank path, and new faces drawn
//! from it.
//!
//! The faces are embedded in the binary (`assets/olivetti_faces.png`, a 20 × 20 grid of the
//! 400 faces in scikit-learn's order, 8-bit values v with the float data exactly `f32(v / 242)`).

use std::path::PathBuf;
use std::time::Instant;

use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::config::FitConfig;
use crate::covariance::Covariances;
use crate::device::DeviceChoice;
use crate::error::{GmmError, Result};
use crate::fit::{fit, FitOptions, FullPath};
use crate::imagegrid::{grid, save_png};
use crate::model::GaussianMixture;

/// Face height in pixels.
pub const FACE_HEIGHT: usize = 64;
/// Face width in pixels.
pub const FACE_WIDTH: usize = 64;
/// Number of faces (40 people × 10 images).
pub const N_FACES: usize = 400;
/// Faces per row of the embedded grid.
const GRID_COLUMNS: usize = 20;
/// The brightest 8-bit value of the embedded grid (maps to 1.0).
const PIXEL_MAX: f32 = 242.0;

const FACES_PNG: &[u8] = include_bytes!("../assets/olivetti_faces.png");

/// The embedded faces as a 400 × 4096 matrix (one face per row, row-major pixels), with the
/// values of scikit-learn's `fetch_olivetti_faces` (f32, widened to f64).
pub fn olivetti_faces() -> Result<DMatrix<f64>> {
    faces_from_png(FACES_PNG)
}

/// Decodes a grid of faces laid out as the embedded asset.
pub fn faces_from_png(bytes: &[u8]) -> Result<DMatrix<f64>> {
    let img = image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
        .map_err(|e| {
            GmmError::InvalidData(format!("the embedded faces image cannot be decoded: {e}"))
        })?
        .to_luma8();
    let rows = N_FACES / GRID_COLUMNS;
    let want = (
        (GRID_COLUMNS * FACE_WIDTH) as u32,
        (rows * FACE_HEIGHT) as u32,
    );
    if img.dimensions() != want {
        return Err(GmmError::InvalidData(format!(
            "the faces image is {:?} pixels, not {want:?}",
            img.dimensions()
        )));
    }
    Ok(DMatrix::from_fn(
        N_FACES,
        FACE_HEIGHT * FACE_WIDTH,
        |i, p| {
            let (gy, gx) = (i / GRID_COLUMNS, i % GRID_COLUMNS);
            let (y, x) = (p / FACE_WIDTH, p % FACE_WIDTH);
            let v = img.get_pixel((gx * FACE_WIDTH + x) as u32, (gy * FACE_HEIGHT + y) as u32)[0];
            f64::from(f32::from(v) / PIXEL_MAX)
        },
    ))
}

/// Settings of the faces job.
#[derive(Debug, Clone)]
pub struct FacesJob {
    /// Number of components.
    pub n_components: usize,
    /// Seed of the initialisation and of the draws.
    pub seed: u64,
    /// Number of new faces to draw.
    pub n_samples: usize,
    /// EM iterations at most.
    pub max_iter: usize,
    /// Convergence threshold on the mean log-likelihood.
    pub tol: f64,
    /// Output directory (created if missing).
    pub out: PathBuf,
    /// Where the fit runs (the GPU computes the Gram matrix of the low-rank path).
    pub device: DeviceChoice,
}

impl Default for FacesJob {
    fn default() -> Self {
        FacesJob {
            n_components: 24,
            seed: 0,
            n_samples: 24,
            max_iter: 100,
            tol: 1e-3,
            out: PathBuf::from("gaussmix-faces"),
            device: DeviceChoice::Cpu,
        }
    }
}

/// What the faces job did.
#[derive(Debug)]
pub struct FacesReport {
    /// The fitted model.
    pub model: GaussianMixture,
    /// Seconds to load and decode the embedded faces.
    pub load_seconds: f64,
    /// Seconds of the fit, initialisation included.
    pub fit_seconds: f64,
    /// Whether the low-rank representation was used.
    pub low_rank: bool,
    /// Mean seconds of one `sample(1)` (one new face).
    pub seconds_per_draw: f64,
    /// Seconds to draw all `n_samples` faces at once.
    pub batch_draw_seconds: f64,
    /// Files written.
    pub written: Vec<PathBuf>,
    /// Why the model file could not be saved, if it could not.
    pub save_warning: Option<String>,
}

/// Draws of `sample(1)` timed to estimate the per-draw cost.
const TIMED_DRAWS: usize = 200;

/// Fits the faces and writes the PNG grids and the model into `job.out`.
pub fn run(
    job: &FacesJob,
    notice: &mut dyn FnMut(&str),
    on_iteration: &mut dyn FnMut(&crate::em::IterationEvent),
) -> Result<FacesReport> {
    // Settings and the output path are checked before anything is decoded or created, so
    // that a bad argument fails at once and leaves no empty output directory.
    let config = FitConfig::new(job.n_components)
        .seed(job.seed)
        .max_iter(job.max_iter)
        .tol(job.tol);
    config.validate(N_FACES, FACE_HEIGHT * FACE_WIDTH)?;
    if job.n_samples == 0 {
        return Err(GmmError::param(
            "n_samples",
            0,
            "draw at least 1 new face (--n-samples)",
        ));
    }
    if job.out.exists() && !job.out.is_dir() {
        return Err(GmmError::file(
            &job.out,
            "exists and is not a directory; give a directory for the output (--out)",
        ));
    }
    let started = Instant::now();
    let faces = olivetti_faces()?;
    let load_seconds = started.elapsed().as_secs_f64();
    std::fs::create_dir_all(&job.out).map_err(|e| {
        GmmError::file(&job.out, format!("cannot create the output directory: {e}"))
    })?;
    let started = Instant::now();
    let model = fit(
        &faces,
        &config,
        FitOptions {
            device: job.device,
            full_path: FullPath::Auto,
            warm_start: None,
            notice: Some(notice),
        },
        on_iteration,
    )?;
    let fit_seconds = started.elapsed().as_secs_f64();
    let low_rank = matches!(model.covariances(), Covariances::LowRank(_));

    let mut rng = ChaCha8Rng::seed_from_u64(job.seed);
    let started = Instant::now();
    for _ in 0..TIMED_DRAWS {
        std::hint::black_box(model.sample(1, &mut rng)?);
    }
    let seconds_per_draw = started.elapsed().as_secs_f64() / TIMED_DRAWS as f64;
    let started = Instant::now();
    let (drawn, _) = model.sample(job.n_samples, &mut rng)?;
    let batch_draw_seconds = started.elapsed().as_secs_f64();

    let mut written = Vec::new();
    let mut write_grid = |name: &str, images: &DMatrix<f64>, columns: usize| -> Result<()> {
        let path = job.out.join(name);
        save_png(
            &grid(images, FACE_HEIGHT, FACE_WIDTH, columns, false)?,
            &path,
        )?;
        written.push(path);
        Ok(())
    };
    // One face of each person, the component means, and the new faces.
    let people = DMatrix::from_fn(N_FACES / 10, faces.ncols(), |i, j| faces[(i * 10, j)]);
    write_grid("training_faces.png", &people, 10)?;
    write_grid("component_means.png", model.means(), 8)?;
    write_grid("generated_faces.png", &drawn, 8)?;

    let model_path = job.out.join("model.npz");
    let save_warning = match crate::io::save_model(&model_path, &model) {
        Ok(()) => {
            written.push(model_path);
            None
        }
        Err(e) => Some(e.to_string()),
    };
    Ok(FacesReport {
        model,
        load_seconds,
        fit_seconds,
        low_rank,
        seconds_per_draw,
        batch_draw_seconds,
        written,
        save_warning,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_faces_have_the_documented_shape_and_range() {
        let f = olivetti_faces().unwrap();
        assert_eq!(f.shape(), (N_FACES, FACE_HEIGHT * FACE_WIDTH));
        assert!(f.iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(f.max(), 1.0, "242 maps to exactly 1");
        // Every face is a real picture, not a blank tile.
        for i in 0..N_FACES {
            let row = f.row(i);
            assert!(row.max() - row.min() > 0.3, "face {i} has no contrast");
        }
    }
}
