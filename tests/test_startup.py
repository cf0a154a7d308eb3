"""The size rule: a fit too small to repay loading numba runs the numpy path (issue 19).

``skmlp._config.KERNELS_MIN_WORK`` (``SKMLP_KERNELS_MIN_WORK`` in the environment) is the
work below which a fit, in a process whose kernels are not loaded yet, never imports
numba. The model is bitwise the same on either path.
"""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification

import skmlp
from skmlp import _config

needs_numba = pytest.mark.skipif(importlib.util.find_spec("numba") is None,
                                 reason="numba is not installed")

# a fresh process: a small fit under a threshold it does not reach, then the same fit with
# the threshold lowered below its work; what was imported after each, and the weights
CHILD = """
import json, sys, warnings
warnings.simplefilter("ignore")
from sklearn.datasets import make_classification
import skmlp
from skmlp import _config

X, y = make_classification(n_samples=120, n_features=8, n_informative=5, n_classes=3,
                           random_state=0)
params = dict(hidden_layer_sizes=(10,), max_iter=5, random_state=0)
report = {"min_work": _config.KERNELS_MIN_WORK}
small = skmlp.MLPClassifierFromScratch(**params).fit(X, y)
report["numba_after_small"] = "numba" in sys.modules
report["small"] = [c.tolist() for c in small.coefs_ + small.intercepts_]
_config.KERNELS_MIN_WORK = 1.0
large = skmlp.MLPClassifierFromScratch(**params).fit(X, y)
report["numba_after_large"] = "numba" in sys.modules
report["kernels_loaded"] = _config._state["module"] is not None
report["large"] = [c.tolist() for c in large.coefs_ + large.intercepts_]
print(json.dumps(report))
"""


def run_child(tmp_path, min_work):
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD))
    env = {k: v for k, v in os.environ.items() if k != _config.ENV_VAR}
    env["SKMLP_KERNELS_MIN_WORK"] = min_work
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, text=True,
                         capture_output=True, timeout=300, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@needs_numba
def test_a_small_fit_never_imports_numba_and_a_large_one_uses_the_kernels(tmp_path):
    # work of the small fit: 120 samples x (9 x 10) weights x 5 epochs = 54000
    report = run_child(tmp_path, "1e6")
    assert report["min_work"] == 1e6
    assert not report["numba_after_small"]
    assert report["numba_after_large"] and report["kernels_loaded"]
    for a, b in zip(report["small"], report["large"], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def fresh_state(monkeypatch):
    """Kernels on and not loaded, no numpy work counted, numba's cache warm; restored
    afterwards. Loading is replaced by a counter (the list returned)."""
    monkeypatch.setattr(_config, "_state", {"enabled": True, "module": None, "failed": False,
                                            "cache_holds_code": True})
    loads = []

    def counting_load():
        loads.append(1)
        _config._state["failed"] = True  # stands for a load; nothing is imported
        return None

    monkeypatch.setattr(_config, "_load", counting_load)
    return loads


def small_data():
    return make_classification(n_samples=60, n_features=5, n_informative=3, n_classes=3,
                               random_state=0)


def test_work_is_samples_times_weights_times_epochs():
    assert _config.fit_work(100, [5, 10, 3], 7) == 100 * (6 * 10 + 11 * 3) * 7
    X = np.zeros((40, 6))
    assert _config.estimate_fit_work(X, (4, 2), 3) == 40 * (7 * 4 + 5 * 2) * 3
    assert _config.estimate_fit_work(X, 4, 3) == 40 * 7 * 4 * 3
    # unknown before validation: the switch is left as it is
    assert _config.estimate_fit_work(X.tolist(), (4,), 3) is None
    assert _config.estimate_fit_work(X, (4,), "auto") is None
    assert _config.estimate_fit_work(X[0], (4,), 3) is None


def test_the_rule_counts_numpy_work_until_it_repays_the_loading(fresh_state, monkeypatch):
    X, y = small_data()
    params = dict(hidden_layer_sizes=(4,), max_iter=3, tol=0, random_state=0)
    work = _config.estimate_fit_work(X, (4,), 3)  # 60 x 24 x 3 = 4320
    monkeypatch.setattr(_config, "KERNELS_MIN_WORK", 2.5 * work)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the third fit would reach 3 x work >= 2.5 x work: it loads the kernels
        for loads, numpy_work in ((0, work), (0, 2 * work), (1, 2 * work)):
            skmlp.MLPClassifierFromScratch(**params).fit(X, y)
            assert len(fresh_state) == loads
            assert _config._state["numpy_work"] == numpy_work
        # partial_fit counts one epoch
        _config._state.update(failed=False, numpy_work=0.0)
        skmlp.MLPClassifierFromScratch(**params).partial_fit(X, y, classes=[0, 1, 2])
        assert _config._state["numpy_work"] == work / 3 and len(fresh_state) == 1


def test_explicit_settings_win_over_the_rule(fresh_state, monkeypatch):
    X, y = small_data()
    params = dict(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    monkeypatch.setattr(_config, "KERNELS_MIN_WORK", 1e12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with skmlp.use_kernels(True):  # asked for: loaded whatever the size
            skmlp.MLPClassifierFromScratch(**params).fit(X, y)
        assert len(fresh_state) == 1 and "numpy_work" not in _config._state
        _config._state["failed"] = False
        previous = skmlp.set_kernels(True)  # asked for, for the process: the same
        try:
            skmlp.MLPClassifierFromScratch(**params).fit(X, y)
            assert len(fresh_state) == 2 and "numpy_work" not in _config._state
            _config._state["failed"] = False
            skmlp.set_kernels(False)  # off stays off, not counted as the rule's numpy work
            skmlp.MLPClassifierFromScratch(**params).fit(X, y)
        finally:
            skmlp.set_kernels(previous)
        assert len(fresh_state) == 2 and "numpy_work" not in _config._state
        _config._state["requested"] = False  # as in a process where nobody asked
        # the rule's numpy path ends with the fit: the switch is on again afterwards
        skmlp.MLPClassifierFromScratch(**params).fit(X, y)
        assert len(fresh_state) == 2 and _config._state["numpy_work"] > 0
        assert getattr(_config._local, "enabled", None) is None
        assert _config.kernels() is None and len(fresh_state) == 3


def test_the_environment_sets_the_threshold_and_refuses_words(monkeypatch):
    monkeypatch.setenv("SKMLP_KERNELS_MIN_WORK", " 2.5e9 ")
    assert _config._min_work_from_environment() == 2.5e9
    monkeypatch.setenv("SKMLP_KERNELS_MIN_WORK", "0")  # the rule off
    assert _config._min_work_from_environment() == 0.0
    monkeypatch.setenv("SKMLP_KERNELS_MIN_WORK", "")
    assert _config._min_work_from_environment() == _config.DEFAULT_KERNELS_MIN_WORK == 4e9
    monkeypatch.setenv("SKMLP_KERNELS_MIN_WORK", "lots")
    with pytest.warns(_config.KernelWarning, match="SKMLP_KERNELS_MIN_WORK='lots' is not a "
                                                   "number; using the default 4e"):
        assert _config._min_work_from_environment() == 4e9


# --- on a cold cache the threshold is what compiling costs ------------------------------
def small_fit(monkeypatch, threshold):
    """A 3-epoch fit of ``small_data``, and its work; the size rule's threshold set to
    ``threshold`` times that work."""
    X, y = small_data()
    work = _config.estimate_fit_work(X, (4,), 3)
    monkeypatch.setattr(_config, "KERNELS_MIN_WORK", threshold * work)

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            skmlp.MLPClassifierFromScratch((4,), max_iter=3, tol=0, random_state=0).fit(X, y)

    return fit, work


def test_on_a_cold_cache_fits_run_numpy_until_their_work_repays_a_compile(fresh_state,
                                                                          monkeypatch):
    fit, work = small_fit(monkeypatch, 2.5)
    monkeypatch.setattr(_config, "COLD_CACHE_FACTOR", 2)  # a compile repaid from 5 x work
    _config._state["cache_holds_code"] = False
    # the third and fourth fits are above the warm threshold, below the cold one
    for loads, numpy_work in ((0, 1), (0, 2), (0, 3), (0, 4), (1, 4)):
        fit()
        assert len(fresh_state) == loads
        assert _config._state["numpy_work"] == numpy_work * work
    # a warm cache: the warm threshold again
    _config._state.update(failed=False, numpy_work=2 * work, cache_holds_code=True)
    fit()
    assert len(fresh_state) == 2 and _config._state["numpy_work"] == 2 * work


def test_the_cache_is_read_once_and_only_for_a_fit_above_the_threshold(fresh_state,
                                                                       monkeypatch):
    fit, _ = small_fit(monkeypatch, 1.5)
    reads = []
    monkeypatch.setattr(_config, "_read_cache_index", lambda: reads.append(1) or False)
    del _config._state["cache_holds_code"]
    for n_reads in (0, 1, 1):  # below the threshold; above it (cold: numpy); again
        fit()
        assert len(reads) == n_reads and len(fresh_state) == 0
    assert _config._state["cache_holds_code"] is False


class FakeCache:
    """What ``_compiled_here`` reads of a numba dispatcher: its cache index (keys of
    signature, CPU, source hash) and numba's key for a signature on this CPU."""

    def __init__(self, index):
        self._cache_file = self
        self.index = index

    def _load_index(self):
        return self.index

    def _index_key(self, sig, codegen):
        return (sig, codegen.magic, "source hash")


class FakeDispatcher:
    def __init__(self, index, cpu="this cpu"):
        self._cache = FakeCache(index)
        self.targetctx = self
        self.magic = cpu

    def codegen(self):
        return self


def test_only_code_compiled_for_this_cpu_and_source_counts():
    here = ("sig", "this cpu", "source hash")
    assert _config._compiled_here(FakeDispatcher({here: "file.nbc"}))
    assert not _config._compiled_here(FakeDispatcher({}))  # nothing compiled
    # compiled on another CPU (a cache restored on other hardware), or from another source
    assert not _config._compiled_here(FakeDispatcher({("sig", "other cpu", "source hash"): 1}))
    assert not _config._compiled_here(FakeDispatcher({("sig", "this cpu", "older"): 1}))
    assert _config._compiled_here(FakeDispatcher({("sig", "other cpu", "source hash"): 1,
                                                  here: 2}))
    # numba's internals not as expected: the loading goes on as before the check
    assert _config._compiled_here(object())


@needs_numba
@pytest.mark.parametrize("kernels, loop, blas, warm", [
    (True, True, "lib", True), (True, False, "lib", False), (False, True, "lib", False),
    (True, False, None, True),  # no numpy OpenBLAS: the loop never runs, the kernels answer
    (False, False, None, False)])
def test_the_cache_is_warm_when_the_kernels_and_the_loop_are_compiled(
        monkeypatch, kernels, loop, blas, warm):
    from skmlp import _epoch_loop, _kernels

    compiled = {id(_kernels._adam_kernel): kernels, id(_epoch_loop._epoch): loop}
    monkeypatch.setattr(_config, "_compiled_here", lambda d: compiled[id(d)])
    monkeypatch.setattr(_epoch_loop, "BLAS_LIBRARY", blas)
    assert _config._read_cache_index() is warm


# a fresh process with an empty numba cache: the check, then a fit above the warm threshold
COLD_CHILD = """
import json, os, sys, warnings
warnings.simplefilter("ignore")
from sklearn.datasets import make_classification
import skmlp
from skmlp import _config

X, y = make_classification(n_samples=120, n_features=8, n_informative=5, n_classes=3,
                           random_state=0)
model = skmlp.MLPClassifierFromScratch(hidden_layer_sizes=(10,), max_iter=5,
                                       random_state=0).fit(X, y)
print(json.dumps({
    "min_work": _config.KERNELS_MIN_WORK,
    "cache_holds_code": _config._state.get("cache_holds_code"),
    "kernels_loaded": _config._state["module"] is not None,
    "numpy_work": _config._state.get("numpy_work"),
    "cached_files": [f for _, _, files in os.walk(os.environ["NUMBA_CACHE_DIR"])
                     for f in files if f.endswith((".nbi", ".nbc"))],
    "weights": [c.tolist() for c in model.coefs_ + model.intercepts_],
}))
"""


def run_script(tmp_path, source, **env):
    """The JSON report of ``source`` run in a new process, skmlp's switch unset, ``env``
    added (the fit in these children is in the cold-cache window of a 1e4 threshold)."""
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(source))
    full = {k: v for k, v in os.environ.items() if k != _config.ENV_VAR}
    full.update(SKMLP_KERNELS_MIN_WORK="1e4", **env)
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=full, text=True,
                         capture_output=True, timeout=300, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def assert_numpy_path_model(weights):
    """``weights`` (the children's fit, as lists) are the numpy path's, bitwise."""
    X, y = make_classification(n_samples=120, n_features=8, n_informative=5, n_classes=3,
                               random_state=0)
    with skmlp.use_kernels(False), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = skmlp.MLPClassifierFromScratch(hidden_layer_sizes=(10,), max_iter=5,
                                               random_state=0).fit(X, y)
    for a, b in zip(weights, model.coefs_ + model.intercepts_, strict=True):
        np.testing.assert_array_equal(a, b)


@needs_numba
def test_a_fit_on_a_cold_cache_runs_numpy_and_compiles_nothing(tmp_path):
    report = run_script(tmp_path, COLD_CHILD, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    work = 120 * (9 * 10) * 5  # 54000: above 1e4, below 1e4 x COLD_CACHE_FACTOR
    assert report["min_work"] == 1e4 < work < 1e4 * _config.COLD_CACHE_FACTOR
    assert report["cache_holds_code"] is False and not report["kernels_loaded"]
    assert report["numpy_work"] == work and report["cached_files"] == []
    assert_numpy_path_model(report["weights"])


@needs_numba
def test_the_check_finds_this_processs_compiled_kernels_and_loop():
    # the session compiled (or loaded) them before the tests (conftest's loaded_kernels)
    if _config.kernels() is None:
        pytest.skip("the kernels did not load")
    assert _config._read_cache_index() is True


# a numba whose import fails (not a missing one): the fit above the threshold reads the
# cache, which cannot tell; the loading then fails and says why, once
BROKEN_NUMBA_CHILD = """
import json, warnings
from sklearn.datasets import make_classification
import skmlp
from skmlp import _config

X, y = make_classification(n_samples=120, n_features=8, n_informative=5, n_classes=3,
                           random_state=0)
with warnings.catch_warnings(record=True) as record:
    warnings.simplefilter("always")
    model = skmlp.MLPClassifierFromScratch(hidden_layer_sizes=(10,), max_iter=5,
                                           random_state=0).fit(X, y)
print(json.dumps({
    "cache_holds_code": _config._state.get("cache_holds_code"),
    "failed": _config._state["failed"],
    "kernel_warnings": [str(w.message) for w in record
                        if w.category is _config.KernelWarning],
    "weights": [c.tolist() for c in model.coefs_ + model.intercepts_],
}))
"""


def test_a_numba_that_fails_to_import_is_reported_once_above_the_threshold(tmp_path):
    fake = tmp_path / "site" / "numba"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('llvmlite library not loaded')\n")
    path = [str(tmp_path / "site"), *filter(None, [os.environ.get("PYTHONPATH")])]
    report = run_script(tmp_path, BROKEN_NUMBA_CHILD, PYTHONPATH=os.pathsep.join(path))
    assert report["cache_holds_code"] is True and report["failed"] is True
    assert len(report["kernel_warnings"]) == 1
    assert "llvmlite library not loaded" in report["kernel_warnings"][0]
    assert_numpy_path_model(report["weights"])
