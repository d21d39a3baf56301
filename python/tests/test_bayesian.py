"""gaussmix.BayesianGaussianMixture against scikit-learn's: the same fit from the same
initial responsibilities, model files and estimators that move both ways, the estimator
checks, components that die out, and bad priors."""

import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.datasets import load_iris, load_wine  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.mixture import BayesianGaussianMixture as SkBGM  # noqa: E402

import gaussmix  # noqa: E402
from gaussmix import BayesianGaussianMixture, _gaussmix  # noqa: E402

COV_TYPES = ["full", "tied", "diag", "spherical"]
PRIORS = ["dirichlet_process", "dirichlet_distribution"]


def assert_close(ours, theirs, rtol=1e-8, what=""):
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    atol = rtol * max(np.max(np.abs(theirs)), 1e-300)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=what)


def sklearn_from_labels(X, labels, **kw):
    """scikit-learn's fit started from given hard labels (its own `_initialize`)."""

    class FromLabels(SkBGM):
        def _initialize_parameters(self, X, random_state, xp=None):
            resp = np.zeros((len(X), self.n_components))
            resp[np.arange(len(X)), labels] = 1.0
            self._initialize(X, resp)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return FromLabels(**kw).fit(X)


@pytest.mark.parametrize("prior", PRIORS)
@pytest.mark.parametrize("cov", COV_TYPES)
@pytest.mark.parametrize("data", ["iris", "wine"])
def test_same_initial_responsibilities_give_scikit_learns_fit(data, cov, prior):
    X = {"iris": load_iris, "wine": load_wine}[data]().data
    k = 5
    labels = np.random.RandomState(1).randint(0, k, len(X))
    sk = sklearn_from_labels(
        X, labels, n_components=k, covariance_type=cov, weight_concentration_prior_type=prior
    )
    model, _ = _gaussmix.fit(
        X,
        k,
        covariance_type=cov,
        device="cpu",
        weight_concentration_prior_type=prior,
        labels_init=[int(v) for v in labels],
    )
    ours = BayesianGaussianMixture.from_model(model)
    what = f"{data} {cov} {prior}"
    assert ours.n_iter_ == sk.n_iter_, what
    assert ours.converged_ == sk.converged_, what
    assert_close(ours.lower_bounds_, np.ravel(sk.lower_bounds_), what=what + " lower_bounds_")
    for name in ["weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_",
                 "mean_precision_", "degrees_of_freedom_", "mean_prior_", "covariance_prior_",
                 "degrees_of_freedom_prior_", "weight_concentration_prior_",
                 "mean_precision_prior_"]:
        assert_close(getattr(ours, name), getattr(sk, name), what=f"{what} {name}")
    if prior == "dirichlet_process":
        assert isinstance(ours.weight_concentration_, tuple)
        for a, b in zip(ours.weight_concentration_, sk.weight_concentration_):
            assert_close(a, b, what=what + " weight_concentration_")
    else:
        assert_close(ours.weight_concentration_, sk.weight_concentration_, what=what)
    assert_close(ours.score_samples(X), sk.score_samples(X), what=what + " score_samples")
    assert_close(ours.predict_proba(X), sk.predict_proba(X), rtol=1e-7, what=what)
    np.testing.assert_array_equal(ours.predict(X), sk.predict(X))
    assert ours.score(X) == pytest.approx(sk.score(X), rel=1e-9)


def test_estimators_and_model_files_move_both_ways(tmp_path):
    X = load_iris().data
    for cov in COV_TYPES:
        for prior in PRIORS:
            sk = SkBGM(
                n_components=4, covariance_type=cov, weight_concentration_prior_type=prior,
                random_state=0, max_iter=500,
            ).fit(X)
            # scikit-learn → gaussmix (through the model-file layout)
            ours = BayesianGaussianMixture.from_sklearn(sk)
            assert_close(ours.score_samples(X), sk.score_samples(X), rtol=1e-10)
            np.testing.assert_array_equal(ours.predict(X), sk.predict(X))
            # gaussmix → file → gaussmix, and pickling
            path = tmp_path / f"{cov}-{prior}.npz"
            ours.save(path)
            back = gaussmix.load(path)
            assert isinstance(back, BayesianGaussianMixture)
            assert back.weight_concentration_prior_type == prior
            np.testing.assert_array_equal(back.score_samples(X), ours.score_samples(X))
            again = pickle.loads(pickle.dumps(ours))
            np.testing.assert_array_equal(again.score_samples(X), ours.score_samples(X))
            # the file's arrays, as numpy sees them, carry scikit-learn's names
            f = np.load(path)
            for name in ["weight_concentration_", "mean_precision_", "degrees_of_freedom_",
                         "mean_prior_", "covariance_prior_", "weights_", "means_"]:
                assert name in f.files, name
            # gaussmix → scikit-learn
            fitted = BayesianGaussianMixture(
                n_components=4, covariance_type=cov, weight_concentration_prior_type=prior,
                random_state=0, device="cpu", max_iter=500,
            ).fit(X)
            theirs = fitted.to_sklearn()
            assert_close(theirs.score_samples(X), fitted.score_samples(X), rtol=1e-10)
            assert_close(theirs.predict_proba(X), fitted.predict_proba(X), rtol=1e-9)


def test_superfluous_components_die_out():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(200, 2) + [-5, 0], rng.randn(200, 2) + [5, 0]])
    bgm = BayesianGaussianMixture(n_components=8, random_state=0, device="cpu").fit(X)
    assert bgm.effective_components_ == 2
    assert np.sort(bgm.weights_)[-2:].sum() > 0.97
    sk = SkBGM(n_components=8, random_state=0).fit(X)
    assert (sk.weights_ > 0.01).sum() == 2


def test_check_estimator():
    from sklearn.exceptions import SkipTestWarning
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", SkipTestWarning)
        results = check_estimator(BayesianGaussianMixture(device="cpu"), on_fail=None)
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert not failed, failed
    assert sum(r["status"] == "passed" for r in results) >= 40


@pytest.mark.parametrize(
    "params, needle",
    [
        (dict(weight_concentration_prior=-1.0), "weight_concentration_prior"),
        (dict(mean_precision_prior=0.0), "mean_precision_prior"),
        (dict(degrees_of_freedom_prior=1.0), "degrees_of_freedom_prior"),
        (dict(mean_prior=[0.0, 0.0]), "shape"),
        (dict(covariance_prior=np.eye(2)), "covariance_prior"),
        (dict(covariance_prior=-np.eye(4)), "covariance_prior"),
        (dict(weight_concentration_prior_type="dirichlet"), "weight_concentration_prior_type"),
    ],
)
def test_bad_priors_are_clear_errors(params, needle):
    X = load_iris().data
    with pytest.raises(ValueError, match=needle):
        BayesianGaussianMixture(n_components=3, device="cpu", **params).fit(X)
