"""The tabular network: embeddings, a learnable feature scale, NTK-parametrised layers.

From the input (already robustly scaled, ``skmlp._preprocessing``) to the logits::

    H    = [PBLD embeddings of the numerical columns, X]     (skmlp._embeddings; optional)
    A[0] = H * s                                             s : (D,), per-feature scale
    Z[l] = c[l] A[l] @ W[l] + b[l],  c[l] = 1 / sqrt(fan_in)  ("ntk"; 1 with "standard")
    A[l + 1] = dropout(f(Z[l]))                              hidden layers
             (or dropout(Z + (f(Z) - Z) * a[l]), a parametric activation)
    logits = Z[L]                                            output layer

Index convention as in ``skmlp._network``: ``W[l]`` is ``(fan_in, fan_out)`` and a batch
of rows goes through at once. All parameters live in one flat vector ``params`` (the
embedding's, the scale, the weights, then the biases); ``views(flat)`` cuts any vector
of that layout into named arrays, so the optimizer, the weight average and the best
epoch's snapshot are all flat vectors too.

A packed ensemble (TabM's "tabm-packed", Gorishniy et al., 2024) when ``n_members = k > 1``:
the input side (embeddings and scale) is shared, and ``k`` independent MLPs, each with its
own initialisation, start from ``A[0]``. Their layers are stored with a leading member
axis, ``W[l]`` of shape ``(k, fan_in, fan_out)`` and ``b[l]`` of shape ``(k, 1, fan_out)``,
and computed as one batched product (``np.matmul`` of ``(k, B, fan_in)`` by ``(k, fan_in,
fan_out)``; the first layer broadcasts the shared ``(B, D)`` input). Every minibatch
trains all members on the same rows; the loss is the mean of the members' losses, so
each member follows its own gradient and the shared input side the members' mean. The
logits have shape ``(k, B, n_outputs)``; the estimators average the members'
probabilities (classifier) or outputs (regressor). With ``k = 1`` nothing has a member
axis: the layout and the arithmetic are the single network's.

A parametric activation (RealMLP's, with ``parametric_activation=True``) gives every hidden
unit a learned mix of its activation and the identity, ``Z + (f(Z) - Z) a``, with ``a``
starting at 1 (the plain activation): a unit can become more linear where the data asks
for it, which a fixed SELU or Mish cannot.

Parametrisation and initialisation are RealMLP's (Holzmüller et al., 2024): with
``"ntk"`` the weights are drawn from N(0, 1) and the forward pass multiplies by
``1 / sqrt(fan_in)`` (Jacot et al., 2018), so Adam's steps of size ``lr`` move every
layer's function by the same relative amount whatever its width; the scale starts at
1; hidden biases start "he+5": each unit's bias is minus a random convex combination
of its pre-activation at 5 random training rows, so every unit's kink lies inside the
data; the output layer starts at 0 (the model starts at the prior).

Losses (``loss_delta``): cross-entropy of the softmax against soft targets (label
smoothing: ``(1 - eps) onehot + eps / K``), and half the squared error. Both are paired
with their output so that the error at the logits is ``(P - Y) * w / sum(w)``.
"""

import math

import numpy as np

from . import _embeddings
from ._activations import ACTIVATIONS, log_softmax


class TabularNet:
    """The network's layout, initialisation, forward and backward passes.

    Parameters
    ----------
    n_features : int
        Input columns ``d``.
    embed_columns : array-like of int
        The columns given PBLD embeddings (may be empty).
    hidden_layer_sizes : sequence of int
    n_outputs : int
    activation : str
        A key of ``skmlp._activations.ACTIVATIONS``.
    n_frequencies : int, default=16
        ``m``, periodic features per embedded column.
    embedding_dim : int, default=3
        ``e``, numbers each embedded column is mapped to (the raw value comes on top).
    parametrization : {"ntk", "standard"}, default="ntk"
    dtype : numpy dtype, default=np.float32
    n_members : int, default=1
        ``k``, networks of the packed ensemble sharing the input side (1: no ensemble).
    parametric_activation : bool, default=False
        Hidden units compute ``Z + (f(Z) - Z) a`` with a learned ``a`` per unit.

    Attributes
    ----------
    params : ndarray of shape (n_params,)
    p : dict of name -> ndarray
        Views into ``params``: ``emb.w1``, ``emb.b1``, ``emb.W2``, ``emb.b2``,
        ``scale`` (D,), ``W0 .. WL`` and ``b0 .. bL``; with ``n_members = k > 1`` the
        layers' are ``W{l}`` (k, fan_in, fan_out) and ``b{l}`` (k, 1, fan_out). With a
        parametric activation also ``a0 .. a{L-1}``, shaped as the hidden biases.
    """

    def __init__(self, n_features, embed_columns, hidden_layer_sizes, n_outputs, *,
                 activation, n_frequencies=16, embedding_dim=3, parametrization="ntk",
                 dtype=np.float32, n_members=1, parametric_activation=False):
        self.n_features = int(n_features)
        self.embed_columns = np.asarray(embed_columns, dtype=np.intp).reshape(-1)
        self.hidden = [int(h) for h in hidden_layer_sizes]
        self.n_outputs = int(n_outputs)
        self.activation = activation
        self.m, self.e = int(n_frequencies), int(embedding_dim)
        self.parametrization = parametrization
        self.dtype_name = np.dtype(dtype).name  # a string: skops loads it without trust
        self.n_members = int(n_members)
        self.parametric = bool(parametric_activation)
        k = len(self.embed_columns)
        self.width_in = k * self.e + self.n_features
        sizes = [self.width_in, *self.hidden, self.n_outputs]
        self.fan = list(zip(sizes[:-1], sizes[1:]))
        self.c = [1.0 / math.sqrt(a) if parametrization == "ntk" else 1.0 for a, _ in self.fan]
        layout = []
        if k:
            layout += [("emb." + name, shape) for name, shape in
                       _embeddings.shapes(k, self.m, self.e)]
        layout.append(("scale", (self.width_in,)))
        # a member axis only when there are several: k = 1 is the single network exactly
        lead = (self.n_members,) if self.n_members > 1 else ()
        layout += [(f"W{i}", (*lead, *shape)) for i, shape in enumerate(self.fan)]
        layout += [(f"b{i}", (*lead, 1, b) if lead else (b,))
                   for i, (_, b) in enumerate(self.fan)]
        if self.parametric:  # one mixing weight per hidden unit, laid out as its bias
            layout += [(f"a{i}", (*lead, 1, b) if lead else (b,))
                       for i, b in enumerate(self.hidden)]
        self.layout = layout
        self.n_params = sum(math.prod(s) for _, s in layout)
        self.params = np.zeros(self.n_params, self.dtype)
        self.p = self.views(self.params)

    @property
    def dtype(self):
        """The parameters' dtype."""
        return np.dtype(self.dtype_name)

    def copy(self, flat=None):
        """A network of the same layout holding a copy of ``flat`` (default: ``params``)."""
        other = object.__new__(type(self))
        other.__setstate__({**self.__getstate__(),
                            "params": (self.params if flat is None else flat).copy()})
        return other

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["p"]  # views: rebuilt from params on loading, so they stay views
        return state

    def __setstate__(self, state):
        state.setdefault("n_members", 1)  # pickled before the ensemble existed
        state.setdefault("parametric", False)  # ... or the parametric activation
        self.__dict__.update(state)
        self.params = np.ascontiguousarray(self.params)
        if self.params.shape != (self.n_params,):
            raise ValueError(
                f"A TabularNet needs {self.n_params} parameters; got an array of shape "
                f"{self.params.shape}."
            )
        self.p = self.views(self.params)

    @property
    def n_layers(self):
        """Linear layers, the output layer included."""
        return len(self.fan)

    def mask_shape(self, n_samples, units):
        """Shape of a hidden layer's dropout mask for a batch: one per member."""
        return (self.n_members, n_samples, units) if self.n_members > 1 else (n_samples, units)

    def views(self, flat):
        """Named views into a flat vector laid out like ``params``."""
        out, start = {}, 0
        for name, shape in self.layout:
            size = math.prod(shape)
            out[name] = flat[start : start + size].reshape(shape)
            start += size
        return out

    def group_factors(self, *, scale, bias, embedding, weight=1.0, activation=1.0):
        """A vector laid out like ``params`` holding each parameter group's factor."""
        f = np.empty(self.n_params, self.dtype)
        v = self.views(f)
        for name in v:
            if name.startswith("emb."):
                v[name][...] = embedding
            elif name == "scale":
                v[name][...] = scale
            elif name.startswith("b"):
                v[name][...] = bias
            elif name.startswith("a"):
                v[name][...] = activation
            else:
                v[name][...] = weight
        return f

    # --- initialisation -----------------------------------------------------------------
    def initialize(self, rng, X, *, frequency_scale=0.1, bias_init="he+5"):
        """Draw the initial parameters; ``X`` (scaled training rows) places the biases.

        Parameters
        ----------
        rng : numpy.random.Generator
        X : ndarray of shape (n_samples, n_features)
            Training rows (scaled), for ``"he+5"``.
        frequency_scale : float, default=0.1
            Standard deviation of the embedding's frequencies ``w1``.
        bias_init : {"he+5", "zeros"}, default="he+5"

        Returns
        -------
        self : TabularNet
        """
        p = self.p
        k = len(self.embed_columns)
        if k:
            for name, value in _embeddings.initialize(rng, k, self.m, self.e,
                                                      frequency_scale).items():
                p["emb." + name][...] = value
        p["scale"][...] = 1.0
        last = self.n_layers - 1
        for i, (fan_in, _) in enumerate(self.fan):
            if i == last:  # the output layer starts at zero: the model starts at the prior
                p[f"W{i}"][...] = 0.0
                p[f"b{i}"][...] = 0.0
                break
            std = 1.0 if self.parametrization == "ntk" else 1.0 / math.sqrt(fan_in)
            p[f"W{i}"][...] = std * rng.standard_normal(p[f"W{i}"].shape)
            p[f"b{i}"][...] = 0.0
            if self.parametric:
                p[f"a{i}"][...] = 1.0  # the plain activation to start with
        if bias_init == "he+5":
            self._place_biases(rng, X)
        return self

    def _place_biases(self, rng, X, n_points=5):
        """Each hidden unit's bias: minus a random convex combination of its
        pre-activation at ``n_points`` random rows (Dirichlet(1, ..., 1) weights).

        Each member draws its own rows and weights (``lead`` is ``(k,)``, or ``()``
        without an ensemble).
        """
        A = self._input(X.astype(self.dtype, copy=False), self.p)[0]
        for i in range(self.n_layers - 1):
            Z = np.matmul(A, self.p[f"W{i}"])  # (B, units) or (k, B, units)
            Z *= self.c[i]
            *lead, n, units = Z.shape
            rows = rng.integers(0, n, size=(*lead, units, n_points))
            weights = rng.exponential(1.0, size=(*lead, units, n_points))
            weights /= weights.sum(axis=-1, keepdims=True)
            # chosen[..., u, j] = Z[..., rows[..., u, j], u]
            chosen = np.take_along_axis(Z.swapaxes(-1, -2), rows, axis=-1)
            bias = self.p[f"b{i}"]
            bias[...] = -(weights * chosen).sum(axis=-1).reshape(bias.shape)
            Z += bias
            A = ACTIVATIONS[self.activation].function(Z)

    # --- forward and backward ---------------------------------------------------------------
    def _input(self, X, p):
        """``A[0] = [embeddings, X] * scale`` and the embedding's cache (or None)."""
        if len(self.embed_columns):
            emb = {name[4:]: v for name, v in p.items() if name.startswith("emb.")}
            H, cache = _embeddings.forward(X, self.embed_columns, emb)
        else:
            H, cache = X, None
        return H * p["scale"], H, cache

    def forward(self, X, flat=None, *, masks=None, train=False):
        """The logits for ``X``; with ``train=True`` also what :meth:`backward` needs.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Scaled input, in the network's dtype.
        flat : ndarray of shape (n_params,), default=None
            The parameters to use (e.g. the averaged ones); None uses ``params``.
        masks : list of (ndarray or None), default=None
            Inverted-dropout multipliers per hidden layer, shaped by :meth:`mask_shape`.
        train : bool, default=False

        Returns
        -------
        logits : ndarray of shape (n_samples, n_outputs), or (k, n_samples, n_outputs)
            with ``n_members = k > 1``
        cache : dict or None
        """
        p = self.p if flat is None else self.views(flat)
        A, H, emb_cache = self._input(X, p)
        acts, derivs, gaps = [A], [], []
        last = self.n_layers - 1
        act = ACTIVATIONS[self.activation]
        for i in range(self.n_layers):
            # with members, (B, D) @ (k, D, h) and then (k, B, h) @ (k, h, h'): batched GEMMs
            Z = np.matmul(A, p[f"W{i}"])
            if self.c[i] != 1.0:
                Z *= self.c[i]
            Z += p[f"b{i}"]
            if i == last:
                A = Z
                break
            if self.parametric:
                A, keep, gap = _parametric(Z, p[f"a{i}"], act, train)
                gaps.append(gap)
            elif train and act.function_keeping is not None:
                A, keep = act.function_keeping(Z)
            elif act.needs_preactivation:
                keep, A = Z, np.empty_like(Z)
                act.function(keep, out=A)
            else:
                A = act.function(Z)
                keep = A
            mask = None if masks is None else masks[i]
            if mask is not None:
                if keep is A:  # the derivative needs the activation before the mask
                    A = np.multiply(keep, mask)
                else:
                    A *= mask
            derivs.append(keep)
            acts.append(A)
        if not train:
            return A, None
        return A, {"acts": acts, "derivs": derivs, "gaps": gaps, "H": H, "emb": emb_cache,
                   "masks": masks, "p": p}

    def backward(self, cache, delta, grad):
        """Backpropagate the error at the logits; write the gradient into ``grad``.

        Parameters
        ----------
        cache : dict
            From :meth:`forward` with ``train=True``.
        delta : ndarray of shape (n_samples, n_outputs) or (k, n_samples, n_outputs)
            ``dL/d logits``, shaped as the logits.
        grad : ndarray of shape (n_params,)
            Receives the gradient, laid out like ``params``.

        Notes
        -----
        For each layer from the last: ``dW[l] = c[l] A[l].T @ delta``, ``db[l] =
        sum(delta)``, and one layer down ``delta <- c[l] (delta @ W[l].T) * f'(Z) * mask``,
        per member (``.T`` swaps the last two axes); with a parametric activation
        ``A = Z + (f(Z) - Z) a`` the step through it is ``da = sum(dA * (f(Z) - Z))`` and
        ``dZ = dA (1 - a) + dA a f'(Z)``. The shared input receives the sum of
        the members' errors. At the input: ``ds = sum(H * dA[0])`` and ``dH = dA[0] * s``
        feeds the embedding.
        """
        p, g = cache["p"], self.views(grad)
        acts, derivs, masks = cache["acts"], cache["derivs"], cache["masks"]
        members = delta.ndim == 3
        act = ACTIVATIONS[self.activation]
        # from what the forward pass kept: the function's by-products when it keeps them
        derivative = act.derivative_of_kept or act.derivative
        for i in range(self.n_layers - 1, -1, -1):
            # acts[0] is the shared (B, D) input: its product with (k, B, h) broadcasts
            np.matmul(acts[i].swapaxes(-1, -2), delta, out=g[f"W{i}"])
            if self.c[i] != 1.0:
                g[f"W{i}"] *= self.c[i]
            np.sum(delta, axis=-2, out=g[f"b{i}"], keepdims=members)
            delta = np.matmul(delta, p[f"W{i}"].swapaxes(-1, -2))
            if self.c[i] != 1.0:
                delta *= self.c[i]
            if i == 0:
                if members:  # the members share A[0]: their errors add up
                    delta = delta.sum(axis=0)
                break
            if masks is not None and masks[i - 1] is not None:
                delta *= masks[i - 1]
            if self.parametric:
                a = p[f"a{i - 1}"]
                np.sum(delta * cache["gaps"][i - 1], axis=-2, out=g[f"a{i - 1}"],
                       keepdims=members)
                through_f = delta * a
                derivative(derivs[i - 1], through_f)
                delta *= 1.0 - a
                delta += through_f
            else:
                derivative(derivs[i - 1], delta)
        H = cache["H"]
        np.sum(H * delta, axis=0, out=g["scale"])
        if len(self.embed_columns):
            delta *= p["scale"]
            emb = {name[4:]: v for name, v in p.items() if name.startswith("emb.")}
            _embeddings.backward(delta, cache["emb"], emb,
                                 {name[4:]: v for name, v in g.items() if name.startswith("emb.")})
        return grad

    def loss_grad(self, X, Y, sample_weight=None, *, loss, grad=None, masks=None):
        """Loss and its gradient for a batch.

        With ``n_members = k > 1`` the loss is the mean of the members' losses (each
        member's is :func:`loss_delta`'s on its own logits).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        Y : ndarray of shape (n_samples, n_outputs)
            Soft class targets (rows summing to 1) or real targets.
        sample_weight : ndarray of shape (n_samples,) or None
        loss : {"cross_entropy", "squared_error"}
        grad : ndarray of shape (n_params,) or None
        masks : list of (ndarray or None) or None

        Returns
        -------
        value : float
        grad : ndarray of shape (n_params,)
        """
        if grad is None:
            grad = np.empty(self.n_params, self.dtype)
        Z, cache = self.forward(X, masks=masks, train=True)
        if Z.ndim == 3:  # the members' rows one after another: the mean of their losses
            k, n, n_out = Z.shape
            value, delta = loss_delta(
                Z.reshape(k * n, n_out), np.tile(Y, (k, 1)),
                None if sample_weight is None else np.tile(sample_weight, k), loss)
            delta = delta.reshape(k, n, n_out)
        else:
            value, delta = loss_delta(Z, Y, sample_weight, loss)
        self.backward(cache, delta, grad)
        return value, grad


def _parametric(Z, a, act, train=True):
    """RealMLP's parametric activation ``A = Z + (f(Z) - Z) a``.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, units) or (k, n_samples, units)
        Pre-activations (left unchanged).
    a : ndarray of shape (units,) or (k, 1, units)
        Each unit's mixing weight: 1 is the plain activation, 0 the identity.
    act : skmlp._activations.Activation
    train : bool, default=True
        Whether backpropagation follows (then ``keep`` is what the activation's
        ``derivative_of_kept`` takes, when it has one).

    Returns
    -------
    A : ndarray, shaped as ``Z``
    keep : ndarray or tuple
        What the derivative is written from (``Z``, ``f(Z)`` or ``act.function_keeping``'s
        by-products).
    gap : ndarray, shaped as ``Z``
        ``f(Z) - Z``, which ``dL/da`` needs.
    """
    if train and act.function_keeping is not None:
        F, keep = act.function_keeping(Z)
    elif act.needs_preactivation:
        keep = Z
        F = act.function(Z, out=np.empty_like(Z))
    else:
        F = keep = act.function(Z.copy())
    gap = np.subtract(F, Z)
    A = gap * a
    A += Z
    return A, keep, gap


def loss_delta(Z, Y, sample_weight, loss):
    """The weighted mean loss of logits ``Z`` and the error ``dL/dZ``.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_outputs)
        Logits (overwritten).
    Y : ndarray of shape (n_samples, n_outputs)
        Soft class targets, or real targets.
    sample_weight : ndarray of shape (n_samples,) or None
    loss : {"cross_entropy", "squared_error"}

    Returns
    -------
    value : float
        ``sum_i w_i l_i / sum_i w_i`` with ``l_i = -sum_k Y_ik log softmax(Z_i)_k`` or
        ``l_i = sum_k (Z_ik - Y_ik)^2 / 2``.
    delta : ndarray of shape (n_samples, n_outputs)
        ``(softmax(Z) - Y) w / sum(w)`` or ``(Z - Y) w / sum(w)``.
    """
    s = Z.shape[0] if sample_weight is None else float(np.sum(sample_weight))
    if loss == "cross_entropy":
        L = log_softmax(Z)
        per_row = -np.sum(Y * L, axis=1)
        delta = np.exp(L, out=L)
        delta -= Y
    else:
        delta = np.subtract(Z, Y, out=Z)
        per_row = 0.5 * np.sum(np.square(delta), axis=1)
    if sample_weight is not None:
        per_row = per_row * sample_weight
        delta *= sample_weight[:, None].astype(delta.dtype, copy=False)
    delta /= delta.dtype.type(s)
    return float(np.sum(per_row, dtype=np.float64) / s), delta
