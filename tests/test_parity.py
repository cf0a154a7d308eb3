"""Parity with scikit-learn's MLPClassifier: the same ``random_state`` trains the same model.

With the extras off (no class_weight, dropout, scoring, validation data; the default
``init="glorot_uniform"``), MLPClassifierFromScratch draws the same initial weights,
the same early-stopping split and the same shuffles as MLPClassifier, applies the same
SGD/Adam updates, stops by the same tol/n_iter_no_change rule and calls scipy's
L-BFGS-B the same way. Each grid case below trains both estimators and compares them
after every ``fit``/``partial_fit`` call:

* float64: every ``coefs_``/``intercepts_`` array within 1e-9 x the largest absolute
  weight of the model (lbfgs: 1e-6), the same ``n_iter_``, ``loss_curve_`` to rel 1e-9,
  identical ``predict``, ``predict_proba`` to 1e-9;
* float32 input: weights within 1e-4 x the largest weight. MLPClassifier's lbfgs
  returns float64 ``coefs_`` even for float32 X (scipy works in float64); ours stay
  float32, so values are compared, not dtypes.

The rest of the module checks API behaviours against what MLPClassifier does.

Self-check: set ``Ours = MLPClassifier`` below and the harness must pass on its own
(tests marked ``ours_only`` are then skipped; from_sklearn/to_sklearn become deepcopy).
"""

import copy
import inspect
import pickle
import re

import numpy as np
import pytest
from _parity import assert_same_training
from _support import BATCH_SIZE_WARNING
from scipy.special import log_expit, logsumexp
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    make_classification,
    make_multilabel_classification,
)
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score
from sklearn.multioutput import MultiOutputClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from skmlp import MLPClassifierFromScratch

Ours = MLPClassifierFromScratch
SELF_CHECK = Ours is MLPClassifier
ours_only = pytest.mark.skipif(SELF_CHECK, reason="skmlp-specific behaviour")

pytestmark = [pytest.mark.filterwarnings("ignore:Got `batch_size`:UserWarning"),
              # the whole module runs twice, with skmlp's numba kernels and with the numpy
              # reference: parity must hold on both
              pytest.mark.usefixtures("one_blas_thread", "kernel_setting")]


def _from_sklearn(mlp):
    return copy.deepcopy(mlp) if SELF_CHECK else Ours.from_sklearn(mlp)


def _to_sklearn(est):
    return copy.deepcopy(est) if SELF_CHECK else est.to_sklearn()


# --- data -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def classification_sets():
    """name -> (X, y, positive sample weights), X standardised, float64."""
    rng = np.random.RandomState(0)
    out = {}
    X, y = make_classification(n_samples=120, n_features=6, n_informative=4,
                               n_redundant=1, random_state=1)
    out["binary"] = (X, np.array(["neg", "pos"])[y])
    X, y = make_classification(n_samples=150, n_features=8, n_informative=5,
                               n_redundant=1, n_classes=3, random_state=0)
    out["multiclass"] = (X, y)
    X, Y = make_multilabel_classification(n_samples=120, n_features=8, n_classes=3,
                                          random_state=2)
    out["multilabel"] = (X, Y)
    return {name: (StandardScaler().fit_transform(X), y, rng.uniform(0.2, 3.0, len(y)))
            for name, (X, y) in out.items()}


# --- the comparison ---------------------------------------------------------------------------
def _margin(proba, multiclass):
    """How far each prediction is from a tie, per row (softmax) or per label (logistic)."""
    if multiclass:
        top2 = np.sort(proba, axis=1)[:, -2:]
        return top2[:, 1] - top2[:, 0]
    return np.abs(proba - 0.5)


def assert_same_model(ours, theirs, rtol_w=1e-9, *, X=None, rtol_loss=1e-9, atol_proba=1e-9,
                      strict_predict=True, compare_curves=True):
    """``ours`` trained the model ``theirs`` (an MLPClassifier) trained, within tolerances.

    Weights: ``|ours - theirs| <= rtol_w * max |weight of theirs|`` for every array.
    With ``strict_predict=False`` (float32, lbfgs), predictions may only differ where
    MLPClassifier's own probabilities are within ``10 * atol_proba`` of a tie.
    ``compare_curves=False`` leaves out ``loss_curve_`` and ``best_loss_``, which our
    lbfgs records and MLPClassifier's does not, and the NaN entries our validation curves
    then have for those iterations (entry i of every curve is epoch i's).
    """
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    assert_same_training(ours, theirs, rtol_w, rtol_loss=rtol_loss, compare_curves=compare_curves)
    if getattr(theirs, "validation_scores_", None) is not None:
        scores = np.asarray(ours.validation_scores_, dtype=float)
        if not compare_curves:
            scores = scores[~np.isnan(scores)]
        np.testing.assert_allclose(scores, theirs.validation_scores_, rtol=1e-12)
        assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_,
                                                            rel=1e-12)
    if X is None:
        return
    p_ours, p_theirs = ours.predict_proba(X), theirs.predict_proba(X)
    np.testing.assert_allclose(p_ours, p_theirs, rtol=0, atol=atol_proba)
    y_ours, y_theirs = ours.predict(X), theirs.predict(X)
    if strict_predict:
        np.testing.assert_array_equal(y_ours, y_theirs)
    else:
        assert y_ours.shape == y_theirs.shape
        multiclass = theirs.out_activation_ == "softmax"
        margin = _margin(p_theirs if multiclass or theirs.n_outputs_ > 1 else p_theirs[:, 1],
                         multiclass)
        differ = y_ours != y_theirs
        assert np.all(margin[differ] <= 10 * atol_proba), "predictions differ away from ties"


# --- the grid ---------------------------------------------------------------------------------
def case(id, target="multiclass", how="fit", dtype=np.float64, weighted=False, expect=(),
         **params):
    """One grid case. ``expect`` names what MLPClassifier must show for the case to cover
    what it claims: "stops_early" (n_iter_ < max_iter), "lr_divided" (adaptive fired),
    "no_new_best" (the last fit did not improve the best validation score)."""
    params = {"hidden_layer_sizes": (8,), "max_iter": 20, "batch_size": 32, "random_state": 0,
              **params}
    return pytest.param(target, how, dtype, weighted, params, expect, id=id)


#: Cases use batch_size=32 unless they say otherwise: with "auto" (min(200, n_samples))
#: these small sets are one batch per epoch, and the shuffles would go untested.
SGD = {"solver": "sgd", "learning_rate_init": 0.05}
ADAPTIVE = {**SGD, "learning_rate": "adaptive", "tol": 0.05, "n_iter_no_change": 2,
            "max_iter": 30}

CASES = [
    # adam: activations, layers, targets
    case("adam-relu-binary", "binary"),
    case("adam-relu-batch-auto", batch_size="auto"),
    case("adam-tanh-multiclass-2layers", activation="tanh", hidden_layer_sizes=(7, 5)),
    case("adam-logistic-multilabel", "multilabel", activation="logistic"),
    case("adam-identity-multiclass", activation="identity"),
    case("adam-relu-multilabel-2layers", "multilabel", hidden_layer_sizes=(7, 5)),
    case("adam-tanh-binary-2layers", "binary", activation="tanh", hidden_layer_sizes=(6, 4)),
    case("adam-betas-epsilon", beta_1=0.8, beta_2=0.99, epsilon=1e-6, learning_rate_init=0.01),
    case("adam-tol-stop", expect=("stops_early",), tol=2e-2, n_iter_no_change=2, max_iter=50),
    # sample_weight, early stopping (binary is stratified, multiclass/multilabel are not)
    case("adam-relu-multiclass-sw", weighted=True),
    case("adam-logistic-binary-sw", "binary", weighted=True, activation="logistic"),
    case("adam-identity-multilabel-sw", "multilabel", weighted=True, activation="identity"),
    case("adam-relu-binary-es", "binary", early_stopping=True),
    case("adam-relu-multiclass-es", early_stopping=True, n_iter_no_change=3,
         learning_rate_init=0.01, max_iter=40),
    case("adam-tanh-multiclass-es-sw", weighted=True, activation="tanh", early_stopping=True,
         validation_fraction=0.2),
    case("adam-relu-multilabel-es", "multilabel", early_stopping=True),
    case("adam-logistic-binary-es-sw", "binary", weighted=True, activation="logistic",
         early_stopping=True),
    case("adam-relu-multilabel-es-sw-2layers", "multilabel", weighted=True,
         early_stopping=True, hidden_layer_sizes=(7, 5)),
    # batches, shuffling, alpha
    case("adam-noshuffle", shuffle=False),
    case("adam-bs7", batch_size=7, max_iter=10),
    case("adam-bs7-noshuffle-sw-binary", "binary", weighted=True, batch_size=7, shuffle=False,
         max_iter=10),
    case("adam-bs-larger-than-n", batch_size=500),
    case("adam-bs-larger-than-ntrain-es", "binary", batch_size=115, early_stopping=True),
    case("adam-alpha0", alpha=0.0),
    case("adam-alpha1-tanh-binary", "binary", alpha=1.0, activation="tanh"),
    case("adam-alpha1e-2-multilabel", "multilabel", alpha=1e-2),
    # sgd: schedules, momentum
    case("sgd-constant-nesterov-relu", **SGD),
    case("sgd-constant-momentum-tanh-binary", "binary", nesterovs_momentum=False,
         activation="tanh", **SGD),
    case("sgd-constant-momentum0-logistic", momentum=0.0, activation="logistic", **SGD),
    case("sgd-constant-momentum0-identity-binary-2layers", "binary", momentum=0.0,
         activation="identity", hidden_layer_sizes=(6, 4), **SGD),
    case("sgd-constant-tol-stop", expect=("stops_early",), tol=1e-2, n_iter_no_change=2,
         max_iter=50, **SGD),
    case("sgd-invscaling-relu",
         **{**SGD, "learning_rate": "invscaling", "learning_rate_init": 0.2}),
    case("sgd-invscaling-tanh-multilabel-momentum0", "multilabel", momentum=0.0,
         activation="tanh", power_t=0.25, **{**SGD, "learning_rate": "invscaling"}),
    case("sgd-invscaling-nonesterov-2layers", nesterovs_momentum=False,
         hidden_layer_sizes=(7, 5), **{**SGD, "learning_rate": "invscaling"}),
    case("sgd-adaptive-relu", expect=("lr_divided",), **ADAPTIVE),
    case("sgd-adaptive-tanh-binary-nonesterov", "binary", expect=("lr_divided",),
         activation="tanh", nesterovs_momentum=False, **ADAPTIVE),
    case("sgd-adaptive-momentum0-logistic-multilabel", "multilabel", expect=("lr_divided",),
         momentum=0.0, activation="logistic", **ADAPTIVE),
    case("sgd-adaptive-es", expect=("lr_divided",), early_stopping=True, **ADAPTIVE),
    case("sgd-relu-sw", weighted=True, **SGD),
    case("sgd-relu-batch-auto-es", batch_size="auto", early_stopping=True, **SGD),
    case("sgd-relu-binary-es-sw", "binary", weighted=True, early_stopping=True, **SGD),
    case("sgd-tanh-multilabel-sw-alpha1e-2", "multilabel", weighted=True, alpha=1e-2,
         activation="tanh", **SGD),
    case("sgd-noshuffle-bs7", shuffle=False, batch_size=7, max_iter=10, **SGD),
    case("sgd-bs-larger-than-n-binary", "binary", batch_size=1000, **SGD),
    # lbfgs
    case("lbfgs-relu-binary", "binary", solver="lbfgs", batch_size="auto"),
    case("lbfgs-tanh-multiclass-2layers", solver="lbfgs", activation="tanh",
         hidden_layer_sizes=(7, 5)),
    case("lbfgs-logistic-multilabel", "multilabel", solver="lbfgs", activation="logistic"),
    case("lbfgs-identity", solver="lbfgs", activation="identity"),
    case("lbfgs-relu-sw", weighted=True, solver="lbfgs"),
    case("lbfgs-alpha1", solver="lbfgs", alpha=1.0, max_iter=50),
    case("lbfgs-max-fun", solver="lbfgs", max_fun=12, max_iter=50),
    case("lbfgs-tol-converges", expect=("stops_early",), solver="lbfgs", tol=3e-2, max_iter=50),
    # float32
    case("f32-adam-relu", dtype=np.float32),
    case("f32-adam-tanh-multilabel-2layers", "multilabel", dtype=np.float32, activation="tanh",
         hidden_layer_sizes=(7, 5)),
    case("f32-adam-binary-es-sw", "binary", dtype=np.float32, weighted=True,
         early_stopping=True),
    case("f32-sgd-relu", dtype=np.float32, **SGD),
    case("f32-sgd-invscaling-logistic-binary-sw", "binary", dtype=np.float32, weighted=True,
         activation="logistic", **{**SGD, "learning_rate": "invscaling"}),
    case("f32-lbfgs-tanh", dtype=np.float32, solver="lbfgs", activation="tanh"),
    case("f32-lbfgs-relu-binary-sw-2layers", "binary", dtype=np.float32, weighted=True,
         solver="lbfgs", hidden_layer_sizes=(6, 4)),
    # warm_start: fit twice
    case("warm-adam", "multiclass", "warm", max_iter=10),
    case("warm-sgd-nesterov-binary", "binary", "warm", max_iter=10, **SGD),
    case("warm-sgd-adaptive", "multiclass", "warm", expect=("lr_divided",), **ADAPTIVE),
    case("warm-adam-es", "multiclass", "warm", early_stopping=True, n_iter_no_change=3,
         max_iter=15),
    case("warm-sgd-es-sw-binary", "binary", "warm", weighted=True, early_stopping=True,
         max_iter=10, **SGD),
    # the second fit never beats the first's best validation score: MLPClassifier's
    # _best_coefs is then coefs_ itself (aliased by the first fit's restore), trained on
    case("warm-adam-es-no-new-best", "multilabel", "warm_slower", expect=("no_new_best",),
         early_stopping=True, n_iter_no_change=3, max_iter=15, learning_rate_init=0.01),
    case("warm-adam-multilabel-sw", "multilabel", "warm", weighted=True, max_iter=10),
    case("warm-lbfgs", "multiclass", "warm", solver="lbfgs", max_iter=15),
    case("warm-f32-adam-multilabel", "multilabel", "warm", dtype=np.float32, max_iter=10),
    # partial_fit sequences (classes= on the first call)
    case("partial-adam-chunks", "multiclass", "partial"),
    case("partial-adam-binary-sw", "binary", "partial", weighted=True),
    case("partial-adam-multilabel", "multilabel", "partial"),
    case("partial-sgd-nesterov-sw", "multiclass", "partial", weighted=True, **SGD),
    case("partial-sgd-invscaling-momentum0-binary", "binary", "partial", momentum=0.0,
         **{**SGD, "learning_rate": "invscaling"}),
    case("partial-sgd-adaptive-noshuffle-bs7", "multiclass", "partial", shuffle=False,
         batch_size=7, **ADAPTIVE),
    case("partial-f32-sgd-multilabel", "multilabel", "partial", dtype=np.float32, **SGD),
    case("fit-then-partial-adam", "multiclass", "fit_partial", max_iter=10),
    case("fit-then-partial-sgd-sw", "binary", "fit_partial", weighted=True, max_iter=10, **SGD),
]


def _steps(how, X, y, w, classes):
    """The training calls of a case, each applied to both estimators in turn."""
    def fit(e):
        return e.fit(X, y, sample_weight=w)

    def warm(**changes):
        return lambda e: e.set_params(warm_start=True, **changes).fit(X, y, sample_weight=w)

    def partial(rows, first=False):
        sw = None if w is None else w[rows]
        extra = {"classes": classes} if first else {}
        return lambda e: e.partial_fit(X[rows], y[rows], sample_weight=sw, **extra)

    n = len(X)
    chunks = [slice(0, n // 3), slice(n // 3, 2 * n // 3), slice(2 * n // 3, n)]
    return {
        "fit": [fit],
        "warm": [fit, warm()],
        "warm_slower": [fit, warm(learning_rate_init=1e-3)],
        "partial": [partial(chunks[0], first=True), partial(chunks[1]), partial(chunks[2]),
                    partial(slice(None)), partial(slice(None))],
        "fit_partial": [fit, partial(slice(None)), partial(slice(None))],
    }[how]


@pytest.mark.parametrize("target, how, dtype, weighted, params, expect", CASES)
def test_same_model_as_mlpclassifier(classification_sets, target, how, dtype, weighted, params,
                                     expect):
    X, y, w = classification_sets[target]
    X = X.astype(dtype)
    w = w.astype(dtype) if weighted else None
    classes = np.arange(y.shape[1]) if y.ndim == 2 else np.unique(y)
    f32 = dtype == np.float32
    lbfgs = params.get("solver") == "lbfgs"
    rel = 1e-4 if f32 else 1e-6 if lbfgs else 1e-9
    tol = {"rtol_w": rel, "rtol_loss": rel, "atol_proba": rel,
           "strict_predict": not (f32 or lbfgs)}
    ours, theirs = Ours(**params), MLPClassifier(**params)
    best_scores = []
    for step in _steps(how, X, y, w, classes):
        step(theirs)
        step(ours)
        assert_same_model(ours, theirs, X=X, **tol)
        best_scores.append(getattr(theirs, "best_validation_score_", None))

    if "stops_early" in expect:
        assert theirs.n_iter_ < params["max_iter"]
    if "no_new_best" in expect:
        assert best_scores[-1] == best_scores[-2] and theirs.coefs_ is theirs._best_coefs
    if params.get("solver") == "sgd":  # the schedule's state: the same learning rate
        if "lr_divided" in expect:
            assert theirs._optimizer.learning_rate < params["learning_rate_init"] / 4
        assert ours._optimizer.learning_rate == pytest.approx(theirs._optimizer.learning_rate,
                                                              rel=1e-12)
    # scipy hands float64 weights back from L-BFGS, even for float32 X: on both sides
    expected = np.float64 if lbfgs else dtype
    assert ours.coefs_[0].dtype == theirs.coefs_[0].dtype == expected


def test_warm_start_through_lbfgs_keeps_the_best_weights_aliased(classification_sets):
    # adam with early stopping, then lbfgs (which ignores it) with a harmful alpha, then adam
    # again. MLPClassifier's lbfgs trains the aliased _best_coefs too, so the third fit,
    # which never beats the first's best score, keeps the live weights, not the first's.
    X, y, _ = classification_sets["multiclass"]
    params = {"hidden_layer_sizes": (8,), "batch_size": 32, "random_state": 0,
              "early_stopping": True, "n_iter_no_change": 3, "max_iter": 15,
              "learning_rate_init": 0.01, "warm_start": True}
    ours, theirs = Ours(**params), MLPClassifier(**params)
    curves, best = [], []
    for changes in ({}, {"solver": "lbfgs", "alpha": 100.0},
                    {"solver": "adam", "alpha": 1e-4, "learning_rate_init": 1e-4}):
        for est in (ours, theirs):
            est.set_params(**changes).fit(X, y)
        curves.append(len(ours.loss_curve_))
        best.append(theirs.best_validation_score_)
        assert_same_model(ours, theirs, X=X, compare_curves=False)
    assert best[2] == best[0] and theirs.coefs_ is theirs._best_coefs  # no new best
    # our lbfgs records its iterations too (MLPClassifier's records none): without them the
    # curves are MLPClassifier's
    assert curves[1] > curves[0]
    ours_curve = ours.loss_curve_[: curves[0]] + ours.loss_curve_[curves[1]:]
    np.testing.assert_allclose(ours_curve, theirs.loss_curve_, rtol=1e-9)


FULL_FITS = [pytest.param(load, solver, id=f"{load.__name__[5:]}-{solver}")
             for load, solver in [(load_iris, "adam"), (load_wine, "adam"),
                                  (load_breast_cancer, "adam"), (load_digits, "adam"),
                                  (load_iris, "lbfgs"), (load_digits, "lbfgs")]]


@pytest.mark.parametrize("load, solver", FULL_FITS)
def test_full_default_fit(load, solver):
    """Real data, standardised, default parameters, run to convergence (or max_iter=200)."""
    X, y = load(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    theirs = MLPClassifier(solver=solver, random_state=0).fit(X, y)
    ours = Ours(solver=solver, random_state=0).fit(X, y)
    lbfgs = solver == "lbfgs"
    assert_same_model(ours, theirs, 1e-6 if lbfgs else 1e-9, X=X,
                      rtol_loss=1e-6 if lbfgs else 1e-9, atol_proba=1e-6 if lbfgs else 1e-9,
                      strict_predict=not lbfgs)


# --- 1. partial_fit(X, y, sample_weight=None, classes=None) -----------------------------------
def test_partial_fit_signature_is_mlpclassifiers():
    assert inspect.signature(Ours.partial_fit) == inspect.signature(MLPClassifier.partial_fit)


def test_positional_weight_mask_is_sample_weight(classification_sets):
    X, y, _ = classification_sets["multiclass"]
    mask = (np.arange(len(y)) % 3 != 0).astype(float)
    classes = np.unique(y)
    params = {"hidden_layer_sizes": (8,), "random_state": 0}
    theirs = MLPClassifier(**params).partial_fit(X, y, mask, classes=classes)
    positional = Ours(**params).partial_fit(X, y, mask, classes=classes)
    keyword = Ours(**params).partial_fit(X, y, sample_weight=mask, classes=classes)
    unweighted = Ours(**params).partial_fit(X, y, classes=classes)
    assert_same_model(positional, theirs, X=X)
    assert_same_model(positional, keyword, rtol_w=0, X=X)
    assert not np.allclose(positional.coefs_[0], unweighted.coefs_[0])


# --- 2. a target with one class ---------------------------------------------------------------
# MLPClassifier fits a constant y: classes_ == [c], n_outputs_ == 1, out_activation_
# "logistic", trained towards the all-zero encoding of LabelBinarizer. predict returns c
# everywhere; predict_proba has shape (n, 2) = [1 - p, p] (two columns for one class, p
# the trained logistic output, so the rows are not [1.]), predict_log_proba is its log.
# Ours returns shape (n, len(classes_)) = (n, 1): all ones, log-probabilities all zero.
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_one_class_target(classification_sets, solver):
    X = classification_sets["multiclass"][0]
    y = np.full(len(X), 7)
    params = {"hidden_layer_sizes": (5,), "solver": solver, "max_iter": 10, "random_state": 0}
    theirs = MLPClassifier(**params).fit(X, y)
    np.testing.assert_array_equal(theirs.classes_, [7])
    np.testing.assert_array_equal(theirs.predict(X), y)
    assert theirs.predict_proba(X).shape == (len(X), 2)

    ours = Ours(**params).fit(X, y)
    np.testing.assert_array_equal(ours.classes_, [7])
    np.testing.assert_array_equal(ours.predict(X), y)
    assert ours.score(X, y) == 1.0
    if not SELF_CHECK:
        P, L = ours.predict_proba(X), ours.predict_log_proba(X)
        assert P.shape == L.shape == (len(X), 1)
        np.testing.assert_array_equal(P, 1.0)
        np.testing.assert_array_equal(L, 0.0)


def test_time_series_split_on_sorted_labels(classification_sets):
    """The first training fold holds one class only."""
    X, y, _ = classification_sets["binary"]
    y_sorted = np.sort(y)
    for est in (MLPClassifier((5,), max_iter=10, random_state=0),
                Ours((5,), max_iter=10, random_state=0)):
        scores = cross_val_score(est, X, y_sorted, cv=TimeSeriesSplit(n_splits=3))
        assert np.all(np.isfinite(scores))


def test_multioutput_classifier_with_a_constant_label_column(classification_sets):
    X, y, _ = classification_sets["binary"]
    Y = np.column_stack([y, np.full(len(y), "const")])
    for base in (MLPClassifier((5,), max_iter=10, random_state=0),
                 Ours((5,), max_iter=10, random_state=0)):
        moc = MultiOutputClassifier(base).fit(X, Y)
        np.testing.assert_array_equal(moc.predict(X)[:, 1], "const")
        proba = moc.predict_proba(X)
        assert proba[0].shape == (len(X), 2)
        if base.__class__ is Ours and not SELF_CHECK:
            np.testing.assert_array_equal(proba[1], np.ones((len(X), 1)))


# --- 3. assigning weights ---------------------------------------------------------------------
def _fit_pair(classification_sets, target="multiclass", **params):
    X, y, _ = classification_sets[target]
    params = {"hidden_layer_sizes": (10,), "max_iter": 15, "random_state": 0, **params}
    return Ours(**params).fit(X, y), MLPClassifier(**params).fit(X, y)


def _prune(est, keep=5):
    """Keep the first ``keep`` hidden units: assign smaller matrices, as users do."""
    est.coefs_[0] = est.coefs_[0][:, :keep].copy()
    est.intercepts_[0] = est.intercepts_[0][:keep].copy()
    est.coefs_[1] = est.coefs_[1][:keep].copy()
    return est


def _skops_round_trip(est):
    sio = pytest.importorskip("skops.io")
    blob = sio.dumps(est)
    return sio.loads(blob, trusted=sio.get_untrusted_types(data=blob))


def test_assign_coefs_as_a_tuple(classification_sets):
    """MLPClassifier predicts with tuples (its warm_start fit and partial_fit then fail:
    ``params = self.coefs_ + self.intercepts_`` is tuple + list)."""
    X = classification_sets["multiclass"][0]
    for est in _fit_pair(classification_sets):
        before = est.predict_proba(X)
        est.coefs_ = tuple(est.coefs_)
        est.intercepts_ = tuple(est.intercepts_)
        np.testing.assert_array_equal(est.predict_proba(X), before)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_pruned_weights_are_used_everywhere(classification_sets, solver):
    X, y, _ = classification_sets["multiclass"]
    ours, theirs = (_prune(est) for est in _fit_pair(classification_sets, solver=solver))
    assert [W.shape for W in ours.coefs_] == [(8, 5), (5, 3)]
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=0,
                               atol=1e-6 if solver == "lbfgs" else 1e-9)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    for round_trip in (lambda e: pickle.loads(pickle.dumps(e)), copy.deepcopy,
                       _skops_round_trip):
        for est in (ours, theirs):
            loaded = round_trip(est)
            assert [W.shape for W in loaded.coefs_] == [(8, 5), (5, 3)]
            np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    if solver == "lbfgs":  # MLPClassifier's lbfgs cannot go on: it packs hidden_layer_sizes
        return
    for est in (ours, theirs):
        est.set_params(warm_start=True, max_iter=5).fit(X, y)
    assert_same_model(ours, theirs, X=X)
    assert [W.shape for W in ours.coefs_] == [(8, 5), (5, 3)]


@ours_only
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_partial_fit_after_pruning(classification_sets, solver):
    """MLPClassifier fails here (its optimizer state keeps the old shapes:
    "operands could not be broadcast together with shapes (8,10) (8,5)"); ours trains on."""
    X, y, _ = classification_sets["multiclass"]
    ours = _prune(_fit_pair(classification_sets, solver=solver)[0])
    pruned = [W.copy() for W in ours.coefs_]
    ours.partial_fit(X, y)
    ours.partial_fit(X, y)
    assert [W.shape for W in ours.coefs_] == [(8, 5), (5, 3)]
    assert [b.shape for b in ours.intercepts_] == [(5,), (3,)]
    assert not np.allclose(ours.coefs_[0], pruned[0])
    assert np.all(np.isfinite(ours.predict_proba(X)))


def test_assigned_float32_weights_stay_float32(classification_sets):
    X = classification_sets["multiclass"][0]
    ours, theirs = _fit_pair(classification_sets)
    for est in (ours, theirs):
        est.coefs_ = [W.astype(np.float32) for W in est.coefs_]
        est.intercepts_ = [b.astype(np.float32) for b in est.intercepts_]
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=0,
                               atol=1e-5)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    assert all(a.dtype == np.float32 for a in list(ours.coefs_) + list(ours.intercepts_))


# --- 4. predict_log_proba ---------------------------------------------------------------------
def _exact_log_proba(mlp, X):
    """Log-probabilities from MLPClassifier's logits, computed without underflow."""
    logits_model = copy.deepcopy(mlp)
    logits_model.out_activation_ = "identity"
    Z = logits_model._forward_pass_fast(X)
    if mlp.out_activation_ == "softmax":
        return Z - logsumexp(Z, axis=1, keepdims=True)
    if Z.shape[1] == 1:
        return np.hstack([log_expit(-Z), log_expit(Z)])
    return log_expit(Z)


@pytest.fixture(scope="module", params=["binary", "multiclass", "multilabel"])
def saturated(request, classification_sets):
    """(X, ours, theirs, exact log-probabilities): last layer scaled by 1e4, so that
    probabilities underflow."""
    X = classification_sets[request.param][0]
    pair = _fit_pair(classification_sets, request.param)
    theirs = pair[1]
    for est in pair:  # the very same weights on both sides: only rounding differs
        est.coefs_ = [W.copy() for W in theirs.coefs_[:-1]] + [theirs.coefs_[-1] * 1e4]
        est.intercepts_ = ([b.copy() for b in theirs.intercepts_[:-1]]
                           + [theirs.intercepts_[-1] * 1e4])
    return (X, *pair, _exact_log_proba(theirs, X))


def test_log_proba_is_log_of_proba_where_proba_is_normal(saturated):
    X, ours, theirs, _ = saturated
    tiny = np.finfo(np.float64).tiny
    with np.errstate(divide="ignore"):
        P_theirs = theirs.predict_proba(X)
    assert np.any(P_theirs < tiny)  # the case does underflow
    P, L = ours.predict_proba(X), ours.predict_log_proba(X)
    np.testing.assert_allclose(P, P_theirs, rtol=1e-9, atol=1e-15)
    normal = P >= tiny
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(L[normal], np.log(P[normal]), rtol=1e-7, atol=1e-15)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


@ours_only
def test_log_proba_is_finite_where_proba_underflows(saturated):
    """MLPClassifier returns -inf there (np.log(0), with a RuntimeWarning). Ours floors
    probabilities at the smallest normal float, so log-probabilities stop at log(tiny):
    exactly log(predict_proba), and sorting like it, ties included (scikit-learn's
    check_classifiers_train asserts that; log-softmax values below the floor would break
    it where two classes underflow)."""
    X, ours, theirs, exact = saturated
    log_tiny = np.log(np.finfo(np.float64).tiny)
    if ours.out_activation_ == "logistic" and len(ours.classes_) == 2:
        # binary probabilities are MLPClassifier's [1 - p, p]: where p rounds to 1, the
        # first is 0 there (floored here) however far above log(tiny) its exact log is
        p = theirs.predict_proba(X)[:, 1]
        exact = np.where(np.stack([1 - p, p], axis=1) == 0, -np.inf, exact)
    underflow = exact < log_tiny
    assert np.any(underflow)
    P, L = ours.predict_proba(X), ours.predict_log_proba(X)
    assert np.all(np.isfinite(L))
    np.testing.assert_array_equal(L, np.log(P))
    np.testing.assert_array_equal(L[underflow], log_tiny)
    np.testing.assert_array_equal(np.argsort(L), np.argsort(P))
    # the reference subtracts logits of magnitude ~1e3: it is itself only good to ~1e-12
    np.testing.assert_allclose(L[~underflow], exact[~underflow], rtol=1e-7, atol=1e-11)


# --- 5. early-stopping errors -----------------------------------------------------------------
def _raises_like_mlpclassifier(params, X, y, *, exact=True, **fit_kwargs):
    with pytest.raises(ValueError) as theirs:
        MLPClassifier(**params).fit(X, y, **fit_kwargs)
    message = str(theirs.value)
    if not exact:  # keep the first sentences: the list of classes after them may differ
        message = message.split("Classes with too few members")[0].strip()
    with pytest.raises(ValueError, match=re.escape(message)):
        Ours(**params).fit(X, y, **fit_kwargs)
    return message


ES = {"hidden_layer_sizes": (5,), "early_stopping": True, "max_iter": 3, "random_state": 0}


@pytest.mark.parametrize("weighted", [False, True])
def test_early_stopping_a_binary_class_with_one_member(classification_sets, weighted):
    X, _, w = classification_sets["binary"]
    y = np.array(["neg"] * len(X))
    y[3] = "pos"
    message = _raises_like_mlpclassifier(ES, X, y, exact=False,
                                         sample_weight=w if weighted else None)
    assert message.startswith("The least populated class")


def test_early_stopping_validation_set_too_small(classification_sets):
    for target in ("multiclass", "multilabel"):  # not stratified: the size check is reached
        X, y, _ = classification_sets[target]
        message = _raises_like_mlpclassifier(ES, X[:10], y[:10])
        assert message == ("The validation set is too small. Increase 'validation_fraction' "
                           "or the size of your dataset.")
    X, y, _ = classification_sets["binary"]  # stratified: train_test_split refuses first
    message = _raises_like_mlpclassifier(ES, X[:10], y[:10])
    assert message == "The test_size = 1 should be greater or equal to the number of classes = 2"


def test_partial_fit_refuses_early_stopping(classification_sets):
    X, y, _ = classification_sets["multiclass"]
    for cls in (MLPClassifier, Ours):
        with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
            cls(**ES).partial_fit(X, y, classes=np.unique(y))


# --- 6. batch_size > n_samples ----------------------------------------------------------------
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_batch_size_larger_than_n_samples_warns(classification_sets, solver):
    X, y, _ = classification_sets["multiclass"]
    for cls in (MLPClassifier, Ours):
        est = cls((5,), solver=solver, batch_size=len(X) + 1, max_iter=2, random_state=0)
        with pytest.warns(UserWarning, match=re.escape(BATCH_SIZE_WARNING)):
            est.fit(X, y)
        with pytest.warns(UserWarning, match=re.escape(BATCH_SIZE_WARNING)):
            est.partial_fit(X, y)
        # early stopping: the training part is what batch_size is compared with
        est = cls((5,), solver=solver, batch_size=len(X) - 5, early_stopping=True, max_iter=2,
                  random_state=0)
        with pytest.warns(UserWarning, match=re.escape(BATCH_SIZE_WARNING)):
            est.fit(X, y)


# --- 7. loss attributes -----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_loss_attributes_are_float64(classification_sets, solver, dtype):
    """MLPClassifier: loss_ (all solvers), best_loss_ and loss_curve_ entries (sgd, adam)
    are np.float64, float32 input included; lbfgs has no best_loss_ or loss_curve_."""
    X, y, _ = classification_sets["multiclass"]
    for cls in (MLPClassifier, Ours):
        est = cls((5,), solver=solver, max_iter=5, random_state=0).fit(X.astype(dtype), y)
        assert est.loss == "log_loss"
        assert isinstance(est.loss_, np.float64)
        if solver != "lbfgs":
            assert isinstance(est.best_loss_, np.float64)
            assert est.loss_curve_ and all(isinstance(v, np.float64) for v in est.loss_curve_)
    assert "loss" not in Ours().get_params()


# --- 8. from_sklearn / to_sklearn, then partial_fit -------------------------------------------
CONTINUE = {
    "adam": {"solver": "adam", "learning_rate_init": 0.01},
    "sgd-nesterov": {"solver": "sgd", "learning_rate_init": 0.05},
    "sgd-momentum": {"solver": "sgd", "learning_rate_init": 0.05, "nesterovs_momentum": False},
    "sgd-invscaling": {"solver": "sgd", "learning_rate_init": 0.1, "learning_rate": "invscaling"},
}


@pytest.mark.parametrize("direction", ["from_sklearn", "to_sklearn"])
@pytest.mark.parametrize("name", sorted(CONTINUE))
def test_converted_model_continues_like_the_original(classification_sets, name, direction):
    X, y, w = classification_sets["multiclass"]
    params = dict(hidden_layer_sizes=(8,), max_iter=5, batch_size=32, random_state=0,
                  **CONTINUE[name])
    if direction == "from_sklearn":
        original = MLPClassifier(**params).fit(X, y)
        converted = _from_sklearn(original)
        ours, theirs = converted, original
    else:
        original = Ours(**params).fit(X, y)
        converted = _to_sklearn(original)
        ours, theirs = original, converted
        assert isinstance(theirs, MLPClassifier)
    for step in (lambda e: e.partial_fit(X, y), lambda e: e.partial_fit(X, y, sample_weight=w),
                 lambda e: e.partial_fit(X[:50], y[:50])):
        step(original)
        step(converted)
        assert_same_model(ours, theirs, rtol_w=1e-10, rtol_loss=1e-10, X=X)


# --- 9. the init option -----------------------------------------------------------------------
def _barely_trained(cls, X, y, **params):
    """One sgd epoch at learning rate 1e-12: the initial weights, to ~1e-12."""
    return cls((300,), solver="sgd", learning_rate_init=1e-12, max_iter=1, random_state=0,
                     **params).fit(X, y)


@pytest.fixture(scope="module")
def wide():
    rng = np.random.RandomState(0)
    return rng.standard_normal((50, 400)), rng.randint(0, 3, 50)


def test_default_init_is_mlpclassifiers(wide):
    X, y = wide
    ours, theirs = _barely_trained(Ours, X, y), _barely_trained(MLPClassifier, X, y)
    assert_same_model(ours, theirs, X=X)
    if not SELF_CHECK:
        assert Ours().get_params()["init"] == "glorot_uniform"


@ours_only
def test_scaled_normal_init(wide):
    X, y = wide
    ours = _barely_trained(Ours, X, y, init="scaled_normal")
    W = ours.coefs_[0]
    assert W.shape == (400, 300)
    for b in ours.intercepts_:
        np.testing.assert_allclose(b, 0.0, atol=1e-9)
    assert W.std() == pytest.approx(1 / np.sqrt(400), rel=0.02)  # gain 1 for the first layer
    assert abs(W.mean()) < 0.02 / np.sqrt(400)
    kurtosis = np.mean((W - W.mean()) ** 4) / W.var() ** 2
    assert kurtosis == pytest.approx(3.0, abs=0.1)  # normal (uniform would be 1.8)
    # later layers: gain / sqrt(fan_in), the gain depending on the activation
    assert 0.5 < ours.coefs_[1].std() * np.sqrt(300) < 2.5
    glorot = _barely_trained(Ours, X, y)
    assert not np.allclose(W, glorot.coefs_[0])


@ours_only
def test_init_is_grid_searchable(classification_sets):
    X, y, _ = classification_sets["multiclass"]
    search = GridSearchCV(Ours((8,), max_iter=20, random_state=0),
                                {"init": ["glorot_uniform", "scaled_normal"]}, cv=3).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 2 and np.all(np.isfinite(scores))
