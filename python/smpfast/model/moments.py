"""The fixed-size summary of a block input that the predictors see: :func:`moments`.

A block input is an array ``x`` of shape ``(T, n, C, *spatial)``: T samples along the
path, n paths, C channels (features for ``linear``) and 0, 1 or 2 spatial axes. The
summary keeps, per channel and per time bin (K equal bins of tau = t / (T - 1); samples
t = 1 .. T-2, where the second difference exists), with y = y[t], the slope
v = (y[t+1] - y[t-1]) / 2 and the second difference d = y[t+1] - 2 y[t] + y[t-1] (zero
under the noise floor of :func:`smpfast.smp`):

===========  =================================================================
``y y2``     E[y], E[y^2]
``v v2 yv``  E[v], E[v^2], E[y v]
``zero``     P(y == 0) (the mass a ReLU leaves at 0)
``pos``      P(y > 0); ``y_p y2_p v_p v2_p yv_p`` the same moments times 1{y > 0}
``d_abs``    E|d|; ``d2`` E[d^2]; ``d`` E[d]; ``d_act`` P(d != 0); ``c_yd`` E[y d]
``d_abs_p``  E[|d| 1{y[t-1], y[t], y[t+1] all > 0}]; ``d_abs_n`` the same for all < 0
``pk``       E[|d| 1{t is a local peak of |d|}] (``find_peaks`` rule); ``pk_p pk_n``
             the same restricted like ``d_abs_p`` / ``d_abs_n``
``dd1 dd2``  E[d[t] d[t+1]], E[d[t] d[t+2]] (over the pairs inside the path)
``p3 y_p3 y2_p3 d_p3 d2_p3 yd_p3 act_p3``  P(all three samples > 0) and E[y], E[y^2],
             E[d], E[d^2], E[y d], P(d != 0) times that indicator: the curvature-value
             regression and the curvature's activity on the positive part (a rectified
             input's zeros would bias them); "active" is |d| above 1e3 eps of the
             sample's scale, clear of the rounding of a sum of many products
``vd``       E[v[t] (d[t+1] - d[t-1])] / 2 (t = 2 .. T-3): the slope's coupling to the
             curvature's change (a third derivative), which the lag products of d and the
             value moments fix only through large cancellations
===========  =================================================================

Spatial neighbours (offsets ``lags``: (0, 1), (1, -L) .. (L, L) in 2-D, 1 .. L in 1-D,
none for features) per channel and bin: ``l_yy`` E[y_p y_p+o], ``l_vv`` E[v_p v_p+o],
``l_pp`` P(both > 0), ``l_yy_p`` and ``l_vv_p`` the products times 1{both > 0}; and the
same products of the *per-position means* (``l_yy0 l_vv0 l_pp0 l_vvp0``: E_p[mu_y(p)
mu_y(p+o)], the same for v, E_p[P(y_p > 0) P(y_p+o > 0)] and E_p[mu_v+(p) mu_v+(p+o)] with
mu_v+ = E[v 1{y > 0}]; ``y2_0 v2_0`` per (channel, bin) E_p[mu_y(p)^2], E_p[mu_v(p)^2]).
Biases and image borders give every position its own mean; pooling over positions
without them would read those mean differences as neighbour correlation.
Position classes (:func:`position_classes`: per spatial axis the first and the last
``CLASS_BORDER`` = 2 positions each on their own, the interior pooled; 25 classes in 2-D, 5
in 1-D, none for features): ``cls_<name>`` (C, K, n_classes) for every name in
:data:`CLASS_STATS` (``y y2 v v2 yv zero pos y_p y2_p v_p v2_p yv_p d_abs pk d_abs_p
pk_p``), the same statistic averaged over the positions of a class only, and ``cls_w``
(n_classes,) the share of positions in each class (0 for a class the grid does not have).
A padded convolution gives the border positions fewer taps: after a ReLU their value
spread, P(y > 0) and curvature differ from the interior's (std 0.55 / 0.75 / 1.03 at a
corner / edge / centre in one measured case), and the maximum of a pooling window lands
mostly on the largest of them; the max-pool predictor gives each window element the
marginal of its class. The positive part's curvature lag products (:data:`POS_PAIR_STATS`):
``dd1_p3 dd2_p3`` E[d[t] d[t+l] 1{both stencils > 0}] and ``p3_1 p3_2`` P(both stencils > 0)
for l = 1, 2 (over the pairs inside the path). These are optional: summaries without them
(the analytic ones) are predicted exactly as before.
Channel pairs at the same position per bin: ``cc_yy``, ``cc_vv``, ``cc_yv`` (K, C, C).
Per channel, over signals: the mean and second moment of the input's own SMP in both
modes (``smp_run smp_run2 smp_loc smp_loc2``), ``affine``, the fraction of signals with
no second difference above the rounding of their own scale, and ``single``, the fraction
that are affine or have at most one run-mode peak (a ReLU of an affine signal); and
the per-signal sums A = sum_t |d_t| 1{stencil > 0}, B = the same for < 0 (what a ReLU
keeps of the curvature): ``surv_p surv_n`` E[A], E[B], ``surv_p2 surv_n2 surv_pn`` E[A^2],
E[B^2], E[A B] (the time the signal spends above 0 varies from signal to signal: A
spreads far more than the input's SMP). The size depends on C, K and L only (not on T
or n).

:class:`MomentAccumulator` merges chunks (sums, so chunk order does not matter).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import measure
from .._validate import TOL_EPS_FACTOR
from ._grid import sample_bins

#: Per (channel, bin) statistics, in this order.
STATS: tuple[str, ...] = (
    "y", "y2", "v", "v2", "yv", "zero",
    "pos", "y_p", "y2_p", "v_p", "v2_p", "yv_p",
    "d_abs", "d2", "d", "d_act", "c_yd",
    "d_abs_p", "d_abs_n", "pk", "pk_p", "pk_n", "dd1", "dd2", "vd",
    "p3", "y_p3", "y2_p3", "d_p3", "d2_p3", "yd_p3", "act_p3",
)
#: Per (channel, bin) lag products of the curvature on the positive part (optional: the
#: analytic summaries do not carry them).
POS_PAIR_STATS: tuple[str, ...] = ("dd1_p3", "dd2_p3", "p3_1", "p3_2")
#: Per (channel, bin, lag) statistics.
LAG_STATS: tuple[str, ...] = ("l_yy", "l_vv", "l_pp", "l_yy_p", "l_vv_p")
#: Per (channel, bin, lag) products of per-position means (computed in ``summary``).
POS_LAG_STATS: tuple[str, ...] = ("l_yy0", "l_vv0", "l_pp0", "l_vvp0")
#: Per (channel, bin) mean squares of per-position means (computed in ``summary``).
POS_STATS: tuple[str, ...] = ("y2_0", "v2_0")
#: Per (channel, bin, position class) statistics, ``cls_<name>`` (see the module docs).
CLASS_STATS: tuple[str, ...] = (
    "y", "y2", "v", "v2", "yv", "zero", "pos", "y_p", "y2_p", "v_p", "v2_p", "yv_p",
    "d_abs", "pk", "d_abs_p", "pk_p",
)
#: Per-position sums kept by the accumulator (shape (C, K, *spatial)).
_POS_SUMS: tuple[str, ...] = CLASS_STATS
#: Per (bin, channel, channel) statistics.
CC_STATS: tuple[str, ...] = ("cc_yy", "cc_vv", "cc_yv")
#: Per channel statistics of the signals' own SMP.
SMP_STATS: tuple[str, ...] = (
    "smp_run", "smp_run2", "smp_loc", "smp_loc2", "affine", "single",
    "surv_p", "surv_n", "surv_p2", "surv_n2", "surv_pn",
)

DEFAULT_BINS = 16
DEFAULT_LAG = 2
#: Border depth B of the position classes (per spatial axis: the first B positions, the
#: last B positions, and the interior).
CLASS_BORDER = 2


def position_classes(sizes: tuple[int, ...], border: int = CLASS_BORDER) -> np.ndarray:
    """Position class of every element of a spatial grid (shape ``sizes``, int array).

    Per axis of size n, position i is in class i if it is among the first ``border``
    positions, ``2 border - (n - 1 - i)`` if among the last ``border`` (the nearer border
    wins; a tie goes to the start) and ``border`` (the interior) otherwise; the class of
    an element combines its axes' classes in row-major order, so there are
    ``(2 border + 1) ** len(sizes)`` classes whatever the sizes.

    Examples
    --------
    >>> position_classes((5,), 1).tolist()
    [0, 1, 1, 1, 2]
    >>> position_classes((2, 3), 1).tolist()
    [[0, 1, 2], [6, 7, 8]]
    """
    if border < 0:
        raise ValueError(f"border must be non-negative; got {border}")
    n_per = 2 * border + 1
    out = np.zeros(tuple(sizes), dtype=np.intp)
    for ax, n in enumerate(sizes):
        i = np.arange(n)
        back = n - 1 - i
        cls = np.where(i < border, i, border)
        cls = np.where((back < border) & (back < i), 2 * border - back, cls)
        shape = [1] * len(sizes)
        shape[ax] = n
        out = out * n_per + cls.reshape(shape)
    return out


def lag_offsets(n_spatial: int, max_lag: int) -> tuple[tuple[int, ...], ...]:
    """Spatial neighbour offsets kept in the summary (one of each +-pair).

    Examples
    --------
    >>> lag_offsets(1, 2)
    ((1,), (2,))
    >>> len(lag_offsets(2, 1))
    4
    """
    if n_spatial == 0:
        return ()
    if n_spatial == 1:
        return tuple((k,) for k in range(1, max_lag + 1))
    out = [(0, k) for k in range(1, max_lag + 1)]
    out += [(i, j) for i in range(1, max_lag + 1) for j in range(-max_lag, max_lag + 1)]
    return tuple(out)


def latent_fit(st: dict[str, np.ndarray], rect: np.ndarray) -> dict[str, np.ndarray]:
    """Gaussian fit of value and slope from the moments in ``st`` (see :meth:`Summary.latent`).

    ``st`` holds ``y y2 v v2 yv`` and ``pos y_p y2_p v_p v2_p yv_p`` of any common shape;
    where ``rect`` is True the Tobit fit to the positive part is used.

    Examples
    --------
    >>> st = {k: np.array([v]) for k, v in dict(y=0.0, y2=4.0, v=1.0, v2=2.0, yv=0.0).items()}
    >>> lat = latent_fit(st, np.array([False]))
    >>> float(lat["s"][0]), float(lat["sp"][0])
    (2.0, 1.0)
    """
    from ._gauss import pdf, ppf

    var_y = np.maximum(st["y2"] - st["y"] ** 2, 0.0)
    var_v = np.maximum(st["v2"] - st["v"] ** 2, 0.0)
    cov = st["yv"] - st["y"] * st["v"]
    m, s, mp, sp = st["y"].copy(), np.sqrt(var_y), st["v"].copy(), np.sqrt(var_v)
    r = np.where(s * sp > 0, cov / np.maximum(s * sp, 1e-300), 0.0)
    if rect.any():
        p = np.clip(st["pos"], 1e-6, 1 - 1e-6)
        alpha = ppf(p)
        cond_mean = st["y_p"] / p  # E[y | y > 0] = m + s * pdf(alpha) / p
        s_t = cond_mean / np.maximum(alpha + pdf(alpha) / p, 1e-12)
        m_t = alpha * s_t
        # regression of v on y over y > 0
        ey = st["y_p"] / p
        ev = st["v_p"] / p
        vy = np.maximum(st["y2_p"] / p - ey**2, 1e-300)
        cyv = st["yv_p"] / p - ey * ev
        beta = cyv / vy
        res = np.maximum(st["v2_p"] / p - ev**2 - beta * cyv, 0.0)
        mp_t = ev - beta * (ey - m_t)
        sp_t = np.sqrt(res + beta**2 * s_t**2)
        r_t = np.where(sp_t > 0, beta * s_t / np.maximum(sp_t, 1e-300), 0.0)
        m = np.where(rect, m_t, m)
        s = np.where(rect, s_t, s)
        mp = np.where(rect, mp_t, mp)
        sp = np.where(rect, sp_t, sp)
        r = np.where(rect, r_t, r)
    return {"m": m, "s": s, "mp": mp, "sp": sp, "r": np.clip(r, -1.0, 1.0), "rect": rect}


@dataclass
class Summary:
    """Fixed-size summary of a block input (see the module docstring for the fields).

    ``stats[name]`` has shape (C, K) for :data:`STATS`, (C, K, n_lags) for
    :data:`LAG_STATS`, (K, C, C) for :data:`CC_STATS` and (C,) for :data:`SMP_STATS`.
    ``shape`` is the per-path shape ``(C, *spatial)``, ``T`` the path length, ``dtype`` the
    dtype of the signals, ``n_signals`` the number of paths summarised.
    """

    T: int
    shape: tuple[int, ...]
    n_bins: int
    lags: tuple[tuple[int, ...], ...]
    stats: dict[str, np.ndarray]
    dtype: np.dtype[Any] = field(default_factory=lambda: np.dtype(np.float64))
    n_signals: int = 0
    #: Results of predictors computed from this summary (keyed by block and shape).
    cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def channels(self) -> int:
        """Number of channels C."""
        return self.shape[0]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.stats[name]

    def latent(self) -> dict[str, np.ndarray]:
        """Gaussian fit of the (pre-rectification) value and slope, per (channel, bin).

        When the signals have a point mass at 0 (a ReLU output), the latent Gaussian is
        fitted to the positive part (a Tobit fit: P(y > 0) gives m/s, E[y | y > 0] gives s;
        the slope regression on y over y > 0 is unbiased because the selection is on y);
        otherwise it is the plain moment fit. Returns ``m s mp sp r`` (value mean and std,
        slope mean and std, correlation) and ``rect`` (True where rectified).
        """
        st = self.stats
        return latent_fit(st, st["zero"] > 0.02)

    def smp_mean(self, mode: str) -> np.ndarray:
        """Mean SMP per channel of the summarised signals themselves (shape (C,))."""
        return self.stats["smp_run" if mode == "run" else "smp_loc"]

    def smp_second(self, mode: str) -> np.ndarray:
        """Second moment of the SMP per channel of the summarised signals (shape (C,))."""
        return self.stats["smp_run2" if mode == "run" else "smp_loc2"]


class MomentAccumulator:
    """Accumulate :class:`Summary` statistics over chunks of paths.

    Parameters
    ----------
    n_bins : int
        Time bins K (at most T - 2 are used: one sample per bin at least).
    max_lag : int
        Largest spatial neighbour offset L.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> acc = MomentAccumulator(n_bins=2)
    >>> for _ in range(2):
    ...     acc.add(np.abs(rng.standard_normal((16, 4, 3))))
    >>> s = acc.summary()
    >>> s.shape, s["y"].shape
    ((3,), (3, 2))
    """

    def __init__(self, n_bins: int = DEFAULT_BINS, max_lag: int = DEFAULT_LAG) -> None:
        if not isinstance(n_bins, int | np.integer) or n_bins < 1:
            raise ValueError(f"n_bins must be a positive integer; got {n_bins!r}")
        if not isinstance(max_lag, int | np.integer) or max_lag < 0:
            raise ValueError(f"max_lag must be a non-negative integer; got {max_lag!r}")
        self.n_bins = int(n_bins)
        self.max_lag = int(max_lag)
        self._sums: dict[str, np.ndarray] = {}
        self._count = np.zeros(0)
        self._lag_count = np.zeros(0)
        self._signals = 0
        self._T = -1
        self._shape: tuple[int, ...] = ()
        self._dtype: np.dtype[Any] = np.dtype(np.float64)
        self._lags: tuple[tuple[int, ...], ...] = ()
        self._pos_sums: dict[str, np.ndarray] = {}

    def add(self, x: Any) -> None:
        """Add a chunk ``x`` of shape (T, n, C, *spatial) (float32 or float64)."""
        arr = np.asarray(x)
        if arr.dtype.kind != "f":
            raise TypeError(f"x must be a float32 or float64 array; got dtype {arr.dtype}")
        if arr.ndim < 3 or arr.ndim > 5:
            raise ValueError(
                f"x must have shape (T, n, C, *spatial) with 0-2 spatial axes; got {arr.shape}"
            )
        T = arr.shape[0]
        if T < 5:
            raise ValueError(f"x needs at least T = 5 samples along axis 0; got {T}")
        if self._T < 0:
            self._start(T, arr.shape[2:], arr.dtype)
        elif T != self._T or arr.shape[2:] != self._shape:
            raise ValueError(
                f"x has shape {arr.shape}; earlier chunks had T={self._T} and per-path "
                f"shape {self._shape}"
            )
        if arr.shape[1] == 0:
            return
        self._add(arr)

    def _start(self, T: int, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        self._T, self._shape, self._dtype = T, tuple(shape), np.dtype(dtype)
        # at most one bin per sample (T - 2 samples have a second difference): no empty bin
        self.n_bins = min(self.n_bins, T - 2)
        C, K = shape[0], self.n_bins
        self._lags = lag_offsets(len(shape) - 1, self.max_lag)
        nl = len(self._lags)
        for k in STATS + POS_PAIR_STATS:
            self._sums[k] = np.zeros((C, K))
        for k in LAG_STATS:
            self._sums[k] = np.zeros((C, K, nl))
        for k in CC_STATS:
            self._sums[k] = np.zeros((K, C, C))
        for k in SMP_STATS:
            self._sums[k] = np.zeros(C)
        for k in _POS_SUMS:
            self._pos_sums[k] = np.zeros((C, K, *shape[1:]))
        self._count = np.zeros(K)
        self._lag_count = np.zeros((K, nl))

    def _add(self, x: np.ndarray) -> None:
        T, n, C = x.shape[:3]
        K = self.n_bins
        bins = sample_bins(T, K)
        xf = x.astype(np.float64, copy=False)
        ym, y0, yp = xf[:-2], xf[1:-1], xf[2:]
        d = (yp - 2.0 * y0) + ym
        floor = TOL_EPS_FACTOR * np.finfo(x.dtype).eps * (np.abs(ym) + 2 * np.abs(y0) + np.abs(yp))
        d = np.where(np.abs(d) < floor, 0.0, d)
        v = 0.5 * (yp - ym)
        pos = y0 > 0
        allp = pos & (ym > 0) & (yp > 0)
        alln = (y0 < 0) & (ym < 0) & (yp < 0)
        ad = np.abs(d)
        peak = np.zeros_like(pos)
        peak[1:-1] = (ad[1:-1] > ad[:-2]) & (ad[1:-1] >= ad[2:]) & (ad[1:-1] > 0)
        axes = (1, *range(3, x.ndim))  # sum over paths and space -> (T-2, C)
        M = n * int(np.prod(x.shape[3:], dtype=np.int64))

        def flat(a: np.ndarray) -> np.ndarray:
            # (T-2, n, C, *sp) -> contiguous (T-2, C, M)
            return np.ascontiguousarray(np.moveaxis(a, 2, 1)).reshape(T - 2, C, M)

        y0f, vf, df, adf = flat(y0), flat(v), flat(d), flat(ad)
        posf = flat(pos).astype(np.float64)
        allpf = flat(allp).astype(np.float64)
        allnf = flat(alln).astype(np.float64)
        peakf = flat(peak).astype(np.float64)

        def red(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return np.asarray(np.einsum("tcm,tcm->tc", a, b))

        def accr(name: str, per_t: np.ndarray) -> None:
            s = np.zeros((K, C))
            np.add.at(s, bins, per_t)
            self._sums[name] += s.T

        accr("y", y0f.sum(axis=-1))
        accr("y2", red(y0f, y0f))
        accr("v", vf.sum(axis=-1))
        accr("v2", red(vf, vf))
        accr("yv", red(y0f, vf))
        accr("zero", (y0f == 0).sum(axis=-1).astype(np.float64))
        accr("pos", posf.sum(axis=-1))
        yp = y0f * posf
        vp = vf * posf
        accr("y_p", yp.sum(axis=-1))
        accr("y2_p", red(yp, y0f))
        accr("v_p", vp.sum(axis=-1))
        accr("v2_p", red(vp, vf))
        accr("yv_p", red(yp, vf))
        accr("d_abs", adf.sum(axis=-1))
        accr("d2", red(df, df))
        accr("d", df.sum(axis=-1))
        accr("d_act", (df != 0).sum(axis=-1).astype(np.float64))
        accr("c_yd", red(y0f, df))
        accr("d_abs_p", red(adf, allpf))
        accr("d_abs_n", red(adf, allnf))
        adpk = adf * peakf
        accr("pk", adpk.sum(axis=-1))
        accr("pk_p", red(adpk, allpf))
        accr("pk_n", red(adpk, allnf))
        yp3 = y0f * allpf
        dp3 = df * allpf
        accr("p3", allpf.sum(axis=-1))
        accr("y_p3", yp3.sum(axis=-1))
        accr("y2_p3", red(yp3, y0f))
        accr("d_p3", dp3.sum(axis=-1))
        accr("d2_p3", red(dp3, df))
        accr("yd_p3", red(yp3, df))
        scale_t = np.abs(xf[:-2]) + 2 * np.abs(xf[1:-1]) + np.abs(xf[2:])
        big = np.abs(d) > 1e3 * np.finfo(x.dtype).eps * scale_t
        accr("act_p3", (flat(big) * allpf).sum(axis=-1))
        dd1 = np.zeros((T - 2, C))
        dd1[:-1] = red(df[:-1], df[1:])
        dd2 = np.zeros((T - 2, C))
        dd2[:-2] = red(df[:-2], df[2:])
        accr("dd1", dd1)
        accr("dd2", dd2)
        for lag, name in ((1, "1"), (2, "2")):
            both = allpf[:-lag] * allpf[lag:]
            prod = np.zeros((T - 2, C))
            prod[:-lag] = red(df[:-lag] * both, df[lag:])
            n_both = np.zeros((T - 2, C))
            n_both[:-lag] = both.sum(axis=-1)
            accr("dd" + name + "_p3", prod)
            accr("p3_" + name, n_both)
        vd = np.zeros((T - 2, C))
        vd[1:-1] = 0.5 * (red(vf[1:-1], df[2:]) - red(vf[1:-1], df[:-2]))
        accr("vd", vd)
        # per-position sums over paths, per bin: (C, K, *spatial)
        y64 = np.asarray(y0, dtype=np.float64)
        v64 = np.asarray(v, dtype=np.float64)
        pos64 = pos.astype(np.float64)
        ad_pk = ad * peak
        per_pos = {
            "y": y64, "y2": y64 * y64, "v": v64, "v2": v64 * v64, "yv": y64 * v64,
            "zero": (y64 == 0).astype(np.float64), "pos": pos64, "y_p": y64 * pos64,
            "y2_p": y64 * y64 * pos64, "v_p": v64 * pos64, "v2_p": v64 * v64 * pos64,
            "yv_p": y64 * v64 * pos64, "d_abs": ad, "pk": ad_pk, "d_abs_p": ad * allp,
            "pk_p": ad_pk * allp,
        }
        for name, a in per_pos.items():
            per_tp = np.asarray(a, dtype=np.float64).sum(axis=1)  # (T-2, C, *sp)
            sp = np.zeros((K, *per_tp.shape[1:]))
            np.add.at(sp, bins, per_tp)
            self._pos_sums[name] += np.moveaxis(sp, 0, 1)
        per_t_count = np.full(T - 2, float(n * int(np.prod(x.shape[3:], dtype=np.int64))))
        self._count += np.bincount(bins, weights=per_t_count, minlength=K)
        # spatial neighbours
        for li, off in enumerate(self._lags):
            a_sl, b_sl = _lag_slices(x.shape[3:], off)
            if a_sl is None or b_sl is None:
                continue
            ia: tuple[Any, ...] = (Ellipsis, *a_sl)
            ib: tuple[Any, ...] = (Ellipsis, *b_sl)
            ya, yb = y0[ia], y0[ib]
            va, vb = v[ia], v[ib]
            both = ((ya > 0) & (yb > 0)).astype(np.float64)
            ya_b = ya * both
            va_b = va * both
            for name, per_t in (
                ("l_yy", (ya * yb).sum(axis=axes)), ("l_vv", (va * vb).sum(axis=axes)),
                ("l_pp", both.sum(axis=axes)), ("l_yy_p", (ya_b * yb).sum(axis=axes)),
                ("l_vv_p", (va_b * vb).sum(axis=axes)),
            ):
                sb = np.zeros((K, C))
                np.add.at(sb, bins, per_t)
                self._sums[name][:, :, li] += sb.T
            cnt = float(n * int(np.prod(ya.shape[3:], dtype=np.int64)))
            self._lag_count[:, li] += np.bincount(bins, minlength=K) * cnt
        # channel pairs at the same position
        ys = y0.reshape(T - 2, n, C, -1)
        vs = v.reshape(T - 2, n, C, -1)
        for name, a, b in (("cc_yy", ys, ys), ("cc_vv", vs, vs), ("cc_yv", ys, vs)):
            per_t = np.einsum("tncp,tndp->tcd", a, b, optimize=True)
            s = np.zeros((K, C, C))
            np.add.at(s, bins, per_t)
            self._sums[name] += s
        # the signals' own SMP
        s_run = measure.smp(x, axis=0, mode="run")
        # peaks above rounding noise (a looser noise floor than the default 8 eps)
        n_run = measure.peak_count(x, axis=0, mode="run", tol=1e5 * float(np.finfo(x.dtype).eps))
        s_loc = measure.smp(x, axis=0, mode="local")
        sp_red = (0, *tuple(range(2, x.ndim - 1)))
        self._sums["smp_run"] += s_run.sum(axis=sp_red)
        self._sums["smp_run2"] += (s_run * s_run).sum(axis=sp_red)
        self._sums["smp_loc"] += s_loc.sum(axis=sp_red)
        self._sums["smp_loc2"] += (s_loc * s_loc).sum(axis=sp_red)
        # affine: no second difference above rounding of the signal's own scale
        scale = np.abs(xf).sum(axis=0) * (64.0 * np.finfo(x.dtype).eps)
        self._sums["affine"] += (s_run <= scale).sum(axis=sp_red)
        self._sums["single"] += ((s_run <= scale) | (n_run <= 1)).sum(axis=sp_red)
        a_sum = (ad * allp).sum(axis=0)  # (n, C, *spatial)
        b_sum = (ad * alln).sum(axis=0)
        for name, val in (("surv_p", a_sum), ("surv_n", b_sum), ("surv_p2", a_sum * a_sum),
                          ("surv_n2", b_sum * b_sum), ("surv_pn", a_sum * b_sum)):
            self._sums[name] += val.sum(axis=sp_red)
        self._signals += n

    def merge(self, other: MomentAccumulator) -> None:
        """Add the sums of another accumulator (same T, shape and settings)."""
        if other._T < 0:
            return
        if self._T < 0:
            self._start(other._T, other._shape, other._dtype)
        if (other._T, other._shape, min(other.n_bins, other._T - 2), other.max_lag) != (
            self._T, self._shape, self.n_bins, self.max_lag
        ):
            raise ValueError("other: accumulators differ in T, shape, n_bins or max_lag")
        for k, val in other._sums.items():
            self._sums[k] += val
        for k, val in other._pos_sums.items():
            self._pos_sums[k] += val
        self._count += other._count
        self._lag_count += other._lag_count
        self._signals += other._signals

    def summary(self) -> Summary:
        """The :class:`Summary` of everything added so far."""
        if self._T < 0 or self._signals == 0:
            raise ValueError("no data: add at least one chunk with n > 0 paths first")
        cnt = np.maximum(self._count, 1.0)
        stats: dict[str, np.ndarray] = {}
        for k in STATS:
            stats[k] = self._sums[k] / cnt[None, :]
        # lag products exist only for t + lag <= T - 2: average over those pairs
        sb = sample_bins(self._T, self.n_bins)
        n_t = np.bincount(sb, minlength=self.n_bins).astype(np.float64)
        for k in POS_PAIR_STATS:
            stats[k] = self._sums[k] / cnt[None, :]
        for k, sel in (("dd1", sb[:-1]), ("dd2", sb[:-2]), ("vd", sb[1:-1]),
                       ("dd1_p3", sb[:-1]), ("p3_1", sb[:-1]), ("dd2_p3", sb[:-2]),
                       ("p3_2", sb[:-2])):
            n_pair = np.bincount(sel, minlength=self.n_bins)
            stats[k] = stats[k] * np.where(n_pair > 0, n_t / np.maximum(n_pair, 1), 0.0)
        lc = np.maximum(self._lag_count, 1.0)
        for k in LAG_STATS:
            stats[k] = self._sums[k] / lc[None, :, :]
        spatial = max(int(np.prod(self._shape[1:], dtype=np.int64)), 1)
        for k in CC_STATS:
            stats[k] = self._sums[k] / cnt[:, None, None]
        per_ch = float(self._signals * spatial)
        for k in SMP_STATS:
            stats[k] = self._sums[k] / per_ch
        stats.update(self._position_stats())
        return Summary(
            T=self._T, shape=self._shape, n_bins=self.n_bins, lags=self._lags, stats=stats,
            dtype=self._dtype, n_signals=self._signals,
        )


    def _position_stats(self) -> dict[str, np.ndarray]:
        """Products of per-position means (:data:`POS_STATS`, :data:`POS_LAG_STATS`)."""
        C, K = self._shape[0], self.n_bins
        n_sp = len(self._shape) - 1
        # samples per position and bin: paths x samples in the bin
        per_pos = np.maximum(self._count / max(int(np.prod(self._shape[1:])), 1), 1.0)
        cnt = per_pos.reshape((1, K) + (1,) * n_sp)
        mu = {k: v / cnt for k, v in self._pos_sums.items()}
        sp_axes = tuple(range(2, 2 + n_sp))
        out: dict[str, np.ndarray] = {
            "y2_0": (mu["y"] ** 2).mean(axis=sp_axes) if n_sp else mu["y"] ** 2,
            "v2_0": (mu["v"] ** 2).mean(axis=sp_axes) if n_sp else mu["v"] ** 2,
        }
        if n_sp:
            # position classes: per-position means pooled over the positions of a class
            cls = position_classes(self._shape[1:]).reshape(-1)
            n_cls = (2 * CLASS_BORDER + 1) ** n_sp
            n_in = np.bincount(cls, minlength=n_cls).astype(np.float64)
            for k in CLASS_STATS:
                flat = mu[k].reshape(C, K, -1)
                tot = np.zeros((n_cls, C, K))
                np.add.at(tot, cls, np.moveaxis(flat, -1, 0))
                out["cls_" + k] = np.moveaxis(tot, 0, -1) / np.maximum(n_in, 1.0)
            out["cls_w"] = n_in / n_in.sum()
        nl = len(self._lags)
        for k in POS_LAG_STATS:
            out[k] = np.zeros((C, K, nl))
        pos = mu["pos"]
        ev = mu["v_p"]
        for li, off in enumerate(self._lags):
            a_sl, b_sl = _lag_slices(self._shape[1:], off)
            if a_sl is None or b_sl is None:
                continue
            ia: tuple[Any, ...] = (slice(None), slice(None), *a_sl)
            ib: tuple[Any, ...] = (slice(None), slice(None), *b_sl)
            out["l_yy0"][..., li] = (mu["y"][ia] * mu["y"][ib]).mean(axis=sp_axes)
            out["l_vv0"][..., li] = (mu["v"][ia] * mu["v"][ib]).mean(axis=sp_axes)
            out["l_pp0"][..., li] = (pos[ia] * pos[ib]).mean(axis=sp_axes)
            out["l_vvp0"][..., li] = (ev[ia] * ev[ib]).mean(axis=sp_axes)
        return out


def _lag_slices(
    spatial: tuple[int, ...], off: tuple[int, ...]
) -> tuple[tuple[slice, ...] | None, tuple[slice, ...] | None]:
    a: list[slice] = []
    b: list[slice] = []
    for size, o in zip(spatial, off, strict=True):
        if abs(o) >= size:
            return None, None
        if o >= 0:
            a.append(slice(0, size - o))
            b.append(slice(o, size))
        else:
            a.append(slice(-o, size))
            b.append(slice(0, size + o))
    return tuple(a), tuple(b)


def moments(x: Any, *, n_bins: int = DEFAULT_BINS, max_lag: int = DEFAULT_LAG) -> Summary:
    """Summarise a block input ``x`` of shape (T, n, C, *spatial) (see the module docs).

    Examples
    --------
    >>> t = np.linspace(-1.0, 1.0, 33)[:, None, None]
    >>> s = moments(np.abs(t) + 0.0 * np.ones((1, 2, 1)), n_bins=1)
    >>> float(s.smp_mean("run")[0])   # one kink of slope change 2 / 16
    0.125
    """
    acc = MomentAccumulator(n_bins=n_bins, max_lag=max_lag)
    acc.add(x)
    return acc.summary()
