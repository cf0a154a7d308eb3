"""The network of the tutorial, grown up: any depth, one flat parameter vector.

"The tutorial" is the project's seed, the blog post "neural net framework from
scratch, spelled-out tutorial" (2023-09-05; README, "How the code maps to the
tutorial"): input -> linear ``W x + b`` (the pre-activation) -> ReLU or sigmoid ->
linear -> softmax, trained by backpropagation and minibatch SGD on cross-entropy. This
module is that network with any number of hidden layers, any activation of
``skmlp._activations.ACTIVATIONS``, and the outputs and losses of ``skmlp._activations``.

Index convention, said once: layer ``i`` (``i = 0 .. n_layers - 2``) maps the
activations ``A[i]`` of shape ``(n_samples, fan_in)`` to the pre-activation

    Z[i + 1] = A[i] @ W[i] + b[i]          W[i] : (fan_in, fan_out), b[i] : (fan_out,)

and ``A[i + 1] = f(Z[i + 1])``. ``A[0]`` is the input ``X``. This is the tutorial's
``W x + b`` applied to every row of a batch at once, which is why ``W`` is stored as
``(fan_in, fan_out)`` (the transpose of the tutorial's matrix, and the layout of
scikit-learn's ``coefs_``). The output function (softmax, logistic, identity or exp)
turns the last pre-activation into predictions, and the loss paired with it makes
the error at that pre-activation simply ``P - Y``.

All weights, then all biases, live in one contiguous vector ``params``; ``coefs``
and ``intercepts`` are views into it. An optimizer therefore updates the whole
network in one pass, and the L2 penalty, which touches only weights, is one slice
``params[:n_coefs]``.

The arithmetic is scikit-learn's, operation for operation (``_backprop`` and
``_compute_loss_grad`` in ``neural_network/_multilayer_perceptron.py``): the output
error is weighted by the sample weights, the weight gradient is
``(A.T @ delta + alpha * W) / s`` and the bias gradient ``sum(delta) / s``, ``s``
being the number (or total weight) of samples. Same numbers, to rounding.

Numpy only: the matrix products here, every other step through ``skmlp._ops``, which
decides alone whether its numba twin runs (training batches ask with ``fused=True``;
prediction does not). ``X`` may also be a scipy sparse matrix: only ``X @ W`` and
``X.T @ delta`` touch it.
"""

import numpy as np

from . import _ops
from ._activations import ACTIVATIONS, LOG_OUTPUTS, LOSS_OF_OUTPUT, OUTPUTS
from ._init import INITIALIZERS
from ._numerics import finish_gradient, gradient_dtype


def forward(X, coefs, intercepts, activations, out_activation=None, *, layers=None,
            saved=None, masks=None, fused=False):
    """The forward pass: every layer's activations, from the input ``X``.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    coefs, intercepts : list of ndarray
        ``W[i]`` of shape (fan_in, fan_out) and ``b[i]`` of shape (fan_out,).
    activations : sequence of str
        One hidden activation per hidden layer.
    out_activation : str or None, default=None
        Output function applied to the last layer; None keeps its pre-activation
        (the logits).
    layers : list of ndarray or None, default=None
        Where to write ``A[1], ..., A[L]`` (the training loop's work arrays, kept for
        backpropagation). None allocates new arrays, so concurrent calls are safe.
    saved : list of (ndarray or None) or None, default=None
        Per hidden layer, where to keep what the derivative needs besides ``A``:
        GELU's pre-activation, or the activation before dropout.
    masks : list of (ndarray or None) or None, default=None
        Inverted-dropout multipliers per hidden layer (0 or ``1 / keep``).
    fused : bool, default=False
        Let the elementwise steps run their numba twins (a training batch; see
        ``skmlp._ops``). Prediction leaves it False, and so never imports numba.

    Returns
    -------
    A : list of ndarray
        ``[X, A[1], ..., A[L]]``.
    """
    A = [X]
    last = len(coefs) - 1
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        if layers is None:
            Z = np.asarray(A[i] @ W)
        elif isinstance(A[i], np.ndarray):
            Z = np.matmul(A[i], W, out=layers[i])
        else:  # sparse input
            Z = layers[i]
            Z[...] = A[i] @ W
        if i < last:
            keep = None if saved is None else saved[i]
            mask = None if masks is None else masks[i]
            _ops.bias_activation(Z, b, activations[i], keep=keep, mask=mask, fused=fused)
        else:
            Z += b
            if out_activation is not None:
                OUTPUTS[out_activation](Z)
        A.append(Z)
    return A


def backward(A, delta, coefs, activations, grad_coefs, grad_intercepts, deltas, *,
             saved=None, masks=None, fused=False):
    """Backpropagation: the raw gradient sums, layer by layer from the output.

    ``delta`` is the error at the last pre-activation. For each layer, from the last:
    ``grad_W[i] = A[i].T @ delta``, ``grad_b[i] = sum(delta, axis=0)``, and the error
    one layer down is ``(delta @ W[i].T) * f'(Z[i])`` (times the dropout mask).

    Parameters
    ----------
    A : list of ndarray
        What :func:`forward` returned.
    delta : ndarray of shape (n_samples, n_outputs)
    coefs : list of ndarray
    activations : sequence of str
    grad_coefs, grad_intercepts : list of ndarray
        Written in place, shaped like ``coefs`` and ``intercepts``.
    deltas : list of ndarray
        Work arrays for the hidden layers' errors, ``deltas[i]`` of shape
        (n_samples, units of hidden layer i + 1).
    saved, masks, fused
        As given to :func:`forward`.
    """
    for i in range(len(coefs) - 1, -1, -1):
        if isinstance(A[i], np.ndarray):
            np.matmul(A[i].T, delta, out=grad_coefs[i])
        else:
            grad_coefs[i][...] = A[i].T @ delta
        _ops.column_sums(delta, grad_intercepts[i], fused=fused)
        if i == 0:
            break
        prev = np.matmul(delta, coefs[i].T, out=deltas[i - 1])
        keep = None if saved is None else saved[i - 1]
        mask = None if masks is None else masks[i - 1]
        _ops.activation_derivative(A[i] if keep is None else keep, prev, activations[i - 1],
                                   mask=mask, fused=fused)
        delta = prev


class MLP:
    """A fully connected feed-forward network and its loss.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[n_features, hidden_1, ..., hidden_k, n_outputs]``, as in the tutorial's
        ``[784, 64, 10]``.
    activation : str or sequence of str, default="relu"
        Hidden activation, one name for all hidden layers or one per hidden layer;
        keys of ``skmlp._activations.ACTIVATIONS``.
    out_activation : {"softmax", "logistic", "identity", "exp"}, default="softmax"
        ``"softmax"`` for one-of-K classes, ``"logistic"`` for binary (one output)
        and multilabel (one output per label) targets, ``"identity"`` for regression
        with squared error, ``"exp"`` for the Poisson loss. The loss is the one
        paired with it (``skmlp._activations.LOSS_OF_OUTPUT``).
    dtype : numpy dtype, default=np.float64
        Floating type of the parameters and of all work arrays.

    Attributes
    ----------
    params : ndarray of shape (n_params,)
        All weights (layer by layer, row-major), then all biases.
    coefs : list of ndarray
        ``coefs[i]`` is ``W[i]`` of shape ``(layer_sizes[i], layer_sizes[i + 1])``,
        a view into ``params``.
    intercepts : list of ndarray
        ``intercepts[i]`` is ``b[i]`` of shape ``(layer_sizes[i + 1],)``, a view.
    n_coefs : int
        Number of weights; ``params[:n_coefs]`` is what L2 penalises.
    activations : tuple of str
        One hidden activation per hidden layer.
    loss : str
        Name of the loss in ``skmlp._activations.LOSSES``.

    Examples
    --------
    >>> import numpy as np
    >>> net = MLP([4, 8, 3]).initialize(np.random.RandomState(0))
    >>> X, Y = np.ones((5, 4)), np.eye(3)[[0, 1, 2, 0, 1]]
    >>> loss, grad = net.loss_grad(X, Y)
    >>> grad.shape == net.params.shape
    True
    """

    def __init__(self, layer_sizes, activation="relu", out_activation="softmax",
                 dtype=np.float64):
        self.layer_sizes = [int(s) for s in layer_sizes]
        n_hidden = len(self.layer_sizes) - 2
        if n_hidden < 0:
            raise ValueError("layer_sizes needs at least an input and an output size.")
        self.activation = activation
        self.activations = (activation,) * n_hidden if isinstance(activation, str) else (
            tuple(activation))
        if len(self.activations) != n_hidden:
            raise ValueError(
                f"Got {len(self.activations)} activations for {n_hidden} hidden layers."
            )
        for name in self.activations:
            if name not in ACTIVATIONS:
                raise ValueError(f"Unknown activation {name!r}; known: {sorted(ACTIVATIONS)}.")
        if out_activation not in LOSS_OF_OUTPUT:
            raise ValueError(
                f"out_activation must be one of {sorted(LOSS_OF_OUTPUT)}, got {out_activation!r}."
            )
        self.out_activation = out_activation
        self.loss = LOSS_OF_OUTPUT[out_activation]
        self.dtype = np.dtype(dtype)
        shapes = list(zip(self.layer_sizes[:-1], self.layer_sizes[1:]))
        self.n_coefs = sum(a * b for a, b in shapes)
        self.params = np.zeros(self.n_coefs + sum(self.layer_sizes[1:]), dtype=self.dtype)
        self.coefs, self.intercepts = self.unflatten(self.params)
        self._work = None

    @classmethod
    def from_weights(cls, coefs, intercepts, activation="relu", out_activation="softmax",
                     dtype=None):
        """A network holding a copy of the given weights (e.g. an estimator's ``coefs_``).

        Parameters
        ----------
        coefs, intercepts : sequence of array-like
            ``coefs[i]`` of shape (fan_in, fan_out), ``intercepts[i]`` of shape (fan_out,),
            consecutive layers chaining (``coefs[i + 1].shape[0] == coefs[i].shape[1]``).
        dtype : numpy dtype, default=None
            None is float32 when every array is float32, float64 otherwise.

        Raises
        ------
        ValueError
            If the shapes do not chain into a network.
        """
        coefs, intercepts = list(coefs), list(intercepts)
        check_layer_shapes(coefs, intercepts)
        if dtype is None:
            all32 = all(np.asarray(p).dtype == np.float32 for p in coefs + intercepts)
            dtype = np.float32 if all32 else np.float64
        sizes = [np.shape(coefs[0])[0]] + [np.shape(W)[1] for W in coefs]
        net = cls(sizes, activation, out_activation, dtype)
        return net.set_weights(coefs, intercepts)

    # --- parameters ---------------------------------------------------------------
    def unflatten(self, flat):
        """Split a flat vector laid out like ``params`` into per-layer views.

        Parameters
        ----------
        flat : ndarray of shape (n_params,)

        Returns
        -------
        coefs : list of ndarray, ``coefs[i]`` of shape (fan_in, fan_out)
        intercepts : list of ndarray, ``intercepts[i]`` of shape (fan_out,)
        """
        coefs, intercepts, start = [], [], 0
        for fan_in, fan_out in zip(self.layer_sizes[:-1], self.layer_sizes[1:]):
            coefs.append(flat[start : start + fan_in * fan_out].reshape(fan_in, fan_out))
            start += fan_in * fan_out
        for fan_out in self.layer_sizes[1:]:
            intercepts.append(flat[start : start + fan_out])
            start += fan_out
        return coefs, intercepts

    @property
    def init_activations(self):
        """The activation each layer's Glorot factor follows, one per layer.

        scikit-learn uses its one ``activation`` for every layer, the output layer
        included; with one activation per hidden layer, each layer follows its own
        and the output layer the last hidden one (with no hidden layer at all, the
        default ``"relu"``, as MLPClassifier's default would).
        """
        if isinstance(self.activation, str):
            return [self.activation] * len(self.coefs)
        return list(self.activations) + [(self.activations or ("relu",))[-1]]

    def initialize(self, rng, init="glorot_uniform"):
        """Draw the initial weights and biases.

        Parameters
        ----------
        rng : numpy.random.RandomState or numpy.random.Generator
            The only source of randomness.
        init : {"glorot_uniform", "scaled_normal"}, default="glorot_uniform"
            MLPClassifier's uniform draws, or the tutorial's N(0, (gain / sqrt(fan_in))^2)
            weights with zero biases (see ``skmlp._init``).

        Returns
        -------
        self : MLP
        """
        coefs = [np.empty(W.shape) for W in self.coefs]  # drawn in float64, then cast
        intercepts = [np.empty(b.shape) for b in self.intercepts]
        INITIALIZERS[init](rng, coefs, intercepts, self.init_activations)
        return self.set_weights(coefs, intercepts)

    def set_weights(self, coefs, intercepts):
        """Copy per-layer arrays (e.g. an estimator's ``coefs_``) into ``params``."""
        for dst, src in zip(self.coefs + self.intercepts, list(coefs) + list(intercepts)):
            if np.shape(dst) != np.shape(src):
                raise ValueError(
                    f"Parameter of shape {np.shape(src)} where {dst.shape} is expected.")
            dst[...] = src
        return self

    def __getstate__(self):
        state = self.__dict__.copy()
        for key in ("coefs", "intercepts", "_work"):  # views and scratch: rebuilt
            state.pop(key, None)
        state["dtype"] = self.dtype.name  # a plain string: skops then trusts the whole state
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.dtype = np.dtype(self.dtype)
        expected = self.n_coefs + sum(self.layer_sizes[1:])
        if self.params.shape != (expected,):
            raise ValueError(
                f"Corrupt network state: {self.params.shape[0]} parameters for layer sizes "
                f"{self.layer_sizes}, which need {expected}."
            )
        self.coefs, self.intercepts = self.unflatten(self.params)
        self._work = None

    # --- prediction ---------------------------------------------------------------
    def logits(self, X):
        """The last layer's pre-activation, shape (n_samples, n_outputs)."""
        return forward(X, self.coefs, self.intercepts, self.activations)[-1]

    def predict(self, X):
        """Output probabilities (or predicted values), shape (n_samples, n_outputs)."""
        return OUTPUTS[self.out_activation](self.logits(X))

    def predict_log_proba(self, X):
        """Log of the output probabilities, from the logits (finite where they underflow)."""
        return LOG_OUTPUTS[self.out_activation](self.logits(X))

    # --- training -----------------------------------------------------------------
    def _work_arrays(self, n, masked=None, dtypes=None):
        """Per-layer work arrays for ``n`` rows, allocated once and sliced per batch size.

        The network owns them between calls (a fit runs thousands of batches);
        :meth:`release` frees them. They grow when a larger batch comes. ``masked``
        says which hidden layers have dropout: those, and GELU layers, get a
        ``saved`` array (see :func:`forward`); the others get None. ``dtypes`` is
        ``(activations' dtype, errors' dtype)``, by default the network's dtype.
        """
        masked = tuple(masked or (False,) * len(self.activations))
        keep = tuple(ACTIVATIONS[a].needs_preactivation or m
                     for a, m in zip(self.activations, masked))
        act_dtype, delta_dtype = (np.dtype(t) for t in (dtypes or (self.dtype, self.dtype)))
        w = self._work
        if (w is None or n > w["capacity"] or w["keep"] != keep
                or w["dtypes"] != (act_dtype, delta_dtype)):
            n_rows = max(n, 0 if w is None else w["capacity"])
            units = self.layer_sizes[1:]
            w = self._work = {
                "capacity": n_rows,
                "keep": keep,
                "dtypes": (act_dtype, delta_dtype),
                "A": [np.empty((n_rows, u), act_dtype) for u in units],
                "delta": [np.empty((n_rows, u), delta_dtype) for u in units[:-1]],
                "saved": [np.empty((n_rows, u), act_dtype) if k else None
                          for u, k in zip(units, keep)],
                "views": {},
            }
        if n not in w["views"]:  # a fit sees at most two batch sizes: keep them
            w["views"][n] = tuple([None if a is None else a[:n] for a in w[key]]
                                  for key in ("A", "delta", "saved"))
        return w["views"][n]

    def release(self):
        """Free the work arrays (a fit does this when it ends)."""
        self._work = None

    def backprop(self, X, Y, sample_weight=None, alpha=0.0, *, grad, masks=None):
        """Loss, and the raw gradient sums written into ``grad``, by backpropagation.

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Y : ndarray of shape (n_samples, n_outputs)
            One-hot (softmax) or 0/1 (logistic) targets, boolean or float, or real
            (identity, exp) targets, in the dtype scikit-learn keeps them in.
        sample_weight : ndarray of shape (n_samples,), default=None
            Kept in its own dtype, as scikit-learn does.
        alpha : float, default=0.0
            L2 strength.
        grad : ndarray of shape (n_params,)
            Receives ``A.T @ delta`` and ``sum(delta)`` per layer, not yet divided by
            ``s`` nor holding the L2 term: ``skmlp._numerics.finish_gradient`` (or an
            optimizer's step) does that. Its dtype is that of the error ``P - Y`` (see
            ``skmlp._numerics.gradient_dtype``): float64 for float32 outputs and float64 targets,
            as in scikit-learn.
        masks : list of (ndarray or None), default=None
            Inverted-dropout multipliers per hidden layer, shape (n_samples, units).

        Returns
        -------
        loss : numpy floating
            ``LOSS(Y, P, sample_weight) + alpha / 2 * ||W||^2 / s``, in scikit-learn's
            dtype (float64 unless every array is float32).
        s : int or numpy floating
            The number of samples, or the sum of their weights (in their dtype): what
            the gradient is to be divided by. Zero means the batch weighs nothing:
            ``grad`` is then left undefined and should not be used.
        """
        n = X.shape[0]
        s = n if sample_weight is None else sample_weight.sum()
        if s == 0:
            return np.float64(0.0), s
        masked = None if masks is None else [m is not None for m in masks]
        # float64 X times float32 weights is float64, as in scikit-learn
        act_dtype = np.result_type(X.dtype, self.dtype)
        layers, deltas, saved = self._work_arrays(n, masked, (act_dtype, grad.dtype))
        A = forward(X, self.coefs, self.intercepts, self.activations, layers=layers,
                    saved=saved, masks=masks, fused=True)
        # the output, its loss, and the error (P - Y) * sample_weight
        loss, delta = _ops.output_loss_error(A[-1], Y, sample_weight, self.out_activation,
                                             self.loss)
        # layer by layer, as scikit-learn sums it: L-BFGS's line search sees every bit
        values = 0
        for W in self.coefs:
            W = W.ravel()
            values += np.dot(W, W)
        loss += (0.5 * alpha) * values / s  # in the weights' dtype, as scikit-learn
        grad_coefs, grad_intercepts = self.unflatten(grad)
        backward(A, delta, self.coefs, self.activations, grad_coefs, grad_intercepts, deltas,
                 saved=saved, masks=masks, fused=True)
        return loss, s

    def loss_grad(self, X, Y, sample_weight=None, alpha=0.0, *, grad=None, masks=None):
        """Loss with L2 penalty, and its gradient.

        Parameters
        ----------
        X, Y, sample_weight, alpha, masks
            As in :meth:`backprop`.
        grad : ndarray of shape (n_params,), default=None
            Where to write the gradient; allocated (in ``_numerics.gradient_dtype``) when None.

        Returns
        -------
        loss : numpy.float64
        grad : ndarray of shape (n_params,)
            Laid out like ``params``; zero for a batch whose weights sum to zero. The
            given ``grad`` (finished in place), or a new float64 array when float64
            sample weights make the bias gradients float64 and the weights' are
            float32 (they hold float32 values then), as scikit-learn's packed gradient.

        Notes
        -----
        With ``s = sum(sample_weight)`` (``n_samples`` when unweighted), as in
        scikit-learn::

            loss = LOSS(Y, P) + alpha / 2 * ||W||^2 / s

        With every output paired with its canonical loss, the error at the last
        pre-activation is ``(P - Y) * sample_weight``; :func:`backward` carries it back
        by ``delta[i - 1] = (delta[i] @ W[i].T) * f'(Z[i])``.
        """
        if grad is None:
            grad = np.empty(self.params.shape, gradient_dtype(self.dtype, X, Y))
        loss, s = self.backprop(X, Y, sample_weight, alpha, grad=grad, masks=masks)
        if s == 0:
            grad[...] = 0
            return loss, grad
        grad, grad_intercepts = finish_gradient(grad, self.params, self.n_coefs, alpha, s)
        if grad_intercepts.dtype != grad.dtype:  # float64 biases of float32 weights
            grad = grad.astype(grad_intercepts.dtype)
            grad[self.n_coefs:] = grad_intercepts
        return loss, grad


def check_layer_shapes(coefs, intercepts):
    """Check that weight and bias arrays chain into a network; raise ValueError if not."""
    if len(coefs) == 0 or len(coefs) != len(intercepts):
        raise ValueError(
            f"coefs_ and intercepts_ must be non-empty and of equal length; got {len(coefs)} "
            f"and {len(intercepts)} arrays."
        )
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        W_shape, b_shape = np.shape(W), np.shape(b)
        if len(W_shape) != 2 or b_shape != (W_shape[1],):
            raise ValueError(
                f"coefs_[{i}] of shape {W_shape} and intercepts_[{i}] of shape {b_shape} do "
                "not form a layer: expected (fan_in, fan_out) and (fan_out,)."
            )
        if i and W_shape[0] != np.shape(coefs[i - 1])[1]:
            raise ValueError(
                f"coefs_[{i}] has {W_shape[0]} rows but layer {i - 1} has "
                f"{np.shape(coefs[i - 1])[1]} units."
            )
