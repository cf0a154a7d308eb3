"""scikit-learn's callback API (``sklearn.callback``) for the fit loops.

The estimators report one task per ``fit`` with one sub-task per epoch (per
iteration for L-BFGS), so ``ProgressBar`` draws a bar per epoch, ``ScoringMonitor``
scores the model after each, and a callback whose ``on_fit_task_end`` returns True
stops training after that epoch.
"""

import numpy as np
from sklearn.callback import CallbackSupportMixin

from ._interrupt import deferred_interrupt

__all__ = ["CallbackSupportMixin", "LbfgsCallbackBridge"]


class LbfgsCallbackBridge:
    """Turns scipy's per-iteration L-BFGS callback into the estimator's epoch bookkeeping.

    After each iteration it puts the iterate into the network, records the loss (and
    validation) with the stopping monitor, and ends that
    iteration's callback sub-task and begins the next. A callback asking to stop
    raises ``StopIteration``, which ends scipy's minimisation. The sub-task begun after
    the last iteration never runs: :meth:`close` ends it empty, also after Ctrl-C,
    so every ``on_fit_task_begin`` has its ``on_fit_task_end`` (as scikit-learn's
    ``_LbfgsCallbackBridge`` in ``linear_model/_logistic.py`` does).

    Parameters
    ----------
    estimator : BaseMLPFromScratch
    net : MLP
    monitor : StoppingMonitor
    context : sklearn.callback CallbackContext
        The fit task's context.
    hook_args : dict
        What the callback hooks are given besides the estimator (X, y, metadata).
    reconstruction : callable
        Returns the fitted attributes of the current iterate, for callbacks that
        evaluate a fitted estimator.

    Attributes
    ----------
    last_x : ndarray of shape (n_params,)
        The last completed iterate (what Ctrl-C keeps).
    n_iter : int
        Iterations completed.
    stopped : bool
        A callback asked to stop.
    """

    def __init__(self, estimator, net, *, monitor, context, hook_args, reconstruction):
        self.estimator, self.net, self.monitor = estimator, net, monitor
        self.context = context
        self.kwargs = hook_args
        self.reconstruction = reconstruction
        self.last_x = net.params.copy()
        self.n_iter = 0
        self.stopped = False
        self._iteration = self._begin()

    def _begin(self):
        iteration = self.context.subcontext(task_name="iteration")
        iteration.call_on_fit_task_begin(estimator=self.estimator, **self.kwargs)
        return iteration

    def __call__(self, intermediate_result):
        with deferred_interrupt():  # an iteration's bookkeeping is never cut in half
            self.net.params[...] = intermediate_result.x  # scipy may have evaluated elsewhere
            self.last_x[...] = self.net.params
            validated = self.monitor.validate()
            self.n_iter += 1
            est = self.estimator
            # no "Iteration ..." line with verbose: MLPClassifier's L-BFGS prints none (its
            # verbose only sets scipy's iprint)
            loss = np.float64(intermediate_result.fun)
            self.monitor.epoch_end(loss, validated)
            if self._iteration.call_on_fit_task_end(
                    estimator=est, reconstruction_attributes=self.reconstruction, **self.kwargs):
                self.stopped = True
                raise StopIteration  # scipy ends the minimisation here
            self._iteration = self._begin()

    def close(self):
        """End the sub-task begun after the last iteration, which never ran."""
        if not self.stopped:
            self._iteration.call_on_fit_task_end(estimator=self.estimator)
