"""Conversion to and from scikit-learn's MLPs (``to_sklearn`` / ``from_sklearn``), for both
estimators: what a round trip keeps, in which dtypes, and what is refused.

A round trip ours -> scikit-learn -> ours must give back the same estimator: the same
parameters, every fitted attribute scikit-learn's MLPs share with ours, the weights
bit for bit in their dtypes, and the optimizer's state, shown by the next
``partial_fit`` (or warm ``fit``) training bit for bit the same model on both.
"""

import warnings

import numpy as np
import pytest
from _support import TWINS, assert_same_weights, both_estimators, weights
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.neural_network import MLPClassifier, MLPRegressor

#: the fitted attributes both sides have (scikit-learn's public ones), besides the weights
SHARED = ("n_features_in_", "n_iter_", "n_layers_", "n_outputs_", "out_activation_", "t_",
          "loss_", "best_loss_", "best_validation_score_", "loss_curve_", "validation_scores_")

# every test runs for both estimators (as Est, with data from the `problem` fixture)
pytestmark = [pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
              both_estimators]


def _params(**params):
    return {"hidden_layer_sizes": (7, 5), "activation": "tanh", "max_iter": 4,
            "batch_size": 64, "random_state": 0, **params}


def assert_same_fitted_attributes(a, b):
    for name in SHARED:
        assert hasattr(a, name) == hasattr(b, name), name
        if hasattr(a, name):
            left, right = getattr(a, name), getattr(b, name)
            assert type(left) is type(right), name
            np.testing.assert_array_equal(left, right, err_msg=name)
    if hasattr(a, "classes_"):
        np.testing.assert_array_equal(a.classes_, b.classes_)


def assert_bitwise_same_weights(a, b):
    """The same weight arrays, dtypes included."""
    for p, q in zip(weights(a), weights(b), strict=True):
        assert p.dtype == q.dtype
        np.testing.assert_array_equal(p, q)


# --- round trips ------------------------------------------------------------------------------
@pytest.mark.parametrize("solver, dtype, weighted", [
    ("adam", np.float64, False), ("sgd", np.float64, False), ("lbfgs", np.float64, False),
    ("adam", np.float32, False), ("sgd", np.float32, False),
    # float32 weights with float64 bias gradients and bias optimizer state
    ("adam", np.float32, True), ("sgd", np.float32, True),
])
def test_round_trip_keeps_the_model_and_its_training(Est, problem, solver, dtype, weighted):
    Ours, Theirs = Est, TWINS[Est]
    X, y = problem
    X = X.astype(dtype)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y)) if weighted else None
    ours = Ours(**_params(solver=solver)).fit(X, y, sample_weight=sw)
    theirs = ours.to_sklearn()
    assert type(theirs) is Theirs
    own = Theirs().get_params()
    assert theirs.get_params() == {k: v for k, v in ours.get_params().items() if k in own}
    back = Ours.from_sklearn(theirs)
    assert type(back) is Ours and back.get_params() == ours.get_params()
    assert_same_fitted_attributes(back, ours)
    assert_same_fitted_attributes(theirs, ours)
    assert_bitwise_same_weights(back, ours)
    if dtype == np.float32 and solver != "lbfgs":
        assert all(W.dtype == np.float32 for W in ours.coefs_)
    predict = "predict_proba" if is_classifier(Est()) else "predict"
    np.testing.assert_array_equal(getattr(back, predict)(X), getattr(ours, predict)(X))
    np.testing.assert_allclose(getattr(theirs, predict)(X), getattr(ours, predict)(X),
                               rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-12)
    # the optimizer's state travelled both ways: the same next training, bit for bit
    if solver == "lbfgs":
        for est in (ours, back):
            est.set_params(warm_start=True).fit(X, y)
    else:
        for est in (ours, back):
            est.partial_fit(X, y, sample_weight=sw)
    assert_bitwise_same_weights(back, ours)
    assert back.loss_curve_ == ours.loss_curve_


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_from_sklearn_then_to_sklearn_gives_scikit_learns_model_back(Est, problem, solver):
    """The other way round: scikit-learn's model through ours and back predicts and trains
    on as scikit-learn's own does."""
    Ours, Theirs = Est, TWINS[Est]
    X, y = problem
    theirs = Theirs(**_params(solver=solver)).fit(X, y)
    ours = Ours.from_sklearn(theirs)
    again = ours.to_sklearn()
    assert type(again) is Theirs and again.get_params() == theirs.get_params()
    for name in ("n_iter_", "n_layers_", "n_outputs_", "out_activation_", "t_", "loss_"):
        assert getattr(again, name) == getattr(theirs, name), name
    assert_bitwise_same_weights(again, theirs)
    if solver == "lbfgs":
        # scikit-learn's lbfgs records no curve; ours starts an empty one
        assert ours.loss_curve_ == [] and not hasattr(theirs, "loss_curve_")
        return
    assert again.loss_curve_ == theirs.loss_curve_
    for est in (theirs, again):  # its optimizer state came back: the same next epoch
        est.partial_fit(X, y)
    assert_bitwise_same_weights(again, theirs)


def test_early_stopping_best_weights_stay_the_fitted_weights(Est, problem):
    """After early stopping, the best weights are the fitted weights (one list, as in
    scikit-learn); the conversion keeps that, so a warm refit of the converted model
    trains what the original's does."""
    Ours = Est
    X, y = problem
    ours = Ours(**_params(early_stopping=True, max_iter=6)).fit(X, y)
    theirs = ours.to_sklearn()
    back = Ours.from_sklearn(theirs)
    assert theirs.validation_scores_ == ours.validation_scores_
    assert back.best_validation_score_ == ours.best_validation_score_
    for est in (ours, back, theirs):
        est.set_params(warm_start=True, max_iter=4).fit(X, y)
    assert_bitwise_same_weights(back, ours)
    assert back.validation_scores_ == ours.validation_scores_
    assert_same_weights(theirs, ours, 1e-10)


# --- what is refused --------------------------------------------------------------------------
@pytest.mark.parametrize("activation, sizes", [("gelu", (5,)), ("leaky_relu", (5,)),
                                               (("relu", "tanh"), (5, 5))])
def test_to_sklearn_refuses_activations_scikit_learn_does_not_have(Est, problem, activation,
                                                                   sizes):
    Ours = Est
    X, y = problem
    ours = Ours(hidden_layer_sizes=sizes, activation=activation, max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match=r"^scikit-learn cannot represent activation="):
        ours.to_sklearn()


def test_one_activation_named_per_layer_converts(Est, problem):
    Ours = Est
    X, y = problem
    ours = Ours(**_params(activation=("tanh", "tanh"))).fit(X, y)
    assert ours.to_sklearn().activation == "tanh"


def test_from_sklearn_refuses_the_other_estimator(Est, problem):
    Ours = Est
    X, y = problem
    other = MLPRegressor if is_classifier(Est()) else MLPClassifier
    other_y = y.astype(float) if is_classifier(Est()) else (y > 0)
    fitted = other(hidden_layer_sizes=(3,), max_iter=2).fit(X, other_y)
    with pytest.raises(TypeError, match=rf"^Expected a fitted {TWINS[Est].__name__}, "
                                        rf"got {other.__name__}\.$"):
        Ours.from_sklearn(fitted)


def test_unfitted_models_are_refused_both_ways(Est):
    Ours, Theirs = Est, TWINS[Est]
    with pytest.raises(NotFittedError, match="is not fitted yet"):
        Ours().to_sklearn()
    with pytest.raises(NotFittedError, match="is not fitted yet"):
        Ours.from_sklearn(Theirs())


def test_conversion_copies_instead_of_sharing(Est, problem):
    """Training one side after a conversion leaves the other as it was."""
    Ours = Est
    X, y = problem
    ours = Ours(**_params()).fit(X, y)
    snapshot = [w.copy() for w in weights(ours)]
    theirs = ours.to_sklearn()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs.partial_fit(X, y)
    for p, q in zip(weights(ours), snapshot, strict=True):
        np.testing.assert_array_equal(p, q)
    back = Ours.from_sklearn(theirs)
    before = [w.copy() for w in weights(theirs)]
    back.partial_fit(X, y)
    for p, q in zip(weights(theirs), before, strict=True):
        np.testing.assert_array_equal(p, q)
