//! `gaussmix info`: describe a saved model.

use std::path::PathBuf;

use crate::cli::common::load_model;
use gaussmix::Covariances;

/// Arguments of `gaussmix info`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model file (.npz).
    pub model: PathBuf,
}

/// Runs `gaussmix info`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let m = load_model(&args.model)?;
    let storage = match m.covariances() {
        Covariances::LowRank(_) => "exact low-rank + ridge (no D×D matrix stored)",
        _ => "dense",
    };
    println!("model          {}", args.model.display());
    println!("components     {}", m.n_components());
    println!("features       {}", m.n_features());
    println!("covariance     {} ({storage})", m.covariance_type());
    println!("reg_covar      {:e}", m.reg_covar());
    println!("parameters     {} (BIC/AIC count)", m.n_parameters());
    if let Some(v) = m.variational() {
        println!(
            "estimator      variational Bayesian ({} weight prior, concentration {}), {} effective components (more than 1 % of the weight)",
            v.priors.weight_prior,
            v.priors.weight_concentration,
            v.effective_components()
        );
    }
    println!(
        "fit            {} iterations, {}, lower bound {:.6}",
        m.summary().n_iter,
        if m.summary().converged {
            "converged"
        } else {
            "not converged"
        },
        m.summary().lower_bound
    );
    println!("component  weight     log det Σ    |mean|");
    for k in 0..m.n_components() {
        println!(
            "{k:>9}  {:.6}  {:>11.4}  {:.4}",
            m.weights()[k],
            -2.0 * m.params().precisions.log_det(k, m.n_features()),
            m.means().row(k).norm()
        );
    }
    Ok(())
}
