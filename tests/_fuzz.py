"""The parity fuzzer's engine: draw a case, run it on skmlp and scikit-learn, compare.

A *case* is an estimator kind (classifier or regressor), its parameters, a data set
(size, X dtype, dense/CSR/CSC/DataFrame, scaling, target kind, sample weights, the rows
and dtype predictions are made on) and a sequence of calls (fit, warm refit, partial_fit,
set_params, to_sklearn/from_sklearn, bad data). :func:`run_case`
runs the sequence on scikit-learn's MLPClassifier/MLPRegressor and on skmlp's estimator,
once with the numba kernels and once with the numpy reference, and compares the two sides
after every call: exceptions and warnings, weights, counters, curves, predictions.

Every disagreement is a :class:`Mismatch` naming the field that differs. A mismatch the
caller's table of known differences (:class:`Known`, ``tests/test_parity_fuzz.py``)
excuses is counted under that entry's name; any other fails the case with a report that
reproduces it. :class:`Stats` counts what was reached, how much was bitwise equal and the
largest relative weight difference per dtype x solver x kernels.

The strategies draw from small sets of values on purpose: the quick profile's 300
examples must reach every solver, dtype, format, label kind and call kind many times.
"""

import contextlib
import copy
import io
import re
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from hypothesis import event
from hypothesis import strategies as st
from sklearn.neural_network import MLPClassifier, MLPRegressor

from skmlp import MLPClassifierFromScratch, MLPRegressorFromScratch, _config, use_kernels

SKLEARN = {"classifier": MLPClassifier, "regressor": MLPRegressor}
OURS = {"classifier": MLPClassifierFromScratch, "regressor": MLPRegressorFromScratch}
ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
CLASSIFIER_TARGETS = ("binary-int", "binary-str", "binary-bool", "multiclass-int",
                      "multiclass-str", "multiclass-float", "multilabel", "multilabel-constant",
                      "one-class")
REGRESSOR_TARGETS = ("squared_error", "squared_error-unscaled", "poisson")
SAMPLE_WEIGHTS = (None, "float64", "float32", "zeros", "int")
FORMATS = ("dense", "csr", "csc", "pandas")
#: how each call kind is spelled in a case's ``steps``
CALLS = ("fit", "warm_fit", "partial_fit", "set_params", "to_sklearn", "from_sklearn", "bad")


# --- what a case is ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Data:
    """A data set, rebuilt deterministically from these fields by :func:`make_data`."""

    seed: int
    n: int
    d: int
    dtype: str  # "float64" | "float32" | "int64" (X of integers)
    fmt: str  # "dense" | "csr" | "csc" | "pandas" (a DataFrame with feature names)
    unscaled: bool  # features multiplied by up to 100
    target: str  # one of CLASSIFIER_TARGETS / REGRESSOR_TARGETS
    y2d: bool  # a column vector (classifier) / an (n, 1) matrix (regressor)
    n_outputs: int  # regressor: 1 or 2 (2 implies a 2-D y)
    sample_weight: str | None  # one of SAMPLE_WEIGHTS
    far_rows: bool  # predictions also on rows 1e4 x the data (extrapolation, overflow)
    probe_dtype: str = "same"  # predictions on X as "same", "float32", "float64", "longdouble"
    y32: bool = False  # regressor: float32 targets
    y_int: bool = False  # regressor with Poisson counts: int64 targets
    extra_class: bool = False  # classifier: partial_fit's classes= has one label y never has
    constant_feature: bool = False  # the first feature is one constant


@dataclass(frozen=True)
class Case:
    kind: str  # "classifier" | "regressor"
    params: tuple  # sorted (name, value) pairs: the constructor's parameters
    data: Data
    steps: tuple  # (call, argument) pairs, call in CALLS

    def __str__(self):
        return reproduction(self)


def reproduction(case):
    """A command that runs ``case`` again with the table of known differences, from the
    repository's root (for reports)."""
    return ("python -c \"import sys; sys.path.insert(0, 'tests'); from _fuzz import *; "
            "from test_parity_fuzz import KNOWN; "
            f"run_case({case!r}, KNOWN, Stats(events=False))\"")


# --- strategies -------------------------------------------------------------------------------
def _hidden(long):
    size = st.integers(1, 16 if long else 6)
    return st.one_of(st.tuples(size), st.tuples(size, size), st.tuples(size, size, size),
                     st.just(()))


@st.composite
def parameters(draw, kind, target, long=False):
    solver = draw(st.sampled_from(["adam", "sgd", "lbfgs"]))
    p = {
        "solver": solver,
        "activation": draw(st.sampled_from(ACTIVATIONS)),
        "hidden_layer_sizes": draw(st.one_of(_hidden(long), st.tuples(st.integers(1, 6)))),
        "alpha": draw(st.sampled_from([0.0, 1e-4, 1e-2, 1.0])),
        "batch_size": draw(st.sampled_from(["auto", 5, 16, 1000])),
        "learning_rate_init": draw(st.sampled_from([1e-3, 1e-2, 0.05, 0.2]
                                                   + ([0.5, 1.0] if long else []))),
        "max_iter": draw(st.integers(1, (40 if long else 15) if solver == "lbfgs"
                                     else (15 if long else 6))),
        "tol": draw(st.sampled_from([1e-4, 1e-2, 0.1])),
        "n_iter_no_change": draw(st.integers(1, 4)),
        "shuffle": draw(st.booleans()),
        "warm_start": draw(st.booleans()),
        "early_stopping": draw(st.sampled_from([False, False, True])),
        "validation_fraction": draw(st.sampled_from([0.1, 0.2, 0.3])),
        "random_state": draw(st.integers(0, 1000)),
        "verbose": draw(st.sampled_from([False] * 9 + [True])),
    }
    if solver == "sgd" or draw(st.booleans()):
        p["learning_rate"] = draw(st.sampled_from(["constant", "invscaling", "adaptive"]))
        p["momentum"] = draw(st.sampled_from([0.0, 0.5, 0.9]))
        p["nesterovs_momentum"] = draw(st.booleans())
        p["power_t"] = draw(st.sampled_from([0.25, 0.5]))
    if solver == "adam" or draw(st.booleans()):
        p["beta_1"] = draw(st.sampled_from([0.9, 0.8, 0.0]))
        p["beta_2"] = draw(st.sampled_from([0.999, 0.99]))
        p["epsilon"] = draw(st.sampled_from([1e-8, 1e-6]))
    if solver == "lbfgs" or draw(st.booleans()):
        p["max_fun"] = draw(st.sampled_from([15000, 8, 20]))
    if kind == "regressor":
        p["loss"] = "poisson" if target == "poisson" else "squared_error"
    # now and then the float hyper-parameters as numpy scalars, as a grid from np.logspace or
    # np.linspace hands them: numpy computes with a float64 scalar beside float32 arrays in
    # float64 (scikit-learn's optimizer state and L2 terms then are float64)
    scalar = draw(st.sampled_from([None] * 4 + [np.float64, np.float32]))
    if scalar is not None:
        for name in NUMPY_SCALAR_PARAMETERS:
            if name in p:
                p[name] = scalar(p[name])
    return tuple(sorted(p.items()))


#: the float parameters :func:`parameters` hands over as numpy scalars now and then
NUMPY_SCALAR_PARAMETERS = ("alpha", "learning_rate_init", "tol", "validation_fraction",
                           "momentum", "power_t", "beta_1", "beta_2", "epsilon")


@st.composite
def datasets(draw, kind, target, long=False):
    n_outputs = 1
    if kind == "regressor":
        n_outputs = draw(st.sampled_from([1, 1, 2]))
    return Data(
        seed=draw(st.integers(0, 2**16)),
        # long: now and then more than 200 rows, so that batch_size="auto" splits them
        n=draw(st.one_of(st.integers(20, 150), st.integers(201, 260)) if long
               else st.integers(20, 60)),
        d=draw(st.integers(2, 6)),
        dtype=draw(st.sampled_from(["float64", "float64", "float32", "float32", "int64"])),
        fmt=draw(st.sampled_from(("dense",) + FORMATS)),
        unscaled=draw(st.sampled_from([False, False, True])),
        target=target,
        y2d=n_outputs > 1 or draw(st.sampled_from([False, False, True])),
        n_outputs=n_outputs,
        sample_weight=draw(st.sampled_from((None,) + SAMPLE_WEIGHTS)),
        far_rows=kind == "regressor" and draw(st.sampled_from([False, False, True])),
        probe_dtype=draw(st.sampled_from(["same"] * 4 + ["float32", "float64", "longdouble",
                                                         "ndarray"])),
        y32=kind == "regressor" and draw(st.sampled_from([False, False, True])),
        y_int=target == "poisson" and draw(st.booleans()),
        extra_class=(target in ("binary-int", "binary-str", "multiclass-int", "multiclass-str",
                                "one-class") and draw(st.sampled_from([False] * 3 + [True]))),
        constant_feature=draw(st.sampled_from([False] * 5 + [True])),
    )


#: set_params steps: (parameter, values to draw from)
SET_PARAMS = {
    "solver": ["adam", "sgd", "lbfgs"],
    "learning_rate_init": [1e-3, 0.02, 0.1],
    "alpha": [0.0, 1e-3, 0.5],
    "max_iter": [1, 3, 8],
    "batch_size": ["auto", 7, 1000],
    "early_stopping": [False, True],
    "warm_start": [False, True],
    "learning_rate": ["constant", "invscaling", "adaptive"],
    "shuffle": [False, True],
    "tol": [1e-4, 0.05],
    "activation": list(ACTIVATIONS),
}


@st.composite
def steps(draw, params, long=False):
    # partial_fit refuses lbfgs (the classifier's) and early stopping on both sides: the case
    # would end there, so those get a partial_fit now and then only
    p = dict(params)
    refused = p["solver"] == "lbfgs" or p["early_stopping"]
    partial = draw(st.integers(0, 9 if refused else 3)) == 0
    out = [("partial_fit", "all") if partial else ("fit", None)]
    for _ in range(draw(st.integers(0, 5 if long else 3))):
        call = draw(st.sampled_from(["fit", "warm_fit", "warm_fit", "partial_fit",
                                     "set_params", "set_params", "to_sklearn",
                                     "from_sklearn"]))
        if call == "partial_fit" and refused and draw(st.integers(0, 3)):
            call = "warm_fit"
        if call == "partial_fit":
            out.append((call, draw(st.sampled_from(["all", "first half", "second half"]))))
        elif call == "warm_fit":
            out.append((call, draw(st.sampled_from(["all", "all", "first half"]))))
        elif call == "set_params":
            # a solver switch in a warm chain is the likeliest to go wrong: drawn most
            name = draw(st.sampled_from(sorted(SET_PARAMS) + ["solver"] * 3))
            out.append((call, (name, draw(st.sampled_from(SET_PARAMS[name])))))
            if draw(st.booleans()):  # a set_params is mostly followed by training
                out.append((draw(st.sampled_from(["warm_fit", "partial_fit"])), "all"))
        else:
            out.append((call, None))
    if draw(st.integers(0, 7)) == 0:  # bad data last: both must refuse it, the same way
        out.append(("bad", draw(st.sampled_from(["NaN in X", "short y", "predict n_features",
                                                 "sample_weight all 0"]))))
    return tuple((c, "all") if c == "warm_fit" and a is None else (c, a) for c, a in out)


@st.composite
def cases(draw, long=False, target=None):
    """A :class:`Case`; ``long``: larger data sets, more iterations, longer sequences;
    ``target``: this kind of target (one of CLASSIFIER_TARGETS, REGRESSOR_TARGETS)."""
    if target is None:
        target = draw(st.sampled_from(CLASSIFIER_TARGETS + REGRESSOR_TARGETS))
    kind = "classifier" if target in CLASSIFIER_TARGETS else "regressor"
    data = draw(datasets(kind, target, long))
    params = draw(parameters(kind, data.target, long))
    return Case(kind, params, data, draw(steps(params, long)))


# --- data --------------------------------------------------------------------------------------
def make_data(data):
    """``(X, y, sample_weight, X_probe)`` for ``data`` (a :class:`Data`)."""
    rng = np.random.RandomState(data.seed)
    n, d = data.n, data.d
    X = rng.standard_normal((n, d))
    if data.fmt != "dense":  # sparse: about half of the entries are zeros
        X[rng.uniform(size=X.shape) < 0.5] = 0.0
    if data.constant_feature:
        X[:, 0] = 3.0
    Xs = X  # the signal, before the features are scaled
    if data.unscaled:
        X = X * rng.uniform(1.0, 100.0, d)
    t = data.target
    B = rng.standard_normal((d, 4))
    if t.startswith("binary"):
        y = (Xs @ B[:, 0] + 0.3 * rng.standard_normal(n) > 0).astype(int)
        y[:2] = [0, 1]  # both classes present
        if t == "binary-str":
            y = np.array(["neg", "pos"])[y]
        elif t == "binary-bool":
            y = y.astype(bool)
    elif t.startswith("multiclass"):
        y = np.argmax(Xs @ B[:, :3] + 0.3 * rng.standard_normal((n, 3)), axis=1)
        y[:3] = [0, 1, 2]
        y = {"multiclass-str": np.array(["a", "b", "c"]), "multiclass-int": np.array([-1, 3, 7]),
             "multiclass-float": np.array([1.0, 2.0, 3.0])}[t][y]
    elif t.startswith("multilabel"):
        y = (Xs @ B[:, :3] + 0.5 * rng.standard_normal((n, 3)) > 0).astype(int)
        if t == "multilabel-constant":  # a label no sample has
            y[:, 1] = 0
    elif t == "one-class":
        y = np.full(n, 5)
    elif t == "poisson":
        y = rng.poisson(np.exp(0.4 * Xs @ B[:, :data.n_outputs])).astype(float)
    else:
        y = Xs @ B[:, :data.n_outputs] + 0.1 * rng.standard_normal((n, data.n_outputs))
        if t == "squared_error-unscaled":
            y = 100.0 * y + 50.0
    if data.y_int:
        y = y.astype(np.int64)
    if data.y32:
        y = y.astype(np.float32)
    if y.ndim == 2 and y.shape[1] == 1 and not data.y2d:
        y = y[:, 0]
    if y.ndim == 1 and data.y2d:
        y = y[:, None]
    sw = None
    if data.sample_weight is not None:
        sw = rng.uniform(0.2, 3.0, n)
        if data.sample_weight == "zeros":
            sw[rng.choice(n, n // 3, replace=False)] = 0.0
        elif data.sample_weight == "float32":
            sw = sw.astype(np.float32)
        elif data.sample_weight == "int":
            sw = rng.randint(1, 4, n)
    if data.dtype == "int64":
        X = np.round(10 * X)
    X = X.astype(data.dtype)
    X_probe = X
    if data.far_rows:
        X_probe = np.vstack([X, 1e4 * X[:2]])
    if data.probe_dtype not in ("same", "ndarray"):
        X_probe = X_probe.astype(data.probe_dtype)
    if data.fmt == "csr":
        X, X_probe = sp.csr_matrix(X), sp.csr_matrix(X_probe)
    elif data.fmt == "csc":
        X, X_probe = sp.csc_matrix(X), sp.csc_matrix(X_probe)
    elif data.fmt == "pandas":
        import pandas as pd  # a test dependency; only these cases need it

        columns = [f"x{j}" for j in range(d)]
        X = pd.DataFrame(X, columns=columns)
        if data.probe_dtype != "ndarray":  # "ndarray": fitted with feature names, not probed
            X_probe = pd.DataFrame(X_probe, columns=columns)
    return X, y, sw, X_probe


# --- one side's view after a call ------------------------------------------------------------
MISSING = "<missing>"
TRACKED = ("n_iter_", "t_", "loss_", "loss_curve_", "best_loss_", "validation_scores_",
           "best_validation_score_", "_no_improvement_count")


def _call(fn):
    """(result, exception, [(category name, message)]) of ``fn()``, warnings recorded.

    What it prints (``verbose=True``) comes last as ("stdout", its lines with every number
    replaced by N): the same lines, whatever rounding did to the losses printed.
    """
    out = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out):
        warnings.simplefilter("always")
        try:
            result, error = fn(), None
        except Exception as e:  # noqa: BLE001 -- compared with the other side's outcome
            result, error = None, e
    # our messages name our class where scikit-learn's name theirs. "invalid value
    # encountered in matmul" is left out: OpenBLAS's kernels can leave the invalid flag set
    # on finite data (numpy#24067, OpenBLAS#1924), so it comes and goes with the process's
    # history (seen on either side, not reproducible alone)
    ws = sorted((w.category.__name__, re.sub(r"(MLP\w+)FromScratch", r"\1", str(w.message)))
                for w in caught if str(w.message) != "invalid value encountered in matmul")
    if out.getvalue():
        ws.append(("stdout", re.sub(r"-?\d+(\.\d*)?(e[-+]?\d+)?", "N", out.getvalue())))
    return result, error, ws


def observe(est, kind, X_probe, scored):
    """What is compared of a fitted estimator: weights, tracking attributes, predictions
    on ``X_probe``, ``score`` on ``scored`` = (X, y, sample_weight)."""
    obs = {"fitted": hasattr(est, "coefs_")}
    if not obs["fitted"]:
        return obs
    obs["weights"] = [np.array(a) for a in list(est.coefs_) + list(est.intercepts_)]
    for name in TRACKED:
        value = getattr(est, name, MISSING)
        obs[name] = copy.copy(value) if isinstance(value, list) else value
    methods = (("predict",) if kind == "regressor"
               else ("predict", "predict_proba", "predict_log_proba"))
    for method in methods:
        obs[method] = _call(lambda m=method: getattr(est, m)(X_probe))
    X, y, sw = scored
    obs["score"] = _call(lambda: est.score(X, y, sample_weight=sw))
    return obs


# --- comparing ---------------------------------------------------------------------------------
@dataclass
class Mismatch:
    field: str
    detail: str
    # for warnings: (ours, theirs) lists of (category, message), for predicates to look at
    warnings: tuple = ((), ())

    def __str__(self):
        return f"{self.field}: {self.detail}"


def _error_text(e):
    return None if e is None else f"{type(e).__name__}: {e}"


def _close(a, b, rtol):
    """Scalars (or None / MISSING) equal within ``rtol`` relative."""
    if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return a == b if type(a) is type(b) else False
    a, b = float(a), float(b)
    if not (np.isfinite(a) and np.isfinite(b)):
        return a == b or (a != a and b != b)
    return abs(a - b) <= rtol * max(abs(b), 1e-300) + 1e-15


def _margin(proba, multilabel):
    """How far each prediction of ``proba`` is from a tie (per row, or per label)."""
    if multilabel:
        return np.abs(proba - 0.5)
    if proba.ndim == 2 and proba.shape[1] > 2:
        top2 = np.sort(proba, axis=1)[:, -2:]
        return top2[:, 1] - top2[:, 0]
    p = proba[:, -1] if proba.ndim == 2 and proba.shape[1] == 2 else proba
    return np.abs(p - 0.5)


def compare(ours, theirs, *, kind, rtol, multilabel):
    """The mismatches between two :func:`observe` results; and weight statistics.

    Returns ``(mismatches, stats)``; ``stats`` is None when there are no weights to compare,
    else ``(bitwise, largest relative difference)``, relative to the largest |weight| of
    scikit-learn's model.
    """
    out = []
    if ours["fitted"] != theirs["fitted"]:
        return [Mismatch("fitted", f"ours {ours['fitted']}, theirs {theirs['fitted']}")], None
    if not ours["fitted"]:
        return out, None
    wa, wb = ours["weights"], theirs["weights"]
    if [a.shape for a in wa] != [b.shape for b in wb]:
        return [Mismatch("weight shapes", f"{[a.shape for a in wa]} vs "
                                          f"{[b.shape for b in wb]}")], None
    dtypes_a, dtypes_b = [a.dtype.name for a in wa], [b.dtype.name for b in wb]
    if dtypes_a != dtypes_b:
        out.append(Mismatch("weight dtype", f"ours {dtypes_a[0]}, theirs {dtypes_b[0]}"))
    scale = max([float(np.max(np.abs(b))) for b in wb if b.size] + [1e-300])
    bitwise = all(a.astype(np.float64).tobytes() == b.astype(np.float64).tobytes()
                  for a, b in zip(wa, wb))
    worst = max([float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
                 for a, b in zip(wa, wb) if a.size] + [0.0]) / scale
    if not worst <= rtol:  # NaN fails too
        out.append(Mismatch("weights", f"relative difference {worst:.3g} > {rtol:g}"))
    for name in ("n_iter_", "t_", "_no_improvement_count"):
        if ours[name] != theirs[name]:
            out.append(Mismatch(name, f"ours {ours[name]!r}, theirs {theirs[name]!r}"))
    for name in ("loss_", "best_loss_", "best_validation_score_"):
        if not _close(ours[name], theirs[name], rtol):
            out.append(Mismatch(name, f"ours {ours[name]!r}, theirs {theirs[name]!r}"))
    for name in ("loss_curve_", "validation_scores_"):
        a, b = ours[name], theirs[name]
        if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            if not all(_close(x, y, rtol) for x, y in zip(a, b)):
                worst_i = max(range(len(a)), key=lambda i: abs(float(a[i]) - float(b[i])))
                out.append(Mismatch(name, f"entry {worst_i}: {a[worst_i]!r} vs {b[worst_i]!r}"))
        elif not (a is b or (a == b if type(a) is type(b) and not isinstance(a, list) else 0)):
            out.append(Mismatch(name, f"ours {_short(a)}, theirs {_short(b)}"))
    for method in ("predict_proba", "predict", "predict_log_proba", "score"):
        if method not in theirs:
            continue
        (ra, ea, wa_), (rb, eb, wb_) = ours[method], theirs[method]
        if type(ea) is not type(eb):
            out.append(Mismatch(f"{method} error", f"ours {_error_text(ea)}, "
                                                   f"theirs {_error_text(eb)}"))
            continue
        if _warning_set(wa_) != _warning_set(wb_):
            out.append(Mismatch(f"{method} warnings", f"ours {wa_}, theirs {wb_}",
                                (tuple(wa_), tuple(wb_))))
        if ea is not None:
            continue
        if method == "score":
            # accuracy moves by 1/n with each label that differs next to a tie (allowed
            # above), R^2 with the predictions
            labels_differ = kind == "classifier" and not np.array_equal(
                np.asarray(ours["predict"][0]), np.asarray(theirs["predict"][0]))
            if not (labels_differ or _close(ra, rb, 10 * rtol)):
                out.append(Mismatch(method, f"ours {ra!r}, theirs {rb!r}"))
            continue
        ra, rb = np.asarray(ra), np.asarray(rb)
        if ra.dtype.kind == "f" and ra.dtype.itemsize > 8:  # long double X: as float64, and
            with np.errstate(over="ignore"):  # what overflows it is inf on both sides
                ra = ra.astype(np.float64)
        if rb.dtype.kind == "f" and rb.dtype.itemsize > 8:
            with np.errstate(over="ignore"):
                rb = rb.astype(np.float64)
        if ra.shape != rb.shape:
            out.append(Mismatch(f"{method} shape", f"ours {ra.shape}, theirs {rb.shape}"))
            continue
        if method == "predict_log_proba":
            # README: ours is floored at log(tiny) where scikit-learn's probabilities
            # underflow to 0 (its log is then -inf); compared where scikit-learn's is above
            fa, fb = ra.astype(np.float64), rb.astype(np.float64)
            normal = fb > np.log(np.finfo(rb.dtype).tiny)
            diff = float(np.max(np.abs(fa[normal] - fb[normal]), initial=0.0))
            if not diff <= rtol * max(1.0, float(np.max(np.abs(fb[normal]), initial=0.0))):
                out.append(Mismatch(method, f"differs by {diff:.3g} > {rtol:g} (x max(1, "
                                            f"largest |log p|))"))
            continue
        if method == "predict_proba" or kind == "regressor":
            fa, fb = ra.astype(np.float64), rb.astype(np.float64)
            finite = np.isfinite(fb)
            if not np.array_equal(np.isfinite(fa), finite):
                out.append(Mismatch(method, "non-finite in other places"))
                continue
            size = max(1.0, float(np.max(np.abs(fb[finite]), initial=0.0)))
            diff = float(np.max(np.abs(fa[finite] - fb[finite]), initial=0.0)) / size
            if not diff <= rtol:
                out.append(Mismatch(method, f"differs by {diff:.3g} (relative to max(1, "
                                            f"largest)) > {rtol:g}"))
            continue
        differ = ra != rb
        if differ.any():  # labels: only where scikit-learn's probabilities are near a tie
            rp = theirs.get("predict_proba", (None,))[0]
            margin = (None if rp is None
                      else _margin(np.asarray(rp, dtype=np.float64), multilabel))
            if margin is None or margin.shape[:differ.ndim] != differ.shape:
                out.append(Mismatch(method, f"{int(differ.sum())} labels differ"))
            else:
                if not np.all(margin[differ] <= 10 * rtol):
                    out.append(Mismatch(method, f"{int(differ.sum())} labels differ away "
                                                f"from ties"))
    return out, (bitwise, worst)


def _short(v):
    return f"list of {len(v)}" if isinstance(v, list) else repr(v)


def _warning_set(ws):
    return sorted({w for w in ws if w[0] != "stdout"})


def _stdout(ws):
    return "".join(w[1] for w in ws if w[0] == "stdout")


# --- known differences ------------------------------------------------------------------------
@dataclass(frozen=True)
class Known:
    """A known difference: when it applies, which fields it excuses, and why.

    ``when(ctx)`` gets a :class:`Context`; ``fields`` lists the :class:`Mismatch` fields
    it excuses (regex, full match); ``permanent``: documented in README "Differences"
    (deliberate), else a bug being fixed (issue 17) -- remove the entry when it is.
    ``diverges``: the two models differ afterwards, so the rest of the case is not compared.
    """

    reason: str
    when: object
    fields: str = ".*"
    permanent: bool = False
    diverges: bool = True


@dataclass
class Context:
    """What a :class:`Known` predicate may look at, for the call just made."""

    kind: str
    params: dict  # our estimator's parameters now
    data: Data
    kernels: bool
    call: str
    arg: object
    history: list  # (call, argument) of the calls so far, this one included
    solvers: set  # solvers that trained so far (this call included)
    ours_error: BaseException | None
    theirs_error: BaseException | None
    ours_warnings: list
    theirs_warnings: list
    theirs: object  # scikit-learn's estimator
    ours: object
    mismatch: Mismatch | None = None  # the mismatch an entry is asked to excuse, if any
    # (solver, cold) of each training call of ours that succeeded, this one included;
    # cold: it started a new model
    trainings: list = field(default_factory=list)

    @property
    def solver(self):
        return self.params["solver"]

    @property
    def trained(self):
        """Calls that trained (fit, warm fit, partial_fit) so far."""
        return [c for c, _ in self.history if c in ("fit", "warm_fit", "partial_fit")]


# --- statistics ---------------------------------------------------------------------------------
@dataclass
class Stats:
    """What a run of the fuzzer reached and measured."""

    cases: int = 0
    reached: Counter = field(default_factory=Counter)
    # (dtype, solver, kernels) -> [comparisons, bitwise equal, largest relative difference,
    # comparisons with a known difference, their largest relative difference]
    weights: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0.0, 0, 0.0]))
    excused: Counter = field(default_factory=Counter)  # known entry -> calls it excused
    applied: Counter = field(default_factory=Counter)  # known entry -> calls it applied to
    excused_worst: dict = field(default_factory=lambda: defaultdict(float))
    messages: Counter = field(default_factory=Counter)  # exception messages that differ
    discover: dict | None = None  # signature -> reports, when not failing on mismatches
    worst_case: dict = field(default_factory=dict)  # table row -> its largest difference's case
    events: bool = True  # also record hypothesis events (only inside a hypothesis test)
    not_bitwise: Counter = field(default_factory=Counter)  # data kind -> calls not bitwise

    def reach(self, label):
        if self.events:  # inside a hypothesis test: its statistics count examples
            event(label)
        self.reached[label] += 1

    def table(self):
        lines = ["weights after each call, relative to the largest |weight| (known: calls "
                 "where a known difference in the model was excused, apart)",
                 f"{'dtype':8} {'solver':6} {'kernels':8} {'compared':>8} {'bitwise':>8} "
                 f"{'largest rel. diff':>17} {'known':>6} {'known: largest':>14}"]
        for (dtype, solver, kernels), row in sorted(self.weights.items()):
            n, same, worst, n_known, worst_known = row
            lines.append(f"{dtype:8} {solver:6} {kernels!s:8} {n:8d} {same / n:8.1%} "
                         f"{worst:17.3g} {n_known:6d} {worst_known:14.3g}")
        return "\n".join(lines)

    def report(self):
        lines = [f"{self.cases} cases", self.table(), "largest differences outside the known "
                 "ones, where:"]
        lines += [f"  {key}: {where}" for key, where in sorted(self.worst_case.items())]
        lines.append("calls whose weights are not bitwise equal, by kind of data (top 12):")
        lines += [f"  {k}: {v}" for k, v in self.not_bitwise.most_common(12)]
        lines.append("reached:")
        lines += [f"  {k}: {v}" for k, v in sorted(self.reached.items())]
        lines.append("known differences (calls the entry was needed for / applied to):")
        lines += [f"  {k}: {self.excused[k]} / {self.applied[k]}"
                  f" (largest weight diff {self.excused_worst.get(k, 0.0):.3g})"
                  for k in sorted(set(self.applied) | set(self.excused))]
        if self.messages:
            lines.append("exception messages that differ (same type):")
            lines += [f"  {k}: {v}" for k, v in self.messages.most_common(10)]
        return "\n".join(lines)


# --- running a case ---------------------------------------------------------------------------
class Failure(AssertionError):
    pass


def _tolerance(data, solvers):
    if data.dtype == "float32":
        return 1e-4
    return 1e-6 if "lbfgs" in solvers else 1e-9


def _sklearn_params(kind, params):
    names = SKLEARN[kind]().get_params()
    return {k: v for k, v in params.items() if k in names}


def _do(est, call, arg, X, y, sw, classes, kind):
    """One call of a case on ``est``; returns the estimator to go on with."""
    n = X.shape[0]
    if call == "fit":
        est.fit(X, y, sample_weight=sw)
    elif call == "warm_fit":
        est.set_params(warm_start=True)
        if arg == "first half":
            half = slice(0, n // 2)
            est.fit(X.iloc[half] if hasattr(X, "iloc") else X[half], y[half],
                    sample_weight=None if sw is None else sw[half])
        else:
            est.fit(X, y, sample_weight=sw)
    elif call == "partial_fit":
        rows = {"all": slice(None), "first half": slice(0, n // 2),
                "second half": slice(n // 2, n)}[arg]
        kw = {}
        if kind == "classifier" and not hasattr(est, "classes_"):
            kw["classes"] = classes
        Xr = X.iloc[rows] if hasattr(X, "iloc") else X[rows]  # a DataFrame's rows
        est.partial_fit(Xr, y[rows], sample_weight=None if sw is None else sw[rows], **kw)
    elif call == "set_params":
        est.set_params(**{arg[0]: arg[1]})
    elif call == "bad":
        dense = np.array(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)
        if arg == "NaN in X":
            dense[0, 0] = np.nan
            est.fit(dense, y, sample_weight=sw)
        elif arg == "short y":
            est.fit(X, y[:-1], sample_weight=sw)
        elif arg == "sample_weight all 0":
            est.fit(X, y, sample_weight=np.zeros(n))
        else:
            est.predict(np.hstack([dense, dense[:, :1]]))
    return est


def run_case(case, known, stats, kernel_settings=(True, False)):
    """Run ``case`` on scikit-learn and on skmlp (each kernel setting), comparing after every
    call; raise :class:`Failure` on a mismatch that no entry of ``known`` excuses."""
    kind = case.kind
    params = dict(case.params)
    X, y, sw, X_probe = make_data(case.data)
    if kind == "classifier":
        classes = (np.arange(y.shape[1]) if case.data.target.startswith("multilabel")
                   else np.unique(y))
        if case.data.extra_class:  # a class partial_fit is told of and never sees
            classes = np.append(classes, "zzz" if classes.dtype.kind == "U" else 99)
    else:
        classes = None
    stats.cases += 1
    d = case.data
    params = {**SKLEARN[kind]().get_params(), **params}  # the defaults too, for the labels
    for label in (f"kind={kind}", f"solver={params['solver']}", f"dtype={d.dtype}",
                  f"format={d.fmt}", f"target={d.target}", f"sample_weight={d.sample_weight}",
                  f"unscaled={d.unscaled}", f"y2d={d.y2d}",
                  f"activation={params['activation']}",
                  f"hidden layers={len(params['hidden_layer_sizes'])}",
                  f"probe dtype={d.probe_dtype}", f"float32 y={d.y32}", f"int y={d.y_int}",
                  f"extra class={d.extra_class}",
                  f"constant feature={d.constant_feature}",
                  f"scalars={type(params['alpha']).__name__}"):
        stats.reach(label)
    # one scikit-learn model shared by both kernel settings until to_sklearn forks it
    shared = {"est": SKLEARN[kind](**_sklearn_params(kind, params)), "log": {}}
    sides = []
    for kernels in kernel_settings:
        sides.append({"kernels": kernels, "ours": OURS[kind](**params), "theirs": shared,
                      "solvers": set(), "history": [], "trainings": [], "done": False})
    for i, (call, arg) in enumerate(case.steps):
        stats.reach(f"call={call}")
        for side in sides:
            if side["done"]:
                continue
            _step(case, i, call, arg, side, (X, y, sw, classes, X_probe), known, stats)


def _run_theirs(theirs, i, call, arg, args, kind):
    """scikit-learn's outcome of call ``i`` on a shared model: run once, then replayed."""
    log = theirs["log"]
    if i not in log:
        X, y, sw, classes, X_probe = args
        error, ws = None, []
        if call not in ("to_sklearn", "from_sklearn"):
            _, error, ws = _call(lambda: _do(theirs["est"], call, arg, X, y, sw, classes, kind))
        log[i] = (error, ws, observe(theirs["est"], kind, X_probe, (X, y, sw)))
    return log[i]


def _step(case, i, call, arg, side, args, known, stats):
    X, y, sw, classes, X_probe = args
    kind = case.kind
    ours = side["ours"]
    if call == "to_sklearn":  # scikit-learn goes on from our model
        if not hasattr(ours, "coefs_"):
            return
        result, error, _ = _call(ours.to_sklearn)
        if error is not None:
            raise Failure(f"to_sklearn raised {_error_text(error)}\n{case}")
        side["theirs"] = {"est": result, "log": {}}
        converted = result.get_params()
        differ = {k: (v, converted[k]) for k, v in _sklearn_params(kind, ours.get_params()).items()
                  if converted[k] != v}
        mismatches = [Mismatch("to_sklearn params", f"ours, theirs: {differ}")] if differ else []
    elif call == "from_sklearn":  # we go on from scikit-learn's model
        theirs_est = side["theirs"]["est"]
        if not hasattr(theirs_est, "coefs_"):
            return
        result, error, _ = _call(lambda: OURS[kind].from_sklearn(theirs_est))
        if error is not None:
            raise Failure(f"from_sklearn raised {_error_text(error)}\n{case}")
        side["ours"] = ours = result
        mismatches = []
    else:
        mismatches = []
    if call in ("to_sklearn", "from_sklearn"):
        error_ours, ws_ours = None, []
        error_theirs, ws_theirs, obs_theirs = _run_theirs(side["theirs"], i, call, arg, args,
                                                          kind)
    else:
        fitted = hasattr(ours, "coefs_")
        cold = not fitted or (call == "fit" and not ours.warm_start)
        with use_kernels(side["kernels"]):
            _, error_ours, ws_ours = _call(lambda: _do(ours, call, arg, X, y, sw, classes,
                                                       kind))
            if side["kernels"] and _config.kernels() is not None:  # numba's, not numpy's
                stats.reach("kernels on: the numba kernels loaded")
        error_theirs, ws_theirs, obs_theirs = _run_theirs(side["theirs"], i, call, arg, args,
                                                          kind)
    side["history"].append((call, arg))
    params = ours.get_params()
    if call in ("fit", "warm_fit", "partial_fit") and error_ours is None:
        side["solvers"].add(params["solver"])
        side["trainings"].append((params["solver"], cold))
    ctx = Context(kind, params, case.data, side["kernels"], call, arg, list(side["history"]),
                  set(side["solvers"]) | {params["solver"]}, error_ours, error_theirs,
                  ws_ours, ws_theirs, side["theirs"]["est"], ours,
                  trainings=list(side["trainings"]))
    both_failed = False
    if (error_ours is None) != (error_theirs is None) or (
            error_ours is not None and type(error_ours) is not type(error_theirs)):
        mismatches.append(Mismatch("error", f"ours {_error_text(error_ours)}; "
                                            f"theirs {_error_text(error_theirs)}"))
    elif error_ours is not None:
        both_failed = True
        stats.reach(f"both raised {type(error_ours).__name__}: {_gist(error_theirs)}")
        if str(error_ours) != str(error_theirs):
            stats.messages[f"{type(error_ours).__name__}: ours {str(error_ours)[:60]!r} / "
                           f"theirs {str(error_theirs)[:60]!r}"] += 1
    if _warning_set(ws_ours) != _warning_set(ws_theirs):
        mismatches.append(Mismatch("warnings", f"ours {_warning_set(ws_ours)}; "
                                               f"theirs {_warning_set(ws_theirs)}",
                                   (tuple(_warning_set(ws_ours)), tuple(_warning_set(ws_theirs)))))
    if _stdout(ws_ours) != _stdout(ws_theirs):  # verbose=True
        mismatches.append(Mismatch("stdout", f"ours {_stdout(ws_ours)[:300]!r}; "
                                             f"theirs {_stdout(ws_theirs)[:300]!r}"))
    rtol = _tolerance(case.data, ctx.solvers)
    weight_stats = None
    # after an error both models are left as they were (skmlp) or half-trained
    # (scikit-learn, README "A failed fit changes nothing"): nothing more to compare
    if not both_failed and all(m.field in ("warnings", "stdout", "to_sklearn params")
                               for m in mismatches):
        more, weight_stats = compare(observe(ours, kind, X_probe, (X, y, sw)), obs_theirs,
                                     kind=kind, rtol=rtol,
                                     multilabel=case.data.target.startswith("multilabel"))
        mismatches += more
    applies = {name: k for name, k in known.items() if _applies(k, ctx)}
    for name in applies:
        stats.applied[name] += 1
    unexcused, diverged, used = [], False, set()
    # the narrowest entries first: an entry that excuses everything is the last resort
    ordered = sorted(known.items(), key=lambda item: item[1].fields == ".*")
    for m in mismatches:
        ctx.mismatch = m  # predicates may look at the mismatch itself
        by = next((name for name, k in ordered
                   if re.fullmatch(k.fields, m.field) and _applies(k, ctx)), None)
        if by is None:
            unexcused.append(m)
            continue
        used.add(by)
        diverged |= known[by].diverges
        if m.field == "weights" and weight_stats is not None:
            stats.excused_worst[by] = max(stats.excused_worst[by], weight_stats[1])
    for by in used:
        stats.excused[by] += 1
        stats.reach(f"known: {by}")
    if unexcused:
        report = _failure_report(case, i, side["kernels"], unexcused, mismatches)
        if stats.discover is None:
            raise Failure(report)
        # discovery (FUZZ_DISCOVER): collect, one example per kind of mismatch, and go on
        sig = (tuple(sorted({m.field for m in unexcused})), kind, case.data.dtype,
               case.data.fmt, params["solver"], side["kernels"], call)
        stats.discover.setdefault(sig, []).append(report)
        side["done"] = True
        return
    if weight_stats is not None and call != "set_params":
        entry = stats.weights[(case.data.dtype, params["solver"], side["kernels"])]
        entry[0] += 1
        entry[1] += weight_stats[0]
        if not weight_stats[0]:  # where rounding differs: which data, for the report
            stats.not_bitwise[(case.data.dtype, params["solver"], case.data.fmt,
                               f"sample_weight={case.data.sample_weight}",
                               f"y32={case.data.y32}", f"unscaled={case.data.unscaled}")] += 1
        if diverged:  # a known difference in the model: its size is reported apart
            entry[3] += 1
            entry[4] = max(entry[4], weight_stats[1])
        elif weight_stats[1] > entry[2]:
            entry[2] = weight_stats[1]
            stats.worst_case[(case.data.dtype, params["solver"], side["kernels"])] = (
                f"call {i} of {case.steps!r}\n  params={dict(case.params)!r}\n"
                f"  data={case.data!r}")
        stats.reach("compared")
    if both_failed or diverged:
        side["done"] = True


def _gist(e):
    """The start of an error message, without the numbers that vary from case to case."""
    return re.sub(r"[\d.]+", "N", str(e).split("\n")[0])[:70]


def _applies(k, ctx):
    try:
        return bool(k.when(ctx))
    except (AttributeError, KeyError, TypeError, IndexError):
        return False


def _failure_report(case, i, kernels, unexcused, mismatches):
    lines = [f"parity broken at call {i} ({case.steps[i]}) with kernels "
             f"{'on' if kernels else 'off'}:"]
    lines += [f"  {m}" for m in unexcused]
    others = [m for m in mismatches if m not in unexcused]
    if others:
        lines.append("(excused: " + "; ".join(map(str, others)) + ")")
    lines += ["case:", f"  kind={case.kind}", f"  params={dict(case.params)!r}",
              f"  data={case.data!r}", f"  steps={case.steps!r}",
              "again:", f"  {reproduction(case)}"]
    return "\n".join(lines)
