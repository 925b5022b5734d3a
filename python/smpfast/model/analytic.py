"""The analytic predictor: block-input summaries from the path distribution and the weights.

:func:`summaries` builds the :class:`~smpfast.model.moments.Summary` of the network input
in closed form (linear or squared-exponential Gaussian paths with i.i.d. elements) and
propagates it block by block; each block's predictor (:func:`smpfast.model.blocks.predict`)
then reads the propagated summary exactly as the empirical predictor reads a measured one.
Nothing here looks at signals.

Propagation (per channel and time bin):

* linear blocks: exact means and covariances of value and slope (channel pairs at the
  same position, neighbours up to the summary's lag range; channel pairs at other
  offsets use the channels' mean spatial correlation), a Gaussian approximation of the
  output; second-difference statistics of the output from the sum of independent taps
  (E|d| by the characteristic function, E[d^2], lag products, activity, the local-peak
  factor), and the value-curvature correlation through a bivariate Gaussian;
* ReLU / leaky ReLU / PReLU: rectified-Gaussian moments (closed form) and, for pairs of
  elements or channels, bivariate rectified moments by a 1-D Gauss-Legendre integral with
  the inner expectation in closed form; new kinks at zero crossings from Rice's formula;
  surviving kinks where the input is positive;
* max pooling: the maximum of the window's latent Gaussians by quasi-Monte Carlo over the
  window (value moments, P(i is the max)) and over pairs of windows (the pooled outputs'
  covariance between channels and with their neighbours), where the carried
  cross-covariance function gives the latent covariances (else Clark's moment matching
  and first-order weights); slope covariances by the first-order (Stein) weights;
  rectification carried through (maxpool(relu z) = relu(maxpool z)); the kinks from the
  pooling predictor;
* smooth activations: Gauss-Hermite moments of f(y) and f'(y) y', covariances by the
  first-order (Stein) factor E f'(y); the curvature from the predictor;
* flatten: the same statistics, per feature.

Two things travel with a summary in :attr:`Summary.cache` (analytic summaries only):
the cross-covariance function of the values between channels at spatial offsets up to
:data:`XCOV_RANGE` (:class:`XCov`: the summary itself keeps channel pairs only at the same
position, but a conv sums over pairs at other offsets, and after max pooling those are
far from the channels' mean neighbour correlation), and the per-position means and
variances of a conv output (border windows see fewer taps; with an input of nonzero mean
the positions' means differ, and the next ReLU's summary mixes them as a measured one
does: :func:`_relu_mixture`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _gauss as g
from ._grid import sample_bins, windows
from .blocks import (
    LINEAR_BLOCKS,
    MAXPOOL_BLOCKS,
    RELU_BLOCKS,
    SMOOTH_BLOCKS,
    _Corr,
    _leak,
    _pads,
    _pool_terms,
    _smooth_fn,
    linear_sample_stats,
    predict,
)
from .moments import CC_STATS, DEFAULT_BINS, DEFAULT_LAG, LAG_STATS, STATS, Summary, lag_offsets

__all__ = ["POSMAP_KEY", "XCOV_KEY", "XCov", "input_summary", "propagate", "summaries"]


# ----------------------------------------------------------------------------- input paths
def input_summary(
    path: str,
    shape: Sequence[int],
    T: int,
    *,
    path_kwargs: dict[str, Any] | None = None,
    n_bins: int = DEFAULT_BINS,
    max_lag: int = DEFAULT_LAG,
) -> Summary:
    """Closed-form summary of random paths with i.i.d. elements.

    ``path="linear"``: x_t = (1 - tau) x_a + tau x_b with x_a, x_b ~ N(mean, std^2);
    ``path="gaussian"``: stationary, squared-exponential covariance with ``length_scale``
    (samples). ``path_kwargs``: ``mean``, ``std``, ``length_scale`` (0, 1, 8).

    Examples
    --------
    >>> s = input_summary("linear", (1, 4, 4), 17, n_bins=4)
    >>> float(s["d_abs"].max()), float(s["affine"][0])
    (0.0, 1.0)
    """
    kw = dict(path_kwargs or {})
    mean = float(kw.get("mean", 0.0))
    std = float(kw.get("std", 1.0))
    shape = tuple(int(s) for s in shape)
    if len(shape) == 0:
        raise ValueError("shape must have at least one axis (channels or features)")
    if T < 5:
        raise ValueError(f"T must be at least 5; got {T}")
    C, K = shape[0], min(n_bins, T - 2)
    t = np.arange(1, T - 1)
    bins = sample_bins(T, K)
    cnt = np.maximum(np.bincount(bins, minlength=K), 1)

    def bin_mean(per_t: np.ndarray) -> np.ndarray:
        return np.bincount(bins, weights=per_t, minlength=K) / cnt

    st: dict[str, np.ndarray] = {}
    h = 1.0 / (T - 1)
    if path == "linear":
        tau = t * h
        var_y = std**2 * ((1 - tau) ** 2 + tau**2)
        var_v = np.full(t.shape, 2 * std**2 * h * h)
        cov_yv = h * std**2 * (2 * tau - 1)
        var_d = np.zeros(t.shape)
        cov_yd = np.zeros(t.shape)
        dd = (0.0, 0.0)
        vd = 0.0
        affine = 1.0
    elif path == "gaussian":
        ell = float(kw.get("length_scale", 8.0))

        def k(lag: float) -> float:
            return std**2 * math.exp(-(lag**2) / (2 * ell**2))

        var_y = np.full(t.shape, k(0))
        var_v = np.full(t.shape, (k(0) - k(2)) / 2)
        cov_yv = np.zeros(t.shape)
        var_d = np.full(t.shape, 6 * k(0) - 8 * k(1) + 2 * k(2))
        cov_yd = np.full(t.shape, 2 * k(1) - 2 * k(0))
        c = (1.0, -2.0, 1.0)

        def dcov(j: int) -> float:
            return sum(c[a] * c[b] * k(j + b - a) for a in range(3) for b in range(3))

        dd = (dcov(1), dcov(2))
        # Cov(v_t, d_t+1) = (Cov(y_t+1, d_t+1) - Cov(y_t-1, d_t+1)) / 2
        vd = 0.5 * ((2 * k(1) - 2 * k(0)) - (k(3) - 2 * k(2) + k(1)))
        affine = 0.0
    else:
        raise ValueError(f"path must be 'linear' or 'gaussian'; got {path!r}")
    sd_y = np.sqrt(var_y)
    alpha = mean / sd_y
    pos = g.cdf(alpha)
    ph = g.pdf(alpha)
    per_t = {
        "y": np.full(t.shape, mean),
        "y2": var_y + mean**2,
        "v": np.zeros(t.shape),
        "v2": var_v,
        "yv": cov_yv,
        "zero": np.zeros(t.shape),
        "pos": pos,
        "y_p": mean * pos + sd_y * ph,
        "y2_p": (mean**2 + var_y) * pos + mean * sd_y * ph,
        # v = beta (y - m) + e: E[v 1{y>0}] = beta s pdf(alpha)
        "v_p": cov_yv / sd_y * ph,
        "v2_p": var_v * pos + (cov_yv / sd_y) ** 2 * (-alpha * ph),
        "yv_p": cov_yv * (pos - alpha * ph) + mean * cov_yv / sd_y * ph,
        "d": np.zeros(t.shape),
        "d2": var_d,
        "d_act": (var_d > 0).astype(np.float64),
        "c_yd": cov_yd + 0.0,
        "dd1": np.full(t.shape, dd[0]),
        "dd2": np.full(t.shape, dd[1]),
        "vd": np.full(t.shape, vd),
    }
    sd_d = np.sqrt(var_d)
    per_t["d_abs"] = sd_d * math.sqrt(2 / math.pi)
    dp, dn = _abs_split(np.full(t.shape, mean), sd_y, np.zeros(t.shape), sd_d, cov_yd)
    corr = _straddle(np.full(t.shape, mean), sd_y, np.zeros(t.shape), np.sqrt(var_v), cov_yv,
                     np.zeros(t.shape), sd_d, cov_yd)
    dp, dn = np.maximum(dp - corr, 0.0), np.maximum(dn - corr, 0.0)
    per_t["d_abs_p"], per_t["d_abs_n"] = dp, dn
    per_t.update(_pos_part_moments(np.full(t.shape, mean), sd_y, np.zeros(t.shape), var_d,
                                   cov_yd, (var_d > 0).astype(np.float64)))
    rho1 = dd[0] / max(float(var_d[0]), 1e-300) if var_d[0] > 0 else 0.0
    rho2 = dd[1] / max(float(var_d[0]), 1e-300) if var_d[0] > 0 else 0.0
    factor = float(g.gauss_peak_factor(np.array(rho1), np.array(rho2)))
    edge = np.zeros(t.shape)
    edge[[0, -1]] = 1.0
    per_t["pk"] = per_t["d_abs"] * factor * (1 - edge)
    per_t["pk_p"] = dp * factor * (1 - edge)
    per_t["pk_n"] = dn * factor * (1 - edge)
    for name in STATS:
        st[name] = np.repeat(bin_mean(per_t[name])[None, :], C, axis=0)
    lags = lag_offsets(len(shape) - 1, max_lag)
    nl = len(lags)
    ey = st["y"][:, :, None]
    st["l_yy"] = np.repeat(ey**2, nl, axis=2)
    st["l_vv"] = np.zeros((C, K, nl))
    st["l_pp"] = np.repeat(st["pos"][:, :, None] ** 2, nl, axis=2)
    st["l_yy_p"] = np.repeat(st["y_p"][:, :, None] ** 2, nl, axis=2)
    st["l_vv_p"] = np.repeat(st["v_p"][:, :, None] ** 2, nl, axis=2)
    eye = np.eye(C)[None]
    y2_k, v2_k, yv_k = st["y2"][0], st["v2"][0], st["yv"][0]
    st["cc_yy"] = mean**2 * (1 - eye) + y2_k[:, None, None] * eye
    st["cc_vv"] = v2_k[:, None, None] * eye
    st["cc_yv"] = yv_k[:, None, None] * eye  # E[y v] = 0 across elements (E v = 0)
    # the input's own SMP
    win = windows(T, K)
    d_abs_k = st["d_abs"][0]
    run = float((d_abs_k * win.samples).sum())
    loc = float((st["pk"][0] * win.samples).sum())
    var_run = _abs_sum_var(T, var_d[0] if var_d.size else 0.0, dd, path, kw)
    ratio = loc / run if run > 0 else 0.0
    st["smp_run"] = np.full(C, run)
    st["smp_run2"] = np.full(C, run**2 + var_run)
    st["smp_loc"] = np.full(C, loc)
    st["smp_loc2"] = np.full(C, loc**2 + ratio**2 * var_run)
    st["affine"] = np.full(C, affine)
    st["single"] = np.full(C, affine)
    sv = _surv_sums(T, mean, kw, path)
    for name, val in sv.items():
        st[name] = np.full(C, val)
    out = Summary(T=T, shape=shape, n_bins=K, lags=lags, stats=st, n_signals=0)
    if len(shape) > 1:
        # i.i.d. elements: covariance only at the same element
        xc = XCov(XCOV_RANGE, len(shape) - 1, np.zeros(0), None)
        tab = np.zeros((len(xc.offsets), K, C, C))
        i0 = xc.index((0,) * xc.nd)
        assert i0 is not None
        tab[i0] = np.einsum("ck,cd->kcd", st["y2"] - st["y"] ** 2, np.eye(C))
        xc.yy = tab
        out.cache[XCOV_KEY] = xc
    return out


def _surv_sums(T: int, mean: float, kw: dict[str, Any], path: str) -> dict[str, float]:
    """Per-signal sums of |d| on each side of 0: ``surv_p surv_n surv_p2 surv_n2 surv_pn``.

    A = sum_t |d_t| 1{y_t > 0}, B = sum_t |d_t| 1{y_t < 0} over t = 1 .. T-2 of a
    stationary squared-exponential path: E[A^2] = sum over lags j of (T - 2 - |j|)
    E[|d_0| |d_j| 1{y_0 > 0} 1{y_j > 0}], the 4-variate Gaussian expectation by
    Gauss-Legendre over y_0 and y_j (each side of 0 separately) and Gauss-Hermite over
    (d_0, d_j) given them. Linear paths: all 0.
    """
    names = ("surv_p", "surv_n", "surv_p2", "surv_n2", "surv_pn")
    if path != "gaussian":
        return {k: 0.0 for k in names}
    std = float(kw.get("std", 1.0))
    ell = float(kw.get("length_scale", 8.0))

    def k(lag: float) -> float:
        return std**2 * math.exp(-(lag**2) / (2 * ell**2))

    n = T - 2
    c = (1.0, -2.0, 1.0)

    def cyd(j: int) -> float:  # Cov(y_0, d_j)
        return k(j + 1) - 2 * k(j) + k(j - 1)

    def cdd(j: int) -> float:
        return sum(c[a] * c[b] * k(j + b - a) for a in range(3) for b in range(3))

    xl, wl = g.legendre(24)
    xh, wh = g.hermite(8)
    lim = mean + np.array([-8.0, 0.0, 8.0]) * std
    z0 = min(max(0.0, lim[0]), lim[2])
    sides = [(lim[0], z0), (z0, lim[2])]
    # nodes on each side of 0 (negative side first), weights include the interval length
    ys, ws, sg = [], [], []
    for si, (lo, hi) in enumerate(sides):
        ys.append(lo + (hi - lo) * (xl + 1) / 2)
        ws.append(wl * (hi - lo) / 2)
        sg.append(np.full(xl.shape, si))
    y1 = np.concatenate(ys)
    w1 = np.concatenate(ws)
    s1 = np.concatenate(sg)  # 0: y < 0, 1: y > 0
    var_y = k(0)
    var_d = cdd(0)
    # lag 0: E[d^2 1{y > 0}] etc. (|d_0|^2)
    beta0 = cyd(0) / var_y
    res0 = max(var_d - beta0**2 * var_y, 0.0)
    py = g.pdf((y1 - mean) / std) / std
    ed2 = res0 + (beta0 * (y1 - mean)) ** 2
    m_pp = float((w1 * py * ed2 * (s1 == 1)).sum())
    m_nn = float((w1 * py * ed2 * (s1 == 0)).sum())
    e_abs = np.sqrt(res0) * 2 * g.pdf(beta0 * (y1 - mean) / max(np.sqrt(res0), 1e-300)) + \
        beta0 * (y1 - mean) * (1 - 2 * g.cdf(-beta0 * (y1 - mean) / max(np.sqrt(res0), 1e-300)))
    mean_p = float((w1 * py * e_abs * (s1 == 1)).sum())
    mean_n = float((w1 * py * e_abs * (s1 == 0)).sum())
    tot = {"pp": n * m_pp, "nn": n * m_nn, "pn": 0.0}
    Y0, Y1 = np.meshgrid(y1, y1, indexing="ij")
    W = np.outer(w1, w1)
    S0, S1 = np.meshgrid(s1, s1, indexing="ij")
    for j in range(1, n):
        cyy = np.array([[k(0), k(j)], [k(j), k(0)]])
        if abs(k(j)) > 0.999 * k(0):
            continue  # (never for j >= 1 with a finite length scale and T < 10 ell^2)
        cdy = np.array([[cyd(0), cyd(j)], [cyd(j), cyd(0)]])  # Cov(d_a, y_b)
        cdd2 = np.array([[cdd(0), cdd(j)], [cdd(j), cdd(0)]])
        inv = np.linalg.inv(cyy)
        B = cdy @ inv
        cres = cdd2 - B @ cdy.T
        det = np.linalg.det(cyy)
        dy0, dy1 = Y0 - mean, Y1 - mean
        dens = np.exp(-0.5 * (inv[0, 0] * dy0**2 + 2 * inv[0, 1] * dy0 * dy1
                              + inv[1, 1] * dy1**2)) / (2 * np.pi * np.sqrt(det))
        mu0 = B[0, 0] * dy0 + B[0, 1] * dy1
        mu1 = B[1, 0] * dy0 + B[1, 1] * dy1
        L = np.linalg.cholesky(cres + 1e-18 * np.eye(2))
        e = np.zeros_like(Y0)
        for a, wa in zip(xh, wh, strict=True):
            for b, wb in zip(xh, wh, strict=True):
                d0 = mu0 + L[0, 0] * a
                d1 = mu1 + L[1, 0] * a + L[1, 1] * b
                e += wa * wb * np.abs(d0 * d1)
        f = W * dens * e
        pp = float((f * (S0 == 1) * (S1 == 1)).sum())
        nn = float((f * (S0 == 0) * (S1 == 0)).sum())
        pn = float((f * (S0 == 1) * (S1 == 0)).sum())
        np_ = float((f * (S0 == 0) * (S1 == 1)).sum())
        mult = 2 * (n - j)  # lags +j and -j
        tot["pp"] += mult * pp
        tot["nn"] += mult * nn
        tot["pn"] += (n - j) * (pn + np_)
    return {"surv_p": n * mean_p, "surv_n": n * mean_n, "surv_p2": tot["pp"],
            "surv_n2": tot["nn"], "surv_pn": tot["pn"]}


def _abs_sum_var(
    T: int, var_d: float, dd: tuple[float, float], path: str, kw: dict[str, Any]
) -> float:
    """Var of sum_t |d_t| for a stationary Gaussian d (Cov(|X|,|Y|) for bivariate normals)."""
    if path != "gaussian" or var_d <= 0:
        return 0.0
    std = float(kw.get("std", 1.0))
    ell = float(kw.get("length_scale", 8.0))

    def k(lag: float) -> float:
        return std**2 * math.exp(-(lag**2) / (2 * ell**2))

    c = (1.0, -2.0, 1.0)
    n = T - 2
    total = 0.0
    for j in range(n):
        cov = sum(c[a] * c[b] * k(j + b - a) for a in range(3) for b in range(3))
        rho = max(min(cov / var_d, 1.0), -1.0)
        cab = 2 * var_d / math.pi * (math.sqrt(1 - rho * rho) + rho * math.asin(rho) - 1)
        total += cab * (n if j == 0 else 2 * (n - j))
    return max(total, 0.0)


def _straddle(
    m: np.ndarray, s: np.ndarray, mp: np.ndarray, sp: np.ndarray, cov_yv: np.ndarray,
    md: np.ndarray, sd: np.ndarray, cov_yd: np.ndarray,
) -> np.ndarray:
    """E|d| on the samples next to a zero crossing, per sample, on each side of 0.

    A crossing in a sample interval leaves one sample on each side whose three-sample
    stencil straddles 0; those samples are not in ``d_abs_p`` / ``d_abs_n`` (which need
    the whole stencil on one side). Per sample: (crossings per sample) * E[|d| | y = 0].
    """
    s = np.maximum(s, 1e-300)
    r = np.clip(cov_yv / np.maximum(s * sp, 1e-300), -1.0, 1.0)
    r1, _, _ = g.rice_terms(0.0, m, s, mp, sp, r)
    beta = cov_yd / s**2
    mu_c = md + beta * (0.0 - m)
    sd_c = np.sqrt(np.maximum(sd**2 - beta**2 * s**2, 0.0))
    return np.asarray(r1 * g.abs_moments(mu_c, sd_c)[0])


def _abs_split(
    m: np.ndarray, s: np.ndarray, md: np.ndarray, sd: np.ndarray, cov: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """E[|d| 1{y > 0}] and E[|d| 1{y < 0}] for bivariate Gaussian (y, d)."""
    x, w = g.legendre(48)
    s = np.maximum(s, 1e-300)
    beta = cov / s**2
    sdc = np.sqrt(np.maximum(sd**2 - beta**2 * s**2, 0.0))
    a = np.clip(-m / s, -9.0, 9.0)  # y > 0  <=>  z = (y - m) / s > a
    out = []
    for lo, hi in ((a, np.full(np.shape(a), 9.0)), (np.full(np.shape(a), -9.0), a)):
        z = lo[..., None] + (hi - lo)[..., None] * (x + 1) / 2
        mu = md[..., None] + (beta * s)[..., None] * z
        e = g.abs_moments(mu, np.broadcast_to(sdc[..., None], mu.shape))[0]
        out.append((g.pdf(z) * e * w).sum(-1) * (hi - lo) / 2)
    return out[0], out[1]


# ----------------------------------------------------------------------------- helpers
def _var(st: dict[str, np.ndarray], a: str, a2: str) -> np.ndarray:
    return np.asarray(np.maximum(st[a2] - st[a] ** 2, 0.0))


def _rect_moments(
    m: np.ndarray, s: np.ndarray, mp: np.ndarray, beta: np.ndarray, se2: np.ndarray,
    alpha: np.ndarray,
) -> dict[str, np.ndarray]:
    """Moments of f(y) = y (y > 0), alpha y (y < 0) and of its slope f'(y) v.

    y ~ N(m, s^2), v = mp + beta (y - m) + e, Var e = se2.
    """
    s = np.maximum(s, 1e-300)
    a = m / s
    P = g.cdf(a)
    ph = g.pdf(a)
    Q = 1 - P
    # E[(y-m)^j 1{y>0}], j = 0, 1, 2 ; and the complements
    e0p, e1p, e2p = P, s * ph, s**2 * (P - a * ph)
    e0n, e1n, e2n = Q, -s * ph, s**2 * (Q + a * ph)
    al2 = alpha**2

    def both(fp: np.ndarray, fn: np.ndarray, sq: bool = False) -> np.ndarray:
        return np.asarray(fp + (al2 if sq else alpha) * fn)

    ey = both(m * e0p + e1p, m * e0n + e1n)
    ey2 = both(m * m * e0p + 2 * m * e1p + e2p, m * m * e0n + 2 * m * e1n + e2n, True)
    ev = both(mp * e0p + beta * e1p, mp * e0n + beta * e1n)
    ev2 = both(
        (se2 + mp**2) * e0p + 2 * mp * beta * e1p + beta**2 * e2p,
        (se2 + mp**2) * e0n + 2 * mp * beta * e1n + beta**2 * e2n, True,
    )
    # E[f(y) f'(y) v] = alpha^2 on the negative side too
    eyv = both(
        m * mp * e0p + (m * beta + mp) * e1p + beta * e2p,
        m * mp * e0n + (m * beta + mp) * e1n + beta * e2n, True,
    )
    return {
        "y": ey, "y2": ey2, "v": ev, "v2": ev2, "yv": eyv,
        "pos": P, "y_p": m * e0p + e1p, "y2_p": m * m * e0p + 2 * m * e1p + e2p,
        "v_p": mp * e0p + beta * e1p,
        "v2_p": (se2 + mp**2) * e0p + 2 * mp * beta * e1p + beta**2 * e2p,
        "yv_p": m * mp * e0p + (m * beta + mp) * e1p + beta * e2p,
    }


def _rect_pair(
    m1: np.ndarray, s1: np.ndarray, m2: np.ndarray, s2: np.ndarray, rho: np.ndarray,
    slope1: tuple[np.ndarray, np.ndarray], slope2: tuple[np.ndarray, np.ndarray],
    cov_e: np.ndarray, alpha1: np.ndarray, alpha2: np.ndarray,
) -> dict[str, np.ndarray]:
    """Pair moments of rectified Gaussians: E[f1 f2], E[f1' v1 f2' v2], P(both > 0), ...

    (y1, y2) bivariate Gaussian, v_i = mp_i + beta_i (y_i - m_i) + e_i, Cov(e1, e2) =
    cov_e; f_i has slope 1 above 0 and alpha_i below. A 1-D Gauss-Legendre integral over
    y1 (split at 0) with the expectation over y2 | y1 in closed form.
    """
    x, w = g.legendre(40)
    s1 = np.maximum(s1, 1e-300)
    s2 = np.maximum(s2, 1e-300)
    rho = np.clip(rho, -0.995, 0.995)
    mp1, b1 = slope1
    mp2, b2 = slope2
    res = {k: 0.0 for k in ("ff", "gg", "vv", "pp", "ff_p", "vv_p")}
    out: dict[str, Any] = dict(res)
    lo_all = m1 - 8 * s1
    hi_all = m1 + 8 * s1
    for side in (1, 0):
        if side:
            lo, hi = np.maximum(lo_all, 0.0), np.maximum(hi_all, 0.0)
        else:
            lo, hi = np.minimum(lo_all, 0.0), np.minimum(hi_all, 0.0)
        y1 = lo[..., None] + (hi - lo)[..., None] * (x + 1) / 2
        wq = ((hi - lo) / 2)[..., None] * w
        p1 = g.pdf((y1 - m1[..., None]) / s1[..., None]) / s1[..., None]
        mu = m2[..., None] + (rho * s2 / s1)[..., None] * (y1 - m1[..., None])
        sd = (s2 * np.sqrt(1 - rho**2))[..., None]
        z = mu / sd
        P2 = g.cdf(z)
        relu2 = mu * P2 + sd * g.pdf(z)
        a2 = alpha2[..., None]
        f2 = relu2 + a2 * (mu - relu2)
        g2 = P2 + a2 * (1 - P2)
        f1 = np.where(side, y1, alpha1[..., None] * y1)
        g1 = np.where(side, 1.0, alpha1[..., None])
        A1 = mp1[..., None] + b1[..., None] * (y1 - m1[..., None])
        # E[g2 (mp2 + b2 (y2 - m2)) | y1] = mp2 g2 + b2 (E[g2 y2] - m2 g2), E[g2 y2] = f2
        inner_v = mp2[..., None] * g2 + b2[..., None] * (f2 - m2[..., None] * g2)
        inner_vp = mp2[..., None] * P2 + b2[..., None] * (relu2 - m2[..., None] * P2)
        out["ff"] = out["ff"] + (p1 * f1 * f2 * wq).sum(-1)
        out["gg"] = out["gg"] + (p1 * g1 * g2 * wq).sum(-1)
        out["vv"] = out["vv"] + (p1 * g1 * A1 * inner_v * wq).sum(-1)
        if side:
            out["pp"] = (p1 * P2 * wq).sum(-1)
            out["ff_p"] = (p1 * y1 * relu2 * wq).sum(-1)
            out["vv_p"] = (p1 * A1 * inner_vp * wq).sum(-1)
            pp = out["pp"]
    out["vv"] = out["vv"] + cov_e * out["gg"]
    out["vv_p"] = out["vv_p"] + cov_e * pp
    return {k: np.asarray(v) for k, v in out.items()}


def _finish(
    shape: tuple[int, ...], T: int, K: int, lags: tuple[tuple[int, ...], ...],
    st: dict[str, np.ndarray], block: Any, s_in: Summary, in_shape: tuple[int, ...],
    affine: np.ndarray,
) -> Summary:
    """Add the output's own SMP (the block's prediction) and build the Summary."""
    for mode, a, b in (("run", "smp_run", "smp_run2"), ("local", "smp_loc", "smp_loc2")):
        p = predict(block, s_in, mode, in_shape)
        st[a] = np.asarray(p.mean, dtype=np.float64)
        st[b] = np.asarray(p.second, dtype=np.float64)
    st["affine"] = affine
    if block.name in RELU_BLOCKS:
        st["single"] = np.maximum(s_in.stats["affine"], s_in.stats["single"] * 0)
    elif block.name in ("flatten", "permute", "batch_norm2d"):
        st["single"] = s_in.stats["single"].copy() if block.name != "flatten" else st.get(
            "single", affine)
    else:
        st["single"] = affine.copy()
    return Summary(T=T, shape=shape, n_bins=K, lags=lags, stats=st, n_signals=0)


def _kink_stats(
    rate1: np.ndarray, rate2: np.ndarray, rate0: np.ndarray, T: int, K: int,
    sign: float,
) -> dict[str, np.ndarray]:
    """Per-sample d statistics of new kinks with Rice rates per unit time.

    rate0: kinks per unit time, rate1: E[sum |D|], rate2: E[sum D^2] per unit time.
    A kink at sub-sample position a puts a D and (1 - a) D on two samples.
    """
    win = windows(T, K)
    per = np.maximum(win.samples, 1.0)
    f_run = win.run / per  # intervals' seen weight per sample
    f_loc = win.loc / per
    f_int = win.intervals / per
    return {
        "d_abs": rate1 * f_run,
        "pk": rate1 * f_loc,
        "d2": rate2 * (2.0 / 3.0) * f_int,
        "d": sign * rate1 * f_run,
        "d_act": np.minimum(2 * rate0 * f_int, 1.0),
        "dd1": rate2 / 6.0 * f_int,
        "dd2": np.zeros_like(rate1),
        "vd": np.zeros_like(rate1),
    }


def _mean_curvature(y: np.ndarray, T: int) -> np.ndarray:
    """E[d] per (channel, bin) from the per-bin mean E[y] of a block output.

    E[d[t]] = E[y[t+1]] - 2 E[y[t]] + E[y[t-1]] exactly: the second difference of the mean
    function, y''(tau) h^2 with h = 1 / (T - 1) (finite differences on the bin centres).
    For a pointwise-in-time block on a stationary path the mean is constant and E[d] = 0:
    the convex kinks of a ReLU or a max are balanced by the concave curvature of the
    high values they keep.
    """
    K = y.shape[-1]
    if K < 3:
        return np.zeros_like(y)
    dtau = 1.0 / K
    h = 1.0 / (T - 1)
    d1 = np.gradient(y, dtau, axis=-1, edge_order=2)
    return np.asarray(np.gradient(d1, dtau, axis=-1, edge_order=2) * h * h)


def _pos_part_moments(
    m: np.ndarray, s: np.ndarray, md: np.ndarray, var_d: np.ndarray, cov_yd: np.ndarray,
    act: np.ndarray | float = 1.0,
) -> dict[str, np.ndarray]:
    """``p3 .. act_p3`` for (y, d) jointly Gaussian, with 1{y > 0}; ``act`` = P(d != 0).

    d = md + beta (y - m) + e; E[(y - m)^j 1{y > 0}] = P, s phi(m/s), s^2 (P - (m/s)
    phi(m/s)) for j = 0, 1, 2 (the stencil's three samples are taken on the same side).
    """
    s = np.maximum(s, 1e-300)
    a = m / s
    P, ph = g.cdf(a), g.pdf(a)
    e1, e2 = s * ph, s**2 * (P - a * ph)
    beta = cov_yd / s**2
    ve = np.maximum(var_d - beta**2 * s**2, 0.0)
    return {
        "p3": P, "y_p3": m * P + e1, "y2_p3": m * m * P + 2 * m * e1 + e2,
        "d_p3": md * P + beta * e1,
        "d2_p3": (ve + md**2) * P + 2 * md * beta * e1 + beta**2 * e2,
        "yd_p3": m * md * P + (m * beta + md) * e1 + beta * e2,
        "act_p3": P * act,
    }


def _positive_part(st: dict[str, np.ndarray], m: np.ndarray, s: np.ndarray) -> None:
    """Fill d_abs_p/n, pk_p/n from d_abs, pk and the value-curvature correlation."""
    md = st["d"]
    sd = np.sqrt(np.maximum(st["d2"] - md**2, 0.0))
    cov = st["c_yd"] - st["y"] * md
    dp, dn = _abs_split(m, s, md, sd, cov)
    tot = np.maximum(dp + dn, 1e-300)
    fp = np.where(dp + dn > 0, dp / tot, g.cdf(m / np.maximum(s, 1e-300)))
    # d_abs_p / d_abs_n need the whole stencil on one side of 0: the samples next to a
    # zero crossing are in neither (as in :func:`input_summary`)
    mv = st["v"]
    sv = np.sqrt(np.maximum(st["v2"] - mv**2, 0.0))
    strad = _straddle(m, s, mv, sv, st["yv"] - st["y"] * mv, md, sd, cov)
    scale = np.where(tot > 1e-300, st["d_abs"] / tot, 0.0)
    sp = np.maximum(fp - strad * scale / np.maximum(st["d_abs"], 1e-300), 0.0)
    sn = np.maximum(1 - fp - strad * scale / np.maximum(st["d_abs"], 1e-300), 0.0)
    st["d_abs_p"] = st["d_abs"] * sp
    st["d_abs_n"] = st["d_abs"] * sn
    st["pk_p"] = st["pk"] * sp
    st["pk_n"] = st["pk"] * sn
    st.update(_pos_part_moments(m, s, md, sd**2, cov, st["d_act"]))


# ----------------------------------------------------------------------------- cross-covariances
#: Key of the cross-covariance function in :attr:`Summary.cache` (analytic summaries only).
XCOV_KEY = "analytic_xcov"
#: Spatial range R of the carried cross-covariance function (offsets in [-R, R] per axis).
XCOV_RANGE = 4
#: Quasi-Monte Carlo points (log2) of the max-pooling expectations.
POOL_QMC_LOG2 = 10


class XCov:
    """Cross-covariance function of a block input between channels at spatial offsets.

    ``yy[i]`` (shape (K, C, C)) is Cov(y_c(p), y_d(p + o_i)) for the offsets o_i of
    ``[-R, R] ** nd`` in row-major order (zero beyond R); ``lat`` the same for the latent
    Gaussian before a ReLU (None where the values are not a rectified Gaussian). The
    summary keeps only channel pairs at the same position and each channel's own
    neighbours; a conv sums over channel pairs at other offsets too, so the analytic
    propagation carries the whole function (exactly through linear blocks and ReLUs,
    by quasi-Monte Carlo through max pooling) in :attr:`Summary.cache`.

    Examples
    --------
    >>> xc = XCov(1, 1, np.zeros((3, 2, 1, 1)), None)
    >>> xc.index((1,)), xc.get("yy", (5,)).shape
    (2, (2, 1, 1))
    """

    def __init__(self, R: int, nd: int, yy: np.ndarray, lat: np.ndarray | None) -> None:
        self.R, self.nd, self.yy, self.lat = int(R), int(nd), yy, lat
        self.offsets = [tuple(int(o) - self.R for o in ix)
                        for ix in np.ndindex(*((2 * self.R + 1,) * self.nd))]

    def index(self, off: tuple[int, ...]) -> int | None:
        """Row of ``off`` in the tables (None beyond the range)."""
        if len(off) != self.nd or any(abs(o) > self.R for o in off):
            return None
        i = 0
        for o in off:
            i = i * (2 * self.R + 1) + o + self.R
        return i

    def get(self, which: str, off: tuple[int, ...]) -> np.ndarray:
        """(K, C, C) covariance ``which`` ("yy" or "lat") at ``off`` (zeros beyond R)."""
        tab = self.yy if which == "yy" else self.lat
        if tab is None:
            raise ValueError(f"which: no {which!r} table in this cross-covariance")
        i = self.index(off)
        return np.zeros(tab.shape[1:]) if i is None else tab[i]


def _xcov(s: Summary) -> XCov | None:
    xc = s.cache.get(XCOV_KEY)
    if isinstance(xc, XCov) and xc.nd == len(s.shape) - 1 and xc.yy.shape[1:] == (
            s.n_bins, s.channels, s.channels):
        return xc
    return None


def _sym_fill(tab: np.ndarray, xc_offsets: list[tuple[int, ...]], index: Any) -> None:
    """Fill Cov(-o) = Cov(o)^T for the offsets left at NaN."""
    for i, off in enumerate(xc_offsets):
        if np.isnan(tab[i]).any():
            j = index(tuple(-o for o in off))
            tab[i] = np.swapaxes(tab[j], 1, 2)


def _xcov_linear(
    W: np.ndarray, pos: list[tuple[int, ...]], stride: tuple[int, ...], cm: _CovModel,
    frac: np.ndarray | float, cyy0: np.ndarray,
) -> XCov:
    """Output cross-covariance of a conv / average pool: sum of W_i Cov(off) W_j^T."""
    nd = len(stride)
    R = XCOV_RANGE
    out = XCov(R, nd, np.zeros((0,)), None)
    K = cyy0.shape[0]
    c_out = W.shape[0]
    # group tap pairs by their offset difference
    groups: dict[tuple[int, ...], np.ndarray] = {}
    for i, p1 in enumerate(pos):
        for j, p2 in enumerate(pos):
            dlt = tuple(b - a for a, b in zip(p1, p2, strict=True))
            term = np.einsum("oc,ed->ocde", W[:, :, i], W[:, :, j])
            groups[dlt] = groups[dlt] + term if dlt in groups else term
    deltas = list(groups)
    A = np.stack([groups[d] for d in deltas])  # (n_delta, O, C, C, O)
    tab = np.full((len(out.offsets), K, c_out, c_out), np.nan)
    cin_cache: dict[tuple[int, ...], np.ndarray] = {}

    def cin(off: tuple[int, ...]) -> np.ndarray:
        if off not in cin_cache:
            cin_cache[off] = cm.cov("yy", off)
        return cin_cache[off]

    for i, off in enumerate(out.offsets):
        if any(o < 0 for o in off[:1]) or (off and off[0] == 0 and any(o < 0 for o in off[1:])):
            continue  # the mirrored half: Cov(-o) = Cov(o)^T below
        ins = [tuple(o * s + d for o, s, d in zip(off, stride, dl, strict=True)) for dl in deltas]
        C_in = np.stack([cin(x) for x in ins])  # (n_delta, K, C, C)
        tab[i] = np.einsum("xocde,xkcd->koe", A, C_in, optimize=True) * frac
    _sym_fill(tab, out.offsets, out.index)
    i0 = out.index((0,) * nd)
    assert i0 is not None
    tab[i0] = cyy0
    out.yy = tab
    return out


def _xcov_rect(
    xc_in: XCov, m: np.ndarray, sd: np.ndarray, alpha: np.ndarray, cyy0: np.ndarray,
) -> XCov:
    """Cross-covariance of f(z) (slope 1 above 0, ``alpha`` below) for Gaussian z.

    The bivariate rectified moments E[f(z_c) f(z_d')] (:func:`_rect_pair`) at every
    offset and channel pair; ``lat`` keeps z's function when f is a ReLU (alpha = 0).
    """
    n_off, K, C, _ = xc_in.yy.shape
    mT, sT, aT = m.T, np.maximum(sd.T, 1e-300), alpha.T  # (K, C)
    shp = (n_off, K, C, C)
    m1 = np.broadcast_to(mT[None, :, :, None], shp)
    s1 = np.broadcast_to(sT[None, :, :, None], shp)
    m2 = np.broadcast_to(mT[None, :, None, :], shp)
    s2 = np.broadcast_to(sT[None, :, None, :], shp)
    a1 = np.broadcast_to(aT[None, :, :, None], shp)
    a2 = np.broadcast_to(aT[None, :, None, :], shp)
    rho = xc_in.yy / (s1 * s2)
    z = np.zeros(shp)
    pr = _rect_pair(m1, s1, m2, s2, rho, (z, z), (z, z), z, a1, a2)
    mom = _rect_moments(m, sd, np.zeros_like(m), np.zeros_like(m), np.zeros_like(m), alpha)
    fT = mom["y"].T
    tab = pr["ff"] - fT[None, :, :, None] * fT[None, :, None, :]
    tab = np.where(np.abs(rho) < 1e-12, 0.0, tab)  # uncorrelated: independent
    out = XCov(xc_in.R, xc_in.nd, tab, xc_in.yy if bool(np.all(alpha == 0)) else None)
    i0 = out.index((0,) * out.nd)
    assert i0 is not None
    tab[i0] = cyy0
    return out


def _qmc_normal(dim: int) -> np.ndarray:
    """Fixed quasi-random standard normal points, shape (2 ** POOL_QMC_LOG2, dim).

    A scrambled Sobol sequence with a fixed seed, mapped through the normal quantile: a
    deterministic cubature rule.
    """
    key = ("qmc", dim)
    if key not in _QMC_CACHE:
        from scipy.special import ndtri
        from scipy.stats import qmc

        u = qmc.Sobol(d=dim, scramble=True, seed=12345).random_base2(POOL_QMC_LOG2)
        _QMC_CACHE[key] = ndtri(np.clip(u, 1e-12, 1 - 1e-12))
    return _QMC_CACHE[key]


_QMC_CACHE: dict[tuple[str, int], np.ndarray] = {}


def _chol(S: np.ndarray) -> np.ndarray:
    """Cholesky factors of a stack of covariance matrices (a small ridge where singular)."""
    n = S.shape[-1]
    scale = np.maximum(np.einsum("...ii->...", S) / n, 1e-300)[..., None, None]
    ridge = 1e-9 * scale * np.eye(n)
    for _ in range(6):
        try:
            return np.asarray(np.linalg.cholesky(S + ridge))
        except np.linalg.LinAlgError:
            ridge = ridge * 100.0
    w, V = np.linalg.eigh(S)
    return np.asarray(V * np.sqrt(np.maximum(w, 0.0))[..., None, :])


class _PoolQMC:
    """Expectations of pooled values by quasi-Monte Carlo over the windows' latent Gaussians.

    The pooled value is max_i z_i over a window, rectified (max(., 0)) where the input is
    a rectified Gaussian (maxpool(relu z) = relu(maxpool z)); z is Gaussian with the
    latent means, standard deviations and cross-covariance function. Single windows give
    the value moments and P(i is the max) exactly (up to the cubature); pairs of windows
    (two channels, or a window and its neighbour ``o`` outputs away) give the pooled
    cross-covariance, which Clark's pairwise fold and first-order weights underestimate
    (the maxima of two correlated windows are more alike than their argmaxes' values).
    """

    def __init__(
        self, m: np.ndarray, s: np.ndarray, rect: np.ndarray, lat: XCov | None,
        lat_tab: np.ndarray, elems: list[tuple[int, ...]], stride: tuple[int, ...],
    ) -> None:
        self.m, self.s, self.rect = m.T, s.T, rect.T  # (K, C)
        self.tab = lat_tab  # (n_off, K, C, C) latent covariance
        self.xc = lat
        self.elems = elems
        self.stride = stride
        K = self.m.shape[0]
        # stationary inputs: every bin alike, integrate one
        same = all(np.allclose(a, a[:1], rtol=1e-10, atol=1e-14)
                   for a in (self.m, self.s, self.rect.astype(float)))
        same = same and bool(np.allclose(self.tab, self.tab[:, :1], rtol=1e-10, atol=1e-14))
        self.kk = slice(0, 1) if same else slice(0, K)
        self.K = K

    def _cov(self, off: tuple[int, ...]) -> np.ndarray:
        assert self.xc is not None
        i = self.xc.index(off)
        return np.zeros(self.tab.shape[1:])[self.kk] if i is None else self.tab[i][self.kk]

    def _expand(self, a: np.ndarray) -> np.ndarray:
        return np.asarray(np.broadcast_to(a, (self.K, *a.shape[1:])) if a.shape[0] == 1 and
                          self.K > 1 else a)

    def _window_cov(self) -> np.ndarray:
        k = len(self.elems)
        Kb, C = self.m[self.kk].shape
        S = np.zeros((Kb, C, k, k))
        idx = np.arange(C)
        for a, ea in enumerate(self.elems):
            for b, eb in enumerate(self.elems):
                off = tuple(y - x for x, y in zip(ea, eb, strict=True))
                S[:, :, a, b] = self._cov(off)[:, idx, idx]
        return S

    def _values(self, z: np.ndarray, rect: np.ndarray) -> np.ndarray:
        M = z.max(axis=-1)
        return np.asarray(np.where(rect[..., None], np.maximum(M, 0.0), M))

    def single(self) -> dict[str, np.ndarray]:
        """Per (C, K): value moments of the pooled output and P(element i is the max)."""
        k = len(self.elems)
        S = self._window_cov()
        L = _chol(S)
        u = _qmc_normal(2 * k)[:, :k]
        m, rect = self.m[self.kk], self.rect[self.kk]
        z = m[..., None, None] + u @ np.swapaxes(L, -1, -2)  # (Kb, C, N, k)
        M = z.max(axis=-1)
        R = np.where(rect[..., None], np.maximum(M, 0.0), M)
        Rp = np.maximum(M, 0.0)
        am = z.argmax(axis=-1)
        out = {
            "y": R.mean(-1), "y2": (R * R).mean(-1), "pos": (M > 0).mean(-1),
            "y_p": Rp.mean(-1), "y2_p": (Rp * Rp).mean(-1),
            "mM": M.mean(-1), "vM": M.var(-1),
        }
        res = {kk: self._expand(v).T for kk, v in out.items()}
        res["w"] = np.stack([self._expand((am == a).mean(-1)).T for a in range(k)])
        self._L1 = L
        self._R1 = R
        return res

    def pair_cov(self, out_off: tuple[int, ...]) -> dict[str, np.ndarray]:
        """(K, C, C) Cov(y_c(p), y_d(p + o)), P(both > 0) and E[y_c y_d 1{both > 0}]."""
        k = len(self.elems)
        Kb, C = self.m[self.kk].shape
        S = np.zeros((Kb, C, C, 2 * k, 2 * k))
        Sw = self._window_cov()
        S[:, :, :, :k, :k] = Sw[:, :, None]
        S[:, :, :, k:, k:] = Sw[:, None, :]
        for a, ea in enumerate(self.elems):
            for b, eb in enumerate(self.elems):
                off = tuple(o * st + y - x for o, st, x, y in zip(out_off, self.stride, ea, eb,
                                                                strict=True))
                cv = self._cov(off)  # (Kb, C, C)
                S[:, :, :, a, k + b] = cv
                S[:, :, :, k + b, a] = cv
        L = _chol(S)
        u = _qmc_normal(2 * k)
        m, rect = self.m[self.kk], self.rect[self.kk]
        mu = np.concatenate([np.broadcast_to(m[:, :, None, None], (Kb, C, C, k)),
                             np.broadcast_to(m[:, None, :, None], (Kb, C, C, k))], axis=-1)
        cov = np.zeros((Kb, C, C))
        pp = np.zeros((Kb, C, C))
        ffp = np.zeros((Kb, C, C))
        step = max(1, int(2e6 // max(C * C * u.shape[0] * 2 * k, 1)))
        for k0 in range(0, Kb, step):
            sl = slice(k0, min(Kb, k0 + step))
            z = mu[sl, ..., None, :] + u @ np.swapaxes(L[sl], -1, -2)
            M1, M2 = z[..., :k].max(-1), z[..., k:].max(-1)
            R1 = np.where(rect[sl, :, None, None], np.maximum(M1, 0.0), M1)
            R2 = np.where(rect[sl, None, :, None], np.maximum(M2, 0.0), M2)
            both = (M1 > 0) & (M2 > 0)
            cov[sl] = (R1 * R2).mean(-1) - R1.mean(-1) * R2.mean(-1)
            pp[sl] = both.mean(-1)
            ffp[sl] = (R1 * R2 * both).mean(-1)
        # uncorrelated windows: independent (no cubature noise)
        cov = np.where(np.abs(S[..., :k, k:]).max(axis=(-2, -1)) > 0, cov, 0.0)
        return {"cov": self._expand(cov), "pp": self._expand(pp), "ff_p": self._expand(ffp)}


# ----------------------------------------------------------------------------- covariances
class _CovModel:
    """Covariances of an input's values and slopes between (channel, position) pairs."""

    def __init__(self, s: Summary) -> None:
        st = s.stats
        self.s = s
        self.nd = len(s.shape) - 1
        self.my, self.mv = st["y"], st["v"]  # (C, K)
        self.cc = {
            "yy": st["cc_yy"] - np.einsum("ck,dk->kcd", self.my, self.my),
            "vv": st["cc_vv"] - np.einsum("ck,dk->kcd", self.mv, self.mv),
            "yv": st["cc_yv"] - np.einsum("ck,dk->kcd", self.my, self.mv),
        }
        var_y = np.maximum(_var(st, "y", "y2"), 1e-300)
        var_v = np.maximum(_var(st, "v", "v2"), 1e-300)
        self.lag_cov = {
            "yy": st["l_yy"] - self.my[..., None] ** 2,
            "vv": st["l_vv"] - self.mv[..., None] ** 2,
        }
        self.lag_rho = {
            "yy": (self.lag_cov["yy"] / var_y[..., None]).mean(axis=0),  # (K, nl)
            "vv": (self.lag_cov["vv"] / var_v[..., None]).mean(axis=0),
        }
        self.lag_rho["yv"] = 0.5 * (self.lag_rho["yy"] + self.lag_rho["vv"])
        self.xc = _xcov(s)

    def cov(self, kind: str, off: tuple[int, ...]) -> np.ndarray:
        """(K, C, C) covariance of kind "yy", "vv" or "yv" at spatial offset ``off``.

        Values ("yy") from the carried cross-covariance function where the summary has
        one (analytic summaries); otherwise, and for slopes, the channel pairs at other
        offsets use the channels' mean neighbour correlation.
        """
        base: np.ndarray = self.cc[kind]
        if all(o == 0 for o in off):
            return base
        if kind == "yy" and self.xc is not None:
            return self.xc.get("yy", off)
        li = _lag_idx(self.s.lags, off)
        if li is None:
            return np.zeros(base.shape)
        rho = self.lag_rho[kind][:, li]  # (K,)
        out: np.ndarray = base * rho[:, None, None]
        if kind in self.lag_cov:
            C = base.shape[1]
            idx = np.arange(C)
            out[:, idx, idx] = self.lag_cov[kind][:, :, li].T
        return out


def _lag_idx(lags: tuple[tuple[int, ...], ...], off: tuple[int, ...]) -> int | None:
    if off in lags:
        return lags.index(off)
    neg = tuple(-o for o in off)
    if neg in lags:
        return lags.index(neg)
    return None


# ----------------------------------------------------------------------------- linear maps
def _linear_geometry(
    block: Any, in_shape: tuple[int, ...]
) -> tuple[np.ndarray, list[tuple[int, ...]], np.ndarray, tuple[int, ...]]:
    """Dense weights (C_out, C_in, n_pos), kernel positions, bias, stride."""
    name = block.name
    C = in_shape[0]
    nd = len(in_shape) - 1
    if name == "linear":
        return (np.asarray(block.weight, np.float64)[:, :, None], [()],
                _bias(block, block.weight.shape[0]), ())  # fmt: skip
    if name == "batch_norm2d":
        scale = np.asarray(block.weight, np.float64) / np.sqrt(
            np.asarray(block.running_var, np.float64) + block.eps
        )
        bias = np.asarray(block.bias, np.float64) - np.asarray(
            block.running_mean, np.float64) * scale
        return np.diag(scale)[:, :, None], [(0,) * nd], bias, (1,) * nd
    kernel = tuple(block.kernel_size)
    if name in ("conv2d", "conv1d"):
        w = np.asarray(block.weight, np.float64)
        groups = int(block.groups)
        dil = tuple(block.dilation)
        c_out, c_per = w.shape[:2]
        dense = np.zeros((c_out, C, int(np.prod(kernel))))
        per_g = c_out // groups
        for co in range(c_out):
            gi = co // per_g
            dense[co, gi * c_per:(gi + 1) * c_per] = w[co].reshape(c_per, -1)
        bias = _bias(block, c_out)
    else:
        dil = (1,) * nd
        dense = np.zeros((C, C, int(np.prod(kernel))))
        for c in range(C):
            dense[c, c] = 1.0 / np.prod(kernel)
        bias = np.zeros(C)
    pos = [tuple(int(i) * d for i, d in zip(ix, dil, strict=True))
           for ix in np.ndindex(*kernel)]  # fmt: skip
    return dense, pos, bias, tuple(block.stride)


def _bias(block: Any, n: int) -> np.ndarray:
    b = getattr(block, "bias", None)
    return np.zeros(n) if b is None else np.asarray(b, np.float64)


def _propagate_linear(
    block: Any, s: Summary, in_shape: tuple[int, ...], out_shape: tuple[int, ...]
) -> Summary:
    T, K = s.T, s.n_bins
    st_in = s.stats
    W, pos, bias, stride = _linear_geometry(block, in_shape)
    c_out = W.shape[0]
    cm = _CovModel(s)
    nd_out = len(out_shape) - 1
    lags = lag_offsets(nd_out, _max_lag(s))
    st: dict[str, np.ndarray] = {}
    if block.name == "linear":
        # features: full covariance from cc (no spatial axes)
        mean_y = np.einsum("oc,ck->ok", W[:, :, 0], cm.my) + bias[:, None]
        mean_v = np.einsum("oc,ck->ok", W[:, :, 0], cm.mv)
    else:
        # interior mean; border windows see fewer taps (mean of a zero-mean-weight conv is
        # dominated by the bias and the channel means)
        share = _inside_share(block, in_shape, out_shape, pos)
        mean_y = np.einsum("ocp,ck,p->ok", W, cm.my, share) + bias[:, None]
        mean_v = np.einsum("ocp,ck,p->ok", W, cm.mv, share)

    def out_cov(kind: str, out_off: tuple[int, ...], diag_only: bool) -> np.ndarray:
        acc = np.zeros((K, c_out, c_out))
        for i, p1 in enumerate(pos):
            for j, p2 in enumerate(pos):
                off = tuple(oo * ss + b - a for oo, ss, a, b in zip(out_off, stride, p1, p2,
                                                                     strict=True))
                cv = cm.cov(kind, off)
                if not np.any(cv):
                    continue
                if diag_only:
                    acc[:, np.arange(c_out), np.arange(c_out)] += np.einsum(
                        "oc,kcd,od->ko", W[:, :, i], cv, W[:, :, j])
                else:
                    acc += np.einsum("oc,kcd,ed->koe", W[:, :, i], cv, W[:, :, j])
        return acc

    zero_off = (0,) * (len(pos[0]) if pos else 0)
    frac = _border_var_factor(block, in_shape, out_shape, pos)
    cyy = out_cov("yy", zero_off, False) * frac
    cvv = out_cov("vv", zero_off, False) * frac
    cyv = out_cov("yv", zero_off, False) * frac
    idx = np.arange(c_out)
    var_y = cyy[:, idx, idx].T
    var_v = cvv[:, idx, idx].T
    cov_yv = cyv[:, idx, idx].T
    st["y"], st["y2"] = mean_y, var_y + mean_y**2
    st["v"], st["v2"] = mean_v, var_v + mean_v**2
    st["yv"] = cov_yv + mean_y * mean_v
    st["cc_yy"] = cyy + np.einsum("ck,dk->kcd", mean_y, mean_y)
    st["cc_vv"] = cvv + np.einsum("ck,dk->kcd", mean_v, mean_v)
    st["cc_yv"] = cyv + np.einsum("ck,dk->kcd", mean_y, mean_v)
    sd_y = np.sqrt(var_y)
    beta = cov_yv / np.maximum(var_y, 1e-300)
    se2 = np.maximum(var_v - beta * cov_yv, 0.0)
    mom = _rect_moments(mean_y, sd_y, mean_v, beta, se2, np.ones((c_out, 1)))
    for k in ("pos", "y_p", "y2_p", "v_p", "v2_p", "yv_p"):
        st[k] = mom[k]
    st["zero"] = np.zeros((c_out, K))
    # neighbours of the output
    nl = len(lags)
    for k in LAG_STATS:
        st[k] = np.zeros((c_out, K, nl))
    for li, off in enumerate(lags):
        ly = out_cov("yy", off, True)[:, idx, idx].T
        lv = out_cov("vv", off, True)[:, idx, idx].T
        st["l_yy"][:, :, li] = ly + mean_y**2
        st["l_vv"][:, :, li] = lv + mean_v**2
        rho = ly / np.maximum(var_y, 1e-300)
        rv = lv / np.maximum(var_v, 1e-300)
        pr = _rect_pair(mean_y, sd_y, mean_y, sd_y, rho, (mean_v, beta), (mean_v, beta),
                        rv * var_v - beta**2 * ly, np.zeros_like(mean_y), np.zeros_like(mean_y))
        st["l_pp"][:, :, li] = pr["pp"]
        st["l_yy_p"][:, :, li] = pr["ff_p"]
        st["l_vv_p"][:, :, li] = pr["vv_p"]
    # second differences
    classes = linear_sample_stats(block, s, in_shape)
    e_abs = sum(cl["share"] * cl["e_abs"] for cl in classes)
    pk = sum(cl["share"] * cl["e_abs"] * cl["loc"] for cl in classes)
    # border windows see fewer taps: the mean by the taps' inside share, the (co)variances
    # by the mean fraction of taps inside (as for value and slope above)
    if block.name == "linear":
        wsum2 = (W**2).sum(axis=2)  # (C_out, C_in)
        wsum = W.sum(axis=2)
    else:
        wsum2 = (W**2).sum(axis=2) * frac
        wsum = np.einsum("ocp,p->oc", W, share)
    st["d_abs"] = np.asarray(e_abs)
    st["pk"] = np.asarray(pk)
    st["d"] = wsum @ st_in["d"]
    var_d_in = np.maximum(st_in["d2"] - st_in["d"] ** 2, 0.0)
    st["d2"] = wsum2 @ var_d_in + st["d"] ** 2
    st["dd1"] = wsum2 @ (st_in["dd1"] - st_in["d"] ** 2) + st["d"] ** 2
    st["dd2"] = wsum2 @ (st_in["dd2"] - st_in["d"] ** 2) + st["d"] ** 2
    st["vd"] = wsum2 @ st_in["vd"]
    q = np.clip(st_in["d_act"], 0.0, 1.0 - 1e-12)
    nz = (np.abs(W) > 0).sum(axis=2)  # taps per input channel
    st["d_act"] = 1 - np.exp(nz @ np.log1p(-q))
    st["c_yd"] = wsum2 @ (st_in["c_yd"] - st_in["y"] * st_in["d"]) + mean_y * st["d"]
    _positive_part(st, mean_y, sd_y)
    affine = np.full(c_out, float(np.min(st_in["affine"])))
    out = _finish(out_shape, T, K, lags, st, block, s, in_shape, affine)
    if block.name != "linear" and nd_out >= 1 and len(stride) == nd_out:
        out.cache[XCOV_KEY] = _xcov_linear(W, pos, stride, cm, frac, cyy)
        out.cache[POSMAP_KEY] = _position_map(block, in_shape, out_shape, pos, W, bias, cm.my,
                                              _var(st_in, "y", "y2"), mean_y, var_y)
    return out


def _max_lag(s: Summary) -> int:
    return max((max(abs(o) for o in off) for off in s.lags), default=DEFAULT_LAG)


def _inside_share(
    block: Any, in_shape: tuple[int, ...], out_shape: tuple[int, ...], pos: list[tuple[int, ...]]
) -> np.ndarray:
    """Fraction of output positions for which each kernel position falls inside the input."""
    if block.name == "batch_norm2d":
        return np.ones(len(pos))
    pads = _pads(block, tuple(in_shape[1:])) if block.name.startswith("conv") else tuple(
        (p, p) for p in block.padding)
    stride = tuple(block.stride)
    share = np.ones(len(pos))
    for i, p in enumerate(pos):
        for ax, (n_in, n_out, st, (lo, _)) in enumerate(
            zip(in_shape[1:], out_shape[1:], stride, pads, strict=True)
        ):
            o = np.arange(n_out)
            idx = o * st - lo + p[ax]
            share[i] *= float(np.mean((idx >= 0) & (idx < n_in)))
    return share


#: Key of the per-position value means and variances in :attr:`Summary.cache`.
POSMAP_KEY = "analytic_posmap"


def _position_map(
    block: Any, in_shape: tuple[int, ...], out_shape: tuple[int, ...],
    pos: list[tuple[int, ...]], W: np.ndarray, bias: np.ndarray, my_in: np.ndarray,
    var_in: np.ndarray, mean_y: np.ndarray, var_y: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-position mean and variance of a conv output, shape (C_out, K, *spatial_out).

    Border windows see fewer taps: the mean there is the bias plus the inside taps'
    share of the channel means (exact for an input of uniform mean), the variance the
    inside taps' share of sum w^2 Var (exact for uncorrelated taps), rescaled so that the
    average over positions is the summary's variance. The summary of a conv output keeps
    per-channel moments; the measured summary of the next block's input (a ReLU's)
    mixes positions of different means, and so must the analytic one.
    """
    sp_out = tuple(out_shape[1:])
    if block.name == "batch_norm2d":
        inside = np.ones((len(pos), *sp_out), dtype=bool)
    else:
        pads = _pads(block, tuple(in_shape[1:])) if block.name.startswith("conv") else tuple(
            (p, p) for p in block.padding)
        stride = tuple(block.stride)
        inside = np.ones((len(pos), *sp_out), dtype=bool)
        for i, p in enumerate(pos):
            for ax, (n_in, n_out, st_, (lo, _)) in enumerate(
                zip(in_shape[1:], out_shape[1:], stride, pads, strict=True)
            ):
                o = np.arange(n_out)
                ok = (o * st_ - lo + p[ax] >= 0) & (o * st_ - lo + p[ax] < n_in)
                shp = [1] * len(sp_out)
                shp[ax] = n_out
                inside[i] &= ok.reshape(shp)
    ins = inside.reshape(len(pos), -1).astype(np.float64)  # (taps, P)
    mu = np.einsum("ocp,ck,pq->okq", W, my_in, ins) + bias[:, None, None]
    w2 = np.einsum("ocp,ck->okp", W**2, np.maximum(var_in, 0.0))
    g = np.einsum("okp,pq->okq", w2, ins)
    g = g / np.maximum(g.mean(axis=-1, keepdims=True), 1e-300)
    var = var_y[..., None] * g
    # keep the summary's mean (the average of the map)
    mu = mu - mu.mean(axis=-1, keepdims=True) + mean_y[..., None]
    return mu.reshape(*mu.shape[:2], *sp_out), var.reshape(*var.shape[:2], *sp_out)


def _border_var_factor(
    block: Any, in_shape: tuple[int, ...], out_shape: tuple[int, ...], pos: list[tuple[int, ...]]
) -> np.ndarray | float:
    """Mean over output positions of the fraction of the variance kept at the borders.

    Exact for uncorrelated taps of equal variance (the fraction of taps inside); used as a
    per-output multiplier of the interior covariance.
    """
    if block.name in ("linear", "batch_norm2d") or not pos:
        return 1.0
    return float(np.mean(_inside_share(block, in_shape, out_shape, pos)))


# ----------------------------------------------------------------------------- ReLU family
def _latent_params(s: Summary) -> dict[str, np.ndarray]:
    lat = s.latent()
    m, sd, mp, sp, r = lat["m"], lat["s"], lat["mp"], lat["sp"], lat["r"]
    beta = r * sp / np.maximum(sd, 1e-300)
    se2 = np.maximum(sp**2 * (1 - r**2), 0.0)
    return {"m": m, "s": sd, "mp": mp, "sp": sp, "r": r, "beta": beta, "se2": se2,
            "rect": lat["rect"]}  # fmt: skip


def _central_slope_moments(
    m: np.ndarray, s: np.ndarray, mp: np.ndarray, beta: np.ndarray, se2: np.ndarray,
    md: np.ndarray, gam: np.ndarray, sec2: np.ndarray, alpha: np.ndarray,
) -> dict[str, np.ndarray]:
    """Moments of the central-difference slope of f(y) (slope 1 above 0, ``alpha`` below).

    With y[t -+ 1] = y -+ v + c / 2 and (y, v, c) Gaussian (v = mp + beta (y - m) + e_v,
    c = md + gam (y - m) + e_c, independent residuals): v_out = (f(y[t+1]) - f(y[t-1])) / 2.
    Returns ``v v2 yv v_p v2_p yv_p`` (the ``_p`` ones times 1{y > 0}): Gauss-Legendre in
    y on each side of 0, Gauss-Hermite in the residuals.
    """
    xl, wl = g.legendre(32)
    xv, wv = g.hermite(16)
    xc, wc = g.hermite(8)
    s = np.maximum(s, 1e-300)
    out = {k: np.zeros_like(m) for k in ("v", "v2", "yv", "v_p", "v2_p", "yv_p")}
    lo_all, hi_all = m - 8 * s, m + 8 * s
    a = alpha[..., None, None, None]

    def f(z: np.ndarray) -> np.ndarray:
        return np.asarray(np.where(z > 0, z, a * z))

    for side in (0, 1):
        lo = np.where(side, np.maximum(lo_all, 0.0), np.minimum(lo_all, 0.0))
        hi = np.where(side, np.maximum(hi_all, 0.0), np.minimum(hi_all, 0.0))
        y = lo[..., None] + (hi - lo)[..., None] * (xl + 1) / 2  # (C, K, n)
        wy = ((hi - lo) / 2)[..., None] * wl * g.pdf((y - m[..., None]) / s[..., None]) / s[
            ..., None]
        dev = y - m[..., None]
        yy = y[..., None, None]
        v = (mp[..., None] + beta[..., None] * dev)[..., None, None] + np.sqrt(se2)[
            ..., None, None, None] * xv[:, None]
        c = (md[..., None] + gam[..., None] * dev)[..., None, None] + np.sqrt(sec2)[
            ..., None, None, None] * xc[None, :]
        vo = 0.5 * (f(yy + v + c / 2) - f(yy - v + c / 2))
        fy = f(yy)
        w = wy[..., None, None] * wv[:, None] * wc[None, :]
        mom = {"v": vo, "v2": vo * vo, "yv": fy * vo}
        for k, val in mom.items():
            tot = (val * w).sum(axis=(-3, -2, -1))
            out[k] = out[k] + tot
            if side:
                out[k + "_p"] = tot
    return out


def _propagate_relu(
    block: Any, s: Summary, in_shape: tuple[int, ...], out_shape: tuple[int, ...]
) -> Summary:
    T, K, C = s.T, s.n_bins, s.channels
    st_in = s.stats
    lp = _latent_params(s)
    if lp["rect"].any():
        same = {k: v.copy() for k, v in st_in.items()}
        out = _finish(out_shape, T, K, s.lags, same, block, s, in_shape,
                      st_in["affine"].copy())
        if XCOV_KEY in s.cache:
            out.cache[XCOV_KEY] = s.cache[XCOV_KEY]
        return out
    alpha = _leak(block, C)[:, None] * np.ones((1, K))
    m, sd, mp, beta, se2 = lp["m"], lp["s"], lp["mp"], lp["beta"], lp["se2"]
    mom = _rect_moments(m, sd, mp, beta, se2, alpha)
    st: dict[str, np.ndarray] = {k: mom[k] for k in ("y", "y2", "v", "v2", "yv", "pos", "y_p",
                                                      "y2_p", "v_p", "v2_p", "yv_p")}
    # the summary's slope is the central difference (f(y[t+1]) - f(y[t-1])) / 2, not
    # f'(y) y': next to a zero crossing it is about half the slope (exact below)
    cov_yd = st_in["c_yd"] - st_in["y"] * st_in["d"]
    gam = cov_yd / np.maximum(sd**2, 1e-300)
    sec2 = np.maximum(_var(st_in, "d", "d2") - gam**2 * sd**2, 0.0)
    st.update(_central_slope_moments(m, sd, mp, beta, se2, st_in["d"], gam, sec2, alpha))
    st["zero"] = np.where(alpha == 0, 1 - mom["pos"], 0.0)
    # kinks
    r1, r2, r3 = g.rice_terms(0.0, m, sd, mp, lp["sp"], lp["r"])
    jump = np.abs(1 - alpha)
    ks = _kink_stats(jump * r2, jump**2 * r3, r1, T, K, float(np.sign(np.mean(1 - alpha))))
    pos_in = g.cdf(m / np.maximum(sd, 1e-300))
    surv = {
        "d_abs": st_in["d_abs_p"] + np.abs(alpha) * st_in["d_abs_n"],
        "pk": st_in["pk_p"] + np.abs(alpha) * st_in["pk_n"],
        "d2": (st_in["d2"]) * (pos_in + alpha**2 * (1 - pos_in)),
        # E[d 1{y > 0}] + alpha E[d 1{y < 0}], (y, d) jointly Gaussian: the regression
        # E[d | y] = E d + gam (y - m) makes the positive side's curvature negative when
        # Cov(y, d) < 0 (a high value sits on a concave stretch); on a stationary path this
        # balances the convex ReLU kinks (E[d] of a stationary output is 0)
        "d": st_in["d"] * (pos_in + alpha * (1 - pos_in)) + (1 - alpha) * (
            st_in["c_yd"] - st_in["y"] * st_in["d"]) / np.maximum(sd, 1e-300) * g.pdf(
            m / np.maximum(sd, 1e-300)),
        "d_act": st_in["d_act"] * (pos_in + (alpha != 0) * (1 - pos_in)),
        "dd1": st_in["dd1"] * (pos_in + alpha**2 * (1 - pos_in)),
        "dd2": st_in["dd2"] * (pos_in + alpha**2 * (1 - pos_in)),
        "vd": st_in["vd"] * (pos_in + alpha**2 * (1 - pos_in)),
    }
    for k in ks:
        st[k] = ks[k] + surv[k]
    st["d_act"] = np.minimum(st["d_act"], 1.0)
    st["c_yd"] = st_in["c_yd"] * pos_in  # curvature-value correlation where positive
    st["d_abs_p"] = st_in["d_abs_p"].copy()
    st["pk_p"] = st_in["pk_p"].copy()
    st["d_abs_n"] = np.abs(alpha) * st_in["d_abs_n"]
    st["pk_n"] = np.abs(alpha) * st_in["pk_n"]
    # the positive part passes unchanged
    st.update(_pos_part_moments(m, sd, st_in["d"], _var(st_in, "d", "d2"),
                                st_in["c_yd"] - st_in["y"] * st_in["d"], st_in["d_act"]))
    # neighbours and channel pairs
    cm = _CovModel(s)
    nl = len(s.lags)
    for k in LAG_STATS:
        st[k] = np.zeros((C, K, nl))
    for li, off in enumerate(s.lags):
        cy = cm.cov("yy", off)
        cv = cm.cov("vv", off)
        idx = np.arange(C)
        ly, lv = cy[:, idx, idx].T, cv[:, idx, idx].T
        rho = ly / np.maximum(sd**2, 1e-300)
        pr = _rect_pair(m, sd, m, sd, rho, (mp, beta), (mp, beta), lv - beta**2 * ly,
                        alpha, alpha)
        st["l_yy"][:, :, li] = pr["ff"]
        st["l_vv"][:, :, li] = pr["vv"]
        st["l_pp"][:, :, li] = pr["pp"]
        st["l_yy_p"][:, :, li] = pr["ff_p"]
        st["l_vv_p"][:, :, li] = pr["vv_p"]
    for k in CC_STATS:
        st[k] = np.zeros((K, C, C))
    cy, cv = cm.cc["yy"], cm.cc["vv"]  # (K, C, C)
    mT, sT, mpT, bT, aT = m.T[:, :, None], sd.T[:, :, None], mp.T[:, :, None], beta.T[
        :, :, None], alpha.T[:, :, None]

    def tr(a: np.ndarray) -> np.ndarray:
        return np.swapaxes(a, 1, 2)

    rho = cy / np.maximum(sT * tr(sT), 1e-300)
    pr = _rect_pair(mT + 0 * rho, sT + 0 * rho, tr(mT) + 0 * rho, tr(sT) + 0 * rho, rho,
                    (mpT + 0 * rho, bT + 0 * rho), (tr(mpT) + 0 * rho, tr(bT) + 0 * rho),
                    cv - bT * tr(bT) * cy, aT + 0 * rho, tr(aT) + 0 * rho)
    st["cc_yy"] = pr["ff"]
    st["cc_vv"] = pr["vv"]
    # E[f(y1) f'(y2) v2]: first order, E[f1] E[v2 g2] + Cov(y1, v2) E[g1] E[g2]
    g_mean = (mom["pos"] + alpha * (1 - mom["pos"])).T
    cyv = cm.cc["yv"]
    st["cc_yv"] = np.einsum("kc,kd->kcd", mom["y"].T, mom["v"].T) + cyv * g_mean[:, :, None] * \
        g_mean[:, None, :]
    idx = np.arange(C)
    st["cc_yy"][:, idx, idx] = mom["y2"].T
    st["cc_vv"][:, idx, idx] = mom["v2"].T
    st["cc_yv"][:, idx, idx] = mom["yv"].T
    pm = s.cache.get(POSMAP_KEY)
    if isinstance(pm, tuple) and s.lags:
        mu_map, var_map = pm
        if mu_map.shape[:2] == (C, K) and mu_map.ndim == 2 + len(s.lags[0]):
            _relu_mixture(st, mu_map, var_map, lp, alpha, cm, s.lags, st_in)
    out = _finish(out_shape, T, K, s.lags, st, block, s, in_shape, st_in["affine"].copy())
    xc = _xcov(s)
    if xc is not None:
        out.cache[XCOV_KEY] = _xcov_rect(xc, m, sd, alpha, st["cc_yy"] - np.einsum(
            "ck,dk->kcd", st["y"], st["y"]))
    return out


def _relu_mixture(
    st: dict[str, np.ndarray], mu_map: np.ndarray, var_map: np.ndarray,
    lp: dict[str, np.ndarray], alpha: np.ndarray, cm: _CovModel,
    lags: tuple[tuple[int, ...], ...], st_in: dict[str, np.ndarray],
) -> None:
    """ReLU value statistics as the mixture over positions of different means (in place).

    A measured summary averages over positions: where a conv's border windows shift the
    mean, its value moments, neighbour products and products of per-position means
    (``y2_0 l_yy0 l_pp0 ...``) mix those positions. Per distinct position (class of equal
    mean and variance) the rectified moments are exact; pairs of neighbours use the
    latent correlation of the interior. Curvature statistics are left per channel.
    """
    C, K = mu_map.shape[:2]
    sp = mu_map.shape[2:]
    P = int(np.prod(sp))
    M = mu_map.reshape(C, K, P)
    V = np.maximum(var_map.reshape(C, K, P), 1e-300)
    rows = np.concatenate([M, V], axis=0).reshape(2 * C * K, P).T
    uniq, inv, counts = np.unique(np.round(rows, 12), axis=0, return_inverse=True,
                                  return_counts=True)
    inv = inv.reshape(-1)
    U = len(uniq)
    wu = counts / P
    Mu = uniq[:, : C * K].T.reshape(C, K, U)
    Su = np.sqrt(np.maximum(uniq[:, C * K:].T.reshape(C, K, U), 1e-300))
    mp, beta, se2 = (lp[k][..., None] for k in ("mp", "beta", "se2"))
    a3 = alpha[..., None]
    mom = _rect_moments(Mu, Su, mp, beta, se2, a3)

    def avg(x: np.ndarray) -> np.ndarray:
        return np.asarray((x * wu).sum(axis=-1))

    # value and positive-part moments (the slopes keep the central-difference moments)
    for k in ("y", "y2", "pos", "y_p", "y2_p"):
        st[k] = avg(mom[k])
    st["zero"] = np.where(alpha == 0, 1 - st["pos"], 0.0)
    st.update({k: avg(v) for k, v in _pos_part_moments(
        Mu, Su, st_in["d"][..., None], _var(st_in, "d", "d2")[..., None],
        (st_in["c_yd"] - st_in["y"] * st_in["d"])[..., None] * (Su / np.maximum(
            lp["s"][..., None], 1e-300)) ** 2, st_in["d_act"][..., None]).items()})
    ef = mom["y"]
    ev = mom["v"]
    evp = mom["v_p"]
    pu = mom["pos"]
    st["y2_0"] = avg(ef**2)
    st["v2_0"] = avg(ev**2)
    nl = len(lags)
    for k in ("l_yy0", "l_vv0", "l_pp0", "l_vvp0"):
        st[k] = np.zeros((C, K, nl))
    grid = inv.reshape(sp)
    var_c = np.maximum(lp["s"] ** 2, 1e-300)
    idx = np.arange(C)
    for li, off in enumerate(lags):
        sl_a: list[slice] = []
        sl_b: list[slice] = []
        for size, o in zip(sp, off, strict=True):
            if abs(o) >= size:
                sl_a = []
                break
            sl_a.append(slice(max(0, -o), size - max(0, o)))
            sl_b.append(slice(max(0, o), size - max(0, -o)))
        if not sl_a:
            continue
        ga = grid[tuple(sl_a)].reshape(-1)
        gb = grid[tuple(sl_b)].reshape(-1)
        pairs, cnt = np.unique(np.stack([ga, gb], axis=1), axis=0, return_counts=True)
        wp = cnt / cnt.sum()
        ua, ub = pairs[:, 0], pairs[:, 1]
        rho = np.clip(cm.cov("yy", off)[:, idx, idx].T / var_c, -0.995, 0.995)  # (C, K)
        lv = cm.cov("vv", off)[:, idx, idx].T
        ly = rho[..., None] * Su[..., ua] * Su[..., ub]
        pr = _rect_pair(Mu[..., ua], Su[..., ua], Mu[..., ub], Su[..., ub],
                        np.broadcast_to(rho[..., None], ly.shape),
                        (mp + 0 * ly, beta + 0 * ly), (mp + 0 * ly, beta + 0 * ly),
                        lv[..., None] - beta**2 * ly, a3 + 0 * ly, a3 + 0 * ly)
        for k, key in (("l_yy", "ff"), ("l_vv", "vv"), ("l_pp", "pp"), ("l_yy_p", "ff_p"),
                       ("l_vv_p", "vv_p")):
            st[k][:, :, li] = (pr[key] * wp).sum(-1)
        st["l_yy0"][:, :, li] = (ef[..., ua] * ef[..., ub] * wp).sum(-1)
        st["l_vv0"][:, :, li] = (ev[..., ua] * ev[..., ub] * wp).sum(-1)
        st["l_pp0"][:, :, li] = (pu[..., ua] * pu[..., ub] * wp).sum(-1)
        st["l_vvp0"][:, :, li] = (evp[..., ua] * evp[..., ub] * wp).sum(-1)
    # channel pairs at the same position: per class, the interior latent correlation
    cy = cm.cc["yy"]  # (K, C, C)
    sdT = np.sqrt(var_c).T
    rho_cc = np.clip(cy / np.maximum(sdT[:, :, None] * sdT[:, None, :], 1e-300), -0.995, 0.995)
    cc = np.zeros((K, C, C))
    for u in range(U):
        mT, sT = Mu[..., u].T, Su[..., u].T
        aT = alpha.T
        z = np.zeros((K, C, C))
        pr = _rect_pair(mT[:, :, None] + z, sT[:, :, None] + z, mT[:, None, :] + z,
                        sT[:, None, :] + z, rho_cc, (z, z), (z, z), z, aT[:, :, None] + z,
                        aT[:, None, :] + z)
        cc += wu[u] * pr["ff"]
    cc[:, idx, idx] = st["y2"].T
    st["cc_yy"] = cc


# ----------------------------------------------------------------------------- max pooling
def _clark(
    m1: np.ndarray, v1: np.ndarray, m2: np.ndarray, v2: np.ndarray, c12: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clark's moments of max(X1, X2): mean, variance and P(X1 > X2)."""
    a = np.sqrt(np.maximum(v1 + v2 - 2 * c12, 1e-300))
    z = (m1 - m2) / a
    P = g.cdf(z)
    ph = g.pdf(z)
    mean = m1 * P + m2 * (1 - P) + a * ph
    second = (m1**2 + v1) * P + (m2**2 + v2) * (1 - P) + (m1 + m2) * a * ph
    return mean, np.maximum(second - mean**2, 0.0), P


def _propagate_maxpool(
    block: Any, s: Summary, in_shape: tuple[int, ...], out_shape: tuple[int, ...]
) -> Summary:
    T, K, C = s.T, s.n_bins, s.channels
    st_in = s.stats
    lp = _latent_params(s)
    m, sd, mp, beta, se2 = lp["m"], lp["s"], lp["mp"], lp["beta"], lp["se2"]
    rect = lp["rect"]
    kernel = tuple(block.kernel_size)
    dil = tuple(block.dilation)
    stride = tuple(block.stride)
    elems = [tuple(int(i) * d for i, d in zip(ix, dil, strict=True)) for ix in np.ndindex(*kernel)]
    corr = _Corr(s, s.latent())
    k = len(elems)
    # Clark: fold the window's elements one by one (equal marginals, latent correlations)
    mM, vM = m.copy(), sd**2
    weights = [np.ones_like(m)]
    cov_with = [sd**2 * corr(tuple(b - a for a, b in zip(elems[0], e, strict=True)))[0]
                for e in elems]  # Cov(M_so_far, X_e) (M = X_0 at start)
    for j in range(1, k):
        c12 = cov_with[j]
        mM_new, vM_new, P = _clark(mM, vM, m, sd**2, c12)
        weights = [w * P for w in weights] + [1 - P]
        for e in range(j + 1, k):
            ce = sd**2 * corr(tuple(b - a for a, b in zip(elems[j], elems[e], strict=True)))[0]
            cov_with[e] = cov_with[e] * P + ce * (1 - P)
        mM, vM = mM_new, vM_new
    # with the carried latent cross-covariance: the window's maximum by quasi-Monte Carlo
    # (Clark's fold treats each partial maximum as Gaussian: its variance, skewed, comes
    # out low, and so would the covariances of the pooled outputs)
    xc = _xcov(s)
    qmc: _PoolQMC | None = None
    qv: dict[str, np.ndarray] = {}
    if xc is not None and len(stride) == xc.nd and k > 1:
        lat_tab = xc.lat if xc.lat is not None else (None if rect.any() else xc.yy)
        if lat_tab is not None:
            qmc = _PoolQMC(m, sd, rect, xc, lat_tab, elems, stride)
            qv = qmc.single()
            mM, vM = qv["mM"], qv["vM"]
            weights = [qv["w"][a] for a in range(k)]
    sM = np.sqrt(vM)
    # slope of the max: regression on the value (selection on the value only)
    mpM = mp + beta * (mM - m)
    rho_v_pairs = []
    for a in range(k):
        for b in range(k):
            off = tuple(eb - ea for ea, eb in zip(elems[a], elems[b], strict=True))
            rho_v_pairs.append((a, b, corr(off)))
    # residual slope variance: sum of pi_a pi_b Cov(e_a, e_b)
    se2M = np.zeros_like(m)
    for a, b, (ry, rv) in rho_v_pairs:
        ce = rv * lp["sp"] ** 2 - beta**2 * ry * sd**2
        se2M = se2M + weights[a] * weights[b] * ce if a != b else se2M + weights[a] * se2
    se2M = np.maximum(se2M, 0.0)
    # the conditional slope variance of the argmax: residuals are not averaged over the
    # window (the max takes one element's slope), so use the element's own residual
    se2M = np.maximum(se2, se2M)
    alpha = np.where(rect, 0.0, 1.0)
    mom = _rect_moments(mM, sM, mpM, beta, se2M, alpha)
    st: dict[str, np.ndarray] = {kk: mom[kk] for kk in ("y", "y2", "v", "v2", "yv", "pos",
                                                        "y_p", "y2_p", "v_p", "v2_p", "yv_p")}
    st["zero"] = np.where(rect, 1 - mom["pos"], 0.0)
    # kinks: switches and zero crossings of the max, survivors of the current max
    sw1, sw2, surv_w = _pool_terms(elems, s.latent(), corr, rect)
    r1 = sw1 / np.maximum(np.sqrt(np.maximum(2 * lp["sp"] ** 2, 1e-300)), 1e-300)
    ks = _kink_stats(sw1, sw2, r1, T, K, 1.0)
    base_abs = np.where(rect, st_in["d_abs_p"], st_in["d_abs"])
    base_pk = np.where(rect, st_in["pk_p"], st_in["pk"])
    st["d_abs"] = ks["d_abs"] + base_abs * surv_w
    st["pk"] = ks["pk"] + base_pk * surv_w
    frac = np.where(base_abs > 0, base_abs * surv_w / np.maximum(st_in["d_abs"], 1e-300), 0.0)
    # what the maximum keeps of a rectified input is the positive part's curvature, not
    # the ReLU's zero-crossing kinks (the max's own zero crossings are among the new
    # kinks): remove those kinks' share of d^2, lag products and activity (Rice terms of
    # the latent input, as :func:`_kink_stats` puts them) before scaling by surv_w
    r1_in, _, r3_in = g.rice_terms(0.0, m, sd, mp, lp["sp"], lp["r"])
    kin = _kink_stats(r3_in * 0.0, r3_in, r1_in, T, K, 1.0)
    for kk in ("d2", "dd1", "dd2", "vd", "d_act"):
        smooth_part = (np.maximum(st_in[kk] - kin[kk], 0.0) if kk not in ("dd2", "vd")
                       else st_in[kk])
        kept = np.where(rect, smooth_part * surv_w, st_in[kk] * frac)
        st[kk] = ks[kk] + kept
    # E[d] is the second difference of the mean function (the kinks are convex, the
    # maximum's own curvature is concave: its value is high); survivors' share by frac
    # would miss that selection
    st["d"] = _mean_curvature(st["y"], T)
    st["d_act"] = np.minimum(st["d_act"], 1.0)
    st["c_yd"] = st_in["c_yd"] * frac
    st["d_abs_p"] = base_abs * surv_w
    st["pk_p"] = base_pk * surv_w
    if not rect.any():
        st["c_yd"] = st["y"] * st["d"]
        _positive_part(st, mM, sM)
    else:
        st["d_abs_n"] = np.zeros_like(m)
        st["pk_n"] = np.zeros_like(m)
        if "p3" in st_in:
            # the max above 0 keeps the input's positive-part curvature-value regression
            p3 = np.maximum(st_in["p3"], 1e-12)
            ey, ed = st_in["y_p3"] / p3, st_in["d_p3"] / p3
            vy = np.maximum(st_in["y2_p3"] / p3 - ey**2, 1e-300)
            gam = (st_in["yd_p3"] / p3 - ey * ed) / vy
            res = np.maximum(st_in["d2_p3"] / p3 - ed**2 - gam**2 * vy, 0.0)
            st.update(_pos_part_moments(mM, sM, ed + gam * (mM - ey), res + gam**2 * sM**2,
                                        gam * sM**2, st_in["act_p3"] / p3))
    # covariances of pooled outputs: first-order weights P(i is the max)
    cm = _CovModel(s)
    lags = s.lags
    nl = len(lags)
    idx = np.arange(C)

    def pooled_cov(kind: str, out_off: tuple[int, ...]) -> np.ndarray:
        acc = np.zeros((K, C, C))
        for a, ea in enumerate(elems):
            for b, eb in enumerate(elems):
                off = tuple(oo * ss + y - x for oo, ss, x, y in zip(out_off, stride, ea, eb,
                                                                    strict=True))
                cv = cm.cov(kind, off)
                acc += cv * (weights[a].T[:, :, None] * weights[b].T[:, None, :])
        return acc

    for kk in LAG_STATS:
        st[kk] = np.zeros((C, K, nl))
    for li, off in enumerate(lags):
        ly = pooled_cov("yy", off)[:, idx, idx].T
        lv = pooled_cov("vv", off)[:, idx, idx].T
        rho = ly / np.maximum(vM, 1e-300)
        pr = _rect_pair(mM, sM, mM, sM, rho, (mpM, beta), (mpM, beta), lv - beta**2 * ly,
                        alpha, alpha)
        st["l_yy"][:, :, li] = pr["ff"]
        st["l_vv"][:, :, li] = pr["vv"]
        st["l_pp"][:, :, li] = pr["pp"]
        st["l_yy_p"][:, :, li] = pr["ff_p"]
        st["l_vv_p"][:, :, li] = pr["vv_p"]
    zero_off = (0,) * len(stride)
    cy = pooled_cov("yy", zero_off)
    cv = pooled_cov("vv", zero_off)
    cyv = pooled_cov("yv", zero_off)
    mT, sT, mpT, bT, aT = (a.T[:, :, None] for a in (mM, sM, mpM, beta, alpha))

    def tr(a: np.ndarray) -> np.ndarray:
        return np.swapaxes(a, 1, 2)

    rho = cy / np.maximum(sT * tr(sT), 1e-300)
    z = 0 * rho
    pr = _rect_pair(mT + z, sT + z, tr(mT) + z, tr(sT) + z, rho, (mpT + z, bT + z),
                    (tr(mpT) + z, tr(bT) + z), cv - bT * tr(bT) * cy, aT + z, tr(aT) + z)
    st["cc_yy"] = pr["ff"]
    st["cc_vv"] = pr["vv"]
    g_mean = (mom["pos"] + alpha * (1 - mom["pos"])).T
    st["cc_yv"] = np.einsum("kc,kd->kcd", mom["y"].T, mom["v"].T) + cyv * g_mean[:, :, None] * \
        g_mean[:, None, :]
    st["cc_yy"][:, idx, idx] = mom["y2"].T
    st["cc_vv"][:, idx, idx] = mom["v2"].T
    st["cc_yv"][:, idx, idx] = mom["yv"].T
    xc_out: XCov | None = None
    if qmc is not None and xc is not None:
        xc_out = _pool_value_stats(st, qv, qmc, xc, lags, kernel, dil, stride, rect)
    affine = np.zeros(C)
    out = _finish(out_shape, T, K, lags, st, block, s, in_shape, affine)
    if xc_out is not None:
        out.cache[XCOV_KEY] = xc_out
    return out


def _pool_value_stats(
    st: dict[str, np.ndarray], qv: dict[str, np.ndarray], qmc: _PoolQMC, xc: XCov,
    lags: tuple[tuple[int, ...], ...], kernel: tuple[int, ...], dil: tuple[int, ...],
    stride: tuple[int, ...], rect: np.ndarray,
) -> XCov:
    """Replace the pooled value statistics by the quasi-Monte Carlo ones (in place).

    Value moments and positive-part moments of the maximum, neighbour products (``l_yy
    l_pp l_yy_p``) and channel pairs (``cc_yy``); returns the pooled cross-covariance
    function (offsets whose windows are within the latent range; zero beyond).
    """
    C, K = qv["y"].shape
    idx = np.arange(C)
    for kk in ("y", "y2", "pos", "y_p", "y2_p"):
        st[kk] = qv[kk]
    st["zero"] = np.where(rect, 1 - qv["pos"], 0.0)
    reach = [(xc.R + (kn - 1) * dl) // sd for kn, dl, sd in zip(kernel, dil, stride, strict=True)]
    out = XCov(xc.R, xc.nd, np.zeros(0), None)
    tab = np.zeros((len(out.offsets), K, C, C))
    done: dict[tuple[int, ...], dict[str, np.ndarray]] = {}

    def pair(off: tuple[int, ...]) -> dict[str, np.ndarray]:
        neg = tuple(-o for o in off)
        if off in done:
            return done[off]
        if neg in done:
            d = done[neg]
            return {kk: np.swapaxes(v, 1, 2) for kk, v in d.items()}
        done[off] = qmc.pair_cov(off)
        return done[off]

    for i, off in enumerate(out.offsets):
        if all(abs(o) <= r for o, r in zip(off, reach, strict=True)):
            tab[i] = pair(off)["cov"]
    i0 = out.index((0,) * out.nd)
    assert i0 is not None
    ey = st["y"].T  # (K, C)
    var = np.maximum(st["y2"] - st["y"] ** 2, 0.0).T
    tab[i0][:, idx, idx] = var
    out.yy = tab
    st["cc_yy"] = tab[i0] + np.einsum("kc,kd->kcd", ey, ey)
    for li, off in enumerate(lags):
        pc = pair(off)
        st["l_yy"][:, :, li] = pc["cov"][:, idx, idx].T + st["y"] ** 2
        st["l_pp"][:, :, li] = pc["pp"][:, idx, idx].T
        st["l_yy_p"][:, :, li] = pc["ff_p"][:, idx, idx].T
    return out


# ----------------------------------------------------------------------------- smooth
def _propagate_smooth(
    block: Any, s: Summary, in_shape: tuple[int, ...], out_shape: tuple[int, ...]
) -> Summary:
    T, K, C = s.T, s.n_bins, s.channels
    st_in = s.stats
    f = _smooth_fn(block)
    m = st_in["y"]
    sd = np.sqrt(_var(st_in, "y", "y2"))
    mp = st_in["v"]
    cov_yv = st_in["yv"] - m * mp
    beta = cov_yv / np.maximum(sd**2, 1e-300)
    se2 = np.maximum(_var(st_in, "v", "v2") - beta * cov_yv, 0.0)
    x, w = g.hermite(48)
    y = m[..., None] + sd[..., None] * x
    fy = f(y)
    eps = 1e-4 * np.maximum(sd[..., None], 1e-3)
    fp = (f(y + eps) - f(y - eps)) / (2 * eps)
    ev_y = mp[..., None] + beta[..., None] * (y - m[..., None])
    st: dict[str, np.ndarray] = {}
    st["y"] = (fy * w).sum(-1)
    st["y2"] = (fy**2 * w).sum(-1)
    st["v"] = (fp * ev_y * w).sum(-1)
    st["v2"] = (fp**2 * (ev_y**2 + se2[..., None]) * w).sum(-1)
    st["yv"] = (fy * fp * ev_y * w).sum(-1)
    pos = fy > 0
    st["zero"] = np.zeros((C, K))
    st["pos"] = (pos * w).sum(-1)
    st["y_p"] = (fy * pos * w).sum(-1)
    st["y2_p"] = (fy**2 * pos * w).sum(-1)
    st["v_p"] = (fp * ev_y * pos * w).sum(-1)
    st["v2_p"] = (fp**2 * (ev_y**2 + se2[..., None]) * pos * w).sum(-1)
    st["yv_p"] = (fy * fp * ev_y * pos * w).sum(-1)
    gain = (fp * w).sum(-1)  # Stein factor E f'(y)
    gain2 = (fp**2 * w).sum(-1)
    # second differences: the predictor's per-sample E|d|; the rest scaled by f'
    win = windows(T, K)
    p_run = predict(block, s, "run", in_shape)
    p_loc = predict(block, s, "local", in_shape)
    run_in = np.maximum(st_in["d_abs"], 0.0)
    tot_run = max(float(np.sum(win.samples)), 1.0)
    shape_run = np.where(run_in.sum(1, keepdims=True) > 0, run_in / np.maximum(
        (run_in * win.samples).sum(1, keepdims=True), 1e-300), 1.0 / tot_run)
    st["d_abs"] = p_run.mean[:, None] * shape_run
    st["pk"] = p_loc.mean[:, None] * shape_run
    st["d"] = gain * st_in["d"]
    st["d2"] = np.maximum(gain2 * st_in["d2"], st["d_abs"] ** 2 * np.pi / 2)
    st["dd1"] = gain2 * st_in["dd1"]
    st["dd2"] = gain2 * st_in["dd2"]
    st["vd"] = gain2 * st_in["vd"]
    st["d_act"] = np.where(st["d_abs"] > 0, 1.0, 0.0)
    st["c_yd"] = st["y"] * st["d"] + gain**2 * (st_in["c_yd"] - m * st_in["d"])
    _positive_part(st, st["y"], np.sqrt(_var(st, "y", "y2")))
    nl = len(s.lags)
    for k in LAG_STATS:
        st[k] = np.zeros((C, K, nl))
    cm = _CovModel(s)
    idx = np.arange(C)
    var_out = np.maximum(_var(st, "y", "y2"), 1e-300)
    for li, off in enumerate(s.lags):
        ly = gain**2 * cm.cov("yy", off)[:, idx, idx].T
        lv = gain2 * cm.cov("vv", off)[:, idx, idx].T
        st["l_yy"][:, :, li] = ly + st["y"] ** 2
        st["l_vv"][:, :, li] = lv + st["v"] ** 2
        rho = ly / var_out
        a_out = st["y"] / np.sqrt(var_out)
        st["l_pp"][:, :, li] = g.bvn_cdf(a_out, a_out, rho)
        st["l_yy_p"][:, :, li] = st["l_yy"][:, :, li] * st["l_pp"][:, :, li] / np.maximum(
            st["pos"], 1e-300)
        st["l_vv_p"][:, :, li] = st["l_vv"][:, :, li] * st["l_pp"][:, :, li]
    gT = gain.T
    st["cc_yy"] = cm.cc["yy"] * gT[:, :, None] * gT[:, None, :] + np.einsum(
        "ck,dk->kcd", st["y"], st["y"])
    g2T = np.sqrt(gain2).T
    st["cc_vv"] = cm.cc["vv"] * g2T[:, :, None] * g2T[:, None, :] + np.einsum(
        "ck,dk->kcd", st["v"], st["v"])
    st["cc_yv"] = cm.cc["yv"] * gT[:, :, None] * g2T[:, None, :] + np.einsum(
        "ck,dk->kcd", st["y"], st["v"])
    st["cc_yy"][:, idx, idx] = st["y2"].T
    st["cc_vv"][:, idx, idx] = st["v2"].T
    st["cc_yv"][:, idx, idx] = st["yv"].T
    return _finish(out_shape, T, K, s.lags, st, block, s, in_shape, np.zeros(C))


# ----------------------------------------------------------------------------- identity
def _propagate_flatten(
    block: Any, s: Summary, in_shape: tuple[int, ...], out_shape: tuple[int, ...]
) -> Summary:
    """Flatten (C, *spatial) to features: per-feature copies of the channel statistics."""
    if tuple(out_shape) == tuple(in_shape):
        return _finish(out_shape, s.T, s.n_bins, s.lags, {k: v.copy() for k, v in
                       s.stats.items()}, block, s, in_shape, s.stats["affine"].copy())
    if len(out_shape) != 1:
        raise NotImplementedError(
            f"analytic: flatten to {out_shape} (only a full flatten to features is supported)")
    C = in_shape[0]
    spatial = tuple(in_shape[1:])
    P = int(np.prod(spatial))
    ch = np.repeat(np.arange(C), P)
    coords = np.array(list(np.ndindex(*spatial))) if spatial else np.zeros((1, 0), int)
    coords = np.tile(coords, (C, 1))
    st: dict[str, np.ndarray] = {}
    for k in STATS:
        if k in s.stats:
            st[k] = s.stats[k][ch]
    cm = _CovModel(s)
    F = C * P
    K = s.n_bins
    for name, kind in (("cc_yy", "yy"), ("cc_vv", "vv"), ("cc_yv", "yv")):
        full = np.zeros((K, F, F))
        mean_a = cm.my if kind[0] == "y" else cm.mv
        mean_b = cm.my if kind[1] == "y" else cm.mv
        for i in range(F):
            for j in range(F):
                off = tuple(int(b - a) for a, b in zip(coords[i], coords[j], strict=True))
                full[:, i, j] = cm.cov(kind, off)[:, ch[i], ch[j]] + mean_a[ch[i]] * mean_b[ch[j]]
        st[name] = full
    for k in LAG_STATS:
        st[k] = np.zeros((F, K, 0))
    st["single"] = s.stats["single"][ch]
    return _finish((F,), s.T, K, (), st, block, s, in_shape, s.stats["affine"][ch])


# ----------------------------------------------------------------------------- driver
def propagate(
    block: Any, s: Summary, in_shape: tuple[int, ...], out_shape: tuple[int, ...]
) -> Summary:
    """The summary of ``block``'s output, from the summary of its input and its weights."""
    name = block.name
    if name in LINEAR_BLOCKS:
        return _propagate_linear(block, s, in_shape, out_shape)
    if name in RELU_BLOCKS:
        return _propagate_relu(block, s, in_shape, out_shape)
    if name in MAXPOOL_BLOCKS:
        return _propagate_maxpool(block, s, in_shape, out_shape)
    if name in SMOOTH_BLOCKS:
        return _propagate_smooth(block, s, in_shape, out_shape)
    if name == "flatten":
        return _propagate_flatten(block, s, in_shape, out_shape)
    raise NotImplementedError(f"analytic: no propagation through block {name!r}")


def summaries(
    net: Any,
    input_shape: Sequence[int],
    T: int,
    *,
    path: str = "linear",
    path_kwargs: dict[str, Any] | None = None,
    n_bins: int = DEFAULT_BINS,
    max_lag: int = DEFAULT_LAG,
) -> list[Summary]:
    """Analytic summaries of every block input of ``net`` (the network input first).

    Examples
    --------
    >>> from smpfast import nets
    >>> net = nets.Sequential([nets.Conv2d(1, 2, 3, padding=1), nets.ReLU()], seed=0)
    >>> [s.shape for s in summaries(net, (1, 6, 6), 24, n_bins=4)]
    [(1, 6, 6), (2, 6, 6)]
    """
    shape = tuple(int(s) for s in input_shape)
    shapes = [shape, *(tuple(o) for o in net.output_shapes(shape))]
    out = [input_summary(path, shape, T, path_kwargs=path_kwargs, n_bins=n_bins,
                         max_lag=max_lag)]  # fmt: skip
    for i, block in enumerate(net.blocks[:-1]):
        out.append(propagate(block, out[-1], shapes[i], shapes[i + 1]))
    return out
