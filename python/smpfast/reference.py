"""The NumPy reference: the definitions of ``docs/nonsmoothness.md`` (sections 1-2), line by line.

This module is the oracle for every parity test and is also the ``"numpy"`` backend. It
favours clarity over speed, but is vectorised over signals so that it stays usable.

Two layers live here:

* kernels ``smp_local``, ``smp_run``, ``find_peaks_local``, ``find_peaks_run`` with the
  backend signature (already-validated arrays, path axis last), named like their twins
  in ``smpfast._numba`` and the C++ core;
* ``smp``, ``peak_count``, ``smp_and_count``, ``find_peaks`` and ``second_diff`` with the
  same names and signatures as the public API, always computed here;
* streaming: ``stream_state`` (the per-signal state layout every backend shares),
  ``stream_update`` (the kernel, named like its Numba and C++ twins), ``stream_result``,
  and ``SMPStream``, the public class always computed here (the oracle of the stream
  parity tests).

Definitions (``y`` is one signal of length ``T``; float32 signals are computed in
float32 and float64 signals in float64, so that no backend has to widen the data; sums of
magnitudes always accumulate in float64):

* ``d[t] = (y[t+1] - 2 y[t]) + y[t-1]`` for ``t = 1 .. T-2`` (this evaluation order in
  every backend, so all of them see bit-identical ``d``);
* noise floor: ``d[t]`` counts as 0 when ``|d[t]| < tol * ((|y[t-1]| + 2|y[t]|) + |y[t+1]|)``
  (``tol`` rounded to the signal's dtype, the product in that dtype);
* ``mode="local"``: peaks of ``|d|`` with the semantics of
  ``scipy.signal.find_peaks(|d|, height=height)``: strict rise into a plateau, strict fall
  out of it, a plateau counts once at its middle sample, edges are never peaks;
* ``mode="run"``: peaks are maximal runs of consecutive same-sign nonzero ``d``; the
  magnitude is ``|sum of d over the run|``; the position is the run's largest ``|d|``;
* SMP is the sum of the magnitudes of the peaks with magnitude ``>= height``; the count
  is their number. Signals shorter than 3 samples have SMP 0 and no peaks.
* non-finite samples: with ``omit=False`` a signal holding NaN or +-Inf gets SMP NaN and
  count 0; with ``omit=True`` the signal is split at those samples and the finite pieces
  are measured as separate signals (their SMP and counts add up).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .stream import SMPStream as _SMPStream

__all__ = [
    "SMPStream",
    "find_peaks",
    "find_peaks_local",
    "find_peaks_run",
    "peak_count",
    "second_diff",
    "smp",
    "smp_and_count",
    "smp_local",
    "smp_run",
]

name = "numpy"


# --------------------------------------------------------------------------- definitions
def _float(y: np.ndarray) -> np.ndarray:
    """float32 and float64 stay as they are; anything else becomes float64."""
    y = np.asarray(y)
    return y if y.dtype in (np.float32, np.float64) else y.astype(np.float64)


def second_difference(y: np.ndarray) -> np.ndarray:
    """``d[t] = (y[t+1] - 2 y[t]) + y[t-1]`` along the last axis, in ``y``'s float dtype."""
    y = _float(y)
    d: np.ndarray = (y[..., 2:] - y.dtype.type(2) * y[..., 1:-1]) + y[..., :-2]
    return d


def floored_second_difference(y: np.ndarray, tol: float) -> np.ndarray:
    """Second difference with samples under the relative noise floor set to exactly 0."""
    y = _float(y)
    d = second_difference(y)
    scale = (np.abs(y[..., :-2]) + y.dtype.type(2) * np.abs(y[..., 1:-1])) + np.abs(y[..., 2:])
    return np.where(np.abs(d) < y.dtype.type(tol) * scale, y.dtype.type(0), d)


def local_peaks(a: np.ndarray, height: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local maxima of each row of ``a`` (shape ``(B, n)``), ``scipy.signal.find_peaks`` style.

    Runs of equal values (plateaus) are compressed to one sample each; a plateau is a peak
    when the plateaus on both sides exist in the same row and are strictly lower. Its
    position is the plateau's middle sample, ``(first + last) // 2``.

    Returns ``(row, position, magnitude)`` of the peaks with magnitude ``>= height``,
    ordered by row, then position.
    """
    n_rows, n = a.shape
    new_plateau = np.ones((n_rows, n), dtype=bool)
    new_plateau[:, 1:] = a[:, 1:] != a[:, :-1]
    first = np.flatnonzero(new_plateau)
    last = np.append(first[1:], n_rows * n) - 1
    row = first // n
    value = a.ravel()[first]
    same_row_next = row[1:] == row[:-1]
    rises_into = np.zeros(first.size, dtype=bool)
    rises_into[1:] = same_row_next & (value[:-1] < value[1:])
    falls_after = np.zeros(first.size, dtype=bool)
    falls_after[:-1] = same_row_next & (value[1:] < value[:-1])
    is_peak = rises_into & falls_after & (value.astype(np.float64) >= height)  # exact compare
    position = (first + last) // 2 - row * n
    return row[is_peak], position[is_peak], value[is_peak]


def same_sign_runs(
    d: np.ndarray, height: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Maximal runs of consecutive same-sign nonzero samples in each row of ``d``.

    Returns ``(row, first, last, magnitude)`` of the runs with ``|sum over run| >= height``,
    ordered by row, then position. Sums are accumulated in order along the row.
    """
    n = d.shape[1]
    sign = np.sign(d)
    starts = sign != 0
    starts[:, 1:] &= sign[:, 1:] != sign[:, :-1]
    nonzero = np.flatnonzero(sign != 0)
    run_of_sample = np.cumsum(starts.ravel())[nonzero] - 1
    run_sum = np.bincount(run_of_sample, weights=d.ravel()[nonzero])
    first = np.flatnonzero(starts)
    last = np.zeros_like(first)
    np.maximum.at(last, run_of_sample, nonzero)
    row = first // n
    magnitude = np.abs(run_sum)
    keep = magnitude >= height
    return row[keep], first[keep] - row[keep] * n, last[keep] - row[keep] * n, magnitude[keep]


# --------------------------------------------------------------------------- kernels
def _rows(y: np.ndarray) -> np.ndarray:
    """All signals as rows of a ``(B, T)`` array (float32 or float64)."""
    return _float(y).reshape(-1, y.shape[-1])


def _finite_pieces(row: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Split one signal at its non-finite samples: ``(offset, piece)`` pairs."""
    finite = np.isfinite(row)
    edges = np.flatnonzero(np.diff(np.concatenate(([False], finite, [False])).astype(np.int8)))
    return [(int(a), row[a:b]) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _measure_rows(
    rows: np.ndarray, mode: str, height: float, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    n_rows, n_samples = rows.shape
    smp = np.zeros(n_rows)
    count = np.zeros(n_rows, dtype=np.int64)
    if n_samples < 3 or n_rows == 0:
        return smp, count
    d = floored_second_difference(rows, tol)
    if mode == "local":
        row, _, magnitude = local_peaks(np.abs(d), height)
    else:
        row, _, _, magnitude = same_sign_runs(d, height)
    smp += np.bincount(row, weights=magnitude, minlength=n_rows)
    count += np.bincount(row, minlength=n_rows)
    return smp, count


def _measure(
    y: np.ndarray, mode: str, height: float, tol: float, omit: bool
) -> tuple[np.ndarray, np.ndarray]:
    batch_shape = y.shape[:-1]
    rows = _rows(y)
    finite_rows = np.isfinite(rows).all(axis=1)
    smp, count = _measure_rows(rows[finite_rows], mode, height, tol)
    smp_all = np.full(rows.shape[0], np.nan)
    count_all = np.zeros(rows.shape[0], dtype=np.int64)
    smp_all[finite_rows] = smp
    count_all[finite_rows] = count
    if omit:
        for i in np.flatnonzero(~finite_rows):
            smp_all[i] = 0.0
            for _, piece in _finite_pieces(rows[i]):
                s, c = _measure_rows(piece[None, :], mode, height, tol)
                smp_all[i] += s[0]
                count_all[i] += c[0]
    return smp_all.reshape(batch_shape), count_all.reshape(batch_shape)


def smp_local(
    y: np.ndarray, height: float, tol: float, omit: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Local-mode SMP and peak count of every signal of ``y`` (path axis last)."""
    return _measure(y, "local", height, tol, omit)


def smp_run(
    y: np.ndarray, height: float, tol: float, omit: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Run-mode SMP and peak count of every signal of ``y`` (path axis last)."""
    return _measure(y, "run", height, tol, omit)


def _peaks_of_pieces(
    y: np.ndarray, mode: str, height: float, tol: float, omit: bool
) -> tuple[np.ndarray, np.ndarray]:
    y = _float(y)
    # a signal holding NaN/Inf has no peaks unless omit splits it (all finite: one piece)
    offsets_and_pieces = _finite_pieces(y) if omit or np.isfinite(y).all() else []
    positions: list[np.ndarray] = []
    magnitudes: list[np.ndarray] = []
    for offset, piece in offsets_and_pieces:
        if piece.size < 3:
            continue
        d = floored_second_difference(piece[None, :], tol)
        if mode == "local":
            _, pos, mag = local_peaks(np.abs(d), height)
        else:
            _, first, last, mag = same_sign_runs(d, height)
            pos = np.array(
                [
                    a + int(np.argmax(np.abs(d[0, a : b + 1])))
                    for a, b in zip(first, last, strict=True)
                ],
                dtype=np.int64,
            )
        positions.append(pos.astype(np.int64) + 1 + offset)  # d[i] belongs to sample i + 1
        magnitudes.append(mag.astype(np.float64))
    if not positions:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate(positions), np.concatenate(magnitudes)


def find_peaks_local(
    y: np.ndarray, height: float, tol: float, omit: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (into ``y``) and magnitudes of the local-mode peaks of one signal."""
    return _peaks_of_pieces(y, "local", height, tol, omit)


def find_peaks_run(
    y: np.ndarray, height: float, tol: float, omit: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (into ``y``) and magnitudes of the run-mode peaks of one signal."""
    return _peaks_of_pieces(y, "run", height, tol, omit)


def describe() -> dict[str, Any]:
    """What this backend is (for ``show_config``)."""
    return {"name": name, "simd": "none", "threads": 1}


# --------------------------------------------------------------------------- public twins
def _only_numpy(backend: str | None) -> None:
    if backend not in (None, "numpy"):
        raise ValueError(
            f"smpfast.reference always uses the 'numpy' backend; got backend={backend!r}"
        )


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
    """``smpfast.smp`` computed by the reference; see there."""
    from . import measure

    _only_numpy(backend)
    return measure.smp(
        x, axis, mode=mode, height=height, tol=tol, nan_policy=nan_policy, backend="numpy"
    )


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
    """``smpfast.peak_count`` computed by the reference; see there."""
    from . import measure

    _only_numpy(backend)
    return measure.peak_count(
        x, axis, mode=mode, height=height, tol=tol, nan_policy=nan_policy, backend="numpy"
    )


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
    """``smpfast.smp_and_count`` computed by the reference; see there."""
    from . import measure

    _only_numpy(backend)
    return measure.smp_and_count(
        x, axis, mode=mode, height=height, tol=tol, nan_policy=nan_policy, backend="numpy"
    )


def find_peaks(
    y: Any,
    *,
    mode: str = "local",
    height: float = 0.0,
    tol: float | None = None,
    nan_policy: str = "propagate",
    backend: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``smpfast.find_peaks`` computed by the reference; see there."""
    from . import measure

    _only_numpy(backend)
    return measure.find_peaks(
        y, mode=mode, height=height, tol=tol, nan_policy=nan_policy, backend="numpy"
    )


def second_diff(x: Any, axis: int = 0) -> np.ndarray:
    """``smpfast.second_diff``; see there."""
    from . import measure

    return measure.second_diff(x, axis)



# --------------------------------------------------------------------------- streaming
def stream_state(npix: int, dtype: np.dtype[Any], mode: str) -> dict[str, np.ndarray]:
    """Fresh per-signal streaming state for ``npix`` signals (every backend uses this layout).

    ``y1``/``y2`` are the previous two finite samples, ``seen`` how many of them exist
    (0, 1 or 2), ``acc`` the magnitudes summed in the current finite piece, ``total`` those
    of finished pieces (``nan_policy="omit"``), ``count`` the peaks so far, ``poisoned`` a
    non-finite sample seen (``"propagate"``). Local mode: ``p`` the previous ``|d|``
    (``inf`` before the first) and ``rising`` whether the plateau of ``p`` was entered
    from below. Run mode: ``s`` the sum of ``d`` over the open run (0: no run).
    """
    state = {
        "y1": np.zeros(npix, dtype=dtype),
        "y2": np.zeros(npix, dtype=dtype),
        "seen": np.zeros(npix, dtype=np.uint8),
        "acc": np.zeros(npix),
        "total": np.zeros(npix),
        "count": np.zeros(npix, dtype=np.int64),
        "poisoned": np.zeros(npix, dtype=bool),
    }
    if mode == "local":
        state["p"] = np.full(npix, np.inf, dtype=dtype)
        state["rising"] = np.zeros(npix, dtype=bool)
    else:
        state["s"] = np.zeros(npix)
    return state


def _end_pieces(
    state: dict[str, np.ndarray], lanes: np.ndarray, mode: str, height: float
) -> None:
    """End the finite piece of the signals ``lanes`` (a non-finite sample, ``omit``)."""
    if mode == "run":
        s = state["s"]
        close = lanes & (s != 0.0) & (np.abs(s) >= height)
        state["acc"][close] += np.abs(s[close])
        state["count"][close] += 1
        s[lanes] = 0.0
    else:
        state["p"][lanes] = np.inf
        state["rising"][lanes] = False
    state["total"][lanes] += state["acc"][lanes]
    state["acc"][lanes] = 0.0
    state["seen"][lanes] = 0


def stream_update(
    state: dict[str, np.ndarray],
    frames: np.ndarray,
    mode: str,
    height: float,
    tol: float,
    omit: bool,
) -> None:
    """Advance the streaming ``state`` over ``frames`` (shape ``(n, *shape)``), in place.

    Frame by frame, for every signal at once, the definitions of this module: ``d`` of
    the last three finite samples in the frames' dtype, the noise floor, then the plateau
    rule of :func:`local_peaks` or the run rule of :func:`same_sign_runs` as a state
    machine, magnitudes summed in float64 in signal order. A non-finite sample poisons
    the signal (``omit=False``) or ends its finite piece (``omit=True``).
    """
    frames = frames.reshape(frames.shape[0], -1)
    dt = frames.dtype
    two, tol_e = dt.type(2), dt.type(tol)
    y1, y2, seen, acc, count = (state[k] for k in ("y1", "y2", "seen", "acc", "count"))
    poisoned = state["poisoned"]
    for y in frames:
        finite = np.isfinite(y)
        if omit:
            _end_pieces(state, ~finite, mode, height)
        else:
            poisoned |= ~finite
        live = finite & ~poisoned
        has_d = live & (seen >= 2)
        with np.errstate(over="ignore", invalid="ignore"):
            d = (y - two * y1) + y2
            scale = (np.abs(y2) + two * np.abs(y1)) + np.abs(y)
            d = np.where(np.abs(d) < tol_e * scale, dt.type(0), d)
        if mode == "local":
            p, rising = state["p"], state["rising"]
            a = np.abs(d)
            gt = has_d & (a > p)
            lt = has_d & (a < p)
            peak = lt & rising & (p.astype(np.float64) >= height)  # exact compare
            acc[peak] += p[peak].astype(np.float64)
            count[peak] += 1
            rising[gt] = True
            rising[lt] = False
            p[has_d] = a[has_d]
        else:
            s = state["s"]
            same = ((d > 0) & (s > 0.0)) | ((d < 0) & (s < 0.0))
            close = has_d & ~same & (s != 0.0) & (np.abs(s) >= height)
            acc[close] += np.abs(s[close])
            count[close] += 1
            s[has_d & same] += d[has_d & same].astype(np.float64)
            s[has_d & ~same] = d[has_d & ~same].astype(np.float64)
        y2[live] = y1[live]
        y1[live] = y[live]
        seen[live & (seen < 2)] += 1


def stream_result(
    state: dict[str, np.ndarray], n_frames: int, mode: str, height: float
) -> tuple[np.ndarray, np.ndarray]:
    """SMP (float64) and counts (int64) of the streamed signals as if they ended now.

    The open run (run mode) is closed; an open plateau (local mode) is not a peak. Signals
    of fewer than 3 samples in all give 0; poisoned signals give NaN and count 0.
    """
    npix = state["acc"].size
    if n_frames < 3:
        return np.zeros(npix), np.zeros(npix, dtype=np.int64)
    acc = state["acc"].copy()
    count = state["count"].copy()
    if mode == "run":
        s = state["s"]
        close = (s != 0.0) & (np.abs(s) >= height)
        acc[close] += np.abs(s[close])
        count[close] += 1
    smp = state["total"] + acc
    smp[state["poisoned"]] = np.nan
    count[state["poisoned"]] = 0
    return smp, count


class SMPStream(_SMPStream):
    """``smpfast.SMPStream`` computed by the reference (``backend="numpy"``); see there.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import reference
    >>> s = reference.SMPStream((), mode="run").update(np.abs(np.linspace(-1.0, 1.0, 9)))
    >>> float(s.result()[0])
    0.5
    """

    def __init__(
        self,
        shape: Any,
        *,
        mode: str = "local",
        height: float = 0.0,
        tol: float | None = None,
        nan_policy: str = "propagate",
        dtype: Any = np.float64,
        backend: str | None = None,
    ) -> None:
        _only_numpy(backend)
        super().__init__(
            shape, mode=mode, height=height, tol=tol, nan_policy=nan_policy, dtype=dtype,
            backend="numpy",
        )
