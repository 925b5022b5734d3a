# mypy: ignore-errors
# (Numba kernels: untyped by design; Numba infers the types from the arguments.)
"""Numba streaming kernel of the ``numba`` backend: ``stream_update`` for ``SMPStream``.

The per-signal state is the one of :func:`smpfast.reference.stream_state` (structure of
arrays over the flattened frame, shared by every backend). ``prange`` runs over chunks of
neighbouring signals; inside a chunk the frames are walked in order and each frame's row
of the chunk is read in place, so a C-ordered ``(n, npix)`` block is read row by row. The
arithmetic is the reference's, in the same order and dtypes (bit-identical results).

Examples
--------
>>> import numpy as np
>>> from smpfast import _numba, reference
>>> state = reference.stream_state(1, np.dtype(np.float64), "run")
>>> _numba.stream_update(state, np.abs(np.linspace(-1.0, 1.0, 9))[:, None], "run", 0.0,
...                      0.0, False)
>>> reference.stream_result(state, 9, "run", 0.0)
(array([0.5]), array([1]))
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64

from .backend import _threads

_OPTS = {"cache": True, "nogil": True}

#: Signals per parallel chunk (its state and one row of samples stay in L1/L2).
CHUNK = 512


# Each frame's row of a chunk is first checked for non-finite samples (and the chunk for
# poisoned signals); a clean row goes through an update without branches (selects only,
# which LLVM can vectorise over the chunk and which costs no mispredictions on random
# peaks), anything else through the per-sample branches of the reference's rules.
# Adding 0.0 to a non-negative sum leaves it bit-identical, so
# "acc += x if peak else 0.0" is the reference's conditional add. Indices inside a chunk
# are unsigned (j = uint64(j0 + i)): with signed ones Numba checks every access for a
# negative (wrap-around) index, which keeps LLVM from vectorising (measured 7x slower).
@njit(inline="always", **_OPTS)
def _row_has_nonfinite(frames, f, j0, j1):
    bad = 0
    for i in range(j1 - j0):
        bad |= not np.isfinite(frames[f, uint64(j0 + i)])
    return bad != 0


@njit(inline="always", **_OPTS)
def _any_poisoned(poisoned, j0, j1):
    bad = 0
    for i in range(j1 - j0):
        bad |= poisoned[uint64(j0 + i)]
    return bad != 0


@njit(inline="always", **_OPTS)
def _local_sample(j, y, y1, y2, seen, p, rising, acc, count, height, tol_e, two, zero):
    b = y1[j]
    a = y2[j]
    sn = seen[j]
    has = sn >= 2
    d = (y - two * b) + a
    scale = (abs(a) + two * abs(b)) + abs(y)
    ad = abs(d)
    v = zero if ad < tol_e * scale else ad
    pv = p[j]
    r = rising[j]
    gt = has & (v > pv)
    lt = has & (v < pv)
    peak = lt & r & (np.float64(pv) >= height)
    acc[j] += np.float64(pv) if peak else 0.0
    count[j] += peak
    rising[j] = (r | gt) & (lt ^ True)
    p[j] = v if has else pv
    seen[j] = sn if has else sn + 1
    y2[j] = b
    y1[j] = y


@njit(parallel=True, **_OPTS)
def _stream_local(frames, y1, y2, seen, p, rising, acc, total, count, poisoned, height,
                  tol_e, two, zero, inf, omit, chunk):
    n, npix = frames.shape
    n_chunks = (npix + chunk - 1) // chunk
    for c in prange(n_chunks):
        j0 = c * chunk
        j1 = min(npix, j0 + chunk)
        dirty = _any_poisoned(poisoned, j0, j1)
        for f in range(n):
            if not dirty and not _row_has_nonfinite(frames, f, j0, j1):
                for i in range(j1 - j0):
                    j = uint64(j0 + i)
                    _local_sample(j, frames[f, j], y1, y2, seen, p, rising, acc, count,
                                  height, tol_e, two, zero)
                continue
            for j in range(j0, j1):
                y = frames[f, j]
                if not np.isfinite(y):
                    if omit:  # end the finite piece (an open plateau is no peak)
                        p[j] = inf
                        rising[j] = False
                        total[j] += acc[j]
                        acc[j] = 0.0
                        seen[j] = 0
                    else:
                        poisoned[j] = True
                elif not poisoned[j]:
                    _local_sample(j, y, y1, y2, seen, p, rising, acc, count, height, tol_e,
                                  two, zero)
            dirty = _any_poisoned(poisoned, j0, j1)


@njit(inline="always", **_OPTS)
def _run_sample(j, y, y1, y2, seen, s, acc, count, height, tol_e, two, zero):
    b = y1[j]
    a = y2[j]
    sn = seen[j]
    has = sn >= 2
    d = (y - two * b) + a
    scale = (abs(a) + two * abs(b)) + abs(y)
    dz = zero if abs(d) < tol_e * scale else d
    r = s[j]
    same = ((dz > zero) & (r > 0.0)) | ((dz < zero) & (r < 0.0))
    close = has & (same ^ True) & (r != 0.0) & (abs(r) >= height)
    acc[j] += abs(r) if close else 0.0
    count[j] += close
    d64 = np.float64(dz)
    s[j] = (r + d64 if same else d64) if has else r
    seen[j] = sn if has else sn + 1
    y2[j] = b
    y1[j] = y


@njit(parallel=True, **_OPTS)
def _stream_run(frames, y1, y2, seen, s, acc, total, count, poisoned, height, tol_e, two,
                zero, omit, chunk):
    n, npix = frames.shape
    n_chunks = (npix + chunk - 1) // chunk
    for c in prange(n_chunks):
        j0 = c * chunk
        j1 = min(npix, j0 + chunk)
        dirty = _any_poisoned(poisoned, j0, j1)
        for f in range(n):
            if not dirty and not _row_has_nonfinite(frames, f, j0, j1):
                for i in range(j1 - j0):
                    j = uint64(j0 + i)
                    _run_sample(j, frames[f, j], y1, y2, seen, s, acc, count, height, tol_e,
                                two, zero)
                continue
            for j in range(j0, j1):
                y = frames[f, j]
                if not np.isfinite(y):
                    if omit:  # end the finite piece: close its open run
                        r = s[j]
                        if r != 0.0 and abs(r) >= height:
                            acc[j] += abs(r)
                            count[j] += 1
                        s[j] = 0.0
                        total[j] += acc[j]
                        acc[j] = 0.0
                        seen[j] = 0
                    else:
                        poisoned[j] = True
                elif not poisoned[j]:
                    _run_sample(j, y, y1, y2, seen, s, acc, count, height, tol_e, two, zero)
            dirty = _any_poisoned(poisoned, j0, j1)


def stream_update(
    state: dict[str, np.ndarray],
    frames: np.ndarray,
    mode: str,
    height: float,
    tol: float,
    omit: bool,
) -> None:
    """Advance ``state`` over ``frames`` (``(n, *shape)``, the state's dtype), in place.

    Same contract as :func:`smpfast.reference.stream_update`. Frames whose frame axes do
    not flatten to one axis without a copy (e.g. transposed frames) are copied one block
    at a time.
    """
    _threads()
    flat = frames.reshape(frames.shape[0], -1)
    dt = flat.dtype
    t = dt.type
    height = float(height)
    common = (state["acc"], state["total"], state["count"], state["poisoned"], height,
              t(tol), t(2), t(0))
    if mode == "local":
        _stream_local(flat, state["y1"], state["y2"], state["seen"], state["p"],
                      state["rising"], *common, t(np.inf), bool(omit), CHUNK)
    else:
        _stream_run(flat, state["y1"], state["y2"], state["seen"], state["s"], *common,
                    bool(omit), CHUNK)
