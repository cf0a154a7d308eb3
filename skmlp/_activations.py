"""Activation functions, their derivatives, output functions and losses.

Everything here is plain numpy and works in place on arrays of shape
``(n_samples, n_units)``, so the training loop allocates nothing per batch.

Naming follows the tutorial: a layer computes the pre-activation
``Z = A_prev @ W + b`` and the activation ``A = f(Z)``. Each derivative is
written in terms of the *output* ``A`` (``f'(z) = A * (1 - A)`` for the
logistic function, ...), so the forward pass can overwrite ``Z`` with ``A``
and backpropagation needs nothing else. GELU is the one exception: its
derivative cannot be recovered from its output, so the forward pass keeps its
pre-activation (see ``NEEDS_PREACTIVATION``).

Adding an activation is adding a forward function, a derivative and a gain to
the three dicts below, keyed by the name users pass.
"""

import math

import numpy as np

LEAKY_RELU_SLOPE = 0.01
_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_K = 0.044715


# --- hidden activations: A = f(Z), computed in place -----------------------------------
def identity(Z):
    """Leave ``Z`` unchanged: ``f(z) = z``."""
    return Z


def logistic(Z):
    """Logistic sigmoid in place: ``f(z) = 1 / (1 + exp(-z))``.

    Computed from ``e = exp(-|z|)``, which never overflows, as ``1 / (1 + e)``
    for ``z >= 0`` and ``e / (1 + e)`` for ``z < 0``, so small probabilities
    keep their relative precision (``log`` of them stays accurate).
    """
    E = np.abs(Z)
    np.negative(E, out=E)
    np.exp(E, out=E)
    positive = Z >= 0
    np.copyto(Z, E)
    np.copyto(Z, 1.0, where=positive)
    E += 1.0
    Z /= E
    return Z


def tanh(Z):
    """Hyperbolic tangent in place."""
    return np.tanh(Z, out=Z)


def relu(Z):
    """Rectified linear unit in place: ``f(z) = max(z, 0)``."""
    return np.maximum(Z, 0, out=Z)


def leaky_relu(Z):
    """Leaky ReLU in place: ``f(z) = z`` for ``z > 0``, ``0.01 z`` otherwise."""
    return np.multiply(Z, LEAKY_RELU_SLOPE, out=Z, where=Z < 0)


def elu(Z):
    """Exponential linear unit in place: ``f(z) = z`` for ``z > 0``, ``exp(z) - 1`` otherwise."""
    return np.expm1(Z, out=Z, where=Z < 0)


def gelu(Z, out=None):
    """Gaussian error linear unit, tanh approximation.

    ``f(z) = z/2 (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3)))``, the form used by
    BERT and GPT-2 (Hendrycks & Gimpel, 2016). Writes into ``out`` (``Z`` is kept
    for the derivative); ``out=None`` works in place.
    """
    if out is None:
        out = Z
    T = _gelu_tanh(Z)
    T += 1.0
    T *= 0.5
    return np.multiply(Z, T, out=out)


def _gelu_tanh(Z):
    """``tanh(sqrt(2/pi) (z + 0.044715 z^3))``, freshly allocated."""
    T = np.square(Z)
    T *= _GELU_K
    T += 1.0
    T *= Z
    T *= _GELU_C
    return np.tanh(T, out=T)


ACTIVATIONS = {
    "identity": identity,
    "logistic": logistic,
    "tanh": tanh,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "gelu": gelu,
}


# --- derivatives: delta *= f'(z), from the output A (or, for GELU, from Z) -----------------
def identity_derivative(A, delta):
    """``f'(z) = 1``: nothing to do."""


def logistic_derivative(A, delta):
    """``f'(z) = A (1 - A)``."""
    delta *= A
    delta *= 1.0 - A


def tanh_derivative(A, delta):
    """``f'(z) = 1 - A^2``."""
    delta *= 1.0 - np.square(A)


def relu_derivative(A, delta):
    """``f'(z) = 1`` where ``A > 0``, else 0."""
    # multiplying by the boolean mask is ~7x faster than a masked assignment
    np.multiply(delta, A > 0, out=delta)


def leaky_relu_derivative(A, delta):
    """``f'(z) = 1`` where ``A > 0``, else the slope (``A`` has the sign of ``z``)."""
    np.multiply(delta, LEAKY_RELU_SLOPE, out=delta, where=A <= 0)


def elu_derivative(A, delta):
    """``f'(z) = 1`` where ``A > 0``, else ``exp(z) = A + 1``."""
    np.multiply(delta, A + 1.0, out=delta, where=A <= 0)


def gelu_derivative(Z, delta):
    """GELU's derivative from the pre-activation ``Z`` (its output does not determine it).

    With ``t = tanh(u)``, ``u = sqrt(2/pi) (z + 0.044715 z^3)``:
    ``f'(z) = (1 + t)/2 + z/2 (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 z^2)``.
    """
    T = _gelu_tanh(Z)
    D = np.square(Z)
    D *= 3.0 * _GELU_K
    D += 1.0
    D *= _GELU_C * 0.5
    D *= Z
    D *= 1.0 - np.square(T)
    T += 1.0
    T *= 0.5
    D += T
    delta *= D


DERIVATIVES = {
    "identity": identity_derivative,
    "logistic": logistic_derivative,
    "tanh": tanh_derivative,
    "relu": relu_derivative,
    "leaky_relu": leaky_relu_derivative,
    "elu": elu_derivative,
    "gelu": gelu_derivative,
}

#: Activations whose derivative needs the pre-activation ``Z`` rather than ``A``.
NEEDS_PREACTIVATION = frozenset({"gelu"})

#: Initialisation gains, as in the tutorial and PyTorch's ``calculate_gain``: weights are
#: drawn from N(0, (gain / sqrt(fan_in))^2). ReLU-like units zero (about) half of their
#: input's variance, so they get sqrt(2) (He et al., 2015); tanh gets 5/3.
GAINS = {
    "identity": 1.0,
    "logistic": 1.0,
    "tanh": 5.0 / 3.0,
    "relu": math.sqrt(2.0),
    "leaky_relu": math.sqrt(2.0 / (1.0 + LEAKY_RELU_SLOPE**2)),
    "elu": math.sqrt(2.0),
    "gelu": math.sqrt(2.0),
}


# --- output layer + cross-entropy ------------------------------------------------------
def softmax_cross_entropy(Z, Y):
    """Turn logits into softmax probabilities in place; return each row's loss.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_classes)
        Logits; overwritten with the probabilities ``P``.
    Y : ndarray of shape (n_samples, n_classes)
        One-hot targets.

    Returns
    -------
    loss : ndarray of shape (n_samples,)
        ``-sum_k Y_k log P_k``, computed as ``sum_k Y_k (logsumexp(z) - z_k)``
        so it stays finite where ``P`` underflows.

    Notes
    -----
    With softmax and cross-entropy, the error at the logits is just ``P - Y``:
    the backward pass starts from there.
    """
    Z -= Z.max(axis=1, keepdims=True)  # log-sum-exp shift: exp never overflows
    yz = np.einsum("ij,ij->i", Y, Z)
    np.exp(Z, out=Z)
    s = Z.sum(axis=1, keepdims=True)
    Z /= s
    return np.log(s[:, 0]) * Y.sum(axis=1) - yz


def logistic_cross_entropy(Z, Y):
    """Turn logits into independent logistic probabilities in place; return row losses.

    Used for binary targets (one output) and multilabel targets (one output per
    label).

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_outputs)
        Logits; overwritten with the probabilities ``P``.
    Y : ndarray of shape (n_samples, n_outputs)
        0/1 targets.

    Returns
    -------
    loss : ndarray of shape (n_samples,)
        ``-sum_k [Y_k log P_k + (1 - Y_k) log(1 - P_k)]``, computed from the
        logits as ``sum_k [log(1 + exp(z_k)) - Y_k z_k]``.

    Notes
    -----
    As with softmax, the error at the logits is ``P - Y``.
    """
    loss = np.logaddexp(0.0, Z).sum(axis=1)
    loss -= np.einsum("ij,ij->i", Y, Z)
    logistic(Z)
    return loss


def softmax(Z):
    """Softmax of logits, in place."""
    Z -= Z.max(axis=1, keepdims=True)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=1, keepdims=True)
    return Z


def log_softmax(Z):
    """Log of the softmax of logits, in place: ``z - logsumexp(z)``; finite where softmax underflows."""
    Z -= Z.max(axis=1, keepdims=True)
    Z -= np.log(np.exp(Z).sum(axis=1, keepdims=True))
    return Z


def log_logistic(Z):
    """``log(1 / (1 + exp(-z))) = -log(1 + exp(-z))``, stable for any ``z``."""
    return np.negative(np.logaddexp(0.0, -Z), out=Z)


#: Output activations: probabilities and row losses from logits, in place.
OUTPUT_LOSSES = {"softmax": softmax_cross_entropy, "logistic": logistic_cross_entropy}
OUTPUTS = {"softmax": softmax, "logistic": logistic}
LOG_OUTPUTS = {"softmax": log_softmax, "logistic": log_logistic}
