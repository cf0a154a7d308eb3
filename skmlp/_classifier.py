"""MLPClassifierFromScratch: scikit-learn's MLPClassifier, on skmlp's numpy core.

Parameters, defaults, fitted attributes, methods and messages follow
``sklearn.neural_network.MLPClassifier``, and with skmlp's extras off the same
``random_state`` trains the same model, so swapping the import is enough to compare.
What is particular to classification is here: the target encoding
(``LabelBinarizer``), class weights, probabilities; the rest is in ``_base.py``.
"""

from numbers import Real

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import column_or_1d, validate_data

from ._activations import OUTPUTS
from ._base import BaseMLPFromScratch, _not_nan

# [tiny, 1 - eps/2] per float type, computed once per type (predict on one row is
# dominated by fixed per-call costs)
_BOUNDS = {}


def _open_unit_interval(P):
    """Clip probabilities into [tiny, 1 - eps/2], in place.

    A probability that rounds to exactly 0 or 1 is a rounding artefact (the logits are
    finite); keeping it inside (0, 1) keeps ``log(predict_proba)`` finite. No
    probability moves by more than 1.2e-16 (float64). Any float dtype (float128 input
    gives float128 probabilities, as in scikit-learn).
    """
    bounds = _BOUNDS.get(P.dtype)
    if bounds is None:
        info = np.finfo(P.dtype)
        bounds = _BOUNDS[P.dtype] = np.array([info.tiny, 1 - info.epsneg], dtype=P.dtype)
    lo, hi = bounds
    np.maximum(P, lo, out=P)
    return np.minimum(P, hi, out=P)


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


class MLPClassifierFromScratch(ClassifierMixin, BaseMLPFromScratch):
    """Multi-layer perceptron classifier, written from scratch in numpy.

    A drop-in for :class:`sklearn.neural_network.MLPClassifier`: same parameters,
    defaults, fitted attributes and methods, and, with the extras below off, the same
    model for the same ``random_state`` (to rounding). It adds ``init``,
    ``class_weight``, ``dropout``, more activations (one per hidden layer if wanted),
    validation data at fit time, a ``scoring`` for early stopping, and the generic
    pieces of the tabular recipe: ``label_smoothing``, learning-rate schedules with
    warmup, decoupled weight decay, gradient clipping and weight averaging (all off by
    default).

    The network is the tutorial's: ``Z = A @ W + b``, an activation per hidden layer,
    softmax (multiclass) or logistic (binary, multilabel) output, cross-entropy loss,
    trained by backpropagation. See ``skmlp._network.MLP`` for the core.

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of neurons in the ith hidden layer.
    activation : str or tuple of str, default="relu"
        Hidden-layer activation: "identity", "logistic", "tanh", "relu" (as in
        MLPClassifier), or "leaky_relu" (slope 0.01), "elu", "gelu" (tanh
        approximation), "selu", "mish". A tuple gives one activation per hidden layer.
    solver : {"lbfgs", "sgd", "adam"}, default="adam"
        Weight optimizer: L-BFGS-B (scipy), minibatch SGD with momentum, or Adam.
    alpha : float, default=0.0001
        L2 penalty strength; the penalty is divided by the (weighted) sample count,
        as in MLPClassifier.
    batch_size : int or "auto", default="auto"
        Minibatch size for sgd and adam; "auto" is ``min(200, n_samples)``. A size
        above ``n_samples`` is clipped to it, with MLPClassifier's warning.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Learning-rate schedule for sgd: constant; ``learning_rate_init / (t + 1) **
        power_t`` with ``t`` the samples seen; or divided by 5 each time
        ``n_iter_no_change`` epochs bring no improvement by ``tol``.
    learning_rate_init : float, default=0.001
        Initial learning rate for sgd and adam.
    power_t : float, default=0.5
        Exponent of the "invscaling" schedule.
    max_iter : int, default=200
        Maximum epochs (sgd, adam) or iterations (lbfgs).
    shuffle : bool, default=True
        Shuffle samples every epoch (sgd, adam).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the early-stopping split, shuffling and dropout:
        the same draws as MLPClassifier's.
    tol : float, default=1e-4
        Improvement below which an epoch counts as no improvement; the gradient
        tolerance of lbfgs.
    verbose : bool, default=False
        Print the loss (and validation score) after every epoch or lbfgs iteration.
    warm_start : bool, default=False
        Start the next ``fit`` from the current weights (``coefs_``, as assigned).
    momentum : float, default=0.9
        SGD momentum.
    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum (sgd, momentum > 0).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified for binary
        targets, as MLPClassifier), or use ``X_val`` given to ``fit``; stop when the
        validation score has not improved by ``tol`` for ``n_iter_no_change`` epochs
        and keep the best weights.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's moment decay rates.
    epsilon : float, default=1e-8
        Adam's numerical-stability constant.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping (or, with "adaptive", dividing the
        learning rate by 5).
    max_fun : int, default=15000
        Maximum loss evaluations for lbfgs.
    init : {"glorot_uniform", "scaled_normal"}, default="glorot_uniform"
        Initial weights. "glorot_uniform" is MLPClassifier's: weights and biases
        uniform in ``±sqrt(factor / (fan_in + fan_out))``, factor 2 for logistic
        layers and 6 otherwise. "scaled_normal" is the tutorial's: weights from
        ``N(0, (gain / sqrt(fan_in))^2)`` with the gain of the activation feeding the
        layer (1 for the first layer, sqrt(2) after ReLU, 5/3 after tanh) and zero
        biases.
    class_weight : dict, "balanced" or None, default=None
        Weights per class, multiplied into ``sample_weight``; "balanced" uses
        ``n_samples / (n_classes * np.bincount(y))``. Multilabel targets: "balanced"
        only.
    dropout : float or tuple of float, default=0.0
        Probability of dropping each hidden unit during training (inverted dropout),
        one rate for all hidden layers or one per hidden layer. Prediction is
        deterministic. Not available with lbfgs, whose line search needs a
        deterministic loss.
    scoring : str, callable or None, default=None
        Validation criterion for early stopping and ``validation_scores_``: None is
        accuracy (MLPClassifier's), "loss" the negative validation log-loss, any other
        string or callable a scikit-learn scorer. A NaN score raises a ValueError.
    label_smoothing : float, default=0.0
        skmlp's extra: train on ``Y (1 - eps) + eps / K`` instead of one-hot targets
        (``K`` the classes, or 2 for each logistic output); the training loss is the
        cross-entropy against them, validation scores use the true labels.
    lr_schedule : {"cosine", "coslog4"} or None, default=None
        skmlp's extra (sgd, adam): a per-step factor on the learning rate over the
        steps of one call (``max_iter`` epochs for ``fit``, one for ``partial_fit``):
        cosine annealing from 1 to 0, or RealMLP's "coslog4" (four cosine cycles on a
        log time scale). None is scikit-learn's rate (``learning_rate`` for sgd).
    warmup : float, default=0.0
        skmlp's extra: the fraction of those steps over which the rate rises linearly
        from 0 (with or without ``lr_schedule``).
    weight_decay : float, default=0.0
        skmlp's extra: decoupled weight decay (AdamW's, Loshchilov and Hutter 2019):
        before each step the weights (not the biases) are multiplied by
        ``1 - lr * weight_decay``, ``lr`` the step's rate; it does not pass through
        Adam's moments, unlike the L2 term ``alpha``.
    max_grad_norm : float or None, default=None
        skmlp's extra: clip each minibatch gradient to this Euclidean norm.
    ema_decay : float or None, default=None
        skmlp's extra: keep an exponential moving average of the weights over the steps
        of one call (bias-corrected, see ``skmlp._averaging``), validate it each epoch
        and fit it: ``coefs_`` are the averaged (with early stopping, the best averaged)
        weights; ``loss_curve_`` is the live weights'. A warm start or the next
        ``partial_fit`` starts from ``coefs_``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    loss : str
        "log_loss", the loss minimised (as MLPClassifier's fixed attribute).
    loss_ : numpy.float64
        Training loss after the last epoch (cross-entropy plus L2 term).
    best_loss_ : numpy.float64 or None
        Lowest training loss; None with early stopping.
    loss_curve_ : list of numpy.float64
        Training loss per epoch (per iteration for lbfgs).
    validation_scores_ : list of float or None
        Validation score per epoch, when there is validation data.
    validation_loss_curve_ : list of numpy.float64 or None
        Validation log-loss per epoch, when there is validation data.
    best_validation_score_ : float or None
        Best validation score, with early stopping.
    t_ : int
        Number of training samples seen by the stochastic solver.
    coefs_ : list of ndarray
        ``coefs_[i]`` is the weight matrix of layer i, shape (fan_in, fan_out). They
        may be assigned (as lists or tuples, of any float dtype, of any consistent
        shape): predictions, warm starts, ``partial_fit`` and saving use them.
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
    MLPRegressorFromScratch : The regressor on the same core.

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
        **BaseMLPFromScratch._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
    }
    _FITTED_STATE = BaseMLPFromScratch._FITTED_STATE + ("classes_", "_label_binarizer")
    _REQUIRED_STATE = BaseMLPFromScratch._REQUIRED_STATE + ("classes_", "_label_binarizer")
    _OUT_ACTIVATIONS = ("softmax", "logistic")

    #: The loss minimised, as MLPClassifier's fixed ``loss`` attribute.
    loss = "log_loss"

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
        init="glorot_uniform",
        class_weight=None,
        dropout=0.0,
        scoring=None,
        label_smoothing=0.0,
        lr_schedule=None,
        warmup=0.0,
        weight_decay=0.0,
        max_grad_norm=None,
        ema_decay=None,
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
        self.init = init
        self.class_weight = class_weight
        self.dropout = dropout
        self.scoring = scoring
        self.label_smoothing = label_smoothing
        self.lr_schedule = lr_schedule
        self.warmup = warmup
        self.weight_decay = weight_decay
        self.max_grad_norm = max_grad_norm
        self.ema_decay = ema_decay

    # --- public API -----------------------------------------------------------------
    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with one epoch over the given data (sgd and adam).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array-like of shape (n_classes,), default=None
            All classes that will ever appear; required on the first call.

        Returns
        -------
        self : MLPClassifierFromScratch
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict(self, X):
        """Predict class labels (or label indicators for multilabel targets).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
        """
        return self._labels(self._outputs(X))

    def predict_proba(self, X):
        """Probability of each class, ordered as ``classes_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Inside (0, 1): a probability that rounds to 0 or 1 is reported as the
            smallest normal float or ``1 - 2**-53``.
        """
        return self._proba(self._logits(X))

    def predict_log_proba(self, X):
        """Log of ``predict_proba``: ``np.log(predict_proba(X))``, as MLPClassifier's.

        Finite: probabilities are floored at the smallest normal float, so
        log-probabilities are at least ``log(tiny)`` (about -708 in float64, -87 in
        float32) where MLPClassifier's are ``-inf``. (Log-softmax values below the
        floor would break scikit-learn's requirement that log-probabilities sort
        exactly as the probabilities do, ties included.)

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        P = self.predict_proba(X)
        return np.log(P, out=P)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    # --- targets ---------------------------------------------------------------------
    def _validate_input(self, X, y, incremental, reset, classes=None):
        if incremental and _check_partial_fit_first_call(self, classes):
            binarizer = LabelBinarizer()
            binarizer.fit(y if type_of_target(y).startswith("multilabel") else classes)
            self._label_binarizer = binarizer
        X, y = validate_data(
            self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
            dtype=(np.float64, np.float32), reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            self._check_target_type(y, "y")
            labels = unique_labels(y)
            if self.warm_start:
                if set(labels) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {labels}"
                    )
            elif len(np.setdiff1d(labels, self.classes_, assume_unique=True)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has "
                    f"{self.classes_}. 'y' has {labels}."
                )
        return X, self._encode(y), y

    def _check_target_type(self, y, name):
        """A multilabel model takes indicator matrices of its width, others take labels."""
        multilabel = self._label_binarizer.y_type_.startswith("multilabel")
        kind = type_of_target(y)
        if multilabel != kind.startswith("multilabel") or (
                multilabel and y.shape[1] != len(self.classes_)):
            fitted = (f"a multilabel indicator matrix with {len(self.classes_)} columns"
                      if multilabel else "class labels (a 1-D target)")
            raise ValueError(
                f"{name} is a {kind} target of shape {np.shape(y)}, but the model was fitted "
                f"on {fitted}."
            )

    def _encode(self, y):
        """Targets as a boolean indicator matrix of shape (n_samples, n_outputs).

        What ``LabelBinarizer.transform`` gives, without its int64 intermediate (8x the
        boolean matrix: 4.8 MB for 60k samples and 10 classes).
        """
        if self._label_binarizer.y_type_.startswith("multilabel"):
            return self._label_binarizer.transform(y).astype(bool)
        k = np.searchsorted(self.classes_, y)  # classes_ is sorted
        if len(self.classes_) <= 2:
            return (k == 1)[:, None]
        Y = np.zeros((len(k), len(self.classes_)), dtype=bool)
        Y[np.arange(len(k)), k] = True
        return Y

    def _validate_y_val(self, y_val, n_samples, n_outputs):
        y_val = np.asarray(y_val) if not hasattr(y_val, "toarray") else y_val.toarray()
        if y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = column_or_1d(y_val, warn=True)
        if y_val.shape[0] != n_samples:
            raise ValueError(
                f"X_val and y_val have different numbers of samples: {n_samples} and "
                f"{y_val.shape[0]}."
            )
        check_classification_targets(y_val)
        self._check_target_type(y_val, "y_val")
        unknown = np.setdiff1d(unique_labels(y_val), self.classes_)
        if len(unknown):
            raise ValueError(f"y_val has classes not seen in y: {unknown}.")
        return self._encode(y_val), y_val

    def _extra_sample_weight(self, sample_weight, Y):
        """``sample_weight`` times the class weights of each sample's class(es).

        ``Y`` is the encoded target, of shape (n_samples, n_outputs).
        """
        if self.class_weight is None:
            return sample_weight
        multilabel = self._label_binarizer.y_type_.startswith("multilabel")
        if isinstance(self.class_weight, dict):
            if multilabel:
                raise ValueError(
                    "class_weight as a dict is not supported for multilabel targets; use "
                    "'balanced' or sample_weight."
                )
            classes = self.classes_.tolist()
            unknown = [c for c in self.class_weight if c not in classes]
            bad = {c: w for c, w in self.class_weight.items()
                   if not isinstance(w, Real) or isinstance(w, bool) or not np.isfinite(w)
                   or w < 0}
            if unknown or bad:
                raise ValueError(
                    "class_weight must map classes in classes_ to finite non-negative numbers; "
                    f"got unknown classes {unknown} and bad weights {bad} "
                    f"(classes_ is {self.classes_})."
                )
        if multilabel:
            # each label is a binary output; its balanced weights multiply, as in
            # compute_sample_weight("balanced", Y)
            cw = np.prod([_balanced(col.astype(np.intp), sample_weight) for col in Y.T], axis=0)
        else:
            k = Y.argmax(axis=1) if Y.shape[1] > 1 else Y[:, 0].astype(np.intp)
            if isinstance(self.class_weight, dict):
                w = np.array([float(self.class_weight.get(c, 1.0)) for c in classes])
                cw = w[k]
            else:
                cw = _balanced(k, sample_weight)
        weighted = cw if sample_weight is None else sample_weight * cw
        if not np.any(weighted):
            raise ValueError(
                "Sample weights must contain at least one non-zero number: class_weight="
                f"{self.class_weight!r} gives every sample weight 0."
            )
        return weighted

    def _output_for(self, Y):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _training_targets(self, Y, dtype):
        """Label smoothing: ``Y (1 - eps) + eps / K``, ``K`` the classes one output
        chooses among (all classes for softmax, 2 for each logistic output)."""
        eps = self.label_smoothing
        if not eps:
            return Y
        k = Y.shape[1] if self.out_activation_ == "softmax" else 2
        t = np.dtype(dtype).type
        return Y.astype(dtype) * t(1.0 - eps) + t(eps / k)

    def _stratify_split(self):
        return True

    def _default_score(self, y, P, sample_weight):
        """Accuracy, as MLPClassifier's early stopping scores."""
        return accuracy_score(y, self._labels(P), sample_weight=sample_weight)

    # --- outputs ---------------------------------------------------------------------
    def _labels(self, P):
        if P.shape[1] == 1:
            P = P.ravel()
        return self._label_binarizer.inverse_transform(P)

    def _proba(self, Z):
        """Class probabilities, shape (n_samples, n_classes), from the logits ``Z``."""
        if len(self.classes_) == 1:  # trained to say "not the one class": P(it) is 1
            return np.ones_like(Z)
        P = OUTPUTS[self.out_activation_](Z)
        if P.shape[1] == 1:  # binary: [1 - p, p], as MLPClassifier (rows sum to 1 exactly)
            P = np.hstack([1 - P, P])
        return _open_unit_interval(_not_nan(P))
