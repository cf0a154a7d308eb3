"""The compiled epoch loop (``skmlp._epoch_loop``) against what it replaces.

Bit for bit: every epoch's loss (value and numpy type), the parameters and the optimizer's
state after it, against ``skmlp._solvers.run_epoch`` with the kernels on, over every
configuration the loop covers (dtypes, sgd/adam, the kernels' activations, the four
outputs, sample weights, ``order`` None or a permutation or a subset, a last partial
batch, batches of one row, dropout). Its pieces alone (the matrix products as numpy calls
BLAS for them, the compiled softmax and log-loss) against numpy. Whole fits, run epoch by
epoch through ``run_epoch_compiled`` as MLPClassifier's ``_fit_stochastic`` runs them,
against scikit-learn's MLPClassifier and MLPRegressor. What the loop does not cover
returns None and changes nothing.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.utils import shuffle

pytest.importorskip("numba")

from skmlp import _epoch_loop as E  # noqa: E402
from skmlp import _ops, _solvers, use_kernels  # noqa: E402
from skmlp._network import MLP  # noqa: E402
from skmlp._optimizers import SGD, Adam  # noqa: E402

if E.BLAS_LIBRARY is None:  # not numpy's wheel: the loop covers nothing
    pytest.skip("numpy's bundled OpenBLAS not found", allow_module_level=True)

pytestmark = pytest.mark.usefixtures("one_blas_thread")

DTYPES = [np.float64, np.float32]
ACTIVATIONS = ["relu", "tanh", "logistic", "identity", "leaky_relu"]
OUTPUTS = ["softmax", "logistic", "identity", "exp"]
_UINT = {np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}


def assert_bitwise(actual, desired):
    """Same dtype, shape and bits (so -0 vs +0 and NaN payloads count)."""
    actual, desired = np.asarray(actual), np.asarray(desired)
    assert actual.dtype == desired.dtype and actual.shape == desired.shape
    bad = actual.view(_UINT[actual.dtype]) != desired.view(_UINT[desired.dtype])
    assert not bad.any(), (f"{bad.sum()} of {bad.size} differ, largest by "
                           f"{np.nanmax(np.abs(actual - desired.astype(actual.dtype)))}")


# --- the pieces ----------------------------------------------------------------------------
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("m, n, p", [(200, 64, 100), (197, 100, 10), (1, 64, 100),
                                     (200, 1, 100), (200, 64, 1), (1, 1, 1), (1, 5, 1),
                                     (3, 1, 1), (1, 1, 4), (37, 300, 257)])
def test_matmul_calls_blas_as_numpy(dt, m, n, p):
    """The loop's three products (``A @ W``, ``A.T @ delta``, ``delta @ W.T``) equal
    ``np.matmul``'s bits, through gemm, gemv, dot and the plain loop numpy picks by shape."""
    rng = np.random.default_rng(m * n * p)
    A, W, D = (rng.standard_normal(s).astype(dt) for s in ((m, n), (n, p), (m, p)))
    zero = np.dtype(dt).type(0)
    out = np.empty(m * p, dt)
    E._matmul(A.ravel(), 0, n, 1, W.ravel(), 0, p, 1, out, 0, p, 1, m, n, p, zero)
    assert_bitwise(out.reshape(m, p), np.matmul(A, W))
    out = np.empty(n * p, dt)
    E._matmul(A.ravel(), 0, 1, n, D.ravel(), 0, p, 1, out, 0, p, 1, n, m, p, zero)
    assert_bitwise(out.reshape(n, p), np.matmul(A.T, D))
    out = np.empty(m * n + 3, dt)  # at an offset, as into the loop's work arrays
    E._matmul(D.ravel(), 0, p, 1, W.ravel(), 0, 1, p, out, 3, n, 1, m, p, n, zero)
    assert_bitwise(out[3:].reshape(m, n), np.matmul(D, W.T))


@pytest.mark.parametrize("dt", DTYPES)
def test_softmax_log_loss_as_numpy(dt):
    """The compiled softmax and log-loss: ``output_loss_error``'s loss and error, bitwise,
    on batches from 1 row to 300, 2 to 140 classes (past numpy's 128-element pairwise
    leaf), logits from 0.01 to 1000 in scale (exp underflowing, probabilities clipped)."""
    rng = np.random.default_rng(0)
    t = np.dtype(dt).type
    eps = np.finfo(dt).eps
    for _ in range(150):
        n, k = int(rng.integers(1, 300)), int(rng.integers(2, 140))
        Z = (rng.standard_normal((n, k)) * 10 ** rng.uniform(-2, 3)).astype(dt)
        Y = np.eye(k, dtype=bool)[rng.integers(0, k, n)]
        Z_ref = Z.copy()
        loss_ref, delta = _ops.output_loss_error(Z_ref, Y, None, "softmax", "log_loss")
        assert delta is Z_ref
        loops = E._loops() if n % 2 else np.empty(0, np.uint64)  # numpy's loop, or objmode
        loss = E._softmax_log_loss(Z, Y, t(0), t(eps), t(1 - eps), loops)
        assert np.float64(loss).view(np.uint64) == np.float64(loss_ref).view(np.uint64)
        assert_bitwise(Z, Z_ref)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("tanh", [False, True])
def test_numpy_exp_and_tanh_loops(dt, tanh):
    """numpy's own exp and tanh loops, called from the compiled code, give np.exp's and
    np.tanh's bits (where libm's would differ by an ulp), and so does the objmode route
    taken when they cannot be found."""
    assert len(E._loops()) == 4, "numpy's loops were not found, or failed their check"
    rng = np.random.default_rng(1)
    Z = (rng.standard_normal((97, 13)) * 30).astype(dt)
    Z[0, :4] = [0.0, -0.0, np.inf, -np.inf]
    with np.errstate(all="ignore"):
        expected = (np.tanh if tanh else np.exp)(Z)
        for loops in (E._loops(), np.empty(0, np.uint64)):
            got = Z.copy()
            E._numpy_unary(got, tanh, loops)
            assert_bitwise(got, expected)


# --- one epoch against the Python loop -----------------------------------------------------
def _problem(rng, dt, n, n_in, n_out, out):
    X = rng.standard_normal((n, n_in)).astype(dt)
    if out == "softmax":
        Y = np.eye(n_out, dtype=bool)[rng.integers(0, n_out, n)]
    elif out == "logistic":
        Y = rng.random((n, n_out)) < 0.4
    elif out == "identity":
        Y = rng.standard_normal((n, n_out)).astype(dt)
    else:
        Y = rng.poisson(2.0, (n, n_out)).astype(dt)
    return X, Y


def _optimizer(solver, net, seed):
    if solver == "adam":
        return Adam(net.params.size, net.dtype, 5e-3)
    return SGD(net.params.size, net.dtype, 0.01, nesterov=seed % 2 == 0)


def _compare_epochs(dt, solver, activation, out, *, sample_weight=None, shuffled=True,
                    subset=False, batch_size=7, dropout=None, n=53, n_out=3, hidden=(6, 4),
                    epochs=3, seed=0):
    """Train two equal networks side by side, the Python loop and the compiled one, and
    assert after every epoch that both are bitwise the same; returns the losses."""
    rng = np.random.default_rng(seed)
    X, Y = _problem(rng, dt, n, 5, n_out, out)
    sw = None
    if sample_weight is not None:
        sw = rng.random(n).astype(sample_weight)
        sw[:batch_size] = 0  # with order None, the first batch weighs nothing
    sizes = [5, *hidden, n_out]
    nets = [MLP(sizes, activation, out, dt).initialize(np.random.RandomState(seed))
            for _ in range(2)]
    opts = [_optimizer(solver, net, seed) for net in nets]
    rngs = [np.random.default_rng([7, seed]) for _ in range(2)]
    orders = np.random.default_rng(seed + 1)
    losses = []
    for _ in range(epochs):
        order = None
        if shuffled:
            order = orders.permutation(n)
            if subset:  # early stopping's training rows: fewer than X has
                order = order[: n - 11]
        with use_kernels(True):  # the Python loop with the kernels, not the compiled one
            expected = _solvers.run_epoch(nets[0], opts[0], X, Y, sw, batch_size, alpha=1e-3,
                                          order=order, dropout=dropout, rng=rngs[0],
                                          compiled=False)
            loss = E.run_epoch_compiled(nets[1], opts[1], X, Y, sw, batch_size, alpha=1e-3,
                                        order=order, dropout=dropout, rng=rngs[1])
        assert loss is not None, "the compiled loop did not cover this case"
        assert type(loss) is type(expected)
        assert_bitwise(loss, expected)
        assert_bitwise(nets[1].params, nets[0].params)
        for name in opts[0]._STATE_ARRAYS:
            assert_bitwise(getattr(opts[1], name), getattr(opts[0], name))
        assert opts[1].learning_rate == opts[0].learning_rate
        assert type(opts[1].learning_rate) is type(opts[0].learning_rate)
        assert getattr(opts[1], "t", None) == getattr(opts[0], "t", None)
        if dropout is not None:
            assert rngs[1].random() == rngs[0].random()  # the same draws were taken
        losses.append(loss)
    assert np.isfinite(losses).all()  # a diverged run would compare little
    return losses


@pytest.mark.parametrize("out", OUTPUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("dt", DTYPES)
def test_epoch_as_python_loop(dt, solver, activation, out):
    """Every dtype, solver, hidden activation and output: two hidden layers, shuffled
    rows, batches of 7 (the last one of 4 rows)."""
    _compare_epochs(dt, solver, activation, out, n_out=1 if out == "logistic" else 3)


@pytest.mark.parametrize("out", ["softmax", "logistic", "identity"])
@pytest.mark.parametrize("dt, sw_dtype", [(np.float64, np.float64), (np.float64, np.float32),
                                          (np.float32, np.float32)])
@pytest.mark.parametrize("shuffled", [False, True])
def test_epoch_sample_weights(dt, sw_dtype, out, shuffled):
    """Sample weights of each dtype the network's holds, a batch of zero total weight
    (no step, loss 0) included when the rows are in order."""
    _compare_epochs(dt, "adam", "relu", out, sample_weight=sw_dtype, shuffled=shuffled)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("batch_size, shuffled, subset", [
    (200, False, False), (200, True, True), (1, True, False), (1, False, False),
    (53, True, False), (52, False, False), (10, True, True)])
def test_epoch_orders_and_batch_sizes(dt, batch_size, shuffled, subset):
    """``order`` None (rows in place), a permutation, a subset; one batch of everything,
    batches of one row (numpy's gemv and dot paths), a last batch of one row."""
    for solver in ("adam", "sgd"):
        _compare_epochs(dt, solver, "relu", "softmax", batch_size=batch_size,
                        shuffled=shuffled, subset=subset, epochs=2)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("rates", [(0.3, 0.0), (0.2, 0.5)])
def test_epoch_dropout(dt, activation, rates):
    """Dropout: the masks drawn in the compiled loop from the same Generator are
    ``dropout_masks``' (the weights and the Generator's next draw agree)."""
    _compare_epochs(dt, "adam", activation, "softmax", dropout=list(rates))


@pytest.mark.parametrize("hidden, activation", [((), "relu"), ((8,), ("tanh",)),
                                                ((6, 5, 4), ("relu", "tanh", "logistic"))])
def test_epoch_depths_and_mixed_activations(hidden, activation):
    """No hidden layer, one, and three with one activation each."""
    if isinstance(activation, str) and hidden == ():
        activation = ()
    for dt in DTYPES:
        _compare_epochs(dt, "adam", activation, "softmax", hidden=hidden)


def test_epoch_one_output_column_and_one_feature():
    """One output (numpy's matrix-vector gemv on the way out and back) and one input
    feature (numpy's plain loop for ``delta @ W.T`` into it)."""
    for dt in DTYPES:
        _compare_epochs(dt, "sgd", "relu", "identity", n_out=1, hidden=(1, 3))


# --- what is not covered -------------------------------------------------------------------
def _untouched(net, opt, X, Y, sw=None, order=None, dropout=None):
    """Assert that the loop declines and leaves everything as it was."""
    params, state = net.params.copy(), [getattr(opt, a) for a in opt._STATE_ARRAYS]
    state = [tuple(p.copy() for p in s) if isinstance(s, tuple) else s.copy() for s in state]
    assert not E.covers(net, opt, X, Y, sw, order=order, dropout=dropout,
                        rng=np.random.default_rng(0))
    assert E.run_epoch_compiled(net, opt, X, Y, sw, 7, alpha=1e-3, order=order,
                                dropout=dropout, rng=np.random.default_rng(0)) is None
    assert_bitwise(net.params, params)
    for name, before in zip(opt._STATE_ARRAYS, state):
        now = getattr(opt, name)
        for a, b in zip(now if isinstance(now, tuple) else (now,),
                        before if isinstance(before, tuple) else (before,)):
            assert_bitwise(a, b)


def _large(net):
    """``net`` initialised, its weights times 4 (some above 1: products of X's largest
    values with them overflow)."""
    net.initialize(np.random.RandomState(0))
    net.params[: net.n_coefs] *= 4
    return net


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("dropout", [None, [0.5]])
def test_a_non_finite_loss_stops_the_loop_and_numpy_goes_on_from_that_batch(dt, dropout):
    """Batch 3 (rows 21-27) overflows: the compiled loop stops before its step and says
    where (``StoppedEpoch``), holding the first three batches' parameters; ``run_epoch``
    goes on from there with numpy's own steps: the whole epoch's numbers and numpy's
    warnings, as the numpy path gives them, and the same dropout draws."""
    rng = np.random.default_rng(0)
    X, Y = _problem(rng, dt, 40, 5, 3, "softmax")
    X[21] = np.finfo(dt).max  # finite, but its products overflow
    nets = [_large(MLP([5, 6, 3], "identity", "softmax", dt)) for _ in range(3)]
    opts = [_optimizer("adam", net, 0) for net in nets]
    rngs = [np.random.default_rng(3) for _ in range(3)]
    results, caught = [], []
    for net, opt, r, compiled in zip(nets[:2], opts, rngs, (False, True)):
        # the reference is the numpy path, whose steps numpy's warnings come from
        with use_kernels(compiled), warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            results.append(_solvers.run_epoch(net, opt, X, Y, None, 7, alpha=1e-3,
                                              dropout=dropout, rng=r, compiled=compiled))
        caught.append([(w.category, str(w.message)) for w in seen])
    assert caught[0] and any("overflow" in message for _, message in caught[0])
    assert caught[1] == caught[0]
    assert_bitwise(results[1], results[0])  # NaN, with its payload
    assert_bitwise(nets[1].params, nets[0].params)
    for name in opts[0]._STATE_ARRAYS:
        assert_bitwise(getattr(opts[1], name), getattr(opts[0], name))
    assert opts[1].t == opts[0].t == 6  # 40 rows: 6 batches
    assert rngs[1].random() == rngs[0].random()
    # the loop alone: stopped at batch 3 with three steps taken, as numpy after 21 rows
    stopped = E.run_epoch_compiled(nets[2], opts[2], X, Y, None, 7, alpha=1e-3,
                                   dropout=dropout, rng=rngs[2])
    assert isinstance(stopped, _ops.StoppedEpoch) and stopped.batch == 3
    net = _large(MLP([5, 6, 3], "identity", "softmax", dt))
    opt = _optimizer("adam", net, 0)
    with use_kernels(True):
        first = _solvers.run_epoch(net, opt, X[:21], Y[:21], None, 7, alpha=1e-3,
                                   dropout=dropout, rng=np.random.default_rng(3),
                                   compiled=False)
    assert_bitwise(nets[2].params, net.params)
    assert opts[2].t == 3
    assert stopped.total == first * 21


def test_not_covered_returns_none_and_changes_nothing():
    rng = np.random.default_rng(0)
    X, Y = _problem(rng, np.float64, 30, 5, 3, "softmax")
    net = MLP([5, 4, 3]).initialize(np.random.RandomState(0))
    opt = Adam(net.params.size, np.float64)
    assert E.covers(net, opt, X, Y, None)
    _untouched(net, opt, sp.csr_matrix(X), Y)  # sparse X
    _untouched(net, opt, np.asfortranarray(X), Y)  # not C-contiguous
    _untouched(net, opt, X.astype(np.float32), Y)  # X of another dtype than the weights
    _untouched(net, opt, X, Y, order=np.array([0, 30]))  # a row that does not exist
    _untouched(net, opt, X, Y, dropout=[1.0])  # a rate the masks cannot have
    assert E.run_epoch_compiled(net, opt, X, Y, None, 7, dropout=[0.5], rng=None) is None
    _untouched(net, opt, X, Y.astype(np.complex128))  # targets neither boolean nor real
    gelu = MLP([5, 4, 3], "gelu").initialize(np.random.RandomState(0))
    _untouched(gelu, Adam(gelu.params.size, np.float64), X, Y)  # not a kernels' activation
    # float32 weights: float64 targets make the errors float64; float64 sample weights
    # make the biases' gradient float64 (the (weights, biases) state pair of b248df2)
    net32 = MLP([5, 4, 3], "relu", "identity", np.float32).initialize(np.random.RandomState(0))
    X32 = X.astype(np.float32)
    _untouched(net32, Adam(net32.params.size, np.float32), X32, Y.astype(np.float64))
    # int32 or int64 targets beside float32: numpy's arithmetic makes the errors float64
    _untouched(net32, Adam(net32.params.size, np.float32), X32, Y.astype(np.int32))
    _untouched(net32, Adam(net32.params.size, np.float32), X32, Y.astype(np.float32),
               sw=np.ones(30))
    pair = Adam(net32.params.size, np.float32)
    pair.m, pair.v = (np.split(a.astype(np.float64), [net32.n_coefs]) for a in (pair.m, pair.v))
    pair.m, pair.v = tuple(pair.m), tuple(pair.v)
    _untouched(net32, pair, X32, Y.astype(np.float32))
    # a float64 state for float32 weights (a partial_fit that saw float64 data)
    wide = SGD(net32.params.size, np.float64)
    _untouched(net32, wide, X32, Y.astype(np.float32))


# --- whole fits against scikit-learn -------------------------------------------------------
def _fit_compiled(X, Y, out, *, solver, seed, epochs, hidden=(30,), **opt):
    """MLPClassifier's ``_fit_stochastic`` loop around ``run_epoch_compiled``: the
    initial weights from ``RandomState(seed)``, the running shuffle from the same
    stream, ``iteration_ends`` after each epoch; returns the network and the losses."""
    rng = np.random.RandomState(seed)
    net = MLP([X.shape[1], *hidden, Y.shape[1]], "relu", out, X.dtype).initialize(rng)
    if solver == "adam":
        optimizer = Adam(net.params.size, X.dtype, opt["learning_rate_init"])
    else:
        optimizer = SGD(net.params.size, X.dtype, opt["learning_rate_init"],
                        opt.get("learning_rate", "constant"), opt.get("momentum", 0.9),
                        opt.get("nesterovs_momentum", True), opt.get("power_t", 0.5))
    n = X.shape[0]
    idx, t, curve = np.arange(n), 0, []
    for _ in range(epochs):
        idx = shuffle(idx, random_state=rng)
        loss = E.run_epoch_compiled(net, optimizer, X, Y, None, min(200, n), alpha=1e-4,
                                    order=idx)
        assert loss is not None  # the compiled loop really ran, every epoch
        t += n
        optimizer.iteration_ends(t)
        curve.append(loss)
    return net, curve


def _sklearn(Est, X, y, *, solver, seed, epochs, hidden=(30,), **opt):
    est = Est(hidden_layer_sizes=hidden, solver=solver, max_iter=epochs, tol=0.0,
              n_iter_no_change=epochs + 1, random_state=seed, alpha=1e-4, **opt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def _assert_same_fit(net, curve, est):
    for W, W_ref in zip(net.coefs + net.intercepts, est.coefs_ + est.intercepts_):
        assert_bitwise(W, W_ref)
    assert curve == est.loss_curve_


@pytest.fixture(scope="module")
def digits_scaled():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16, y[:600]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("solver, opt", [
    ("adam", {"learning_rate_init": 1e-3}),
    ("sgd", {"learning_rate_init": 0.1}),
    ("sgd", {"learning_rate_init": 0.05, "learning_rate": "invscaling", "power_t": 0.3,
             "nesterovs_momentum": False})])
def test_whole_fit_as_mlpclassifier(digits_scaled, dt, solver, opt):
    """Digits (600 rows, 10 classes, batches of 200), 15 epochs: MLPClassifier's weights
    and loss curve, bit for bit."""
    X, y = digits_scaled
    X = X.astype(dt)
    Y = np.eye(10, dtype=bool)[y]
    net, curve = _fit_compiled(X, Y, "softmax", solver=solver, seed=3, epochs=15, **opt)
    _assert_same_fit(net, curve, _sklearn(MLPClassifier, X, y, solver=solver, seed=3,
                                          epochs=15, **opt))


def test_whole_fit_as_mlpclassifier_on_unscaled_data(digits_scaled):
    """Adam on raw pixel values (0..16): chaotic, where one ulp grows to the first
    digit within a few epochs; still MLPClassifier's weights exactly."""
    X, y = digits_scaled
    X = X * 16
    Y = np.eye(10, dtype=bool)[y]
    net, curve = _fit_compiled(X, Y, "softmax", solver="adam", seed=0, epochs=20,
                               learning_rate_init=1e-3)
    _assert_same_fit(net, curve, _sklearn(MLPClassifier, X, y, solver="adam", seed=0,
                                          epochs=20, learning_rate_init=1e-3))


def test_whole_fit_binary_and_regression(digits_scaled):
    """A binary classifier (one logistic output) and a regressor (identity output):
    MLPClassifier's and MLPRegressor's weights and loss curves, bit for bit."""
    X, y = digits_scaled
    is_even = (y % 2 == 0)
    net, curve = _fit_compiled(X, is_even[:, None], "logistic", solver="adam", seed=1,
                               epochs=10, learning_rate_init=1e-3)
    _assert_same_fit(net, curve, _sklearn(MLPClassifier, X, is_even, solver="adam", seed=1,
                                          epochs=10, learning_rate_init=1e-3))
    target = X[:, :8].sum(axis=1) - 2.0
    net, curve = _fit_compiled(X, target[:, None], "identity", solver="sgd", seed=2,
                               epochs=10, learning_rate_init=0.01)
    _assert_same_fit(net, curve, _sklearn(MLPRegressor, X, target, solver="sgd", seed=2,
                                          epochs=10, learning_rate_init=0.01))


def test_a_library_without_numpys_cblas_functions_binds_nothing(tmp_path):
    # another build of OpenBLAS (or no library at all): the loop covers nothing, and every
    # epoch runs the Python loop, instead of an AttributeError out of the import
    import ctypes.util

    libm = ctypes.util.find_library("m")
    assert libm is not None
    assert E._bind_blas(libm) is None  # opens, but has no scipy_cblas_dgemm64_
    assert E._bind_blas(str(tmp_path / "missing.so")) is None  # cannot be opened
    assert E._bind_blas(None) is None
    assert E._bind_blas(E.BLAS_LIBRARY) == E.BLAS_LIBRARY  # numpy's: the same addresses
