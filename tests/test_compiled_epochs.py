"""The compiled epoch loop inside whole fits: it really runs when the kernels are on, and the
model is still scikit-learn's, bit for bit (``skmlp._epoch_loop``; its unit tests are in
``tests/test_epoch_loop.py``)."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.neural_network import MLPClassifier

import skmlp
from skmlp import MLPClassifierFromScratch, use_kernels

pytest.importorskip("numba")


def _counting_backprop(monkeypatch):
    """Count calls of the public ``skmlp.MLP.backprop`` (one per minibatch of the Python
    loop; the compiled loop makes none)."""
    real, calls = skmlp.MLP.backprop, []

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(skmlp.MLP, "backprop", counted)
    return calls


def _compiled_and_numpy_fits(monkeypatch, X, y, params):
    """The classifier fitted with the kernels (every epoch compiled: asserted) and with the
    numpy path (its Python loop: asserted), ``(compiled, reference)``."""
    calls = _counting_backprop(monkeypatch)
    with use_kernels(True):  # also below the size rule's threshold
        compiled = MLPClassifierFromScratch(**params).fit(X, y)
    assert calls == []  # every epoch compiled
    with use_kernels(False):
        reference = MLPClassifierFromScratch(**params).fit(X, y)
    assert len(calls) > 0  # the numpy path's minibatches
    return compiled, reference


def _assert_same_model(a, b):
    assert a.n_iter_ == b.n_iter_
    assert a.loss_curve_ == b.loss_curve_
    for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_fits_run_compiled_epochs_and_train_scikit_learns_model(monkeypatch, dtype, solver):
    X, y = load_digits(return_X_y=True)
    X = (X[:600] / 16).astype(dtype)
    y = y[:600]
    params = dict(hidden_layer_sizes=(32,), solver=solver, max_iter=15, random_state=0,
                  early_stopping=solver == "sgd", dropout=0.0)
    calls = _counting_backprop(monkeypatch)
    with use_kernels(True):  # also below the size rule's threshold
        ours = MLPClassifierFromScratch(**params).fit(X, y)
    assert calls == []  # every epoch compiled
    theirs = MLPClassifier(**{k: v for k, v in params.items() if k != "dropout"}).fit(X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_,
                    strict=True):
        np.testing.assert_array_equal(a, b)
    assert ours.loss_curve_ == theirs.loss_curve_


F32, F64 = np.float32, np.float64


@pytest.mark.parametrize("dtype, params, compiled", [
    (F32, dict(alpha=F64(0.01)), False),  # scikit-learn's L2 terms are float64 here
    (F32, dict(alpha=F32(0.01)), True),
    (F32, dict(alpha=0.01), True),
    (F64, dict(alpha=F64(0.01)), True),
    (F64, dict(alpha=F32(0.01)), True),
    (F32, dict(beta_1=F64(0.9)), False),  # its moments are float64 here
    (F32, dict(beta_2=F64(0.999)), False),
    (F32, dict(epsilon=F64(1e-8)), False),  # its denominator is float64
    (F32, dict(beta_1=F32(0.9), beta_2=F32(0.999)), False),  # its lr_t is float32
    (F64, dict(beta_1=F64(0.9), beta_2=F64(0.999), epsilon=F64(1e-8)), True),
    (F32, dict(solver="sgd", momentum=F64(0.9)), False),  # its velocities are float64
    (F32, dict(solver="sgd", momentum=F64(0.9), nesterovs_momentum=False), False),
    # the rate float(lr) / t ** power_t is a float64 scalar from the second epoch on
    (F32, dict(solver="sgd", learning_rate="invscaling", power_t=F64(0.5),
               learning_rate_init=0.5), False),
    (F64, dict(solver="sgd", momentum=F64(0.9), learning_rate="invscaling",
               power_t=F64(0.5)), True),
])
def test_numpy_scalar_hyper_parameters_train_scikit_learns_model(monkeypatch, dtype, params,
                                                                 compiled):
    """Hyper-parameters from a numpy grid (``np.logspace``, ``np.linspace``): a float64
    scalar beside float32 data makes scikit-learn's L2 terms, optimizer state or update
    float64 (numpy's promotion), which the compiled loop and the fused steps (in the
    weights' dtype) would not give: such epochs run the Python loop, whose numpy steps
    promote as scikit-learn's do. Kernels on and off, each bitwise scikit-learn's model.
    An outside review found the difference for ``alpha``."""
    X, y = load_digits(return_X_y=True)
    X, y = (X[:300] / 16).astype(dtype), y[:300]
    params = dict(hidden_layer_sizes=(16,), max_iter=4, batch_size=32, random_state=0,
                  **params)
    theirs = MLPClassifier(**params).fit(X, y)
    calls = _counting_backprop(monkeypatch)
    for kernels in (True, False):
        del calls[:]
        with use_kernels(kernels):
            ours = MLPClassifierFromScratch(**params).fit(X, y)
        assert (calls == []) == (kernels and compiled)
        _assert_same_model(ours, theirs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_label_smoothing_compiled_gives_the_python_loops_losses(monkeypatch, dtype):
    """Soft targets (float, of X's dtype) make the log-loss a float32 number on float32
    data: the compiled epochs give the Python loop's loss curve, values and types, so
    that the stopping rule sees the same numbers (a review found float64 ones here)."""
    X, y = load_digits(return_X_y=True)
    X, y = (X[:500] / 16).astype(dtype), y[:500]
    params = dict(hidden_layer_sizes=(24,), max_iter=6, random_state=0, label_smoothing=0.1)
    compiled, reference = _compiled_and_numpy_fits(monkeypatch, X, y, params)
    assert [type(v) for v in compiled.loss_curve_] == [type(v) for v in reference.loss_curve_]
    _assert_same_model(compiled, reference)
    if dtype == np.float32:
        assert isinstance(compiled.loss_curve_[0], np.float32)


@pytest.mark.parametrize("layout", ["strided", "fortran", "reversed", "dataframe"])
def test_inputs_of_other_layouts_are_gathered_by_the_compiled_loop(monkeypatch, layout):
    """``load_digits``' own X (a strided view of the file's table) and a DataFrame's values
    (Fortran order) are read in place by the compiled gather when the rows are shuffled,
    and train scikit-learn's model; unshuffled (the Python loop multiplies X's own slices)
    or with negative strides, the Python loop runs, with the same result."""
    X, y = load_digits(return_X_y=True)
    X, y = X[:400], y[:400]
    if layout == "dataframe":  # its values: a read-only Fortran-ordered array (pandas 3)
        X = pytest.importorskip("pandas").DataFrame(X / 16)
        assert not np.asarray(X).flags.c_contiguous
    else:
        X = {"strided": X, "fortran": np.asfortranarray(X / 16),
             "reversed": (X / 16)[::-1]}[layout]
        assert not X.flags.c_contiguous
    y = y[::-1] if layout == "reversed" else y
    params = dict(hidden_layer_sizes=(16,), max_iter=4, random_state=0)
    calls = _counting_backprop(monkeypatch)
    for shuffle in (True, False):
        calls.clear()
        with use_kernels(True):
            ours = MLPClassifierFromScratch(shuffle=shuffle, **params).fit(X, y)
        compiled = shuffle and layout != "reversed"
        assert len(calls) == (0 if compiled else 4 * 2)  # 4 epochs of 2 batches
        theirs = MLPClassifier(shuffle=shuffle, **params).fit(X, y)
        for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_,
                        strict=True):
            np.testing.assert_array_equal(a, b)
        assert ours.loss_curve_ == theirs.loss_curve_


def test_inputs_of_every_layout_and_flag_share_one_compiled_loop(monkeypatch, tmp_path):
    """numba compiles (and caches) the whole loop once per type of its arguments, seconds
    each: read-only data (a DataFrame's copy-on-write values, a memmap opened "r"),
    float32 or integer targets beside float64 X and targets in Fortran order share the
    one compiled loop of their dtype and kind of target, and train scikit-learn's model
    bit for bit."""
    from sklearn.neural_network import MLPRegressor

    from skmlp import MLPRegressorFromScratch, _epoch_loop

    X, y = load_digits(return_X_y=True)
    X, y = np.asfortranarray(X[:300] / 16), y[:300]
    params = dict(hidden_layer_sizes=(8,), max_iter=2, random_state=0)
    theirs = MLPClassifier(**params).fit(X, y)
    Y = np.asfortranarray(np.stack([y / 9, (y % 2).astype(float)], axis=1))
    Y32 = (y / 9).astype(np.float32)
    reg_theirs = [MLPRegressor(**params).fit(X, Y), MLPRegressor(**params).fit(X, Y32),
                  MLPRegressor(**params).fit(X, y)]
    calls = _counting_backprop(monkeypatch)
    with use_kernels(True):
        # the loops for these types, compiled or loaded from the cache
        MLPClassifierFromScratch(**params).fit(X, y)
        MLPRegressorFromScratch(**params).fit(X, np.ascontiguousarray(Y))
        n_signatures = len(_epoch_loop._epoch.signatures)
        view = X.view()
        view.flags.writeable = False
        ours = [MLPClassifierFromScratch(**params).fit(view, y)]
        assert not view.flags.writeable  # the caller's array is left as it was
        np.save(tmp_path / "X.npy", X)
        mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
        assert not mapped.flags.writeable
        ours.append(MLPClassifierFromScratch(**params).fit(mapped, y))
        reg_ours = [MLPRegressorFromScratch(**params).fit(mapped, Y),
                    MLPRegressorFromScratch(**params).fit(X, Y32),
                    MLPRegressorFromScratch(**params).fit(X, y)]  # integer targets
        assert len(_epoch_loop._epoch.signatures) == n_signatures
    assert calls == []  # all compiled
    for model, reference in zip(ours + reg_ours, [theirs, theirs] + reg_theirs, strict=True):
        assert model.loss_curve_ == reference.loss_curve_
        for a, b in zip(model.coefs_ + model.intercepts_,
                        reference.coefs_ + reference.intercepts_, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("errstate, X_scale, params", [
    ({"over": "raise"}, 1.5e308, {"activation": "tanh"}),
    ({"under": "raise"}, 50.0, {"learning_rate_init": 0.5, "max_iter": 20}),
])
def test_strict_floating_point_modes_run_the_python_loop(monkeypatch, errstate, X_scale,
                                                         params):
    """The compiled loop cannot raise on a floating-point flag: under an errstate that
    asks for it, the Python loop runs and raises where scikit-learn raises (the first
    case overflows in the first matrix product, the second underflows in softmax's exp)."""
    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16 * X_scale, y[:300]
    params = {"hidden_layer_sizes": (16,), "max_iter": 3, "random_state": 0, **params}
    calls = _counting_backprop(monkeypatch)
    with np.errstate(**errstate):
        with pytest.raises(FloatingPointError, match=r"overflow|underflow") as theirs:
            MLPClassifier(**params).fit(X, y)
        with use_kernels(True), pytest.raises(FloatingPointError) as ours:
            MLPClassifierFromScratch(**params).fit(X, y)
    assert str(ours.value) == str(theirs.value)
    assert len(calls) > 0  # the Python loop ran
    calls.clear()
    with use_kernels(True), np.errstate(under="ignore", over="warn"):  # not strict: compiled
        MLPClassifierFromScratch(**{**params, "max_iter": 1}).fit(X / X_scale, y)
    assert calls == []


# the step extras: schedules, decoupled weight decay, clipping, the weight average, each
# alone and together, with the solvers, L2, dropout, label smoothing and early stopping
STEP_EXTRAS = [
    dict(lr_schedule="cosine"),
    dict(lr_schedule="coslog4", warmup=0.2, weight_decay=0.05, max_grad_norm=0.05,
         ema_decay=0.9, alpha=1e-3),
    dict(ema_decay=0.99, dropout=0.2),
    dict(weight_decay=0.1, label_smoothing=0.1, early_stopping=True),
    dict(solver="sgd", momentum=0.9, nesterovs_momentum=True, max_grad_norm=0.05),
    dict(solver="sgd", learning_rate="invscaling", lr_schedule="cosine", weight_decay=0.01,
         ema_decay=0.9, nesterovs_momentum=False),
    # numpy scalars (a grid from np.logspace): taken as the Python floats they hold
    dict(max_grad_norm=np.float64(0.05), weight_decay=np.float32(0.01)),
    dict(max_grad_norm=np.float32(0.05), ema_decay=np.float64(0.9)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("extras", STEP_EXTRAS, ids=lambda e: ",".join(e))
def test_step_extras_run_compiled_epochs_and_give_the_numpy_paths_model(monkeypatch, dtype,
                                                                        extras):
    """``StepExtras.step`` compiled (``_epoch_loop._extras_step``): every epoch of the fit
    compiled, and the model, the loss curve and the weight average are the numpy path's,
    bit for bit. The clipping norm 0.05 is below these gradients' norms from the start,
    so the clipped steps are compared too."""
    X, y = load_digits(return_X_y=True)
    X, y = (X[:500] / 16).astype(dtype), y[:500]
    params = dict(hidden_layer_sizes=(24,), max_iter=8, batch_size=64, random_state=0,
                  **extras)
    _assert_same_model(*_compiled_and_numpy_fits(monkeypatch, X, y, params))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_leaky_relu_runs_compiled_epochs_and_gives_the_numpy_paths_model(monkeypatch, dtype,
                                                                         dropout):
    """skmlp's leaky ReLU has a kernel twin, so its fits run compiled epochs too, bit for
    bit the numpy path's."""
    X, y = load_digits(return_X_y=True)
    X, y = (X[:500] / 16).astype(dtype), y[:500]
    params = dict(hidden_layer_sizes=(24, 12), activation="leaky_relu", dropout=dropout,
                  max_iter=6, random_state=0)
    _assert_same_model(*_compiled_and_numpy_fits(monkeypatch, X, y, params))


def test_uncovered_configurations_take_the_python_loop(monkeypatch):
    """An activation the kernels lack, sparse input and kernels off run the reference loop
    (backprop per batch)."""
    import scipy.sparse as sp

    X, y = load_digits(return_X_y=True)
    X, y = X[:200] / 16, y[:200]
    calls = _counting_backprop(monkeypatch)
    with use_kernels(True):
        MLPClassifierFromScratch(max_iter=2, activation="gelu", random_state=0).fit(X, y)
        n_extras = len(calls)
        MLPClassifierFromScratch(max_iter=2, random_state=0).fit(sp.csr_matrix(X), y)
        n_sparse = len(calls) - n_extras
    with use_kernels(False):
        MLPClassifierFromScratch(max_iter=2, random_state=0).fit(X, y)
    assert n_extras == n_sparse == len(calls) - n_extras - n_sparse == 2  # one batch/epoch


@pytest.mark.parametrize("failures", [1, 2])
@pytest.mark.parametrize("where", ["load", "compile"])
def test_a_loop_that_fails_to_load_is_recompiled_or_left_for_the_python_loop(monkeypatch,
                                                                             failures, where):
    """A load error (a damaged cache) is flushed (the loop's and the kernels' indexes) and
    retried once, silently; a second one leaves the process on the Python loop with one
    KernelWarning. The model is the same. Not only numba's own errors: loading or
    compiling the loop's signature, before it runs, may raise anything (LLVM's
    RuntimeError for damaged bitcode, a UnicodeDecodeError; numba's internal errors keep
    their classes)."""
    import pickle

    from skmlp import _config, _epoch_loop, _kernels, _ops

    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16, y[:300]
    params = dict(hidden_layer_sizes=(16,), max_iter=3, random_state=0)
    with use_kernels(False):
        reference = MLPClassifierFromScratch(**params).fit(X, y)
    if where == "load":  # out of run_epoch_compiled, as numba's unpickling raises it
        owner, name = _epoch_loop, "run_epoch_compiled"
        error, shown = pickle.UnpicklingError("pickle data was truncated"), "UnpicklingError"
    else:  # while the signature is loaded or compiled, before the loop runs
        owner, name = _epoch_loop._epoch, "compile"
        error, shown = RuntimeError("LLVM bitcode"), "LoopUnavailable: RuntimeError"
    real, raised, flushed = getattr(owner, name), [], []

    def damaged(*args, **kwargs):
        if len(raised) < failures:
            raised.append(1)
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, damaged)
    monkeypatch.setattr(_config, "_flush_cache", lambda module: flushed.append(module))
    monkeypatch.setattr(_ops, "_COMPILED_EPOCH", {"failed": False})
    with use_kernels(True):
        if failures == 1:
            est = MLPClassifierFromScratch(**params).fit(X, y)
        else:
            with pytest.warns(_config.KernelWarning,
                              match=rf"compiled epoch loop cannot be used \({shown}"):
                est = MLPClassifierFromScratch(**params).fit(X, y)
    assert flushed == [_epoch_loop, _kernels] and len(raised) == failures
    assert _ops._COMPILED_EPOCH["failed"] == (failures == 2)
    for a, b in zip(est.coefs_ + est.intercepts_, reference.coefs_ + reference.intercepts_):
        np.testing.assert_array_equal(a, b)


def _checkpoints(monkeypatch):
    """Count the optimizers' epoch checkpoints (``checkpoint`` of SGD and Adam)."""
    from skmlp import _optimizers

    calls = []
    real = _optimizers._Optimizer.checkpoint

    def counted(self, into=None):
        calls.append(type(self).__name__)
        return real(self, into)

    monkeypatch.setattr(_optimizers._Optimizer, "checkpoint", counted)
    return calls


@pytest.mark.parametrize("early_stopping", [False, True])
def test_compiled_epochs_take_no_checkpoint_unless_a_scorer_runs_after_them(monkeypatch,
                                                                            early_stopping):
    """A compiled epoch cannot be cut short, so it needs no copy of its starting weights
    and optimizer, except where the validation scorer (which may raise KeyboardInterrupt
    itself) runs after it; the Python loop takes one every epoch."""
    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16, y[:300]
    params = dict(hidden_layer_sizes=(16,), max_iter=4, random_state=0,
                  early_stopping=early_stopping)
    calls = _checkpoints(monkeypatch)
    with use_kernels(True):
        compiled = MLPClassifierFromScratch(**params).fit(X, y)
    n_compiled = len(calls)
    with use_kernels(False):
        reference = MLPClassifierFromScratch(**params).fit(X, y)
    assert n_compiled == (4 if early_stopping else 0)
    assert len(calls) - n_compiled == 4
    for a, b in zip(compiled.coefs_ + compiled.intercepts_,
                    reference.coefs_ + reference.intercepts_, strict=True):
        np.testing.assert_array_equal(a, b)


def test_ctrl_c_during_a_compiled_epoch_keeps_that_epoch(monkeypatch):
    """A Ctrl-C that arrives while epoch 3 runs compiled (numba's code does not stop for it)
    is held until the epoch is recorded: the fit keeps three epochs, the three-epoch
    model, and says so."""
    from _support import INTERRUPTED, sigint

    from skmlp import _epoch_loop

    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16, y[:300]
    params = dict(hidden_layer_sizes=(16,), max_iter=10, random_state=0)
    real, calls = _epoch_loop.run_epoch_compiled, []

    def ctrl_c_in_epoch_3(*args, **kwargs):
        loss = real(*args, **kwargs)
        calls.append(1)
        if len(calls) == 3:
            sigint()  # as it would be heard when the compiled code returns
        return loss

    monkeypatch.setattr(_epoch_loop, "run_epoch_compiled", ctrl_c_in_epoch_3)
    with use_kernels(True), pytest.warns(UserWarning, match=INTERRUPTED):
        est = MLPClassifierFromScratch(**params).fit(X, y)
    monkeypatch.undo()
    assert len(calls) == 3 and est.n_iter_ == 3 and len(est.loss_curve_) == 3
    with use_kernels(False):
        reference = MLPClassifierFromScratch(**{**params, "max_iter": 3}).fit(X, y)
    for a, b in zip(est.coefs_ + est.intercepts_, reference.coefs_ + reference.intercepts_,
                    strict=True):
        np.testing.assert_array_equal(a, b)
    assert est.loss_curve_ == reference.loss_curve_


def _diverging_in_epoch_2():
    """``(X, y, params)`` of a fit whose training loss becomes non-finite in epoch 2 (sgd on
    large unscaled inputs, one row a batch), with numpy's overflow warnings on the way."""
    X = np.array([[12573.022], [-13210.486], [64042.266], [10490.012]], dtype=np.float32)
    params = dict(hidden_layer_sizes=(5, 4), solver="sgd", activation="identity",
                  batch_size=1, learning_rate_init=0.001, max_iter=3, random_state=0)
    return X, [1, 0, 0, 1], params


@pytest.mark.parametrize("extras", [{}, dict(lr_schedule="cosine", ema_decay=0.9,
                                              weight_decay=0.01)], ids=["plain", "extras"])
def test_a_diverging_fit_warns_and_fails_as_the_numpy_path_does(monkeypatch, extras):
    """The compiled loop stops at the batch whose loss is not finite and numpy goes on
    from there: numpy's warnings and the same divergence error as with the kernels off.
    With the step extras, numpy goes on with their step count and average where the
    compiled steps left them."""
    import warnings

    from skmlp import _epoch_loop, _ops

    X, y, params = _diverging_in_epoch_2()
    params.update(extras)
    real, stops = _epoch_loop.run_epoch_compiled, []

    def spied(*args, **kwargs):
        result = real(*args, **kwargs)
        stops.append(isinstance(result, _ops.StoppedEpoch))
        return result

    monkeypatch.setattr(_epoch_loop, "run_epoch_compiled", spied)
    outcomes = []
    for on in (True, False):
        with use_kernels(on), warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with pytest.raises(ValueError, match=r"^Solver produced non-finite parameter "
                                                 r"weights: the training loss became "
                                                 r"non-finite in epoch 2") as error:
                MLPClassifierFromScratch(**params).fit(X, y)
        outcomes.append(([(w.category, str(w.message)) for w in seen], str(error.value)))
    assert stops == [False, True]  # epoch 1 compiled whole, epoch 2 stopped
    assert outcomes[0] == outcomes[1]
    assert any("overflow encountered" in message for _, message in outcomes[0][0])


def test_ctrl_c_during_a_compiled_epoch_that_diverges_ends_in_the_divergence_error(monkeypatch):
    """A compiled epoch keeps no copy of its start, so a Ctrl-C held during one that then
    diverges cannot give the previous epoch back: the fit fails with the divergence
    error, as it would have without the Ctrl-C, and leaves the estimator as it was (the
    Python loop, where the Ctrl-C cuts that epoch short, keeps the epochs before it)."""
    from _support import sigint

    from skmlp import _epoch_loop

    X, y, params = _diverging_in_epoch_2()
    real, calls = _epoch_loop.run_epoch_compiled, []

    def ctrl_c_in_epoch_2(*args, **kwargs):
        result = real(*args, **kwargs)
        calls.append(1)
        if len(calls) == 2:  # epoch 2, the one whose loss becomes non-finite
            sigint()
        return result

    monkeypatch.setattr(_epoch_loop, "run_epoch_compiled", ctrl_c_in_epoch_2)
    est = MLPClassifierFromScratch(**params)
    with use_kernels(True), pytest.warns(RuntimeWarning, match="overflow encountered in"), \
            pytest.raises(ValueError, match=r"^Solver produced non-finite parameter weights: "
                                            r"the training loss became non-finite in epoch 2"):
        est.fit(X, y)
    assert len(calls) == 2 and not hasattr(est, "coefs_")


def test_the_loop_is_resolved_once_per_layout_and_the_call_compiles_nothing(monkeypatch):
    """The loop's signature is loaded or compiled before its first call (so that failing
    to do it changes nothing); the calls after it find that signature."""
    from skmlp import _epoch_loop

    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16, y[:300]
    resolved = []
    real = _epoch_loop._epoch.compile

    def counting(sig):
        resolved.append(sig)
        return real(sig)

    monkeypatch.setattr(_epoch_loop._epoch, "compile", counting)
    with use_kernels(True):
        MLPClassifierFromScratch((16,), max_iter=4, tol=0, random_state=0).fit(X, y)
        n_overloads = len(_epoch_loop._epoch.overloads)
        MLPClassifierFromScratch((16,), max_iter=4, tol=0, random_state=0).fit(X, y)
    assert len(resolved) == 2  # one per fit (a new network, a new layout), not per epoch
    assert resolved[0] == resolved[1] and resolved[0] in _epoch_loop._epoch.overloads
    assert len(_epoch_loop._epoch.overloads) == n_overloads  # the call compiled no other
