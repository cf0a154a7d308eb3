"""Averaging tabular networks of different seeds: is it worth its fit time?

Each network of seed ``s + 100 k`` draws its own validation split, initialisation and
minibatches, and keeps its own best epoch; the ensemble of the first ``j`` averages
their probabilities (classifier) or outputs (regressor). Same data sets, splits, metric
and aggregate as ``tabular.py``; seeds 0-4; one BLAS thread. Usage::

    python benchmarks/seed_ensemble.py --datasets all --out seed_ensemble.json
"""

import argparse
import collections
import json
import os
import sys

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tabular import shifted_geomean  # noqa: E402
from tabular_data import DATASETS, prepare, score  # noqa: E402

from skmlp import TabularMLPClassifier, TabularMLPRegressor  # noqa: E402

SEEDS = range(5)
SIZES = (1, 2, 3)


def ensemble_scores(name, seed):
    """The test score of the averages of the first 1, 2 and 3 networks."""
    task = DATASETS[name].task
    X_train, X_test, y_train, y_test = prepare(name, seed)
    Est = TabularMLPClassifier if task == "classification" else TabularMLPRegressor
    models = [Est(random_state=seed + 100 * k).fit(X_train, y_train) for k in range(max(SIZES))]
    if task == "classification":
        P = np.cumsum([m.predict_proba(X_test) for m in models], axis=0)
        return [score(task, y_test, models[0].classes_[P[j - 1].argmax(axis=1)]) for j in SIZES]
    outputs = np.cumsum([m.predict(X_test) for m in models], axis=0)
    return [score(task, y_test, outputs[j - 1] / j) for j in SIZES]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="all")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    names = list(DATASETS) if args.datasets == "all" else args.datasets.split(",")
    records = []
    with threadpool_limits(1):
        for name in names:
            for seed in SEEDS:
                scores = ensemble_scores(name, seed)
                records.append({"dataset": name, "seed": seed, "task": DATASETS[name].task,
                                "scores": scores})
                print(name, seed, " ".join(f"{s:.4f}" for s in scores), flush=True)
    print("\n| task | " + " | ".join(f"{j} network(s)" for j in SIZES) + " |")
    print("|---" * (1 + len(SIZES)) + "|")
    for task in ("classification", "regression"):
        by = collections.defaultdict(list)
        for r in records:
            if r["task"] == task:
                by[r["dataset"]].append(r["scores"])
        if by:
            agg = [shifted_geomean([np.mean(v, axis=0)[i] for v in by.values()])
                   for i in range(len(SIZES))]
            print(f"| {task} | " + " | ".join(f"{a:.4f} ({a / agg[0]:.3f})" for a in agg) + " |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(records, f)


if __name__ == "__main__":
    main()
