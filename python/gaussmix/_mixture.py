"""``gaussmix.GaussianMixture``: scikit-learn's ``GaussianMixture`` on the gaussmix engine."""

from __future__ import annotations

import math
import numbers
import os
import sys
import tempfile
import warnings
from time import time
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from . import _gaussmix
from ._compat import (
    HAVE_SKLEARN,
    BaseEstimator,
    ConvergenceWarning,
    DensityMixin,
    NotFittedError,
    check_array_like,
    check_is_fitted,
    check_sample_weight,
    parameter_constraints,
    validate_data,
    validate_params,
)
from ._conditional import ConditionalMixture

#: The largest dense covariance-shaped array (``covariances_``, ``precisions_``,
#: ``precisions_cholesky_``) a low-rank model forms on request, in bytes. The faces model
#: (K = 24, D = 4096) would need 3.2 GB per array. Raise it (``gaussmix.DENSE_LIMIT_BYTES =
#: 4e9``) if you have the memory; sampling, scoring, prediction and conditioning never need
#: these arrays.
DENSE_LIMIT_BYTES: float = 2e9

DenseTooLargeError = _gaussmix.DenseTooLargeError
GpuError = _gaussmix.GpuError

_DENSE_ATTRIBUTES = ("covariances_", "precisions_", "precisions_cholesky_")


def _dense_limit() -> int:
    return int(sys.modules[__package__].__dict__.get("DENSE_LIMIT_BYTES", DENSE_LIMIT_BYTES))


def _seed(random_state: Any) -> int:
    """A 64-bit seed for gaussmix's own generator (ChaCha8) from a ``random_state``."""
    if random_state is None:
        return int.from_bytes(os.urandom(8), "little")
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int64).max, dtype=np.int64))
    raise ValueError(
        f"{random_state!r} cannot be used to seed a numpy.random.RandomState instance"
    )


def _engine_array(X: np.ndarray) -> np.ndarray:
    """``X`` as the engine reads it: float64 or float32 in native byte order (no copy if it
    already is)."""
    if X.dtype in (np.float64, np.float32) and X.dtype.isnative:
        return X
    return np.asarray(X, dtype=np.float64)


def _as_f64(a: Any) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


def _size(nbytes: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{int(nbytes)} bytes"


class _Verbose:
    """Prints scikit-learn's progress messages from the engine's per-iteration reports."""

    def __init__(self, est: "GaussianMixture", tol: float, max_iter: int) -> None:
        self.verbose = int(est.verbose)
        self.interval = int(est.verbose_interval)
        self.tol = tol
        self.max_iter = max_iter
        self.init_start = time()
        self.iter_prev = self.init_start

    def __call__(self, init: int, n_iter: int, lower_bound: float, change: float) -> None:
        if n_iter == 1:
            print("Initialization %d" % init)
        if n_iter % self.interval == 0:
            if self.verbose == 1:
                print("  Iteration %d" % n_iter)
            else:
                now = time()
                print(
                    "  Iteration %d\t time lapse %.5fs\t ll change %.5f"
                    % (n_iter, now - self.iter_prev, change)
                )
                self.iter_prev = now
        converged = abs(change) < self.tol
        if converged or n_iter == self.max_iter:
            msg = "converged" if converged else "did not converge"
            if self.verbose == 1:
                print(f"Initialization {msg}.")
            else:
                t = time() - self.init_start
                print(
                    f"Initialization {msg}. time lapse {t:.5f}s\t lower bound"
                    f" {lower_bound:.5f}."
                )
            self.init_start = time()
            self.iter_prev = self.init_start


def _dense_attribute(name: str, doc: str) -> property:
    def getter(self: "GaussianMixture") -> np.ndarray:
        return self._dense(name)

    def setter(self: "GaussianMixture", value: Any) -> None:
        if "_model" not in self.__dict__:
            raise AttributeError(f"{name} can only be set on a fitted model")
        self.__dict__.setdefault("_overrides", {})[name] = np.asarray(value, dtype=np.float64)
        self.__dict__["_cache"] = {}

    return property(getter, setter, doc=doc)


class GaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture fitted by EM on the gaussmix engine (Rust; CPU f64, GPU via wgpu).

    A drop-in for :class:`sklearn.mixture.GaussianMixture`: the same constructor, methods,
    fitted attributes, warnings and errors, plus the choice of device and of the
    representation of full covariances. With the same initial parameters (``weights_init``,
    ``means_init``, ``precisions_init``) a fit gives scikit-learn's parameters to rounding.
    Full covariances with fewer samples than features (N < D, e.g. 400 faces of 4096 pixels)
    take an exact low-rank path that never forms a D × D matrix.

    Parameters
    ----------
    n_components : int, default=1
        The number of mixture components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        The covariance structure: 'full' (each component its own general covariance), 'tied'
        (one shared general covariance), 'diag' (each its own diagonal covariance) or
        'spherical' (each its own single variance).
    tol : float, default=1e-3
        EM stops when the change of the lower bound (the mean log-likelihood) is below
        ``tol``.
    reg_covar : float, default=1e-6
        Non-negative regularisation added to the diagonal of every covariance.
    max_iter : int, default=100
        The number of EM iterations to perform.
    n_init : int, default=1
        The number of initialisations; the one with the largest lower bound is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
        How the first responsibilities are chosen: 'kmeans' (k-means++ seeding and Lloyd
        iterations), 'k-means++' (the seeding only), 'random' (random responsibilities) or
        'random_from_data' (random samples as seeds). gaussmix assigns every sample to its
        nearest seed for 'k-means++' and 'random_from_data'; scikit-learn gives only the seeds
        themselves responsibility. Random draws come from gaussmix's own generator, so the
        numbers differ from scikit-learn's for the same ``random_state``.
    weights_init : array-like of shape (n_components,), default=None
        The user-provided initial weights.
    means_init : array-like of shape (n_components, n_features), default=None
        The user-provided initial means.
    precisions_init : array-like, default=None
        The user-provided initial precisions (inverse covariances), of shape
        (n_components,) for 'spherical', (n_features, n_features) for 'tied',
        (n_components, n_features) for 'diag' and (n_components, n_features, n_features) for
        'full'. As in scikit-learn, ``init_params`` gives responsibilities, one M-step gives
        parameters, and the given ``*_init`` replace them (with all three given the
        initialisation is skipped); the first E-step uses the given precisions.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation and :meth:`sample`. An int is the seed of gaussmix's own
        generator (ChaCha8, the same on every platform); ``None`` draws a fresh seed for
        every call; a ``numpy.random.RandomState`` gives a seed drawn from it. gaussmix's
        generator, not NumPy's, does the draws, so the numbers differ from scikit-learn's for
        the same seed.
    warm_start : bool, default=False
        If True, each ``fit`` after the first continues from the last solution (one
        initialisation, ``n_init`` ignored).
    verbose : int, default=0
        1 prints the current initialisation and every ``verbose_interval``-th iteration; 2 and
        more also print the time per step and the change of the lower bound (scikit-learn's
        messages).
    verbose_interval : int, default=10
        Number of iterations between two messages.
    device : {'auto', 'cpu', 'gpu'}, default='auto'
        Where the fit runs: 'cpu' (f64), 'gpu' (wgpu, f32 statistics with f64 fallbacks) or
        'auto' (a hardware GPU when one is usable and worth it, else the CPU). Queries
        (``predict``, ``score_samples``, ...) run on the GPU only with ``device='gpu'``.
    full_path : {'auto', 'dense', 'low_rank'}, default='auto'
        Representation of full covariances: 'dense' D × D matrices, 'low_rank' (exact
        low-rank-plus-ridge factors, never a D × D matrix) or 'auto' (low-rank when cheaper,
        typically N < D).

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        The mixing weights.
    means_ : ndarray of shape (n_components, n_features)
        The component means.
    covariances_ : ndarray
        The covariances (shape as ``precisions_init``). For a low-rank model, formed on
        request if it fits in :data:`gaussmix.DENSE_LIMIT_BYTES`, else
        :class:`gaussmix.DenseTooLargeError`.
    precisions_ : ndarray
        The precision matrices (inverse covariances); low-rank models as ``covariances_``.
    precisions_cholesky_ : ndarray
        The Cholesky factors ``U`` of the precisions (``precisions_ = U @ U.T``, ``U`` upper
        triangular); low-rank models as ``covariances_``.
    converged_ : bool
        Whether the kept initialisation converged.
    n_iter_ : int
        EM iterations of the kept initialisation.
    lower_bound_ : float
        The mean log-likelihood of the training data at the last E-step of the kept
        initialisation.
    lower_bounds_ : list of float
        The lower bound at every iteration of the kept initialisation.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during fit (a DataFrame with string column names only).
    device_ : str
        Where the fit ran.
    notes_ : list of str
        What the engine said about the fit: the device chosen under ``device='auto'`` and
        why, GPU statistics recomputed in f64, ...

    See Also
    --------
    sklearn.mixture.GaussianMixture : The estimator this one follows.

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import GaussianMixture
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> np.sort(gm.means_[:, 0])
    array([ 1., 10.])
    """

    _parameter_constraints: dict = parameter_constraints()

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
        weights_init: Any = None,
        means_init: Any = None,
        precisions_init: Any = None,
        random_state: Any = None,
        warm_start: bool = False,
        verbose: int = 0,
        verbose_interval: int = 10,
        device: str = "auto",
        full_path: str = "auto",
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.device = device
        self.full_path = full_path

    # --- fitting ----------------------------------------------------------------------

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> "GaussianMixture":
        """Estimate the model parameters with the EM algorithm.

        Fits ``n_init`` times and keeps the parameters with the largest lower bound; each
        run iterates E-step and M-step until the change of the lower bound is below ``tol``
        or ``max_iter`` iterations are done (then a ``ConvergenceWarning`` is raised). The
        GIL is released during the fit; Ctrl-C stops it between two iterations with
        ``KeyboardInterrupt``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data, one sample per row. float32 and float64 arrays of either memory order
            are read in place, without a copy on the Python side. NaN is an error (see
            :meth:`fit_missing`).
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            A weight per sample (finite, ≥ 0, not all zero; gaussmix's addition, which
            scikit-learn's mixtures lack): the fit maximises Σ w_i log p(x_i), so an integer
            weight counts as that many copies of the row, k-means initialisation included.
            Weighted fits run on the CPU.

        Returns
        -------
        self : GaussianMixture
            The fitted mixture.
        """
        self._fit(X, missing=False, sample_weight=sample_weight)
        return self

    def fit_missing(
        self, X: Any, y: Any = None, sample_weight: Any = None
    ) -> "GaussianMixture":
        """Fit by EM on the observed-data likelihood, NaN entries being missing values.

        Every row needs at least one observed value; ±inf is still an error. The fit runs on
        the CPU (f64); ``warm_start`` is not supported with missing values.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data, NaN where a value is missing.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : GaussianMixture
            The fitted mixture.
        """
        self._fit(X, missing=True, sample_weight=sample_weight)
        return self

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None) -> np.ndarray:
        """Fit the model to ``X`` and predict the most probable component of every sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data, one sample per row.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component labels (as ``fit(X).predict(X)``).
        """
        X = self._fit(X, missing=False, sample_weight=sample_weight)
        return self._current_model().predict(X, self._query_device())

    def _fit(self, X: Any, *, missing: bool, sample_weight: Any = None) -> np.ndarray:
        validate_params(self)
        X = validate_data(self, X, reset=True, ensure_min_samples=2, allow_nan=missing)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X)
        n_samples, n_features = X.shape
        if n_samples < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components "
                f"but got n_components = {self.n_components}, "
                f"n_samples = {n_samples}"
            )
        options = self._engine_options(X)
        do_init = not (self.warm_start and "_model" in self.__dict__)
        warm = None if do_init else self._current_model()
        max_iter = int(self.max_iter)
        progress = _Verbose(self, float(self.tol), max_iter) if self.verbose else None
        notices: list = []
        model, notices = _gaussmix.fit(
            _engine_array(X),
            n_components=int(self.n_components),
            covariance_type=self.covariance_type,
            init=self.init_params,
            n_init=int(self.n_init) if do_init else 1,
            max_iter=max_iter,
            tol=float(self.tol),
            reg_covar=float(self.reg_covar),
            seed=_seed(self.random_state),
            device=self.device,
            warm_start=warm,
            missing=missing,
            progress=progress,
            sample_weight=sample_weight,
            **options,
        )
        self._set_model(model)
        self.notes_ = list(notices)
        if max_iter == 0:
            # scikit-learn's conventions for a fit without iterations.
            self.converged_ = False
            self.n_iter_ = 0
            self.lower_bound_ = -math.inf
            self.lower_bounds_ = []
        if not self.converged_ and max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. "
                "Try different init parameters, or increase max_iter, "
                "tol, or check for degenerate data.",
                ConvergenceWarning,
            )
        return X

    def _engine_options(self, X: np.ndarray) -> dict:
        """The estimator's own options of the engine's fit (checked)."""
        weights_init, means_init, precisions_init = self._check_initial_parameters(X.shape[1])
        return dict(
            full_path=self.full_path,
            weights_init=weights_init,
            means_init=means_init,
            precisions_init=precisions_init,
        )

    def _check_initial_parameters(
        self, n_features: int
    ) -> Tuple[Optional[np.ndarray], Optional[np.ndarray], Optional[np.ndarray]]:
        """scikit-learn's checks of ``weights_init``, ``means_init`` and
        ``precisions_init`` (same messages); the arrays as float64 for the engine."""
        k = self.n_components
        weights = means = precisions = None
        if self.weights_init is not None:
            w = check_array_like(self.weights_init, ensure_2d=False, allow_nd=False)
            _check_shape(w, (k,), "weights")
            if np.any(np.less(w, 0.0)) or np.any(np.greater(w, 1.0)):
                raise ValueError(
                    "The parameter 'weights' should be in the range "
                    "[0, 1], but got max value %.5f, min value %.5f" % (np.min(w), np.max(w))
                )
            atol = 1e-6 if w.dtype == np.float32 else 1e-8
            if not np.allclose(float(np.abs(1.0 - np.sum(w))), 0.0, atol=atol):
                raise ValueError(
                    "The parameter 'weights' should be normalized, but got sum(weights) = %.5f"
                    % np.sum(w)
                )
            weights = _as_f64(w)
        if self.means_init is not None:
            m = check_array_like(self.means_init, ensure_2d=False, allow_nd=False)
            _check_shape(m, (k, n_features), "means")
            means = _as_f64(m)
        if self.precisions_init is not None:
            t = self.covariance_type
            p = check_array_like(self.precisions_init, ensure_2d=False, allow_nd=t == "full")
            shapes = {
                "full": (k, n_features, n_features),
                "tied": (n_features, n_features),
                "diag": (k, n_features),
                "spherical": (k,),
            }
            _check_shape(p, shapes[t], "%s precision" % t)
            if t in ("full", "tied"):
                for mat in p if t == "full" else [p]:
                    if not (
                        np.allclose(mat, mat.T) and np.all(np.linalg.eigvalsh(mat) > 0.0)
                    ):
                        raise ValueError("'%s precision' should be symmetric, positive-definite" % t)
            elif np.any(np.less_equal(p, 0.0)):
                raise ValueError("'%s precision' should be positive" % t)
            precisions = _as_f64(p)
        return weights, means, precisions

    # --- the fitted model -------------------------------------------------------------

    def __sklearn_is_fitted__(self) -> bool:
        return "_model" in self.__dict__

    def _set_model(self, model: Any) -> None:
        """Installs an engine model and the fitted attributes it defines."""
        d = self.__dict__
        d["_model"] = model
        d["_cache"] = {}
        d["_overrides"] = {}
        self.weights_ = model.weights()
        self.means_ = model.means()
        d["_fitted_arrays"] = (self.weights_.copy(), self.means_.copy())
        self.converged_ = bool(model.converged)
        self.n_iter_ = int(model.n_iter)
        self.lower_bound_ = float(model.lower_bound)
        self.lower_bounds_ = [float(v) for v in model.lower_bounds]
        self.device_ = model.device

    def _current_model(self) -> Any:
        """The engine model, rebuilt first if fitted attributes were set or changed."""
        check_is_fitted(self)
        d = self.__dict__
        model = d["_model"]
        overrides = d.get("_overrides") or {}
        fw, fm = d["_fitted_arrays"]
        w = np.asarray(self.weights_, dtype=np.float64)
        m = np.asarray(self.means_, dtype=np.float64)
        if not overrides and np.array_equal(w, fw) and np.array_equal(m, fm):
            return model
        t = model.covariance_type
        cov = overrides.get("covariances_")
        chol = overrides.get("precisions_cholesky_")
        prec = overrides.get("precisions_")
        if cov is None and chol is None and prec is not None:
            cov = np.linalg.inv(prec) if t in ("full", "tied") else 1.0 / prec
        if cov is None and chol is None:
            cov = self._model_dense(model, "covariances_")
        new = _gaussmix.Model.from_params(
            t, _as_f64(w), _as_f64(m),
            covariances=None if cov is None else _as_f64(cov),
            precisions_cholesky=None if chol is None else _as_f64(chol),
            reg_covar=model.reg_covar,
        ).with_summary(model.converged, model.n_iter, model.lower_bound, list(model.lower_bounds))
        d["_model"] = new
        d["_fitted_arrays"] = (w.copy(), m.copy())
        d["_overrides"] = {}
        d["_cache"] = {}
        return new

    @staticmethod
    def _model_dense(model: Any, name: str) -> np.ndarray:
        limit = _dense_limit()
        if model.is_low_rank and model.dense_nbytes > limit:
            k, d = model.n_components, model.n_features
            raise DenseTooLargeError(
                f"{name} of this low-rank model ({k} full covariances in {d} dimensions, kept "
                f"in the exact low-rank form) would take {_size(model.dense_nbytes)}, more "
                f"than gaussmix.DENSE_LIMIT_BYTES = {_size(limit)}. Raise "
                "gaussmix.DENSE_LIMIT_BYTES if you have the memory; sample, score_samples, "
                "predict, condition and impute work without the dense arrays, save() keeps "
                "the low-rank form, and `gaussmix export MODEL.npz -o DENSE.npz --max-gb N` "
                "(the CLI) writes them to a file."
            )
        arr = getattr(model, name.rstrip("_"))(limit)
        arr.flags.writeable = False
        return arr

    def _dense(self, name: str) -> np.ndarray:
        d = self.__dict__
        if "_model" not in d:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        overrides = d.get("_overrides") or {}
        if name in overrides:
            return overrides[name]
        model = self._current_model()
        cache = d.setdefault("_cache", {})
        if name not in cache:
            cache[name] = self._model_dense(model, name)
        return cache[name]

    covariances_ = _dense_attribute("covariances_", "The covariance of each component.")
    precisions_ = _dense_attribute("precisions_", "The precision matrix of each component.")
    precisions_cholesky_ = _dense_attribute(
        "precisions_cholesky_", "The Cholesky factor of the precision of each component."
    )

    @property
    def is_low_rank_(self) -> bool:
        """Whether the covariances are held in the exact low-rank form (full, N < D)."""
        check_is_fitted(self)
        return bool(self.__dict__["_model"].is_low_rank)

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state = dict(state)
        state.pop("_cache", None)  # dense arrays of a low-rank model are formed again
        return state

    # --- queries ----------------------------------------------------------------------

    def _query_device(self) -> str:
        return "gpu" if self.device == "gpu" else "cpu"

    def _query_data(self, X: Any, allow_nan: bool = False) -> np.ndarray:
        check_is_fitted(self)
        return _engine_array(
            validate_data(self, X, reset=False, allow_nan=allow_nan, numeric=True)
        )

    def score_samples(self, X: Any) -> np.ndarray:
        """Compute the log-likelihood of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples, one per row.

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
            ``log p(x)`` of each sample under the model.
        """
        X = self._query_data(X)
        return self._current_model().score_samples(X, self._query_device())

    def score(self, X: Any, y: Any = None) -> float:
        """Compute the per-sample average log-likelihood of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples, one per row.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        log_likelihood : float
            The mean of :meth:`score_samples`.
        """
        return float(np.mean(self.score_samples(X)))

    def predict(self, X: Any) -> np.ndarray:
        """Predict the most probable component of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples, one per row.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component labels.
        """
        X = self._query_data(X)
        return self._current_model().predict(X, self._query_device())

    def predict_proba(self, X: Any) -> np.ndarray:
        """Posterior probability of each component for each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples, one per row.

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)
            The responsibilities.
        """
        X = self._query_data(X)
        return self._current_model().predict_proba(X, self._query_device())

    def sample(self, n_samples: int = 1) -> Tuple[np.ndarray, np.ndarray]:
        """Generate random samples from the fitted mixture.

        Draws go through the precision factors (for low-rank models, the low-rank factors),
        never factoring a covariance; seeded by ``random_state`` (an int gives the same draws
        on every call, as in scikit-learn).

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            The samples, grouped by component.
        y : ndarray of shape (n_samples,)
            Their component labels.
        """
        check_is_fitted(self)
        if n_samples < 1:
            raise ValueError(
                "Invalid value for 'n_samples': %d . The sampling requires at "
                "least one sample." % n_samples
            )
        return self._current_model().sample(int(n_samples), _seed(self.random_state))

    def _n_parameters(self) -> int:
        """Number of free parameters of the model (scikit-learn's count)."""
        return int(self._current_model().n_parameters)

    def bic(self, X: Any) -> float:
        """Bayesian information criterion of the model on ``X`` (lower is better).

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            The samples.

        Returns
        -------
        bic : float
            ``-2 log L + p log n``.
        """
        n = np.shape(X)[0]
        return -2 * self.score(X) * n + self._n_parameters() * math.log(n)

    def aic(self, X: Any) -> float:
        """Akaike information criterion of the model on ``X`` (lower is better).

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            The samples.

        Returns
        -------
        aic : float
            ``-2 log L + 2 p``.
        """
        n = np.shape(X)[0]
        return -2 * self.score(X) * n + 2 * self._n_parameters()

    # --- beyond scikit-learn ----------------------------------------------------------

    def condition(
        self, values: Any, observed: Any
    ) -> Union[ConditionalMixture, list]:
        """The mixture over the other coordinates given the values of ``observed`` ones.

        Each component keeps its identity, with the conditional (Schur-complement) mean and
        covariance, and its weight becomes its posterior given the observed values (from the
        marginal density of the observed part). Low-rank models condition exactly without
        any D × D matrix.

        Parameters
        ----------
        values : array-like of shape (n_observed,) or (n_rows, n_observed)
            The observed values (one row per conditioning).
        observed : array-like of int, or boolean mask of shape (n_features,)
            Which coordinates are observed.

        Returns
        -------
        conditional : ConditionalMixture or list of ConditionalMixture
            One for 1-D ``values``, a list (one per row) for 2-D ``values``.
        """
        model = self._current_model()
        obs = np.asarray(observed)
        if obs.dtype == bool:
            if obs.shape != (model.n_features,):
                raise ValueError(
                    f"a boolean mask of observed coordinates needs {model.n_features} entries,"
                    f" got shape {obs.shape}"
                )
            obs = np.flatnonzero(obs)
        obs = obs.reshape(-1)
        if obs.size and not np.issubdtype(obs.dtype, np.integer):
            raise ValueError("observed must hold integer indices or be a boolean mask")
        d = model.n_features
        idx = [int(i) + d if int(i) < 0 else int(i) for i in obs]  # numpy's negative indices
        if any(not 0 <= i < d for i in idx):
            raise ValueError(f"observed indices must lie in [-{d}, {d}), got {obs.tolist()}")
        v = np.asarray(values, dtype=np.float64)
        one = v.ndim <= 1
        rows = v.reshape(1, -1) if one else v
        if rows.ndim != 2:
            raise ValueError(f"values must be 1-D or 2-D, got {v.ndim}-D")
        if not np.isfinite(rows).all():
            raise ValueError("Input values contains NaN or infinity.")
        conds = [
            ConditionalMixture(c, self.random_state)
            for c in model.condition(idx, np.ascontiguousarray(rows))
        ]
        return conds[0] if one else conds

    def impute(self, X: Any, *, sample: bool = False) -> np.ndarray:
        """Fill the NaN entries of ``X`` from the model given each row's observed entries.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data with NaN where values are missing (rows with nothing missing come back
            unchanged; rows with nothing observed get the mixture's mean, or a draw).
        sample : bool, default=False
            False: the conditional means ``E[x_m | x_o]``. True: one draw of ``x_m`` from
            ``p(x_m | x_o)`` per row, seeded by ``random_state``.

        Returns
        -------
        X_filled : ndarray of shape (n_samples, n_features)
            ``X`` with its missing entries filled (float64).
        """
        X = self._query_data(X, allow_nan=True)
        seed = _seed(self.random_state) if sample else None
        return self._current_model().impute(X, seed)

    def save(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Write the model as the CLI's ``.npz`` model file (scikit-learn's attribute names).

        The file loads with :func:`gaussmix.load`, the ``gaussmix`` command-line tool
        (``--model``), and ``numpy.load``; low-rank models keep their low-rank arrays.

        Parameters
        ----------
        path : str or path-like
            The output file; it must end in ``.npz``. Written atomically.
        """
        path = os.fspath(path)
        if not path.endswith(".npz"):
            raise ValueError(f"{path}: models are saved as .npz; name the file MODEL.npz")
        data = self._current_model().to_bytes()
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".gaussmix-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @classmethod
    def from_model(cls, model: Any, **params: Any) -> "GaussianMixture":
        """An estimator around an engine model (``gaussmix._gaussmix.Model``)."""
        est = cls(
            n_components=model.n_components,
            covariance_type=model.covariance_type,
            reg_covar=model.reg_covar,
            **params,
        )
        est._set_model(model)
        est.n_features_in_ = int(model.n_features)
        return est

    @classmethod
    def from_sklearn(cls, gm: Any, **params: Any) -> "GaussianMixture":
        """A gaussmix estimator with the parameters and hyper-parameters of a fitted
        :class:`sklearn.mixture.GaussianMixture`.

        Parameters
        ----------
        gm : sklearn.mixture.GaussianMixture
            A fitted scikit-learn mixture.
        **params
            gaussmix hyper-parameters (``device``, ``full_path``) or overrides.

        Returns
        -------
        GaussianMixture
            The same mixture, on the gaussmix engine.
        """
        ours = set(cls._get_param_names())
        hyper = {k: v for k, v in gm.get_params(deep=False).items() if k in ours}
        hyper.update(params)
        est = cls(**hyper)
        cov = getattr(gm, "covariances_", None)
        chol = None if cov is not None else gm.precisions_cholesky_
        model = _gaussmix.Model.from_params(
            gm.covariance_type,
            _as_f64(gm.weights_),
            _as_f64(gm.means_),
            covariances=None if cov is None else _as_f64(cov),
            precisions_cholesky=None if chol is None else _as_f64(chol),
            reg_covar=float(gm.reg_covar),
        )
        lbs = [float(v) for v in getattr(gm, "lower_bounds_", [])]
        model = model.with_summary(
            bool(getattr(gm, "converged_", False)),
            int(getattr(gm, "n_iter_", len(lbs))),
            float(getattr(gm, "lower_bound_", -math.inf)),
            lbs,
        )
        est._set_model(model)
        est.n_features_in_ = int(np.shape(gm.means_)[1])
        if hasattr(gm, "feature_names_in_"):
            est.feature_names_in_ = gm.feature_names_in_
        return est

    def to_sklearn(self) -> Any:
        """The same fitted mixture as a :class:`sklearn.mixture.GaussianMixture`.

        Needs scikit-learn, and the dense arrays (a low-rank model's only within
        :data:`gaussmix.DENSE_LIMIT_BYTES`).

        Returns
        -------
        sklearn.mixture.GaussianMixture
            A fitted scikit-learn estimator with these parameters.
        """
        if not HAVE_SKLEARN:
            raise ImportError("to_sklearn needs scikit-learn: pip install scikit-learn")
        from sklearn.mixture import GaussianMixture as SkGM

        check_is_fitted(self)
        params = self.get_params(deep=False)
        params.pop("device")
        params.pop("full_path")
        gm = SkGM(**params)
        model = self._current_model()
        gm.weights_ = model.weights()
        gm.means_ = model.means()
        gm.covariances_ = np.array(self.covariances_)
        gm.precisions_cholesky_ = np.array(self.precisions_cholesky_)
        gm.precisions_ = np.array(self.precisions_)
        gm.converged_ = self.converged_
        gm.n_iter_ = self.n_iter_
        gm.lower_bound_ = self.lower_bound_
        gm.lower_bounds_ = list(self.lower_bounds_)
        gm.n_features_in_ = self.n_features_in_
        if hasattr(self, "feature_names_in_"):
            gm.feature_names_in_ = self.feature_names_in_
        return gm


def _check_shape(param: np.ndarray, param_shape: Sequence[int], name: str) -> None:
    if param.shape != tuple(param_shape):
        raise ValueError(
            "The parameter '%s' should have the shape of %s, but got %s"
            % (name, tuple(param_shape), param.shape)
        )


def load(path: Union[str, "os.PathLike[str]"], **params: Any) -> GaussianMixture:
    """Read a ``.npz`` model file written by the CLI (``gaussmix fit -o``), by
    :meth:`GaussianMixture.save`, or from scikit-learn attributes with ``numpy.savez``.

    Parameters
    ----------
    path : str or path-like
        The model file.
    **params
        Hyper-parameters of the returned estimator (``device``, ``random_state``, ...).

    Returns
    -------
    GaussianMixture or BayesianGaussianMixture
        A fitted estimator (a variational model file gives a BayesianGaussianMixture).
    """
    with open(os.fspath(path), "rb") as f:
        data = f.read()
    model = _gaussmix.Model.from_bytes(data)
    if model.variational() is not None:
        from ._bayesian import BayesianGaussianMixture

        return BayesianGaussianMixture.from_model(model, **params)
    return GaussianMixture.from_model(model, **params)


def from_sklearn(gm: Any, **params: Any) -> GaussianMixture:
    """A gaussmix estimator from a fitted :class:`sklearn.mixture.GaussianMixture`
    (see :meth:`GaussianMixture.from_sklearn`)."""
    return GaussianMixture.from_sklearn(gm, **params)
