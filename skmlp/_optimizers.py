"""Stochastic optimizers that update the flat parameter vector in place.

Each optimizer keeps its state (velocity, or first and second moments and a step
count) as flat arrays the size of ``params``. The update formulas, learning-rate
schedules and stopping rules are scikit-learn's (``_stochastic_optimizers.py``),
operation for operation, so the two can be compared step for step.

``step`` takes the gradient either finished (the default) or as raw sums with the
L2 term and the division by the batch weight still to do (``alpha``, ``scale``): the
training loop passes raw sums, so that the numba twin can finish the gradient and
update the parameters in one pass over memory. Whether the twin runs is decided in
``skmlp._ops`` (``fused_sgd_step``, ``fused_adam_step``), as for every other step of a
batch; otherwise the numpy code below runs: the same numbers.

Dtypes are scikit-learn's, which lets numpy promote. A Python-float hyper-parameter
takes the dtype of the array it multiplies (``lr * g`` in the gradient's, ``momentum *
v`` in the state's); a numpy scalar keeps its own dtype where it is wider (a grid of
``np.linspace`` momenta makes float32 velocities float64, see :func:`_typed`). Adam's
step size ``lr_t`` is a float64 scalar there, so its update is computed in float64 and
then added to the parameters (float32 parameters: rounded once, at the add). A state
array takes the widest dtype of the gradients it has seen (float64 targets, or a float64
``partial_fit`` batch, make it float64 for good), and float64 sample weights with
float32 data make the biases' gradients, and so their state, float64 while the weights'
stay float32 (see ``_Optimizer``). The twins run only where every array has the
parameters' dtype and every scalar fits it (``_ops._plain``); anything else takes the
numpy code, which follows numpy's rules as scikit-learn's code does.
"""

import copy

import numpy as np

from . import _ops
from ._numerics import finish_gradient


class _Optimizer:
    """What SGD and Adam share: a learning rate, work arrays, and the stopping rule.

    Each state array (``velocity``; ``m`` and ``v``) is one flat array, or, once the
    weights' and the biases' gradients differ in dtype, a pair ``(weights' part,
    biases' part)``: scikit-learn divides float32 bias sums by a float64 sum of sample
    weights into float64, and numpy then promotes the biases' state to float64 while
    the weights' stays float32. A state array is promoted, as numpy does, at the first
    step whose gradient is wider.
    """

    #: the state a step changes: arrays, then scalars (see ``checkpoint``)
    _STATE_ARRAYS = ()
    _STATE_SCALARS = ("learning_rate",)
    #: the hyper-parameters a step multiplies arrays by (see ``plain``)
    _HYPER = ()

    def __init__(self, learning_rate_init):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self._scratch = None

    def _work(self, like, dtype=None, name="tmp"):
        """A work array shaped like ``like``, kept between steps (see :meth:`release`)."""
        dtype = like.dtype if dtype is None else np.dtype(dtype)
        work = self._scratch
        if work is None:
            work = self._scratch = {}
        key = (name, like.size, dtype)
        a = work.get(key)
        if a is None:
            a = work[key] = np.empty(like.shape, dtype)
        return a

    def release(self):
        """Free the work arrays (a fit does this when it ends)."""
        self._scratch = None

    def checkpoint(self, into=None):
        """A copy of the state the steps change, to :meth:`restore` later.

        ``into``, an earlier checkpoint, is overwritten instead of allocating anew (a fit
        takes one at the start of every epoch, to undo an epoch cut short by Ctrl-C).
        """
        into = {} if into is None else into
        for name in self._STATE_ARRAYS:
            into[name] = _copy_state(getattr(self, name), into.get(name))
        for name in self._STATE_SCALARS:
            into[name] = getattr(self, name)
        return into

    @property
    def n_params(self):
        """Length of the parameter vector the state is for."""
        return sum(a.size for a in _parts(getattr(self, self._STATE_ARRAYS[0])))

    def copy(self):
        """An independent copy."""
        other = copy.copy(self)
        for name in self._STATE_ARRAYS:
            setattr(other, name, _copy_state(getattr(self, name)))
        other._scratch = None
        return other

    def restore(self, checkpoint):
        """Go back to the state of a :meth:`checkpoint`."""
        for name in self._STATE_ARRAYS:
            setattr(self, name, _copy_state(checkpoint[name], getattr(self, name)))
        for name in self._STATE_SCALARS:
            setattr(self, name, checkpoint[name])

    def plain(self, dtype):
        """Whether every hyper-parameter of a step computes in ``dtype``: the fused twins'
        and the compiled loop's condition (see ``_ops._plain``)."""
        return _ops._plain(dtype, [getattr(self, name) for name in self._HYPER])

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_scratch"] = None
        return state

    def _finish(self, params, grad, *, alpha, scale, n_coefs):
        """The finished gradient: ``(grad, grad_intercepts)`` (see ``finish_gradient``)."""
        if alpha or scale != 1:
            # alpha * W goes to the work array the step uses next (same shape and dtype)
            return finish_gradient(grad, params, n_coefs, alpha, scale,
                                   scratch=self._work(params))
        return grad, grad[n_coefs:]

    def _uniform(self, grad, grad_intercepts):
        """Whether gradient and state have one dtype throughout (the common case: one
        update over the whole vector, nothing to promote)."""
        dtype = grad.dtype
        if grad_intercepts.dtype != dtype:
            return False
        for name in self._STATE_ARRAYS:
            a = getattr(self, name)
            if isinstance(a, tuple) or a.dtype != dtype:
                return False
        return True

    def _groups(self, params, grad, grad_intercepts, n_coefs):
        """Pair the parameters, gradient and state by dtype.

        Returns a list of ``(params, grad, state)``, ``state`` a dict of the state
        arrays (or their parts): one entry for the whole vector, or two (weights,
        biases) when their gradients or states differ in dtype. The step widens a state
        array with :func:`_promote` where it meets a wider gradient, after scaling it in
        its own dtype (as numpy evaluates ``beta * m + (1 - beta) * g``), and hands the
        groups back to :meth:`_store`.
        """
        states = {name: getattr(self, name) for name in self._STATE_ARRAYS}
        if (grad_intercepts.dtype == grad.dtype
                and not isinstance(states[self._STATE_ARRAYS[0]], tuple)):
            return [(params, grad, states)]
        parts = {name: _split(a, n_coefs) for name, a in states.items()}
        return [(params[:n_coefs], grad[:n_coefs], {k: v[0] for k, v in parts.items()}),
                (params[n_coefs:], grad_intercepts, {k: v[1] for k, v in parts.items()})]

    def _store(self, groups):
        """Keep the state arrays the step left in ``groups`` (see :meth:`_groups`)."""
        for name in self._STATE_ARRAYS:
            parts = tuple(state[name] for _, _, state in groups)
            setattr(self, name, parts if len(parts) > 1 else parts[0])

    def iteration_ends(self, time_step):
        """End of an epoch; ``time_step`` is the number of samples seen so far."""

    def trigger_stopping(self, msg, verbose):
        """Training stalled: stop (True), or go on with a smaller step (False)."""
        if verbose:
            print(msg + " Stopping.")
        return True


def _parts(state):
    """A state array as the tuple of its parts (one, or weights' and biases')."""
    return state if isinstance(state, tuple) else (state,)


def _split(state, n_coefs):
    """A state array as ``(weights' part, biases' part)``."""
    return state if isinstance(state, tuple) else (state[:n_coefs], state[n_coefs:])


def _typed(x, a):
    """The hyper-parameter ``x`` as numpy computes with it beside the array ``a``.

    A Python number takes ``a``'s dtype; a numpy scalar keeps its own where that is
    wider: ``np.float64(0.9) * m`` is float64 for float32 ``m``, in numpy and so in
    scikit-learn's step.
    """
    return np.result_type(a, x).type(x)


def _promote(a, dtype):
    """``a``, or a copy in ``dtype`` when that is wider (numpy's promotion of a state)."""
    wide = np.promote_types(a.dtype, dtype)
    return a if wide == a.dtype else a.astype(wide)


def _copy_state(state, into=None):
    """A copy of a state array (or pair), written into ``into`` when it has its layout."""
    same_layout = (
        into is not None and isinstance(into, tuple) == isinstance(state, tuple)
        and len(_parts(into)) == len(_parts(state))
        and all(x.shape == y.shape and x.dtype == y.dtype
                for x, y in zip(_parts(into), _parts(state)))
    )
    if same_layout:
        for x, y in zip(_parts(into), _parts(state)):
            np.copyto(x, y)
        return into
    copies = tuple(np.array(a) for a in _parts(state))
    return copies if isinstance(state, tuple) else copies[0]


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
    _HYPER = ("momentum", "learning_rate")

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
        if _ops.fused_sgd_step(params, grad, self.velocity, n_coefs=n_coefs, alpha=alpha,
                               scale=scale, momentum=self.momentum,
                               learning_rate=self.learning_rate, nesterov=self.nesterov):
            return
        grad, grad_intercepts = self._finish(params, grad, alpha=alpha, scale=scale,
                                             n_coefs=n_coefs)
        if self._uniform(grad, grad_intercepts):
            self.velocity = self._update(params, grad, self.velocity)
            return
        groups = self._groups(params, grad, grad_intercepts, n_coefs)
        for p, g, state in groups:
            state["velocity"] = self._update(p, g, state["velocity"])
        self._store(groups)

    def _update(self, p, g, v):
        """The update of one group in place; returns ``v`` (a wider copy where ``g`` or a
        numpy-scalar hyper-parameter is wider: numpy's promotion, in its order)."""
        lr = _typed(self.learning_rate, g)
        lr_g = np.multiply(g, lr, out=self._work(g, lr.dtype))
        momentum = _typed(self.momentum, v)
        v = _promote(v, momentum.dtype)
        v *= momentum
        v = _promote(v, lr_g.dtype)
        v -= lr_g
        if self.nesterov:
            # v is now at least as wide as momentum and lr_g: the update has v's dtype
            update = np.multiply(v, v.dtype.type(self.momentum),
                                 out=g if g.dtype == v.dtype else self._work(v, name="up"))
            update -= lr_g
            p += update
        else:
            p += v
        return v

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
    _HYPER = ("beta_1", "beta_2", "epsilon")

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
        if _ops.fused_adam_step(params, grad, self.m, self.v, n_coefs=n_coefs, alpha=alpha,
                                scale=scale, beta_1=self.beta_1, beta_2=self.beta_2,
                                step_size=self.learning_rate, epsilon=self.epsilon):
            return
        grad, grad_intercepts = self._finish(params, grad, alpha=alpha, scale=scale,
                                             n_coefs=n_coefs)
        if self._uniform(grad, grad_intercepts):
            self.m, self.v = self._update(params, grad, self.m, self.v)
            return
        groups = self._groups(params, grad, grad_intercepts, n_coefs)
        for p, g, state in groups:
            state["m"], state["v"] = self._update(p, g, state["m"], state["v"])
        self._store(groups)

    def _update(self, p, g, m, v):
        """The update of one group in place; returns ``(m, v)`` (wider copies where ``g``
        or a numpy-scalar hyper-parameter is wider: numpy's promotion, in its order)."""
        tmp = self._work(g)
        beta_1 = _typed(self.beta_1, m)
        m = _promote(m, beta_1.dtype)
        m *= beta_1
        c_1 = _typed(1 - self.beta_1, g)
        g_1 = np.multiply(g, c_1, out=self._work(g, c_1.dtype))
        m = _promote(m, g_1.dtype)
        m += g_1
        beta_2 = _typed(self.beta_2, v)
        v = _promote(v, beta_2.dtype)
        v *= beta_2
        np.square(g, out=tmp)  # scikit-learn's grad**2 (and its "overflow ... in square")
        c_2 = _typed(1 - self.beta_2, g)
        g_2 = np.multiply(tmp, c_2, out=tmp if c_2.dtype == tmp.dtype
                          else self._work(g, c_2.dtype))
        v = _promote(v, g_2.dtype)
        v += g_2
        # (-lr_t * m) / (sqrt(v) + epsilon): lr_t is a float64 scalar, so this is float64;
        # a spent gradient of that dtype holds it. The denominator is in v's dtype, or
        # epsilon's when that is wider (the spent work array holds it when it can).
        neg_lr = -self.learning_rate
        dtype = np.result_type(m, neg_lr)
        update = g if g.dtype == dtype else self._work(g, dtype, "update")
        np.multiply(m, neg_lr, out=update)
        epsilon = _typed(self.epsilon, v)
        denominator = np.sqrt(v, out=tmp if tmp.dtype == v.dtype else self._work(v, name="den"))
        if epsilon.dtype != denominator.dtype:
            denominator = denominator.astype(epsilon.dtype)
        denominator += epsilon
        if np.result_type(update, denominator) != update.dtype:  # float32 lr_t, float64 den
            update = update.astype(denominator.dtype)
        update /= denominator
        p += update
        return m, v
