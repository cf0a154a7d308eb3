"""The elementwise steps of a training batch: numpy reference, numba twin when given.

Everything a batch does besides its matrix products is one of these few steps. Each
is written here in numpy, in scikit-learn's order of operations: this is the math to
read. ``skmlp._kernels`` has a numba twin of each that does the step in one pass over
memory; a step runs it when the caller passes the kernels module (``kernels=``, from
``skmlp._config.kernels()``) and the twin covers the case (the four activations
MLPClassifier has, arrays of one dtype). Twins are bitwise equal to the numpy here, so
the kernels change the speed, never the model. The output step has no twin (see
:func:`output_loss_error`).
"""

import numpy as np

from ._activations import ACTIVATIONS, DERIVATIVES, LOSSES, NEEDS_PREACTIVATION, OUTPUTS


def bias_activation(Z, b, activation, *, keep=None, mask=None, kernels=None):
    """``Z <- f(Z + b)`` in place, for a hidden layer; then inverted dropout.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, units)
        ``A_prev @ W``, overwritten with the layer's activation.
    b : ndarray of shape (units,)
    activation : str
    keep : ndarray of shape (n_samples, units) or None
        Receives what the derivative needs besides the output: GELU's
        pre-activation, or (with dropout) the activation before the mask. None when
        nothing is to be kept (prediction).
    mask : ndarray of shape (n_samples, units) or None
        Dropout multipliers, 0 or ``1 / (1 - rate)``.
    kernels : module or None
        ``skmlp._kernels``, to run the numba twin.
    """
    if kernels is not None and activation in kernels.ACTIVATIONS and b.dtype == Z.dtype:
        return kernels.bias_activation(Z, b, activation, keep=keep, mask=mask)
    Z += b
    if activation in NEEDS_PREACTIVATION and keep is not None:
        keep[...] = Z
        ACTIVATIONS[activation](keep, out=Z)
    else:
        ACTIVATIONS[activation](Z)
        if mask is not None:
            keep[...] = Z
    if mask is not None:
        Z *= mask
    return Z


def activation_derivative(A, delta, activation, *, mask=None, kernels=None):
    """``delta <- delta * mask * f'(Z)`` in place, ``f'`` written from the output ``A``.

    ``A`` is what :func:`bias_activation` kept when it kept something (GELU's
    pre-activation, the activation before dropout), the layer's output otherwise.
    ``delta`` may be wider than ``A`` (float64 errors of float32 activations): ``f'``
    is then computed in ``A``'s dtype, as scikit-learn's ``1 - A`` is.
    """
    if kernels is not None and activation in kernels.ACTIVATIONS and A.dtype == delta.dtype:
        return kernels.activation_derivative(A, delta, activation, mask=mask)
    if mask is not None:
        delta *= mask
    DERIVATIVES[activation](A, delta)
    return delta


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


def column_sums(delta, out, *, kernels=None):
    """``out[j] = sum_i delta[i, j]``: the raw bias gradient."""
    if kernels is not None:
        return kernels.column_sums(delta, out)
    return delta.sum(axis=0, out=out)
