"""It learns, and as well as MLPClassifier does with the same parameters."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmlp import MLPClassifierFromScratch


@pytest.mark.parametrize("solver", ["lbfgs", "adam", "sgd"])
def test_learns_xor(solver):
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 25, dtype=float)
    y = np.array([0, 1, 1, 0] * 25)
    params = {"lbfgs": {}, "adam": {"learning_rate_init": 0.05},
              "sgd": {"learning_rate_init": 0.2}}[solver]
    clf = MLPClassifierFromScratch((8,), activation="tanh", solver=solver, max_iter=1000,
                                   random_state=0, tol=1e-6, **params).fit(X, y)
    assert clf.score(X, y) == 1.0


def test_digits_default_parameters_reach_097(digits_split):
    X_tr, X_te, y_tr, y_te = digits_split
    clf = MLPClassifierFromScratch(random_state=0).fit(X_tr, y_tr)
    assert clf.score(X_te, y_te) >= 0.97
    assert clf.n_iter_ < 200  # converged by the tol rule, not cut off


DATASETS = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer,
            "digits": load_digits}


@pytest.mark.parametrize("name", sorted(DATASETS))
@pytest.mark.parametrize("solver", ["adam", "lbfgs", "sgd"])
def test_accuracy_within_001_of_mlpclassifier(name, solver):
    """Cross-validated accuracy (5 folds x 3 seeds, so every sample is tested) against
    MLPClassifier with the same parameters.

    Known gap, iris with sgd: the tutorial's initialisation, std = gain / sqrt(fan_in),
    gives iris's 4-input first layer weights 3.5x larger than MLPClassifier's Glorot scale;
    on 150 samples sgd overfits by about 0.015. With Glorot-scale weights the gap disappears,
    so it is the initialisation, not the training; README, "Differences".
    """
    X, y = DATASETS[name](return_X_y=True)
    params = {"solver": solver, "max_iter": 1000}
    if solver != "lbfgs":
        params["learning_rate_init"] = 0.01
    tolerance = 0.025 if (name, solver) == ("iris", "sgd") else 0.01
    scores = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for cls in (MLPClassifierFromScratch, MLPClassifier):
            scores[cls.__name__] = np.mean([
                cross_val_score(
                    make_pipeline(StandardScaler(), cls(random_state=seed, **params)), X, y,
                    cv=StratifiedKFold(5, shuffle=True, random_state=seed),
                ).mean()
                for seed in range(3)
            ])
    assert scores["MLPClassifierFromScratch"] >= scores["MLPClassifier"] - tolerance, scores


def test_loss_curve_tracks_mlpclassifier_on_same_data(digits_split):
    """Same loss definition (cross-entropy + alpha/2 ||W||^2 / n): after training both
    reach comparable training losses."""
    X_tr, _, y_tr, _ = digits_split
    ours = MLPClassifierFromScratch(random_state=0, max_iter=30, tol=0)
    theirs = MLPClassifier(random_state=0, max_iter=30, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X_tr, y_tr)
        theirs.fit(X_tr, y_tr)
    assert len(ours.loss_curve_) == len(theirs.loss_curve_) == 30
    assert ours.loss_curve_[-1] == pytest.approx(theirs.loss_curve_[-1], rel=0.5)
    assert ours.loss_curve_[-1] < 0.1 * ours.loss_curve_[0]
