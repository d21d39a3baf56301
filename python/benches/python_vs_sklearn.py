#!/usr/bin/env python3
"""gaussmix.GaussianMixture next to sklearn.mixture.GaussianMixture, in one run, from Python.

Two cases, full covariances:

- 200 000 × 32, K = 16: a synthetic mixture (16 Gaussians with random means and
  covariances, seed 0);
- the Olivetti faces, 400 × 4096, K = 24 (gaussmix takes its exact low-rank path).

For each library: the whole default fit (``GaussianMixture(K, random_state=0).fit(X)``:
k-means initialisation, EM to tol 1e-3, at most 100 iterations), and the time per EM
iteration (fits from the same given initial parameters with 1 and 1 + m iterations, tol 0:
the difference over m). scikit-learn on the faces needs minutes per iteration, so its fit is
limited by ``--sklearn-faces-max-iter`` (default 1) and reported as a lower bound; its
per-iteration time there is its whole fit over its iterations, initialisation included (an
upper bound). ``--sklearn-max-iter`` limits scikit-learn's fit on the first case the same way.

    pip install ./python scikit-learn
    python python/benches/python_vs_sklearn.py
    python python/benches/python_vs_sklearn.py --quick      # 20 000 rows instead of 200 000
"""
import argparse
import os
import platform
import sys
import time
import warnings

import numpy as np


def synthetic(n, d, k, seed=0):
    rng = np.random.RandomState(seed)
    # Overlapping components, so that EM needs tens of iterations, not two.
    means = rng.uniform(-1.0, 1.0, size=(k, d))
    counts = rng.multinomial(n, np.full(k, 1.0 / k))
    parts = []
    for c in range(k):
        a = rng.normal(size=(d, d)) / np.sqrt(d)
        parts.append(rng.normal(size=(counts[c], d)) @ a.T + means[c])
    x = np.vstack(parts)
    return x[rng.permutation(n)]


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def given_init(gm):
    """weights_init, means_init, precisions_init of a fitted full mixture."""
    chol = gm.precisions_cholesky_
    return dict(weights_init=gm.weights_, means_init=gm.means_,
                precisions_init=np.einsum("kij,klj->kil", chol, chol))


def run_case(name, X, k, cls_ours, cls_sk, sk_max_iter, m_iters, sample_sk):
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # gaussmix: the whole default fit.
        fit_s, g = timed(lambda: cls_ours(k, random_state=0).fit(X))
        init = given_init(g) if not g.is_low_rank_ else None
        # Per iteration, from given parameters (the low-rank path starts from the fitted
        # model with warm_start instead: no D × D precisions exist).
        if init is not None:
            t1, _ = timed(lambda: cls_ours(k, max_iter=1, tol=0, **init).fit(X))
            tm, _ = timed(lambda: cls_ours(k, max_iter=1 + m_iters, tol=0, **init).fit(X))
        else:
            w = cls_ours(k, random_state=0, warm_start=True, max_iter=1, tol=0).fit(X)
            t1, _ = timed(lambda: w.set_params(max_iter=1).fit(X))
            tm, _ = timed(lambda: w.set_params(max_iter=1 + m_iters).fit(X))
        per_iter = (tm - t1) / m_iters
        samp_s, _ = timed(lambda: g.sample(1))
        rows.append(dict(lib="gaussmix", fit=fit_s, n_iter=g.n_iter_, converged=g.converged_,
                         per_iter=per_iter, per_iter_bound="", sample=samp_s,
                         where=g.device_, lb=g.lower_bound_))
        print(f"  gaussmix: fit {fit_s:.3f} s ({g.n_iter_} iterations), "
              f"{per_iter * 1e3:.1f} ms/iteration, sample(1) {samp_s * 1e3:.3f} ms", flush=True)

        # scikit-learn.
        kw = dict(random_state=0)
        if sk_max_iter is not None:
            kw["max_iter"] = sk_max_iter
        fit_s, s = timed(lambda: cls_sk(k, **kw).fit(X))
        limited = sk_max_iter is not None and not s.converged_
        if init is not None and not limited:
            sinit = given_init(s)
            t1, _ = timed(lambda: cls_sk(k, max_iter=1, tol=0, **sinit).fit(X))
            tm, _ = timed(lambda: cls_sk(k, max_iter=1 + m_iters, tol=0, **sinit).fit(X))
            per_iter, bound = (tm - t1) / m_iters, ""
        else:
            per_iter, bound = fit_s / max(s.n_iter_, 1), "≤"
        samp_s = None
        if sample_sk:
            samp_s, _ = timed(lambda: s.sample(1))
        rows.append(dict(lib="scikit-learn", fit=fit_s, n_iter=s.n_iter_,
                         converged=s.converged_, per_iter=per_iter, per_iter_bound=bound,
                         sample=samp_s, where="numpy/scipy", lb=s.lower_bound_,
                         limited=limited))
        print(f"  scikit-learn: fit {fit_s:.3f} s ({s.n_iter_} iterations"
              f"{', stopped by --max-iter' if limited else ''}), "
              f"{bound}{per_iter * 1e3:.1f} ms/iteration"
              + (f", sample(1) {samp_s * 1e3:.1f} ms" if samp_s is not None else ""), flush=True)
    return rows


def fmt_s(s):
    if s is None:
        return "—"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} µs"


def table(cases):
    out = ["| case | library | default fit | iterations | per EM iteration | `sample(1)` | ratio (fit / iteration) |",
           "|---|---|---|---|---|---|---|"]
    for name, rows in cases:
        g, s = rows
        fit_ratio = s["fit"] / g["fit"]
        it_ratio = s["per_iter"] / g["per_iter"]
        lower = "≥ " if s.get("limited") else ""
        for r in rows:
            fit = fmt_s(r["fit"])
            if r.get("limited"):
                fit += f" for {r['n_iter']} iteration{'s' if r['n_iter'] != 1 else ''}, not converged"
            iters = f"{r['n_iter']}" + ("" if r["converged"] else " (not converged)")
            # A limited scikit-learn fit makes the fit ratio a lower bound; its whole-fit time
            # over its iterations makes the per-iteration ratio an upper bound.
            it_bound = "≤ " if s["per_iter_bound"] else ""
            ratio = "" if r is g else f"{lower}{fit_ratio:.0f}× / {it_bound}{it_ratio:.0f}×"
            out.append(f"| {name if r is g else ''} | {r['lib']} | {fit} | {iters} | "
                       f"{r['per_iter_bound']}{fmt_s(r['per_iter'])} | {fmt_s(r['sample'])} | {ratio} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="20 000 rows instead of 200 000")
    ap.add_argument("--sklearn-max-iter", type=int, default=None,
                    help="limit scikit-learn's default fit on the 200 000 × 32 case")
    ap.add_argument("--sklearn-faces-max-iter", type=int, default=1,
                    help="limit scikit-learn's fit on the faces (default 1; 0 skips it)")
    ap.add_argument("--sklearn-faces-sample", action="store_true",
                    help="also time scikit-learn's sample(1) on the faces (about 7 minutes)")
    ap.add_argument("--iters", type=int, default=5, help="m, the iterations per-iteration times use")
    ap.add_argument("--skip-faces", action="store_true")
    args = ap.parse_args()

    import sklearn
    from sklearn.mixture import GaussianMixture as SkGM

    import gaussmix
    from gaussmix import GaussianMixture

    print(f"gaussmix {gaussmix.__version__}, scikit-learn {sklearn.__version__}, numpy "
          f"{np.__version__}, Python {platform.python_version()}, {os.cpu_count()} CPUs "
          f"({platform.processor() or platform.machine()}), load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    cases = []
    n = 20_000 if args.quick else 200_000
    X = synthetic(n, 32, 16)
    name = f"{n:_} × 32, K = 16 full".replace("_", " ")
    print(name, flush=True)
    cases.append((name, run_case(name, X, 16, GaussianMixture, SkGM, args.sklearn_max_iter,
                                 args.iters, sample_sk=True)))
    if not args.skip_faces and args.sklearn_faces_max_iter > 0:
        # float64: scikit-learn fits float32 data in float32, where its Cholesky factorisations
        # of the 4096 × 4096 covariances fail; gaussmix gets the same float64 array.
        faces = gaussmix.datasets.olivetti_faces().astype(np.float64)
        name = "faces 400 × 4096, K = 24 full"
        print(name, flush=True)
        cases.append((name, run_case(name, faces, 24, GaussianMixture, SkGM,
                                     args.sklearn_faces_max_iter, args.iters,
                                     sample_sk=args.sklearn_faces_sample)))
    print()
    print(table(cases))
    print()
    for name, rows in cases:
        print(f"{name}: gaussmix on {rows[0]['where']}; lower bounds gaussmix "
              f"{rows[0]['lb']:.4f}, scikit-learn {rows[1]['lb']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
