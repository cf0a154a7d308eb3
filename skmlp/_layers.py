"""The hidden layers a fit builds, checked once: sizes, activations, dropout.

:class:`LayerSpec` is made from the estimator's parameters (:meth:`LayerSpec.from_params`,
which says what ``_parameter_constraints`` cannot) and carried to the network it builds
(:meth:`LayerSpec.network`) or checks a fitted one against (:meth:`LayerSpec.continuing`).
A new per-layer option is added here, in one place.
"""

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import InvalidParameterError

from ._activations import ACTIVATIONS
from ._network import MLP


@dataclass(frozen=True)
class LayerSpec:
    """The hidden layers: their sizes, activations and dropout rates.

    Parameters
    ----------
    sizes : tuple of int
        Units per hidden layer (empty: no hidden layer).
    activation : str or tuple of str
        One name for every layer, as scikit-learn's ``activation`` (the output layer's
        initial draws follow it too), or one per hidden layer.
    dropout : tuple of float
        Drop rate per hidden layer, each in [0, 1).
    """

    sizes: tuple
    activation: object
    dropout: tuple

    @property
    def activations(self):
        """One activation name per hidden layer."""
        if isinstance(self.activation, str):
            return (self.activation,) * len(self.sizes)
        return self.activation

    @classmethod
    def from_params(cls, hidden_layer_sizes, activation, dropout, *, solver):
        """The spec an estimator's parameters ask for; InvalidParameterError if they
        cannot go together (a per-layer entry count, a value outside its range).

        Parameters
        ----------
        hidden_layer_sizes : int or sequence of int
        activation : str or sequence of str
        dropout : float or sequence of float
        solver : str
            Dropout needs a stochastic solver (L-BFGS's line search needs a
            deterministic loss).
        """
        sizes = hidden_layer_sizes
        sizes = [sizes] if not hasattr(sizes, "__iter__") else list(sizes)
        if not all(isinstance(s, Integral) and s > 0 for s in sizes):
            raise InvalidParameterError(
                f"The 'hidden_layer_sizes' parameter must hold positive integers, got {sizes}."
            )
        sizes = tuple(int(s) for s in sizes)
        acts = (activation,) * len(sizes) if isinstance(activation, str) else tuple(activation)
        if len(acts) != len(sizes) or not all(isinstance(a, str) and a in ACTIVATIONS
                                              for a in acts):
            raise InvalidParameterError(
                f"The 'activation' parameter must be one of {sorted(ACTIVATIONS)} or a tuple "
                f"of them with one entry per hidden layer ({len(sizes)}); got {activation!r}."
            )
        rates = [dropout] * len(sizes) if isinstance(dropout, Real) else list(dropout)
        if len(rates) != len(sizes) or not all(
                isinstance(r, Real) and not isinstance(r, bool) and 0 <= r < 1 for r in rates):
            raise InvalidParameterError(
                "The 'dropout' parameter must be a float in [0, 1) or a tuple of them with one "
                f"entry per hidden layer ({len(sizes)}); got {dropout!r}."
            )
        if any(rates) and solver == "lbfgs":
            raise InvalidParameterError(
                "The 'dropout' parameter must be 0 with solver='lbfgs' (its line search needs "
                "a deterministic loss); use solver='adam' or 'sgd'."
            )
        return cls(sizes, activation if isinstance(activation, str) else acts,
                   tuple(float(r) for r in rates))

    def network(self, n_features, n_outputs, out_activation, dtype):
        """A new network of these hidden layers (weights zero until initialised)."""
        return MLP([n_features, *self.sizes, n_outputs], self.activation, out_activation,
                   dtype=dtype)

    def continuing(self, coefs, intercepts, out_activation, previous_sizes):
        """A network holding a copy of fitted weights, which these layers must match.

        The architecture is that of ``coefs`` (which may have been pruned or replaced since
        the last fit): ``sizes`` must be it, or the sizes the model was fitted with
        (``previous_sizes``), and a per-layer ``activation`` must have one entry per
        hidden layer. ValueError otherwise: warm start and partial_fit continue the
        fitted network.
        """
        fitted = tuple(np.shape(W)[1] for W in coefs[:-1])
        if self.sizes != fitted and self.sizes != tuple(previous_sizes):
            raise ValueError(
                f"hidden_layer_sizes={self.sizes} does not match the fitted network's "
                f"hidden layers {fitted}; warm_start and partial_fit continue the "
                "fitted network. Fit without warm_start to change the architecture."
            )
        if not isinstance(self.activation, str) and len(self.activation) != len(fitted):
            raise ValueError(
                f"activation={self.activation!r} has {len(self.activation)} entries; the "
                f"fitted network has {len(fitted)} hidden layers."
            )
        return MLP.from_weights(coefs, intercepts, self.activation, out_activation)
