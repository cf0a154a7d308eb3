"""Conversion to and from scikit-learn's MLPClassifier and MLPRegressor.

Both sides store the same model: ``coefs_[i]`` of shape (fan_in, fan_out),
``intercepts_[i]``, the same output function, the same tracking attributes, and an
optimizer whose state is laid out like ``coefs_ + intercepts_`` (scikit-learn keeps
one array per layer, skmlp one flat vector). Converting copies all of it, so the
other side predicts the same outputs and its ``partial_fit`` continues the same
training.
"""

import copy

import numpy as np
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer
from sklearn.utils.validation import check_is_fitted

from ._activations import SKLEARN_ACTIVATIONS
from ._optimizers import SGD, Adam

#: Fitted attributes both sides have, copied as they are (lists are copied).
_SHARED = ("classes_", "_label_binarizer", "n_features_in_", "feature_names_in_", "n_iter_",
           "n_layers_", "n_outputs_", "out_activation_", "t_", "loss_", "best_loss_",
           "best_validation_score_", "_no_improvement_count", "loss_curve_",
           "validation_scores_")


def _copy_shared(src, dst):
    for name in _SHARED:
        if hasattr(src, name):
            setattr(dst, name, copy.deepcopy(getattr(src, name)))


def _copy_weights(src, dst):
    dst.coefs_ = [np.array(W) for W in src.coefs_]
    dst.intercepts_ = [np.array(b) for b in src.intercepts_]
    best = getattr(src, "_best_coefs", None)
    if best is src.coefs_:  # the same lists: an early-stopping fit's best weights
        dst._best_coefs, dst._best_intercepts = dst.coefs_, dst.intercepts_
    elif best is not None:
        dst._best_coefs = [np.array(W) for W in best]
        dst._best_intercepts = [np.array(b) for b in src._best_intercepts]
    else:
        dst._best_coefs = dst._best_intercepts = None


def _flat(arrays, n_coef_layers):
    """scikit-learn's per-layer state as ours: one flat array, in the layers' dtypes.

    Where the weights' layers and the biases' differ in dtype (float64 bias state of
    float32 weights, from float64 sample weights), the pair of the two flat parts.
    """
    coefs = np.concatenate([np.ravel(a) for a in arrays[:n_coef_layers]])
    intercepts = np.concatenate([np.ravel(a) for a in arrays[n_coef_layers:]])
    if coefs.dtype != intercepts.dtype:
        return coefs, intercepts
    return np.concatenate([coefs, intercepts])


def _optimizer_from_sklearn(opt, n_coef_layers):
    """skmlp's SGD or Adam holding the state of scikit-learn's optimizer ``opt``.

    ``opt``'s state is per layer, the ``n_coef_layers`` weight matrices first.
    """
    if isinstance(opt, SGDOptimizer):
        velocity = _flat(opt.velocities, n_coef_layers)
        ours = SGD(0, np.float64, opt.learning_rate_init, opt.lr_schedule, opt.momentum,
                   opt.nesterov, opt.power_t)
        ours.velocity = velocity
    elif isinstance(opt, AdamOptimizer):
        ours = Adam(0, np.float64, opt.learning_rate_init, opt.beta_1, opt.beta_2, opt.epsilon)
        ours.m, ours.v = _flat(opt.ms, n_coef_layers), _flat(opt.vs, n_coef_layers)
        ours.t = opt.t
    else:
        return None
    ours.learning_rate = opt.learning_rate
    return ours


def _optimizer_to_sklearn(opt, coefs, intercepts):
    """scikit-learn's optimizer holding the state of skmlp's ``opt``, per layer."""
    params = list(coefs) + list(intercepts)
    n_coefs = sum(W.size for W in coefs)

    def split(state):
        # per layer, each in the dtype of its part (see `_flat`)
        weights, biases = (state if isinstance(state, tuple)
                           else (state[:n_coefs], state[n_coefs:]))
        out = []
        for flat, layers in ((weights, coefs), (biases, intercepts)):
            start = 0
            for p in layers:
                out.append(flat[start : start + np.size(p)].reshape(np.shape(p)).copy())
                start += np.size(p)
        return out

    if isinstance(opt, SGD):
        theirs = SGDOptimizer(params, opt.learning_rate_init, opt.lr_schedule, opt.momentum,
                              opt.nesterov, opt.power_t)
        theirs.velocities = split(opt.velocity)
    else:
        theirs = AdamOptimizer(params, opt.learning_rate_init, opt.beta_1, opt.beta_2,
                               opt.epsilon)
        theirs.ms, theirs.vs, theirs.t = split(opt.m), split(opt.v), opt.t
    theirs.learning_rate = opt.learning_rate
    return theirs


def to_sklearn(est):
    """A fitted MLPClassifier (or MLPRegressor) with the same model as ``est``.

    Parameters
    ----------
    est : MLPClassifierFromScratch or MLPRegressorFromScratch, fitted

    Returns
    -------
    clf : sklearn.neural_network.MLPClassifier or MLPRegressor

    Raises
    ------
    ValueError
        If ``est`` uses something scikit-learn cannot represent: an activation it does
        not have, or different activations per layer.
    """
    check_is_fitted(est)
    # the parameters as they are now, as get_params has them (MLPClassifier predicts with
    # its `activation` parameter); a tuple of one repeated name (or of none: no hidden
    # layer) is that name
    names = {est.activation} if isinstance(est.activation, str) else set(est.activation)
    if len(names) > 1 or not names <= set(SKLEARN_ACTIVATIONS):
        raise ValueError(
            f"scikit-learn cannot represent activation={est.activation!r}: it has one "
            f"activation for all hidden layers, one of {list(SKLEARN_ACTIVATIONS)}."
        )
    target = MLPClassifier if hasattr(est, "classes_") else MLPRegressor
    own = target().get_params()
    params = {k: v for k, v in est.get_params(deep=False).items() if k in own}
    params["activation"] = names.pop() if names else "relu"
    clf = target(**params)
    _copy_shared(est, clf)
    _copy_weights(est, clf)
    if clf._best_coefs is None:  # what MLPClassifier's early stopping restores from
        clf._best_coefs = [W.copy() for W in clf.coefs_]
        clf._best_intercepts = [b.copy() for b in clf.intercepts_]
    if getattr(est, "_optimizer", None) is not None:
        clf._optimizer = _optimizer_to_sklearn(est._optimizer, clf.coefs_, clf.intercepts_)
    return clf


def from_sklearn(cls, clf):
    """An estimator of class ``cls`` with the parameters and model of a fitted ``clf``.

    Parameters
    ----------
    cls : type
        ``MLPClassifierFromScratch`` or ``MLPRegressorFromScratch`` (or a subclass).
    clf : MLPClassifier or MLPRegressor, fitted

    Returns
    -------
    est : cls
        Fitted: predicts what ``clf`` predicts, and trains on from its weights and
        optimizer state with ``partial_fit`` or ``warm_start=True``.
    """
    expected = MLPClassifier if hasattr(cls, "predict_proba") else MLPRegressor
    if not isinstance(clf, expected):
        raise TypeError(f"Expected a fitted {expected.__name__}, got {type(clf).__name__}.")
    check_is_fitted(clf)
    own = cls().get_params()
    est = cls(**{k: v for k, v in clf.get_params(deep=False).items() if k in own})
    _copy_shared(clf, est)
    _copy_weights(clf, est)
    n_hidden = len(clf.coefs_) - 1
    est._activations = (clf.activation,) * n_hidden
    est._hidden_layer_sizes = [np.shape(W)[1] for W in clf.coefs_[:-1]]
    opt = getattr(clf, "_optimizer", None)
    est._optimizer = None if opt is None else _optimizer_from_sklearn(opt, len(clf.coefs_))
    # lbfgs-fitted MLPClassifiers track nothing of the stochastic solvers
    if not hasattr(clf, "loss_curve_"):
        est.loss_curve_ = []
        est._no_improvement_count = 0
        est.best_loss_ = np.inf
        est.validation_scores_ = est.best_validation_score_ = None
    est.validation_loss_curve_ = None
    return est
