#!/usr/bin/env python3
"""Variational Bayesian fits, side by side: `gaussmix fit X.npy -k K --bayesian
[--covariance C]` against `BayesianGaussianMixture(n_components=K, covariance_type=C).fit(X)`,
every other setting at its default (Dirichlet-process prior, k-means initialisation), on the
same data in the same run, alternating the two tools; best of REPEATS.

Workloads (K larger than the number of clusters, so that components die out):
  separated 100 000 x 16, K = 12, full: 6 well-separated clusters
  diag      300 000 x 16, K = 16, diag: 8 well-separated clusters
  digits    scikit-learn's digits, 1 797 x 64, K = 20, full

For each: wall time (the CLI's whole process: start-up, reading the .npy, initialisation, the
fit, writing the model; scikit-learn's `fit` on the array in memory), iterations, the final
`lower_bound_` (both report scikit-learn's variational bound, a total over the samples), and
the effective components (weight above 1 %). Then the time per iteration from the same hard
labels (tol 0: 1 and 1 + ITERS iterations, the difference over ITERS) on the first workload.

    cargo build --release
    .venv/bin/python benches/bayesian_vs_sklearn.py
    .venv/bin/python benches/bayesian_vs_sklearn.py --only digits --repeats 1
"""
import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from sklearn_compare import make_data  # noqa: E402


def workloads():
    def digits():
        from sklearn.datasets import load_digits

        return load_digits().data.astype(np.float64)

    return {
        "separated": ("100 000 x 16, K = 12, full, 6 clusters", lambda: make_data(100_000, 16, 6, 3)[0], 12, "full"),
        "diag": ("300 000 x 16, K = 16, diag, 8 clusters", lambda: make_data(300_000, 16, 8, 4)[0], 16, "diag"),
        "digits": ("digits 1 797 x 64, K = 20, full", digits, 20, "full"),
    }


def gaussmix_fit(exe, path, k, cov, out, extra=()):
    cmd = [exe, "fit", path, "-k", str(k), "--bayesian", "--covariance", cov, "--device", "cpu",
           "--quiet", "-o", out, *extra]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    secs = time.perf_counter() - t
    f = np.load(out)
    return secs, int(f["n_iter_"]), float(f["lower_bound_"]), int((f["weights_"] > 0.01).sum())


def sklearn_bgm(k, cov, labels=None, **kw):
    from sklearn.mixture import BayesianGaussianMixture

    if labels is None:
        return BayesianGaussianMixture(n_components=k, covariance_type=cov, **kw)

    class FromLabels(BayesianGaussianMixture):
        def _initialize_parameters(self, X, random_state, xp=None):
            resp = np.zeros((len(X), self.n_components))
            resp[np.arange(len(X)), labels] = 1.0
            self._initialize(X, resp)

    return FromLabels(n_components=k, covariance_type=cov, **kw)


def sklearn_fit(x, k, cov):
    gm = sklearn_bgm(k, cov, random_state=0)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(x)
    secs = time.perf_counter() - t
    return secs, int(gm.n_iter_), float(np.ravel(gm.lower_bound_)[0]), int((gm.weights_ > 0.01).sum())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--exe", default=os.path.join(HERE, "..", "target", "release", "gaussmix"))
    ap.add_argument("--only", choices=list(workloads()))
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    args = ap.parse_args()
    import sklearn

    print(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    print("| workload | gaussmix fit | scikit-learn fit | ratio | iterations (g / s) | final `lower_bound_` (g / s) | effective components (g / s) |")
    print("|---|---:|---:|---:|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (label, make, k, cov) in workloads().items():
            if args.only and name != args.only:
                continue
            x = np.ascontiguousarray(make())
            path = os.path.join(tmp, f"{name}.npy")
            np.save(path, x)
            out = os.path.join(tmp, f"{name}.npz")
            g = s = None
            for _ in range(args.repeats):
                rg = gaussmix_fit(args.exe, path, k, cov, out)
                rs = sklearn_fit(x, k, cov)
                g = rg if g is None or rg[0] < g[0] else g
                s = rs if s is None or rs[0] < s[0] else s
            print(f"| {label} | {g[0]:.3f} s | {s[0]:.3f} s | {s[0] / g[0]:.1f}x | {g[1]} / {s[1]} "
                  f"| {g[2]:.4f} / {s[2]:.4f} | {g[3]} / {s[3]} |", flush=True)
        if args.only not in (None, "separated"):
            return
        label, make, k, cov = workloads()["separated"]
        x = np.ascontiguousarray(make())
        path = os.path.join(tmp, "x.npy")
        np.save(path, x)
        labels = np.random.default_rng(0).integers(0, k, len(x))
        lpath = os.path.join(tmp, "labels.npy")
        np.save(lpath, labels.astype(np.int64))
        out = os.path.join(tmp, "m.npz")

        def g_run(iters):
            return gaussmix_fit(args.exe, path, k, cov, out,
                                ["--labels-init", lpath, "--max-iter", str(iters), "--tol", "0"])[0]

        def s_run(iters):
            gm = sklearn_bgm(k, cov, labels=labels, max_iter=iters, tol=0.0)
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                gm.fit(x)
            return time.perf_counter() - t

        def per_iter(run):
            best = float("inf")
            for _ in range(args.repeats):
                best = min(best, (run(1 + args.iters) - run(1)) / args.iters)
            return best

        gi, si = per_iter(g_run), per_iter(s_run)
        print()
        print(f"| one iteration, {label}, random labels | gaussmix s/iter | scikit-learn s/iter | ratio |")
        print("|---|---:|---:|---:|")
        print(f"| variational E-step + update + bound | {gi:.4f} | {si:.4f} | {si / gi:.1f}x |")


if __name__ == "__main__":
    main()
