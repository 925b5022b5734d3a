"""Public SMP functions: validate once, dispatch to one backend, return.

SMP (sum of the magnitude of peaks) of a signal ``y`` is computed from its second
difference ``d[t] = y[t+1] - 2 y[t] + y[t-1]``; see ``smpfast.reference`` for the exact
definitions every backend implements.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _backends, _validate

__all__ = ["find_peaks", "peak_count", "second_diff", "smp", "smp_and_count"]


def second_diff(x: Any, axis: int = 0) -> np.ndarray:
    """Second-order difference ``d[t] = y[t+1] - 2 y[t] + y[t-1]`` along ``axis``.

    Computed in the input's float dtype (float64 for integer input) in the order
    ``(y[t+1] - 2 y[t]) + y[t-1]``, the order every backend uses. No noise floor is
    applied.

    Parameters
    ----------
    x : array_like
        Real input; ``axis`` is the path axis, all other axes are batch axes.
    axis : int, default 0
        Path axis.

    Returns
    -------
    numpy.ndarray
        ``x.shape`` with ``axis`` shortened by 2 (to 0 when shorter than 3).

    Examples
    --------
    >>> import smpfast
    >>> smpfast.second_diff([0.0, 1.0, 4.0, 9.0])
    array([2., 2.])
    """
    arr = _validate.signal_array(x)
    ax = _validate.axis_index(axis, arr.ndim)
    y = np.moveaxis(arr, ax, -1)
    if y.shape[-1] < 3:
        d = np.zeros((*y.shape[:-1], 0), dtype=arr.dtype)
    else:
        two = arr.dtype.type(2)
        d = (y[..., 2:] - two * y[..., 1:-1]) + y[..., :-2]
    return np.moveaxis(d, -1, ax)


def _options(
    mode: Any, height: Any, tol: Any, nan_policy: Any, dtype: np.dtype[Any]
) -> tuple[str, float, float, str]:
    mode = _validate.choice(mode, _validate.MODES, "mode")
    height_v = _validate.nonnegative(height, "height")
    tol_v = _validate.tolerance(tol, dtype)
    nan_policy = _validate.choice(nan_policy, _validate.NAN_POLICIES, "nan_policy")
    return mode, height_v, tol_v, nan_policy


def smp_and_count(
    x: Any,
    axis: int = 0,
    *,
    mode: str = "local",
    height: float = 0.0,
    tol: float | None = None,
    nan_policy: str = "propagate",
    backend: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """SMP and peak count of every signal along ``axis``, from one pass over ``x``.

    Parameters
    ----------
    x : array_like
        Real input (float32, float64; integers and bool are converted to float64). Any
        strides. ``axis`` is the path axis; every other axis is a batch axis.
    axis : int, default 0
        Path axis.
    mode : {"local", "run"}, default "local"
        ``"local"``: peaks are the local maxima of ``|d|`` exactly as
        ``scipy.signal.find_peaks(abs(d), height=height)`` finds them (plateaus count
        once, edges never count). ``"run"``: peaks are maximal runs of same-sign nonzero
        ``d``, magnitude ``|sum over the run|`` (exact for piecewise-linear signals).
    height : float, default 0.0
        Minimum magnitude of a peak (absolute, inclusive).
    tol : float, optional
        Relative noise floor: ``d[t]`` counts as zero when
        ``|d[t]| < tol * (|y[t-1]| + 2|y[t]| + |y[t+1]|)``. Default ``8 * eps`` of the
        input dtype, so that exactly affine signals have SMP 0.
    nan_policy : {"propagate", "raise", "omit"}, default "propagate"
        Signals holding NaN or +-Inf: ``"propagate"`` gives SMP NaN and count 0,
        ``"raise"`` raises ValueError, ``"omit"`` splits the signal at those samples and
        measures the finite pieces.
    backend : {"cpp", "numba", "numpy"}, optional
        Overrides the selected backend for this call.

    Returns
    -------
    smp : numpy.ndarray of float64
        ``x.shape`` without ``axis`` (0-d for 1-D input).
    count : numpy.ndarray of int64
        Number of peaks, same shape.

    Examples
    --------
    >>> import numpy as np, smpfast
    >>> y = np.abs(np.linspace(-1.0, 1.0, 9))       # one kink, slope change 0.5
    >>> s, n = smpfast.smp_and_count(y, mode="run")
    >>> float(s), int(n)
    (0.5, 1)
    """
    arr = _validate.signal_array(x)
    ax = _validate.axis_index(axis, arr.ndim)
    mode, height_v, tol_v, nan_policy = _options(mode, height, tol, nan_policy, arr.dtype)
    kernels = _backends.resolve(backend)
    y = np.moveaxis(arr, ax, -1)
    if y.size == 0 or y.shape[-1] < 3:
        return np.zeros(y.shape[:-1]), np.zeros(y.shape[:-1], dtype=np.int64)
    kernel = kernels.smp_local if mode == "local" else kernels.smp_run
    smp, count = kernel(y, height_v, tol_v, nan_policy == "omit")
    if nan_policy == "raise":
        bad = np.isnan(smp)
        if bad.any():
            where = np.unravel_index(int(np.argmax(bad)), bad.shape) if bad.ndim else ()
            raise ValueError(
                f"x holds NaN or Inf along axis {ax} (first in the signal at batch index "
                f"{tuple(int(i) for i in where)}); pass nan_policy='omit' to skip those samples"
            )
    return np.asarray(smp, dtype=np.float64), np.asarray(count, dtype=np.int64)


def smp(
    x: Any,
    axis: int = 0,
    *,
    mode: str = "local",
    height: float = 0.0,
    tol: float | None = None,
    nan_policy: str = "propagate",
    backend: str | None = None,
) -> np.ndarray:
    """Sum of the magnitude of peaks (SMP) of every signal along ``axis``.

    Same parameters as :func:`smp_and_count`; returns only the float64 SMP array
    (``x.shape`` without ``axis``; 0-d for 1-D input).

    Examples
    --------
    >>> import numpy as np, smpfast
    >>> t = np.linspace(-1.0, 1.0, 101)
    >>> paths = np.stack([np.abs(t), t, np.maximum(t, 0.25)], axis=1)   # (T, 3)
    >>> np.round(smpfast.smp(paths, axis=0, mode="run"), 6)
    array([0.04, 0.  , 0.02])
    """
    return smp_and_count(
        x, axis, mode=mode, height=height, tol=tol, nan_policy=nan_policy, backend=backend
    )[0]


def peak_count(
    x: Any,
    axis: int = 0,
    *,
    mode: str = "local",
    height: float = 0.0,
    tol: float | None = None,
    nan_policy: str = "propagate",
    backend: str | None = None,
) -> np.ndarray:
    """Number of peaks of every signal along ``axis`` (int64).

    Same parameters as :func:`smp_and_count`. Signals whose SMP is NaN
    (``nan_policy="propagate"``) have count 0.

    Examples
    --------
    >>> import numpy as np, smpfast
    >>> t = np.linspace(0.0, 6.0, 61)
    >>> y = np.abs(t % 2.0 - 1.0)          # triangle wave: kinks at t = 1, 2, 3, 4, 5
    >>> int(smpfast.peak_count(y, mode="run", height=1e-3))
    5
    """
    return smp_and_count(
        x, axis, mode=mode, height=height, tol=tol, nan_policy=nan_policy, backend=backend
    )[1]


def find_peaks(
    y: Any,
    *,
    mode: str = "local",
    height: float = 0.0,
    tol: float | None = None,
    nan_policy: str = "propagate",
    backend: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions and magnitudes of the peaks of one 1-D signal.

    Parameters
    ----------
    y : array_like, 1-D
        One signal.
    mode, height, tol, nan_policy, backend
        As in :func:`smp_and_count`. With ``nan_policy="propagate"`` a signal holding
        NaN or Inf has no peaks.

    Returns
    -------
    positions : numpy.ndarray of int64
        Indices into ``y`` (``d[t]`` belongs to sample ``t``). Local mode: the middle
        sample of the peak's plateau; run mode: the sample of the run's largest ``|d|``.
    magnitudes : numpy.ndarray of float64
        Their magnitudes; ``magnitudes.sum()`` is the SMP.

    Examples
    --------
    >>> import numpy as np, smpfast
    >>> pos, mag = smpfast.find_peaks(np.abs(np.linspace(-1.0, 1.0, 9)))
    >>> pos, mag
    (array([4]), array([0.5]))
    """
    arr = _validate.one_dimensional(_validate.signal_array(y, "y"), "y")
    mode, height_v, tol_v, nan_policy = _options(mode, height, tol, nan_policy, arr.dtype)
    kernels = _backends.resolve(backend)
    if arr.size < 3:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    if nan_policy == "raise" and not np.isfinite(arr).all():
        first = int(np.argmin(np.isfinite(arr)))
        raise ValueError(
            f"y holds NaN or Inf (first at index {first}); pass nan_policy='omit' to skip it"
        )
    kernel = kernels.find_peaks_local if mode == "local" else kernels.find_peaks_run
    pos, mag = kernel(arr, height_v, tol_v, nan_policy == "omit")
    return np.asarray(pos, dtype=np.int64), np.asarray(mag, dtype=np.float64)
