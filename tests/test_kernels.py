"""The numba kernels against the numpy formulas they replace (scikit-learn's order).

Bitwise (``assert_bitwise``: same bits, so ``-0`` vs ``+0`` and NaN count)
where the kernel does the same operations in the same order; within a few ulp
where numba's libm ``exp``/``tanh``/``log`` meet numpy's SIMD ones.
"""


import numpy as np
import pytest
from numpy.testing import assert_array_max_ulp

pytest.importorskip("numba")
from scipy.special import expit  # noqa: E402

from skmlp import _kernels as K  # noqa: E402

DTYPES = [np.float32, np.float64]
_UINT = {np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}


def assert_bitwise(actual, desired):
    actual, desired = np.asarray(actual), np.asarray(desired)
    assert actual.dtype == desired.dtype and actual.shape == desired.shape
    u = _UINT[actual.dtype]
    bad = actual.view(u) != desired.view(u)
    assert not bad.any(), (
        f"{bad.sum()} of {bad.size} differ, e.g. {actual[bad][:3]} vs {desired[bad][:3]}"
    )


def _sprinkle(a, rng, big):
    """Put zeros, negative zeros and large magnitudes at random places of ``a``."""
    flat = a.reshape(-1)
    for value in (0.0, -0.0, big, -big):
        flat[rng.integers(0, flat.size, max(1, flat.size // 50))] = value
    return a


def _flat_problem(rng, dt, n=2000, n_coefs=1500):
    params = _sprinkle(rng.standard_normal(n).astype(dt), rng, 1e3)
    grad = _sprinkle((rng.standard_normal(n) * 10.0 ** rng.uniform(-6, 2, n)).astype(dt), rng, 1e4)
    return params, grad, n_coefs


def _g_ref(params, grad, n_coefs, alpha, s):
    g = grad.copy()
    g[:n_coefs] += alpha * params[:n_coefs]
    g /= s
    return g


# ---------------------------------------------------------------------------------------
# optimizers
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dt", DTYPES)
def test_adam_step_bitwise(dt, rng):
    params, grad, n_coefs = _flat_problem(rng, dt)
    m = rng.standard_normal(params.size).astype(dt) * dt(0.1)
    v = (rng.standard_normal(params.size) ** 2).astype(dt) * dt(0.01)
    v[:7] = 0.0  # sqrt(0) + eps
    alpha, s, b1, b2, eps, t = 1e-4, 200.0, 0.9, 0.999, 1e-8, 3
    lr_t = 1e-3 * np.sqrt(1 - b2**t) / (1 - b1**t)
    P, M, V = params.copy(), m.copy(), v.copy()
    K.adam_step(P, grad, M, V, n_coefs, alpha, s, b1, b2, lr_t, eps)
    # the numpy reference, scalars in the dtype but lr_t, a float64 scalar as in
    # scikit-learn: the update is float64, rounded once into float32 parameters
    c = np.dtype(dt).type
    g = _g_ref(params, grad, n_coefs, c(alpha), c(s))
    m *= c(b1)
    m += c(1 - b1) * g
    v *= c(b2)
    v += c(1 - b2) * (g * g)
    update = (-np.float64(lr_t) * m) / (np.sqrt(v) + c(eps))
    assert update.dtype == np.float64
    params += update
    assert_bitwise(M, m)
    assert_bitwise(V, v)
    assert_bitwise(P, params)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("where", ["weight", "bias"])
def test_adam_step_says_when_a_square_overflowed(dt, where):
    """True exactly when a finite ``g`` has an infinite ``g * g`` (where numpy warns
    "overflow encountered in square"); an inf or NaN gradient, or a merely large one,
    is not an overflow of the square; the numbers stay numpy's."""
    big = np.sqrt(np.finfo(dt).max) * dt(4)  # finite, its square is not
    for value, overflows in ((big, True), (np.inf, False), (np.nan, False),
                             (np.sqrt(np.finfo(dt).max) / dt(2), False)):
        params = np.ones(6, dt)
        grad = np.full(6, 0.5, dt)
        grad[1 if where == "weight" else 5] = value
        m, v = np.zeros(6, dt), np.zeros(6, dt)
        with np.errstate(all="ignore"):
            flag = K.adam_step(params, grad, m, v, 4, 0.0, 1.0, 0.9, 0.999, 1e-3, 1e-8)
            g = grad.copy()
            v_ref = dt(1 - 0.999) * np.square(g)
        assert bool(flag) is overflows, (value, flag)
        assert_bitwise(v, v_ref)


def test_adam_step_float32_promotion_would_show(rng):
    # the bitwise test above can tell a float32 loop from one promoted to float64
    params, grad, n_coefs = _flat_problem(rng, np.float32)
    m, v = np.zeros_like(params), np.zeros_like(params)
    P, M, V = params.copy(), m.copy(), v.copy()
    K.adam_step(P, grad, M, V, n_coefs, 1e-4, 200.0, 0.9, 0.999, 1e-3, 1e-8)
    g64 = _g_ref(params.astype(np.float64), grad.astype(np.float64), n_coefs, 1e-4, 200.0)
    v64 = (1 - 0.999) * (g64 * g64)
    promoted = params + (-1e-3 * ((1 - 0.9) * g64)) / (np.sqrt(v64) + 1e-8)
    assert not np.array_equal(P, promoted.astype(np.float32))
    assert not np.array_equal(V, v64.astype(np.float32))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_step_bitwise(dt, nesterov, rng):
    params, grad, n_coefs = _flat_problem(rng, dt)
    vel = rng.standard_normal(params.size).astype(dt) * dt(0.01)
    alpha, s, mom, lr = 1e-3, 37.5, 0.9, 0.1
    P, Vel = params.copy(), vel.copy()
    K.sgd_step(P, grad, Vel, n_coefs, alpha, s, mom, lr, nesterov)
    c = np.dtype(dt).type
    g = _g_ref(params, grad, n_coefs, c(alpha), c(s))
    vel[...] = c(mom) * vel - c(lr) * g
    params += c(mom) * vel - c(lr) * g if nesterov else vel
    assert_bitwise(Vel, vel)
    assert_bitwise(P, params)


# ---------------------------------------------------------------------------------------
# forward
# ---------------------------------------------------------------------------------------
def _logits(rng, dt, shape=(50, 37), big=1e4):
    Z = (rng.standard_normal(shape) * 4).astype(dt)
    return _sprinkle(Z, rng, big)


@pytest.mark.parametrize("dt", DTYPES)
def test_bias_relu_identity_bitwise(dt, rng):
    Z = _logits(rng, dt)
    b = rng.standard_normal(Z.shape[1]).astype(dt)
    b[:3] = 0.0
    Z[0, :3] = [-0.0, np.nan, -np.nan]  # -0 + 0 = +0; NaN must propagate, sign and all
    b[3] = -0.0
    Z[1, 3] = -0.0  # -0 + -0 = -0, and relu(-0) is +0 in numpy
    Z[2, 4] = -b[4]  # an exact zero
    Zr, Zi = Z.copy(), Z.copy()
    K.bias_activation(Zr, b, "relu")
    K.bias_activation(Zi, b, "identity")
    ref = Z + b
    assert_bitwise(Zi, ref)
    assert_bitwise(Zr, np.maximum(ref, 0))
    assert np.isnan(Zr[0, 1]) and np.signbit(Zr[0, 2]) and not np.signbit(Zr[1, 3])


@pytest.mark.parametrize("dt", DTYPES)
def test_bias_leaky_relu_bitwise(dt, rng):
    """skmlp's leaky ReLU: ``np.multiply(z, 0.01, where=z < 0)`` after the bias, NaN, zeros
    and their signs passed through."""
    Z = _logits(rng, dt, big=1e3)
    b = rng.standard_normal(Z.shape[1]).astype(dt)
    b[:3] = [-0.0, 0.0, 0.0]
    Z[0, :3] = [-0.0, np.nan, -np.inf]  # -0 + -0 = -0, which is not below 0: kept
    Zk = Z.copy()
    K.bias_activation(Zk, b, "leaky_relu")
    ref = Z + b
    REGISTRY["leaky_relu"].function(ref)
    assert_bitwise(Zk, ref)
    assert np.signbit(Zk[0, 0]) and np.isnan(Zk[0, 1]) and Zk[0, 2] == -np.inf
    assert (Zk < 0).any() and (Zk > 0).any()


@pytest.mark.parametrize("dt", DTYPES)
def test_bias_logistic_tanh(dt, rng):
    Z = _logits(rng, dt, big=1e3)
    Z[0, :4] = [-0.0, 100.0, -100.0, -800.0]
    b = rng.standard_normal(Z.shape[1]).astype(dt)
    b[:4] = 0.0
    Zl, Zt = Z.copy(), Z.copy()
    K.bias_activation(Zl, b, "logistic")
    K.bias_activation(Zt, b, "tanh")
    ref = Z + b
    # scipy's expit is 1 / (1 + exp(-z)) with libm's exp, as the kernel
    assert_bitwise(Zl, expit(ref))
    # numpy's own exp is SIMD, not libm: measured up to 4 ulp apart (float32);
    # allow a little more for other SIMD targets
    with np.errstate(over="ignore"):
        assert_array_max_ulp(Zl, 1 / (1 + np.exp(-ref)), maxulp=6)
    # tanh is numpy's np.tanh after the kernel's bias add
    assert_bitwise(Zt, np.tanh(ref))
    assert Zt.dtype == Zl.dtype == dt


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("activation", K.ACTIVATIONS)
def test_bias_activation_dropout(dt, activation, rng):
    Z = _logits(rng, dt)
    b = rng.standard_normal(Z.shape[1]).astype(dt)
    rate = 0.3
    draws = np.random.default_rng(5).random(Z.shape)
    Zn = Z.copy()
    K.bias_activation(Zn, b, activation)  # f(z) without dropout
    multipliers = np.where(draws >= rate, dt(1.0 / (1.0 - rate)), dt(0)).astype(dt)
    mask, keep, Zm = multipliers.copy(), np.empty_like(Z), Z.copy()
    K.bias_activation(Zm, b, activation, keep=keep, mask=mask)
    assert_bitwise(keep, Zn)
    assert_bitwise(mask, multipliers)  # left as it is
    assert_bitwise(Zm, Zn * multipliers)
    assert (multipliers == 0).any() and (Zm[multipliers == 0] == 0).all()


# ---------------------------------------------------------------------------------------
# backward
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("activation", K.ACTIVATIONS)
@pytest.mark.parametrize("dropout", [False, True])
def test_activation_derivative_bitwise(dt, activation, dropout, rng):
    A = _logits(rng, dt, big=1e3)
    A[A < 0] = 0.0  # relu outputs: plenty of exact zeros ...
    A[0, :2] = -0.0  # ... and negative ones, which == 0 too
    if activation == "logistic":
        A = expit(A - 4).astype(dt)
    elif activation == "tanh":
        A = np.tanh(A - 4).astype(dt)
    elif activation == "leaky_relu":  # negative outputs, zeros of both signs, NaN
        A = _logits(rng, dt, big=1e3)
        A[0, :3] = [0.0, -0.0, np.nan]
    delta = _sprinkle((rng.standard_normal(A.shape) * 3).astype(dt), rng, 1e5)
    mask = None
    if dropout:
        mask = np.where(rng.random(A.shape) >= 0.5, dt(2.0), dt(0.0)).astype(dt)
    D = delta.copy()
    K.activation_derivative(A, D, activation, mask=mask)
    ref = delta.copy()
    if dropout:
        ref *= mask
    if activation == "relu":
        ref[A == 0] = 0
    elif activation == "logistic":
        ref *= A
        ref *= 1 - A
    elif activation == "tanh":
        ref *= 1 - A**2
    elif activation == "leaky_relu":
        REGISTRY["leaky_relu"].derivative(A, ref)
        assert (A < 0).any() and (A > 0).any()
    assert_bitwise(D, ref)
    if activation != "identity" or dropout:
        assert not np.array_equal(D, delta)


# ---------------------------------------------------------------------------------------
# bias gradient
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize(
    "shape", [(200, 256), (200, 10), (200, 1), (1000, 1), (7, 3), (1, 5), (300, 2)]
)
def test_column_sums_bitwise(dt, shape, rng):
    # a spread of magnitudes, so another order of the additions changes the bits
    delta = (rng.standard_normal(shape) * 10.0 ** rng.uniform(-2, 2, shape)).astype(dt)
    if shape[1] > 1:
        delta[:, 0] = -0.0  # numpy starts from +0: the column sums to +0
        delta[0, 1] = np.nan
    out = np.full(shape[1], 7.0, dtype=dt)
    K.column_sums(delta, out)
    assert_bitwise(out, np.sum(delta, axis=0))
    # row after row, or (a single column) pairwise, and these differ here
    seq = np.zeros(shape[1], dt)
    for row in delta:
        seq += row
    if shape[1] > 1:
        assert_bitwise(out, seq)
    elif shape[0] > 8:
        assert out[0] != seq[0]
        zeros = np.full(shape, -0.0, dtype=dt)
        K.column_sums(zeros, out)
        assert_bitwise(out, np.sum(zeros, axis=0))  # +0


def test_shapes_and_dtypes_are_checked():
    # the kernels do not check bounds: the wrappers must refuse what would overrun
    p = np.zeros(10)
    state = "params, grad and the optimizer's state must have one shape and one dtype"
    with pytest.raises(ValueError, match=state):
        K.adam_step(p, np.zeros(9), np.zeros(10), np.zeros(10), 5, 0.0, 1.0, 0.9, 0.999, 1e-3, 1e-8)
    with pytest.raises(ValueError, match=state):
        K.adam_step(p, p.copy(), p.copy(), p.astype(np.float32), 5, 0.0, 1.0, 0.9, 0.999, 1e-3,
                    1e-8)
    with pytest.raises(ValueError, match=state):
        K.sgd_step(p, p.copy(), p.copy(), 11, 0.0, 1.0, 0.9, 0.1, True)
    Z = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"^bias float64\(2,\) for activations float64\(4, 3\)$"):
        K.bias_activation(Z, np.zeros(2), "relu")
    b, good = np.zeros(3), np.zeros((4, 3))
    dropout = "dropout needs `mask` and `keep` of Z's shape and dtype"
    with pytest.raises(ValueError, match=dropout):
        K.bias_activation(Z, b, "relu", mask=np.zeros((4, 2)), keep=good)
    with pytest.raises(ValueError, match=dropout):
        K.bias_activation(Z, b, "relu", mask=good.copy())  # no keep
    with pytest.raises(ValueError, match="A, delta and mask must have the same shape"):
        K.activation_derivative(np.zeros((4, 2)), Z, "relu")
    with pytest.raises(ValueError, match=r"^out of shape \(4,\) for delta of shape \(4, 3\)$"):
        K.column_sums(Z, np.zeros(4))


# ---------------------------------------------------------------------------------------
# the kernels as the training loop calls them: each _ops step with and without its twin,
# and whole fits with kernels on and off
# ---------------------------------------------------------------------------------------
from sklearn.datasets import make_classification, make_multilabel_classification  # noqa: E402

from skmlp import (  # noqa: E402
    MLPClassifierFromScratch,
    MLPRegressorFromScratch,
    _config,
    _ops,
    set_kernels,
    use_kernels,
)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("activation", list(K.ACTIVATIONS))
@pytest.mark.parametrize("dropout", [False, True])
def test_ops_steps_equal_their_numpy_reference(dt, activation, dropout, rng):
    Z0 = _logits(rng, dt, big=30.0)
    b = rng.standard_normal(Z0.shape[1]).astype(dt)
    mask = ((rng.random(Z0.shape) >= 0.3) / dt(0.7)).astype(dt) if dropout else None
    outs = []
    for enabled in (False, True):
        Z, keep = Z0.copy(), np.empty_like(Z0) if dropout else None
        with use_kernels(enabled):
            assert (_config.kernels() is not None) == enabled
            _ops.bias_activation(Z, b, activation, keep=keep, mask=mask, fused=True)
            delta = rng.standard_normal(Z.shape).astype(dt) if not outs else outs[0][2].copy()
            start = delta.copy()
            _ops.activation_derivative(Z if keep is None else keep, delta, activation,
                                       mask=mask, fused=True)
            sums = np.empty(Z.shape[1], dt)
            _ops.column_sums(delta, sums, fused=True)
        outs.append((Z, delta, start, sums))
    (Z_np, d_np, _, s_np), (Z_k, d_k, _, s_k) = outs
    if activation == "logistic":  # expit (libm exp) in both, computed alike
        assert_array_max_ulp(Z_k, Z_np, maxulp=0)
    else:
        assert_bitwise(Z_k, Z_np)
    if dropout:  # a dropped unit's error is -0.0 in one and +0.0 in the other
        np.testing.assert_array_equal(d_k, d_np)
    else:
        assert_bitwise(d_k, d_np)
    assert_bitwise(s_k, s_np)


def _fit_both(make, X, y):
    models = []
    for enabled in (False, True):
        previous = set_kernels(enabled)
        try:
            assert (_config.kernels() is not None) == enabled
            models.append(make().fit(X, y))
        finally:
            set_kernels(previous)
    return models


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("target", ["binary", "multilabel", "multiclass"])
@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh", "gelu"])
def test_fits_with_kernels_on_and_off_agree(solver, target, activation):
    """Bitwise where every step is (logistic outputs); to rounding with softmax, whose
    exp is libm's in the kernel and numpy's SIMD one in the reference."""
    if target == "multilabel":
        X, y = make_multilabel_classification(n_samples=120, n_features=8, n_classes=3,
                                              random_state=0)
    else:
        X, y = make_classification(n_samples=120, n_features=8, n_informative=5,
                                   n_classes=2 if target == "binary" else 3, random_state=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)

    def make():
        return MLPClassifierFromScratch((12, 7), activation=activation, solver=solver,
                                        max_iter=15, batch_size=32, random_state=0)

    off, on = _fit_both(make, X, y)
    assert on.n_iter_ == off.n_iter_
    for a, b in zip(on.coefs_ + on.intercepts_, off.coefs_ + off.intercepts_):
        if target == "multiclass" or solver == "lbfgs":  # lbfgs also sees the loss's rounding
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
        else:
            assert_bitwise(a, b)
    np.testing.assert_allclose(on.loss_curve_, off.loss_curve_,
                               rtol=1e-9 if solver == "lbfgs" else 1e-12)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_regressor_fits_with_kernels_on_and_off_are_bitwise_equal(loss, rng):
    """Regression outputs have no twin: only the hidden layers and Adam run in numba."""
    X = rng.standard_normal((100, 6))
    y = np.exp(X[:, 0]) if loss == "poisson" else X @ rng.standard_normal(6)

    def make():
        return MLPRegressorFromScratch(loss=loss, hidden_layer_sizes=(10,), max_iter=10,
                                       batch_size=16, random_state=0)

    off, on = _fit_both(make, X, y)
    for a, b in zip(on.coefs_ + on.intercepts_, off.coefs_ + off.intercepts_):
        assert_bitwise(a, b)


# ---------------------------------------------------------------------------------------
# the seam: skmlp._ops alone reaches the kernels, for every step, under the thread's switch
# ---------------------------------------------------------------------------------------
import ast  # noqa: E402
import pathlib  # noqa: E402
import threading  # noqa: E402

from skmlp import MLP, SGD, Adam  # noqa: E402
from skmlp._activations import ACTIVATIONS as REGISTRY  # noqa: E402

#: the steps a training batch runs, each with its numba twin
TWINS = ("bias_activation", "activation_derivative", "column_sums", "sgd_step", "adam_step")


@pytest.fixture
def twin_calls(monkeypatch):
    """Record the thread of every twin call (the real kernel still runs)."""
    calls = []

    def spy(name, kernel):
        def recorded(*args, **kwargs):
            calls.append((name, threading.get_ident()))
            return kernel(*args, **kwargs)
        return recorded

    for name in TWINS:
        monkeypatch.setattr(K, name, spy(name, getattr(K, name)))
    return calls


def _one_training_batch(dt=np.float64, seed=0):
    """A backprop, an SGD step and an Adam step, as a fit's batch runs them."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((20, 4)).astype(dt)
    Y = np.eye(3, dtype=bool)[rng.integers(0, 3, 20)]
    net = MLP([4, 6, 5, 3], "tanh", dtype=dt).initialize(rng)
    grad = np.empty_like(net.params)
    loss, s = net.backprop(X, Y, None, 0.1, grad=grad)
    for opt in (SGD(net.params.size, dt), Adam(net.params.size, dt)):
        opt.step(net.params, grad.copy(), alpha=0.1, scale=s, n_coefs=net.n_coefs)
    return net, X


def test_every_step_of_a_training_batch_goes_through_the_seam(twin_calls):
    with use_kernels(True):
        net_k, X = _one_training_batch()
    assert {name for name, _ in twin_calls} == set(TWINS)
    twin_calls.clear()
    with use_kernels(False):
        net_np, _ = _one_training_batch()
        assert _config.kernels() is None
    assert twin_calls == []
    assert_bitwise(net_k.params, net_np.params)  # and the twins changed nothing
    with use_kernels(True):
        net_k.predict(X)  # prediction asks for no twin: it never loads numba
    assert twin_calls == []


def test_use_kernels_false_in_one_thread_does_not_leak_into_another(twin_calls):
    inside, done = threading.Event(), threading.Event()
    result = {}

    def numpy_thread():
        with use_kernels(False):
            inside.set()
            result["params"] = _one_training_batch()[0].params
            done.wait(timeout=60)  # still inside while the main thread trains

    worker = threading.Thread(target=numpy_thread)
    with use_kernels(True):
        worker.start()
        assert inside.wait(timeout=60)
        params = _one_training_batch()[0].params
        done.set()
        worker.join()
    threads = {ident for _, ident in twin_calls}
    assert threads == {threading.get_ident()}  # the main thread ran twins, the worker none
    assert worker.ident not in threads
    assert_bitwise(result["params"], params)


def test_the_seam_declines_what_its_twin_does_not_cover(twin_calls, rng):
    """Mixed dtypes, a state pair, scalars the dtype cannot hold and activations without
    a twin take numpy even with the kernels on."""
    p = rng.standard_normal(10).astype(np.float32)
    g32 = rng.standard_normal(10).astype(np.float32)
    with use_kernels(True):
        assert not _ops.fused_sgd_step(p, g32.astype(np.float64), np.zeros(10, np.float32),
                                       n_coefs=6, alpha=0.1, scale=2, momentum=0.9,
                                       learning_rate=0.1, nesterov=True)
        assert not _ops.fused_adam_step(p, g32, (np.zeros(6, np.float32), np.zeros(4)),
                                        np.zeros(10, np.float32), n_coefs=6, alpha=0.1,
                                        scale=2, beta_1=0.9, beta_2=0.999, step_size=1e-3,
                                        epsilon=1e-8)
        assert not _ops.fused_sgd_step(p, g32, np.zeros(10, np.float32), n_coefs=6,
                                       alpha=0.1, scale=np.float64(2.0), momentum=0.9,
                                       learning_rate=0.1, nesterov=True)
        Z = rng.standard_normal((5, 3))
        _ops.bias_activation(Z, np.zeros(3), "gelu", fused=True)
        _ops.activation_derivative(Z, Z.copy(), "gelu", fused=True)
        _ops.activation_derivative(Z.astype(np.float32), Z.copy(), "relu", fused=True)
        assert twin_calls == []
        assert _ops.fused_sgd_step(p, g32, np.zeros(10, np.float32), n_coefs=6,
                                   alpha=0.1, scale=np.float32(2.0), momentum=0.9,
                                   learning_rate=0.1, nesterov=True)
    assert twin_calls == [("sgd_step", threading.get_ident())]


def test_only_ops_reaches_the_kernels():
    """No module but ``_ops`` calls ``_config.kernels()`` or imports ``_kernels``
    (``_config`` loads them; ``_epoch_loop`` is numba code calling their compiled loops)."""
    reach = set()
    for path in sorted(pathlib.Path(_ops.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            imports = isinstance(node, ast.ImportFrom) and any(
                a.name == "_kernels" for a in node.names)
            asks = (isinstance(node, ast.Attribute) and node.attr == "kernels"
                    and isinstance(node.value, ast.Name) and node.value.id == "_config")
            if imports or asks:
                reach.add(path.name)
    assert reach - {"_config.py", "_epoch_loop.py"} == {"_ops.py"}


def test_the_kernels_cover_registry_activations_written_from_their_output():
    """Every twin is of a registered activation whose derivative is written from the output
    (the kernels' derivative reads ``A``)."""
    assert set(K.ACTIVATIONS) <= set(REGISTRY)
    assert all(not REGISTRY[name].needs_preactivation for name in K.ACTIVATIONS)
    assert set(K.ACTIVATIONS) == set(K._KIND)
