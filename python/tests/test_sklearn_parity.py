"""Parity with scikit-learn: the same initial parameters give the same fit, the same errors
for bad input, the same verbose output, and scikit-learn's estimator checks pass."""

import re
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.datasets import load_digits, load_iris  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.mixture import GaussianMixture as SkGM  # noqa: E402

import gaussmix  # noqa: E402
from gaussmix import GaussianMixture  # noqa: E402

COV_TYPES = ["full", "tied", "diag", "spherical"]


def sklearn_init(X, k, cov, seed=0, reg_covar=1e-6):
    """scikit-learn's initial parameters (k-means responsibilities and one M-step) as
    weights_init, means_init, precisions_init."""
    gm = SkGM(k, covariance_type=cov, max_iter=0, random_state=seed, reg_covar=reg_covar)
    gm.fit(X)
    chol = gm.precisions_cholesky_
    if cov == "full":
        prec = np.einsum("kij,klj->kil", chol, chol)
    elif cov == "tied":
        prec = chol @ chol.T
    else:
        prec = chol**2
    return dict(weights_init=gm.weights_, means_init=gm.means_, precisions_init=prec)


def assert_close(ours, theirs, rtol=1e-8, what=""):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    # Relative to each array's scale, so that entries that are zero up to rounding (for
    # instance off-diagonal covariances) are not held to a relative bound.
    atol = rtol * max(np.max(np.abs(theirs)), 1e-300)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=what)


DATASETS = {
    "iris": (lambda: load_iris().data, 3),
    "digits": (lambda: load_digits().data, 10),
}


@pytest.mark.parametrize("cov", COV_TYPES)
@pytest.mark.parametrize("data", ["iris", "digits"])
def test_same_initial_parameters_give_scikit_learns_fit(data, cov):
    load, k = DATASETS[data]
    X = load()
    init = sklearn_init(X, k, cov)
    kw = dict(n_components=k, covariance_type=cov, random_state=0, **init)
    sk = SkGM(**kw)
    ours = GaussianMixture(**kw, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X)
        ours.fit(X)
    assert ours.n_iter_ == sk.n_iter_
    assert ours.converged_ == sk.converged_
    assert_close(ours.weights_, sk.weights_, what="weights_")
    assert_close(ours.means_, sk.means_, what="means_")
    assert_close(ours.covariances_, sk.covariances_, what="covariances_")
    assert_close(ours.precisions_cholesky_, sk.precisions_cholesky_, what="precisions_cholesky_")
    assert_close(ours.precisions_, sk.precisions_, what="precisions_")
    assert_close(ours.lower_bound_, sk.lower_bound_, rtol=1e-10, what="lower_bound_")
    assert_close(ours.lower_bounds_, sk.lower_bounds_, rtol=1e-10, what="lower_bounds_")
    assert_close(ours.score_samples(X), sk.score_samples(X), rtol=1e-8, what="score_samples")
    assert_close(ours.predict_proba(X), sk.predict_proba(X), rtol=1e-7, what="predict_proba")
    np.testing.assert_array_equal(ours.predict(X), sk.predict(X))
    assert ours.bic(X) == pytest.approx(sk.bic(X), rel=1e-10)
    assert ours.aic(X) == pytest.approx(sk.aic(X), rel=1e-10)


@pytest.mark.parametrize("given", ["weights_init", "means_init", "precisions_init"])
def test_one_given_parameter_replaces_the_initialisations_own(given):
    """sklearn: responsibilities from init_params, one M-step, then *_init replace; with the
    responsibilities of the same k-means the fits agree when the *other* parameters are the
    k-means ones too, so give the two others from scikit-learn's own initialisation and
    check the given one is used (the first E-step sees it)."""
    X = load_iris().data
    init = sklearn_init(X, 3, "full")
    only = {given: init[given]}
    ours = GaussianMixture(3, max_iter=0, random_state=0, **only).fit(X)
    if given == "weights_init":
        np.testing.assert_array_equal(ours.weights_, init["weights_init"])
    elif given == "means_init":
        np.testing.assert_array_equal(ours.means_, init["means_init"])
    else:
        assert_close(ours.precisions_, init["precisions_init"], rtol=1e-12)


def test_warm_start_continues_as_scikit_learn():
    X = load_iris().data
    init = sklearn_init(X, 3, "full")
    kw = dict(n_components=3, max_iter=3, warm_start=True, random_state=0, **init)
    sk, ours = SkGM(**kw), GaussianMixture(**kw, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(3):
            sk.fit(X)
            ours.fit(X)
            assert ours.n_iter_ == sk.n_iter_
            assert_close(ours.means_, sk.means_)
            assert_close(ours.lower_bound_, sk.lower_bound_, rtol=1e-10)


def test_verbose_output_is_scikit_learns(capsys):
    X = load_iris().data
    init = sklearn_init(X, 3, "diag")
    kw = dict(n_components=3, covariance_type="diag", verbose=1, verbose_interval=2,
              tol=1e-6, random_state=0, **init)
    SkGM(**kw).fit(X)
    sk_out = capsys.readouterr().out
    GaussianMixture(**kw).fit(X)
    ours = capsys.readouterr().out
    assert ours == sk_out
    assert "Initialization 0" in ours and "  Iteration 2" in ours

    kw["verbose"] = 2
    GaussianMixture(**kw).fit(X)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Initialization 0"
    it = re.compile(r"^  Iteration \d+\t time lapse \d+\.\d{5}s\t ll change -?\d+\.\d{5}$")
    assert all(it.match(line) for line in lines[1:-1]), lines
    assert re.match(
        r"^Initialization (converged|did not converge)\. time lapse \d+\.\d{5}s\t lower bound "
        r"-?\d+\.\d{5}\.$",
        lines[-1],
    ), lines[-1]


def test_convergence_warning():
    X = load_iris().data
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        GaussianMixture(3, max_iter=1, tol=0.0, random_state=0).fit(X)
    gm = GaussianMixture(3, max_iter=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        gm.fit(X)  # max_iter=0: no warning, as in scikit-learn
    assert gm.n_iter_ == 0 and gm.lower_bound_ == -np.inf and gm.lower_bounds_ == []


# --- the same errors for bad input ------------------------------------------------------


def same_error(ours, theirs):
    with pytest.raises(Exception) as sk_err:
        theirs()
    with pytest.raises(type(sk_err.value)) as our_err:
        ours()
    assert str(our_err.value) == str(sk_err.value)
    return our_err.value


X_GOOD = np.random.RandomState(0).randn(20, 3)

BAD_FIT_INPUTS = {
    "nan": np.where(np.eye(20, 3) > 0, np.nan, X_GOOD),
    "inf": np.where(np.eye(20, 3) > 0, np.inf, X_GOOD),
    "strings": np.array([["a", "b", "c"]] * 20),
    "3-D": X_GOOD.reshape(20, 3, 1),
    "1-D": X_GOOD[:, 0],
    "empty": np.empty((0, 3)),
    "no features": np.empty((20, 0)),
    "one sample": X_GOOD[:1],
    "complex": X_GOOD + 1j,
    "object with a dict": np.array([[{"a": 1}, 1.0, 2.0]] * 20, dtype=object),
    "list of lists with a string": [[1.0, "x", 2.0]] * 20,
}


@pytest.mark.parametrize("case", list(BAD_FIT_INPUTS))
def test_fit_rejects_bad_data_as_scikit_learn(case):
    X = BAD_FIT_INPUTS[case]
    same_error(lambda: GaussianMixture(2).fit(X), lambda: SkGM(2).fit(X))


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples", "score"])
@pytest.mark.parametrize("case", ["nan", "inf", "strings", "3-D", "1-D", "empty", "wrong dimension"])
def test_queries_reject_bad_data_as_scikit_learn(method, case):
    X = X_GOOD[:, :2] if case == "wrong dimension" else BAD_FIT_INPUTS[case]
    sk = SkGM(2, random_state=0).fit(X_GOOD)
    ours = GaussianMixture(2, random_state=0).fit(X_GOOD)
    same_error(lambda: getattr(ours, method)(X), lambda: getattr(sk, method)(X))


def test_sparse_input_is_refused_as_scikit_learn():
    sparse = pytest.importorskip("scipy.sparse")
    X = sparse.csr_matrix(X_GOOD)
    same_error(lambda: GaussianMixture(2).fit(X), lambda: SkGM(2).fit(X))


def test_more_components_than_samples():
    X = X_GOOD[:5]
    err = same_error(lambda: GaussianMixture(6).fit(X), lambda: SkGM(6).fit(X))
    assert "n_components = 6, n_samples = 5" in str(err)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples", "score", "sample", "bic"])
def test_unfitted_model(method):
    args = () if method == "sample" else (X_GOOD,)
    err = same_error(lambda: getattr(GaussianMixture(2), method)(*args),
                     lambda: getattr(SkGM(2), method)(*args))
    assert isinstance(err, NotFittedError)


@pytest.mark.parametrize(
    "params",
    [
        dict(n_components=0),
        dict(n_components=1.5),
        dict(covariance_type="banana"),
        dict(tol=-1.0),
        dict(reg_covar=-1e-3),
        dict(max_iter=-1),
        dict(n_init=0),
        dict(init_params="bogus"),
        dict(random_state="seed"),
        dict(verbose_interval=0),
    ],
    ids=lambda p: next(iter(p)),
)
def test_bad_hyper_parameters(params):
    same_error(lambda: GaussianMixture(**params).fit(X_GOOD), lambda: SkGM(**params).fit(X_GOOD))


def test_bad_device_and_full_path():
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="'device' parameter of GaussianMixture"):
        GaussianMixture(device="tpu").fit(X_GOOD)
    with pytest.raises(InvalidParameterError, match="'full_path' parameter"):
        GaussianMixture(full_path="sparse").fit(X_GOOD)


@pytest.mark.parametrize(
    "params",
    [
        dict(weights_init=[0.5, 0.6]),
        dict(weights_init=[1.2, -0.2]),
        dict(weights_init=[0.5, 0.3, 0.2]),
        dict(means_init=np.zeros((3, 3))),
        dict(precisions_init=np.ones((2, 3))),
        dict(precisions_init=np.stack([np.eye(3), -np.eye(3)])),
        dict(precisions_init=np.stack([np.eye(3), np.triu(np.ones((3, 3)))])),
        dict(covariance_type="diag", precisions_init=-np.ones((2, 3))),
        dict(covariance_type="spherical", precisions_init=np.array([1.0, 0.0])),
        dict(covariance_type="tied", precisions_init=np.ones((2, 2))),
    ],
)
def test_bad_initial_parameters(params):
    same_error(lambda: GaussianMixture(2, **params).fit(X_GOOD),
               lambda: SkGM(2, **params).fit(X_GOOD))


def test_sample_needs_a_positive_count():
    gm = GaussianMixture(2, random_state=0).fit(X_GOOD)
    with pytest.raises(ValueError, match="requires at least one sample"):
        gm.sample(0)


# --- scikit-learn's own checks and tools --------------------------------------------------


def test_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    from sklearn.exceptions import SkipTestWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", SkipTestWarning)  # the array-API check, off by default
        results = check_estimator(GaussianMixture(), on_fail=None)
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert not failed, failed
    assert sum(r["status"] == "passed" for r in results) >= 40


def test_clone_pipeline_and_grid_search(blobs):
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    gm = GaussianMixture(3, covariance_type="diag", random_state=0, device="cpu")
    c = clone(gm)
    assert c.get_params() == gm.get_params() and c is not gm
    pipe = make_pipeline(StandardScaler(), GaussianMixture(3, random_state=0)).fit(blobs)
    assert pipe.predict(blobs).shape == (len(blobs),)
    assert np.isfinite(pipe.score(blobs))
    from sklearn.model_selection import KFold

    search = GridSearchCV(
        GaussianMixture(random_state=0),
        {"n_components": [1, 2, 3, 4], "covariance_type": ["full", "diag"]},
        cv=KFold(3, shuffle=True, random_state=0),
    ).fit(blobs)
    assert search.best_params_["n_components"] >= 3
    assert set(search.best_estimator_.get_params()) == set(gm.get_params())


def test_sklearn_conversions(blobs):
    sk = SkGM(3, random_state=0).fit(blobs)
    ours = gaussmix.from_sklearn(sk)
    assert isinstance(ours, GaussianMixture) and ours.device == "auto"
    assert_close(ours.score_samples(blobs), sk.score_samples(blobs), rtol=1e-10)
    np.testing.assert_array_equal(ours.predict(blobs), sk.predict(blobs))
    assert ours.n_iter_ == sk.n_iter_ and ours.lower_bounds_ == sk.lower_bounds_
    back = ours.to_sklearn()
    assert isinstance(back, SkGM)
    assert_close(back.score_samples(blobs), sk.score_samples(blobs), rtol=1e-10)
    assert_close(back.precisions_cholesky_, sk.precisions_cholesky_, rtol=1e-10)
    assert back.get_params() == sk.get_params()


def test_setting_fitted_attributes_as_in_scikit_learn(blobs):
    """Building a mixture by setting the attributes, the scikit-learn idiom."""
    sk = SkGM(3, random_state=0).fit(blobs)
    ours = GaussianMixture(3, random_state=1).fit(blobs)
    ours.weights_ = sk.weights_
    ours.means_ = sk.means_
    ours.covariances_ = sk.covariances_
    ours.precisions_cholesky_ = sk.precisions_cholesky_
    assert_close(ours.score_samples(blobs), sk.score_samples(blobs), rtol=1e-10)
    assert_close(ours.precisions_, sk.precisions_, rtol=1e-10)


def test_dataframe_feature_names(blobs):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(blobs, columns=["a", "b", "c"])
    gm = GaussianMixture(3, random_state=0).fit(df)
    np.testing.assert_array_equal(gm.feature_names_in_, ["a", "b", "c"])
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        np.testing.assert_array_equal(gm.predict(df), gm.predict(blobs))
    sk = SkGM(3, random_state=0).fit(df)
    bad = df.rename(columns={"a": "z"})
    same_error(lambda: gm.predict(bad), lambda: sk.predict(bad))
    assert not hasattr(GaussianMixture(3).fit(blobs), "feature_names_in_")
