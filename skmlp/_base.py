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
from numbers import Integral, Real

import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator, _fit_context
from sklearn.metrics import get_scorer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
)
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _config, _validation_data
from ._activations import ACTIVATIONS, OUTPUTS
from ._callbacks import CallbackSupportMixin, callback_lifecycle
from ._drivers import (
    FitData,
    averaged_network,
    end_epochs,
    make_optimizer,
    plan_epochs,
    train_epochs,
    train_lbfgs,
)
from ._fit_state import TRACKED, TrainingState
from ._init import INITIALIZERS
from ._interrupt import fit_interrupts, held_interrupts
from ._layers import LayerSpec
from ._network import check_layer_shapes, forward
from ._numerics import QUIET_FP
from ._solvers import Diverged, diverged_message

_STOCHASTIC_SOLVERS = ("sgd", "adam")
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


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
        # skmlp's opt-in extras of each minibatch step (off: MLPClassifier's numbers)
        "lr_schedule": [StrOptions({"cosine", "coslog4"}), None],
        "warmup": [Interval(Real, 0, 1, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "max_grad_norm": [Interval(Real, 0, None, closed="neither"), None],
        "ema_decay": [Interval(Real, 0, 1, closed="left"), None],
    }

    #: The step extras (see ``skmlp._drivers.StepExtras``) and their "off" values.
    _STEP_EXTRAS = {"lr_schedule": None, "warmup": 0.0, "weight_decay": 0.0,
                    "max_grad_norm": None, "ema_decay": None}

    #: Every attribute a fit sets. A failed fit restores exactly these; "fitted" means
    #: ``coefs_`` exists. Subclasses add their target encoding.
    _FITTED_STATE = (
        "n_features_in_", "feature_names_in_", "coefs_", "intercepts_", "n_layers_",
        "n_outputs_", "out_activation_", "_activations", "_hidden_layer_sizes", *TRACKED,
    )

    # --- what subclasses provide --------------------------------------------------------
    @abstractmethod
    def _validate_input(self, X, y, incremental, reset, classes=None):
        """Check ``X`` and ``y``; return ``X``, the encoded targets ``Y`` (2-D) and ``y``."""

    @abstractmethod
    def _validate_y_val(self, y_val, n_samples, n_outputs):
        """Check validation targets against the training ones; return ``(Y_val, y_val)``."""

    @abstractmethod
    def _output_for(self, Y):
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
        """What ``_parameter_constraints`` cannot say; returns the hidden layers' spec.

        Returns
        -------
        layers : skmlp._layers.LayerSpec
        """
        layers = LayerSpec.from_params(self.hidden_layer_sizes, self.activation, self.dropout,
                                       solver=self.solver)
        if self.solver == "lbfgs":
            on = [name for name, off in self._STEP_EXTRAS.items()
                  if getattr(self, name) != off]
            if on:
                raise InvalidParameterError(
                    f"The parameters {on} shape minibatch steps: they need solver='sgd' or "
                    "'adam' (L-BFGS takes whole-data steps of its own)."
                )
        if isinstance(self.scoring, str) and self.scoring != "loss":
            try:
                get_scorer(self.scoring)
            except ValueError as e:
                raise InvalidParameterError(
                    "The 'scoring' parameter must be None, 'loss', a scorer name or a "
                    f"callable; got {self.scoring!r}."
                ) from e
        return layers

    # --- fit --------------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None):
        """Fit the network to data matrix X and targets y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 is kept, anything else becomes float64.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels (or a binary indicator matrix for multilabel targets) for a
            classifier; target values for a regressor (``y >= 0`` with the Poisson loss).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights.
        X_val : {array-like, sparse matrix} of shape (n_val, n_features), default=None
            Validation data. When given, ``validation_fraction`` is ignored; the
            validation score and loss are recorded every epoch, and with
            ``early_stopping=True`` they decide when to stop and which weights to keep.
        y_val : array-like of shape (n_val,) or (n_val, n_outputs), default=None
            Validation targets; required with ``X_val``.
        sample_weight_val : array-like of shape (n_val,), default=None
            Weights of the validation samples.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight,
                         validation=_validation_data.pair(X_val, y_val, sample_weight_val))

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
        """The body of a fit, run inside :meth:`_fit`'s transaction: set up (checks, the
        network, the training state), train with a driver (``skmlp._drivers``), wind down
        (the checks a fitted model must pass, the fit's end hook)."""
        layers = self._check_params()
        first_pass = not self.__sklearn_is_fitted__() or not (self.warm_start or incremental)
        X, Y, y = self._validate_input(X, y, incremental, reset=first_pass, classes=classes)
        sample_weight = self._sample_weight(sample_weight, X, Y)
        if incremental and self.early_stopping:  # after the data's checks and warnings, as there
            raise ValueError("partial_fit does not support early_stopping=True")
        if validation is not None:
            validation = _validation_data.check(self, *validation, n_outputs=Y.shape[1])
        rng = check_random_state(self.random_state)
        if first_pass:
            net = self._new_network(X, Y, layers, rng)
        else:
            net = self._network_from_fitted(Y, layers)
        # X keeps its dtype whatever the weights' (assigned float32 weights, float64
        # weights after lbfgs): numpy promotes each product (X @ W, X.T @ delta) as it
        # does in scikit-learn, which is not always bitwise the product of a copy
        data = FitData(X, Y, y, sample_weight, context=None)
        plan, state = self._training_state(net, data, layers, validation, rng,
                                           first_pass=first_pass, incremental=incremental)
        # from here on, the estimator predicts with the weights being trained
        self.coefs_, self.intercepts_ = net.coefs, net.intercepts
        self._activations, self._hidden_layer_sizes = net.activations, list(layers.sizes)
        self.n_layers_ = len(net.layer_sizes)
        state.commit()
        # one sub-task per epoch; lbfgs opens one more than it runs (closed empty)
        n_tasks = 1 if incremental else self.max_iter + (plan is None)
        data.context = self._init_callback_context(max_subtasks=n_tasks)
        data.context.call_on_fit_task_begin(estimator=self, **data.hook_args)
        try:
            if plan is not None:
                train_epochs(self, net, data, state, plan, incremental=incremental, rng=rng,
                             interrupts=interrupts)
                end_epochs(self, net, state, plan)
            else:
                trained = train_lbfgs(self, net, data, state, interrupts=interrupts)
                if trained is not net:  # float64 weights from float32: scipy's iterate
                    net = trained
                    # into the lists themselves, as MLPClassifier's _unpack: an
                    # early-stopping fit's _best_coefs that are these lists stay these lists
                    self.coefs_[:], self.intercepts_[:] = net.coefs, net.intercepts
        except Diverged as e:
            raise ValueError(str(e)) from None
        finally:
            net.release()
        self._wind_down(net, data, interrupts)

    def _training_state(self, net, data, layers, validation, rng, *, first_pass, incremental):
        """The epoch plan (None for L-BFGS) and the training state of this fit.

        The plan draws the early-stopping split (and the dropout seed) from ``rng``, as
        MLPClassifier does after the initial weights; the state starts from the fitted
        one unless ``first_pass``, and validates the weights the fit keeps: the live ones,
        or their average (``ema_decay``).
        """
        stochastic = self.solver in _STOCHASTIC_SOLVERS
        plan, kept = None, net
        if stochastic:
            plan = plan_epochs(self, data, net.params, rates=layers.dropout,
                               validation=validation, rng=rng,
                               t=0 if first_pass else self.t_, incremental=incremental)
            validation = plan.validation
            if plan.extras is not None and plan.extras.ema is not None:
                kept = averaged_network(net, plan.extras.ema.average)
        state = TrainingState(
            self, kept.params, first_pass=first_pass,
            validation=None if validation is None else _validation_data.scorer(
                self, kept, *validation),
            early_stopping=stochastic and self.early_stopping and validation is not None,
            previous_best=None if first_pass else self._previous_best(net),
            record_only=not stochastic and not first_pass,
            # MLPClassifier's best weights after early stopping are its coefs_ (the same
            # lists), trained in place by every later fit, with or without early stopping
            best_is_live=not first_pass and getattr(self, "_best_coefs", None) is self.coefs_)
        if stochastic:
            state.optimizer = make_optimizer(self, net, data.X, data.encoded, incremental)
        return plan, state

    def _wind_down(self, net, data, interrupts):
        """After training: what was trained is kept, a Ctrl-C is only noted; a model whose
        weights or training outputs are not finite is refused; the fit's end hook runs."""
        interrupts.winding_down = True
        with held_interrupts() as held:  # (a SIGINT handler of the user's own)
            if not np.isfinite(net.params).all():
                raise ValueError(diverged_message(self, "they are not all finite"))
            if not _outputs_finite(net, data.X):
                raise ValueError(diverged_message(
                    self, "they are finite, but the network's outputs on the training "
                          "data are not"))
            try:
                data.context.call_on_fit_task_end(
                    estimator=self, **data.hook_args,
                    reconstruction_attributes=self._snapshot_for_callbacks)
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

    def _new_network(self, X, Y, layers, rng):
        """A new network with initial weights drawn from ``rng``; sets what the targets
        decide of the model (``n_outputs_``, ``out_activation_``)."""
        self.n_outputs_ = Y.shape[1]
        self.out_activation_ = self._output_for(Y)
        net = layers.network(X.shape[1], self.n_outputs_, self.out_activation_, X.dtype)
        return net.initialize(rng, self.init)

    def _network_from_fitted(self, Y, layers):
        """A network holding a copy of ``coefs_``/``intercepts_``, for warm start and
        partial_fit; ValueError if the parameters or targets now ask for another model."""
        self._check_weights()
        if Y.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {Y.shape[1]} outputs; the model was fitted with {self.n_outputs_}, and "
                "warm_start and partial_fit continue the fitted model."
            )
        if self._output_for(Y) != self.out_activation_:
            raise ValueError(
                f"The fitted model's output is {self.out_activation_!r}; the parameters now ask "
                f"for {self._output_for(Y)!r} (loss changed?). warm_start and partial_fit "
                "continue the fitted model: fit without warm_start to change it."
            )
        return layers.continuing(self.coefs_, self.intercepts_, self.out_activation_,
                                 self._hidden_layer_sizes)

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

    def _training_targets(self, Y, dtype):
        """The targets the network is trained on: the encoded ones (the classifier may
        smooth them). Validation compares with the encoded targets themselves."""
        return Y

    def _stratify_split(self):
        """Whether the early-stopping split is stratified (binary classification)."""
        return False

    def _snapshot_for_callbacks(self):
        """The fitted state as it is now, for callbacks that score a ``fitted_estimator``.

        A copy of the weights, so the snapshot does not move while training goes on.
        """
        return {"coefs_": [W.copy() for W in self.coefs_],
                "intercepts_": [b.copy() for b in self.intercepts_]}

    # --- scikit-learn's MLPs ------------------------------------------------------------
    def to_sklearn(self):
        """Return a fitted scikit-learn ``MLPClassifier`` (``MLPRegressor``) with this model.

        Same weights, optimizer state and current parameters: its predictions equal this
        estimator's to rounding, and its ``partial_fit`` continues as this one's would.
        (scikit-learn predicts with its ``activation`` parameter, skmlp with the fitted
        activations: after ``set_params(activation=...)`` without a refit the copy
        predicts with the new one, as scikit-learn's would.) Use it to compare, to hand
        the model to tools that know scikit-learn's MLPs (skl2onnx for ONNX export), or
        to continue training there.

        Returns
        -------
        est : MLPClassifier or MLPRegressor

        Raises
        ------
        ValueError
            For what scikit-learn cannot represent: an activation it does not have
            ("leaky_relu", "elu", "gelu", ...) or one activation per hidden layer.
        """
        from ._interop import to_sklearn

        return to_sklearn(self)

    @classmethod
    def from_sklearn(cls, est):
        """Build a fitted estimator from a fitted ``MLPClassifier`` (``MLPRegressor``).

        Parameters, weights and optimizer state are carried over, so ``partial_fit``
        continues exactly as ``est.partial_fit`` would, and ``warm_start=True`` continues
        from its weights.

        Parameters
        ----------
        est : MLPClassifier or MLPRegressor, fitted
            The one this class is the drop-in for.

        Returns
        -------
        est : MLPClassifierFromScratch or MLPRegressorFromScratch
        """
        from ._interop import from_sklearn

        return from_sklearn(cls, est)

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


def _outputs_finite(net, X, n_rows=1000):
    """Whether the network's outputs on the first ``n_rows`` rows of ``X`` are finite.

    Finite weights can still overflow the forward pass (a run that blew up between its
    last loss and its last update); a fit must not present such a model as fitted.
    """
    with np.errstate(**QUIET_FP):
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
