"""The ``numba`` backend of smpfast (imported lazily by the backend registry).

Kernels with the registry's signature (already-validated arrays, path axis last); see
:mod:`smpfast.reference` for the definitions they reproduce.

Examples
--------
>>> import numpy as np
>>> from smpfast import _numba
>>> s, c = _numba.smp_run(np.abs(np.linspace(-1.0, 1.0, 9)), 0.0, 0.0, False)
>>> float(s), int(c)
(0.5, 1)
"""

from __future__ import annotations

from .backend import (
    describe,
    find_peaks_local,
    find_peaks_run,
    name,
    smp_local,
    smp_run,
)
from .stream import stream_update

__all__ = [
    "describe",
    "find_peaks_local",
    "find_peaks_run",
    "name",
    "smp_local",
    "smp_run",
    "stream_update",
]
