"""sample_weight in fit: integer weights act as repeated rows, zero weights as dropped rows
(the default k-means initialisation included), for GaussianMixture and
BayesianGaussianMixture; bad weights raise scikit-learn's errors."""

import numpy as np
import pytest

from gaussmix import BayesianGaussianMixture, GaussianMixture, _gaussmix


def data(seed=0):
    rng = np.random.RandomState(seed)
    X = np.vstack([rng.randn(80, 3) + c for c in ([0, 0, 0], [6, 0, 2], [0, 7, -3])])
    labels = np.repeat(np.arange(3), 80)
    w = (np.arange(len(X)) % 3 + 1).astype(float)
    return X, labels, w


def assert_same(a, b, rtol=1e-10):
    for name in ["weights_", "means_", "covariances_"]:
        x, y = np.asarray(getattr(a, name)), np.asarray(getattr(b, name))
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol * np.abs(y).max(), err_msg=name)
    np.testing.assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=rtol)


@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
def test_integer_weights_act_as_repeated_rows(cov):
    X, labels, w = data()
    rep = np.repeat(np.arange(len(X)), w.astype(int))
    # From the same given parameters (the initialisation is skipped) ...
    gm = GaussianMixture(3, covariance_type=cov, device="cpu", random_state=0).fit(X)
    init = dict(weights_init=gm.weights_, means_init=gm.means_, precisions_init=gm.precisions_)
    a = GaussianMixture(3, covariance_type=cov, device="cpu", tol=1e-8, **init).fit(X, sample_weight=w)
    b = GaussianMixture(3, covariance_type=cov, device="cpu", tol=1e-8, **init).fit(X[rep])
    assert_same(a, b)
    # ... and a variational fit from the same labels.
    fits = [
        _gaussmix.fit(x, 3, covariance_type=cov, device="cpu", labels_init=[int(v) for v in l],
                      weight_concentration_prior_type="dirichlet_process", sample_weight=sw)[0]
        for x, l, sw in [(X, labels, w), (X[rep], labels[rep], None)]
    ]
    va, vb = (BayesianGaussianMixture.from_model(m) for m in fits)
    assert_same(va, vb)
    np.testing.assert_allclose(va.mean_precision_, vb.mean_precision_, rtol=1e-10)


def test_zero_weights_drop_rows_from_the_default_fit():
    X, _, _ = data(1)
    outliers = np.full((10, 3), 1e3) + np.arange(10)[:, None]
    Xo = np.vstack([X, outliers])
    w = np.r_[np.ones(len(X)), np.zeros(10)]
    for est in (GaussianMixture(3, random_state=4, device="cpu"),
                BayesianGaussianMixture(n_components=4, random_state=4, device="cpu")):
        a = est.__class__(**est.get_params()).fit(Xo, sample_weight=w)
        b = est.__class__(**est.get_params()).fit(X, sample_weight=np.ones(len(X)))
        assert_same(a, b)


@pytest.mark.parametrize(
    "w, match",
    [
        (np.ones(5), "sample_weight.shape"),
        (-np.ones(240), "Negative values"),
        (np.r_[np.nan, np.ones(239)], "NaN"),
        (np.zeros(240), "zero"),
    ],
)
def test_bad_weights_raise(w, match):
    X, _, _ = data()
    with pytest.raises(ValueError, match=match):
        GaussianMixture(3, device="cpu").fit(X, sample_weight=w)
