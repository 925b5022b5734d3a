"""Process-wide settings: the number of threads kernels may use."""

from __future__ import annotations

import os

from . import _validate

_num_threads: int | None = None


def _default_threads() -> int:
    env = os.environ.get("SMPFAST_NUM_THREADS")
    if env:
        try:
            return _validate.positive_int(int(env), "SMPFAST_NUM_THREADS")
        except ValueError:
            raise ValueError(
                f"SMPFAST_NUM_THREADS must be a positive integer; got {env!r}"
            ) from None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def get_num_threads() -> int:
    """Number of threads the kernels use (``SMPFAST_NUM_THREADS`` or the usable cores).

    Examples
    --------
    >>> import smpfast
    >>> smpfast.get_num_threads() >= 1
    True
    """
    global _num_threads
    if _num_threads is None:
        _num_threads = _default_threads()
    return _num_threads


def set_num_threads(n: int) -> None:
    """Set the number of threads every backend uses from now on.

    Parameters
    ----------
    n : int
        Number of threads, at least 1. The Numba backend is further capped by
        ``numba.config.NUMBA_NUM_THREADS``.

    Examples
    --------
    >>> import smpfast
    >>> old = smpfast.get_num_threads()
    >>> smpfast.set_num_threads(1)
    >>> smpfast.get_num_threads()
    1
    >>> smpfast.set_num_threads(old)
    """
    global _num_threads
    _num_threads = _validate.positive_int(n, "n")
