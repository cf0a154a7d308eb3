"""scikit-learn's callback API (``sklearn.callback``, scikit-learn >= 1.9), when present.

The estimator reports one task per ``fit`` with one sub-task per epoch (per
iteration for L-BFGS), so ``ProgressBar`` draws a bar per epoch, ``ScoringMonitor``
scores the model after each, and a callback whose ``on_fit_task_end`` returns
True stops training after that epoch. On older scikit-learn, ``set_callbacks``
does not exist and every hook below is a no-op, so the import still works.
"""

try:
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # scikit-learn < 1.9

    class _NoCallbacks:
        """Stands in for ``CallbackContext``: every hook does nothing, nothing stops."""

        def subcontext(self, **kwargs):
            return self

        def call_on_fit_task_begin(self, **kwargs):
            return self

        def call_on_fit_task_end(self, **kwargs):
            return False

    class CallbackSupportMixin:  # noqa: D101 - same name as scikit-learn's, on purpose
        def _init_callback_context(self, **kwargs):
            return _NoCallbacks()


__all__ = ["CallbackSupportMixin"]
