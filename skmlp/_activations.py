"""Activation functions, their derivatives, output functions and losses.

Plain numpy, in place on arrays of shape ``(n_samples, n_units)``. Naming follows
the tutorial: a layer computes the pre-activation ``Z = A_prev @ W + b`` and the
activation ``A = f(Z)``. Each derivative is written in terms of the *output*
``A`` (``f'(z) = A (1 - A)`` for the logistic function, ...), so the forward pass
can overwrite ``Z`` with ``A`` and backpropagation needs nothing else. GELU is the
one exception: its derivative cannot be recovered from its output, so the forward
pass keeps its pre-activation (``Activation.derivative_needs``).

The four activations MLPClassifier has, the output functions and the losses are
written exactly as scikit-learn's ``neural_network/_base.py`` writes them (same
operations in the same order), so the two train the same model to rounding.

Each hidden activation is one :class:`Activation` entry of ``ACTIVATIONS``, keyed by
the name users pass: its function, its derivative, what the derivative is written
from, and its initialisation gain. Adding one is writing its two functions and that
entry (and, optionally, a numba twin in ``skmlp._kernels``).
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, xlogy

LEAKY_RELU_SLOPE = 0.01
_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_K = 0.044715
# SELU's constants (Klambauer et al., 2017): with them, N(0, 1) inputs keep mean 0 and
# variance 1 through a layer whose weights have variance 1 / fan_in
SELU_LAMBDA = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772


# --- hidden activations: A = f(Z), in place -------------------------------------------------
def identity(Z):
    """Leave ``Z`` unchanged: ``f(z) = z``."""
    return Z


def logistic(Z):
    """Logistic sigmoid in place: ``f(z) = 1 / (1 + exp(-z))`` (scipy's ``expit``)."""
    return expit(Z, out=Z)


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

    ``f(z) = z/2 (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3)))``, the form used by BERT
    and GPT-2 (Hendrycks & Gimpel, 2016). Writes into ``out`` (``Z`` is kept for the
    derivative); ``out=None`` works in place.
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


def selu(Z):
    """Scaled exponential linear unit in place (Klambauer et al., 2017).

    ``f(z) = lambda z`` for ``z > 0``, ``lambda alpha (exp(z) - 1)`` otherwise, with
    ``lambda = 1.0507...`` and ``alpha = 1.6733...`` (``SELU_LAMBDA``, ``SELU_ALPHA``).
    """
    # as max(z, 0) + alpha expm1(min(z, 0)): ufuncs with where= are ten times slower
    neg = np.minimum(Z, 0)
    np.expm1(neg, out=neg)
    neg *= SELU_ALPHA
    np.maximum(Z, 0, out=Z)
    Z += neg
    Z *= SELU_LAMBDA
    return Z


def mish(Z, out=None):
    """Mish (Misra, 2019): ``f(z) = z tanh(softplus(z))``, ``softplus(z) = log(1 + exp(z))``.

    Writes into ``out`` (``Z`` is kept for the derivative); ``out=None`` works in place.
    """
    if out is None:
        out = Z
    T = _mish_tanh_softplus(Z)[0]
    return np.multiply(Z, T, out=out)


def _mish_tanh_softplus(Z):
    """``tanh(softplus(z))`` and ``exp(z)``, freshly allocated.

    With ``u = exp(z)``, ``tanh(log(1 + u)) = u (u + 2) / (u (u + 2) + 2)``: one ``exp``
    instead of numpy's slow ``logaddexp`` and a ``tanh``. ``z`` is capped at 20, where the
    value is 1 to double precision, so ``u^2`` cannot overflow.
    """
    U = np.minimum(Z, 20.0)
    np.exp(U, out=U)
    T = U + 2.0
    T *= U
    D = T + 2.0
    T /= D
    return T, U


# --- derivatives: delta *= f'(z), from the output A (GELU: from Z) --------------------------
def identity_derivative(A, delta):
    """``f'(z) = 1``: nothing to do."""


def logistic_derivative(A, delta):
    """``f'(z) = A (1 - A)``."""
    delta *= A
    delta *= 1 - A


def tanh_derivative(A, delta):
    """``f'(z) = 1 - A^2``."""
    delta *= 1 - A**2


def relu_derivative(A, delta):
    """``f'(z) = 0`` where ``A == 0``, else 1."""
    # scikit-learn writes delta[A == 0] = 0. Multiplying by the mask is 7x faster than
    # that masked assignment and gives the same numbers for finite deltas (NaN in A keeps
    # its delta, as there); adding 0.0 turns the -0.0 that negative deltas leave into
    # scikit-learn's +0. An infinite delta where A == 0 gives NaN here (0 there): only in
    # a run that has diverged already, which fit reports either way.
    np.multiply(delta, A != 0, out=delta)
    delta += 0.0


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


def selu_derivative(A, delta):
    """``f'(z) = lambda`` where ``A > 0``, else ``lambda alpha exp(z) = A + lambda alpha``."""
    # arithmetic on the 0/1 mask: np.where and masked writes are four times slower
    D = np.add(A, A.dtype.type(SELU_LAMBDA * SELU_ALPHA))
    T = np.subtract(D, A.dtype.type(SELU_LAMBDA))
    T *= A > 0
    D -= T  # lambda (to rounding) where A > 0
    delta *= D


def mish_derivative(Z, delta):
    """Mish's derivative from the pre-activation ``Z`` (its output does not determine it).

    With ``t = tanh(softplus(z))``, ``u = exp(z)`` and ``softplus'(z) = sigmoid(z) =
    u / (1 + u)``: ``f'(z) = t + z (1 - t^2) sigmoid(z)``.
    """
    mish_derivative_of_kept((Z, *_mish_tanh_softplus(Z)), delta)


def mish_keeping(Z):
    """Mish of ``Z``, freshly allocated, and what its derivative needs: ``(Z, t, u)``.

    The forward pass of a training step keeps ``t`` and ``u`` so that the backward pass
    does not compute them again (:func:`mish_derivative_of_kept`: the same numbers as
    :func:`mish_derivative`, a third less work in a Mish network's activations).
    """
    T, U = _mish_tanh_softplus(Z)
    return np.multiply(Z, T), (Z, T, U)


def mish_derivative_of_kept(kept, delta):
    """``delta *= f'(z)`` from what :func:`mish_keeping` kept (left unchanged)."""
    Z, T, U = kept
    S = U + 1.0
    np.divide(U, S, out=S)  # sigmoid(z); 1 where z is capped, as it is to rounding
    D = np.square(T)
    np.subtract(1.0, D, out=D)
    D *= Z
    D *= S
    D += T
    delta *= D


@dataclass(frozen=True)
class Activation:
    """One hidden activation: everything the network, its initialisation and backprop use.

    Parameters
    ----------
    name : str
        The name users pass (``activation="relu"``).
    function : callable
        ``function(Z)``: ``A = f(Z)`` in place on an array of shape (n_samples, units),
        returning it. When ``derivative_needs == "preactivation"`` it also takes
        ``out=``, so that ``Z`` can be kept: ``function(Z, out=A)``.
    derivative : callable
        ``derivative(S, delta)``: ``delta *= f'(z)`` in place, ``S`` being the output
        ``A`` or the pre-activation ``Z`` (see ``derivative_needs``), of delta's shape.
    gain : float
        The tutorial's initialisation gain of a layer fed by this activation: weights
        from N(0, (gain / sqrt(fan_in))^2), as PyTorch's ``calculate_gain``. ReLU-like
        units zero (about) half of their input's variance, so they get sqrt(2) (He et
        al., 2015); tanh gets 5/3.
    derivative_needs : {"output", "preactivation"}, default="output"
        What ``derivative`` is written from. ``"output"`` lets the forward pass
        overwrite ``Z`` with ``A``; ``"preactivation"`` (GELU, Mish: their output does
        not determine their slope) makes it keep ``Z``.
    glorot_factor : float, default=6.0
        scikit-learn's Glorot-uniform factor for a layer whose activation this is:
        ``bound = sqrt(factor / (fan_in + fan_out))``, 2 for the logistic function.
    in_sklearn : bool, default=False
        Whether MLPClassifier has it (interop carries only those).
    function_keeping, derivative_of_kept : callable or None, default=None
        An optional pair for activations whose derivative recomputes what the function
        computed (Mish's ``tanh(softplus(z))``): ``function_keeping(Z)`` returns ``(A,
        kept)``, ``A`` freshly allocated, and ``derivative_of_kept(kept, delta)`` does
        ``delta *= f'(z)`` from ``kept``, to the same numbers as ``derivative``. The
        tabular network's training steps use it.

    Notes
    -----
    Adding an activation is adding one entry to ``ACTIVATIONS``; a numba twin in
    ``skmlp._kernels`` (its ``_KIND``) is optional, and ``skmlp._ops`` uses it when there.
    """

    name: str
    function: Callable
    derivative: Callable
    gain: float
    derivative_needs: str = "output"
    glorot_factor: float = 6.0
    in_sklearn: bool = False
    function_keeping: Callable | None = None
    derivative_of_kept: Callable | None = None

    def __post_init__(self):
        if self.derivative_needs not in ("output", "preactivation"):
            raise ValueError(f"derivative_needs must be 'output' or 'preactivation', got "
                             f"{self.derivative_needs!r}.")
        if (self.function_keeping is None) != (self.derivative_of_kept is None):
            raise ValueError("function_keeping and derivative_of_kept come as a pair.")

    @property
    def needs_preactivation(self):
        """Whether the forward pass must keep ``Z`` for the derivative."""
        return self.derivative_needs == "preactivation"


def _registry(*entries):
    return {a.name: a for a in entries}


#: The hidden activations, keyed by the names users pass: one entry each.
ACTIVATIONS = _registry(
    # MLPClassifier's four, written as its neural_network/_base.py writes them
    Activation("identity", identity, identity_derivative, gain=1.0, in_sklearn=True),
    Activation("logistic", logistic, logistic_derivative, gain=1.0, glorot_factor=2.0,
               in_sklearn=True),
    Activation("tanh", tanh, tanh_derivative, gain=5.0 / 3.0, in_sklearn=True),
    Activation("relu", relu, relu_derivative, gain=math.sqrt(2.0), in_sklearn=True),
    # skmlp's
    Activation("leaky_relu", leaky_relu, leaky_relu_derivative,
               gain=math.sqrt(2.0 / (1.0 + LEAKY_RELU_SLOPE**2))),
    Activation("elu", elu, elu_derivative, gain=math.sqrt(2.0)),
    Activation("gelu", gelu, gelu_derivative, gain=math.sqrt(2.0),
               derivative_needs="preactivation"),
    # PyTorch's gain for SELU: 3/4 (its self-normalising scale needs no extra gain, and
    # 3/4 is what PyTorch settled on for stable deep stacks)
    Activation("selu", selu, selu_derivative, gain=0.75),
    # 1 / sqrt(E[mish(z)^2]) for z ~ N(0, 1), as sqrt(2) is for ReLU
    Activation("mish", mish, mish_derivative, gain=1.0 / math.sqrt(0.4523),
               derivative_needs="preactivation", function_keeping=mish_keeping,
               derivative_of_kept=mish_derivative_of_kept),
)

#: The hidden activations MLPClassifier has; the others are skmlp's.
SKLEARN_ACTIVATIONS = tuple(name for name, a in ACTIVATIONS.items() if a.in_sklearn)


# --- output layer ---------------------------------------------------------------------------
def softmax(Z):
    """Softmax of each row of logits, in place (scikit-learn's ``inplace_softmax``)."""
    Z -= Z.max(axis=1)[:, np.newaxis]
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=1)[:, np.newaxis]
    return Z


def exp(Z):
    """``exp`` in place: the inverse of the log link of the Poisson loss."""
    return np.exp(Z, out=Z)


#: Output functions, from the last layer's pre-activation to predictions, in place.
OUTPUTS = {"softmax": softmax, "logistic": logistic, "identity": identity, "exp": exp}


def log_softmax(Z):
    """``z - logsumexp(z)`` per row, in place: finite where softmax underflows to 0."""
    Z -= Z.max(axis=1, keepdims=True)
    Z -= np.log(np.exp(Z).sum(axis=1, keepdims=True))
    return Z


def log_logistic(Z):
    """``log(1 / (1 + exp(-z))) = -log(1 + exp(-z))`` in place, finite for any ``z``."""
    return np.negative(np.logaddexp(0.0, -Z), out=Z)


#: ``log`` of the output probabilities, computed from the logits.
LOG_OUTPUTS = {"softmax": log_softmax, "logistic": log_logistic}


# --- losses, from the outputs P: scikit-learn's definitions ----------------------------------
def log_loss(Y, P, sample_weight=None):
    """Cross-entropy of one-hot targets ``Y`` and softmax probabilities ``P``.

    ``-sum_k Y_k log(P_k)``, averaged over samples (weighted by ``sample_weight``),
    with ``P`` clipped to ``[eps, 1 - eps]`` as scikit-learn does.

    Parameters
    ----------
    Y : ndarray of shape (n_samples, n_classes)
    P : ndarray of shape (n_samples, n_classes)
    sample_weight : ndarray of shape (n_samples,), default=None

    Returns
    -------
    loss : float
    """
    eps = np.finfo(P.dtype).eps
    P = np.clip(P, eps, 1 - eps)
    return -np.average(xlogy(Y, P), weights=sample_weight, axis=0).sum()


def binary_log_loss(Y, P, sample_weight=None):
    """Cross-entropy of independent 0/1 targets (binary or multilabel) and probabilities.

    ``-sum_k [Y_k log(P_k) + (1 - Y_k) log(1 - P_k)]``, averaged over samples, ``P``
    clipped to ``[eps, 1 - eps]``.
    """
    eps = np.finfo(P.dtype).eps
    P = np.clip(P, eps, 1 - eps)
    return -np.average(xlogy(Y, P) + xlogy(1 - Y, 1 - P), weights=sample_weight, axis=0).sum()


def squared_loss(Y, P, sample_weight=None):
    """Half the squared error, averaged over samples, then over outputs.

    Notes
    -----
    As in scikit-learn, the gradient used in training (output error ``P - Y``) is
    that of the error *summed* over outputs; with one output the two agree.
    """
    return 0.5 * np.average((Y - P) ** 2, weights=sample_weight, axis=0).mean()


def poisson_loss(Y, P, sample_weight=None):
    """Half the Poisson deviance of targets ``Y >= 0`` and predicted means ``P > 0``."""
    return np.average(xlogy(Y, Y / P) - Y + P, weights=sample_weight, axis=0).sum()


LOSSES = {
    "log_loss": log_loss,
    "binary_log_loss": binary_log_loss,
    "squared_error": squared_loss,
    "poisson": poisson_loss,
}

#: The loss each output function is paired with. Every pair is canonical (the output is
#: the inverse link of the loss), so the error at the last pre-activation is ``P - Y``.
LOSS_OF_OUTPUT = {
    "softmax": "log_loss",
    "logistic": "binary_log_loss",
    "identity": "squared_error",
    "exp": "poisson",
}
