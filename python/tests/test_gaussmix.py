"""The package beyond scikit-learn parity: model files and the CLI, pickling, zero-copy and
GIL-free fits, Ctrl-C, the low-rank faces, conditioning, missing values, forecasting."""

import copy
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
import warnings

import numpy as np
import pytest

import gaussmix
from gaussmix import ConvergenceWarning, GaussianMixture

COV_TYPES = ["full", "tied", "diag", "spherical"]


def quiet_fit(gm, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return gm.fit(X)


# --- model files, pickling, the CLI ------------------------------------------------------


@pytest.mark.parametrize("cov", COV_TYPES)
def test_pickle_and_model_files_round_trip(cov, blobs, tmp_path):
    gm = GaussianMixture(3, covariance_type=cov, random_state=0).fit(blobs)
    for back in (pickle.loads(pickle.dumps(gm)), copy.deepcopy(gm)):
        np.testing.assert_array_equal(back.score_samples(blobs), gm.score_samples(blobs))
        np.testing.assert_array_equal(back.covariances_, gm.covariances_)
        assert back.n_iter_ == gm.n_iter_ and back.lower_bounds_ == gm.lower_bounds_
        assert back.get_params() == gm.get_params()
    path = tmp_path / "model.npz"
    gm.save(path)
    loaded = gaussmix.load(path)
    np.testing.assert_array_equal(loaded.score_samples(blobs), gm.score_samples(blobs))
    assert loaded.covariance_type == cov and loaded.n_components == 3
    assert loaded.converged_ == gm.converged_ and loaded.n_iter_ == gm.n_iter_
    # numpy reads it with scikit-learn's attribute names.
    with np.load(path) as z:
        np.testing.assert_array_equal(z["means_"], gm.means_)
        np.testing.assert_array_equal(z["covariances_"], gm.covariances_)
        assert str(z["covariance_type"]) == cov
    with pytest.raises(ValueError, match=r"\.npz"):
        gm.save(tmp_path / "model.pkl")


def test_cli_and_python_read_each_others_models(cli, blobs, tmp_path):
    data = tmp_path / "x.npy"
    np.save(data, blobs)
    # Python → CLI
    gm = GaussianMixture(3, covariance_type="diag", random_state=0).fit(blobs)
    gm.save(tmp_path / "py.npz")
    out = tmp_path / "labels.npy"
    subprocess.run([cli, "predict", str(tmp_path / "py.npz"), str(data), "-o", str(out)],
                   check=True, capture_output=True)
    np.testing.assert_array_equal(np.load(out), gm.predict(blobs))
    r = subprocess.run([cli, "score", str(tmp_path / "py.npz"), str(data), "--per-sample",
                        str(tmp_path / "ll.npy")], check=True, capture_output=True, text=True)
    np.testing.assert_allclose(np.load(tmp_path / "ll.npy").ravel(), gm.score_samples(blobs), rtol=1e-12)
    assert f"mean log-likelihood {gm.score(blobs):.9f}" in r.stdout
    assert f"BIC {gm.bic(blobs):.6f}  AIC {gm.aic(blobs):.6f}" in r.stdout
    # CLI → Python
    subprocess.run([cli, "fit", str(data), "-k", "3", "--covariance", "full", "--seed", "3",
                    "--device", "cpu", "-q", "-o", str(tmp_path / "cli.npz")],
                   check=True, capture_output=True)
    loaded = gaussmix.load(tmp_path / "cli.npz")
    subprocess.run([cli, "predict", str(tmp_path / "cli.npz"), str(data), "--proba", "-o",
                    str(tmp_path / "proba.npy")], check=True, capture_output=True)
    np.testing.assert_allclose(loaded.predict_proba(blobs), np.load(tmp_path / "proba.npy"),
                               rtol=1e-10, atol=1e-14)
    # The same settings and seed in Python give the CLI's model.
    same = GaussianMixture(3, random_state=3, device="cpu").fit(blobs)
    np.testing.assert_allclose(same.means_, loaded.means_, rtol=1e-12)
    assert same.n_iter_ == loaded.n_iter_


def test_low_rank_model_through_the_cli(cli, faces, tmp_path):
    X = faces[:, :1024]
    gm = GaussianMixture(3, random_state=0).fit(X[:60])
    assert gm.is_low_rank_
    gm.save(tmp_path / "lr.npz")
    np.save(tmp_path / "f.npy", X[60:80])
    subprocess.run([cli, "score", str(tmp_path / "lr.npz"), str(tmp_path / "f.npy"),
                    "--per-sample", str(tmp_path / "ll.npy")], check=True, capture_output=True)
    np.testing.assert_allclose(np.load(tmp_path / "ll.npy").ravel(), gm.score_samples(X[60:80]),
                               rtol=1e-10)
    subprocess.run([cli, "export", str(tmp_path / "lr.npz"), "-o", str(tmp_path / "dense.npz")],
                   check=True, capture_output=True)
    dense = gaussmix.load(tmp_path / "dense.npz")
    assert not dense.is_low_rank_
    np.testing.assert_allclose(dense.covariances_, gm.covariances_, rtol=1e-9, atol=1e-12)


def test_bad_model_files(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a valid .npz model file"):
        gaussmix.load(tmp_path / "junk.npz")
    with pytest.raises(FileNotFoundError):
        gaussmix.load(tmp_path / "missing.npz")


# --- zero-copy input, the GIL, Ctrl-C ----------------------------------------------------


@pytest.mark.parametrize("order", ["C", "F"])
def test_float32_input_is_not_copied_on_the_python_side(order):
    rng = np.random.RandomState(0)
    X = np.asarray(rng.standard_normal((1_000_000, 10)).astype(np.float32), order=order)
    assert X.nbytes == 40_000_000
    gm = GaussianMixture(2, covariance_type="diag", max_iter=2, init_params="random",
                         random_state=0, device="cpu")
    tracemalloc.start()
    try:
        quiet_fit(gm, X)
        gm.score_samples(X[:10])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A float64 copy would be 80 MB, a float32 one 40 MB.
    assert peak < 4_000_000, f"{peak} bytes traced during the fit"
    # And the engine read the values: the same fit from a float64 copy agrees.
    gm64 = quiet_fit(GaussianMixture(2, covariance_type="diag", max_iter=2,
                                     init_params="random", random_state=0, device="cpu"),
                     X.astype(np.float64))
    np.testing.assert_allclose(gm.means_, gm64.means_, rtol=1e-12)


def test_other_layouts_and_dtypes_give_the_same_fit(blobs):
    ref = GaussianMixture(3, random_state=0).fit(blobs)
    for X in (np.asfortranarray(blobs), blobs[::-1][::-1], blobs.astype(">f8"),
              np.repeat(blobs, 2, axis=1)[:, ::2], blobs[::2].repeat(2, axis=0), blobs.tolist()):
        gm = GaussianMixture(3, random_state=0).fit(X)
        if len(X) == len(blobs) and np.array_equal(np.asarray(X, dtype=float), blobs):
            np.testing.assert_allclose(gm.means_, ref.means_, rtol=1e-12)
    ints = np.round(blobs * 10).astype(np.int64)
    np.testing.assert_array_equal(
        GaussianMixture(3, random_state=0).fit(ints).means_,
        GaussianMixture(3, random_state=0).fit(ints.astype(np.float64)).means_,
    )


def test_fit_releases_the_gil(blobs):
    X = np.tile(blobs, (200, 1))
    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.005)

    t = threading.Thread(target=tick)
    # tol=0: all 200 iterations run, long enough (about 0.5 s here) to see the other thread.
    gm = GaussianMixture(3, tol=0.0, max_iter=200, init_params="random", random_state=0,
                         device="cpu")
    t.start()
    start = time.perf_counter()
    quiet_fit(gm, X)
    elapsed = time.perf_counter() - start
    stop.set()
    t.join()
    during = [x for x in ticks if start <= x <= start + elapsed]
    assert elapsed > 0.2
    # With the GIL held the other thread would not tick at all during the fit.
    assert len(during) > 0.2 * elapsed / 0.005, (len(during), elapsed)


def test_keyboard_interrupt_stops_the_fit_promptly():
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are delivered to the main thread")
    rng = np.random.RandomState(0)
    X = rng.standard_normal((100_000, 16))
    gm = GaussianMixture(8, covariance_type="full", tol=0.0, max_iter=100_000,
                         init_params="random", random_state=0, device="cpu")
    sent = []

    def interrupt():
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(1.0, interrupt)
    timer.start()
    start = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt):
            gm.fit(X)
    finally:
        timer.cancel()
    raised = time.perf_counter()
    assert sent, "the fit ended before the interrupt"
    assert raised - sent[0] < 10.0, f"{raised - sent[0]:.1f} s from SIGINT to KeyboardInterrupt"
    assert raised - start < 30.0
    assert not hasattr(gm, "weights_")  # no half-fitted model


def test_progress_callback_errors_propagate(blobs, capsys):
    class Boom(Exception):
        pass

    gm = GaussianMixture(3, verbose=1, random_state=0)
    import gaussmix._mixture as m

    orig = m._Verbose.__call__

    def explode(self, *a):
        raise Boom("from the callback")

    m._Verbose.__call__ = explode
    try:
        with pytest.raises(Boom):
            gm.fit(blobs)
    finally:
        m._Verbose.__call__ = orig


# --- high dimension: the faces -------------------------------------------------------------


@pytest.mark.slow
def test_faces_full_k24_take_the_low_rank_path(faces):
    assert faces.shape == (400, 4096) and faces.dtype == np.float32
    start = time.perf_counter()
    gm = GaussianMixture(n_components=24, covariance_type="full", random_state=0).fit(faces)
    fit_s = time.perf_counter() - start
    assert gm.is_low_rank_ and gm.converged_
    assert "low-rank" in gm.device_
    x, y = gm.sample(6)
    assert x.shape == (6, 4096) and y.shape == (6,) and np.isfinite(x).all()
    assert gm.means_.shape == (24, 4096)
    assert np.isclose(gm.weights_.sum(), 1.0)
    with pytest.raises(gaussmix.DenseTooLargeError, match="DENSE_LIMIT_BYTES") as err:
        gm.covariances_
    assert "3.2 GB" in str(err.value) and isinstance(err.value, MemoryError)
    for name in ("precisions_", "precisions_cholesky_"):
        with pytest.raises(gaussmix.DenseTooLargeError):
            getattr(gm, name)
    ll = gm.score_samples(faces[:10])
    assert np.isfinite(ll).all()
    assert (gm.predict(faces) == gm.predict_proba(faces).argmax(axis=1)).all()
    back = pickle.loads(pickle.dumps(gm))
    np.testing.assert_array_equal(back.score_samples(faces[:10]), ll)
    upper = np.arange(2048)
    cond = gm.condition(faces[0, :2048], observed=upper)
    assert cond.mean().shape == (2048,) and cond.sample(2, random_state=0).shape == (2, 2048)
    print(f"faces fit {fit_s:.2f} s")


def test_low_rank_dense_arrays_within_the_limit(faces, monkeypatch):
    X = faces[:40, :512].astype(np.float64)
    lr = GaussianMixture(2, random_state=0, full_path="low_rank").fit(X)
    dense = GaussianMixture(2, random_state=0, full_path="dense").fit(X)
    assert lr.is_low_rank_ and not dense.is_low_rank_
    np.testing.assert_allclose(lr.means_, dense.means_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(lr.covariances_, dense.covariances_, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(lr.score_samples(X), dense.score_samples(X), rtol=1e-9)
    monkeypatch.setattr(gaussmix, "DENSE_LIMIT_BYTES", 1e5)
    lr2 = GaussianMixture(2, random_state=0, full_path="low_rank").fit(X)
    with pytest.raises(gaussmix.DenseTooLargeError, match="4.2 MB"):
        lr2.covariances_


# --- conditioning, imputation, missing values --------------------------------------------


def test_condition_matches_the_gaussian_formulas(blobs):
    gm = GaussianMixture(3, random_state=0).fit(blobs)
    obs, mis = [0, 2], [1]
    x_o = np.array([5.0, 1.5])
    c = gm.condition(x_o, observed=obs)
    w = np.array([
        gm.weights_[k] * _normal(x_o, gm.means_[k, obs], gm.covariances_[k][np.ix_(obs, obs)])
        for k in range(3)
    ])
    w /= w.sum()
    np.testing.assert_allclose(c.weights, w, rtol=1e-9)
    means = []
    for k in range(3):
        S = gm.covariances_[k]
        gain = S[np.ix_(mis, obs)] @ np.linalg.inv(S[np.ix_(obs, obs)])
        means.append(gm.means_[k, mis] + gain @ (x_o - gm.means_[k, obs]))
    np.testing.assert_allclose(c.means, np.array(means), rtol=1e-9)
    np.testing.assert_allclose(c.mean(), w @ np.array(means), rtol=1e-9)
    lo, hi = c.interval(0.9)
    assert lo.shape == hi.shape == (1,) and lo[0] < c.mean()[0] < hi[0]
    assert c.covariance().shape == (1, 1) and c.variance()[0] > 0
    draws = c.sample(2000, random_state=0)
    assert draws.shape == (2000, 1)
    assert abs(draws.mean() - c.mean()[0]) < 4 * np.sqrt(c.variance()[0] / 2000)
    np.testing.assert_array_equal(c.missing, mis)
    np.testing.assert_array_equal(gm.condition(x_o, observed=[-3, -1]).mean(), c.mean())
    with pytest.raises(ValueError, match="observed indices"):
        gm.condition(x_o, observed=[0, 3])
    # A mask and several rows.
    many = gm.condition(np.array([x_o, x_o + 1]), observed=np.array([True, False, True]))
    assert len(many) == 2
    np.testing.assert_allclose(many[0].mean(), c.mean())


def _normal(x, mu, S):
    d = x - mu
    return np.exp(-0.5 * d @ np.linalg.solve(S, d)) / np.sqrt(np.linalg.det(2 * np.pi * S))


def test_impute_and_fit_missing(blobs):
    rng = np.random.RandomState(1)
    X = blobs.copy()
    mask = rng.rand(*X.shape) < 0.15
    mask[mask.all(axis=1), 0] = False
    X[mask] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        GaussianMixture(3).fit(X)
    gm = GaussianMixture(3, random_state=0).fit_missing(X)
    assert gm.converged_ and np.isfinite(gm.means_).all()
    filled = gm.impute(X)
    assert not np.isnan(filled).any()
    np.testing.assert_array_equal(filled[~mask], X[~mask])
    i = int(np.flatnonzero(mask.any(axis=1))[0])
    obs = np.flatnonzero(~mask[i])
    expected = gm.condition(X[i, obs], observed=obs).mean()
    np.testing.assert_allclose(filled[i, mask[i]], expected, rtol=1e-12)
    drawn = gm.set_params(random_state=5).impute(X, sample=True)
    assert not np.isnan(drawn).any() and not np.allclose(drawn[mask], filled[mask])
    np.testing.assert_array_equal(drawn, gm.impute(X, sample=True))
    err = np.sqrt(np.mean((filled[mask] - blobs[mask]) ** 2))
    assert err < np.std(blobs)


# --- forecasting, devices, data ----------------------------------------------------------


@pytest.mark.parametrize("builtin", ["sunspots"])
def test_forecast_gives_the_cli_report(cli, builtin, tmp_path):
    report = tmp_path / "r.json"
    subprocess.run([cli, "forecast", "--builtin", builtin, "--report", str(report)],
                   check=True, capture_output=True)
    theirs = json.loads(report.read_text())
    ours = gaussmix.forecast(builtin)
    assert ours == theirs
    with_f = gaussmix.forecast(gaussmix.builtin_series(builtin), window=9, horizon=3,
                               n_components=3, covariance_type="tied", return_forecasts=True)
    f = with_f.pop("forecasts")
    assert with_f == theirs
    assert f["gmm"].shape == (theirs["n_test"], 3)
    rmse = np.sqrt(np.mean((f["gmm"] - f["truth"]) ** 2))
    assert rmse == pytest.approx(theirs["gmm"]["rmse"], rel=1e-12)


def test_forecast_chooses_what_is_not_given_as_the_cli_does(cli, tmp_path):
    # Only the window and the horizon: K, the covariance type and the transform are chosen by
    # cross-validation on the training part, the intervals calibrated on its folds.
    values = gaussmix.builtin_series("sunspots")
    series = tmp_path / "s.txt"
    series.write_text("\n".join(repr(float(v)) for v in values) + "\n")
    report = tmp_path / "r.json"
    subprocess.run([cli, "forecast", str(series), "-w", "9", "--horizon", "3", "--report",
                    str(report)], check=True, capture_output=True)
    theirs = json.loads(report.read_text())
    ours = gaussmix.forecast(values, window=9, horizon=3)
    assert ours == theirs
    tried = {(c["n_components"], c["covariance_type"]) for c in ours["cross_validation"]}
    assert {(1, "full"), (8, "diag")} <= tried
    assert len(ours["interval_coverage_by_horizon"]) == 3
    assert ours["interval_calibrated"] is True


def test_forecast_calibrates_online_as_the_cli_does_and_can_keep_to_the_folds(cli, tmp_path):
    values = gaussmix.builtin_series("sunspots")
    series = tmp_path / "s.txt"
    series.write_text("\n".join(repr(float(v)) for v in values) + "\n")
    report = tmp_path / "r.json"
    subprocess.run([cli, "forecast", str(series), "-w", "9", "--horizon", "3", "-k", "2",
                    "--covariance", "full", "--static-calibration", "--report", str(report)],
                   check=True, capture_output=True)
    fixed = gaussmix.forecast(values, window=9, horizon=3, n_components=2,
                              covariance_type="full", online_calibration=False)
    assert fixed == json.loads(report.read_text())
    assert fixed["online_calibration"] is False
    assert all(row == fixed["interval_scales"] for row in fixed["interval_scales_by_origin"])
    online = gaussmix.forecast(values, window=9, horizon=3, n_components=2,
                               covariance_type="full")
    assert online["online_calibration"] is True
    rows = online["interval_scales_by_origin"]
    assert len(rows) == online["n_test"]
    # The first origin knows only the folds; later ones have seen test errors.
    assert rows[0] == online["interval_scales"]
    assert any(row != rows[0] for row in rows)
    # The point forecasts do not depend on the calibration.
    assert online["gmm"] == fixed["gmm"]
    with pytest.raises(ValueError, match="calibration_step"):
        gaussmix.forecast(values, window=9, horizon=3, calibration_step=1.5)


def test_interpolate_gives_the_cli_figures_and_beats_linear_on_a_smooth_signal(cli, tmp_path):
    t = np.arange(600.0)
    truth = np.sin(2 * np.pi * t / 17) + 0.5 * np.sin(2 * np.pi * t / 6.3)
    y = truth.copy()
    for start in range(15, 590, 23):
        y[start:start + 3] = np.nan
    ours = gaussmix.interpolate(y)
    gap = np.isnan(y)
    assert np.isfinite(ours["value"]).all()
    assert np.array_equal(ours["value"][~gap], y[~gap])
    linear = np.interp(t, t[~gap], y[~gap])
    err = lambda f: np.sqrt(np.mean((f[gap] - truth[gap]) ** 2))
    assert err(ours["value"]) < 0.5 * err(linear)
    series = tmp_path / "g.txt"
    series.write_text("\n".join("nan" if np.isnan(v) else repr(float(v)) for v in y) + "\n")
    report = tmp_path / "r.json"
    subprocess.run([cli, "interpolate", str(series), "-o", str(tmp_path / "f.csv"), "--report",
                    str(report)], check=True, capture_output=True)
    theirs = json.loads(report.read_text())
    assert {k: ours[k] for k in theirs} == theirs
    with pytest.raises(ValueError, match="every value of the series is missing"):
        gaussmix.interpolate(np.full(20, np.nan))


def test_forecast_errors():
    with pytest.raises(ValueError, match="window"):
        gaussmix.forecast(np.arange(10.0), window=20)
    with pytest.raises(ValueError, match="built-in"):
        gaussmix.forecast("nosuchseries")


def test_devices_and_gpu_fit(blobs):
    adapters = gaussmix.devices()
    assert isinstance(adapters, list)
    for a in adapters:
        assert {"name", "backend", "device_type", "shader_f64"} <= set(a)
    if not adapters:
        with pytest.raises(gaussmix.GpuError):
            GaussianMixture(3, device="gpu").fit(blobs)
        return
    gm = GaussianMixture(3, device="gpu", random_state=0).fit(blobs)
    cpu = GaussianMixture(3, device="cpu", random_state=0).fit(blobs)
    np.testing.assert_allclose(gm.means_, cpu.means_, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(gm.score_samples(blobs), cpu.score_samples(blobs), rtol=1e-3)


def test_faces_data_match_scikit_learns_loader(faces):
    assert faces.shape == (400, 4096) and faces.dtype == np.float32
    assert faces.min() == 0.0 and faces.max() == 1.0
    levels = np.round(faces.astype(np.float64) * 242).astype(np.float32)
    np.testing.assert_array_equal(levels / np.float32(242), faces)  # f32(v / 242), v in 0..=242
    npy = "/work/shared/data/olivetti_faces.npy"
    if os.path.exists(npy):
        np.testing.assert_array_equal(faces, np.load(npy))
    b = gaussmix.datasets.fetch_olivetti_faces(shuffle=True, random_state=np.random.RandomState(0))
    order = np.random.RandomState(0).permutation(400)
    np.testing.assert_array_equal(b.data, faces[order])
    np.testing.assert_array_equal(b.target, order // 10)
    assert b.images.shape == (400, 64, 64)


# --- without scikit-learn ------------------------------------------------------------------

NO_SKLEARN = r"""
import sys, warnings
sys.modules["sklearn"] = None  # import sklearn → ImportError
import numpy as np
import gaussmix
from gaussmix import GaussianMixture, NotFittedError
assert not gaussmix.HAVE_SKLEARN
X = np.random.RandomState(0).randn(50, 2)
def raises(exc, fn, match):
    try:
        fn()
    except exc as e:
        assert match in str(e), (match, str(e))
        return e
    raise AssertionError(f"no {exc.__name__}")
e = raises(NotFittedError, lambda: GaussianMixture().predict(X), "is not fitted yet")
assert isinstance(e, ValueError) and isinstance(e, AttributeError)
raises(ValueError, lambda: GaussianMixture().fit(X[:, 0]), "Expected 2D array, got 1D array")
raises(ValueError, lambda: GaussianMixture().fit(X.reshape(50, 2, 1)), "Found array with dim 3")
raises(ValueError, lambda: GaussianMixture().fit(np.where(X > 2, np.nan, X)), "contains NaN")
raises(ValueError, lambda: GaussianMixture().fit(np.where(X > 2, np.inf, X)), "infinity")
raises(ValueError, lambda: GaussianMixture().fit(np.empty((0, 2))), "0 sample(s)")
raises(ValueError, lambda: GaussianMixture().fit([["a", "b"]] * 5), "could not convert")
raises(ValueError, lambda: GaussianMixture(60).fit(X), "n_components = 60, n_samples = 50")
raises(ValueError, lambda: GaussianMixture(0).fit(X), "'n_components' parameter")
raises(ValueError, lambda: GaussianMixture(device="tpu").fit(X), "'device' parameter")
gm = GaussianMixture(2, random_state=0).fit(X)
raises(ValueError, lambda: gm.predict(X[:, :1]), "X has 1 features, but GaussianMixture is expecting 2")
assert gm.get_params()["n_components"] == 2 and gm.set_params(n_components=3).n_components == 3
assert repr(GaussianMixture(3)) == "GaussianMixture(n_components=3)"
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    GaussianMixture(2, max_iter=1, tol=0, random_state=0).fit(X)
assert any(issubclass(x.category, gaussmix.ConvergenceWarning) for x in w)
import pickle
assert (pickle.loads(pickle.dumps(gm)).predict(X) == gm.predict(X)).all()
print("ok")
"""


def test_without_scikit_learn():
    r = subprocess.run([sys.executable, "-c", NO_SKLEARN], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
