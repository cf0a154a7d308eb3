"""MLPClassifierFromScratch: the numpy core behind scikit-learn's estimator API.

The public API: parameters, fit/partial_fit/predict, pickling, interop. How it
trains is in ``_fitting.py``; the network (``_network.MLP``) and the optimizers
(``_optimizers``) do the math. Parameters, defaults,
fitted attributes and messages follow ``sklearn.neural_network.MLPClassifier``
so that swapping the import is enough to compare the two.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import (
    Interval,
    Options,
    StrOptions,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    type_of_target,
)
from sklearn.utils.validation import (
    check_is_fitted,
    validate_data,
)

from ._activations import ACTIVATIONS, LOG_OUTPUTS, OUTPUTS
from ._callbacks import CallbackSupportMixin
from ._fitting import _STOCHASTIC_SOLVERS, FittingMixin



# [tiny, 1 - eps/2] and its log, per float type, computed once (predict on one row is
# dominated by fixed per-call costs)
_BOUNDS = {np.dtype(t): np.array([np.finfo(t).tiny, 1.0 - np.finfo(t).epsneg], dtype=t)
           for t in (np.float32, np.float64)}
_LOG_BOUNDS = {t: np.log(b) for t, b in _BOUNDS.items()}


def _open_unit_interval(P):
    """Clip probabilities into [tiny, 1 - eps/2], in place.

    A probability that rounds to exactly 0 or 1 is a rounding artefact (the
    logits are finite); keeping it inside (0, 1) makes ``log(predict_proba)``
    finite and consistent with ``predict_log_proba``. It moves no probability
    by more than 1.2e-16 (float64), so rows still sum to 1 to rounding.
    """
    lo, hi = _BOUNDS[P.dtype]
    np.maximum(P, lo, out=P)
    return np.minimum(P, hi, out=P)


def _log_open_unit_interval(L):
    """The same bounds for log-probabilities, in place: ``log`` of the clipped ``P``.

    With both clipped alike, ``predict_log_proba`` equals ``log(predict_proba)``
    everywhere (ties included) and is finite: at least ``log(tiny)``, about -708
    in float64 and -87 in float32.
    """
    lo, hi = _LOG_BOUNDS[L.dtype]
    np.maximum(L, lo, out=L)
    return np.minimum(L, hi, out=L)


# Mixins go left of BaseEstimator so that their tags, score() and set_callbacks() take
# precedence over the base defaults.
class MLPClassifierFromScratch(ClassifierMixin, CallbackSupportMixin, FittingMixin, BaseEstimator):
    """Multi-layer perceptron classifier, written from scratch in numpy.

    A drop-in for :class:`sklearn.neural_network.MLPClassifier`: same
    parameters, defaults, fitted attributes and methods. It adds
    ``class_weight``, ``dropout``, more activations (one per hidden layer if
    wanted), validation data at fit time and a ``scoring`` for early stopping.

    The network is the tutorial's: ``Z = A @ W + b``, an activation per hidden
    layer, softmax (multiclass) or logistic (binary, multilabel) output,
    cross-entropy loss, weights drawn from ``N(0, (gain / sqrt(fan_in))^2)``
    and zero biases. See ``skmlp._network.MLP`` for the core.

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of neurons in the ith hidden layer.
    activation : str or tuple of str, default="relu"
        Hidden-layer activation: "identity", "logistic", "tanh", "relu"
        (as in MLPClassifier), or "leaky_relu" (slope 0.01), "elu", "gelu"
        (tanh approximation). A tuple gives one activation per hidden layer.
    solver : {"lbfgs", "sgd", "adam"}, default="adam"
        Weight optimizer: L-BFGS-B (scipy), minibatch SGD with momentum, or Adam.
    alpha : float, default=0.0001
        L2 penalty strength; the penalty is divided by the (weighted) sample
        count, as in MLPClassifier.
    batch_size : int or "auto", default="auto"
        Minibatch size for sgd and adam; "auto" is ``min(200, n_samples)``. A
        size above ``n_samples`` is clipped to it (without MLPClassifier's warning).
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Learning-rate schedule for sgd (see MLPClassifier).
    learning_rate_init : float, default=0.001
        Initial learning rate for sgd and adam.
    power_t : float, default=0.5
        Exponent of the "invscaling" schedule.
    max_iter : int, default=200
        Maximum epochs (sgd, adam) or iterations (lbfgs).
    shuffle : bool, default=True
        Shuffle samples every epoch (sgd, adam).
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, the early-stopping split and
        dropout masks.
    tol : float, default=1e-4
        Improvement below which an epoch counts as no improvement; the
        gradient tolerance of lbfgs.
    verbose : bool, default=False
        Print the loss (and validation score) after every epoch or lbfgs
        iteration.
    warm_start : bool, default=False
        Start the next ``fit`` from the current weights.
    momentum : float, default=0.9
        SGD momentum.
    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum (sgd, momentum > 0).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified,
        except for multilabel targets), or use ``X_val`` given to ``fit``, stop
        when the validation score has not improved by ``tol`` for
        ``n_iter_no_change`` epochs, and restore the best weights.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's moment decay rates.
    epsilon : float, default=1e-8
        Adam's numerical-stability constant.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping (or, with "adaptive",
        dividing the learning rate by 5).
    max_fun : int, default=15000
        Maximum loss evaluations for lbfgs.
    class_weight : dict, "balanced" or None, default=None
        Weights per class, multiplied into ``sample_weight``; "balanced" uses
        ``n_samples / (n_classes * np.bincount(y))``. Not for multilabel targets.
    dropout : float or tuple of float, default=0.0
        Probability of dropping each hidden unit during training (inverted
        dropout), one rate for all hidden layers or one per hidden layer.
        Prediction is deterministic. Not available with lbfgs, whose line
        search needs a deterministic loss.
    scoring : str, callable or None, default=None
        Validation criterion for early stopping and ``validation_scores_``:
        None is accuracy (MLPClassifier's behaviour), "loss" is the negative
        validation log-loss, any other string or callable is a scikit-learn
        scorer.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    loss_ : float
        Training loss after the last epoch (cross-entropy plus L2 term).
    best_loss_ : float or None
        Lowest training loss; None with early stopping.
    loss_curve_ : list of float
        Training loss per epoch (per iteration for lbfgs).
    validation_scores_ : list of float or None
        Validation score per epoch, when there is validation data.
    validation_loss_curve_ : list of float or None
        Validation log-loss per epoch, when there is validation data.
    best_validation_score_ : float or None
        Best validation score, with early stopping.
    t_ : int
        Number of training samples seen by the stochastic solver.
    coefs_ : list of ndarray
        ``coefs_[i]`` is the weight matrix of layer i, shape (fan_in, fan_out).
    intercepts_ : list of ndarray
        ``intercepts_[i]`` is the bias vector of layer i + 1.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.
    n_iter_ : int
        Number of epochs (or lbfgs iterations) run by the last fit.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of output units.
    out_activation_ : str
        "softmax" or "logistic".

    See Also
    --------
    sklearn.neural_network.MLPClassifier : The estimator this one mirrors.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skmlp import MLPClassifierFromScratch
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifierFromScratch(solver="lbfgs", random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:1]).shape
    (1, 3)
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS)), tuple, list],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "dropout": [Interval(Real, 0, 1, closed="left"), tuple, list],
        "scoring": [str, callable, None],
    }

    def __init__(
        self,
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
        class_weight=None,
        dropout=0.0,
        scoring=None,
    ):
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
        self.class_weight = class_weight
        self.dropout = dropout
        self.scoring = scoring

    # --- public API -----------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None):
        """Fit the network to data matrix X and targets y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 is kept, anything else becomes float64.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a binary indicator matrix for multilabel targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights.
        X_val : {array-like, sparse matrix} of shape (n_val, n_features), default=None
            Validation data. When given, ``validation_fraction`` is ignored;
            the validation score and loss are recorded every epoch, and with
            ``early_stopping=True`` they decide when to stop and which weights
            to keep.
        y_val : array-like of shape (n_val,) or (n_val, n_labels), default=None
            Validation targets; required with ``X_val``.
        sample_weight_val : array-like of shape (n_val,), default=None
            Weights of the validation samples.

        Returns
        -------
        self : MLPClassifierFromScratch
            The fitted estimator.
        """
        validation = self._check_validation_data(X_val, y_val, sample_weight_val)
        return self._fit(X, y, sample_weight, incremental=False, validation=validation)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Update the model with one epoch over the given data (sgd and adam).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        classes : array-like of shape (n_classes,), default=None
            All classes that will ever appear; required on the first call.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : MLPClassifierFromScratch
        """
        backup = self._snapshot()
        try:
            if _check_partial_fit_first_call(self, classes):
                self._label_binarizer = LabelBinarizer()
                if type_of_target(y).startswith("multilabel"):
                    self._label_binarizer.fit(y)
                else:
                    self._label_binarizer.fit(classes)
                if len(self._label_binarizer.classes_) < 2:
                    raise ValueError("partial_fit needs at least 2 classes in `classes`.")
        except BaseException:
            self._restore(backup)
            raise
        return self._fit(X, y, sample_weight, incremental=True, validation=None, backup=backup)

    def predict(self, X):
        """Predict class labels (or label indicators for multilabel targets).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
        """
        P = self._probabilities(self._logits(X))
        return self._label_binarizer.inverse_transform(P)

    def predict_proba(self, X):
        """Probability of each class, ordered as ``classes_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        Z = self._logits(X)
        if Z.shape[1] == 1:  # binary: [sigmoid(-z), sigmoid(z)], not 1 - p, which rounds to 0
            return np.hstack([self._probabilities(-Z), self._probabilities(Z)])
        return self._probabilities(Z)

    def predict_log_proba(self, X):
        """Log of ``predict_proba``, computed from the logits (log-softmax).

        Finite even where a probability is too small to represent: values are
        bounded below by ``log(tiny)`` (about -708 in float64), the log of
        ``predict_proba``'s own floor.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        Z = self._logits(X)
        if Z.shape[1] == 1:  # binary: log(1 - p) = log sigmoid(-z)
            L = np.hstack([LOG_OUTPUTS["logistic"](-Z), LOG_OUTPUTS["logistic"](Z)])
        else:
            L = LOG_OUTPUTS[self.out_activation_](Z)
        return _log_open_unit_interval(L)

    def to_sklearn(self):
        """Return a fitted ``sklearn.neural_network.MLPClassifier`` with these weights.

        Its ``predict_proba`` equals this estimator's to rounding; use it to
        compare, to hand the model to tools that know MLPClassifier (skl2onnx
        for ONNX export), or to continue training there.

        Returns
        -------
        clf : MLPClassifier

        Raises
        ------
        ValueError
            For an activation MLPClassifier does not have ("leaky_relu", "elu",
            "gelu") or one activation per hidden layer.
        """
        from ._interop import to_sklearn

        return to_sklearn(self)

    @classmethod
    def from_sklearn(cls, clf):
        """Build a fitted estimator from a fitted ``MLPClassifier``: parameters and weights.

        Training can continue from its weights with ``partial_fit`` or
        ``warm_start=True``.

        Parameters
        ----------
        clf : MLPClassifier, fitted

        Returns
        -------
        est : MLPClassifierFromScratch
        """
        from ._interop import from_sklearn

        return from_sklearn(cls, clf)

    def _check_solver(self):
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(
                "partial_fit is only available for stochastic optimizers. "
                f"{self.solver} is not stochastic."
            )
        return True

    def __sklearn_is_fitted__(self):
        # what check_is_fitted asks; cheaper than its scan of every attribute
        return hasattr(self, "_net")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_label = True
        return tags

    def __getstate__(self):
        state = dict(super().__getstate__())  # on Python >= 3.11 this may be __dict__ itself
        state.pop("coefs_", None)  # views into the network's parameters: rebuilt on load
        state.pop("intercepts_", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self._bind_views()

    # --- prediction helpers -----------------------------------------------------------
    def _logits(self, X, check_input=True):
        check_is_fitted(self)
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        self._sync_params()
        return self._net.logits(X)

    def _probabilities(self, Z):
        return _open_unit_interval(OUTPUTS[self.out_activation_](Z))

    def _bind_views(self):
        if hasattr(self, "_net"):
            # new lists holding the views, so an assignment to coefs_[i] is seen by _sync_params
            self.coefs_, self.intercepts_ = list(self._net.coefs), list(self._net.intercepts)

    def _sync_params(self):
        """Keep ``coefs_``/``intercepts_`` and the flat vector one and the same.

        Someone may have assigned new arrays to ``coefs_[i]`` (as users of
        MLPClassifier do); copy them into the flat vector and re-bind the views.
        """
        net = self._net
        coefs, intercepts = self.coefs_, self.intercepts_
        if all(a is b for a, b in zip(coefs + intercepts, net.coefs + net.intercepts)):
            return
        net.set_params_from(coefs, intercepts)
        self._bind_views()
