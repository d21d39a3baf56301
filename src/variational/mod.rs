//! Variational Bayesian Gaussian mixtures, as scikit-learn's `BayesianGaussianMixture` fits
//! them: a Dirichlet-process or Dirichlet prior on the weights and Normal-Wishart priors on the
//! components, so that components the data do not need lose their weight.
//!
//! The fit is the same EM loop over the same backends as maximum likelihood: the E-step is a
//! mixture E-step with transformed parameters ([`Posterior::density_params`]), and the update
//! ([`Posterior::update`]) and the lower bound ([`Posterior::lower_bound`]) need only the
//! [`crate::SufficientStats`] every backend supplies.

pub mod posterior;
pub mod priors;
pub mod special;

pub use posterior::{Posterior, WeightConcentration};
pub use priors::{CovariancePrior, Priors, VariationalConfig, WeightPrior};
