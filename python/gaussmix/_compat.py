"""scikit-learn when it is installed, equivalent checks when it is not.

With scikit-learn, the estimator inherits its ``BaseEstimator`` and ``DensityMixin``, validates
data with ``sklearn.utils.validation.validate_data`` and parameters with its constraint
system, and raises its ``NotFittedError``, ``InvalidParameterError`` and
``ConvergenceWarning`` — so messages match scikit-learn's ``GaussianMixture`` word for word.
Without it, the classes and checks below raise the same kinds of errors with the same
messages (``ValueError``; ``NotFittedError`` subclasses ``ValueError`` and
``AttributeError``, as scikit-learn's does).
"""

from __future__ import annotations

import inspect
import numbers
from typing import Any

import numpy as np

try:  # pragma: no cover - exercised in both configurations by the test-suite
    import sklearn  # noqa: F401
    from sklearn.base import BaseEstimator, DensityMixin
    from sklearn.exceptions import ConvergenceWarning, NotFittedError
    from sklearn.utils._param_validation import Interval, StrOptions
    from sklearn.utils.validation import check_is_fitted as _sk_check_is_fitted

    try:
        from sklearn.utils.validation import validate_data as _sk_validate_data
    except ImportError:  # scikit-learn < 1.6
        _sk_validate_data = None

    HAVE_SKLEARN = True
except ImportError:
    HAVE_SKLEARN = False


__all__ = [
    "HAVE_SKLEARN",
    "BaseEstimator",
    "DensityMixin",
    "ConvergenceWarning",
    "NotFittedError",
    "InvalidParameterError",
    "check_is_fitted",
    "validate_data",
    "validate_params",
    "check_array_like",
    "check_sample_weight",
]


if not HAVE_SKLEARN:

    class NotFittedError(ValueError, AttributeError):
        """Raised when a query needs a fitted model (as scikit-learn's ``NotFittedError``)."""

    class ConvergenceWarning(UserWarning):
        """EM stopped at ``max_iter`` before the change of the lower bound fell below ``tol``."""

    class InvalidParameterError(ValueError, TypeError):
        """A hyper-parameter has a value or type outside its constraints."""

    class BaseEstimator:
        """``get_params``/``set_params``/``repr`` from the constructor's signature."""

        @classmethod
        def _get_param_names(cls) -> list[str]:
            init = cls.__init__
            if init is object.__init__:
                return []
            sig = inspect.signature(init)
            return sorted(
                p.name
                for p in sig.parameters.values()
                if p.name != "self" and p.kind != p.VAR_KEYWORD
            )

        def get_params(self, deep: bool = True) -> dict[str, Any]:
            """Get the estimator's parameters (as scikit-learn's ``get_params``)."""
            out = {}
            for key in self._get_param_names():
                value = getattr(self, key)
                if deep and hasattr(value, "get_params") and not isinstance(value, type):
                    out.update((key + "__" + k, v) for k, v in value.get_params().items())
                out[key] = value
            return out

        def set_params(self, **params: Any) -> "BaseEstimator":
            """Set the estimator's parameters (as scikit-learn's ``set_params``)."""
            valid = self.get_params(deep=True)
            for key, value in params.items():
                if key not in valid:
                    raise ValueError(
                        f"Invalid parameter {key!r} for estimator {self}. Valid parameters"
                        f" are: {sorted(self._get_param_names())!r}."
                    )
                setattr(self, key, value)
            return self

        def __repr__(self) -> str:
            defaults = {
                p.name: p.default
                for p in inspect.signature(type(self).__init__).parameters.values()
            }
            changed = []
            for k, v in self.get_params(deep=False).items():
                d = defaults.get(k, inspect.Parameter.empty)
                same = d is v or (
                    not isinstance(v, np.ndarray) and not isinstance(d, np.ndarray) and d == v
                )
                if not same:
                    changed.append(f"{k}={v!r}")
            return f"{type(self).__name__}({', '.join(changed)})"

        def __getstate__(self) -> dict[str, Any]:
            return dict(self.__dict__)

        def __setstate__(self, state: dict[str, Any]) -> None:
            self.__dict__.update(state)

    class DensityMixin:
        """Marks a density estimator (scikit-learn's ``DensityMixin``)."""

        _estimator_type = "DensityEstimator"

else:
    from sklearn.utils._param_validation import InvalidParameterError  # noqa: F401


def check_is_fitted(estimator: Any) -> None:
    """Raise ``NotFittedError`` unless ``estimator`` is fitted."""
    if HAVE_SKLEARN:
        _sk_check_is_fitted(estimator)
        return
    if not estimator.__sklearn_is_fitted__():
        raise NotFittedError(
            f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with"
            " appropriate arguments before using this estimator."
        )


# --- data validation -------------------------------------------------------------------


def _feature_names(X: Any) -> np.ndarray | None:
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "iloc"):
        return None
    names = np.asarray(list(columns), dtype=object)
    if len(names) and all(isinstance(n, str) for n in names):
        return names
    return None


def _own_check_array(
    X: Any,
    *,
    estimator_name: str,
    ensure_min_samples: int,
    allow_nan: bool,
    numeric: bool = False,
    input_name: str = "X",
) -> np.ndarray:
    if hasattr(X, "tocsr") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(
            "Sparse data was passed for X, but dense data is required. Use '.toarray()' to"
            " convert to a dense numpy array."
        )
    if hasattr(X, "to_numpy") and hasattr(X, "dtypes"):
        X = X.to_numpy()
    array = np.asarray(X)
    if np.iscomplexobj(array):
        raise ValueError(f"Complex data not supported\n{array}\n")
    if numeric and array.dtype.kind in "USV":
        raise ValueError(
            "dtype='numeric' is not compatible with arrays of bytes/strings.Convert your data"
            " to numeric values explicitly instead."
        )
    if array.dtype.kind in "USV" or array.dtype.kind == "O":
        array = array.astype(np.float64)
    elif array.dtype not in (np.float64, np.float32):
        array = array.astype(np.float64)
    if array.ndim == 0:
        raise ValueError(
            f"Expected 2D array, got scalar array instead:\narray={array}.\nReshape your data"
            " either using array.reshape(-1, 1) if your data has a single feature or"
            " array.reshape(1, -1) if it contains a single sample."
        )
    if array.ndim == 1:
        raise ValueError(
            f"Expected 2D array, got 1D array instead:\narray={array}.\nReshape your data"
            " either using array.reshape(-1, 1) if your data has a single feature or"
            " array.reshape(1, -1) if it contains a single sample."
        )
    if array.ndim >= 3:
        raise ValueError(
            f"Found array with dim {array.ndim}. {estimator_name} expected <= 2."
        )
    if not np.isfinite(array).all():
        if np.isinf(array).any():
            raise ValueError(
                f"Input {input_name} contains infinity or a value too large for"
                f" {array.dtype!r}."
            )
        if not allow_nan:
            raise ValueError(
                f"Input {input_name} contains NaN.\n{estimator_name} does not accept missing"
                " values encoded as NaN natively: fit with fit_missing, or impute them first."
            )
    n, d = array.shape
    if n < ensure_min_samples:
        raise ValueError(
            f"Found array with {n} sample(s) (shape={array.shape}) while a minimum of"
            f" {ensure_min_samples} is required by {estimator_name}."
        )
    if d < 1:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={array.shape}) while a minimum of 1 is"
            f" required by {estimator_name}."
        )
    return array


def validate_data(
    estimator: Any,
    X: Any,
    *,
    reset: bool,
    ensure_min_samples: int = 1,
    allow_nan: bool = False,
    numeric: bool = False,
) -> np.ndarray:
    """Check ``X`` as scikit-learn's ``validate_data`` does: with ``dtype=[float64,
    float32]`` (kept as is, others converted to float64), or with scikit-learn's default
    ``dtype="numeric"`` when ``numeric`` (the queries'; integers then stay integers).

    Sets ``n_features_in_`` (and ``feature_names_in_`` for a DataFrame with string column
    names) when ``reset``, and checks them otherwise.
    """
    dtype = "numeric" if numeric else [np.float64, np.float32]
    if HAVE_SKLEARN:
        if _sk_validate_data is not None:
            finite = {"ensure_all_finite": "allow-nan" if allow_nan else True}
            try:
                return _sk_validate_data(
                    estimator, X, reset=reset, dtype=dtype,
                    ensure_min_samples=ensure_min_samples, **finite,
                )
            except TypeError as e:  # scikit-learn 1.6 names it force_all_finite
                if "ensure_all_finite" not in str(e):
                    raise
                return _sk_validate_data(
                    estimator, X, reset=reset, dtype=dtype,
                    ensure_min_samples=ensure_min_samples,
                    force_all_finite="allow-nan" if allow_nan else True,
                )
        return estimator._validate_data(  # pragma: no cover - scikit-learn < 1.6
            X, reset=reset, dtype=dtype, ensure_min_samples=ensure_min_samples,
            force_all_finite="allow-nan" if allow_nan else True,
        )
    name = type(estimator).__name__
    names = _feature_names(X)
    array = _own_check_array(
        X, estimator_name=name, ensure_min_samples=ensure_min_samples, allow_nan=allow_nan,
        numeric=numeric,
    )
    if reset:
        estimator.n_features_in_ = array.shape[1]
        if names is not None:
            estimator.feature_names_in_ = names
        elif "feature_names_in_" in estimator.__dict__:
            del estimator.feature_names_in_
    else:
        expected = estimator.n_features_in_
        if array.shape[1] != expected:
            raise ValueError(
                f"X has {array.shape[1]} features, but {name} is expecting {expected}"
                " features as input."
            )
        fitted = estimator.__dict__.get("feature_names_in_")
        if fitted is not None and names is not None and list(fitted) != list(names):
            raise ValueError(
                "The feature names should match those that were passed during fit."
            )
    return array


def check_array_like(value: Any, *, ensure_2d: bool, allow_nd: bool) -> np.ndarray:
    """``check_array(value, dtype=[float64, float32], ensure_2d=..., allow_nd=...)``."""
    if HAVE_SKLEARN:
        from sklearn.utils import check_array

        return check_array(
            value, dtype=[np.float64, np.float32], ensure_2d=ensure_2d, allow_nd=allow_nd
        )
    array = np.asarray(value)
    if array.dtype not in (np.float64, np.float32):
        array = array.astype(np.float64)
    if not allow_nd and array.ndim >= 3:
        raise ValueError(f"Found array with dim {array.ndim}. None expected <= 2.")
    if not np.isfinite(array).all():
        what = "NaN" if np.isnan(array).any() else (
            f"infinity or a value too large for {array.dtype!r}"
        )
        raise ValueError(f"Input contains {what}.")
    return array


# --- parameter validation --------------------------------------------------------------

_STR_OPTIONS = {
    "covariance_type": {"full", "tied", "diag", "spherical"},
    "init_params": {"kmeans", "random", "random_from_data", "k-means++"},
    "device": {"auto", "cpu", "gpu"},
    "full_path": {"auto", "dense", "low_rank"},
    "weight_concentration_prior_type": {"dirichlet_process", "dirichlet_distribution"},
}
# name: (kind, low, closed on the left)
_INTERVALS = {
    "n_components": ("int", 1),
    "tol": ("real", 0.0),
    "reg_covar": ("real", 0.0),
    "max_iter": ("int", 0),
    "n_init": ("int", 1),
    "verbose_interval": ("int", 1),
}


def parameter_constraints(estimator: str = "GaussianMixture") -> dict:
    """scikit-learn's ``_parameter_constraints`` of ``sklearn.mixture.<estimator>`` plus
    ``device`` and (for ``GaussianMixture``) ``full_path``; only with scikit-learn installed."""
    if not HAVE_SKLEARN:
        return {}
    import sklearn.mixture

    constraints = dict(getattr(sklearn.mixture, estimator)._parameter_constraints)
    constraints["device"] = [StrOptions(_STR_OPTIONS["device"])]
    if estimator == "GaussianMixture":
        constraints["full_path"] = [StrOptions(_STR_OPTIONS["full_path"])]
    return constraints


def validate_params(estimator: Any) -> None:
    """Check every hyper-parameter against its constraint (scikit-learn's messages)."""
    if HAVE_SKLEARN:
        estimator._validate_params()
        return
    name = type(estimator).__name__
    params = estimator.get_params(deep=False)

    def fail(key: str, what: str) -> None:
        raise InvalidParameterError(
            f"The {key!r} parameter of {name} must be {what}. Got {params[key]!r} instead."
        )

    for key, options in _STR_OPTIONS.items():
        if key in params and params[key] not in options:
            opts = ", ".join(repr(o) for o in sorted(options))
            fail(key, f"a str among {{{opts}}}")
    for key, (kind, low) in _INTERVALS.items():
        v = params[key]
        if kind == "int":
            ok = isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= low
            if not ok:
                fail(key, f"an int in the range [{low}, inf)")
        else:
            ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and v >= low
            if not ok:
                fail(key, f"a float in the range [{low}, inf)")
    rs = params["random_state"]
    if not (
        rs is None
        or isinstance(rs, np.random.RandomState)
        or (isinstance(rs, numbers.Integral) and not isinstance(rs, bool) and 0 <= rs < 2**32)
    ):
        fail(
            "random_state",
            "an int in the range [0, 4294967295], an instance of 'numpy.random.mtrand."
            "RandomState' or None",
        )
    if not isinstance(params["warm_start"], (bool, np.bool_)):
        fail("warm_start", "an instance of 'bool' or an instance of 'numpy.bool'")
    v = params["verbose"]
    if not (isinstance(v, (bool, np.bool_)) or (isinstance(v, numbers.Integral) and v >= 0)):
        fail("verbose", "an int in the range [0, inf) or an instance of 'bool'")


def check_sample_weight(sample_weight: Any, X: np.ndarray) -> np.ndarray:
    """``sample_weight`` as float64 (n_samples,), finite and ≥ 0 (scikit-learn's
    ``_check_sample_weight`` and messages when it is installed)."""
    if HAVE_SKLEARN:
        from sklearn.utils.validation import _check_sample_weight

        w = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    else:
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.ndim == 0:
            w = np.full(X.shape[0], float(w))
        if w.ndim != 1:
            raise ValueError("Sample weights must be 1D array or scalar")
        if w.shape != (X.shape[0],):
            raise ValueError(
                f"sample_weight.shape == {w.shape}, expected {(X.shape[0],)}!"
            )
        if not np.isfinite(w).all():
            raise ValueError("Input sample_weight contains NaN or infinity.")
        if (w < 0).any():
            raise ValueError("Negative values in data passed to `sample_weight`")
    if not w.sum() > 0:
        raise ValueError("sample_weight must have a positive sum (some sample must count)")
    return np.ascontiguousarray(w, dtype=np.float64)
