"""Fixtures every test module shares: data sets (each built once per session, named by
what it holds), the BLAS thread limit, the kernel switch, and the kernels loaded once."""

import fcntl
import importlib.util
import os
import signal
import warnings

import numpy as np
import pytest
from sklearn.base import is_classifier
from sklearn.datasets import (
    load_diabetes,
    load_digits,
    make_classification,
    make_multilabel_classification,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skmlp import MLPClassifierFromScratch, _config, set_kernels, use_kernels


def _draw_without_local_constants():
    """Hypothesis (6.131 on) mixes constants it finds in the loaded non-installed modules
    (skmlp's source) into its draws. Which modules a worker has loaded depends on the
    tests it ran before, and any edit to skmlp changes the set: the derandomized state
    machines and fuzzers then ran other examples with each edit and each test order (a
    coverage assertion failed that way after an unrelated change). Without them, the
    examples depend on the test alone. Private API: if Hypothesis moves it, nothing
    is patched (and the tests still run, as before)."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:
        return
    empty = getattr(providers, "_local_constants", None)
    if empty is not None and hasattr(providers, "_get_local_constants"):
        providers._get_local_constants = lambda: empty


_draw_without_local_constants()


@pytest.fixture(scope="session")
def three_classes():
    """300 x 10 standardised features, 3 classes: (X, y)."""
    X, y = make_classification(n_samples=300, n_features=10, n_informative=6, n_classes=3,
                               random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="session")
def binary():
    """200 x 6 standardised features, 2 classes: (X, y)."""
    X, y = make_classification(n_samples=200, n_features=6, n_informative=4, random_state=1)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="session")
def multilabel():
    """150 x 10 features, 4 labels as an indicator matrix: (X, Y)."""
    X, Y = make_multilabel_classification(n_samples=150, n_features=10, n_classes=4,
                                          random_state=0)
    return StandardScaler().fit_transform(X), Y


@pytest.fixture(scope="session")
def imbalanced():
    """7%-minority binary problem, split: (X_train, X_test, y_train, y_test)."""
    X, y = make_classification(n_samples=600, n_features=10, n_informative=4,
                               weights=[0.93, 0.07], flip_y=0.02, class_sep=0.6, random_state=1)
    return train_test_split(StandardScaler().fit_transform(X), y, stratify=y, random_state=0)


@pytest.fixture(scope="session")
def digits_split():
    """Digits, standardised on the training part: (X_train, X_test, y_train, y_test)."""
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te


@pytest.fixture(scope="session")
def regression():
    """Diabetes, standardised features and target: (X, y)."""
    X, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(X), (y - y.mean()) / y.std()


@pytest.fixture
def problem(request, three_classes, regression):
    """(X, y) for the estimator class a test is parametrized with as ``Est``:
    ``three_classes`` for a classifier, ``regression`` for a regressor."""
    return three_classes if is_classifier(request.node.callspec.params["Est"]()) else regression


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# --- how the tests run ------------------------------------------------------------------------
# A shell that starts pytest in the background (`make test &` without job control) leaves
# SIGINT ignored, which the processes it starts inherit: then no real Ctrl-C reaches the
# fits, and the Ctrl-C tests (a SIGINT sent to the test process or to a child) would test
# nothing, or fail. Python's own handler is put back, as an interactive run has it; the
# children inherit the default disposition and install theirs.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``slow`` run first, each group in its collection order.

    ``make test`` runs two pytest-xdist workers, which take tests in collection order.
    The longest tests (the long fuzz run alone takes ~90 s of a ~4 min suite) then start
    at once and the short ones fill in around them, instead of one of them starting
    near the end and keeping a worker busy long after the other has finished (measured:
    162 s instead of 239 s for the whole suite on 2 shared cores).
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)



@pytest.fixture(scope="module")
def one_blas_thread():
    """BLAS on one thread for a module (``pytestmark = pytest.mark.usefixtures(...)``).

    The tests' matrices are small: BLAS threads only slow them down, badly so when other
    processes share the cores. Both sides of a comparison run under the same limit.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module", params=["kernels", "numpy"])
def kernel_setting(request):
    """Runs a whole module twice: with skmlp's numba kernels (when numba is installed) and
    with the numpy reference (``pytestmark = pytest.mark.usefixtures("kernel_setting")``).

    Yields "kernels" or "numpy".
    """
    if request.param == "kernels":
        pytest.importorskip("numba")
    previous = set_kernels(request.param == "kernels")
    # the kernels really run (skmlp falls back to numpy if they fail to load); no public
    # name says which path a fit takes, so this asks the switch itself
    assert (_config.kernels() is not None) == (request.param == "kernels")
    yield request.param
    set_kernels(previous)


@pytest.fixture(scope="session", autouse=True)
def loaded_kernels(tmp_path_factory):
    """Load (on a cold cache: compile) the numba kernels and the compiled epoch loop once,
    before any test runs.

    Otherwise the first test that trains with the kernels pays it: ~14 s with numba's
    disk cache empty, ~1 s with it warm. Under pytest-xdist the workers take turns on a
    lock in the session's shared temporary directory to import numba and probe the
    kernels (``_config.kernels()``: every kernel in float32 and float64), so the first
    compiles them into the disk cache and the other only loads them. Then each worker
    compiles (or loads) the epoch loop for one dtype, the first float64 and the second
    float32, at the same time: both are cached before the tests begin, each compiled
    once (one after the other, the second worker waited for the float64 loop and both
    later compiled the float32 one). A kernel that fails to load warns, and the warning
    fails this fixture.

    Yields True when the kernels were loaded; False without numba, or with
    ``SKMLP_DISABLE_NUMBA`` set (a run that asked for the numpy path loads nothing).
    """
    if importlib.util.find_spec("numba") is None or os.environ.get("SKMLP_DISABLE_NUMBA"):
        yield False
        return
    lock = tmp_path_factory.getbasetemp().parent / "skmlp-kernels.lock"
    X, y = make_classification(n_samples=20, n_features=3, n_informative=2, n_redundant=0,
                               random_state=0)
    dtype = np.float32 if os.environ.get("PYTEST_XDIST_WORKER") == "gw1" else np.float64
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # one epoch, on purpose
        warnings.simplefilter("error", RuntimeWarning)  # a kernel that did not load
        with use_kernels(True):
            with open(lock, "w") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    assert _config.kernels() is not None
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
            MLPClassifierFromScratch((2,), max_iter=1, random_state=0).fit(X.astype(dtype), y)
    yield True
