"""The tabular estimators' math against independent references.

Central differences (float64) for every new layer, activation and loss; schedules,
AdamW, gradient clipping, the weight average and the input scaling against their
written-out formulas, with state set up by hand.
"""

import dataclasses
import math

import numpy as np
import pytest

from skmlp import _embeddings, _preprocessing
from skmlp._activations import (
    ACTIVATIONS,
    SELU_ALPHA,
    SELU_LAMBDA,
)
from skmlp._adamw import AdamW, clip_gradient
from skmlp._averaging import EMA
from skmlp._schedules import SCHEDULES, learning_rate_factor
from skmlp._tabular_net import TabularNet, loss_delta

H = 1e-6  # central-difference step


def numeric_gradient(f, x):
    """Central differences of the scalar function ``f()`` over the entries of ``x``."""
    g = np.empty_like(x)
    flat, out = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + H
        up = f()
        flat[i] = old - H
        down = f()
        flat[i] = old
        out[i] = (up - down) / (2 * H)
    return g


def relative_error(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12)


# --- activations -----------------------------------------------------------------------------
def test_selu_and_mish_values():
    z = np.linspace(-30, 30, 61)
    a = ACTIVATIONS["selu"].function(z.copy())
    np.testing.assert_allclose(a, SELU_LAMBDA * np.where(z > 0, z, SELU_ALPHA * np.expm1(z)),
                               rtol=1e-15, atol=1e-15)
    m = ACTIVATIONS["mish"].function(z.copy())
    np.testing.assert_allclose(m, z * np.tanh(np.log1p(np.exp(z))), rtol=1e-14, atol=1e-15)
    assert np.isfinite(ACTIVATIONS["mish"].function(np.float32([-100, 100, 1e4]))).all()
    assert ACTIVATIONS["mish"].needs_preactivation
    assert not ACTIVATIONS["selu"].needs_preactivation


@pytest.mark.parametrize("name", ["selu", "mish"])
def test_activation_derivative_is_central_difference(name):
    # away from SELU's kink at 0, where the derivative jumps
    z = np.concatenate([np.linspace(-6, -0.05, 40), np.linspace(0.05, 25, 40)])
    delta = np.ones_like(z)
    act = ACTIVATIONS[name]
    source = z if act.needs_preactivation else act.function(z.copy())
    act.derivative(source, delta)
    numeric = (act.function(z + H) - act.function(z - H)) / (2 * H)
    assert relative_error(delta, numeric) < 1e-7


KEEPING = [name for name, act in ACTIVATIONS.items() if act.function_keeping is not None]


def test_mish_keeps_what_its_derivative_needs():
    assert KEEPING == ["mish"]  # a new pair must be added to the tests below


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", KEEPING)
def test_function_keeping_is_the_function_and_its_derivative_bitwise(name, dtype, rng):
    # the training step's pair computes the numbers of function / derivative exactly,
    # over the whole range: large negative, the cap at 20, beyond it
    act = ACTIVATIONS[name]
    Z = np.concatenate([rng.normal(0, 3, 500), [-100, -20, 0, 19.9, 20, 20.1, 50]])
    Z = Z.astype(dtype).reshape(-1, 3)
    delta = rng.normal(size=Z.shape).astype(dtype)
    A, kept = act.function_keeping(Z)
    reference = act.function(Z, out=np.empty_like(Z))
    assert A.dtype == dtype and np.array_equal(A, reference)
    got, want = delta.copy(), delta.copy()
    act.derivative_of_kept(kept, got)
    act.derivative(Z, want)
    assert np.array_equal(got, want)
    assert np.array_equal(kept[0], Z)  # the pre-activation left as it was


def test_activation_keeping_pair_is_checked():
    from skmlp._activations import Activation, mish, mish_derivative, mish_keeping

    with pytest.raises(ValueError, match="come as a pair"):
        Activation("half", mish, mish_derivative, gain=1.0, function_keeping=mish_keeping)


@pytest.mark.parametrize("name", KEEPING)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_members", [1, 3])
@pytest.mark.parametrize("parametric, dropout", [(False, False), (True, True)])
def test_a_network_with_the_keeping_pair_has_the_gradient_of_one_without(
        name, dtype, n_members, parametric, dropout, monkeypatch):
    """Through a whole network (embeddings, members, parametric activations, dropout masks
    and sample weights), keeping the forward pass's pieces changes no bit of the loss or
    the gradient: nothing between the forward and the backward pass overwrites them."""
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(64, 5)) * 3).astype(dtype)
    Y = np.eye(3, dtype=dtype)[rng.integers(0, 3, 64)]
    sample_weight = rng.random(64) if dropout else None
    keeping = ACTIVATIONS[name]
    plain = dataclasses.replace(keeping, function_keeping=None, derivative_of_kept=None)
    results = []
    for act in (keeping, plain):
        monkeypatch.setitem(ACTIVATIONS, name, act)
        net = TabularNet(5, np.array([0, 2]), [16, 16], 3, activation=name, dtype=dtype,
                         n_members=n_members, parametric_activation=parametric)
        net.initialize(np.random.default_rng(1), X)
        # the output layer starts at 0, which would send no error back to the activations
        net.p["W2"][...] = np.random.default_rng(3).normal(size=net.p["W2"].shape)
        if parametric:  # away from a = 1, where the unit is the activation itself
            net.p["a0"][...] = 0.3
            net.p["a1"][...] = -0.2
        masks = None
        if dropout:
            draw = np.random.default_rng(2)
            masks = [(draw.random(net.mask_shape(64, 16)) > 0.3).astype(dtype) / dtype(0.7)
                     for _ in range(2)] + [None]
        loss, grad = net.loss_grad(X, Y, sample_weight, loss="cross_entropy", masks=masks)
        results.append((loss, grad.copy()))
        assert np.count_nonzero(net.views(grad)["W0"]) > 0  # the error reached layer 0
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("name, gain", [("selu", 0.75), ("mish", 1.0 / math.sqrt(0.4523))])
def test_gains(name, gain):
    assert ACTIVATIONS[name].gain == pytest.approx(gain)
    if name == "mish":  # 1 / sqrt(E[mish(z)^2]) for standard normal z, by quadrature
        z = np.linspace(-12, 12, 200001)
        second = np.trapezoid(ACTIVATIONS["mish"].function(z.copy()) ** 2 * np.exp(-z**2 / 2), z)
        assert second / math.sqrt(2 * math.pi) == pytest.approx(0.4523, abs=1e-4)


# --- losses ------------------------------------------------------------------------------------
@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
def test_loss_delta_is_the_gradient_of_the_loss(loss, rng):
    Z = rng.standard_normal((6, 3))
    if loss == "cross_entropy":  # label-smoothed one-hot targets
        eps, k = 0.1, 3
        Y = np.full((6, 3), eps / k)
        Y[np.arange(6), rng.integers(0, 3, 6)] += 1 - eps
    else:
        Y = rng.standard_normal((6, 3))
    w = rng.uniform(0.2, 2.0, 6)
    _, delta = loss_delta(Z.copy(), Y, w, loss)
    numeric = numeric_gradient(lambda: loss_delta(Z.copy(), Y, w, loss)[0], Z)
    assert relative_error(delta, numeric) < 1e-7


def test_label_smoothed_cross_entropy_value(rng):
    Z = rng.standard_normal((4, 3))
    Y = np.array([[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9], [0.9, 0.05, 0.05]])
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    value, delta = loss_delta(Z.copy(), Y, None, "cross_entropy")
    assert value == pytest.approx(-np.mean(np.sum(Y * np.log(P), axis=1)), rel=1e-12)
    np.testing.assert_allclose(delta, (P - Y) / 4, rtol=1e-12)


# --- embeddings and the network -----------------------------------------------------------------
def test_embedding_forward_formula(rng):
    X = rng.standard_normal((5, 4))
    cols = np.array([0, 2])
    p = _embeddings.initialize(rng, 2, 3, 2, sigma=0.5)
    out, _ = _embeddings.forward(X, cols, p)
    for j, c in enumerate(cols):
        C = np.cos(2 * np.pi * X[:, [c]] * p["w1"][j] + p["b1"][j])
        np.testing.assert_allclose(out[:, 2 * j:2 * j + 2], C @ p["W2"][j] + p["b2"][j],
                                   rtol=1e-12)
    np.testing.assert_array_equal(out[:, 4:], X)


def test_embedding_backward_is_central_difference(rng):
    X = rng.standard_normal((7, 3))
    cols = np.array([1, 2])
    p = _embeddings.initialize(rng, 2, 4, 3, sigma=0.7)
    G = rng.standard_normal((7, 2 * 3 + 3))  # L = sum(G * out)

    def f():
        return np.sum(G * _embeddings.forward(X, cols, p)[0])

    _, cache = _embeddings.forward(X, cols, p)
    grads = {k: np.empty_like(v) for k, v in p.items()}
    _embeddings.backward(G, cache, p, grads)
    for name in p:
        assert relative_error(grads[name], numeric_gradient(f, p[name])) < 1e-7, name


@pytest.mark.parametrize("activation", ["selu", "mish", "relu"])
@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
@pytest.mark.parametrize("parametrization", ["ntk", "standard"])
def test_network_gradient_is_central_difference(activation, loss, parametrization, rng):
    """Every parameter: embeddings, scale, NTK or standard linear layers, biases; with
    sample weights and dropout masks."""
    n, d = 7, 5
    X = rng.standard_normal((n, d))
    net = TabularNet(d, [0, 2, 3], [6, 4], 3, activation=activation, n_frequencies=4,
                     embedding_dim=2, parametrization=parametrization, dtype=np.float64)
    net.initialize(rng, X)
    net.params += 0.3 * rng.standard_normal(net.n_params)  # move off the zero output layer
    if loss == "cross_entropy":
        Y = rng.dirichlet(np.ones(3), size=n)
    else:
        Y = rng.standard_normal((n, 3))
    w = rng.uniform(0.5, 2.0, n)
    masks = [(rng.random((n, 6)) > 0.3) / 0.7, (rng.random((n, 4)) > 0.3) / 0.7]
    grad = net.loss_grad(X, Y, w, loss=loss, masks=masks)[1]
    numeric = numeric_gradient(lambda: net.loss_grad(X, Y, w, loss=loss, masks=masks)[0],
                               net.params)
    assert relative_error(grad, numeric) < 1e-6


def test_network_without_embedding_gradient(rng):
    X = rng.standard_normal((6, 4))
    net = TabularNet(4, [], [5], 2, activation="selu", dtype=np.float64).initialize(rng, X)
    net.params += 0.3 * rng.standard_normal(net.n_params)
    Y = rng.standard_normal((6, 2))
    grad = net.loss_grad(X, Y, loss="squared_error")[1]
    numeric = numeric_gradient(lambda: net.loss_grad(X, Y, loss="squared_error")[0],
                               net.params)
    assert relative_error(grad, numeric) < 1e-6
    assert "emb.w1" not in net.p


@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
@pytest.mark.parametrize("activation", ["selu", "mish"])
def test_ensemble_gradient_is_central_difference(loss, activation, rng):
    """The packed ensemble (3 members): the shared embeddings and scale, every member's
    layers; with sample weights and per-member dropout masks."""
    n, d, k = 7, 5, 3
    X = rng.standard_normal((n, d))
    net = TabularNet(d, [0, 2], [6, 4], 3, activation=activation, n_frequencies=3,
                     embedding_dim=2, dtype=np.float64, n_members=k)
    net.initialize(rng, X)
    net.params += 0.3 * rng.standard_normal(net.n_params)
    assert net.p["W1"].shape == (k, 6, 4) and net.p["b1"].shape == (k, 1, 4)
    Y = rng.dirichlet(np.ones(3), size=n) if loss == "cross_entropy" else rng.standard_normal(
        (n, 3))
    w = rng.uniform(0.5, 2.0, n)
    masks = [(rng.random(net.mask_shape(n, h)) > 0.3) / 0.7 for h in (6, 4)]
    assert masks[0].shape == (k, n, 6)
    grad = net.loss_grad(X, Y, w, loss=loss, masks=masks)[1]
    numeric = numeric_gradient(lambda: net.loss_grad(X, Y, w, loss=loss, masks=masks)[0],
                               net.params)
    assert relative_error(grad, numeric) < 1e-6


@pytest.mark.parametrize("activation", ["selu", "mish", "relu"])
@pytest.mark.parametrize("members", [1, 3])
def test_parametric_activation_gradient_is_central_difference(activation, members, rng):
    """RealMLP's parametric activation: every parameter, the mixing weights ``a`` included,
    single network and packed ensemble, with sample weights and dropout masks; the
    weights moved away from their start at 1 so that both paths (through ``f`` and the
    identity) carry gradient."""
    n, d = 7, 5
    X = rng.standard_normal((n, d))
    net = TabularNet(d, [0, 2], [6, 4], 3, activation=activation, n_frequencies=3,
                     embedding_dim=2, dtype=np.float64, n_members=members,
                     parametric_activation=True).initialize(rng, X)
    assert np.all(net.p["a0"] == 1) and np.all(net.p["a1"] == 1)
    assert net.p["a1"].shape == net.p["b1"].shape
    net.params += 0.3 * rng.standard_normal(net.n_params)
    Y = rng.dirichlet(np.ones(3), size=n)
    w = rng.uniform(0.5, 2.0, n)
    masks = [(rng.random(net.mask_shape(n, h)) > 0.3) / 0.7 for h in (6, 4)]
    grad = net.loss_grad(X, Y, w, loss="cross_entropy", masks=masks)[1]
    numeric = numeric_gradient(
        lambda: net.loss_grad(X, Y, w, loss="cross_entropy", masks=masks)[0], net.params)
    assert relative_error(grad, numeric) < 1e-6
    assert np.abs(net.views(grad)["a0"]).max() > 1e-3  # the mixing weights do learn


def test_parametric_activation_forward_is_the_written_out_mix(rng):
    """``A = Z + (f(Z) - Z) a``: at ``a = 1`` the plain network (same initial draws), at
    ``a = 0`` a linear one."""
    X = rng.standard_normal((5, 3))
    plain = TabularNet(3, [], [4], 2, activation="selu", dtype=np.float64)
    mixed = TabularNet(3, [], [4], 2, activation="selu", dtype=np.float64,
                       parametric_activation=True)
    plain.initialize(np.random.default_rng(1), X)
    mixed.initialize(np.random.default_rng(1), X)
    for name in plain.p:
        np.testing.assert_array_equal(mixed.p[name], plain.p[name])  # the same draws
        mixed.p[name][...] += 0.1  # off the zero output layer
        plain.p[name][...] += 0.1
    np.testing.assert_allclose(mixed.forward(X)[0], plain.forward(X)[0], rtol=1e-14)
    a = rng.uniform(-0.5, 1.5, 4)
    mixed.p["a0"][...] = a
    p = mixed.p
    Z = X * p["scale"] @ p["W0"] / math.sqrt(3) + p["b0"]
    A = Z + (ACTIVATIONS["selu"].function(Z.copy()) - Z) * a
    np.testing.assert_allclose(mixed.forward(X)[0], A @ p["W1"] / 2 + p["b1"], rtol=1e-12)


def test_ensemble_members_are_single_networks_and_the_loss_their_mean(rng):
    """Member m of the ensemble computes what a single network holding the shared input
    parameters and member m's layers computes; the ensemble's loss is the members' mean."""
    n, d, k = 6, 4, 3
    X = rng.standard_normal((n, d))
    ens = TabularNet(d, [1, 3], [5, 4], 2, activation="mish", n_frequencies=3,
                     embedding_dim=2, dtype=np.float64, n_members=k).initialize(rng, X)
    ens.params += 0.3 * rng.standard_normal(ens.n_params)
    Z = ens.forward(X)[0]
    assert Z.shape == (k, n, 2)
    Y = rng.standard_normal((n, 2))
    losses = []
    for m in range(k):
        single = TabularNet(d, [1, 3], [5, 4], 2, activation="mish", n_frequencies=3,
                            embedding_dim=2, dtype=np.float64)
        for name, value in single.p.items():
            value[...] = ens.p[name] if value.shape == ens.p[name].shape else (
                ens.p[name][m].reshape(value.shape))
        np.testing.assert_allclose(Z[m], single.forward(X)[0], rtol=1e-13, atol=1e-13)
        losses.append(single.loss_grad(X, Y, loss="squared_error")[0])
    assert not np.allclose(Z[0], Z[1])
    assert ens.loss_grad(X, Y, loss="squared_error")[0] == pytest.approx(np.mean(losses),
                                                                          rel=1e-12)


def test_ensemble_initialisation_draws_each_member(rng):
    X = rng.standard_normal((300, 3))
    net = TabularNet(3, [0], [32, 16], 2, activation="selu", dtype=np.float64,
                     n_members=2).initialize(rng, X)
    p = net.p
    assert not np.array_equal(p["W0"][0], p["W0"][1])
    assert not np.array_equal(p["b1"][0], p["b1"][1])
    assert np.all(p["W2"] == 0) and np.all(p["b2"] == 0)
    # he+5 per member: each first-layer unit's kink inside its own pre-activations
    Z = np.matmul(net._input(X, p)[0], p["W0"]) / math.sqrt(net.width_in)
    assert np.all((-p["b0"] >= Z.min(axis=1, keepdims=True))
                  & (-p["b0"] <= Z.max(axis=1, keepdims=True)))


def test_ntk_forward_is_the_written_out_network(rng):
    X = rng.standard_normal((5, 3))
    net = TabularNet(3, [1], [4], 2, activation="selu", n_frequencies=2, embedding_dim=2,
                     dtype=np.float64).initialize(rng, X)
    net.params += 0.1 * rng.standard_normal(net.n_params)
    p = net.p
    C = np.cos(2 * np.pi * X[:, [1]] * p["emb.w1"][0] + p["emb.b1"][0])
    H0 = np.hstack([C @ p["emb.W2"][0] + p["emb.b2"][0], X]) * p["scale"]
    A1 = ACTIVATIONS["selu"].function(H0 @ p["W0"] / math.sqrt(5) + p["b0"])
    np.testing.assert_allclose(net.forward(X)[0], A1 @ p["W1"] / 2 + p["b1"], rtol=1e-12)


def test_initialisation(rng):
    X = rng.standard_normal((400, 3)) * [1, 5, 0.1]
    net = TabularNet(3, [0, 1], [64, 32], 2, activation="selu", dtype=np.float64)
    net.initialize(rng, X, frequency_scale=0.1)
    p = net.p
    assert np.all(p["W2"] == 0) and np.all(p["b2"] == 0)  # the output layer starts at 0
    assert np.all(p["scale"] == 1)
    assert np.std(p["W0"]) == pytest.approx(1.0, abs=0.1)  # NTK: N(0, 1) weights
    assert np.std(p["emb.w1"]) == pytest.approx(0.1, abs=0.03)
    assert np.all(np.abs(p["emb.b1"]) <= np.pi)
    # he+5: every first-layer unit's kink lies inside the data's pre-activations
    A0 = net._input(X, p)[0]
    Z = A0 @ p["W0"] / math.sqrt(A0.shape[1])
    assert np.all((-p["b0"] >= Z.min(axis=0)) & (-p["b0"] <= Z.max(axis=0)))
    zeros = TabularNet(3, [], [8], 2, activation="selu", dtype=np.float64)
    zeros.initialize(rng, X, bias_init="zeros")
    assert np.all(zeros.p["b0"] == 0)
    standard = TabularNet(3, [], [400], 2, activation="selu", parametrization="standard",
                          dtype=np.float64).initialize(rng, X)
    assert np.std(standard.p["W0"]) == pytest.approx(1 / math.sqrt(3), rel=0.1)


def test_group_factors_and_copy(rng):
    net = TabularNet(3, [0], [4], 2, activation="selu", n_frequencies=2, embedding_dim=1,
                     parametric_activation=True)
    f = net.views(net.group_factors(scale=6.0, bias=0.1, embedding=0.2, activation=0.3))
    assert np.all(f["scale"] == 6) and np.all(f["b0"] == np.float32(0.1))
    assert np.all(f["emb.W2"] == np.float32(0.2)) and np.all(f["W1"] == 1)
    assert np.all(f["a0"] == np.float32(0.3)) and "a1" not in f  # hidden layers only
    net.params[...] = np.arange(net.n_params)
    other = net.copy()
    other.params[0] = -1
    assert net.params[0] == 0 and other.p["emb.w1"][0, 0] == -1  # views into its own copy


# --- schedules ---------------------------------------------------------------------------------
def test_schedules_against_formulas():
    t = np.array([0.0, 1 / 15, (math.sqrt(2) - 1) / 15, 3 / 15, 0.3, 7 / 15, 0.8, 0.999])
    expected = 0.5 - 0.5 * np.cos(2 * np.pi * np.log2(1 + 15 * t))
    np.testing.assert_allclose(SCHEDULES["coslog4"](t), expected, atol=1e-15)
    # its cycles end at 1/15, 3/15, 7/15 (factor 0) and peak in between (factor 1)
    np.testing.assert_allclose(SCHEDULES["coslog4"](np.array([1, 3, 7]) / 15), 0, atol=1e-14)
    assert SCHEDULES["coslog4"]((math.sqrt(2) - 1) / 15) == pytest.approx(1.0)
    np.testing.assert_allclose(SCHEDULES["cosine"](np.array([0, 0.5, 1])), [1, 0.5, 0],
                               atol=1e-15)
    assert learning_rate_factor("constant", 0.3) == 1.0
    assert learning_rate_factor("constant", 0.05, warmup=0.1) == pytest.approx(0.5)
    assert learning_rate_factor("cosine", 0.05, warmup=0.1) == pytest.approx(
        0.5 * 0.5 * (1 + math.cos(math.pi * 0.05)))
    assert learning_rate_factor("cosine", 0.5, warmup=0.1) == pytest.approx(0.5)
    # flat_cos: 1 for the first half, then (1 + cos(pi (2 t - 1))) / 2
    t = np.array([0.0, 0.25, 0.4999, 0.5, 0.6, 0.75, 0.9, 0.999])
    expected = np.where(t < 0.5, 1.0, 0.5 * (1 + np.cos(np.pi * (2 * t - 1))))
    np.testing.assert_allclose(SCHEDULES["flat_cos"](t), expected, atol=1e-15)
    np.testing.assert_allclose(SCHEDULES["flat_cos"](np.array([0.5, 0.75, 1.0])),
                               [1, 0.5, 0], atol=1e-15)


# --- AdamW, clipping, EMA ----------------------------------------------------------------------
def test_adamw_step_against_formula(rng):
    n = 6
    params = rng.standard_normal(n)
    lr_f = np.array([1, 1, 0.1, 0.1, 6, 6.0])
    wd_f = np.array([1, 1, 0, 0, 1, 1.0])
    opt = AdamW(lr_f, wd_f, beta_1=0.8, beta_2=0.95, epsilon=1e-3, weight_decay=0.05)
    opt.m, opt.v, opt.t = rng.standard_normal(n), rng.uniform(0, 1, n), 4
    m0, v0 = opt.m.copy(), opt.v.copy()
    g = rng.standard_normal(n)
    lr = 0.03
    expected = params.copy()
    m = 0.8 * m0 + 0.2 * g
    v = 0.95 * v0 + 0.05 * g**2
    m_hat, v_hat = m / (1 - 0.8**5), v / (1 - 0.95**5)
    expected *= 1 - lr * lr_f * 0.05 * wd_f
    expected -= lr * lr_f * m_hat / (np.sqrt(v_hat) + 1e-3)
    opt.step(params, g.copy(), lr)
    np.testing.assert_allclose(params, expected, rtol=1e-13)
    np.testing.assert_allclose(opt.m, m, rtol=1e-14)
    np.testing.assert_allclose(opt.v, v, rtol=1e-14)
    assert opt.t == 5
    # a scheduled decay replaces the constructor's for one step
    before, g2 = params.copy(), rng.standard_normal(n)
    m = 0.8 * m + 0.2 * g2
    v = 0.95 * v + 0.05 * g2**2
    expected = before * (1 - lr * lr_f * 0.01 * wd_f)
    expected -= lr * lr_f * (m / (1 - 0.8**6)) / (np.sqrt(v / (1 - 0.95**6)) + 1e-3)
    opt.step(params, g2, lr, weight_decay=0.01)
    np.testing.assert_allclose(params, expected, rtol=1e-13)
    assert opt.weight_decay == 0.05


def test_adamw_checkpoint_restore(rng):
    opt = AdamW(np.ones(3), np.ones(3), weight_decay=0.1)
    params = rng.standard_normal(3)
    opt.step(params, rng.standard_normal(3), 0.1)
    saved = opt.checkpoint()
    m = opt.m.copy()
    opt.step(params, rng.standard_normal(3), 0.1)
    opt.restore(saved)
    np.testing.assert_array_equal(opt.m, m)
    assert opt.t == 1


def test_clip_gradient():
    g = np.array([3.0, 4.0])
    assert clip_gradient(g, 10.0) == 5.0 and np.all(g == [3, 4])  # under the bound: unchanged
    assert clip_gradient(g, 1.0) == 5.0
    np.testing.assert_allclose(g, [0.6, 0.8])


def test_ema_against_formula(rng):
    p0 = rng.standard_normal(4)
    ema = EMA(p0, decay=0.9)
    np.testing.assert_array_equal(ema.average, p0)
    seen = []
    for _ in range(40):
        p = rng.standard_normal(4)
        seen.append(p)
        ema.update(p)
    # the weighted mean of the weights seen, weights 0.9^(t - i)
    weights = 0.9 ** np.arange(39, -1, -1)
    expected = weights @ np.array(seen) / weights.sum()
    np.testing.assert_allclose(ema.average, expected, rtol=1e-12)
    saved = ema.checkpoint()
    ema.update(p0 + 100)
    ema.restore(saved)
    np.testing.assert_allclose(ema.average, expected, rtol=1e-12)
    ema.update(p0)
    np.testing.assert_allclose(ema.average, (0.9 * weights @ np.array(seen) + p0)
                               / (0.9 * weights.sum() + 1), rtol=1e-12)
    assert ema.t == 41
    zero = EMA(p0, decay=0.0)
    zero.update(p)
    np.testing.assert_array_equal(zero.average, p)


# --- input scaling -----------------------------------------------------------------------------
def test_robust_scaling_and_smooth_clip():
    X = np.array([[1.0, 0, 5, 1], [2, 0, 5, 2], [3, 0, 5, 3], [4, 0, 5, 4], [100, 1, 5, 5]])
    center, factor = _preprocessing.fit_scaling(X)
    np.testing.assert_allclose(center, [3, 0, 5, 3])
    # IQRs 2 and 2; the one-hot column's IQR is 0: half its range, 0.5; constant: 0
    np.testing.assert_allclose(factor, [0.5, 2.0, 0.0, 0.5])
    out = _preprocessing.transform(X, center, factor)
    s = (X - center) * factor
    np.testing.assert_allclose(out, s / np.sqrt(1 + (s / 3) ** 2))
    assert out[4, 0] < 3 and out[:, 2].tolist() == [0] * 5
    c, f = _preprocessing.fit_scaling(X, "standard")
    np.testing.assert_allclose(_preprocessing.transform(X, c, f, "standard")[:, 0],
                               (X[:, 0] - X[:, 0].mean()) / X[:, 0].std())
    assert _preprocessing.transform(X, center, factor, dtype=np.float32).dtype == np.float32
