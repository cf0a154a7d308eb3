"""Issue 20's faults: nothing lost under interrupts, failing callbacks or a tampered file.

Interrupts come from real signals (``signal.raise_signal`` in the main thread runs the
handler in place, as a Ctrl-C does) and from KeyboardInterrupts that user code raises
(a callback, a scorer). The rule they check: a Ctrl-C once training started keeps every
completed epoch (or L-BFGS iteration), with the "interrupted" warning; an epoch counts
entirely or not at all; a failed call leaves the estimator as it was.
"""

import pickle
import signal
import warnings

import numpy as np
import pytest
from _support import INTERRUPTED, Hooks, assert_same_weights, sigint
from sklearn.datasets import make_classification

from skmlp import MLPClassifierFromScratch, MLPRegressorFromScratch

pytest.importorskip("sklearn.callback")


@pytest.fixture(scope="module")
def Xy():
    return make_classification(n_samples=120, n_features=6, n_classes=3, n_informative=4,
                               random_state=0)


def _reference(params, X, y, n_iter):
    """The model the first ``n_iter`` epochs (iterations) train."""
    return MLPClassifierFromScratch(**{**params, "max_iter": n_iter}).fit(X, y)


def _interrupted_fit_keeps(params, X, y, act, n_kept):
    """Fit with ``Hooks(act)``: the interrupted warning, and exactly the first ``n_kept``
    epochs' model. Returns the hooks, for what they recorded."""
    hooks = Hooks(act)
    clf = MLPClassifierFromScratch(**params).set_callbacks(hooks)
    with pytest.warns(UserWarning, match=INTERRUPTED):
        clf.fit(X, y)
    assert clf.n_iter_ == n_kept and len(clf.loss_curve_) == n_kept
    assert_same_weights(clf, _reference(params, X, y, n_kept))
    return hooks


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("source", ["signal", "callback"])
def test_ctrl_c_after_the_last_epoch_keeps_the_fit(Xy, solver, source):
    """A Ctrl-C in the fit task's end hook (a monitor that saves, say): every epoch kept."""
    X, y = Xy
    params = dict(solver=solver, max_iter=5, tol=0, random_state=0)

    def act(where, est, ctx):
        if where == "end" and ctx.task_name == "fit":
            if source == "signal":
                sigint()
            else:
                raise KeyboardInterrupt

    clf = MLPClassifierFromScratch(**params).set_callbacks(Hooks(act))
    with pytest.warns(UserWarning, match=INTERRUPTED):
        clf.fit(X, y)
    assert clf.n_iter_ == 5
    assert_same_weights(clf, _reference(params, X, y, 5))
    assert "_callback_fit_ctx" not in clf.__dict__


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_a_second_ctrl_c_while_stopping_loses_nothing(Xy, solver):
    """Two Ctrl-Cs close together: the first stops at epoch 3, the second (in the end hook
    of the epoch it cut short, or of the fit) only says stop again."""
    X, y = Xy
    params = dict(solver=solver, max_iter=50, tol=0, random_state=0)
    task = "epoch" if solver == "adam" else "iteration"
    begun = []

    def act(where, est, ctx):
        if where == "begin" and ctx.task_name == task:
            begun.append(1)
            if len(begun) == 4:
                sigint()  # raises KeyboardInterrupt right here: 3 epochs are complete
        if where == "end" and len(begun) == 4:
            sigint()  # the cut-short sub-task's end hook, the fit's

    hooks = _interrupted_fit_keeps(params, X, y, act, 3)
    # every sub-task begun was ended once
    begun = [c for c in hooks.calls if c[0] == "begin" and c[1] == task]
    ended = [c for c in hooks.calls if c[0] == "end" and c[1] == task]
    assert len(begun) == len(ended)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_an_interrupt_from_the_scorer_counts_the_epoch_nowhere(Xy, solver):
    """A KeyboardInterrupt raised by the validation scorer in epoch 3: n_iter_, the curves,
    the weights and the optimizer all describe epoch 2."""
    X, y = Xy
    X_val, y_val = X[:30], y[:30]
    calls = []

    def scorer(est, X, y):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return float(np.mean(est.predict(X) == y))

    params = dict(solver=solver, max_iter=50, tol=0, random_state=0)
    clf = MLPClassifierFromScratch(scoring=scorer, **params)
    with pytest.warns(UserWarning, match=INTERRUPTED):
        clf.fit(X, y, X_val=X_val, y_val=y_val)
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 2 and len(clf.validation_scores_) == 2
    reference = MLPClassifierFromScratch(scoring="accuracy", **{**params, "max_iter": 2})
    reference.fit(X, y, X_val=X_val, y_val=y_val)
    assert_same_weights(clf, reference)
    if solver == "adam":
        assert clf.t_ == 2 * len(y)
        # the optimizer is epoch 2's too: the next epoch is the reference's, bit for bit
        for est in (clf, reference):
            est.set_params(scoring=None).partial_fit(X, y)
        assert_same_weights(clf, reference)


def test_an_interrupt_from_the_epoch_end_hook_keeps_that_epoch_once(Xy):
    X, y = Xy
    params = dict(max_iter=50, tol=0, random_state=0)

    def act(where, est, ctx):
        if where == "end" and ctx.task_name == "epoch" and est.n_iter_ == 3:
            raise KeyboardInterrupt

    hooks = _interrupted_fit_keeps(params, X, y, act, 3)
    epoch_ends = [c for c in hooks.calls if c[:2] == ("end", "epoch")]
    assert [c[2] for c in epoch_ends] == [1, 2, 3]  # epoch 3's hook ran once


@pytest.mark.parametrize("hook", ["setup", "begin", "end", "teardown"])
@pytest.mark.parametrize("refit", [False, True])
def test_a_failing_callback_changes_nothing(Xy, hook, refit):
    X, y = Xy
    clf = MLPClassifierFromScratch(max_iter=3, random_state=0)
    if refit:
        clf.fit(X, y)
        before = pickle.dumps(clf)

    def act(where, est, ctx):
        if where == hook and (where in ("setup", "teardown") or ctx.task_name == "epoch"):
            raise RuntimeError(f"callback failed in {where}")

    clf.set_params(max_iter=4).set_callbacks(Hooks(act))
    with pytest.raises(RuntimeError, match=f"^callback failed in {hook}$"):
        clf.fit(X, y)
    assert "_callback_fit_ctx" not in clf.__dict__
    assert "_skl_callbacks_to_teardown" not in clf.__dict__
    if refit:
        restored = pickle.loads(before)
        assert clf.n_iter_ == restored.n_iter_ == 3
        assert_same_weights(clf, restored)
    else:
        assert not hasattr(clf, "coefs_")


def test_a_failing_teardown_after_a_failed_fit_is_a_note(Xy):
    X, y = Xy

    def act(where, est, ctx):
        if where == "teardown":
            raise RuntimeError("teardown failed")
        if where == "end" and ctx.task_name == "epoch":
            raise RuntimeError("epoch hook failed")

    clf = MLPClassifierFromScratch(max_iter=3).set_callbacks(Hooks(act))
    with pytest.raises(RuntimeError, match="^epoch hook failed") as failed:
        clf.fit(X, y)
    assert any("teardown failed" in note for note in failed.value.__notes__)
    assert not hasattr(clf, "coefs_") and "_callback_fit_ctx" not in clf.__dict__


def test_an_interrupt_in_teardown_keeps_the_fit(Xy):
    X, y = Xy

    def act(where, est, ctx):
        if where == "teardown":
            sigint()

    clf = MLPClassifierFromScratch(max_iter=3, random_state=0).set_callbacks(Hooks(act))
    with pytest.warns(UserWarning, match=INTERRUPTED):
        clf.fit(X, y)
    assert clf.n_iter_ == 3 and "_callback_fit_ctx" not in clf.__dict__


def test_an_interrupt_before_training_leaves_nothing(Xy):
    """A Ctrl-C while the data is being checked: nothing was trained, the KeyboardInterrupt
    goes through and the estimator is as before."""
    X, y = Xy

    def act(where, est, ctx):
        if where == "setup":
            sigint()

    clf = MLPClassifierFromScratch(max_iter=3).set_callbacks(Hooks(act))
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert not hasattr(clf, "coefs_") and "_callback_fit_ctx" not in clf.__dict__
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# --- validation curves across warm fits ------------------------------------------------
def test_validation_curves_stay_in_step_with_the_loss_curve(Xy):
    """Entry i of every curve is epoch i's: NaN where that epoch had no validation data."""
    X, y = Xy
    clf = MLPClassifierFromScratch(max_iter=4, tol=0, warm_start=True, random_state=0)
    clf.fit(X, y)  # no validation data
    clf.fit(X, y, X_val=X[:30], y_val=y[:30])
    clf.fit(X, y)
    for curve in (clf.validation_scores_, clf.validation_loss_curve_):
        assert len(curve) == len(clf.loss_curve_) == 12
        assert np.isnan(curve[:4]).all() and np.isfinite(curve[4:8]).all()
        assert np.isnan(curve[8:]).all()


# --- loading checks the fitted state -----------------------------------------------------
@pytest.mark.parametrize("make", [MLPClassifierFromScratch, MLPRegressorFromScratch])
@pytest.mark.parametrize("tamper, match", [
    (lambda s: s.update(_activations=("nope",)), r"activations \('nope',\)"),
    (lambda s: s.update(out_activation_="nope"), r"output 'nope'"),
    (lambda s: s.pop("_activations"), r"\['_activations'\] are missing"),
    (lambda s: s.pop("out_activation_"), r"\['out_activation_'\] are missing"),
    (lambda s: s.pop("n_features_in_"), r"\['n_features_in_'\] are missing"),
])
def test_loading_checks_the_whole_fitted_state(Xy, make, tamper, match):
    X, y = Xy
    est = make(max_iter=2, random_state=0).fit(X, y)
    state = est.__getstate__()
    tamper(state)
    with pytest.raises(ValueError, match=r"^Corrupt or incompatible \w+ state: .*" + match):
        make().__setstate__(state)


@pytest.mark.parametrize("attribute", ["classes_", "_label_binarizer"])
def test_loading_a_classifier_without_its_labels_is_refused(Xy, attribute):
    X, y = Xy
    state = MLPClassifierFromScratch(max_iter=2, random_state=0).fit(X, y).__getstate__()
    del state[attribute]
    with pytest.raises(ValueError, match=rf"\['{attribute}'\] are missing"):
        pickle.loads(pickle.dumps(state)) and MLPClassifierFromScratch().__setstate__(state)


def test_a_regressor_output_on_a_classifier_is_refused(Xy):
    X, y = Xy
    state = MLPClassifierFromScratch(max_iter=2, random_state=0).fit(X, y).__getstate__()
    state["out_activation_"] = "identity"
    with pytest.raises(ValueError, match=r"output 'identity' \(known: \['softmax', "):
        MLPClassifierFromScratch().__setstate__(state)


# --- clear errors ------------------------------------------------------------------------
@pytest.mark.parametrize("value", [None, "high", [0.5]])
def test_a_scorer_that_returns_no_number_is_named(Xy, value):
    X, y = Xy

    def scorer(est, X, y):
        return value

    clf = MLPClassifierFromScratch(max_iter=2, scoring=scorer)
    with pytest.raises(TypeError, match=r"^The scoring <function .*scorer.*> returned "):
        clf.fit(X, y, X_val=X[:20], y_val=y[:20])
    assert not hasattr(clf, "coefs_")


def test_a_zero_dimensional_y_val_is_refused(Xy):
    X, y = Xy
    with pytest.raises(ValueError, match=r"^y_val must be 1-D or 2-D"):
        MLPClassifierFromScratch(max_iter=2).fit(X, y, X_val=X[:1], y_val=np.array(1))


def test_a_missing_regression_target_is_named_not_blamed_on_the_learning_rate(Xy):
    X, _ = Xy
    y = np.arange(len(X), dtype=float).astype(object)
    y[3] = None
    for solver in ("lbfgs", "adam"):
        with pytest.raises(ValueError, match=r"^Input y contains missing values \(None or NaN\) "
                                             r"at rows \[3\]"):
            MLPRegressorFromScratch(solver=solver, max_iter=2).fit(X, y)


def test_the_default_sigint_handler_is_back_after_every_fit(Xy):
    X, y = Xy
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MLPClassifierFromScratch(max_iter=2).fit(X, y)
        MLPClassifierFromScratch(solver="lbfgs", max_iter=2).fit(X, y)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
