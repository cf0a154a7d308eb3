"""Stateful tests: one estimator driven through long sequences of everything a user does.

A hypothesis ``RuleBasedStateMachine`` per estimator (classifier, regressor) runs
``fit``, ``partial_fit``, warm refits, ``set_params`` of the parameters that change
what a fit does, weight assignment and pruning, pickle and deepcopy round trips, and
fits and predictions on bad data, in any order. After every step:

* the step succeeded and the model is usable (finite probabilities summing to 1 and
  labels among ``classes_``, finite regression outputs, a pickle round trip that
  predicts identically; finite outputs on the data it was just trained on; weights too
  large for the probe rows only where every prediction method says so), or it raised an
  error in :data:`KNOWN_ERRORS` (a run that diverges: the divergence error) and left the
  fitted state (``type(est)._FITTED_STATE``) exactly as it was;
* while scikit-learn's estimator can run the same sequence (no skmlp-only parameter
  or value in play), a twin ``MLPClassifier``/``MLPRegressor`` runs it in lockstep
  and both succeed or both fail, except for the differences listed, with a reason
  each, in :data:`SKLEARN_DIFFERENCES`.

Every step's outcome is counted (``hypothesis.event`` and :data:`STATS`); the tests
check that most steps do real work and print the counts (``pytest -s``).

The machines themselves live in ``tests/_state_machine.py``; this module runs them and
holds the regression tests for the bugs they found.
"""

import pickle
import warnings

import numpy as np
import pytest
from _state_machine import (
    FAST,
    KNOWN_ERRORS,
    SLOW,
    ClassifierMachine,
    RegressorMachine,
    assert_real_work,
    run_machine,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

from skmlp import MLPClassifierFromScratch, MLPRegressorFromScratch


@pytest.mark.parametrize("machine", [ClassifierMachine, RegressorMachine],
                         ids=["classifier", "regressor"])
def test_state_machine(machine):
    assert_real_work(run_machine(machine, FAST))


@pytest.mark.slow
@pytest.mark.parametrize("machine", [ClassifierMachine, RegressorMachine],
                         ids=["classifier", "regressor"])
def test_state_machine_long(machine):
    assert_real_work(run_machine(machine, SLOW))


# --- skmlp bugs the machines found, fixed: regression tests ------------------------------------
def _xy(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    return X, np.arange(n) % 2


def test_failed_fit_keeps_best_coefs_aliased():
    """Once a failed fit restored _best_coefs as a copy of the list, no longer coefs_
    itself, and the next warm fit with early stopping trained differently."""
    X, y = _xy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifierFromScratch((3,), max_iter=3, early_stopping=True,
                                       learning_rate_init=0.05, random_state=0).fit(X, y)
        untouched = pickle.loads(pickle.dumps(clf))  # pickling keeps _best_coefs is coefs_
        X_bad = X.copy()
        X_bad[0, 0] = np.nan
        with pytest.raises(ValueError, match="Input X contains NaN"):
            clf.fit(X_bad, y)  # fails, and rolls the fitted state back
        assert clf._best_coefs is clf.coefs_ and clf._best_intercepts is clf.intercepts_
        for est in (clf, untouched):
            est.set_params(warm_start=True, learning_rate_init=0.5).fit(X, y)
    # what the failed call should have left: the same model as without it
    for a, b in zip(clf.coefs_ + clf.intercepts_, untouched.coefs_ + untouched.intercepts_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_poisson_regressor_rejects_string_targets_with_a_value_error(loss):
    """Once loss="poisson" failed on string targets in numpy's `y < 0` with a TypeError."""
    X, _ = _xy(10)
    y = np.array(["a", "b"])[np.arange(10) % 2]
    with pytest.raises(ValueError, match=KNOWN_ERRORS["y not numeric"][1]):
        MLPRegressorFromScratch(loss=loss, hidden_layer_sizes=(3,), max_iter=1).fit(X, y)


# --- more skmlp bugs the machines found, fixed: regression tests -------------------------------
@pytest.mark.parametrize("est", [MLPClassifierFromScratch(hidden_layer_sizes=(3,), max_iter=2,
                                                          random_state=0),
                                 MLPRegressorFromScratch(hidden_layer_sizes=(3,), max_iter=2,
                                                         solver="sgd", random_state=0)],
                         ids=["classifier-adam", "regressor-sgd"])
def test_partial_fit_after_weights_converted_to_float32(est):
    X, y = _xy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
        est.coefs_ = [W.astype(np.float32) for W in est.coefs_]
        est.intercepts_ = [b.astype(np.float32) for b in est.intercepts_]
        est.partial_fit(X, y)
    assert all(W.dtype == np.float32 for W in est.coefs_)  # trains on in float32
    assert np.isfinite(est.predict(X).astype(float)).all()


def _runtime_warnings(make, params, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = make(**params)
        try:
            est.fit(X, y)
        except ValueError:
            pass
    return est, {str(w.message) for w in caught if w.category is RuntimeWarning}


def test_diverging_early_stopping_regression_warns_as_scikit_learn():
    """numpy's overflow warnings in the validation score come as scikit-learn's come (its
    early stopping computes the same R^2 of the same outputs)."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 3)) * 10
    y = np.exp(X[:, 0] / np.abs(X).max())
    params = dict(hidden_layer_sizes=(5, 4), solver="sgd", activation="identity", max_iter=3,
                  learning_rate_init=1.0, early_stopping=True, random_state=0)
    reg, ours = _runtime_warnings(MLPRegressorFromScratch, params, X, y)
    _, theirs = _runtime_warnings(MLPRegressor, params, X, y)
    assert max(reg.loss_curve_) > 1e80  # the training loss reaches 4.6e82
    assert np.isfinite(reg.predict(X)).all()  # the best weights are kept
    assert ours == theirs == {"overflow encountered in square"}


def test_diverging_early_stopping_regression_reports_divergence():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 2))
    y = np.exp(0.5 * X[:, 0]) + 0.1
    reg = MLPRegressorFromScratch(loss="poisson", hidden_layer_sizes=(2,), solver="sgd",
                                  activation="identity", max_iter=2, learning_rate_init=1.0,
                                  early_stopping=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's exp overflow, as there
        # the validation outputs overflow in epoch 2: early stopping's best weights stay
        with pytest.warns(ConvergenceWarning, match="outputs on the validation data became "
                                                    "non-finite.*Keeping the best weights"):
            reg.fit(X, y)
    assert reg.n_iter_ == len(reg.validation_scores_) == 1
    assert np.isfinite(reg.predict(X)).all()


def test_diverging_validation_outputs_count_the_epoch_nowhere():
    # the training loss of epoch 4 is finite, the outputs on the validation data after it
    # are not: early stopping keeps its best weights, and the epoch is in no curve
    rng = np.random.default_rng(17)
    X = rng.normal(size=(40, 3)) * 10
    reg = MLPRegressorFromScratch(hidden_layer_sizes=(5, 4), solver="sgd", activation="identity",
                                  max_iter=30, learning_rate_init=0.5, early_stopping=True,
                                  random_state=17, momentum=0.0)
    with pytest.warns(ConvergenceWarning, match="outputs on the validation data became "
                                                "non-finite.*Keeping the best weights"):
        reg.fit(X, X[:, 0] * 3)
    assert reg.n_iter_ == len(reg.loss_curve_) == len(reg.validation_scores_) == 3
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    assert np.isfinite(reg.predict(X)).all()
