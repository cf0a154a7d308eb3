"""MLPRegressorFromScratch: scikit-learn's MLPRegressor, on skmlp's numpy core.

The same estimator layer as the classifier (``_base.py``); what is particular to
regression is here: numeric targets, one or several outputs, the identity output
with half the squared error or the exponential output with half the Poisson
deviance, and R^2 as the default validation score.
"""

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_array, column_or_1d, validate_data

from ._base import BaseMLPFromScratch


class MLPRegressorFromScratch(RegressorMixin, BaseMLPFromScratch):
    """Multi-layer perceptron regressor, written from scratch in numpy.

    A drop-in for :class:`sklearn.neural_network.MLPRegressor`: same parameters,
    defaults, fitted attributes and methods, and, with the extras off, the same model
    for the same ``random_state`` (to rounding). It adds ``init``, ``dropout``, more
    activations (one per hidden layer if wanted), validation data at fit time, a
    ``scoring`` for early stopping, and the generic pieces of the tabular recipe:
    learning-rate schedules with warmup, decoupled weight decay, gradient clipping and
    weight averaging (all off by default).

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default="squared_error"
        Half the squared error with an identity output, or half the Poisson deviance
        with an exponential output (a log link; requires ``y >= 0``).
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of neurons in the ith hidden layer.
    activation : str or tuple of str, default="relu"
        Hidden-layer activation: "identity", "logistic", "tanh", "relu" (as in
        MLPRegressor), or "leaky_relu", "elu", "gelu", "selu", "mish"; a tuple gives one
        per layer.
    solver : {"lbfgs", "sgd", "adam"}, default="adam"
    alpha : float, default=0.0001
        L2 penalty strength, divided by the (weighted) sample count.
    batch_size : int or "auto", default="auto"
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
    learning_rate_init : float, default=0.001
    power_t : float, default=0.5
    max_iter : int, default=200
    shuffle : bool, default=True
    random_state : int, RandomState instance or None, default=None
    tol : float, default=1e-4
    verbose : bool, default=False
    warm_start : bool, default=False
    momentum : float, default=0.9
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (or use ``X_val``), stop when
        the validation R^2 (or ``scoring``) has not improved by ``tol`` for
        ``n_iter_no_change`` epochs, and keep the best weights.
    validation_fraction : float, default=0.1
    beta_1, beta_2 : float, default=0.9, 0.999
    epsilon : float, default=1e-8
    n_iter_no_change : int, default=10
    max_fun : int, default=15000
    init : {"glorot_uniform", "scaled_normal"}, default="glorot_uniform"
        MLPRegressor's initial weights, or the tutorial's (see
        :class:`MLPClassifierFromScratch`).
    dropout : float or tuple of float, default=0.0
        Inverted dropout on hidden units during training (sgd, adam).
    scoring : str, callable or None, default=None
        Validation criterion: None is R^2 (MLPRegressor's), "loss" the negative
        validation loss, any other string or callable a scikit-learn scorer.
    lr_schedule : {"cosine", "coslog4"} or None, default=None
        skmlp's extra (sgd, adam): a learning-rate schedule over the steps of one call.
    warmup : float, default=0.0
        skmlp's extra: the fraction of those steps over which the rate rises from 0.
    weight_decay : float, default=0.0
        skmlp's extra: decoupled weight decay of the weights (not the biases).
    max_grad_norm : float or None, default=None
        skmlp's extra: clip each minibatch gradient to this Euclidean norm.
    ema_decay : float or None, default=None
        skmlp's extra: fit the exponential moving average of the weights. The five
        extras are described in full in :class:`MLPClassifierFromScratch`.

    Attributes
    ----------
    loss_ : numpy.float64
        Training loss after the last epoch (the loss plus the L2 term).
    best_loss_, loss_curve_, validation_scores_, validation_loss_curve_,
    best_validation_score_, t_, coefs_, intercepts_, n_features_in_,
    feature_names_in_, n_iter_, n_layers_, n_outputs_, out_activation_
        As in :class:`MLPClassifierFromScratch`; ``out_activation_`` is "identity"
        or "exp".

    See Also
    --------
    sklearn.neural_network.MLPRegressor : The estimator this one mirrors.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from skmlp import MLPRegressorFromScratch
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = MLPRegressorFromScratch(solver="lbfgs", random_state=0).fit(X, y)
    >>> reg.predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints: dict = {
        **BaseMLPFromScratch._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }
    _OUT_ACTIVATIONS = ("identity", "exp")

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        init="glorot_uniform",
        dropout=0.0,
        scoring=None,
        lr_schedule=None,
        warmup=0.0,
        weight_decay=0.0,
        max_grad_norm=None,
        ema_decay=None,
    ):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.init = init
        self.dropout = dropout
        self.scoring = scoring
        self.lr_schedule = lr_schedule
        self.warmup = warmup
        self.weight_decay = weight_decay
        self.max_grad_norm = max_grad_norm
        self.ema_decay = ema_decay

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with one epoch over the given data (sgd and adam).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : MLPRegressorFromScratch
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Predict using the network.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        return self._values(self._outputs(X))

    # --- targets ---------------------------------------------------------------------
    def _validate_input(self, X, y, incremental, reset, classes=None):
        X, y = validate_data(
            self, X, y, accept_sparse=["csr", "csc"], multi_output=True, y_numeric=True,
            dtype=(np.float64, np.float32), reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        y = _numeric(y, "y")
        self._check_poisson(y, "y")
        return X, (y.reshape(-1, 1) if y.ndim == 1 else y), y

    def _check_poisson(self, y, name):
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError(
                f"Some value(s) of {name} are negative which is not allowed for Poisson "
                "regression (loss='poisson')."
            )

    def _validate_y_val(self, y_val, n_samples, n_outputs):
        y_val = _numeric(check_array(y_val, ensure_2d=False, dtype="numeric",
                                     input_name="y_val"), "y_val")
        if y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = column_or_1d(y_val, warn=True)
        outputs = 1 if y_val.ndim == 1 else y_val.shape[1]
        if y_val.shape[0] != n_samples or outputs != n_outputs:
            raise ValueError(
                f"y_val of shape {y_val.shape} does not fit X_val ({n_samples} samples) and "
                f"y's {n_outputs} output(s)."
            )
        self._check_poisson(y_val, "y_val")
        return (y_val.reshape(-1, 1) if y_val.ndim == 1 else y_val), y_val

    def _output_for(self, Y):
        return "exp" if self.loss == "poisson" else "identity"

    def _default_score(self, y, P, sample_weight):
        """R^2, as MLPRegressor's early stopping scores (``P`` is finite)."""
        return r2_score(y, self._values(P), sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.positive_only = self.loss == "poisson"
        return tags

    def _values(self, P):
        return P.ravel() if P.shape[1] == 1 else P


def _numeric(y, name):
    """``y`` as numbers: strings that read as numbers are converted, others refused, and
    missing values (None, NaN) refused."""
    if y.dtype.kind in "biu":
        return y
    try:
        numbers = y if y.dtype.kind == "f" else y.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be numeric for a regressor; got values of dtype {y.dtype}, e.g. "
            f"{np.ravel(y)[:3].tolist()}."
        ) from None
    # None in an object array (validate_data turns it into NaN): a missing target, not a
    # number; training on it would end in a divergence error blaming the learning rate
    if np.isnan(numbers).any():
        raise ValueError(
            f"Input {name} contains missing values (None or NaN) at rows "
            f"{np.flatnonzero(np.isnan(numbers).reshape(len(numbers), -1).any(axis=1))[:5]}"
            "...; drop those rows or fill them in."
        )
    return numbers
