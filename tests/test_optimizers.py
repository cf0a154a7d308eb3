"""Optimizer steps against their written-out formulas, with state set up by hand."""

import numpy as np
import pytest

from skmlp import SGD, Adam


def test_sgd_nesterov_step_matches_formula():
    rng = np.random.default_rng(0)
    params, grad, v0 = rng.normal(size=(3, 10))
    opt = SGD(10, np.float64, learning_rate_init=0.1, momentum=0.9, nesterov=True)
    opt.velocity[:] = v0
    expected_v = 0.9 * v0 - 0.1 * grad
    expected = params + 0.9 * expected_v - 0.1 * grad
    p = params.copy()
    opt.step(p, grad)
    np.testing.assert_allclose(opt.velocity, expected_v, rtol=1e-14)
    np.testing.assert_allclose(p, expected, rtol=1e-14)


def test_sgd_classical_momentum_step_matches_formula():
    rng = np.random.default_rng(1)
    params, grad, v0 = rng.normal(size=(3, 10))
    opt = SGD(10, np.float64, learning_rate_init=0.05, momentum=0.5, nesterov=False)
    opt.velocity[:] = v0
    p = params.copy()
    opt.step(p, grad)
    np.testing.assert_allclose(p, params + 0.5 * v0 - 0.05 * grad, rtol=1e-14)


def test_sgd_without_momentum_is_plain_gradient_descent():
    params, grad = np.ones(4), np.arange(4.0)
    opt = SGD(4, np.float64, learning_rate_init=0.5, momentum=0.0)
    for _ in range(3):
        opt.step(params, grad)
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
