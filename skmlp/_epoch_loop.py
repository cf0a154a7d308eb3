"""A compiled epoch loop: gather, forward, backward and the optimizer step of every batch
of an epoch in one numba call, bitwise equal to ``skmlp._solvers.run_epoch``.

The Python loop (``run_epoch``) stays the readable reference; this module runs the same
operations, in the same order, on the same numbers:

* the matrix products call **numpy's own OpenBLAS** (the ``scipy_openblas64_`` library
  numpy's wheel bundles, which ``np.matmul`` calls) with the arguments numpy's matmul
  passes it for these operands (``numpy/_core/src/umath/matmul.c.src``): row-major
  ``gemm`` with the transpose flags numpy derives from the strides, ``gemv`` when the
  batch, the input or the output has one row or column, numpy's plain loop when the
  inner dimension is 1. numba's ``np.dot`` would call scipy's OpenBLAS, another build
  whose kernels round differently;
* the elementwise steps are ``skmlp._kernels``' compiled kernels themselves (bitwise
  numpy's), called from here;
* ``np.exp`` (softmax) and ``np.tanh`` are numpy's own inner loops (its SIMD code:
  libm's ``exp`` and ``tanh``, all numba has, differ from them by an ulp on some
  inputs), called through their C function pointers, read from the ufunc objects and
  checked against numpy once per process;
* softmax with the log-loss, unweighted, on 0/1 targets (the classifier's usual case;
  not the soft targets of label smoothing), is compiled
  here operation for operation as ``skmlp._activations`` writes it (numpy's pairwise
  row sums, ``xlogy``'s float64 loop with libm's ``log``, ``mean``'s float64 division);
  every other output, and any output with sample weights, runs the Python loop's own
  ``skmlp._ops.output_loss_error`` in a ``numba.objmode`` block, on the loop's arrays;
* dropout masks are drawn in the compiled code from the same ``numpy.random.Generator``
  (numba shares its state), ``dropout_masks``' draws in its order;
* Adam's step sizes are computed beforehand by the Python formula, the batch losses
  are averaged afterwards in numpy's dtypes, as ``run_epoch`` averages them.

One difference that is not in the numbers: numpy checks the floating-point flags after
its BLAS calls and ufuncs and warns (``RuntimeWarning: overflow encountered in
matmul``, or underflow in ``exp``, which only ``np.errstate`` shows); the compiled
loop cannot, so it runs only while numpy's error modes are "warn" or "ignore" (under
"raise", "call" or "log" the Python loop runs). It stops at the first batch whose loss
is not finite, before that batch's step, and ``run_epoch`` goes on from there in numpy (the
same numbers, numpy's warnings); an overflowing ``g * g`` in Adam's step is counted and
reported through numpy (``_ops.overflow_in_square``). A Ctrl-C pressed during a compiled
epoch is held by the driver until the epoch is recorded, and the fit keeps that epoch.

Covered (:func:`covers`): dense float32/float64 ``X`` of the network's dtype, C-ordered, or
of any aligned layout with non-negative strides of whole elements when the rows are visited
through an ``order`` (a DataFrame's Fortran-ordered values, ``load_digits``' strided view:
the batch is gathered into the C-ordered buffer ``np.take`` fills in ``run_epoch``), targets
that keep the errors in that dtype (booleans, or floats of that dtype), sample weights of a
float dtype the network's holds exactly, :class:`~skmlp._optimizers.SGD` and
:class:`~skmlp._optimizers.Adam` with state arrays of the network's dtype (not the
weights'/biases' pair of ``b248df2``), the hidden activations of ``skmlp._kernels``, every
output, any batch size, ``order`` None or an index array, dropout, the step extras of
``skmlp._drivers.StepExtras`` (schedule, decoupled weight decay, clipping, the weight
average: their per-step numbers computed beforehand by the Python formulas, the step
made by :func:`_extras_step` in ``StepExtras.step``'s order); numpy's error modes
"warn" or "ignore". Anything else returns None before touching anything, and the caller runs
the Python loop.

Importing this module imports numba and binds numpy's BLAS: import it only where the
kernels are on (``skmlp._config.kernels()`` returned the module, or the size rule reads
numba's cache index before loading them: ``skmlp._config.cache_holds_code``).
"""

import ctypes
import glob
import os
import weakref
from contextlib import contextmanager
from itertools import islice

import llvmlite.binding as llvm
import numpy as np
from numba import njit, objmode, types
from sklearn.utils import gen_batches

from . import _kernels as K
from . import _ops
from ._activations import LEAKY_RELU_SLOPE
from ._numerics import strict_fp_errors
from ._optimizers import SGD, Adam

__all__ = ["covers", "run_epoch_compiled", "release", "BLAS_LIBRARY", "LoopUnavailable"]

_JIT = dict(cache=True, error_model="numpy", nogil=False)


# ----------------------------------------------------------------------------------------
# numpy's BLAS, bound by name so that the compiled code can be cached on disk
# ----------------------------------------------------------------------------------------
def _numpy_blas():
    """The path of the OpenBLAS numpy's wheel bundles and calls, or None."""
    libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libs, "libscipy_openblas64_*.so"))):
        return path
    return None


_SYMBOLS = ("scipy_cblas_dgemm64_", "scipy_cblas_sgemm64_", "scipy_cblas_dgemv64_",
            "scipy_cblas_sgemv64_", "scipy_cblas_ddot64_", "scipy_cblas_sdot64_")



def _bind_blas(path):
    """Bind the cblas functions the loop calls (``_SYMBOLS``) to those of the library at
    ``path``; returns ``path``, or None with nothing bound when there is no library, it
    cannot be opened or it lacks one of them (another numpy's OpenBLAS build: the loop
    then covers nothing, and every epoch runs the Python loop)."""
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(path)  # numpy's, loaded already by numpy: the same handle
        addresses = [ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
                     for name in _SYMBOLS]
    except (OSError, AttributeError):
        return None
    for name, address in zip(_SYMBOLS, addresses, strict=True):
        llvm.add_symbol(name, address)
    return path


#: the library whose cblas functions the loop calls (numpy's), or None when not found
BLAS_LIBRARY = _bind_blas(_numpy_blas())


# numpy's own inner loops of np.exp and np.tanh (its SIMD code, which libm's exp and tanh
# differ from by an ulp here and there), read from the ufunc objects: ``functions``,
# ``data`` and ``types`` of the PyUFuncObject struct of numpy's C API, the first loop
# whose types are (t, t) (the one numpy's type resolution picks). Bound by name, as the
# BLAS functions; checked against np.exp/np.tanh before use (``_UFUNC_LOOPS_OK``).
_UNARY_LOOP = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                               ctypes.c_void_p)
_noop_loop = _UNARY_LOOP(lambda *args: None)  # the symbols' target when a loop is not found


def _unary_loop(ufunc, dtype):
    """``(loop address, its data pointer)`` of ``ufunc``'s ``dtype -> dtype`` loop, or None."""
    try:
        base = id(ufunc)

        def read(offset, ctype):
            return ctype.from_address(base + offset).value

        # the object header: refcount and type on a standard build, larger on a free-
        # threaded or debug one
        head = object.__basicsize__
        nin, nout, nargs = (read(head + 4 * i, ctypes.c_int) for i in range(3))
        functions, data = (read(head + 16 + 8 * i, ctypes.c_void_p) for i in range(2))
        ntypes = read(head + 32, ctypes.c_int)
        name = ctypes.c_char_p.from_address(base + head + 40).value
        typecodes = ctypes.string_at(read(head + 48, ctypes.c_void_p), ntypes * nargs)
        if (nin, nout, nargs, name) != (1, 1, 2, ufunc.__name__.encode()):
            return None
        num = np.dtype(dtype).num
        for i in range(ntypes):
            if typecodes[2 * i] == num and typecodes[2 * i + 1] == num:
                fn = ctypes.c_void_p.from_address(functions + 8 * i).value
                extra = ctypes.c_void_p.from_address(data + 8 * i).value if data else None
                return fn, extra or 0
    except Exception:  # another layout: the objmode route runs instead
        return None
    return None


_LOOP_NAMES = ("skmlp_numpy_exp_f32", "skmlp_numpy_exp_f64", "skmlp_numpy_tanh_f32",
               "skmlp_numpy_tanh_f64")
_LOOPS = [_unary_loop(u, d) for u in (np.exp, np.tanh) for d in (np.float32, np.float64)]
#: the loops' data pointers, passed to the compiled code at run time
_LOOP_DATA = np.array([0 if lp is None else lp[1] for lp in _LOOPS], np.uint64)
for _name, _loop in zip(_LOOP_NAMES, _LOOPS):
    llvm.add_symbol(_name, ctypes.cast(_noop_loop, ctypes.c_void_p).value if _loop is None
                    else _loop[0])

_i32, _i64 = types.int32, types.int64
_ROW_MAJOR, _COL_MAJOR, _NO_TRANS, _TRANS = 101, 102, 111, 112


# pointers are passed as addresses (``array.ctypes.data``): the same register on x86-64
def _gemm_type(t):
    p = types.uintp
    return types.void(_i32, _i32, _i32, _i64, _i64, _i64, t, p, _i64, p, _i64, t, p, _i64)


def _gemv_type(t):
    p = types.uintp
    return types.void(_i32, _i32, _i64, _i64, t, p, _i64, p, _i64, t, p, _i64)


_dgemm = types.ExternalFunction("scipy_cblas_dgemm64_", _gemm_type(types.float64))
_sgemm = types.ExternalFunction("scipy_cblas_sgemm64_", _gemm_type(types.float32))
_dgemv = types.ExternalFunction("scipy_cblas_dgemv64_", _gemv_type(types.float64))
_sgemv = types.ExternalFunction("scipy_cblas_sgemv64_", _gemv_type(types.float32))
_loop_type = types.void(types.uintp, types.uintp, types.uintp, types.uintp)
_exp32, _exp64, _tanh32, _tanh64 = (types.ExternalFunction(n, _loop_type) for n in _LOOP_NAMES)
_ddot = types.ExternalFunction(
    "scipy_cblas_ddot64_",
    types.float64(_i64, types.uintp, _i64, types.uintp, _i64))
_sdot = types.ExternalFunction(
    "scipy_cblas_sdot64_",
    types.float32(_i64, types.uintp, _i64, types.uintp, _i64))


# ----------------------------------------------------------------------------------------
# np.matmul, as numpy calls BLAS for it (matmul.c.src), on flat buffers with offsets
# ----------------------------------------------------------------------------------------
@njit(**_JIT)
def _blasable(s1, s2, d1, d2):
    """numpy's ``is_blasable2d``, strides in elements: the fast axis contiguous, the slow
    axis' stride at least the fast axis' length."""
    return s2 == 1 and s1 >= d2


@njit(**_JIT)
def _gemv(a, a0, is1_m, is1_n, x, x0, is2_n, o, o0, os_m, m, n):
    """numpy's ``@TYPE@_gemv``: ``o[i] = sum_k a[i, k] x[k]`` by BLAS gemv."""
    if _blasable(is1_m, is1_n, m, n):
        order, lda = _COL_MAJOR, is1_m
    else:
        order, lda = _ROW_MAJOR, is1_n
    size = a.itemsize
    pa = a.ctypes.data + a0 * size
    px = x.ctypes.data + x0 * size
    po = o.ctypes.data + o0 * size
    if size == 8:
        _dgemv(order, _TRANS, n, m, 1.0, pa, lda, px, is2_n, 0.0, po, os_m)
    else:
        _sgemv(order, _TRANS, n, m, np.float32(1.0), pa, lda, px, is2_n, np.float32(0.0), po,
               os_m)


@njit(**_JIT)
def _matmul(a, a0, is1_m, is1_n, b, b0, is2_n, is2_p, o, o0, os_m, os_p, dm, dn, dp, zero):
    """``np.matmul(A, B, out=O)`` for 2-d operands of one float dtype, BLAS called as numpy
    calls it.

    ``A[i, k] = a[a0 + i * is1_m + k * is1_n]`` (strides in elements), likewise ``B`` and
    ``O``; ``A`` is (dm, dn), ``B`` (dn, dp). Each operand must be BLAS-able in C or F
    order (numpy copies the others first; the loop never has such operands), the output
    C-ordered, no dimension 0, and A and B not one matrix and its transpose (numpy's
    ``syrk`` case).
    """
    size = a.itemsize
    if dm == 1 or dn == 1 or dp == 1:
        if dm == 1 and dp == 1:
            # numpy's @TYPE@_dot: BLAS dot summed into a double, rounded to the dtype
            pa = a.ctypes.data + a0 * size
            pb = b.ctypes.data + b0 * size
            if size == 8:
                o[o0] = 0.0 + _ddot(dn, pa, is1_n, pb, is2_n)
            else:
                o[o0] = 0.0 + np.float64(_sdot(dn, pa, is1_n, pb, is2_n))
        elif dn == 1 or not ((dm == 1 and (_blasable(is2_n, is2_p, dn, dp)
                                          or _blasable(is2_p, is2_n, dp, dn)))
                             or (dp == 1 and (_blasable(is1_m, is1_n, dm, dn)
                                              or _blasable(is1_n, is1_m, dn, dm)))):
            # numpy's plain loop: out = 0, then out += a * b along the inner axis
            for i in range(dm):
                for j in range(dp):
                    acc = zero
                    for k in range(dn):
                        acc += a[a0 + i * is1_m + k * is1_n] * b[b0 + k * is2_n + j * is2_p]
                    o[o0 + i * os_m + j * os_p] = acc
        elif dm == 1:  # vector @ matrix: gemv on B's transpose
            _gemv(b, b0, is2_p, is2_n, a, a0, is1_n, o, o0, os_p, dp, dn)
        else:  # matrix @ vector
            _gemv(a, a0, is1_m, is1_n, b, b0, is2_n, o, o0, os_m, dm, dn)
        return
    # matrix @ matrix: row-major gemm, the transpose flags from the strides
    if _blasable(is1_m, is1_n, dm, dn):
        t1, lda = _NO_TRANS, is1_m
    else:
        t1, lda = _TRANS, is1_n
    if _blasable(is2_n, is2_p, dn, dp):
        t2, ldb = _NO_TRANS, is2_n
    else:
        t2, ldb = _TRANS, is2_p
    pa = a.ctypes.data + a0 * size
    pb = b.ctypes.data + b0 * size
    po = o.ctypes.data + o0 * size
    if size == 8:
        _dgemm(_ROW_MAJOR, t1, t2, dm, dp, dn, 1.0, pa, lda, pb, ldb, 0.0, po, os_m)
    else:
        _sgemm(_ROW_MAJOR, t1, t2, dm, dp, dn, np.float32(1.0), pa, lda, pb, ldb,
               np.float32(0.0), po, os_m)


# ----------------------------------------------------------------------------------------
# the epoch
# ----------------------------------------------------------------------------------------
#: optimizer codes
_SGD, _ADAM = 0, 1
#: the outputs and losses, by code (the objmode step turns them back into names)
_OUTPUT_NAMES = ("softmax", "logistic", "identity", "exp")
_TANH = K._TANH


def _output_step(Z, Y, sample_weight, weighted, out_code, values, s, alpha):
    """The batch's output, loss and error, as ``MLP.backprop`` computes them (numpy).

    Writes the error ``(P - Y) * sample_weight`` into ``Z``; returns the loss with its
    L2 term, as a float64 holding its value, and whether it is a numpy float32.
    """
    from ._activations import LOSS_OF_OUTPUT

    name = _OUTPUT_NAMES[out_code]
    sw = sample_weight if weighted else None
    loss, delta = _ops.output_loss_error(Z, Y, sw, name, LOSS_OF_OUTPUT[name])
    if delta is not Z:  # covers() keeps the error in Z's dtype
        raise AssertionError("the output error left its work array")
    # MLP.backprop's L2 term, in its dtypes: the dots' sum in the weights' dtype, s the
    # number of rows (an int) or the sum of the weights (in their dtype)
    values = Z.dtype.type(values)
    s = sample_weight.dtype.type(s) if weighted else int(s)
    loss += (0.5 * alpha) * values / s
    return float(loss), int(loss.dtype == np.float32)


@njit(**_JIT)
def _objmode_exp(Z):
    with objmode():
        np.exp(Z, out=Z)


@njit(**_JIT)
def _objmode_tanh(Z):
    with objmode():
        np.tanh(Z, out=Z)


@njit(**_JIT)
def _numpy_unary(Z, tanh, loops):
    """``np.exp(Z, out=Z)``, or ``np.tanh`` when ``tanh``, on a C-contiguous ``Z``: numpy's
    own loop called as numpy calls it (``loops``: ``_LOOP_DATA``, or an empty array to go
    through numpy in objmode)."""
    if loops.shape[0] == 0:
        if tanh:
            _objmode_tanh(Z)
        else:
            _objmode_exp(Z)
        return
    # char **args, npy_intp *dimensions, npy_intp *steps: one run over all of Z
    call = np.empty(5, np.uint64)
    call[0] = Z.ctypes.data
    call[1] = Z.ctypes.data
    call[2] = Z.size
    call[3] = Z.itemsize
    call[4] = Z.itemsize
    p = call.ctypes.data
    if Z.itemsize == 8:
        if tanh:
            _tanh64(p, p + 16, p + 24, loops[3])
        else:
            _exp64(p, p + 16, p + 24, loops[1])
    elif tanh:
        _tanh32(p, p + 16, p + 24, loops[2])
    else:
        _exp32(p, p + 16, p + 24, loops[0])


@njit(**_JIT)
def _softmax_log_loss(Z, Y, zero, eps, one_m_eps, loops):
    """``_ops.output_loss_error`` for softmax and the log-loss, unweighted, bitwise.

    The softmax as ``skmlp._activations.softmax`` (row maximum, numpy's ``exp``, row sums
    as numpy's pairwise sum), the loss as ``log_loss``: ``P`` clipped to ``[eps, 1 - eps]``,
    ``scipy.special.xlogy(Y, P)`` in float64 (its ``dd->d`` loop: libm's ``log``), the
    column means (rows added one after the other from 0, then divided by the float64
    row count), their pairwise sum, negated. ``Z`` ends up holding ``P - Y``.
    """
    n, k = Z.shape
    for i in range(n):
        mx = Z[i, 0]
        for j in range(1, k):
            v = Z[i, j]
            if v > mx or v != v:  # numpy's maximum propagates NaN
                mx = v
        for j in range(k):
            Z[i, j] = Z[i, j] - mx
    _numpy_unary(Z, np.bool_(False), loops)
    cols = np.zeros(k)
    for i in range(n):
        total = zero + K._pairwise_sum(Z[i], zero)
        for j in range(k):
            p = Z[i, j] / total
            c = p
            if c < eps:
                c = eps
            if c > one_m_eps:
                c = one_m_eps
            y = np.float64(Y[i, j])
            cd = np.float64(c)
            if y == 0 and cd == cd:
                term = 0.0
            else:
                term = y * np.log(cd)
            cols[j] = cols[j] + term
            Z[i, j] = p - Y[i, j]
    for j in range(k):
        cols[j] = cols[j] / np.float64(n)
    return -(0.0 + K._pairwise_sum(cols, 0.0))


@njit(**_JIT)
def _output(Z, Y, sw, weighted, out_code, values, s, alpha):
    with objmode(loss="float64", is32="int64"):
        loss, is32 = _output_step(Z, Y, sw, weighted, out_code, values, s, alpha)
    return loss, is32


@njit(**_JIT)
def _extras_step(params, grad, state1, state2, n_coefs, opt, alpha, alpha64, s, momentum,
                 nesterov, beta_1, one_m_b1, beta_2, one_m_b2, neg_lr, epsilon, t_buf, zero,
                 one, overflows, max_norm, decays, step_lrs, k, ema_sum, ema_average, ema_d,
                 ema_1md, ema_corrections):
    """Step ``k`` of ``StepExtras.step``, operation for operation (see :func:`_epoch`)."""
    n = grad.shape[0]
    # finish_gradient: g[:n_coefs] += alpha * W (only when alpha is not 0), then g /= s
    if alpha64 != 0.0:
        for j in range(n_coefs):
            grad[j] = grad[j] + params[j] * alpha
    for j in range(n):
        grad[j] = grad[j] / s
    # clip_gradient: norm = float(sqrt(dot(g, g))); g *= max_norm / norm (a Python float,
    # taken in g's dtype) when the norm is larger
    if max_norm >= 0.0:
        u1 = np.int64(1)
        _matmul(grad, np.int64(0), np.int64(n), u1, grad, np.int64(0), u1, np.int64(n), t_buf,
                u1, u1, u1, u1, np.int64(n), u1, zero)
        norm = np.float64(np.sqrt(t_buf[1]))
        if norm > max_norm:
            t_buf[1] = max_norm / norm
            c = t_buf[1]
            for j in range(n):
                grad[j] = grad[j] * c
    # decoupled weight decay of the weights (not the biases)
    if decays.shape[0]:
        c = decays[k]
        for j in range(n_coefs):
            params[j] = params[j] * c
    # the optimizer's own step on the finished gradient (no L2 term, divided by 1)
    if opt == _ADAM:
        if K._adam_kernel(params, grad, state1, state2, np.int64(0), zero, one, beta_1,
                          one_m_b1, beta_2, one_m_b2, neg_lr, epsilon):
            overflows[0] += 1
    else:
        K._sgd_kernel(params, grad, state1, np.int64(0), zero, one, momentum, step_lrs[k],
                      nesterov)
    # EMA.update: sum = d sum + (1 - d) params; average = sum * (1 / (1 - d^t))
    if ema_sum.shape[0]:
        c = ema_corrections[k]
        for j in range(n):
            total = ema_sum[j] * ema_d + params[j] * ema_1md
            ema_sum[j] = total
            ema_average[j] = total * c


@njit(**_JIT)
def _epoch(X, n_rows, rs, cs, Y, sw, weighted, order, shuffled, batch_size, sizes, kinds,
           woff, boff, aoff, doff, params, grad, state1, state2, n_coefs, opt, alpha, momentum,
           lr, nesterov,
           beta_1, one_m_b1, beta_2, one_m_b2, neg_lrs, epsilon, A, D, X_buf, Y_buf, sw_buf,
           sw_zero, t_buf, out_code, fused, alpha64, half_alpha, eps_out, one_m_eps_out, zero,
           one, losses, is32, rng, rates, scales, M, KP, loops, overflows, extras, max_norm,
           decays, step_lrs, ema_sum, ema_average, ema_d, ema_1md, ema_corrections, slope):
    """The batches of one epoch; returns ``(steps, batches)``: the number of optimizer
    steps taken and of batches done.

    ``X`` is the memory of the (``n_rows``, ``sizes[0]``) input, flat: its element
    ``(r, j)`` is ``X[r * rs + j * cs]`` (C order, ``rs == sizes[0]`` and ``cs == 1``,
    unless ``shuffled``: the gather reads any layout).

    ``losses[k]`` and ``is32[k]`` receive batch ``k``'s loss (see :func:`_output_step`).
    A batch whose loss is not finite stops the loop before its backward pass and step:
    ``batches`` is then its index, and the caller goes on from there in numpy (whose
    floating-point warnings the compiled code cannot give).
    Hidden layer ``i`` drops units when ``rates[i] > 0``: its masks (``M``) are drawn from
    ``rng`` as ``_solvers.dropout_masks`` draws them, the activations before dropout kept
    in ``KP`` (both laid out like ``D``). ``overflows[0]`` counts the Adam steps in which
    some ``g * g`` overflowed (numpy's "overflow encountered in square").

    With ``extras`` each step is ``skmlp._drivers.StepExtras.step``: the gradient finished
    (L2 term, division by ``s``), clipped to the norm ``max_norm`` (when it is not
    negative), the weights multiplied by ``decays[k]`` (when there are decays), the
    optimizer's step on the finished gradient at step ``k``'s rate (``neg_lrs[k]`` for
    Adam, ``step_lrs[k]`` for SGD), then the weight average (when ``ema_sum`` has
    entries) moved: ``ema_sum = ema_d ema_sum + ema_1md params`` and
    ``ema_average = ema_sum * ema_corrections[k]``. Every per-step number was computed
    beforehand by the Python formulas, in the parameters' dtype where numpy takes it so.
    """
    n_samples = order.shape[0] if shuffled else n_rows
    # the stride 1 and the flags below as numpy scalars: a literal argument would have
    # numba compile the callee once more for each pattern of literals (seconds each)
    u1 = np.int64(1)
    n_layers = sizes.shape[0] - 1
    n_in = sizes[0]
    n_out = sizes[n_layers]
    steps = 0
    k = 0
    for start in range(0, n_samples, batch_size):
        stop = min(start + batch_size, n_samples)
        m = stop - start
        # the batch: rows of X in place, or gathered; targets and weights gathered
        # (element loops: ~2.5 x faster than numba's row-slice assignments here)
        for i in range(m):
            r = order[start + i] if shuffled else start + i
            if shuffled:
                base = i * n_in
                x_r = r * rs
                for j in range(n_in):
                    X_buf[base + j] = X[x_r + j * cs]
            for j in range(n_out):
                Y_buf[i, j] = Y[r, j]
            if weighted:
                sw_buf[i] = sw[r]
        if shuffled:
            xa = X_buf
            x0 = 0
        else:
            xa = X
            x0 = start * n_in
        Yb = Y_buf[:m]
        swb = sw_buf[:m]
        # dropout_masks: one draw of (m, units) per dropping layer, before anything else
        for i in range(n_layers - 1):
            if rates[i] > 0:
                u = rng.random((m, sizes[i + 1]))
                mask = M[doff[i]:doff[i] + m * sizes[i + 1]].reshape((m, sizes[i + 1]))
                for r in range(m):
                    for j in range(sizes[i + 1]):
                        mask[r, j] = scales[i] if u[r, j] >= rates[i] else zero
        # s: the number of rows, or the sum of their weights in the weights' dtype
        # (numpy's pairwise sum); s_t: s in the parameters' dtype, for the step
        if weighted:
            s = np.float64(K._pairwise_sum(swb, sw_zero))
            if s == 0:  # the batch weighs nothing: loss 0, no step
                losses[k] = 0.0
                is32[k] = 0
                k += 1
                continue
            t_buf[0] = K._pairwise_sum(swb, sw_zero)
        else:
            s = np.float64(m)
            t_buf[0] = m
        s_t = t_buf[0]
        # forward
        for i in range(n_layers):
            fan_in = sizes[i]
            units = sizes[i + 1]
            if i == 0:
                _matmul(xa, x0, fan_in, u1, params, woff[0], units, u1, A, aoff[0], units, u1,
                        m, fan_in, units, zero)
            else:
                _matmul(A, aoff[i - 1], fan_in, u1, params, woff[i], units, u1, A, aoff[i],
                        units, u1, m, fan_in, units, zero)
            Z = A[aoff[i]:aoff[i] + m * units].reshape((m, units))
            b = params[boff[i]:boff[i] + units]
            if i < n_layers - 1:
                K._bias_act(Z, b, kinds[i], zero, one, slope)
                if kinds[i] == _TANH:
                    _numpy_unary(Z, np.bool_(True), loops)
                if rates[i] > 0:
                    K._dropout(Z, M[doff[i]:doff[i] + m * units].reshape((m, units)),
                               KP[doff[i]:doff[i] + m * units].reshape((m, units)))
            else:
                for r in range(m):
                    for j in range(units):
                        Z[r, j] = Z[r, j] + b[j]
        # L2: the sum of each layer's dot(W, W) (numpy's dot: BLAS, into a double)
        values = zero
        for i in range(n_layers):
            size = sizes[i] * sizes[i + 1]
            if size == 1:
                w = params[woff[i]]
                values += w * w
            else:
                _matmul(params, woff[i], size, u1, params, woff[i], u1, size, t_buf, u1, u1,
                        u1, u1, size, u1, zero)
                values += t_buf[1]
        Z = A[aoff[n_layers - 1]:aoff[n_layers - 1] + m * n_out].reshape((m, n_out))
        if fused:
            # MLP.backprop's loss: the log-loss, plus (0.5 * alpha) * values / s in the
            # weights' dtype (s, an int, takes it), added to the float64 log-loss
            loss = _softmax_log_loss(Z, Yb, zero, eps_out, one_m_eps_out, loops)
            loss += np.float64(half_alpha * values / s_t)
            flag = 0
        else:
            loss, flag = _output(Z, Yb, swb, weighted, out_code, values, s, alpha64)
        losses[k] = loss
        is32[k] = flag
        if not np.isfinite(loss):
            return steps, k
        k += 1
        # backward: delta is the output layer's work array, then D's
        dl = A
        d0 = aoff[n_layers - 1]
        for i in range(n_layers - 1, -1, -1):
            fan_in = sizes[i]
            units = sizes[i + 1]
            if i == 0:
                _matmul(xa, x0, u1, fan_in, dl, d0, units, u1, grad, woff[0], units, u1,
                        fan_in, m, units, zero)
            else:
                _matmul(A, aoff[i - 1], u1, fan_in, dl, d0, units, u1, grad, woff[i], units,
                        u1, fan_in, m, units, zero)
            delta = dl[d0:d0 + m * units].reshape((m, units))
            K._column_sums_kernel(delta, grad[boff[i]:boff[i] + units], zero)
            if i == 0:
                break
            _matmul(dl, d0, units, u1, params, woff[i], u1, units, D, doff[i - 1], fan_in, u1,
                    m, units, fan_in, zero)
            prev = D[doff[i - 1]:doff[i - 1] + m * fan_in].reshape((m, fan_in))
            if rates[i - 1] > 0:  # the derivative at the activation before dropout
                K._derivative(KP[doff[i - 1]:doff[i - 1] + m * fan_in].reshape((m, fan_in)),
                              prev, kinds[i - 1],
                              M[doff[i - 1]:doff[i - 1] + m * fan_in].reshape((m, fan_in)),
                              zero, one, slope)
            elif kinds[i - 1] != K._IDENTITY:
                Ai = A[aoff[i - 1]:aoff[i - 1] + m * fan_in].reshape((m, fan_in))
                K._derivative(Ai, prev, kinds[i - 1], Ai[:0], zero, one, slope)
            dl = D
            d0 = doff[i - 1]
        if extras:
            _extras_step(params, grad, state1, state2, n_coefs, opt, alpha, alpha64, s_t,
                         momentum, nesterov, beta_1, one_m_b1, beta_2, one_m_b2,
                         neg_lrs[steps if opt == _ADAM else 0], epsilon, t_buf, zero, one,
                         overflows, max_norm, decays, step_lrs, steps, ema_sum, ema_average,
                         ema_d, ema_1md, ema_corrections)
            steps += 1
            continue
        # the step, with the L2 term and the division by s fused in
        if opt == _ADAM:
            if K._adam_kernel(params, grad, state1, state2, n_coefs, alpha, s_t, beta_1,
                              one_m_b1, beta_2, one_m_b2, neg_lrs[steps], epsilon):
                overflows[0] += 1
        else:
            K._sgd_kernel(params, grad, state1, n_coefs, alpha, s_t, momentum, lr, nesterov)
        steps += 1
    return steps, k


# ----------------------------------------------------------------------------------------
# the entry point
# ----------------------------------------------------------------------------------------
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
#: the Generator passed when no layer drops (never drawn from)
_NO_RNG = np.random.default_rng(0)


def _check_loops():
    """Whether numpy's exp and tanh loops, called from the compiled code, give np.exp's
    and np.tanh's bits (on values across their ranges, specials included)."""
    if any(lp is None for lp in _LOOPS):
        return False
    x = np.concatenate([np.linspace(-800, 800, 4001), np.geomspace(1e-300, 1e3, 997),
                        -np.geomspace(1e-300, 1e3, 997), [0.0, -0.0, np.inf, -np.inf, np.nan]])
    with np.errstate(all="ignore"):
        for dt in (np.float32, np.float64):
            for tanh, f in ((False, np.exp), (True, np.tanh)):
                z = x.astype(dt).reshape(-1, 1)[: (len(x) // 7) * 7].reshape(-1, 7).copy()
                expected = f(z)
                _numpy_unary(z, tanh, _LOOP_DATA)
                if not np.array_equal(z.view(np.uint8), expected.view(np.uint8)):
                    return False
    return True


_loops_checked = []


def _loops():
    """``_LOOP_DATA`` once numpy's loops passed :func:`_check_loops`, else an empty array
    (numpy is then called through objmode)."""
    if not _loops_checked:
        _loops_checked.append(_LOOP_DATA if _check_loops() else np.empty(0, np.uint64))
    return _loops_checked[0]


def covers(net, optimizer, X, Y, sample_weight, *, order=None, dropout=None, rng=None,
           extras=None, alpha=0.0):
    """Whether :func:`run_epoch_compiled` trains this epoch (bitwise as ``run_epoch``).

    Parameters are ``run_epoch``'s. True for: numpy's BLAS found; a dense ``X`` of the
    network's dtype (float32 or float64) with rows, C-contiguous, or when ``order`` is given
    of any aligned layout with non-negative strides of whole elements (unshuffled, the
    Python loop multiplies slices of ``X`` in place, with other BLAS arguments for other
    layouts); 2-d targets whose errors keep that dtype (boolean, or a float or integer that
    numpy's arithmetic with the network's dtype keeps in that dtype: float32 targets and
    integer counts beside float64 ``X`` included); sample weights None or a 1-d float array
    whose dtype the network's holds exactly; SGD or Adam whose state arrays are flat arrays
    of the network's dtype; every hidden activation one of the kernels' (identity, relu,
    tanh, logistic, leaky_relu); any output; ``order`` None or a 1-d integer array of valid
    row indices; dropout (a rate in [0, 1) per hidden layer, ``rng`` a
    ``numpy.random.Generator``; the masks are drawn from it in the compiled code, the same
    numbers as ``_solvers.dropout_masks`` draws); ``alpha`` a Python number or a numpy
    scalar the network's dtype holds exactly; the optimizer's momentum and learning rate
    (SGD) or betas and epsilon (Adam) Python numbers, or float64 scalars beside a float64
    network; ``extras`` None or a ``StepExtras`` (schedule, weight decay, clipping, and a
    weight average of the network's dtype); numpy's floating-point error modes no stricter
    than "warn" (the compiled BLAS calls and loops raise nothing: under
    ``np.errstate(over="raise")`` and the like the Python loop runs, and raises where numpy
    and scikit-learn raise).
    """
    dtype = net.dtype
    if strict_fp_errors():  # it cannot raise, call or log on a flag
        return False
    # a numpy scalar alpha wider than the weights (np.float64 beside float32) makes
    # scikit-learn's L2 terms float64: the loop computes them in the weights' dtype
    if not _ops._one_dtype(dtype, (), (alpha,)):
        return False
    if (BLAS_LIBRARY is None or dtype not in _FLOATS
            or dropout is not None and (len(dropout) != len(net.activations)
                                        or any(not 0 <= r < 1 for r in dropout)
                                        or any(dropout)
                                        and not isinstance(rng, np.random.Generator))
            or net.out_activation not in _OUTPUT_NAMES
            or any(a not in K.ACTIVATIONS for a in net.activations)
            or not net.params.flags.c_contiguous):
        return False
    if not (isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype == dtype and X.shape[0]
            and X.shape[1] == net.layer_sizes[0]
            # another layout only when gathered: the Python loop then gathers too, into a
            # C-ordered buffer (the same products); unshuffled it multiplies X's slices
            and (X.flags.c_contiguous or order is not None and _flat(X) is not None)):
        return False
    if not (isinstance(Y, np.ndarray) and Y.ndim == 2 and Y.shape == (X.shape[0],
                                                                       net.layer_sizes[-1])
            and (Y.dtype == np.bool_ or Y.dtype in _FLOATS or Y.dtype.kind in "iu")
            and np.result_type(dtype, Y.dtype) == dtype):
        return False
    if sample_weight is not None and not (
            isinstance(sample_weight, np.ndarray) and sample_weight.shape == (X.shape[0],)
            and sample_weight.dtype in _FLOATS
            and np.can_cast(sample_weight.dtype, dtype, "safe")):
        return False
    # a numpy-scalar momentum, beta or epsilon wider than the weights (np.float64 beside
    # float32) makes scikit-learn's optimizer state float64 (see _ops._plain)
    if type(optimizer) not in (SGD, Adam) or not optimizer.plain(dtype):
        return False
    for name in optimizer._STATE_ARRAYS:
        a = getattr(optimizer, name)
        if not (isinstance(a, np.ndarray) and a.dtype == dtype and a.shape == net.params.shape
                and a.flags.c_contiguous):
            return False
    if extras is not None and extras.ema is not None:
        for a in (extras.ema.average, extras.ema._sum):
            if not (a.dtype == dtype and a.shape == net.params.shape and a.flags.c_contiguous
                    and a.flags.writeable):
                return False
    if order is not None:
        if not (isinstance(order, np.ndarray) and order.ndim == 1
                and order.dtype.kind in "iu" and len(order)):
            return False
        if order.min() < 0 or order.max() >= X.shape[0]:
            return False
    return True


def _flat(X):
    """``(X_flat, rs, cs)``: the memory ``X`` spans as a read-only 1-d view (see
    :func:`_read_only`), ``X[r, j]`` being ``X_flat[r * rs + j * cs]``; None when a stride
    is negative or not a whole number of elements, or ``X`` is not aligned.

    Not only C order: a DataFrame's values are in Fortran order, ``load_digits``' data
    is a strided view of the file's table. Such an ``X`` is read in place by the gather,
    never copied whole (as ``run_epoch`` reads it).
    """
    if X.flags.c_contiguous:
        return _read_only(X.reshape(-1)), X.shape[1], 1
    size = X.itemsize
    (s0, r0), (s1, r1) = divmod(X.strides[0], size), divmod(X.strides[1], size)
    if r0 or r1 or s0 < 0 or s1 < 0 or not X.flags.aligned:
        return None
    extent = (X.shape[0] - 1) * s0 + (X.shape[1] - 1) * s1 + 1
    return np.lib.stride_tricks.as_strided(X, (extent,), (size,), writeable=False), s0, s1


def _read_only(a):
    """A read-only view of ``a`` (``a`` itself keeps its flag).

    numba types a read-only array apart from a writable one and compiles (and caches)
    the whole loop once for each, seconds of compiling. The loop only reads the data, so
    it is always given read-only views: a plain array, a DataFrame's values (pandas'
    copy-on-write views) and a memmap opened read-only (data kept on disk) all run one
    compiled loop.
    """
    view = a.view()
    view.flags.writeable = False
    return view


def _targets(Y, dtype):
    """``Y`` as the loop takes it: C-ordered, read-only, and real targets in the
    network's dtype (float32 targets and integer counts beside float64 ``X`` are
    converted as numpy's mixed arithmetic in ``run_epoch`` converts them: the same
    values). One compiled loop then serves every layout and dtype of real targets; the
    copy, when one is needed, is ``n_samples * n_outputs`` values per epoch."""
    if Y.dtype != np.bool_:
        Y = Y.astype(dtype, order="C", copy=False)
    return _read_only(np.ascontiguousarray(Y))


#: work arrays and layer offsets per network, kept between epochs (see :func:`_layout`)
_LAYOUTS = weakref.WeakKeyDictionary()
_EMPTY = {np.dtype(d): _read_only(np.empty(0, d)) for d in (np.float32, np.float64)}
_NO_ORDER = np.empty(0, np.int64)


def _layout(net, cap, n_batches, n_features, y_dtype, shuffled, sw_dtype, dropping):
    """The offsets of each layer in ``params`` and in the work arrays, and the work arrays
    for batches of ``cap`` rows; kept with the network while it trains with the same
    shapes (a fit's epochs), made anew when they change."""
    key = (tuple(net.layer_sizes), tuple(net.activations), net.dtype, cap, n_batches,
           n_features, y_dtype, shuffled, sw_dtype, dropping)
    w = _LAYOUTS.get(net)
    if w is not None and w["key"] == key:
        return w
    dtype = net.dtype
    sizes = np.asarray(net.layer_sizes, np.int64)
    fan = sizes[:-1] * sizes[1:]
    hidden = int(cap * sizes[1:-1].sum())
    n_hidden = len(net.activations)
    w = {
        "key": key,
        "sizes": sizes,
        "kinds": np.array([K._KIND[a] for a in net.activations] or [0], np.int64),
        # weights, then biases, in params; every layer's rows in A, the hidden ones in D
        "woff": np.concatenate(([0], np.cumsum(fan)[:-1])).astype(np.int64),
        "boff": (net.n_coefs + np.concatenate(([0], np.cumsum(sizes[1:])[:-1]))).astype(
            np.int64),
        "aoff": np.concatenate(([0], np.cumsum(cap * sizes[1:])[:-1])).astype(np.int64),
        "A": np.empty(int(cap * sizes[1:].sum()), dtype),
        "D": np.empty(max(hidden, 1), dtype),
        "X_buf": np.empty(cap * n_features if shuffled else 0, dtype),
        "Y_buf": np.empty((cap, net.layer_sizes[-1]), y_dtype),
        "sw_buf": np.empty(cap if sw_dtype is not None else 0, sw_dtype or dtype),
        "t_buf": np.empty(2, dtype),
        "overflows": np.zeros(1, np.int64),
        "grad": np.empty(net.params.shape, dtype),
        "losses": np.empty(n_batches),
        "is32": np.empty(n_batches, np.int64),
        "rates": np.zeros(max(n_hidden, 1)),
        "scales": np.ones(max(n_hidden, 1), dtype),
        # dropout: the masks and the activations before them, laid out like D
        "M": np.empty(max(hidden, 1) if dropping else 0, dtype),
        "KP": np.empty(max(hidden, 1) if dropping else 0, dtype),
    }
    w["doff"] = w["aoff"][:-1].copy()
    _LAYOUTS[net] = w
    return w


def _extras_arrays(extras, optimizer, n_batches, dtype):
    """The step extras' numbers for each step this epoch may take, by ``StepExtras.step``'s
    and ``EMA.update``'s Python formulas: ``rates`` (the optimizer's scaled base rate),
    ``decays`` (the weights' factor, in ``dtype``; none without weight decay),
    ``step_lrs`` (SGD's rate, in ``dtype``), ``corrections`` (the average's
    ``1 / (1 - d^t)``, in ``dtype``), the clipping norm (-1: none), and the average's
    arrays and decay (empty arrays and 0 without one)."""
    none = np.empty(0, dtype)
    x = {"rates": [], "decays": none, "step_lrs": none, "corrections": none, "max_norm": -1.0,
         "ema_sum": none, "ema_average": none, "d": 0.0}
    if extras is None:
        return x
    base = optimizer.learning_rate if isinstance(optimizer, SGD) else optimizer.learning_rate_init
    factors = [extras.factor(extras.steps + k) for k in range(n_batches)]
    x["rates"] = [base * f for f in factors]
    if extras.weight_decay:
        x["decays"] = np.array([extras.decay(base, f) for f in factors], dtype)
    if isinstance(optimizer, SGD):
        x["step_lrs"] = np.array(x["rates"], dtype)
    if extras.max_grad_norm is not None:
        x["max_norm"] = float(extras.max_grad_norm)
    ema = extras.ema
    if ema is not None:
        x["ema_sum"], x["ema_average"], x["d"] = ema._sum, ema.average, ema.decay
        x["corrections"] = np.array([1.0 / (1.0 - ema.decay ** (ema.t + k))
                                     for k in range(1, n_batches + 1)], dtype)
    return x


def release(net):
    """Free the work arrays kept for ``net`` (a fit can call this when it ends)."""
    _LAYOUTS.pop(net, None)


class LoopUnavailable(Exception):
    """The compiled loop could not be loaded or compiled for an epoch's arguments; raised
    before anything ran, so the caller can flush the cache and retry, or run the Python
    loop."""


@contextmanager
def _loading():
    """Any exception raised inside, as :class:`LoopUnavailable`: what loading numba's cached
    code or compiling it raises is not only numba's own errors (a damaged cache file gives
    LLVM's RuntimeError, a UnicodeDecodeError or a ValueError from its pickle; numba's
    internal errors keep their own classes)."""
    try:
        yield
    except Exception as error:
        raise LoopUnavailable(f"{type(error).__name__}: {error}") from error


def run_epoch_compiled(net, optimizer, X, Y, sample_weight, batch_size, *, alpha=0.0,
                       order=None, dropout=None, rng=None, extras=None):
    """``skmlp._solvers.run_epoch`` in one compiled call, or None when not covered.

    Same contract and same numbers as ``run_epoch``: the parameters, the optimizer's
    state and the step extras' (their step count, the weight average) are updated in
    place, bitwise as the Python loop updates them. When :func:`covers` says no, nothing
    is changed and None is returned: the caller then runs the Python loop.

    Parameters
    ----------
    net : MLP
    optimizer : SGD or Adam
    X : ndarray of shape (n_rows, n_features)
    Y : ndarray of shape (n_rows, n_outputs)
    sample_weight : ndarray of shape (n_rows,) or None
    batch_size : int
    alpha : float, default=0.0
    order : ndarray of int or None, default=None
    dropout : sequence of float or None, default=None
        Drop rate per hidden layer.
    rng : numpy.random.Generator, required with dropout
        The dropout masks' stream: the same draws as ``run_epoch`` takes from it.
    extras : skmlp._drivers.StepExtras or None, default=None
        The step extras; their per-step numbers (the schedule's rates, the decay factors,
        the average's bias corrections) are computed here by their Python formulas.

    Returns
    -------
    loss : numpy floating, skmlp._ops.StoppedEpoch or None
        As ``run_epoch`` returns it (float64; float32 for a float32 squared error with a
        Python-int ``batch_size``, whose batch sizes keep it float32). When
        a batch's loss is not finite, the loop stops before that batch's step and returns
        ``StoppedEpoch(batch, total)``: ``run_epoch`` goes on from that batch in numpy
        (the same numbers, with numpy's floating-point warnings), ``total`` being its
        running sum of the batch losses so far.
    """
    if not covers(net, optimizer, X, Y, sample_weight, order=order, dropout=dropout, rng=rng,
                  extras=extras, alpha=alpha):
        return None
    dtype = net.dtype
    t = dtype.type
    shuffled = order is not None
    n_samples = len(order) if shuffled else X.shape[0]
    batches = gen_batches(n_samples, batch_size)  # run_epoch's, numpy integers included
    batch_size = int(batch_size)
    weighted = sample_weight is not None
    sw = _read_only(sample_weight) if weighted else _EMPTY[dtype]
    X_flat, rs, cs = _flat(X)
    Y = _targets(Y, dtype)
    n_hidden = len(net.activations)
    out_code = _OUTPUT_NAMES.index(net.out_activation)
    # the compiled softmax log-loss is the float64 one of 0/1 targets; soft targets
    # (label smoothing: float, so a float32 loss with float32 ones) take the Python step
    fused = out_code == 0 and not weighted and Y.dtype == np.bool_
    dropping = dropout is not None and any(dropout)
    w = _layout(net, min(batch_size, n_samples), -(-n_samples // batch_size), X.shape[1],
                Y.dtype, shuffled, sw.dtype if weighted else None, dropping)
    if dropping:
        w["rates"][:n_hidden] = dropout
        # dropout_masks' multiplier, 1 / (1 - rate) in the network's dtype
        w["scales"][:n_hidden] = [t(1.0 / (1.0 - r)) for r in dropout]
    else:
        rng = _NO_RNG  # never drawn from: no rate is above 0
    losses, is32 = w["losses"], w["is32"]
    n_batches = len(losses)
    x = _extras_arrays(extras, optimizer, n_batches, dtype)
    if isinstance(optimizer, Adam):
        opt, state1, state2 = _ADAM, optimizer.m, optimizer.v
        # the step sizes, by Adam's Python formula, for each step this epoch may take (with
        # a schedule, StepExtras.step sets learning_rate_init to its scaled rate first)
        inits = (x["rates"] if extras is not None
                 else [optimizer.learning_rate_init] * n_batches)
        lrs = [inits[k - 1] * np.sqrt(1 - optimizer.beta_2 ** (optimizer.t + k))
               / (1 - optimizer.beta_1 ** (optimizer.t + k)) for k in range(1, n_batches + 1)]
        neg_lrs = -np.array(lrs, np.float64)
        b1, b2, eps = optimizer.beta_1, optimizer.beta_2, optimizer.epsilon
        momentum, lr, nesterov = 0.0, 0.0, False
    else:
        opt, state1, state2 = _SGD, optimizer.velocity, optimizer.velocity
        neg_lrs = np.zeros(1)
        b1 = b2 = eps = 0.0
        momentum, lr, nesterov = optimizer.momentum, optimizer.learning_rate, optimizer.nesterov
    with _loading():  # the first call checks numpy's loops through compiled code
        loops = _loops()
    args = (X_flat, X.shape[0], rs, cs, Y, sw, weighted, order if shuffled else _NO_ORDER,
            shuffled, batch_size,
            w["sizes"], w["kinds"], w["woff"], w["boff"], w["aoff"], w["doff"], net.params,
            w["grad"], state1, state2, net.n_coefs, opt, t(alpha), t(momentum), t(lr),
            bool(nesterov), t(b1), t(1.0 - b1), t(b2), t(1.0 - b2), neg_lrs, t(eps), w["A"],
            w["D"], w["X_buf"], w["Y_buf"], w["sw_buf"], sw.dtype.type(0), w["t_buf"],
            out_code, fused, float(alpha), t(0.5 * alpha),
            np.finfo(dtype).eps, 1 - np.finfo(dtype).eps, t(0), t(1), losses, is32, rng,
            w["rates"], w["scales"], w["M"], w["KP"], loops, w["overflows"],
            extras is not None, x["max_norm"], x["decays"], x["step_lrs"], x["ema_sum"],
            x["ema_average"], t(x["d"]), t(1.0 - x["d"]), x["corrections"],
            t(LEAKY_RELU_SLOPE))
    if not w.get("resolved"):  # once per layout: loaded or compiled before anything runs
        with _loading():
            _epoch.compile(tuple(_epoch.typeof_pyval(a) for a in args))
        w["resolved"] = True
    try:
        steps, done = _epoch(*args)
    finally:  # also when the output step raised (the objmode step is numpy's code)
        if w["overflows"][0]:  # numpy says it, as the Python loop's step would have
            w["overflows"][0] = 0
            _ops.overflow_in_square(dtype)
    if opt == _ADAM and steps:
        optimizer.t += steps
        optimizer.learning_rate = lrs[steps - 1]
    if extras is not None:
        extras.steps += steps
        if extras.ema is not None:
            extras.ema.t += steps
    # run_epoch's sum of the batch losses weighted by the batch sizes, in their numpy dtypes
    # (the slices hold numpy integers when the batch size is one, as scikit-learn's np.clip
    # leaves it: a float32 batch loss times such a size is float64)
    total = 0.0
    for k, batch in enumerate(islice(batches, done)):
        loss = np.float32(losses[k]) if is32[k] else np.float64(losses[k])
        total += loss * (batch.stop - batch.start)
    if done < n_batches:
        return _ops.StoppedEpoch(done, total)
    return total / n_samples
