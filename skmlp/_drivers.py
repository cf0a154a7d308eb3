"""The training drivers: the epoch loop of sgd/adam and L-BFGS, apart from the estimator.

The estimator checks parameters and data, builds or continues the network and runs a fit
as one transaction; a driver trains: :func:`plan_epochs` sets the epoch loop up (the
optimizer, the early-stopping split, the batch size, dropout), :func:`train_epochs` runs
it and :func:`end_epochs` tears it down; :func:`train_lbfgs` runs scipy's L-BFGS. They
record into a :class:`~skmlp._fit_state.TrainingState`, which writes the estimator's
fitted attributes after every epoch, and follow MLPClassifier's ``_fit_stochastic`` and
``_fit_lbfgs`` step for step (the same draws, the same bookkeeping order).

The rules for interruptions (see ``skmlp._interrupt``): an epoch counts whole or not at
all; Ctrl-C during an epoch puts the weights and the optimizer back to its start; every
callback sub-task that began ends once.
"""

import warnings
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.optimize import _check_optimize_result

from . import _ops, _validation_data
from ._adamw import clip_gradient
from ._averaging import EMA
from ._callbacks import LbfgsCallbackBridge
from ._interrupt import deferred_interrupt
from ._network import MLP
from ._numerics import QUIET_FP, finish_gradient, gradient_dtype
from ._optimizers import SGD, Adam
from ._schedules import learning_rate_factor
from ._solvers import Diverged, diverged_message, minimize_lbfgs, run_epoch


@dataclass
class FitData:
    """What one call to fit or partial_fit trains on, and the callback task it reports to."""

    X: object  # ndarray or sparse matrix, float32 or float64 as validated
    encoded: np.ndarray  # the targets encoded for the network, (n_samples, n_outputs)
    y: object  # the targets as given (labels, values), for scores and callbacks
    sample_weight: object  # ndarray or None
    context: object  # sklearn.callback context of the fit task

    @property
    def hook_args(self):
        """What the callback hooks are given besides the estimator."""
        metadata = None if self.sample_weight is None else {"sample_weight": self.sample_weight}
        return {"X": self.X, "y": self.y, "metadata": metadata}


@dataclass
class EpochPlan:
    """The epoch loop's set-up (:func:`plan_epochs`)."""

    X: object  # what the batches are drawn from (dense: the whole X; sparse: the training part)
    Y: np.ndarray
    sample_weight: object
    rows: object  # dense X's training rows under early stopping, else None
    n_samples: int  # rows trained on per epoch
    batch_size: int
    validation: object  # (X_val, Y_val, y_val, sample_weight_val) or None
    dropout: object  # drop rate per hidden layer, or None without dropout
    dropout_rng: object  # numpy Generator of the masks, or None
    extras: object = None  # StepExtras, or None: MLPClassifier's steps


class StepExtras:
    """skmlp's opt-in extras of a minibatch step, which MLPClassifier does not have.

    A step with extras finishes the gradient (L2 term, division by the batch weight),
    then, each where asked::

        g      <- g * min(1, max_grad_norm / ||g||)        (clipping by global norm)
        lr     =  lr_base * schedule(step / n_steps)          (warmup, cosine, coslog4)
        W      <- W * (1 - lr * weight_decay)                (decoupled decay, weights only)
        params <- the optimizer's step (SGD or Adam) at lr
        ema    <- the average of the weights so far           (see skmlp._averaging)

    ``lr_base`` is SGD's current rate (after "invscaling" or "adaptive") or Adam's
    ``learning_rate_init``; the schedule multiplies it for this step only. The decay is
    AdamW's (Loshchilov and Hutter, 2019): it does not pass through Adam's moments, and
    biases are not decayed. The schedule and the average span one call to ``fit``
    (``max_iter`` epochs of ``n_batches`` steps) or ``partial_fit`` (one epoch).

    Parameters
    ----------
    est : BaseMLPFromScratch
        Supplies ``lr_schedule``, ``warmup``, ``weight_decay``, ``max_grad_norm`` and
        ``ema_decay``.
    params : ndarray of shape (n_params,)
        The live weights at the start (the average starts there).
    n_steps : int
        Steps the schedule spans.
    """

    def __init__(self, est, params, n_steps):
        self.schedule, self.warmup = est.lr_schedule, float(est.warmup)
        # Python floats, as the compiled loop takes them (a numpy scalar would change the
        # dtype of clip_gradient's arithmetic)
        self.weight_decay = float(est.weight_decay)
        self.max_grad_norm = None if est.max_grad_norm is None else float(est.max_grad_norm)
        self.n_steps, self.steps = max(int(n_steps), 1), 0
        self.ema = None if est.ema_decay is None else EMA(params, est.ema_decay)

    @staticmethod
    def wanted(est):
        """Whether any extra is on (else the loop makes MLPClassifier's steps)."""
        return any(getattr(est, name) != off for name, off in est._STEP_EXTRAS.items())

    def factor(self, step):
        """The schedule's factor of the learning rate at ``step`` (counted from 0)."""
        return float(learning_rate_factor(self.schedule or "constant", step / self.n_steps,
                                          self.warmup))

    def decay(self, base, factor):
        """The weights' factor of one step at the rate ``base * factor`` (a Python float)."""
        return 1.0 - float(base) * factor * self.weight_decay

    def step(self, net, optimizer, grad, *, alpha, scale):
        """One step from the raw gradient sums ``grad`` (spent), in place on ``net``."""
        n_coefs, params = net.n_coefs, net.params
        grad, grad_intercepts = finish_gradient(grad, params, n_coefs, alpha, scale)
        if grad_intercepts.dtype != grad.dtype:  # float64 bias gradients of float32 data
            grad[n_coefs:] = grad_intercepts
        if self.max_grad_norm is not None:
            clip_gradient(grad, self.max_grad_norm)
        factor = self.factor(self.steps)
        self.steps += 1
        # the optimizer's base rate, scaled for this step only
        name = "learning_rate" if isinstance(optimizer, SGD) else "learning_rate_init"
        base = getattr(optimizer, name)
        if self.weight_decay:
            params[:n_coefs] *= self.decay(base, factor)
        setattr(optimizer, name, base * factor)
        try:
            optimizer.step(params, grad)
        finally:
            setattr(optimizer, name, base)
        if self.ema is not None:
            self.ema.update(params)


def make_optimizer(est, net, X, Y, incremental):
    """The optimizer to train with: the fitted one continued (a copy), or a new one.

    A new one's state has the gradient's dtype (``gradient_dtype``): the weights' dtype,
    or float64 where float64 inputs or targets make the gradient float64, as in
    scikit-learn. A continued one keeps its state's dtypes; its steps widen them as numpy
    would (see ``skmlp._optimizers``).
    """
    previous = getattr(est, "_optimizer", None)
    if incremental and previous is not None and previous.n_params == net.params.size:
        return previous.copy()
    dtype = gradient_dtype(net.dtype, X, Y)
    if est.solver == "sgd":
        return SGD(net.params.size, dtype, est.learning_rate_init, est.learning_rate,
                   est.momentum, est.nesterovs_momentum, est.power_t)
    return Adam(net.params.size, dtype, est.learning_rate_init, est.beta_1, est.beta_2,
                est.epsilon)


def plan_epochs(est, data, net_params, *, rates, validation, rng, t, incremental):
    """Set the epoch loop up, drawing from ``rng`` what MLPClassifier draws, in its order.

    Parameters
    ----------
    est : BaseMLPFromScratch
    data : FitData
    net_params : ndarray of shape (n_params,)
        The network's weights at the start (weight averaging starts from them).
    rates : list of float
        Dropout rate per hidden layer.
    validation : tuple or None
        Checked validation data given to fit (:func:`skmlp._validation_data.check`).
    rng : numpy.random.RandomState
    t : int
        Samples seen by earlier fits (``t_``; 0 for a new model).
    incremental : bool
        ``partial_fit``: one epoch.

    Returns
    -------
    plan : EpochPlan
    """
    X, Y, sample_weight, rows = data.X, data.encoded, data.sample_weight, None
    if validation is None and est.early_stopping:
        X, Y, sample_weight, rows, validation = _validation_data.hold_out(
            est, X, Y, data.y, sample_weight, rng)
    # a CSC matrix is trained as CSC, as scikit-learn does: its products sum in another
    # order than CSR's (row gathers are slower on CSC; convert to CSR before fit for speed)
    n_samples = X.shape[0] if rows is None else len(rows)
    if est.batch_size == "auto":
        batch_size = min(200, n_samples)
    else:
        if est.batch_size > n_samples:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is going to "
                "be clipped"
            )
        # a numpy integer, as scikit-learn's np.clip leaves it: the batch slices then
        # hold numpy integers, and a float32 batch loss times its size is float64 there
        batch_size = np.clip(est.batch_size, 1, n_samples)
    dropout, dropout_rng = None, None
    if any(rates):
        # masks come from a stream of their own, seeded from the main one, so without
        # dropout nothing extra is drawn; t_ makes each partial_fit call's masks new
        dropout = rates
        dropout_rng = np.random.default_rng([rng.randint(2**31 - 1), t])
    extras = None
    if StepExtras.wanted(est):
        n_batches = -(-n_samples // batch_size)
        extras = StepExtras(est, net_params, (1 if incremental else est.max_iter) * n_batches)
    return EpochPlan(X, est._training_targets(Y, X.dtype), sample_weight, rows, n_samples,
                     batch_size, validation, dropout, dropout_rng, extras)


def averaged_network(net, average):
    """A network of ``net``'s layers whose parameters are the array ``average`` (a view:
    it follows the weight average as it moves), to validate and keep the average."""
    view = MLP(net.layer_sizes, net.activation, net.out_activation, net.dtype)
    view.params = average
    view.coefs, view.intercepts = view.unflatten(average)
    return view


def shuffled(sample_idx, rng):
    """``sklearn.utils.shuffle(sample_idx, random_state=rng)`` for a 1-d integer array and
    a ``RandomState``: the same draw (``rng.shuffle`` of ``arange(n)``) and the same
    gather, without the input checks that cost that function ~0.15 ms an epoch (an
    epoch of digits trains in ~2 ms). tests/test_drivers.py pins the equality."""
    indices = np.arange(sample_idx.shape[0])
    rng.shuffle(indices)
    return sample_idx[indices]


def train_epochs(est, net, data, state, plan, *, incremental, rng, interrupts):
    """sgd and adam: MLPClassifier's ``_fit_stochastic`` loop, on the flat parameter vector.

    Each epoch: a checkpoint of the weights and optimizer, the epoch's callback sub-task,
    the shuffle, one pass of minibatch steps, then (with Ctrl-C deferred) the divergence
    check, the validation, the bookkeeping (``state``), the end hook and the stopping
    rules. Ctrl-C during the pass puts the checkpoint back; the fit keeps the epochs that
    ended.

    A compiled epoch (``skmlp._ops.compiled_epochs``) cannot be cut short: numba's code
    does not stop for Ctrl-C, so the pass and its bookkeeping run with Ctrl-C held until
    the epoch is recorded, and there is nothing to go back to. It takes no checkpoint
    (three copies of the weights' size less memory, and no copying) unless a validation
    scorer, which may raise KeyboardInterrupt itself, runs after it.
    """
    net_params, optimizer = net.params, state.optimizer
    ema = None if plan.extras is None else plan.extras.ema
    sample_idx = np.arange(plan.n_samples)
    # what to go back to if Ctrl-C cuts an epoch short: its starting weights and optimizer
    epoch_start, optimizer_start, ema_start = None, None, None
    checkpointed = False  # whether this epoch's start is in them
    epoch = None  # the callback sub-task of the epoch under way, if it has not ended
    try:
        for _ in range(est.max_iter):
            compiled = _ops.compiled_epochs(
                net, optimizer, plan.X, plan.Y, plan.sample_weight, dropout=plan.dropout,
                rng=plan.dropout_rng, extras=plan.extras, alpha=est.alpha,
                gathered=est.shuffle or plan.rows is not None)
            checkpointed = not compiled or state.validation is not None
            if checkpointed:
                if epoch_start is None:
                    epoch_start = np.empty_like(net_params)
                np.copyto(epoch_start, net_params)
                optimizer_start = optimizer.checkpoint(into=optimizer_start)
                if ema is not None:
                    ema_start = ema.checkpoint(into=ema_start)
            epoch = data.context.subcontext(task_name="epoch")
            epoch.call_on_fit_task_begin(estimator=est, **data.hook_args)
            if est.shuffle:
                sample_idx = shuffled(sample_idx, rng)
            order = sample_idx if est.shuffle else None
            if plan.rows is not None:
                order = plan.rows[sample_idx]
            with deferred_interrupt() if compiled else nullcontext():
                loss = run_epoch(net, optimizer, plan.X, plan.Y, plan.sample_weight,
                                 plan.batch_size, alpha=est.alpha, order=order,
                                 dropout=plan.dropout, rng=plan.dropout_rng,
                                 extras=plan.extras, compiled=compiled)
                # from here the epoch counts: no Ctrl-C midway (a compiled one holds it already)
                with nullcontext() if compiled else deferred_interrupt():
                    try:
                        if not np.isfinite(loss):
                            raise Diverged(diverged_message(
                                est, f"the training loss became non-finite in epoch "
                                     f"{state.n_iter + 1}"))
                        # the validation scorer may raise (a KeyboardInterrupt included):
                        # then the epoch counts nowhere
                        validated = state.validate()
                    except Diverged as e:
                        if state.best is None:  # nothing worth keeping
                            raise
                        warnings.warn(f"{e} Keeping the best weights seen by early "
                                      "stopping.", ConvergenceWarning)
                        break
                    _record_epoch(est, state, loss, validated, n_samples=plan.n_samples)
                    # the epoch is complete: its end hook runs once, whatever it raises
                    ended, epoch = epoch, None
                    stop = _after_epoch(est, ended, data=data, state=state,
                                        incremental=incremental)
            if stop:
                break
    except KeyboardInterrupt:
        interrupts.note()
        # the epoch did not finish: back to where it started (an epoch without a
        # checkpoint has not changed the weights: Ctrl-C is held while it trains)
        if epoch is not None and checkpointed:
            net_params[...] = epoch_start
            optimizer.restore(optimizer_start)
            if ema is not None:
                ema.restore(ema_start)
    if epoch is not None:  # an epoch that never finished
        try:
            epoch.call_on_fit_task_end(estimator=est)
        except KeyboardInterrupt:
            interrupts.note()


def end_epochs(est, net, state, plan):
    """Tear the epoch loop down: the best weights back (early stopping), or the weight
    average (``ema_decay``) into the network, the state committed, the optimizer's work
    arrays freed."""
    state.restore_best()  # into the average, when it is the weights validated
    if plan.extras is not None and plan.extras.ema is not None:
        net.params[...] = plan.extras.ema.average
    state.commit()
    state.optimizer.release()


def _record_epoch(est, state, loss, validated, *, n_samples):
    """An epoch's bookkeeping, in MLPClassifier's order (no user code: all or nothing)."""
    if est.verbose:
        print("Iteration %d, loss = %.8f" % (state.n_iter + 1, loss))
    state.epoch_end(loss, validated, n_samples=n_samples)
    state.optimizer.iteration_ends(state.t)
    state.commit()


def _after_epoch(est, epoch, *, data, state, incremental):
    """The epoch's end hook, then MLPClassifier's stopping rules; True to stop."""
    if epoch.call_on_fit_task_end(estimator=est, **data.hook_args,
                                  reconstruction_attributes=est._snapshot_for_callbacks):
        return True  # a callback asked to stop after this epoch
    if state.stalled():
        what = "Validation score" if state.early_stopping else "Training loss"
        msg = "%s did not improve more than tol=%f for %d consecutive epochs." % (
            what, est.tol, est.n_iter_no_change)
        if state.optimizer.trigger_stopping(msg, est.verbose):
            return True
        state.reset_count()
        state.commit()
    if incremental:
        return True
    if state.n_iter == est.max_iter:
        warnings.warn(
            "Stochastic Optimizer: Maximum iterations (%d) reached and the optimization "
            "hasn't converged yet." % est.max_iter,
            ConvergenceWarning,
        )
    return False


def train_lbfgs(est, net, data, state, *, interrupts):
    """L-BFGS over the whole data set: MLPClassifier's ``_fit_lbfgs``.

    Returns the network the estimator keeps: ``net``, or, for float32 weights, a new
    float64 one holding scipy's last iterate, which MLPClassifier unpacks into its
    ``coefs_`` (the loss was evaluated at float32 points all along).

    Records ``loss_curve_`` (which MLPClassifier's L-BFGS does not); ``best_loss_`` only
    on a first fit: a warm start leaves it and the no-improvement count to the stochastic
    solvers, as MLPClassifier's does (``state.record_only``).
    """
    X, sample_weight = data.X, data.sample_weight
    Y = est._training_targets(data.encoded, X.dtype)
    bridge = LbfgsCallbackBridge(est, net, state=state, context=data.context,
                                 hook_args=data.hook_args,
                                 reconstruction=est._snapshot_for_callbacks)
    try:
        result = minimize_lbfgs(net, X, Y, sample_weight, est.alpha, max_iter=est.max_iter,
                                max_fun=est.max_fun, tol=est.tol, callback=bridge,
                                verbose=est.verbose)
    except KeyboardInterrupt:
        interrupts.note()
        net.params[...] = bridge.last_x
        state.n_iter = bridge.n_iter
        if not bridge.n_iter:  # interrupted before the first iteration ended: the start's
            with np.errstate(**QUIET_FP):
                state.loss = np.float64(net.loss_grad(X, Y, sample_weight, est.alpha)[0])
        # else: state.loss is the loss the bridge recorded at last_x
    else:
        if not np.isfinite(result.fun):
            raise Diverged(diverged_message(
                est, "the training loss became non-finite during L-BFGS"))
        if bridge.stopped:
            state.n_iter = bridge.n_iter
        else:
            state.n_iter = _check_optimize_result("lbfgs", result, est.max_iter)
        state.loss = result.fun  # in its dtype, as MLPClassifier keeps opt_res.fun
        if net.dtype != np.float64:
            net.release()
            net = MLP(net.layer_sizes, net.activation, net.out_activation, np.float64)
            net.params[...] = result.x
    finally:
        try:
            bridge.close()
        except KeyboardInterrupt:  # raised by a callback's end hook: nothing to undo
            interrupts.note()
    state.commit()
    return net
