"""The elementwise steps of a training batch, in numpy: the reference implementation.

Everything a batch does besides its matrix products is one of these few steps. Each is
written here as plain numpy, in scikit-learn's order of operations; ``_kernels.py``
has a numba twin of the same name that does the step in one pass over memory. Which
one runs is decided per call by ``skmlp._config`` (numba when it is installed and not
switched off).
"""

from ._activations import ACTIVATIONS, DERIVATIVES, NEEDS_PREACTIVATION


def bias_activation(Z, b, activation, *, keep=None, mask=None):
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
    """
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


def activation_derivative(A, delta, activation, *, mask=None):
    """``delta <- delta * mask * f'(Z)`` in place, ``f'`` written from the output ``A``.

    ``A`` is what :func:`bias_activation` kept when it kept something (GELU's
    pre-activation, the activation before dropout), the layer's output otherwise.
    """
    if mask is not None:
        delta *= mask
    DERIVATIVES[activation](A, delta)
    return delta


def output_error(P, Y, sample_weight=None):
    """The error at the last pre-activation, ``(P - Y) * sample_weight``, in place of ``P``.

    Softmax with cross-entropy, logistic with binary cross-entropy, identity with
    squared error and exp with the Poisson deviance are all canonical pairs, so the
    output's Jacobian cancels the loss's and the error is just ``P - Y``.
    """
    P -= Y
    if sample_weight is not None:
        P *= sample_weight.reshape(-1, 1)
    return P


def column_sums(delta, out):
    """``out[j] = sum_i delta[i, j]``: the raw bias gradient."""
    return delta.sum(axis=0, out=out)
