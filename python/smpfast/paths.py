"""Smooth input paths: sequences of inputs x_0 .. x_{T-1}, the path axis first.

A path is an array of shape ``(T, *shape)``: ``path[t]`` is the network input at step
``t``. Feeding it through a network gives one signal per output element, whose SMP
(:func:`smpfast.smp` along axis 0) measures the network's nonsmoothness along the path
(spec, ``docs/nonsmoothness.md`` section 1). The ``random_*`` generators return
``(T, n_paths, *shape)``: a batch of paths, path axis first, then the path index.

Three families, all seeded (``rng`` is an int seed, a ``np.random.SeedSequence`` or a
``np.random.Generator``; the same seed gives the same paths):

* :func:`linear`, :func:`random_linear`: ``x_t = (1 - t/(T-1)) x_a + t/(T-1) x_b``, by
  default snapped to a grid on which it is exactly affine in floating point (second
  differences exactly 0); random endpoints i.i.d. ``N(mean, std^2)``.
* :func:`gaussian`, :func:`random_gaussian`: stationary Gaussian processes with the
  squared-exponential covariance ``std^2 exp(-(dt)^2 / (2 l^2))`` (``l`` in samples),
  independent per element; infinitely smooth.
* :func:`sinusoid`, :func:`random_sinusoid`: ``mean + std (a cos(w t) + b sin(w t))`` with
  ``a, b`` i.i.d. ``N(0, 1)`` per element (random phase, Rayleigh amplitude): a stationary
  Gaussian process with covariance ``std^2 cos(w dt)``.

Every path is computed in float64 and rounded once to ``dtype`` (float64 default,
float32 allowed), so a float32 path is the float64 path rounded.

Examples
--------
>>> import numpy as np
>>> from smpfast import paths
>>> paths.linear(np.zeros(2), np.array([1.0, -2.0]), 3)
array([[ 0. ,  0. ],
       [ 0.5, -1. ],
       [ 1. , -2. ]])
>>> paths.random_gaussian(4, (3, 8, 8), 32, 0, length_scale=6.0).shape
(32, 4, 3, 8, 8)
"""

from __future__ import annotations

import functools
import math
import operator
from typing import Any

import numpy as np

from . import _validate

__all__ = [
    "as_generator",
    "gaussian",
    "gaussian_factor",
    "linear",
    "random_gaussian",
    "random_linear",
    "random_sinusoid",
    "sinusoid",
]

#: Eigenvalues of the squared-exponential covariance matrix below this fraction of the
#: largest one are dropped (see :func:`gaussian_factor`).
EIGEN_CUTOFF = 1e-14


# --------------------------------------------------------------------------- checks
def as_generator(rng: Any, name: str = "rng") -> np.random.Generator:
    """``rng`` (int seed >= 0, SeedSequence or Generator) as a ``np.random.Generator``.

    Examples
    --------
    >>> from smpfast import paths
    >>> int(paths.as_generator(0).integers(10))
    8
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, (bool, np.bool_)) or not isinstance(rng, (int, np.integer)):
        raise TypeError(
            f"{name} must be an int seed, a np.random.SeedSequence or a np.random.Generator; "
            f"got {type(rng).__name__} {rng!r}"
        )
    if rng < 0:
        raise ValueError(f"{name} must be >= 0; got {rng}")
    return np.random.default_rng(int(rng))


def _dtype(dtype: Any) -> np.dtype[Any]:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64; got {dtype!r}") from None
    if dt == np.float32:
        return np.dtype(np.float32)
    if dt == np.float64:
        return np.dtype(np.float64)
    raise ValueError(f"dtype must be float32 or float64; got {dt}")


def _steps(T: Any, minimum: int) -> int:
    try:
        t = operator.index(T)
    except TypeError:
        raise TypeError(f"T must be an integer, got {type(T).__name__} {T!r}") from None
    if t < minimum:
        raise ValueError(f"T (the number of steps of a path) must be >= {minimum}; got {t}")
    return t


def _shape(shape: Any) -> tuple[int, ...]:
    items = [shape] if isinstance(shape, (int, np.integer)) else shape
    try:
        out = tuple(operator.index(s) for s in items)
    except TypeError:
        raise TypeError(f"shape must be an int or a tuple of ints; got {shape!r}") from None
    if any(s < 0 for s in out):
        raise ValueError(f"shape must have sizes >= 0; got {out}")
    return out


def _real(value: Any, name: str, *, minimum: float | None = None, strict: bool = False) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite; got {value!r}")
    if minimum is not None and (v <= minimum if strict else v < minimum):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum}; got {value!r}")
    return v


def _moments(mean: Any, std: Any) -> tuple[float, float]:
    return _real(mean, "mean"), _real(std, "std", minimum=0.0)


def _validate_flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def _n_paths(n_paths: Any) -> int:
    return _validate.positive_int(n_paths, "n_paths")


# --------------------------------------------------------------------------- linear
def linear(
    x_a: Any, x_b: Any, T: int, *, dtype: Any = np.float64, exact: bool = True
) -> np.ndarray:
    """The straight path from ``x_a`` to ``x_b`` in ``T`` steps.

    ``x_t = (1 - t/(T-1)) x_a + t/(T-1) x_b`` for ``t = 0 .. T-1``.

    With ``exact=True`` (default) the path is exactly affine in floating point: every
    element is ``x_t = a + t h`` with ``a`` and the step ``h`` rounded to a grid
    ``q = 2^(e + 2 - p)`` (``2^e >= max(|x_a|, |x_b|)`` per element, ``p`` the mantissa
    bits of ``dtype``: 53 or 24), on which every ``x_t``, and every second difference
    the SMP kernels compute, is exact: the second differences are exactly 0, so the
    input path has SMP exactly 0 and a ReLU of it has run-mode SMP exactly ``|h|`` per
    interior zero crossing. The price: ``x_0`` and ``x_{T-1}`` differ from ``x_a`` and
    ``x_b`` by at most ``q / 2`` and ``T q / 2`` (relative ``2 T 2^-p``: ``T * 4.4e-16``
    in float64, ``T * 2.4e-7`` in float32). With ``exact=False`` the formula above is
    evaluated in float64 and rounded once to ``dtype``: exact endpoints, affine to
    rounding (second differences of the order of ``eps * max(|x_a|, |x_b|)``).

    Parameters
    ----------
    x_a, x_b : array_like, same shape
        Start and end; finite when ``exact``.
    T : int
        Number of steps, >= 2.
    dtype : float32 or float64, default float64
        Dtype of the path (whatever the endpoints' dtype).
    exact : bool, default True
        Snap to the exactly-affine grid (see above).

    Returns
    -------
    numpy.ndarray
        ``(T, *x_a.shape)``.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import paths
    >>> paths.linear(0.0, 1.0, 5)
    array([0.  , 0.25, 0.5 , 0.75, 1.  ])
    >>> p = paths.linear(np.array([-0.3, 2.0]), np.array([0.7, -1.1]), 9)
    >>> float(abs(np.diff(p, 2, axis=0)).max())
    0.0
    """
    a = _validate.float_array(x_a, "x_a")
    b = _validate.float_array(x_b, "x_b")
    if a.shape != b.shape:
        raise ValueError(f"x_a and x_b must have the same shape; got {a.shape} and {b.shape}")
    steps = _steps(T, 2)
    dt = _dtype(dtype)
    snap = _validate_flag(exact, "exact")
    a64, b64 = a.astype(np.float64, copy=False), b.astype(np.float64, copy=False)
    t = np.arange(steps, dtype=np.float64).reshape((steps,) + (1,) * a.ndim)
    if not snap:
        s = t / (steps - 1)
        return ((1.0 - s) * a64 + s * b64).astype(dt, copy=False)
    for name, arr in (("x_a", a64), ("x_b", b64)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite for an exact linear path (or exact=False)")
    bits = np.finfo(dt).nmant + 1
    tiny = np.finfo(dt).minexp - np.finfo(dt).nmant  # exponent of the smallest subnormal
    _, e = np.frexp(np.maximum(np.abs(a64), np.abs(b64)))
    q = np.ldexp(1.0, np.maximum(e + 2 - bits, tiny))
    start = np.round(a64 / q) * q
    step = np.round((b64 - start) / ((steps - 1) * q)) * q
    out: np.ndarray = start + t * step
    return out.astype(dt, copy=False)


def random_linear(
    n_paths: int,
    shape: Any,
    T: int,
    rng: Any,
    *,
    mean: float = 0.0,
    std: float = 1.0,
    dtype: Any = np.float64,
    exact: bool = True,
) -> np.ndarray:
    """``n_paths`` straight paths between random endpoints, i.i.d. ``N(mean, std^2)``.

    Draws ``x_a`` then ``x_b``, each ``(n_paths, *shape)`` standard normals, from ``rng``.

    Parameters
    ----------
    n_paths : int
        Number of paths, >= 1.
    shape : int or tuple of int
        Shape of one input.
    T : int
        Steps per path, >= 2.
    rng : int, SeedSequence or Generator
        Random source.
    mean, std : float
        Mean and standard deviation of every endpoint element.
    dtype : float32 or float64, default float64
    exact : bool, default True
        Exactly affine paths (:func:`linear`).

    Returns
    -------
    numpy.ndarray
        ``(T, n_paths, *shape)``.

    Examples
    --------
    >>> from smpfast import paths
    >>> p = paths.random_linear(3, (2, 4), 16, 0, mean=1.0, std=0.5)
    >>> p.shape
    (16, 3, 2, 4)
    """
    n = _n_paths(n_paths)
    shp = _shape(shape)
    steps = _steps(T, 2)
    m, s = _moments(mean, std)
    dt = _dtype(dtype)
    gen = as_generator(rng)
    x_a = m + s * gen.standard_normal((n, *shp))
    x_b = m + s * gen.standard_normal((n, *shp))
    return linear(x_a, x_b, steps, dtype=dt, exact=exact)


# --------------------------------------------------------------------------- Gaussian process
@functools.lru_cache(maxsize=64)
def _factor(T: int, length_scale: float) -> np.ndarray:
    t = np.arange(T, dtype=np.float64)
    cov = np.exp(-((t[:, None] - t[None, :]) ** 2) / (2.0 * length_scale**2))
    lam, vec = np.linalg.eigh(cov)
    keep = lam > EIGEN_CUTOFF * lam[-1]
    factor = vec[:, keep] * np.sqrt(lam[keep])
    # exact unit marginal variance: scale each row (changes the correlations by ~1e-14)
    factor /= np.sqrt(np.einsum("ij,ij->i", factor, factor))[:, None]
    factor = np.ascontiguousarray(factor[:, ::-1])  # largest eigenvalue first
    factor.setflags(write=False)
    return factor


def gaussian_factor(T: int, length_scale: float) -> np.ndarray:
    """The factor ``L`` (T, r) with ``L @ L.T`` = the squared-exponential correlation matrix.

    ``C[s, t] = exp(-(s - t)^2 / (2 l^2))`` is factored by its symmetric
    eigendecomposition ``V diag(lam) V.T`` in float64; eigenvalues below
    ``EIGEN_CUTOFF = 1e-14`` times the largest are dropped (the matrix is numerically
    low-rank: r is about ``T / l`` plus a few), and each row is then rescaled to unit
    norm so that the marginal variance is exactly 1. Accuracy: ``|L L^T - C|`` is below
    ``~1e-13`` element-wise (measured: 2e-14 up to T = 2048; checked in the tests).
    Cost ``O(T^3)`` once per ``(T, l)`` (cached, read-only): milliseconds for T = 64, a
    few seconds for T = 2048.

    Examples
    --------
    >>> from smpfast import paths
    >>> L = paths.gaussian_factor(64, 8.0)
    >>> L.shape[0], L.shape[1] < 64
    (64, True)
    """
    steps = _steps(T, 1)
    scale = _real(length_scale, "length_scale", minimum=0.0, strict=True)
    return _factor(steps, scale)


def gaussian(
    shape: Any,
    T: int,
    length_scale: float,
    rng: Any,
    *,
    mean: float = 0.0,
    std: float = 1.0,
    dtype: Any = np.float64,
) -> np.ndarray:
    """A smooth stationary Gaussian-process path, independent per element.

    Every element ``x_t[i]`` is a stationary Gaussian process in ``t`` with mean
    ``mean`` and covariance ``std^2 exp(-(s - t)^2 / (2 l^2))`` (squared exponential,
    ``l = length_scale`` in samples): marginally exactly ``N(mean, std^2)`` at every
    step, slope (derivative) standard deviation ``std / l``.

    Generated as ``mean + std * L @ z`` with ``L`` from :func:`gaussian_factor` (the
    eigendecomposition of the covariance matrix, accurate to ~1e-13) and ``z`` a
    ``(r, prod(shape))`` array of standard normals drawn from ``rng``; cost
    ``O(T r)`` per element, ``r ~ T / l``.

    Parameters
    ----------
    shape : int or tuple of int
        Shape of one input.
    T : int
        Steps, >= 1.
    length_scale : float
        Correlation length in samples, > 0 (larger is smoother).
    rng : int, SeedSequence or Generator
        Random source.
    mean, std : float
        Marginal mean and standard deviation.
    dtype : float32 or float64, default float64

    Returns
    -------
    numpy.ndarray
        ``(T, *shape)``.

    Examples
    --------
    >>> from smpfast import paths
    >>> p = paths.gaussian((2, 3), 50, 5.0, 0, mean=1.0, std=2.0)
    >>> p.shape
    (50, 2, 3)
    """
    shp = _shape(shape)
    factor = gaussian_factor(T, length_scale)
    m, s = _moments(mean, std)
    dt = _dtype(dtype)
    gen = as_generator(rng)
    z = gen.standard_normal((factor.shape[1], math.prod(shp)))
    out = factor @ z
    if s != 1.0:
        out *= s
    if m != 0.0:
        out += m
    return out.reshape(factor.shape[0], *shp).astype(dt, copy=False)


def random_gaussian(
    n_paths: int,
    shape: Any,
    T: int,
    rng: Any,
    *,
    length_scale: float,
    mean: float = 0.0,
    std: float = 1.0,
    dtype: Any = np.float64,
) -> np.ndarray:
    """``n_paths`` independent Gaussian-process paths: :func:`gaussian` of ``(n_paths, *shape)``.

    Returns
    -------
    numpy.ndarray
        ``(T, n_paths, *shape)``.

    Examples
    --------
    >>> from smpfast import paths
    >>> paths.random_gaussian(5, 3, 20, 1, length_scale=4.0).shape
    (20, 5, 3)
    """
    n = _n_paths(n_paths)
    return gaussian((n, *_shape(shape)), T, length_scale, rng, mean=mean, std=std, dtype=dtype)


# --------------------------------------------------------------------------- sinusoid
def sinusoid(
    shape: Any,
    T: int,
    rng: Any,
    *,
    periods: float = 1.0,
    mean: float = 0.0,
    std: float = 1.0,
    dtype: Any = np.float64,
) -> np.ndarray:
    """A sinusoidal path with a random phase and amplitude per element.

    ``x_t[i] = mean + std * (a[i] cos(w t) + b[i] sin(w t))`` with
    ``w = 2 pi periods / (T - 1)`` (``periods`` full periods from the first step to the
    last) and ``a, b`` i.i.d. ``N(0, 1)`` (drawn in that order), i.e. amplitude
    ``std * sqrt(a^2 + b^2)`` (Rayleigh) and a uniform phase: marginally exactly
    ``N(mean, std^2)`` at every step, covariance ``std^2 cos(w (s - t))``.

    Parameters
    ----------
    shape : int or tuple of int
        Shape of one input.
    T : int
        Steps, >= 2.
    rng : int, SeedSequence or Generator
        Random source.
    periods : float, default 1.0
        Periods along the path, >= 0.
    mean, std : float
        Marginal mean and standard deviation.
    dtype : float32 or float64, default float64

    Returns
    -------
    numpy.ndarray
        ``(T, *shape)``.

    Examples
    --------
    >>> from smpfast import paths
    >>> paths.sinusoid((4,), 9, 0, periods=2.0).shape
    (9, 4)
    """
    shp = _shape(shape)
    steps = _steps(T, 2)
    cycles = _real(periods, "periods", minimum=0.0)
    m, s = _moments(mean, std)
    dt = _dtype(dtype)
    gen = as_generator(rng)
    ab = gen.standard_normal((2, math.prod(shp)))
    phase = 2.0 * np.pi * cycles * np.arange(steps, dtype=np.float64) / (steps - 1)
    basis = np.stack([np.cos(phase), np.sin(phase)], axis=1)  # (T, 2)
    out = basis @ ab
    if s != 1.0:
        out *= s
    if m != 0.0:
        out += m
    return out.reshape(steps, *shp).astype(dt, copy=False)


def random_sinusoid(
    n_paths: int,
    shape: Any,
    T: int,
    rng: Any,
    *,
    periods: float = 1.0,
    mean: float = 0.0,
    std: float = 1.0,
    dtype: Any = np.float64,
) -> np.ndarray:
    """``n_paths`` independent sinusoidal paths: :func:`sinusoid` of ``(n_paths, *shape)``.

    Returns
    -------
    numpy.ndarray
        ``(T, n_paths, *shape)``.

    Examples
    --------
    >>> from smpfast import paths
    >>> paths.random_sinusoid(2, (3,), 10, 0, periods=0.5).shape
    (10, 2, 3)
    """
    n = _n_paths(n_paths)
    return sinusoid((n, *_shape(shape)), T, rng, periods=periods, mean=mean, std=std, dtype=dtype)
