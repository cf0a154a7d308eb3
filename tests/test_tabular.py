"""TabularMLPClassifier and TabularMLPRegressor: the scikit-learn API, every parameter's
effect, Ctrl-C, rollback, persistence, input handling and errors.

Small networks and few epochs keep each fit well under a second; what the defaults
learn is in ``test_tabular_learning.py``.
"""

import os
import pickle
import signal
import warnings

import numpy as np
import pytest
from _support import StopAfter, interrupt_at_begin, interrupted_fit, scored_epochs
from scipy import sparse
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmlp import TabularMLPClassifier, TabularMLPRegressor, _adamw, _tabular_net
from skmlp._schedules import learning_rate_factor

SMALL = {"hidden_layer_sizes": (16, 16), "max_iter": 4, "batch_size": 32, "random_state": 0}

# minibatches, dropout and the validation split make a weight of 2 differ from a repeated
# row: these two checks cannot pass (as for MLPClassifierFromScratch with dropout)
_WEIGHTS_ARE_NOT_REPETITIONS = {
    "check_sample_weight_equivalence_on_dense_data":
        "minibatch order, dropout and the validation split see repeated rows differently",
    "check_sample_weight_equivalence_on_sparse_data":
        "minibatch order, dropout and the validation split see repeated rows differently",
}


@parametrize_with_checks([
    TabularMLPClassifier(hidden_layer_sizes=(32, 32), max_iter=20, batch_size=32,
                         random_state=0),
    TabularMLPRegressor(hidden_layer_sizes=(32, 32), max_iter=20, batch_size=32,
                        random_state=0),
    # the packed ensemble: member axes in the network, the members' mean in prediction
    TabularMLPClassifier(hidden_layer_sizes=(16, 16), n_members=2, max_iter=20,
                         batch_size=32, random_state=0),
    TabularMLPRegressor(hidden_layer_sizes=(16, 16), n_members=2, max_iter=20, batch_size=32,
                        random_state=0),
], expected_failed_checks=lambda est: _WEIGHTS_ARE_NOT_REPETITIONS, xfail_strict=True)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def clf_data():
    """300 rows: 4 informative numeric columns, a binary and a constant column."""
    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, n_redundant=0,
                               n_classes=3, random_state=0)
    X[:, 4] = X[:, 4] > 0
    X[:, 5] = 7.0
    return X * [1, 10, 100, 1, 1, 1], y


@pytest.fixture(scope="module")
def reg_data():
    X, y = make_regression(n_samples=200, n_features=5, noise=5.0, random_state=0)
    return X, 1000.0 + 50.0 * y


ESTIMATORS = [TabularMLPClassifier, TabularMLPRegressor]


def data_for(Est, clf_data, reg_data):
    return clf_data if Est is TabularMLPClassifier else reg_data


class Spy:
    """Records the arguments of every call to a function, then calls it."""

    def __init__(self, monkeypatch, owner, name):
        self.calls = []
        real = getattr(owner, name)

        def spy(*args, **kwargs):
            self.calls.append((args, kwargs))
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, spy)


# --- basic API -----------------------------------------------------------------------------
@pytest.mark.parametrize("Est", ESTIMATORS)
def test_same_random_state_same_model_and_clone(Est, clf_data, reg_data):
    X, y = data_for(Est, clf_data, reg_data)
    a = Est(**SMALL).fit(X, y)
    b = clone(a).fit(X, y)
    np.testing.assert_array_equal(a.network_.params, b.network_.params)
    c = Est(**{**SMALL, "random_state": 1}).fit(X, y)
    assert not np.array_equal(a.network_.params, c.network_.params)
    assert a.n_iter_ == 4 and len(a.loss_curve_) == 4 and len(a.validation_scores_) == 4


def test_classifier_outputs(clf_data):
    X, y = clf_data
    labels = np.array(["a", "b", "c"])[y]
    clf = TabularMLPClassifier(**SMALL).fit(X, labels)
    P = clf.predict_proba(X)
    assert P.shape == (300, 3) and np.allclose(P.sum(axis=1), 1)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[P.argmax(axis=1)])
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(P), rtol=1e-5, atol=1e-6)
    assert clf.score(X, labels) > 0.5


def test_regressor_multi_output_and_shapes(reg_data):
    X, y = reg_data
    reg = TabularMLPRegressor(**SMALL).fit(X, y)
    assert reg.predict(X).shape == (200,)
    Y2 = np.c_[y, -y / 100]
    reg2 = TabularMLPRegressor(**SMALL).fit(X, Y2)
    assert reg2.predict(X).shape == (200, 2) and reg2.n_outputs_ == 2


def test_grid_search(clf_data):
    X, y = clf_data
    search = GridSearchCV(TabularMLPClassifier(**SMALL), {"dropout": [0.0, 0.2]}, cv=2)
    search.fit(X, y)
    assert set(search.cv_results_["param_dropout"]) == {0.0, 0.2}


# --- parameters, each with its effect -----------------------------------------------------------
def test_learning_rate_schedule_and_warmup_reach_the_optimizer(clf_data, monkeypatch):
    X, y = clf_data
    spy = Spy(monkeypatch, _adamw.AdamW, "step")
    TabularMLPClassifier(**{**SMALL, "max_iter": 3}, refit=False, learning_rate=0.01,
                         lr_schedule="cosine", warmup=0.25).fit(X, y)
    lrs = np.array([call[0][3] for call in spy.calls])
    n_train = 300 - 60  # validation_fraction=0.2
    steps = 3 * (n_train // 32)
    assert len(lrs) == steps
    expected = 0.01 * learning_rate_factor("cosine", np.arange(steps) / steps, 0.25)
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    assert lrs[0] == 0


def test_weight_decay_and_dropout_schedules_reach_each_step(clf_data, monkeypatch):
    """Per minibatch step ``s`` of ``S``: the decay is ``weight_decay * schedule(s / S)``
    and the dropout masks keep units with probability ``1 - dropout * schedule(s / S)``,
    scaling the kept ones by its inverse; a step whose rate is 0 draws no masks."""
    X, y = clf_data
    step = Spy(monkeypatch, _adamw.AdamW, "step")
    grads = Spy(monkeypatch, _tabular_net.TabularNet, "loss_grad")
    TabularMLPClassifier(**{**SMALL, "max_iter": 3}, refit=False, weight_decay=0.02,
                         weight_decay_schedule="flat_cos", dropout=0.4,
                         dropout_schedule="flat_cos").fit(X, y)
    steps = 3 * ((300 - 60) // 32)
    t = np.arange(steps) / steps
    wds = np.array([call[1]["weight_decay"] for call in step.calls])
    np.testing.assert_allclose(wds, 0.02 * learning_rate_factor("flat_cos", t), rtol=1e-12)
    assert wds[0] == 0.02 and wds[-1] < 0.001
    for s, call in enumerate(grads.calls):
        keep = np.float32(1.0 - 0.4 * learning_rate_factor("flat_cos", t[s]))
        for mask in call[1]["masks"]:
            assert set(np.unique(mask)) == {0, np.float32(1) / keep}
    dropped = [np.mean(call[1]["masks"][0] == 0) for call in grads.calls]
    assert np.mean(dropped[: steps // 2]) == pytest.approx(0.4, abs=0.05)  # full rate
    assert np.mean(dropped[-3:]) < 0.1  # annealed to near 0
    grads.calls.clear()
    TabularMLPClassifier(**{**SMALL, "max_iter": 1}, refit=False, dropout=0.4,
                         dropout_schedule="coslog4").fit(X, y)
    assert grads.calls[0][1]["masks"] is None  # coslog4 starts at 0
    assert grads.calls[1][1]["masks"] is not None


def test_parametric_activation_learns_its_mix(clf_data):
    """Each hidden unit's ``a`` starts at 1, moves with ``activation_lr_factor`` times the
    learning rate and stays at 1 with factor 0; the model predicts through it."""
    X, y = clf_data
    fits = {f: TabularMLPClassifier(**SMALL, parametric_activation=True, averaging=None,
                                    activation_lr_factor=f).fit(X, y) for f in (0.0, 0.1, 1.0)}
    p = {f: fit.network_.p for f, fit in fits.items()}
    assert p[0.1]["a0"].shape == (16,) and "a2" not in p[0.1]
    assert np.all(p[0.0]["a0"] == 1) and np.all(p[0.0]["a1"] == 1)
    moved = {f: np.abs(p[f]["a0"] - 1).mean() for f in (0.1, 1.0)}
    assert 0 < moved[0.1] < moved[1.0]
    plain = TabularMLPClassifier(**SMALL, averaging=None).fit(X, y)
    assert "a0" not in plain.network_.p
    proba = fits[1.0].predict_proba(X)
    fits[1.0].network_.p["a0"][...] = 1.0  # back to the plain activation
    assert np.abs(fits[1.0].predict_proba(X) - proba).max() > 1e-3


def test_batch_size_and_validation_fraction(clf_data, monkeypatch):
    X, y = clf_data
    spy = Spy(monkeypatch, _tabular_net.TabularNet, "loss_grad")
    clf = TabularMLPClassifier(**{**SMALL, "max_iter": 1, "batch_size": 50},
                               validation_fraction=0.0).fit(X, y)
    assert [len(c[0][1]) for c in spy.calls] == [50] * 6  # 300 rows, nothing held out
    assert clf.validation_scores_ is None and clf.best_epoch_ is None
    spy.calls.clear()
    clf = TabularMLPClassifier(**{**SMALL, "max_iter": 1, "batch_size": 50},
                               validation_fraction=0.5, refit=True).fit(X, y)
    # 150 training rows, then the refit's epoch on all 300
    assert [len(c[0][1]) for c in spy.calls] == [50] * 3 + [50] * 6
    assert clf.best_epoch_ == 1 and len(clf.refit_loss_curve_) == 1


def test_max_iter_auto_sets_the_epochs_from_the_steps(clf_data, monkeypatch):
    from skmlp import _tabular

    X, y = clf_data
    monkeypatch.setattr(_tabular, "AUTO_STEPS", 20)
    monkeypatch.setattr(_tabular, "AUTO_EPOCHS", (2, 3))
    # 240 training rows, 120 per batch: 2 steps per epoch, 20 steps wanted, at most 3 epochs
    clf = TabularMLPClassifier(**{**SMALL, "batch_size": 120, "max_iter": "auto"}).fit(X, y)
    assert clf.n_iter_ == 3
    monkeypatch.setattr(_tabular, "AUTO_EPOCHS", (2, 30))
    assert TabularMLPClassifier(**{**SMALL, "batch_size": 120, "max_iter": "auto"}).fit(
        X, y).n_iter_ == 10
    monkeypatch.setattr(_tabular, "AUTO_STEPS", 1)
    assert TabularMLPClassifier(**{**SMALL, "batch_size": 120, "max_iter": "auto"}).fit(
        X, y).n_iter_ == 2


def test_dropout_is_seeded_and_changes_training_not_prediction(clf_data):
    """Seen from outside: the same random_state trains the same model, dropout=0 and
    another random_state other ones; the dropped-out training loss is higher (noisier
    training) and prediction uses no masks (deterministic)."""
    X, y = clf_data
    params = {**SMALL, "hidden_layer_sizes": (64,), "max_iter": 10, "averaging": None,
              "validation_fraction": 0.0}
    dropped = TabularMLPClassifier(**params, dropout=0.3).fit(X, y)
    again = TabularMLPClassifier(**params, dropout=0.3).fit(X, y)
    np.testing.assert_array_equal(dropped.network_.params, again.network_.params)
    assert dropped.loss_curve_ == again.loss_curve_
    plain = TabularMLPClassifier(**params, dropout=0.0).fit(X, y)
    other = TabularMLPClassifier(**{**params, "random_state": 1}, dropout=0.3).fit(X, y)
    assert not np.allclose(plain.network_.params, dropped.network_.params)
    assert not np.allclose(other.network_.params, dropped.network_.params)
    assert dropped.loss_curve_[-1] > plain.loss_curve_[-1]
    np.testing.assert_array_equal(dropped.predict_proba(X), dropped.predict_proba(X))


def test_ema_with_decay_zero_is_the_trained_weights(clf_data):
    X, y = clf_data
    plain = TabularMLPClassifier(**SMALL, averaging=None).fit(X, y)
    ema0 = TabularMLPClassifier(**SMALL, averaging="ema", ema_decay=0.0).fit(X, y)
    np.testing.assert_array_equal(plain.network_.params, ema0.network_.params)
    ema = TabularMLPClassifier(**SMALL, averaging="ema", ema_decay=0.9).fit(X, y)
    assert not np.array_equal(plain.network_.params, ema.network_.params)


def test_best_epoch_is_kept(clf_data):
    X, y = clf_data
    clf = TabularMLPClassifier(**{**SMALL, "max_iter": 8}, averaging=None).fit(
        X[:200], y[:200], X_val=X[200:], y_val=y[200:])
    scores = clf.validation_scores_
    best = max(scores)
    assert clf.best_validation_score_ == best
    assert clf.best_epoch_ == max(i + 1 for i, s in enumerate(scores) if s == best)  # ties: later
    assert clf.score(X[200:], y[200:]) == pytest.approx(best)


def test_regressor_validation_score_is_r2(reg_data):
    X, y = reg_data
    reg = TabularMLPRegressor(**SMALL).fit(X[:150], y[:150], X_val=X[150:], y_val=y[150:])
    assert reg.score(X[150:], y[150:]) == pytest.approx(reg.best_validation_score_, abs=1e-5)


def test_label_smoothing_softens_probabilities(clf_data):
    X, y = clf_data
    sharp = TabularMLPClassifier(**{**SMALL, "max_iter": 30}, label_smoothing=0.0).fit(X, y)
    smooth = TabularMLPClassifier(**{**SMALL, "max_iter": 30}, label_smoothing=0.4).fit(X, y)
    # the loss is smallest where the probabilities equal the smoothed targets, at most
    # 1 - 0.4 + 0.4 / 3 = 0.733: the typical row's top probability stays near that
    top_smooth = np.median(smooth.predict_proba(X).max(axis=1))
    top_sharp = np.median(sharp.predict_proba(X).max(axis=1))
    assert top_smooth < 1 - 0.4 + 0.4 / 3 + 0.02 and top_sharp > top_smooth + 0.1


def test_standardize_target(reg_data):
    X, y = reg_data
    on = TabularMLPRegressor(**SMALL).fit(X, y)
    assert on.target_mean_[0] == pytest.approx(np.mean(y))
    assert on.target_scale_[0] == pytest.approx(np.std(y))
    off = TabularMLPRegressor(**SMALL, standardize_target=False).fit(X, y)
    assert off.target_mean_[0] == 0 and off.target_scale_[0] == 1
    # targets around 1000 with a network starting at 0: only the standardised one fits
    assert on.score(X, y) > 0.5 > off.score(X, y)


def test_scaling_and_embedding_columns(clf_data):
    X, y = clf_data
    clf = TabularMLPClassifier(**SMALL).fit(X, y)
    X_train = X  # the scaling is fitted on the training rows only: compare its range
    np.testing.assert_array_equal(clf.embedded_columns_, [0, 1, 2, 3])  # not binary, constant
    assert clf.input_factor_[5] == 0  # constant column
    assert np.all(np.abs(clf.input_center_[:4] - np.median(X_train[:, :4], axis=0))
                  < np.std(X_train[:, :4], axis=0))
    std = TabularMLPClassifier(**SMALL, scaling="standard").fit(X, y)
    assert not np.allclose(std.input_center_, clf.input_center_)
    none = TabularMLPClassifier(**SMALL, numerical_embedding=None).fit(X, y)
    assert none.embedded_columns_.size == 0 and "emb.w1" not in none.network_.p
    shaped = TabularMLPClassifier(**SMALL, n_frequencies=5, embedding_dim=2).fit(X, y)
    assert shaped.network_.p["emb.W2"].shape == (4, 5, 2)
    assert shaped.network_.p["W0"].shape == (4 * 2 + 6, 16)


def test_frequency_scale_sets_the_initial_frequencies(clf_data):
    X, y = clf_data
    clf = TabularMLPClassifier(**{**SMALL, "max_iter": 1}, embedding_lr_factor=0.0,
                               n_frequencies=200, frequency_scale=2.0).fit(X, y)
    w1 = clf.network_.p["emb.w1"]
    assert np.std(w1) == pytest.approx(2.0, rel=0.1)


@pytest.mark.parametrize("factor", ["scale_lr_factor", "bias_lr_factor", "embedding_lr_factor",
                                    "activation_lr_factor"])
def test_a_zero_learning_rate_factor_freezes_its_group(clf_data, factor):
    X, y = clf_data
    group = {"scale_lr_factor": ["scale"], "bias_lr_factor": ["b0", "b1", "b2"],
             "embedding_lr_factor": ["emb.w1", "emb.b1", "emb.W2", "emb.b2"],
             "activation_lr_factor": ["a0", "a1"]}[factor]
    frozen = [TabularMLPClassifier(**SMALL, averaging=None, learning_rate=lr,
                                   parametric_activation=True, **{factor: 0.0}).fit(X, y)
              for lr in (0.01, 0.05)]
    for name in group:  # the same initial values, never moved
        np.testing.assert_array_equal(frozen[0].network_.p[name], frozen[1].network_.p[name])
    assert not np.array_equal(frozen[0].network_.p["W0"], frozen[1].network_.p["W0"])
    if factor == "scale_lr_factor":
        assert np.all(frozen[0].network_.p["scale"] == 1)


def test_parametrization_bias_init_activation_and_dtype(clf_data):
    X, y = clf_data
    clf = TabularMLPClassifier(**SMALL, parametrization="standard", bias_init="zeros",
                               bias_lr_factor=0.0, activation="relu", dtype="float64").fit(X, y)
    net = clf.network_
    assert net.c == [1.0, 1.0, 1.0] and net.activation == "relu"
    assert np.all(net.p["b0"] == 0) and net.params.dtype == np.float64
    ntk = TabularMLPClassifier(**SMALL).fit(X, y).network_
    assert ntk.c[1] == pytest.approx(1 / 4) and ntk.params.dtype == np.float32
    assert np.any(ntk.p["b0"] != 0)


def test_weight_decay_and_gradient_clipping_shrink_the_steps(clf_data):
    X, y = clf_data
    init = TabularMLPClassifier(**{**SMALL, "max_iter": 1}, learning_rate=1e-12,
                                averaging=None).fit(X, y).network_.p["W1"]
    moved = {}
    for name, kw in [("plain", {}), ("clipped", {"max_grad_norm": 1e-12})]:
        W1 = TabularMLPClassifier(**SMALL, averaging=None, weight_decay=0.0, **kw).fit(
            X, y).network_.p["W1"]
        moved[name] = np.abs(W1 - init).mean()
    # a gradient clipped far below epsilon makes Adam's steps vanish
    assert moved["clipped"] < 0.01 * moved["plain"]
    norms = [np.linalg.norm(TabularMLPClassifier(**SMALL, weight_decay=wd, averaging=None)
                            .fit(X, y).network_.p["W1"]) for wd in (0.0, 5.0)]
    assert norms[1] < 0.9 * norms[0]


@pytest.mark.parametrize("beta", ["beta_1", "beta_2", "epsilon"])
def test_adam_constants_reach_the_optimizer(clf_data, monkeypatch, beta):
    X, y = clf_data
    seen = {}
    real = _adamw.AdamW.__init__

    def init(self, *args, **kwargs):
        seen.update(kwargs)
        real(self, *args, **kwargs)

    monkeypatch.setattr(_adamw.AdamW, "__init__", init)
    TabularMLPClassifier(**SMALL, **{beta: 0.5}).fit(X, y)
    assert seen[beta] == 0.5


def test_verbose(clf_data, capsys):
    X, y = clf_data
    clf = TabularMLPClassifier(**SMALL, verbose=True, refit=True).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4 + clf.best_epoch_ and lines[0].startswith("Epoch 1, loss = ")
    assert "validation score" in lines[0]
    assert lines[4:] == [f"Refit epoch {k + 1}, loss = {loss:.6f}"
                         for k, loss in enumerate(clf.refit_loss_curve_)]


# --- input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_input_equals_dense(clf_data, fmt):
    X, y = clf_data
    dense = TabularMLPClassifier(**SMALL).fit(X, y)
    sp = TabularMLPClassifier(**SMALL).fit(sparse.csr_matrix(X).asformat(fmt), y)
    np.testing.assert_array_equal(dense.network_.params, sp.network_.params)
    np.testing.assert_array_equal(sp.predict_proba(sparse.csr_matrix(X)), dense.predict_proba(X))


def test_float32_input(clf_data):
    X, y = clf_data
    clf = TabularMLPClassifier(**SMALL).fit(X.astype(np.float32), y)
    assert clf.predict_proba(X.astype(np.float32)).dtype == np.float32
    reg = TabularMLPRegressor(**SMALL, dtype="float64").fit(X.astype(np.float32), y * 1.0)
    assert reg.network_.params.dtype == np.float64


def test_sample_weight_zero_equals_dropping_for_the_scaling(clf_data):
    X, y = clf_data
    w = np.ones(300)
    w[:30] = 0
    clf = TabularMLPClassifier(**SMALL, validation_fraction=0.0).fit(X, y, sample_weight=w)
    assert np.isfinite(clf.network_.params).all()
    with pytest.raises(ValueError, match="at least one non-zero"):
        TabularMLPClassifier(**SMALL).fit(X, y, sample_weight=np.zeros(300))


# --- the packed ensemble ----------------------------------------------------------------------
def test_one_member_is_the_network_from_before_the_ensemble():
    """n_members=1 (the default) trains the single network of commit 5de8d71, before
    n_members existed: these predictions were recorded there (float64: bitwise equal on
    the machine that recorded them; the tolerance only absorbs another BLAS's rounding)."""
    X, y = make_classification(200, 6, n_informative=4, n_classes=3, random_state=0)
    Xr, yr = make_regression(200, 5, noise=1.0, random_state=0)
    small = {"hidden_layer_sizes": (16, 16), "max_iter": 3, "batch_size": 32,
             "dtype": "float64", "random_state": 0, "refit": False}  # (recorded before it)
    P = TabularMLPClassifier(**small, n_members=1).fit(X, y).predict_proba(X[:3])
    np.testing.assert_allclose(P, [
        [0.29754518756047516, 0.34592261582248196, 0.35653219661704294],
        [0.3102387172477476, 0.36958655512952593, 0.32017472762272653],
        [0.34780334638867966, 0.3491700265464673, 0.3030266270648531]], rtol=1e-12)
    # (recorded before the regressor's default dropout of 0.15: asked off here)
    r = TabularMLPRegressor(**small, dropout=0.0).fit(Xr, yr).predict(Xr[:3])
    np.testing.assert_allclose(r, [-24.852114897066606, 4.456214377969292,
                                   -15.676802273151557], rtol=1e-12)


def test_ensemble_members_differ_and_the_prediction_is_their_mean(clf_data, reg_data):
    X, y = clf_data
    clf = TabularMLPClassifier(**SMALL, n_members=3, dropout=0.1).fit(X, y)
    net = clf.network_
    assert net.p["W0"].shape[0] == 3 and net.p["W1"].shape == (3, 16, 16)
    Z = clf._logits(X)  # (members, rows, classes)
    P = np.stack([_softmax(z) for z in Z])
    assert Z.shape == (3, 300, 3)
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        assert np.abs(P[a] - P[b]).max() > 1e-3  # independent initialisations stay apart
    np.testing.assert_allclose(clf.predict_proba(X), P.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(P.mean(axis=0)), rtol=1e-5)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[P.mean(axis=0).argmax(axis=1)])
    # a member's own vote differs from the ensemble's somewhere, or averaging did nothing
    assert any(np.any(P[m].argmax(axis=1) != P.mean(axis=0).argmax(axis=1)) for m in range(3))

    Xr, yr = reg_data
    reg = TabularMLPRegressor(**SMALL, n_members=2).fit(Xr, yr)
    outputs = reg._logits(Xr)[:, :, 0].astype(np.float64) * reg.target_scale_ + reg.target_mean_
    assert np.abs(outputs[0] - outputs[1]).max() > 1e-3 * np.std(yr)
    np.testing.assert_allclose(reg.predict(Xr), outputs.mean(axis=0), rtol=1e-12)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# --- errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize("params, match", [
    ({"dropout": 1.0}, "dropout"),
    ({"lr_schedule": "linear"}, "lr_schedule"),
    ({"dropout_schedule": "linear"}, "dropout_schedule"),
    ({"weight_decay_schedule": None}, "weight_decay_schedule"),
    ({"parametric_activation": "yes"}, "parametric_activation"),
    ({"activation_lr_factor": -0.1}, "activation_lr_factor"),
    ({"hidden_layer_sizes": (16, 0)}, "hidden_layer_sizes"),
    ({"hidden_layer_sizes": ()}, "hidden_layer_sizes"),
    ({"activation": "identity"}, "activation"),
    ({"averaging": "swa"}, "averaging"),
    ({"max_grad_norm": 0.0}, "max_grad_norm"),
    ({"label_smoothing": 1.0}, "label_smoothing"),
    ({"n_members": 0}, "n_members"),
    ({"n_members": 2.0}, "n_members"),
])
def test_invalid_parameters(clf_data, params, match):
    X, y = clf_data
    with pytest.raises(InvalidParameterError, match=match):
        TabularMLPClassifier(**{**SMALL, **params}).fit(X, y)


def test_data_errors(clf_data, reg_data):
    X, y = clf_data
    clf = TabularMLPClassifier(**SMALL)
    with pytest.raises(NotFittedError):
        clf.predict(X)
    with pytest.raises(ValueError, match="at least 2 classes"):
        clf.fit(X, np.zeros(300))
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(np.where(np.eye(300, 6) > 0, np.nan, X), y)
    with pytest.raises(ValueError, match="together"):
        clf.fit(X, y, X_val=X)
    with pytest.raises(ValueError, match="without X_val"):
        clf.fit(X, y, sample_weight_val=np.ones(3))
    with pytest.raises(ValueError, match="labels not in y"):
        clf.fit(X, y, X_val=X[:5], y_val=[0, 1, 2, 3, 4])
    with pytest.raises(ValueError, match="X_val: .*6 features"):
        clf.fit(X, y, X_val=X[:5, :3], y_val=y[:5])
    with pytest.raises(ValueError, match="y_val must be 1-D"):
        clf.fit(X, y, X_val=X[:5], y_val=y[:4])
    Xr, yr = reg_data
    with pytest.raises(ValueError, match="y_val has shape"):
        TabularMLPRegressor(**SMALL).fit(Xr, yr, X_val=Xr[:5], y_val=np.ones((5, 2)))
    with pytest.raises(ValueError, match="NaN or infinity"):
        TabularMLPRegressor(**SMALL).fit(Xr, yr, X_val=Xr[:2], y_val=[np.nan, 1])
    clf.fit(X, y)
    with pytest.raises(ValueError, match="6 features"):
        clf.predict(X[:, :5])


def test_divergence_is_a_clear_error_and_rolls_back(reg_data):
    X, y = reg_data
    reg = TabularMLPRegressor(**SMALL).fit(X, y)
    before = reg.network_
    with pytest.raises(ValueError, match="learning_rate"), np.errstate(all="ignore"):
        reg.set_params(learning_rate=1e30, bias_lr_factor=1e30, weight_decay=0.0).fit(X, y)
    assert reg.network_ is before


# --- fitted state: rollback, Ctrl-C, persistence ------------------------------------------------
@pytest.mark.parametrize("Est", ESTIMATORS)
def test_failed_fit_leaves_the_estimator_as_it_was(Est, clf_data, reg_data):
    X, y = data_for(Est, clf_data, reg_data)
    est = Est(**SMALL).fit(X, y)
    state = dict(est.__dict__)
    P = est.predict(X)

    def boom(estimator, epoch):
        if epoch == 2:
            raise RuntimeError("callback failed")

    est.set_callbacks(StopAfter(10**9, boom))
    with pytest.raises(RuntimeError, match="callback failed"):
        est.fit(X[:100], y[:100])
    est.set_callbacks()
    for k in Est._FITTED_STATE:
        assert (k in est.__dict__) == (k in state) and (k not in state or est.__dict__[k]
                                                         is state[k]), k
    np.testing.assert_array_equal(est.predict(X), P)
    fresh = Est(**SMALL)
    with pytest.raises(ValueError):
        fresh.fit(X, np.full(len(y), np.nan))
    assert not hasattr(fresh, "network_")


def test_callback_stops_training_and_tasks_pair_up(clf_data):
    X, y = clf_data
    stop = StopAfter(2)
    clf = TabularMLPClassifier(**{**SMALL, "max_iter": 10}).set_callbacks(stop).fit(X, y)
    assert clf.n_iter_ == 2
    begun = [t for e, t in stop.tasks if e == "begin"]
    ended = [t for e, t in stop.tasks if e == "end"]
    assert sorted(begun) == sorted(ended) and begun.count("epoch") == 2


def test_progress_bar_and_scoring_monitor(clf_data):
    pytest.importorskip("rich")
    from sklearn.callback import ProgressBar, ScoringMonitor

    X, y = clf_data
    monitor = ScoringMonitor(scoring="accuracy")
    clf = TabularMLPClassifier(**SMALL, averaging=None, validation_fraction=0.0)
    clf.set_callbacks(ProgressBar(), monitor).fit(X, y)
    epochs = scored_epochs(monitor)
    assert len(epochs) == 4
    assert epochs[-1]["accuracy"] == pytest.approx(clf.score(X, y))


@pytest.mark.parametrize("how", ["raise", "signal"])
def test_ctrl_c_keeps_the_last_complete_epoch(clf_data, how):
    """Ctrl-C as epoch 3 begins (from the callback hook, inside that epoch): the weights at
    the end of epoch 2; in the first epoch there is nothing to keep: the fit fails."""
    X, y = clf_data
    kept = {}

    def record(estimator, epoch):
        kept[epoch] = estimator.network_.params.copy()

    interrupt = interrupt_at_begin(3, task="epoch", how=how)
    clf = TabularMLPClassifier(**{**SMALL, "max_iter": 10}, averaging=None,
                               validation_fraction=0.0)
    interrupted_fit(clf.set_callbacks(StopAfter(10**9, record), interrupt), X, y)
    assert interrupt.begun == ["epoch"] * 3
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 2
    np.testing.assert_array_equal(clf.network_.params, kept[2])
    # Ctrl-C in the first epoch: nothing to keep, the fit fails and changes nothing
    fresh = TabularMLPClassifier(**SMALL).set_callbacks(interrupt_at_begin(1, how=how))
    with pytest.raises(KeyboardInterrupt):
        fresh.fit(X, y)
    assert not hasattr(fresh, "network_")


def test_real_sigint_during_epoch_bookkeeping_is_delivered_after_it(clf_data):
    """A SIGINT arriving while an epoch's bookkeeping runs counts that epoch, then stops."""
    X, y = clf_data

    def interrupt(estimator, epoch):
        if epoch == 2:
            os.kill(os.getpid(), signal.SIGINT)

    clf = TabularMLPClassifier(**{**SMALL, "max_iter": 10}).set_callbacks(
        StopAfter(10**9, interrupt))
    with pytest.warns(UserWarning, match="interrupted"):
        clf.fit(X, y)
    assert clf.n_iter_ == 2 and len(clf.validation_scores_) == 2


@pytest.mark.parametrize("n_members", [1, 3])
@pytest.mark.parametrize("Est", ESTIMATORS)
def test_pickle_and_skops_round_trip(Est, n_members, clf_data, reg_data, tmp_path):
    X, y = data_for(Est, clf_data, reg_data)
    est = Est(**SMALL, n_members=n_members).fit(X, y)
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    # the network's named arrays are views into its one vector again
    assert np.shares_memory(loaded.network_.p["W0"], loaded.network_.params)
    sio = pytest.importorskip("skops.io")
    path = tmp_path / "model.skops"
    sio.dump(est, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert set(untrusted) <= {f"skmlp._tabular.{Est.__name__}", "skmlp._tabular_net.TabularNet"}
    restored = sio.load(path, trusted=untrusted)
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))


def test_a_tampered_network_does_not_load(clf_data):
    X, y = clf_data
    clf = TabularMLPClassifier(**SMALL).fit(X, y)
    state = clf.network_.__getstate__()
    state["params"] = state["params"][:-1]
    with pytest.raises(ValueError, match="parameters"):
        _tabular_net.TabularNet.__new__(_tabular_net.TabularNet).__setstate__(state)


def test_no_warnings_in_a_default_style_fit(clf_data):
    X, y = clf_data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TabularMLPClassifier(**SMALL).fit(X, y).predict(X)
