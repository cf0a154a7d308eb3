"""Weight averaging over the training trajectory: an exponential moving average (EMA).

The averaged weights are what a model predicts with and what validation scores; the
optimizer keeps training the live ones. Averaging smooths the noise of the last
minibatch steps (Polyak and Juditsky, 1992; Izmailov et al., 2018 "Averaging Weights
Leads to Wider Optima and Better Generalization"), which lets a short, high
learning-rate run end where a long annealed one would.

After step ``t`` (counting from 1), with ``d`` the decay::

    s    <- d s + (1 - d) params                 (s starts at 0)
    ema   = s / (1 - d^t)

The division is Adam's bias correction: ``ema`` is a weighted mean of the weights seen
so far, with weights ``d^(t - i)``, from the first step on (no pull towards the initial
weights, and ``d`` means the same in short runs as in long ones: a window of about
``1 / (1 - d)`` steps).
"""

import numpy as np


class EMA:
    """Bias-corrected exponential moving average of a flat parameter vector.

    Parameters
    ----------
    params : ndarray of shape (n_params,)
        The live weights (before the first step: the average starts as a copy).
    decay : float
        ``d``, in ``[0, 1)``.

    Attributes
    ----------
    average : ndarray of shape (n_params,)
        The current average, ``s / (1 - d^t)``.
    t : int
        Updates made.
    """

    def __init__(self, params, decay):
        self.decay = float(decay)
        self.average = params.copy()
        self._sum = np.zeros_like(params)
        self.t = 0

    def update(self, params):
        """Move the average towards ``params`` (after an optimizer step)."""
        self.t += 1
        d = self.decay
        self._sum *= d
        self._sum += (1.0 - d) * params
        np.multiply(self._sum, 1.0 / (1.0 - d**self.t), out=self.average)

    def checkpoint(self, into=None):
        """A copy of the state (to undo an epoch cut short)."""
        if into is None:
            into = {"average": np.empty_like(self.average), "sum": np.empty_like(self._sum)}
        np.copyto(into["average"], self.average)
        np.copyto(into["sum"], self._sum)
        into["t"] = self.t
        return into

    def restore(self, checkpoint):
        """Go back to a :meth:`checkpoint`."""
        np.copyto(self.average, checkpoint["average"])
        np.copyto(self._sum, checkpoint["sum"])
        self.t = checkpoint["t"]
