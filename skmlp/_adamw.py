"""Adam with decoupled weight decay and per-parameter learning-rate factors (AdamW).

One flat parameter vector, as the rest of skmlp: parameter groups (weights, biases, the
scale layer, the embeddings) are not separate lists but two vectors of factors the
length of ``params``, ``lr_factors`` and ``wd_factors``. A step with learning rate
``lr`` (the schedule already applied) is, for every entry ``i``::

    m     <- beta_1 m + (1 - beta_1) g
    v     <- beta_2 v + (1 - beta_2) g^2
    m_hat  = m / (1 - beta_1^t),   v_hat = v / (1 - beta_2^t)
    p_i   <- p_i (1 - lr lr_factor_i weight_decay wd_factor_i)       (decoupled decay)
    p_i   <- p_i - lr lr_factor_i m_hat_i / (sqrt(v_hat_i) + eps)

The decay multiplies the parameters before the Adam step and is scaled by the
(scheduled, per-group) learning rate, as in PyTorch's ``AdamW`` and RealMLP's optimizer.
Gradient clipping by global norm, when asked, rescales ``g`` first.

References
----------
Kingma and Ba (2015), "Adam: A Method for Stochastic Optimization".
Loshchilov and Hutter (2019), "Decoupled Weight Decay Regularization".
"""

import math

import numpy as np


def clip_gradient(grad, max_norm):
    """Rescale ``grad`` in place so that its Euclidean norm is at most ``max_norm``.

    Returns the norm before clipping.
    """
    norm = float(np.sqrt(np.dot(grad, grad)))
    if max_norm is not None and norm > max_norm:
        grad *= max_norm / norm
    return norm


class AdamW:
    """Adam with decoupled weight decay and per-parameter learning-rate factors.

    Parameters
    ----------
    lr_factors : ndarray of shape (n_params,)
        Multiplies the learning rate entry by entry (e.g. 0.1 for biases).
    wd_factors : ndarray of shape (n_params,)
        Multiplies the weight decay entry by entry (0 for entries not decayed).
    beta_1, beta_2 : float, default=0.9, 0.95
        Decay rates of the first and second moment estimates.
    epsilon : float, default=1e-8
    weight_decay : float, default=0.0

    Attributes
    ----------
    m, v : ndarray of shape (n_params,)
        First and second moment estimates, in the factors' dtype.
    t : int
        Steps taken.
    """

    _STATE_ARRAYS = ("m", "v")

    def __init__(self, lr_factors, wd_factors, *, beta_1=0.9, beta_2=0.95, epsilon=1e-8,
                 weight_decay=0.0):
        self.lr_factors = lr_factors
        self.wd_factors = wd_factors
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.weight_decay = float(weight_decay)
        self.m = np.zeros_like(lr_factors)
        self.v = np.zeros_like(lr_factors)
        self.t = 0
        self._tmp = self._lr_wd = None

    def step(self, params, grad, lr, weight_decay=None):
        """One update of ``params`` in place from the gradient ``grad`` at learning rate ``lr``.

        ``grad`` is overwritten (it holds the update on return). ``weight_decay``, when
        given, replaces the constructor's for this step (a scheduled decay).
        """
        lr = float(lr)  # a numpy float64 scalar would promote float32 arrays to float64
        weight_decay = self.weight_decay if weight_decay is None else float(weight_decay)
        self.t += 1
        b1, b2 = self.beta_1, self.beta_2
        if self._tmp is None or self._tmp.shape != params.shape:
            self._tmp = np.empty_like(params)
            self._lr_wd = self.lr_factors * self.wd_factors
        tmp = self._tmp
        self.m *= b1
        self.m += np.multiply(grad, 1 - b1, out=tmp)
        np.square(grad, out=grad)
        self.v *= b2
        self.v += np.multiply(grad, 1 - b2, out=tmp)
        if weight_decay:
            decay = np.multiply(self._lr_wd, -lr * weight_decay, out=tmp)
            decay += 1.0
            params *= decay
        # PyTorch's form: m_hat / (sqrt(v_hat) + eps), the bias corrections as scalars
        c1, c2 = 1 - b1**self.t, 1 - b2**self.t
        update = np.sqrt(self.v, out=grad)
        update *= 1.0 / math.sqrt(c2)
        update += self.epsilon
        np.divide(self.m, update, out=update)
        update *= self.lr_factors
        update *= lr / c1
        params -= update

    def checkpoint(self, into=None):
        """A copy of the state a step changes, to :meth:`restore` later."""
        if into is None:
            into = {name: np.empty_like(getattr(self, name)) for name in self._STATE_ARRAYS}
        for name in self._STATE_ARRAYS:
            np.copyto(into[name], getattr(self, name))
        into["t"] = self.t
        return into

    def restore(self, checkpoint):
        """Go back to the state of a :meth:`checkpoint`."""
        for name in self._STATE_ARRAYS:
            np.copyto(getattr(self, name), checkpoint[name])
        self.t = checkpoint["t"]

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_tmp"] = state["_lr_wd"] = None
        return state
