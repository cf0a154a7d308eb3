"""Fit time of the tabular estimators on the numpy path, and where it goes.

Each case fits with ``random_state=0`` on one BLAS thread; the time is the median of
``--repeats`` fits. ``--profile`` adds a cProfile breakdown (cumulative and own time of
the top functions) of one more fit of each case.

    python benchmarks/bench_tabular_fit.py                 # the table
    python benchmarks/bench_tabular_fit.py --profile       # and the profiles
    python benchmarks/bench_tabular_fit.py --cases digits  # some cases only

``--save PATH`` writes every case's fitted numbers (parameters, loss curve, validation
scores, predictions on the training rows) to an ``.npz``; ``--check PATH`` compares them
with a saved file bitwise (``np.array_equal``) and fails on any difference. A speed-up
of the fit must pass ``--check`` against the numbers saved before it.
"""

import argparse
import cProfile
import gc
import io
import os
import pstats
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits, make_classification, make_regression  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from skmlp import TabularMLPClassifier, TabularMLPRegressor  # noqa: E402

REGULARISED = {"parametric_activation": True, "dropout": 0.15, "dropout_schedule": "flat_cos",
               "weight_decay": 0.02, "weight_decay_schedule": "flat_cos"}


def _data():
    digits = load_digits(return_X_y=True)
    clf = make_classification(3000, 20, n_informative=10, n_classes=3, random_state=0)
    reg = make_regression(3000, 20, n_informative=10, noise=10.0, random_state=0)
    rng = np.random.default_rng(0)
    weights = rng.uniform(0.2, 2.0, size=3000)
    return digits, clf, reg, weights


def cases():
    """name -> (estimator factory, X, y, fit keyword arguments)."""
    digits, clf, reg, weights = _data()
    C, R = TabularMLPClassifier, TabularMLPRegressor
    return {
        "digits": (lambda: C(random_state=0), *digits, {}),
        "clf3000": (lambda: C(random_state=0), *clf, {}),
        "reg3000": (lambda: R(random_state=0), *reg, {}),
        "clf_members2": (lambda: C(n_members=2, random_state=0), *clf, {}),
        "clf_regularised": (lambda: C(random_state=0, **REGULARISED), *clf, {}),
        "reg_regularised": (lambda: R(random_state=0, **REGULARISED), *reg, {}),
        "clf_float64": (lambda: C(dtype="float64", random_state=0), *clf, {}),
        "clf_weighted": (lambda: C(random_state=0), *clf, {"sample_weight": weights}),
        "reg_no_embedding": (lambda: R(numerical_embedding=None, random_state=0), *reg, {}),
        "clf_no_averaging": (lambda: C(averaging=None, random_state=0), *clf, {}),
        "reg_clipped": (lambda: R(max_grad_norm=1.0, random_state=0), *reg, {}),
        "clf_members3_dropout": (lambda: C(n_members=3, dropout=0.1, random_state=0),
                                 *clf, {}),
    }


#: the cases timed by default (the others are there for --save / --check)
TIMED = ("digits", "clf3000", "reg3000", "clf_members2", "clf_regularised")


def results(est, X):
    """The numbers a fit computed, as name -> array."""
    out = {"params": est.network_.params, "loss_curve": np.asarray(est.loss_curve_),
           "validation_scores": np.asarray(est.validation_scores_, dtype=float),
           "predict": np.asarray(est.predict(X))}
    if hasattr(est, "predict_proba"):
        out["predict_proba"] = est.predict_proba(X)
    return out


def time_case(make, X, y, kwargs, repeats):
    """Wall-clock times of ``repeats`` fits, their median, and the median process CPU time
    (on one thread the same work, but not inflated by other processes taking the core)."""
    times, cpu = [], []
    for _ in range(repeats):
        est = make()
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        est.fit(X, y, **kwargs)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(times), times, statistics.median(cpu)


def profile_case(make, X, y, kwargs, top):
    est = make()
    prof = cProfile.Profile()
    prof.enable()
    est.fit(X, y, **kwargs)
    prof.disable()
    for key in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(prof, stream=text).strip_dirs().sort_stats(key).print_stats(top)
        lines = text.getvalue().splitlines()
        start = next(i for i, line in enumerate(lines) if "ncalls" in line)
        print(f"  -- by {key}")
        print("\n".join("  " + line for line in lines[start:start + top + 1]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", help="case names (default: the timed ones)")
    parser.add_argument("--all", action="store_true", help="time every case")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--save", help="write every case's numbers to this .npz")
    parser.add_argument("--check", help="compare every case's numbers with this .npz")
    args = parser.parse_args(argv)
    table = cases()
    with threadpool_limits(limits=1):
        if args.save or args.check:
            got = {}
            for name, (make, X, y, kwargs) in table.items():
                est = make().fit(X, y, **kwargs)
                got.update({f"{name}/{k}": v for k, v in results(est, X).items()})
            if args.save:
                np.savez(args.save, **got)
                print(f"saved {len(got)} arrays of {len(table)} cases to {args.save}")
            if args.check:
                ref = np.load(args.check)
                bad = [k for k in ref.files if k not in got or not np.array_equal(
                    ref[k], got[k], equal_nan=True) or ref[k].dtype != got[k].dtype]
                bad += [k for k in got if k not in ref.files]
                if bad:
                    print("DIFFERENT:", ", ".join(bad))
                    return 1
                print(f"bitwise equal: {len(ref.files)} arrays of {len(table)} cases")
            if not (args.cases or args.all or args.profile):
                return 0
        names = args.cases or (list(table) if args.all else list(TIMED))
        print(f"numpy {np.__version__}, 1 BLAS thread, median of {args.repeats} fits")
        print(f"{'case':24s} {'median s':>9s} {'cpu s':>7s}  fits (wall s)")
        for name in names:
            make, X, y, kwargs = table[name]
            median, times, cpu = time_case(make, X, y, kwargs, args.repeats)
            print(f"{name:24s} {median:9.3f} {cpu:7.3f}  "
                  + " ".join(f"{t:.3f}" for t in times), flush=True)
        if args.profile:
            for name in names:
                print(f"\nprofile of {name}")
                make, X, y, kwargs = table[name]
                profile_case(make, X, y, kwargs, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
