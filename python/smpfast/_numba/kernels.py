# mypy: ignore-errors
# (Numba kernels: untyped by design; Numba infers the types from the arguments.)
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

Three drivers, chosen by ``backend._measure`` from the strides:

* ``lanes_rows``: neighbouring signals are nearer in memory than neighbouring samples
  (e.g. a C-ordered ``(T, H, W)`` stack measured along axis 0). ``prange`` over blocks of
  up to a few thousand adjacent signals ("lanes"); for each time step, a branch-free
  update of every lane, whose state lives in small per-block arrays, reads the row of
  samples in place. LLVM vectorises the lane loop. Local mode does eight time steps per
  pass over the lanes with no float64 operation in the loop (so that AVX2 runs 8 float32
  lanes at once; see ``_step8``), then pairs of steps, then single steps. Run mode does
  four steps per pass in two loops over the lanes, the second differences (8 float32
  lanes) and then the float64 run sums (see ``_step_run4``). The state is loaded and
  stored once per pass.
* ``lanes_tiles``: signals contiguous along the path. Blocks of signals are transposed,
  a tile of time steps at a time, into a small buffer, and advanced by the same passes.
* ``signals_scan``: one scalar scan per signal, for very few (or extremely long) signals.

The scalar scans (``_scan``) also give peak positions (``find_peaks``) and measure the
signals holding non-finite samples, which the lane kernels only detect.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

_OPTS = {"cache": True, "nogil": True}


# --------------------------------------------------------------------------- intrinsics
@intrinsic
def _zero(typingctx, like):
    """``0`` of ``like``'s float type as an LLVM constant.

    ``x if cond else zero`` with a constant zero compiles to one AND (any vector port);
    with a zero passed as an argument LLVM cannot fold it and emits a blend instead.
    """
    if not isinstance(like, types.Float):
        return None

    def codegen(context, builder, sig, args):
        return context.get_constant(like, 0.0)

    return like(like), codegen


@intrinsic
def _bits(typingctx, x):
    """The bit pattern of float ``x`` as a signed integer of the same width."""
    if not isinstance(x, types.Float):
        return None
    ity = types.int32 if x.bitwidth == 32 else types.int64

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(x.bitwidth))

    return ity(x), codegen


@intrinsic
def _threshold(typingctx, x, flag):
    """``_bits(x) - flag``: for ``x > 0`` and ``flag``, the bits of the float just below x.

    Non-negative floats are ordered like their bit patterns (``+inf`` included), so
    ``_bits(v) > _threshold(x, flag)`` is ``v >= x`` when ``flag`` and ``v > x`` when not.
    (A Numba integer subtraction would widen int32 to int64.)
    """
    if not isinstance(x, types.Float) or not isinstance(flag, types.Boolean):
        return None
    ity = types.int32 if x.bitwidth == 32 else types.int64

    def codegen(context, builder, sig, args):
        fx, fl = args
        it = ir.IntType(x.bitwidth)
        return builder.sub(builder.bitcast(fx, it), builder.zext(fl, it))

    return ity(x, flag), codegen


# --------------------------------------------------------------------------- lane steps
# One update of one lane, inlined into the lane loops below. ``q`` (local mode) is the
# previous |d| of the lane, negated while the lane is rising into its plateau (a plateau
# risen into is never 0); ``s`` (run mode) is the float64 sum of the open run (0: none).
@njit(inline="always", **_OPTS)
def _upd_local(a, b, c, q, acc, n, h_e, tol, two, zero):
    d = (c - two * b) + a
    scale = (abs(a) + two * abs(b)) + abs(c)
    ad = abs(d)
    v = zero if ad < tol * scale else ad
    pv = abs(q)
    # rising and v < pv: v + q = v - pv (exact sign); pv >= h_e <=> float64(pv) >= height
    peak = ((v + q) < zero) & (pv >= h_e)
    acc += np.float64(pv) if peak else 0.0
    n += peak
    keep = q if v == pv else v
    return (-v if v > pv else keep), acc, n


@njit(inline="always", **_OPTS)
def _upd_local0(a, b, c, q, acc, n, h_e, tol, two, zero):
    # _upd_local for height 0 (every peak counts; h_e unused)
    d = (c - two * b) + a
    scale = (abs(a) + two * abs(b)) + abs(c)
    ad = abs(d)
    v = zero if ad < tol * scale else ad
    pv = abs(q)
    peak = (v + q) < zero
    acc += np.float64(pv) if peak else 0.0
    n += peak
    keep = q if v == pv else v
    return (-v if v > pv else keep), acc, n


@njit(inline="always", **_OPTS)
def _upd_run(a, b, c, s, acc, n, height, tol, two, zero):
    d = (c - two * b) + a
    scale = (abs(a) + two * abs(b)) + abs(c)
    dz = zero if abs(d) < tol * scale else d
    dd = np.float64(dz)
    same = ((dd > 0.0) & (s > 0.0)) | ((dd < 0.0) & (s < 0.0))
    ms = abs(s)
    close = (not same) & (s != 0.0) & (ms >= height)
    acc += ms if close else 0.0
    n += close
    return (s + dd if same else dd), acc, n


@njit(inline="always", **_OPTS)
def _upd_run_f32(a, b, c, s, acc, n, height, tol, two, zero):
    # float32 samples: |dd| and |s| are >= 2**-149, so dd * s never underflows to 0 and
    # its sign says whether both are nonzero with the same sign
    d = (c - two * b) + a
    scale = (abs(a) + two * abs(b)) + abs(c)
    dz = zero if abs(d) < tol * scale else d
    dd = np.float64(dz)
    same = dd * s > 0.0
    ms = abs(s)
    close = (not same) & (ms != 0.0) & (ms >= height)
    acc += ms if close else 0.0
    n += close
    return (s + dd if same else dd), acc, n


@njit(**_OPTS)
def _local1(r0, r1, r2, q, smp, cnt, h_e, tol, two, zero, fmax):
    nf = False
    for k in range(q.size):
        c = r2[k]
        q[k], smp[k], cnt[k] = _upd_local(r0[k], r1[k], c, q[k], smp[k], cnt[k], h_e, tol,
                                          two, zero)
        nf |= not (abs(c) <= fmax)
    return nf


@njit(**_OPTS)
def _local4(r0, r1, r2, r3, r4, r5, q, smp, cnt, h_e, tol, two, zero, fmax):
    nf = False
    for k in range(q.size):
        y0 = r0[k]
        y1 = r1[k]
        y2 = r2[k]
        y3 = r3[k]
        y4 = r4[k]
        y5 = r5[k]
        v, a, n = _upd_local(y0, y1, y2, q[k], smp[k], cnt[k], h_e, tol, two, zero)
        v, a, n = _upd_local(y1, y2, y3, v, a, n, h_e, tol, two, zero)
        v, a, n = _upd_local(y2, y3, y4, v, a, n, h_e, tol, two, zero)
        q[k], smp[k], cnt[k] = _upd_local(y3, y4, y5, v, a, n, h_e, tol, two, zero)
        nf |= not ((abs(y2) + abs(y3)) + (abs(y4) + abs(y5)) <= fmax)  # NaN-safe, unlike max
    return nf


@njit(**_OPTS)
def _local1_0(r0, r1, r2, q, smp, cnt, h_e, tol, two, zero, fmax):
    nf = False
    for k in range(q.size):
        c = r2[k]
        q[k], smp[k], cnt[k] = _upd_local0(r0[k], r1[k], c, q[k], smp[k], cnt[k], h_e, tol,
                                           two, zero)
        nf |= not (abs(c) <= fmax)
    return nf


@njit(**_OPTS)
def _local4_0(r0, r1, r2, r3, r4, r5, q, smp, cnt, h_e, tol, two, zero, fmax):
    nf = False
    for k in range(q.size):
        y0 = r0[k]
        y1 = r1[k]
        y2 = r2[k]
        y3 = r3[k]
        y4 = r4[k]
        y5 = r5[k]
        v, a, n = _upd_local0(y0, y1, y2, q[k], smp[k], cnt[k], h_e, tol, two, zero)
        v, a, n = _upd_local0(y1, y2, y3, v, a, n, h_e, tol, two, zero)
        v, a, n = _upd_local0(y2, y3, y4, v, a, n, h_e, tol, two, zero)
        q[k], smp[k], cnt[k] = _upd_local0(y3, y4, y5, v, a, n, h_e, tol, two, zero)
        nf |= not ((abs(y2) + abs(y3)) + (abs(y4) + abs(y5)) <= fmax)  # NaN-safe, unlike max
    return nf


@njit(**_OPTS)
def _run1(r0, r1, r2, s, smp, cnt, height, tol, two, zero, fmax):
    nf = False
    for k in range(s.size):
        c = r2[k]
        s[k], smp[k], cnt[k] = _upd_run(r0[k], r1[k], c, s[k], smp[k], cnt[k], height, tol,
                                        two, zero)
        nf |= not (abs(c) <= fmax)
    return nf


@njit(**_OPTS)
def _run4(r0, r1, r2, r3, r4, r5, s, smp, cnt, height, tol, two, zero, fmax):
    nf = False
    for k in range(s.size):
        y0 = r0[k]
        y1 = r1[k]
        y2 = r2[k]
        y3 = r3[k]
        y4 = r4[k]
        y5 = r5[k]
        v, a, n = _upd_run(y0, y1, y2, s[k], smp[k], cnt[k], height, tol, two, zero)
        v, a, n = _upd_run(y1, y2, y3, v, a, n, height, tol, two, zero)
        v, a, n = _upd_run(y2, y3, y4, v, a, n, height, tol, two, zero)
        s[k], smp[k], cnt[k] = _upd_run(y3, y4, y5, v, a, n, height, tol, two, zero)
        nf |= not ((abs(y2) + abs(y3)) + (abs(y4) + abs(y5)) <= fmax)  # NaN-safe, unlike max
    return nf


@njit(**_OPTS)
def _run1_f32(r0, r1, r2, s, smp, cnt, height, tol, two, zero, fmax):
    nf = False
    for k in range(s.size):
        c = r2[k]
        s[k], smp[k], cnt[k] = _upd_run_f32(r0[k], r1[k], c, s[k], smp[k], cnt[k], height,
                                            tol, two, zero)
        nf |= not (abs(c) <= fmax)
    return nf


@njit(**_OPTS)
def _run4_f32(r0, r1, r2, r3, r4, r5, s, smp, cnt, height, tol, two, zero, fmax):
    nf = False
    for k in range(s.size):
        y0 = r0[k]
        y1 = r1[k]
        y2 = r2[k]
        y3 = r3[k]
        y4 = r4[k]
        y5 = r5[k]
        v, a, n = _upd_run_f32(y0, y1, y2, s[k], smp[k], cnt[k], height, tol, two, zero)
        v, a, n = _upd_run_f32(y1, y2, y3, v, a, n, height, tol, two, zero)
        v, a, n = _upd_run_f32(y2, y3, y4, v, a, n, height, tol, two, zero)
        s[k], smp[k], cnt[k] = _upd_run_f32(y3, y4, y5, v, a, n, height, tol, two, zero)
        nf |= not ((abs(y2) + abs(y3)) + (abs(y4) + abs(y5)) <= fmax)  # NaN-safe, unlike max
    return nf


#: Kernel kinds: local mode (LOCAL0: height 0), run mode (RUN_F32: float32 samples).
LOCAL, LOCAL0, RUN, RUN_F32 = 0, 1, 2, 3


@njit(**_OPTS)
def _step(kind, u, r0, r1, r2, r3, r4, r5, q, s, smp, cnt, h_e, height, tol, two, zero, fmax):
    """Advance every lane of a block by ``u`` (1 or 4) time steps.

    Rows ``r0 .. r(u+1)`` hold samples ``t-2 .. t+u-1`` of the lanes (unused rows may be
    anything). ``kind`` is one of the kinds above. Returns whether a non-finite sample
    was read in rows ``r2`` onwards.
    """
    if kind == LOCAL0:
        if u == 4:
            return _local4_0(r0, r1, r2, r3, r4, r5, q, smp, cnt, h_e, tol, two, zero, fmax)
        return _local1_0(r0, r1, r2, q, smp, cnt, h_e, tol, two, zero, fmax)
    if kind == LOCAL:
        if u == 4:
            return _local4(r0, r1, r2, r3, r4, r5, q, smp, cnt, h_e, tol, two, zero, fmax)
        return _local1(r0, r1, r2, q, smp, cnt, h_e, tol, two, zero, fmax)
    if kind == RUN_F32:
        if u == 4:
            return _run4_f32(r0, r1, r2, r3, r4, r5, s, smp, cnt, height, tol, two, zero, fmax)
        return _run1_f32(r0, r1, r2, s, smp, cnt, height, tol, two, zero, fmax)
    if u == 4:
        return _run4(r0, r1, r2, r3, r4, r5, s, smp, cnt, height, tol, two, zero, fmax)
    return _run1(r0, r1, r2, s, smp, cnt, height, tol, two, zero, fmax)


@njit(**_OPTS)
def _run_close(s, smp, cnt, height):
    """Close the open run of every lane (end of the signals)."""
    for k in range(s.size):
        sk = s[k]
        ms = abs(sk)
        close = (sk != 0.0) & (ms >= height)
        smp[k] += ms if close else 0.0
        cnt[k] += close


# --------------------------------------------------------------------------- local mode, 8 steps
# The lane loops above hold float64 sums, and LLVM's loop vectoriser picks its vector
# width from the widest type in the loop: one float64 operation makes every float32
# operation run 4 lanes wide instead of 8 (AVX2). The 8-step local kernel below therefore
# keeps the float64 work out of its lane loop:
#
# * In local mode a lane has at most one peak in any two consecutive samples (a peak
#   at t ends the rise, and the next peak needs a new rise). So the magnitude of the
#   peak found in a pair of steps, or 0, is written in the signal's own dtype
#   (``w0 .. w3``), and a separate float64 loop (``_add_pairs``) adds the four pairs in
#   ``t`` order: ``acc + (0 + p) == acc + p`` and ``acc + 0 == acc``, bit for bit the
#   reference's sum.
# * The state between steps is (``vp`` = previous v, ``r`` = rising, ``th``), where
#   ``th`` is the bit pattern of ``vp`` when not rising and of the float just below
#   ``vp`` when rising (``_threshold``). Then ``_bits(v) > th`` is the new "rising"
#   (``v > vp``, or ``v == vp`` while rising: a plateau risen into), and a peak is
#   "rising before, not rising now": one integer comparison per step instead of three
#   float ones (float compares and blends share two of the four vector ports on Zen 3,
#   with the multiplies). Between passes the state is stored as ``q`` (``-vp`` while
#   rising), the encoding of the 1- and 4-step kernels, which finish the tail.
# * Non-finite samples are detected from the noise-floor scales: every sample enters
#   ``scale = (|a| + 2|b|) + |c|`` of some step, and a sum of non-negative terms is
#   inf/NaN when one is. (A sum that overflows is a false alarm: the lanes are then
#   rechecked sample by sample, as for a real one.)
@njit(inline="always", **_OPTS)
def _upd_local8(a, b, c, aa, ac, vp, r, th, w, n, h_e, tol, two, use_h):
    zero = _zero(c)
    tb = two * b
    d = (c - tb) + a
    scale = (aa + abs(tb)) + ac  # |2b| == 2|b| exactly
    ad = abs(d)
    v = zero if ad < tol * scale else ad
    r2 = _bits(v) > th  # integer compare: any vector port, and "not r2" is one ANDN
    peak = r & (not r2)
    if use_h:  # a literal: folded away when inlined
        peak = peak & (vp >= h_e)
    w = vp if peak else w
    n += peak
    return v, r2, _threshold(v, r2), w, n, scale


@njit(inline="always", **_OPTS)
def _local8_body(r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, q, cnt, w0, w1, w2, w3, h_e, tol,
                 two, fmax, use_h):
    nf = False
    for k in range(q.size):
        qk = q[k]
        zero = _zero(qk)
        vp = abs(qk)
        r = qk < zero
        th = _threshold(vp, r)
        n = cnt[k]
        # each row is loaded just before its first use: loading all ten first made LLVM
        # spill them (measured: 9 spills and reloads fewer per 64 samples)
        y0 = r0[k]
        a0 = abs(y0)
        y1 = r1[k]
        a1 = abs(y1)
        y2 = r2[k]
        a2 = abs(y2)
        vp, r, th, w, n, s0 = _upd_local8(y0, y1, y2, a0, a2, vp, r, th, zero, n, h_e, tol,
                                          two, use_h)
        y3 = r3[k]
        a3 = abs(y3)
        vp, r, th, w, n, _ = _upd_local8(y1, y2, y3, a1, a3, vp, r, th, w, n, h_e, tol, two,
                                         use_h)
        w0[k] = w
        y4 = r4[k]
        a4 = abs(y4)
        vp, r, th, w, n, _ = _upd_local8(y2, y3, y4, a2, a4, vp, r, th, zero, n, h_e, tol,
                                         two, use_h)
        y5 = r5[k]
        a5 = abs(y5)
        vp, r, th, w, n, s3 = _upd_local8(y3, y4, y5, a3, a5, vp, r, th, w, n, h_e, tol, two,
                                          use_h)
        w1[k] = w
        y6 = r6[k]
        a6 = abs(y6)
        vp, r, th, w, n, _ = _upd_local8(y4, y5, y6, a4, a6, vp, r, th, zero, n, h_e, tol,
                                         two, use_h)
        y7 = r7[k]
        a7 = abs(y7)
        vp, r, th, w, n, _ = _upd_local8(y5, y6, y7, a5, a7, vp, r, th, w, n, h_e, tol, two,
                                         use_h)
        w2[k] = w
        y8 = r8[k]
        a8 = abs(y8)
        vp, r, th, w, n, s6 = _upd_local8(y6, y7, y8, a6, a8, vp, r, th, zero, n, h_e, tol,
                                          two, use_h)
        y9 = r9[k]
        a9 = abs(y9)
        vp, r, th, w, n, s7 = _upd_local8(y7, y8, y9, a7, a9, vp, r, th, w, n, h_e, tol, two,
                                          use_h)
        w3[k] = w
        q[k] = -vp if r else vp
        cnt[k] = n
        # the scales of steps 0, 3, 6 and 7 cover samples 0 .. 9 (a short sum: no chain
        # of 8 dependent adds and no spilled scales)
        nf |= not ((s0 + s3) + (s6 + s7) <= fmax)
    return nf


@njit(**_OPTS)
def _local8(r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, q, cnt, w0, w1, w2, w3, h_e, tol, two,
            fmax):
    return _local8_body(r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, q, cnt, w0, w1, w2, w3, h_e,
                        tol, two, fmax, True)


@njit(**_OPTS)
def _local8_0(r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, q, cnt, w0, w1, w2, w3, h_e, tol, two,
              fmax):
    # _local8 for height 0 (every peak counts)
    return _local8_body(r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, q, cnt, w0, w1, w2, w3, h_e,
                        tol, two, fmax, False)


@njit(inline="always", **_OPTS)
def _local2_body(r0, r1, r2, r3, q, cnt, w0, h_e, tol, two, fmax, use_h):
    # _local8_body for one pair of steps (the tail of a signal)
    nf = False
    for k in range(q.size):
        qk = q[k]
        zero = _zero(qk)
        vp = abs(qk)
        r = qk < zero
        th = _threshold(vp, r)
        y0 = r0[k]
        y1 = r1[k]
        y2 = r2[k]
        y3 = r3[k]
        a0 = abs(y0)
        a1 = abs(y1)
        a2 = abs(y2)
        a3 = abs(y3)
        vp, r, th, w, n, s0 = _upd_local8(y0, y1, y2, a0, a2, vp, r, th, zero, cnt[k], h_e,
                                          tol, two, use_h)
        vp, r, th, w, n, s1 = _upd_local8(y1, y2, y3, a1, a3, vp, r, th, w, n, h_e, tol, two,
                                          use_h)
        w0[k] = w
        q[k] = -vp if r else vp
        cnt[k] = n
        nf |= not (s0 + s1 <= fmax)
    return nf


@njit(**_OPTS)
def _local2(r0, r1, r2, r3, q, cnt, w0, h_e, tol, two, fmax):
    return _local2_body(r0, r1, r2, r3, q, cnt, w0, h_e, tol, two, fmax, True)


@njit(**_OPTS)
def _local2_0(r0, r1, r2, r3, q, cnt, w0, h_e, tol, two, fmax):
    return _local2_body(r0, r1, r2, r3, q, cnt, w0, h_e, tol, two, fmax, False)


@njit(**_OPTS)
def _step2(kind, r0, r1, r2, r3, q, smp, cnt, w, h_e, tol, two, fmax):
    """:func:`_step8` for 2 time steps (rows ``r0 .. r3`` hold samples ``t-2 .. t+1``)."""
    w0 = w[0, :q.size]
    if kind == LOCAL0:
        nf = _local2_0(r0, r1, r2, r3, q, cnt, w0, h_e, tol, two, fmax)
    else:
        nf = _local2(r0, r1, r2, r3, q, cnt, w0, h_e, tol, two, fmax)
    for k in range(smp.size):
        smp[k] += np.float64(w0[k])
    return nf


@njit(**_OPTS)
def _add_pairs(smp, w0, w1, w2, w3):
    """``smp += w0; ...; smp += w3`` in float64, in that order (the pairs' peaks)."""
    for k in range(smp.size):
        a = smp[k]
        a += np.float64(w0[k])
        a += np.float64(w1[k])
        a += np.float64(w2[k])
        a += np.float64(w3[k])
        smp[k] = a


@njit(**_OPTS)
def _step8(kind, r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, q, smp, cnt, w, h_e, tol, two,
           fmax):
    """Advance every lane of a block by 8 time steps, local mode (``kind`` LOCAL/LOCAL0).

    Rows ``r0 .. r9`` hold samples ``t-2 .. t+7``; ``w`` is ``(4, lanes)`` scratch of the
    samples' dtype. Returns whether a non-finite sample may be in rows ``r2`` onwards.
    """
    nl = q.size
    w0 = w[0, :nl]
    w1 = w[1, :nl]
    w2 = w[2, :nl]
    w3 = w[3, :nl]
    if kind == LOCAL0:
        nf = _local8_0(r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, q, cnt, w0, w1, w2, w3, h_e,
                       tol, two, fmax)
    else:
        nf = _local8(r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, q, cnt, w0, w1, w2, w3, h_e, tol,
                     two, fmax)
    _add_pairs(smp, w0, w1, w2, w3)
    return nf


# --------------------------------------------------------------------------- run mode, split
# Run mode needs a float64 add per sample (the open run's sum), so its lane loop cannot
# avoid float64. It is split in two loops over the lanes per 4 time steps: the second
# differences with their noise floor, in the samples' dtype (8 float32 lanes per AVX2
# vector), written to 4 scratch rows; then the run logic in float64 on those rows.
@njit(inline="always", **_OPTS)
def _floored(a, b, c, aa, ac, tol, two):
    zero = _zero(c)
    tb = two * b
    d = (c - tb) + a
    scale = (aa + abs(tb)) + ac
    return (zero if abs(d) < tol * scale else d), scale


@njit(**_OPTS)
def _diff4(r0, r1, r2, r3, r4, r5, d0, d1, d2, d3, tol, two, fmax):
    """``d0 .. d3`` = floored second differences of rows ``r0 .. r5`` (4 time steps).

    Returns whether a non-finite sample may be in rows ``r2`` onwards (see ``_step8``).
    """
    nf = False
    for k in range(d0.size):
        y0 = r0[k]
        y1 = r1[k]
        y2 = r2[k]
        y3 = r3[k]
        y4 = r4[k]
        y5 = r5[k]
        a0 = abs(y0)
        a1 = abs(y1)
        a2 = abs(y2)
        a3 = abs(y3)
        a4 = abs(y4)
        a5 = abs(y5)
        d0[k], s0 = _floored(y0, y1, y2, a0, a2, tol, two)
        d1[k], _ = _floored(y1, y2, y3, a1, a3, tol, two)
        d2[k], _ = _floored(y2, y3, y4, a2, a4, tol, two)
        d3[k], s3 = _floored(y3, y4, y5, a3, a5, tol, two)
        nf |= not (s0 + s3 <= fmax)  # scales of steps 0 and 3 cover samples 0 .. 5
    return nf


@njit(inline="always", **_OPTS)
def _upd_run_d(dz, s, acc, n, height, f32, use_h):
    dd = np.float64(dz)
    if f32:  # see _upd_run_f32
        same = dd * s > 0.0
    else:
        same = ((dd > 0.0) & (s > 0.0)) | ((dd < 0.0) & (s < 0.0))
    ms = abs(s)
    # an open run (s != 0) ends; with height > 0, ms >= height implies s != 0
    close = (not same) & ((ms >= height) if use_h else (ms != 0.0))
    acc += ms if close else 0.0
    n += close
    return (s + dd if same else dd), acc, n


@njit(inline="always", **_OPTS)
def _runs4_body(d0, d1, d2, d3, s, smp, cnt, height, f32, use_h):
    for k in range(s.size):
        v, a, n = _upd_run_d(d0[k], s[k], smp[k], cnt[k], height, f32, use_h)
        v, a, n = _upd_run_d(d1[k], v, a, n, height, f32, use_h)
        v, a, n = _upd_run_d(d2[k], v, a, n, height, f32, use_h)
        s[k], smp[k], cnt[k] = _upd_run_d(d3[k], v, a, n, height, f32, use_h)


# one compiled loop per (dtype check, height test): literals fold away when inlined
@njit(**_OPTS)
def _runs4(d0, d1, d2, d3, s, smp, cnt, height):
    _runs4_body(d0, d1, d2, d3, s, smp, cnt, height, False, True)


@njit(**_OPTS)
def _runs4_0(d0, d1, d2, d3, s, smp, cnt, height):
    _runs4_body(d0, d1, d2, d3, s, smp, cnt, height, False, False)


@njit(**_OPTS)
def _runs4_f32(d0, d1, d2, d3, s, smp, cnt, height):
    _runs4_body(d0, d1, d2, d3, s, smp, cnt, height, True, True)


@njit(**_OPTS)
def _runs4_f32_0(d0, d1, d2, d3, s, smp, cnt, height):
    _runs4_body(d0, d1, d2, d3, s, smp, cnt, height, True, False)


@njit(**_OPTS)
def _step_run4(kind, r0, r1, r2, r3, r4, r5, s, smp, cnt, w, height, tol, two, fmax):
    """Advance every lane of a block by 4 time steps, run mode, through scratch ``w``.

    Rows ``r0 .. r5`` hold samples ``t-2 .. t+3``; ``w`` is ``(4, lanes)`` scratch of
    the samples' dtype. Returns whether a non-finite sample may be in rows ``r2`` on.
    """
    nl = s.size
    d0 = w[0, :nl]
    d1 = w[1, :nl]
    d2 = w[2, :nl]
    d3 = w[3, :nl]
    nf = _diff4(r0, r1, r2, r3, r4, r5, d0, d1, d2, d3, tol, two, fmax)
    if kind == RUN_F32:
        if height > 0.0:
            _runs4_f32(d0, d1, d2, d3, s, smp, cnt, height)
        else:
            _runs4_f32_0(d0, d1, d2, d3, s, smp, cnt, height)
    elif height > 0.0:
        _runs4(d0, d1, d2, d3, s, smp, cnt, height)
    else:
        _runs4_0(d0, d1, d2, d3, s, smp, cnt, height)
    return nf


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
def _rows_block(flat, start, si, nl, n, st, kind, h_e, height, tol, two, zero, fmax,
                q, s, smp, cnt, w, bad):
    """Advance lanes ``flat[start + k * si + t * st]``, ``k < nl``, through all ``t``.

    Reads the rows in place (row ``t`` holds sample ``t`` of every lane), eight (local
    mode) or four (run mode) time steps per pass over the lanes. Sets ``bad[k]`` for the
    lanes holding a non-finite sample.
    """
    span = (nl - 1) * si + 1
    nf = False
    for k in range(nl):
        nf |= not (abs(flat[start + k * si]) <= fmax)
        nf |= not (abs(flat[start + st + k * si]) <= fmax)
    local = kind == LOCAL or kind == LOCAL0
    # The multi-step local passes only for contiguous lanes: with strided lanes LLVM
    # does not vectorise the lane loop, they were no faster than the 1- and 4-step
    # updates, and their strided variants would double the kernels' compile time.
    fast = local and si == 1
    t = 2
    while fast and t + 8 <= n:
        o0 = start + (t - 2) * st
        o = (o0, o0 + st, o0 + 2 * st, o0 + 3 * st, o0 + 4 * st, o0 + 5 * st, o0 + 6 * st,
             o0 + 7 * st, o0 + 8 * st, o0 + 9 * st)
        nf |= _step8(kind, flat[o[0]:o[0] + nl], flat[o[1]:o[1] + nl], flat[o[2]:o[2] + nl],
                     flat[o[3]:o[3] + nl], flat[o[4]:o[4] + nl], flat[o[5]:o[5] + nl],
                     flat[o[6]:o[6] + nl], flat[o[7]:o[7] + nl], flat[o[8]:o[8] + nl],
                     flat[o[9]:o[9] + nl], q, smp, cnt, w, h_e, tol, two, fmax)
        t += 8
    while fast and t + 2 <= n:
        o0 = start + (t - 2) * st
        o1 = o0 + st
        o2 = o1 + st
        o3 = o2 + st
        nf |= _step2(kind, flat[o0:o0 + nl], flat[o1:o1 + nl], flat[o2:o2 + nl],
                     flat[o3:o3 + nl], q, smp, cnt, w, h_e, tol, two, fmax)
        t += 2
    # int64 counters for the float64 run loop: an int32 one costs a pack per step there
    cnt64 = np.zeros(0 if local else nl, dtype=np.int64)
    while not local and t + 4 <= n:
        o0 = start + (t - 2) * st
        o1 = o0 + st
        o2 = o1 + st
        o3 = o2 + st
        o4 = o3 + st
        o5 = o4 + st
        if si == 1:
            nf |= _step_run4(kind, flat[o0:o0 + nl], flat[o1:o1 + nl], flat[o2:o2 + nl],
                             flat[o3:o3 + nl], flat[o4:o4 + nl], flat[o5:o5 + nl], s, smp,
                             cnt64, w, height, tol, two, fmax)
        else:
            nf |= _step_run4(kind, flat[o0:o0 + span:si], flat[o1:o1 + span:si],
                             flat[o2:o2 + span:si], flat[o3:o3 + span:si],
                             flat[o4:o4 + span:si], flat[o5:o5 + span:si], s, smp, cnt64,
                             w, height, tol, two, fmax)
        t += 4
    for k in range(cnt64.size):
        cnt[k] += cnt64[k]
    while t < n:
        u = 4 if t + 4 <= n else 1
        o0 = start + (t - 2) * st
        o1 = o0 + st
        o2 = o1 + st
        o3 = o2 + st if u == 4 else o2
        o4 = o3 + st if u == 4 else o2
        o5 = o4 + st if u == 4 else o2
        if si == 1:
            nf |= _step(kind, u, flat[o0:o0 + nl], flat[o1:o1 + nl], flat[o2:o2 + nl],
                        flat[o3:o3 + nl], flat[o4:o4 + nl], flat[o5:o5 + nl], q, s, smp, cnt,
                        h_e, height, tol, two, zero, fmax)
        else:
            nf |= _step(kind, u, flat[o0:o0 + span:si], flat[o1:o1 + span:si],
                        flat[o2:o2 + span:si], flat[o3:o3 + span:si], flat[o4:o4 + span:si],
                        flat[o5:o5 + span:si], q, s, smp, cnt, h_e, height, tol, two, zero,
                        fmax)
        t += u
    if kind == RUN or kind == RUN_F32:
        _run_close(s, smp, cnt, height)
    if nf:  # rare: find the lanes, row by row
        for t in range(n):
            c0 = start + t * st
            for k in range(nl):
                bad[k] |= not (abs(flat[c0 + k * si]) <= fmax)


@njit(parallel=True, **_OPTS)
def lanes_rows(flat, in_off, out_off, n_inner, si, so, n, st, block, kind, h_e, height, tol,
               two, fmax, omit, out_smp, out_cnt):
    """Batch axis with the smaller stride: blocks of adjacent signals, read row by row.

    Signal ``(o, i)`` is ``flat[in_off[o] + i * si + t * st]`` (``si >= 1``); its results
    go to ``out_*[out_off[o] + i * so]``.
    """
    zero = two - two
    run = kind == RUN or kind == RUN_F32
    n_outer = in_off.size
    nblk = (n_inner + block - 1) // block
    for b in prange(n_outer * nblk):
        o = b // nblk
        i0 = (b - o * nblk) * block
        nl = min(block, n_inner - i0)
        start = in_off[o] + i0 * si
        q = np.full(nl, np.inf, dtype=flat.dtype)
        s = np.zeros(nl, dtype=np.float64)
        smp = np.zeros(nl, dtype=np.float64)
        cnt = np.zeros(nl, dtype=np.int32)
        bad = np.zeros(nl, dtype=np.bool_)
        # rows of w a cache line longer than the lanes: see _tiles_block
        w = np.empty((4, nl + 64 // flat.itemsize), dtype=flat.dtype)
        _rows_block(flat, start, si, nl, n, st, kind, h_e, height, tol, two, zero, fmax,
                    q, s, smp, cnt, w, bad)
        starts = start + np.arange(nl) * si
        obases = out_off[o] + (i0 + np.arange(nl)) * so
        _finish(flat, starts, obases, n, st, run, smp, cnt, bad, out_smp, out_cnt, height, tol,
                two, zero, omit)


@njit(**_OPTS)
def _fill(flat, starts, st, t, m, buf, r0):
    """``buf[r0 + r, k] = flat[starts[k] + (t + r) * st]`` for ``r < m`` (a transpose)."""
    nl = starts.size
    k0 = 0
    if st == 1:  # eight signals at a time: contiguous reads, 8-wide row writes
        while k0 + 8 <= nl:
            s0 = flat[starts[k0] + t:starts[k0] + t + m]
            s1 = flat[starts[k0 + 1] + t:starts[k0 + 1] + t + m]
            s2 = flat[starts[k0 + 2] + t:starts[k0 + 2] + t + m]
            s3 = flat[starts[k0 + 3] + t:starts[k0 + 3] + t + m]
            s4 = flat[starts[k0 + 4] + t:starts[k0 + 4] + t + m]
            s5 = flat[starts[k0 + 5] + t:starts[k0 + 5] + t + m]
            s6 = flat[starts[k0 + 6] + t:starts[k0 + 6] + t + m]
            s7 = flat[starts[k0 + 7] + t:starts[k0 + 7] + t + m]
            for r in range(m):
                row = buf[r0 + r, k0:k0 + 8]
                row[0] = s0[r]
                row[1] = s1[r]
                row[2] = s2[r]
                row[3] = s3[r]
                row[4] = s4[r]
                row[5] = s5[r]
                row[6] = s6[r]
                row[7] = s7[r]
            k0 += 8
    for k in range(k0, nl):
        base = starts[k] + t * st
        col = buf[r0:r0 + m, k]
        if st == 1:
            src = flat[base:base + m]
            for r in range(m):
                col[r] = src[r]
        else:
            for r in range(m):
                col[r] = flat[base + r * st]


@njit(**_OPTS)
def _tiles_block(flat, starts, n, st, tile, kind, h_e, height, tol, two, zero, fmax,
                 q, s, smp, cnt, bad):
    """Advance the lanes ``flat[starts[k] + t * st]`` through a transposed tile buffer."""
    nl = starts.size
    # rows padded by one cache line: a power-of-two row length would map a tile column
    # to a handful of cache sets
    buf = np.empty((tile + 2, nl + 64 // flat.itemsize), dtype=flat.dtype)
    w = np.empty((4, nl + 64 // flat.itemsize), dtype=flat.dtype)
    local = kind == LOCAL or kind == LOCAL0
    cnt64 = np.zeros(0 if local else nl, dtype=np.int64)  # see _rows_block
    nf = False
    t0 = 0  # time step held by buf[0]
    filled = 0  # rows of buf holding data
    while t0 + filled < n:
        m = min(tile + 2 - filled, n - t0 - filled)
        _fill(flat, starts, st, t0 + filled, m, buf, filled)
        if t0 == 0:
            for k in range(nl):
                nf |= not (abs(buf[0, k]) <= fmax)
                nf |= not (abs(buf[1, k]) <= fmax)
        filled += m
        r = 2
        while local and r + 8 <= filled:
            nf |= _step8(kind, buf[r - 2, :nl], buf[r - 1, :nl], buf[r, :nl], buf[r + 1, :nl],
                         buf[r + 2, :nl], buf[r + 3, :nl], buf[r + 4, :nl], buf[r + 5, :nl],
                         buf[r + 6, :nl], buf[r + 7, :nl], q, smp, cnt, w, h_e, tol, two,
                         fmax)
            r += 8
        while local and r + 2 <= filled:
            nf |= _step2(kind, buf[r - 2, :nl], buf[r - 1, :nl], buf[r, :nl], buf[r + 1, :nl],
                         q, smp, cnt, w, h_e, tol, two, fmax)
            r += 2
        while not local and r + 4 <= filled:
            nf |= _step_run4(kind, buf[r - 2, :nl], buf[r - 1, :nl], buf[r, :nl],
                             buf[r + 1, :nl], buf[r + 2, :nl], buf[r + 3, :nl], s, smp, cnt64,
                             w, height, tol, two, fmax)
            r += 4
        while r < filled:
            u = 4 if r + 4 <= filled else 1
            r3 = r + 1 if u == 4 else r
            r4 = r + 2 if u == 4 else r
            r5 = r + 3 if u == 4 else r
            nf |= _step(kind, u, buf[r - 2, :nl], buf[r - 1, :nl], buf[r, :nl], buf[r3, :nl],
                        buf[r4, :nl], buf[r5, :nl], q, s, smp, cnt, h_e, height, tol, two,
                        zero, fmax)
            r += u
        buf[0] = buf[filled - 2]
        buf[1] = buf[filled - 1]
        t0 += filled - 2
        filled = 2
    for k in range(cnt64.size):
        cnt[k] += cnt64[k]
    if kind == RUN or kind == RUN_F32:
        _run_close(s, smp, cnt, height)
    if nf:  # rare: find the lanes
        for k in range(nl):
            for t in range(n):
                if not (abs(flat[starts[k] + t * st]) <= fmax):
                    bad[k] = True
                    break


@njit(parallel=True, **_OPTS)
def lanes_tiles(flat, in_off, out_off, n_inner, si, so, n, st, block, tile, kind, h_e, height,
                tol, two, fmax, omit, out_smp, out_cnt):
    """Signals contiguous along the path: blocks of signals transposed tile by tile.

    Same addressing as :func:`lanes_rows`; the blocks run over the flattened ``(o, i)``.
    """
    zero = two - two
    run = kind == RUN or kind == RUN_F32
    total = in_off.size * n_inner
    nblk = (total + block - 1) // block
    for b in prange(nblk):
        g0 = b * block
        nl = min(block, total - g0)
        starts = np.empty(nl, dtype=np.int64)
        obases = np.empty(nl, dtype=np.int64)
        for k in range(nl):
            g = g0 + k
            o = g // n_inner
            i = g - o * n_inner
            starts[k] = in_off[o] + i * si
            obases[k] = out_off[o] + i * so
        q = np.full(nl, np.inf, dtype=flat.dtype)
        s = np.zeros(nl, dtype=np.float64)
        smp = np.zeros(nl, dtype=np.float64)
        cnt = np.zeros(nl, dtype=np.int32)
        bad = np.zeros(nl, dtype=np.bool_)
        _tiles_block(flat, starts, n, st, tile, kind, h_e, height, tol, two, zero, fmax,
                     q, s, smp, cnt, bad)
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
