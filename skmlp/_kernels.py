"""Optional numba kernels: fused elementwise loops of the training step.

Each kernel computes exactly the formula of its numpy twin (scikit-learn's
``MLPClassifier`` order of operations), in one pass over memory instead of
one pass per ufunc. Nothing is reassociated: no ``fastmath``, every scalar is
passed in the dtype numpy would compute it in (the arrays' dtype for Python
numbers, which the wrappers cast with ``dtype.type(x)``; float64 for Adam's
step size, a numpy float64 scalar in scikit-learn), and the kernels
are compiled with ``error_model="numpy"`` (numba's default error model checks
every division for zero, which stops LLVM from vectorising the loop). Matrix
products stay numpy's (BLAS); nothing here calls BLAS.

How close each kernel is to numpy (``tests/test_kernels.py`` checks each):

Every kernel is bitwise equal to its numpy twin, so the kernels never change
the model (the parity tests run with them on and off):

* ``adam_step``, ``sgd_step``, ``bias_activation`` with
  ``"identity"``, ``"relu"`` or ``"tanh"`` (numpy's own ``np.tanh``: libm's
  scalar ``tanh`` would be ~20x slower) and the dropout part with any
  activation, ``activation_derivative`` (for finite deltas: an infinite delta
  where ReLU's output is 0 gives 0 here, as in scikit-learn, and NaN in the
  numpy twin), ``column_sums`` (numpy's
  ``sum(axis=0)`` of a C-contiguous array adds row after row, starting from
  ``0``; a single column it sums pairwise, and so does the kernel);
* the ``"logistic"`` activation, bitwise ``scipy.special.expit`` (which
  scikit-learn uses; both call libm's ``exp``).

The output layer has no kernel: softmax's ``exp`` is numpy's SIMD one, which
libm's (all numba can call) differs from by an ulp on some inputs, and a loss
summed in another order moves L-BFGS's line search. Fused softmax/log-loss
kernels did that and cost parity (weights 7e-2 apart after L-BFGS on iris,
chaotic growth with adam on unscaled data); the output step is numpy's.

(A sum-of-squares kernel for the L2 penalty lost to BLAS's dot, 21 vs 14 us on
203,264 float32 weights, and folding it into the optimizer step did not pay
either: ``benchmarks/bench_kernels.py`` still measures both.)

The module imports numba: import it only where numba is installed
(``try: from . import _kernels``). Importing compiles nothing; each kernel is
compiled on its first call for the dtypes it gets and the machine code is
cached on disk (``cache=True``), so a later process only loads it.

All kernels are serial and release the GIL. On this code's shapes (batches of
~200 rows, ~10^5 parameters) ``parallel=True`` does not pay once BLAS's
threads run between the calls, and it oversubscribes the cores under
``n_jobs``: see ``benchmarks/bench_kernels.py``.

Arrays are C-contiguous and of one float dtype (float32 or float64) per call,
``mask`` included. Mixed dtypes (float64 errors of float32 activations, as
scikit-learn has with float64 targets) take the numpy path (``skmlp._ops``,
``skmlp._optimizers._kernel_ok``).
"""

import numpy as np
from numba import njit

from ._activations import LEAKY_RELU_SLOPE

__all__ = [
    "ACTIVATIONS",
    "adam_step",
    "sgd_step",
    "bias_activation",
    "activation_derivative",
    "column_sums",
]

# the hidden activations with a twin here, by their names in skmlp._activations.ACTIVATIONS
# (tests/test_kernels.py checks they are there); a new twin is a kind and a branch below
_IDENTITY, _RELU, _LOGISTIC, _TANH, _LEAKY_RELU = 0, 1, 2, 3, 4
_KIND = {"identity": _IDENTITY, "relu": _RELU, "logistic": _LOGISTIC, "tanh": _TANH,
         "leaky_relu": _LEAKY_RELU}

#: hidden activations the kernels know
ACTIVATIONS = tuple(_KIND)

_JIT = dict(cache=True, error_model="numpy", nogil=True)

#: numpy's pairwise summation sums leaves of at most this many elements
_PW_BLOCKSIZE = 128


# ----------------------------------------------------------------------------------------
# helpers (compiled into the kernels that call them)
# ----------------------------------------------------------------------------------------
@njit(**_JIT)
def _pairwise_leaf(x, zero):
    """numpy's pairwise sum of a run of ``len(x) <= 128`` elements.

    Below 8 elements a plain loop from 0; otherwise eight accumulators
    combined as ``((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))``, then the
    ``n % 8`` last elements added one by one.
    """
    n = x.shape[0]
    if n < 8:
        res = zero
        for k in range(n):
            res += x[k]
        return res
    r0 = x[0]
    r1 = x[1]
    r2 = x[2]
    r3 = x[3]
    r4 = x[4]
    r5 = x[5]
    r6 = x[6]
    r7 = x[7]
    m = n - n % 8
    for k in range(8, m, 8):
        r0 += x[k]
        r1 += x[k + 1]
        r2 += x[k + 2]
        r3 += x[k + 3]
        r4 += x[k + 4]
        r5 += x[k + 5]
        r6 += x[k + 6]
        r7 += x[k + 7]
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for k in range(m, n):
        res += x[k]
    return res


@njit(**_JIT)
def _pairwise_sum(x, zero):
    """numpy's pairwise sum of the contiguous 1-d ``x`` (``zero``: 0 in x's dtype).

    Exactly numpy's ``@TYPE@_pairwise_sum`` (``loops_utils.h.src``): runs of
    at most 128 elements are leaves (``_pairwise_leaf``); a longer run is cut
    after ``n2 = n // 2 - (n // 2) % 8`` elements, both parts summed the same
    way and added. numpy recurses; this walks the same tree with an explicit
    stack (numba's on-disk cache mishandles recursive functions: a segfault
    when loaded).
    """
    n = x.shape[0]
    if n <= _PW_BLOCKSIZE:
        return _pairwise_leaf(x, zero)
    # frames: start, length, state (0: new, 1: left part summed, 2: both summed)
    f_lo = np.empty(64, np.int64)
    f_n = np.empty(64, np.int64)
    f_st = np.empty(64, np.int64)
    vals = np.empty(64, x.dtype)
    top = 0
    nv = 0
    f_lo[0] = 0
    f_n[0] = n
    f_st[0] = 0
    while top >= 0:
        c_lo = f_lo[top]
        c_n = f_n[top]
        if c_n <= _PW_BLOCKSIZE:
            vals[nv] = _pairwise_leaf(x[c_lo:c_lo + c_n], zero)
            nv += 1
            top -= 1
            continue
        n2 = c_n // 2
        n2 -= n2 % 8
        st = f_st[top]
        f_st[top] = st + 1
        if st == 0:
            top += 1
            f_lo[top] = c_lo
            f_n[top] = n2
            f_st[top] = 0
        elif st == 1:
            top += 1
            f_lo[top] = c_lo + n2
            f_n[top] = c_n - n2
            f_st[top] = 0
        else:
            nv -= 1
            vals[nv - 1] = vals[nv - 1] + vals[nv]
            top -= 1
    return vals[0]


# ----------------------------------------------------------------------------------------
# optimizers
# ----------------------------------------------------------------------------------------
def _check_flat(params, n_coefs, *others):
    # the kernels do not check bounds
    if (any(a.shape != params.shape or a.dtype != params.dtype for a in others)
            or not 0 <= n_coefs <= params.shape[0]):
        raise ValueError("params, grad and the optimizer's state must have one shape and "
                         "one dtype, and n_coefs <= len(params)")


@njit(**_JIT)
def _adam_kernel(params, grad, m, v, n_coefs, alpha, s, beta_1, one_m_b1, beta_2, one_m_b2,
                 neg_lr_t, epsilon):
    """The step (see :func:`adam_step`); returns whether some ``g * g`` overflowed (a
    finite ``g`` whose square is infinite: numpy's "overflow encountered in square")."""
    overflow = False
    # weights, with the L2 term
    for j in range(n_coefs):
        g = (grad[j] + alpha * params[j]) / s
        gg = g * g
        overflow |= (gg == np.inf) & (abs(g) != np.inf)
        mj = beta_1 * m[j] + one_m_b1 * g
        vj = beta_2 * v[j] + one_m_b2 * gg
        m[j] = mj
        v[j] = vj
        params[j] = params[j] + (neg_lr_t * mj) / (np.sqrt(vj) + epsilon)
    # biases (slices, so the loop starts at 0 and vectorises)
    p_b = params[n_coefs:]
    g_b = grad[n_coefs:]
    m_b = m[n_coefs:]
    v_b = v[n_coefs:]
    for j in range(p_b.shape[0]):
        g = g_b[j] / s
        gg = g * g
        overflow |= (gg == np.inf) & (abs(g) != np.inf)
        mj = beta_1 * m_b[j] + one_m_b1 * g
        vj = beta_2 * v_b[j] + one_m_b2 * gg
        m_b[j] = mj
        v_b[j] = vj
        p_b[j] = p_b[j] + (neg_lr_t * mj) / (np.sqrt(vj) + epsilon)
    return overflow


def adam_step(params, grad, m, v, n_coefs, alpha, s, beta_1, beta_2, lr_t, epsilon):
    """One Adam step in place on ``params``, ``m``, ``v``, from the raw gradient.

    For every ``j`` (scikit-learn's order of operations; scalars in the arrays'
    dtype, ``1 - beta`` computed in Python then cast)::

        g         = grad[j]
        g         = g + alpha * params[j]          (j < n_coefs: weights only)
        g         = g / s
        m[j]      = beta_1 * m[j] + (1 - beta_1) * g
        v[j]      = beta_2 * v[j] + (1 - beta_2) * (g * g)
        params[j] = params[j] + ((-lr_t) * m[j]) / (sqrt(v[j]) + epsilon)

    ``-lr_t`` is float64 (a numpy float64 scalar in scikit-learn), so with float32
    arrays the update is computed in float64 and rounded when added to ``params``.
    Bitwise equal to the numpy reference::

        g = grad.copy(); g[:n_coefs] += alpha * params[:n_coefs]; g /= s
        m *= beta_1; m += (1 - beta_1) * g
        v *= beta_2; v += (1 - beta_2) * (g * g)
        params += (-lr_t * m) / (np.sqrt(v) + epsilon)

    Parameters
    ----------
    params, grad, m, v : ndarray of shape (n_params,), C-contiguous, one float dtype
        Flat parameters (weights first, then biases), the *raw* gradient
        (``A.T @ delta`` and column sums of ``delta``: no L2 term, not divided
        by ``s``), and Adam's moments. ``grad`` is only read.
    n_coefs : int
        Number of weights: ``params[:n_coefs]`` get the L2 term.
    alpha : float
        L2 penalty.
    s : float
        Batch size, or the sum of the batch's sample weights.
    beta_1, beta_2, epsilon : float
    lr_t : float
        ``learning_rate_init * sqrt(1 - beta_2**t) / (1 - beta_1**t)``, in float64.

    Returns
    -------
    overflow : bool
        Whether some ``g * g`` overflowed (where numpy's reference warns "overflow
        encountered in square"; the caller has numpy say so).
    """
    _check_flat(params, n_coefs, grad, m, v)
    t = params.dtype.type
    # lr_t stays float64, as in scikit-learn (a float64 scalar times a float32 array
    # is float64): the update is computed in float64 and rounded once, into params
    return _adam_kernel(params, grad, m, v, n_coefs, t(alpha), t(s), t(beta_1),
                        t(1.0 - beta_1), t(beta_2), t(1.0 - beta_2), np.float64(-lr_t),
                        t(epsilon))


@njit(**_JIT)
def _sgd_kernel(params, grad, velocity, n_coefs, alpha, s, momentum, lr, nesterov):
    p_b = params[n_coefs:]
    g_b = grad[n_coefs:]
    v_b = velocity[n_coefs:]
    if nesterov:
        for j in range(n_coefs):
            g = (grad[j] + alpha * params[j]) / s
            vel = momentum * velocity[j] - lr * g
            velocity[j] = vel
            params[j] = params[j] + (momentum * vel - lr * g)
        for j in range(p_b.shape[0]):
            g = g_b[j] / s
            vel = momentum * v_b[j] - lr * g
            v_b[j] = vel
            p_b[j] = p_b[j] + (momentum * vel - lr * g)
    else:
        for j in range(n_coefs):
            g = (grad[j] + alpha * params[j]) / s
            vel = momentum * velocity[j] - lr * g
            velocity[j] = vel
            params[j] = params[j] + vel
        for j in range(p_b.shape[0]):
            g = g_b[j] / s
            vel = momentum * v_b[j] - lr * g
            v_b[j] = vel
            p_b[j] = p_b[j] + vel


def sgd_step(params, grad, velocity, n_coefs, alpha, s, momentum, lr, nesterov):
    """One SGD-with-momentum step in place on ``params`` and ``velocity``.

    For every ``j`` (scikit-learn's order; scalars in the arrays' dtype)::

        g           = grad[j]
        g           = g + alpha * params[j]        (j < n_coefs: weights only)
        g           = g / s
        velocity[j] = momentum * velocity[j] - lr * g
        params[j]   = params[j] + (momentum * velocity[j] - lr * g)   (nesterov)
        params[j]   = params[j] + velocity[j]                         (otherwise)

    Bitwise equal to the numpy reference::

        g = grad.copy(); g[:n_coefs] += alpha * params[:n_coefs]; g /= s
        velocity[...] = momentum * velocity - lr * g
        params += momentum * velocity - lr * g if nesterov else velocity

    Parameters
    ----------
    params, grad, velocity : ndarray of shape (n_params,), C-contiguous, one float dtype
        ``grad`` is the raw gradient (see ``adam_step``); it is only read.
    n_coefs : int
    alpha, s, momentum, lr : float
    nesterov : bool
    """
    _check_flat(params, n_coefs, grad, velocity)
    t = params.dtype.type
    _sgd_kernel(params, grad, velocity, n_coefs, t(alpha), t(s), t(momentum), t(lr),
                bool(nesterov))


# ----------------------------------------------------------------------------------------
# forward: Z <- f(Z + b), with optional inverted dropout
# ----------------------------------------------------------------------------------------
@njit(**_JIT)
def _bias_act(Z, b, kind, zero, one, slope):
    """``Z[i, j] = f(Z[i, j] + b[j])``, ``f`` by ``kind`` (tanh: identity here);
    ``slope`` is the leaky ReLU's, in ``Z``'s dtype."""
    n, u = Z.shape
    if kind == _LEAKY_RELU:
        for i in range(n):
            for j in range(u):
                z = Z[i, j] + b[j]
                # np.multiply(Z, slope, where=Z < 0): NaN and zeros pass unchanged
                Z[i, j] = z * slope if z < zero else z
    elif kind == _RELU:
        for i in range(n):
            for j in range(u):
                z = Z[i, j] + b[j]
                # np.maximum(z, 0): z if z > 0 or z is NaN, else +0 (also for z = -0)
                Z[i, j] = z if (z > zero or z != z) else zero
    elif kind == _LOGISTIC:
        for i in range(n):
            for j in range(u):
                # scipy.special.expit: 1 / (1 + exp(-z)), libm's exp
                Z[i, j] = one / (one + np.exp(-(Z[i, j] + b[j])))
    else:
        for i in range(n):
            for j in range(u):
                Z[i, j] = Z[i, j] + b[j]


@njit(**_JIT)
def _dropout(Z, mask, keep):
    """Inverted dropout of the activations ``Z`` (see ``bias_activation``)."""
    n, u = Z.shape
    for i in range(n):
        for j in range(u):
            a = Z[i, j]
            keep[i, j] = a
            Z[i, j] = a * mask[i, j]


_EMPTY_2D = {}


def _empty_2d(dtype):
    e = _EMPTY_2D.get(dtype)
    if e is None:
        e = _EMPTY_2D[dtype] = np.empty((0, 0), dtype=dtype)
    return e


def bias_activation(Z, b, activation, *, keep=None, mask=None):
    """Add the bias and apply the activation in place: ``Z[i, j] = f(Z[i, j] + b[j])``.

    ``f`` is ``np.maximum(z, 0)`` (``"relu"``: ``-0`` gives ``+0``, NaN stays
    NaN; bitwise equal), ``scipy.special.expit`` = ``1 / (1 + exp(-z))``
    (``"logistic"``; libm's ``exp``, as ``expit``: bitwise equal to it, and
    within a few ulp of the same formula written with numpy's SIMD
    ``np.exp``) or nothing (``"identity"``). ``"tanh"`` is numpy's own
    ``np.tanh`` after the kernel's bias add (bitwise equal): numba would call
    libm's scalar ``tanh``, some 20 times slower than numpy's SIMD one.
    Other activations are not here: use numpy for them.

    Inverted dropout, when ``mask`` is given: the activation before dropout
    goes to ``keep`` (the derivative needs it), the dropped-out one to ``Z``.
    ``mask`` holds the multipliers (0 or ``1 / (1 - rate)``, drawn by numpy, so
    the draws do not depend on numba). Bitwise the numpy reference::

        keep[...] = f(Z + b)
        np.multiply(keep, mask, out=Z)

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_units), C-contiguous, float32 or float64
        ``A_prev @ W``; overwritten with the activations.
    b : ndarray of shape (n_units,)
    activation : {"identity", "relu", "tanh", "logistic", "leaky_relu"}
    keep : ndarray of shape (n_samples, n_units), default=None
        Receives ``f(Z + b)`` before dropout; required with ``mask``.
    mask : ndarray of shape (n_samples, n_units), default=None
        Dropout multipliers.

    Returns
    -------
    Z
    """
    # the kernels do not check bounds: check the shapes here
    if b.shape != Z.shape[1:] or b.dtype != Z.dtype:
        raise ValueError(f"bias {b.dtype}{b.shape} for activations {Z.dtype}{Z.shape}")
    if mask is not None:
        if (keep is None or mask.shape != Z.shape or keep.shape != Z.shape
                or mask.dtype != Z.dtype or keep.dtype != Z.dtype):
            raise ValueError("dropout needs `mask` and `keep` of Z's shape and dtype")
    t = Z.dtype.type
    kind = _KIND[activation]
    _bias_act(Z, b, kind, t(0), t(1), t(LEAKY_RELU_SLOPE))
    if kind == _TANH:
        # libm's tanh is scalar: numpy's SIMD tanh is ~20x faster (and is the reference)
        np.tanh(Z, out=Z)
    if mask is not None:
        _dropout(Z, mask, keep)
    return Z


# ----------------------------------------------------------------------------------------
# backward: delta *= f'(z), from the activation A = f(z)
# ----------------------------------------------------------------------------------------
@njit(**_JIT)
def _derivative(A, delta, kind, mask, zero, one, slope):
    """``delta *= mask`` (if any), then ``delta *= f'(z)`` from ``A = f(z)``, ``f`` by ``kind``
    (``slope``: the leaky ReLU's, in ``delta``'s dtype)."""
    n, u = delta.shape
    if mask.shape[0] != 0:
        for i in range(n):
            for j in range(u):
                delta[i, j] = delta[i, j] * mask[i, j]
    if kind == _RELU:
        for i in range(n):
            for j in range(u):
                if A[i, j] == zero:
                    delta[i, j] = zero
    elif kind == _LOGISTIC:
        for i in range(n):
            for j in range(u):
                a = A[i, j]
                delta[i, j] = (delta[i, j] * a) * (one - a)
    elif kind == _TANH:
        for i in range(n):
            for j in range(u):
                a = A[i, j]
                delta[i, j] = delta[i, j] * (one - a * a)
    elif kind == _LEAKY_RELU:
        for i in range(n):
            for j in range(u):
                if A[i, j] <= zero:  # np.multiply(delta, slope, where=A <= 0)
                    delta[i, j] = delta[i, j] * slope


def activation_derivative(A, delta, activation, mask=None):
    """Multiply ``delta`` in place by ``f'(z)``, written with the activation ``A = f(z)``.

    Bitwise equal to scikit-learn's ``inplace_*_derivative``, after the
    dropout multiplier when ``mask`` is given::

        delta *= mask                          (dropout: the multipliers left
                                                by ``bias_activation``)
        relu:        delta[A == 0] = 0
        logistic:    delta *= A; delta *= 1 - A
        tanh:        delta *= 1 - A**2
        leaky_relu:  delta *= slope where A <= 0 (skmlp's, not scikit-learn's)
        identity:    nothing

    Parameters
    ----------
    A : ndarray of shape (n_samples, n_units)
        The activation *before* dropout (``keep`` of ``bias_activation``).
    delta : ndarray of shape (n_samples, n_units), C-contiguous
        The error signal, overwritten.
    activation : {"identity", "relu", "tanh", "logistic", "leaky_relu"}
    mask : ndarray of shape (n_samples, n_units), default=None

    Returns
    -------
    delta
    """
    kind = _KIND[activation]
    if A.shape != delta.shape or (mask is not None and mask.shape != delta.shape):
        raise ValueError("A, delta and mask must have the same shape")
    if mask is None:
        if kind == _IDENTITY:
            return delta
        mask = _empty_2d(delta.dtype)
    t = delta.dtype.type
    _derivative(A, delta, kind, mask, t(0), t(1), t(LEAKY_RELU_SLOPE))
    return delta


# ----------------------------------------------------------------------------------------
# bias gradient
# ----------------------------------------------------------------------------------------
@njit(**_JIT)
def _column_sums_kernel(delta, out, zero):
    n, u = delta.shape
    if u == 1:
        # a single column is contiguous: numpy sums it pairwise
        out[0] = zero + _pairwise_sum(delta.ravel(), zero)
        return
    for j in range(u):
        out[j] = zero
    for i in range(n):
        for j in range(u):
            out[j] = out[j] + delta[i, j]


def column_sums(delta, out):
    """``out[j] = sum_i delta[i, j]``: the raw bias gradient, bitwise ``np.sum(delta, axis=0)``.

    numpy reduces axis 0 of a C-contiguous array row by row
    (``out = 0; out += delta[0]; out += delta[1]; ...``: its iterator keeps
    the contiguous axis inner), and so does the kernel; a single column
    (``n_units == 1``) numpy sums with its pairwise summation, and so does the
    kernel.

    Parameters
    ----------
    delta : ndarray of shape (n_samples, n_units), C-contiguous
    out : ndarray of shape (n_units,)
        E.g. the bias part of the flat gradient vector.

    Returns
    -------
    out
    """
    if out.shape != delta.shape[1:]:
        raise ValueError(f"out of shape {out.shape} for delta of shape {delta.shape}")
    _column_sums_kernel(delta, out, delta.dtype.type(0))
    return out
