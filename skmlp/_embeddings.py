"""Periodic numerical embeddings (RealMLP's "PBLD"): forward and backward side by side.

Each numerical column ``x_j`` (of the ``k`` chosen ones) is expanded into ``m``
periodic features and mapped linearly to ``e`` numbers, its own small network::

    U[j] = 2 pi x_j w1[j] + b1[j]                 w1[j], b1[j] : (m,)
    C[j] = cos(U[j])
    E[j] = C[j] @ W2[j] + b2[j]                   W2[j] : (m, e),  b2[j] : (e,)

The layer's output is ``[E[0], ..., E[k-1], X]``: the embeddings of the chosen columns,
then every input column unchanged ("densenet": the raw value stays available, so the
embedding only has to add what a linear function of ``x_j`` lacks). Periodic features
let the first layer fit functions of one column that are far from linear (steps,
bumps) at a cost of ``O(k m e)`` per row.

Index convention: arrays are laid out column-major over the chosen columns,
``(k, n_samples, m)``, so every column's small product is one batched ``matmul``.

References
----------
Gorishniy, Rubachev and Babenko (2022), "On Embeddings for Numerical Features in
Tabular Deep Learning" (periodic embeddings, PLR). Holzmüller et al. (2024), "Better by
Default" (the PBLD variant: a phase ``b1`` in the cosine instead of sin and cos,
linear output, raw value concatenated; ``w1 ~ N(0, 0.1^2)``, ``b1 ~ U(-pi, pi)``).
"""

import math

import numpy as np

TWO_PI = 2.0 * math.pi


def shapes(k, m, e):
    """Names and shapes of the layer's parameters, in their order in the flat vector."""
    return [("w1", (k, m)), ("b1", (k, m)), ("W2", (k, m, e)), ("b2", (k, e))]


def initialize(rng, k, m, e, sigma):
    """Initial parameters: ``w1 ~ N(0, sigma^2)``, ``b1 ~ U(-pi, pi)``,
    ``W2, b2 ~ U(-1, 1) / sqrt(m)`` (PyTorch's default for a linear layer of fan-in ``m``).

    Returns
    -------
    params : dict of name -> ndarray (float64)
    """
    bound = 1.0 / math.sqrt(m)
    return {
        "w1": sigma * rng.standard_normal((k, m)),
        "b1": rng.uniform(-math.pi, math.pi, (k, m)),
        "W2": rng.uniform(-bound, bound, (k, m, e)),
        "b2": rng.uniform(-bound, bound, (k, e)),
    }


def forward(X, columns, p):
    """The embedded input and what backpropagation needs.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    columns : ndarray of int, shape (k,)
        The columns to embed.
    p : dict
        ``w1`` (k, m), ``b1`` (k, m), ``W2`` (k, m, e), ``b2`` (k, e).

    Returns
    -------
    out : ndarray of shape (n_samples, k * e + n_features)
        ``[E[0], ..., E[k-1], X]``.
    cache : tuple
        ``(Xk, U, C, rows_first)``: the chosen columns as (k, n_samples), the phases and
        cosines, (n_samples, k, m) if ``rows_first`` else (k, n_samples, m).

    Notes
    -----
    The phases are laid out row-major, (n_samples, k, m), when every small product is a
    matrix-matrix one (``n_samples``, ``m`` and ``e`` above 1): each column's
    ``C[:, j] @ W2[j]`` reads its (n_samples, m) slice in place and writes ``E[j]``
    straight into ``out``, and :func:`backward` sums whole rows of ``k m`` numbers (one
    fast pass instead of ``k m`` strided ones). BLAS computes a matrix product the same
    whatever the matrices' leading dimensions; a matrix-vector product may not, so the
    other shapes keep the column-major layout (:func:`_forward_by_column`), and the
    numbers are the same either way.
    """
    n = X.shape[0]
    k, m, e = p["W2"].shape
    if n < 2 or m < 2 or e < 2:
        return _forward_by_column(X, columns, p)
    Xc = X[:, columns]  # (n, k)
    # every x_j repeated m times: the product with the frequencies runs over whole rows
    U = np.repeat(Xc, m, axis=1).reshape(n, k, m)
    U *= TWO_PI * p["w1"]
    U += p["b1"]
    C = np.cos(U)
    out = np.empty((n, k * e + X.shape[1]), dtype=X.dtype)
    E = out[:, : k * e]
    np.matmul(C.transpose(1, 0, 2), p["W2"], out=E.reshape(n, k, e).transpose(1, 0, 2))
    E += p["b2"].reshape(-1)
    out[:, k * e :] = X
    return out, (np.ascontiguousarray(Xc.T), U, C, True)


def _forward_by_column(X, columns, p):
    """:func:`forward` with the phases laid out (k, n_samples, m)."""
    n = X.shape[0]
    k, m, e = p["W2"].shape
    Xk = np.ascontiguousarray(X[:, columns].T)  # (k, n)
    U = Xk[:, :, None] * (TWO_PI * p["w1"])[:, None, :]
    U += p["b1"][:, None, :]
    C = np.cos(U)
    E = np.matmul(C, p["W2"])  # (k, n, e)
    E += p["b2"][:, None, :]
    out = np.empty((n, k * e + X.shape[1]), dtype=X.dtype)
    out[:, : k * e].reshape(n, k, e)[...] = E.transpose(1, 0, 2)
    out[:, k * e :] = X
    return out, (Xk, U, C, False)


def backward(d_out, cache, p, grads):
    """Gradients of the layer's parameters from the error at its output.

    Parameters
    ----------
    d_out : ndarray of shape (n_samples, k * e + n_features)
        ``dL/d out``; only the embedding part is used (the input needs no gradient).
    cache : tuple
        What :func:`forward` returned.
    p : dict
        The parameters, as given to :func:`forward`.
    grads : dict
        Arrays shaped like ``p``, written in place.

    Notes
    -----
    With ``dE[j]`` the error at ``E[j]``::

        dW2[j] = C[j].T @ dE[j]          db2[j] = sum_n dE[j]
        dU[j]  = -sin(U[j]) * (dE[j] @ W2[j].T)
        dw1[j] = 2 pi sum_n x_j dU[j]    db1[j] = sum_n dU[j]

    In the row-major layout ``db1`` adds the rows of ``dU`` (n_samples, k m) one after
    another: the order numpy's sum over axis 1 of the (k, n_samples, m) layout takes
    (for ``m > 1``), so the sums are the same. ``dw1``, a matrix-vector product, gets
    ``dU`` in the (k, n_samples, m) layout as before.
    """
    Xk, U, C, rows_first = cache
    k, m, e = p["W2"].shape
    n = Xk.shape[1]
    dE = d_out[:, : k * e].reshape(n, k, e).transpose(1, 0, 2)  # (k, n, e)
    if rows_first:
        np.matmul(C.transpose(1, 2, 0), dE, out=grads["W2"])
        dU = np.empty_like(U)
        np.matmul(dE, p["W2"].transpose(0, 2, 1), out=dU.transpose(1, 0, 2))
    else:
        np.matmul(C.transpose(0, 2, 1), dE, out=grads["W2"])
        dU = np.matmul(dE, p["W2"].transpose(0, 2, 1))  # (k, n, m)
    np.sum(dE, axis=1, out=grads["b2"])
    dU *= np.sin(U)
    np.negative(dU, out=dU)
    if rows_first:
        np.sum(dU.reshape(n, k * m), axis=0, out=grads["b1"].reshape(k * m))
        dU = np.ascontiguousarray(dU.transpose(1, 0, 2))  # (k, n, m)
    else:
        np.sum(dU, axis=1, out=grads["b1"])
    np.matmul(dU.transpose(0, 2, 1), Xk[:, :, None], out=grads["w1"][:, :, None])
    grads["w1"] *= TWO_PI
