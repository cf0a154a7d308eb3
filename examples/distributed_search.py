"""When one machine is not enough: run GridSearchCV on a Dask cluster.

joblib's Dask backend sends each (candidate, fold) fit to a Dask worker. Here the
"cluster" is two local worker processes; point `Client` at a real scheduler
address to use many machines: nothing else changes. Needs the `distributed`
extra (pip install "skmlp[distributed]").

    python examples/distributed_search.py
"""

import warnings

import joblib
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmlp import MLPClassifierFromScratch


def search():
    X, y = load_digits(return_X_y=True)
    pipe = make_pipeline(StandardScaler(),
                         MLPClassifierFromScratch(max_iter=30, random_state=0))
    grid = {"mlpclassifierfromscratch__hidden_layer_sizes": [(32,), (64,)],
            "mlpclassifierfromscratch__alpha": [1e-4, 1e-2]}
    return GridSearchCV(pipe, grid, cv=3)


def main():
    from distributed import Client, LocalCluster

    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = load_digits(return_X_y=True)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        with joblib.parallel_config(backend="dask"):
            distributed = search().fit(X, y)
        print(f"ran on {len(client.scheduler_info()['workers'])} Dask workers")
    local = search().fit(X, y)
    same = np.array_equal(distributed.cv_results_["mean_test_score"],
                          local.cv_results_["mean_test_score"])
    print("best parameters:", distributed.best_params_)
    print(f"best accuracy {distributed.best_score_:.4f}; same scores as the local run: {same}")


if __name__ == "__main__":  # the worker processes import this file: keep the work in main()
    main()
