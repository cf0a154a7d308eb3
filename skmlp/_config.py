"""Whether the numba kernels run: on when numba is installed, off by a switch.

``SKMLP_DISABLE_NUMBA=1`` in the environment, or :func:`skmlp.set_kernels` (False),
turns them off; the numpy reference then runs, with the same results.
"""

import os

_state = {"enabled": os.environ.get("SKMLP_DISABLE_NUMBA", "") in ("", "0"), "module": None}


def kernels():
    """The kernels module when kernels are on and numba is importable, else None."""
    if not _state["enabled"]:
        return None
    if _state["module"] is None:
        try:
            from . import _kernels
        except ImportError:
            _state["enabled"] = False
            return None
        _state["module"] = _kernels
    return _state["module"]


def set_kernels(enabled):
    """Turn the numba kernels on or off for this process; returns the previous setting."""
    previous = _state["enabled"]
    _state["enabled"] = bool(enabled)
    return previous
