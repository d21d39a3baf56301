#!/usr/bin/env python3
"""Whole default fits, side by side: `gaussmix fit X.npy -k K [--covariance C]` against
`GaussianMixture(K, covariance_type=C).fit(X)`, every other setting at its default (k-means
initialisation included), on the same data in the same run, alternating the two tools.

Workloads (issue 13):
  overlap   200 000 x 32, K = 16, full, overlapping clusters
  diag      1 000 000 x 16, K = 8, diag, overlapping clusters
  digits    scikit-learn's digits, 1 797 x 64, K = 10, full

For each: wall time (the CLI's whole process: start-up, reading the .npy, initialisation, EM,
writing the model; scikit-learn's `fit` call on the array already in memory), EM iterations,
`lower_bound_` (both tools report scikit-learn's definition) and the mean log-likelihood of
each final model on the data, computed by scikit-learn from each model's parameters.

Then the time per EM iteration (from the same hard labels, tol 0: 1 and 1 + ITERS
iterations, the difference over ITERS) on the first workload's shape with well-separated
clusters (true labels) and with spread responsibilities (random labels on overlapping
clusters).

    cargo build --release
    .venv/bin/python benches/default_fit_vs_sklearn.py            # all workloads
    .venv/bin/python benches/default_fit_vs_sklearn.py --only digits --repeats 1
"""
import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sklearn_compare import gaussmix_fit_seconds, per_iteration, sklearn_fit_seconds  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def overlapping(n, d, k, seed):
    """Clusters whose centres lie about two noise widths apart (they overlap), unequal sizes
    and scales."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.5, size=(k, d))
    scales = rng.uniform(0.7, 1.3, size=k)
    sizes = rng.dirichlet(np.full(k, 5.0))
    labels = rng.choice(k, size=n, p=sizes)
    x = centres[labels] + rng.standard_normal((n, d)) * scales[labels, None]
    return x, labels


def workloads():
    def digits():
        from sklearn.datasets import load_digits

        return load_digits().data.astype(np.float64)

    return {
        "overlap": ("200 000 x 32, K = 16, full, overlapping", lambda: overlapping(200_000, 32, 16, 1)[0], 16, "full"),
        "diag": ("1 000 000 x 16, K = 8, diag, overlapping", lambda: overlapping(1_000_000, 16, 8, 2)[0], 8, "diag"),
        "digits": ("digits 1 797 x 64, K = 10, full", digits, 10, "full"),
    }


def sklearn_model(weights, means, prec_chol, cov):
    from sklearn.mixture import GaussianMixture

    gm = GaussianMixture(len(weights), covariance_type=cov)
    gm.weights_, gm.means_, gm.precisions_cholesky_ = weights, means, prec_chol
    return gm


def run_gaussmix(exe, path, k, cov, out):
    cmd = [exe, "fit", path, "-k", str(k), "--quiet", "-o", out]
    if cov != "full":
        cmd += ["--covariance", cov]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    secs = time.perf_counter() - t
    m = np.load(out)
    return secs, int(m["n_iter_"]), float(m["lower_bound_"]), (m["weights_"], m["means_"], m["precisions_cholesky_"])


def run_sklearn(x, k, cov):
    from sklearn.mixture import GaussianMixture

    gm = GaussianMixture(k, covariance_type=cov)
    t = time.perf_counter()
    gm.fit(x)
    secs = time.perf_counter() - t
    return secs, int(gm.n_iter_), float(gm.lower_bound_), (gm.weights_, gm.means_, gm.precisions_cholesky_)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["overlap", "diag", "digits"], action="append")
    ap.add_argument("--repeats", type=int, default=2, help="whole fits per tool and workload (best kept)")
    ap.add_argument("--iters", type=int, default=3, help="EM iterations in the per-iteration difference")
    ap.add_argument("--no-iterations", action="store_true", help="skip the per-iteration table")
    ap.add_argument("--gaussmix", default=os.path.join(HERE, "..", "target", "release", "gaussmix"))
    a = ap.parse_args()
    import sklearn

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} at the start; scikit-learn {sklearn.__version__}, "
          f"numpy {np.__version__}, python {sys.version.split()[0]}")
    print()
    print("| workload | gaussmix fit | scikit-learn fit | ratio | iterations (g / s) "
          "| lower_bound_ (g / s) | mean log-likelihood (g / s) |")
    print("|---|---:|---:|---:|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (title, make, k, cov) in workloads().items():
            if a.only and name not in a.only:
                continue
            x = make()
            path = os.path.join(tmp, f"{name}.npy")
            np.save(path, x)
            out = os.path.join(tmp, f"{name}.npz")
            g_best, s_best = None, None
            for _ in range(a.repeats):
                g = run_gaussmix(a.gaussmix, path, k, cov, out)
                s = run_sklearn(x, k, cov)
                g_best = g if g_best is None or g[0] < g_best[0] else g_best
                s_best = s if s_best is None or s[0] < s_best[0] else s_best
            g_ll = sklearn_model(*g_best[3], cov).score(x)
            s_ll = sklearn_model(*s_best[3], cov).score(x)
            print(f"| {title} | {g_best[0]:.3f} s | {s_best[0]:.3f} s | {s_best[0] / g_best[0]:.1f}x "
                  f"| {g_best[1]} / {s_best[1]} | {g_best[2]:.4f} / {s_best[2]:.4f} "
                  f"| {g_ll:.4f} / {s_ll:.4f} |", flush=True)
        if a.no_iterations:
            return
        print()
        print("| EM iteration, 200 000 x 32, K = 16, full | gaussmix s/iter | scikit-learn s/iter | ratio |")
        print("|---|---:|---:|---:|")
        rng = np.random.default_rng(3)
        from sklearn_compare import make_data

        sep_x, sep_labels = make_data(200_000, 32, 16, seed=7)
        ovl_x, _ = overlapping(200_000, 32, 16, 1)
        cases = [
            ("well separated (true labels)", sep_x, sep_labels),
            ("spread responsibilities (random labels, overlapping)", ovl_x, rng.integers(0, 16, size=200_000)),
        ]
        for title, x, labels in cases:
            data = os.path.join(tmp, "iter.npy")
            lab = os.path.join(tmp, "iter_labels.npy")
            np.save(data, x)
            np.save(lab, labels.astype(np.int64))
            out = os.path.join(tmp, "iter.npz")
            ours = per_iteration(lambda m: gaussmix_fit_seconds(a.gaussmix, data, lab, 16, "full", m, out), a.iters, a.repeats)
            theirs = per_iteration(lambda m: sklearn_fit_seconds(x, labels, 16, "full", m), a.iters, a.repeats)
            print(f"| {title} | {ours:.3f} | {theirs:.3f} | {theirs / ours:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
