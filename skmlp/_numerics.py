"""Numerics the network, the optimizers and the solvers share: dtypes, the finished
gradient, and the floating-point warnings skmlp silences.

Numpy only, and no skmlp import: every module may import from here, so imports only
point down (the optimizers used to import ``finish_gradient`` from the network).
"""

import numpy as np

#: numpy's floating-point warnings where skmlp checks the result itself (validation outputs,
#: the finite checks of a fitted model): ``with np.errstate(**QUIET_FP)``. Training shows
#: numpy's warnings as scikit-learn does.
QUIET_FP = {"over": "ignore", "invalid": "ignore", "divide": "ignore", "under": "ignore"}


def strict_fp_errors():
    """Whether numpy's floating-point error modes ask for more than a warning.

    ``"raise"``, ``"call"``, ``"print"`` or ``"log"`` for any flag (``np.errstate``,
    ``np.seterr``). numba's code cannot act on a flag, so training then runs numpy's own
    steps, which raise (or call) where numpy and scikit-learn do; under "warn" and
    "ignore" the kernels run, and only a warning can be missing.
    """
    return any(mode not in ("ignore", "warn") for mode in np.geterr().values())


def gradient_dtype(dtype, X, Y):
    """The dtype of the activations, of the error ``P - Y`` and of everything after them.

    scikit-learn lets numpy promote: float32 weights, float32 ``X`` and boolean
    (classification) or float32 targets keep float32; float64 ``X`` (``X @ W``) or
    float64 or integer targets (``P - Y``) make the activations or the error, the
    gradient and the optimizer's state float64, while the weights stay float32.

    Parameters
    ----------
    dtype : dtype
        The weights' dtype.
    X, Y : ndarray or sparse matrix
        The inputs and the targets.

    Returns
    -------
    numpy.dtype
    """
    return np.result_type(np.dtype(dtype), X.dtype, np.asarray(Y).dtype)


def finish_gradient(grad, params, n_coefs, alpha, s, scratch=None):
    """Turn raw gradient sums into the gradient of the mean loss.

    ``g = (grad + alpha * W) / s`` for the weights and ``grad / s`` for the biases,
    in scikit-learn's order, with its dtypes: ``alpha * W`` in the weights' dtype,
    ``s`` as it comes. scikit-learn divides the weights' sums in place and the biases'
    sums into a new array, so the sum of float64 sample weights (a numpy float64)
    leaves float32 weight gradients float32 (rounded) and makes the bias gradients
    float64.

    Parameters
    ----------
    grad : ndarray of shape (n_params,)
        Raw sums ``A.T @ delta`` (weights first) and ``sum(delta)`` (biases), as
        ``MLP.backprop`` leaves them; finished in place.
    params : ndarray of shape (n_params,)
        The parameters, laid out like ``grad``.
    n_coefs : int
        Number of weights: ``params[:n_coefs]`` get the L2 term.
    alpha : float
        L2 strength.
    s : int or float or numpy floating
        The number of samples, or the sum of their weights.
    scratch : ndarray of shape (>= n_coefs,) or None, default=None
        Holds ``alpha * W`` (the weights' dtype); allocated when None.

    Returns
    -------
    grad : ndarray of shape (n_params,)
        ``grad`` itself, finished in place (its bias part too, when it holds them).
    grad_intercepts : ndarray of shape (n_params - n_coefs,)
        The bias gradients: a view into ``grad``, or a new wider array when ``s`` is
        wider than ``grad`` (its bias part of ``grad`` is then left as raw sums).
    """
    if alpha:
        l2 = np.multiply(params[:n_coefs], alpha,
                         out=None if scratch is None else scratch[:n_coefs])
        grad[:n_coefs] += l2
    # a numpy scalar wider than the gradient (float64 weight sum, float32 gradient) makes
    # scikit-learn's new bias array wider; Python numbers and narrower scalars do not
    if not (isinstance(s, np.generic) and s.dtype.itemsize > grad.dtype.itemsize):
        grad /= s
        return grad, grad[n_coefs:]
    grad[:n_coefs] /= s
    return grad, grad[n_coefs:] / s
