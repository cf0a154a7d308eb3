"""Stochastic optimizers that update the flat parameter vector in place.

Each optimizer keeps its state (velocity, or first and second moments and a step
count) as flat arrays the size of ``params``. The update formulas, learning-rate
schedules and stopping rules are scikit-learn's (``_stochastic_optimizers.py``),
operation for operation, so the two can be compared step for step.

``step`` takes the gradient either finished (the default) or as raw sums with the
L2 term and the division by the batch weight still to do (``alpha``, ``scale``): the
training loop passes raw sums, so that the numba kernel (``skmlp._kernels``) can
finish the gradient and update the parameters in one pass over memory. Without
numba, or with it switched off, the numpy code below runs: the same numbers.

Dtypes are scikit-learn's, which lets numpy promote: the state (velocity, moments) has
the gradient's dtype; Python-float hyper-parameters take the arrays' dtype; Adam's step
size ``lr_t`` is a float64 scalar there, so its update is computed in float64 and then
added to the parameters (float32 parameters: rounded once, at the add). The kernels run
only where every array has the parameters' dtype and every scalar fits it (see
``_kernel_ok``); anything else takes the numpy code, which follows numpy's rules as
scikit-learn's code does.
"""

import copy

import numpy as np

from . import _config
from ._network import finish_gradient


class _Optimizer:
    """What SGD and Adam share: a learning rate, a work array, and the stopping rule."""

    #: the state a step changes: arrays, then scalars (see ``checkpoint``)
    _STATE_ARRAYS = ()
    _STATE_SCALARS = ("learning_rate",)

    def __init__(self, learning_rate_init):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self._scratch = None

    def _work(self, like, dtype=None, name="tmp"):
        """A work array shaped like ``like``, kept between steps (see :meth:`release`)."""
        dtype = np.dtype(dtype or like.dtype)
        work = self._scratch = self._scratch or {}
        a = work.get(name)
        if a is None or a.shape != like.shape or a.dtype != dtype:
            a = work[name] = np.empty(like.shape, dtype)
        return a

    def release(self):
        """Free the work arrays (a fit does this when it ends)."""
        self._scratch = None

    def checkpoint(self, into=None):
        """A copy of the state the steps change, to :meth:`restore` later.

        ``into``, an earlier checkpoint, is overwritten instead of allocating anew (a fit
        takes one at the start of every epoch, to undo an epoch cut short by Ctrl-C).
        """
        if into is None:
            into = {name: np.empty_like(getattr(self, name)) for name in self._STATE_ARRAYS}
        for name in self._STATE_ARRAYS:
            np.copyto(into[name], getattr(self, name))
        for name in self._STATE_SCALARS:
            into[name] = getattr(self, name)
        return into

    @property
    def n_params(self):
        """Length of the parameter vector the state is for."""
        return getattr(self, self._STATE_ARRAYS[0]).size

    def copy(self, dtype=None):
        """An independent copy, its state arrays cast to ``dtype`` when given."""
        other = copy.copy(self)
        for name in self._STATE_ARRAYS:
            setattr(other, name, getattr(self, name).astype(dtype or getattr(self, name).dtype))
        other._scratch = None
        return other

    def restore(self, checkpoint):
        """Go back to the state of a :meth:`checkpoint`."""
        for name in self._STATE_ARRAYS:
            np.copyto(getattr(self, name), checkpoint[name])
        for name in self._STATE_SCALARS:
            setattr(self, name, checkpoint[name])

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_scratch"] = None
        return state

    def iteration_ends(self, time_step):
        """End of an epoch; ``time_step`` is the number of samples seen so far."""

    def trigger_stopping(self, msg, verbose):
        """Training stalled: stop (True), or go on with a smaller step (False)."""
        if verbose:
            print(msg + " Stopping.")
        return True


class SGD(_Optimizer):
    """Stochastic gradient descent with (Nesterov) momentum.

    The update, as in scikit-learn::

        v      <- momentum * v - lr * g
        params <- params + v                              (classical momentum)
        params <- params + (momentum * v - lr * g)        (Nesterov)

    Parameters
    ----------
    n_params : int
    dtype : numpy dtype
    learning_rate_init : float, default=0.1
    lr_schedule : {"constant", "invscaling", "adaptive"}, default="constant"
        ``"invscaling"`` sets ``lr = learning_rate_init / (t + 1) ** power_t``
        after each epoch, ``t`` being the number of samples seen; ``"adaptive"``
        divides ``lr`` by 5 each time training stalls (see ``trigger_stopping``).
    momentum : float, default=0.9
    nesterov : bool, default=True
    power_t : float, default=0.5

    Attributes
    ----------
    velocity : ndarray of shape (n_params,)
    learning_rate : float

    References
    ----------
    Sutskever, Martens, Dahl and Hinton (2013). "On the importance of
    initialization and momentum in deep learning." ICML.
    """

    _STATE_ARRAYS = ("velocity",)

    def __init__(self, n_params, dtype, learning_rate_init=0.1, lr_schedule="constant",
                 momentum=0.9, nesterov=True, power_t=0.5):
        super().__init__(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.nesterov = nesterov
        self.power_t = power_t
        self.velocity = np.zeros(n_params, dtype=dtype)

    def step(self, params, grad, *, alpha=0.0, scale=1, n_coefs=0):
        """Update ``params`` in place.

        Parameters
        ----------
        params : ndarray of shape (n_params,)
        grad : ndarray of shape (n_params,)
            The gradient; used as work space, so it is lost after the step.
        alpha, scale, n_coefs : float, float, int
            When given, ``grad`` holds raw sums and the gradient is
            ``(grad + alpha * params) / scale`` on the first ``n_coefs`` entries (the
            weights) and ``grad / scale`` on the rest.
        """
        kernels = _config.kernels()
        if kernels is not None and _kernel_ok(params, (grad, self.velocity), (alpha, scale)):
            kernels.sgd_step(params, grad, self.velocity, n_coefs, alpha, scale, self.momentum,
                             self.learning_rate, self.nesterov)
            return
        v = self.velocity
        dt = v.dtype.type  # Python-float hyper-parameters take the state's dtype
        lr_g = self._work(v)
        if alpha or scale != 1:
            finish_gradient(grad, params, n_coefs, alpha, scale,
                            scratch=lr_g if v.dtype == params.dtype else None)
        np.multiply(grad, dt(self.learning_rate), out=lr_g)
        v *= dt(self.momentum)
        v -= lr_g
        if self.nesterov:
            update = np.multiply(v, dt(self.momentum), out=grad)
            update -= lr_g
            params += update
        else:
            params += v

    def iteration_ends(self, time_step):
        """After each epoch: the "invscaling" schedule's new rate."""
        if self.lr_schedule == "invscaling":
            self.learning_rate = float(self.learning_rate_init) / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg, verbose):
        """Training stalled: stop, or (adaptive schedule) divide the rate by 5 and go on.

        Returns
        -------
        is_stopping : bool
        """
        if self.lr_schedule != "adaptive":
            return super().trigger_stopping(msg, verbose)
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + " Setting learning rate to %f" % self.learning_rate)
        return False


class Adam(_Optimizer):
    """Adam: per-parameter steps from running moments of the gradient.

    The update, as in the paper and scikit-learn, with ``t`` the step count::

        m      <- beta_1 * m + (1 - beta_1) * g
        v      <- beta_2 * v + (1 - beta_2) * g^2
        lr_t    = learning_rate_init * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        params <- params + (-lr_t * m) / (sqrt(v) + epsilon)

    Parameters
    ----------
    n_params : int
    dtype : numpy dtype
    learning_rate_init : float, default=0.001
    beta_1, beta_2 : float, default=0.9, 0.999
    epsilon : float, default=1e-8

    Attributes
    ----------
    m, v : ndarray of shape (n_params,)
        First and second moment estimates.
    t : int
        Number of steps taken.
    learning_rate : float
        The last step's ``lr_t``.

    References
    ----------
    Kingma and Ba (2014). "Adam: A method for stochastic optimization."
    arXiv:1412.6980.
    """

    _STATE_ARRAYS = ("m", "v")
    _STATE_SCALARS = ("learning_rate", "t")

    def __init__(self, n_params, dtype, learning_rate_init=0.001, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8):
        super().__init__(learning_rate_init)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0
        self.m = np.zeros(n_params, dtype=dtype)
        self.v = np.zeros(n_params, dtype=dtype)

    def step(self, params, grad, *, alpha=0.0, scale=1, n_coefs=0):
        """Update ``params`` in place (arguments as in :meth:`SGD.step`)."""
        self.t += 1
        self.learning_rate = (
            self.learning_rate_init * np.sqrt(1 - self.beta_2**self.t) / (1 - self.beta_1**self.t)
        )
        kernels = _config.kernels()
        if kernels is not None and _kernel_ok(params, (grad, self.m, self.v), (alpha, scale)):
            kernels.adam_step(params, grad, self.m, self.v, n_coefs, alpha, scale, self.beta_1,
                              self.beta_2, self.learning_rate, self.epsilon)
            return
        m, v = self.m, self.v
        dt = m.dtype.type  # Python-float hyper-parameters take the state's dtype
        b1, b2, eps = dt(self.beta_1), dt(self.beta_2), dt(self.epsilon)
        c1, c2 = dt(1 - self.beta_1), dt(1 - self.beta_2)
        tmp = self._work(m)
        if alpha or scale != 1:
            finish_gradient(grad, params, n_coefs, alpha, scale,
                            scratch=tmp if m.dtype == params.dtype else None)
        m *= b1
        np.multiply(grad, c1, out=tmp)
        m += tmp
        v *= b2
        np.multiply(grad, grad, out=tmp)
        tmp *= c2
        v += tmp
        # (-lr_t * m) / (sqrt(v) + epsilon): lr_t is a float64 scalar, so this is float64
        # (a work array of its own only for a float32 state); grad is spent: it holds the
        # denominator
        update = tmp if tmp.dtype == np.float64 else self._work(m, np.float64, "update")
        np.multiply(m, -np.float64(self.learning_rate), out=update)
        denominator = np.sqrt(v, out=grad)
        denominator += eps
        update /= denominator
        params += update


def _kernel_ok(params, arrays, scalars):
    """Whether a fused kernel computes exactly what the numpy step would.

    The kernels take one dtype for everything: every array must have the parameters'
    dtype, and every scalar be a Python number (numpy gives it the arrays' dtype) or a
    numpy scalar that the arrays' dtype holds exactly (the sum of float32 sample weights
    dividing float64 sums).
    """
    dtype = params.dtype
    return (all(a.dtype == dtype for a in arrays)
            and all(type(x) in (int, float, bool)
                    or np.can_cast(getattr(x, "dtype", object), dtype, "safe")
                    for x in scalars))
