#!/usr/bin/env python3
"""Anchors on the same machine, same data, same run: scikit-learn's GaussianMixture on the CPU,
scikit-learn with array-API dispatch on PyTorch CUDA tensors, and gaussmix's CPU and GPU paths.

Two measurements for each of them:

* per EM iteration: fit from the same hard-label initialisation with tol = 0, once for 1
  iteration and once for 1 + ITERS; the difference over ITERS is one E-step + M-step, with
  loading, start-up and initialisation cancelled out (the fastest of REPEATS of each, after
  one warm-up fit; gaussmix's from the fit time it prints, at least 2 repeats);
* the whole default fit: K components, tol 1e-3, max_iter 100, k-means initialisation; the
  wall time, the iterations it took and the lower bound it reached. scikit-learn's array-API
  path does not allow init_params="kmeans", so its whole fit uses "random_from_data" (said so
  in the table).

Every piece runs in its own process under a time limit, so one that hangs or fails is one clear
line and the others still run. A piece that cannot run here (no numpy, no scikit-learn, no
torch, no CUDA, a scikit-learn older than 1.8) says which and what version it found.

Exit status: 0 when every piece that could run succeeded; 1 when one failed or timed out; 3
when nothing could run (numpy missing). The data are written to one .npy file in a scratch
folder, which gaussmix reads too; the results also go to OUT/anchors.json.

    python3 benches/gpu_anchors.py --gaussmix target/release/gaussmix --out device-check
    python3 benches/gpu_anchors.py --quick ...        # 5 000 x 8, K = 4 (a dry run)
"""
import argparse
import atexit
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.abspath(__file__)


# ---------------------------------------------------------------------------------------------
# Pieces: each runs in its own process (python3 gpu_anchors.py --piece NAME ...) and prints one
# JSON line.


def load(args):
    import numpy as np

    x = np.load(args.data)
    labels = np.load(args.labels)
    return x, labels


def hard_label_init(x, labels, k, cov, reg=1e-6):
    """Weights, means and precisions from hard labels (what gaussmix's --labels-init does)."""
    import numpy as np

    n, d = x.shape
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    weights = counts / n
    means = np.zeros((k, d))
    np.add.at(means, labels, x)
    means /= counts[:, None]
    if cov == "full":
        prec = np.empty((k, d, d))
        for j in range(k):
            xc = x[labels == j] - means[j]
            c = xc.T @ xc / counts[j] + reg * np.eye(d)
            prec[j] = np.linalg.inv(c)
    elif cov == "diag":
        prec = np.empty((k, d))
        for j in range(k):
            xc = x[labels == j] - means[j]
            prec[j] = 1.0 / ((xc * xc).sum(0) / counts[j] + reg)
    elif cov == "spherical":
        prec = np.empty(k)
        for j in range(k):
            xc = x[labels == j] - means[j]
            prec[j] = 1.0 / ((xc * xc).sum() / counts[j] / d + reg)
    else:  # tied
        c = np.zeros((d, d))
        for j in range(k):
            xc = x[labels == j] - means[j]
            c += xc.T @ xc
        prec = np.linalg.inv(c / n + reg * np.eye(d))
    return weights, means, prec


def torch_setup(args):
    import torch

    dev = args.torch_device
    if dev.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("torch.cuda.is_available() is False")
    return torch, dev


def sync(torch, dev):
    if torch is not None and dev.startswith("cuda"):
        torch.cuda.synchronize()


def piece(args):
    """Runs one piece in this process; returns a dict."""
    import numpy as np

    use_torch = args.piece.startswith("sklearn-torch")
    if use_torch:
        os.environ["SCIPY_ARRAY_API"] = "1"
    import sklearn
    from sklearn.mixture import GaussianMixture

    x, labels = load(args)
    k, cov = args.k, args.covariance
    torch = None
    dev = "cpu"
    dtype = np.float32 if args.dtype == "f32" else np.float64
    x = x.astype(dtype)
    if use_torch:
        torch, dev = torch_setup(args)
        sklearn.set_config(array_api_dispatch=True)
        tdtype = torch.float32 if args.dtype == "f32" else torch.float64
        to = lambda a: torch.asarray(np.asarray(a, dtype=dtype), dtype=tdtype, device=dev)
        X = to(x)
    else:
        to = lambda a: np.asarray(a, dtype=dtype)
        X = x
    info = {"sklearn": sklearn.__version__, "dtype": args.dtype}
    if torch is not None:
        info["torch"] = torch.__version__
        info["torch_device"] = torch.cuda.get_device_name(0) if dev.startswith("cuda") else dev

    if args.piece.endswith("-iter"):
        w, m, p = hard_label_init(x.astype(np.float64), labels, k, cov)
        w, m, p = to(w), to(m), to(p)

        def run(iters):
            gm = GaussianMixture(
                n_components=k, covariance_type=cov, tol=0.0, max_iter=iters,
                weights_init=w, means_init=m, precisions_init=p,
                init_params="random_from_data", random_state=0,
            )
            sync(torch, dev)
            t = time.perf_counter()
            gm.fit(X)
            sync(torch, dev)
            return time.perf_counter() - t

        import warnings

        warnings.simplefilter("ignore")  # ConvergenceWarning: tol = 0 never converges
        run(1)  # warm-up: CUDA context, kernels, BLAS threads
        one = many = float("inf")
        for _ in range(args.repeats):
            one = min(one, run(1))
            many = min(many, run(1 + args.iters))
        info["s_per_iter"] = (many - one) / args.iters
        return info

    # The whole default fit.
    init = "random_from_data" if use_torch else "kmeans"
    if use_torch:  # warm-up on a slice: CUDA context and kernels
        GaussianMixture(n_components=k, covariance_type=cov, max_iter=1,
                        init_params=init, random_state=0).fit(X[: min(2000, X.shape[0])])
    gm = GaussianMixture(n_components=k, covariance_type=cov, init_params=init, random_state=0)
    sync(torch, dev)
    t = time.perf_counter()
    gm.fit(X)
    sync(torch, dev)
    info["fit_s"] = info["wall_fit_s"] = time.perf_counter() - t
    info["n_iter"] = int(gm.n_iter_)
    info["converged"] = bool(gm.converged_)
    info["lower_bound"] = float(gm.lower_bound_)
    info["init"] = init
    return info


# ---------------------------------------------------------------------------------------------
# The driver.


def make_data(n, d, k, seed):
    """K overlapping clusters, each with its own random full covariance."""
    import numpy as np

    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 0.6, size=(k, d))
    labels = rng.integers(0, k, size=n)
    x = np.empty((n, d))
    for j in range(k):
        idx = np.flatnonzero(labels == j)
        q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        a = q * rng.uniform(0.5, 1.5, size=d)
        x[idx] = centres[j] + rng.standard_normal((idx.size, d)) @ a.T
    return x, labels.astype(np.int64)


class Clock:
    def __init__(self, budget):
        self.end = time.monotonic() + budget

    def left(self):
        return self.end - time.monotonic()


def limit(clock, want):
    return max(0.0, min(want, clock.left() - 2.0))


def run_piece(args, clock, name, extra, env=None):
    t = limit(clock, args.piece_timeout)
    if t < 5:
        return {"error": f"not run: the anchors' time budget ({args.budget:.0f} s) is spent"}
    cmd = [sys.executable, HERE, "--piece", name, "--data", args.data, "--labels", args.labels,
           "--k", str(args.k), "--covariance", args.covariance, "--iters", str(args.iters),
           "--repeats", str(args.repeats), "--torch-device", args.torch_device] + extra
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=t, env=env,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"error": f"TIMED OUT after {t:.0f} s"}
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    if r.returncode != 0 or not lines:
        tail = (r.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": f"FAILED (exit {r.returncode}): {tail[:300]}"}
    return json.loads(lines[-1])


FIT_LINE = re.compile(r" on (.*): (\d+) iterations \(([^)]*)\), lower bound (\S+) .*?, ([0-9.]+) s; ")


def short_device(s):
    """`gpu (NAME, Vulkan, DiscreteGpu, f32, max binding …)` as `gpu: NAME, Vulkan`."""
    m = re.match(r"gpu \((.*), (\w+), (\w+), f32, max binding", s)
    return f"gpu: {m.group(1)}, {m.group(2)}" if m else s


def gaussmix(args, clock, device, iters=None):
    """Seconds of one `gaussmix fit` process and what it printed."""
    out = os.path.join(args.scratch, f"model-{device}.npz")
    cmd = [args.gaussmix, "fit", args.data, "-k", str(args.k), "--covariance", args.covariance,
           "--device", device, "--quiet", "-o", out]
    if iters is not None:
        cmd += ["--labels-init", args.labels, "--max-iter", str(iters), "--tol", "0"]
    t = limit(clock, args.piece_timeout)
    if t < 5:
        raise RuntimeError(f"not run: the anchors' time budget ({args.budget:.0f} s) is spent")
    start = time.perf_counter()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=t,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"TIMED OUT after {t:.0f} s")
    secs = time.perf_counter() - start
    if r.returncode != 0:
        tail = (r.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"FAILED (exit {r.returncode}): {tail[:300]}")
    m = FIT_LINE.search(r.stdout)
    if not m:
        raise RuntimeError(f"unexpected output: {r.stdout.strip()[:300]}")
    # The fit's own time as gaussmix prints it: without starting the process and reading the
    # data, with opening the GPU.
    return secs, {"device": short_device(m.group(1)), "n_iter": int(m.group(2)),
                  "converged": m.group(3) == "converged", "lower_bound": float(m.group(4)),
                  "fit_s": float(m.group(5))}


def gaussmix_iter(args, clock, device):
    """(fastest fit of 1 + ITERS iterations - fastest of 1) / ITERS, from the fits' own times."""
    try:
        gaussmix(args, clock, device, 1)  # warm-up (page cache, the driver's shader cache)
        one = many = float("inf")
        what = {}
        for _ in range(max(args.repeats, 2)):  # a process is cheap; its start-up is noisy
            one = min(one, gaussmix(args, clock, device, 1)[1]["fit_s"])
            _, what = gaussmix(args, clock, device, 1 + args.iters)
            many = min(many, what["fit_s"])
        return {"s_per_iter": (many - one) / args.iters, "device": what.get("device", device)}
    except RuntimeError as e:
        return {"error": str(e)}


def gaussmix_fit(args, clock, device):
    try:
        secs, what = gaussmix(args, clock, device)
        what["wall_fit_s"] = secs
        return what
    except RuntimeError as e:
        return {"error": str(e)}


def versions():
    """What Python packages are here, without importing the heavy ones in this process."""
    probe = (
        "import json, os, sys\n"
        "v = {}\n"
        "for m in ('numpy', 'scipy', 'sklearn', 'torch'):\n"
        "    try:\n"
        "        v[m] = __import__(m).__version__\n"
        "    except Exception as e:\n"
        "        v[m] = None\n"
        "        v[m + '_error'] = f'{type(e).__name__}: {e}'[:200]\n"
        "if v.get('torch'):\n"
        "    import torch\n"
        "    v['cuda'] = torch.cuda.is_available()\n"
        "    v['cuda_version'] = torch.version.cuda\n"
        "    if v['cuda']:\n"
        "        v['cuda_name'] = torch.cuda.get_device_name(0)\n"
        "print(json.dumps(v))\n"
    )
    try:
        r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           timeout=90, stdin=subprocess.DEVNULL)
        return json.loads(r.stdout.strip().splitlines()[-1])
    except Exception as e:  # noqa: BLE001 - any failure here is one line
        return {"error": f"{type(e).__name__}: {e}"}


def vtuple(s):
    return tuple(int(p) for p in re.findall(r"\d+", s or "0")[:3])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--d", type=int, default=32)
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--covariance", default="full")
    ap.add_argument("--iters", type=int, default=3, help="timed iterations (per-iteration)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="5 000 x 8, K = 4 (a dry run)")
    ap.add_argument("--gaussmix", default=os.path.join(os.path.dirname(HERE), "..", "target",
                                                        "release", "gaussmix"))
    ap.add_argument("--out", default="device-check")
    ap.add_argument("--budget", type=float, default=170.0, help="seconds for everything")
    ap.add_argument("--piece-timeout", type=float, default=75.0, help="seconds per process")
    ap.add_argument("--torch-device", default="cuda",
                    help="device of the torch tensors (cuda; cpu checks the path without a GPU)")
    ap.add_argument("--skip", default="", help="comma-separated pieces to leave out")
    # Internal: one piece in its own process.
    ap.add_argument("--piece")
    ap.add_argument("--data")
    ap.add_argument("--labels")
    ap.add_argument("--dtype", default="f64")
    args = ap.parse_args()

    if args.piece:
        try:
            print(json.dumps(piece(args)))
        except Exception as e:  # noqa: BLE001 - reported by the driver as one line
            print(f"{type(e).__name__}: {e}", file=sys.stderr)
            sys.exit(1)
        return

    clock = Clock(args.budget)
    if args.quick:
        args.n, args.d, args.k = 5_000, 8, 4
    os.makedirs(args.out, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    v = versions()
    print(f"anchors: python {sys.version.split()[0]} ({sys.executable}), "
          f"{os.cpu_count()} CPUs, {platform.machine()}")
    for m in ("numpy", "scipy", "sklearn", "torch"):
        print(f"anchors: {m}: {v.get(m) or 'not found (' + v.get(m + '_error', '?') + ')'}")
    if v.get("torch"):
        cuda = (f"yes, {v.get('cuda_name')} (CUDA {v.get('cuda_version')})" if v.get("cuda")
                else f"no (torch.cuda.is_available() is False; torch built for CUDA "
                     f"{v.get('cuda_version')})")
        print(f"anchors: torch CUDA: {cuda}")
    if not v.get("numpy"):
        print("anchors: NOT RUN: numpy is missing, so no data can be made; "
              "pip install numpy scikit-learn")
        sys.exit(3)

    import numpy as np

    x, labels = make_data(args.n, args.d, args.k, args.seed)
    # The data (50 MB at the default size) and the models go to a scratch folder, not OUT.
    scratch = tempfile.mkdtemp(prefix="gaussmix-anchors-")
    atexit.register(shutil.rmtree, scratch, True)
    args.scratch = scratch
    args.data = os.path.join(scratch, "x.npy")
    args.labels = os.path.join(scratch, "labels.npy")
    np.save(args.data, x)
    np.save(args.labels, labels)
    del x
    print(f"anchors: data {args.n} x {args.d}, K = {args.k}, {args.covariance}, "
          f"{args.k} overlapping clusters (seed {args.seed}) in {args.data}")

    have_gm = os.access(args.gaussmix, os.X_OK)
    sk = v.get("sklearn")
    torch_ok, torch_why = True, ""
    if not sk:
        torch_ok, torch_why = False, "scikit-learn not found"
    elif vtuple(sk) < (1, 8):
        torch_ok, torch_why = False, (f"scikit-learn {sk} found; array-API dispatch for "
                                      "GaussianMixture needs scikit-learn >= 1.8")
    elif not v.get("scipy") or vtuple(v["scipy"]) < (1, 14):
        torch_ok, torch_why = False, (f"scipy {v.get('scipy')} found; scikit-learn's "
                                      "array-API dispatch needs scipy >= 1.14")
    elif not v.get("torch"):
        torch_ok, torch_why = False, "torch not found"
    elif args.torch_device.startswith("cuda") and not v.get("cuda"):
        torch_ok, torch_why = False, (f"torch {v['torch']} found but CUDA is not available "
                                      "(torch.cuda.is_available() is False)")
    tdev = args.torch_device
    plan = [
        # (key, label, device, dtype, kind, runner or reason it cannot run)
        ("gaussmix-gpu-iter", "gaussmix", "gpu", "f32", "iter"),
        ("sklearn-torch-f32-iter", f"scikit-learn, array API, torch {tdev}", tdev, "f32", "iter"),
        ("sklearn-torch-f64-iter", f"scikit-learn, array API, torch {tdev}", tdev, "f64", "iter"),
        ("gaussmix-cpu-iter", "gaussmix", "cpu", "f64", "iter"),
        ("sklearn-cpu-iter", "scikit-learn, numpy", "cpu", "f64", "iter"),
        ("gaussmix-gpu-fit", "gaussmix", "gpu", "f32", "fit"),
        ("gaussmix-cpu-fit", "gaussmix", "cpu", "f64", "fit"),
        ("sklearn-torch-f64-fit", f"scikit-learn, array API, torch {tdev}", tdev, "f64", "fit"),
        ("sklearn-cpu-fit", "scikit-learn, numpy", "cpu", "f64", "fit"),
    ]
    results = {}
    failed = 0
    for key, label, device, dtype, kind in plan:
        t0 = time.perf_counter()
        if key in skip:
            r = {"unavailable": "left out (--skip)"}
        elif key.startswith("gaussmix"):
            if not have_gm:
                r = {"error": f"FAILED: no gaussmix executable at {args.gaussmix}"}
            elif kind == "iter":
                r = gaussmix_iter(args, clock, device)
            else:
                r = gaussmix_fit(args, clock, device)
        elif key.startswith("sklearn-torch"):
            if not torch_ok:
                r = {"unavailable": torch_why}
            else:
                env = dict(os.environ, SCIPY_ARRAY_API="1")
                r = run_piece(args, clock, key.replace("-f32", "").replace("-f64", ""),
                              ["--dtype", dtype], env)
        else:
            r = ({"unavailable": "scikit-learn not found"} if not sk else
                 run_piece(args, clock, key, ["--dtype", dtype]))
        if key.startswith("sklearn-torch") and kind == "fit":
            r.setdefault("init", "random_from_data")
        r.update(label=label, device_asked=device, dtype=dtype, kind=kind,
                 wall_s=time.perf_counter() - t0)
        results[key] = r
        if "error" in r:
            failed += 1
        status = r.get("error") or (("unavailable: " + r["unavailable"]) if "unavailable" in r
                                    else "ok")
        print(f"anchors: {key}: {status} ({r['wall_s']:.1f} s)", flush=True)

    # The tables.
    def cell(r, f, fmt, first=False):
        if "error" in r:
            return ("not run" if r["error"].startswith("not run") else "failed") if first else ""
        if "unavailable" in r:
            return "n/a" if first else ""
        return fmt.format(r[f]) if f in r else ""

    print()
    print(f"Per EM iteration, {args.n} x {args.d}, K = {args.k}, {args.covariance}; "
          f"(fit(1 + {args.iters}) - fit(1)) / {args.iters} from the same hard-label "
          f"initialisation, tol 0, fastest of {args.repeats} (gaussmix: of {max(args.repeats, 2)}) "
          "after a warm-up:")
    print()
    print("| implementation | device | dtype | s/iter | vs scikit-learn CPU |")
    print("|---|---|---|---:|---:|")
    base = results["sklearn-cpu-iter"].get("s_per_iter")
    for key, label, device, dtype, kind in plan:
        if kind != "iter":
            continue
        r = results[key]
        dev = r.get("device") or r.get("torch_device") or device
        s = r.get("s_per_iter")
        ratio = f"{base / s:.1f}x" if base and s and s > 0 else ""
        val = cell(r, "s_per_iter", "{:.4f}", True)
        if s is not None and s < 1e-4:
            val = "< 0.0001 (below the timing noise)"
        print(f"| {label} | {dev} | {dtype} | {val} | {ratio} |")
    print()
    print(f"Whole default fit (K = {args.k}, tol 1e-3, max_iter 100, k-means init unless "
          "said). fit s: the fit itself, initialisation included (gaussmix's as it prints it, "
          "opening the GPU included); wall s: the whole call (gaussmix's: a process that "
          "also reads the .npy and writes the model):")
    print()
    print("| implementation | device | init | fit s | wall s | iterations | converged |"
          " lower bound | fit s per iteration |")
    print("|---|---|---|---:|---:|---:|---|---:|---:|")
    for key, label, device, dtype, kind in plan:
        if kind != "fit":
            continue
        r = results[key]
        dev = r.get("device") or r.get("torch_device") or device
        per = (f"{r['fit_s'] / r['n_iter']:.4f}" if r.get("n_iter") else "")
        conv = "" if "converged" not in r else ("yes" if r["converged"] else "no")
        print(f"| {label} | {dev} | {r.get('init', 'kmeans')} | {cell(r, 'fit_s', '{:.3f}', True)} "
              f"| {cell(r, 'wall_fit_s', '{:.3f}')} | {cell(r, 'n_iter', '{}')} | {conv} "
              f"| {cell(r, 'lower_bound', '{:.6f}')} | {per} |")
    print()
    for key, r in results.items():
        if "error" in r or "unavailable" in r:
            print(f"anchors: note: {key}: {r.get('error') or 'unavailable: ' + r['unavailable']}")
    with open(os.path.join(args.out, "anchors.json"), "w") as f:
        json.dump({"n": args.n, "d": args.d, "k": args.k, "covariance": args.covariance,
                   "versions": v, "results": results}, f, indent=1)
    if failed:
        print(f"anchors: FAILED: {failed} piece(s) failed or timed out")
        sys.exit(1)
    print("anchors: done")


if __name__ == "__main__":
    main()
