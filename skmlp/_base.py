"""The estimator layer MLPClassifierFromScratch and MLPRegressorFromScratch share.

It holds what scikit-learn's ``BaseMultilayerPerceptron`` holds: the parameters and
their constraints, the fitted state, the fit driver with its two solvers (minibatch
epochs for sgd/adam, L-BFGS), and prediction through the network's forward pass. The
subclasses add what differs: how targets are checked and encoded, the output
function and loss, and the default validation score.

State, said once: the fitted state is the attributes named in ``_FITTED_STATE`` (the
public ones ending in ``_`` and a few private ones), and nothing else. A fit either
succeeds or leaves every one of them as it was before the call (``_rollback``), and
the estimator is fitted when ``coefs_`` exists. ``coefs_`` and ``intercepts_`` are the
model: every fit starts from them (a copy, packed into the network's flat vector), so
weights a user assigns are never lost, and every prediction reads them.
"""

import warnings
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import check_scoring, get_scorer
from sklearn.model_selection import train_test_split
from sklearn.utils import _safe_indexing, check_random_state, indexable, shuffle
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
)
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _config
from ._activations import ACTIVATIONS, LOSSES, OUTPUTS
from ._callbacks import CallbackSupportMixin, LbfgsCallbackBridge, callback_lifecycle
from ._init import INITIALIZERS
from ._interrupt import deferred_interrupt, fit_interrupts, held_interrupts
from ._network import MLP, check_layer_shapes, forward, gradient_dtype
from ._optimizers import SGD, Adam
from ._solvers import QUIET_FP as _QUIET_FP
from ._solvers import minimize_lbfgs, run_epoch
from ._stopping import StoppingMonitor

_STOCHASTIC_SOLVERS = ("sgd", "adam")
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@dataclass
class _FitData:
    """What one call to fit or partial_fit trains on, and the callback task it reports to."""

    X: object  # ndarray or sparse matrix, float32 or float64 as validated
    Y: np.ndarray  # encoded targets, (n_samples, n_outputs)
    y: object  # the targets as given (labels), for scores and callbacks
    sample_weight: object  # ndarray or None
    context: object  # sklearn.callback context of the fit task

    @property
    def hook_args(self):
        """What the callback hooks are given besides the estimator."""
        metadata = None if self.sample_weight is None else {"sample_weight": self.sample_weight}
        return {"X": self.X, "y": self.y, "metadata": metadata}


class _Diverged(Exception):
    """Training produced a non-finite loss or weights (turned into a ValueError by fit)."""


def _diverged_message(est, what):
    return (
        f"Solver produced non-finite parameter weights: {what}. The learning rate "
        f"(learning_rate_init={est.learning_rate_init}) may be too high, or the input data may "
        "contain large values and need to be preprocessed (e.g. with StandardScaler)."
    )



class BaseMLPFromScratch(CallbackSupportMixin, BaseEstimator, ABC):
    """Base class of the multi-layer perceptron estimators (not for direct use)."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS)), tuple, list],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions(set(INITIALIZERS))],
        "dropout": [Interval(Real, 0, 1, closed="left"), tuple, list],
        "scoring": [str, callable, None],
    }

    #: Every attribute a fit sets. A failed fit restores exactly these; "fitted" means
    #: ``coefs_`` exists. Subclasses add their target encoding.
    _FITTED_STATE = (
        "n_features_in_", "feature_names_in_", "coefs_", "intercepts_", "n_layers_",
        "n_outputs_", "out_activation_", "n_iter_", "t_", "loss_", "loss_curve_",
        "best_loss_", "validation_scores_", "validation_loss_curve_",
        "best_validation_score_", "_no_improvement_count", "_optimizer", "_best_coefs",
        "_best_intercepts", "_activations", "_hidden_layer_sizes",
    )

    # --- what subclasses provide --------------------------------------------------------
    @abstractmethod
    def _validate_input(self, X, y, incremental, reset, classes=None):
        """Check ``X`` and ``y``; return ``X``, the encoded targets ``Y`` (2-D) and ``y``."""

    @abstractmethod
    def _validate_y_val(self, y_val, n_samples, n_outputs):
        """Check validation targets against the training ones; return ``(Y_val, y_val)``."""

    @abstractmethod
    def _out_activation(self, Y):
        """The output function for these encoded targets."""

    @abstractmethod
    def _default_score(self, y, P, sample_weight):
        """The validation score of outputs ``P`` when ``scoring`` is None."""

    def _extra_sample_weight(self, sample_weight, Y):
        """Hook for class weights; the base has none."""
        return sample_weight

    # --- fitted state ---------------------------------------------------------------------
    def __sklearn_is_fitted__(self):
        return "coefs_" in self.__dict__

    @contextmanager
    def _rollback(self):
        """Leave the fitted state as it was if the body raises (Ctrl-C included).

        Cheap: a fit never changes in place an object of the state it starts from (it
        trains a copy of the weights and of the optimizer it continues, and builds new
        lists), so the references are all that needs keeping; restoring them also keeps
        which attributes share an object (``_best_coefs is coefs_`` after early stopping).
        """
        state = self.__dict__
        saved = {k: state[k] for k in self._FITTED_STATE if k in state}
        try:
            yield
        except BaseException:
            for k in self._FITTED_STATE:
                state.pop(k, None)
            state.update(saved)
            raise

    #: Fitted attributes a loaded model must have besides the weights (subclasses add
    #: their target encoding), and the output functions it may have.
    _REQUIRED_STATE = ("n_features_in_", "n_outputs_", "n_layers_", "out_activation_",
                       "_activations")
    _OUT_ACTIVATIONS = ()

    def __setstate__(self, state):
        super().__setstate__(state)
        if "coefs_" in state:  # a tampered or truncated file must not load as a model
            self._check_fitted_state()

    def _check_fitted_state(self):
        """Check a loaded model against the rules a fit keeps; raise ValueError if it breaks one.

        Every fitted attribute prediction needs is there, the activations and the output
        function are ones this estimator has, and the weights form that network.
        """
        missing = [k for k in self._REQUIRED_STATE if k not in self.__dict__]
        if missing:
            raise ValueError(
                f"Corrupt or incompatible {type(self).__name__} state: the fitted attributes "
                f"{missing} are missing. Refit the model, or load a file this version wrote."
            )
        unknown = [a for a in self._activations
                   if not isinstance(a, str) or a not in ACTIVATIONS]
        if unknown or self.out_activation_ not in self._OUT_ACTIVATIONS:
            raise ValueError(
                f"Corrupt or incompatible {type(self).__name__} state: activations "
                f"{tuple(self._activations)!r} (known: {sorted(ACTIVATIONS)}) and output "
                f"{self.out_activation_!r} (known: {list(self._OUT_ACTIVATIONS)})."
            )
        self._check_weights()

    def _check_weights(self):
        """Check that ``coefs_``/``intercepts_`` form the fitted network; raise ValueError."""
        coefs, intercepts = self.coefs_, self.intercepts_
        check_layer_shapes(coefs, intercepts)
        if np.shape(coefs[0])[0] != self.n_features_in_ or (
                np.shape(coefs[-1])[1] != self.n_outputs_):
            raise ValueError(
                f"coefs_ maps {np.shape(coefs[0])[0]} inputs to {np.shape(coefs[-1])[1]} "
                f"outputs; the model has {self.n_features_in_} features and "
                f"{self.n_outputs_} outputs."
            )
        if len(coefs) - 1 != len(self._activations):
            raise ValueError(
                f"coefs_ has {len(coefs) - 1} hidden layers; the model was fitted with "
                f"{len(self._activations)}."
            )

    # --- parameters -------------------------------------------------------------------------
    def _check_params(self):
        """What ``_parameter_constraints`` cannot say; returns the per-layer spec.

        Returns
        -------
        hidden : list of int
        activations : tuple of str, one per hidden layer
        rates : list of float, the dropout rate of each hidden layer
        """
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if not hasattr(sizes, "__iter__") else list(sizes)
        if not all(isinstance(s, Integral) and s > 0 for s in sizes):
            raise InvalidParameterError(
                f"The 'hidden_layer_sizes' parameter must hold positive integers, got {sizes}."
            )
        sizes = [int(s) for s in sizes]
        acts = self.activation
        acts = (acts,) * len(sizes) if isinstance(acts, str) else tuple(acts)
        if len(acts) != len(sizes) or not all(isinstance(a, str) and a in ACTIVATIONS
                                              for a in acts):
            raise InvalidParameterError(
                f"The 'activation' parameter must be one of {sorted(ACTIVATIONS)} or a tuple "
                f"of them with one entry per hidden layer ({len(sizes)}); got "
                f"{self.activation!r}."
            )
        rates = self.dropout
        rates = [rates] * len(sizes) if isinstance(rates, Real) else list(rates)
        if len(rates) != len(sizes) or not all(
                isinstance(r, Real) and not isinstance(r, bool) and 0 <= r < 1 for r in rates):
            raise InvalidParameterError(
                "The 'dropout' parameter must be a float in [0, 1) or a tuple of them with one "
                f"entry per hidden layer ({len(sizes)}); got {self.dropout!r}."
            )
        if any(rates) and self.solver == "lbfgs":
            raise InvalidParameterError(
                "The 'dropout' parameter must be 0 with solver='lbfgs' (its line search needs "
                "a deterministic loss); use solver='adam' or 'sgd'."
            )
        if isinstance(self.scoring, str) and self.scoring != "loss":
            try:
                get_scorer(self.scoring)
            except ValueError as e:
                raise InvalidParameterError(
                    "The 'scoring' parameter must be None, 'loss', a scorer name or a "
                    f"callable; got {self.scoring!r}."
                ) from e
        return sizes, acts, [float(r) for r in rates]

    # --- fit --------------------------------------------------------------------------------
    def _fit(self, X, y, sample_weight=None, *, incremental=False, validation=None, classes=None):
        # one transaction: the fitted state is as before unless everything below succeeds,
        # the callbacks' teardown included; a Ctrl-C once training started keeps what it
        # trained (see skmlp._interrupt). A fit too small to repay loading numba runs the
        # numpy path (the same model; see skmlp._config.KERNELS_MIN_WORK)
        work = _config.estimate_fit_work(X, self.hidden_layer_sizes,
                                         1 if incremental else self.max_iter)
        with (_config.kernels_for_work(work), self._rollback(),
              fit_interrupts() as interrupts,
              callback_lifecycle(self, interrupts)):
            self._fit_transaction(X, y, sample_weight, incremental=incremental,
                                  validation=validation, classes=classes, interrupts=interrupts)
        if interrupts.interrupted:
            warnings.warn(
                "Training interrupted by user; keeping the last L-BFGS iterate."
                if self.solver == "lbfgs" else
                "Training interrupted by user; keeping the weights of the last complete epoch."
            )
        return self

    def _fit_transaction(self, X, y, sample_weight, *, incremental, validation, classes,
                         interrupts):
        """The body of a fit, run inside :meth:`_fit`'s transaction."""
        hidden, activations, rates = self._check_params()
        first_pass = not self.__sklearn_is_fitted__() or not (self.warm_start or incremental)
        X, Y, y = self._validate_input(X, y, incremental, reset=first_pass, classes=classes)
        sample_weight = self._sample_weight(sample_weight, X, Y)
        if incremental and self.early_stopping:  # after the data's checks and warnings, as there
            raise ValueError("partial_fit does not support early_stopping=True")
        if validation is not None:
            validation = self._validate_validation_data(*validation,
                                                        n_outputs=Y.shape[1])
        rng = check_random_state(self.random_state)
        if first_pass:
            net = self._initialize(X, Y, hidden, activations, rng)
        else:
            net = self._continue(X, Y, hidden, activations)
        # X keeps its dtype whatever the weights' (assigned float32 weights, float64
        # weights after lbfgs): numpy promotes each product (X @ W, X.T @ delta) as it
        # does in scikit-learn, which is not always bitwise the product of a copy
        previous_best = None if first_pass else self._previous_best(net)
        # MLPClassifier's best weights after early stopping are its coefs_ (the same
        # lists), trained in place by every later fit, with or without early stopping
        best_is_live = not first_pass and getattr(self, "_best_coefs", None) is self.coefs_
        # from here on, the estimator predicts with the weights being trained
        self.coefs_, self.intercepts_ = net.coefs, net.intercepts
        if best_is_live:
            self._best_coefs, self._best_intercepts = self.coefs_, self.intercepts_
        self._activations, self._hidden_layer_sizes = net.activations, hidden
        self.n_layers_ = len(net.layer_sizes)
        # one sub-task per epoch; lbfgs opens one more than it runs (closed empty)
        n_tasks = 1 if incremental else self.max_iter + (self.solver == "lbfgs")
        context = self._init_callback_context(max_subtasks=n_tasks)
        data = _FitData(X, Y, y, sample_weight, context)
        context.call_on_fit_task_begin(estimator=self, **data.hook_args)
        try:
            if self.solver == "lbfgs":
                net = self._fit_lbfgs(net, data, validation=validation,
                                      first_pass=first_pass, interrupts=interrupts)
            else:
                self._fit_stochastic(net, data, rates=rates, validation=validation,
                                     incremental=incremental, rng=rng,
                                     previous_best=previous_best, interrupts=interrupts)
        except _Diverged as e:
            raise ValueError(str(e)) from None
        finally:
            net.release()
        # winding down: what was trained is kept; a Ctrl-C from here is only noted
        interrupts.winding_down = True
        with held_interrupts() as held:  # (a SIGINT handler of the user's own)
            if not np.isfinite(net.params).all():
                raise ValueError(_diverged_message(self, "they are not all finite"))
            if not _outputs_finite(net, X):
                raise ValueError(_diverged_message(
                    self, "they are finite, but the network's outputs on the training "
                          "data are not"))
            try:
                context.call_on_fit_task_end(estimator=self, **data.hook_args,
                                             reconstruction_attributes=self._reconstruction)
            except KeyboardInterrupt:  # raised by a callback: the fit is done already
                interrupts.note()
        if held:
            interrupts.note()

    def _sample_weight(self, sample_weight, X, Y):
        """Checked sample weights (times class weights), or None.

        float32 weights stay float32 and any others become float64, whatever ``X``'s
        dtype, as scikit-learn has them (``_check_sample_weight``).
        """
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        return self._extra_sample_weight(sample_weight, Y)

    def _initialize(self, X, Y, hidden, activations, rng):
        """A new network with initial weights, and the fitted state of a first fit."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = Y.shape[1]
        self.out_activation_ = self._out_activation(Y)
        activation = self.activation if isinstance(self.activation, str) else activations
        net = MLP([X.shape[1], *hidden, self.n_outputs_], activation, self.out_activation_,
                  dtype=X.dtype).initialize(rng, self.init)
        self.loss_curve_ = []
        self._no_improvement_count = 0
        early_stopping = self.early_stopping and self.solver in _STOCHASTIC_SOLVERS
        self.best_loss_ = None if early_stopping else np.inf
        self.best_validation_score_ = -np.inf if early_stopping else None
        self.validation_scores_ = [] if early_stopping else None
        self.validation_loss_curve_ = [] if early_stopping else None
        self._optimizer = self._best_coefs = self._best_intercepts = None
        return net

    def _continue(self, X, Y, hidden, activations):
        """A network holding a copy of ``coefs_``/``intercepts_``, for warm start and partial_fit.

        The architecture is that of ``coefs_`` (which may have been pruned or replaced
        since the last fit); ``hidden_layer_sizes`` must not have changed, unless to
        match it.
        """
        self._check_weights()
        fitted = [np.shape(W)[1] for W in self.coefs_[:-1]]
        if hidden != fitted and hidden != list(self._hidden_layer_sizes):
            raise ValueError(
                f"hidden_layer_sizes={tuple(hidden)} does not match the fitted network's "
                f"hidden layers {tuple(fitted)}; warm_start and partial_fit continue the "
                "fitted network. Fit without warm_start to change the architecture."
            )
        if Y.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {Y.shape[1]} outputs; the model was fitted with {self.n_outputs_}, and "
                "warm_start and partial_fit continue the fitted model."
            )
        if self._out_activation(Y) != self.out_activation_:
            raise ValueError(
                f"The fitted model's output is {self.out_activation_!r}; the parameters now ask "
                f"for {self._out_activation(Y)!r} (loss changed?). warm_start and partial_fit "
                "continue the fitted model: fit without warm_start to change it."
            )
        activation = self.activation if isinstance(self.activation, str) else activations
        if not isinstance(activation, str) and len(activation) != len(fitted):
            raise ValueError(
                f"activation={self.activation!r} has {len(activation)} entries; the fitted "
                f"network has {len(fitted)} hidden layers."
            )
        return MLP.from_weights(self.coefs_, self.intercepts_, activation, self.out_activation_)

    def _validate_validation_data(self, X_val, y_val, sample_weight_val, *, n_outputs):
        """``X_val``, ``y_val`` and their weights, checked before any training."""
        try:
            X_val = validate_data(self, X_val, accept_sparse=["csr", "csc"], reset=False,
                                  dtype=(np.float64, np.float32))
        except ValueError as e:
            raise ValueError(f"X_val: {e}") from None
        if not hasattr(y_val, "toarray") and np.ndim(y_val) not in (1, 2):
            raise ValueError(
                f"y_val must be 1-D or 2-D, of one target (row) per row of X_val; got an "
                f"array of {np.ndim(y_val)} dimensions."
            )
        Y_val, y_val = self._validate_y_val(y_val, X_val.shape[0], n_outputs)
        if sample_weight_val is not None:
            try:
                sample_weight_val = _check_sample_weight(sample_weight_val, X_val,
                                                         dtype=np.float64)
            except ValueError as e:
                raise ValueError(f"sample_weight_val: {e}") from None
        return X_val, Y_val, y_val, sample_weight_val

    def _previous_best(self, net):
        """The best weights of an earlier early-stopping fit, flat, when not the live ones.

        After an early-stopping fit MLPClassifier's ``coefs_`` *are* its best weights
        (the same lists), so a warm start trains the old best in place: it follows the
        live weights until the first improvement. Only a separate copy is returned.
        """
        best = getattr(self, "_best_coefs", None)
        if best is None or best is self.coefs_:
            return None
        flat = [np.ravel(p) for p in list(best) + list(self._best_intercepts)]
        if sum(p.size for p in flat) != net.params.size:  # the weights were replaced since
            return None
        return np.concatenate(flat).astype(net.dtype, copy=False)

    def _make_optimizer(self, net, X, Y, incremental):
        """The optimizer to train with: the fitted one continued (a copy), or a new one.

        A new one's state has the gradient's dtype (``gradient_dtype``): the weights'
        dtype, or float64 where float64 inputs or targets make the gradient float64, as
        in scikit-learn. A continued one keeps its state's dtypes; its steps widen them
        as numpy would (see ``skmlp._optimizers``).
        """
        previous = getattr(self, "_optimizer", None)
        if incremental and previous is not None and previous.n_params == net.params.size:
            return previous.copy()
        dtype = gradient_dtype(net.dtype, X, Y)
        if self.solver == "sgd":
            return SGD(net.params.size, dtype, self.learning_rate_init, self.learning_rate,
                       self.momentum, self.nesterovs_momentum, self.power_t)
        return Adam(net.params.size, dtype, self.learning_rate_init, self.beta_1,
                    self.beta_2, self.epsilon)

    def _split_validation(self, n_samples, Y, rng):
        """MLPClassifier's early-stopping split: the same call, the same draws.

        Returns the training rows and the validation rows.
        """
        # stratified for classification with one output (binary), as MLPClassifier
        stratify = Y if self._stratify_split() and Y.shape[1] == 1 else None
        try:
            train, val = train_test_split(np.arange(n_samples), random_state=rng,
                                          test_size=self.validation_fraction, stratify=stratify)
        except ValueError as e:  # scikit-learn's message, and where it comes from
            raise ValueError(
                f"early_stopping=True holds out validation_fraction={self.validation_fraction} "
                f"of the data{' stratified by class' if stratify is not None else ''}, and "
                f"cannot: {e}"
            ) from None
        if len(val) < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size "
                "of your dataset."
            )
        return train, val

    def _stratify_split(self):
        return False

    def _validation(self, net, X_val, Y_val, y_val, sw_val):
        """``() -> (score, loss)`` of the live weights on the validation data."""
        loss_fn = LOSSES[net.loss]
        scorer = None
        if self.scoring not in (None, "loss"):
            scorer = check_scoring(self, scoring=self.scoring)

        def validation():
            # the outputs and the default score with numpy's warnings, as scikit-learn's
            # early stopping computes them (huge outputs overflow R^2's squares there too)
            P = forward(X_val, net.coefs, net.intercepts, net.activations,
                        net.out_activation)[-1]
            if not np.isfinite(P).all():
                raise _Diverged(_diverged_message(
                    self, "the network's outputs on the validation data became non-finite"))
            with np.errstate(**_QUIET_FP):  # skmlp's own record: no warnings of its own
                loss = np.float64(loss_fn(Y_val.astype(P.dtype), P, sw_val))
            if self.scoring is None:
                score = self._default_score(y_val, P, sw_val)
            elif self.scoring == "loss":
                score = -loss
            else:
                with warnings.catch_warnings():
                    # X_val was validated already and lost its column names on the way
                    warnings.filterwarnings("ignore", message="X does not have valid feature")
                    kwargs = {} if sw_val is None else {"sample_weight": sw_val}
                    value = scorer(self, X_val, y_val, **kwargs)
                try:
                    score = float(value)
                except (TypeError, ValueError):
                    raise TypeError(
                        f"The scoring {self.scoring!r} returned {value!r} of type "
                        f"{type(value).__name__}; a scorer must return a number."
                    ) from None
            if np.isnan(score):
                raise ValueError(
                    f"The validation score is NaN (scoring={self.scoring!r}), so early stopping "
                    "cannot compare epochs. This happens e.g. with 'roc_auc' when the "
                    "validation data has one class: use more validation data "
                    "(validation_fraction, or X_val), or another scoring."
                )
            return score, loss

        return validation

    def _reconstruction(self):
        """The fitted state as it is now, for callbacks that score a ``fitted_estimator``.

        A copy of the weights, so the snapshot does not move while training goes on.
        """
        return {"coefs_": [W.copy() for W in self.coefs_],
                "intercepts_": [b.copy() for b in self.intercepts_]}

    def _fit_stochastic(self, net, data, *, rates, validation, incremental, rng, previous_best,
                        interrupts):
        """sgd and adam: MLPClassifier's ``_fit_stochastic``, on the flat parameter vector."""
        X, Y, sample_weight = data.X, data.Y, data.sample_weight
        optimizer = self._optimizer = self._make_optimizer(net, X, Y, incremental)
        rows = None
        if validation is None and self.early_stopping:
            rows, val = self._split_validation(X.shape[0], Y, rng)
            if sample_weight is not None:
                for part, where in (("training", rows), ("validation", val)):
                    if not np.any(sample_weight[where]):
                        raise ValueError(
                            f"The early-stopping split left the {part} part with sample "
                            "weights that are all 0; change random_state or "
                            "validation_fraction, or pass X_val and y_val."
                        )
            if not isinstance(X, np.ndarray):
                # sparse: split as train_test_split splits it, which makes CSC input CSR
                # (`indexable`) and gathers the training rows first
                (X,) = indexable(X)
            validation = (X[val], Y[val], data.y[val],
                          None if sample_weight is None else sample_weight[val])
            if not isinstance(X, np.ndarray):
                X, Y = _safe_indexing(X, rows), Y[rows]
                sample_weight = None if sample_weight is None else sample_weight[rows]
                rows = None
            # dense: the training rows stay in X (and in sample_weight), visited
            # through `rows` (the same numbers, without a copy of X)
        early_stopping = self.early_stopping and validation is not None
        monitor = StoppingMonitor(
            self, net.params, None if validation is None else self._validation(net, *validation),
            early_stopping, previous_best)
        # a CSC matrix is trained as CSC, as scikit-learn does: its products sum in
        # another order than CSR's (row gathers are slower on CSC; convert to CSR
        # before fit for speed)
        n_samples = X.shape[0] if rows is None else len(rows)
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than sample size. It is going to "
                    "be clipped"
                )
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        dropout, dropout_rng = None, None
        if any(rates):
            # masks come from a stream of their own, seeded from the main one, so without
            # dropout nothing extra is drawn; t_ makes each partial_fit call's masks new
            dropout = rates
            dropout_rng = np.random.default_rng([rng.randint(2**31 - 1), self.t_])
        sample_idx = np.arange(n_samples)
        # what to go back to if Ctrl-C cuts an epoch short: its starting weights and optimizer
        epoch_start, optimizer_start = np.empty_like(net.params), None
        self.n_iter_ = 0
        epoch = None  # the callback sub-task of the epoch under way, if it has not ended
        try:
            for _ in range(self.max_iter):
                np.copyto(epoch_start, net.params)
                optimizer_start = optimizer.checkpoint(into=optimizer_start)
                epoch = data.context.subcontext(task_name="epoch")
                epoch.call_on_fit_task_begin(estimator=self, **data.hook_args)
                if self.shuffle:
                    sample_idx = shuffle(sample_idx, random_state=rng)
                order = sample_idx if self.shuffle else None
                if rows is not None:
                    order = rows[sample_idx]
                loss = run_epoch(net, optimizer, X, Y, sample_weight, batch_size,
                                 alpha=self.alpha, order=order, dropout=dropout,
                                 rng=dropout_rng)
                with deferred_interrupt():  # from here the epoch counts: no Ctrl-C midway
                    try:
                        if not np.isfinite(loss):
                            raise _Diverged(_diverged_message(
                                self, f"the training loss became non-finite in epoch "
                                      f"{self.n_iter_ + 1}"))
                        # the validation scorer may raise (a KeyboardInterrupt included):
                        # then the epoch counts nowhere
                        validated = monitor.validate()
                    except _Diverged as e:
                        if monitor.best is None:  # nothing worth keeping
                            raise
                        warnings.warn(f"{e} Keeping the best weights seen by early stopping.",
                                      ConvergenceWarning)
                        break
                    self._record_epoch(loss, validated, n_samples=n_samples, monitor=monitor,
                                       optimizer=optimizer)
                    # the epoch is complete: its end hook runs once, whatever it raises
                    ended, epoch = epoch, None
                    stop = self._after_epoch(ended, data=data, monitor=monitor,
                                             optimizer=optimizer, incremental=incremental)
                if stop:
                    break
        except KeyboardInterrupt:
            interrupts.note()
            if epoch is not None:  # the epoch did not finish: back to where it started
                net.params[...] = epoch_start
                optimizer.restore(optimizer_start)
        if epoch is not None:  # an epoch that never finished
            try:
                epoch.call_on_fit_task_end(estimator=self)
            except KeyboardInterrupt:
                interrupts.note()
        monitor.restore_best()
        if early_stopping:  # as MLPClassifier: the best weights are the fitted ones
            self._best_coefs, self._best_intercepts = self.coefs_, self.intercepts_
        optimizer.release()

    def _record_epoch(self, loss, validated, *, n_samples, monitor, optimizer):
        """An epoch's bookkeeping, in MLPClassifier's order (no user code: all or nothing)."""
        self.n_iter_ += 1
        self.loss_ = loss
        self.t_ += n_samples
        if self.verbose:
            print("Iteration %d, loss = %.8f" % (self.n_iter_, loss))
        monitor.epoch_end(loss, validated)
        optimizer.iteration_ends(self.t_)

    def _after_epoch(self, epoch, *, data, monitor, optimizer, incremental):
        """The epoch's end hook, then MLPClassifier's stopping rules; True to stop."""
        if epoch.call_on_fit_task_end(estimator=self, **data.hook_args,
                                      reconstruction_attributes=self._reconstruction):
            return True  # a callback asked to stop after this epoch
        if monitor.stalled():
            what = "Validation score" if monitor.early_stopping else "Training loss"
            msg = "%s did not improve more than tol=%f for %d consecutive epochs." % (
                what, self.tol, self.n_iter_no_change)
            if optimizer.trigger_stopping(msg, self.verbose):
                return True
            monitor.reset_count()
        if incremental:
            return True
        if self.n_iter_ == self.max_iter:
            warnings.warn(
                "Stochastic Optimizer: Maximum iterations (%d) reached and the optimization "
                "hasn't converged yet." % self.max_iter,
                ConvergenceWarning,
            )
        return False

    def _fit_lbfgs(self, net, data, *, validation, first_pass, interrupts):
        """L-BFGS over the whole data set: MLPClassifier's ``_fit_lbfgs``.

        Returns the network the estimator keeps: ``net``, or, for float32 weights, a
        float64 one holding scipy's last iterate, as MLPClassifier unpacks it into its
        ``coefs_`` (the loss was evaluated at float32 points all along).

        Records ``loss_curve_`` (which MLPClassifier's L-BFGS does not); ``best_loss_``
        only on a first fit: a warm start leaves it and the no-improvement count to
        the stochastic solvers, as MLPClassifier's does.
        """
        X, sample_weight = data.X, data.sample_weight
        monitor = StoppingMonitor(
            self, net.params, None if validation is None else self._validation(net, *validation),
            early_stopping=False, record_only=not first_pass)
        Y = data.Y
        bridge = LbfgsCallbackBridge(self, net, monitor=monitor, context=data.context,
                                     hook_args=data.hook_args,
                                     reconstruction=self._reconstruction)
        try:
            result = minimize_lbfgs(net, X, Y, sample_weight, self.alpha, max_iter=self.max_iter,
                                    max_fun=self.max_fun, tol=self.tol, callback=bridge,
                                    verbose=self.verbose)
        except KeyboardInterrupt:
            interrupts.note()
            net.params[...] = bridge.last_x
            self.n_iter_ = bridge.n_iter
            if bridge.n_iter:  # the loss the callback recorded at last_x
                self.loss_ = monitor.loss_curve[-1]
            else:  # interrupted before the first iteration ended: the starting point's
                with np.errstate(**_QUIET_FP):
                    self.loss_ = np.float64(net.loss_grad(X, Y, sample_weight, self.alpha)[0])
        else:
            if not np.isfinite(result.fun):
                raise _Diverged(_diverged_message(
                    self, "the training loss became non-finite during L-BFGS"))
            if bridge.stopped:
                self.n_iter_ = bridge.n_iter
            else:
                self.n_iter_ = _check_optimize_result("lbfgs", result, self.max_iter)
            self.loss_ = np.float64(result.fun)
            if net.dtype != np.float64:
                net.release()
                net = MLP(net.layer_sizes, net.activation, net.out_activation, np.float64)
                net.params[...] = result.x
                # into the lists themselves, as MLPClassifier's _unpack: an early-stopping
                # fit's _best_coefs that are these lists stay these lists
                self.coefs_[:], self.intercepts_[:] = net.coefs, net.intercepts
        finally:
            try:
                bridge.close()
            except KeyboardInterrupt:  # raised by a callback's end hook: nothing to undo
                interrupts.note()
        return net

    def _check_solver(self):
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(
                "partial_fit is only available for stochastic optimizers. "
                f"{self.solver} is not stochastic."
            )
        return True

    # --- prediction ---------------------------------------------------------------------
    def _logits(self, X):
        """The last layer's pre-activation for ``X``, shape (n_samples, n_outputs).

        numpy's warnings are shown as in scikit-learn (an overflow warns, and its rows
        come out infinite, the other rows as they are).
        """
        if not self.__sklearn_is_fitted__():  # the common case without check_is_fitted's cost
            check_is_fitted(self)  # raises its NotFittedError
        X = self._check_X(X)
        self._check_weights()
        return forward(X, self.coefs_, self.intercepts_, self._activations)[-1]

    def _outputs(self, X):
        """The network's outputs for ``X``: probabilities, or predicted values."""
        Z = self._logits(X)  # checks that the model is fitted
        return _not_nan(OUTPUTS[self.out_activation_](Z))

    def _check_X(self, X):
        """``validate_data(self, X, reset=False)``, with a shortcut for plain float arrays.

        A 2-D float32/float64 ndarray of the fitted width, for a model fitted without
        feature names, needs none of validate_data's conversions: only its finiteness
        is checked, as validate_data would (and not under ``assume_finite``). Anything
        else, or anything that fails a check, goes through validate_data, which converts
        it or raises its usual error. On one row this is most of predict's time.
        """
        if (type(X) is np.ndarray and X.ndim == 2 and X.dtype in _FLOAT_DTYPES
                and X.shape[0] > 0 and X.shape[1] == self.n_features_in_
                and "feature_names_in_" not in self.__dict__):
            config = get_config()
            # np.add.reduce is what X.sum() calls, without its Python-level wrapper
            if not config["array_api_dispatch"] and (
                    config["assume_finite"] or np.isfinite(np.add.reduce(X, axis=None))):
                return X
        return validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _validation_args(X_val, y_val, sample_weight_val):
    """``(X_val, y_val, sample_weight_val)`` or None; they come together or not at all."""
    if X_val is None and y_val is None:
        if sample_weight_val is not None:
            raise ValueError("sample_weight_val is given without X_val and y_val.")
        return None
    if X_val is None or y_val is None:
        raise ValueError("X_val and y_val must be given together.")
    return X_val, y_val, sample_weight_val


def _outputs_finite(net, X, n_rows=1000):
    """Whether the network's outputs on the first ``n_rows`` rows of ``X`` are finite.

    Finite weights can still overflow the forward pass (a run that blew up between its
    last loss and its last update); a fit must not present such a model as fitted.
    """
    with np.errstate(**_QUIET_FP):
        P = forward(X[:n_rows], net.coefs, net.intercepts, net.activations,
                    net.out_activation)[-1]
    return bool(np.isfinite(P).all())


def _not_nan(P):
    """``P``, the estimator's outputs; a ValueError where scikit-learn's would be NaN.

    Weights too large for the inputs (a training run that diverged, weights assigned by
    hand, inputs far outside the training range) overflow the forward pass. Where that
    gives infinite outputs (a Poisson mean, a regression value), they are returned, row
    by row, as scikit-learn returns them; where it gives NaN (``inf - inf`` in a softmax
    or a hidden layer), no number is right, and the error says why. Under
    ``assume_finite`` nothing is checked, as for the input.
    """
    if not get_config()["assume_finite"] and np.isnan(P).any():
        raise ValueError(
            "The network's outputs for X are NaN: its weights are too large for these inputs "
            "(did training diverge, or are the inputs far outside the training range?)."
        )
    return P
