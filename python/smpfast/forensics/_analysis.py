"""Per-signal peak analysis shared by fingerprints and layer profiles.

Sharp excess. For every sample of the second difference ``d`` (noise floor applied),
its *excess* is ``max(0, |d[t]| - max(|d[t-2]|, |d[t+2]|))``: how far it stands above
its neighbours two samples away (0 at the first and last two samples). A kink between
samples n and n+1 puts ``a D`` and ``(1 - a) D`` on two samples above whatever smooth
curvature ``b`` surrounds it, so its excess is about ``D`` however curved the background;
a smooth bend gives ``|d|`` that changes by ``O(h^3)`` over two samples, an excess of
almost nothing. The *kink share* of a signal is its total excess over its run-mode SMP
(``sum |d|``).

A *kink* (for counting) is a run-mode peak (a maximal run of same-sign ``d``, see
``smpfast.smp(mode="run")``) whose total excess is at least ``KINK_RATIO`` of its
largest ``|d|``.
"""

from __future__ import annotations

import numpy as np

from .. import measure

__all__ = ["KINK_RATIO", "kink_stats", "lift", "smp_pair"]

#: Smallest share of a run's magnitude its largest sample must carry for the run to count
#: as a kink.
KINK_RATIO = 0.5

_CHUNK = 1 << 21  # samples per vectorised block


def lift(y: np.ndarray) -> np.ndarray:
    """``y + 2 max|y|`` per signal (last axis): the same second differences, new noise floor.

    SMP's default noise floor is relative to the samples' own magnitude, which vanishes
    where an output crosses zero; there the rounding error of a computation with larger
    intermediate terms (``eps * max|y|``) survives as spurious peaks. Lifting every signal
    into ``[max|y|, 3 max|y|]`` makes the floor ``8 eps * 4 max|y|`` or more everywhere,
    above rounding at the signal's own scale; second differences are unchanged up to
    that rounding.

    Examples
    --------
    >>> import numpy as np
    >>> lift(np.array([[-1.0, 0.0, 2.0]]))
    array([[3., 4., 6.]])
    """
    top = np.max(np.abs(y), axis=-1, keepdims=True) if y.shape[-1] else np.zeros(y.shape)
    out: np.ndarray = np.asarray(y + y.dtype.type(2) * top, dtype=y.dtype)
    return out


def smp_pair(
    y: np.ndarray, tol: float | None, height: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run- and local-mode SMP and counts of the signals ``y[..., t]`` (last axis)."""
    run, nrun = measure.smp_and_count(y, axis=-1, mode="run", tol=tol, height=height)
    loc, nloc = measure.smp_and_count(y, axis=-1, mode="local", tol=tol, height=height)
    return run, nrun, loc, nloc


def _noise_floored_diff(y: np.ndarray, tol: float | None) -> np.ndarray:
    """Second difference of each row of ``y`` with the SMP noise floor applied (float64)."""
    dt = y.dtype
    t = float(8.0 * np.finfo(dt).eps) if tol is None else float(tol)
    two = dt.type(2)
    d = (y[:, 2:] - two * y[:, 1:-1]) + y[:, :-2]
    floor = t * (np.abs(y[:, :-2]) + two * np.abs(y[:, 1:-1]) + np.abs(y[:, 2:]))
    out: np.ndarray = np.asarray(d, dtype=np.float64).copy()
    out[np.abs(d) < floor] = 0.0
    return out


def kink_stats(
    y: np.ndarray, tol: float | None = None, height: float = 0.0, ratio: float = KINK_RATIO
) -> tuple[np.ndarray, np.ndarray]:
    """Total sharp excess and kink count of each signal (rows of ``y``, time last).

    Parameters
    ----------
    y : numpy.ndarray
        (S, T) float32 or float64 signals.
    tol, height : float
        Noise floor and smallest run magnitude for a kink, as in :func:`smpfast.smp`.
    ratio : float
        :data:`KINK_RATIO`.

    Returns
    -------
    excess : numpy.ndarray of float64
        (S,) sum of the sharp excess (see the module docstring).
    n_kinks : numpy.ndarray of int64
        (S,) number of kinks.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.linspace(-1.0, 1.0, 101)
    >>> e, n = kink_stats(np.stack([np.abs(t - 0.013), t ** 2]))
    >>> np.round(e, 12).tolist(), n.tolist()
    ([0.04, 0.0], [1, 0])
    """
    s_count, length = y.shape
    excess_sum = np.zeros(s_count)
    n_kinks = np.zeros(s_count, dtype=np.int64)
    if length < 3 or s_count == 0:
        return excess_sum, n_kinks
    rows = max(1, _CHUNK // length)
    for a in range(0, s_count, rows):
        b = min(s_count, a + rows)
        d = _noise_floored_diff(y[a:b], tol)
        m = d.shape[1]
        ad = np.abs(d)
        excess = np.zeros_like(ad)
        if m > 4:
            excess[:, 2:-2] = np.maximum(
                0.0, ad[:, 2:-2] - np.maximum(ad[:, :-4], ad[:, 4:]))
        excess_sum[a:b] = excess.sum(axis=1)
        sgn = np.sign(d)
        prev = np.zeros_like(sgn)
        prev[:, 1:] = sgn[:, :-1]
        start = ((sgn != 0) & (sgn != prev)).ravel()
        nz = sgn.ravel() != 0
        if not nz.any():
            continue
        run_id = (np.cumsum(start) - 1)[nz]
        first = np.flatnonzero(start[nz])
        sums = np.abs(np.bincount(run_id, weights=d.ravel()[nz], minlength=len(first)))
        run_excess = np.bincount(run_id, weights=excess.ravel()[nz], minlength=len(first))
        peak = np.maximum.reduceat(ad.ravel()[nz], first)
        owner = np.flatnonzero(start) // m
        is_kink = (run_excess > 0) & (sums >= height) & (run_excess >= ratio * peak)
        n_kinks[a:b] = np.bincount(owner[is_kink], minlength=b - a)
    return excess_sum, n_kinks
