"""Ctrl-C during training: epochs are atomic, and a fit never loses what it trained.

A fit catches ``KeyboardInterrupt`` and keeps the last complete epoch. An epoch is
complete once its bookkeeping (counters, curves, best weights) has run, so that short
stretch must not be cut in half: :func:`deferred_interrupt` holds a Ctrl-C that arrives
during it and delivers it right after. Once a fit has been interrupted (or while it winds
down: final checks, the callbacks' end hooks and teardown), :func:`fit_interrupts` makes
further Ctrl-Cs only say "stop" again, so a second Ctrl-C cannot throw away the epochs
the first one kept.

Only the main thread receives signals (and may install handlers); elsewhere these do
nothing. Nor do they where the handler in place was not installed from Python
(``getsignal`` returns None, e.g. in an embedding application): it could not be put back.
"""

import signal
import threading
from contextlib import contextmanager


def _can_handle():
    return (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is not None)


@contextmanager
def held_interrupts():
    """Hold SIGINT during the block; yields the list of signals received meanwhile.

    The caller decides what a held Ctrl-C means (:func:`deferred_interrupt` delivers it).
    """
    received = []
    if not _can_handle():
        yield received
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield received
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def deferred_interrupt():
    """Hold SIGINT during the block, then deliver it to whatever handled it before."""
    with held_interrupts() as received:
        yield
    if received:
        signal.raise_signal(signal.SIGINT)


class FitInterrupts:
    """How a fit hears Ctrl-C: while it sets up or trains, the first one raises
    KeyboardInterrupt; once it is stopping or winding down, a Ctrl-C is only noted.

    Attributes
    ----------
    interrupted : bool
        A Ctrl-C (or a KeyboardInterrupt the fit caught) has asked the fit to stop.
    winding_down : bool
        Training is over: final checks, end hooks and teardown run to completion.
    """

    def __init__(self):
        self.interrupted = False
        self.winding_down = False

    def handler(self, signum, frame):
        if self.interrupted or self.winding_down:  # keep what the fit has trained
            self.interrupted = True
            return
        self.interrupted = True
        raise KeyboardInterrupt

    def note(self):
        """A KeyboardInterrupt reached the fit (from a signal or from a callback)."""
        self.interrupted = True


@contextmanager
def fit_interrupts():
    """Install :class:`FitInterrupts`'s handler for the block, if Python's default is in place.

    A handler of the user's own (not ``signal.default_int_handler``) is left alone: it
    decides what Ctrl-C does, and a KeyboardInterrupt it raises is handled as any other.
    """
    state = FitInterrupts()
    if not _can_handle() or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield state
        return
    previous = signal.signal(signal.SIGINT, state.handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)
