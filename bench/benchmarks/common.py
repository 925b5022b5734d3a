"""Helpers shared by the asv benchmarks and ``bench/compare.py``.

Nothing here is a benchmark (asv only collects ``time_*``, ``peakmem_*``, ... names).
"""

from __future__ import annotations

import numpy as np

import smpfast
from smpfast import _backends

#: Every backend smpfast knows, best first.
BACKENDS: tuple[str, ...] = tuple(_backends.BACKENDS)

#: The kernels a backend module must define to be benchmarked (a half-written backend,
#: e.g. an empty ``smpfast/_numba`` package, imports fine but has none of them).
KERNELS = ("smp_local", "smp_run", "find_peaks_local", "find_peaks_run")

SEED = 20240611


def backend_problem(name: str) -> str | None:
    """Why backend ``name`` cannot be benchmarked here, or None when it can."""
    module = _backends.load(name)
    if module is None:
        return _backends.unavailable_reason(name) or "does not load"
    missing = [k for k in KERNELS if not hasattr(module, k)]
    if missing:
        return f"{module.__name__} loads but lacks {', '.join(missing)}"
    return None


def usable_backends() -> list[str]:
    """Backends that load and define every kernel, best first."""
    return [name for name in BACKENDS if backend_problem(name) is None]


def require_backend(name: str) -> None:
    """Raise NotImplementedError (asv's "skip this benchmark") if ``name`` is not usable."""
    problem = backend_problem(name)
    if problem is not None:
        raise NotImplementedError(f"backend {name!r} not available: {problem}")


def signals(shape: tuple[int, ...], dtype: str | np.dtype, seed: int = SEED) -> np.ndarray:
    """Seeded i.i.d. standard-normal samples: dense peaks (about one every 3 samples).

    This is the hard case for a peak finder (unpredictable branches, many peaks), and
    it costs the same for every backend run after run.
    """
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt in (np.float32, np.float64):
        return rng.standard_normal(shape, dtype=dt)
    return rng.standard_normal(shape).astype(dt)


def layout_array(
    layout: str, dtype: str | np.dtype, shape: tuple[int, ...], seed: int = SEED
) -> tuple[np.ndarray, int]:
    """An array in one of the benchmarked layouts and the path axis to measure along.

    ``shape`` is ``(T, H, W)`` for ``"frames"`` (path axis 0: a stack of frames) and
    ``(B, T)`` for ``"signals"`` (path axis -1: contiguous signals) and ``"strided"``
    (a non-contiguous view with a negative stride along the path axis and every other
    signal skipped: ``base[::2, ::-1]`` of a ``(2B, T)`` array).
    """
    if layout == "frames":
        return signals(shape, dtype, seed), 0
    if layout == "signals":
        return signals(shape, dtype, seed), -1
    if layout == "strided":
        b, t = shape
        base = signals((2 * b, t), dtype, seed)
        return base[::2, ::-1], -1
    raise ValueError(f"unknown layout {layout!r}")


def subset(x: np.ndarray, axis: int) -> np.ndarray:
    """A view of the first few signals of ``x``, with ``x``'s strides (for quick checks).

    64 signals of a 2-D array, 8 x 8 of a 3-D one (the path axis is kept whole).
    """
    ax = axis % x.ndim
    keep = 64 if x.ndim == 2 else 8
    return x[tuple(slice(None) if i == ax else slice(0, keep) for i in range(x.ndim))]


def check_smp(
    x: np.ndarray,
    axis: int,
    backend: str,
    mode: str,
    height: float = 0.0,
    tol: float | None = None,
    rtol: float = 1e-9,
) -> None:
    """Raise AssertionError unless ``backend`` gives the reference's SMP and counts on ``x``."""
    got_s, got_n = smpfast.smp_and_count(
        x, axis, mode=mode, height=height, tol=tol, backend=backend
    )
    ref_s, ref_n = smpfast.smp_and_count(
        x, axis, mode=mode, height=height, tol=tol, backend="numpy"
    )
    close = np.isclose(got_s, ref_s, rtol=rtol, atol=0.0, equal_nan=True)
    if not close.all() or not np.array_equal(got_n, ref_n):
        bad = np.flatnonzero(~close.ravel() | (got_n != ref_n).ravel())
        i = int(bad[0])
        raise AssertionError(
            f"backend {backend!r} disagrees with the reference (mode={mode!r}, dtype={x.dtype},"
            f" shape={x.shape}, strides={x.strides}, axis={axis}): {bad.size} of "
            f"{got_s.size} signals differ; first at flat index {i}: smp "
            f"{got_s.ravel()[i]!r} vs {ref_s.ravel()[i]!r}, count "
            f"{got_n.ravel()[i]} vs {ref_n.ravel()[i]}"
        )


def check_find_peaks(y: np.ndarray, backend: str, mode: str, rtol: float = 1e-9) -> None:
    """Raise AssertionError unless ``backend`` finds the reference's peaks in ``y``."""
    pos, mag = smpfast.find_peaks(y, mode=mode, backend=backend)
    ref_pos, ref_mag = smpfast.find_peaks(y, mode=mode, backend="numpy")
    if not (np.array_equal(pos, ref_pos) and np.allclose(mag, ref_mag, rtol=rtol, atol=0.0)):
        raise AssertionError(
            f"backend {backend!r} find_peaks(mode={mode!r}) disagrees with the reference "
            f"on {y.size} samples: {pos.size} vs {ref_pos.size} peaks"
        )
