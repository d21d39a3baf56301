#!/usr/bin/env python3
"""Loads a gaussmix model file into scikit-learn and compares scores with `gaussmix score`.

    python3 tests/data/check_in_sklearn.py MODEL.npz DATA.npy|DATA.csv
"""
import subprocess
import sys

import numpy as np
from sklearn.mixture import GaussianMixture

model_path, data_path = sys.argv[1], sys.argv[2]
f = np.load(model_path)
gm = GaussianMixture(n_components=len(f["weights_"]), covariance_type=str(f["covariance_type"]))
for name in ["weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"]:
    setattr(gm, name, f[name])
gm.converged_, gm.n_iter_, gm.lower_bound_ = bool(f["converged_"]), int(f["n_iter_"]), float(f["lower_bound_"])
x = np.load(data_path) if data_path.endswith(".npy") else np.loadtxt(data_path, delimiter=",")
ours = subprocess.run(["cargo", "run", "-q", "--release", "--", "score", model_path, data_path],
                      capture_output=True, text=True, check=True).stdout.split()[2]
print(f"scikit-learn score {gm.score(x):.9f}   gaussmix score {float(ours):.9f}")
assert abs(gm.score(x) - float(ours)) < 1e-8 * max(1.0, abs(gm.score(x)))
print("sample shape", gm.sample(5)[0].shape, "- the model works in scikit-learn")
