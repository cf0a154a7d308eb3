"""The compiled epoch loop (skmlp._epoch_loop) on digits, against the Python loop and
scikit-learn (issue 19, item 1).

    python benchmarks/bench_epoch_loop.py [--runs 7] [--epochs 200]

Digits, X / 16, MLPClassifier's defaults (hidden (100,), adam, batches of 200,
``max_iter=200``, ``random_state=0``), adam and sgd, float64 and float32. Each fit is
timed whole (``fit``), in one process, the variants interleaved, and the median of
``--runs`` is reported:

* ``python loop``: MLPClassifierFromScratch with the numba kernels on
  (``use_kernels(True)``), the epoch loop of ``skmlp._solvers.run_epoch``;
* ``compiled``: the same, with the driver's ``run_epoch`` replaced, for this process
  only, by one that runs ``skmlp._epoch_loop.run_epoch_compiled`` (and falls back to the
  Python loop where it declines): the call ``_solvers.run_epoch`` is to make;
* ``numpy``: the numpy path (``use_kernels(False)``);
* ``scikit-learn``: MLPClassifier.

The table is printed twice: OpenBLAS on one thread, then its default, each in a child
process of its own (the variable is read when the library loads), with the load
average of the machine before each. Every variant's weights are compared with
scikit-learn's (``same``: bitwise).

Measured 2026-12-04 at f3fe155 (quiet machine, load 0.4-1.5, medians of 5): compiled /
scikit-learn 0.44-0.46 (float64), 0.34-0.38 (float32); compiled / Python loop 0.70-0.74
(float64), 0.61-0.65 (float32); one BLAS thread or the default alike; every variant's
weights bitwise scikit-learn's. The compiled float64 epoch is ~1.9 ms, of which the
GEMMs alone take ~1.3 ms.
"""

import argparse
import os
import subprocess
import sys
import time
import warnings

import numpy as np


def child(runs, epochs):
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    import skmlp._drivers as drivers
    from skmlp import MLPClassifierFromScratch, use_kernels
    from skmlp._solvers import run_epoch

    warnings.simplefilter("ignore", ConvergenceWarning)
    with use_kernels(True):
        from skmlp import _config
        assert _config.kernels() is not None, "the numba kernels did not load"
    from skmlp._epoch_loop import run_epoch_compiled

    ran = {"compiled": 0, "python": 0}

    def run_epoch_fast(net, optimizer, X, Y, sample_weight, batch_size, *, alpha=0.0,
                       order=None, dropout=None, rng=None, extras=None):
        if extras is None:
            loss = run_epoch_compiled(net, optimizer, X, Y, sample_weight, batch_size,
                                      alpha=alpha, order=order, dropout=dropout, rng=rng)
            if loss is not None:
                ran["compiled"] += 1
                return loss
        ran["python"] += 1
        return run_epoch(net, optimizer, X, Y, sample_weight, batch_size, alpha=alpha,
                         order=order, dropout=dropout, rng=rng, extras=extras)

    X, y = load_digits(return_X_y=True)
    X = X / 16

    def fit(variant, solver, dt):
        params = dict(solver=solver, max_iter=epochs, random_state=0)
        Xd = X.astype(dt)
        if variant == "scikit-learn":
            return MLPClassifier(**params).fit(Xd, y)
        est = MLPClassifierFromScratch(**params)
        if variant == "numpy":
            with use_kernels(False):
                return est.fit(Xd, y)
        if variant == "python loop":
            with use_kernels(True):
                return est.fit(Xd, y)
        drivers.run_epoch = run_epoch_fast
        try:
            with use_kernels(True):
                return est.fit(Xd, y)
        finally:
            drivers.run_epoch = run_epoch

    variants = ["python loop", "compiled", "numpy", "scikit-learn"]
    rows = []
    for solver in ("adam", "sgd"):
        for dt in (np.float64, np.float32):
            for v in variants:  # warm-up: compile or load every signature first
                fit(v, solver, dt)
            times = {v: [] for v in variants}
            models = {}
            for _ in range(runs):
                for v in variants:
                    start = time.perf_counter()
                    models[v] = fit(v, solver, dt)
                    times[v].append(time.perf_counter() - start)
            ref = models["scikit-learn"]
            med = {v: float(np.median(times[v])) for v in variants}
            same = {v: all(np.array_equal(a, b) for a, b in zip(
                models[v].coefs_ + models[v].intercepts_, ref.coefs_ + ref.intercepts_))
                for v in variants}
            rows.append((solver, np.dtype(dt).name, ref.n_iter_, med, same))
    print(f"compiled epochs: {ran['compiled']}, epochs declined to the Python loop: "
          f"{ran['python']}")
    print("| case | epochs | python loop (s) | compiled (s) | numpy (s) | scikit-learn (s) "
          "| compiled / python loop | compiled / scikit-learn | python loop / scikit-learn "
          "| same weights as scikit-learn |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for solver, dt, n_iter, med, same in rows:
        sk = med["scikit-learn"]
        print(f"| digits {solver} {dt} | {n_iter} | {med['python loop']:.3f} | "
              f"{med['compiled']:.3f} | {med['numpy']:.3f} | {sk:.3f} | "
              f"{med['compiled'] / med['python loop']:.2f} | {med['compiled'] / sk:.2f} | "
              f"{med['python loop'] / sk:.2f} | "
              f"{', '.join(v for v in variants if same[v]) or 'none'} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.runs, args.epochs)
        return
    for threads in ("1", None):
        env = dict(os.environ)
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.pop(name, None)
            if threads is not None:
                env[name] = threads
        print(f"\nOpenBLAS threads: {threads or 'default'}; load average before: "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        subprocess.run([sys.executable, __file__, "--child", "--runs", str(args.runs),
                        "--epochs", str(args.epochs)], env=env, check=True)
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
