"""The L-BFGS callback bridge: scipy's per-iteration callback as the estimators' callback
sub-tasks (``sklearn.callback``), seen through a fit with ``solver="lbfgs"``.

Each L-BFGS iteration is one "iteration" sub-task of the fit: its end hook runs once the
iteration is complete (counted in ``n_iter_`` and ``loss_curve_``) and can stop the fit;
the sub-task begun after the last iteration, which never runs, is ended too, so every
begin hook has its end hook, whatever ends the minimisation.
"""

import pickle
import warnings

import pytest
from _support import (
    INTERRUPTED,
    Hooks,
    StopAfter,
    assert_same_weights,
    both_estimators,
    scored_epochs,
)
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning

callback = pytest.importorskip("sklearn.callback")

# every test runs for both estimators (as Est, with data from the `problem` fixture)
pytestmark = both_estimators


def _lbfgs(Est, **params):
    return Est(**{"hidden_layer_sizes": (8,), "solver": "lbfgs", "random_state": 0, **params})


def _iteration_calls(hooks, where):
    return [c for c in hooks.calls if c[0] == where and c[1] == "iteration"]


@pytest.mark.parametrize("limit", ["max_iter", "max_fun", "converged"])
def test_every_iteration_is_one_sub_task_and_every_begin_has_its_end(Est, problem, limit):
    X, y = problem
    params = {"max_iter": {"max_iter": 7}, "max_fun": {"max_iter": 200, "max_fun": 5},
              "converged": {"max_iter": 2000, "tol": 1e-2}}[limit]
    hooks = Hooks(lambda where, est, ctx: False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = _lbfgs(Est, **params).set_callbacks(hooks).fit(X, y)
    if limit == "max_iter":
        assert est.n_iter_ == 7
    elif limit == "max_fun":
        assert est.n_iter_ <= 5  # scipy checks the count of evaluations after an iteration
    else:
        assert 0 < est.n_iter_ < 2000
    begun, ended = _iteration_calls(hooks, "begin"), _iteration_calls(hooks, "end")
    # one sub-task per iteration, and the one begun after the last, ended empty
    assert len(begun) == len(ended) == est.n_iter_ + 1
    # the end hook of iteration i sees i iterations done; the empty one, all of them
    assert [c[2] for c in ended] == [*range(1, est.n_iter_ + 1), est.n_iter_]
    assert len(est.loss_curve_) == est.n_iter_ and est.loss_ == est.loss_curve_[-1]
    # the fit task encloses them all
    assert hooks.calls[1][:2] == ("begin", "fit") and hooks.calls[-2][:2] == ("end", "fit")


def test_a_stop_request_ends_the_minimisation_after_that_iteration(Est, problem):
    X, y = problem
    stop = StopAfter(4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # stopping on request: no warning
        est = _lbfgs(Est, max_iter=100).set_callbacks(stop).fit(X, y)
    assert est.n_iter_ == 4 and len(est.loss_curve_) == 4 and stop.epochs == 4
    begun = [t for e, t in stop.tasks if e == "begin" and t == "iteration"]
    ended = [t for e, t in stop.tasks if e == "end" and t == "iteration"]
    assert len(begun) == len(ended) == 4  # nothing begun after the stop
    # the model of the fourth iterate: what scipy hands back after four iterations
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = _lbfgs(Est, max_iter=4).fit(X, y)
    assert_same_weights(est, reference)
    assert est.loss_curve_ == reference.loss_curve_


def test_each_iteration_end_hook_sees_that_iterate(Est, problem):
    """A ScoringMonitor scores the model of each iteration: the last score is the fitted
    model's, and the loss curve it watched is the estimator's."""
    X, y = problem
    scoring = "accuracy" if is_classifier(Est()) else "r2"
    monitor = callback.ScoringMonitor(scoring=scoring)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = _lbfgs(Est, max_iter=6).set_callbacks(monitor).fit(X, y)
    rows = scored_epochs(monitor, task="iteration")
    assert len(rows) == 6
    assert rows[-1][scoring] == pytest.approx(est.score(X, y), rel=1e-12)
    assert rows[0][scoring] != pytest.approx(rows[-1][scoring], rel=1e-6)  # they do move


def test_a_keyboard_interrupt_in_an_iteration_end_hook_keeps_that_iteration_once(Est, problem):
    X, y = problem

    def act(where, est, ctx):
        if where == "end" and ctx.task_name == "iteration" and est.n_iter_ == 3:
            raise KeyboardInterrupt

    hooks = Hooks(act)
    est = _lbfgs(Est, max_iter=50).set_callbacks(hooks)
    with pytest.warns(UserWarning, match=INTERRUPTED):
        est.fit(X, y)
    assert est.n_iter_ == 3 and len(est.loss_curve_) == 3
    assert [c[2] for c in _iteration_calls(hooks, "end")] == [1, 2, 3]  # iteration 3's ran once
    assert len(_iteration_calls(hooks, "begin")) == 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert_same_weights(est, _lbfgs(Est, max_iter=3).fit(X, y))


@pytest.mark.parametrize("where", ["begin", "end"])
def test_a_failing_iteration_hook_fails_the_fit_and_changes_nothing(Est, problem, where):
    X, y = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = _lbfgs(Est, max_iter=3).fit(X, y)
    before = pickle.dumps(est)

    def act(w, e, ctx):
        if w == where and ctx.task_name == "iteration" and len(hooks.calls) > 6:
            raise RuntimeError(f"iteration hook failed in {where}")

    hooks = Hooks(act)
    est.set_params(max_iter=10, warm_start=True).set_callbacks(hooks)
    with pytest.raises(RuntimeError, match=f"^iteration hook failed in {where}$"):
        est.fit(X, y)
    restored = pickle.loads(before)
    assert est.n_iter_ == restored.n_iter_ == 3 and est.loss_curve_ == restored.loss_curve_
    assert_same_weights(est, restored)
    assert "_callback_fit_ctx" not in est.__dict__
