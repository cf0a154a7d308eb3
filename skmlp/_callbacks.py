"""scikit-learn's callback API (``sklearn.callback``) for the fit loops.

The estimators report one task per ``fit`` with one sub-task per epoch (per
iteration for L-BFGS), so ``ProgressBar`` draws a bar per epoch, ``ScoringMonitor``
scores the model after each, and a callback whose ``on_fit_task_end`` returns True
stops training after that epoch.
"""

from contextlib import contextmanager

import numpy as np
from sklearn.callback import CallbackSupportMixin

from ._interrupt import deferred_interrupt, held_interrupts

__all__ = ["CallbackSupportMixin", "LbfgsCallbackBridge", "callback_lifecycle"]


@contextmanager
def callback_lifecycle(estimator, interrupts):
    """Tear the fit's callbacks down inside the fit, so their failures are the fit's.

    scikit-learn's ``_fit_context`` tears callbacks down after ``fit`` returns, where an
    exception from a ``teardown`` comes after the fitted state changed (and a Ctrl-C in it
    leaves ``_callback_fit_ctx`` behind). Here teardown runs as the last step of the fit's
    transaction: an exception from it fails the fit (which then changes nothing), a
    KeyboardInterrupt from it stops nothing that is not done already (``interrupts`` notes
    it), and the context is always removed. scikit-learn's own teardown then finds
    nothing left to do. When the fit itself fails, its error is raised, with the teardown
    errors as notes.

    Parameters
    ----------
    estimator : BaseMLPFromScratch
    interrupts : skmlp._interrupt.FitInterrupts
    """
    try:
        yield
    except BaseException as e:
        for error in _teardown(estimator, interrupts):
            e.add_note(f"A callback's teardown failed too: {error!r}")
        raise
    errors = _teardown(estimator, interrupts)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ExceptionGroup("The following callback teardown errors occurred", errors)


def _teardown(estimator, interrupts):
    """Call every set-up callback's ``teardown``; return the exceptions they raised."""
    state = estimator.__dict__
    context = state.pop("_callback_fit_ctx", None)
    callbacks = state.pop("_skl_callbacks_to_teardown", [])
    errors = []
    with held_interrupts() as held:
        for callback in callbacks:
            try:
                callback.teardown(estimator=estimator, context=context)
            except KeyboardInterrupt:
                interrupts.note()
            except Exception as error:  # noqa: BLE001 -- reported once every teardown ran
                errors.append(error)
    if held:
        interrupts.note()
    return errors


class LbfgsCallbackBridge:
    """Turns scipy's per-iteration L-BFGS callback into the estimator's epoch bookkeeping.

    After each iteration it puts the iterate into the network, records the loss (and
    validation) in the fit's training state, and ends that
    iteration's callback sub-task and begins the next. A callback asking to stop
    raises ``StopIteration``, which ends scipy's minimisation. The sub-task begun after
    the last iteration never runs: :meth:`close` ends it empty, also after Ctrl-C,
    so every ``on_fit_task_begin`` has its ``on_fit_task_end`` (as scikit-learn's
    ``_LbfgsCallbackBridge`` in ``linear_model/_logistic.py`` does).

    Parameters
    ----------
    estimator : BaseMLPFromScratch
    net : MLP
    state : skmlp._fit_state.TrainingState
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

    def __init__(self, estimator, net, *, state, context, hook_args, reconstruction):
        self.estimator, self.net, self.state = estimator, net, state
        self.context = context
        self.kwargs = hook_args
        self.reconstruction = reconstruction
        self.last_x = net.params.copy()
        self.n_iter = 0
        self.stopped = False
        self._iteration = None  # the sub-task under way, until its end hook is called
        self._begin()

    def _begin(self):
        self._iteration = self.context.subcontext(task_name="iteration")
        self._iteration.call_on_fit_task_begin(estimator=self.estimator, **self.kwargs)

    def __call__(self, intermediate_result):
        with deferred_interrupt():  # an iteration's bookkeeping is never cut in half
            self.net.params[...] = intermediate_result.x  # scipy may have evaluated elsewhere
            # a validation scorer that raises (a KeyboardInterrupt included): this
            # iteration counts nowhere, and last_x is still the one before
            validated = self.state.validate()
            self.last_x[...] = self.net.params
            self.n_iter += 1
            # no "Iteration ..." line with verbose: MLPClassifier's L-BFGS prints none (its
            # verbose only sets scipy's iprint)
            self.state.epoch_end(np.float64(intermediate_result.fun), validated)
            self.state.commit()
            # the iteration is complete: its end hook runs once, whatever it raises
            iteration, self._iteration = self._iteration, None
            if iteration.call_on_fit_task_end(estimator=self.estimator,
                                              reconstruction_attributes=self.reconstruction,
                                              **self.kwargs):
                self.stopped = True
                raise StopIteration  # scipy ends the minimisation here
            self._begin()

    def close(self):
        """End the sub-task begun after the last iteration, which never ran."""
        iteration, self._iteration = self._iteration, None
        if iteration is not None:
            iteration.call_on_fit_task_end(estimator=self.estimator)
