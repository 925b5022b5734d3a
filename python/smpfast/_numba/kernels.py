"""Numba kernels of the ``numba`` backend (compiled on first use, cached on disk).

Every kernel reads the input through ``flat``: a read-only 1-D contiguous view of the
memory the input array spans, so that any strided layout (negative strides included)
is addressed with element offsets and no copy. A signal is ``flat[off + t * st]`` for
``t = 0 .. T-1``.

Arithmetic follows ``smpfast.reference`` exactly: the second difference and the noise
floor are computed in the signal's own dtype (``two``, ``zero`` and ``tol`` are passed
as scalars of that dtype so that no operation widens), in the order

    d     = (y[t+1] - 2 y[t]) + y[t-1]
    scale = (|y[t-1]| + 2 |y[t]|) + |y[t+1]|,    d := 0 when |d| < tol * scale

and magnitudes are compared with ``height`` and summed in float64, in ``t`` order.

Two loop orders:

* lane kernels (``_lanes_*``): a block of up to ``B`` signals is advanced one time step
  at a time; the per-signal state lives in small arrays, and the update over the block is
  branch-free so that LLVM vectorises it. Signals that are adjacent in memory (batch axis
  with the smaller stride) are read row by row straight from the input; signals that are
  contiguous along the path are first transposed, a tile of time steps at a time, into a
  small buffer.
* scalar scans (``_scan_*``): one signal at a time, with peak positions, used for
  ``find_peaks`` and for the signals holding non-finite samples under ``omit``.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

_OPTS = {"cache": True, "nogil": True}


# --------------------------------------------------------------------------- prefetch
@intrinsic
def _prefetch(typingctx, arr, idx):
    """``prefetcht0`` of ``arr[idx]`` (a hint: never faults, no bounds check)."""
    sig = types.void(arr, types.intp)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


# --------------------------------------------------------------------------- lane steps
@njit(**_OPTS)
def _local_step(ym, y0, yp, ps, smp, cnt, h_e, tol, two, zero, fmax):
    """One time step of the local-mode state machine for every lane of a block.

    ``ps[k]`` is the previous ``|d|`` of lane ``k``, negated while the lane is rising
    into its plateau (a rising plateau is never 0). ``h_e`` is the smallest value of the
    dtype ``>= height``, so ``p >= h_e`` is exactly ``float64(p) >= height``. Returns
    whether a non-finite sample was read.
    """
    nf = False
    for k in range(ps.size):
        a = ym[k]
        b = y0[k]
        c = yp[k]
        ac = abs(c)
        d = (c - two * b) + a
        scale = (abs(a) + two * abs(b)) + ac
        ad = abs(d)
        v = zero if ad < tol * scale else ad
        q = ps[k]
        r = q < zero
        pv = abs(q)
        peak = (v < pv) & r & (pv >= h_e)
        smp[k] += np.float64(pv) if peak else 0.0
        cnt[k] += peak
        rises = (v > pv) | (r & (v == pv))
        ps[k] = -v if rises else v
        nf |= not (ac <= fmax)
    return nf


@njit(**_OPTS)
def _run_step(ym, y0, yp, s, smp, cnt, height, tol, two, zero, fmax):
    """One time step of the run-mode state machine for every lane of a block.

    ``s[k]`` is the float64 running sum of lane ``k``'s open run (0: none). Returns
    whether a non-finite sample was read.
    """
    nf = False
    for k in range(s.size):
        a = ym[k]
        b = y0[k]
        c = yp[k]
        ac = abs(c)
        d = (c - two * b) + a
        scale = (abs(a) + two * abs(b)) + ac
        dz = zero if abs(d) < tol * scale else d
        dd = np.float64(dz)
        sk = s[k]
        same = ((dd > 0.0) & (sk > 0.0)) | ((dd < 0.0) & (sk < 0.0))
        ms = abs(sk)
        close = (not same) & (sk != 0.0) & (ms >= height)
        smp[k] += ms if close else 0.0
        cnt[k] += close
        s[k] = sk + dd if same else dd
        nf |= not (ac <= fmax)
    return nf


@njit(**_OPTS)
def _run_close(s, smp, cnt, height):
    """Close the open run of every lane (end of the signals)."""
    for k in range(s.size):
        sk = s[k]
        ms = abs(sk)
        close = (sk != 0.0) & (ms >= height)
        smp[k] += ms if close else 0.0
        cnt[k] += close


# --------------------------------------------------------------------------- scalar scans
@njit(**_OPTS)
def _segment_local(flat, off, st, lo, hi, height, tol, two, zero, pos, mag, n0, record):
    """Local-mode peaks of the finite piece ``lo <= t < hi`` (length >= 3) of one signal.

    Returns ``(smp, count)``; with ``record`` the peaks are also written to
    ``pos[n0:]`` / ``mag[n0:]`` (positions are sample indices of the whole signal; the
    slot after the last peak is scratch, so ``pos`` needs room for one more). The state
    machine is branch-free: random data would mispredict every other branch.
    """
    smp = 0.0
    cnt = 0
    ym = flat[off + lo * st]
    y0 = flat[off + (lo + 1) * st]
    p = zero
    rising = False
    first = lo + 1  # first sample of the current plateau
    for t in range(lo + 2, hi):
        yp = flat[off + t * st]
        d = (yp - two * y0) + ym
        scale = (abs(ym) + two * abs(y0)) + abs(yp)
        ad = abs(d)
        v = zero if ad < tol * scale else ad
        c = t - 1  # the sample d belongs to
        if c == lo + 1:
            p = v
        p64 = np.float64(p)
        peak = (v < p) & rising & (p64 >= height)
        smp += p64 if peak else 0.0
        if record:
            pos[n0 + cnt] = (first + c - 1) // 2
            mag[n0 + cnt] = p64
        cnt += peak
        rising = (v > p) | (rising & (v == p))
        first = first if v == p else c
        p = v
        ym = y0
        y0 = yp
    return smp, cnt


@njit(**_OPTS)
def _segment_run(flat, off, st, lo, hi, height, tol, two, zero, pos, mag, n0, record):
    """Run-mode peaks of the finite piece ``lo <= t < hi`` (length >= 3) of one signal.

    Same contract as ``_segment_local``; a run's position is its largest ``|d|`` (the
    first one on ties).
    """
    smp = 0.0
    cnt = 0
    ym = flat[off + lo * st]
    y0 = flat[off + (lo + 1) * st]
    s = 0.0
    best = zero
    best_at = 0
    for t in range(lo + 2, hi):
        yp = flat[off + t * st]
        d = (yp - two * y0) + ym
        scale = (abs(ym) + two * abs(y0)) + abs(yp)
        dz = zero if abs(d) < tol * scale else d
        ym = y0
        y0 = yp
        dd = np.float64(dz)
        same = ((dd > 0.0) & (s > 0.0)) | ((dd < 0.0) & (s < 0.0))
        ms = abs(s)
        close = (not same) & (s != 0.0) & (ms >= height)
        smp += ms if close else 0.0
        if record:
            pos[n0 + cnt] = best_at
            mag[n0 + cnt] = ms
        cnt += close
        adz = abs(dz)
        moved = (not same) | (adz > best)
        best_at = t - 1 if moved else best_at
        best = adz if moved else best
        s = s + dd if same else dd
    ms = abs(s)
    if s != 0.0 and ms >= height:  # the last run
        smp += ms
        if record:
            pos[n0 + cnt] = best_at
            mag[n0 + cnt] = ms
        cnt += 1
    return smp, cnt


@njit(**_OPTS)
def _scan(flat, off, n, st, run, height, tol, two, zero, omit, pos, mag, record):
    """SMP and count of one signal, split at non-finite samples.

    Returns ``(smp, count)``; a signal holding a non-finite sample gives ``(nan, 0)``
    unless ``omit``, in which case its finite pieces are measured separately and their
    SMP (each summed from 0) and counts are added, as the reference does.
    """
    total = 0.0
    cnt = 0
    lo = 0
    for t in range(n + 1):
        if t < n:
            v = flat[off + t * st]
            if v - v == zero:  # finite
                continue
            if not omit:
                return np.nan, 0
        if t - lo >= 3:
            if run:
                s, c = _segment_run(flat, off, st, lo, t, height, tol, two, zero, pos, mag,
                                    cnt, record)
            else:
                s, c = _segment_local(flat, off, st, lo, t, height, tol, two, zero, pos, mag,
                                      cnt, record)
            total += s
            cnt += c
        lo = t + 1
    return total, cnt


@njit(**_OPTS)
def find_peaks_kernel(flat, off, n, st, run, height, tol, two, omit):
    """Positions (sample indices) and float64 magnitudes of the peaks of one signal."""
    zero = two - two
    pos = np.empty(n + 1, dtype=np.int64)
    mag = np.empty(n + 1, dtype=np.float64)
    s, c = _scan(flat, off, n, st, run, height, tol, two, zero, omit, pos, mag, True)
    if s != s:  # non-finite sample and not omit
        c = 0
    return pos[:c].copy(), mag[:c].copy()


# --------------------------------------------------------------------------- lane drivers
@njit(**_OPTS)
def _finish(flat, starts, obases, n, st, run, smp, cnt, bad, out_smp, out_cnt, height, tol,
            two, zero, omit):
    """Write a block's results; measure the lanes holding non-finite samples by scans."""
    pos = np.empty(0, dtype=np.int64)
    mag = np.empty(0, dtype=np.float64)
    for k in range(starts.size):
        j = obases[k]
        if bad[k]:
            sv, c = _scan(flat, starts[k], n, st, run, height, tol, two, zero, omit, pos, mag,
                          False)
            out_smp[j] = sv
            out_cnt[j] = c
        else:
            out_smp[j] = smp[k]
            out_cnt[j] = cnt[k]


@njit(**_OPTS)
def _rows_block(flat, start, si, nl, n, st, run, h_e, height, tol, two, zero, fmax, ahead,
                ps, s, smp, cnt, bad):
    """Advance lanes ``flat[start + k * si + t * st]``, ``k < nl``, through all ``t``.

    Reads the rows in place (row ``t`` holds sample ``t`` of every lane), prefetching
    row ``t + ahead``. Sets ``bad[k]`` for the lanes holding a non-finite sample.
    """
    span = (nl - 1) * si + 1
    line = max(1, 64 // flat.itemsize)
    nf = False
    for k in range(nl):
        nf |= not (abs(flat[start + k * si]) <= fmax)
        nf |= not (abs(flat[start + st + k * si]) <= fmax)
    a0 = start
    b0 = start + st
    for t in range(2, n):
        c0 = start + t * st
        if ahead > 0 and t + ahead < n:
            f0 = c0 + ahead * st
            for j in range(0, span, line):
                _prefetch(flat, f0 + j)
        if si == 1:
            ym = flat[a0:a0 + nl]
            y0 = flat[b0:b0 + nl]
            yp = flat[c0:c0 + nl]
            if run:
                nf |= _run_step(ym, y0, yp, s, smp, cnt, height, tol, two, zero, fmax)
            else:
                nf |= _local_step(ym, y0, yp, ps, smp, cnt, h_e, tol, two, zero, fmax)
        else:
            ym = flat[a0:a0 + span:si]
            y0 = flat[b0:b0 + span:si]
            yp = flat[c0:c0 + span:si]
            if run:
                nf |= _run_step(ym, y0, yp, s, smp, cnt, height, tol, two, zero, fmax)
            else:
                nf |= _local_step(ym, y0, yp, ps, smp, cnt, h_e, tol, two, zero, fmax)
        a0 = b0
        b0 = c0
    if run:
        _run_close(s, smp, cnt, height)
    if nf:  # rare: find the lanes, row by row
        for t in range(n):
            c0 = start + t * st
            for k in range(nl):
                bad[k] |= not (abs(flat[c0 + k * si]) <= fmax)


@njit(parallel=True, **_OPTS)
def lanes_rows(flat, in_off, out_off, n_inner, si, so, n, st, block, ahead, run, h_e, height,
               tol, two, fmax, omit, out_smp, out_cnt):
    """Batch axis with the smaller stride: blocks of adjacent signals, read row by row.

    Signal ``(o, i)`` is ``flat[in_off[o] + i * si + t * st]`` (``si >= 1``); its results
    go to ``out_*[out_off[o] + i * so]``.
    """
    zero = two - two
    n_outer = in_off.size
    nblk = (n_inner + block - 1) // block
    for u in prange(n_outer * nblk):
        o = u // nblk
        i0 = (u - o * nblk) * block
        nl = min(block, n_inner - i0)
        start = in_off[o] + i0 * si
        ps = np.full(nl, np.inf, dtype=flat.dtype)
        s = np.zeros(nl, dtype=np.float64)
        smp = np.zeros(nl, dtype=np.float64)
        cnt = np.zeros(nl, dtype=np.int32)
        bad = np.zeros(nl, dtype=np.bool_)
        _rows_block(flat, start, si, nl, n, st, run, h_e, height, tol, two, zero, fmax, ahead,
                    ps, s, smp, cnt, bad)
        starts = start + np.arange(nl) * si
        obases = out_off[o] + (i0 + np.arange(nl)) * so
        _finish(flat, starts, obases, n, st, run, smp, cnt, bad, out_smp, out_cnt, height, tol,
                two, zero, omit)


@njit(**_OPTS)
def _tiles_block(flat, starts, n, st, tile, run, h_e, height, tol, two, zero, fmax,
                 ps, s, smp, cnt, bad):
    """Advance the lanes ``flat[starts[k] + t * st]`` through a transposed tile buffer."""
    nl = starts.size
    # rows padded by one cache line: a power-of-two row length would map a tile column
    # to a handful of cache sets
    buf = np.empty((tile + 2, nl + 64 // flat.itemsize), dtype=flat.dtype)
    nf = False
    t0 = 0  # time step held by buf[0]
    filled = 0  # rows of buf holding data
    while t0 + filled < n:
        m = min(tile + 2 - filled, n - t0 - filled)
        for k in range(nl):
            base = starts[k] + (t0 + filled) * st
            col = buf[filled:filled + m, k]
            if st == 1:
                src = flat[base:base + m]
                for r in range(m):
                    col[r] = src[r]
            else:
                for r in range(m):
                    col[r] = flat[base + r * st]
        if t0 == 0:
            for k in range(nl):
                nf |= not (abs(buf[0, k]) <= fmax)
                nf |= not (abs(buf[1, k]) <= fmax)
        filled += m
        for r in range(2, filled):
            if run:
                nf |= _run_step(buf[r - 2, :nl], buf[r - 1, :nl], buf[r, :nl], s, smp, cnt,
                                height, tol, two, zero, fmax)
            else:
                nf |= _local_step(buf[r - 2, :nl], buf[r - 1, :nl], buf[r, :nl], ps, smp, cnt,
                                  h_e, tol, two, zero, fmax)
        buf[0] = buf[filled - 2]
        buf[1] = buf[filled - 1]
        t0 += filled - 2
        filled = 2
    if run:
        _run_close(s, smp, cnt, height)
    if nf:  # rare: find the lanes
        for k in range(nl):
            for t in range(n):
                if not (abs(flat[starts[k] + t * st]) <= fmax):
                    bad[k] = True
                    break


@njit(parallel=True, **_OPTS)
def lanes_tiles(flat, in_off, out_off, n_inner, si, so, n, st, block, tile, run, h_e, height,
                tol, two, fmax, omit, out_smp, out_cnt):
    """Signals contiguous along the path: blocks of signals transposed tile by tile.

    Same addressing as :func:`lanes_rows`; the blocks run over the flattened ``(o, i)``.
    """
    zero = two - two
    total = in_off.size * n_inner
    nblk = (total + block - 1) // block
    for u in prange(nblk):
        g0 = u * block
        nl = min(block, total - g0)
        starts = np.empty(nl, dtype=np.int64)
        obases = np.empty(nl, dtype=np.int64)
        for k in range(nl):
            g = g0 + k
            o = g // n_inner
            i = g - o * n_inner
            starts[k] = in_off[o] + i * si
            obases[k] = out_off[o] + i * so
        ps = np.full(nl, np.inf, dtype=flat.dtype)
        s = np.zeros(nl, dtype=np.float64)
        smp = np.zeros(nl, dtype=np.float64)
        cnt = np.zeros(nl, dtype=np.int32)
        bad = np.zeros(nl, dtype=np.bool_)
        _tiles_block(flat, starts, n, st, tile, run, h_e, height, tol, two, zero, fmax,
                     ps, s, smp, cnt, bad)
        _finish(flat, starts, obases, n, st, run, smp, cnt, bad, out_smp, out_cnt, height, tol,
                two, zero, omit)


@njit(parallel=True, **_OPTS)
def signals_scan(flat, in_off, out_off, n_inner, si, so, n, st, run, height, tol, two, omit,
                 out_smp, out_cnt):
    """One signal per iteration, sequential along the path (the plain scalar loop order)."""
    zero = two - two
    total = in_off.size * n_inner
    for g in prange(total):
        o = g // n_inner
        i = g - o * n_inner
        pos = np.empty(0, dtype=np.int64)
        mag = np.empty(0, dtype=np.float64)
        sv, c = _scan(flat, in_off[o] + i * si, n, st, run, height, tol, two, zero, omit,
                      pos, mag, False)
        j = out_off[o] + i * so
        out_smp[j] = sv
        out_cnt[j] = c
