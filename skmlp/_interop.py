"""Conversion to and from scikit-learn's MLPClassifier.

Both estimators store the same network: ``coefs_[i]`` of shape (fan_in, fan_out),
``intercepts_[i]``, a softmax or logistic output. Converting copies the
parameters they share and the weights, so the other side predicts the same
probabilities and can go on training (``warm_start`` or ``partial_fit``).
"""

import copy

import numpy as np
from sklearn.neural_network import MLPClassifier
from sklearn.utils.validation import check_is_fitted

from ._network import MLP

#: Hidden activations MLPClassifier has.
SKLEARN_ACTIVATIONS = frozenset({"identity", "logistic", "tanh", "relu"})
#: Fitted attributes the two estimators share, copied as they are.
_SHARED = ("classes_", "n_features_in_", "feature_names_in_", "n_iter_", "n_layers_",
           "n_outputs_", "out_activation_", "t_", "loss_", "best_loss_",
           "best_validation_score_", "_no_improvement_count")
_SHARED_LISTS = ("loss_curve_", "validation_scores_")


def _copy_fitted(src, dst):
    for name in _SHARED:
        if hasattr(src, name):
            setattr(dst, name, copy.copy(getattr(src, name)))
    for name in _SHARED_LISTS:
        value = getattr(src, name, None)
        setattr(dst, name, None if value is None else list(value))
    dst._label_binarizer = copy.deepcopy(src._label_binarizer)


def to_sklearn(est):
    """A fitted ``MLPClassifier`` with the same weights as ``est``.

    Parameters
    ----------
    est : MLPClassifierFromScratch, fitted

    Returns
    -------
    clf : sklearn.neural_network.MLPClassifier
        Same parameters (those MLPClassifier has), same weights: ``predict_proba``
        agrees to rounding.

    Raises
    ------
    ValueError
        If ``est`` uses something MLPClassifier cannot represent: an activation it
        does not have, or different activations per layer.
    """
    check_is_fitted(est)
    activations = set(est._net.activations)
    if len(activations) > 1 or not activations <= SKLEARN_ACTIVATIONS:
        raise ValueError(
            f"MLPClassifier cannot represent activation={est.activation!r}: it has one "
            f"activation for all hidden layers, one of {sorted(SKLEARN_ACTIVATIONS)}."
        )
    own = MLPClassifier().get_params()
    params = {k: v for k, v in est.get_params(deep=False).items() if k in own}
    params["activation"] = activations.pop() if activations else "relu"
    clf = MLPClassifier(**params)
    _copy_fitted(est, clf)
    clf.coefs_ = [W.copy() for W in est.coefs_]
    clf.intercepts_ = [b.copy() for b in est.intercepts_]
    # what MLPClassifier's early stopping restores from, should training go on there
    clf._best_coefs = [W.copy() for W in est.coefs_]
    clf._best_intercepts = [b.copy() for b in est.intercepts_]
    return clf


def from_sklearn(cls, clf):
    """An ``MLPClassifierFromScratch`` with the parameters and weights of a fitted ``clf``.

    Parameters
    ----------
    cls : type
        ``MLPClassifierFromScratch`` (or a subclass).
    clf : sklearn.neural_network.MLPClassifier, fitted

    Returns
    -------
    est : MLPClassifierFromScratch
        Fitted: predicts what ``clf`` predicts, and trains on from its weights
        with ``partial_fit`` or ``warm_start=True``.
    """
    check_is_fitted(clf)
    if not isinstance(clf, MLPClassifier):
        raise TypeError(f"Expected a fitted MLPClassifier, got {type(clf).__name__}.")
    own = cls().get_params()
    est = cls(**{k: v for k, v in clf.get_params(deep=False).items() if k in own})
    sizes = [clf.coefs_[0].shape[0]] + [W.shape[1] for W in clf.coefs_]
    net = MLP(sizes, clf.activation, clf.out_activation_, dtype=clf.coefs_[0].dtype)
    est._net = net.set_params_from(clf.coefs_, clf.intercepts_)
    est._bind_views()
    _copy_fitted(clf, est)
    est.validation_loss_curve_ = None
    est._optimizer = None
    est._best_params = None
    if not hasattr(est, "best_loss_"):  # lbfgs-fitted MLPClassifier has none
        est.best_loss_ = getattr(est, "loss_", np.inf)
        est.loss_curve_ = []
        est.best_validation_score_ = None
        est._no_improvement_count = 0
    return est
