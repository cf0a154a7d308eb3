"""The one seam between the numpy reference and the numba kernels.

Everything a training batch does besides its matrix products is one of the steps
below, and every choice between a step's numpy code and its numba twin
(``skmlp._kernels``) is made here, by one rule; no other module decides to use the
kernels (``skmlp._config`` only loads them, and ``skmlp._epoch_loop``, which calls
them from inside its compiled epoch, is itself reached only through
:func:`compiled_epoch`). The numpy code is the math to read, in
scikit-learn's order of operations; the twin does the same step in one pass over
memory and is bitwise equal to it, so the kernels change the speed, never the model
(``tests/test_kernels.py`` pins each pair together).

The rule, for every step: the twin runs when

1. the caller asks for it (``fused=True``): training batches and optimizer steps do;
   prediction and validation do not, so predicting never imports numba;
2. the kernels are on in this thread: ``skmlp.use_kernels`` (a ``with`` block, this
   thread only, as ``sklearn.config_context``), else ``skmlp.set_kernels`` (the
   process), else ``SKMLP_DISABLE_NUMBA``; and they loaded and passed their probe
   (:func:`skmlp._config.kernels`, which loads them at the first training step);
3. the twin covers the case: an activation it has (``_kernels.ACTIVATIONS``), and one
   dtype for every array (float64 errors of float32 activations, as scikit-learn has
   with float64 targets, take numpy), every scalar held exactly by that dtype;
4. numpy's floating-point error modes ask for no more than a warning: under
   ``np.errstate(over="raise")`` and the like numpy's code runs, which raises where
   scikit-learn raises (numba's code cannot act on the flags).

Otherwise the numpy code runs. The output step has no twin (see
:func:`output_loss_error`).

Shapes: ``Z``, ``A``, ``delta``, ``keep`` and ``mask`` are (n_samples, units), ``b``
(units,); the optimizer steps work on flat vectors of shape (n_params,), weights first.
"""

import pickle
import warnings
from typing import NamedTuple

import numpy as np

from . import _config
from ._activations import ACTIVATIONS, LOSSES, OUTPUTS
from ._numerics import strict_fp_errors


def _twins(fused):
    """The kernels module when rules 1, 2 and 4 hold, else None: the one way to reach it."""
    return _config.kernels() if fused and not strict_fp_errors() else None


def _one_dtype(dtype, arrays, scalars=()):
    """Rule 3's dtype part: every array an ndarray of ``dtype``; every scalar a Python
    number (numpy gives it the arrays' dtype) or a numpy scalar ``dtype`` holds exactly
    (the sum of float32 sample weights dividing float64 sums)."""
    return (all(isinstance(a, np.ndarray) and a.dtype == dtype for a in arrays)
            and all(type(x) in (int, float, bool)
                    or np.can_cast(getattr(x, "dtype", object), dtype, "safe")
                    for x in scalars))


def _plain(dtype, scalars):
    """Whether numpy computes with each optimizer hyper-parameter in ``scalars`` beside
    arrays of ``dtype`` in that dtype, as the twins do: a Python number (numpy gives it
    the arrays' dtype), or a float64 scalar beside float64 arrays. Another numpy scalar
    changes the step's dtype in numpy, and in scikit-learn: ``np.float64(0.9) * m``
    makes float32 moments float64, and a float32 ``beta_2`` makes Adam's ``lr_t``
    float32."""
    dtype = np.dtype(dtype)
    return all(type(x) in (int, float, bool) or type(x) is np.float64 and dtype == np.float64
               for x in scalars)


# --- forward ------------------------------------------------------------------------------
def bias_activation(Z, b, activation, *, keep=None, mask=None, fused=False):
    """``Z <- f(Z + b)`` in place, for a hidden layer; then inverted dropout.

    Contract: ``Z += b``, then ``Z = f(Z)`` with ``ACTIVATIONS[activation].function``,
    in ``Z``'s dtype (numpy's in-place add casts ``b``). What the derivative will need
    goes to ``keep``: ``Z + b`` for an activation whose derivative is written from the
    pre-activation, else (with a mask) ``f(Z + b)`` before dropout; then ``Z *= mask``.
    A mask needs a ``keep``. Twin: ``_kernels.bias_activation``, for its activations
    when ``b`` has ``Z``'s dtype; bitwise equal.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, units)
        ``A_prev @ W``, overwritten with the layer's activation.
    b : ndarray of shape (units,)
    activation : str
        A key of ``ACTIVATIONS``.
    keep : ndarray of shape (n_samples, units) or None
        Receives what the derivative needs besides the output: the pre-activation
        (GELU, Mish), or (with dropout) the activation before the mask. None when
        nothing is to be kept (prediction).
    mask : ndarray of shape (n_samples, units) or None
        Dropout multipliers, 0 or ``1 / (1 - rate)``.
    fused : bool, default=False
        Let the numba twin run (see the module docstring).

    Returns
    -------
    Z : ndarray of shape (n_samples, units)
    """
    kernels = _twins(fused)
    if kernels is not None and activation in kernels.ACTIVATIONS and b.dtype == Z.dtype:
        return kernels.bias_activation(Z, b, activation, keep=keep, mask=mask)
    act = ACTIVATIONS[activation]
    Z += b
    if act.needs_preactivation and keep is not None:
        keep[...] = Z
        act.function(keep, out=Z)
    else:
        act.function(Z)
        if mask is not None:
            keep[...] = Z
    if mask is not None:
        Z *= mask
    return Z


# --- backward -----------------------------------------------------------------------------
def activation_derivative(A, delta, activation, *, mask=None, fused=False):
    """``delta <- delta * mask * f'(Z)`` in place, ``f'`` written from the output ``A``.

    Contract: ``delta *= mask`` (when given), then
    ``ACTIVATIONS[activation].derivative(A, delta)``. ``A`` is what
    :func:`bias_activation` kept when it kept something (the pre-activation, or the
    activation before dropout), the layer's output otherwise. ``delta`` may be wider than
    ``A`` (float64 errors of float32 activations): ``f'`` is then computed in ``A``'s
    dtype, as scikit-learn's ``1 - A`` is. Twin: ``_kernels.activation_derivative``, for
    its activations when ``A`` and ``delta`` share a dtype; bitwise equal for finite
    deltas.

    Parameters
    ----------
    A : ndarray of shape (n_samples, units)
    delta : ndarray of shape (n_samples, units)
        The error at the layer's output; overwritten with the error at its
        pre-activation.
    activation : str
    mask : ndarray of shape (n_samples, units) or None
    fused : bool, default=False

    Returns
    -------
    delta : ndarray of shape (n_samples, units)
    """
    kernels = _twins(fused)
    if kernels is not None and activation in kernels.ACTIVATIONS and A.dtype == delta.dtype:
        return kernels.activation_derivative(A, delta, activation, mask=mask)
    if mask is not None:
        delta *= mask
    ACTIVATIONS[activation].derivative(A, delta)
    return delta


def column_sums(delta, out, *, fused=False):
    """``out[j] = sum_i delta[i, j]``: the raw bias gradient.

    Contract: ``delta.sum(axis=0, out=out)``, in numpy's order (row after row; a single
    column pairwise). Twin: ``_kernels.column_sums``, when ``out`` has delta's dtype;
    bitwise equal.

    Parameters
    ----------
    delta : ndarray of shape (n_samples, units)
    out : ndarray of shape (units,)

    Returns
    -------
    out : ndarray of shape (units,)
    """
    kernels = _twins(fused)
    if kernels is not None and out.dtype == delta.dtype:
        return kernels.column_sums(delta, out)
    return delta.sum(axis=0, out=out)


# --- the output layer: numpy only ---------------------------------------------------------
def output_loss_error(Z, Y, sample_weight, out_activation, loss):
    """The output, the loss, and the error at the last pre-activation, in place of ``Z``.

    Softmax with cross-entropy, logistic with binary cross-entropy, identity with
    squared error and exp with the Poisson deviance are all canonical pairs: the
    output's Jacobian cancels the loss's, and the error is just
    ``(P - Y) * sample_weight``.

    Always numpy, never a kernel: the trajectory depends on every bit of this step
    (softmax's ``exp`` is numpy's SIMD one, which libm's differs from by an ulp on some
    inputs; L-BFGS's line search compares loss values), so it is scikit-learn's code,
    with the targets and weights in the dtypes scikit-learn has them in.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_outputs)
        The last layer's pre-activation; overwritten with the error.
    Y : ndarray of shape (n_samples, n_outputs)
        Targets as scikit-learn has them: boolean indicators for classification, the
        validated numbers for regression.
    sample_weight : ndarray of shape (n_samples,) or None
    out_activation, loss : str
        Keys of ``OUTPUTS`` and ``LOSSES``.

    Returns
    -------
    loss : numpy floating
        ``LOSSES[loss](Y, P, sample_weight)``: the (weighted) mean loss of the batch, in
        the dtype numpy gives it there (float64 for the log-losses, whose boolean targets
        ``xlogy`` promotes; float32 for the squared error of float32 targets).
    delta : ndarray of shape (n_samples, n_outputs)
        ``(P - Y) * sample_weight``: ``Z`` itself when ``P - Y`` has ``Z``'s dtype, a
        new array of the wider dtype otherwise (float32 outputs, float64 targets: as in
        scikit-learn, the error and everything computed from it are float64).
    """
    P = OUTPUTS[out_activation](Z)
    value = LOSSES[loss](Y, P, sample_weight)
    if np.result_type(P, Y) == P.dtype:
        delta = np.subtract(P, Y, out=P)
    else:
        delta = P - Y
    if sample_weight is not None:
        delta *= sample_weight.reshape(-1, 1)
    return value, delta


# --- optimizer steps: the fused twin, or the optimizer's own numpy reference --------------
# The numpy reference of an optimizer step lives with the optimizer's state
# (``skmlp._optimizers``: it promotes state arrays and splits them into weights' and
# biases' parts as numpy does). These entry points run the twin when the rule allows and
# say whether they did; the optimizer runs its numpy update when they did not.
def fused_sgd_step(params, grad, velocity, *, n_coefs, alpha, scale, momentum,
                   learning_rate, nesterov):
    """One SGD step by the numba twin, from the raw gradient; False if it does not apply.

    Contract: the same numbers as ``finish_gradient`` followed by ``SGD``'s numpy
    update, bitwise::

        g = grad; g[:n_coefs] += alpha * params[:n_coefs]; g /= scale
        velocity[...] = momentum * velocity - learning_rate * g
        params += momentum * velocity - learning_rate * g   if nesterov else velocity

    every scalar in the parameters' dtype. Twin: ``_kernels.sgd_step``, when the kernels
    are on and ``grad`` and ``velocity`` are flat arrays of the parameters' dtype (not the
    weights'/biases' pair), ``alpha`` and ``scale`` fit it and ``momentum`` and
    ``learning_rate`` are plain (see :func:`_plain`).

    Parameters
    ----------
    params, grad, velocity : ndarray of shape (n_params,)
        ``grad`` holds raw sums (no L2 term, not divided by ``scale``); only read.
    n_coefs : int
    alpha, scale, momentum, learning_rate : float
    nesterov : bool

    Returns
    -------
    bool
        True when the twin updated ``params`` and ``velocity``; False when it did not
        apply and nothing was touched.
    """
    kernels = _twins(True)
    if (kernels is None or not _one_dtype(params.dtype, (grad, velocity), (alpha, scale))
            or not _plain(params.dtype, (momentum, learning_rate))):
        return False
    kernels.sgd_step(params, grad, velocity, n_coefs, alpha, scale, momentum, learning_rate,
                     nesterov)
    return True


def fused_adam_step(params, grad, m, v, *, n_coefs, alpha, scale, beta_1, beta_2,
                    step_size, epsilon):
    """One Adam step by the numba twin, from the raw gradient; False if it does not apply.

    Contract: the same numbers as ``finish_gradient`` followed by ``Adam``'s numpy
    update, bitwise::

        g = grad; g[:n_coefs] += alpha * params[:n_coefs]; g /= scale
        m *= beta_1; m += (1 - beta_1) * g
        v *= beta_2; v += (1 - beta_2) * (g * g)
        params += (-step_size * m) / (sqrt(v) + epsilon)

    scalars in the parameters' dtype except ``step_size`` (``lr_t``), a float64 scalar
    as in scikit-learn: with float32 arrays the update is float64, rounded into
    ``params``. Twin: ``_kernels.adam_step``, under the conditions of
    :func:`fused_sgd_step`, ``beta_1``, ``beta_2`` and ``epsilon`` plain.

    Parameters
    ----------
    params, grad, m, v : ndarray of shape (n_params,)
    n_coefs : int
    alpha, scale, beta_1, beta_2, step_size, epsilon : float

    Returns
    -------
    bool
        True when the twin updated ``params``, ``m`` and ``v``; False otherwise.
    """
    kernels = _twins(True)
    if (kernels is None or not _one_dtype(params.dtype, (grad, m, v), (alpha, scale))
            or not _plain(params.dtype, (beta_1, beta_2, epsilon))):
        return False
    if kernels.adam_step(params, grad, m, v, n_coefs, alpha, scale, beta_1, beta_2, step_size,
                         epsilon):
        overflow_in_square(params.dtype)
    return True


def overflow_in_square(dtype):
    """Have numpy report an overflow in ``square``, as the numpy step would have.

    Compiled code leaves no floating-point flags for numpy to see, so where a kernel saw
    ``g * g`` overflow (a gradient above ~1e154 in float64, ~1e19 in float32: Adam's
    step stays finite, its second moment becomes inf) numpy squares its largest finite
    value, and says what it says under the ``np.errstate`` in force: scikit-learn's
    ``RuntimeWarning: overflow encountered in square`` by default, a
    ``FloatingPointError`` under ``over="raise"``, nothing under ``"ignore"``.
    """
    np.square(np.array([np.finfo(dtype).max], dtype))


class StoppedEpoch(NamedTuple):
    """A compiled epoch that stopped at a batch whose loss is not finite, before its step.

    The compiled code cannot give numpy's floating-point warnings, so ``run_epoch`` goes
    on in numpy from ``batch`` (which warns as the whole epoch in numpy would from there,
    and computes the same numbers), its running loss sum starting from ``total``.
    """

    batch: int
    total: float


# --- a whole epoch: the compiled loop, or the caller's Python loop ------------------------
def compiled_epoch(net, optimizer, X, Y, sample_weight, batch_size, *, alpha, order, dropout,
                   rng, extras=None):
    """One epoch in one numba call (``skmlp._epoch_loop``), or None.

    Contract: the same numbers as ``skmlp._solvers.run_epoch`` (its loss, parameters,
    optimizer state and the dropout Generator's state afterwards), bitwise: the loop calls
    numpy's own BLAS with numpy's matmul arguments, numpy's own ``exp``/``tanh`` loops and
    the twins above (see ``skmlp._epoch_loop``). Used when the kernels are on and
    ``_epoch_loop.covers`` the configuration (dense X of the network's dtype, sgd/adam with
    one-dtype state, the twins' activations, any output, sample weights, dropout, the step
    extras: schedule, weight decay, clipping, weight average); None
    otherwise, with nothing changed, and the caller runs the Python loop. The module
    (numba's binding of numpy's BLAS) is imported on the first covered epoch only.

    The compiled code cannot give numpy's floating-point warnings: at the first batch
    whose loss is not finite it stops, before that batch's step, and returns a
    :class:`StoppedEpoch`; ``run_epoch`` goes on from there in numpy, which warns. An
    overflowing square in Adam's step is reported through :func:`overflow_in_square`;
    any other overflow that leaves the loss finite passes without its warning.

    Returns
    -------
    loss : numpy floating, StoppedEpoch or None
    """
    if _COMPILED_EPOCH["failed"] or _twins(True) is None:
        return None
    from numba.core.errors import NumbaError

    try:
        from . import _epoch_loop  # binds numpy's BLAS library by name
    except Exception as error:  # a broken numba or llvmlite, whatever it raises
        _compiled_epoch_failed(error)
        return None
    for attempt in (1, 2):
        try:
            return _epoch_loop.run_epoch_compiled(net, optimizer, X, Y, sample_weight,
                                                  batch_size, alpha=alpha, order=order,
                                                  dropout=dropout, rng=rng, extras=extras)
        except (_epoch_loop.LoopUnavailable, pickle.UnpicklingError, EOFError, OSError,
                NumbaError) as error:
            # raised while numba loads or compiles the loop, before it runs (the loop itself
            # raises none of these): a damaged cache file is flushed, the loop's and the
            # kernels' it calls, and the loop compiled afresh; if that fails too, the
            # Python loop trains (the same numbers)
            if attempt == 1:
                try:
                    _config._flush_cache(_epoch_loop)
                    _config._flush_cache(_config.kernels())
                except OSError:  # a full disk, a read-only cache: compiling fails next
                    pass
                continue
            _compiled_epoch_failed(error)
    return None


def compiled_epochs(net, optimizer, X, Y, sample_weight, *, dropout, rng, gathered,
                    extras=None, alpha=0.0):
    """Whether :func:`compiled_epoch` would train this fit's epochs (any valid ``order``
    when ``gathered``, else ``order=None``).

    The driver asks before each epoch: a compiled epoch cannot be cut short by Ctrl-C,
    so it needs no checkpoint to go back to. Imports the loop's module only where the
    kernels are on (numba is then loaded already); when that import fails, says why
    (once, as :func:`compiled_epoch` does) and answers False from then on.
    """
    if _COMPILED_EPOCH["failed"] or _twins(True) is None:
        return False
    try:
        from . import _epoch_loop
    except Exception as error:  # a broken numba or llvmlite, whatever it raises
        _compiled_epoch_failed(error, stacklevel=4)  # one call less deep than the epoch's
        return False
    # row 0 stands in for the epochs' orders: any valid one gets the same answer
    return _epoch_loop.covers(net, optimizer, X, Y, sample_weight, dropout=dropout, rng=rng,
                              order=_ROW_0 if gathered else None, extras=extras,
                              alpha=alpha)


def _compiled_epoch_failed(error, stacklevel=5):
    """The compiled loop cannot be used in this process: say why, once."""
    _COMPILED_EPOCH["failed"] = True
    warnings.warn(
        f"skmlp's compiled epoch loop cannot be used ({type(error).__name__}: {error}); "
        "training runs the Python loop, which computes the same model.",
        _config.KernelWarning, stacklevel=stacklevel)


#: Whether the compiled epoch loop failed to load in this process (then never tried again).
_COMPILED_EPOCH = {"failed": False}
_ROW_0 = np.zeros(1, np.intp)  # a valid order of any X with rows (see compiled_epochs)
