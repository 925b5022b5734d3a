"""Gaussian helpers of the SMP model: moments of |X|, Rice terms, bivariate CDF, E|S| by CF.

Everything here is vectorised over NumPy arrays (broadcasting) and deterministic: numerical
integration on fixed Gauss-Legendre / Gauss-Hermite grids, never sampling.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import special

SQRT2PI = float(np.sqrt(2.0 * np.pi))
_TINY = 1e-300


def pdf(x: np.ndarray | float) -> np.ndarray:
    """Standard normal density."""
    x = np.clip(np.asarray(x, dtype=np.float64), -40.0, 40.0)
    return np.asarray(np.exp(-0.5 * x * x) / SQRT2PI)


def cdf(x: np.ndarray | float) -> np.ndarray:
    """Standard normal distribution function."""
    return np.asarray(special.ndtr(np.asarray(x, dtype=np.float64)))


def ppf(p: np.ndarray | float) -> np.ndarray:
    """Standard normal quantile function."""
    return np.asarray(special.ndtri(np.asarray(p, dtype=np.float64)))


def abs_moments(mu: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """E|X|, E[X^2], E|X|^3 of X ~ N(mu, sd^2).

    Examples
    --------
    >>> m1, m2, m3 = abs_moments(np.array(0.0), np.array(1.0))
    >>> round(float(m1), 6), float(m2), round(float(m3), 6)
    (0.797885, 1.0, 1.595769)
    """
    mu = np.asarray(mu, dtype=np.float64)
    sd = np.maximum(np.asarray(sd, dtype=np.float64), _TINY)
    z = mu / sd
    ph = pdf(z)
    sgn = 1.0 - 2.0 * cdf(-z)
    m1 = sd * 2.0 * ph + mu * sgn
    m2 = mu * mu + sd * sd
    m3 = 2.0 * sd * ph * (mu * mu + 2.0 * sd * sd) + mu * (mu * mu + 3.0 * sd * sd) * sgn
    return m1, m2, m3


def conditional(
    level: np.ndarray | float,
    m: np.ndarray,
    s: np.ndarray,
    mp: np.ndarray,
    sp: np.ndarray,
    r: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Density of y at ``level`` and the mean and std of y' given y = level.

    (y, y') is jointly Gaussian with means (m, mp), stds (s, sp) and correlation r.
    """
    s = np.maximum(s, _TINY)
    dens = pdf((level - m) / s) / s
    mu_c = mp + r * sp * (level - m) / s
    sd_c = sp * np.sqrt(np.clip(1.0 - r * r, 0.0, None))
    return dens, mu_c, sd_c


def rice_terms(
    level: np.ndarray | float,
    m: np.ndarray,
    s: np.ndarray,
    mp: np.ndarray,
    sp: np.ndarray,
    r: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rice crossing terms of ``level``, per unit time.

    Returns ``p(level) * E[|y'|^k | y = level]`` for k = 1, 2, 3: the crossing rate, the
    slope-weighted crossing rate (the expected slope change per unit time of a ReLU at
    ``level``) and its second moment.

    Examples
    --------
    Linear path y = a + b t with a ~ N(0, 1), b = 1: crossings per unit time = p(0).

    >>> r1, r2, r3 = rice_terms(0.0, np.array(0.0), np.array(1.0), np.array(1.0),
    ...                         np.array(0.0), np.array(0.0))
    >>> round(float(r1), 6)
    0.398942
    """
    dens, mu_c, sd_c = conditional(level, m, s, mp, sp, r)
    m1, m2, m3 = abs_moments(mu_c, sd_c)
    return dens * m1, dens * m2, dens * m3


@lru_cache(maxsize=16)
def legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [-1, 1]."""
    x, w = special.roots_legendre(n)
    return np.asarray(x), np.asarray(w)


@lru_cache(maxsize=16)
def hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes and weights for the standard normal (weights sum to 1)."""
    x, w = special.roots_hermitenorm(n)
    return np.asarray(x), np.asarray(w) / SQRT2PI


def bvn_cdf(h: np.ndarray, k: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """P(X < h, Y < k) for standard bivariate normal (X, Y) with correlation ``rho``.

    Uses Phi(h) Phi(k) + (1/2pi) int_0^asin(rho) exp(-(h^2+k^2-2hk sin t)/(2 cos^2 t)) dt
    on a 24-point Gauss-Legendre grid (rho is clipped to [-0.999, 0.999]).

    Examples
    --------
    >>> round(float(bvn_cdf(np.array(0.0), np.array(0.0), np.array(0.5))), 6)
    0.333333
    """
    h = np.clip(np.asarray(h, dtype=np.float64), -40.0, 40.0)
    k = np.clip(np.asarray(k, dtype=np.float64), -40.0, 40.0)
    rho = np.clip(np.asarray(rho, dtype=np.float64), -0.999, 0.999)
    x, w = legendre(24)
    a = np.arcsin(rho)
    shape = np.broadcast(h, k, rho).shape
    t = (a[..., None] * (x + 1.0) / 2.0) if a.ndim else a * (x + 1.0) / 2.0
    hh = h[..., None]
    kk = k[..., None]
    st = np.sin(t)
    ct2 = np.cos(t) ** 2
    f = np.exp(-(hh * hh + kk * kk - 2.0 * hh * kk * st) / (2.0 * ct2))
    integral = (f * w).sum(axis=-1) * a / 2.0
    out = cdf(h) * cdf(k) + integral / (2.0 * np.pi)
    return np.broadcast_to(np.clip(out, 0.0, 1.0), shape)


def expected_abs_sum(
    weights: np.ndarray,
    q: np.ndarray,
    pos: np.ndarray,
    shape: np.ndarray,
    scale: np.ndarray,
    gauss_var: np.ndarray | None = None,
) -> np.ndarray:
    """E|S| for S = G + sum_i w_i X_i with independent sparse terms (characteristic function).

    Each X_i is 0 with probability 1 - q_i, otherwise ``+Y`` (probability ``pos_i``) or
    ``-Y`` with Y ~ Gamma(shape_i, scale_i); G ~ N(0, gauss_var) is a dense part.
    E|S| = (2/pi) int_0^inf (1 - Re phi_S(u)) / u^2 du, integrated on a log grid with the
    small-u (E[S^2]/2) and large-u ((1 - P(S=0))/u^2) tails added in closed form.

    Parameters
    ----------
    weights, q, pos, shape, scale : arrays of shape (..., n_terms)
        Broadcast together; the last axis runs over the terms of the sum.
    gauss_var : array of shape (...), optional
        Variance of the dense Gaussian part.

    Returns
    -------
    ndarray of shape (...)

    Examples
    --------
    One always-active term, +-Exp(1) with equal probability: E|S| = 1; a term active half
    the time with weight 2 and Gamma(2, 1) size: E|S| = 0.5 * 2 * 2 = 2.

    >>> one = np.ones((1, 1))
    >>> round(float(expected_abs_sum(one, one, 0.5 * one, one, one)[0]), 4)
    1.0
    >>> round(float(expected_abs_sum(2 * one, 0.5 * one, one, 2 * one, one)[0]), 3)
    2.0
    """
    w, q, pos, kap, th = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (weights, q, pos, shape, scale))
    )
    lead = w.shape[:-1]
    aw = np.abs(w)
    posw = np.where(w >= 0, pos, 1.0 - pos)
    mean_abs = kap * th
    m2 = kap * th * th + mean_abs**2
    # E[S^2] and a scale for the grid
    es2 = (q * aw * aw * m2).sum(axis=-1)
    means = (q * (2 * posw - 1) * aw * mean_abs).sum(axis=-1)
    es2 = es2 + means**2 - (q * ((2 * posw - 1) * aw * mean_abs) ** 2).sum(axis=-1)
    gv = np.zeros(lead) if gauss_var is None else np.broadcast_to(gauss_var, lead)
    es2 = es2 + gv
    active = (q > 0) & (aw > 0)
    big = np.where(active, aw * (mean_abs + 4 * np.sqrt(kap) * th), 0.0).max(axis=-1, initial=0.0)
    small = np.where(active, aw * mean_abs, np.inf).min(axis=-1, initial=np.inf)
    big = np.maximum(big, np.sqrt(np.maximum(es2, 0.0)))
    small = np.minimum(small, np.sqrt(np.maximum(gv, 0.0)) + np.where(gv > 0, 0.0, np.inf))
    small = np.where(np.isfinite(small), small, big)
    ok = big > 0
    big = np.where(ok, big, 1.0)
    small = np.where(ok, np.maximum(small, big * 1e-8), 1.0)
    n_grid = 200
    x = np.linspace(0.0, 1.0, n_grid)
    lo = np.log(1e-3 / big)
    hi = np.log(1e3 / small)
    logu = lo[..., None] + (hi - lo)[..., None] * x  # (..., n_grid)
    u = np.exp(logu)
    # phi per term: Gamma CF (1 - i x)^-k = (1 + x^2)^(-k/2) exp(i k atan x), x = u |w| theta
    # (the negative branch is its conjugate); the terms are multiplied, not log-summed
    xx = u[..., :, None] * (aw * th)[..., None, :]  # (..., n_grid, n_terms)
    kk = kap[..., None, :]
    mag = np.exp(-0.5 * kk * np.log1p(xx * xx))
    ang = kk * np.arctan(xx)
    qq = q[..., None, :]
    re_t = 1.0 - qq + qq * mag * np.cos(ang)
    im_t = qq * (2.0 * posw[..., None, :] - 1.0) * mag * np.sin(ang)
    phi = (re_t + 1j * im_t).prod(axis=-1)
    re = phi.real * np.exp(-0.5 * gv[..., None] * u * u)
    integrand = (1.0 - re) / u  # d(log u) * (1 - re)/u^2 * u
    step = (hi - lo) / (n_grid - 1)
    core = (integrand[..., 1:] + integrand[..., :-1]).sum(axis=-1) * 0.5 * step
    p0 = np.exp(np.log(np.clip(1.0 - q, 1e-300, 1.0)).sum(axis=-1)) * (gv <= 0)
    tail_lo = es2 / 2.0 * u[..., 0]
    tail_hi = (1.0 - p0) / u[..., -1]
    out = 2.0 / np.pi * (core + tail_lo + tail_hi)
    return np.where(ok, out, 0.0)


def gauss_peak_factor(rho1: np.ndarray, rho2: np.ndarray) -> np.ndarray:
    """E[|X0| 1{|X0| is a strict local max of |X|}] / E|X0| for a stationary Gaussian sequence.

    ``rho1`` and ``rho2`` are the lag-1 and lag-2 correlations of X. Computed by a
    Gauss-Hermite integral over X0 of |X0| times the bivariate probability that both
    neighbours are smaller in magnitude (rectangle probability of the conditional
    bivariate normal).

    Examples
    --------
    White noise: a sample is a peak with probability 1/3, more often when it is large.

    >>> round(float(gauss_peak_factor(np.array(0.0), np.array(0.0))), 3)
    0.554
    """
    rho1 = np.asarray(rho1, dtype=np.float64)
    rho2 = np.asarray(rho2, dtype=np.float64)
    rho1, rho2 = np.broadcast_arrays(rho1, rho2)
    x, w = hermite(48)
    xs = x.reshape((-1,) + (1,) * rho1.ndim)
    ws = w.reshape((-1,) + (1,) * rho1.ndim)
    r1 = np.clip(rho1, -0.99, 0.99)
    cond_sd = np.sqrt(np.maximum(1.0 - r1 * r1, 1e-12))
    # neighbours X-1, X1 | X0 = x: means r1 x, var 1 - r1^2, correlation between them
    cov12 = rho2 - r1 * r1
    rc = np.clip(cov12 / (cond_sd * cond_sd), -0.999, 0.999)
    mu = r1 * xs
    ax = np.abs(xs)
    a = (-ax - mu) / cond_sd
    b = (ax - mu) / cond_sd
    prob = bvn_cdf(b, b, rc) - bvn_cdf(a, b, rc) - bvn_cdf(b, a, rc) + bvn_cdf(a, a, rc)
    num = (ax * prob * ws).sum(axis=0)
    return np.asarray(num / np.sqrt(2.0 / np.pi))
