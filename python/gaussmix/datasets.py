"""Data sets embedded in gaussmix (no network needed)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _gaussmix

__all__ = ["olivetti_faces", "fetch_olivetti_faces"]


def olivetti_faces() -> np.ndarray:
    """The 400 Olivetti faces (AT&T Laboratories Cambridge), 64 × 64 pixels each.

    The same values, order and dtype as ``sklearn.datasets.fetch_olivetti_faces().data``
    (person ``i // 10`` in row ``i``), decoded from the copy embedded in gaussmix.

    Returns
    -------
    faces : ndarray of shape (400, 4096), float32
        One face per row, pixels row-major, values in [0, 1].
    """
    return _gaussmix.olivetti_faces()


class _Bunch(dict):
    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError as e:
            raise AttributeError(key) from e


def fetch_olivetti_faces(
    *,
    data_home: Any = None,
    shuffle: bool = False,
    random_state: Any = 0,
    download_if_missing: bool = True,
    return_X_y: bool = False,
) -> Any:
    """A drop-in for ``sklearn.datasets.fetch_olivetti_faces`` that needs no network.

    ``data``, ``images`` and ``target`` are those of scikit-learn's loader, shuffled the same
    way (``numpy.random.RandomState(random_state).permutation``) when ``shuffle`` is true.
    ``data_home`` and ``download_if_missing`` are accepted and ignored.

    Parameters
    ----------
    data_home : ignored
    shuffle : bool, default=False
        Shuffle the faces (and targets) as scikit-learn does.
    random_state : int, RandomState instance or None, default=0
        The shuffle's generator (NumPy's, as in scikit-learn).
    download_if_missing : ignored
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of the bunch.

    Returns
    -------
    data : Bunch
        ``data`` (400, 4096) float32, ``images`` (400, 64, 64), ``target`` (400,) int,
        ``DESCR``.
    """
    faces = olivetti_faces()
    target = np.array([i // 10 for i in range(400)])
    if shuffle:
        rng = (
            random_state
            if isinstance(random_state, np.random.RandomState)
            else np.random.RandomState(random_state)
        )
        order = rng.permutation(len(faces))
        faces = faces[order]
        target = target[order]
    if return_X_y:
        return faces, target
    return _Bunch(
        data=faces,
        images=faces.reshape(len(faces), 64, 64),
        target=target,
        DESCR="The Olivetti faces (AT&T Laboratories Cambridge): 40 people x 10 images of"
        " 64 x 64 pixels, values in [0, 1]; embedded in gaussmix.",
    )
