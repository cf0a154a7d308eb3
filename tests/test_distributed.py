"""GridSearchCV on a Dask cluster (two local worker processes) gives the local scores."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from skmlp import MLPClassifierFromScratch

distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")


def test_grid_search_on_dask_matches_local_run():
    X, y = make_classification(n_samples=300, n_features=10, n_classes=3, n_informative=5,
                               random_state=0)
    grid = {"alpha": [1e-4, 1e-2], "hidden_layer_sizes": [(8,), (16,)]}

    def search():
        return GridSearchCV(MLPClassifierFromScratch(max_iter=20, random_state=0), grid, cv=3)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      host="127.0.0.1", dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client:
            with joblib.parallel_config(backend="dask"):
                remote = search().fit(X, y)
            assert len(client.scheduler_info()["workers"]) == 2
        local = search().fit(X, y)
    for key in ("mean_test_score", "split0_test_score", "split1_test_score", "split2_test_score"):
        np.testing.assert_array_equal(remote.cv_results_[key], local.cv_results_[key])
    assert remote.best_params_ == local.best_params_
