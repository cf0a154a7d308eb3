"""Weight averaging over the training trajectory: an exponential moving average (EMA).

The averaged weights are what a model predicts with and what validation scores; the
optimizer keeps training the live ones. Averaging smooths the noise of the last
minibatch steps (Polyak and Juditsky, 1992; Izmailov et al., 2018 "Averaging Weights
Leads to Wider Optima and Better Generalization"), which lets a short, high
learning-rate run end where a long annealed one would.

After step ``t`` (counting from 1)::

    d_t  = min(decay, (1 + t) / (10 + t))
    ema <- d_t ema + (1 - d_t) params

The warm-up of ``d_t`` (TensorFlow's ``ExponentialMovingAverage`` with
``num_updates``) keeps the average from clinging to the initial weights in short runs.
"""

import numpy as np


class EMA:
    """Exponential moving average of a flat parameter vector.

    Parameters
    ----------
    params : ndarray of shape (n_params,)
        The live weights; the average starts as a copy.
    decay : float
        The largest ``d_t``, in ``[0, 1)``.

    Attributes
    ----------
    average : ndarray of shape (n_params,)
    t : int
        Updates made.
    """

    def __init__(self, params, decay):
        self.decay = decay
        self.average = params.copy()
        self.t = 0

    def update(self, params):
        """Move the average towards ``params`` (after an optimizer step)."""
        self.t += 1
        d = min(self.decay, (1.0 + self.t) / (10.0 + self.t))
        self.average *= d
        self.average += (1.0 - d) * params

    def checkpoint(self, into=None):
        """A copy of the state (to undo an epoch cut short)."""
        if into is None:
            into = {"average": np.empty_like(self.average)}
        np.copyto(into["average"], self.average)
        into["t"] = self.t
        return into

    def restore(self, checkpoint):
        """Go back to a :meth:`checkpoint`."""
        np.copyto(self.average, checkpoint["average"])
        self.t = checkpoint["t"]
