//! Pieces shared by the subcommands: progress of a fit, the device flag, and reading models
//! and data with the file named in every error.

use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use gaussmix::IterationEvent;

/// The library names parameters (`reg_covar`, `device=cpu`); on the command line they are
/// flags. Rewrites an error message in the flags' terms.
pub fn with_flag_names(message: &str) -> String {
    // Parameter names only: model-file array names (`covariance_type`, `means_`, …) stay.
    const FLAGS: [(&str, &str); 24] = [
        ("device=cpu", "--device cpu"),
        ("weight_concentration_prior_type", "--weight-prior"),
        ("weight_concentration_prior", "--weight-concentration"),
        ("mean_precision_prior", "--mean-precision-prior"),
        ("mean_prior", "--mean-prior"),
        ("degrees_of_freedom_prior", "--degrees-of-freedom-prior"),
        ("covariance_prior", "--covariance-prior"),
        ("init=means", "--means-init"),
        ("variational", "--bayesian"),
        ("device=gpu", "--device gpu"),
        ("column=NAME", "--column NAME"),
        ("transform=NAME", "--transform NAME"),
        ("out=DIR", "--out DIR"),
        ("n_samples = 1 or more", "--n-samples"),
        ("means_init / labels_init", "--means-init / --labels-init"),
        ("reg_covar", "--reg-covar"),
        ("means_init", "--means-init"),
        ("labels_init", "--labels-init"),
        ("n_init", "--n-init"),
        ("max_gb", "gaussmix export --max-gb"),
        ("n_components", "-k"),
        ("full_path", "--full-path"),
        ("warm_start", "--warm-start"),
        ("sample_weight", "--sample-weight"),
    ];
    let mut out = message.to_string();
    for (param, flag) in FLAGS {
        out = replace_word(&out, param, flag);
    }
    out
}

/// Replaces whole-word occurrences of `from` (not inside a longer identifier or path).
fn replace_word(text: &str, from: &str, to: &str) -> String {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_' || c == '/' || c == '.';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(from) {
        let before = rest[..i].chars().next_back();
        let after = rest[i + from.len()..].chars().next();
        out.push_str(&rest[..i]);
        if before.is_some_and(is_ident) || after.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = &rest[i + from.len()..];
    }
    out.push_str(rest);
    out
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

    /// Reports one iteration; never stops the fit.
    pub fn update(&mut self, e: &IterationEvent) -> ControlFlow<()> {
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
        ControlFlow::Continue(())
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Loads a model, naming the file in errors.
pub fn load_model(path: &Path) -> anyhow::Result<gaussmix::GaussianMixture> {
    Ok(gaussmix::io::load_model(path)?)
}

/// Reads data that must be finite.
pub fn read_data(path: &Path) -> anyhow::Result<nalgebra::DMatrix<f64>> {
    Ok(gaussmix::io::read_matrix(
        path,
        gaussmix::io::Missing::Reject,
    )?)
}

/// Reads sample weights (`--sample-weight`): one value per sample, as one column or one row
/// of a .npy or .csv file, finite and ≥ 0, not all zero. Errors name the file and the row.
pub fn read_sample_weight(path: &Path, n_samples: usize) -> anyhow::Result<Vec<f64>> {
    let m = read_data(path)?;
    if m.nrows() != 1 && m.ncols() != 1 {
        anyhow::bail!(
            "{}: sample weights are one column (or one row) of values, found {} × {}",
            path.display(),
            m.nrows(),
            m.ncols()
        );
    }
    let w: Vec<f64> = m.iter().copied().collect();
    gaussmix::check_sample_weights(&w, n_samples)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), with_flag_names(&e.to_string())))?;
    Ok(w)
}

/// Reads data for a model: finite, with the model's number of features.
pub fn read_data_for(
    path: &Path,
    model: &gaussmix::GaussianMixture,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_parameter_names_become_flags_on_the_command_line() {
        assert_eq!(
            with_flag_names("increase reg_covar (now 1e-6), or use device=cpu"),
            "increase --reg-covar (now 1e-6), or use --device cpu"
        );
        // Not inside file names or longer words.
        assert_eq!(with_flag_names("data/reg_covar.npy"), "data/reg_covar.npy");
        assert_eq!(with_flag_names("my_reg_covar_x"), "my_reg_covar_x");
    }
}
