"""``gaussmix.BayesianGaussianMixture``: scikit-learn's ``BayesianGaussianMixture`` on the
gaussmix engine (the same EM loop and backends as maximum likelihood)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from . import _gaussmix
from ._compat import HAVE_SKLEARN, check_is_fitted, parameter_constraints
from ._mixture import GaussianMixture, _as_f64

_POSTERIOR = ("weight_concentration_", "mean_precision_", "degrees_of_freedom_")
_PRIORS = (
    "weight_concentration_prior_",
    "mean_precision_prior_",
    "mean_prior_",
    "degrees_of_freedom_prior_",
    "covariance_prior_",
)


class BayesianGaussianMixture(GaussianMixture):
    """Variational Bayesian Gaussian mixture on the gaussmix engine (Rust; CPU f64, GPU via
    wgpu).

    A drop-in for :class:`sklearn.mixture.BayesianGaussianMixture`: the same constructor,
    defaults, priors, lower bound (scikit-learn's, a total over the samples, to which ``tol``
    applies), fitted attributes and queries, plus ``device``. From the same initial
    responsibilities a fit gives scikit-learn's posterior to rounding. A Dirichlet-process
    (default) or Dirichlet prior on the weights lets superfluous components lose their weight,
    so ``n_components`` is an upper bound.

    Parameters
    ----------
    n_components : int, default=1
        The largest number of components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        The covariance structure.
    tol, reg_covar, max_iter, n_init, init_params, random_state, warm_start, verbose,
    verbose_interval
        As in :class:`gaussmix.GaussianMixture` (scikit-learn's meanings and defaults).
    weight_concentration_prior_type : {'dirichlet_process', 'dirichlet_distribution'}
        The prior on the weights: a stick-breaking Dirichlet process (default) or a Dirichlet
        distribution.
    weight_concentration_prior : float > 0, default=None
        γ₀; None means ``1 / n_components``.
    mean_precision_prior : float > 0, default=None
        β₀; None means 1.
    mean_prior : array-like of shape (n_features,), default=None
        m₀; None means the data mean.
    degrees_of_freedom_prior : float > n_features - 1, default=None
        ν₀; None means ``n_features``.
    covariance_prior : float or array-like, default=None
        W₀ in the layout of the covariance type ((n_features, n_features) for 'full' and
        'tied', (n_features,) for 'diag', a float for 'spherical'); None means the data's
        covariance (with N − 1 in the denominator), its diagonal, or their mean.
    device : {'auto', 'cpu', 'gpu'}, default='auto'
        Where the fit runs. The variational fit of full covariances is always dense (it has no
        exact low-rank form).

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_
        The posterior's expected weights, means and E[Λ]⁻¹ (scikit-learn's meanings).
    weight_concentration_ : tuple of two arrays (dirichlet_process) or array
        The weights' posterior.
    mean_precision_ : ndarray of shape (n_components,)
    degrees_of_freedom_ : ndarray of shape (n_components,), or float for 'tied'
    weight_concentration_prior_, mean_precision_prior_, mean_prior_,
    degrees_of_freedom_prior_, covariance_prior_
        The priors used.
    converged_, n_iter_, lower_bound_, lower_bounds_, n_features_in_
        How the fit went.
    effective_components_ : int
        Components holding more than 1 % of the weight (gaussmix's addition).
    """

    _parameter_constraints: dict = parameter_constraints("BayesianGaussianMixture")

    def __init__(
        self,
        *,
        n_components: int = 1,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
        weight_concentration_prior_type: str = "dirichlet_process",
        weight_concentration_prior: Any = None,
        mean_precision_prior: Any = None,
        mean_prior: Any = None,
        degrees_of_freedom_prior: Any = None,
        covariance_prior: Any = None,
        random_state: Any = None,
        warm_start: bool = False,
        verbose: int = 0,
        verbose_interval: int = 10,
        device: str = "auto",
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.device = device

    def _engine_options(self, X: np.ndarray) -> dict:
        d = X.shape[1]
        t = self.covariance_type
        mean_prior = None
        if self.mean_prior is not None:
            mean_prior = _as_f64(self.mean_prior).reshape(-1)
            if mean_prior.shape != (d,):
                raise ValueError(
                    "The parameter 'means' should have the shape of (%d,), but got %s"
                    % (d, np.shape(self.mean_prior))
                )
        cov = None
        if self.covariance_prior is not None:
            cov = _as_f64(self.covariance_prior)
            if t == "spherical":
                cov = cov.reshape(())
        dof = self.degrees_of_freedom_prior
        return dict(
            full_path="dense",
            weight_concentration_prior_type=self.weight_concentration_prior_type,
            weight_concentration_prior=(
                None
                if self.weight_concentration_prior is None
                else float(self.weight_concentration_prior)
            ),
            mean_precision_prior=(
                None if self.mean_precision_prior is None else float(self.mean_precision_prior)
            ),
            mean_prior=mean_prior,
            degrees_of_freedom_prior=None if dof is None else float(dof),
            covariance_prior=cov,
        )

    def _set_model(self, model: Any) -> None:
        super()._set_model(model)
        v = model.variational()
        if v is None:
            raise ValueError("the model is not variational; load it as a GaussianMixture")
        for name in _POSTERIOR + _PRIORS + ("weight_concentration_prior_type",):
            if name != "weight_concentration_prior_type":
                setattr(self, name, v[name])
        self.effective_components_ = int(v["effective_components"])

    def _current_model(self) -> Any:
        # The queries use the posterior (weight_concentration_, ...), as scikit-learn's do;
        # the engine model is the fitted one.
        check_is_fitted(self)
        return self.__dict__["_model"]

    @classmethod
    def from_model(cls, model: Any, **params: Any) -> "BayesianGaussianMixture":
        """An estimator around a variational engine model."""
        v = model.variational()
        est = cls(
            n_components=model.n_components,
            covariance_type=model.covariance_type,
            reg_covar=model.reg_covar,
            weight_concentration_prior_type=v["weight_concentration_prior_type"],
            **params,
        )
        est._set_model(model)
        est.n_features_in_ = int(model.n_features)
        return est

    @classmethod
    def from_sklearn(cls, gm: Any, **params: Any) -> "BayesianGaussianMixture":
        """A gaussmix estimator with the posterior, priors and hyper-parameters of a fitted
        :class:`sklearn.mixture.BayesianGaussianMixture` (through the model-file layout, so
        the file format is what both sides share)."""
        arrays = sklearn_arrays(gm)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        model = _gaussmix.Model.from_bytes(buf.getvalue())
        ours = set(cls._get_param_names())
        hyper = {k: v for k, v in gm.get_params(deep=False).items() if k in ours}
        hyper.update(params)
        est = cls(**hyper)
        est._set_model(model)
        est.n_features_in_ = int(np.shape(gm.means_)[1])
        return est

    def to_sklearn(self) -> Any:
        """The same fitted mixture as a :class:`sklearn.mixture.BayesianGaussianMixture`."""
        if not HAVE_SKLEARN:
            raise ImportError("to_sklearn needs scikit-learn: pip install scikit-learn")
        from sklearn.mixture import BayesianGaussianMixture as SkBGM

        check_is_fitted(self)
        params = self.get_params(deep=False)
        params.pop("device")
        gm = SkBGM(**params)
        for name in (
            ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")
            + _POSTERIOR
            + _PRIORS
        ):
            value = getattr(self, name)
            setattr(gm, name, value if isinstance(value, tuple) else np.array(value))
        gm.converged_ = self.converged_
        gm.n_iter_ = self.n_iter_
        gm.lower_bound_ = self.lower_bound_
        gm.lower_bounds_ = list(self.lower_bounds_)
        gm.n_features_in_ = self.n_features_in_
        return gm

    # scikit-learn's BayesianGaussianMixture has no information criteria.
    def bic(self, X: Any) -> float:  # pragma: no cover - documented absence
        raise AttributeError("BayesianGaussianMixture has no bic (as in scikit-learn)")

    def aic(self, X: Any) -> float:  # pragma: no cover - documented absence
        raise AttributeError("BayesianGaussianMixture has no aic (as in scikit-learn)")


def sklearn_arrays(gm: Any) -> dict:
    """A fitted scikit-learn ``BayesianGaussianMixture``'s attributes in the model-file
    layout (``weight_concentration_`` of a Dirichlet process stacked as (2, K))."""
    wc = gm.weight_concentration_
    if isinstance(wc, tuple):
        wc = np.vstack(wc)
    out = dict(
        covariance_type=np.array(gm.covariance_type),
        weight_concentration_prior_type=np.array(gm.weight_concentration_prior_type),
        weights_=gm.weights_,
        means_=gm.means_,
        covariances_=gm.covariances_,
        precisions_cholesky_=gm.precisions_cholesky_,
        weight_concentration_=wc,
        reg_covar=np.array(float(gm.reg_covar)),
        converged_=np.array(bool(getattr(gm, "converged_", False))),
        n_iter_=np.array(int(getattr(gm, "n_iter_", 0))),
        lower_bound_=np.array(float(np.ravel(getattr(gm, "lower_bound_", -np.inf))[0])),
        lower_bounds_=np.array([float(np.ravel(v)[0]) for v in getattr(gm, "lower_bounds_", [])]),
    )
    for name in _POSTERIOR[1:] + _PRIORS:
        out[name] = np.asarray(getattr(gm, name), dtype=np.float64)
    return out
