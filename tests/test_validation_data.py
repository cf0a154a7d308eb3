"""Validation data (skmlp._validation_data): pairing, checks, the early-stopping split, the
score, each against what it claims (scikit-learn's split, clear errors naming the problem)."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skmlp import MLPClassifierFromScratch, MLPRegressorFromScratch
from skmlp._solvers import Diverged
from skmlp._validation_data import hold_out, pair


def _data():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("args, message", [
    ((None, None, np.ones(3)), "sample_weight_val is given without X_val and y_val"),
    ((np.ones((3, 2)), None, None), "X_val and y_val must be given together"),
    ((None, np.ones(3), None), "X_val and y_val must be given together"),
])
def test_pair_needs_x_val_and_y_val_together(args, message):
    with pytest.raises(ValueError, match=message):
        pair(*args)
    X, y = _data()
    with pytest.raises(ValueError, match=message):  # what fit says
        MLPClassifierFromScratch(max_iter=1).fit(X, y, X_val=args[0], y_val=args[1],
                                                 sample_weight_val=args[2])


def test_pair_passes_both_or_none():
    assert pair(None, None, None) is None
    X, y = np.ones((3, 2)), np.arange(3)
    assert pair(X, y, None) == (X, y, None)


@pytest.mark.parametrize("stratified", [False, True])
def test_hold_out_draws_scikit_learns_split(stratified):
    """The same call as MLPClassifier's: train_test_split of the row indices with the fit's
    random state, stratified for binary classification, the training rows visited in
    place for dense data."""
    if stratified:
        X, y = load_breast_cancer(return_X_y=True)
        est = MLPClassifierFromScratch(validation_fraction=0.2)
    else:
        X, y = _data()
        est = MLPRegressorFromScratch(validation_fraction=0.2)
    Y = y.reshape(-1, 1).astype(float)
    _, _, _, rows, (X_val, Y_val, y_val, sw_val) = hold_out(
        est, X, Y, y, None, np.random.RandomState(3))
    train, val = train_test_split(np.arange(len(y)), random_state=np.random.RandomState(3),
                                  test_size=0.2, stratify=Y if stratified else None)
    np.testing.assert_array_equal(rows, train)
    np.testing.assert_array_equal(X_val, X[val])
    np.testing.assert_array_equal(y_val, y[val])
    assert sw_val is None


def test_hold_out_refuses_a_part_whose_weights_are_all_zero():
    X, y = _data()
    _, val = train_test_split(np.arange(len(y)), random_state=np.random.RandomState(0),
                              test_size=0.5)
    sw = np.ones(len(y))
    sw[val] = 0.0
    est = MLPRegressorFromScratch(validation_fraction=0.5)
    with pytest.raises(ValueError, match="left the validation part with sample weights "
                                         "that are all 0"):
        hold_out(est, X, y.reshape(-1, 1), y, sw, np.random.RandomState(0))


def test_hold_out_too_small_says_what_to_increase():
    X, y = _data()
    est = MLPRegressorFromScratch(validation_fraction=0.01)
    with pytest.raises(ValueError, match="The validation set is too small"):
        hold_out(est, X[:20], y[:20].reshape(-1, 1), y[:20], None, np.random.RandomState(0))


def test_a_scorer_that_returns_no_number_is_named():
    X, y = _data()
    est = MLPClassifierFromScratch(max_iter=2, early_stopping=True,
                                   scoring=lambda est, X, y: "good")
    with pytest.raises(TypeError, match="returned 'good' of type str; a scorer must return"):
        est.fit(X, y)
    assert not hasattr(est, "coefs_")  # nothing half-fitted


def test_a_nan_score_cannot_be_compared():
    X, y = _data()
    est = MLPClassifierFromScratch(max_iter=2, early_stopping=True,
                                   scoring=lambda est, X, y: float("nan"))
    with pytest.raises(ValueError, match=r"The validation score is NaN \(scoring=<function"):
        est.fit(X, y)


def test_diverged_validation_outputs_raise_diverged():
    """The scorer raises Diverged on non-finite outputs (the fit makes it a ValueError)."""
    from skmlp._network import MLP
    from skmlp._validation_data import scorer

    X, y = _data()
    est = MLPClassifierFromScratch(early_stopping=True)
    net = MLP([4, 3, 3]).initialize(np.random.RandomState(0))
    net.params[:] = 1e308
    score = scorer(est, net, X, np.eye(3)[y], y, None)
    with np.errstate(all="ignore"), pytest.raises(
            Diverged, match="outputs on the validation data became non-finite"):
        score()
