"""The tabular estimators' refit on all rows (``refit=True``, the default of both): after the
epochs on the training part of the validation split, the network is trained once more on
every row, for the epochs the validation chose, and that network is the model."""

import warnings

import numpy as np
import pytest
from _support import StopAfter
from sklearn.datasets import make_classification, make_regression

from skmlp import TabularMLPClassifier, TabularMLPRegressor, _tabular

SMALL = {"hidden_layer_sizes": (16, 16), "max_iter": 6, "batch_size": 32, "random_state": 0,
         "refit": True}


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=240, n_features=6, n_informative=4, n_classes=3,
                               random_state=0)
    Xr, yr = make_regression(n_samples=240, n_features=5, noise=5.0, random_state=0)
    return {TabularMLPClassifier: (X, y), TabularMLPRegressor: (Xr, yr)}


ESTIMATORS = [TabularMLPClassifier, TabularMLPRegressor]


def assert_same_model(a, b):
    np.testing.assert_array_equal(a.network_.params, b.network_.params)
    for name in ("input_center_", "input_factor_", "embedded_columns_"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_the_refit_is_a_fit_on_all_rows_stopped_at_the_best_epoch(data, Est):
    """The refitted model is, bit for bit, what a fit with ``validation_fraction=0``,
    ``max_iter=n_iter_`` and the same ``random_state`` has after ``best_epoch_`` epochs
    (a callback stops it there): scaling, embeddings and weights from every row."""
    X, y = data[Est]
    est = Est(**SMALL).fit(X, y)
    assert 1 <= est.best_epoch_ <= est.n_iter_ == SMALL["max_iter"]
    reference = Est(**{**SMALL, "max_iter": est.n_iter_}, validation_fraction=0.0)
    reference.set_callbacks(StopAfter(est.best_epoch_))
    reference.fit(X, y)
    assert reference.n_iter_ == est.best_epoch_
    assert_same_model(est, reference)
    assert est.refit_loss_curve_ == reference.loss_curve_
    # the scaling was fitted on all rows, not only on the training part of the split
    np.testing.assert_array_equal(est.input_center_, np.median(X, axis=0))
    np.testing.assert_array_equal(est.predict(X), reference.predict(X))


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_the_epochs_before_the_refit_are_refit_falses(data, Est):
    """The selection epochs are those of ``refit=False`` (same draws, same curves and best
    epoch); only the model differs."""
    X, y = data[Est]
    with_refit = Est(**SMALL).fit(X, y)
    without = Est(**{**SMALL, "refit": False}).fit(X, y)
    assert without.refit_loss_curve_ is None
    assert with_refit.loss_curve_ == without.loss_curve_
    assert with_refit.validation_scores_ == without.validation_scores_
    assert with_refit.best_epoch_ == without.best_epoch_
    assert not np.array_equal(with_refit.network_.params, without.network_.params)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_nothing_is_refitted_without_rows_held_out(data, Est):
    """With ``X_val`` every row of ``X`` was trained on already, and without a split
    (``validation_fraction=0``) there is no best epoch: no refit, the same model as
    ``refit=False``."""
    X, y = data[Est]
    split = dict(X_val=X[:40], y_val=y[:40])
    given = Est(**SMALL).fit(X[40:], y[40:], **split)
    assert given.refit_loss_curve_ is None
    assert_same_model(given, Est(**{**SMALL, "refit": False}).fit(X[40:], y[40:], **split))
    unsplit = Est(**SMALL, validation_fraction=0.0).fit(X, y)
    assert unsplit.refit_loss_curve_ is None and unsplit.best_epoch_ is None
    assert_same_model(unsplit, Est(**{**SMALL, "refit": False}, validation_fraction=0.0).fit(X, y))


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_a_ctrl_c_during_the_refit_keeps_the_model_the_validation_chose(data, Est):
    X, y = data[Est]
    n = SMALL["max_iter"]

    def interrupt(estimator, epochs):
        if epochs == n + 1:  # the refit's first epoch ended
            raise KeyboardInterrupt

    est = Est(**SMALL)
    est.set_callbacks(StopAfter(10**6, at_end=interrupt))
    with pytest.warns(UserWarning, match=r"^Training interrupted by user; keeping the model "
                                         r"the validation split chose \(refit=False's\): the "
                                         r"refit on all rows did not finish\.$"):
        est.fit(X, y)
    assert est.refit_loss_curve_ is None
    assert_same_model(est, Est(**{**SMALL, "refit": False}).fit(X, y))


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_a_callback_that_stops_the_refit_keeps_the_model_the_validation_chose(data, Est):
    X, y = data[Est]
    est = Est(**SMALL)
    est.set_callbacks(StopAfter(SMALL["max_iter"] + 1))  # stops after the refit's 1st epoch
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no interruption to warn about
        est.fit(X, y)
    assert est.refit_loss_curve_ is None
    assert_same_model(est, Est(**{**SMALL, "refit": False}).fit(X, y))


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_a_callback_that_stops_the_selection_epochs_skips_the_refit(data, Est):
    X, y = data[Est]
    est = Est(**SMALL)
    est.set_callbacks(StopAfter(3))
    est.fit(X, y)
    assert est.n_iter_ == 3 and est.refit_loss_curve_ is None
    reference = Est(**{**SMALL, "refit": False})
    reference.set_callbacks(StopAfter(3))
    assert_same_model(est, reference.fit(X, y))


def test_callbacks_see_the_refit_epochs_after_the_others(data):
    """Every epoch, the refit's too, is an "epoch" task of the fit: n_iter_ + best_epoch_
    of them, each begun and ended once."""
    X, y = data[TabularMLPClassifier]
    ledger = StopAfter(10**6)
    est = TabularMLPClassifier(**SMALL)
    est.set_callbacks(ledger)
    est.fit(X, y)
    epochs = [event for event in ledger.tasks if event[1] == "epoch"]
    n = est.n_iter_ + est.best_epoch_
    assert epochs == [("begin", "epoch"), ("end", "epoch")] * n


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_a_diverging_refit_fails_the_fit_and_changes_nothing(data, Est, monkeypatch):
    X, y = data[Est]
    est = Est(**SMALL).fit(X, y)
    before = est.network_.params.copy()
    real, calls = _tabular._EpochRun.epoch, []

    def diverging(run, *args):
        calls.append(1)
        loss = real(run, *args)
        return np.nan if len(calls) == SMALL["max_iter"] + 2 else loss  # refit epoch 2

    monkeypatch.setattr(_tabular._EpochRun, "epoch", diverging)
    with pytest.raises(ValueError, match=r"non-finite in epoch 2 of the refit on all rows\. "
                                         r"The learning rate"):
        est.fit(X, y)
    np.testing.assert_array_equal(est.network_.params, before)  # the earlier fit, kept
    assert len(calls) == SMALL["max_iter"] + 2


def test_both_defaults_refit():
    """Measured on the benchmark (``benchmarks/TABULAR.md``): the regressor's refit lowers
    the nRMSE on every seed, the classifier's the error on 4 of 5 tuning seeds and on
    each of the 3 hold-out seeds, within the time budget."""
    assert TabularMLPRegressor().refit is True
    assert TabularMLPClassifier().refit is True


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_a_ctrl_c_while_the_refit_is_set_up_keeps_the_model_the_validation_chose(data, Est,
                                                                                  monkeypatch):
    """The refit's set-up (scaling, embeddings and network fitted on all rows) is part of
    the refit: a Ctrl-C there keeps the validated model too (an outside review found it
    rolled the whole fit back)."""
    X, y = data[Est]
    real = _tabular._EpochRun.__init__

    def interrupted(run, est, net, n_samples, n_epochs=None):
        if n_epochs is not None:  # the refit's run
            raise KeyboardInterrupt
        real(run, est, net, n_samples, n_epochs)

    monkeypatch.setattr(_tabular._EpochRun, "__init__", interrupted)
    est = Est(**SMALL)
    with pytest.warns(UserWarning, match=r"refit on all rows did not finish\.$"):
        est.fit(X, y)
    monkeypatch.setattr(_tabular._EpochRun, "__init__", real)
    assert est.refit_loss_curve_ is None
    assert_same_model(est, Est(**{**SMALL, "refit": False}).fit(X, y))
