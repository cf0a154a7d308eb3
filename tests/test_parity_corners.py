"""Issue 17's cases against scikit-learn, with the numba kernels on and off.

Each was a difference on the default path or for an input type: the fused output kernels
(L-BFGS 7e-2 apart on iris), scikit-learn's dtype rules (targets, sample weights, Adam's
float64 step size, float32 L-BFGS, float64 sample weights with float32 X, state promotion
across partial_fit batches), CSC input, warm chains through lbfgs, predictions that
overflow, binary probabilities, long double input, no hidden layer, ``to_sklearn`` after
``set_params``. Each is now the same model, bitwise unless said otherwise.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_iris, load_wine, make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

from skmlp import MLPClassifierFromScratch, MLPRegressorFromScratch, use_kernels

pytestmark = [pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
              pytest.mark.filterwarnings("ignore:Got `batch_size`:UserWarning")]


@pytest.fixture(params=[True, False], ids=["kernels", "numpy"])
def kernels(request):
    if request.param:
        pytest.importorskip("numba")
    with use_kernels(request.param):
        yield request.param


def assert_bitwise(ours, theirs):
    """The same weights, bit for bit, of the same dtypes, and the same counters."""
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_,
                    strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == theirs.loss_


def _iris(scaled=True):
    X, y = load_iris(return_X_y=True)
    return (StandardScaler().fit_transform(X) if scaled else X), y


@pytest.mark.parametrize("data", ["iris scaled", "iris raw", "wine raw", "breast_cancer raw"])
def test_lbfgs_with_kernels_on(kernels, data):
    X, y = {"iris scaled": lambda: _iris(), "iris raw": lambda: _iris(False),
            "wine raw": lambda: load_wine(return_X_y=True),
            "breast_cancer raw": lambda: load_breast_cancer(return_X_y=True)}[data]()
    params = dict(activation="logistic", solver="lbfgs", random_state=0)
    assert_bitwise(MLPClassifierFromScratch(**params).fit(X, y),
                   MLPClassifier(**params).fit(X, y))


def test_adam_partial_fits_on_unscaled_data(kernels):
    # a few ulp in a fused softmax used to grow to 1.5e-1 within three calls
    X, y = load_wine(return_X_y=True)
    params = dict(hidden_layer_sizes=(13,), activation="logistic", learning_rate_init=0.1,
                  batch_size=7, random_state=0)
    ours, theirs = MLPClassifierFromScratch(**params), MLPClassifier(**params)
    for _ in range(3):
        for est in (ours, theirs):
            est.partial_fit(X, y, classes=np.unique(y))
        assert_bitwise(ours, theirs)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("case", ["f32 X", "f32 X, f64 y", "f64 X, f32 sample weights",
                                  "f32 X, f32 sample weights", "f32 X, int y",
                                  "f32 X, f64 sample weights"])
def test_scikit_learns_dtype_rules(kernels, solver, case):
    """float32 X keeps float32 weights and float32 arithmetic where scikit-learn has them,
    and float64 where numpy promotes there: float64 (or integer) targets make the error and
    the gradient float64, float32 sample weights stay float32 beside float64 X, Adam's step
    size is float64, L-BFGS evaluates at float32 points and hands float64 weights back."""
    X, y = make_friedman1(150, random_state=0)
    X32 = X.astype(np.float32)
    sw = np.random.RandomState(0).uniform(0.5, 2.0, len(y))
    data = {"f32 X": (X32, y.astype(np.float32), None),
            "f32 X, f64 y": (X32, y, None),
            "f64 X, f32 sample weights": (X, y, sw.astype(np.float32)),
            "f32 X, f32 sample weights": (X32, y.astype(np.float32), sw.astype(np.float32)),
            "f32 X, int y": (X32, np.round(y).astype(np.int64), None),
            "f32 X, f64 sample weights": (X32, y.astype(np.float32), sw)}[case]
    params = dict(solver=solver, max_iter=30, random_state=0, learning_rate_init=0.01)
    ours = MLPRegressorFromScratch(**params).fit(data[0], data[1], sample_weight=data[2])
    theirs = MLPRegressor(**params).fit(data[0], data[1], sample_weight=data[2])
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_,
                    strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_array_equal(ours.predict(data[0]), theirs.predict(data[0]))


def _state_dtypes(est):
    """The dtypes of scikit-learn's per-layer optimizer state (ours via ``to_sklearn``)."""
    opt = est._optimizer if isinstance(est, (MLPClassifier, MLPRegressor)) \
        else est.to_sklearn()._optimizer
    state = opt.velocities if hasattr(opt, "velocities") else opt.ms + opt.vs
    return [a.dtype for a in state]


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("learning_rate_init", [0.01, 0.5])
def test_float32_input_and_float64_sample_weights(kernels, solver, learning_rate_init):
    """scikit-learn divides float32 bias sums by the float64 sum of the sample weights into
    new float64 bias gradients (the weights' are divided in place: float32), so its biases'
    optimizer state is float64 and L-BFGS gets them unrounded. This used to drift (2.1 of
    the largest weight at a learning rate of 0.5); it is now the same model, bit for bit."""
    X, y = _iris()
    sw = np.random.RandomState(0).uniform(0.2, 3.0, len(y))
    params = dict(solver=solver, hidden_layer_sizes=(20,), max_iter=60, random_state=0,
                  learning_rate_init=learning_rate_init)
    ours = MLPClassifierFromScratch(**params).fit(X.astype(np.float32), y, sample_weight=sw)
    theirs = MLPClassifier(**params).fit(X.astype(np.float32), y, sample_weight=sw)
    assert_bitwise(ours, theirs)
    if solver != "lbfgs":
        n_layers = len(theirs.coefs_)
        per_layer = [np.float32] * n_layers + [np.float64] * n_layers
        assert _state_dtypes(theirs) == _state_dtypes(ours) == per_layer * (
            1 if solver == "sgd" else 2)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_optimizer_state_widens_as_numpy_widens_it(kernels, solver):
    """partial_fit batches of float32, then float64 X, then float32 again (and sample
    weights on and off): scikit-learn's state arrays become float64 at the first wider
    gradient (scaled by beta or momentum in their old dtype first) and stay float64."""
    X, y = _iris()
    X32 = X.astype(np.float32)
    sw = np.random.RandomState(0).uniform(0.2, 3.0, len(y))
    params = dict(solver=solver, hidden_layer_sizes=(20,), learning_rate_init=0.1,
                  batch_size=50, random_state=0)
    ours, theirs = MLPClassifierFromScratch(**params), MLPClassifier(**params)
    for X_b, sw_b in [(X32, None), (X32, sw), (X32, None), (X, None), (X32, sw), (X32, None)]:
        for est in (ours, theirs):
            est.partial_fit(X_b, y, classes=[0, 1, 2], sample_weight=sw_b)
        assert_bitwise(ours, theirs)
        assert _state_dtypes(ours) == _state_dtypes(theirs)
    assert set(_state_dtypes(ours)) == {np.dtype(np.float64)}


def test_mixed_dtype_optimizer_state_round_trips_through_scikit_learn(kernels):
    """float32 weight state beside float64 bias state goes to scikit-learn and back with its
    dtypes, and both sides train on to the same model."""
    X, y = _iris()
    X32 = X.astype(np.float32)
    sw = np.random.RandomState(0).uniform(0.2, 3.0, len(y))
    params = dict(hidden_layer_sizes=(20,), learning_rate_init=0.3, random_state=0)
    theirs = MLPClassifier(**params).partial_fit(X32, y, classes=[0, 1, 2], sample_weight=sw)
    ours = MLPClassifierFromScratch.from_sklearn(theirs)
    assert _state_dtypes(ours) == _state_dtypes(theirs)
    for est in (ours, theirs):
        est.partial_fit(X32, y, sample_weight=sw)
    assert_bitwise(ours, theirs)
    back = ours.to_sklearn()
    for est in (ours, back):
        est.partial_fit(X32, y, sample_weight=sw)
    assert_bitwise(ours, back)


def test_assigned_float32_weights_train_as_scikit_learn_trains_them(kernels):
    # float64 X times float32 weights is float64 there: activations, errors and gradients
    # float64, the weights stored float32
    X, y = _iris()
    params = dict(solver="adam", max_iter=5, random_state=0, warm_start=True)
    ours, theirs = MLPClassifierFromScratch(**params), MLPClassifier(**params)
    for est in (ours, theirs):
        est.fit(X, y)
        est.coefs_ = [W.astype(np.float32) for W in est.coefs_]
        est.intercepts_ = [b.astype(np.float32) for b in est.intercepts_]
    theirs._optimizer = None  # scikit-learn would go on with float64 moments of the old...
    del theirs._optimizer     # ...weights: start both from a fresh optimizer
    ours._optimizer = None
    for est in (ours, theirs):
        est.fit(X, y)
    assert_bitwise(ours, theirs)
    assert ours.coefs_[0].dtype == np.float32


@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("shuffle", [False, True])
def test_csc_input_is_trained_as_scikit_learn_trains_it(kernels, early_stopping, shuffle):
    # scikit-learn trains CSC as CSC, but its early-stopping split (train_test_split) makes
    # it CSR: CSC and CSR products sum in different orders
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    X[np.abs(X) < 0.7] = 0
    params = dict(solver="sgd", max_iter=10, learning_rate_init=0.05, random_state=0,
                  early_stopping=early_stopping, shuffle=shuffle)
    Xs = sp.csc_matrix(X)
    assert_bitwise(MLPClassifierFromScratch(**params).fit(Xs, y),
                   MLPClassifier(**params).fit(Xs, y))


@pytest.mark.parametrize("early_stopping", [False, True])
def test_warm_chain_through_lbfgs(kernels, early_stopping):
    """sgd, then lbfgs, then sgd again under warm_start: scikit-learn's lbfgs touches none
    of the stochastic solvers' stopping state, so the last fit counts on from the first's."""
    X, y = make_friedman1(200, random_state=0)
    models = []
    for make in (MLPRegressorFromScratch, MLPRegressor):
        est = make(random_state=0, early_stopping=early_stopping)
        est.set_params(solver="sgd", max_iter=5).fit(X, y)
        est.set_params(solver="lbfgs", warm_start=True, max_iter=5).fit(X, y)
        est.set_params(solver="sgd", max_iter=60).fit(X, y)
        models.append(est)
    ours, theirs = models
    assert_bitwise(ours, theirs)
    assert ours._no_improvement_count == theirs._no_improvement_count
    assert ours.best_loss_ == theirs.best_loss_


def test_binary_probabilities_are_one_minus_p_and_p(kernels):
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    ours = MLPClassifierFromScratch(max_iter=20, random_state=0).fit(X, y)
    theirs = MLPClassifier(max_iter=20, random_state=0).fit(X, y)
    P, Q = ours.predict_proba(X), theirs.predict_proba(X)
    np.testing.assert_array_equal(P, Q)  # no probability here rounds to 0 or 1
    assert (P.sum(axis=1) == 1).sum() == (Q.sum(axis=1) == 1).sum() > 400


@pytest.mark.parametrize("dtype", [np.float16, np.longdouble])
def test_any_float_input_at_predict(dtype):
    X, y = _iris()
    for ours, theirs in ((MLPClassifierFromScratch(max_iter=5, random_state=0),
                          MLPClassifier(max_iter=5, random_state=0)),
                         (MLPRegressorFromScratch(max_iter=5, random_state=0),
                          MLPRegressor(max_iter=5, random_state=0))):
        ours.fit(X, y)
        theirs.fit(X, y)
        methods = ["predict"] + (["predict_proba"] if hasattr(ours, "predict_proba") else [])
        for method in methods:
            P, Q = getattr(ours, method)(X.astype(dtype)), getattr(theirs, method)(
                X.astype(dtype))
            assert P.dtype == Q.dtype
            np.testing.assert_array_equal(P, Q)
        if hasattr(ours, "predict_log_proba"):
            L = ours.predict_log_proba(X.astype(dtype))
            assert L.dtype == Q.dtype and np.isfinite(L).all()


def test_no_hidden_layer_is_scikit_learns_model():
    X, y = _iris()
    for activation in ("relu", "logistic"):
        params = dict(hidden_layer_sizes=[], activation=activation, max_iter=3, random_state=0)
        assert_bitwise(MLPClassifierFromScratch(**params).fit(X, y),
                       MLPClassifier(**params).fit(X, y))
    # one activation per hidden layer, and no hidden layer: relu's draws, seeded
    drawn = [MLPClassifierFromScratch(hidden_layer_sizes=[], activation=(), max_iter=1,
                                      random_state=seed).fit(X, y).coefs_[0] for seed in (0, 1)]
    assert not np.array_equal(drawn[0], drawn[1])
    relu = MLPClassifier(hidden_layer_sizes=[], max_iter=1, random_state=0).fit(X, y)
    np.testing.assert_array_equal(drawn[0], relu.coefs_[0])


def test_to_sklearn_copies_the_current_parameters():
    X, y = _iris()
    ours = MLPClassifierFromScratch(max_iter=5, random_state=0).fit(X, y)
    ours.set_params(activation="tanh", alpha=0.5, max_iter=7)
    theirs = ours.to_sklearn()
    assert (theirs.activation, theirs.alpha, theirs.max_iter) == ("tanh", 0.5, 7)
    ours.set_params(activation="gelu")
    with pytest.raises(ValueError, match=r"^scikit-learn cannot represent activation='gelu'"):
        ours.to_sklearn()


@pytest.mark.parametrize("make", [MLPClassifierFromScratch, MLPRegressorFromScratch])
def test_partial_fit_warns_for_a_column_vector_y(make):
    X, y = _iris()
    est = make(random_state=0)
    kwargs = {"classes": [0, 1, 2]} if hasattr(est, "predict_proba") else {}
    for _ in range(2):
        with pytest.warns(Warning) as caught:
            warnings.simplefilter("always")
            est.partial_fit(X, y.reshape(-1, 1), **kwargs)
        assert [w.category.__name__ for w in caught
                if not issubclass(w.category, ConvergenceWarning)] == ["DataConversionWarning"]


@pytest.mark.parametrize("make, theirs", [(MLPClassifierFromScratch, MLPClassifier),
                                          (MLPRegressorFromScratch, MLPRegressor)])
def test_partial_fit_with_early_stopping_checks_the_data_first(make, theirs):
    # scikit-learn validates (and warns about) y before it refuses early stopping
    X, y = _iris()
    kwargs = {"classes": [0, 1, 2]} if make is MLPClassifierFromScratch else {}
    for est in (make(early_stopping=True), theirs(early_stopping=True)):
        with pytest.warns(Warning) as caught, pytest.raises(
                ValueError, match="^partial_fit does not support early_stopping=True$"):
            warnings.simplefilter("always")
            est.partial_fit(X, y.reshape(-1, 1), **kwargs)
        assert [w.category.__name__ for w in caught] == ["DataConversionWarning"]


@pytest.mark.parametrize("batch_size", [64, "auto", 1000])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_float32_squared_error_losses_take_scikit_learns_dtype(kernels, batch_size, solver):
    """scikit-learn clips an explicit batch size with np.clip, so its batch slices hold
    numpy integers and a float32 batch loss times the batch's size is float64; with
    "auto" (a Python int) the losses stay float32. The same values and types here, on
    the Python loop and in compiled epochs."""
    X, y = make_friedman1(n_samples=300, random_state=0)
    X, y = X.astype(np.float32), y.astype(np.float32)
    params = dict(hidden_layer_sizes=(20, 10), solver=solver, max_iter=6, random_state=1,
                  batch_size=batch_size, learning_rate_init=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPRegressorFromScratch(**params).fit(X, y)
        theirs = MLPRegressor(**params).fit(X, y)
    assert_bitwise(ours, theirs)
    assert ours.loss_curve_ == theirs.loss_curve_
    expected = np.float32 if batch_size == "auto" else np.float64
    assert {type(v) for v in ours.loss_curve_} == {type(v) for v in theirs.loss_curve_} \
        == {expected}
    assert type(ours.loss_) is type(theirs.loss_)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_float32_lbfgs_loss_is_scikit_learns_float32(kernels, loss):
    """MLPRegressor's L-BFGS keeps scipy's ``opt_res.fun`` as ``loss_``: float32 when the
    inputs and the targets are float32 (the objective's own dtype). The same value and
    type here (skmlp cast it to float64 before)."""
    X, y = make_friedman1(n_samples=200, random_state=0)
    X = X.astype(np.float32)
    y = (y / 10 if loss == "squared_error" else np.exp(y / 10)).astype(np.float32)
    params = dict(hidden_layer_sizes=(10,), solver="lbfgs", max_iter=30, random_state=0,
                  loss=loss)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPRegressorFromScratch(**params).fit(X, y)
        theirs = MLPRegressor(**params).fit(X, y)
    assert_bitwise(ours, theirs)
    assert type(ours.loss_) is type(theirs.loss_) is np.float32
    assert ours.loss_ == theirs.loss_
