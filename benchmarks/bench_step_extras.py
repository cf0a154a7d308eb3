"""Fits with MLP*FromScratch's step extras: the compiled epoch loop against the Python loop.

Digits (``X / 16``), the classifier with a cosine schedule, decoupled weight decay,
gradient clipping and a weight average (optionally label smoothing), one BLAS thread:
the compiled loop, the Python loop with the per-step kernels (what these fits ran
before the loop covered the extras: ``covers`` is made to refuse them), and the numpy
path; scikit-learn's default fit of the same data is the yardstick. Every variant trains
the same model (bitwise; ``tests/test_compiled_epochs.py``). Usage::

    python benchmarks/bench_step_extras.py [--label-smoothing]
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from skmlp import MLPClassifierFromScratch, _epoch_loop, use_kernels


def seconds(fit):
    start = time.perf_counter()
    model = fit()
    return time.perf_counter() - start, model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label-smoothing", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    X, y = load_digits(return_X_y=True)
    X = X / 16
    extras = dict(lr_schedule="cosine", ema_decay=0.99, weight_decay=0.01, max_grad_norm=5.0)
    if args.label_smoothing:
        extras["label_smoothing"] = 0.1
    real = _epoch_loop.covers

    def refusing(*a, extras=None, **k):
        return False if extras is not None else real(*a, **k)

    def ours(kernels, compiled=True):
        def fit():
            _epoch_loop.covers = real if compiled else refusing
            try:
                with use_kernels(kernels):
                    return MLPClassifierFromScratch(random_state=0, **extras).fit(X, y)
            finally:
                _epoch_loop.covers = real
        return fit

    variants = {
        "scikit-learn MLPClassifier, defaults": lambda: MLPClassifier(random_state=0).fit(X, y),
        "extras, compiled epochs": ours(True),
        "extras, Python loop + kernels": ours(True, compiled=False),
        "extras, numpy": ours(False),
    }
    with threadpool_limits(1):
        ours(True)()  # loads (or compiles) the kernels and the loop
        times = {name: [] for name in variants}
        epochs = {}
        for _ in range(args.repeats):  # interleaved, so that load changes hit all alike
            for name, fit in variants.items():
                t, model = seconds(fit)
                times[name].append(t)
                epochs[name] = model.n_iter_
    print(f"extras: {extras}")
    print("| variant | fit s (median) | ms per epoch | epochs |\n|---|---:|---:|---:|")
    for name, ts in times.items():
        t = float(np.median(ts))
        print(f"| {name} | {t:.3f} | {1000 * t / epochs[name]:.2f} | {epochs[name]} |")


if __name__ == "__main__":
    main()
