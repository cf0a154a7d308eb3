"""A fit's state besides the weights, in one owner: counters, curves, the best so far.

:class:`TrainingState` holds what MLPClassifier keeps on the estimator while it trains
(``n_iter_``, ``t_``, ``loss_``, ``loss_curve_``, ``best_loss_``,
``_no_improvement_count``, the validation curves and best score, the best weights and the
optimizer) and is the only code that writes them to the estimator (:meth:`commit`), after
every epoch, so the estimator always describes the epochs run so far and a callback sees
a consistent model.

When training stops is :func:`no_improvement`, a pure function of one epoch's value
(MLPClassifier's ``_update_no_improvement_count``), and :meth:`TrainingState.stalled`.
"""

import numpy as np

#: The attributes :meth:`TrainingState.commit` writes.
TRACKED = ("n_iter_", "t_", "loss_", "loss_curve_", "best_loss_", "_no_improvement_count",
           "validation_scores_", "validation_loss_curve_", "best_validation_score_",
           "_optimizer", "_best_coefs", "_best_intercepts")


def no_improvement(value, best, count, tol, *, maximize):
    """One epoch of MLPClassifier's stopping count.

    Parameters
    ----------
    value : float
        The epoch's validation score (``maximize=True``) or training loss.
    best : float
        The best so far (``-inf``/``inf`` before the first epoch).
    count : int
        Epochs in a row without an improvement of at least ``tol``.
    tol : float
    maximize : bool

    Returns
    -------
    count : int
        ``count + 1`` unless ``value`` beats ``best`` by ``tol`` or more, else 0.
    best : float
        ``value`` if it is better than ``best`` at all, else ``best``.
    improved : bool
        Whether ``value`` is the new best (a score's best weights are copied then).
    """
    if maximize:
        count = count + 1 if value < best + tol else 0
        improved = value > best
    else:
        count = count + 1 if value > best - tol else 0
        improved = value < best
    return count, (value if improved else best), improved


class TrainingState:
    """Counters, curves, the best loss or score and weights, and the optimizer of a fit.

    Parameters
    ----------
    estimator : BaseMLPFromScratch
        Supplies ``tol``, ``n_iter_no_change`` and ``verbose``, and, unless
        ``first_pass``, the state to continue (a warm start counts on where the last fit
        stopped, as MLPClassifier does).
    params : ndarray of shape (n_params,)
        The network's live parameter vector.
    first_pass : bool
        A new model: nothing to continue.
    validation : callable or None
        ``validation() -> (score, loss)`` of the live weights, or None without
        validation data.
    early_stopping : bool
        Stop on the validation score (requires ``validation``) rather than on the
        training loss, and keep the best weights.
    previous_best : ndarray of shape (n_params,) or None, default=None
        A warm start's best weights so far, when they are not the live ones.
    record_only : bool, default=False
        Record the curves but leave the count and the best loss as they are: an L-BFGS
        warm start, which in scikit-learn touches none of the stochastic solvers'
        stopping state (a later sgd/adam warm start goes on counting from it).
    best_is_live : bool, default=False
        The estimator's best weights are its live ones (MLPClassifier's
        ``_best_coefs is coefs_`` after early stopping); they stay so.

    Attributes
    ----------
    n_iter, t : int
        Epochs of this fit; samples seen over all fits.
    loss : float or None
        The last epoch's training loss.
    loss_curve, scores, val_losses : list of float
        One entry per epoch (of every warm fit); ``scores`` and ``val_losses`` NaN for
        epochs without validation data, once a fit had some.
    count : int
        Epochs without improvement.
    best_loss, best_score : float or None
    best : ndarray of shape (n_params,) or None
        A copy of the best weights, while they are not the live ones.
    optimizer : SGD or Adam or None
    """

    def __init__(self, estimator, params, *, first_pass, validation, early_stopping,
                 previous_best=None, record_only=False, best_is_live=False):
        est = estimator
        self.estimator, self.params, self.validation = est, params, validation
        self.early_stopping, self.record_only = early_stopping, record_only
        old = {} if first_pass else est.__dict__
        self.n_iter = 0
        self.t = old.get("t_", 0)
        self.loss = old.get("loss_")
        self.optimizer = old.get("_optimizer")
        self.loss_curve = list(old.get("loss_curve_") or [])
        self.count = old.get("_no_improvement_count") or 0
        self.best_loss = old.get("best_loss_", None if early_stopping else np.inf)
        self.best_score = old.get("best_validation_score_")
        # the validation curves, once a fit had validation data: entry i of each is epoch
        # i's, as in loss_curve_, NaN for the epochs (of this fit or of earlier warm fits)
        # that had none
        previous = old.get("validation_scores_")
        self.tracks_validation = validation is not None or previous is not None
        self.scores = self.val_losses = None
        if self.tracks_validation:
            self.scores = list(previous or [])
            self.val_losses = list(old.get("validation_loss_curve_") or [])
            for curve in (self.scores, self.val_losses):
                curve.extend([np.nan] * (len(self.loss_curve) - len(curve)))
        # the best weights: the live ones (best_is_live, or early stopping once it ends),
        # a copy while they differ from the live ones, or whatever an earlier fit left
        self.best_is_live = best_is_live
        self.best_weights = (old.get("_best_coefs"), old.get("_best_intercepts"))
        self.best = None
        if early_stopping:
            self.best_loss = None
            if self.best_score is None:  # early stopping switched on by a warm start
                self.best_score = -np.inf
            else:
                self.best = previous_best
        elif self.best_loss is None:
            self.best_loss = np.inf

    def validate(self):
        """``(score, loss)`` of the live weights on the validation data, or None.

        Called before any of the epoch's bookkeeping, so that an epoch whose validation
        raises (diverged outputs, a failing scorer, Ctrl-C) is counted nowhere.
        """
        return None if self.validation is None else self.validation()

    def epoch_end(self, loss, validated, *, n_samples=0):
        """Record one epoch: its training loss, ``validated`` (from :meth:`validate`), the
        samples it saw; update the count and the best so far. No user code runs here, so an
        epoch is recorded whole or not at all."""
        self.n_iter += 1
        self.loss = loss
        self.t += n_samples
        self.loss_curve.append(loss)
        if validated is not None:
            score, val_loss = validated
            self.scores.append(score)
            self.val_losses.append(val_loss)
            if self.estimator.verbose:
                print("Validation score: %f" % score)
        elif self.tracks_validation:  # this fit has no validation data
            self.scores.append(np.nan)
            self.val_losses.append(np.nan)
        if self.record_only:
            return
        tol = self.estimator.tol
        if self.early_stopping:
            self.count, self.best_score, improved = no_improvement(
                self.scores[-1], self.best_score, self.count, tol, maximize=True)
            if improved:
                if self.best is None:
                    self.best = self.params.copy()
                else:
                    np.copyto(self.best, self.params)
        else:
            self.count, self.best_loss, _ = no_improvement(
                loss, self.best_loss, self.count, tol, maximize=False)

    def stalled(self):
        """More than ``n_iter_no_change`` epochs without improvement."""
        return self.count > self.estimator.n_iter_no_change

    def reset_count(self):
        """The adaptive schedule lowered the learning rate: count again from zero."""
        self.count = 0

    def restore_best(self):
        """With early stopping, put the best weights back into the live vector."""
        if self.early_stopping and self.best is not None:
            self.params[...] = self.best

    def commit(self, est=None):
        """Write the state to the estimator's fitted attributes (:data:`TRACKED`).

        The best weights follow scikit-learn's aliasing: after early stopping, and in every
        later fit that trains them, ``_best_coefs`` *is* ``coefs_`` (the same lists).
        """
        est = self.estimator if est is None else est
        est.n_iter_, est.t_, est.loss_ = self.n_iter, self.t, self.loss
        est.loss_curve_ = self.loss_curve
        if not self.record_only:  # an L-BFGS warm start leaves them as they were
            est._no_improvement_count = self.count
            est.best_loss_ = self.best_loss
        est.validation_scores_ = self.scores
        est.validation_loss_curve_ = self.val_losses
        est.best_validation_score_ = self.best_score
        est._optimizer = self.optimizer
        if self.best_is_live or self.early_stopping:
            est._best_coefs, est._best_intercepts = est.coefs_, est.intercepts_
        else:
            est._best_coefs, est._best_intercepts = self.best_weights
