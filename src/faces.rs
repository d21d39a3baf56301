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
use crate::em::Progress;
use crate::error::{GmmError, Result};
use crate::fit::{fit, FitOptions};
use crate::imagegrid::{grid, save_png};
use crate::model::GaussianMixture;
use crate::samples::Samples;

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
    /// Added to the diagonal of every covariance (λ of the low-rank form).
    pub reg_covar: f64,
    /// Output directory (created if missing).
    pub out: PathBuf,
    /// Where the fit runs (the GPU computes the Gram matrix of the low-rank path).
    pub device: DeviceChoice,
    /// Held-out faces to complete from their upper half (one each of the first people;
    /// 0 skips the completion and its second fit).
    pub complete: usize,
}

impl Default for FacesJob {
    fn default() -> Self {
        FacesJob {
            n_components: 24,
            seed: 0,
            n_samples: 24,
            max_iter: 100,
            tol: 1e-3,
            reg_covar: 1e-6,
            out: PathBuf::from("gaussmix-faces"),
            device: DeviceChoice::Cpu,
            complete: 8,
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
    /// The held-out completion, if asked for.
    pub completion: Option<Completion>,
}

/// Held-out faces completed from their upper half by conditioning a mixture fitted without
/// them (the lower half's conditional mean), with two baselines: the training faces' mean
/// lower half, and the lower half of the training face whose upper half is nearest.
#[derive(Debug, Clone)]
pub struct Completion {
    /// Index of each held-out face (the last image of each of the first people).
    pub held_out: Vec<usize>,
    /// The completed faces (held-out × 4096): the upper half observed, the lower predicted.
    pub completed: DMatrix<f64>,
    /// Root-mean-square error of the predicted pixels.
    pub rmse: f64,
    /// The same for the training faces' mean lower half.
    pub rmse_mean_face: f64,
    /// The same for the lower half of the training face whose upper half is nearest.
    pub rmse_nearest_face: f64,
    /// Seconds of the fit without the held-out faces.
    pub fit_seconds: f64,
    /// Seconds to condition and predict every held-out face (the baselines not included).
    pub complete_seconds: f64,
}

/// Checks the number of held-out faces to complete (0 allowed when it means "skip").
fn check_complete(people: usize, zero_skips: bool) -> Result<()> {
    let most = N_FACES / 10;
    if people > most || (people == 0 && !zero_skips) {
        return Err(GmmError::param(
            "complete",
            people,
            format!("complete between 1 and {most} held-out faces (one per person; 0 skips it)"),
        ));
    }
    Ok(())
}

/// Pixels of the upper half (observed when completing), row-major.
pub fn upper_half() -> Vec<usize> {
    (0..FACE_HEIGHT / 2 * FACE_WIDTH).collect()
}

/// Fits `config` to every face but the last image of each of the first `people` people, then
/// predicts those faces' lower halves from their upper halves.
pub fn complete_held_out(
    faces: &DMatrix<f64>,
    config: &FitConfig,
    people: usize,
    device: DeviceChoice,
) -> Result<Completion> {
    check_complete(people, false)?;
    let held_out: Vec<usize> = (0..people).map(|p| p * 10 + 9).collect();
    let kept: Vec<usize> = (0..faces.nrows())
        .filter(|i| !held_out.contains(i))
        .collect();
    let training = faces.select_rows(&kept);
    let started = Instant::now();
    let model = fit(
        &Samples::new(&training)?,
        config,
        FitOptions::new().device(device),
    )?;
    let fit_seconds = started.elapsed().as_secs_f64();
    let observed = upper_half();
    let mut started = Instant::now();
    let conditioner = crate::condition::PatternConditioner::new(model.params(), &observed)?;
    let mut complete_seconds = started.elapsed().as_secs_f64();
    let missing = conditioner.missing().to_vec();
    let mean_face = training.row_mean();
    let mut completed = faces.select_rows(&held_out);
    let (mut err, mut err_mean, mut err_nearest) = (0.0, 0.0, 0.0);
    for (r, &i) in held_out.iter().enumerate() {
        let x_o: Vec<f64> = observed.iter().map(|&j| faces[(i, j)]).collect();
        started = Instant::now();
        let lower = conditioner.conditional_mean(&x_o)?;
        complete_seconds += started.elapsed().as_secs_f64();
        let upper_distance = |t: usize| -> f64 {
            observed
                .iter()
                .map(|&j| (training[(t, j)] - faces[(i, j)]).powi(2))
                .sum()
        };
        let nearest = (0..training.nrows())
            .min_by(|&a, &b| upper_distance(a).total_cmp(&upper_distance(b)))
            .expect("training faces");
        for (&j, v) in missing.iter().zip(lower.iter()) {
            err += (v - faces[(i, j)]).powi(2);
            err_mean += (mean_face[j] - faces[(i, j)]).powi(2);
            err_nearest += (training[(nearest, j)] - faces[(i, j)]).powi(2);
            completed[(r, j)] = *v;
        }
    }
    let count = (held_out.len() * missing.len()) as f64;
    Ok(Completion {
        held_out,
        completed,
        rmse: (err / count).sqrt(),
        rmse_mean_face: (err_mean / count).sqrt(),
        rmse_nearest_face: (err_nearest / count).sqrt(),
        fit_seconds,
        complete_seconds,
    })
}

/// Draws of `sample(1)` timed to estimate the per-draw cost.
const TIMED_DRAWS: usize = 200;

/// Fits the faces and writes the PNG grids and the model into `job.out`.
pub fn run(
    job: &FacesJob,
    notice: &mut dyn FnMut(&str),
    progress: Progress<'_>,
) -> Result<FacesReport> {
    // Settings and the output path are checked before anything is decoded or created, so
    // that a bad argument fails at once and leaves no empty output directory.
    let config = FitConfig::new(job.n_components)
        .seed(job.seed)
        .max_iter(job.max_iter)
        .tol(job.tol)
        .reg_covar(job.reg_covar);
    config.validate(N_FACES, FACE_HEIGHT * FACE_WIDTH)?;
    if job.n_samples == 0 {
        return Err(GmmError::param(
            "n_samples",
            0,
            "draw at least 1 new face (n_samples = 1 or more)",
        ));
    }
    check_complete(job.complete, true)?;
    if job.out.exists() && !job.out.is_dir() {
        return Err(GmmError::file(
            &job.out,
            "exists and is not a directory; give a directory for the output (out=DIR)",
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
        &Samples::new(&faces)?,
        &config,
        FitOptions::new()
            .device(job.device)
            .notice(notice)
            .progress(progress),
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

    let completion = if job.complete > 0 {
        let c = complete_held_out(&faces, &config, job.complete, job.device)?;
        // Rows: the held-out faces, their upper halves (lower half blank), the completions.
        let n = c.held_out.len();
        let originals = faces.select_rows(&c.held_out);
        let mut halves = originals.clone();
        for r in 0..n {
            for j in FACE_HEIGHT / 2 * FACE_WIDTH..faces.ncols() {
                halves[(r, j)] = 1.0;
            }
        }
        let mut rows = DMatrix::zeros(3 * n, faces.ncols());
        rows.rows_mut(0, n).copy_from(&originals);
        rows.rows_mut(n, n).copy_from(&halves);
        rows.rows_mut(2 * n, n).copy_from(&c.completed);
        write_grid("completed_faces.png", &rows, n)?;
        Some(c)
    } else {
        None
    };

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
        completion,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_out_completion_beats_the_mean_face_and_the_nearest_face() {
        let faces = olivetti_faces().unwrap();
        let config = FitConfig::new(24).seed(0).tol(1e-3);
        let c = complete_held_out(&faces, &config, 12, DeviceChoice::Cpu).unwrap();
        assert_eq!(c.held_out, (0..12).map(|p| p * 10 + 9).collect::<Vec<_>>());
        // The observed upper halves are kept as they are.
        for (r, &i) in c.held_out.iter().enumerate() {
            for j in upper_half() {
                assert_eq!(c.completed[(r, j)], faces[(i, j)]);
            }
        }
        assert!(c.completed.iter().all(|v| v.is_finite()));
        assert!(
            c.rmse < 0.9 * c.rmse_mean_face && c.rmse < c.rmse_nearest_face,
            "mixture {} mean face {} nearest face {}",
            c.rmse,
            c.rmse_mean_face,
            c.rmse_nearest_face
        );
        assert!(complete_held_out(&faces, &config, 41, DeviceChoice::Cpu).is_err());
    }

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
