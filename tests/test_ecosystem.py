"""Working with what scikit-learn users already have: MLPClassifier itself, ONNX, pickle,
joblib and skops, pandas, metadata routing, and scikit-learn's callbacks."""

import io
import pickle
import re
import warnings
from collections import Counter
from pathlib import Path

import joblib
import numpy as np
import pytest
import sklearn
from _support import StopAfter, interrupt_mlp_call, interrupted_fit, scored_epochs
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, make_scorer
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import LabelBinarizer, StandardScaler

from skmlp import MLP, MLPClassifierFromScratch, MLPRegressorFromScratch, use_kernels

TARGETS = {
    "multiclass": lambda X, y: y,
    "binary": lambda X, y: np.array(["no", "yes"])[(y > 0).astype(int)],
    "multilabel": lambda X, y: np.column_stack([y == 0, y == 1, X[:, 0] > 0]).astype(int),
}


# --- MLPClassifier, both ways ---------------------------------------------------------------
@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_to_sklearn_predicts_the_same(three_classes, target, dtype):
    X, y = three_classes
    X = X.astype(dtype)
    yt = TARGETS[target](X, y)
    ours = MLPClassifierFromScratch((10, 6), activation="tanh", max_iter=30,
                                          random_state=0).fit(X, yt)
    theirs = ours.to_sklearn()
    assert isinstance(theirs, MLPClassifier) and theirs.activation == "tanh"
    assert theirs.get_params()["hidden_layer_sizes"] == (10, 6)
    np.testing.assert_allclose(theirs.predict_proba(X), ours.predict_proba(X),
                               rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-15)
    np.testing.assert_array_equal(theirs.predict(X), ours.predict(X))
    theirs.partial_fit(X, yt)  # and training can go on in scikit-learn


# what to_sklearn refuses: tests/test_interop.py


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_from_sklearn_predicts_the_same_and_trains_on(three_classes, solver):
    X, y = three_classes
    theirs = MLPClassifier((16,), solver=solver, max_iter=20, random_state=0).fit(X, y)
    ours = MLPClassifierFromScratch.from_sklearn(theirs)
    assert ours.get_params()["solver"] == solver and ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-12,
                               atol=1e-15)
    ours.set_params(warm_start=True, max_iter=5)
    before = ours.score(X, y)
    ours.fit(X, y)
    assert not np.allclose(ours.coefs_[0], theirs.coefs_[0])  # it moved on from there
    assert ours.score(X, y) >= before - 0.05


def test_one_sgd_epoch_without_momentum_matches_mlpclassifier(three_classes):
    """Same weights, same batches (no shuffling), plain SGD: the same update, to rounding."""
    X, y = three_classes
    params = dict(hidden_layer_sizes=(20,), solver="sgd", momentum=0.0, shuffle=False,
                  batch_size=32, learning_rate_init=0.05, alpha=1e-3, random_state=0)
    theirs = MLPClassifier(max_iter=3, **params).fit(X, y)
    ours = MLPClassifierFromScratch.from_sklearn(theirs)
    theirs.partial_fit(X, y)
    ours.partial_fit(X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    assert ours.loss_curve_[-1] == pytest.approx(theirs.loss_curve_[-1], rel=1e-10)


def test_onnx_export_through_to_sklearn(three_classes):
    skl2onnx = pytest.importorskip("skl2onnx")
    ort = pytest.importorskip("onnxruntime")
    X, y = three_classes
    X = X.astype(np.float32)
    ours = MLPClassifierFromScratch((16,), max_iter=30, random_state=0).fit(X, y)
    onx = skl2onnx.to_onnx(ours.to_sklearn(), X[:1], options={"zipmap": False})
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    labels, proba = session.run(None, {session.get_inputs()[0].name: X})
    np.testing.assert_allclose(proba, ours.predict_proba(X), rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(labels, ours.predict(X))


# --- persistence ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted(three_classes):
    X, y = three_classes
    return MLPClassifierFromScratch((16, 8), random_state=0, max_iter=10).fit(X, y)


def test_pickle_and_joblib_round_trips(three_classes, fitted):
    X, _ = three_classes
    for load in (lambda: pickle.loads(pickle.dumps(fitted)), lambda: _joblib_round_trip(fitted)):
        loaded = load()
        np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
        for a, b in zip(loaded.coefs_ + loaded.intercepts_, fitted.coefs_ + fitted.intercepts_):
            np.testing.assert_array_equal(a, b)


def _joblib_round_trip(est):
    buffer = io.BytesIO()
    joblib.dump(est, buffer)
    buffer.seek(0)
    return joblib.load(buffer)


def test_skops_round_trip_trusts_only_skmlp_types_and_the_readme_lists_them(three_classes,
                                                                           regression):
    """One model of each estimator and solver: skops flags only skmlp's own types, the
    README's trusted list is exactly their union, and a loaded model trains on."""
    sio = pytest.importorskip("skops.io")
    models = []
    for solver in ("adam", "sgd", "lbfgs"):
        models.append((MLPClassifierFromScratch((8,), solver=solver, max_iter=5), *three_classes))
        reg = MLPRegressorFromScratch(hidden_layer_sizes=(8,), solver=solver, max_iter=5)
        models.append((reg, *regression))
    seen = set()
    for est, X, y in models:
        est.fit(X, y)
        blob = sio.dumps(est)
        untrusted = sio.get_untrusted_types(data=blob)
        assert untrusted and all(t.startswith("skmlp.") for t in untrusted), untrusted
        seen.update(untrusted)
        loaded = sio.loads(blob, trusted=untrusted)
        np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
        loaded.fit(X, y)  # a loaded model is a complete estimator
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("### Saving models safely")[1].split("\n### ")[0]
    assert set(re.findall(r"skmlp\.[\w.]+[A-Za-z]", section)) == seen


# --- pandas and metadata routing ----------------------------------------------------------------
def test_dataframe_feature_names(three_classes):
    pd = pytest.importorskip("pandas")
    X, y = three_classes
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = MLPClassifierFromScratch(max_iter=5, random_state=0).fit(df, y)
    np.testing.assert_array_equal(clf.feature_names_in_, df.columns)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        clf.predict(X)
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(df.rename(columns={"f0": "other"}))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        without_names = clf.predict(X)
    np.testing.assert_array_equal(clf.predict(df), without_names)


def test_sample_weight_routed_through_pipeline_and_grid_search(three_classes):
    X, y = three_classes
    sw = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
    kw = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=30, random_state=0)
    direct = MLPClassifierFromScratch(**kw).fit(X, y, sample_weight=sw)
    with sklearn.config_context(enable_metadata_routing=True):
        mlp = MLPClassifierFromScratch(**kw).set_fit_request(sample_weight=True)
        pipe = make_pipeline(StandardScaler().set_fit_request(sample_weight=False), mlp)
        pipe.fit(X, y, sample_weight=sw)
        # X is already standard: the scaler is (nearly) the identity, the weights did arrive
        np.testing.assert_allclose(pipe.predict_proba(X), direct.predict_proba(X), atol=1e-6)
        # the weights go to fit only, the scorer declines them: both searches are scored
        # alike and differ only by what the weights did to the fits
        accuracy = make_scorer(accuracy_score).set_score_request(sample_weight=False)
        search = GridSearchCV(pipe, {"mlpclassifierfromscratch__alpha": [1e-4, 1.0]}, cv=3,
                              scoring=accuracy)
        search.fit(X, y, sample_weight=sw)
        unweighted = GridSearchCV(make_pipeline(StandardScaler(), MLPClassifierFromScratch(**kw)),
                                  {"mlpclassifierfromscratch__alpha": [1e-4, 1.0]}, cv=3,
                                  scoring=accuracy)
        unweighted.fit(X, y)
    weighted_scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(weighted_scores).all()
    assert not np.allclose(weighted_scores, unweighted.cv_results_["mean_test_score"])


# --- scikit-learn callbacks -------------------------------------------------------------------
callback = pytest.importorskip("sklearn.callback")


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_callback_returning_true_stops_after_that_epoch(three_classes, solver):
    X, y = three_classes
    stop = StopAfter(3)
    clf = MLPClassifierFromScratch(solver=solver, max_iter=100, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # stopping on request is no failure
        clf.set_callbacks(stop).fit(X, y)
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3
    assert np.isfinite(clf.predict_proba(X)).all()


def test_scoring_monitor_scores_every_epoch(three_classes):
    X, y = three_classes
    monitor = callback.ScoringMonitor(scoring="accuracy")
    clf = MLPClassifierFromScratch(max_iter=6, tol=0, random_state=0).set_callbacks(monitor)
    clf.fit(X, y)
    epochs = scored_epochs(monitor)
    assert len(epochs) == 6
    # the monitored model after the last epoch is the fitted model
    assert epochs[-1]["accuracy"] == pytest.approx(clf.score(X, y))
    assert epochs[-1]["accuracy"] > epochs[0]["accuracy"]


def test_progress_bar_runs_and_callbacks_nest_in_grid_search(three_classes, capsys):
    pytest.importorskip("rich")
    X, y = three_classes
    clf = MLPClassifierFromScratch(max_iter=3, random_state=0).set_callbacks(callback.ProgressBar())
    clf.fit(X, y)
    stop = StopAfter(10**9)  # counts epochs, never stops
    search = GridSearchCV(MLPClassifierFromScratch(max_iter=4, tol=0, random_state=0)
                          .set_callbacks(stop), {"alpha": [1e-4, 1e-2]}, cv=2)
    search.fit(X, y)
    assert stop.epochs == 4 * (2 * 2 + 1)  # 2 candidates x 2 folds, then the refit


def test_failed_fit_keeps_callbacks_and_tears_them_down(three_classes):
    X, y = three_classes

    class Recorder(StopAfter):
        def __init__(self):
            super().__init__(10**9)
            self.events = []

        def setup(self, estimator, context):
            self.events.append("setup")

        def teardown(self, estimator, context):
            self.events.append("teardown")

    recorder = Recorder()
    clf = MLPClassifierFromScratch(solver="sgd", learning_rate_init=10.0, random_state=0)
    clf.set_callbacks(recorder)
    with pytest.raises(ValueError, match="non-finite"), np.errstate(all="ignore"):
        clf.fit(X * 1e300, y)
    assert recorder.events == ["setup", "teardown"]
    assert clf._skl_callbacks[0] is recorder  # the user's object, not a copy
    clf.set_params(learning_rate_init=0.01, max_iter=2).fit(X, y)
    assert recorder.events[-2:] == ["setup", "teardown"] and recorder.epochs == 2


def test_exception_in_a_callback_hook_leaves_the_estimator_consistent(three_classes):
    X, y = three_classes

    class Boom(StopAfter):
        def on_fit_task_end(self, estimator, context):
            if super().on_fit_task_end(estimator, context):
                raise RuntimeError("callback failed")
            return False

    clf = MLPClassifierFromScratch(max_iter=10, random_state=0).set_callbacks(Boom(2))
    with pytest.raises(RuntimeError, match="callback failed"):
        clf.fit(X, y)
    assert not hasattr(clf, "coefs_")  # a failed first fit leaves it unfitted
    clf.set_callbacks()
    clf.set_params(warm_start=True).fit(X, y)
    before = pickle.dumps(clf)
    clf.set_callbacks(Boom(3))
    with pytest.raises(RuntimeError):
        clf.fit(X, y)
    restored = pickle.loads(before)
    np.testing.assert_array_equal(clf.predict_proba(X), restored.predict_proba(X))
    assert clf.loss_curve_ == restored.loss_curve_


class TaskLedger(StopAfter):
    """Counts the tasks begun and ended, by name."""

    def __init__(self):
        super().__init__(10**9)
        self.begun, self.ended = Counter(), Counter()

    def on_fit_task_begin(self, estimator, context):
        self.begun[context.task_name] += 1

    def on_fit_task_end(self, estimator, context):
        self.ended[context.task_name] += 1
        return False


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_ctrl_c_leaves_no_callback_task_open(three_classes, solver, monkeypatch):
    """Every task begun is ended, also when Ctrl-C stops training mid-epoch (adam: in the
    first minibatch of epoch 4) or inside an L-BFGS objective evaluation. No callback hook
    runs there: the public ``skmlp.MLP``'s per-minibatch ``backprop`` (or ``loss_grad``,
    scipy's objective) raises."""
    X, y = three_classes
    name = "backprop" if solver == "adam" else "loss_grad"
    per_epoch = int(np.ceil(len(y) / 200))  # batch_size="auto"
    interrupt_mlp_call(monkeypatch, name, 3 * per_epoch + 1 if solver == "adam" else 4)
    ledger = TaskLedger()
    clf = MLPClassifierFromScratch(solver=solver, max_iter=50, random_state=0)
    # the Python loop, whose per-minibatch backprop is spied on (the compiled loop,
    # bitwise the same, makes no such call: tests/test_epoch_loop.py)
    with use_kernels(False):
        interrupted_fit(clf.set_callbacks(ledger), X, y)
    assert sum(ledger.begun.values()) > 2
    assert ledger.begun == ledger.ended
    if solver == "lbfgs":  # loss_ is the loss of the iterate kept (as recorded by the callback)
        net = MLP.from_weights(clf.coefs_, clf.intercepts_, out_activation="softmax")
        Y = LabelBinarizer().fit(y).transform(y)
        assert clf.n_iter_ == len(clf.loss_curve_) >= 1
        monkeypatch.undo()
        assert clf.loss_ == pytest.approx(net.loss_grad(X, Y, None, clf.alpha)[0], rel=1e-12)
