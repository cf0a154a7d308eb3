"""What MLP*FromScratch's opt-in step extras do on real data (issue 16, item 3).

The tabular benchmark's protocol and data (``tabular_data.py``: train min(3000, 70%),
test min(2000, the rest), one-hot categoricals), StandardScaler + MLPClassifierFromScratch
or MLPRegressorFromScratch with the variants below, 3 seeds; classification error and
nRMSE, aggregated as shifted geometric means (shift 0.01) over data sets.

    python benchmarks/step_extras.py            # writes a markdown table to stdout

The variants use ``learning_rate_init=0.01``: at the default 0.001 a schedule that
anneals over ``max_iter`` epochs leaves regression targets of raw scale under-trained.
"""

import sys
import time
import warnings
from collections import defaultdict

import numpy as np
import tabular_data as td
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmlp import MLPClassifierFromScratch, MLPRegressorFromScratch

DATASETS = ["digits", "wa_churn", "image_segments", "oj", "credit_data",
            "concrete", "boston", "sacramento", "cps1988"]
SEEDS = (0, 1, 2)
SCHEDULED = dict(learning_rate_init=0.01, lr_schedule="cosine", ema_decay=0.99,
                 n_iter_no_change=1000)  # the schedule runs its course
VARIANTS = {
    "defaults": {},
    "lr 0.01": dict(learning_rate_init=0.01),
    "lr 0.01, cosine, EMA 0.99": SCHEDULED,
    "... + weight_decay 0.1": {**SCHEDULED, "weight_decay": 0.1},
    "... + label_smoothing 0.1": {**SCHEDULED, "label_smoothing": 0.1},
}


def shifted_geomean(values, shift=0.01):
    return float(np.exp(np.mean(np.log(np.asarray(values) + shift))) - shift)


def main():
    scores = defaultdict(list)  # (variant, task, data set) -> per-seed scores
    seconds = defaultdict(float)
    for name in DATASETS:
        task = td.DATASETS[name].task
        for seed in SEEDS:
            X_train, X_test, y_train, y_test = td.prepare(name, seed)
            for variant, params in VARIANTS.items():
                if task == "regression":
                    if "label_smoothing" in params:
                        continue
                    est = MLPRegressorFromScratch(random_state=seed, **params)
                else:
                    est = MLPClassifierFromScratch(random_state=seed, **params)
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = make_pipeline(StandardScaler(), est).fit(X_train, y_train)
                seconds[variant] += time.perf_counter() - start
                scores[variant, task, name].append(td.score(task, y_test,
                                                            model.predict(X_test)))
            print(f"{name} seed {seed} done", file=sys.stderr, flush=True)
    print("| variant | classification error | nRMSE | total fit time (s) |")
    print("|---|---|---|---|")
    for variant in VARIANTS:
        cells = []
        for task in ("classification", "regression"):
            per_set = [np.mean(v) for (var, t, _), v in scores.items()
                       if var == variant and t == task]
            cells.append(f"{shifted_geomean(per_set):.4f}" if per_set else "-")
        print(f"| {variant} | {cells[0]} | {cells[1]} | {seconds[variant]:.1f} |")


if __name__ == "__main__":
    main()
