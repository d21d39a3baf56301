#!/usr/bin/env python3
"""Writes the oracle for a Rust port of scikit-learn's `BayesianGaussianMixture` (variational
Bayesian GMM): scikit-learn's own fits, all of them started from recorded initial
responsibilities so that a port can start from exactly the same point. The formulas are
written out in tests/data/bgm_spec.md.

Everything goes under tests/data/sklearn_bayesian/:

- `iris.npy`, `wine.npy`, `blobs.npy`: the data, float64, C order. iris and wine are the copies
  that ship inside scikit-learn, used RAW (not standardised; wine's columns differ in scale by
  ~4 orders of magnitude, which scikit-learn's data-driven priors absorb: every wine fit
  converges, though spherical covariances are a poor model of raw wine). blobs is 300 points
  from two well-separated 2-D Gaussians (numpy RandomState(0)).
- `<set>_<covariance_type>_<dp|dd>.npz` for set in {iris, wine}, each of the four covariance
  types, and weight_concentration_prior_type dirichlet_process (dp) or dirichlet_distribution
  (dd), with n_components=6 (both sets have 3 classes, so components can die out); plus
  `blobs_full_dp.npz` (n_components=8). All other settings are scikit-learn's defaults
  (tol=1e-3, reg_covar=1e-6, max_iter=100, n_init=1, init_params='kmeans', random_state=0).

Keys of each .npz (np.savez, uncompressed; strings are numpy unicode arrays):
  dataset, covariance_type, weight_concentration_prior_type, sklearn_version   (strings)
  n_components, max_iter, random_state (int64); tol, reg_covar (float64)
  kmeans_labels (N,) int64, resp (N, K): the initial responsibilities, i.e. the one-hot
      k-means labels exactly as init_params='kmeans' makes them (KMeans(n_clusters=K,
      n_init=1, random_state=RandomState(0))); the fit is checked to equal a plain
      BayesianGaussianMixture(random_state=0).fit bit for bit.
  priors as used: weight_concentration_prior_, mean_precision_prior_, degrees_of_freedom_prior_
      (0-d), mean_prior_ (D,), covariance_prior_ ((D,D) full/tied, (D,) diag, 0-d spherical)
  init_*: the variational parameters right after `_initialize(X, resp)`, before iteration 1
      (init_mean_precision_, init_means_, init_degrees_of_freedom_, init_covariances_,
      init_precisions_cholesky_, and init_weight_concentration_ or _a_/_b_ as below)
  fitted: weights_, means_, covariances_, precisions_, precisions_cholesky_, mean_precision_,
      degrees_of_freedom_ ((K,), or 0-d for tied), weight_concentration_ (K,) for dd, or for dp
      weight_concentration_a_ and weight_concentration_b_ (the tuple's two Beta-parameter
      arrays, [0] and [1]); n_iter_ (int64), converged_ (bool), lower_bound_ (0-d float64)
  lower_bounds (n_iter_,): the lower bound after 1, 2, ..., n_iter_ iterations. It is
      scikit-learn's own `lower_bounds_`, and is checked to equal, bit for bit, the
      lower_bound_ of separate fits with max_iter=t, tol=0; its last entry equals lower_bound_.
  on the training data, from the fitted model: score_samples (N,), predict_proba (N, K),
      predict (N,) int64, log_weights (K,) (= _estimate_log_weights(), E[log pi]).

Deterministic. Rerun with (scikit-learn 1.9.1, numpy, scipy):

    .venv/bin/python tests/data/make_sklearn_bayesian.py
"""
import copy
import os
import warnings

import numpy as np
import sklearn
from sklearn.cluster import KMeans
from sklearn.datasets import load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture
from sklearn.utils import check_random_state

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sklearn_bayesian")
os.makedirs(HERE, exist_ok=True)
SEED = 0
COV_TYPES = ["full", "tied", "diag", "spherical"]
PRIOR_TYPES = {"dirichlet_process": "dp", "dirichlet_distribution": "dd"}


class FixedRespBGM(BayesianGaussianMixture):
    """A BayesianGaussianMixture whose initialisation is `_initialize(X, self.fixed_resp)`,
    instead of running k-means itself; it also keeps the state right after initialisation."""

    def _initialize_parameters(self, X, random_state, xp=None):
        self._initialize(X, self.fixed_resp)
        self.init_state = copy.deepcopy(self._get_parameters())


def kmeans_resp(x, k):
    """The responsibilities of init_params='kmeans', as BaseMixture._initialize_parameters makes
    them: fit() passes check_random_state(random_state) to KMeans(n_init=1)."""
    labels = KMeans(n_clusters=k, n_init=1, random_state=check_random_state(SEED)).fit(x).labels_
    resp = np.zeros((x.shape[0], k), dtype=x.dtype)
    resp[np.arange(x.shape[0]), labels] = 1
    return labels.astype(np.int64), resp


def scalar(v):
    """A lower bound as a float: for 'tied' scikit-learn returns a shape-(1,) array."""
    a = np.asarray(v, dtype=np.float64)
    assert a.size == 1, a.shape
    return float(a.reshape(()))


def fit(x, k, cov, prior_type, resp, **kw):
    b = FixedRespBGM(
        n_components=k,
        covariance_type=cov,
        weight_concentration_prior_type=prior_type,
        random_state=SEED,
        **kw,
    )
    b.fixed_resp = resp
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        b.fit(x)
    return b


def same(a, b):
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same(u, v) for u, v in zip(a, b))
    return np.array_equal(np.asarray(a), np.asarray(b))


def weight_conc(prefix, wc, prior_type):
    if prior_type == "dirichlet_process":
        return {f"{prefix}weight_concentration_a_": wc[0], f"{prefix}weight_concentration_b_": wc[1]}
    return {f"{prefix}weight_concentration_": wc}


def case(name, x, k, cov, prior_type):
    labels, resp = kmeans_resp(x, k)
    b = fit(x, k, cov, prior_type, resp)

    # The recorded responsibilities are those of scikit-learn's own init_params='kmeans'.
    plain = BayesianGaussianMixture(
        n_components=k, covariance_type=cov, weight_concentration_prior_type=prior_type,
        random_state=SEED,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain.fit(x)
    for attr in ["weights_", "means_", "covariances_", "precisions_cholesky_",
                 "weight_concentration_", "mean_precision_", "degrees_of_freedom_",
                 "n_iter_", "converged_", "lower_bound_"]:
        assert same(getattr(b, attr), getattr(plain, attr)), (name, cov, prior_type, attr)

    # Lower-bound history: scikit-learn's lower_bounds_, checked against fits stopped early.
    history = np.array([scalar(v) for v in b.lower_bounds_])
    assert len(history) == b.n_iter_
    for t in range(1, b.n_iter_ + 1):
        bt = fit(x, k, cov, prior_type, resp, max_iter=t, tol=0.0)
        assert bt.n_iter_ == t
        assert scalar(bt.lower_bound_) == history[t - 1], (name, cov, prior_type, t)
        if t == b.n_iter_:
            for attr in ["weights_", "means_", "covariances_", "precisions_cholesky_"]:
                assert same(getattr(bt, attr), getattr(b, attr))
    assert history[-1] == scalar(b.lower_bound_)

    wcp, mpp, mp, dfp, cp = (b.weight_concentration_prior_, b.mean_precision_prior_,
                             b.mean_prior_, b.degrees_of_freedom_prior_, b.covariance_prior_)
    (i_wc, i_mprec, i_means, i_dof, i_cov, i_pchol) = b.init_state
    f64 = lambda v: np.asarray(v, dtype=np.float64)  # noqa: E731
    out = dict(
        dataset=np.array(name),
        covariance_type=np.array(cov),
        weight_concentration_prior_type=np.array(prior_type),
        sklearn_version=np.array(sklearn.__version__),
        n_components=np.array(k, dtype=np.int64),
        max_iter=np.array(b.max_iter, dtype=np.int64),
        random_state=np.array(SEED, dtype=np.int64),
        tol=f64(b.tol),
        reg_covar=f64(b.reg_covar),
        kmeans_labels=labels,
        resp=resp,
        weight_concentration_prior_=f64(wcp),
        mean_precision_prior_=f64(mpp),
        mean_prior_=f64(mp),
        degrees_of_freedom_prior_=f64(dfp),
        covariance_prior_=f64(cp),
        **{k_: f64(v) for k_, v in weight_conc("init_", i_wc, prior_type).items()},
        init_mean_precision_=f64(i_mprec),
        init_means_=f64(i_means),
        init_degrees_of_freedom_=f64(i_dof),
        init_covariances_=f64(i_cov),
        init_precisions_cholesky_=f64(i_pchol),
        weights_=f64(b.weights_),
        means_=f64(b.means_),
        covariances_=f64(b.covariances_),
        precisions_=f64(b.precisions_),
        precisions_cholesky_=f64(b.precisions_cholesky_),
        **{k_: f64(v) for k_, v in weight_conc("", b.weight_concentration_, prior_type).items()},
        mean_precision_=f64(b.mean_precision_),
        degrees_of_freedom_=f64(b.degrees_of_freedom_),
        n_iter_=np.array(b.n_iter_, dtype=np.int64),
        converged_=np.array(bool(b.converged_)),
        lower_bound_=f64(scalar(b.lower_bound_)),
        lower_bounds=history,
        score_samples=f64(b.score_samples(x)),
        predict_proba=f64(b.predict_proba(x)),
        predict=b.predict(x).astype(np.int64),
        log_weights=f64(b._estimate_log_weights()),
    )
    fname = f"{name}_{cov}_{PRIOR_TYPES[prior_type]}.npz"
    np.savez(os.path.join(HERE, fname), **out)
    print(f"{fname:32s} n_iter_={b.n_iter_:3d} converged_={bool(b.converged_)!s:5s} "
          f"lower_bound_={scalar(b.lower_bound_):.12f}  weights_={np.round(b.weights_, 4)}")


def blobs():
    rs = np.random.RandomState(0)
    a = rs.normal(size=(150, 2)) + np.array([-4.0, -4.0])
    b = rs.normal(size=(150, 2)) + np.array([4.0, 4.0])
    return np.concatenate([a, b])


SETS = {"iris": load_iris().data, "wine": load_wine().data, "blobs": blobs()}
for name, x in SETS.items():
    x = np.ascontiguousarray(x, dtype=np.float64)
    np.save(os.path.join(HERE, f"{name}.npy"), x)
    if name == "blobs":
        case(name, x, 8, "full", "dirichlet_process")
        continue
    for cov in COV_TYPES:
        for prior_type in PRIOR_TYPES:
            case(name, x, 6, cov, prior_type)
