"""Ctrl-C during training: epochs are atomic.

A fit catches ``KeyboardInterrupt`` and keeps the last complete epoch. An epoch is
complete once its bookkeeping (counters, curves, best weights, callbacks) has run, so
that short stretch must not be cut in half: :func:`deferred_interrupt` holds a Ctrl-C
that arrives during it and delivers it right after.
"""

import signal
import threading
from contextlib import contextmanager


@contextmanager
def deferred_interrupt():
    """Hold SIGINT during the block, then deliver it to whatever handled it before.

    Only the main thread receives signals (and may install handlers); elsewhere this
    does nothing. Nor does it where the handler in place was not installed from Python
    (``getsignal`` returns None, e.g. in an embedding application): it could not be put
    back.
    """
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is None):
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            signal.raise_signal(signal.SIGINT)
