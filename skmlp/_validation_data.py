"""Validation data, in one place: pairing, checking, the early-stopping split, the score.

A fit is validated on data given to it (``X_val``, ``y_val``, ``sample_weight_val``,
checked by :func:`check`) or, with ``early_stopping=True``, on a part it holds out
(:func:`hold_out`, MLPClassifier's split with the same draws). :func:`scorer` makes the
function that scores the live weights after each epoch, with the rules for what cannot
be compared (non-finite outputs, a NaN score, a scorer that returns no number).
"""

import warnings

import numpy as np
from sklearn.metrics import check_scoring
from sklearn.model_selection import train_test_split
from sklearn.utils import _safe_indexing, indexable
from sklearn.utils.validation import _check_sample_weight, validate_data

from ._activations import LOSSES
from ._network import forward
from ._numerics import QUIET_FP
from ._solvers import Diverged, diverged_message


def pair(X_val, y_val, sample_weight_val):
    """``(X_val, y_val, sample_weight_val)`` or None; they come together or not at all."""
    if X_val is None and y_val is None:
        if sample_weight_val is not None:
            raise ValueError("sample_weight_val is given without X_val and y_val.")
        return None
    if X_val is None or y_val is None:
        raise ValueError("X_val and y_val must be given together.")
    return X_val, y_val, sample_weight_val


def check(est, X_val, y_val, sample_weight_val, *, n_outputs):
    """``X_val``, the encoded ``Y_val``, ``y_val`` and their weights, checked before any
    training, against the fitted features (``est``) and the training targets' outputs.

    Returns
    -------
    X_val, Y_val, y_val, sample_weight_val
    """
    try:
        X_val = validate_data(est, X_val, accept_sparse=["csr", "csc"], reset=False,
                              dtype=(np.float64, np.float32))
    except ValueError as e:
        raise ValueError(f"X_val: {e}") from None
    if not hasattr(y_val, "toarray") and np.ndim(y_val) not in (1, 2):
        raise ValueError(
            f"y_val must be 1-D or 2-D, of one target (row) per row of X_val; got an "
            f"array of {np.ndim(y_val)} dimensions."
        )
    Y_val, y_val = est._validate_y_val(y_val, X_val.shape[0], n_outputs)
    if sample_weight_val is not None:
        try:
            sample_weight_val = _check_sample_weight(sample_weight_val, X_val,
                                                     dtype=np.float64)
        except ValueError as e:
            raise ValueError(f"sample_weight_val: {e}") from None
    return X_val, Y_val, y_val, sample_weight_val


def hold_out(est, X, Y, y, sample_weight, rng):
    """MLPClassifier's early-stopping split: the same call, the same draws.

    Parameters
    ----------
    est : BaseMLPFromScratch
        Supplies ``validation_fraction`` and whether to stratify.
    X, Y, y, sample_weight
        The training data, targets encoded (``Y``) and as given (``y``).
    rng : numpy.random.RandomState
        The fit's random state (the split draws from it, as MLPClassifier's).

    Returns
    -------
    X, Y, sample_weight
        What to train on: dense data as given (visited through ``rows``, without a copy),
        sparse data gathered (a CSC matrix becomes CSR, as ``train_test_split`` makes it).
    rows : ndarray of int or None
        The training rows of dense ``X``; None for sparse data.
    validation : tuple
        ``(X_val, Y_val, y_val, sample_weight_val)``.
    """
    # stratified for classification with one output (binary), as MLPClassifier
    stratify = Y if est._stratify_split() and Y.shape[1] == 1 else None
    fraction = est.validation_fraction
    try:
        rows, val = train_test_split(np.arange(X.shape[0]), random_state=rng,
                                     test_size=fraction, stratify=stratify)
    except ValueError as e:  # scikit-learn's message, and where it comes from
        raise ValueError(
            f"early_stopping=True holds out validation_fraction={fraction} of the data"
            f"{' stratified by class' if stratify is not None else ''}, and cannot: {e}"
        ) from None
    if len(val) < 2:
        raise ValueError(
            "The validation set is too small. Increase 'validation_fraction' or the size "
            "of your dataset."
        )
    if sample_weight is not None:
        for part, where in (("training", rows), ("validation", val)):
            if not np.any(sample_weight[where]):
                raise ValueError(
                    f"The early-stopping split left the {part} part with sample weights that "
                    "are all 0; change random_state or validation_fraction, or pass X_val "
                    "and y_val."
                )
    if not isinstance(X, np.ndarray):
        # sparse: split as train_test_split splits it, which makes CSC input CSR
        # (`indexable`) and gathers the training rows first
        (X,) = indexable(X)
    validation = (X[val], Y[val], y[val], None if sample_weight is None else sample_weight[val])
    if not isinstance(X, np.ndarray):
        X, Y = _safe_indexing(X, rows), Y[rows]
        sample_weight = None if sample_weight is None else sample_weight[rows]
        rows = None
    return X, Y, sample_weight, rows, validation


def scorer(est, net, X_val, Y_val, y_val, sample_weight_val):
    """``() -> (score, loss)`` of the network's live weights on the validation data.

    The score is ``est.scoring``'s: None for the estimator's default (accuracy, R^2),
    ``"loss"`` for minus the validation loss, or a scikit-learn scorer.

    Raises (when called)
    --------------------
    Diverged
        The network's outputs on the validation data are not finite.
    TypeError
        The scorer returned something that is not a number.
    ValueError
        The score is NaN (e.g. ``roc_auc`` on one class): epochs cannot be compared.
    """
    loss_fn = LOSSES[net.loss]
    scoring = est.scoring
    scorer_fn = None if scoring in (None, "loss") else check_scoring(est, scoring=scoring)
    sw = sample_weight_val

    def validation():
        # the outputs and the default score with numpy's warnings, as scikit-learn's
        # early stopping computes them (huge outputs overflow R^2's squares there too)
        P = forward(X_val, net.coefs, net.intercepts, net.activations, net.out_activation)[-1]
        if not np.isfinite(P).all():
            raise Diverged(diverged_message(
                est, "the network's outputs on the validation data became non-finite"))
        with np.errstate(**QUIET_FP):  # skmlp's own record: no warnings of its own
            loss = np.float64(loss_fn(Y_val.astype(P.dtype), P, sw))
        if scoring is None:
            score = est._default_score(y_val, P, sw)
        elif scoring == "loss":
            score = -loss
        else:
            with warnings.catch_warnings():
                # X_val was validated already and lost its column names on the way
                warnings.filterwarnings("ignore", message="X does not have valid feature")
                value = scorer_fn(est, X_val, y_val, **({} if sw is None else
                                                         {"sample_weight": sw}))
            try:
                score = float(value)
            except (TypeError, ValueError):
                raise TypeError(
                    f"The scoring {scoring!r} returned {value!r} of type "
                    f"{type(value).__name__}; a scorer must return a number."
                ) from None
        if np.isnan(score):
            raise ValueError(
                f"The validation score is NaN (scoring={scoring!r}), so early stopping "
                "cannot compare epochs. This happens e.g. with 'roc_auc' when the "
                "validation data has one class: use more validation data "
                "(validation_fraction, or X_val), or another scoring."
            )
        return score, loss

    return validation
