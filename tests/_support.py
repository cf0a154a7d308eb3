"""Helpers several test modules share (fixtures live in ``conftest.py``).

Everything here reaches skmlp through its public API: the estimators, their callbacks
(``sklearn.callback``'s protocol) and the public class ``skmlp.MLP``.
"""

import signal

import numpy as np
import pytest
from sklearn.neural_network import MLPClassifier, MLPRegressor

import skmlp
from skmlp import MLPClassifierFromScratch, MLPRegressorFromScratch

#: the drop-in estimators, and the scikit-learn estimator each is a drop-in for
TWINS = {MLPClassifierFromScratch: MLPClassifier, MLPRegressorFromScratch: MLPRegressor}

#: ``@both_estimators``: a test run for each drop-in estimator, as ``Est`` (scikit-learn's
#: test_mlp.py pattern); the ``problem`` fixture gives it data for that estimator
both_estimators = pytest.mark.parametrize("Est", list(TWINS), ids=["classifier", "regressor"])

#: scikit-learn's warning when batch_size > n_samples (sgd and adam, fit and partial_fit);
#: skmlp's estimators give the same one.
BATCH_SIZE_WARNING = ("Got `batch_size` less than 1 or larger than sample size. It is going "
                      "to be clipped")

#: The warning of a fit that a Ctrl-C (or a KeyboardInterrupt from user code) stopped.
INTERRUPTED = r"^Training interrupted by user; keeping the (weights of the last complete " \
              r"epoch|last L-BFGS iterate)\.$"


def scored_epochs(monitor, task="epoch"):
    """The per-epoch rows (``task="iteration"``: per L-BFGS iteration) a
    ``sklearn.callback.ScoringMonitor`` logged during one fit."""
    log = monitor.get_logs()
    rows = next(iter(log.values())) if isinstance(log, dict) else log
    rows = rows.data if hasattr(rows, "data") else rows
    return [r for r in rows if r["task_name"] == task]


# --- comparing models ---------------------------------------------------------------------------
def weights(est):
    """``coefs_`` then ``intercepts_`` of a fitted MLP estimator, as one list."""
    return list(est.coefs_) + list(est.intercepts_)


def outputs(est, X):
    """What a fitted estimator answers for X: a classifier's probabilities, a regressor's
    predictions."""
    return est.predict_proba(X) if hasattr(est, "predict_proba") else est.predict(X)


def assert_same_weights(a, b, rtol=0.0):
    """Every weight array of ``a`` within ``rtol`` x the largest weight of ``b`` (0: equal).

    Values are compared in float64, so a float32 model and its float64 twin can be
    compared; with ``rtol=0`` the values must be identical.
    """
    wa, wb = weights(a), weights(b)
    assert [np.shape(p) for p in wa] == [np.shape(q) for q in wb]
    scale = max(np.max(np.abs(q)) for q in wb)
    for i, (p, q) in enumerate(zip(wa, wb, strict=True)):
        np.testing.assert_allclose(np.asarray(p, np.float64), np.asarray(q, np.float64),
                                   rtol=0, atol=rtol * scale, err_msg=f"weight array {i}")


# --- callbacks: the public seam into a fit's epochs ---------------------------------------------
class Hooks:
    """A FitCallback that runs ``act(where, estimator, context)`` at each hook.

    ``where`` is "setup", "teardown", "begin" or "end"; the value ``act`` returns from
    an "end" hook, made a bool, is the hook's answer (True stops training). Each call is
    recorded in ``calls`` as ``(where, task_name, n_iter_ at that moment)``.
    """

    def __init__(self, act):
        self.act, self.calls = act, []

    def _run(self, where, estimator, context):
        self.calls.append((where, context.task_name, estimator.__dict__.get("n_iter_")))
        return self.act(where, estimator, context)

    def setup(self, estimator, context):
        self._run("setup", estimator, context)

    def teardown(self, estimator, context):
        self._run("teardown", estimator, context)

    def on_fit_task_begin(self, estimator, context):
        self._run("begin", estimator, context)

    def on_fit_task_end(self, estimator, context):
        return bool(self._run("end", estimator, context))


class StopAfter:
    """A FitCallback that stops training after ``n`` epochs (L-BFGS iterations), and can
    run ``at_end(estimator, epochs_so_far)`` at each one's end.

    ``epochs`` counts the epochs ended; ``tasks`` records ``("begin" | "end", task_name)``
    for every hook call, so tests can pair them up.
    """

    def __init__(self, n, at_end=None):
        self.n, self.epochs, self.at_end, self.tasks = n, 0, at_end, []

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        self.tasks.append(("begin", context.task_name))

    def on_fit_task_end(self, estimator, context):
        self.tasks.append(("end", context.task_name))
        if context.task_name in ("epoch", "iteration"):
            self.epochs += 1
            if self.at_end is not None:
                self.at_end(estimator, self.epochs)
            return self.epochs >= self.n
        return False


def sigint():
    """A real Ctrl-C: in the main thread the handler in place runs before this returns."""
    signal.raise_signal(signal.SIGINT)


def interrupt_at_begin(n, *, task=("epoch", "iteration"), how="raise"):
    """A callback that interrupts the fit as sub-task ``n`` (an epoch, an L-BFGS iteration)
    begins, inside that sub-task: the first ``n - 1`` are complete, the ``n``-th never
    trains.

    ``how="raise"`` raises KeyboardInterrupt from the hook (user code interrupting);
    ``how="signal"`` raises a real SIGINT there. Returns the :class:`Hooks`; its
    ``begun`` list holds the task names begun so far.
    """
    task = (task,) if isinstance(task, str) else task
    begun = []

    def act(where, estimator, context):
        if where == "begin" and context.task_name in task:
            begun.append(context.task_name)
            if len(begun) == n:
                if how == "signal":
                    sigint()
                raise KeyboardInterrupt
        return False

    hooks = Hooks(act)
    hooks.begun = begun
    return hooks


def interrupt_mlp_call(monkeypatch, name, n, *, after=False):
    """Make call ``n`` of the public ``skmlp.MLP.<name>`` raise KeyboardInterrupt.

    For what no callback hook reaches: the middle of an epoch, after some of its updates
    (``name="backprop"``, called once per minibatch), or an L-BFGS objective evaluation
    inside scipy's line search (``name="loss_grad"``). With ``after=True`` the real call
    runs first. Only the public class is patched, never skmlp's private modules.
    Returns ``(calls, real)``: the running count (``calls["n"]``) and the real method.
    """
    real = getattr(skmlp.MLP, name)
    calls = {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            if after:
                real(*args, **kwargs)
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(skmlp.MLP, name, interrupted)
    return calls, real


def spy_mlp_call(monkeypatch, name):
    """Record the arguments of every call to the public ``skmlp.MLP.<name>``, then call it.

    Returns the list of ``(args, kwargs)`` (``args[0]`` is the network).
    """
    real = getattr(skmlp.MLP, name)
    calls = []

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(skmlp.MLP, name, spy)
    return calls


def interrupted_fit(est, X, y, **fit_params):
    """Fit ``est``, which must warn that it was interrupted; returns ``est``."""
    with pytest.warns(UserWarning, match=INTERRUPTED):
        est.fit(X, y, **fit_params)
    return est
