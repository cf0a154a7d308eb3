"""Ctrl-C: the deferral rules of ``skmlp._interrupt`` on their own, then what a fit keeps.

The unit tests raise real SIGINTs (``signal.raise_signal`` in the main thread runs the
handler in place before it returns, as a Ctrl-C does). The estimator tests interrupt a
fit through its public seams: a callback hook that raises as an epoch (an L-BFGS
iteration) begins, inside that epoch; and, for the middle of an epoch or of scipy's line
search, where no hook runs, the public ``skmlp.MLP``'s methods.
"""

import signal
import threading

import numpy as np
import pytest
from _support import (
    INTERRUPTED,
    TWINS,
    assert_same_weights,
    both_estimators,
    interrupt_at_begin,
    interrupt_mlp_call,
    interrupted_fit,
    sigint,
)

from skmlp import MLPClassifierFromScratch, use_kernels
from skmlp._interrupt import deferred_interrupt, fit_interrupts, held_interrupts


@pytest.fixture(autouse=True)
def default_sigint_handler():
    """Every test starts and must end with Python's own SIGINT handler in place."""
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    yield
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.fixture
def own_handler():
    """A SIGINT handler of the user's own, installed for the test; yields what it heard."""
    heard = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: heard.append(signum))
    yield heard
    signal.signal(signal.SIGINT, previous)


def in_a_thread(function):
    """``function()``'s result, run in another thread (where no handler may be installed)."""
    out = {}
    thread = threading.Thread(target=lambda: out.update(result=function()))
    thread.start()
    thread.join()
    return out["result"]


# --- held_interrupts ------------------------------------------------------------------------
def test_held_interrupts_collects_every_sigint_and_raises_none():
    with held_interrupts() as received:
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        sigint()
        sigint()
        after = len(received)
    assert received == [signal.SIGINT, signal.SIGINT] and after == 2


def test_held_interrupts_puts_the_handler_back_when_the_block_fails():
    with pytest.raises(RuntimeError, match="^inside$"), held_interrupts():
        raise RuntimeError("inside")
    # (the autouse fixture checks the default handler is back)


def test_held_interrupts_outside_the_main_thread_touches_nothing():
    def hold():
        with held_interrupts() as received:  # signal.signal would raise ValueError here
            return received, signal.getsignal(signal.SIGINT)

    received, handler = in_a_thread(hold)
    assert received == [] and handler is signal.default_int_handler


# --- deferred_interrupt ---------------------------------------------------------------------
def test_deferred_interrupt_delivers_the_sigint_when_the_block_ends():
    ran = []
    with pytest.raises(KeyboardInterrupt), deferred_interrupt():
        sigint()
        ran.append("after the signal")  # the block is not cut short
    assert ran == ["after the signal"]


def test_deferred_interrupt_without_a_sigint_raises_nothing():
    with deferred_interrupt():
        value = 1
    assert value == 1


def test_deferred_interrupt_delivers_once_to_the_handler_before_it(own_handler):
    with deferred_interrupt():
        sigint()
        sigint()  # two held Ctrl-Cs are delivered as one
        assert own_handler == []
    assert own_handler == [signal.SIGINT]


# --- fit_interrupts ---------------------------------------------------------------------------
def test_the_first_sigint_raises_and_later_ones_are_noted():
    with fit_interrupts() as state:
        assert not state.interrupted and not state.winding_down
        with pytest.raises(KeyboardInterrupt):
            sigint()
        assert state.interrupted
        sigint()  # the fit is stopping: this one only says stop again
        sigint()
        assert state.interrupted


def test_a_sigint_while_winding_down_is_noted_not_raised():
    with fit_interrupts() as state:
        state.winding_down = True
        sigint()
        assert state.interrupted


def test_note_marks_a_keyboard_interrupt_the_fit_caught():
    with fit_interrupts() as state:
        state.note()
        assert state.interrupted
        sigint()  # already stopping: not raised


def test_fit_interrupts_leaves_a_handler_of_the_users_own_alone(own_handler):
    mine = signal.getsignal(signal.SIGINT)
    with fit_interrupts() as state:
        assert signal.getsignal(signal.SIGINT) is mine
        sigint()
    assert own_handler == [signal.SIGINT] and not state.interrupted
    assert signal.getsignal(signal.SIGINT) is mine


def test_fit_interrupts_puts_the_default_handler_back_after_an_error():
    with pytest.raises(ValueError, match="^fit failed$"), fit_interrupts():
        raise ValueError("fit failed")


def test_fit_interrupts_outside_the_main_thread_installs_nothing():
    def run():
        with fit_interrupts() as state:
            return state.interrupted, signal.getsignal(signal.SIGINT)

    interrupted, handler = in_a_thread(run)
    assert not interrupted and handler is signal.default_int_handler


def test_a_handler_not_installed_from_python_is_left_alone(monkeypatch):
    # getsignal returns None for it; putting None back would raise TypeError
    monkeypatch.setattr(signal, "getsignal", lambda signum: None)
    installed = []
    monkeypatch.setattr(signal, "signal", lambda *args: installed.append(args))
    with fit_interrupts() as state, held_interrupts() as received:
        pass
    assert installed == [] and received == [] and not state.interrupted
    monkeypatch.undo()


# --- what an interrupted fit keeps, for both estimators -----------------------------------------
def _small(**params):
    return {"hidden_layer_sizes": (8,), "max_iter": 10, "batch_size": 32, "random_state": 0,
            **params}


def assert_kept_two_epochs(est, Est, params, X, y):
    """``est`` (fitted with ``params``, interrupted in epoch 3) is the two-epoch model:
    its weights, counters and curves, scikit-learn's two-epoch model, and it trains on
    (``partial_fit``; with early stopping, its validation record) as that model does."""
    assert est.n_iter_ == 2 and len(est.loss_curve_) == 2
    reference = Est(**{**params, "max_iter": 2}).fit(X, y)
    assert_same_weights(est, reference)
    assert est.t_ == reference.t_ and est.loss_curve_ == reference.loss_curve_
    assert_same_weights(est, TWINS[Est](**{**params, "max_iter": 2}).fit(X, y), 1e-9)
    if params.get("early_stopping"):
        assert est.validation_scores_ == reference.validation_scores_
        assert est.best_validation_score_ == reference.best_validation_score_
    else:
        est.partial_fit(X, y)
        reference.partial_fit(X, y)
        assert_same_weights(est, reference)


@both_estimators
@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("how", ["raise", "signal"])
def test_ctrl_c_as_epoch_3_begins_keeps_the_first_two(problem, Est, early_stopping, how):
    """Ctrl-C (a KeyboardInterrupt from user code, or a real SIGINT) as the third epoch
    begins: the model of the first two epochs, scikit-learn's two-epoch model, and it
    trains on as the two-epoch model does."""
    X, y = problem
    params = _small(early_stopping=early_stopping)
    hooks = interrupt_at_begin(3, task="epoch", how=how)
    est = interrupted_fit(Est(**params).set_callbacks(hooks), X, y)
    assert hooks.begun == ["epoch"] * 3
    assert_kept_two_epochs(est.set_callbacks(), Est, params, X, y)  # (no more interrupts)


@both_estimators
@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_ctrl_c_mid_epoch_puts_weights_and_optimizer_back(problem, monkeypatch, Est, solver,
                                                          early_stopping):
    """Ctrl-C in the third batch of epoch 3, after two of its updates moved the weights and
    the optimizer: both are put back to the end of epoch 2, and training goes on from
    there exactly as the two-epoch model does.

    No callback hook runs between two minibatches: the public ``skmlp.MLP.backprop``
    (called once per minibatch) raises instead.
    """
    X, y = problem
    params = _small(solver=solver, early_stopping=early_stopping)
    n_train = len(y) - int(np.ceil(0.1 * len(y))) if early_stopping else len(y)
    per_epoch = int(np.ceil(n_train / 32))
    calls, _ = interrupt_mlp_call(monkeypatch, "backprop", 2 * per_epoch + 3)
    # the Python loop, whose per-minibatch backprop is spied on (the compiled loop,
    # bitwise the same, makes no such call: tests/test_epoch_loop.py)
    with use_kernels(False):
        est = interrupted_fit(Est(**params), X, y)
    monkeypatch.undo()
    assert calls["n"] == 2 * per_epoch + 3
    assert_kept_two_epochs(est, Est, params, X, y)


@both_estimators
def test_ctrl_c_inside_the_lbfgs_line_search_keeps_the_last_iterate(problem, monkeypatch, Est):
    """Ctrl-C in scipy's 8th objective evaluation, which may be inside a line search
    (no callback hook runs there: the public ``skmlp.MLP.loss_grad`` raises): the last
    complete iterate, with its loss."""
    Ours = Est
    X, y = problem
    params = dict(solver="lbfgs", hidden_layer_sizes=(8,), random_state=0)
    calls, real = interrupt_mlp_call(monkeypatch, "loss_grad", 8)
    est = interrupted_fit(Ours(**params), X, y)
    monkeypatch.undo()
    assert calls["n"] == 8
    assert 1 <= est.n_iter_ < 8 and len(est.loss_curve_) == est.n_iter_
    assert est.loss_ == est.loss_curve_[-1] and np.isfinite(est.loss_)
    # the kept weights are those of iteration n_iter_, uninterrupted
    reference = Ours(**{**params, "max_iter": est.n_iter_}).fit(X, y)
    assert_same_weights(est, reference)
    assert est.loss_curve_ == reference.loss_curve_


def test_interrupted_warning_names_what_was_kept(three_classes):
    X, y = three_classes
    hooks = interrupt_at_begin(2)
    with pytest.warns(UserWarning, match=INTERRUPTED) as record:
        MLPClassifierFromScratch(max_iter=5, random_state=0).set_callbacks(hooks).fit(X, y)
    assert "last complete epoch" in str(record[0].message)
    hooks = interrupt_at_begin(3)
    with pytest.warns(UserWarning, match=INTERRUPTED) as record:
        MLPClassifierFromScratch(solver="lbfgs", max_iter=5, random_state=0).set_callbacks(
            hooks).fit(X, y)
    assert "last L-BFGS iterate" in str(record[0].message)
