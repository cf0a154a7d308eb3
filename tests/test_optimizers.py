"""Optimizer steps against their written-out formulas and against scikit-learn's
optimizers, with state set up by hand."""

import numpy as np
import pytest
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

from skmlp import SGD, Adam

# every test runs on the numpy reference and, when numba is there, on the kernels
pytestmark = pytest.mark.usefixtures("kernel_setting")


def test_sgd_nesterov_step_matches_formula():
    rng = np.random.default_rng(0)
    params, grad, v0 = rng.normal(size=(3, 10))
    opt = SGD(10, np.float64, learning_rate_init=0.1, momentum=0.9, nesterov=True)
    opt.velocity[:] = v0
    expected_v = 0.9 * v0 - 0.1 * grad
    expected = params + (0.9 * expected_v - 0.1 * grad)
    p = params.copy()
    opt.step(p, grad.copy())
    np.testing.assert_array_equal(opt.velocity, expected_v)
    np.testing.assert_array_equal(p, expected)


def test_sgd_classical_momentum_step_matches_formula():
    rng = np.random.default_rng(1)
    params, grad, v0 = rng.normal(size=(3, 10))
    opt = SGD(10, np.float64, learning_rate_init=0.05, momentum=0.5, nesterov=False)
    opt.velocity[:] = v0
    p = params.copy()
    opt.step(p, grad.copy())
    np.testing.assert_array_equal(p, params + (0.5 * v0 - 0.05 * grad))


def test_sgd_without_momentum_is_plain_gradient_descent():
    params, grad = np.ones(4), np.arange(4.0)
    opt = SGD(4, np.float64, learning_rate_init=0.5, momentum=0.0)
    for _ in range(3):
        opt.step(params, grad.copy())
    np.testing.assert_allclose(params, 1.0 - 3 * 0.5 * grad)


def test_sgd_invscaling_schedule():
    opt = SGD(2, np.float64, learning_rate_init=0.1, lr_schedule="invscaling", power_t=0.5)
    opt.iteration_ends(99)
    assert opt.learning_rate == pytest.approx(0.1 / 100**0.5)


def test_sgd_adaptive_schedule_divides_by_five_then_stops(capsys):
    opt = SGD(2, np.float64, learning_rate_init=1e-5, lr_schedule="adaptive")
    assert opt.trigger_stopping("stalled.", verbose=True) is False
    assert opt.learning_rate == pytest.approx(2e-6)
    assert opt.trigger_stopping("stalled.", verbose=False) is False  # 4e-7 now
    assert opt.trigger_stopping("stalled.", verbose=True) is True
    assert "Learning rate too small" in capsys.readouterr().out
    assert SGD(2, np.float64, lr_schedule="constant").trigger_stopping("x", False) is True


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_steps_match_formula(dtype):
    rng = np.random.default_rng(2)
    params = rng.normal(size=20).astype(dtype)
    b1, b2, eps, lr = 0.8, 0.95, 1e-7, 0.01
    opt = Adam(20, dtype, learning_rate_init=lr, beta_1=b1, beta_2=b2, epsilon=eps)
    m, v, p = np.zeros(20), np.zeros(20), params.astype(np.float64)
    for t in range(1, 4):
        g = rng.normal(size=20)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        p = p - lr_t * m / (np.sqrt(v) + eps)
        opt.step(params, g.astype(dtype))
        assert opt.t == t and opt.learning_rate == pytest.approx(lr_t)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(params, p, rtol=rtol)
    np.testing.assert_allclose(opt.m, m, rtol=rtol)
    assert params.dtype == dtype and opt.m.dtype == dtype


def test_adam_always_stops_when_stalled():
    assert Adam(2, np.float64).trigger_stopping("x", False) is True


def test_adam_survives_gradients_whose_square_overflows():
    """beta_2 * v + (1 - beta_2) * g^2 is inf, not NaN, for |g| > 1e154 (scikit-learn's
    form); the step is then 0, and the weights stay finite."""
    params, grad = np.ones(3), np.array([1e160, -1e160, 1.0])
    opt = Adam(3, np.float64)
    with np.errstate(over="ignore"):
        opt.step(params, grad)
    assert np.isfinite(params).all() and np.isinf(opt.v[:2]).all()
    assert params[2] < 1.0  # the ordinary entry still moved


# --- the same steps as scikit-learn's optimizers, bit for bit --------------------------------
SHAPES = [(5, 4), (4, 3), (4,), (3,)]  # coefs then intercepts, as MLPClassifier's params


def layers(rng):
    return [rng.normal(size=s) for s in SHAPES]


def flat(arrays):
    return np.concatenate([a.ravel() for a in arrays])


@pytest.mark.parametrize("solver, kwargs", [
    ("sgd", dict(lr_schedule="constant", momentum=0.9, nesterov=True)),
    ("sgd", dict(lr_schedule="constant", momentum=0.9, nesterov=False)),
    ("sgd", dict(lr_schedule="invscaling", momentum=0.5, nesterov=True)),
    ("adam", dict(beta_1=0.9, beta_2=0.999, epsilon=1e-8)),
])
def test_steps_equal_scikit_learns_bitwise(solver, kwargs):
    rng = np.random.default_rng(5)
    theirs_params = layers(rng)
    ours_params = flat(theirs_params)
    n = ours_params.size
    if solver == "sgd":
        theirs = SGDOptimizer(theirs_params, 0.05, power_t=0.5, **kwargs)
        ours = SGD(n, np.float64, 0.05, power_t=0.5, **kwargs)
    else:
        theirs = AdamOptimizer(theirs_params, 0.01, **kwargs)
        ours = Adam(n, np.float64, 0.01, **kwargs)
    for t in range(5):
        grads = layers(rng)
        theirs.update_params(theirs_params, grads)
        ours.step(ours_params, flat(grads))
        theirs.iteration_ends(10 * (t + 1))
        ours.iteration_ends(10 * (t + 1))
        np.testing.assert_array_equal(ours_params, flat(theirs_params))
    assert ours.learning_rate == theirs.learning_rate


@pytest.mark.parametrize("cls", [SGD, Adam])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_raw_gradient_step_folds_l2_and_scale_like_the_finished_gradient(cls, dtype):
    """step(raw, alpha, scale) is step((raw + alpha W) / scale) on the weights and
    step(raw / scale) on the biases: the training loop's fused form."""
    rng = np.random.default_rng(6)
    params = rng.normal(size=30).astype(dtype)
    raw = rng.normal(size=30).astype(dtype)
    n_coefs, alpha, s = 20, dtype(0.3), dtype(7.0)
    finished = raw.copy()
    finished[:n_coefs] += alpha * params[:n_coefs]
    finished /= s
    a, b = cls(30, dtype, 0.05), cls(30, dtype, 0.05)
    pa, pb = params.copy(), params.copy()
    a.step(pa, raw.copy(), alpha=alpha, scale=s, n_coefs=n_coefs)
    b.step(pb, finished)
    np.testing.assert_array_equal(pa, pb)
