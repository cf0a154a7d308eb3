"""The solvers: one epoch of minibatch training, and L-BFGS on the flat parameter vector.

Numpy (and, for L-BFGS, scipy) only. The caller decides the sample order and the
stopping rule; this module turns batches into updates. Batches are scikit-learn's
(``gen_batches`` over the running shuffle of the sample indices), so the same
``RandomState`` sends the same samples through the same updates as MLPClassifier.
"""

from contextlib import nullcontext
from itertools import islice

import numpy as np
import scipy.optimize
from sklearn.utils import _safe_indexing, gen_batches
from sklearn.utils.fixes import _get_additional_lbfgs_options_dict

from . import _config, _ops
from ._numerics import gradient_dtype


class Diverged(Exception):
    """Training produced a non-finite loss or weights (a fit turns it into a ValueError)."""


def diverged_message(est, what):
    """The error a fit raises when training diverged: ``what`` happened, and what to try."""
    return (
        f"Solver produced non-finite parameter weights: {what}. The learning rate "
        f"(learning_rate_init={est.learning_rate_init}) may be too high, or the input data may "
        "contain large values and need to be preprocessed (e.g. with StandardScaler)."
    )


def dropout_masks(rng, n, net, rates):
    """Inverted-dropout multipliers for one batch, or None when no layer drops.

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Batch size.
    net : MLP
    rates : sequence of float
        Drop probability per hidden layer.

    Returns
    -------
    masks : list of (ndarray of shape (n, units) or None) or None
        0 for a dropped unit, ``1 / (1 - rate)`` for a kept one, so the expected
        activation is unchanged and prediction needs no rescaling.
    """
    if not any(rates):
        return None
    masks = []
    for rate, units in zip(rates, net.layer_sizes[1:-1]):
        if rate == 0:
            masks.append(None)
            continue
        kept = rng.random((n, units)) >= rate
        masks.append(kept.astype(net.dtype) * net.dtype.type(1.0 / (1.0 - rate)))
    return masks


def run_epoch(net, optimizer, X, Y, sample_weight, batch_size, *, alpha=0.0, order=None,
              dropout=None, rng=None, extras=None, compiled=True):
    """One pass over the data: forward, backprop and an update per batch.

    The loop below is the reference. With the kernels on, a covered configuration runs
    the whole epoch compiled instead (``skmlp._ops.compiled_epoch``): the same numbers.

    Parameters
    ----------
    net : MLP
    optimizer : SGD or Adam
    X : {ndarray, sparse CSR matrix} of shape (n_rows, n_features)
    Y : ndarray of shape (n_rows, n_outputs)
        Targets in scikit-learn's dtype: boolean indicators, or the regression targets.
    sample_weight : ndarray of shape (n_rows,) or None
    batch_size : int
    alpha : float, default=0.0
        L2 strength.
    order : ndarray of int or None, default=None
        The rows of ``X`` to visit, in order (a shuffle, a training split); None
        visits every row in place, batch by batch, without copying.
    dropout : sequence of float or None
        Drop rate per hidden layer.
    rng : numpy.random.Generator, required with dropout
    extras : skmlp._drivers.StepExtras or None, default=None
        skmlp's opt-in step extras (schedule, weight decay, clipping, averaging), which
        then make each step; None is MLPClassifier's step.
    compiled : bool, default=True
        Allow the compiled loop. It cannot give numpy's floating-point warnings, so it
        stops at a batch whose loss is not finite, before that batch's step, and the
        loop below goes on from there (numpy's warnings, the same numbers).

    Returns
    -------
    loss : numpy.float64
        The batch losses averaged with the batch sizes as weights (scikit-learn's
        ``loss_``). A batch whose weights sum to zero counts as loss 0 and makes no
        update.
    """
    n_samples = X.shape[0] if order is None else len(order)
    first, total, stopped = 0, 0.0, False
    if compiled:  # where the kernels are on and it covers the case
        masks_from = rng.bit_generator.state if dropout is not None and any(dropout) else None
        loss = _ops.compiled_epoch(net, optimizer, X, Y, sample_weight, batch_size,
                                   alpha=alpha, order=order, dropout=dropout, rng=rng,
                                   extras=extras)
        if isinstance(loss, _ops.StoppedEpoch):
            # on in numpy from the batch whose loss is not finite, its masks drawn again
            (first, total), stopped = loss, True
            if masks_from is not None:
                rng.bit_generator.state = masks_from
                for batch in islice(gen_batches(n_samples, batch_size), first):
                    dropout_masks(rng, batch.stop - batch.start, net, dropout)
        elif loss is not None:
            return loss
    grad = np.empty(net.params.shape, gradient_dtype(net.dtype, X, Y))
    dense = isinstance(X, np.ndarray)
    # each batch is gathered into arrays allocated once: X itself is never copied whole
    size = min(batch_size, n_samples)
    X_buf = np.empty((size, X.shape[1]), X.dtype) if dense and order is not None else None
    Y_buf = np.empty((size, Y.shape[1]), Y.dtype)
    # after a compiled epoch stopped: numpy's own steps too (their warnings, and the
    # errors of an errstate set to "raise"), not the kernels
    with _config.use_kernels(False) if stopped else nullcontext():
        for batch in islice(gen_batches(n_samples, batch_size), first, None):
            idx = batch if order is None else order[batch]
            if order is None:
                X_b = X[batch]
            elif dense:
                # mode="clip": with the default mode numpy buffers `out` (indices are valid)
                X_b = np.take(X, idx, axis=0, out=X_buf[: len(idx)], mode="clip")
            else:  # sparse: scikit-learn's own gather (it turns CSC rows into CSR)
                X_b = _safe_indexing(X, idx)
            m = X_b.shape[0]
            Y_b = Y_buf[:m]
            Y_b[...] = Y[idx]
            sw_b = None if sample_weight is None else sample_weight[idx]
            masks = None if dropout is None else dropout_masks(rng, m, net, dropout)
            # weight_sum: the batch's size, or the sum of its sample weights
            loss, weight_sum = net.backprop(X_b, Y_b, sw_b, alpha, grad=grad, masks=masks)
            if weight_sum != 0 and extras is None:
                optimizer.step(net.params, grad, alpha=alpha, scale=weight_sum,
                               n_coefs=net.n_coefs)
            elif weight_sum != 0:
                extras.step(net, optimizer, grad, alpha=alpha, scale=weight_sum)
            total += loss * (batch.stop - batch.start)
    return total / n_samples


def minimize_lbfgs(net, X, Y, sample_weight=None, alpha=0.0, *, max_iter=200, max_fun=15000,
                   tol=1e-4, callback=None, verbose=False):
    """Minimise the network's loss over its flat parameter vector with L-BFGS-B.

    The call is MLPClassifier's: ``scipy.optimize.minimize`` with ``maxfun``,
    ``maxiter`` and ``gtol``.

    Parameters
    ----------
    net : MLP
        Starts from, and is left at, ``net.params``.
    X, Y, sample_weight, alpha
        As in :meth:`MLP.loss_grad`, over the whole data set.
    max_iter, max_fun : int
        Limits on iterations and on loss evaluations.
    tol : float
        Stop when the largest gradient entry is below ``tol`` (``gtol``).
    callback : callable, optional
        Called with scipy's ``intermediate_result`` (``.x``, ``.fun``) after each
        iteration; raising ``StopIteration`` ends the minimisation.
    verbose : bool, default=False
        scipy's own progress output, on the scipy versions that still have it.

    Returns
    -------
    result : scipy.optimize.OptimizeResult
        ``result.x`` is float64; ``net.params`` holds it in the network's dtype.
    """
    grad = np.empty(net.params.shape, gradient_dtype(net.dtype, X, Y))

    def loss_grad(theta):
        net.params[...] = theta
        loss, g = net.loss_grad(X, Y, sample_weight, alpha, grad=grad)
        return loss, g.astype(np.float64)

    result = scipy.optimize.minimize(
        loss_grad,
        net.params.astype(np.float64),
        method="L-BFGS-B",
        jac=True,
        callback=callback,
        options={
            "maxfun": max_fun,
            "maxiter": max_iter,
            "gtol": tol,
            **_get_additional_lbfgs_options_dict("iprint", 1 if verbose else -1),
        },
    )
    net.params[...] = result.x
    return result
