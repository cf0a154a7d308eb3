"""The Tabular estimators under interrupts and failing callbacks: the same fit transaction
as MLP*FromScratch (skmlp._interrupt, skmlp._callbacks.callback_lifecycle).

Real SIGINTs are raised in-process from callback hooks (``signal.raise_signal`` runs the
handler in place, as a Ctrl-C does). The rules: once an epoch ended, a Ctrl-C keeps every
complete epoch, with one "interrupted" warning, also when a second one comes while
stopping or during the final hooks; a Ctrl-C before the first epoch ended fails the fit
and changes nothing; a failing teardown fails the fit and changes nothing.
"""

import numpy as np
import pytest
from _support import INTERRUPTED, Hooks, sigint
from sklearn.datasets import make_classification

from skmlp import TabularMLPClassifier

pytest.importorskip("sklearn.callback")

PARAMS = dict(hidden_layer_sizes=(16,), max_iter=6, batch_size=32, random_state=0,
              validation_fraction=0.0)


@pytest.fixture(scope="module")
def Xy():
    return make_classification(n_samples=160, n_features=5, n_informative=3, random_state=0)


def _reference(X, y, n_epochs):
    """The network the first ``n_epochs`` epochs train (the schedule spans max_iter, so
    the reference stops by a callback, not by a smaller max_iter)."""
    stop = Hooks(lambda where, est, ctx: where == "end" and ctx.task_name == "epoch"
                 and est.n_iter_ >= n_epochs)
    return TabularMLPClassifier(**PARAMS).set_callbacks(stop).fit(X, y)


def _same_network(a, b):
    np.testing.assert_array_equal(a.network_.params, b.network_.params)


@pytest.mark.parametrize("how", ["signal", "raise"])
def test_ctrl_c_in_an_epoch_keeps_the_epochs_before(Xy, how):
    X, y = Xy

    def act(where, est, ctx):
        if where == "begin" and ctx.task_name == "epoch" and est.n_iter_ == 3:
            if how == "signal":
                sigint()
            raise KeyboardInterrupt

    est = TabularMLPClassifier(**PARAMS).set_callbacks(Hooks(act))
    with pytest.warns(UserWarning, match=INTERRUPTED):
        est.fit(X, y)
    assert est.n_iter_ == 3 and len(est.loss_curve_) == 3
    _same_network(est, _reference(X, y, 3))
    assert "_callback_fit_ctx" not in est.__dict__


def test_a_second_ctrl_c_while_stopping_loses_nothing(Xy):
    """The first Ctrl-C cuts epoch 3 short; a second one, in that epoch's end hook and in
    the fit's, only says stop again: the two complete epochs are kept."""
    X, y = Xy
    fired = []

    def act(where, est, ctx):
        if where == "begin" and ctx.task_name == "epoch" and est.n_iter_ == 2 and not fired:
            fired.append(1)
            sigint()
        if where == "end" and fired:
            sigint()  # while stopping: noted, not raised

    est = TabularMLPClassifier(**PARAMS).set_callbacks(Hooks(act))
    with pytest.warns(UserWarning, match=INTERRUPTED):
        est.fit(X, y)
    assert est.n_iter_ == 2
    _same_network(est, _reference(X, y, 2))


def test_ctrl_c_in_an_epochs_end_hook_keeps_that_epoch_and_ends_it_once(Xy):
    X, y = Xy
    ends = []

    def act(where, est, ctx):
        if where == "end" and ctx.task_name == "epoch":
            ends.append(est.n_iter_)
            if est.n_iter_ == 4:
                raise KeyboardInterrupt

    est = TabularMLPClassifier(**PARAMS).set_callbacks(Hooks(act))
    with pytest.warns(UserWarning, match=INTERRUPTED):
        est.fit(X, y)
    assert est.n_iter_ == 4 and ends == [1, 2, 3, 4]
    _same_network(est, _reference(X, y, 4))


def test_ctrl_c_during_the_final_hook_keeps_the_whole_fit(Xy):
    X, y = Xy

    def act(where, est, ctx):
        if where == "end" and ctx.task_name == "fit":
            sigint()

    est = TabularMLPClassifier(**PARAMS).set_callbacks(Hooks(act))
    with pytest.warns(UserWarning, match=INTERRUPTED):
        est.fit(X, y)
    assert est.n_iter_ == PARAMS["max_iter"]
    _same_network(est, TabularMLPClassifier(**PARAMS).fit(X, y))


def test_ctrl_c_before_the_first_epoch_ended_changes_nothing(Xy):
    X, y = Xy
    est = TabularMLPClassifier(**PARAMS).fit(X, y)
    before = est.network_.params.copy()

    def act(where, est, ctx):
        if where == "begin" and ctx.task_name == "epoch":
            sigint()

    with pytest.raises(KeyboardInterrupt):
        est.set_callbacks(Hooks(act)).fit(X[::-1], y[::-1])
    np.testing.assert_array_equal(est.network_.params, before)
    assert est.n_iter_ == PARAMS["max_iter"]
    assert "_callback_fit_ctx" not in est.__dict__


def test_a_failing_teardown_fails_the_fit_and_changes_nothing(Xy):
    X, y = Xy

    def act(where, est, ctx):
        if where == "teardown":
            raise RuntimeError("the progress bar broke")

    est = TabularMLPClassifier(**PARAMS).set_callbacks(Hooks(act))
    with pytest.raises(RuntimeError, match="the progress bar broke"):
        est.fit(X, y)
    assert not hasattr(est, "network_")
    assert "_callback_fit_ctx" not in est.__dict__
