"""The ``numba`` backend: registry kernel signatures on top of :mod:`.kernels`.

Same semantics as :mod:`smpfast.reference` (counts identical, SMP to rounding of the
float64 sums, which are accumulated in the same order).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from .. import _config
from . import kernels
from .layout import as_float, plan

name = "numba"

#: Largest number of signals per block of the row kernel (its state stays in L2).
BLOCK_ROWS = 4096
#: Largest number of signals per block of the tile kernel (signals contiguous along the
#: path), transposed into a per-thread buffer of about TILE_BYTES (whole signals when
#: they fit in twice that).
BLOCK_TILES = 512
TILE_BYTES = 1 << 20
MAX_TILE = 4096
#: Fewer signals than this (per row, or in all) are not worth a lane kernel.
MIN_LANES = 16
#: Lane kernels keep int32 counters per lane: longer signals use the scalar scan.
_MAX_LANE_LENGTH = 2**31 - 1


def _threads() -> int:
    """Set (and return) the thread count of this call: smpfast's, capped by Numba's."""
    n = int(min(_config.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(n)
    return n


def _scalars(dtype: np.dtype[Any], tol: float, height: float) -> tuple[Any, Any, Any, Any]:
    """``two``, ``tol``, ``h_e`` (smallest value >= height) and the largest finite, in dtype."""
    t = dtype.type
    with np.errstate(over="ignore"):
        h_e = t(height)
    if float(h_e) < height:
        h_e = np.nextafter(h_e, t(np.inf))
    return t(2), t(tol), h_e, t(np.finfo(dtype).max)


def _row_block(n_inner: int, n_outer: int, threads: int) -> int:
    """Signals per block: at most BLOCK_ROWS, but enough blocks for every thread."""
    want = -(-n_inner * n_outer // (4 * threads))  # about 4 blocks per thread
    block = min(BLOCK_ROWS, max(64, want))
    return int(-(-block // 64) * 64)


def _tile_block(n_signals: int, threads: int) -> int:
    """Signals per block of the tile kernel: at most BLOCK_TILES, a few blocks per thread."""
    want = -(-n_signals // (4 * threads))
    return int(min(BLOCK_TILES, max(MIN_LANES, want)))


def _measure(
    y: np.ndarray, run: bool, height: float, tol: float, omit: bool
) -> tuple[np.ndarray, np.ndarray]:
    threads = _threads()
    y = as_float(y)
    if y.ndim == 0 or y.size == 0 or y.shape[-1] < 3:  # the registry never passes these
        return np.zeros(y.shape[:-1]), np.zeros(y.shape[:-1], dtype=np.int64)
    p = plan(y)
    height = float(height)
    two, tol_e, h_e, fmax = _scalars(y.dtype, tol, height)
    omit = bool(omit)
    if run:
        kind = kernels.RUN_F32 if y.dtype == np.float32 else kernels.RUN
    else:
        kind = kernels.LOCAL0 if height == 0.0 else kernels.LOCAL
    n_signals = p.in_off.size * p.n_inner
    out_smp = np.empty(n_signals, dtype=np.float64)
    out_cnt = np.empty(n_signals, dtype=np.int64)
    args = (p.flat, p.in_off, p.out_off, p.n_inner, p.si, p.so, p.n, p.st)
    if p.n_inner >= MIN_LANES and p.si < abs(p.st) and p.n <= _MAX_LANE_LENGTH:
        # (a) neighbouring signals are nearer in memory than neighbouring samples
        block = _row_block(p.n_inner, p.in_off.size, threads)
        kernels.lanes_rows(*args, block, kind, h_e, height, tol_e, two, fmax,
                           omit, out_smp, out_cnt)
    elif n_signals >= MIN_LANES and p.n <= _MAX_LANE_LENGTH:
        # (b) signals along the path: transpose tiles, then the same lane kernel
        block = _tile_block(n_signals, threads)
        row_bytes = (block + 64 // y.itemsize) * y.itemsize
        tile = max(16, TILE_BYTES // row_bytes)
        if p.n <= 2 * tile:
            tile = p.n
        tile = min(tile, MAX_TILE)
        kernels.lanes_tiles(*args, block, tile, kind, h_e, height, tol_e, two, fmax, omit,
                            out_smp, out_cnt)
    else:
        # few (or extremely long) signals: one scalar scan per signal
        kernels.signals_scan(*args, run, height, tol_e, two, omit, out_smp, out_cnt)
    return out_smp.reshape(p.batch_shape), out_cnt.reshape(p.batch_shape)


def _peaks(
    y: np.ndarray, run: bool, height: float, tol: float, omit: bool
) -> tuple[np.ndarray, np.ndarray]:
    y = as_float(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (one signal); got an array of shape {y.shape}")
    if y.size < 3:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    p = plan(y)
    two, tol_e, _, _ = _scalars(y.dtype, tol, float(height))
    pos: np.ndarray
    mag: np.ndarray
    pos, mag = kernels.find_peaks_kernel(p.flat, int(p.in_off[0]), p.n, p.st, run,
                                         float(height), tol_e, two, bool(omit))
    return pos, mag


def smp_local(
    y: np.ndarray, height: float, tol: float, omit: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Local-mode SMP and peak count of every signal of ``y`` (path axis last).

    Parameters
    ----------
    y : numpy.ndarray
        float32 or float64, any strides, ``y.shape[-1] >= 3``.
    height : float
        Minimum peak magnitude (inclusive).
    tol : float
        Relative noise floor (rounded to ``y``'s dtype).
    omit : bool
        Measure the finite pieces of signals holding NaN/Inf (else SMP NaN, count 0).

    Returns
    -------
    smp : numpy.ndarray of float64
        Shape ``y.shape[:-1]`` (0-d for 1-D ``y``).
    count : numpy.ndarray of int64
        Same shape.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import _numba
    >>> s, c = _numba.smp_local(np.array([0.0, 0.0, 1.0, 0.0, 0.0]), 0.0, 0.0, False)
    >>> float(s), int(c)
    (2.0, 1)
    """
    return _measure(y, False, height, tol, omit)


def smp_run(
    y: np.ndarray, height: float, tol: float, omit: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Run-mode SMP and peak count of every signal of ``y`` (path axis last).

    Same parameters and returns as :func:`smp_local`.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import _numba
    >>> s, c = _numba.smp_run(np.abs(np.linspace(-1.0, 1.0, 9)), 0.0, 0.0, False)
    >>> float(s), int(c)
    (0.5, 1)
    """
    return _measure(y, True, height, tol, omit)


def find_peaks_local(
    y: np.ndarray, height: float, tol: float, omit: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (into ``y``) and magnitudes of the local-mode peaks of one signal.

    Parameters
    ----------
    y : numpy.ndarray
        1-D float32 or float64, any stride.
    height, tol, omit
        As in :func:`smp_local`.

    Returns
    -------
    positions : numpy.ndarray of int64
        Middle sample of each peak's plateau.
    magnitudes : numpy.ndarray of float64
        ``|d|`` at the peaks.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import _numba
    >>> _numba.find_peaks_local(np.abs(np.linspace(-1.0, 1.0, 9)), 0.0, 0.0, False)
    (array([4]), array([0.5]))
    """
    return _peaks(y, False, height, tol, omit)


def find_peaks_run(
    y: np.ndarray, height: float, tol: float, omit: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (into ``y``) and magnitudes of the run-mode peaks of one signal.

    Same parameters as :func:`find_peaks_local`; a run's position is the sample of its
    largest ``|d|`` (the first on ties), its magnitude ``|sum of d over the run|``.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import _numba
    >>> _numba.find_peaks_run(np.array([0.0, 0.0, 0.0, 1.0, 2.0]), 0.0, 0.0, False)
    (array([2]), array([1.]))
    """
    return _peaks(y, True, height, tol, omit)


def describe() -> dict[str, Any]:
    """What this backend is (for ``show_config``).

    Examples
    --------
    >>> from smpfast import _numba
    >>> _numba.describe()["name"]
    'numba'
    """
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        layer = f"{numba.config.THREADING_LAYER} (not started)"
    return {
        "name": name,
        "simd": "llvm auto",
        "threads": int(min(_config.get_num_threads(), numba.config.NUMBA_NUM_THREADS)),
        "numba": numba.__version__,
        "threading_layer": layer,
    }
