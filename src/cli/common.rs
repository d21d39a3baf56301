//! Pieces shared by the subcommands: progress of a fit, the device flag, and reading models
//! and data with the file named in every error.

use std::io::IsTerminal;
use std::path::Path;
use std::str::FromStr;

use indicatif::{ProgressBar, ProgressStyle};

use crate::em::IterationEvent;
use crate::error::GmmError;
use crate::fit::FullPath;

impl FromStr for FullPath {
    type Err = GmmError;
    fn from_str(s: &str) -> Result<Self, GmmError> {
        match s {
            "auto" => Ok(FullPath::Auto),
            "dense" => Ok(FullPath::Dense),
            "low-rank" | "lowrank" => Ok(FullPath::LowRank),
            other => Err(GmmError::param(
                "full_path",
                other,
                "use auto, dense or low-rank",
            )),
        }
    }
}

/// Reports EM iterations: a progress bar on a terminal, plain lines otherwise, nothing when
/// quiet.
pub struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
}

impl Progress {
    /// A reporter for a fit of `max_iter` iterations per initialisation.
    pub fn new(quiet: bool, max_iter: usize) -> Self {
        if quiet {
            return Progress {
                bar: None,
                plain: false,
            };
        }
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(max_iter as u64);
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} iterations  {msg}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            Progress {
                bar: Some(bar),
                plain: false,
            }
        } else {
            Progress {
                bar: None,
                plain: true,
            }
        }
    }

    /// Reports one iteration.
    pub fn update(&mut self, e: &IterationEvent) {
        if let Some(bar) = &self.bar {
            if e.iter == 1 {
                bar.reset();
                bar.set_prefix(format!("init {}/{}", e.init + 1, e.n_init));
            }
            bar.set_position(e.iter as u64);
            bar.set_message(format!(
                "lower bound {:.6} (change {:.2e})",
                e.lower_bound, e.change
            ));
        } else if self.plain {
            eprintln!(
                "init {}/{} iteration {:>4}/{}: lower bound {:.6} (change {:.3e})",
                e.init + 1,
                e.n_init,
                e.iter,
                e.max_iter,
                e.lower_bound,
                e.change
            );
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Loads a model, naming the file in errors.
pub fn load_model(path: &Path) -> anyhow::Result<crate::GaussianMixture> {
    Ok(crate::io::load_model(path)?)
}

/// Reads data that must be finite.
pub fn read_data(path: &Path) -> anyhow::Result<nalgebra::DMatrix<f64>> {
    Ok(crate::io::read_matrix(path, crate::io::Missing::Reject)?)
}

/// Reads data for a model: finite, with the model's number of features.
pub fn read_data_for(
    path: &Path,
    model: &crate::GaussianMixture,
) -> anyhow::Result<nalgebra::DMatrix<f64>> {
    let x = read_data(path)?;
    if x.ncols() != model.n_features() {
        anyhow::bail!(
            "{}: the data have {} columns but the model was fitted on {}; give data with the model's features",
            path.display(),
            x.ncols(),
            model.n_features()
        );
    }
    Ok(x)
}
