"""Start-up, grid search and one-row prediction against scikit-learn (issue 19).

    python benchmarks/bench_startup.py fresh [--runs 5]   # whole processes: time, peak RSS
    python benchmarks/bench_startup.py grid [--runs 1]    # GridSearchCV 8 x 3, fresh processes
    python benchmarks/bench_startup.py warm               # kernels on vs off, one process
    python benchmarks/bench_startup.py onerow             # predict_proba on one row
    python benchmarks/bench_startup.py cold [--runs 1]    # a first fit ever: empty numba cache

fresh: a new process imports the estimator, fits digits (X / 16, defaults, random_state=0)
once and predicts it: scikit-learn's MLPClassifier, skmlp with the size rule
(``SKMLP_KERNELS_MIN_WORK=4e9``) and skmlp without it (``=0``: the first fit loads numba).
Paired runs in rotating order; wall time of the whole process and its peak RSS (wait4).
grid: GridSearchCV(max_iter=100, 2 x 2 x 2 grid, cv=3) on digits, each in a new process
so that n_jobs=2 starts fresh loky workers (they inherit the environment).
warm: one process, the kernels loaded, every case fitted with use_kernels(True/False).
onerow: best per-call time of predict_proba(X[:1]) over many calls.
cold: the first fit on a machine, each in a new process with an empty ``NUMBA_CACHE_DIR``:
the default rule (cold cache: fits below ``KERNELS_MIN_WORK x COLD_CACHE_FACTOR`` run numpy),
``SKMLP_KERNELS_MIN_WORK=0`` (the kernels compile: what every fit above 4e9 did before the
cold-cache rule), numpy only, and the default rule again on the cache the compiling run
filled (warm). Fit time inside the process, and the whole process's wall time.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

VARIANTS = {  # name: (estimator, extra environment)
    "sklearn": ("sklearn", {}),
    "skmlp rule": ("skmlp", {"SKMLP_KERNELS_MIN_WORK": "4e9"}),
    "skmlp no rule": ("skmlp", {"SKMLP_KERNELS_MIN_WORK": "0"}),
}

PRELUDE = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
from sklearn.datasets import load_digits
if sys.argv[1] == "sklearn":
    from sklearn.neural_network import MLPClassifier as C
else:
    from skmlp import MLPClassifierFromScratch as C
X, y = load_digits(return_X_y=True)
X = X / 16
"""

FRESH = PRELUDE + """
C(random_state=0).fit(X, y).predict(X)
"""

GRID = PRELUDE + """
from sklearn.model_selection import GridSearchCV
grid = {"hidden_layer_sizes": [(64,), (128,)], "alpha": [1e-4, 1e-2],
        "learning_rate_init": [1e-3, 1e-2]}
start = time.perf_counter()
search = GridSearchCV(C(max_iter=100, random_state=0), grid, cv=3,
                      n_jobs=int(sys.argv[2])).fit(X, y)
print(json.dumps({"seconds": time.perf_counter() - start, "score": search.best_score_}))
"""


def run(script, variant, *args):
    """Wall seconds and peak RSS (MiB) of a new process running ``script``, and its stdout."""
    estimator, extra = VARIANTS[variant]
    env = {k: v for k, v in os.environ.items() if k != "SKMLP_DISABLE_NUMBA"}
    env.update(extra)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", script, estimator, *map(str, args)],
                            env=env, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{variant} failed with exit code {proc.returncode}")
    return seconds, usage.ru_maxrss / 1024, out  # ru_maxrss is in KiB on Linux


def load():
    return os.getloadavg()[0]


def fresh(runs):
    names = list(VARIANTS)
    times = {n: [] for n in names}
    rss = {n: [] for n in names}
    loads = []
    for i in range(runs):
        loads.append(load())
        for n in names[i % len(names):] + names[:i % len(names)]:  # rotating order
            seconds, mib, _ = run(FRESH, n)
            times[n].append(seconds)
            rss[n].append(mib)
    print(f"fresh process, {runs} paired runs, load average {min(loads):.1f}-{max(loads):.1f}")
    ref_t, ref_m = np.array(times["sklearn"]), np.array(rss["sklearn"])
    for n in names:
        t, m = np.array(times[n]), np.array(rss[n])
        ratio = t / ref_t
        print(f"  {n:14s} time median {np.median(t):.2f} s ({t.min():.2f}-{t.max():.2f}), "
              f"ratio median {np.median(ratio):.2f} ({ratio.min():.2f}-{ratio.max():.2f}); "
              f"peak RSS median {np.median(m):.0f} MiB ({np.median(m / ref_m):.2f} x)")


def grid(runs):
    for n_jobs in (1, 2):
        for i in range(runs):
            row = {}
            before = load()
            for n in VARIANTS:
                _, mib, out = run(GRID, n, n_jobs)
                row[n] = json.loads(out.strip().splitlines()[-1])
            base = row["sklearn"]["seconds"]
            print(f"grid n_jobs={n_jobs} run {i + 1}, load average {before:.1f}: " + "; ".join(
                f"{n} {r['seconds']:.1f} s ({r['seconds'] / base:.2f} x, "
                f"best {r['score']:.4f})" for n, r in row.items()), flush=True)


def warm():
    import warnings

    from sklearn.datasets import load_digits

    import skmlp

    warnings.simplefilter("ignore")
    C = skmlp.MLPClassifierFromScratch
    X, y = load_digits(return_X_y=True)
    X = X / 16
    rng = np.random.default_rng(0)
    cases = {
        "digits, defaults": (X, y, {}),
        "digits, 20 epochs": (X, y, {"max_iter": 20}),
        "300 x 4, 200 epochs": (rng.normal(size=(300, 4)), rng.integers(0, 3, 300), {}),
        "10k x 50, 20 epochs": (rng.normal(size=(10_000, 50)), rng.integers(0, 10, 10_000),
                                {"max_iter": 20}),
        "60k x 784 float32, (256,), 1 epoch": (
            rng.normal(size=(60_000, 784)).astype(np.float32), rng.integers(0, 10, 60_000),
            {"max_iter": 1, "hidden_layer_sizes": (256,)}),
    }
    with skmlp.use_kernels(True):
        C(max_iter=1).fit(X, y)  # loads the kernels: what follows is warm
    print(f"warm process, load average {load():.1f}")
    for name, (Xc, yc, params) in cases.items():
        best = {}
        for on in (True, False, True, False, True, False):
            with skmlp.use_kernels(on):
                start = time.perf_counter()
                model = C(random_state=0, **params).fit(Xc, yc)
                seconds = time.perf_counter() - start
            best[on] = min(best.get(on, np.inf), seconds)
        sizes = [Xc.shape[1], *model.hidden_layer_sizes]
        work = Xc.shape[0] * model.n_iter_ * sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
        print(f"  {name:36s} work {work:.1e}: kernels {best[True]:.3f} s, numpy "
              f"{best[False]:.3f} s, saved {best[False] - best[True]:.3f} s "
              f"({(best[False] - best[True]) / work:.1e} s per unit)", flush=True)


COLD = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np
import skmlp
from skmlp import _config
n, d, epochs = (int(a) for a in sys.argv[1:4])
rng = np.random.default_rng(0)
X, y = rng.normal(size=(n, d)), rng.integers(0, 10, n)
start = time.perf_counter()
model = skmlp.MLPClassifierFromScratch(max_iter=epochs, tol=0, random_state=0).fit(X, y)
print(json.dumps({"fit": time.perf_counter() - start,
                  "kernels": _config._state["module"] is not None}))
"""

COLD_CASES = {  # rows x features x epochs, hidden (100,): work = rows x (features + 1) x 100
    "digits-sized 1797 x 64, 200 epochs (2.3e9)": (1797, 64, 200),
    "10k x 50, 200 epochs (1.0e10)": (10_000, 50, 200),
    "20k x 100, 200 epochs (4.0e10)": (20_000, 100, 200),
    "50k x 200, 100 epochs (1.0e11)": (50_000, 200, 100),
    "60k x 300, 100 epochs (1.8e11)": (60_000, 300, 100),
}


def cold(runs):
    import shutil
    import tempfile

    def one(case, cache, **env):
        full = {k: v for k, v in os.environ.items() if k != "SKMLP_DISABLE_NUMBA"}
        full.update(NUMBA_CACHE_DIR=cache, **env)
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", COLD, *map(str, case)], env=full,
                             capture_output=True, text=True, check=True).stdout
        wall = time.perf_counter() - start
        r = json.loads(out.strip().splitlines()[-1])
        return f"{r['fit']:.2f} s fit, {wall:.2f} s process{' (kernels)' if r['kernels'] else ''}"

    print(f"first fit ever (empty numba cache), load average {load():.1f}")
    for name, case in COLD_CASES.items():
        for _ in range(runs):
            cold_dir, warm_dir = tempfile.mkdtemp(), tempfile.mkdtemp()
            try:
                row = {"default rule": one(case, cold_dir),
                       "rule off (compiles)": one(case, warm_dir, SKMLP_KERNELS_MIN_WORK="0"),
                       "numpy": one(case, cold_dir, SKMLP_DISABLE_NUMBA="1"),
                       "default rule, warm cache": one(case, warm_dir)}
            finally:
                shutil.rmtree(cold_dir)
                shutil.rmtree(warm_dir)
            print(f"  {name}: " + "; ".join(f"{k} {v}" for k, v in row.items()), flush=True)


def onerow():
    import timeit
    import warnings

    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier

    from skmlp import MLPClassifierFromScratch

    warnings.simplefilter("ignore")
    X, y = load_digits(return_X_y=True)
    X = X / 16
    rng = np.random.default_rng(0)
    Xm, ym = rng.random((2000, 784)), rng.integers(0, 10, 2000)
    print(f"one-row predict_proba, best of 7 x 2000 calls, load average {load():.1f}")
    for name, (Xc, yc, params) in {"digits (100,)": (X, y, {"max_iter": 20}),
                                   "784 -> 256 -> 10": (Xm, ym, {"max_iter": 2,
                                                                  "hidden_layer_sizes": (256,)})
                                   }.items():
        ours = MLPClassifierFromScratch(random_state=0, **params).fit(Xc, yc)
        theirs = MLPClassifier(random_state=0, **params).fit(Xc, yc)
        row = Xc[:1]
        t = [min(timeit.repeat(lambda m=m, row=row: m.predict_proba(row), number=2000,
                               repeat=7)) / 2000 for m in (ours, theirs)]
        print(f"  {name:18s} ours {t[0] * 1e6:.1f} us, sklearn {t[1] * 1e6:.1f} us, "
              f"{t[0] / t[1]:.2f} x", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["fresh", "grid", "warm", "onerow", "cold"])
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args()
    if args.what == "fresh":
        fresh(args.runs or 5)
    elif args.what == "grid":
        grid(args.runs or 1)
    elif args.what == "warm":
        warm()
    elif args.what == "cold":
        cold(args.runs or 1)
    else:
        onerow()
