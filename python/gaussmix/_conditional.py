"""The conditional distribution of some coordinates of a mixture given the others."""

from __future__ import annotations

from typing import Any, Tuple

import numpy as np


class ConditionalMixture:
    """The Gaussian mixture over the unobserved coordinates given observed values.

    Returned by :meth:`gaussmix.GaussianMixture.condition`. Component ``k`` keeps its
    identity with mean ``μ_m + Σ_mo Σ_oo⁻¹ (x_o − μ_o)`` and covariance
    ``Σ_mm − Σ_mo Σ_oo⁻¹ Σ_om``; its weight is its posterior given ``x_o`` (from the marginal
    density of the observed part). The mean and draws never form an M × M matrix; the
    covariances (and what needs them: ``covariance``, ``variance``, ``interval``,
    ``quantile``, ``log_density``) are formed on first use.

    Attributes
    ----------
    observed : ndarray of int
        The observed coordinates.
    missing : ndarray of int
        The coordinates this distribution is over, in increasing order (M of them).
    weights : ndarray of shape (n_components,)
        Posterior component weights.
    log_marginal : float
        ``log p(x_o)``, the marginal log-density of the observed values.
    """

    def __init__(self, inner: Any, random_state: Any = None) -> None:
        self._inner = inner
        self._random_state = random_state

    @property
    def observed(self) -> np.ndarray:
        return np.asarray(self._inner.observed, dtype=np.intp)

    @property
    def missing(self) -> np.ndarray:
        return np.asarray(self._inner.missing, dtype=np.intp)

    @property
    def weights(self) -> np.ndarray:
        return self._inner.weights

    @property
    def log_marginal(self) -> float:
        return float(self._inner.log_marginal)

    @property
    def means(self) -> np.ndarray:
        """Per-component conditional means, shape (n_components, M)."""
        return self._inner.component_means()

    @property
    def covariances(self) -> np.ndarray:
        """Per-component conditional covariances, shape (n_components, M, M)."""
        return self._inner.component_covariances()

    def mean(self) -> np.ndarray:
        """The conditional mean ``E[x_m | x_o]`` (the point prediction), shape (M,)."""
        return self._inner.mean()

    def covariance(self) -> np.ndarray:
        """The covariance of the mixture (law of total variance), shape (M, M)."""
        return self._inner.covariance()

    def variance(self) -> np.ndarray:
        """The variance of every coordinate, shape (M,)."""
        return self._inner.variance()

    def interval(self, level: float = 0.9) -> Tuple[np.ndarray, np.ndarray]:
        """Central interval of probability ``level`` of every coordinate.

        Parameters
        ----------
        level : float, default=0.9
            The probability, strictly between 0 and 1.

        Returns
        -------
        lower, upper : ndarray of shape (M,)
            The ``(1 − level)/2`` and ``(1 + level)/2`` quantiles of each coordinate's
            (one-dimensional mixture) distribution.
        """
        return self._inner.interval(float(level))

    def quantile(self, q: float) -> np.ndarray:
        """The ``q``-quantile of every coordinate, shape (M,)."""
        return self._inner.quantile(float(q))

    def log_density(self, X: Any) -> np.ndarray:
        """``log p(x_m | x_o)`` of each row of ``X`` (shape (n, M) or (M,))."""
        X = np.asarray(X, dtype=np.float64)
        one = X.ndim == 1
        out = self._inner.log_density(np.ascontiguousarray(X.reshape(1, -1) if one else X))
        return out[0] if one else out

    def sample(self, n_samples: int = 1, random_state: Any = None) -> np.ndarray:
        """Draws from the conditional mixture.

        Parameters
        ----------
        n_samples : int, default=1
            Number of draws.
        random_state : int, RandomState instance or None, default=None
            Seed of gaussmix's generator; ``None`` uses the model's ``random_state``.

        Returns
        -------
        X : ndarray of shape (n_samples, M)
            The draws.
        """
        from ._mixture import _seed

        if n_samples < 1:
            raise ValueError(
                "Invalid value for 'n_samples': %d . The sampling requires at "
                "least one sample." % n_samples
            )
        rs = self._random_state if random_state is None else random_state
        return self._inner.sample(int(n_samples), _seed(rs))

    def __repr__(self) -> str:
        return (
            f"ConditionalMixture(n_components={len(self.weights)}, "
            f"observed={len(self.observed)}, missing={len(self.missing)})"
        )
