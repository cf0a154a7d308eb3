"""Which epoch the tabular estimators keep, and on which rows: two alternatives measured.

The defaults hold out 20 % of the training rows and keep the epoch whose weights score
best on them (validation accuracy or R^2; ties go to the later epoch). Measured against
that, on the same data sets, splits, metric and aggregate as ``tabular.py``:

- ``refit``: train a second network on *all* training rows (``validation_fraction=0``)
  with the same epoch budget, so the same schedule, and stop it at the epoch the first
  fit chose. It costs up to a second fit.
- ``average``: the mean of the first and the refitted network's probabilities / outputs.
- ``acc+loss`` (classifier): the best validation accuracy, ties broken by the lower
  validation log-loss instead of the later epoch.
- ``loss`` (classifier): the lowest validation log-loss.

The two selection rules are subclasses that override ``_validation_score`` (the score
the estimator keeps the best epoch by); nothing else changes. Usage::

    python benchmarks/epoch_choice.py --task classification --seeds 0 1 2 3 4
"""

import argparse
import collections
import os
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tabular import shifted_geomean  # noqa: E402
from tabular_data import DATASETS, prepare, score  # noqa: E402

from skmlp import TabularMLPClassifier, TabularMLPRegressor  # noqa: E402
from skmlp._activations import log_softmax  # noqa: E402


def _validation_log_loss(net, flat, X_val, codes, sample_weight):
    with np.errstate(all="ignore"):
        Z = net.forward(X_val, flat)[0].astype(np.float64)
    true = log_softmax(Z)[np.arange(Z.shape[0]), codes[:, 0]]
    return Z, -float(np.average(true, weights=sample_weight))


class AccuracyThenLoss(TabularMLPClassifier):
    """Best validation accuracy; among equal ones the lowest validation log-loss."""

    def _validation_score(self, net, flat, X_val, codes, sample_weight):
        Z, loss = _validation_log_loss(net, flat, X_val, codes, sample_weight)
        accuracy = float(np.average(Z.argmax(axis=1) == codes[:, 0], weights=sample_weight))
        # a log-loss below 100 moves the score by less than 1e-5, below one validation
        # row's accuracy (at most ~1e4 rows here)
        return accuracy - 1e-7 * loss


class LowestLoss(TabularMLPClassifier):
    """Lowest validation log-loss."""

    def _validation_score(self, net, flat, X_val, codes, sample_weight):
        return -_validation_log_loss(net, flat, X_val, codes, sample_weight)[1]


class StopAfter:
    """A fit callback that stops training after ``n`` epochs."""

    def __init__(self, n):
        self.n, self.epochs = n, 0

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context, **kwargs):
        pass

    def on_fit_task_end(self, estimator, context, **kwargs):
        if context.task_name != "epoch":
            return False
        self.epochs += 1
        return self.epochs >= self.n


def run(name, seed):
    """Test scores and fit seconds of each variant on one data set and seed."""
    task = DATASETS[name].task
    X_train, X_test, y_train, y_test = prepare(name, seed)
    Est = TabularMLPClassifier if task == "classification" else TabularMLPRegressor

    def fitted(model):
        start = time.perf_counter()
        model.fit(X_train, y_train)
        return model, time.perf_counter() - start

    first, t_first = fitted(Est(random_state=seed))
    again = Est(random_state=seed, validation_fraction=0.0, max_iter=first.n_iter_)
    again.set_callbacks(StopAfter(first.best_epoch_))
    again, t_again = fitted(again)
    if task == "classification":
        P, Q = first.predict_proba(X_test), again.predict_proba(X_test)
        outputs = {"defaults": P, "refit": Q, "average": (P + Q) / 2}
        predictions = {k: first.classes_[v.argmax(axis=1)] for k, v in outputs.items()}
        times = {"defaults": t_first, "refit": t_first + t_again, "average": t_first + t_again}
        for key, Rule in (("acc+loss", AccuracyThenLoss), ("loss", LowestLoss)):
            model, times[key] = fitted(Rule(random_state=seed))
            predictions[key] = model.predict(X_test)
    else:
        p, q = first.predict(X_test), again.predict(X_test)
        predictions = {"defaults": p, "refit": q, "average": (p + q) / 2}
        times = {"defaults": t_first, "refit": t_first + t_again, "average": t_first + t_again}
    scores = {k: score(task, y_test, v) for k, v in predictions.items()}
    return scores, times, first.best_epoch_


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=["classification", "regression"],
                        default="classification")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args()
    names = [n for n in DATASETS if DATASETS[n].task == args.task]
    scores, times = collections.defaultdict(dict), collections.defaultdict(float)
    with threadpool_limits(1):
        for name in names:
            for seed in args.seeds:
                s, t, best = run(name, seed)
                for k in s:
                    scores[k][name, seed] = s[k]
                    times[k] += t[k]
                print(f"{name:15s} seed {seed} best epoch {best:3d}  "
                      + "  ".join(f"{k} {v:.4f}" for k, v in s.items()), flush=True)
    variants = list(scores)

    def agg(variant, seeds):
        return shifted_geomean([np.mean([scores[variant][n, s] for s in seeds])
                                for n in names])

    base = agg("defaults", args.seeds)
    print("\n| variant | score | ratio | better on | fit time |\n|---|---:|---:|---:|---:|")
    for v in variants:
        better = sum(agg(v, [s]) < agg("defaults", [s]) for s in args.seeds)
        print(f"| {v} | {agg(v, args.seeds):.4f} | {agg(v, args.seeds) / base:.3f} | "
              f"{better}/{len(args.seeds)} | {times[v] / times['defaults']:.2f} x |")
    print("\nper seed: | variant | " + " | ".join(f"seed {s}" for s in args.seeds) + " |")
    for v in variants:
        print(f"| {v} | " + " | ".join(f"{agg(v, [s]):.4f}" for s in args.seeds) + " |")
    print("\nper data set (mean over seeds): | data set | "
          + " | ".join(variants) + " |")
    for n in names:
        row = [np.mean([scores[v][n, s] for s in args.seeds]) for v in variants]
        print(f"| {n} | " + " | ".join(f"{x:.4f}" for x in row) + " |")


if __name__ == "__main__":
    main()
