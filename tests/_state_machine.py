"""The state machines of ``test_state.py``: their rules, the errors skmlp may raise, and the
differences from scikit-learn a twin may show.

A hypothesis ``RuleBasedStateMachine`` per estimator (:class:`ClassifierMachine`,
:class:`RegressorMachine`) drives one estimator through ``fit``, ``partial_fit``, warm
refits, ``set_params``, weight assignment and pruning, pickle and deepcopy round trips,
disrupted fits and bad data; :func:`run_machine` runs one with a hypothesis
configuration (:data:`FAST`, :data:`SLOW`) and returns its step counts, which
:func:`assert_real_work` checks. :data:`KNOWN_ERRORS` / :func:`known_error` and
:class:`Snapshot` serve ``test_hardening.py`` too.
"""

import copy
import os
import pickle
import re
import signal
import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pytest
from _support import BATCH_SIZE_WARNING
from hypothesis import HealthCheck, Phase, event, note, settings, target
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, NotFittedError
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_limits

from skmlp import MLPClassifierFromScratch, MLPRegressorFromScratch

# --- the errors a user may get ---------------------------------------------------------------
#: Every error skmlp may raise on the sequences these tests (and test_hardening.py)
#: generate: name -> (exception types, regex searched in the message). Collected from
#: skmlp's ``raise`` statements and the scikit-learn functions it calls
#: (``validate_data``/``check_array``, ``_check_sample_weight``, parameter validation,
#: ``check_classification_targets``, ``_check_partial_fit_first_call``,
#: ``train_test_split``). An error matching none of these fails the tests.
KNOWN_ERRORS = {
    # --- input validation (scikit-learn's messages) -------------------------------------------
    "X contains NaN": (ValueError, r"^Input X contains NaN"),
    "X contains inf": (ValueError, r"^Input X contains infinity or a value too large"),
    "y contains NaN or inf": (ValueError, r"^Input y contains (NaN|infinity)"),
    "wrong n_features": (ValueError, r"^X has \d+ features, but \w+ is expecting \d+ features"),
    "inconsistent n_samples": (ValueError,
                               r"^Found input variables with inconsistent numbers of samples"),
    "X not 2-D": (ValueError, r"^Expected 2D array, got (1D|scalar) array instead"),
    "no samples": (ValueError, r"^Found array with 0 sample\(s\)"),
    "no features": (ValueError, r"^Found array with 0 feature\(s\)"),
    "unknown label type": (ValueError, r"^Unknown label type: "),
    "y not numeric": (ValueError, r"^y must be numeric for a regressor; got values of dtype "),
    "sample_weight all zero": (ValueError,
                               r"^Sample weights must contain at least one non-zero number\.$"),
    "sample_weight shape": (ValueError, r"^sample_weight\.shape == .*, expected"),
    "invalid parameter": (InvalidParameterError, r"^The '\w+' parameter (of \w+ )?must be"),
    "not fitted": (NotFittedError, r"^This \w+ instance is not fitted yet"),
    # --- partial_fit (scikit-learn's messages) ----------------------------------------------
    "partial_fit unavailable (lbfgs)": (AttributeError, r"has no attribute 'partial_fit'"),
    "partial_fit needs classes": (ValueError,
                                  r"^classes must be passed on the first call to partial_fit"),
    "partial_fit classes changed": (ValueError,
                                    r"is not the same as on last call to partial_fit"),
    "partial_fit with early_stopping": (ValueError,
                                        r"^partial_fit does not support early_stopping=True$"),
    # --- MLPClassifier's messages, mirrored ------------------------------------------------
    "warm_start classes changed": (ValueError,
                                   r"^warm_start can only be used where `y` has the same classes"),
    "unknown classes": (ValueError, r"^`y` has classes not in `self\.classes_`"),
    "validation set too small": (ValueError, r"^The validation set is too small\."),
    "stratified split impossible": (ValueError, r"^early_stopping=True holds out "
                                                r"validation_fraction=[\d.]+ of the data "
                                                r"stratified by class, and cannot: (The least "
                                                r"populated class in y has only 1 member|The "
                                                r"(test|train)_size = \d+ should be greater "
                                                r"or equal to the number of classes)"),
    # divergence: the training loss became non-finite, or the trained weights are not
    # finite (MLPClassifier's check) ...
    "diverged": (ValueError, r"^Solver produced non-finite parameter weights: (the training "
                             r"loss became non-finite (in epoch \d+|during L-BFGS)|they are "
                             r"not all finite)\. The learning rate"),
    # ... or finite weights whose outputs on the training data overflow (skmlp's own check)
    "diverged (outputs)": (ValueError, r"^Solver produced non-finite parameter weights: they "
                                       r"are finite, but the network's outputs on the "
                                       r"training data are not\. The learning rate"),
    "early-stopping part all zero weights": (ValueError, r"^The early-stopping split left the "
                                                         r"(training|validation) part with "
                                                         r"sample weights that are all 0"),
    # --- skmlp's own ----------------------------------------------------------------------
    "target type changed": (ValueError, r"^y is a [\w-]+ target of shape \(.*\), but the model "
                                        r"was fitted on"),
    "n_outputs changed": (ValueError, r"^y has \d+ outputs; the model was fitted with \d+, "
                                      r"and warm_start and partial_fit continue the fitted "
                                      r"model\.$"),
    "loss changed": (ValueError, r"^The fitted model's output is '\w+'; the parameters now ask "
                                 r"for '\w+' \(loss changed\?\)\. warm_start and partial_fit "
                                 r"continue the fitted model"),
    # where scikit-learn's outputs would be NaN (inf ones are returned, as there)
    "outputs not finite": (ValueError, r"^The network's outputs for X are NaN: its weights are "
                                       r"too large for these inputs"),
    "hidden_layer_sizes changed": (ValueError, r"^hidden_layer_sizes=\(.*\) does not match the "
                                               r"fitted network's hidden layers"),
    "activation entries": (ValueError, r"^activation=.* has \d+ entries; the fitted network has"),
    "coefs_ do not fit the model": (ValueError, r"^coefs_ (maps \d+ inputs to \d+ outputs|has "
                                                r"\d+ hidden layers; the model was fitted)"),
    "coefs_ do not chain": (ValueError, r"^coefs_ and intercepts_ must be non-empty and of "
                                        r"equal length|^coefs_\[\d+\] (of shape .* do not form "
                                        r"a layer|has \d+ rows but layer)"),
    "poisson with negative y": (ValueError, r"^Some value\(s\) of y are negative which is not "
                                            r"allowed for Poisson regression"),
    "bad class_weight": (ValueError, r"^class_weight must map classes in classes_ to finite "
                                     r"non-negative numbers|^Sample weights must contain at "
                                     r"least one non-zero number: class_weight="),
    "NaN validation score": (ValueError, r"^The validation score is NaN"),
}


def known_error(exc):
    """The :data:`KNOWN_ERRORS` name of ``exc``, or None for an unexpected error."""
    message = str(exc)
    for name, (types, pattern) in KNOWN_ERRORS.items():
        if isinstance(exc, types) and re.search(pattern, message):
            return name
    return None


# --- where scikit-learn's estimators do otherwise -------------------------------------------
@dataclass(frozen=True)
class Difference:
    """skmlp and its scikit-learn twin disagree on a step: one succeeds and the other
    fails, or both succeed with different models.

    ``hazard``: what in the machine's history since the last cold fit both ran makes the
    case (see ``_MLPMachine.hazards``), None if the step alone does; ``skmlp``: "ok" or a
    :data:`KNOWN_ERRORS` name (regex, full match); ``sklearn``: regex searched in the
    twin's outcome: "ok", "ExceptionType: message", or "different model: ..." when both
    succeeded (``_MLPMachine._compare_twin``).
    """

    hazard: str | None
    skmlp: str
    sklearn: str
    reason: str


#: The documented disagreements, found by running the machines (STATE_DISCOVER=1, below):
#: skmlp raises a clear error where scikit-learn silently goes on, or works where
#: scikit-learn crashes. Each ends the lockstep until the next cold fit both run.
SKLEARN_DIFFERENCES = {
    "minibatch with all-zero sample weights": Difference(
        None, "ok", r"^ZeroDivisionError: Weights sum to zero",
        "MLPClassifier/MLPRegressor average each minibatch's loss with np.average(..., "
        "weights=sample_weight) and crash when every weight of a minibatch is 0; skmlp gives "
        "such a minibatch a zero gradient (its loss sums, then divides by a total that may be "
        "0)."),
    "poisson with negative y": Difference(
        None, "poisson with negative y", r"^ok$",
        "MLPRegressor(loss='poisson') does not check y >= 0 and trains on negative targets, "
        "where the Poisson deviance is undefined (a NaN loss); skmlp raises."),
    "partial_fit with lbfgs (regressor)": Difference(
        None, r"partial_fit unavailable \(lbfgs\)", r"^ok$",
        "MLPRegressor.partial_fit is guarded by available_if(lambda est: est._check_solver) "
        "-- the bound method, always truthy, never called -- so it runs with "
        "solver='lbfgs'; skmlp hides partial_fit for lbfgs, as MLPClassifier does."),
    "coefs_ assigned as tuples": Difference(
        "tuple weights", "ok", r"^TypeError: (can only concatenate tuple|'tuple' object does "
                               r"not support item assignment)",
        "scikit-learn concatenates coefs_ + intercepts_ (lists) for its optimizer and assigns "
        "into coefs_[i] in lbfgs's _unpack; skmlp copies the weights, of any sequence type, "
        "into its own network."),
    "warm start after pruning (lbfgs)": Difference(
        "pruned", "ok", r"^ValueError: cannot reshape array of size \d+ into shape",
        "scikit-learn's lbfgs unpacks the flat parameters with layer sizes from "
        "hidden_layer_sizes, not from coefs_; skmlp continues the network coefs_ holds."),
    "partial_fit after pruning": Difference(
        "pruned", "ok", r"^ValueError: (operands could not be broadcast together|"
                        r"non-broadcastable output operand)",
        "scikit-learn's partial_fit goes on with the optimizer state of the unpruned network; "
        "skmlp starts a new optimizer when the parameter count changed."),
    "one output for a two-output model": Difference(
        None, "n_outputs changed", r"^ok$",
        "a warm fit or partial_fit of a two-output MLPRegressor on a 1-D y broadcasts the one "
        "target against both outputs and trains on, leaving n_outputs_=1 next to coefs_ with "
        "two outputs; skmlp refuses y of another width."),
    "early_stopping switched under warm_start": Difference(
        "early_stopping changed", "ok",
        r"^(AttributeError: 'NoneType' object has no attribute 'append'|TypeError: unsupported "
        r"operand type\(s\) for -: 'NoneType' and 'float')",
        "after a fit without early stopping scikit-learn's validation_scores_ is None "
        "(best_loss_ None after one with it), and a warm fit that switches early_stopping "
        "crashes on it; skmlp starts (or stops) tracking the validation score."),
    "lbfgs model continued by sgd/adam": Difference(
        "solver changed", "ok", r"^AttributeError: '\w+' object has no attribute 'loss_curve_'"
                                r"|^TypeError: unsupported operand type\(s\) for -: 'NoneType' "
                                r"and 'float'",
        "an lbfgs fit leaves scikit-learn without loss_curve_, or with the best_loss_=None of "
        "an earlier early-stopping fit, so a warm fit or partial_fit with sgd/adam crashes; "
        "skmlp keeps every solver's tracking state."),
    "stale optimizer continued after an lbfgs fit": Difference(
        "solver changed", "ok", r"^different model: predictions|^ValueError: (operands could "
                                r"not be broadcast together|non-broadcastable output operand)",
        "a cold lbfgs fit leaves scikit-learn's _optimizer and loss_curve_ of an earlier "
        "sgd/adam fit in place, and a later partial_fit with sgd/adam continues that stale "
        "optimizer (or crashes on it, when the architecture changed in between); skmlp's "
        "cold fit forgets it and starts a new one."),
    "stale best weights restored after pruning": Difference(
        "pruned", "ok", r"^different model: coefs_ shapes",
        "after an early-stopping fit scikit-learn's _best_coefs is coefs_; pruning by "
        "assigning new lists leaves _best_coefs unpruned, and a warm fit with early stopping "
        "that does not improve the validation score restores them: the pruned units come "
        "back. skmlp ignores best weights that no longer fit the network."),
    "loss changed under warm_start": Difference(
        "loss changed", "loss changed", r"^ok$",
        "set_params(loss=...) on a fitted MLPRegressor, then a warm fit or partial_fit: "
        "scikit-learn keeps the fitted output (identity or exp) but evaluates the new loss on "
        "it (the Poisson deviance of negative predictions is NaN), and lbfgs and the stopping "
        "rule follow that mismatched loss; skmlp says the output no longer matches the loss."),
    "training diverged: scikit-learn trains on": Difference(
        None, "diverged", r"^ok: non-finite loss",
        "once the training loss is inf or NaN (an overflow in one minibatch: the Poisson "
        "loss's exp output, or a learning rate too high for the data) skmlp stops with its "
        "divergence error, unless early stopping has best weights to keep; scikit-learn "
        "trains on with a NaN loss_curve_ and returns a model whenever the final weights "
        "happen to be finite."),
    "float32 arithmetic": Difference(
        "float32 weights", r"ok|diverged( \(outputs\))?",
        r"^ok|^different model: predictions differ by up to",
        "with coefs_ and intercepts_ all float32 skmlp trains in float32 (the float64 input "
        "cast to it), scikit-learn multiplies the float64 input by them and computes in "
        "float64, storing float32 weights: L-BFGS's line searches amplify the float32 "
        "rounding beyond the 1e-4 tolerance of such models (0.09 in a probability after 5 "
        "iterations), and a run that blows up overflows float32's 3.4e38 sooner."),
    "finite weights whose outputs overflow": Difference(
        None, r"diverged \(outputs\)", r"^ok: .*non-finite outputs for X",
        "a run that blew up in its last update ends with finite weights too large for the "
        "data: scikit-learn checks only that the weights are finite and returns a model that "
        "predicts NaN or inf on its own training data; skmlp checks the outputs too and "
        "raises its divergence error."),
    "predictions overflow": Difference(
        None, "outputs not finite", r"^ok: non-finite outputs for X$",
        "weights too large for the inputs overflow the forward pass: scikit-learn returns "
        "NaN or inf outputs (with numpy's RuntimeWarnings), and labels or a score computed "
        "from them; skmlp raises a ValueError that says why."),
    "rounding amplified by a learning rate >= 1": Difference(
        "learning rate >= 1", "ok", r"^different model: predictions differ by up to",
        "skmlp's numba kernels compute the logistic output and the softmax probabilities "
        "within a few ulp of numpy (skmlp/_kernels.py), the loss to rounding; sgd and adam "
        "at learning_rate_init >= 1 amplify such differences step after step (1e-8 to 1e-5 "
        "in the probabilities after a few epochs, none with SKMLP_DISABLE_NUMBA=1). Below 1 "
        "the models agree to 1e-6."),
    "hidden_layer_sizes changed under warm_start": Difference(
        "hidden_layer_sizes changed", "hidden_layer_sizes changed",
        r"^ok$|^AttributeError: 'NoneType' object has no attribute 'dtype'|^ValueError: ",
        "scikit-learn silently continues the old network (or crashes, with another number of "
        "layers); skmlp says the architecture no longer matches."),
}

#: skmlp's errors for numbers too large: where scikit-learn goes on instead, its outcome
#: says what it went on with ("ok: non-finite loss", ``_MLPMachine._non_finite``)
OVERFLOWS = ("diverged", "diverged (outputs)", "outputs not finite")

# --- statistics ----------------------------------------------------------------------------
#: Per machine, how often each step outcome occurred (``hypothesis.event`` counts
#: examples, not steps).
STATS = {}


def _count(machine, label):
    event(label)
    STATS.setdefault(machine, Counter())[label] += 1


# --- comparing fitted state -------------------------------------------------------------------
def fitted_state(est):
    d = vars(est)
    return {k: d[k] for k in type(est)._FITTED_STATE if k in d}


def _same_value(a, b):
    """Equal content: arrays by dtype, shape and bytes; sequences and mappings element-wise;
    other objects (the optimizer, the label binarizer) attribute by attribute.

    (Not by pickle bytes: those differ after a pickle round trip, which shares dtype
    objects differently, although nothing else changed.)"""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return (a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
                and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)
    if a is None or isinstance(a, (bool, int, str, float, np.generic, np.dtype)):
        return a == b or (a != a and b != b)  # NaN == NaN here
    return _same_value(vars(a), vars(b))


def _aliases(state):
    keys = sorted(state)
    return {(a, b) for i, a in enumerate(keys) for b in keys[i + 1:]
            if state[a] is state[b] and not isinstance(state[a], (bool, int, type(None)))}


class Snapshot:
    """The fitted state before a step: references, a deep copy, and what aliases what."""

    def __init__(self, est):
        state = fitted_state(est)
        self.refs = {k: tuple(v) if isinstance(v, list) else v for k, v in state.items()}
        self.copy = copy.deepcopy(state)
        self.aliases = _aliases(state)

    def assert_unchanged(self, est, *, identity=True):
        """The fitted state of ``est`` has the same attributes and values as before.

        ``identity``: also the same objects (a rollback restores references; a list
        may be a new list of the same elements).
        """
        state = fitted_state(est)
        assert set(state) == set(self.copy), (
            f"fitted attributes changed: added {set(state) - set(self.copy)}, "
            f"removed {set(self.copy) - set(state)}")
        for k, v in state.items():
            assert _same_value(v, self.copy[k]), f"{k} changed: {self.copy[k]!r} -> {v!r}"
            if identity:
                ref = self.refs[k]
                same = (len(v) == len(ref) and all(x is y for x, y in zip(v, ref))
                        if isinstance(v, list) else v is ref)
                assert same, f"{k} is no longer the same object"
        lost = self.aliases - _aliases(state)
        gained = _aliases(state) - self.aliases
        assert not lost and not gained, f"aliasing changed: lost {lost}, gained {gained}"


# --- warnings -------------------------------------------------------------------------------
#: where numpy's floating-point RuntimeWarnings may come from, by step: score() of finite
#: predictions of 1e200 ("huge" weights) overflows in scikit-learn's r2_score
FP_WARNING_SOURCES = {
    "score": (os.path.join("sklearn", "metrics", ""),),
}
FP_WARNINGS = ("overflow encountered", "invalid value encountered", "divide by zero encountered")


def check_warnings(caught, fp_sources=()):
    """Only ConvergenceWarning, the batch-size clip (when it applies), DataConversionWarning,
    and numpy's floating-point warnings: training and prediction show them as scikit-learn's
    do (an overflow on the way to a divergence, a prediction that overflows to inf)."""
    for w in caught:
        if issubclass(w.category, (ConvergenceWarning, DataConversionWarning)):
            continue
        if w.category is UserWarning and str(w.message) == BATCH_SIZE_WARNING:
            continue
        if w.category is RuntimeWarning and str(w.message).startswith(FP_WARNINGS):
            continue
        raise AssertionError(f"unexpected warning {w.category.__name__}: {w.message}")


# --- callbacks that interrupt or fail (issue 20) ----------------------------------------------
DISRUPTIONS = ("KeyboardInterrupt in an end hook", "SIGINT in a begin hook",
               "two SIGINTs in an end hook", "RuntimeError in an end hook",
               "RuntimeError in teardown", "SIGINT in teardown")


class _Disruption:
    """A FitCallback that interrupts or fails at the ``at``-th epoch (or L-BFGS iteration)."""

    def __init__(self, how, at):
        self.how, self.at = how, at
        self.epoch_ends = 0  # end hooks of epochs or iterations that ran
        self.fired = None  # the epoch at which it struck
        self.interrupted = False

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        if self.how == "RuntimeError in teardown":
            raise RuntimeError("disrupted in teardown")
        if self.how == "SIGINT in teardown" and self.fired is None:
            self.fired, self.interrupted = 0, True
            signal.raise_signal(signal.SIGINT)

    def on_fit_task_begin(self, estimator, context):
        if (self.how == "SIGINT in a begin hook" and context.task_name != "fit"
                and self.fired is None and self.epoch_ends == self.at):
            self.fired, self.interrupted = self.at, True
            signal.raise_signal(signal.SIGINT)  # KeyboardInterrupt from here

    def on_fit_task_end(self, estimator, context):
        if context.task_name == "fit":
            return False
        if self.fired is not None:
            if self.how == "two SIGINTs in an end hook":  # the cut-short sub-task's end
                signal.raise_signal(signal.SIGINT)
            return False
        self.epoch_ends += 1
        if self.epoch_ends == self.at and "end hook" in self.how:
            self.fired = self.at
            if self.how == "RuntimeError in an end hook":
                raise RuntimeError("disrupted in an end hook")
            self.interrupted = True
            if self.how == "KeyboardInterrupt in an end hook":
                raise KeyboardInterrupt
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)
        return False


# --- the machines -----------------------------------------------------------------------------
SKLEARN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
SKMLP_ACTIVATIONS = ("leaky_relu", "elu", "gelu")
HIDDEN = [(2,), (3,), (4,), (3, 2), (2, 3)]
N_SAMPLES = st.integers(10, 60)
SEEDS = st.integers(0, 2**16)
# None most of the time; weights with some zeros exercise the weighted paths
SAMPLE_WEIGHTS = st.sampled_from([None] * 4 + ["uniform", "some zero"])
FIT_METHODS = st.sampled_from(["fit", "warm fit", "partial_fit"])
#: learning_rate_init: now and then one too high for the data, so that runs diverge (into
#: the divergence error, or early stopping's best weights) and models of large weights
#: come out
RATES = st.sampled_from([1e-3, 1e-2, 0.1] * 3 + [1.0, 10.0])
TRAINING_OPS = ("fit", "warm fit", "partial_fit")


class _MLPMachine(RuleBasedStateMachine):
    """What both machines do; subclasses provide data, targets and the usable check."""

    ours = theirs = name = None  # the skmlp class, the scikit-learn class, a label
    #: skmlp parameters scikit-learn does not have, at the value that means "off"
    extras = {"init": "glorot_uniform", "dropout": 0.0, "scoring": None}
    #: what ``bad_fit`` may do (subclasses add target errors)
    bad_kinds = ("NaN", "inf", "zero sample_weight", "short y", "n_features")

    def __init__(self):
        super().__init__()
        self.est = None
        self.twin = None  # the scikit-learn estimator, in lockstep while self.synced
        self.synced = False
        # what happened since the last cold fit both ran that scikit-learn may handle
        # otherwise (the ``hazard`` of SKLEARN_DIFFERENCES)
        self.hazards = set()
        self.n_ok = 0  # successful training steps, for target()
        self.history = []  # (STATE_DEBUG) what happened, for reports of discoveries
        self.fitted_config = {}  # parameters of the last successful training step

    # --- set-up -------------------------------------------------------------------------------
    def _setup(self, d, seed, **params):
        self.d = d
        self.X_probe = np.random.default_rng(seed).normal(size=(7, d))
        self.est = self.ours(random_state=seed, **params)
        self.twin = self._new_twin()
        self.synced = True  # both unfitted, same parameters
        note(f"{self.name}: d={d}, params={params}")

    def _new_twin(self):
        own = _param_names(self.theirs)
        return self.theirs(**{k: v for k, v in _params(self.est).items() if k in own})

    # --- data ---------------------------------------------------------------------------------
    def _X(self, rng, n, d=None):
        return rng.normal(size=(n, self.d if d is None else d))

    def _sample_weight(self, rng, n, kind):
        if kind is None:
            return None
        w = rng.uniform(0.5, 2.0, n)
        if kind == "some zero":
            w[rng.choice(n, n // 3, replace=False)] = 0.0
        return w

    def _data(self, n, seed, sw=None, partial=False):
        """``(X, y, sample_weight)``: ``n`` samples of this example's problem."""
        raise NotImplementedError

    def _check_usable(self, est):
        """Assert that a fitted ``est`` predicts sensibly, also after a pickle round trip."""
        raise NotImplementedError

    #: the prediction methods, each of which must refuse weights too large for the probe
    predict_methods = ("predict",)

    def _predict_all(self, est, X=None):
        return est.predict(self.X_probe if X is None else X)

    def _usable(self, est, X=None):
        """A fitted ``est`` predicts sensibly on the probe rows, or its weights are too large
        for them and every prediction method says so (also after a pickle round trip).

        X: the data of a successful training step, on which the outputs must be finite
        (fit checks them: a fitted model never overflows on its own training data).
        """
        if X is not None:
            assert np.isfinite(self._predict_all(est, X[:1000])).all()
        try:
            self._check_usable(est)
        except ValueError as e:
            if known_error(e) != "outputs not finite":
                raise
            pattern = KNOWN_ERRORS["outputs not finite"][1]
            for m in (est, pickle.loads(pickle.dumps(est))):
                for method in self.predict_methods:
                    with pytest.raises(ValueError, match=pattern):
                        getattr(m, method)(self.X_probe)
            _count(self.name, "model: outputs on the probe rows not finite")

    def _outputs(self, est):
        """``_predict_all(est)``, or None where its outputs are not finite (the error)."""
        try:
            return self._predict_all(est)
        except ValueError as e:
            if known_error(e) != "outputs not finite":
                raise
            return None

    # --- state ------------------------------------------------------------------------------
    @property
    def fitted(self):
        return hasattr(self.est, "coefs_")

    def _twin_compatible(self):
        """scikit-learn can run what skmlp runs: no skmlp-only parameter or value set."""
        p = _params(self.est)
        return (all(p[k] == v for k, v in self.extras.items())
                and isinstance(p["activation"], str) and p["activation"] in SKLEARN_ACTIVATIONS)

    def _cold(self, method):
        """Whether ``method`` ("fit", "warm fit", "partial_fit") would start a new model."""
        if method == "fit":
            return not self.fitted or not self.est.warm_start
        return not self.fitted

    def _set_params(self, **params):
        """Set on skmlp, and on the twin what it has (its values are never skmlp-only).

        Records as hazards the changes scikit-learn may not take as skmlp does.
        """
        if self.fitted:
            fitted_hidden = tuple(np.shape(W)[1] for W in self.est.coefs_[:-1])
            for k, v in params.items():
                if k == "hidden_layer_sizes" and tuple(np.atleast_1d(v)) != fitted_hidden:
                    self.hazards.add("hidden_layer_sizes changed")
                elif k in self.fitted_config and v != self.fitted_config[k]:
                    self.hazards.add(f"{k} changed")
        self.est.set_params(**params)
        if DISCOVER is not None:
            self.history.append(f"set_params({params}) synced={self.synced}")
        if self.twin is not None:
            own = _param_names(self.theirs)
            self.twin.set_params(**{k: v for k, v in params.items() if k in own and not (
                k == "activation" and v not in SKLEARN_ACTIVATIONS)})

    # --- one step on skmlp (and its twin) -----------------------------------------------------
    def _step(self, op, call, *, trains=False, changes=False, must_fail=False, cold=False,
              X=None):
        """Run ``call(estimator)`` on skmlp and, while in lockstep, on the twin.

        trains: a fit or partial_fit; changes: another step that changes the model
        (weight assignment); cold: a fit that starts a new model (the twin may rejoin);
        must_fail: bad data; X: the step's input (training data, or valid data to predict).
        """
        est = self.est
        before = Snapshot(est)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                call(est)
            except Exception as e:  # noqa: BLE001 -- anything not in KNOWN_ERRORS re-raises
                outcome = known_error(e)
                if outcome is None:
                    raise
                note(f"{op}: {type(e).__name__}: {e}")
            else:
                outcome = "ok"
        fp_sources = FP_WARNING_SOURCES["score"] if op == "score" else ()
        check_warnings(caught, fp_sources)
        if DISCOVER is not None:
            self.history.append(f"{op}: {outcome} (synced={self.synced}, hazards="
                                f"{sorted(self.hazards)})")
        if outcome == "ok":
            assert not must_fail, f"{op} succeeded on bad data"
            if not (trains or changes):  # predictions: nothing moves
                before.assert_unchanged(est)
            if trains:
                self.n_ok += 1
                p = _params(est)
                self.fitted_config = {k: p[k] for k in self.watched}
            _count(self.name, f"{op}: ok")
        else:
            before.assert_unchanged(est)
            _count(self.name, f"{op}: rejected: {outcome}")
        if self.fitted:
            self._usable(est, X if trains and outcome == "ok" else None)
        chaotic = trains and est.solver != "lbfgs" and est.learning_rate_init >= 1
        if chaotic:
            self.hazards.add("learning rate >= 1")
        self._lockstep(op, call, outcome, trains or changes, cold, X)
        if chaotic and outcome == "ok":
            self.hazards.add("learning rate >= 1")  # also when a cold fit has reset them
        return outcome

    #: parameters whose change between fits is a hazard for the twin
    watched = ("early_stopping", "solver", "activation")

    def _lockstep(self, op, call, outcome, changes, cold, X=None):
        """Run the twin, compare outcomes; ``self.synced`` stays true only while they agree."""
        if not self._twin_compatible():
            if outcome == "ok" and changes and self.synced:
                self.synced = False
                _count(self.name, "twin: left (skmlp-only parameter)")
            return
        if not self.synced:
            if not cold:
                return
            self.twin = self._new_twin()  # a cold fit: a fresh twin runs it too
        twin_before = _twin_bytes(self.twin)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                result = call(self.twin)
            except Exception as e:  # noqa: BLE001 -- scikit-learn's outcome, compared below
                theirs = f"{type(e).__name__}: {e}"
            else:
                theirs = "ok"
                if outcome in OVERFLOWS:  # did scikit-learn go on from the same overflow?
                    theirs += self._non_finite(result, X)
        if outcome == theirs == "ok":
            theirs = self._compare_twin()  # "ok", or how the models differ
        if (outcome == "ok") == theirs.startswith("ok"):  # theirs: "ok" or "ok: ..." if it is
            if outcome == "ok":
                if cold:
                    self.hazards = set()
                _count(self.name, "twin: both ok" if self.synced else "twin: rejoined")
                self.synced = True
            elif self.synced:
                _count(self.name, "twin: both rejected")
                if _twin_bytes(self.twin) != twin_before:
                    # scikit-learn keeps some of what a failed call set (a LabelBinarizer
                    # not fitted, classes_, n_outputs_): no longer skmlp's model
                    self.synced = False
                    _count(self.name, f"twin: left (sklearn changed by failed {op})")
            return
        for name, diff in SKLEARN_DIFFERENCES.items():
            if ((diff.hazard is None or diff.hazard in self.hazards)
                    and re.fullmatch(diff.skmlp, outcome) and re.search(diff.sklearn, theirs)):
                _count(self.name, f"twin: differs: {name}")
                self.synced = False
                return
        message = (f"{op}: skmlp {outcome!r} but {self.theirs.__name__} {theirs!r} "
                   f"(hazards {sorted(self.hazards)})")
        if DISCOVER is None:
            raise AssertionError(message)
        DISCOVER.append((self.name, op, outcome, _squash(theirs), tuple(sorted(self.hazards))))
        if os.environ.get("STATE_DEBUG"):
            print("DEBUG", message, "\n   params:", _params(self.est), "\n  ",
                  "\n   ".join(self.history))
        self.synced = False

    def _non_finite(self, result, X):
        """What the twin's successful step left non-finite, if anything: ": non-finite loss"
        (loss_ or loss_curve_ after a fit), ": non-finite outputs for X" (predict_proba
        or predict on the step's X), both, or "" if nothing."""
        found = []
        if result is self.twin:  # a fit
            losses = [getattr(self.twin, "loss_", 0.0)] + list(
                getattr(self.twin, "loss_curve_", None) or [])
            if not np.isfinite(np.asarray(losses, dtype=float)).all():
                found.append("non-finite loss")
        if X is not None and getattr(X, "ndim", 0) == 2 and X.shape[0]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    finite = np.isfinite(self._predict_all(self.twin, X[:1000])).all()
                except Exception:  # noqa: BLE001 -- a twin that cannot predict says nothing
                    finite = True
            if not finite:
                found.append("non-finite outputs for X")
        return ": " + ", ".join(found) if found else ""

    def _compare_twin(self):
        """Both succeeded: "ok" if they hold the same network and (skmlp's claim) predict the
        same, else "different model: <how>" (matched against SKLEARN_DIFFERENCES)."""
        est, twin = self.est, self.twin
        shapes = [[np.shape(W) for W in m.coefs_] for m in (est, twin)]
        if shapes[0] != shapes[1]:
            return f"different model: coefs_ shapes {shapes[0]} and {shapes[1]}"
        if (est.n_outputs_, est.out_activation_) != (twin.n_outputs_, twin.out_activation_):
            return (f"different model: outputs {est.n_outputs_}, {est.out_activation_} and "
                    f"{twin.n_outputs_}, {twin.out_activation_}")
        if "activation changed" in self.hazards:
            # after set_params(activation=...) scikit-learn predicts with the new activation
            # before any refit, skmlp with the fitted one: no comparison
            return "ok"
        # float32 weights: scikit-learn computes in float32, skmlp in float64 unless every
        # array is float32
        rtol, atol = (1e-4, 1e-5) if "float32 weights" in self.hazards else (1e-6, 1e-9)
        P = self._outputs(est)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # scikit-learn's overflow
            Q = self._predict_all(twin)
        if P is None:  # the weights are too large for the probe: scikit-learn's NaN or inf
            return "ok" if not np.isfinite(Q).all() else (
                "different model: outputs not finite for skmlp only")
        if not np.allclose(P, Q, rtol=rtol, atol=atol):
            return f"different model: predictions differ by up to {np.abs(P - Q).max():.3g}"
        return "ok"

    # --- training -----------------------------------------------------------------------------
    @rule(n=N_SAMPLES, seed=SEEDS, sw=SAMPLE_WEIGHTS)
    def fit(self, n, seed, sw):
        """A new model: ``set_params(warm_start=False)``, then fit."""
        self._set_params(warm_start=False)
        X, y, w = self._data(n, seed, sw)
        outcome = self._step("fit", lambda m: m.fit(X, y, sample_weight=w), trains=True,
                             cold=True, X=X)
        self._after_error(outcome, n, seed, sw, cold=True)

    @rule(n=N_SAMPLES, seed=SEEDS, sw=SAMPLE_WEIGHTS)
    def warm_fit(self, n, seed, sw):
        """``set_params(warm_start=True)``, then fit: continues a fitted model."""
        self._set_params(warm_start=True)
        X, y, w = self._data(n, seed, sw)
        cold = self._cold("warm fit")
        outcome = self._step("warm fit", lambda m: m.fit(X, y, sample_weight=w), trains=True,
                             cold=cold, X=X)
        self._after_error(outcome, n, seed, sw, cold=cold)

    def _after_error(self, outcome, n, seed, sw, *, cold):
        """What a user does after a training step's error that says what to do (else the
        machine would retry the failing step until it happens to fit anew): after the
        divergence error, lower a learning rate of 1 or more, as the message advises, or
        else, when continuing the fitted weights diverged (weights assigned "huge"), fit
        anew; after "loss changed", fit anew, as the message advises."""
        if outcome.startswith("diverged") and self.est.learning_rate_init >= 1:
            self._set_params(learning_rate_init=0.01)
            _count(self.name, "set_params: learning_rate_init lowered after the divergence")
        elif outcome.startswith("diverged") or outcome == "loss changed":
            if not cold:
                self.fit(n, seed + 1, sw)

    @rule(n=N_SAMPLES, seed=SEEDS, sw=SAMPLE_WEIGHTS, data=st.data())
    def partial_fit(self, n, seed, sw, data):
        """partial_fit; with lbfgs, mostly after set_params(solver="adam" or "sgd") (a user
        who has read the AttributeError), else the AttributeError itself."""
        if self.est.solver == "lbfgs" and data.draw(st.sampled_from([True] * 4 + [False]),
                                                    label="switch to a stochastic solver"):
            self._set_params(solver=data.draw(st.sampled_from(["adam", "sgd"])))
        X, y, w = self._data(n, seed, sw, partial=True)
        kwargs = self._partial_fit_kwargs(data)
        cold = self._cold("partial_fit")
        outcome = self._step("partial_fit",
                             lambda m: m.partial_fit(X, y, sample_weight=w, **kwargs),
                             trains=True, cold=cold, X=X)
        self._after_error(outcome, n, seed, sw, cold=cold)

    def _partial_fit_kwargs(self, data):
        return {}

    # --- parameters -------------------------------------------------------------------------
    #: what ``set_params`` may set, with weights: mostly values scikit-learn has too, so
    #: the twin runs along most of the time
    settable = ("solver", "activation", "activation", "hidden_layer_sizes", "early_stopping",
                "warm_start", "dropout", "init", "training")

    @rule(data=st.data())
    def set_params(self, data):
        what = data.draw(st.sampled_from(self.settable), label="parameter")
        n_hidden = len(np.atleast_1d(self.est.hidden_layer_sizes))
        label = what
        if what == "solver":
            params = {"solver": data.draw(st.sampled_from(["adam", "adam", "sgd", "lbfgs"]))}
        elif what == "activation":
            kind = data.draw(st.sampled_from(["sklearn"] * 4 + ["skmlp", "per layer"]))
            if kind == "per layer":
                value = tuple(data.draw(st.lists(
                    st.sampled_from(SKLEARN_ACTIVATIONS + SKMLP_ACTIVATIONS),
                    min_size=n_hidden, max_size=n_hidden)))
            else:
                value = data.draw(st.sampled_from(
                    SKLEARN_ACTIVATIONS if kind == "sklearn" else SKMLP_ACTIVATIONS))
            params, label = {"activation": value}, f"activation ({kind})"
        elif what == "hidden_layer_sizes":
            sizes = data.draw(st.sampled_from(HIDDEN))
            params = {"hidden_layer_sizes": sizes, **self._per_layer(len(sizes))}
        elif what == "early_stopping":
            params = {"early_stopping": data.draw(st.sampled_from([False, False, True]))}
        elif what == "warm_start":
            params = {"warm_start": data.draw(st.booleans())}
        elif what == "dropout":
            # with lbfgs dropout is an InvalidParameterError at every fit: rarely then
            value = data.draw(st.sampled_from([0.0, 0.0, 0.0, 0.2, "per layer"]
                                              if self.est.solver != "lbfgs" else
                                              [0.0] * 7 + [0.2]))
            if value == "per layer":
                value = tuple(data.draw(st.lists(st.sampled_from([0.0, 0.1, 0.5]),
                                                 min_size=n_hidden, max_size=n_hidden)))
            params = {"dropout": value}
        elif what == "init":
            params = {"init": data.draw(st.sampled_from(["glorot_uniform"] * 3
                                                        + ["scaled_normal"]))}
        elif what == "training":
            params = {"max_iter": data.draw(st.integers(1, 5)),
                      "batch_size": data.draw(st.sampled_from(["auto", "auto", 4, 16, 100])),
                      "learning_rate_init": data.draw(RATES)}
            label = "max_iter, batch_size, learning_rate_init"
        else:
            params, label = self._set_own_params(what, data)
        self._set_params(**params)
        _count(self.name, f"set_params: {label}")

    def _set_own_params(self, what, data):
        raise NotImplementedError(what)

    def _per_layer(self, n_hidden):
        """Per-layer activation and dropout tuples resized to ``n_hidden`` layers, so a
        new architecture does not make every later fit an InvalidParameterError."""
        p, out = _params(self.est), {}
        for key in ("activation", "dropout"):
            if isinstance(p[key], tuple) and len(p[key]) != n_hidden:
                out[key] = (p[key] * n_hidden)[:n_hidden]
        return out

    # --- weights ------------------------------------------------------------------------------
    @precondition(lambda self: self.fitted)
    @rule(how=st.sampled_from(["scale", "redraw", "intercept", "float32", "all float32",
                               "tuple", "prune", "prune"] * 2 + ["huge"]),
          seed=SEEDS, data=st.data())
    def assign_weights(self, how, seed, data):
        """As a user does it: ``coefs_[i] = ...`` (a tuple is replaced whole), ``coefs_ =
        tuple(...)``, or pruning hidden units (columns of ``coefs_[j]``, entries of
        ``intercepts_[j]``, rows of ``coefs_[j + 1]``). "huge": weights of 1e200, finite but
        too large for most inputs (predictions are then an error, training diverges)."""
        est = self.est
        prunable = [j for j, W in enumerate(est.coefs_[:-1]) if np.shape(W)[1] > 1]
        if how == "prune" and not prunable:
            how = "scale"
        i = data.draw(st.integers(0, len(est.coefs_) - 1), label="layer")
        rng = np.random.default_rng(seed)
        W_new = rng.normal(scale=0.5, size=np.shape(est.coefs_[i]))
        b_new = rng.normal(scale=0.5, size=np.shape(est.intercepts_[i]))
        if how == "prune":
            j = data.draw(st.sampled_from(prunable), label="pruned layer")
            units = np.shape(est.coefs_[j])[1]
            keep = sorted(data.draw(st.sets(st.integers(0, units - 1), min_size=1,
                                            max_size=units - 1), label="kept units"))
            self.hazards.add("pruned")
        if how == "tuple":
            self.hazards.add("tuple weights")
        if how in ("float32", "all float32"):
            self.hazards.add("float32 weights")

        def mutate(m):
            coefs, intercepts = list(m.coefs_), list(m.intercepts_)
            if how == "tuple":
                m.coefs_, m.intercepts_ = tuple(coefs), tuple(intercepts)
                return
            if how == "prune":
                coefs[j], intercepts[j] = coefs[j][:, keep], intercepts[j][keep]
                coefs[j + 1] = coefs[j + 1][keep]
            elif how == "all float32":
                with np.errstate(over="ignore"):  # "huge" weights become inf
                    coefs = [np.asarray(W, dtype=np.float32) for W in coefs]
                    intercepts = [np.asarray(b, dtype=np.float32) for b in intercepts]
            elif how == "scale":
                coefs[i] = coefs[i] * -0.75  # bounded: repeated scaling must not overflow
            elif how == "redraw":
                coefs[i] = W_new.copy()
            elif how == "huge":
                coefs[i] = W_new * 1e200
            elif how == "float32":
                with np.errstate(over="ignore"):
                    coefs[i] = np.asarray(coefs[i], dtype=np.float32)
            else:
                intercepts[i] = b_new.copy()
            for name, new in (("coefs_", coefs), ("intercepts_", intercepts)):
                old = getattr(m, name)
                if isinstance(old, list) and how not in ("prune", "all float32"):
                    old[i] = new[i]  # item assignment into the fitted list
                else:
                    setattr(m, name, type(old)(new))

        self._step(f"assign weights ({how})", mutate, changes=True)

    @precondition(lambda self: self.fitted)
    @rule(how=st.sampled_from(["drop layer", "extra input row", "bias shape"]),
          then=st.sampled_from(["predict", "warm fit", "partial_fit", "pickle"]), seed=SEEDS)
    def inconsistent_weights(self, how, then, seed):
        """Weights that do not form the fitted network: every use is a clear error that
        leaves them in place, and putting the right ones back makes the model usable."""
        if then == "warm fit":
            self._set_params(warm_start=True)
        est = self.est
        saved = (est.coefs_, est.intercepts_)
        shared = _aliases(fitted_state(est))
        coefs, intercepts = list(est.coefs_), list(est.intercepts_)
        if how == "drop layer":
            coefs, intercepts = coefs[1:], intercepts[1:]
        elif how == "extra input row":
            coefs[0] = np.vstack([coefs[0], coefs[0][:1]])
        else:
            intercepts[-1] = np.append(intercepts[-1], 0.0)
        est.coefs_, est.intercepts_ = coefs, intercepts
        X, y, _ = self._data(20, seed)
        kwargs = self._partial_fit_kwargs(None)
        call = {"predict": lambda m: m.predict(X),
                "warm fit": lambda m: m.fit(X, y),
                "partial_fit": lambda m: m.partial_fit(X, y, **kwargs),
                "pickle": lambda m: pickle.loads(pickle.dumps(m))}[then]
        before = Snapshot(est)
        with pytest.raises(Exception) as info:  # noqa: B017 -- matched against KNOWN_ERRORS
            call(est)
        name = known_error(info.value)
        assert name is not None, f"unexpected {info.type.__name__}: {info.value}"
        before.assert_unchanged(est)
        _count(self.name, f"inconsistent weights, {then}: rejected: {name}")
        est.coefs_, est.intercepts_ = saved
        assert _aliases(fitted_state(est)) == shared, "a failed call changed what aliases what"

    # --- round trips ------------------------------------------------------------------------
    @rule(how=st.sampled_from(["pickle", "deepcopy"]))
    def round_trip(self, how):
        copier = (lambda m: pickle.loads(pickle.dumps(m))) if how == "pickle" else copy.deepcopy
        before = Snapshot(self.est)
        P = self._outputs(self.est) if self.fitted else None
        self.est = copier(self.est)
        if self.twin is not None:
            self.twin = copier(self.twin)
        before.assert_unchanged(self.est, identity=False)
        if self.fitted:
            Q = self._outputs(self.est)
            assert (P is None) == (Q is None)
            if P is not None:
                np.testing.assert_array_equal(Q, P)
        _count(self.name, f"{how} round trip: ok")

    # --- interrupts and failing callbacks (issue 20) ------------------------------------------
    @rule(how=st.sampled_from(DISRUPTIONS), at=st.integers(1, 3), n=N_SAMPLES, seed=SEEDS,
          sw=SAMPLE_WEIGHTS)
    def disrupted_fit(self, how, at, n, seed, sw):
        """A fit (cold or warm, as the parameters are) whose callback interrupts or fails at
        its ``at``-th epoch (or iteration), or in its teardown: a failure changes nothing; an
        interrupt keeps whole epochs, with the warning; never a callback context left behind.
        scikit-learn's callbacks differ: the twin leaves the lockstep."""
        X, y, w = self._data(n, seed, sw)
        est = self.est
        before = Snapshot(est)
        disruption = _Disruption(how, at)
        est.set_callbacks(disruption)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    est.fit(X, y, sample_weight=w)
                except RuntimeError as e:
                    assert str(e).startswith("disrupted"), e
                    outcome = "failed"
                except Exception as e:  # noqa: BLE001 -- anything not in KNOWN_ERRORS re-raises
                    outcome = known_error(e)
                    if outcome is None:
                        raise
                else:
                    outcome = "ok"
        finally:
            est.set_callbacks()
        assert "_callback_fit_ctx" not in est.__dict__
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        interrupted = [w for w in caught if "Training interrupted by user" in str(w.message)]
        check_warnings([w for w in caught if w not in interrupted])
        if outcome != "ok":
            before.assert_unchanged(est)
            assert not interrupted
            _count(self.name, f"disrupted fit ({how}): {outcome}, unchanged")
        else:
            assert bool(interrupted) == disruption.interrupted, (how, disruption.fired)
            curve = est.loss_curve_
            for name in ("validation_scores_", "validation_loss_curve_"):
                if getattr(est, name, None) is not None:
                    assert len(getattr(est, name)) == len(curve)
            if disruption.interrupted and "end hook" in how:
                # the epoch whose end hook interrupted counts, once
                assert disruption.epoch_ends == disruption.fired
            self._usable(est)
            self.n_ok += 1
            _count(self.name, f"disrupted fit ({how}): kept "
                              f"{'interrupted' if interrupted else 'complete'}")
        self.synced = False

    # --- bad data -----------------------------------------------------------------------------
    @rule(data=st.data(), method=FIT_METHODS, n=N_SAMPLES, seed=SEEDS)
    def bad_fit(self, data, method, n, seed):
        """Fit, warm fit or partial_fit on data skmlp must refuse."""
        kind = data.draw(st.sampled_from(self.bad_kinds), label="kind")
        if kind == "n_features" and not self.fitted:
            kind = "NaN"  # a first fit takes any number of features
        if kind == "n_features" and method == "fit":
            method = "warm fit"
        if method == "warm fit":
            self._set_params(warm_start=True)
        cold = self._cold(method)
        X, y, w = self._data(n, seed, None, partial=method == "partial_fit")
        rng = np.random.default_rng(seed)
        if kind == "NaN":
            X[rng.integers(n), rng.integers(self.d)] = np.nan
        elif kind == "inf":
            X[rng.integers(n), rng.integers(self.d)] = np.inf
        elif kind == "zero sample_weight":
            w = np.zeros(n)
        elif kind == "short y":
            y = y[:-1]
        elif kind == "n_features":
            X = self._X(rng, n, self.d + rng.choice([-1, 1]))
        else:
            y, method, cold = self._bad_target(kind, y, method, cold, rng)
        kwargs = self._partial_fit_kwargs(data) if method == "partial_fit" else {}
        if method == "partial_fit":
            call = lambda m: m.partial_fit(X, y, sample_weight=w, **kwargs)  # noqa: E731
        else:
            call = lambda m: m.fit(X, y, sample_weight=w)  # noqa: E731
        must_fail = self._must_fail(kind, cold)
        op = f"bad {method} ({kind})" if must_fail else f"{method} ({kind}, a new model)"
        self._step(op, call, trains=True, must_fail=must_fail, cold=cold, X=X)
        self._after_bad_fit(kind)

    def _bad_target(self, kind, y, method, cold, rng):
        raise NotImplementedError(kind)

    def _must_fail(self, kind, cold):
        return True

    def _after_bad_fit(self, kind):
        pass

    @rule(kind=st.sampled_from(["valid"] * 3 + ["NaN", "inf", "n_features", "1-D", "no rows"]),
          method=st.sampled_from(["predict", "score", "proba"]), seed=SEEDS)
    def predict(self, kind, method, seed):
        """predict, score, predict_proba (classifier) or predict again (regressor), on
        valid or bad data; the fitted state never moves."""
        X, y, _ = self._data(10, seed)
        if kind == "valid":
            self._step(method, self._predict_call(method, X, y), must_fail=not self.fitted,
                       X=X)
            return
        if kind == "NaN":
            X[3, 0] = np.nan
        elif kind == "inf":
            X[3, 0] = -np.inf
        elif kind == "n_features":
            X = np.hstack([X, X[:, :1]])
        elif kind == "1-D":
            X = X[0]
        else:
            X, y = X[:0], y[:0]
        self._step(f"bad {method} ({kind})", self._predict_call(method, X, y), must_fail=True)

    def _predict_call(self, method, X, y):
        if method == "score":
            return lambda m: m.score(X, y)
        return lambda m: m.predict(X)

    def teardown(self):
        STATS.setdefault(self.name, Counter())["examples"] += 1
        if self.est is not None:
            target(float(self.n_ok), label=f"{self.name}: successful training steps")


_PARAM_NAMES = {}


def _param_names(cls):
    if cls not in _PARAM_NAMES:
        _PARAM_NAMES[cls] = frozenset(cls._get_param_names())
    return _PARAM_NAMES[cls]


def _params(est):
    """``est.get_params(deep=False)``, without its signature inspection on every call."""
    return {k: getattr(est, k) for k in _param_names(type(est))}


def _twin_bytes(twin):
    """scikit-learn's state, but its per-fit RandomState (reset by every fit)."""
    return pickle.dumps(sorted((k, v) for k, v in vars(twin).items() if k != "_random_state"))


def _squash(message):
    """A message with numbers and arrays blurred, to group discovered differences."""
    return re.sub(r"\[[^\]]*\]|\d+", "#", message)[:160]


# --- classifier -------------------------------------------------------------------------------
LABEL_SETS = {"int": np.array([-3, 0, 5, 11]), "str": np.array(["ant", "bee", "cat", "dog"])}
COMMON = dict(hidden=st.sampled_from(HIDDEN), solver=st.sampled_from(["adam", "sgd", "lbfgs"]),
              activation=st.sampled_from(SKLEARN_ACTIVATIONS), max_iter=st.integers(1, 5),
              lr=RATES, batch_size=st.sampled_from(["auto", 8]),
              vf=st.sampled_from([0.2, 0.3]), seed=SEEDS)


def _common(hidden, solver, activation, max_iter, lr, batch_size, vf):
    return dict(hidden_layer_sizes=hidden, solver=solver, activation=activation,
                max_iter=max_iter, learning_rate_init=lr, batch_size=batch_size,
                validation_fraction=vf)


class ClassifierMachine(_MLPMachine):
    ours, theirs, name = MLPClassifierFromScratch, MLPClassifier, "classifier"
    extras = {**_MLPMachine.extras, "class_weight": None}
    settable = _MLPMachine.settable + ("class_weight",)
    bad_kinds = _MLPMachine.bad_kinds + ("target type", "unknown class", "class_weight")

    @initialize(d=st.integers(2, 6), k=st.integers(2, 4), labels=st.sampled_from(["int", "str"]),
                **COMMON)
    def setup(self, d, k, labels, seed, **common):
        self.labels = LABEL_SETS[labels][:k]
        self._setup(d, seed, **_common(**common))

    def _data(self, n, seed, sw=None, partial=False):
        rng = np.random.default_rng(seed)
        labels, k = self.labels, len(self.labels)
        if partial and k > 2 and rng.random() < 0.2:  # a batch without some classes
            labels = rng.choice(labels, rng.integers(2, k), replace=False)
        y = labels[rng.permutation(np.arange(n) % len(labels))]  # every class, balanced
        X = self._X(rng, n)
        X[:, 0] += np.searchsorted(self.labels, y)  # something to learn
        return X, y, self._sample_weight(rng, n, sw)

    def _partial_fit_kwargs(self, data):
        # classes= on the first call, as required; now and then on later calls too (the
        # same classes: allowed), rarely never (the first call is then an error)
        mode = "first" if data is None else data.draw(
            st.sampled_from(["first"] * 12 + ["always", "never", "other"]), label="classes=")
        if mode == "always" or (mode == "first" and not self.fitted):
            return {"classes": self.labels}
        if mode == "other" and self.fitted:  # an error: classes= must not change
            return {"classes": self.labels[:-1]}
        return {}

    predict_methods = ("predict", "predict_proba", "predict_log_proba")

    def _check_usable(self, est):
        P = est.predict_proba(self.X_probe)
        assert P.shape == (len(self.X_probe), len(est.classes_))
        assert np.isfinite(P).all()
        np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-6)
        assert np.isin(est.predict(self.X_probe), est.classes_).all()
        clone = pickle.loads(pickle.dumps(est))
        np.testing.assert_array_equal(clone.predict_proba(self.X_probe), P)

    def _predict_all(self, est, X=None):
        return est.predict_proba(self.X_probe if X is None else X)

    def _predict_call(self, method, X, y):
        if method == "proba":
            return lambda m: m.predict_log_proba(X)
        return super()._predict_call(method, X, y)

    def _compare_twin(self):
        if not np.array_equal(self.est.classes_, self.twin.classes_):
            return f"different model: classes_ {self.est.classes_} and {self.twin.classes_}"
        return super()._compare_twin()

    def _set_own_params(self, what, data):
        kind = data.draw(st.sampled_from([None, None, "balanced", "dict"]), label="class_weight")
        value = kind
        if kind == "dict":
            chosen = data.draw(st.sets(st.sampled_from(list(self.labels)), min_size=1))
            value = {c.item(): data.draw(st.sampled_from([0.5, 2.0, 3.0])) for c in chosen}
        return {"class_weight": value}, f"class_weight ({kind})"

    def _bad_target(self, kind, y, method, cold, rng):
        """target type: continuous y on a cold fit, else a 2-D indicator (multilabel) for
        a model fitted on labels; unknown class: a label not in classes_ (partial_fit, or a
        warm fit); class_weight: a dict with an unknown class, a bad weight, or all 0."""
        y = y.copy()
        if kind == "target type":
            if cold:
                return rng.normal(size=len(y)), method, cold
            k = len(self.labels)
            Y = np.eye(k, dtype=int)[np.arange(len(y)) % k]
            Y[0] = 1  # a row with every label: multilabel, whatever the width
            return Y, method, cold
        if kind == "unknown class":
            y[0] = "eel" if y.dtype.kind == "U" else 99
            if not self.fitted:  # a first fit takes any classes; a first partial_fit not
                method = "partial_fit"
            elif method == "fit":
                method = "warm fit"
                self._set_params(warm_start=True)
            return y, method, self._cold(method)
        cw = rng.choice(3)
        first = self.labels[0].item()
        self._set_params(class_weight=[{"eel" if isinstance(first, str) else 99: 1.0},
                                       {first: -1.0},
                                       {c.item(): 0.0 for c in self.labels}][cw])
        return y, method, cold

    def _after_bad_fit(self, kind):
        if kind == "class_weight":
            self._set_params(class_weight=None)


# --- regressor ------------------------------------------------------------------------------
class RegressorMachine(_MLPMachine):
    ours, theirs, name = MLPRegressorFromScratch, MLPRegressor, "regressor"
    settable = _MLPMachine.settable + ("loss",)
    bad_kinds = _MLPMachine.bad_kinds + ("strings", "NaN y", "n_outputs",
                                         "negative with poisson")
    watched = _MLPMachine.watched + ("loss",)

    @initialize(d=st.integers(2, 6), outputs=st.sampled_from([1, 1, 2]),
                loss=st.sampled_from(["squared_error", "squared_error", "poisson"]), **COMMON)
    def setup(self, d, outputs, loss, seed, **common):
        self.outputs = outputs
        self._setup(d, seed, loss=loss, **_common(**common))

    def _data(self, n, seed, sw=None, partial=False, outputs=None):
        rng = np.random.default_rng(seed)
        X = self._X(rng, n)
        w = rng.normal(size=(self.d, outputs or self.outputs)) / np.sqrt(self.d)
        y = np.exp(0.5 * X @ w) + 0.1 * rng.random((n, w.shape[1]))  # >= 0: Poisson-ready
        return X, (y.ravel() if y.shape[1] == 1 else y), self._sample_weight(rng, n, sw)

    def _check_usable(self, est):
        pred = est.predict(self.X_probe)
        n = len(self.X_probe)
        assert pred.shape == ((n,) if est.n_outputs_ == 1 else (n, est.n_outputs_))
        assert not np.isnan(pred).any()  # an overflow is inf, as scikit-learn's
        clone = pickle.loads(pickle.dumps(est))
        np.testing.assert_array_equal(clone.predict(self.X_probe), pred)

    def _set_own_params(self, what, data):
        return {"loss": data.draw(st.sampled_from(["squared_error", "poisson"]))}, "loss"

    def _bad_target(self, kind, y, method, cold, rng):
        """strings; another number of outputs (an error unless the fit is cold); negative
        values with loss="poisson"."""
        n = len(y)
        if kind == "strings":
            return np.array(["a", "b"])[np.arange(n) % 2], method, cold
        if kind == "NaN y":
            y = y.copy()
            y.flat[rng.integers(y.size)] = np.nan
            return y, method, cold
        if kind == "n_outputs":
            other = self._data(n, int(rng.integers(2**16)), outputs=3 - self.outputs)[1]
            return other, method, cold
        self._set_params(loss="poisson")
        y = y - 1.0
        y.flat[0] = -1.0
        return y, method, cold

    def _must_fail(self, kind, cold):
        return kind != "n_outputs" or not cold

    def _after_bad_fit(self, kind):
        if kind == "n_outputs" and self.fitted:
            self.outputs = self.est.n_outputs_  # a cold fit may change the outputs


# --- running them ------------------------------------------------------------------------------
#: STATE_DISCOVER=1 collects undocumented differences (printed) instead of failing on
#: the first: how SKLEARN_DIFFERENCES was written (STATE_DEBUG=1 also prints the steps
#: that led to each).
DISCOVER = [] if os.environ.get("STATE_DISCOVER") else None

#: No target phase: hill-climbing on the number of successful training steps (the
#: ``target`` of ``teardown``, which the statistics report) runs for minutes.
FAST = settings(max_examples=50, stateful_step_count=30, derandomize=True, deadline=None,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])
SLOW = settings(FAST, max_examples=70, stateful_step_count=40)


def run_machine(machine, config):
    STATS.pop(machine.name, None)
    if DISCOVER:
        DISCOVER.clear()
    # one BLAS thread: on these tiny matrices threads only add overhead (L-BFGS-B's
    # iterations take 6x longer with two OpenBLAS threads)
    with threadpool_limits(limits=1, user_api="blas"):
        run_state_machine_as_test(machine, settings=config)
    stats = STATS[machine.name]
    steps = sum(v for k, v in stats.items() if not k.startswith(("twin:", "examples")))
    print(f"\n{machine.name}: {stats['examples']} examples, {steps} steps "
          f"({steps / stats['examples']:.1f} per example)")
    for label, count in sorted(stats.items()):
        print(f"  {count:6d}  {label}")
    for item, count in sorted(Counter(DISCOVER or []).items(), key=str):
        print("UNDOCUMENTED", count, item)
    return stats


def assert_real_work(stats):
    """Most steps do real work: a machine whose steps are all rejected tests little."""
    training = {k: v for k, v in stats.items() if k.split(":")[0] in TRAINING_OPS}
    ok = sum(v for k, v in training.items() if k.endswith(": ok"))
    assert ok >= 0.75 * sum(training.values()), training  # valid data trains
    bad = {k: v for k, v in stats.items() if k.startswith("bad ")}
    assert all(": rejected: " in k for k in bad), bad  # bad data never does
    twin = {k: v for k, v in stats.items() if k.startswith("twin:")}
    assert twin.get("twin: both ok", 0) >= 0.1 * ok, twin  # the twin runs along
    # every kind of step ran, and did something (pruned weights trained on, too)
    kinds = {re.split(r"[:(,]", k)[0].strip() for k in stats}
    missing = [k for k in STEP_KINDS if k not in kinds]
    assert not missing, (missing, sorted(kinds))
    assert stats.get("assign weights (prune): ok", 0) > 0, stats
    # every disruption struck: a failure left the state unchanged, an interrupt kept epochs
    for how in DISRUPTIONS:
        outcome = "failed, unchanged" if "RuntimeError" in how else "kept interrupted"
        assert stats.get(f"disrupted fit ({how}): {outcome}", 0) > 0, (how, stats)


#: the kinds of steps the machines take (the labels they count, up to the first ":(,");
#: a valid ``score`` is not required: the regressor's short run reaches it rarely (it
#: reaches the bad ones, and valid predictions go through the same path)
STEP_KINDS = ("fit", "warm fit", "partial_fit", "set_params", "assign weights",
              "inconsistent weights", "pickle round trip", "deepcopy round trip", "predict",
              "proba", "bad fit", "bad warm fit", "bad partial_fit", "bad predict", "bad proba",
              "bad score", "disrupted fit")
