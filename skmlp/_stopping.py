"""When training stops, and which weights it keeps: MLPClassifier's rules, in one place.

After every epoch the monitor records the training loss and, when there is
validation data, the validation score and loss; it counts the epochs without
improvement by ``tol`` (of the validation score with early stopping, of the training
loss without) and keeps a copy of the best weights. The rules, and the fitted
attributes they fill (``loss_curve_``, ``best_loss_``, ``validation_scores_``,
``best_validation_score_``, ``_no_improvement_count``, ``_best_coefs``), are those
of ``BaseMultilayerPerceptron._update_no_improvement_count``.
"""

import numpy as np


class StoppingMonitor:
    """The no-improvement count, the best loss or score, the best weights, the curves.

    It starts from the estimator's tracking attributes (a warm start goes on counting
    where the last fit stopped, as in MLPClassifier) and writes them back after every
    epoch, so the estimator always describes the epochs run so far.

    Parameters
    ----------
    estimator : BaseMLPFromScratch
        Supplies ``tol``, ``n_iter_no_change``, ``verbose`` and the tracking
        attributes, and receives the new ones.
    params : ndarray of shape (n_params,)
        The network's live parameter vector.
    validation : callable or None
        ``validation() -> (score, loss)`` of the live weights on the validation data,
        or None without validation data.
    early_stopping : bool
        Stop on the validation score (requires ``validation``) rather than on the
        training loss, and keep the best weights.
    previous_best : ndarray of shape (n_params,) or None, default=None
        A warm start's best weights so far, when they are not the live ones.
    record_only : bool, default=False
        Record the curves but leave the count and the best loss as they are: an L-BFGS
        warm start, which in scikit-learn touches none of the stochastic solvers'
        stopping state (a later sgd/adam warm start goes on counting from it).
    """

    def __init__(self, estimator, params, validation, early_stopping, previous_best=None,
                 record_only=False):
        est = estimator
        self.estimator, self.params, self.validation = est, params, validation
        self.early_stopping = early_stopping
        self.record_only = record_only
        self.loss_curve = list(getattr(est, "loss_curve_", None) or [])
        self.count = getattr(est, "_no_improvement_count", None) or 0
        self.best_loss = getattr(est, "best_loss_", None)
        self.best_score = getattr(est, "best_validation_score_", None)
        # validation curves, once a fit had validation data: entry i of each is epoch i's,
        # as in loss_curve_, NaN for the epochs (of this fit or of earlier warm fits) that
        # had none
        previous = getattr(est, "validation_scores_", None)
        self.tracks_validation = validation is not None or previous is not None
        if self.tracks_validation:
            self.scores = list(previous or [])
            self.val_losses = list(getattr(est, "validation_loss_curve_", None) or [])
            for curve in (self.scores, self.val_losses):
                curve.extend([np.nan] * (len(self.loss_curve) - len(curve)))
        # a copy of the best weights so far; None while the live weights are the best
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
        outputs diverge (the validation raises) is counted nowhere.
        """
        return None if self.validation is None else self.validation()

    def epoch_end(self, loss, validated):
        """Record one epoch's training loss and ``validated`` (from ``validate``); update
        the count."""
        est = self.estimator
        self.loss_curve.append(loss)
        if validated is not None:
            score, val_loss = validated
            self.scores.append(score)
            self.val_losses.append(val_loss)
            if est.verbose:
                print("Validation score: %f" % score)
        elif self.tracks_validation:  # this fit has no validation data
            self.scores.append(np.nan)
            self.val_losses.append(np.nan)
        if not self.record_only:
            self._count(loss)
        self.write()

    def _count(self, loss):
        """MLPClassifier's ``_update_no_improvement_count``: the count and the best so far."""
        est = self.estimator
        if self.early_stopping:
            score = self.scores[-1]
            if score < self.best_score + est.tol:
                self.count += 1
            else:
                self.count = 0
            if score > self.best_score:
                self.best_score = score
                if self.best is None:
                    self.best = self.params.copy()
                else:
                    np.copyto(self.best, self.params)
        else:
            if loss > self.best_loss - est.tol:
                self.count += 1
            else:
                self.count = 0
            if loss < self.best_loss:
                self.best_loss = loss

    def stalled(self):
        """More than ``n_iter_no_change`` epochs without improvement."""
        return self.count > self.estimator.n_iter_no_change

    def reset_count(self):
        """The adaptive schedule lowered the learning rate: count again from zero."""
        self.count = 0
        self.write()

    def restore_best(self):
        """With early stopping, put the best weights back into the live vector."""
        if self.early_stopping and self.best is not None:
            self.params[...] = self.best

    def write(self):
        """Copy the tracking state to the estimator's fitted attributes."""
        est = self.estimator
        est.loss_curve_ = self.loss_curve
        if not self.record_only:
            est._no_improvement_count = self.count
            est.best_loss_ = self.best_loss
        if self.tracks_validation:
            est.validation_scores_ = self.scores
            est.validation_loss_curve_ = self.val_losses
        if self.early_stopping:
            est.best_validation_score_ = self.best_score
