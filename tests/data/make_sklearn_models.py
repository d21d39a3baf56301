#!/usr/bin/env python3
"""Writes the scikit-learn interchange fixtures used by tests/sklearn_interop.rs.

For each covariance type, fits scikit-learn's GaussianMixture on a small data set and saves
its fitted attributes with numpy.savez under their attribute names (the layout gaussmix reads
and writes), plus scikit-learn's own score_samples and predict_proba of the data, so that the
Rust test checks gaussmix against scikit-learn's numbers, not its own.

    pip install scikit-learn numpy
    python3 tests/data/make_sklearn_models.py
"""
import os

import numpy as np
from sklearn.mixture import GaussianMixture

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(42)
x = np.concatenate([
    rng.normal([0, 0, 0], [1.0, 0.5, 2.0], size=(120, 3)),
    rng.normal([5, -3, 1], [0.7, 1.5, 0.3], size=(80, 3)),
    rng.normal([-4, 4, -2], [1.2, 0.8, 1.0], size=(100, 3)) @ np.array([[1, 0.3, 0], [0, 1, 0.2], [0, 0, 1]]),
])
np.save(os.path.join(HERE, "sklearn_data.npy"), x)
for cov in ["full", "tied", "diag", "spherical"]:
    gm = GaussianMixture(3, covariance_type=cov, random_state=0).fit(x)
    np.savez(
        os.path.join(HERE, f"sklearn_{cov}.npz"),
        weights_=gm.weights_,
        means_=gm.means_,
        covariances_=gm.covariances_,
        precisions_cholesky_=gm.precisions_cholesky_,
        precisions_=gm.precisions_,
        covariance_type=np.array(cov),
        converged_=gm.converged_,
        n_iter_=gm.n_iter_,
        lower_bound_=gm.lower_bound_,
    )
    np.save(os.path.join(HERE, f"sklearn_{cov}_score_samples.npy"), gm.score_samples(x))
    np.save(os.path.join(HERE, f"sklearn_{cov}_predict_proba.npy"), gm.predict_proba(x))
    np.save(os.path.join(HERE, f"sklearn_{cov}_bic.npy"), np.array([gm.bic(x), gm.aic(x)]))
