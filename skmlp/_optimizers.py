"""Stochastic optimizers that update the flat parameter vector in place.

Each optimizer keeps its state (velocity, first and second moments, step
count) as flat arrays the size of ``params``, and one scratch array, so a step
is a handful of whole-vector ufunc calls and allocates nothing. The learning
rate schedules and stopping rules are scikit-learn's, so the two can be
compared step for step.
"""

import numpy as np


class SGD:
    """Stochastic gradient descent with (Nesterov) momentum.

    The update, as in scikit-learn::

        v      <- momentum * v - lr * g
        params <- params + v                              (classical momentum)
        params <- params + momentum * v - lr * g          (Nesterov)

    Parameters
    ----------
    n_params : int
    dtype : numpy dtype
    learning_rate_init : float, default=0.1
    lr_schedule : {"constant", "invscaling", "adaptive"}, default="constant"
        ``"invscaling"`` sets ``lr = learning_rate_init / (t + 1) ** power_t``
        after each epoch, ``t`` being the number of samples seen;
        ``"adaptive"`` divides ``lr`` by 5 each time training stalls (see
        ``trigger_stopping``).
    momentum : float, default=0.9
    nesterov : bool, default=True
    power_t : float, default=0.5

    References
    ----------
    Sutskever, Martens, Dahl and Hinton (2013). "On the importance of
    initialization and momentum in deep learning." ICML.
    """

    def __init__(self, n_params, dtype, learning_rate_init=0.1, lr_schedule="constant",
                 momentum=0.9, nesterov=True, power_t=0.5):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.nesterov = nesterov
        self.power_t = power_t
        self.velocity = np.zeros(n_params, dtype=dtype)
        #: work space, free between steps (the network uses it for the L2 term)
        self.scratch = np.empty(n_params, dtype=dtype)

    def step(self, params, grad):
        """Apply one update to ``params`` in place, given the gradient ``grad``."""
        v, lr_g = self.velocity, self.scratch
        np.multiply(grad, self.learning_rate, out=lr_g)
        v *= self.momentum
        v -= lr_g
        if self.nesterov:
            params -= lr_g
            np.multiply(v, self.momentum, out=lr_g)
            params += lr_g
        else:
            params += v

    def iteration_ends(self, time_step):
        """End of an epoch; ``time_step`` is the number of samples seen so far."""
        if self.lr_schedule == "invscaling":
            self.learning_rate = float(self.learning_rate_init) / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg, verbose):
        """Training stalled: stop, or (adaptive schedule) divide the rate by 5 and go on.

        Returns
        -------
        is_stopping : bool
        """
        if self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + " Setting learning rate to %f" % self.learning_rate)
        return False


class Adam:
    """Adam: per-parameter steps from running moments of the gradient.

    The update, as in the paper (and scikit-learn), with ``t`` the step count::

        m      <- beta_1 * m + (1 - beta_1) * g
        v      <- beta_2 * v + (1 - beta_2) * g^2
        lr_t    = learning_rate_init * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        params <- params - lr_t * m / (sqrt(v) + epsilon)

    Parameters
    ----------
    n_params : int
    dtype : numpy dtype
    learning_rate_init : float, default=0.001
    beta_1, beta_2 : float, default=0.9, 0.999
    epsilon : float, default=1e-8

    References
    ----------
    Kingma and Ba (2014). "Adam: A method for stochastic optimization."
    arXiv:1412.6980.
    """

    def __init__(self, n_params, dtype, learning_rate_init=0.001, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0
        self.m = np.zeros(n_params, dtype=dtype)
        self.v = np.zeros(n_params, dtype=dtype)
        #: work space, free between steps (the network uses it for the L2 term)
        self.scratch = np.empty(n_params, dtype=dtype)

    def step(self, params, grad):
        """Apply one update to ``params`` in place, given the gradient ``grad``."""
        m, v, tmp = self.m, self.v, self.scratch
        self.t += 1
        # m += (1 - beta_1) (g - m) is beta_1 m + (1 - beta_1) g in one fewer pass
        np.subtract(grad, m, out=tmp)
        tmp *= 1.0 - self.beta_1
        m += tmp
        np.multiply(grad, grad, out=tmp)
        tmp -= v
        tmp *= 1.0 - self.beta_2
        v += tmp
        self.learning_rate = (
            self.learning_rate_init * np.sqrt(1.0 - self.beta_2**self.t) / (1.0 - self.beta_1**self.t)
        )
        np.sqrt(v, out=tmp)
        tmp += self.epsilon
        np.divide(m, tmp, out=tmp)
        tmp *= self.learning_rate
        params -= tmp

    def iteration_ends(self, time_step):
        """End of an epoch: nothing to do for Adam."""

    def trigger_stopping(self, msg, verbose):
        """Training stalled: Adam always stops."""
        if verbose:
            print(msg + " Stopping.")
        return True
