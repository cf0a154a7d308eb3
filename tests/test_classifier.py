"""The estimator as a scikit-learn user meets it.

Tests marked ``@both_estimators`` check behaviour the regressor shares, on both (as
scikit-learn's ``test_mlp.py`` does); the regressor's own are in ``test_regressor.py``.
"""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from _support import assert_same_weights, both_estimators, outputs
from sklearn.base import is_classifier
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skmlp import MLPClassifierFromScratch


# --- targets and inputs ---------------------------------------------------------------
def test_string_labels_binary():
    X, y = make_classification(n_samples=120, n_features=5, random_state=0)
    labels = np.array(["spam", "ham"])[y]
    clf = MLPClassifierFromScratch(solver="lbfgs", random_state=0).fit(X, labels)
    assert list(clf.classes_) == ["ham", "spam"]
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 1
    P = clf.predict_proba(X)
    assert P.shape == (120, 2)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert set(clf.predict(X)) <= {"ham", "spam"}
    assert (clf.predict(X) == clf.classes_[P.argmax(axis=1)]).all()
    assert clf.score(X, labels) > 0.9


def test_multiclass_attributes(three_classes):
    X, y = three_classes
    clf = MLPClassifierFromScratch((7, 5), random_state=0, max_iter=20).fit(X, y)
    assert clf.out_activation_ == "softmax" and clf.n_outputs_ == 3 and clf.n_layers_ == 4
    assert [W.shape for W in clf.coefs_] == [(10, 7), (7, 5), (5, 3)]
    assert [b.shape for b in clf.intercepts_] == [(7,), (5,), (3,)]
    assert clf.n_features_in_ == 10 and clf.t_ == 20 * 300 and clf.n_iter_ == 20
    assert len(clf.loss_curve_) == 20 and clf.loss_ == clf.loss_curve_[-1]
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), clf.predict_proba(X), rtol=1e-12)


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_multilabel_indicator_targets(multilabel, solver):
    X, Y = multilabel
    clf = MLPClassifierFromScratch((30,), solver=solver, random_state=0,
                                             max_iter=300).fit(X, Y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 4
    P = clf.predict_proba(X)
    assert P.shape == (150, 4) and ((P > 0) & (P < 1)).all()
    np.testing.assert_array_equal(clf.predict(X), (P > 0.5).astype(int))
    # exact-match accuracy, as MLPClassifier's with the same parameters
    theirs = MLPClassifier((30,), solver=solver, random_state=0, max_iter=300).fit(X, Y)
    assert clf.score(X, Y) >= theirs.score(X, Y) - 0.05


@pytest.mark.parametrize("fmt", [sp.csr_matrix, sp.csc_matrix, sp.csr_array])
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_sparse_input_trains_like_dense(three_classes, fmt, solver):
    X, y = three_classes
    X = np.where(np.abs(X) < 0.7, 0.0, X)
    kw = dict(solver=solver, random_state=0, max_iter=15)
    dense = MLPClassifierFromScratch(**kw).fit(X, y)
    sparse = MLPClassifierFromScratch(**kw).fit(fmt(X), y)
    np.testing.assert_allclose(sparse.predict_proba(fmt(X)), dense.predict_proba(X),
                               rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_float32_trains_and_predicts_in_float32(three_classes, solver):
    X, y = three_classes
    clf = MLPClassifierFromScratch(solver=solver, random_state=0, max_iter=30)
    clf.fit(X.astype(np.float32), y)
    # as MLPClassifier: lbfgs evaluates the loss at float32 points, but scipy's iterates
    # are float64, and so are the weights it hands back
    dtype = np.float64 if solver == "lbfgs" else np.float32
    assert all(W.dtype == dtype for W in clf.coefs_ + clf.intercepts_)
    assert clf.predict_proba(X.astype(np.float32)).dtype == dtype
    ref = MLPClassifierFromScratch(solver=solver, random_state=0, max_iter=30).fit(X, y)
    assert ref.coefs_[0].dtype == np.float64
    assert np.mean(clf.predict(X) == ref.predict(X)) > 0.95
    # integer input is float64
    clf = MLPClassifierFromScratch(random_state=0, max_iter=2).fit((X * 10).astype(int), y)
    assert clf.coefs_[0].dtype == np.float64


# --- training control -----------------------------------------------------------------
def test_early_stopping_restores_best_validation_weights(three_classes):
    X, y = three_classes
    X_tr, y_tr, X_val, y_val = X[:150], y[:150], X[150:], y[150:]
    clf = MLPClassifierFromScratch((50,), early_stopping=True, n_iter_no_change=5,
                                   learning_rate_init=0.05, random_state=0)
    clf.fit(X_tr, y_tr, X_val=X_val, y_val=y_val)
    best = int(np.argmax(clf.validation_scores_))
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None
    assert clf.n_iter_ == best + 1 + clf.n_iter_no_change + 1 or clf.n_iter_ == clf.max_iter
    assert clf.score(X_val, y_val) == pytest.approx(clf.best_validation_score_)


def test_early_stopping_internal_split(three_classes):
    X, y = three_classes
    clf = MLPClassifierFromScratch(early_stopping=True, random_state=0).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)


def test_warm_start_continues(three_classes):
    X, y = three_classes
    warm = MLPClassifierFromScratch(warm_start=True, max_iter=3, random_state=0)
    warm.fit(X, y)
    first = [W.copy() for W in warm.coefs_]
    warm.fit(X, y)
    assert len(warm.loss_curve_) == 6
    assert not np.allclose(first[0], warm.coefs_[0])
    cold = MLPClassifierFromScratch(max_iter=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(cold.coefs_[0], first[0])  # the first fit was a cold one
    with pytest.raises(ValueError, match="same classes"):
        warm.fit(X[y != 2], y[y != 2])


def test_partial_fit(three_classes):
    X, y = three_classes
    clf = MLPClassifierFromScratch(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    clf.set_params(learning_rate_init=0.01)
    for _ in range(30):
        clf.partial_fit(X[:100], y[:100], classes=[0, 1, 2])
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 30
    assert clf.score(X, y) > 0.8
    before = clf.coefs_[0].copy()
    with pytest.raises(ValueError, match="classes not in"):
        clf.partial_fit(X[:10], np.full(10, 7))
    np.testing.assert_array_equal(clf.coefs_[0], before)  # nothing changed
    assert not hasattr(MLPClassifierFromScratch(solver="lbfgs"), "partial_fit")
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifierFromScratch(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])


@both_estimators
def test_convergence_warning_at_max_iter(Est, problem):
    X, y = problem
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        Est(max_iter=2).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        Est(solver="lbfgs", max_iter=2).fit(X, y)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_verbose_prints_what_mlpclassifier_prints(three_classes, solver, capsys):
    X, y = three_classes
    params = dict(solver=solver, max_iter=5, verbose=True, random_state=0)
    clf = MLPClassifierFromScratch(**params).fit(X, y)
    ours = capsys.readouterr().out
    MLPClassifier(**params).fit(X, y)
    assert ours == capsys.readouterr().out  # lbfgs: nothing (scipy's iprint aside)
    lines = [s for s in ours.splitlines() if s.startswith("Iteration")]
    if solver == "lbfgs":
        assert lines == []
    else:  # one line per epoch
        assert len(lines) == clf.n_iter_ == len(clf.loss_curve_)
        assert lines[-1] == "Iteration %d, loss = %.8f" % (clf.n_iter_, clf.loss_curve_[-1])


@both_estimators
def test_lbfgs_respects_max_fun(Est, problem):
    X, y = problem
    est = Est(solver="lbfgs", max_fun=10, random_state=0).fit(X, y)
    assert est.n_iter_ <= 10


# --- interrupts and failures ----------------------------------------------------------
# Ctrl-C: tests/test_interrupt.py, for both estimators


@both_estimators
def test_divergence_raises_and_leaves_no_fitted_model(Est, problem):
    X, y = problem
    X_bad = X * 1e300  # finite, but X @ W overflows: the loss becomes non-finite
    est = Est(solver="sgd", learning_rate_init=10.0, random_state=0, max_iter=50)
    with pytest.raises(ValueError, match="learning rate .* too high|scaling"):
        with np.errstate(all="ignore"):
            est.fit(X_bad, y)
    with pytest.raises(NotFittedError):
        est.predict(X)


@both_estimators
def test_divergence_in_partial_fit_restores_previous_model(Est, problem):
    X, y = problem
    est = Est(solver="sgd", random_state=0)
    est.partial_fit(X, y, **({"classes": [0, 1, 2]} if is_classifier(Est()) else {}))
    before = [p.copy() for p in est.coefs_ + est.intercepts_]
    n_losses = len(est.loss_curve_)
    est.set_params(batch_size=20)
    # finite inputs whose X @ W overflows: the loss, then the weights, become non-finite
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
        with np.errstate(all="ignore"):
            est.partial_fit(X * 1e300, y)
    for a, b in zip(est.coefs_ + est.intercepts_, before, strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(est.loss_curve_) == n_losses
    assert np.isfinite(outputs(est, X)).all()


# --- bad input ------------------------------------------------------------------------
@pytest.mark.parametrize("params, name", [
    ({"activation": "swish"}, "activation"),
    ({"activation": ("relu", "bogus")}, "activation"),
    ({"hidden_layer_sizes": (10, 0)}, "hidden_layer_sizes"),
    ({"solver": "newton"}, "solver"),
    ({"alpha": -1.0}, "alpha"),
    ({"batch_size": 0}, "batch_size"),
    ({"learning_rate_init": 0.0}, "learning_rate_init"),
    ({"momentum": 1.5}, "momentum"),
    ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"beta_1": 1.0}, "beta_1"),
    ({"n_iter_no_change": 0}, "n_iter_no_change"),
    ({"max_fun": 0}, "max_fun"),
])
def test_invalid_parameters_raise_invalid_parameter_error(three_classes, params, name):
    X, y = three_classes
    with pytest.raises(InvalidParameterError, match=name):
        MLPClassifierFromScratch(**params).fit(X, y)


def test_bad_data_raises_value_error_naming_the_problem(three_classes):
    X, y = three_classes
    X_nan = X.copy()
    X_nan[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MLPClassifierFromScratch().fit(X_nan, y)
    X_inf = X.copy()
    X_inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        MLPClassifierFromScratch().fit(X_inf, y)
    with pytest.raises(ValueError, match="Unknown label type"):
        MLPClassifierFromScratch().fit(X, np.linspace(0, 1, len(X)))
    clf = MLPClassifierFromScratch(max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :5])
    with pytest.raises(NotFittedError):
        MLPClassifierFromScratch().predict_proba(X)


# --- reproducibility, persistence, ecosystem ---------------------------------------------
@both_estimators
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_same_random_state_same_weights(Est, problem, solver):
    X, y = problem
    a = Est(solver=solver, random_state=3, max_iter=10).fit(X, y)
    b = Est(solver=solver, random_state=3, max_iter=10).fit(X, y)
    c = Est(solver=solver, random_state=4, max_iter=10).fit(X, y)
    assert_same_weights(a, b)
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])


@both_estimators
def test_pickle_round_trip_predicts_identically_and_trains_on(Est, problem):
    X, y = problem
    est = Est(random_state=0, max_iter=5).fit(X, y)
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(outputs(loaded, X), outputs(est, X))
    loaded.partial_fit(X, y)  # training resumes, with the optimizer's state
    est.partial_fit(X, y)
    np.testing.assert_array_equal(outputs(loaded, X), outputs(est, X))


def test_assigned_weights_are_the_model(three_classes):
    X, y = three_classes
    clf = MLPClassifierFromScratch(random_state=0, max_iter=5).fit(X, y)
    clf.coefs_[-1] = np.zeros_like(clf.coefs_[-1])
    clf.intercepts_[-1] = np.array([0.0, 5.0, 0.0])
    assert (clf.predict(X) == 1).all()
    assert (pickle.loads(pickle.dumps(clf)).predict(X) == 1).all()
    clf.coefs_ = [np.ones((3, 100))] + clf.coefs_[1:]  # a network, but not for X
    with pytest.raises(ValueError, match="coefs_ maps 3 inputs"):
        clf.predict(X)


def test_a_tampered_pickle_does_not_load(three_classes):
    X, y = three_classes
    clf = MLPClassifierFromScratch((7,), random_state=0, max_iter=2).fit(X, y)
    clf.intercepts_[0] = np.zeros(8)  # one bias too many for 7 units
    with pytest.raises(ValueError, match="do not form a layer"):
        pickle.loads(pickle.dumps(clf))


def test_grid_search_over_pipeline_in_parallel(three_classes):
    X, y = three_classes
    pipe = Pipeline([("scale", StandardScaler()),
                     ("mlp", MLPClassifierFromScratch(max_iter=50, learning_rate_init=0.01,
                                                      random_state=0))])
    grid = {"mlp__hidden_layer_sizes": [(10,), (20,)], "mlp__alpha": [1e-4, 1e-1]}
    search = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_score_ > 0.7
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


# --- predict's shortcut for plain float arrays keeps every check ---------------------------------
def test_predict_shortcut_keeps_validate_datas_checks(three_classes):
    X, y = three_classes
    clf = MLPClassifierFromScratch((8,), random_state=0, max_iter=5).fit(X, y)
    row = X[:1].copy()
    # a list takes the validate_data road; the same numbers come out
    np.testing.assert_array_equal(clf.predict_proba(row), clf.predict_proba(row.tolist()))
    for dtype in (np.float32, np.float16, np.int64):  # converted as validate_data converts
        np.testing.assert_allclose(clf.predict_proba(row.astype(dtype)),
                                   clf.predict_proba(row.astype(dtype).astype(np.float64)),
                                   rtol=1e-6)
    np.testing.assert_array_equal(clf.predict_proba(np.asfortranarray(X)), clf.predict_proba(X))
    with pytest.raises(ValueError, match="X has 9 features, but MLPClassifierFromScratch is "
                                         "expecting 10 features as input"):
        clf.predict_proba(row[:, :9])
    bad = row.copy()
    bad[0, 3] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clf.predict_proba(bad)
    bad[0, 3] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        clf.predict(bad)
    with sklearn.config_context(assume_finite=True):  # the check is skipped, as there
        assert np.isnan(clf.predict_proba(np.full((1, 10), np.nan))).all()
    with pytest.raises(ValueError, match="Found array with 0 sample"):
        clf.predict_proba(row[:0])
    with pytest.raises(ValueError, match="Expected 2D array"):
        clf.predict_proba(row[0])


def test_predict_shortcut_respects_feature_names(three_classes):
    pd = pytest.importorskip("pandas")
    X, y = three_classes
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = MLPClassifierFromScratch((8,), random_state=0, max_iter=5).fit(df, y)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        clf.predict_proba(X[:1])
    plain = MLPClassifierFromScratch((8,), random_state=0, max_iter=5).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no feature names anywhere: no warning
        plain.predict_proba(X[:1])
