"""Fit time of the skmlp in the working tree against the skmlp of an earlier commit.

The earlier package is extracted with ``git archive`` into a temporary directory and
imported as ``skmlp_then``; both train in one process, interleaved with each other
and with scikit-learn, best of N. Prints a Markdown table.

    python benchmarks/bench_against_commit.py 519d3c7
"""

import argparse
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from io import BytesIO
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from skmlp import MLPClassifierFromScratch, set_kernels  # noqa: E402

warnings.simplefilter("ignore", ConvergenceWarning)


def import_commit(rev, where):
    """The package ``skmlp`` of commit ``rev``, imported as ``skmlp_then``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "skmlp"],
                             capture_output=True, check=True).stdout
    tarfile.open(fileobj=BytesIO(archive)).extractall(where, filter="data")
    (Path(where) / "skmlp").rename(Path(where) / "skmlp_then")
    sys.path.insert(0, str(where))
    import skmlp_then
    return skmlp_then.MLPClassifierFromScratch


def best_of(repeats, fns):
    best = dict.fromkeys(fns, np.inf)
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    set_kernels(True)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the earlier commit")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as where:
        Then = import_commit(args.rev, where)
        cases = []
        X, y = load_digits(return_X_y=True)
        for solver in ("adam", "sgd"):  # a fixed number of epochs: inits may differ
            cases.append((f"digits {solver}, 100 epochs", X, y,
                          dict(solver=solver, max_iter=100, n_iter_no_change=1000)))
        Xa, ya = make_classification(n_samples=60_000, n_features=784, n_informative=50,
                                     n_classes=10, random_state=0)
        for dtype in (np.float32, np.float64):
            for solver in ("adam", "sgd"):
                cases.append((f"(a) {solver} {np.dtype(dtype).name}, 5 epochs",
                              Xa.astype(dtype), ya,
                              dict(hidden_layer_sizes=(256,), solver=solver, max_iter=5)))
        print(f"| case | {args.rev} (s) | numpy now (s) | kernels now (s) | scikit-learn (s) "
              "| numpy now / then |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for name, X, y, params in cases:
            params = {**params, "random_state": 0}

            def now(kernels, X=X, y=y, params=params):
                set_kernels(kernels)
                MLPClassifierFromScratch(**params).fit(X, y)

            t = best_of(args.repeats, {
                "then": lambda X=X, y=y, params=params: Then(**params).fit(X, y),
                "numpy": lambda: now(False), "kernels": lambda: now(True),
                "sklearn": lambda X=X, y=y, params=params: MLPClassifier(**params).fit(X, y)})
            print(f"| {name} | {t['then']:.3f} | {t['numpy']:.3f} | {t['kernels']:.3f} | "
                  f"{t['sklearn']:.3f} | {t['numpy'] / t['then']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
