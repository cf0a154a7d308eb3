"""MLPClassifierFromScratch: the numpy core behind scikit-learn's estimator API.

The estimator validates, splits and schedules; the network (``_network.MLP``)
and the optimizers (``_optimizers``) do the math. Parameters, defaults,
fitted attributes and messages follow ``sklearn.neural_network.MLPClassifier``
so that swapping the import is enough to compare the two.
"""

import copy
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import check_scoring, get_scorer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._activations import ACTIVATIONS, LOG_OUTPUTS, OUTPUT_LOSSES, OUTPUTS
from ._callbacks import CallbackSupportMixin
from ._network import MLP
from ._optimizers import SGD, Adam
from ._training import minimize_lbfgs, run_epoch

_STOCHASTIC_SOLVERS = ("sgd", "adam")
_DIVERGED = (
    "Training diverged: the weights or the loss became non-finite. The learning rate "
    "(learning_rate_init={lr}) may be too high, or the input data may need scaling "
    "(e.g. StandardScaler)."
)


def _balanced(k, sample_weight):
    """"balanced" class weights for class indices ``k``: total / (n_classes * class total).

    Totals are of ``sample_weight`` (counts when None), so weighting a sample by 2 is the
    same as repeating it; with no sample weights this is exactly
    ``compute_sample_weight("balanced", y)``. Only classes present count, so a
    ``partial_fit`` batch without some class is balanced over those it has.
    """
    totals = np.bincount(k, weights=sample_weight).astype(np.float64)
    present = np.count_nonzero(totals)
    total = len(k) if sample_weight is None else sample_weight.sum()
    # a class whose samples all weigh 0 gets weight 0 (not inf, which times 0 is NaN)
    weights = np.divide(total, present * totals, out=np.zeros_like(totals), where=totals > 0)
    return weights[k]


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
class MLPClassifierFromScratch(ClassifierMixin, CallbackSupportMixin, BaseEstimator):
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

    # --- validation of the inputs -----------------------------------------------------
    def _layer_spec(self):
        """Hidden sizes, activations and dropout rates, one per hidden layer."""
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if not hasattr(sizes, "__iter__") else list(sizes)
        if any(int(s) != s or s <= 0 for s in sizes):
            raise InvalidParameterError(
                f"The 'hidden_layer_sizes' parameter must hold positive integers, got {sizes}."
            )
        sizes = [int(s) for s in sizes]
        acts = self.activation
        acts = [acts] * len(sizes) if isinstance(acts, str) else list(acts)
        bad = [a for a in acts if not isinstance(a, str) or a not in ACTIVATIONS]
        if bad or len(acts) != len(sizes):
            raise InvalidParameterError(
                "The 'activation' parameter must be one of "
                f"{sorted(ACTIVATIONS)} or a tuple of them with one entry per hidden layer "
                f"({len(sizes)}); got {self.activation!r}."
            )
        rates = self.dropout
        rates = [rates] * len(sizes) if isinstance(rates, Real) else list(rates)
        if len(rates) != len(sizes) or not all(isinstance(r, Real) and 0 <= r < 1 for r in rates):
            raise InvalidParameterError(
                "The 'dropout' parameter must be a float in [0, 1) or a tuple of them with one "
                f"entry per hidden layer ({len(sizes)}); got {self.dropout!r}."
            )
        if any(rates) and self.solver == "lbfgs":
            raise ValueError(
                "dropout is not supported with solver='lbfgs': its line search needs a "
                "deterministic loss. Use solver='adam' or 'sgd'."
            )
        if isinstance(self.scoring, str) and self.scoring != "loss":
            try:
                get_scorer(self.scoring)
            except ValueError as e:
                raise InvalidParameterError(
                    f"The 'scoring' parameter must be None, 'loss', a scorer name or a callable; "
                    f"got {self.scoring!r}."
                ) from e
        return sizes, acts, [float(r) for r in rates]

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
            dtype=(np.float64, np.float32), reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            binarizer = LabelBinarizer().fit(y)
            if len(binarizer.classes_) < 2:
                raise ValueError(
                    "The target y needs samples of at least 2 classes; got 1 class: "
                    f"{binarizer.classes_}."
                )
            self._label_binarizer, self.classes_ = binarizer, binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start and not incremental:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {classes}."
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                    f"'y' has {classes}."
                )
        return X, y

    def _check_validation_data(self, X_val, y_val, sample_weight_val):
        if X_val is None and y_val is None:
            if sample_weight_val is not None:
                raise ValueError("sample_weight_val is given without X_val and y_val.")
            return None
        if X_val is None or y_val is None:
            raise ValueError("X_val and y_val must be given together.")
        return X_val, y_val, sample_weight_val

    def _sample_weight(self, sample_weight, X, y):
        """``sample_weight`` times the class weights of each sample's class(es)."""
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        if self.class_weight is None:
            return sample_weight
        Y = self._encode(y)
        if Y.shape[1] == 1:  # binary: one column, but two classes to weigh
            Y = np.hstack([~Y, Y])
        if isinstance(self.class_weight, dict):
            if self._label_binarizer.y_type_.startswith("multilabel"):
                raise ValueError(
                    "class_weight as a dict is not supported for multilabel targets; use "
                    "'balanced' or sample_weight."
                )
            unknown = set(self.class_weight) - set(self.classes_.tolist())
            if unknown:
                raise ValueError(
                    f"class_weight has labels {sorted(map(str, unknown))} that are not in "
                    f"classes_ {self.classes_}."
                )
            w = np.array([self.class_weight.get(c, 1.0) for c in self.classes_.tolist()])
            cw = w[Y.argmax(axis=1)]
        elif self._label_binarizer.y_type_.startswith("multilabel"):
            # each label is a binary output; its balanced weights multiply, as in
            # compute_sample_weight("balanced", Y)
            cw = np.prod([_balanced(col.astype(np.intp), sample_weight) for col in Y.T], axis=0)
        else:
            cw = _balanced(Y.argmax(axis=1), sample_weight)
        return cw if sample_weight is None else sample_weight * cw

    def _encode(self, y):
        """Targets as a boolean indicator matrix of shape (n_samples, n_outputs).

        What ``LabelBinarizer.transform`` gives, without its int64 intermediate
        (8x the boolean matrix: 4.8 MB for 60k samples and 10 classes).
        """
        if self._label_binarizer.y_type_.startswith("multilabel"):
            return self._label_binarizer.transform(y).astype(bool)
        k = np.searchsorted(self.classes_, y)  # classes_ is sorted
        if len(self.classes_) == 2:
            return (k == 1)[:, None]
        Y = np.zeros((len(k), len(self.classes_)), dtype=bool)
        Y[np.arange(len(k)), k] = True
        return Y

    # --- training -------------------------------------------------------------------
    def _fit(self, X, y, sample_weight, incremental, validation, backup=None):
        # If anything fails, checks or training, put the estimator back as it was, so no
        # half-updated model is ever presented as fitted.
        backup = self._snapshot() if backup is None else backup
        try:
            sizes, acts, rates = self._layer_spec()
            first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
            if self.early_stopping and incremental:
                raise ValueError("partial_fit does not support early_stopping=True")
            X, y = self._validate_input(X, y, incremental, reset=first_pass)
            sample_weight = self._sample_weight(sample_weight, X, y)
            if not first_pass:
                expected = [self.n_features_in_] + sizes + [self._net.layer_sizes[-1]]
                if expected != self._net.layer_sizes:
                    raise ValueError(
                        f"hidden_layer_sizes={sizes} does not match the fitted layers "
                        f"{self._net.layer_sizes[1:-1]}; fit without warm_start to change them."
                    )
                X = X.astype(self._net.dtype, copy=False)
            if validation is not None:
                validation = self._prepare_validation(*validation, dtype=X.dtype)
            rng = check_random_state(self.random_state)
            Y = self._encode(y)  # boolean: 1/4 of float32 targets, cast per batch
            if first_pass:
                self._initialize(X, Y, sizes, acts, validation, rng)
            else:
                self._net.activations = tuple(acts)
                self._sync_params()
            self._prepare_tracking(validation)
            metadata = None if sample_weight is None else {"sample_weight": sample_weight}
            # one sub-task per epoch; lbfgs opens one more than it runs (closed empty)
            n_tasks = 1 if incremental else self.max_iter + (self.solver == "lbfgs")
            ctx = self._init_callback_context(max_subtasks=n_tasks)
            ctx.call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=metadata)
            if self.solver == "lbfgs":
                self._fit_lbfgs(X, y, Y, sample_weight, validation, ctx)
            else:
                self._fit_stochastic(X, y, Y, sample_weight, rates, validation, incremental, rng,
                                     ctx)
            ctx.call_on_fit_task_end(estimator=self, X=X, y=y, metadata=metadata,
                                     reconstruction_attributes=self._reconstruction)
            if not np.isfinite(self._net.params).all():
                raise FloatingPointError
        except FloatingPointError:
            self._restore(backup)
            raise ValueError(_DIVERGED.format(lr=self.learning_rate_init)) from None
        except BaseException:
            self._restore(backup)
            raise
        return self

    def _reconstruction(self):
        """The fitted state as it is now, for callbacks that score a ``fitted_estimator``.

        A copy, so the snapshot does not move while training goes on.
        """
        net = copy.deepcopy(self._net)
        return {"_net": net, "coefs_": list(net.coefs), "intercepts_": list(net.intercepts)}

    # fitted state: public attributes ending in "_" and these private ones. Not the
    # configuration a user set (set_callbacks, set_fit_request) nor scikit-learn's
    # callback bookkeeping, which a failed fit must leave alone (teardown needs it).
    _PRIVATE_STATE = ("_net", "_optimizer", "_label_binarizer", "_best_params",
                      "_no_improvement_count")

    def _state_keys(self):
        return [k for k in vars(self)
                if (k.endswith("_") and not k.startswith("__")) or k in self._PRIVATE_STATE]

    def _snapshot(self):
        """A copy of the fitted state, to go back to if a fit fails."""
        return {k: copy.deepcopy(getattr(self, k)) for k in self._state_keys()
                if k not in ("coefs_", "intercepts_")}  # views: rebuilt by _bind_views

    def _restore(self, snapshot):
        for k in self._state_keys():
            delattr(self, k)
        self.__dict__.update(snapshot)
        self._bind_views()

    def _initialize(self, X, Y, sizes, acts, validation, rng):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = len(sizes) + 2
        self.out_activation_ = (
            "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"
        )
        self._net = MLP([X.shape[1]] + sizes + [self.n_outputs_], acts, self.out_activation_,
                        dtype=X.dtype).initialize(rng)
        self._bind_views()
        self._optimizer = None
        self._best_params = None
        self._no_improvement_count = 0
        self.loss_curve_ = []
        self.best_loss_ = self.validation_scores_ = self.validation_loss_curve_ = None
        self.best_validation_score_ = None

    def _prepare_tracking(self, validation):
        """Make the curves and best scores fit this call's settings.

        The first fit sets them (as MLPClassifier does); a warm-start fit may
        switch early stopping on or off or bring validation data, which
        MLPClassifier then trips over (``None.append``).
        """
        stopping_on_validation = self.early_stopping and self.solver in _STOCHASTIC_SOLVERS
        if validation is not None or stopping_on_validation:
            if self.validation_scores_ is None:
                self.validation_scores_, self.validation_loss_curve_ = [], []
        if stopping_on_validation:
            self.best_loss_ = None
            if self.best_validation_score_ is None:
                self.best_validation_score_ = -np.inf
        elif self.best_loss_ is None:
            self.best_loss_ = np.inf

    def _prepare_validation(self, X_val, y_val, sample_weight_val, dtype):
        X_val = validate_data(self, X_val, accept_sparse=["csr", "csc"], dtype=dtype, reset=False)
        y_val = np.asarray(y_val) if not hasattr(y_val, "toarray") else y_val.toarray()
        if y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = column_or_1d(y_val, warn=True)
        if X_val.shape[0] != y_val.shape[0]:
            raise ValueError(
                f"X_val and y_val have different numbers of samples: {X_val.shape[0]} and "
                f"{y_val.shape[0]}."
            )
        unknown = np.setdiff1d(unique_labels(y_val), self.classes_)
        if len(unknown):
            raise ValueError(f"y_val has classes not seen in y: {unknown}.")
        if sample_weight_val is not None:
            sample_weight_val = _check_sample_weight(sample_weight_val, X_val, dtype=np.float64)
        return X_val, y_val, sample_weight_val

    def _split_validation(self, X, y, sample_weight, rng):
        """Hold out ``validation_fraction`` of the data, stratified by class when possible."""
        n = X.shape[0]
        stratify = y if np.ndim(y) == 1 else None
        try:
            train, val = train_test_split(np.arange(n), random_state=rng,
                                          test_size=self.validation_fraction, stratify=stratify)
        except ValueError:
            # too few members in some class (or a validation set smaller than the number of
            # classes) to stratify: fall back to a plain random split, as MLPClassifier does
            train, val = train_test_split(np.arange(n), random_state=rng,
                                          test_size=self.validation_fraction)
        if len(val) < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size "
                "of your dataset."
            )
        sw_val = None if sample_weight is None else sample_weight[val]
        sw_train = None if sample_weight is None else sample_weight[train]
        return train, (X[val], y[val], sw_val), sw_train

    def _make_optimizer(self):
        net = self._net
        if self.solver == "sgd":
            return SGD(net.params.size, net.dtype, self.learning_rate_init, self.learning_rate,
                       self.momentum, self.nesterovs_momentum, self.power_t)
        return Adam(net.params.size, net.dtype, self.learning_rate_init, self.beta_1,
                    self.beta_2, self.epsilon)

    def _fit_stochastic(self, X, y, Y, sample_weight, rates, validation, incremental, rng,
                        ctx):
        if not incremental or self._optimizer is None:
            self._optimizer = self._make_optimizer()
        if validation is None and self.early_stopping:
            train, validation, sample_weight = self._split_validation(X, y, sample_weight, rng)
            X, y, Y = X[train], y[train], Y[train]
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        if hasattr(X, "tocsr"):
            X = X.tocsr()  # row gathers are fast on CSR, slow on CSC
        n_samples = X.shape[0]
        # larger than the data means one batch of everything (MLPClassifier also warns; the
        # clipping is documented and nothing is lost, so no warning here)
        batch_size = min(200 if self.batch_size == "auto" else self.batch_size, n_samples)
        batches = list(gen_batches(n_samples, batch_size))
        net, optimizer = self._net, self._optimizer

        if self.early_stopping and self._best_params is None:
            self._best_params = net.params.copy()
        epoch_start = np.empty_like(net.params)  # the weights to go back to on Ctrl-C
        self.n_iter_ = 0
        try:
            for _ in range(self.max_iter):
                np.copyto(epoch_start, net.params)
                epoch_ctx = ctx.subcontext(task_name="epoch")
                epoch_ctx.call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=metadata)
                order = rng.permutation(n_samples) if self.shuffle else None
                loss = run_epoch(net, optimizer, X, Y, sample_weight, batches, self.alpha,
                                 order, rates, rng)
                if not np.isfinite(loss):
                    raise FloatingPointError
                self.n_iter_ += 1
                self.loss_ = loss
                self.t_ += n_samples
                self.loss_curve_.append(loss)
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, loss))
                self._update_no_improvement_count(validation)
                optimizer.iteration_ends(self.t_)
                if epoch_ctx.call_on_fit_task_end(estimator=self, X=X, y=y, metadata=metadata,
                                                  reconstruction_attributes=self._reconstruction):
                    break  # a callback asked to stop after this epoch
                if self._no_improvement_count > self.n_iter_no_change:
                    msg = (
                        "Validation score did not improve more than tol=%f for %d consecutive "
                        "epochs." if self.early_stopping else
                        "Training loss did not improve more than tol=%f for %d consecutive "
                        "epochs."
                    ) % (self.tol, self.n_iter_no_change)
                    if optimizer.trigger_stopping(msg, self.verbose):
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        "Stochastic Optimizer: Maximum iterations (%d) reached and the "
                        "optimization hasn't converged yet." % self.max_iter,
                        ConvergenceWarning,
                    )
        except KeyboardInterrupt:
            # the optimizer keeps its (slightly ahead) moments: harmless for continuing
            net.params[...] = epoch_start
            warnings.warn(
                "Training interrupted by user; keeping the weights of the last complete epoch."
            )
        if self.early_stopping:
            net.params[...] = self._best_params

    def _validation_metrics(self, X_val, y_val, sw_val):
        """Validation score (by ``scoring``) and log-loss, from one forward pass."""
        Z = self._net.logits(X_val)
        Y_val = self._label_binarizer.transform(y_val).astype(Z.dtype)
        row_loss = OUTPUT_LOSSES[self.out_activation_](Z, Y_val)  # Z now holds probabilities
        loss = float(np.average(row_loss, weights=sw_val))
        if not np.isfinite(loss):
            raise FloatingPointError
        if self.scoring is None:
            y_pred = self._label_binarizer.inverse_transform(Z)
            if y_pred.ndim == 1:
                score = float(np.average(y_pred == y_val, weights=sw_val))
            else:  # multilabel: exact-match accuracy, as accuracy_score
                score = float(np.average((y_pred == y_val).all(axis=1), weights=sw_val))
        elif self.scoring == "loss":
            score = -loss
        else:
            scorer = check_scoring(self, scoring=self.scoring)
            with warnings.catch_warnings():
                # X_val was validated already and lost its column names on the way
                warnings.filterwarnings("ignore", message="X does not have valid feature names")
                kwargs = {} if sw_val is None else {"sample_weight": sw_val}
                score = float(scorer(self, X_val, y_val, **kwargs))
        return score, loss

    def _update_no_improvement_count(self, validation):
        if validation is not None:
            score, val_loss = self._validation_metrics(*validation)
            self.validation_scores_.append(score)
            self.validation_loss_curve_.append(val_loss)
            if self.verbose:
                print("Validation score: %f" % score)
        if self.early_stopping:
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                np.copyto(self._best_params, self._net.params)
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])

    def _fit_lbfgs(self, X, y, Y, sample_weight, validation, ctx):
        net = self._net
        last_good = net.params.copy()
        self.loss_curve_ = []
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        stopped = []
        iter_ctx = [ctx.subcontext(task_name="iteration")]
        iter_ctx[0].call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=metadata)

        def callback(intermediate_result):
            last_good[...] = intermediate_result.x
            net.params[...] = intermediate_result.x  # scipy may have evaluated elsewhere since
            self.loss_curve_.append(float(intermediate_result.fun))
            if self.verbose:
                print("Iteration %d, loss = %.8f" % (len(self.loss_curve_), self.loss_curve_[-1]))
            if validation is not None:
                score, val_loss = self._validation_metrics(*validation)
                self.validation_scores_.append(score)
                self.validation_loss_curve_.append(val_loss)
            if iter_ctx[0].call_on_fit_task_end(estimator=self, X=X, y=y, metadata=metadata,
                                                reconstruction_attributes=self._reconstruction):
                stopped.append(True)
                raise StopIteration  # scipy >= 1.11 ends the minimisation here
            iter_ctx[0] = ctx.subcontext(task_name="iteration")
            iter_ctx[0].call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=metadata)

        try:
            result = minimize_lbfgs(net, X, Y.astype(X.dtype), sample_weight, self.alpha, self.max_iter,
                                    self.max_fun, self.tol, callback)
        except KeyboardInterrupt:
            net.params[...] = last_good
            self.n_iter_ = len(self.loss_curve_)
            self.loss_ = net.loss_grad(X, Y.astype(X.dtype), sample_weight, self.alpha)[0]
            warnings.warn("Training interrupted by user; keeping the last L-BFGS iterate.")
        else:
            if not np.isfinite(result.fun):
                raise FloatingPointError
            if not stopped:  # the iteration begun after the last one never ran: close it
                iter_ctx[0].call_on_fit_task_end(estimator=self)
            self.n_iter_ = int(result.nit)
            self.loss_ = float(result.fun)
            if result.status != 0 and not stopped:
                warnings.warn(
                    "lbfgs failed to converge after %d iteration(s) (status=%d): %s. Increase "
                    "max_iter or max_fun, or scale the data." % (result.nit, result.status,
                                                                 result.message),
                    ConvergenceWarning,
                )
        self.best_loss_ = min(self.loss_curve_, default=self.loss_)
