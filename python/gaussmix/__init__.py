"""gaussmix: Gaussian mixture models fitted by EM in Rust.

Scikit-learn compatible :class:`GaussianMixture` and :class:`BayesianGaussianMixture` (CPU f64 or GPU via wgpu; an exact
low-rank path for full covariances when samples are fewer than features), EM with missing
values (:meth:`GaussianMixture.fit_missing`), conditioning (:meth:`GaussianMixture.condition`,
:meth:`GaussianMixture.impute`), forecasting (:func:`forecast`), and the CLI's ``.npz`` model
files (:func:`load`, :meth:`GaussianMixture.save`).
"""

from __future__ import annotations

from typing import Any, Dict, List

from . import _gaussmix, datasets
from ._bayesian import BayesianGaussianMixture
from ._compat import HAVE_SKLEARN, ConvergenceWarning, NotFittedError
from ._conditional import ConditionalMixture
from ._forecast import BUILTIN_PRESETS, builtin_series, forecast, interpolate
from ._mixture import (
    DENSE_LIMIT_BYTES,
    DenseTooLargeError,
    GaussianMixture,
    GpuError,
    from_sklearn,
    load,
)

__version__: str = _gaussmix.__version__

__all__ = [
    "GaussianMixture",
    "BayesianGaussianMixture",
    "ConditionalMixture",
    "DENSE_LIMIT_BYTES",
    "DenseTooLargeError",
    "GpuError",
    "ConvergenceWarning",
    "NotFittedError",
    "BUILTIN_PRESETS",
    "builtin_series",
    "datasets",
    "devices",
    "forecast",
    "interpolate",
    "from_sklearn",
    "load",
    "HAVE_SKLEARN",
]


def devices() -> List[Dict[str, Any]]:
    """The GPU adapters gaussmix can use (Vulkan, Metal, DX12, or those named by
    ``WGPU_BACKEND``).

    Returns
    -------
    adapters : list of dict
        One per adapter: ``name``, ``backend``, ``device_type`` (DiscreteGpu, IntegratedGpu,
        VirtualGpu, Cpu, Other), ``driver``, ``max_storage_buffer_binding_size``,
        ``max_buffer_size``, ``shader_f64``. Empty when there is none.
    """
    return list(_gaussmix.devices())
