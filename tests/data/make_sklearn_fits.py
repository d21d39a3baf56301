#!/usr/bin/env python3
"""Writes the fitting oracle of tests/it/em/sklearn_fit.rs: scikit-learn's own EM fits of real
data (iris and wine, which ship inside scikit-learn), from initial parameters that both
libraries then start from.

For each data set and covariance type it saves, under tests/data/sklearn_fits/:
- the data (`<set>.npy`);
- scikit-learn's initialisation (k-means, random_state=0): `weights_init`, `means_init`,
  `precisions_init` (the matrices, not their Cholesky factors), as scikit-learn's own
  `weights_init`/`means_init`/`precisions_init` parameters take them;
- the fitted `weights_`, `means_`, `covariances_`, `n_iter_`, `converged_`, `lower_bound_`, and
  the lower bound of every iteration (`lower_bounds`, from fits stopped after 1, 2, … iterations,
  which scikit-learn's EM reproduces exactly).

    pip install scikit-learn numpy
    python3 tests/data/make_sklearn_fits.py
"""
import os

import numpy as np
import sklearn
from sklearn.datasets import load_iris, load_wine
from sklearn.mixture import GaussianMixture

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sklearn_fits")
os.makedirs(HERE, exist_ok=True)


def precisions_of(gm):
    """The precision matrices from a fitted model's Cholesky factors (scikit-learn layout)."""
    u = gm.precisions_cholesky_
    t = gm.covariance_type
    if t == "full":
        return np.einsum("kij,klj->kil", u, u)
    if t == "tied":
        return u @ u.T
    return u**2


SETS = {"iris": (load_iris().data, 3), "wine": (load_wine().data, 3)}
for name, (x, k) in SETS.items():
    x = np.ascontiguousarray(x, dtype=np.float64)
    np.save(os.path.join(HERE, f"{name}.npy"), x)
    for cov in ["full", "tied", "diag", "spherical"]:
        init = GaussianMixture(k, covariance_type=cov, random_state=0)
        init._initialize_parameters(x, np.random.RandomState(0))
        start = dict(
            weights_init=init.weights_.copy(),
            means_init=init.means_.copy(),
            precisions_init=precisions_of(init),
        )
        gm = GaussianMixture(k, covariance_type=cov, **start).fit(x)
        history = []
        for t in range(1, gm.n_iter_ + 1):
            g = GaussianMixture(k, covariance_type=cov, max_iter=t, tol=0.0, **start)
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                g.fit(x)
            history.append(g.lower_bound_)
        np.savez(
            os.path.join(HERE, f"{name}_{cov}.npz"),
            covariance_type=np.array(cov),
            **start,
            weights_=gm.weights_,
            means_=gm.means_,
            covariances_=gm.covariances_,
            n_iter_=np.array(gm.n_iter_),
            converged_=np.array(gm.converged_),
            lower_bound_=np.array(gm.lower_bound_),
            lower_bounds=np.array(history),
            sklearn_version=np.array(sklearn.__version__),
        )
        print(f"{name} {cov}: {gm.n_iter_} iterations, lower bound {gm.lower_bound_:.10f}")
