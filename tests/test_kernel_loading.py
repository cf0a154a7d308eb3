"""The numba kernels can never make skmlp unusable (issue 20).

A broken numba, a damaged disk cache and a Ctrl-C while numba imports are each run in
a real subprocess with a private ``NUMBA_CACHE_DIR``; every fit there must succeed, warn
at most once, and give the numpy path's model (computed by another subprocess with
``SKMLP_DISABLE_NUMBA=1``). The cache is copied once for the module from this process's
own (compiled here if need be), then copied again where a test damages it.
"""

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification

import skmlp
from skmlp import _config

# The child: an optional hook (the test's fault) installed before skmlp is imported,
# then a float64 and a float32 fit (or those of FIT_DTYPES), twice each; it prints what
# happened as JSON.
CHILD_DATA = dict(n_samples=90, n_features=6, n_informative=4, n_classes=3, random_state=0)
CHILD_MODEL = dict(hidden_layer_sizes=(8,), max_iter=4, tol=0, random_state=0)
CHILD = """
import json, os, pickle, sys, time, warnings

{hook}

caught = []
with warnings.catch_warnings(record=True) as record:
    warnings.simplefilter("always")
    from sklearn.datasets import make_classification
    import skmlp
    from skmlp import _config

    X, y = make_classification(**{data})
    fits = []
    dtypes = os.environ.get("FIT_DTYPES", "float64 float32").split()
    for X_fit in [X.astype(d) for d in dtypes] * 2:
        model = skmlp.MLPClassifierFromScratch(**{model}).fit(X_fit, y)
        fits.append([c.tolist() for c in model.coefs_ + model.intercepts_])
    if os.environ.get("DUMP_MODEL"):
        with open(os.environ["DUMP_MODEL"], "wb") as f:
            pickle.dump(model, f)
print(json.dumps({{
    "fits": fits,
    "kernels": _config.kernels() is not None,
    "warnings": [[w.category.__name__, str(w.message)] for w in record
                 if w.category.__name__ != "ConvergenceWarning"],
    "numba_imported": "numba" in sys.modules,
    "numba_usable": "numba" not in sys.modules or hasattr(sys.modules["numba"], "core"),
}}))
"""

# makes `import numba` raise, as a numba whose llvmlite library does not load does
RAISE_ON_NUMBA = """
class Broken:
    def find_spec(self, name, path=None, target=None):
        if name == "numba":
            raise {error}
sys.meta_path.insert(0, Broken())
"""

# stops in the middle of `import numba` (numba.core loaded, numba.core.typing not yet)
MIDWAY_THROUGH_NUMBA = """
class Midway:
    done = False
    def find_spec(self, name, path=None, target=None):
        if name == "numba.core.typing" and not Midway.done:
            Midway.done = True
            {action}
sys.meta_path.insert(0, Midway())
"""

needs_numba = pytest.mark.skipif(importlib.util.find_spec("numba") is None,
                                 reason="numba is not installed")


def run_child(tmp_path, hook="", *, cache=None, env=(), sigint_at=None):
    """Run ``CHILD`` with ``hook``; its JSON report. ``sigint_at``: a line to send SIGINT at."""
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(hook=textwrap.dedent(hook), data=CHILD_DATA,
                                   model=CHILD_MODEL))
    full_env = {k: v for k, v in os.environ.items() if k != "SKMLP_DISABLE_NUMBA"}
    full_env["NUMBA_CACHE_DIR"] = str(cache or tmp_path / "no_cache")
    # these children check numba's loading inside small fits: no size rule
    full_env["SKMLP_KERNELS_MIN_WORK"] = "0"
    full_env.update(env)
    proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if sigint_at is not None:
        assert proc.stdout.readline().strip() == sigint_at
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def kernel_warnings(report):
    return [m for c, m in report["warnings"] if c == "KernelWarning"]


def assert_same_fits(report, reference, exact):
    """Each fit equals the numpy path's: bitwise when it ran the numpy path, else to rounding."""
    for got, expected in zip(report["fits"], reference["fits"], strict=True):
        for a, b in zip(got, expected, strict=True):
            if exact:
                np.testing.assert_array_equal(a, b)
            else:  # the kernels' libm exp against numpy's: a few ulp, through 4 epochs
                np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.fixture(scope="module")
def numpy_reference(tmp_path_factory):
    """The four fits on the numpy path, in a process that never imports numba."""
    tmp = tmp_path_factory.mktemp("numpy_path")
    report = run_child(tmp, "", env={"SKMLP_DISABLE_NUMBA": "1"})
    assert not report["kernels"] and not report["numba_imported"] and report["warnings"] == []
    return report


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    """A private numba cache holding every kernel in float32 and float64, a pickled model
    fitted with the kernels, and the report of the process that made it:
    ``(cache_dir, model_path, report)``."""
    pytest.importorskip("numba")
    tmp = tmp_path_factory.mktemp("warm")
    cache, model = tmp / "cache", tmp / "model.pkl"
    copied = copy_this_process_cache(cache)
    # "false" enables (it disabled them once): this fit must use the kernels
    report = run_child(tmp, "", cache=cache,
                       env={"DUMP_MODEL": str(model), "SKMLP_DISABLE_NUMBA": " False "})
    assert report["kernels"] and report["warnings"] == []
    assert copied and list(cache.rglob("*.nbc"))
    return cache, model, report


def copy_this_process_cache(cache):
    """Fill ``cache`` with this process's numba cache of the kernels and the epoch loop,
    where a child with ``NUMBA_CACHE_DIR=cache`` looks; the number of files copied.

    The child's fits are made here first (compiling, into skmlp's own cache, what this
    process had not compiled yet, as the rest of the suite needs it anyway), so the child
    loads them instead of compiling them a second time: in a fresh clone that second
    compile was the longest wait of the suite.
    """
    from numba.core.caching import _CacheLocator

    from skmlp import _epoch_loop

    X, y = make_classification(**CHILD_DATA)
    with skmlp.use_kernels(True), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for X_fit in (X, X.astype(np.float32)):
            skmlp.MLPClassifierFromScratch(**CHILD_MODEL).fit(X_fit, y)
    source = _epoch_loop._epoch._cache._cache_path  # the kernels' too: the same directory
    target = cache / _CacheLocator.get_suitable_cache_subpath(_epoch_loop.__file__)
    target.mkdir(parents=True)
    copied = 0
    for name in os.listdir(source):
        if name.startswith(("_kernels.", "_epoch_loop.")) and name.endswith((".nbi", ".nbc")):
            shutil.copy2(os.path.join(source, name), target / name)
            copied += 1
    return copied


# ---------------------------------------------------------------------------------------
# the switch
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, enabled", [
    (None, True), ("", True), ("0", True), ("false", True), ("No", True), (" OFF ", True),
    ("1", False), ("true", False), ("YES", False), (" on\n", False), ("True", False),
])
def test_switch_reads_words(value, enabled):
    assert _config.kernels_enabled_by(value) == (enabled, None)


@pytest.mark.parametrize("value", ["2", "disable", "y", "-1"])
def test_switch_refuses_other_words_and_turns_kernels_off(value):
    enabled, message = _config.kernels_enabled_by(value)
    assert not enabled
    assert f"SKMLP_DISABLE_NUMBA={value!r} is not understood" in message
    assert "1, true, yes, on" in message and "'0', 'false', 'no', 'off'" in message


def test_unknown_word_in_the_environment_warns_at_import_and_keeps_numba_out(tmp_path):
    report = run_child(tmp_path, "", env={"SKMLP_DISABLE_NUMBA": "disable"})
    assert not report["kernels"] and not report["numba_imported"]
    assert report["warnings"] == [[
        "KernelWarning",
        "SKMLP_DISABLE_NUMBA='disable' is not understood; the numba kernels are off. Use one "
        "of 1, true, yes, on to disable them, or one of '', '0', 'false', 'no', 'off' to "
        "enable them."]]


@needs_numba
def test_false_in_the_environment_enables_the_kernels(warm_cache, numpy_reference):
    report = warm_cache[2]  # run with SKMLP_DISABLE_NUMBA=" False "
    assert report["kernels"] and report["numba_imported"] and report["warnings"] == []
    assert_same_fits(report, numpy_reference, exact=False)


@pytest.fixture
def fresh_state(monkeypatch):
    """A switch on and nothing loaded yet, as in a new process; restored afterwards."""
    monkeypatch.setattr(_config, "_state", {"enabled": True, "module": None, "failed": False})
    monkeypatch.setattr(_config, "KERNELS_MIN_WORK", 0.0)  # small fits load the kernels here
    return _config._state


def test_use_kernels_is_scoped_nested_and_per_thread(fresh_state):
    fresh_state["failed"] = True  # nothing is loaded: kernels() answers from the switch
    seen = {}

    def other_thread():
        seen["enabled"] = _config._local.__dict__.get("enabled")

    with skmlp.use_kernels(False):
        assert _config._local.enabled is False
        with skmlp.use_kernels(True):
            assert _config._local.enabled is True
            t = threading.Thread(target=other_thread)
            t.start()
            t.join()
        assert _config._local.enabled is False
        with pytest.raises(ZeroDivisionError, match="division by zero"):
            with skmlp.use_kernels(True):
                assert _config._local.enabled is True
                _ = 1 / 0
        assert _config._local.enabled is False
    assert _config._local.enabled is None
    assert seen == {"enabled": None}  # the other thread keeps the process-wide setting


@needs_numba
def test_use_kernels_overrides_set_kernels(fresh_state):
    previous = skmlp.set_kernels(False)
    try:
        assert previous is True
        assert _config.kernels() is None
        with skmlp.use_kernels(True):
            assert _config.kernels() is not None
            with skmlp.use_kernels(False):
                assert _config.kernels() is None
        assert _config.kernels() is None
    finally:
        skmlp.set_kernels(previous)
    assert _config.kernels() is not None


# ---------------------------------------------------------------------------------------
# failures while loading: in this process, with the probe replaced
# ---------------------------------------------------------------------------------------
@needs_numba
def test_probe_failing_twice_warns_once_and_fits_on_the_numpy_path(fresh_state, monkeypatch):
    calls = []

    def probe(module):
        calls.append("probe")
        raise ValueError(f"bad code {len(calls)}")

    monkeypatch.setattr(_config, "_probe", probe)
    monkeypatch.setattr(_config, "_flush_cache", lambda module: calls.append("flush"))
    X, y = make_classification(n_samples=60, n_features=5, n_informative=3, n_classes=3,
                               random_state=0)
    make = lambda: skmlp.MLPClassifierFromScratch(hidden_layer_sizes=(8,), max_iter=3, tol=0,  # noqa: E731
                                                  random_state=0)
    with pytest.warns(_config.KernelWarning) as record:
        model = make().fit(X, y)
    messages = [str(w.message) for w in record if w.category is _config.KernelWarning]
    assert messages == [
        "skmlp's numba kernels cannot be used (loading them failed with ValueError: bad code "
        "1, and compiling them afresh with ValueError: bad code 3); training runs the numpy "
        "reference instead, which computes the same model. Set SKMLP_DISABLE_NUMBA=1 to skip "
        "the kernels and this warning."]
    assert calls == ["probe", "flush", "probe"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", _config.KernelWarning)  # never again in this process
        again = make().fit(X, y)
        assert _config.kernels() is None
    with skmlp.use_kernels(False):
        reference = make().fit(X, y)
    for fitted in (model, again):
        for a, b in zip(fitted.coefs_ + fitted.intercepts_,
                        reference.coefs_ + reference.intercepts_, strict=True):
            np.testing.assert_array_equal(a, b)


@needs_numba
def test_probe_failing_once_repairs_silently(fresh_state, monkeypatch):
    real_probe, calls = _config._probe, []

    def probe(module):
        calls.append("probe")
        if len(calls) == 1:
            raise EOFError("damaged cache file")
        real_probe(module)

    monkeypatch.setattr(_config, "_probe", probe)
    monkeypatch.setattr(_config, "_flush_cache", lambda module: calls.append("flush"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", _config.KernelWarning)
        assert _config.kernels() is not None
        assert _config.kernels() is not None  # loaded once
    assert calls == ["probe", "flush", "probe"]


# ---------------------------------------------------------------------------------------
# failures while loading: real subprocesses
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("error, cause", [
    ('OSError("libllvmlite.so: cannot open shared object file")',
     "OSError: libllvmlite.so: cannot open shared object file"),
    ('RuntimeError("llvmlite was built for another LLVM")',
     "RuntimeError: llvmlite was built for another LLVM"),
    ('ImportError("Numba needs NumPy 2.3 or less")',
     "ImportError: Numba needs NumPy 2.3 or less"),
    ('ModuleNotFoundError("No module named \'numba\'", name="numba")', None),
])
def test_a_broken_numba_falls_back_to_numpy_with_one_warning(tmp_path, numpy_reference, error,
                                                             cause):
    report = run_child(tmp_path, RAISE_ON_NUMBA.format(error=error))
    assert not report["kernels"] and report["numba_usable"]
    if cause is None:  # numba not installed: the documented optional case, silent
        assert report["warnings"] == []
    else:
        assert kernel_warnings(report) == [
            f"skmlp's numba kernels cannot be used (importing numba failed: {cause}); "
            f"training runs the numpy reference instead, which computes the same model. "
            f"Set SKMLP_DISABLE_NUMBA=1 to skip the kernels and this warning."]
        assert len(report["warnings"]) == 1
    assert_same_fits(report, numpy_reference, exact=True)


@needs_numba
def test_a_damaged_cache_is_repaired_and_the_fits_use_the_kernels(tmp_path, warm_cache,
                                                                  numpy_reference):
    cache = tmp_path / "cache"
    shutil.copytree(warm_cache[0], cache)
    data_files = sorted(cache.rglob("*.nbc"))
    index_files = sorted(cache.rglob("*.nbi"))
    for i, path in enumerate(data_files):  # garbage, or a truncated pickle
        path.write_bytes(b"not a pickle" if i % 2 else path.read_bytes()[:40])
    index_files[0].write_bytes(index_files[0].read_bytes()[:-7])
    # float64 fits only: the repair compiles every kernel and one signature of the epoch
    # loop, not a second one (seconds of the suite)
    only_64 = {"FIT_DTYPES": "float64"}
    report = run_child(tmp_path, "", cache=cache, env=only_64)
    assert report["kernels"] and report["warnings"] == []
    assert_same_fits(report, {"fits": numpy_reference["fits"][::2]}, exact=False)
    # repaired on disk: the next process loads without a word
    again = run_child(tmp_path, "", cache=cache, env=only_64)
    assert again["kernels"] and again["warnings"] == []
    assert_same_fits(again, report, exact=True)


@needs_numba
def test_ctrl_c_while_numba_imports_is_held_until_it_has_loaded(tmp_path, warm_cache,
                                                                numpy_reference):
    hook = MIDWAY_THROUGH_NUMBA.format(action='print("midway", flush=True); time.sleep(1)')
    report = run_child(tmp_path, hook, cache=warm_cache[0], sigint_at="midway")
    assert report["kernels"] and report["numba_usable"]
    # the first fit kept its complete epochs (none), the three later ones trained in full
    assert len(report["warnings"]) == 1 and "interrupted" in report["warnings"][0][1]
    assert_same_fits({"fits": report["fits"][1:]}, {"fits": numpy_reference["fits"][1:]},
                     exact=False)


@needs_numba
def test_an_interrupt_inside_the_import_leaves_numba_importable(tmp_path, warm_cache,
                                                                numpy_reference):
    # where a Ctrl-C cannot be held (raised by other means): the half-imported numba
    # modules are removed and the next fit imports numba again
    hook = MIDWAY_THROUGH_NUMBA.format(action="raise KeyboardInterrupt")
    report = run_child(tmp_path, hook, cache=warm_cache[0])
    assert report["kernels"] and report["numba_usable"]
    assert len(report["warnings"]) == 1 and "interrupted" in report["warnings"][0][1]
    assert_same_fits({"fits": report["fits"][1:]}, {"fits": numpy_reference["fits"][1:]},
                     exact=False)


@needs_numba
def test_predicting_with_a_loaded_model_never_imports_numba(tmp_path, warm_cache):
    script = tmp_path / "predict.py"
    script.write_text(textwrap.dedent(f"""
        import pickle, sys
        import numpy as np
        with open({str(warm_cache[1])!r}, "rb") as f:
            model = pickle.load(f)
        P = model.predict_proba(np.ones((3, 6), dtype="float32"))
        model.predict(np.zeros((2, 6)))
        assert np.allclose(P.sum(axis=1), 1)
        print("numba" in sys.modules, "skmlp._kernels" in sys.modules)
    """))
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                         text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fits_compile_nothing_the_probe_did_not(fresh_state, dtype):
    # what a fit calls was compiled or loaded by the probe: no fit can fail midway on a
    # kernel's first call (a damaged cache entry, a compiler error)
    from numba.core.dispatcher import Dispatcher

    module = _config.kernels()
    assert module is not None
    dispatchers = [d for d in vars(module).values() if isinstance(d, Dispatcher)]
    before = [list(d.overloads) for d in dispatchers]
    X, y = make_classification(n_samples=50, n_features=5, n_informative=3, n_classes=3,
                               random_state=0)
    X = X.astype(dtype)
    for solver in ("adam", "sgd"):
        for activation in ("relu", "logistic", "tanh", "identity"):
            params = dict(hidden_layer_sizes=(6, 1), max_iter=2, solver=solver,
                          activation=activation, dropout=0.2, random_state=0)
            skmlp.MLPClassifierFromScratch(**params).fit(X, y, sample_weight=np.ones(50))
            skmlp.MLPClassifierFromScratch(**params).fit(X, y == 0)
            skmlp.MLPRegressorFromScratch(**params).fit(X, y.astype(dtype))
    assert [list(d.overloads) for d in dispatchers] == before


# makes the import of the compiled epoch loop raise what a broken numba or llvmlite may
# raise there (not only ImportError: a changed numba API gives a TypeError, say)
RAISE_ON_EPOCH_LOOP = """
class Broken:
    def find_spec(self, name, path=None, target=None):
        if name == "skmlp._epoch_loop":
            raise RuntimeError("llvmlite cannot add the symbol")
sys.meta_path.insert(0, Broken())
"""


@needs_numba
def test_an_epoch_loop_that_cannot_be_imported_leaves_the_kernels_with_one_warning(
        tmp_path, warm_cache, numpy_reference):
    report = run_child(tmp_path, RAISE_ON_EPOCH_LOOP, cache=warm_cache[0])
    assert report["kernels"]  # the per-step kernels still run
    assert kernel_warnings(report) == [
        "skmlp's compiled epoch loop cannot be used (RuntimeError: llvmlite cannot add the "
        "symbol); training runs the Python loop, which computes the same model."]
    assert len(report["warnings"]) == 1
    assert_same_fits(report, numpy_reference, exact=True)


@needs_numba
def test_numbas_disable_jit_switch_runs_the_numpy_path_silently(tmp_path, warm_cache,
                                                                numpy_reference):
    # NUMBA_DISABLE_JIT=1 (coverage runs, debugging) would run the kernels as Python and
    # the compiled loop not at all (its BLAS calls are compiled code)
    report = run_child(tmp_path, cache=warm_cache[0], env={"NUMBA_DISABLE_JIT": "1"})
    assert not report["kernels"] and report["warnings"] == []
    assert_same_fits(report, numpy_reference, exact=True)
