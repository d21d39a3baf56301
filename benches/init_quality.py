#!/usr/bin/env python3
"""Initialisation quality, gaussmix against scikit-learn, on real data: the final lower bound
of default fits (k-means initialisation: k-means++ seeding, then Lloyd), best of n_init, averaged
over seeds. Higher is better. gaussmix runs as a user runs it (`gaussmix fit X.npy -k K
--n-init M --seed S`); scikit-learn as `GaussianMixture(K, n_init=M, random_state=S).fit(X)`.
The two tools draw different random numbers for the same seed, so single seeds differ; the
means over many seeds compare the methods.

With --large, also the two large synthetic workloads of benches/default_fit_vs_sklearn.py
(200 000 x 32, K = 16, full; 1 000 000 x 16, K = 8, diag; overlapping clusters), n_init 1:
there gaussmix's k-means runs on a seeded sample of max(20 000, 1 000 K) rows, best of four
runs (README, Semantics); --only-large skips the real data.

    cargo build --release
    .venv/bin/python benches/init_quality.py --seeds 20
    .venv/bin/python benches/init_quality.py --seeds 6 --only-large
"""
import argparse
import os
import subprocess
import tempfile

import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def datasets():
    from sklearn import datasets as ds
    from sklearn.preprocessing import StandardScaler

    return {
        "iris (150 x 4), K = 3": (ds.load_iris().data, 3),
        "wine, standardised (178 x 13), K = 3": (StandardScaler().fit_transform(ds.load_wine().data), 3),
        "breast cancer, standardised (569 x 30), K = 2": (
            StandardScaler().fit_transform(ds.load_breast_cancer().data), 2),
        "digits (1797 x 64), K = 10": (ds.load_digits().data.astype(np.float64), 10),
    }


def large():
    sys.path.insert(0, HERE)
    from default_fit_vs_sklearn import workloads

    w = workloads()
    return {w[name][0]: (w[name][1](), w[name][2], w[name][3]) for name in ("overlap", "diag")}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--n-init", type=int, nargs="+", default=[1, 5])
    ap.add_argument("--large", action="store_true", help="also the large synthetic workloads (n_init 1)")
    ap.add_argument("--only-large", action="store_true", help="only the large synthetic workloads")
    ap.add_argument("--gaussmix", default=os.path.join(HERE, "..", "target", "release", "gaussmix"))
    a = ap.parse_args()
    import sklearn
    from sklearn.mixture import GaussianMixture

    print(f"scikit-learn {sklearn.__version__}; {a.seeds} seeds (0..{a.seeds - 1}); full covariances "
          "unless named, every other setting at its default")
    print()
    print("| data | n_init | gaussmix mean lower bound | scikit-learn mean lower bound | gaussmix better on |")
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        cases = {} if a.only_large else {n: (x, k, "full", a.n_init) for n, (x, k) in datasets().items()}
        if a.large or a.only_large:
            cases.update({n: (x, k, cov, [1]) for n, (x, k, cov) in large().items()})
        for name, (x, k, cov, n_inits) in cases.items():
            path = os.path.join(tmp, "x.npy")
            out = os.path.join(tmp, "m.npz")
            np.save(path, np.ascontiguousarray(x, dtype=np.float64))
            for m in n_inits:
                g, s = [], []
                for seed in range(a.seeds):
                    subprocess.run([a.gaussmix, "fit", path, "-k", str(k), "--covariance", cov, "--n-init", str(m),
                                    "--seed", str(seed), "--quiet", "-o", out], check=True, capture_output=True)
                    g.append(float(np.load(out)["lower_bound_"]))
                    gm = GaussianMixture(k, covariance_type=cov, n_init=m, random_state=seed)
                    s.append(gm.fit(x).lower_bound_)
                g, s = np.array(g), np.array(s)
                print(f"| {name} | {m} | {g.mean():.4f} | {s.mean():.4f} | {int((g > s + 1e-9).sum())} of {a.seeds} |",
                      flush=True)


if __name__ == "__main__":
    main()
