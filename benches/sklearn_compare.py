#!/usr/bin/env python3
"""Side-by-side EM iteration time: scikit-learn's GaussianMixture vs gaussmix (CPU), one run.

Both fit the same synthetic data from the same hard-label initialisation with tol = 0, once with
1 iteration and once with 1 + ITERS iterations; the difference divided by ITERS is the time per
EM iteration (E-step + M-step), so loading, initialisation and start-up cancel out. The best of
REPEATS such measurements is kept for each side.

    pip install scikit-learn numpy
    cargo build --release
    python3 benches/sklearn_compare.py            # 200 000 x 32, K = 16, full (issue 2)
    python3 benches/sklearn_compare.py --n 20000  # quicker
"""
import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np


def make_data(n, d, k, seed):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-10, 10, size=(k, d))
    labels = rng.integers(0, k, size=n)
    x = centres[labels] + rng.standard_normal((n, d))
    return x, labels


def sklearn_fit_seconds(x, labels, k, cov, iters):
    from sklearn.mixture import GaussianMixture

    resp = np.zeros((x.shape[0], k))
    resp[np.arange(x.shape[0]), labels] = 1.0
    # Initial parameters from the hard labels, as gaussmix's --labels-init does.
    from sklearn.mixture._gaussian_mixture import _estimate_gaussian_parameters

    weights, means, covs = _estimate_gaussian_parameters(x, resp, 1e-6, cov)
    weights /= weights.sum()
    from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky

    prec_chol = _compute_precision_cholesky(covs, cov)
    if cov == "full":
        precisions = np.array([c @ c.T for c in prec_chol])
    elif cov == "tied":
        precisions = prec_chol @ prec_chol.T
    else:
        precisions = prec_chol**2
    gm = GaussianMixture(
        n_components=k,
        covariance_type=cov,
        tol=0.0,
        max_iter=iters,
        weights_init=weights,
        means_init=means,
        precisions_init=precisions,
        init_params="random_from_data",
        random_state=0,
    )
    t = time.perf_counter()
    gm.fit(x)
    return time.perf_counter() - t


def gaussmix_fit_seconds(exe, data, labels, k, cov, iters, out):
    cmd = [exe, "fit", data, "-k", str(k), "--covariance", cov, "--labels-init", labels,
           "--max-iter", str(iters), "--tol", "0", "--device", "cpu", "--quiet", "-o", out]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def per_iteration(run, iters, repeats):
    best = float("inf")
    for _ in range(repeats):
        one = run(1)
        many = run(1 + iters)
        best = min(best, (many - one) / iters)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--d", type=int, default=32)
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--covariance", default="full")
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--gaussmix", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "gaussmix"))
    a = ap.parse_args()

    import sklearn

    x, labels = make_data(a.n, a.d, a.k, seed=7)
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "x.npy")
        lab = os.path.join(tmp, "labels.npy")
        np.save(data, x)
        np.save(lab, labels.astype(np.int64))
        out = os.path.join(tmp, "model.npz")
        ours = per_iteration(lambda m: gaussmix_fit_seconds(a.gaussmix, data, lab, a.k, a.covariance, m, out), a.iters, a.repeats)
        theirs = per_iteration(lambda m: sklearn_fit_seconds(x, labels, a.k, a.covariance, m), a.iters, a.repeats)

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}")
    print()
    print("| samples | dims | K | covariance | scikit-learn s/iter | gaussmix CPU s/iter | speed-up |")
    print("|---:|---:|---:|---|---:|---:|---:|")
    print(f"| {a.n} | {a.d} | {a.k} | {a.covariance} | {theirs:.3f} | {ours:.3f} | {theirs / ours:.1f}x |")


if __name__ == "__main__":
    main()
