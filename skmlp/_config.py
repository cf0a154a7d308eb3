"""Whether the numba kernels run, and loading them so that they can never break a fit.

The switch: ``SKMLP_DISABLE_NUMBA`` in the environment (read when skmlp is imported),
:func:`set_kernels` for the whole process, :func:`use_kernels` for a block of code in
one thread (scoped and thread-local, as ``sklearn.config_context``). The numpy
reference computes the same model when the kernels are off. :func:`kernels` answers
the switch; ``skmlp._ops`` is the one module that asks it and calls the kernels.

Loading: the first :func:`kernels` call of a process (inside the first fit that trains)
imports numba and ``skmlp._kernels``, then *probes* every kernel in float32 and float64
on tiny arrays and checks the results against the formulas of their docstrings. Only a
module that passed the probe is handed out, so a kernel that cannot be imported,
compiled or loaded from numba's disk cache fails here, before any fit has run a kernel
step (a fit never switches between kernels and numpy midway). A probe that fails once
empties numba's cache index of the kernels and probes again, which compiles afresh what
did not load (a damaged cache is repaired for later processes too); if that fails as
well, or numba cannot be imported, the numpy path runs for the rest of the process
after one :class:`KernelWarning` naming the cause. numba not being installed at all is
the documented optional case and stays silent.

The size rule (:data:`KERNELS_MIN_WORK`, :func:`kernels_for_work`): a fit too small to
repay that loading runs the numpy path, inside a ``use_kernels(False)`` scope the fit
driver opens, and numba is not imported; explicit settings win over it. When numba's disk
cache is cold (:func:`cache_holds_code`), loading means compiling, and the threshold is
:data:`COLD_CACHE_FACTOR` times higher.

Cost, measured on a loaded 2-core machine with a warm cache: importing numba ~0.24 s,
the probe ~0.2 s for the first dtype (mostly numba's own start-up, which the first kernel
call pays anyway) and ~0.03 s for the second; compiling into an empty cache, once per
machine, ~10.5 s on a 2-core Intel Xeon (the kernels 4.5 s, a float64 epoch loop 6 s).

A Ctrl-C during the loading is held until it ends (on the main thread), so numba is
never left half-imported; any other interruption of the import removes the modules it
had added, so that a later call imports them again.
"""

import os
import sys
import threading
import warnings
from contextlib import contextmanager
from numbers import Integral

import numpy as np

from ._interrupt import deferred_interrupt

#: the environment variable that switches the kernels off
ENV_VAR = "SKMLP_DISABLE_NUMBA"
_OFF_WORDS = ("1", "true", "yes", "on")
_ON_WORDS = ("", "0", "false", "no", "off")


class KernelWarning(RuntimeWarning):
    """The numba kernels cannot be used in this process: the numpy reference runs instead."""


def kernels_enabled_by(value):
    """Whether ``SKMLP_DISABLE_NUMBA=value`` leaves the kernels on, and what to warn.

    Parameters
    ----------
    value : str or None
        The variable's value; None when it is not set.

    Returns
    -------
    enabled : bool
        False for "1", "true", "yes", "on"; True for unset, "", "0", "false", "no",
        "off" (any case, surrounding blanks ignored). Any other value also gives False:
        whoever set a variable named DISABLE most likely meant to disable, and the numpy
        path computes the same model.
    message : str or None
        Why the value was not understood, for a warning; None when it was.
    """
    word = "" if value is None else value.strip().lower()
    if word in _ON_WORDS:
        return True, None
    if word in _OFF_WORDS:
        return False, None
    return False, (f"{ENV_VAR}={value!r} is not understood; the numba kernels are off. "
                   f"Use one of {', '.join(_OFF_WORDS)} to disable them, or one of "
                   f"{', '.join(repr(w) for w in _ON_WORDS)} to enable them.")


def _switch_from_environment():
    enabled, message = kernels_enabled_by(os.environ.get(ENV_VAR))
    if message is not None:
        warnings.warn(message, KernelWarning, stacklevel=2)
    return enabled


# enabled: the process-wide switch; module: _kernels once it passed the probe; failed:
# the import or the probe failed (warned once), the numpy path runs from then on
_state = {"enabled": _switch_from_environment(), "module": None, "failed": False}
_local = threading.local()  # .enabled: this thread's use_kernels() setting, when inside one
_load_lock = threading.Lock()


def kernels():
    """The kernels module when the kernels are on and work, else None.

    Cheap once the kernels are loaded (``skmlp._ops`` asks at every step of a training
    batch). The first call with the kernels on imports and probes them in both dtypes
    (see the module docstring); it may emit one :class:`KernelWarning` and return None
    for good.

    Both dtypes, not the caller's: one fit may run kernels in either (float32 inputs
    with float64 targets give float64 errors), and a probe that fails between two kernel
    steps of a fit would leave that fit half on the kernels, half on numpy. The second
    dtype costs ~0.03 s with a warm cache.

    Returns
    -------
    module or None
        ``skmlp._kernels``, whose kernels have all run correctly in float32 and float64
        in this process.
    """
    enabled = getattr(_local, "enabled", None)
    if not (_state["enabled"] if enabled is None else enabled):
        return None
    if _state["module"] is not None or _state["failed"]:
        return _state["module"]
    return _load()


def set_kernels(enabled):
    """Turn the numba kernels on or off for this process; returns the previous setting.

    A :func:`use_kernels` block in effect in a thread overrides this there. Turned on
    here, the kernels run in fits of any size (the size rule, :data:`KERNELS_MIN_WORK`,
    applies only while nobody asked for them).
    """
    previous = _state["enabled"]
    _state["enabled"] = bool(enabled)
    _state["requested"] = bool(enabled)
    return previous


@contextmanager
def use_kernels(enabled=True):
    """Kernels on or off for the fits run inside the ``with`` block, in this thread.

    The setting before the block comes back when it ends, exceptions included; blocks
    nest. The setting is thread-local, as ``sklearn.config_context``'s: other threads,
    threads started inside the block included, keep the process-wide setting
    (:func:`set_kernels`, ``SKMLP_DISABLE_NUMBA``), as do worker processes (set the
    variable for them).

    Parameters
    ----------
    enabled : bool, default=True
        False runs the numpy reference. True runs the kernels when numba is installed
        and they work (they stay off in a process where they failed to load).

    Examples
    --------
    >>> import skmlp
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> with skmlp.use_kernels(False):  # this fit runs the numpy reference
    ...     model = skmlp.MLPClassifierFromScratch(max_iter=300).fit(X, y)
    """
    previous = getattr(_local, "enabled", None)
    _local.enabled = bool(enabled)
    try:
        yield
    finally:
        _local.enabled = previous


def _load():
    """Import and probe the kernels, or record the failure and warn once."""
    with _load_lock:  # one thread loads; the others wait and take its result
        if _state["module"] is None and not _state["failed"]:
            # no Ctrl-C midway: it would leave numba half-imported for the whole process
            with deferred_interrupt():
                module, cause = _import_and_probe()
                _state["module"], _state["failed"] = module, module is None
                if cause is not None:
                    warnings.warn(
                        f"skmlp's numba kernels cannot be used ({cause}); training runs "
                        f"the numpy reference instead, which computes the same model. "
                        f"Set {ENV_VAR}=1 to skip the kernels and this warning.",
                        KernelWarning, stacklevel=3)
    return _state["module"]


def _describe(error):
    return f"{type(error).__name__}: {error}"


def _import_and_probe():
    """``(module, None)``, or ``(None, cause)`` when the kernels are unusable (None: silent)."""
    before = set(sys.modules)
    try:
        from . import _kernels
    except ModuleNotFoundError as e:
        _forget_new_modules(before)
        if e.name == "numba":  # not installed: the optional dependency, nothing to say
            return None, None
        return None, f"importing numba failed: {_describe(e)}"
    except BaseException as e:  # OSError from llvmlite's library, RuntimeError, Ctrl-C...
        _forget_new_modules(before)
        if not isinstance(e, Exception):  # KeyboardInterrupt, SystemExit: retry next time
            raise
        return None, f"importing numba failed: {_describe(e)}"
    if sys.modules["numba"].config.DISABLE_JIT:
        # numba's debugging switch (NUMBA_DISABLE_JIT=1, coverage runs): its kernels would
        # run as Python, far slower than numpy, and the compiled loop not at all
        return None, None
    try:
        _probe(_kernels)
    except Exception as first:
        # most likely a damaged cache file: empty the kernels' cache and probe again,
        # which compiles afresh whatever did not load (and saves it for later processes)
        try:
            _flush_cache(_kernels)
            _probe(_kernels)
        except Exception as second:
            return None, (f"loading them failed with {_describe(first)}, and compiling "
                          f"them afresh with {_describe(second)}")
    return _kernels, None


def _forget_new_modules(before):
    """Remove what a failed import of the kernels added to ``sys.modules``.

    A package whose import was cut short is dropped by Python, but its submodules that
    finished stay, and a later import finds them without setting them as attributes of
    the new package object (``module 'numba' has no attribute 'core'``).
    """
    for name in set(sys.modules) - before:
        if name.split(".")[0] in ("numba", "llvmlite") or name == __package__ + "._kernels":
            del sys.modules[name]
    package = sys.modules.get(__package__)
    if package is not None and "_kernels" in vars(package):
        delattr(package, "_kernels")


def _flush_cache(module):
    """Empty the disk cache index of every kernel, so that nothing more loads from it.

    What already loaded stays in memory (a probe that fails on a wrong value fails again);
    the code of a signature that failed to load was never kept, and compiles on its next
    call. Kernels another thread is running are not touched.
    """
    from numba.core.dispatcher import Dispatcher

    for obj in vars(module).values():
        if isinstance(obj, Dispatcher):
            obj._cache.flush()


def _probe(k):
    """Run every kernel the training loop calls, in float32 and float64, on tiny arrays.

    Each signature compiled or loaded here is the one a fit uses (C-contiguous, writable
    arrays of one dtype, scalars in that dtype), so a fit never meets a load or compile
    failure of its own. The results are checked against the formulas in the kernels'
    docstrings: a cache that loads but holds wrong code fails the probe too.
    """
    def check(got, expected):
        if not np.allclose(got, expected, rtol=1e-5, atol=1e-6):
            raise RuntimeError("a kernel computed a wrong value on the probe's inputs")

    for dt in (np.float32, np.float64):
        # optimizers from zero moments: 2 weights (with L2 0.1), 1 bias, 2 samples
        p = np.array([0.5, -1.0, 2.0], dt)
        raw = np.array([0.25, 0.5, -1.0], dt)
        g = (raw + 0.1 * np.array([0.5, -1.0, 0.0])) / 2
        p_adam, m, v = p.copy(), np.zeros(3, dt), np.zeros(3, dt)
        k.adam_step(p_adam, raw, m, v, 2, 0.1, 2.0, 0.9, 0.999, 0.01, 1e-8)
        check(p_adam, p - 0.01 * (0.1 * g) / (np.sqrt(0.001 * g * g) + 1e-8))
        p_sgd, velocity = p.copy(), np.zeros(3, dt)
        k.sgd_step(p_sgd, raw, velocity, 2, 0.1, 2.0, 0.9, 0.01, True)
        check(p_sgd, p + 0.9 * (-0.01 * g) - 0.01 * g)
        # a logistic hidden layer with dropout, forward and backward; the bias gradient
        Z0 = np.array([[0.5, -1.0, 2.0], [-0.25, 1.5, -3.0]], dt)
        b = np.array([0.1, -0.2, 0.3], dt)
        mask = np.array([[2.0, 0.0, 2.0], [0.0, 2.0, 2.0]], dt)
        Z, keep = Z0.copy(), np.empty_like(Z0)
        k.bias_activation(Z, b, "logistic", keep=keep, mask=mask)
        A = 1 / (1 + np.exp(-(Z0.astype(np.float64) + b)))
        check(keep, A)
        check(Z, A * mask)
        delta = Z0[::-1].copy()
        k.activation_derivative(keep, delta, "logistic", mask=mask)
        check(delta, Z0[::-1] * mask * A * (1 - A))
        check(k.column_sums(delta, np.empty(3, dt)), delta.sum(axis=0))


# --- the size rule: no numba for a fit too small to repay loading it ---------------------
# A fit whose estimated work (:func:`fit_work`) is below KERNELS_MIN_WORK runs numpy without
# importing numba, as long as the kernels are not loaded yet in the process. Loading costs
# ~0.3 s (numba's import, the probe, the compiled epoch loop) and ~100 MiB of memory; with
# the compiled epoch loop a digits fit saves 0.175 s on 2.3e9 units (~8e-11 s a unit), so
# the kernels repay the loading from ~4e9 on. The work of the fits that ran on numpy for
# this rule is added up: once a process (a grid search's worker) has done that much, it
# loads the kernels for its next fit (a break-even rule: it cannot know whether more fits
# will come). Setting it to 0 turns the rule off; set_kernels(True) and use_kernels(True)
# ask for the kernels at any size. Measured in benchmarks/RESULTS.md ("Issue 19: start-up,
# grid search, one row"; "Issue 19, session of 2026-12-05").
# ``SKMLP_KERNELS_MIN_WORK`` in the environment (read when skmlp is imported) sets it.
#
# On a cold cache (the first fit ever on a machine, a fresh container) loading means
# compiling: ~10.5 s for the kernels and one epoch loop on a 2-core Intel Xeon, 32 x the
# 0.33 s of loading them from numba's disk cache (17 s on a 2-core AMD EPYC). A first
# 10k x 50 fit (200 epochs, 1e10 of work) took 12.5 s there instead of 3.9 s on numpy. So
# before the kernels are loaded for a fit between the two thresholds, numba's cache is
# looked at (:func:`cache_holds_code`: importing numba, 0.2 s and ~55 MiB that such a fit
# then does not use if the cache is cold, no compiling): without compiled kernels and
# epoch loop in it, such fits run numpy and their work is added up, as below the
# threshold, until it reaches KERNELS_MIN_WORK x COLD_CACHE_FACTOR, what a compile costs.
# Measured in benchmarks/RESULTS.md ("Issue 19, session of 2026-12-06 (fourth)").
#: the measured break-even (see the comment above): digits with the defaults (2.3e9) stays
#: on numpy, 60k x 784 loads the kernels
DEFAULT_KERNELS_MIN_WORK = 4e9
#: what compiling the kernels and an epoch loop costs, in units of loading them from the
#: cache (see the comment above): the work threshold is this many times higher on a cold cache
COLD_CACHE_FACTOR = 32


def _min_work_from_environment():
    value = os.environ.get("SKMLP_KERNELS_MIN_WORK", "").strip()
    try:
        return float(value) if value else DEFAULT_KERNELS_MIN_WORK
    except ValueError:
        warnings.warn(f"SKMLP_KERNELS_MIN_WORK={value!r} is not a number; using the default "
                      f"{DEFAULT_KERNELS_MIN_WORK:g}.", KernelWarning, stacklevel=2)
        return DEFAULT_KERNELS_MIN_WORK


#: the work below which a fit runs numpy without importing numba (see the comment above)
KERNELS_MIN_WORK = _min_work_from_environment()


def fit_work(n_samples, layer_sizes, n_epochs):
    """The work of a fit, for the size rule: samples x weights x epochs.

    Parameters
    ----------
    n_samples : int
    layer_sizes : sequence of int
        Units per layer, inputs first (the output layer may be left out: an estimate).
    n_epochs : int
        ``max_iter`` (an upper bound), 1 for ``partial_fit``.

    Returns
    -------
    float
    """
    weights = sum((a + 1) * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))
    return float(n_samples) * weights * n_epochs


@contextmanager
def kernels_for_work(work):
    """The numpy path for the fit run in the block when its ``work`` is too small.

    Only turns the kernels off, and only in the default state: kernels on for the process
    and not asked for (``set_kernels(True)`` or a ``use_kernels(True)`` block get the
    kernels whatever the size), no :func:`use_kernels` block in effect in this thread, and
    not loaded yet (once loaded they are faster at
    any size). The model is the same either way: every kernel is bitwise equal to its numpy
    twin. Too small is below :data:`KERNELS_MIN_WORK`, counting the work of the fits this
    rule kept on numpy before; on a cold cache (:func:`cache_holds_code` False) below
    ``KERNELS_MIN_WORK * COLD_CACHE_FACTOR``.

    Parameters
    ----------
    work : float or None
        :func:`fit_work` of the fit; None (unknown) leaves the switch as it is.
    """
    if (work is None or getattr(_local, "enabled", None) is not None
            or not _state["enabled"] or _state.get("requested")
            or _state["module"] is not None or _state["failed"]):
        yield
        return
    done = _state.get("numpy_work", 0.0)
    if done + work >= KERNELS_MIN_WORK and (
            done + work >= KERNELS_MIN_WORK * COLD_CACHE_FACTOR or cache_holds_code()):
        yield
        return
    # read again: the cache's check may have waited for another thread's loading
    _state["numpy_work"] = _state.get("numpy_work", 0.0) + work
    with use_kernels(False):
        yield


def cache_holds_code():
    """Whether numba's disk cache holds compiled kernels and a compiled epoch loop.

    False means that loading the kernels would compile them (seconds: see
    :data:`COLD_CACHE_FACTOR`). Imports numba, ``skmlp._kernels`` and
    ``skmlp._epoch_loop`` (no compiling) and reads the cache index of the Adam kernel and
    of the epoch loop as numba reads it before compiling: only entries for this CPU and
    this source count (an index that is missing, written by another numba or Python, for
    another version of the source or on another CPU, as a cache restored on other
    hardware, says nothing). Any compiled signature counts (a first float32 fit after
    float64 ones still compiles its loop). Where the epoch loop cannot run (numpy's
    OpenBLAS not found: other platforms' numpy builds), the kernels' index alone answers.
    Asked once per process. When numba cannot be imported, or its cache is not laid out
    as expected, the answer is True: the loading then goes on as it did before this check,
    and reports what fails.

    Returns
    -------
    bool
    """
    if "cache_holds_code" not in _state:
        with _load_lock, deferred_interrupt():  # numba never left half-imported
            if "cache_holds_code" not in _state:  # another thread may have read it
                _state["cache_holds_code"] = _read_cache_index()
    return _state["cache_holds_code"]


def _read_cache_index():
    before = set(sys.modules)
    try:
        from . import _kernels
    except BaseException as e:
        _forget_new_modules(before)
        if not isinstance(e, Exception):  # KeyboardInterrupt, SystemExit
            raise
        return True  # the loading fails the same way, and says why
    try:
        from . import _epoch_loop
    except Exception:  # numba works: the fits say why the loop cannot be used
        return _compiled_here(_kernels._adam_kernel)
    return (_compiled_here(_kernels._adam_kernel)
            and (_epoch_loop.BLAS_LIBRARY is None or _compiled_here(_epoch_loop._epoch)))


def _compiled_here(dispatcher):
    """Whether numba's cache index of ``dispatcher`` lists code that numba would load here:
    an entry whose key is the one numba computes for its signature on this CPU from this
    source (``Cache._index_key``; the index read by ``IndexDataCacheFile._load_index``,
    which drops an index of another numba, Python or source version). True when it cannot
    be read so (another numba's internals, an unreadable file): as before this check."""
    try:
        cache = dispatcher._cache
        codegen = dispatcher.targetctx.codegen()
        return any(key == cache._index_key(key[0], codegen)
                   for key in cache._cache_file._load_index())
    except Exception:
        return True


def estimate_fit_work(X, hidden_layer_sizes, n_epochs):
    """:func:`fit_work` of a fit on ``X`` before anything is validated, or None.

    None when it cannot be told cheaply (``X`` without a shape, parameters that are not
    numbers yet, such as ``max_iter='auto'``): the fit then keeps the switch as it is, and
    its validation reports whatever is wrong. The output layer is left out (the targets
    are not looked at).
    """
    shape = getattr(X, "shape", None)
    if shape is None or len(shape) != 2:
        return None
    hidden = ((hidden_layer_sizes,) if isinstance(hidden_layer_sizes, Integral)
              else hidden_layer_sizes)
    try:
        sizes = [int(shape[1])] + [int(h) for h in hidden if isinstance(h, Integral)]
        if not isinstance(n_epochs, Integral):
            return None
        return fit_work(int(shape[0]), sizes, int(n_epochs))
    except (TypeError, ValueError):
        return None
