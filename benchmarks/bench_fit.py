"""Fit and predict speed, and memory, of skmlp against scikit-learn's MLPClassifier.

Everything runs in one process, interleaved (ours, theirs, ours, ...), and each
time is the best of N, so a busy machine hurts both sides alike. Prints one
table in Markdown.

    python benchmarks/bench_fit.py            # the full table (a few minutes)
    python benchmarks/bench_fit.py --quick    # smaller data, for a smoke run

Cases:
  (a) make_classification 60k x 784, 10 classes, hidden (256,), batch 200,
      5 epochs; adam and sgd; float32 and float64
  (b) digits, default parameters (small data: per-batch overhead dominates)
  (c) (a)'s data, hidden (512, 512, 512), 2 epochs
  GEMM-only bound: the matrix products of (a) timed alone
  PyTorch: the same MLP trained by a plain CPU loop, when torch is importable
  predict_proba on 10k rows and on one row; extra memory held during fit.
"""

import argparse
import gc
import platform
import time
import tracemalloc
import warnings

import numpy as np
import sklearn
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from skmlp import MLPClassifierFromScratch

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


def big_data(n_train, dtype):
    X, y = make_classification(n_samples=n_train + 10_000, n_features=784, n_informative=100,
                               n_classes=10, random_state=0)
    X = StandardScaler().fit_transform(X).astype(dtype)
    return train_test_split(X, y, test_size=10_000, random_state=0)


def fit_pair(X_tr, y_tr, X_te, y_te, repeats, **params):
    fns = [lambda c=c: c(**params).fit(X_tr, y_tr)
           for c in (MLPClassifierFromScratch, MLPClassifier)]
    (t_ours, t_sk), (ours, sk) = interleaved(repeats, fns)
    return t_ours, t_sk, ours.score(X_te, y_te), sk.score(X_te, y_te)


def gemm_bound(X, hidden, n_outputs, batch_size, epochs, repeats):
    """Time the matrix products one (a) fit needs, and nothing else."""
    dtype = X.dtype
    rng = np.random.default_rng(0)
    sizes = [X.shape[1], *hidden, n_outputs]
    Ws = [rng.normal(size=(a, b)).astype(dtype) for a, b in zip(sizes[:-1], sizes[1:])]
    As = [np.empty((batch_size, s), dtype) for s in sizes[1:]]
    Ds = [np.empty((batch_size, s), dtype) for s in sizes[1:]]
    Gs = [np.empty_like(W) for W in Ws]

    def run():
        for _ in range(epochs):
            for start in range(0, X.shape[0] - batch_size + 1, batch_size):
                A = X[start : start + batch_size]
                inputs = [A]
                for W, out in zip(Ws, As):
                    np.matmul(inputs[-1], W, out=out)
                    inputs.append(out)
                D = As[-1]
                for i in range(len(Ws) - 1, -1, -1):
                    np.matmul(inputs[i].T, D, out=Gs[i])
                    if i:
                        np.matmul(D, Ws[i].T, out=Ds[i - 1])
                        D = Ds[i - 1]

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

    torch.set_num_threads(torch.get_num_threads())
    return best_of(repeats, run)[0]


def fit_memory(cls, X, y, **params):
    """Peak memory allocated during fit, beyond what exists before it (X included)."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    cls(**params).fit(X, y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / 2**20


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="6k samples, 1 repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n_train = 6_000 if args.quick else 60_000
    repeats = 1 if args.quick else args.repeats

    rows = []

    def row(case, t_ours, t_sk, acc_ours=None, acc_sk=None, note=""):
        acc = "" if acc_ours is None else f"{acc_ours:.4f} / {acc_sk:.4f}"
        rows.append(f"| {case} | {t_ours:.3f} | {t_sk:.3f} | {t_ours / t_sk:.2f} | {acc} | {note} |")
        print(rows[-1], flush=True)

    print(f"numpy {np.__version__}, scikit-learn {sklearn.__version__}, "
          f"Python {platform.python_version()}, {platform.machine()}, best of {repeats}\n")
    header = ("| case | skmlp (s) | scikit-learn (s) | ratio | accuracy skmlp / sklearn | note |\n"
              "| --- | ---: | ---: | ---: | --- | --- |")
    print(header)

    a_params = dict(hidden_layer_sizes=(256,), batch_size=200, max_iter=5, random_state=0)
    data = {}
    for dtype in (np.float32, np.float64):
        data[dtype] = big_data(n_train, dtype)
        X_tr, X_te, y_tr, y_te = data[dtype]
        for solver in ("adam", "sgd"):
            extra = {"learning_rate_init": 0.01} if solver == "sgd" else {}
            t_o, t_s, a_o, a_s = fit_pair(X_tr, y_tr, X_te, y_te, repeats, solver=solver,
                                          **a_params, **extra)
            note = ""
            if dtype is np.float32:
                gemm = gemm_bound(X_tr, (256,), 10, 200, 5, repeats)
                note = f"GEMM-only bound {gemm:.3f} s; skmlp / bound = {t_o / gemm:.2f}"
                if solver == "adam":
                    t_torch = torch_loop(X_tr, y_tr, (256,), 200, 5, 1e-3, repeats)
                    if t_torch is not None:
                        note += f"; PyTorch loop {t_torch:.3f} s (skmlp / torch = {t_o / t_torch:.2f})"
            row(f"(a) {solver} {np.dtype(dtype).name}", t_o, t_s, a_o, a_s, note)

    Xd, yd = load_digits(return_X_y=True)
    Xd_tr, Xd_te, yd_tr, yd_te = train_test_split(Xd, yd, random_state=0, stratify=yd)
    scaler = StandardScaler().fit(Xd_tr)
    Xd_tr, Xd_te = scaler.transform(Xd_tr), scaler.transform(Xd_te)
    for solver in ("adam", "sgd"):
        t_o, t_s, a_o, a_s = fit_pair(Xd_tr, yd_tr, Xd_te, yd_te, max(repeats, 3),
                                      solver=solver, random_state=0)
        row(f"(b) digits {solver}, defaults", t_o, t_s, a_o, a_s)

    X_tr, X_te, y_tr, y_te = data[np.float32]
    t_o, t_s, a_o, a_s = fit_pair(X_tr, y_tr, X_te, y_te, repeats,
                                  hidden_layer_sizes=(512, 512, 512), batch_size=200,
                                  max_iter=2, random_state=0)
    row("(c) adam float32, (512, 512, 512), 2 epochs", t_o, t_s, a_o, a_s)

    ours = MLPClassifierFromScratch(**a_params).fit(X_tr, y_tr)
    theirs = MLPClassifier(**a_params).fit(X_tr, y_tr)
    X10k, X1 = X_te[:10_000], X_te[:1]
    (t_o, t_s), _ = interleaved(max(repeats, 5), [lambda: ours.predict_proba(X10k),
                                                   lambda: theirs.predict_proba(X10k)])
    row("predict_proba, 10k rows", t_o, t_s)
    one = [lambda: [ours.predict_proba(X1) for _ in range(1000)],
           lambda: [theirs.predict_proba(X1) for _ in range(1000)]]
    (t_o, t_s), _ = interleaved(max(repeats, 3), one)
    row("predict_proba, 1 row (x1000)", t_o, t_s)

    m_o = fit_memory(MLPClassifierFromScratch, X_tr, y_tr, solver="adam", **a_params)
    m_s = fit_memory(MLPClassifier, X_tr, y_tr, solver="adam", **a_params)
    rows.append(f"| extra memory during fit, (a) adam float32 (MiB) | {m_o:.1f} | {m_s:.1f} | "
                f"{m_o / m_s:.2f} | | tracemalloc peak beyond X |")
    print(rows[-1])


if __name__ == "__main__":
    main()
