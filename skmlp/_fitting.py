"""How MLPClassifierFromScratch trains: input checks, the fit driver, the epoch and L-BFGS
loops, early stopping and validation.

A mixin of the estimator, kept apart so that ``_classifier.py`` reads as the public API
and this file as the training procedure. The rules (tol, n_iter_no_change, the adaptive
schedule, what early stopping keeps) are MLPClassifier's; the math is in ``_network``,
``_optimizers`` and ``_training``.
"""

import copy
import warnings
from numbers import Real

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import check_scoring, get_scorer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import _check_sample_weight, column_or_1d, validate_data

from ._activations import ACTIVATIONS, OUTPUT_LOSSES
from ._network import MLP
from ._optimizers import SGD, Adam
from ._training import minimize_lbfgs, run_epoch

_STOCHASTIC_SOLVERS = ("sgd", "adam")
_DIVERGED = (
    "Training diverged: the weights or the loss became non-finite. The learning rate "
    "(learning_rate_init={lr}) may be too high, or the input data may need scaling "
    "(e.g. StandardScaler)."
)


def _balanced(k, sample_weight):
    """"balanced" class weights for class indices ``k``: total / (n_classes * class total).

    Totals are of ``sample_weight`` (counts when None), so weighting a sample by 2 is the
    same as repeating it; with no sample weights this is exactly
    ``compute_sample_weight("balanced", y)``. Only classes present count, so a
    ``partial_fit`` batch without some class is balanced over those it has.
    """
    totals = np.bincount(k, weights=sample_weight).astype(np.float64)
    present = np.count_nonzero(totals)
    total = len(k) if sample_weight is None else sample_weight.sum()
    # a class whose samples all weigh 0 gets weight 0 (not inf, which times 0 is NaN)
    weights = np.divide(total, present * totals, out=np.zeros_like(totals), where=totals > 0)
    return weights[k]


class FittingMixin:
    """The training half of MLPClassifierFromScratch (see the module docstring)."""

    # --- validation of the inputs -----------------------------------------------------
    def _layer_spec(self):
        """Hidden sizes, activations and dropout rates, one per hidden layer."""
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if not hasattr(sizes, "__iter__") else list(sizes)
        if any(int(s) != s or s <= 0 for s in sizes):
            raise InvalidParameterError(
                f"The 'hidden_layer_sizes' parameter must hold positive integers, got {sizes}."
            )
        sizes = [int(s) for s in sizes]
        acts = self.activation
        acts = [acts] * len(sizes) if isinstance(acts, str) else list(acts)
        bad = [a for a in acts if not isinstance(a, str) or a not in ACTIVATIONS]
        if bad or len(acts) != len(sizes):
            raise InvalidParameterError(
                "The 'activation' parameter must be one of "
                f"{sorted(ACTIVATIONS)} or a tuple of them with one entry per hidden layer "
                f"({len(sizes)}); got {self.activation!r}."
            )
        rates = self.dropout
        rates = [rates] * len(sizes) if isinstance(rates, Real) else list(rates)
        if len(rates) != len(sizes) or not all(isinstance(r, Real) and 0 <= r < 1 for r in rates):
            raise InvalidParameterError(
                "The 'dropout' parameter must be a float in [0, 1) or a tuple of them with one "
                f"entry per hidden layer ({len(sizes)}); got {self.dropout!r}."
            )
        if any(rates) and self.solver == "lbfgs":
            raise ValueError(
                "dropout is not supported with solver='lbfgs': its line search needs a "
                "deterministic loss. Use solver='adam' or 'sgd'."
            )
        if isinstance(self.scoring, str) and self.scoring != "loss":
            try:
                get_scorer(self.scoring)
            except ValueError as e:
                raise InvalidParameterError(
                    f"The 'scoring' parameter must be None, 'loss', a scorer name or a callable; "
                    f"got {self.scoring!r}."
                ) from e
        return sizes, acts, [float(r) for r in rates]

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
            dtype=(np.float64, np.float32), reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            binarizer = LabelBinarizer().fit(y)
            if len(binarizer.classes_) < 2:
                raise ValueError(
                    "The target y needs samples of at least 2 classes; got 1 class: "
                    f"{binarizer.classes_}."
                )
            self._label_binarizer, self.classes_ = binarizer, binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start and not incremental:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {classes}."
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                    f"'y' has {classes}."
                )
        return X, y

    def _check_validation_data(self, X_val, y_val, sample_weight_val):
        if X_val is None and y_val is None:
            if sample_weight_val is not None:
                raise ValueError("sample_weight_val is given without X_val and y_val.")
            return None
        if X_val is None or y_val is None:
            raise ValueError("X_val and y_val must be given together.")
        return X_val, y_val, sample_weight_val

    def _sample_weight(self, sample_weight, X, y):
        """``sample_weight`` times the class weights of each sample's class(es)."""
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        if self.class_weight is None:
            return sample_weight
        Y = self._encode(y)
        if Y.shape[1] == 1:  # binary: one column, but two classes to weigh
            Y = np.hstack([~Y, Y])
        if isinstance(self.class_weight, dict):
            if self._label_binarizer.y_type_.startswith("multilabel"):
                raise ValueError(
                    "class_weight as a dict is not supported for multilabel targets; use "
                    "'balanced' or sample_weight."
                )
            unknown = set(self.class_weight) - set(self.classes_.tolist())
            if unknown:
                raise ValueError(
                    f"class_weight has labels {sorted(map(str, unknown))} that are not in "
                    f"classes_ {self.classes_}."
                )
            w = np.array([self.class_weight.get(c, 1.0) for c in self.classes_.tolist()])
            cw = w[Y.argmax(axis=1)]
        elif self._label_binarizer.y_type_.startswith("multilabel"):
            # each label is a binary output; its balanced weights multiply, as in
            # compute_sample_weight("balanced", Y)
            cw = np.prod([_balanced(col.astype(np.intp), sample_weight) for col in Y.T], axis=0)
        else:
            cw = _balanced(Y.argmax(axis=1), sample_weight)
        return cw if sample_weight is None else sample_weight * cw

    def _encode(self, y):
        """Targets as a boolean indicator matrix of shape (n_samples, n_outputs).

        What ``LabelBinarizer.transform`` gives, without its int64 intermediate
        (8x the boolean matrix: 4.8 MB for 60k samples and 10 classes).
        """
        if self._label_binarizer.y_type_.startswith("multilabel"):
            return self._label_binarizer.transform(y).astype(bool)
        k = np.searchsorted(self.classes_, y)  # classes_ is sorted
        if len(self.classes_) == 2:
            return (k == 1)[:, None]
        Y = np.zeros((len(k), len(self.classes_)), dtype=bool)
        Y[np.arange(len(k)), k] = True
        return Y

    # --- training -------------------------------------------------------------------
    def _fit(self, X, y, sample_weight, incremental, validation, backup=None):
        # If anything fails, checks or training, put the estimator back as it was, so no
        # half-updated model is ever presented as fitted.
        backup = self._snapshot() if backup is None else backup
        try:
            sizes, acts, rates = self._layer_spec()
            first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
            if self.early_stopping and incremental:
                raise ValueError("partial_fit does not support early_stopping=True")
            X, y = self._validate_input(X, y, incremental, reset=first_pass)
            sample_weight = self._sample_weight(sample_weight, X, y)
            if not first_pass:
                expected = [self.n_features_in_] + sizes + [self._net.layer_sizes[-1]]
                if expected != self._net.layer_sizes:
                    raise ValueError(
                        f"hidden_layer_sizes={sizes} does not match the fitted layers "
                        f"{self._net.layer_sizes[1:-1]}; fit without warm_start to change them."
                    )
                X = X.astype(self._net.dtype, copy=False)
            if validation is not None:
                validation = self._prepare_validation(*validation, dtype=X.dtype)
            rng = check_random_state(self.random_state)
            Y = self._encode(y)  # boolean: 1/4 of float32 targets, cast per batch
            if first_pass:
                self._initialize(X, Y, sizes, acts, validation, rng)
            else:
                self._net.activations = tuple(acts)
                self._sync_params()
            self._prepare_tracking(validation)
            metadata = None if sample_weight is None else {"sample_weight": sample_weight}
            # one sub-task per epoch; lbfgs opens one more than it runs (closed empty)
            n_tasks = 1 if incremental else self.max_iter + (self.solver == "lbfgs")
            ctx = self._init_callback_context(max_subtasks=n_tasks)
            ctx.call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=metadata)
            if self.solver == "lbfgs":
                self._fit_lbfgs(X, y, Y, sample_weight, validation, ctx)
            else:
                self._fit_stochastic(X, y, Y, sample_weight, rates, validation, incremental, rng,
                                     ctx)
            ctx.call_on_fit_task_end(estimator=self, X=X, y=y, metadata=metadata,
                                     reconstruction_attributes=self._reconstruction)
            if not np.isfinite(self._net.params).all():
                raise FloatingPointError
        except FloatingPointError:
            self._restore(backup)
            raise ValueError(_DIVERGED.format(lr=self.learning_rate_init)) from None
        except BaseException:
            self._restore(backup)
            raise
        return self

    def _reconstruction(self):
        """The fitted state as it is now, for callbacks that score a ``fitted_estimator``.

        A copy, so the snapshot does not move while training goes on.
        """
        net = copy.deepcopy(self._net)
        return {"_net": net, "coefs_": list(net.coefs), "intercepts_": list(net.intercepts)}

    # fitted state: public attributes ending in "_" and these private ones. Not the
    # configuration a user set (set_callbacks, set_fit_request) nor scikit-learn's
    # callback bookkeeping, which a failed fit must leave alone (teardown needs it).
    _PRIVATE_STATE = ("_net", "_optimizer", "_label_binarizer", "_best_params",
                      "_no_improvement_count")

    def _state_keys(self):
        return [k for k in vars(self)
                if (k.endswith("_") and not k.startswith("__")) or k in self._PRIVATE_STATE]

    def _snapshot(self):
        """A copy of the fitted state, to go back to if a fit fails."""
        return {k: copy.deepcopy(getattr(self, k)) for k in self._state_keys()
                if k not in ("coefs_", "intercepts_")}  # views: rebuilt by _bind_views

    def _restore(self, snapshot):
        for k in self._state_keys():
            delattr(self, k)
        self.__dict__.update(snapshot)
        self._bind_views()

    def _initialize(self, X, Y, sizes, acts, validation, rng):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = len(sizes) + 2
        self.out_activation_ = (
            "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"
        )
        self._net = MLP([X.shape[1]] + sizes + [self.n_outputs_], acts, self.out_activation_,
                        dtype=X.dtype).initialize(rng)
        self._bind_views()
        self._optimizer = None
        self._best_params = None
        self._no_improvement_count = 0
        self.loss_curve_ = []
        self.best_loss_ = self.validation_scores_ = self.validation_loss_curve_ = None
        self.best_validation_score_ = None

    def _prepare_tracking(self, validation):
        """Make the curves and best scores fit this call's settings.

        The first fit sets them (as MLPClassifier does); a warm-start fit may
        switch early stopping on or off or bring validation data, which
        MLPClassifier then trips over (``None.append``).
        """
        stopping_on_validation = self.early_stopping and self.solver in _STOCHASTIC_SOLVERS
        if validation is not None or stopping_on_validation:
            if self.validation_scores_ is None:
                self.validation_scores_, self.validation_loss_curve_ = [], []
        if stopping_on_validation:
            self.best_loss_ = None
            if self.best_validation_score_ is None:
                self.best_validation_score_ = -np.inf
        elif self.best_loss_ is None:
            self.best_loss_ = np.inf

    def _prepare_validation(self, X_val, y_val, sample_weight_val, dtype):
        X_val = validate_data(self, X_val, accept_sparse=["csr", "csc"], dtype=dtype, reset=False)
        y_val = np.asarray(y_val) if not hasattr(y_val, "toarray") else y_val.toarray()
        if y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = column_or_1d(y_val, warn=True)
        if X_val.shape[0] != y_val.shape[0]:
            raise ValueError(
                f"X_val and y_val have different numbers of samples: {X_val.shape[0]} and "
                f"{y_val.shape[0]}."
            )
        unknown = np.setdiff1d(unique_labels(y_val), self.classes_)
        if len(unknown):
            raise ValueError(f"y_val has classes not seen in y: {unknown}.")
        if sample_weight_val is not None:
            sample_weight_val = _check_sample_weight(sample_weight_val, X_val, dtype=np.float64)
        return X_val, y_val, sample_weight_val

    def _split_validation(self, X, y, sample_weight, rng):
        """Hold out ``validation_fraction`` of the data, stratified by class when possible."""
        n = X.shape[0]
        stratify = y if np.ndim(y) == 1 else None
        try:
            train, val = train_test_split(np.arange(n), random_state=rng,
                                          test_size=self.validation_fraction, stratify=stratify)
        except ValueError:
            # too few members in some class (or a validation set smaller than the number of
            # classes) to stratify: fall back to a plain random split, as MLPClassifier does
            train, val = train_test_split(np.arange(n), random_state=rng,
                                          test_size=self.validation_fraction)
        if len(val) < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size "
                "of your dataset."
            )
        sw_val = None if sample_weight is None else sample_weight[val]
        sw_train = None if sample_weight is None else sample_weight[train]
        return train, (X[val], y[val], sw_val), sw_train

    def _make_optimizer(self):
        net = self._net
        if self.solver == "sgd":
            return SGD(net.params.size, net.dtype, self.learning_rate_init, self.learning_rate,
                       self.momentum, self.nesterovs_momentum, self.power_t)
        return Adam(net.params.size, net.dtype, self.learning_rate_init, self.beta_1,
                    self.beta_2, self.epsilon)

    def _fit_stochastic(self, X, y, Y, sample_weight, rates, validation, incremental, rng,
                        ctx):
        if not incremental or self._optimizer is None:
            self._optimizer = self._make_optimizer()
        if validation is None and self.early_stopping:
            train, validation, sample_weight = self._split_validation(X, y, sample_weight, rng)
            X, y, Y = X[train], y[train], Y[train]
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        if hasattr(X, "tocsr"):
            X = X.tocsr()  # row gathers are fast on CSR, slow on CSC
        n_samples = X.shape[0]
        # larger than the data means one batch of everything (MLPClassifier also warns; the
        # clipping is documented and nothing is lost, so no warning here)
        batch_size = min(200 if self.batch_size == "auto" else self.batch_size, n_samples)
        batches = list(gen_batches(n_samples, batch_size))
        net, optimizer = self._net, self._optimizer

        if self.early_stopping and self._best_params is None:
            self._best_params = net.params.copy()
        epoch_start = np.empty_like(net.params)  # the weights to go back to on Ctrl-C
        self.n_iter_ = 0
        try:
            for _ in range(self.max_iter):
                np.copyto(epoch_start, net.params)
                epoch_ctx = ctx.subcontext(task_name="epoch")
                epoch_ctx.call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=metadata)
                order = rng.permutation(n_samples) if self.shuffle else None
                loss = run_epoch(net, optimizer, X, Y, sample_weight, batches, self.alpha,
                                 order, rates, rng)
                if not np.isfinite(loss):
                    raise FloatingPointError
                self.n_iter_ += 1
                self.loss_ = loss
                self.t_ += n_samples
                self.loss_curve_.append(loss)
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, loss))
                self._update_no_improvement_count(validation)
                optimizer.iteration_ends(self.t_)
                if epoch_ctx.call_on_fit_task_end(estimator=self, X=X, y=y, metadata=metadata,
                                                  reconstruction_attributes=self._reconstruction):
                    break  # a callback asked to stop after this epoch
                if self._no_improvement_count > self.n_iter_no_change:
                    msg = (
                        "Validation score did not improve more than tol=%f for %d consecutive "
                        "epochs." if self.early_stopping else
                        "Training loss did not improve more than tol=%f for %d consecutive "
                        "epochs."
                    ) % (self.tol, self.n_iter_no_change)
                    if optimizer.trigger_stopping(msg, self.verbose):
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        "Stochastic Optimizer: Maximum iterations (%d) reached and the "
                        "optimization hasn't converged yet." % self.max_iter,
                        ConvergenceWarning,
                    )
        except KeyboardInterrupt:
            # the optimizer keeps its (slightly ahead) moments: harmless for continuing
            net.params[...] = epoch_start
            warnings.warn(
                "Training interrupted by user; keeping the weights of the last complete epoch."
            )
        if self.early_stopping:
            net.params[...] = self._best_params

    def _validation_metrics(self, X_val, y_val, sw_val):
        """Validation score (by ``scoring``) and log-loss, from one forward pass."""
        Z = self._net.logits(X_val)
        Y_val = self._encode(y_val).astype(Z.dtype)
        row_loss = OUTPUT_LOSSES[self.out_activation_](Z, Y_val)  # Z now holds probabilities
        loss = float(np.average(row_loss, weights=sw_val))
        if not np.isfinite(loss):
            raise FloatingPointError
        if self.scoring is None:
            y_pred = self._label_binarizer.inverse_transform(Z)
            if y_pred.ndim == 1:
                score = float(np.average(y_pred == y_val, weights=sw_val))
            else:  # multilabel: exact-match accuracy, as accuracy_score
                score = float(np.average((y_pred == y_val).all(axis=1), weights=sw_val))
        elif self.scoring == "loss":
            score = -loss
        else:
            scorer = check_scoring(self, scoring=self.scoring)
            with warnings.catch_warnings():
                # X_val was validated already and lost its column names on the way
                warnings.filterwarnings("ignore", message="X does not have valid feature names")
                kwargs = {} if sw_val is None else {"sample_weight": sw_val}
                score = float(scorer(self, X_val, y_val, **kwargs))
        return score, loss

    def _update_no_improvement_count(self, validation):
        if validation is not None:
            score, val_loss = self._validation_metrics(*validation)
            self.validation_scores_.append(score)
            self.validation_loss_curve_.append(val_loss)
            if self.verbose:
                print("Validation score: %f" % score)
        if self.early_stopping:
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                np.copyto(self._best_params, self._net.params)
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])

    def _fit_lbfgs(self, X, y, Y, sample_weight, validation, ctx):
        net = self._net
        last_good = net.params.copy()
        self.loss_curve_ = []
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        stopped = []
        iter_ctx = [ctx.subcontext(task_name="iteration")]
        iter_ctx[0].call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=metadata)

        def callback(intermediate_result):
            last_good[...] = intermediate_result.x
            net.params[...] = intermediate_result.x  # scipy may have evaluated elsewhere since
            self.loss_curve_.append(float(intermediate_result.fun))
            if self.verbose:
                print("Iteration %d, loss = %.8f" % (len(self.loss_curve_), self.loss_curve_[-1]))
            if validation is not None:
                score, val_loss = self._validation_metrics(*validation)
                self.validation_scores_.append(score)
                self.validation_loss_curve_.append(val_loss)
            if iter_ctx[0].call_on_fit_task_end(estimator=self, X=X, y=y, metadata=metadata,
                                                reconstruction_attributes=self._reconstruction):
                stopped.append(True)
                raise StopIteration  # scipy >= 1.11 ends the minimisation here
            iter_ctx[0] = ctx.subcontext(task_name="iteration")
            iter_ctx[0].call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=metadata)

        try:
            result = minimize_lbfgs(net, X, Y.astype(X.dtype), sample_weight, self.alpha, self.max_iter,
                                    self.max_fun, self.tol, callback)
        except KeyboardInterrupt:
            net.params[...] = last_good
            self.n_iter_ = len(self.loss_curve_)
            self.loss_ = net.loss_grad(X, Y.astype(X.dtype), sample_weight, self.alpha)[0]
            warnings.warn("Training interrupted by user; keeping the last L-BFGS iterate.")
        else:
            if not np.isfinite(result.fun):
                raise FloatingPointError
            if not stopped:  # the iteration begun after the last one never ran: close it
                iter_ctx[0].call_on_fit_task_end(estimator=self)
            self.n_iter_ = int(result.nit)
            self.loss_ = float(result.fun)
            if result.status != 0 and not stopped:
                warnings.warn(
                    "lbfgs failed to converge after %d iteration(s) (status=%d): %s. Increase "
                    "max_iter or max_fun, or scale the data." % (result.nit, result.status,
                                                                 result.message),
                    ConvergenceWarning,
                )
        self.best_loss_ = min(self.loss_curve_, default=self.loss_)
