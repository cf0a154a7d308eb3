"""One epoch of minibatch training, and L-BFGS on the flat parameter vector.

Numpy (and, for L-BFGS, scipy) only. The caller decides the batches, the
sample order and the stopping rule; this module turns them into updates.
"""

import numpy as np
import scipy.optimize


def dropout_masks(rng, n, net, rates):
    """Inverted-dropout masks for one batch, or None when no layer drops.

    Parameters
    ----------
    rng : numpy.random.Generator or numpy.random.RandomState
    n : int
        Batch size.
    net : MLP
    rates : sequence of float or None
        Drop probability per hidden layer.

    Returns
    -------
    masks : list of (ndarray of shape (n, units) or None) or None
        Each kept unit is scaled by ``1 / (1 - rate)`` so that the expected
        activation is unchanged and prediction needs no rescaling.
    """
    if rates is None or not any(rates):
        return None
    masks = []
    for rate, units in zip(rates, net.layer_sizes[1:-1]):
        if rate == 0:
            masks.append(None)
            continue
        keep = rng.random((n, units)) >= rate
        masks.append(keep.astype(net.dtype) * net.dtype.type(1.0 / (1.0 - rate)))
    return masks


def run_epoch(net, optimizer, X, Y, sample_weight, batches, alpha=0.0, order=None,
              dropout=None, rng=None):
    """One pass over the data: a forward pass, backprop and an update per batch.

    Parameters
    ----------
    net : MLP
    optimizer : SGD or Adam
    X : {ndarray, sparse CSR matrix} of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
        Targets, boolean or float; each batch is cast to ``net.dtype``.
    sample_weight : ndarray of shape (n_samples,) or None
    batches : list of slice
        Positions in ``order`` (or in ``X`` when ``order`` is None) of each batch,
        e.g. ``list(sklearn.utils.gen_batches(n_samples, batch_size))``.
    alpha : float, default=0.0
        L2 strength.
    order : ndarray of shape (n_samples,) or None
        A permutation of the rows (shuffling); ``None`` takes ``X`` as it is,
        in contiguous slices, without copying.
    dropout : sequence of float or None
        Drop rate per hidden layer.
    rng : Generator or RandomState, required with dropout

    Returns
    -------
    loss : float
        The batch losses averaged with the batch sizes as weights
        (scikit-learn's ``loss_``).
    """
    n_samples = X.shape[0]
    grad = np.empty_like(net.params)
    dense = isinstance(X, np.ndarray)
    # each batch is gathered into arrays allocated once: X itself is never copied whole
    size = max(sl.stop - sl.start for sl in batches)
    X_buf = np.empty((size, X.shape[1]), X.dtype) if dense and order is not None else None
    Y_buf = np.empty((size, Y.shape[1]), net.dtype)
    total = 0.0
    for sl in batches:
        if order is None:
            X_b, idx = X[sl], sl
        else:
            idx = order[sl]
            # mode="clip": with the default mode numpy buffers `out` (indices are valid)
            X_b = np.take(X, idx, axis=0, out=X_buf[: len(idx)], mode="clip") if dense else X[idx]
        m = X_b.shape[0]
        Y_b = Y_buf[:m]
        Y_b[...] = Y[idx]  # targets may be stored boolean; the loss wants floats
        sw_b = None if sample_weight is None else sample_weight[idx]
        masks = dropout_masks(rng, m, net, dropout)
        loss, _ = net.loss_grad(X_b, Y_b, sw_b, alpha, grad, masks, scratch=optimizer.scratch)
        optimizer.step(net.params, grad)
        total += loss * X_b.shape[0]
    return total / n_samples


def minimize_lbfgs(net, X, Y, sample_weight=None, alpha=0.0, max_iter=200, max_fun=15000,
                   tol=1e-4, callback=None):
    """Minimise the network's loss over its flat parameter vector with L-BFGS-B.

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
        Called with scipy's ``intermediate_result`` (``.x``, ``.fun``) after
        each iteration.

    Returns
    -------
    result : scipy.optimize.OptimizeResult
    """
    grad = np.empty_like(net.params)

    def loss_grad(theta):
        net.params[...] = theta
        loss, g = net.loss_grad(X, Y, sample_weight, alpha, grad)
        return loss, g.astype(np.float64)

    result = scipy.optimize.minimize(
        loss_grad,
        net.params.astype(np.float64),
        method="L-BFGS-B",
        jac=True,
        callback=callback,
        options={"maxiter": max_iter, "maxfun": max_fun, "gtol": tol},
    )
    net.params[...] = result.x
    return result
