"""Learning-rate schedules as pure functions of the training progress.

A schedule maps the fraction ``t`` of training done (``t = step / n_steps``, in
``[0, 1)``) to a factor in ``[0, 1]`` that multiplies the base learning rate. Keyed by
the names users pass, as the activations are.

References
----------
RealMLP's ``coslog4``: Holzmüller, Grinsztajn and Steinwart (2024), "Better by Default:
Strong Pre-Tuned MLPs and Boosted Trees on Tabular Data", Section 3 (four cosine
cycles on a log time scale, each one twice as long as the one before).
Cosine annealing: Loshchilov and Hutter (2017), "SGDR".
``flat_cos`` is the schedule RealMLP-TD gives its dropout rate and weight decay (pytabkit's
``p_drop_sched`` and ``wd_sched``): constant for the first half, cosine down to 0 after.
"""

import math

import numpy as np


def constant(t):
    """``1``: the base learning rate throughout."""
    return np.ones_like(np.asarray(t, dtype=float))


def cosine(t):
    """Cosine annealing from 1 to 0: ``(1 + cos(pi t)) / 2``."""
    return 0.5 * (1.0 + np.cos(math.pi * np.asarray(t, dtype=float)))


def coslog4(t):
    """RealMLP's schedule: ``(1 - cos(2 pi log2(1 + 15 t))) / 2``.

    ``log2(1 + 15 t)`` runs from 0 to 4 over training, so the factor rises from 0 to 1
    and falls back to 0 four times, in cycles of doubling length (ending at ``t`` =
    1/15, 3/15, 7/15, 1): the short early cycles act as a warmup and restarts, the
    long last one anneals.
    """
    return 0.5 * (1.0 - np.cos(2.0 * math.pi * np.log2(1.0 + 15.0 * np.asarray(t, dtype=float))))


def flat_cos(t):
    """``1`` for the first half of training, then a cosine from 1 down to 0.

    ``1`` for ``t < 1/2``, ``(1 + cos(pi (2 t - 1))) / 2`` after: regularisation at full
    strength while the network finds its shape, then released so that the last steps
    fit the data (RealMLP-TD's schedule for dropout and weight decay).
    """
    t = np.asarray(t, dtype=float)
    return np.where(t < 0.5, 1.0, 0.5 * (1.0 + np.cos(math.pi * (2.0 * t - 1.0))))


SCHEDULES = {"constant": constant, "cosine": cosine, "coslog4": coslog4,
             "flat_cos": flat_cos}


def learning_rate_factor(schedule, t, warmup=0.0):
    """The factor of the base learning rate at progress ``t``, warmup included.

    Parameters
    ----------
    schedule : str
        A key of ``SCHEDULES``.
    t : float or ndarray
        Fraction of training done, in ``[0, 1)``.
    warmup : float, default=0.0
        Fraction of training over which the factor is ramped up linearly from 0:
        the schedule's value times ``min(1, t / warmup)``.

    Returns
    -------
    factor : float or ndarray
    """
    factor = SCHEDULES[schedule](t)
    if warmup > 0:
        factor = factor * np.minimum(1.0, np.asarray(t, dtype=float) / warmup)
    return factor
