"""Backpropagation against central differences on the flat parameter vector."""

import itertools

import numpy as np
import pytest

from skmlp import MLP
from skmlp._activations import ACTIVATIONS
from skmlp._solvers import dropout_masks


def objective(net, X, Y, sw, alpha, masks=None):
    """The function whose gradient backprop computes.

    That is the reported loss, except for several squared-error outputs: as in
    scikit-learn, the loss is averaged over outputs but the output error ``P - Y`` is the
    gradient of their sum.
    """
    loss, _ = net.loss_grad(X, Y, sw, alpha, masks=masks)
    if net.loss == "squared_error":
        s = len(X) if sw is None else sw.sum()
        W = net.params[: net.n_coefs]
        l2 = 0.5 * alpha * (W @ W) / s
        loss = (loss - l2) * Y.shape[1] + l2
    return loss


def numerical_grad(net, X, Y, sw, alpha, masks=None, eps=1e-6):
    theta = net.params.copy()
    num = np.empty_like(theta)
    for j in range(theta.size):
        values = []
        for sign in (+1, -1):
            net.params[:] = theta
            net.params[j] += sign * eps
            values.append(objective(net, X, Y, sw, alpha, masks))
        num[j] = (values[0] - values[1]) / (2 * eps)
    net.params[:] = theta
    return num


def make_problem(out_kind, rng, n=7, n_features=3):
    X = rng.normal(size=(n, n_features))
    if out_kind == "softmax":
        return X, np.eye(3)[rng.integers(0, 3, n)], "softmax"
    if out_kind == "binary":
        return X, rng.integers(0, 2, (n, 1)).astype(float), "logistic"
    if out_kind == "multilabel":
        return X, rng.integers(0, 2, (n, 4)).astype(float), "logistic"
    if out_kind == "regression":
        return X, rng.normal(size=(n, 2)), "identity"
    return X, rng.poisson(2.0, size=(n, 2)).astype(float), "exp"  # poisson counts


OUTPUTS = ["softmax", "binary", "multilabel", "regression", "poisson"]
CASES = list(itertools.product(sorted(ACTIVATIONS), OUTPUTS, [0.0, 0.3], [False, True]))


@pytest.mark.parametrize("activation, out_kind, alpha, weighted", CASES)
def test_gradient_matches_central_differences(activation, out_kind, alpha, weighted):
    rng = np.random.default_rng(0)
    X, Y, out = make_problem(out_kind, rng)
    sw = rng.uniform(0.1, 3.0, X.shape[0]) if weighted else None
    net = MLP([X.shape[1], 5, 4, Y.shape[1]], activation, out).initialize(rng)
    loss, grad = net.loss_grad(X, Y, sw, alpha)
    num = numerical_grad(net, X, Y, sw, alpha)
    assert np.isfinite(loss)
    assert np.max(np.abs(grad - num)) / np.max(np.abs(num)) < 1e-6


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_gradient_with_fixed_dropout_masks(activation):
    rng = np.random.default_rng(1)
    X, Y, out = make_problem("softmax", rng, n=9)
    net = MLP([X.shape[1], 6, 5, 3], activation, out).initialize(rng)
    masks = dropout_masks(rng, X.shape[0], net, [0.5, 0.3])
    assert {0.0, 2.0} == set(np.unique(masks[0]))  # kept units scaled by 1 / keep
    loss, grad = net.loss_grad(X, Y, None, 0.1, masks=masks)
    num = numerical_grad(net, X, Y, None, 0.1, masks=masks)
    assert np.max(np.abs(grad - num)) / np.max(np.abs(num)) < 1e-6
    # and the masks do change the loss: dropout is really applied
    assert loss != pytest.approx(net.loss_grad(X, Y, None, 0.1)[0])


def test_gradient_with_dropout_on_one_layer_only():
    """A layer without dropout next to one with it: each uses its own derivative input."""
    rng = np.random.default_rng(4)
    X, Y, out = make_problem("softmax", rng, n=9)
    net = MLP([X.shape[1], 6, 5, 3], "logistic", out).initialize(rng)
    masks = dropout_masks(rng, X.shape[0], net, [0.0, 0.4])
    assert masks[0] is None and masks[1] is not None
    _, grad = net.loss_grad(X, Y, None, 0.0, masks=masks)
    num = numerical_grad(net, X, Y, None, 0.0, masks=masks)
    assert np.max(np.abs(grad - num)) / np.max(np.abs(num)) < 1e-6


def test_gradient_sparse_input_equals_dense():
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(2)
    X, Y, out = make_problem("softmax", rng, n=10, n_features=6)
    X[X < 0.5] = 0
    net = MLP([6, 5, 3], "tanh", out).initialize(rng)
    dense = net.loss_grad(X, Y, None, 0.1)
    for fmt in (sp.csr_matrix, sp.csc_matrix):
        loss, grad = net.loss_grad(fmt(X), Y, None, 0.1)
        assert loss == pytest.approx(dense[0], rel=1e-12)
        np.testing.assert_allclose(grad, dense[1], rtol=1e-10, atol=1e-14)


def test_zero_weight_batch_gives_zero_gradient():
    rng = np.random.default_rng(3)
    X, Y, out = make_problem("softmax", rng)
    net = MLP([3, 4, 3]).initialize(rng)
    loss, grad = net.loss_grad(X, Y, np.zeros(len(X)), alpha=1.0)
    assert loss == 0.0 and not grad.any()


# --- the activation registry, entry by entry ------------------------------------------------
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_registry_entry_has_the_derivative_of_its_function(name):
    """``derivative`` is ``f'``, written from what ``derivative_needs`` says it is."""
    act = ACTIVATIONS[name]
    assert act.name == name
    # both signs and both tails, away from the kinks at 0 (ReLU, leaky ReLU, ELU, SELU)
    z = np.concatenate([np.linspace(-6, -0.05, 37), np.linspace(0.05, 6, 37)])
    source = z.copy() if act.needs_preactivation else act.function(z.copy())
    delta = np.linspace(0.5, 2.0, z.size)  # not all ones: delta is multiplied, not set
    expected_factor = delta.copy()
    act.derivative(source, delta)
    eps = 1e-6
    slope = (act.function(z + eps) - act.function(z - eps)) / (2 * eps)
    np.testing.assert_allclose(delta, expected_factor * slope, rtol=1e-7, atol=1e-9)


def test_derivative_needs_is_declared_where_the_output_does_not_determine_the_slope():
    """An activation that is not monotonic (GELU, Mish) gives one output for two inputs
    of different slopes, so its derivative must be written from the pre-activation."""
    not_monotonic = set()
    for name, act in ACTIVATIONS.items():
        a = act.function(np.linspace(-4, 4, 8001))
        if np.any(np.diff(a) < 0):
            not_monotonic.add(name)
            assert act.needs_preactivation, name
    assert not_monotonic == {"gelu", "mish"}  # the check above did check something
    with pytest.raises(ValueError, match="derivative_needs must be 'output' or "
                                         "'preactivation', got 'input'"):
        type(ACTIVATIONS["relu"])("x", np.abs, np.abs, 1.0, derivative_needs="input")
