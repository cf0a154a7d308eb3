"""The numpy core on its own: a network worked by hand, initialisation, layout, stability."""

import math
import pickle

import numpy as np
import pytest
from sklearn.neural_network import MLPClassifier

from skmlp import MLP
from skmlp._activations import ACTIVATIONS, LOSS_OF_OUTPUT


def hand_network():
    """2 inputs -> 2 ReLU units -> 2-class softmax, with weights easy to follow by hand."""
    net = MLP([2, 2, 2], "relu", "softmax")
    net.coefs[0][...] = [[0.1, 0.2], [0.3, 0.4]]
    net.intercepts[0][...] = [0.0, -1.5]
    net.coefs[1][...] = [[1.0, -1.0], [2.0, 0.5]]
    net.intercepts[1][...] = [0.1, -0.1]
    return net


def test_tiny_network_worked_by_hand():
    net = hand_network()
    X, Y = np.array([[1.0, 2.0]]), np.array([[1.0, 0.0]])
    # Z1 = [1*.1 + 2*.3, 1*.2 + 2*.4 - 1.5] = [0.7, -0.5]; ReLU -> A1 = [0.7, 0]
    # Z2 = [0.7*1 + 0.1, 0.7*-1 - 0.1] = [0.8, -0.8]; softmax -> p0 = 1 / (1 + e^-1.6)
    p1 = 1.0 / (1.0 + math.exp(1.6))
    np.testing.assert_allclose(net.logits(X), [[0.8, -0.8]])
    np.testing.assert_allclose(net.predict(X), [[1 - p1, p1]])
    loss, grad = net.loss_grad(X, Y)
    assert loss == pytest.approx(math.log1p(math.exp(-1.6)))
    gW, gb = net.unflatten(grad)
    # output error delta2 = p - y = [-p1, p1]; dW1 = A1^T delta2
    np.testing.assert_allclose(gb[1], [-p1, p1])
    np.testing.assert_allclose(gW[1], [[-0.7 * p1, 0.7 * p1], [0.0, 0.0]])
    # delta1 = (delta2 @ W1^T) * relu'(Z1) = [-p1 - p1, ...] * [1, 0]
    np.testing.assert_allclose(gb[0], [-2 * p1, 0.0])
    np.testing.assert_allclose(gW[0], [[-2 * p1, 0.0], [-4 * p1, 0.0]])

    # L2: + alpha/2 ||W||^2 / n to the loss and + alpha W / n to the weight gradients
    loss_a, grad_a = net.loss_grad(X, Y, alpha=0.5)
    assert loss_a == pytest.approx(loss + 0.25 * 6.55)
    k = net.n_coefs
    np.testing.assert_allclose(grad_a[:k], grad[:k] + 0.5 * net.params[:k])
    np.testing.assert_allclose(grad_a[net.n_coefs :], grad[net.n_coefs :])


def test_sample_weights_scale_like_scikit_learn():
    """loss = (sum_i s_i CE_i + alpha/2 ||W||^2) / sum(s): doubling all weights changes nothing,
    and an integer weight is the same as repeating the sample."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(6, 3)), rng.integers(0, 3, 6)
    Y = np.eye(3)[y]
    net = MLP([3, 4, 3], "tanh").initialize(rng)
    w = np.array([1.0, 2.0, 1.0, 3.0, 1.0, 1.0])
    loss_w, grad_w = net.loss_grad(X, Y, w, alpha=0.2)
    loss_2w, grad_2w = net.loss_grad(X, Y, 2 * w, alpha=0.4)
    assert loss_w == pytest.approx(loss_2w)
    np.testing.assert_allclose(grad_w, grad_2w)
    rep = np.repeat(np.arange(6), w.astype(int))
    loss_r, grad_r = net.loss_grad(X[rep], Y[rep], alpha=0.2)
    assert loss_w == pytest.approx(loss_r)
    np.testing.assert_allclose(grad_w, grad_r)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_scaled_normal_initialisation_is_normal_with_gain_over_sqrt_fan_in(activation):
    net = MLP([800, 400, 300, 200], activation).initialize(np.random.default_rng(0),
                                                          "scaled_normal")
    # the first layer reads the data (gain 1); the others read `activation`'s output
    for W, gain in zip(net.coefs, [1.0] + [ACTIVATIONS[activation].gain] * 2):
        expected = gain / math.sqrt(W.shape[0])
        assert W.std() == pytest.approx(expected, rel=0.02)
        assert abs(W.mean()) < 0.05 * expected
        # normal, not uniform: about 4.55% of the draws lie beyond two standard deviations
        assert np.mean(np.abs(W) > 2 * expected) == pytest.approx(0.0455, abs=0.005)
    assert not net.params[net.n_coefs :].any()  # biases start at zero


def test_scaled_normal_gain_follows_the_layer_input_activation():
    net = MLP([500, 400, 300, 10], ("tanh", "relu")).initialize(np.random.default_rng(0),
                                                                "scaled_normal")
    gains = [W.std() * math.sqrt(W.shape[0]) for W in net.coefs]
    np.testing.assert_allclose(gains, [1.0, 5 / 3, math.sqrt(2)], rtol=0.03)


@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh", "identity"])
def test_glorot_uniform_draws_mlpclassifiers_initial_weights(activation):
    """The same RandomState gives MLPClassifier's _init_coef draws, bit for bit."""
    sizes = [7, 5, 4, 3]
    theirs = MLPClassifier(activation=activation)
    theirs._random_state = np.random.RandomState(3)
    expected = [theirs._init_coef(a, b, np.float64) for a, b in zip(sizes[:-1], sizes[1:])]
    net = MLP(sizes, activation).initialize(np.random.RandomState(3))
    for W, b, (W_ref, b_ref) in zip(net.coefs, net.intercepts, expected):
        np.testing.assert_array_equal(W, W_ref)
        np.testing.assert_array_equal(b, b_ref)
    # drawn in float64, then cast, as there
    net32 = MLP(sizes, activation, dtype=np.float32).initialize(np.random.RandomState(3))
    np.testing.assert_array_equal(net32.coefs[0], expected[0][0].astype(np.float32))


def test_glorot_factor_follows_each_layers_activation():
    """Per-layer activations: a logistic layer gets factor 2, the others 6; the output
    layer follows the last hidden one."""
    net = MLP([300, 300, 300, 300], ("logistic", "relu")).initialize(np.random.RandomState(0))
    bounds = [np.abs(W).max() for W in net.coefs]
    np.testing.assert_allclose(bounds, [math.sqrt(2 / 600), math.sqrt(6 / 600),
                                        math.sqrt(6 / 600)], rtol=0.01)


def test_same_generator_seed_same_weights():
    a = MLP([5, 7, 3]).initialize(np.random.default_rng(42), "scaled_normal")
    b = MLP([5, 7, 3]).initialize(np.random.default_rng(42), "scaled_normal")
    c = MLP([5, 7, 3]).initialize(np.random.RandomState(42), "scaled_normal")
    np.testing.assert_array_equal(a.params, b.params)
    assert np.isfinite(c.params).all() and not np.array_equal(a.params, c.params)


def test_parameters_are_views_of_one_vector_and_pickling_restores_them():
    net = MLP([3, 4, 2], "relu", "logistic", dtype=np.float32).initialize(np.random.default_rng(0))
    assert net.params.dtype == np.float32
    assert all(np.shares_memory(p, net.params) for p in net.coefs + net.intercepts)
    # layout: all weights, then all biases
    np.testing.assert_array_equal(net.params[:12], net.coefs[0].ravel())
    np.testing.assert_array_equal(net.params[20:24], net.intercepts[0])
    loaded = pickle.loads(pickle.dumps(net))
    assert all(np.shares_memory(p, loaded.params) for p in loaded.coefs + loaded.intercepts)
    loaded.params[0] = 123.0
    assert loaded.coefs[0][0, 0] == 123.0
    np.testing.assert_array_equal(loaded.coefs[1], net.coefs[1])


@pytest.mark.parametrize("out", ["softmax", "logistic"])
def test_no_overflow_on_huge_inputs(out):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 4)) * 1e4
    Y = np.eye(3)[rng.integers(0, 3, 20)]
    for activation in sorted(ACTIVATIONS):
        net = MLP([4, 6, 3], activation, out).initialize(rng)
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            loss, grad = net.loss_grad(X, Y, alpha=0.1)
            P = net.predict(X)
            L = net.predict_log_proba(X)
        assert np.isfinite(loss) and np.isfinite(grad).all()
        assert np.isfinite(P).all() and np.isfinite(L).all()


def test_log_softmax_is_finite_where_softmax_underflows():
    net = MLP([1, 2], "relu", "softmax")
    net.coefs[0][...] = [[1000.0, -1000.0]]
    L = net.predict_log_proba(np.array([[1.0]]))
    np.testing.assert_allclose(L, [[0.0, -2000.0]])
    assert net.predict(np.array([[1.0]]))[0, 1] == 0.0  # what log() of it would lose


def test_bad_architecture_is_rejected():
    with pytest.raises(ValueError, match="activations for 1 hidden"):
        MLP([2, 3, 2], ("relu", "tanh"))
    with pytest.raises(ValueError, match="Unknown activation"):
        MLP([2, 3, 2], "swish")
    with pytest.raises(ValueError, match="out_activation must be one of"):
        MLP([2, 3, 2], "relu", "sigmoid")
    with pytest.raises(ValueError, match=r"coefs_\[1\] has 4 rows but layer 0 has 3 units"):
        MLP.from_weights([np.ones((2, 3)), np.ones((4, 2))], [np.ones(3), np.ones(2)])


def test_a_pickled_network_with_the_wrong_number_of_parameters_does_not_load():
    net = MLP([3, 4, 2])
    state = net.__getstate__()
    state["params"] = np.zeros(net.params.size + 1)
    with pytest.raises(ValueError, match="Corrupt network state"):
        MLP.__new__(MLP).__setstate__(state)


@pytest.mark.parametrize("out", sorted(LOSS_OF_OUTPUT))
def test_work_arrays_are_released_and_rebuilt(out):
    rng = np.random.default_rng(0)
    net = MLP([4, 6, 2], "gelu", out).initialize(rng)
    X, Y = rng.normal(size=(10, 4)), rng.uniform(size=(10, 2))
    first = net.loss_grad(X, Y)
    assert net._work is not None and net._work["capacity"] == 10
    net.release()
    assert net._work is None
    again = net.loss_grad(X, Y)  # rebuilt on demand, same numbers
    assert first[0] == again[0]
    np.testing.assert_array_equal(first[1], again[1])
