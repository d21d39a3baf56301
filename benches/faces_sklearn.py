#!/usr/bin/env python3
"""Olivetti faces (400 x 4096), K = 24 full covariances: scikit-learn's GaussianMixture (dense
D x D covariances) next to `gaussmix faces` (the exact low-rank form), in one run.

scikit-learn needs about a minute per EM iteration here (24 Cholesky factorisations and
scatter matrices of 4096 x 4096), so its fit is limited to --sklearn-iters iterations (default
2, initialisation included) and reported per iteration; gaussmix fits to convergence at
tol 1e-3, initialisation included. Sampling: one `sample(1)` for scikit-learn (it factors the
4096 x 4096 covariance on every call), the mean of 200 `sample(1)` calls for gaussmix.

    pip install scikit-learn numpy        # pillow too if the .npy is not at hand
    cargo build --release
    python3 benches/faces_sklearn.py                      # data from --data or the embedded PNG
    python3 benches/faces_sklearn.py --sklearn-iters 1    # quicker
"""
import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_faces(npy):
    if npy and os.path.exists(npy):
        return np.load(npy).astype(np.float64), npy
    # The embedded asset: a 20 x 20 grid of 64 x 64 faces, value v -> f32(v / 242).
    from PIL import Image

    png = os.path.join(ROOT, "assets", "olivetti_faces.png")
    grid = np.asarray(Image.open(png).convert("L"))
    faces = grid.reshape(20, 64, 20, 64).transpose(0, 2, 1, 3).reshape(400, 4096)
    return (faces.astype(np.float32) / np.float32(242)).astype(np.float64), png


def sklearn_times(x, k, iters, seed):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    gm = GaussianMixture(
        n_components=k, covariance_type="full", max_iter=iters, tol=1e-3, random_state=seed
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t = time.perf_counter()
        gm.fit(x)
        fit_s = time.perf_counter() - t
    t = time.perf_counter()
    gm.sample(1)
    sample_s = time.perf_counter() - t
    return fit_s, gm.n_iter_, sample_s


def gaussmix_times(binary, k, seed):
    with tempfile.TemporaryDirectory() as out:
        r = subprocess.run(
            [binary, "faces", "--k", str(k), "--seed", str(seed), "--tol", "1e-3", "--out", out],
            capture_output=True,
            text=True,
            check=True,
        )
    text = r.stdout
    fit = re.search(r"fit: ([0-9.]+) s including initialisation, (\d+) iterations", text)
    draw = re.search(r"sampling: ([0-9.]+) ms per face", text)
    if not (fit and draw):
        sys.exit(f"cannot read gaussmix's timings from:\n{text}\n{r.stderr}")
    return float(fit.group(1)), int(fit.group(2)), float(draw.group(1)) / 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/work/shared/data/olivetti_faces.npy",
                    help="olivetti_faces.npy (400 x 4096); the embedded PNG is decoded if it is absent")
    ap.add_argument("--gaussmix", default=os.path.join(ROOT, "target", "release", "gaussmix"),
                    help="the gaussmix binary (cargo build --release)")
    ap.add_argument("--k", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sklearn-iters", type=int, default=2,
                    help="EM iterations for scikit-learn (each takes about a minute)")
    args = ap.parse_args()

    x, source = load_faces(args.data)
    assert x.shape == (400, 4096), x.shape
    print(f"data: {source} {x.shape}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs; numpy {np.__version__}", file=sys.stderr)

    g_fit, g_iter, g_draw = gaussmix_times(args.gaussmix, args.k, args.seed)
    print(f"gaussmix: fit {g_fit:.3f} s ({g_iter} iterations), {g_draw * 1e3:.3f} ms per draw",
          file=sys.stderr)
    import sklearn

    s_fit, s_iter, s_draw = sklearn_times(x, args.k, args.sklearn_iters, args.seed)
    print(f"scikit-learn {sklearn.__version__}: {s_iter} iterations in {s_fit:.1f} s, "
          f"sample(1) {s_draw:.2f} s", file=sys.stderr)

    print()
    print(f"| 400 × 4096 faces, K = {args.k} full | scikit-learn {sklearn.__version__} (dense) | gaussmix (exact low-rank) | ratio |")
    print("|---|---|---|---|")
    # The ratio is a lower bound: scikit-learn's partial fit (s_iter iterations) against
    # gaussmix's whole fit to convergence.
    print(f"| fit, initialisation included | {s_fit:.1f} s for {s_iter} iteration(s), not converged | "
          f"{g_fit:.3f} s to convergence ({g_iter} iterations) | ≥ {s_fit / g_fit:.0f}× |")
    print(f"| one draw, `sample(1)` | {s_draw:.1f} s | {g_draw * 1e3:.3f} ms | {s_draw / g_draw:.2g}× |")

if __name__ == "__main__":
    main()
