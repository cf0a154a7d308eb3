"""Fit and predict speed, and memory, of skmlp against scikit-learn's MLPClassifier and
MLPRegressor, with skmlp's numba kernels on and off.

Everything runs in one process, interleaved (kernels, numpy, scikit-learn, kernels, ...),
and each time is the best of N, so a busy machine hurts all sides alike. Prints one
Markdown table.

    python benchmarks/bench_fit.py            # the full table (several minutes)
    python benchmarks/bench_fit.py --quick    # smaller data, one repeat: a smoke run

Cases:
  (a) make_classification 60k x 784, 10 classes, hidden (256,), batch 200, 5 epochs;
      adam and sgd; float32 and float64. GEMM-only bound: the matrix products of (a)
      timed alone. PyTorch: the same MLP trained by a plain CPU loop, when torch is
      importable.
  (b) digits, default parameters (small data: per-batch overhead dominates); its GEMM-only
      bound: the matrix products of the epochs the fit ran, timed alone
  (c) (a)'s data, hidden (512, 512, 512), 2 epochs, float32
  (d) GridSearchCV, 8 candidates x 3 folds on digits, end to end, n_jobs 1 and 2
  (e) regression: make_regression 60k x 100, hidden (256,), adam, 5 epochs, float64
  predict_proba on 10k rows and on one row; extra memory held during fit; the kernels'
  first-ever compile and the extra time of a first fit in a new process.
"""

import argparse
import gc
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings

import numpy as np
import sklearn
from joblib.externals.loky import get_reusable_executor
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

from skmlp import MLPClassifierFromScratch, MLPRegressorFromScratch, set_kernels

warnings.simplefilter("ignore", ConvergenceWarning)


def best_of(n, fn):
    times, out = [], None
    for _ in range(n):
        gc.collect()
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def interleaved(n, fns):
    """Best-of-n time of each function, running them in turn."""
    best = [np.inf] * len(fns)
    outs = [None] * len(fns)
    for _ in range(n):
        for i, fn in enumerate(fns):
            gc.collect()
            start = time.perf_counter()
            outs[i] = fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best, outs


def with_kernels(enabled, fn):
    """``fn`` run with the kernels on or off, here and in worker processes started for it."""
    def run():
        previous = set_kernels(enabled)
        os.environ["SKMLP_DISABLE_NUMBA"] = "0" if enabled else "1"
        try:
            return fn()
        finally:
            set_kernels(previous)
            del os.environ["SKMLP_DISABLE_NUMBA"]
    return run


def fresh_workers(fn):
    """``fn`` after stopping joblib's worker processes, so it starts its own (with the
    environment of the moment): every side of a parallel case pays the same start-up."""
    def run():
        get_reusable_executor().shutdown(wait=True)
        return fn()
    return run


def three_way(repeats, ours, theirs):
    """Times and results of ``ours`` with kernels, ``ours`` with numpy, and ``theirs``."""
    return interleaved(repeats, [with_kernels(True, ours), with_kernels(False, ours), theirs])


def big_data(n_train, dtype):
    X, y = make_classification(n_samples=n_train + 10_000, n_features=784, n_informative=100,
                               n_classes=10, random_state=0)
    X = StandardScaler().fit_transform(X).astype(dtype)
    return train_test_split(X, y, test_size=10_000, random_state=0)


def fit_three(X_tr, y_tr, X_te, y_te, repeats, ours=MLPClassifierFromScratch,
              theirs=MLPClassifier, **params):
    times, models = three_way(repeats, lambda: ours(**params).fit(X_tr, y_tr),
                              lambda: theirs(**params).fit(X_tr, y_tr))
    return times, [m.score(X_te, y_te) for m in models]


def gemm_bound(X, hidden, n_outputs, batch_size, epochs, repeats):
    """Time the matrix products of a fit of ``epochs`` epochs, and nothing else (batches in
    order, no gather: the products alone)."""
    dtype = X.dtype
    rng = np.random.default_rng(0)
    sizes = [X.shape[1], *hidden, n_outputs]
    Ws = [rng.normal(size=(a, b)).astype(dtype) for a, b in zip(sizes[:-1], sizes[1:])]
    As = [np.empty((batch_size, s), dtype) for s in sizes[1:]]
    Ds = [np.empty((batch_size, s), dtype) for s in sizes[1:]]
    Gs = [np.empty_like(W) for W in Ws]

    def run():
        for _ in range(epochs):
            for start in range(0, X.shape[0], batch_size):  # the last batch may be smaller
                A = X[start : start + batch_size]
                m = A.shape[0]
                inputs = [A]
                for W, out in zip(Ws, As):
                    np.matmul(inputs[-1], W, out=out[:m])
                    inputs.append(out[:m])
                D = inputs[-1]
                for i in range(len(Ws) - 1, -1, -1):
                    np.matmul(inputs[i].T, D, out=Gs[i])
                    if i:
                        np.matmul(D, Ws[i].T, out=Ds[i - 1][:m])
                        D = Ds[i - 1][:m]

    return best_of(repeats, run)[0]


def torch_loop(X_tr, y_tr, hidden, batch_size, epochs, lr, repeats):
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    X = torch.from_numpy(np.ascontiguousarray(X_tr))
    y = torch.from_numpy(y_tr.astype(np.int64))

    def run():
        layers, fan_in = [], X.shape[1]
        for h in hidden:
            layers += [torch.nn.Linear(fan_in, h, dtype=X.dtype), torch.nn.ReLU()]
            fan_in = h
        model = torch.nn.Sequential(*layers, torch.nn.Linear(fan_in, 10, dtype=X.dtype))
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=0.0)
        loss_fn = torch.nn.CrossEntropyLoss()
        g = torch.Generator().manual_seed(0)
        for _ in range(epochs):
            order = torch.randperm(X.shape[0], generator=g)
            for start in range(0, X.shape[0], batch_size):
                idx = order[start : start + batch_size]
                opt.zero_grad()
                loss = loss_fn(model(X[idx]), y[idx])
                loss.backward()
                opt.step()
        return model

    return best_of(repeats, run)[0]


def fit_memory(make, X, y, kernels=True, warm=False):
    """Memory of a fit, beyond what exists before it (X included), in MiB: the peak while
    it runs, and what the fitted estimator keeps. ``warm``: a second fit with
    ``warm_start=True``, measured alone."""
    previous = set_kernels(kernels)
    est = make()
    if warm:
        est.set_params(warm_start=True).fit(X, y)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    est.fit(X, y)
    peak = tracemalloc.get_traced_memory()[1]
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    set_kernels(previous)
    return (peak - base) / 2**20, (kept - base) / 2**20


def memory_row(case, makes, X, y, which, **kwargs):
    """A table row: one memory figure (0: peak, 1: kept) for kernels, numpy, scikit-learn."""
    ours, theirs = makes
    m = [fit_memory(ours, X, y, kernels=True, **kwargs)[which],
         fit_memory(ours, X, y, kernels=False, **kwargs)[which],
         fit_memory(theirs, X, y, **kwargs)[which]]
    return (f"| {case} (MiB) | {m[0]:.1f} | {m[1]:.1f} | {m[2]:.1f} | {m[0] / m[2]:.2f} | "
            f"{m[1] / m[2]:.2f} | | tracemalloc |")


FIRST_FIT = """
import time, warnings
warnings.simplefilter("ignore")
from sklearn.datasets import load_digits
from skmlp import MLPClassifierFromScratch
X, y = load_digits(return_X_y=True)
start = time.perf_counter()
MLPClassifierFromScratch(max_iter=1, random_state=0).fit(X[:200], y[:200])
print(time.perf_counter() - start)
"""


def first_fit(env, repeats):
    """Time of a tiny first fit in a new process (what import and compilation add)."""
    times = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", FIRST_FIT], capture_output=True, text=True,
                             env={**os.environ, **env}, check=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return min(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="6k samples, 1 repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n_train = 6_000 if args.quick else 60_000
    repeats = 1 if args.quick else args.repeats
    rows = []

    def row(case, times, scores=None, note=""):
        t_k, t_n, t_s = times
        acc = "" if scores is None else " / ".join(f"{s:.4f}" for s in (scores[0], scores[2]))
        rows.append(f"| {case} | {t_k:.3f} | {t_n:.3f} | {t_s:.3f} | {t_k / t_s:.2f} | "
                    f"{t_n / t_s:.2f} | {acc} | {note} |")
        print(rows[-1], flush=True)

    print(f"numpy {np.__version__}, scikit-learn {sklearn.__version__}, "
          f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores, "
          f"best of {repeats}\n")
    print("| case | skmlp kernels (s) | skmlp numpy (s) | scikit-learn (s) | ratio kernels | "
          "ratio numpy | score skmlp / sklearn | note |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |")

    # compile first, so that no case below pays it: the first-ever compile, in a new
    # process with an empty cache, and the first fit in a new process with a warm one.
    # The size rule would keep this tiny fit on numpy: the kernels are forced here
    forced = {"SKMLP_KERNELS_MIN_WORK": "0"}
    with tempfile.TemporaryDirectory() as cache:
        cold = first_fit({**forced, "NUMBA_CACHE_DIR": cache}, 1)
        warm = first_fit({**forced, "NUMBA_CACHE_DIR": cache}, max(repeats, 3))
    plain = first_fit({"SKMLP_DISABLE_NUMBA": "1"}, max(repeats, 3))
    warm_default = first_fit(forced, max(repeats, 3))
    rows.append(f"| first fit in a new process, kernels forced (1 epoch, 200 digits) | "
                f"{warm_default:.3f} | "
                f"{plain:.3f} | | | | | kernels add {warm_default - plain:.3f} s with a warm cache "
                f"({warm - plain:.3f} s from a cache just written to a new directory), "
                f"{cold - plain:.2f} s the first "
                f"time ever (compiling) |")
    print(rows[-1], flush=True)

    a_params = dict(hidden_layer_sizes=(256,), batch_size=200, max_iter=5, random_state=0)
    data = {}
    for dtype in (np.float32, np.float64):
        data[dtype] = big_data(n_train, dtype)
        X_tr, X_te, y_tr, y_te = data[dtype]
        gemm = gemm_bound(X_tr, (256,), 10, 200, 5, repeats)  # the same products for both
        for solver in ("adam", "sgd"):
            extra = {"learning_rate_init": 0.01} if solver == "sgd" else {}
            times, scores = fit_three(X_tr, y_tr, X_te, y_te, repeats, solver=solver,
                                      **a_params, **extra)
            note = (f"GEMM-only bound {gemm:.3f} s: kernels / bound = {times[0] / gemm:.2f}, "
                    f"numpy / bound = {times[1] / gemm:.2f}, scikit-learn / bound = "
                    f"{times[2] / gemm:.2f}")
            if dtype is np.float32:
                if solver == "adam":
                    t_torch = torch_loop(X_tr, y_tr, (256,), 200, 5, 1e-3, repeats)
                    if t_torch is not None:
                        note += (f"; PyTorch loop {t_torch:.3f} s: kernels / torch = "
                                 f"{times[0] / t_torch:.2f}")
            row(f"(a) {solver} {np.dtype(dtype).name}", times, scores, note)

    Xd, yd = load_digits(return_X_y=True)
    Xd_tr, Xd_te, yd_tr, yd_te = train_test_split(Xd, yd, random_state=0, stratify=yd)
    scaler = StandardScaler().fit(Xd_tr)
    Xd_tr, Xd_te = scaler.transform(Xd_tr), scaler.transform(Xd_te)
    for solver in ("adam", "sgd"):
        times, scores = fit_three(Xd_tr, yd_tr, Xd_te, yd_te, max(repeats, 3), solver=solver,
                                  random_state=0)
        # the floor of the same fit: its matrix products alone, as many epochs as it ran
        epochs = MLPClassifier(solver=solver, random_state=0).fit(Xd_tr, yd_tr).n_iter_
        gemm = gemm_bound(Xd_tr, (100,), 10, 200, epochs, max(repeats, 3))
        row(f"(b) digits {solver}, defaults", times, scores,
            f"GEMM-only bound {gemm:.3f} s ({epochs} epochs) = {gemm / times[2]:.2f} x "
            f"scikit-learn: kernels / bound = {times[0] / gemm:.2f}")

    X_tr, X_te, y_tr, y_te = data[np.float32]
    times, scores = fit_three(X_tr, y_tr, X_te, y_te, repeats,
                              hidden_layer_sizes=(512, 512, 512), batch_size=200, max_iter=2,
                              random_state=0)
    row("(c) adam float32, (512, 512, 512), 2 epochs", times, scores)

    grid = {"hidden_layer_sizes": [(64,), (128,)], "alpha": [1e-4, 1e-2],
            "learning_rate_init": [1e-3, 1e-2]}

    def search(cls, n_jobs):
        return lambda: GridSearchCV(cls(max_iter=100, random_state=0), grid, cv=3,
                                    n_jobs=n_jobs).fit(Xd_tr, yd_tr)

    times, searches = three_way(repeats, search(MLPClassifierFromScratch, 1),
                                search(MLPClassifier, 1))
    row("(d) GridSearchCV digits, 8 candidates x 3 folds, n_jobs=1", times,
        [s.best_score_ for s in searches])
    # n_jobs=2: each variant gets worker processes started with its own environment (the
    # kernels switch is read when skmlp is imported there), warmed up by one untimed search
    times, searches = [], []
    for variant in (with_kernels(True, search(MLPClassifierFromScratch, 2)),
                    with_kernels(False, search(MLPClassifierFromScratch, 2)),
                    search(MLPClassifier, 2)):
        fresh_workers(variant)()
        best, out = best_of(repeats, variant)
        times.append(best)
        searches.append(out)
    row("(d) GridSearchCV digits, 8 candidates x 3 folds, n_jobs=2 (warm workers)", times,
        [s.best_score_ for s in searches])

    Xr, yr = make_regression(n_samples=n_train + 10_000, n_features=100, n_informative=50,
                             noise=10.0, random_state=0)
    Xr = StandardScaler().fit_transform(Xr)
    yr = (yr - yr.mean()) / yr.std()
    Xr_tr, Xr_te, yr_tr, yr_te = train_test_split(Xr, yr, test_size=10_000, random_state=0)
    times, scores = fit_three(Xr_tr, yr_tr, Xr_te, yr_te, repeats, ours=MLPRegressorFromScratch,
                              theirs=MLPRegressor, **a_params)
    row("(e) regression 60k x 100, adam float64 (R^2)", times, scores)

    ours = MLPClassifierFromScratch(**a_params).fit(X_tr, y_tr)
    theirs = MLPClassifier(**a_params).fit(X_tr, y_tr)
    X10k, X1 = X_te[:10_000], X_te[:1]
    times, _ = three_way(max(repeats, 5), lambda: ours.predict_proba(X10k),
                         lambda: theirs.predict_proba(X10k))
    row("predict_proba, 10k rows", times)
    times, _ = three_way(max(repeats, 3), lambda: [ours.predict_proba(X1) for _ in range(1000)],
                         lambda: [theirs.predict_proba(X1) for _ in range(1000)])
    row("predict_proba, 1 row (x1000)", times)

    pair = (lambda: MLPClassifierFromScratch(**a_params), lambda: MLPClassifier(**a_params))
    rows.append(memory_row("extra memory during fit, (a) adam float32, peak", pair, X_tr, y_tr,
                           0))
    print(rows[-1])
    Xs, ys = make_classification(n_samples=5000, n_features=50, random_state=0)
    lbfgs = dict(hidden_layer_sizes=(500,), solver="lbfgs", max_iter=20, random_state=0)
    rows.append(memory_row("kept by the fitted model, lbfgs 5000 x 50, hidden (500,)",
                           (lambda: MLPClassifierFromScratch(**lbfgs),
                            lambda: MLPClassifier(**lbfgs)), Xs, ys, 1))
    print(rows[-1])
    big = dict(hidden_layer_sizes=(1000, 1000), max_iter=2, random_state=0)
    rows.append(memory_row("warm-start refit, 6k x 784, hidden (1000, 1000), peak",
                           (lambda: MLPClassifierFromScratch(**big), lambda: MLPClassifier(**big)),
                           X_tr[:6000], y_tr[:6000], 0, warm=True))
    print(rows[-1])


if __name__ == "__main__":
    main()
