"""The spread of SMP (its second moment) over whole paths: activations and max pooling.

The per-block predictors of :mod:`smpfast.model.blocks` build E[SMP^2] from the input's
own SMP spread scaled by one factor per channel (``rel^2 Var SMP_in``), plus new kinks
that are independent (Poisson) or, for affine latents, have binomial-midpoint cross
moments. Monte Carlo diagnostics (T = 64, 20000 signals, Gaussian paths of length scale
6; scripts and numbers in the report of issue 5) show where that misses:

* tanh of a Gaussian process: the per-signal gain SMP_out / SMP_in is not one number
  (CV 0.15 in run mode, 0.26 in local mode). In run mode it follows the path's level
  (corr +0.60 with the path mean of tanh'(y): time spent saturated); in local mode the
  output tracks tanh's own curvature term f''(y) v^2 along the path (corr +0.86 with its
  path mean), peaks that the input's own peaks do not carry. The scaled-input rule is
  16% (run) and 38% (local) low.
* max pooling of 4 independent Gaussian processes: the argmax switches at a regular pace
  (switch count variance / mean 0.54, not Poisson's 1), and the surviving curvature is
  made of pieces of 4 paths, whose slow per-path fluctuations average out (its CV 0.20
  against the input's 0.25), while switches and survivors are positively correlated
  (+0.50: both scale with the window's slope amplitude). Poisson kinks plus the scaled
  input spread is 25% (run) and 35% (local) high.
* max pooling of k = 9 independent linear paths: the midpoint cross moment of the few,
  ordered switch kinks is 13% high (15% at another seed).
* (leaky) ReLU of a Gaussian process: the kept curvature's spread is measured
  (``surv_*``), but the zero-crossing kinks are counted as Poisson and independent of it:
  -6% (run) / +6% (local) for ReLU, -12% in run mode for a leak of 0.3.

These are properties of a path as a whole, which per-sample moments do not fix. The
approximation here is a *surrogate of the input fitted to the*
:class:`~smpfast.model.moments.Summary` *alone*, pushed through the block:

* smooth Gaussian inputs (:func:`surrogate_fit`): per channel a stationary Gaussian
  process with the measured value mean and within-position variance, a linear trend
  with the measured mean slope, a Gaussian spread of per-position means (``y2_0``:
  biases, borders) and a squared-exponential autocorrelation ``exp(-l^2 / (2 ell^2))``
  whose length ``ell`` is fixed by the measured ratio of slope to value variance (the
  curvature of the autocorrelation at 0, Rice's second spectral moment; the squared
  exponential is the smooth correlation with that curvature and a Gaussian spectrum);
* affine inputs (linear paths, :func:`affine_fit`, max pooling only: the activations
  have exact per-signal forms for them already): y = a + b tau with
  (a, b) Gaussian, fitted from the per-bin value and slope moments;
* max pooling: the elements of each class of windows (padding, ``ceil_mode``) are
  correlated with the summary's latent neighbour value correlation (space and time
  separable for the process; the same correlation for a and b).

A fixed, seeded set of surrogate paths (:data:`SIM_PATHS`, the same draws for every call:
predictions are deterministic functions of the summary) goes through the block, and the
output's coefficient of variation is transferred to the prediction:

    Var SMP_out = E[SMP_out]^2 * cv_out(surrogate)^2 * (cv_in(summary) / cv_in(surrogate))^2,

with E[SMP_out] the mean predictor's value (unchanged). The last factor (1 for affine
inputs, which have no SMP of their own) carries what the surrogate misses about the
input's spread (another correlation shape, non-Gaussian curvature), as
``blocks._peak_ratio_change`` carries the input's measured peak ratio. The surrogate is
used only where it describes the input: the Gaussian process where the input is not
affine, not rectified (no mass at 0), has Gaussian curvature (E|d| = sqrt(2/pi E[d^2])
within :data:`GAUSS_TOL` in every bin: no kinks) and a fitted length (slope variance
below half the value variance); the affine form where every signal is affine and not
rectified. Elsewhere (rectified inputs, inputs with kinks: a conv of a ReLU output) the
predictors' own second moment is kept. Cost: one pass of :data:`SIM_PATHS` x 64 / T
surrogate paths per channel (and window class), 0.1-0.5 s per block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import measure
from .. import paths as _paths
from ._grid import sample_bins
from .moments import Summary

if TYPE_CHECKING:
    from .blocks import Prediction

#: Surrogate paths per channel (at T = 64; scaled as 64 / T, at least :data:`MIN_PATHS`).
SIM_PATHS = 4096
#: Fewest surrogate paths per channel.
MIN_PATHS = 1024
#: Seed of the surrogate's normal draws (fixed: the prediction is a deterministic function
#: of the summary).
SIM_SEED = 20260505
#: Largest relative deviation of E|d| from the Gaussian sqrt(2/pi E[d^2]) for a channel
#: to count as a smooth Gaussian process.
GAUSS_TOL = 0.03


def surrogate_fit(summary: Summary) -> dict[str, np.ndarray]:
    """Per-channel Gaussian-process surrogate of the summarised signals.

    Returns arrays of shape (C,): ``m`` (value mean), ``s`` (within-position value std),
    ``pos_sd`` (std of the per-position means), ``trend`` (mean slope per sample), ``ell``
    (squared-exponential length in samples; NaN where it cannot be fitted) and ``ok``
    (True where the surrogate describes the input: see the module docstring). A measured
    ``pos_sd`` also holds the sampling noise of the per-position means (about
    ``s / sqrt(n_eff)``; 0.07 s at 200 Gaussian paths of T = 64, which changes tanh's
    predicted std by under 0.5%).

    Examples
    --------
    >>> from smpfast.model import analytic
    >>> s = analytic.input_summary("gaussian", (2, 4, 4), 64,
    ...                            path_kwargs={"length_scale": 6.0})
    >>> fit = surrogate_fit(s)
    >>> bool(fit["ok"].all()), round(float(fit["ell"][0]), 3)
    (True, 6.0)
    """
    st = summary.stats
    m_b = st["y"]
    y2_0 = st.get("y2_0", m_b**2)
    v2_0 = st.get("v2_0", st["v"] ** 2)
    var_y = np.maximum(st["y2"] - y2_0, 0.0).mean(axis=1)
    var_v = np.maximum(st["v2"] - v2_0, 0.0).mean(axis=1)
    m = m_b.mean(axis=1)
    pos_var = np.maximum((y2_0 - m_b**2).mean(axis=1), 0.0)
    trend = st["v"].mean(axis=1)
    # central-difference slope of a squared-exponential process:
    # Var v = (k(0) - k(2)) / 2 = s^2 (1 - exp(-2 / ell^2)) / 2
    q = var_v / np.maximum(var_y, 1e-300)
    fit_ok = (var_y > 0) & (q > 0) & (q < 0.5)
    ell = np.where(fit_ok, np.sqrt(-2.0 / np.log(np.where(fit_ok, 1.0 - 2.0 * q, 0.5))), np.nan)
    d2 = np.maximum(st["d2"], 0.0)
    gauss = np.sqrt(2.0 / np.pi * d2)
    dev = np.where(d2 > 0, np.abs(st["d_abs"] / np.maximum(gauss, 1e-300) - 1.0), 0.0)
    smooth = np.all(dev <= GAUSS_TOL, axis=1) & np.all(d2 > 0, axis=1)
    plain = np.all(st["zero"] <= 0.02, axis=1)
    not_affine = st["affine"] < 1e-3
    ok = fit_ok & smooth & plain & not_affine
    return {"m": m, "s": np.sqrt(var_y), "pos_sd": np.sqrt(pos_var), "trend": trend,
            "ell": ell, "ok": ok}


def affine_fit(summary: Summary) -> dict[str, np.ndarray]:
    """Per-channel fit of affine signals y = a + b tau (linear paths), tau = t / (T - 1).

    The moments of the value and the slope per bin fix E b, Var b, Cov(a, b), E a and
    Var a (as for the smooth activations' exact affine form); ``a`` is drawn as its
    regression on ``b`` (``ma + beta (b - mb)``) plus an independent part of std ``sa``.
    Returns ``ma sa mb sb beta`` and ``ok`` (every signal affine, no mass at 0), shape (C,).

    Examples
    --------
    >>> from smpfast.model import analytic
    >>> fit = affine_fit(analytic.input_summary("linear", (1, 4, 4), 33))
    >>> bool(fit["ok"][0]), round(float(fit["sb"][0]), 6), round(float(fit["beta"][0]), 6)
    (True, 1.414214, -0.5)
    """
    st = summary.stats
    T, K = summary.T, summary.n_bins
    h = 1.0 / (T - 1)
    # per bin: the mean of tau and of tau^2 over its samples
    bins = sample_bins(T, K)
    t = np.arange(1, T - 1) * h
    cnt = np.maximum(np.bincount(bins, minlength=K), 1)
    tau = np.bincount(bins, weights=t, minlength=K) / cnt
    tau2 = np.bincount(bins, weights=t * t, minlength=K) / cnt
    mb = st["v"].mean(axis=1) / h
    vb = np.maximum(st["v2"] - st["v"] ** 2, 0.0).mean(axis=1) / h**2
    cab = ((st["yv"] - st["y"] * st["v"]) / h - tau * vb[:, None]).mean(axis=1)
    var_y = np.maximum(st["y2"] - st["y"] ** 2, 0.0)
    # E over the bin of Var y_t = Var a + 2 tau Cov(a, b) + tau^2 Var b
    va = np.maximum((var_y - 2 * tau * cab[:, None] - tau2 * vb[:, None]).mean(axis=1), 0.0)
    ma = (st["y"] - tau * mb[:, None]).mean(axis=1)
    beta = np.where(vb > 0, cab / np.maximum(vb, 1e-300), 0.0)
    sa = np.sqrt(np.maximum(va - beta * cab, 0.0))
    ok = (st["affine"] > 0.999) & np.all(st["zero"] <= 0.02, axis=1) & (vb > 0)
    return {"ma": ma, "sa": sa, "mb": mb, "sb": np.sqrt(vb), "beta": beta, "ok": ok}


def _n_paths(T: int) -> int:
    return max(MIN_PATHS, int(SIM_PATHS * 64 // max(T, 1)))


def _unit_gp(T: int, ell: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` unit-variance squared-exponential paths, shape (T, n)."""
    L = _paths.gaussian_factor(T, float(ell))
    return np.asarray(L @ rng.standard_normal((L.shape[1], n)))


def _cv2(s: np.ndarray) -> float:
    """Squared coefficient of variation of the samples ``s`` (0 when the mean is 0)."""
    mu = float(np.mean(s))
    if mu <= 0:
        return 0.0
    return float(np.var(s)) / mu**2


def _transfer(
    mean: np.ndarray, second: np.ndarray, summary: Summary, mode: str, c: int,
    cv2_out: float, cv2_in: float | None,
) -> None:
    """Write E[SMP^2] of channel ``c`` from the surrogate's output CV (in place)."""
    if cv2_in is None or cv2_in <= 0:
        factor = 1.0
    else:
        in_m = float(summary.smp_mean(mode)[c])
        in_var = max(float(summary.smp_second(mode)[c]) - in_m**2, 0.0)
        factor = (in_var / in_m**2) / cv2_in if in_m > 0 else 1.0
    second[c] = mean[c] ** 2 * (1.0 + cv2_out * factor)


def _check(summary: Summary, mode: str, mean: np.ndarray, second: np.ndarray) -> None:
    """Argument checks shared by :func:`smooth_second` and :func:`maxpool_second`."""
    if mode not in ("run", "local"):
        raise ValueError(f"mode must be 'run' or 'local'; got {mode!r}")
    C = summary.channels
    for name, arr in (("mean", mean), ("second", second)):
        if np.shape(arr) != (C,):
            raise ValueError(f"{name} must have shape ({C},) (one value per channel); "
                             f"got {np.shape(arr)}")


def smooth_second(
    f: Callable[[np.ndarray], np.ndarray] | Sequence[Callable[[np.ndarray], np.ndarray]],
    summary: Summary, mode: str, mean: np.ndarray, second: np.ndarray,
) -> np.ndarray:
    """E[SMP^2] per channel of ``f`` applied to a smooth Gaussian input (see module docs).

    ``f`` is an elementwise activation, or a sequence of one per channel (PReLU).
    ``mean`` and ``second`` are the predictor's own moments; channels the surrogate does
    not describe keep ``second``.

    Examples
    --------
    >>> from smpfast.model import analytic
    >>> s = analytic.input_summary("gaussian", (1,), 64, path_kwargs={"length_scale": 6.0})
    >>> sec = smooth_second(np.tanh, s, "run", np.array([1.86]), np.array([3.68]))
    >>> bool(0.25 < float(np.sqrt(sec[0] - 1.86**2)) / 1.86 < 0.35)
    True
    """
    _check(summary, mode, mean, second)
    fit = surrogate_fit(summary)
    out = np.array(second, dtype=np.float64, copy=True)
    if not fit["ok"].any():
        return out
    T = summary.T
    n = _n_paths(T)
    tt = np.arange(T, dtype=np.float64) - 0.5 * (T - 1)
    for c in np.nonzero(fit["ok"])[0]:
        rng = np.random.default_rng(SIM_SEED)
        z = _unit_gp(T, float(fit["ell"][c]), n, rng)
        off = fit["pos_sd"][c] * rng.standard_normal(n)
        y = fit["m"][c] + off[None, :] + fit["trend"][c] * tt[:, None] + fit["s"][c] * z
        s_in = measure.smp(y, axis=0, mode=mode)
        fc = f[int(c)] if isinstance(f, Sequence) else f
        s_out = measure.smp(np.asarray(fc(y), dtype=np.float64), axis=0, mode=mode)
        _transfer(mean, out, summary, mode, int(c), _cv2(s_out), _cv2(s_in))
    return out


def _window_elements(
    block: Any, in_shape: tuple[int, ...]
) -> list[tuple[list[tuple[int, ...]], int]]:
    """The in-bounds element offsets of each class of pooling windows, with its count."""
    from .blocks import _class_elements, _pool_geometry, _window_classes

    sizes, out_sizes, kernel, stride, pad, dil = _pool_geometry(block, in_shape)
    return _class_elements(_window_classes(sizes, out_sizes, kernel, stride, pad, dil), dil)


def _window_corr(
    corr: Callable[[tuple[int, ...]], tuple[np.ndarray, np.ndarray]],
    elems: list[tuple[int, ...]], c: int,
) -> np.ndarray:
    """Latent value correlation matrix of the window elements of channel ``c`` (PSD).

    ``corr(offset)`` gives the (value, slope) correlations per (channel, bin); the bins
    are averaged (the surrogate is stationary).
    """
    k = len(elems)
    R = np.eye(k)
    for i in range(k):
        for j in range(i + 1, k):
            off = tuple(b - a for a, b in zip(elems[i], elems[j], strict=True))
            rho, _ = corr(off)
            R[i, j] = R[j, i] = float(np.mean(rho[c]))
    w, vec = np.linalg.eigh(R)
    R = (vec * np.maximum(w, 0.0)) @ vec.T
    dg = np.sqrt(np.maximum(np.diag(R), 1e-300))
    return np.asarray(R / np.outer(dg, dg))


def maxpool_second(
    block: Any, summary: Summary, mode: str, in_shape: tuple[int, ...], mean: np.ndarray,
    second: np.ndarray,
) -> np.ndarray:
    """E[SMP^2] per channel of max pooling a smooth Gaussian input (see module docs).

    Every class of windows (the in-bounds elements under padding or ``ceil_mode``) is
    simulated with its own elements; the output's CV is that of the mixture of classes
    (weighted by their counts). Channels the surrogate does not describe keep ``second``.

    Examples
    --------
    >>> from smpfast import nets
    >>> from smpfast.model import analytic
    >>> s = analytic.input_summary("gaussian", (1, 4, 4), 64, path_kwargs={"length_scale": 6.0})
    >>> sec = maxpool_second(nets.MaxPool2d(2), s, "run", (1, 4, 4), np.array([2.0]),
    ...                      np.array([6.0]))
    >>> bool(0.15 < float(np.sqrt(sec[0] - 4.0)) / 2.0 < 0.3)
    True
    """
    from .blocks import _Corr

    _check(summary, mode, mean, second)
    fit = surrogate_fit(summary)
    aff = affine_fit(summary)
    out = np.array(second, dtype=np.float64, copy=True)
    if not (fit["ok"].any() or aff["ok"].any()):
        return out
    T = summary.T
    n = _n_paths(T)
    tt = np.arange(T, dtype=np.float64) - 0.5 * (T - 1)
    tau = np.linspace(0.0, 1.0, T)
    groups = _window_elements(block, tuple(in_shape))
    corr = _Corr(summary, summary.latent())
    total = float(sum(cnt for _, cnt in groups))
    kmax = max(len(e) for e, _ in groups)
    for c in np.nonzero(fit["ok"] | aff["ok"])[0]:
        rng = np.random.default_rng(SIM_SEED)
        gp = bool(fit["ok"][c])
        if gp:
            z = _unit_gp(T, float(fit["ell"][c]), n * kmax, rng).reshape(T, n, kmax)
            s_in = measure.smp(z[:, :, 0], axis=0, mode=mode) * fit["s"][c]
            cv2_in: float | None = _cv2(s_in)
        else:
            za = rng.standard_normal((n, kmax))
            zb = rng.standard_normal((n, kmax))
            cv2_in = None  # affine inputs: no SMP of their own
        m1 = m2 = 0.0
        for elems, cnt in groups:
            k = len(elems)
            R = _window_corr(corr, elems, int(c))
            Lw = np.linalg.cholesky(R + 1e-12 * np.eye(k))
            if gp:
                zz = z[:, :, :k] @ Lw.T
                y = fit["m"][c] + fit["trend"][c] * tt[:, None, None] + fit["s"][c] * zz
            else:
                b = aff["mb"][c] + aff["sb"][c] * (zb[:, :k] @ Lw.T)  # (n, k)
                a = (aff["ma"][c] + aff["beta"][c] * (b - aff["mb"][c])
                     + aff["sa"][c] * (za[:, :k] @ Lw.T))
                y = a[None] + b[None] * tau[:, None, None]
            s_out = measure.smp(y.max(axis=2), axis=0, mode=mode)
            m1 += cnt / total * float(s_out.mean())
            m2 += cnt / total * float((s_out * s_out).mean())
        cv2_out = m2 / m1**2 - 1.0 if m1 > 0 else 0.0
        _transfer(mean, out, summary, mode, int(c), max(cv2_out, 0.0), cv2_in)
    return out


def _rectifier(leak: float) -> Callable[[np.ndarray], np.ndarray]:
    """The (leaky) ReLU with negative slope ``leak``."""

    def f(z: np.ndarray) -> np.ndarray:
        return np.asarray(np.where(z > 0, z, leak * z))

    return f


def refine(
    block: Any, summary: Summary, mode: str, in_shape: tuple[int, ...], pred: Prediction
) -> Prediction:
    """The predictor's :class:`~smpfast.model.blocks.Prediction` with the surrogate spread.

    Smooth activations, the ReLU family (per-channel leak) and max pooling on smooth
    Gaussian inputs (max pooling also on affine inputs) get E[SMP^2] from
    :func:`smooth_second` / :func:`maxpool_second`; every other block, and channels the
    surrogate does not describe, keep ``pred`` as it is. The mean is never changed.

    Examples
    --------
    >>> from smpfast import nets
    >>> from smpfast.model import analytic, blocks
    >>> s = analytic.input_summary("gaussian", (1,), 64, path_kwargs={"length_scale": 6.0})
    >>> p = blocks.predict(nets.Tanh(), s, "local", (1,))   # refine is applied in predict
    >>> bool(0.3 < p.overall_std / p.overall_mean < 0.5)
    True
    """
    from .blocks import MAXPOOL_BLOCKS, RELU_BLOCKS, SMOOTH_BLOCKS, _leak, _smooth_fn
    from .blocks import Prediction as _Prediction

    name = getattr(block, "name", None)
    if name in SMOOTH_BLOCKS:
        second = smooth_second(_smooth_fn(block), summary, mode, pred.mean, pred.second)
    elif name in RELU_BLOCKS:
        fs = [_rectifier(float(a)) for a in _leak(block, summary.channels)]
        second = smooth_second(fs, summary, mode, pred.mean, pred.second)
    elif name in MAXPOOL_BLOCKS:
        second = maxpool_second(block, summary, mode, in_shape, pred.mean, pred.second)
    else:
        return pred
    return _Prediction(mean=pred.mean, second=second)
