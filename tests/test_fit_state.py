"""The training state: the stopping count as a table, and what a fit commits after each epoch.

``skmlp._fit_state.no_improvement`` is MLPClassifier's ``_update_no_improvement_count``
for one epoch; the table below is written out from scikit-learn's code (a strict
comparison with ``best + tol`` for scores, ``best - tol`` for losses; the best moves on
any improvement, however small). The rest checks, through the callback API, that the
estimator describes the epochs run so far at every epoch's end, and scikit-learn's
aliasing of the best weights.
"""

import numpy as np
import pytest
from _support import Hooks
from sklearn.datasets import load_iris
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from skmlp import MLPClassifierFromScratch, MLPRegressorFromScratch
from skmlp._fit_state import no_improvement

INF = np.inf


@pytest.mark.parametrize(
    "value, best, count, tol, maximize, expected",
    [
        # scores (early stopping): improve by tol or more -> count 0
        (0.80, 0.70, 3, 1e-4, True, (0, 0.80, True)),
        (0.70001, 0.70, 3, 1e-4, True, (4, 0.70001, True)),  # better, but by less than tol
        (0.70, 0.70, 0, 1e-4, True, (1, 0.70, False)),  # a tie counts
        (0.60, 0.70, 5, 0.0, True, (6, 0.70, False)),
        (0.70, 0.70, 2, 0.0, True, (0, 0.70, False)),  # tol 0: a tie resets, is not a best
        (0.5, -INF, 0, 1e-4, True, (0, 0.5, True)),  # the first epoch
        # losses (no early stopping)
        (0.50, 0.60, 2, 1e-4, False, (0, 0.50, True)),
        (0.59995, 0.60, 2, 1e-4, False, (3, 0.59995, True)),
        (0.60, 0.60, 0, 1e-4, False, (1, 0.60, False)),
        (0.70, 0.60, 9, 1e-4, False, (10, 0.60, False)),
        (1.0, INF, 0, 1e-4, False, (0, 1.0, True)),
    ],
)
def test_no_improvement_table(value, best, count, tol, maximize, expected):
    got = no_improvement(value, best, count, tol, maximize=maximize)
    assert got[0] == expected[0] and got[2] == expected[2]
    assert got[1] == pytest.approx(expected[1], abs=0)


def test_no_improvement_matches_scikit_learns_rule_on_a_sequence():
    """The count over a sequence of losses, as MLPClassifier's loop computes it."""
    rng = np.random.RandomState(0)
    losses = np.abs(np.cumsum(rng.normal(0, 0.01, 200))) + 0.1
    tol = 1e-3
    count, best = 0, INF
    ref_count, ref_best = 0, INF
    for loss in losses:
        count, best, _ = no_improvement(loss, best, count, tol, maximize=False)
        # scikit-learn's _update_no_improvement_count, without early stopping, written out
        if loss > ref_best - tol:
            ref_count += 1
        else:
            ref_count = 0
        if loss < ref_best:
            ref_best = loss
        assert (count, best) == (ref_count, ref_best)


def _iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_every_epoch_end_sees_the_epochs_run_so_far(solver, early_stopping):
    """At each epoch's (iteration's) end hook the fitted attributes describe exactly the
    epochs that ended: one commit per epoch, nothing half-written."""
    X, y = _iris()
    seen = []

    def act(where, est, context):
        if where == "end" and context.task_name in ("epoch", "iteration"):
            seen.append((est.n_iter_, len(est.loss_curve_), est.loss_, est.loss_curve_[-1],
                         est.t_, None if est.validation_scores_ is None
                         else len(est.validation_scores_)))

    clf = MLPClassifierFromScratch(solver=solver, max_iter=6, early_stopping=early_stopping,
                                   random_state=0, n_iter_no_change=100)
    clf.set_callbacks(Hooks(act)).fit(X, y)
    if solver == "lbfgs":  # the iteration begun after the last one ends empty, the same
        assert seen[-1] == seen[-2]
        seen.pop()
    assert len(seen) == clf.n_iter_ == 6
    n_train = len(y) - (round(0.1 * len(y)) if early_stopping and solver != "lbfgs" else 0)
    for epoch, (n_iter, n_curve, loss, last, t, n_scores) in enumerate(seen, start=1):
        assert n_iter == n_curve == epoch
        assert loss == last
        assert t == (0 if solver == "lbfgs" else epoch * n_train)
        if early_stopping and solver != "lbfgs":
            assert n_scores == epoch
        else:
            assert n_scores is None


@pytest.mark.parametrize("make, theirs", [(MLPClassifierFromScratch, MLPClassifier)])
def test_best_weights_alias_as_in_scikit_learn(make, theirs):
    """After early stopping ``_best_coefs`` *is* ``coefs_`` (the same list), in every later
    warm fit too, with early stopping or without; the weights stay scikit-learn's. (Before
    any early stopping scikit-learn keeps a copy of the initial weights there, skmlp None:
    only early stopping reads them.)"""
    X, y = _iris()
    params = dict(max_iter=5, random_state=0, warm_start=True)
    ours, ref = make(**params), theirs(**params)
    ours.fit(X, y)
    assert ours._best_coefs is None
    ours, ref = make(**params), theirs(**params)
    for _ in range(2):  # scikit-learn cannot switch early stopping off in a warm start
        for est in (ours, ref):
            est.set_params(early_stopping=True).fit(X, y)
        assert (ours._best_coefs is ours.coefs_) == (ref._best_coefs is ref.coefs_) is True
        assert ours._best_intercepts is ours.intercepts_
        for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    # skmlp can: the best weights stay the live ones, trained in place
    for early_stopping in (False, True, False):
        before = ours.coefs_[0].copy()
        ours.set_params(early_stopping=early_stopping).fit(X, y)
        assert ours._best_coefs is ours.coefs_ and ours._best_intercepts is ours.intercepts_
        assert not np.array_equal(before, ours.coefs_[0])


def test_lbfgs_warm_start_leaves_the_stochastic_stopping_state():
    """A warm L-BFGS fit records its curve but not the count or best loss (scikit-learn's
    L-BFGS touches neither)."""
    X, y = _iris()
    est = MLPRegressorFromScratch(solver="sgd", max_iter=4, random_state=0, warm_start=True,
                                  learning_rate_init=0.01)
    est.fit(X, y.astype(float))
    count, best = est._no_improvement_count, est.best_loss_
    n_curve = len(est.loss_curve_)
    est.set_params(solver="lbfgs", max_iter=3).fit(X, y.astype(float))
    assert (est._no_improvement_count, est.best_loss_) == (count, best)
    assert len(est.loss_curve_) == n_curve + est.n_iter_
