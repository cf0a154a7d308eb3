"""skmlp's opt-in step extras of MLP*FromScratch (issue 16, item 3), against their formulas.

Label smoothing, decoupled weight decay, gradient clipping, learning-rate schedules with
warmup and weight averaging (EMA) are off by default (the parity suites check that the
defaults are MLPClassifier's model). Here each is checked with it on: one full-batch
step of momentum-free SGD (or Adam through partial_fit) written out with the core
``skmlp.MLP`` and the same initial draws.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmlp import MLP, SGD, Adam, MLPClassifierFromScratch, MLPRegressorFromScratch

LR = 0.05


def _regression():
    X, y = make_regression(60, 5, noise=5.0, random_state=0)
    return StandardScaler().fit_transform(X), y / y.std()


def _one_step(**extras):
    """A regressor making exactly one full-batch step of plain SGD."""
    return MLPRegressorFromScratch(hidden_layer_sizes=(7,), solver="sgd", momentum=0.0,
                                   learning_rate_init=LR, batch_size=60, shuffle=False,
                                   max_iter=1, random_state=0, alpha=1e-3, **extras)


def _initial_network(n_features=5, n_outputs=1, hidden=7):
    """The weights ``random_state=0`` draws (MLPRegressor's glorot_uniform, relu)."""
    return MLP([n_features, hidden, n_outputs], "relu", "identity").initialize(
        np.random.RandomState(0))


def _flat(est):
    return np.concatenate([np.ravel(p) for p in est.coefs_ + est.intercepts_])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_weight_decay_is_decoupled_and_spares_biases():
    """W1 = W0 (1 - lr wd) - lr g(W0); biases b1 = b0 - lr g."""
    X, y = _regression()
    wd = 0.3
    net = _initial_network()
    _, g = net.loss_grad(X, y.reshape(-1, 1), alpha=1e-3)
    expected = net.params - LR * g
    expected[: net.n_coefs] -= LR * wd * net.params[: net.n_coefs]
    np.testing.assert_allclose(_flat(_one_step(weight_decay=wd).fit(X, y)), expected,
                               rtol=1e-12, atol=1e-15)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_gradient_clipping_bounds_the_step_by_the_global_norm():
    X, y = _regression()
    net = _initial_network()
    _, g = net.loss_grad(X, y.reshape(-1, 1), alpha=1e-3)
    norm = np.linalg.norm(g)
    clipped = _flat(_one_step(max_grad_norm=norm / 4).fit(X, y))
    np.testing.assert_allclose(clipped, net.params - LR * g / 4, rtol=1e-12, atol=1e-15)
    # a bound above the norm changes nothing
    loose = _flat(_one_step(max_grad_norm=2 * norm).fit(X, y))
    np.testing.assert_array_equal(loose, _flat(_one_step().fit(X, y)))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_cosine_schedule_scales_each_step(solver):
    """Two full-batch steps under cosine annealing over two steps: factors 1, then
    (1 + cos(pi / 2)) / 2 = 0.5 of the base rate (SGD's rate, Adam's
    learning_rate_init), the optimizer's state carried on: the core's SGD/Adam stepped at
    lr, then lr / 2."""
    X, y = _regression()
    ours = MLPRegressorFromScratch(hidden_layer_sizes=(7,), solver=solver, momentum=0.5,
                                   batch_size=60, shuffle=False, random_state=0,
                                   learning_rate_init=LR, max_iter=2, lr_schedule="cosine")
    ours.fit(X, y)
    net = _initial_network()
    n = net.params.size
    opt = (SGD(n, np.float64, LR, momentum=0.5) if solver == "sgd"
           else Adam(n, np.float64, LR))
    for rate in (LR, LR / 2):
        _, g = net.loss_grad(X, y.reshape(-1, 1), alpha=ours.alpha)
        if solver == "sgd":
            opt.learning_rate = rate
        else:
            opt.learning_rate_init = rate
        opt.step(net.params, g)
    np.testing.assert_allclose(_flat(ours), net.params, rtol=1e-12, atol=1e-15)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_warmup_starts_from_a_zero_step():
    """Linear warmup over half of two steps: the first step has factor 0, the second 1."""
    X, y = _regression()
    ours = _one_step(warmup=0.5).set_params(max_iter=2).fit(X, y)
    ref = _one_step().fit(X, y)  # one plain step from the initial weights
    np.testing.assert_allclose(_flat(ours), _flat(ref), rtol=1e-13, atol=1e-15)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_ema_keeps_the_bias_corrected_average_of_the_steps():
    """coefs_ after fit = sum_i (1 - d) d^(T - i) W_i / (1 - d^T) over the T steps' weights,
    which the live trajectory (the same as without averaging) passes through."""
    X, y = _regression()
    d, T = 0.6, 4
    steps = []
    ref = _one_step()
    for _ in range(T):
        ref.partial_fit(X, y)
        steps.append(_flat(ref))
    expected = sum((1 - d) * d ** (T - i) * w for i, w in enumerate(steps, start=1))
    expected /= 1 - d**T
    ours = _one_step(ema_decay=d).set_params(max_iter=T).fit(X, y)
    np.testing.assert_allclose(_flat(ours), expected, rtol=1e-12, atol=1e-15)
    # the loss curve is the live weights' (the average does not steer training)
    np.testing.assert_allclose(ours.loss_curve_, _one_step().set_params(max_iter=T)
                               .fit(X, y).loss_curve_, rtol=1e-13)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("early_stopping", [False, True])
def test_ema_validates_and_keeps_the_average(early_stopping):
    """The validation score is the averaged weights': without early stopping the last
    epoch's score is the fitted model's, with it the best epoch's is."""
    X, y = _regression()
    est = _one_step(ema_decay=0.5).set_params(max_iter=6, batch_size=20, n_iter_no_change=2,
                                              early_stopping=early_stopping, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X[:45], y[:45], X_val=X[45:], y_val=y[45:])
    kept = est.best_validation_score_ if early_stopping else est.validation_scores_[-1]
    assert kept == pytest.approx(est.score(X[45:], y[45:]), rel=1e-12)


@pytest.mark.parametrize("out", ["softmax", "logistic"])
def test_label_smoothing_trains_on_smoothed_targets(out):
    """One step equals the core's step on Y (1 - eps) + eps / K (K = 3 classes, or 2 per
    logistic output), and the loss recorded is the smoothed cross-entropy."""
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    if out == "logistic":
        y = (y == 2).astype(int)
    eps = 0.2
    est = MLPClassifierFromScratch(hidden_layer_sizes=(6,), solver="sgd", momentum=0.0,
                                   learning_rate_init=LR, batch_size=150, shuffle=False,
                                   max_iter=1, random_state=0, label_smoothing=eps)
    with pytest.warns(Warning):
        est.fit(X, y)
    Y = np.eye(3)[y] if out == "softmax" else y.reshape(-1, 1).astype(float)
    k = 3 if out == "softmax" else 2
    net = MLP([4, 6, Y.shape[1]], "relu", out).initialize(np.random.RandomState(0))
    loss, g = net.loss_grad(X, Y * (1 - eps) + eps / k, alpha=est.alpha)
    np.testing.assert_allclose(_flat(est), net.params - LR * g, rtol=1e-12, atol=1e-15)
    assert est.loss_curve_[0] == pytest.approx(loss, rel=1e-12)


def test_soft_target_gradient_matches_finite_differences():
    """P - Y is the gradient of the cross-entropy for soft targets too (softmax, logistic)."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(8, 3))
    for out, n_out in [("softmax", 4), ("logistic", 2)]:
        Y = rng.dirichlet(np.ones(n_out), 8) if out == "softmax" else rng.uniform(0, 1, (8, 2))
        net = MLP([3, 5, n_out], "tanh", out).initialize(rng)
        _, g = net.loss_grad(X, Y)
        h, numeric = 1e-6, np.empty_like(g)
        for i in range(net.params.size):
            saved = net.params[i]
            net.params[i] = saved + h
            up = net.loss_grad(X, Y)[0]
            net.params[i] = saved - h
            down = net.loss_grad(X, Y)[0]
            net.params[i] = saved
            numeric[i] = (up - down) / (2 * h)
        np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("extra", [dict(weight_decay=0.1), dict(max_grad_norm=1.0),
                                   dict(lr_schedule="cosine"), dict(warmup=0.1),
                                   dict(ema_decay=0.9)])
def test_step_extras_need_a_stochastic_solver(extra):
    X, y = _regression()
    with pytest.raises(InvalidParameterError, match="need solver='sgd' or 'adam'"):
        MLPRegressorFromScratch(solver="lbfgs", **extra).fit(X, y)


@pytest.mark.parametrize("param, value", [("weight_decay", -1.0), ("max_grad_norm", 0.0),
                                          ("lr_schedule", "linear"), ("warmup", 1.0),
                                          ("ema_decay", 1.0)])
def test_step_extras_reject_bad_values(param, value):
    X, y = _regression()
    with pytest.raises(InvalidParameterError, match=f"The '{param}' parameter"):
        MLPRegressorFromScratch(**{param: value}).fit(X, y)


def test_label_smoothing_rejects_one():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(InvalidParameterError, match="The 'label_smoothing' parameter"):
        MLPClassifierFromScratch(label_smoothing=1.0).fit(X, y)


EXTRAS = dict(lr_schedule="coslog4", warmup=0.1, weight_decay=0.01, max_grad_norm=5.0,
              ema_decay=0.9, random_state=0)


# max_iter=100: scikit-learn's own setting for its MLPs in these checks
@parametrize_with_checks([MLPClassifierFromScratch(label_smoothing=0.1, max_iter=100, **EXTRAS),
                          MLPRegressorFromScratch(max_iter=100, **EXTRAS)])
def test_sklearn_compatible_with_the_extras_on(estimator, check):
    check(estimator)
