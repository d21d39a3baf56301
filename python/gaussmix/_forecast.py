"""``gaussmix.forecast``: the CLI's ``gaussmix forecast`` as a function."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional, Union

import numpy as np

from . import _gaussmix

#: The built-in series' own (window, horizon, n_components, covariance_type), as the CLI's
#: ``--builtin`` uses them (chosen by validation RMSE on the training part).
BUILTIN_PRESETS = {
    "santafe": (12, 5, 12, "full"),
    "sunspots": (9, 3, 3, "tied"),
}
_DEFAULTS = (10, 1, None, None)  # K and the covariance type: chosen by cross-validation


def builtin_series(name: str) -> np.ndarray:
    """An embedded series: ``'santafe'`` (Santa Fe laser A, 1000 points) or ``'sunspots'``
    (yearly sunspot numbers 1700–2008, 309 points)."""
    return np.asarray(_gaussmix.builtin_series(name), dtype=np.float64)


def forecast(
    series: Union[str, Any],
    window: Optional[int] = None,
    horizon: Optional[int] = None,
    n_components: Optional[int] = None,
    covariance_type: Optional[str] = None,
    *,
    test_fraction: float = 0.2,
    transform: str = "auto",
    iterated: bool = False,
    level: float = 0.9,
    n_init: int = 3,
    seed: int = 0,
    validation_fraction: float = 0.3,
    n_folds: int = 3,
    calibrate: bool = True,
    calibration_half_life: float = 0.5,
    online_calibration: bool = True,
    calibration_step: float = 0.02,
    period: Optional[int] = None,
    n_paths: int = 200,
    reg_covar: float = 1e-4,
    return_forecasts: bool = False,
) -> Dict[str, Any]:
    """Forecast a series with a Gaussian mixture over sliding windows (``gaussmix forecast``).

    The series is cut at ``floor(n (1 − test_fraction))``; every window of ``window`` past and
    ``horizon`` future values inside the training part is a training sample. The mixture
    forecasts by conditioning on the known past: the conditional mean is the point forecast,
    its quantiles the intervals. Persistence and a linear AR model of the same window are the
    baselines. The figures are those of the CLI's ``--report`` JSON.

    Parameters
    ----------
    series : array-like of shape (n,) or {'santafe', 'sunspots'}
        The values, or the name of an embedded series (whose own window, horizon, K and
        covariance type are then the defaults, as with the CLI's ``--builtin``).
    window : int, default=10
        Past values per window.
    horizon : int, default=1
        Steps ahead.
    n_components : int, default=None
        Mixture components; by default chosen among 1, 2, 4 and 8 by time-series
        cross-validation on the training part (K = 1 is the linear AR model).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default=None
        Covariance structure; by default chosen between 'full' and 'diag' the same way.
    test_fraction : float, default=0.2
        Fraction of the series, at its end, held out as the test part.
    transform : {'auto', 'none', 'diff', 'window-norm', 'seasonal'}, default='auto'
        Transform of the windows; 'auto' picks the one with the lowest cross-validated RMSE.
    iterated : bool, default=False
        Iterated one-step forecasts instead of direct ``horizon``-step ones.
    level : float, default=0.9
        Probability of the central forecast intervals.
    n_init : int, default=3
        EM initialisations.
    seed : int, default=0
        Seed of the fit (and of the simulated paths of iterated forecasts).
    validation_fraction : float, default=0.3
        Fraction of the training part, at its end, that the cross-validation folds forecast
        (each fold fitted on every value before it); the test part is never used.
    n_folds : int, default=3
        Cross-validation folds.
    calibrate : bool, default=True
        Calibrate the intervals on the folds (conformal, per horizon step).
    calibration_half_life : float, default=0.5
        Recency weighting of the calibration, in folds: a score's weight halves every this
        many folds' worth of scores back from the newest (0: all weigh the same).
    online_calibration : bool, default=True
        Go on calibrating through the test part: each test forecast's interval is also
        calibrated on the errors of the earlier test forecasts whose true values are known
        at its origin, as a forecaster running on the series would. False: the folds alone.
    calibration_step : float, default=0.02
        Step of the online calibration's adaptive level (adaptive conformal inference, Gibbs
        & Candès 2021): each test forecast scored moves the miss rate aimed at by
        ``calibration_step * (1 - level - miss)``; 0 keeps the level fixed.
    period : int, optional
        The seasonal period; by default detected from the training part's autocorrelation.
        With one, seasonal differencing is among the transforms ('seasonal') and the
        report has the seasonal-naive baseline.
    n_paths : int, default=200
        Simulated paths per origin for the intervals of iterated forecasts.
    reg_covar : float, default=1e-4
        Ridge on the (standardised) covariances.
    return_forecasts : bool, default=False
        Also return the forecasts themselves under the key ``'forecasts'``: ``origins``
        (index of the last known value of each forecast), and ``truth``, ``gmm``, ``lower``,
        ``upper``, ``persistence``, ``ar``, each of shape (n_test, horizon).

    Returns
    -------
    report : dict
        The CLI's JSON report: ``gmm``, ``persistence`` and ``ar`` (each with ``rmse``,
        ``mae``, ``rmse_by_horizon``), the settings, the split (``n_train``, ``n_test``,
        ``n_train_points``, ``series_length``), the configuration applied, ``cross_validation``
        (the RMSE of every candidate tried), ``interval_level``, ``interval_coverage``,
        ``interval_coverage_by_horizon``, the conformal ``interval_scales`` of the folds and
        ``interval_scales_by_origin`` (n_test lists of ``horizon`` factors, online).
    """
    preset = _DEFAULTS
    if isinstance(series, str):
        if series not in BUILTIN_PRESETS:
            raise ValueError(
                f"unknown built-in series {series!r}; use one of {sorted(BUILTIN_PRESETS)} or"
                " give the values"
            )
        preset = BUILTIN_PRESETS[series]
        values = builtin_series(series)
    else:
        values = np.asarray(series, dtype=np.float64)
        if values.ndim != 1:
            values = np.squeeze(values)
        if values.ndim != 1:
            raise ValueError(f"the series must be 1-D, got shape {np.shape(series)}")
        if np.isinf(values).any():
            raise ValueError("the series contains infinity; NaN marks a missing value")
    w, h, k, cov = preset
    text, arrays = _gaussmix.forecast(
        [float(v) for v in values],
        window=w if window is None else int(window),
        horizon=h if horizon is None else int(horizon),
        n_components=k if n_components is None else int(n_components),
        covariance_type=cov if covariance_type is None else covariance_type,
        test_fraction=float(test_fraction),
        validation_fraction=float(validation_fraction),
        n_folds=int(n_folds),
        calibrate=bool(calibrate),
        calibration_half_life=float(calibration_half_life),
        online_calibration=bool(online_calibration),
        calibration_step=float(calibration_step),
        period=None if period is None else int(period),
        transform=transform,
        iterated=bool(iterated),
        level=float(level),
        n_paths=int(n_paths),
        seed=int(seed),
        n_init=int(n_init),
        reg_covar=float(reg_covar),
    )
    report = json.loads(text)
    if return_forecasts:
        report["forecasts"] = dict(arrays)
    return report


def interpolate(
    series: Any,
    window: int = 8,
    n_components: int = 4,
    covariance_type: str = "full",
    *,
    level: float = 0.9,
    seed: int = 0,
    n_init: int = 3,
    reg_covar: float = 1e-4,
) -> Dict[str, Any]:
    """Fill the gaps (NaN) of a series from a mixture over its windows (``gaussmix
    interpolate``).

    A mixture over windows of ``window`` consecutive values is fitted by the missing-value
    EM to every window with an observed value; each missing value becomes its conditional
    mean given the observed values of the window centred on it, with a central interval of
    probability ``level``. A seeded tenth of the observed values is hidden and filled again,
    and the report compares the mixture's RMSE on them with linear interpolation's.

    Returns
    -------
    result : dict
        The CLI's JSON report (``n_missing``, the settings, and ``check`` with
        ``rmse_mixture``, ``rmse_linear_interpolation`` and ``interval_coverage``), plus
        ``value`` (the filled series), ``lower`` and ``upper`` as arrays of shape (n,).
    """
    values = np.asarray(series, dtype=np.float64)
    if values.ndim != 1:
        values = np.squeeze(values)
    if values.ndim != 1:
        raise ValueError(f"the series must be 1-D, got shape {np.shape(series)}")
    text, arrays = _gaussmix.interpolate(
        [float(v) for v in values],
        window=int(window),
        n_components=int(n_components),
        covariance_type=covariance_type,
        level=float(level),
        seed=int(seed),
        n_init=int(n_init),
        reg_covar=float(reg_covar),
    )
    result = json.loads(text)
    result.update(dict(arrays))
    return result
