"""Parity with scikit-learn's MLPRegressor: the same ``random_state`` trains the same model.

With the extras off (``init="glorot_uniform"``, ``dropout=0``, no ``X_val``,
``scoring=None``, MLPRegressor's activations), MLPRegressorFromScratch draws the same
initial weights, the same early-stopping split and the same shuffles as MLPRegressor,
applies the same SGD/Adam updates to half the squared error (identity output) or half
the Poisson deviance (exp output), scores early stopping by the same R^2, stops by the
same tol/n_iter_no_change rule and calls scipy's L-BFGS-B the same way. Each grid case
trains both estimators and compares them after every ``fit``/``partial_fit`` call:

* float64: every ``coefs_``/``intercepts_`` array within 1e-9 x the largest absolute
  weight of the model (lbfgs: 1e-6), the same ``n_iter_`` and ``t_``, ``loss_`` and
  ``loss_curve_`` to rel 1e-9, ``predict`` to 1e-9 (absolute on the standardised
  targets; for the Poisson targets, which are counts and rates of order 1-10, relative
  to the largest prediction);
* float32 input: weights within 1e-4 x the largest weight, predictions likewise.
  MLPRegressor's lbfgs returns float64 ``coefs_`` for float32 X (scipy works in
  float64); ours stay float32, so values are compared, not dtypes.

The grid covers each option at least once rather than their product: solvers
(adam; sgd with the constant, invscaling and adaptive schedules, with and without
Nesterov momentum; lbfgs), the four activations, one and two hidden layers, both
losses, one and several outputs, sample weights, early stopping (with and without
sample weights), ``shuffle=False``, warm starts, ``partial_fit`` sequences, float32.

Self-check: set ``Ours = MLPRegressor`` below and the harness must pass on its own.
"""

import inspect

import numpy as np
import pytest
from _parity import assert_same_training
from sklearn.datasets import load_diabetes
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from skmlp import MLPRegressorFromScratch

Ours = MLPRegressorFromScratch
SELF_CHECK = Ours is MLPRegressor

pytestmark = [pytest.mark.filterwarnings("ignore:Got `batch_size`:UserWarning"),
              pytest.mark.usefixtures("one_blas_thread")]


# --- data -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def regression_sets():
    """name -> (X, y, positive sample weights); X standardised, float64.

    "single": one standardised target; "multi": three standardised targets (linear,
    nonlinear, interaction); "counts": Poisson counts with a log-linear mean (zeros
    included); "rates": two positive targets, exp of linear functions.
    """
    rng = np.random.RandomState(0)
    n, p = 150, 6
    X = StandardScaler().fit_transform(rng.standard_normal((n, p)))
    beta = rng.standard_normal(p)

    def standardise(v):
        return (v - v.mean(axis=0)) / v.std(axis=0)

    single = standardise(X @ beta + 0.3 * rng.standard_normal(n))
    multi = standardise(np.column_stack([X @ beta, np.sin(2 * X[:, 0]), X[:, 1] * X[:, 2]])
                        + 0.1 * rng.standard_normal((n, 3)))
    counts = rng.poisson(np.exp(0.5 + 0.4 * X @ (beta / np.linalg.norm(beta)))).astype(float)
    rates = np.exp(0.3 * X @ rng.standard_normal((p, 2)))
    assert np.any(counts == 0) and counts.max() > 5
    w = rng.uniform(0.2, 3.0, n)
    return {"single": (X, single, w), "multi": (X, multi, w), "counts": (X, counts, w),
            "rates": (X, rates, w)}


# --- the comparison ---------------------------------------------------------------------------
def assert_same_model(ours, theirs, rtol_w=1e-9, *, X=None, rtol_loss=1e-9, atol_pred=1e-9):
    """``ours`` trained the model ``theirs`` (an MLPRegressor) trained, within tolerances.

    Weights: ``|ours - theirs| <= rtol_w * max |weight of theirs|`` for every array.
    Predictions: ``|ours - theirs| <= atol_pred * max(1, max |prediction of theirs|)``.
    Returns the largest relative weight difference and whether predictions are identical.
    """
    worst = assert_same_training(ours, theirs, rtol_w, rtol_loss=rtol_loss)
    if hasattr(theirs, "loss_curve_"):  # sgd and adam
        assert ours._no_improvement_count == theirs._no_improvement_count
    if getattr(theirs, "validation_scores_", None) is not None:  # R^2 on the held-out split
        assert len(ours.validation_scores_) == len(theirs.validation_scores_)
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_,
                                   rtol=rtol_loss, atol=1e-15)
        assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_,
                                                            rel=rtol_loss, abs=1e-15)
    if X is None:
        return worst, None
    y_ours, y_theirs = ours.predict(X), theirs.predict(X)
    assert y_ours.shape == y_theirs.shape
    assert y_ours.shape == ((len(X),) if theirs.n_outputs_ == 1 else (len(X), theirs.n_outputs_))
    np.testing.assert_allclose(y_ours, y_theirs, rtol=0,
                               atol=atol_pred * max(1.0, np.max(np.abs(y_theirs))))
    return worst, bool(np.array_equal(y_ours, y_theirs))


# --- the grid ---------------------------------------------------------------------------------
def case(id, target="single", how="fit", dtype=np.float64, weighted=False, expect=(),
         **params):
    """One grid case. ``expect`` names what MLPRegressor must show for the case to cover
    what it claims: "stops_early" (n_iter_ < max_iter), "lr_divided" (the adaptive schedule
    fired), "no_new_best" (the last fit did not improve the best validation score)."""
    params = {"hidden_layer_sizes": (8,), "max_iter": 20, "batch_size": 32, "random_state": 0,
              **params}
    if target in ("counts", "rates"):
        params.setdefault("loss", "poisson")
    return pytest.param(target, how, dtype, weighted, params, expect, id=id)


#: Cases use batch_size=32 unless they say otherwise: with "auto" (min(200, n_samples))
#: 150 samples are one batch per epoch, and the shuffles would go untested.
SGD = {"solver": "sgd", "learning_rate_init": 0.02}
ADAPTIVE = {**SGD, "learning_rate": "adaptive", "tol": 0.05, "n_iter_no_change": 2,
            "max_iter": 30}
LBFGS = {"solver": "lbfgs", "batch_size": "auto"}

CASES = [
    # adam: activations, layers, targets, losses
    case("adam-relu-single"),
    case("adam-relu-single-batch-auto", batch_size="auto"),
    case("adam-tanh-multi-2layers", "multi", activation="tanh", hidden_layer_sizes=(7, 5)),
    case("adam-logistic-single", activation="logistic", learning_rate_init=0.01),
    case("adam-identity-multi", "multi", activation="identity"),
    case("adam-relu-counts-poisson", "counts"),
    case("adam-tanh-rates-poisson-2layers", "rates", activation="tanh",
         hidden_layer_sizes=(7, 5)),
    case("adam-logistic-counts-poisson", "counts", activation="logistic",
         learning_rate_init=0.01),
    case("adam-betas-epsilon-alpha1", beta_1=0.8, beta_2=0.99, epsilon=1e-6, alpha=1.0,
         learning_rate_init=0.01),
    case("adam-tol-stop", expect=("stops_early",), tol=5e-2, n_iter_no_change=2, max_iter=50,
         learning_rate_init=0.01),
    # sample_weight, early stopping (R^2 on the held-out split)
    case("adam-relu-single-sw", weighted=True),
    case("adam-identity-multi-sw-2layers", "multi", weighted=True, activation="identity",
         hidden_layer_sizes=(7, 5)),
    case("adam-relu-counts-poisson-sw", "counts", weighted=True),
    case("adam-relu-single-es", early_stopping=True, learning_rate_init=0.01),
    case("adam-relu-single-es-stops", expect=("stops_early",), early_stopping=True,
         n_iter_no_change=3, learning_rate_init=0.05, max_iter=60),
    case("adam-tanh-multi-es-sw", "multi", weighted=True, activation="tanh",
         early_stopping=True, validation_fraction=0.2),
    case("adam-relu-counts-poisson-es", "counts", early_stopping=True,
         learning_rate_init=0.01),
    case("adam-logistic-rates-poisson-es-sw", "rates", weighted=True, activation="logistic",
         early_stopping=True, learning_rate_init=0.01),
    # batches, shuffling
    case("adam-noshuffle-multi", "multi", shuffle=False),
    case("adam-bs7-noshuffle-sw", weighted=True, batch_size=7, shuffle=False, max_iter=10),
    case("adam-bs-larger-than-n-counts-poisson", "counts", batch_size=500),
    # sgd: schedules, momentum
    case("sgd-constant-nesterov-relu-single", **SGD),
    case("sgd-constant-momentum-tanh-multi", "multi", nesterovs_momentum=False,
         activation="tanh", **SGD),
    case("sgd-constant-momentum0-logistic-counts-poisson", "counts", momentum=0.0,
         activation="logistic", **SGD),
    case("sgd-constant-identity-rates-poisson-2layers", "rates", activation="identity",
         hidden_layer_sizes=(6, 4), **{**SGD, "learning_rate_init": 0.005}),
    case("sgd-invscaling-relu-single",
         **{**SGD, "learning_rate": "invscaling", "learning_rate_init": 0.1}),
    case("sgd-invscaling-nonesterov-multi-2layers-sw", "multi", weighted=True,
         nesterovs_momentum=False, hidden_layer_sizes=(7, 5), power_t=0.25,
         **{**SGD, "learning_rate": "invscaling"}),
    case("sgd-adaptive-relu-single", expect=("lr_divided",), **ADAPTIVE),
    case("sgd-adaptive-tanh-counts-poisson-nonesterov", "counts", expect=("lr_divided",),
         activation="tanh", nesterovs_momentum=False, **ADAPTIVE),
    case("sgd-adaptive-es-multi", "multi", expect=("lr_divided",), early_stopping=True,
         **ADAPTIVE),
    case("sgd-relu-single-es-sw", weighted=True, early_stopping=True, **SGD),
    # lbfgs
    case("lbfgs-relu-single", **LBFGS),
    case("lbfgs-tanh-multi-2layers", "multi", activation="tanh", hidden_layer_sizes=(7, 5),
         **LBFGS),
    case("lbfgs-logistic-counts-poisson", "counts", activation="logistic", **LBFGS),
    case("lbfgs-identity-rates-poisson-sw", "rates", weighted=True, activation="identity",
         **LBFGS),
    case("lbfgs-relu-multi-sw-alpha1", "multi", weighted=True, alpha=1.0, max_iter=50,
         **LBFGS),
    case("lbfgs-tol-converges", expect=("stops_early",), tol=1e-2, max_iter=200, **LBFGS),
    case("lbfgs-early-stopping-ignored", early_stopping=True, **LBFGS),
    # float32
    case("f32-adam-relu-single", dtype=np.float32),
    case("f32-adam-tanh-multi-es-sw", "multi", dtype=np.float32, weighted=True,
         activation="tanh", early_stopping=True),
    case("f32-sgd-relu-counts-poisson-sw", "counts", dtype=np.float32, weighted=True, **SGD),
    case("f32-lbfgs-tanh-multi", "multi", dtype=np.float32, activation="tanh", **LBFGS),
    # warm_start: fit twice
    case("warm-adam-single", how="warm", max_iter=10),
    case("warm-sgd-adaptive-multi", "multi", "warm", expect=("lr_divided",), **ADAPTIVE),
    case("warm-adam-es-sw-counts-poisson", "counts", "warm", weighted=True,
         early_stopping=True, n_iter_no_change=3, max_iter=15, learning_rate_init=0.01),
    # the second fit never beats the first's best validation score: MLPRegressor's
    # _best_coefs is then coefs_ itself (aliased by the first fit's restore), trained on
    case("warm-adam-es-no-new-best", "multi", "warm_slower", expect=("no_new_best",),
         early_stopping=True, n_iter_no_change=3, max_iter=40, learning_rate_init=0.03),
    case("warm-lbfgs-rates-poisson", "rates", "warm", max_iter=15, **LBFGS),
    # partial_fit sequences: chunks, then whole passes
    case("partial-adam-single", how="partial"),
    case("partial-adam-multi-sw", "multi", "partial", weighted=True),
    case("partial-sgd-nesterov-counts-poisson", "counts", "partial", **SGD),
    case("partial-sgd-adaptive-noshuffle-bs7", "single", "partial", shuffle=False,
         batch_size=7, **ADAPTIVE),
    case("partial-f32-adam-rates-poisson", "rates", "partial", dtype=np.float32),
    case("fit-then-partial-sgd-invscaling-multi-sw", "multi", "fit_partial", weighted=True,
         max_iter=10, **{**SGD, "learning_rate": "invscaling"}),
]


def _steps(how, X, y, w):
    """The training calls of a case, each applied to both estimators in turn."""
    def fit(e):
        return e.fit(X, y, sample_weight=w)

    def warm(**changes):
        return lambda e: e.set_params(warm_start=True, **changes).fit(X, y, sample_weight=w)

    def partial(rows):
        sw = None if w is None else w[rows]
        return lambda e: e.partial_fit(X[rows], y[rows], sample_weight=sw)

    n = len(X)
    chunks = [slice(0, n // 3), slice(n // 3, 2 * n // 3), slice(2 * n // 3, n)]
    return {
        "fit": [fit],
        "warm": [fit, warm()],
        "warm_slower": [fit, warm(learning_rate_init=1e-3)],
        "partial": [partial(c) for c in chunks] + [partial(slice(None))] * 2,
        "fit_partial": [fit, partial(slice(None)), partial(slice(None))],
    }[how]


def _tolerances(dtype, params):
    rel = 1e-4 if dtype == np.float32 else 1e-6 if params.get("solver") == "lbfgs" else 1e-9
    return {"rtol_w": rel, "rtol_loss": rel, "atol_pred": rel}


def run_case(regression_sets, target, how, dtype, weighted, params):
    """Train both estimators step by step; return (ours, theirs, per-step comparisons)."""
    X, y, w = regression_sets[target]
    X = X.astype(dtype)
    w = w.astype(dtype) if weighted else None
    ours, theirs = Ours(**params), MLPRegressor(**params)
    results = []
    for step in _steps(how, X, y, w):
        step(theirs)
        step(ours)
        results.append((assert_same_model(ours, theirs, X=X, **_tolerances(dtype, params)),
                        getattr(theirs, "best_validation_score_", None)))
    return ours, theirs, results


@pytest.mark.parametrize("target, how, dtype, weighted, params, expect", CASES)
def test_same_model_as_mlpregressor(regression_sets, target, how, dtype, weighted, params, expect):
    ours, theirs, results = run_case(regression_sets, target, how, dtype, weighted, params)
    if "stops_early" in expect:
        assert theirs.n_iter_ < params["max_iter"]
    if "no_new_best" in expect:
        best_scores = [best for _, best in results]
        assert best_scores[-1] == best_scores[-2] and theirs.coefs_ is theirs._best_coefs
    if params.get("early_stopping") and params.get("solver") != "lbfgs" and how == "fit":
        assert len(theirs.validation_scores_) == theirs.n_iter_
    if params.get("solver") == "sgd":  # the schedule's state: the same learning rate
        if "lr_divided" in expect:
            assert theirs._optimizer.learning_rate < params["learning_rate_init"] / 4
        assert ours._optimizer.learning_rate == pytest.approx(theirs._optimizer.learning_rate,
                                                              rel=1e-12)
    if params.get("loss") == "poisson":
        assert theirs.out_activation_ == "exp"
    # scipy hands float64 weights back from L-BFGS, even for float32 X: on both sides
    expected = np.float64 if params.get("solver") == "lbfgs" else dtype
    assert ours.coefs_[0].dtype == theirs.coefs_[0].dtype == expected
    X_pred = regression_sets[target][0].astype(dtype)
    assert ours.predict(X_pred).dtype == theirs.predict(X_pred).dtype == expected


def test_grid_covers_what_the_issue_asks():
    """The grid is a covering design: every value of every axis appears somewhere."""
    params = [c.values[4] for c in CASES]
    hows = {c.values[1] for c in CASES}
    seen = {
        "solver": {p.get("solver", "adam") for p in params},
        "activation": {p.get("activation", "relu") for p in params},
        "layers": {len(p["hidden_layer_sizes"]) for p in params},
        "loss": {p.get("loss", "squared_error") for p in params},
        "schedule": {p.get("learning_rate", "constant") for p in params
                     if p.get("solver") == "sgd"},
        "nesterov": {p.get("nesterovs_momentum", True) for p in params
                     if p.get("solver") == "sgd"},
        "shuffle": {p.get("shuffle", True) for p in params},
        "early_stopping": {(p.get("early_stopping", False), c.values[3])
                           for p, c in zip(params, CASES)},
    }
    assert seen["solver"] == {"adam", "sgd", "lbfgs"}
    assert seen["activation"] == {"relu", "tanh", "logistic", "identity"}
    assert seen["layers"] == {1, 2}
    assert seen["loss"] == {"squared_error", "poisson"}
    assert seen["schedule"] == {"constant", "invscaling", "adaptive"}
    assert seen["nesterov"] == {True, False}
    assert seen["shuffle"] == {True, False}
    assert {(True, False), (True, True)} <= seen["early_stopping"]
    assert hows == {"fit", "warm", "warm_slower", "partial", "fit_partial"}
    assert {c.values[0] for c in CASES} == {"single", "multi", "counts", "rates"}
    assert {c.values[2] for c in CASES} == {np.float64, np.float32}
    assert 30 <= len(CASES) <= 60


# --- full default fits ------------------------------------------------------------------------
@pytest.mark.parametrize("solver, loss", [("adam", "squared_error"), ("lbfgs", "squared_error"),
                                          ("adam", "poisson"), ("lbfgs", "poisson")])
def test_full_default_fit_on_diabetes(solver, loss):
    """Diabetes, default parameters, 200 iterations (0.1-0.2 s each). Standardised target
    for the squared error; for the Poisson loss the raw target / 100 (positive, 0.25-3.5)."""
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    y = (y - y.mean()) / y.std() if loss == "squared_error" else y / 100
    theirs = MLPRegressor(solver=solver, loss=loss, random_state=0).fit(X, y)
    ours = Ours(solver=solver, loss=loss, random_state=0).fit(X, y)
    rel = 1e-6 if solver == "lbfgs" else 1e-9
    assert_same_model(ours, theirs, rel, X=X, rtol_loss=rel, atol_pred=rel)
    assert ours.score(X, y) == pytest.approx(theirs.score(X, y), rel=rel)
    assert theirs.score(X, y) > 0.6  # a model that learned something


# --- API parity -------------------------------------------------------------------------------
def test_partial_fit_signature_is_mlpregressors():
    assert inspect.signature(Ours.partial_fit) == inspect.signature(MLPRegressor.partial_fit)
    assert list(inspect.signature(Ours.partial_fit).parameters) == ["self", "X", "y",
                                                                    "sample_weight"]


def test_positional_sample_weight(regression_sets):
    X, y, w = regression_sets["single"]
    params = {"hidden_layer_sizes": (8,), "random_state": 0, "batch_size": 32}
    theirs = MLPRegressor(**params).partial_fit(X, y, w)
    positional = Ours(**params).partial_fit(X, y, w)
    keyword = Ours(**params).partial_fit(X, y, sample_weight=w)
    unweighted = Ours(**params).partial_fit(X, y)
    assert_same_model(positional, theirs, X=X)
    assert_same_model(positional, keyword, rtol_w=0, X=X)
    assert not np.allclose(positional.coefs_[0], unweighted.coefs_[0])


def test_default_parameters_are_mlpregressors():
    theirs = MLPRegressor().get_params()
    ours = Ours().get_params()
    assert {k: ours[k] for k in theirs} == theirs
    if not SELF_CHECK:
        # the extras, each off by default (issue 16 added the step extras)
        assert set(ours) - set(theirs) == {"init", "dropout", "scoring", "lr_schedule", "warmup",
                                           "weight_decay", "max_grad_norm", "ema_decay"}
        assert (ours["init"], ours["dropout"], ours["scoring"]) == ("glorot_uniform", 0.0, None)
        assert (ours["lr_schedule"], ours["warmup"], ours["weight_decay"], ours["max_grad_norm"],
                ours["ema_decay"]) == (None, 0.0, 0.0, None, None)
