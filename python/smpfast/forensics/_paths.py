"""Smooth input paths around given inputs, parametrised by s in [0, 1].

Each path is a function of ``s`` that can be sampled on any grid, so that the same path
can be sampled more finely (the resolution study of a fingerprint). Kinds:

``"linear"``
    ``x(s) = (1 - s) x_i + s x_j`` between two different inputs.
``"gaussian"``
    A straight line through ``x_i`` in a random Gaussian direction:
    ``x(s) = x_i + (2 s - 1) r sigma z`` with ``z ~ N(0, I)``, ``sigma`` the standard
    deviation of all input values and ``r`` the ``radius``.
``"shift"``
    A sub-pixel translation of an image ``x_i`` (last two axes are height and width) by
    ``(2 s - 1) * radius`` pixels in a random direction, by a Fourier phase ramp (periodic
    borders): smooth (analytic) in ``s``, unlike bilinear resampling, which is itself
    piecewise linear in the shift.
``"brightness"``
    A brightness ramp ``x(s) = x_i + (2 s - 1) r sigma``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PATH_KINDS", "PathSet", "build_paths"]

PATH_KINDS = ("linear", "gaussian", "shift", "brightness")


@dataclass(frozen=True)
class _Path:
    kind: str
    center: np.ndarray  # x_i (linear: x_i)
    other: np.ndarray | None  # linear: x_j - x_i; gaussian: r sigma z; shift: (dy, dx)
    offset: float  # brightness: r sigma


class PathSet:
    """``n_paths`` smooth paths in input space, each sampled by :meth:`at`.

    Examples
    --------
    >>> import numpy as np
    >>> ps = build_paths(np.eye(3), "linear", 4, np.random.default_rng(0))
    >>> ps.at(0, np.linspace(0.0, 1.0, 5)).shape
    (5, 3)
    """

    def __init__(self, kind: str, paths: list[_Path], shape: tuple[int, ...]) -> None:
        self.kind = kind
        self._paths = paths
        self.shape = shape

    def __len__(self) -> int:
        return len(self._paths)

    def at(self, p: int, s: np.ndarray) -> np.ndarray:
        """Path ``p`` sampled at parameters ``s`` (1-D), shape ``(len(s), *shape)``."""
        q = self._paths[p]
        s = np.asarray(s, dtype=np.float64)
        bshape = (len(s),) + (1,) * len(self.shape)
        if q.kind == "linear":
            assert q.other is not None
            return np.asarray(q.center[None] + s.reshape(bshape) * q.other[None])
        if q.kind == "gaussian":
            assert q.other is not None
            return np.asarray(q.center[None] + (2.0 * s.reshape(bshape) - 1.0) * q.other[None])
        if q.kind == "brightness":
            return q.center[None] + (2.0 * s.reshape(bshape) - 1.0) * q.offset
        assert q.other is not None
        return _fourier_shift(q.center, (2.0 * s)[:, None] - 1.0, q.other)

    def length(self, p: int, s: np.ndarray) -> float:
        """Length of path ``p`` in input space (Euclidean), measured on the grid ``s``."""
        q = self._paths[p]
        if q.kind in ("linear", "gaussian"):
            assert q.other is not None
            scale = 1.0 if q.kind == "linear" else 2.0
            return scale * float(np.linalg.norm(q.other)) * float(s[-1] - s[0])
        if q.kind == "brightness":
            return 2.0 * abs(q.offset) * float(np.sqrt(q.center.size)) * float(s[-1] - s[0])
        x = self.at(p, s).reshape(len(s), -1)
        return float(np.linalg.norm(np.diff(x, axis=0), axis=1).sum())


def _fourier_shift(img: np.ndarray, amount: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """``img`` translated by ``amount[k] * direction`` pixels (periodic), for every k."""
    h, w = img.shape[-2:]
    ky = np.fft.fftfreq(h)[:, None]
    kx = np.fft.rfftfreq(w)[None, :]
    spec = np.fft.rfft2(img)
    dy = amount[:, 0] * direction[0]
    dx = amount[:, 0] * direction[1]
    lead = (len(amount),) + (1,) * (img.ndim - 2)
    phase = np.exp(
        -2j * np.pi * (ky[None] * dy.reshape(-1, 1, 1) + kx[None] * dx.reshape(-1, 1, 1))
    )
    out = np.fft.irfft2(spec[None] * phase.reshape(lead + phase.shape[1:]), s=(h, w))
    return np.asarray(out, dtype=np.float64)


def build_paths(
    inputs: np.ndarray, kind: str, n_paths: int, rng: np.random.Generator, radius: float = 0.5
) -> PathSet:
    """Draw ``n_paths`` paths of ``kind`` around ``inputs`` (N, ...), reproducibly from ``rng``.

    Parameters
    ----------
    inputs : numpy.ndarray
        (N, ...) float64 inputs; ``"linear"`` needs N >= 2, ``"shift"`` needs images (at
        least two axes per input, the last two are height and width).
    kind : str
        One of :data:`PATH_KINDS`.
    n_paths : int
        Number of paths.
    rng : numpy.random.Generator
        Source of all randomness.
    radius : float
        ``"gaussian"``, ``"brightness"``: half-length in units of the inputs' standard
        deviation; ``"shift"``: the largest shift in pixels.

    Returns
    -------
    PathSet

    Examples
    --------
    >>> import numpy as np
    >>> len(build_paths(np.zeros((2, 4, 4)), "shift", 3, np.random.default_rng(0)))
    3
    """
    n = inputs.shape[0]
    shape = inputs.shape[1:]
    sigma = float(inputs.std()) if inputs.size else 0.0
    if sigma == 0.0:
        sigma = 1.0
    paths: list[_Path] = []
    for _ in range(n_paths):
        if kind == "linear":
            i, j = (int(v) for v in rng.choice(n, size=2, replace=False))
            paths.append(_Path(kind, inputs[i], inputs[j] - inputs[i], 0.0))
            continue
        i = int(rng.integers(n))
        if kind == "gaussian":
            z = rng.standard_normal(shape)
            paths.append(_Path(kind, inputs[i], radius * sigma * z, 0.0))
        elif kind == "brightness":
            paths.append(_Path(kind, inputs[i], None, radius * sigma))
        else:
            theta = rng.uniform(0.0, 2.0 * np.pi)
            direction = radius * np.array([np.sin(theta), np.cos(theta)])
            paths.append(_Path(kind, inputs[i], direction, 0.0))
    return PathSet(kind, paths, shape)
