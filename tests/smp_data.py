"""Test data shared by the test modules: mixed signal families and memory layouts."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

FAMILIES = ("walk", "kinks", "small_int", "repeated", "quantised_sine", "affine", "smooth", "relu")


def signal_row(rng: np.random.Generator, family: str, length: int) -> np.ndarray:
    """One float64 signal of ``length`` samples from ``family``."""
    t = np.arange(length, dtype=np.float64)
    if family == "walk":
        return np.cumsum(rng.normal(size=length)) * 10.0 ** rng.uniform(-3, 3)
    if family == "kinks":  # piecewise linear, kinks anywhere (also closer than 2 samples)
        y = rng.normal() * t
        for c in rng.uniform(0, length, size=rng.integers(0, 5)):
            y += rng.normal() * np.abs(t - c)
        return y
    if family == "small_int":  # many ties, plateaus of |d|
        return rng.integers(-3, 4, size=length).astype(np.float64)
    if family == "repeated":  # plateaus of y
        values = rng.integers(-5, 6, size=length)
        return np.repeat(values, rng.integers(1, 5, size=length))[:length].astype(np.float64)
    if family == "quantised_sine":
        omega, phase, q = rng.uniform(0.05, 1.5), rng.uniform(0, 2 * np.pi), rng.choice([1, 2, 8])
        return np.round(q * 6 * np.sin(omega * t + phase)) / q
    if family == "affine":  # exercises the noise floor
        return rng.normal() * 10.0 ** rng.uniform(-3, 3) + rng.normal() * t
    if family == "smooth":  # tiny curvature everywhere
        return 10.0 ** rng.uniform(-2, 4) * np.sin(rng.uniform(0.001, 0.3) * t + rng.uniform(0, 6))
    if family == "relu":
        return np.maximum(np.cumsum(rng.normal(size=length)), 0.0)
    raise ValueError(family)


def signal_rows(
    rng: np.random.Generator,
    n_rows: int,
    length: int,
    *,
    families: tuple[str, ...] = FAMILIES,
    nonfinite: float = 0.0,
) -> np.ndarray:
    """``(n_rows, length)`` float64 signals of random families.

    A fraction ``nonfinite`` of the rows gets one to three NaN / +-Inf samples.
    """
    out = np.empty((n_rows, length))
    for i in range(n_rows):
        out[i] = signal_row(rng, families[rng.integers(len(families))], length)
        if length and rng.random() < nonfinite:
            where = rng.integers(0, length, size=rng.integers(1, 4))
            out[i, where] = rng.choice([np.nan, np.inf, -np.inf], size=where.size)
    return out


def signals(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    axis: int,
    dtype: type = np.float64,
    *,
    nonfinite: float = 0.0,
) -> np.ndarray:
    """C-contiguous array of ``shape`` whose signals run along ``axis``."""
    axis %= len(shape)
    length = shape[axis]
    batch = shape[:axis] + shape[axis + 1 :]
    families = FAMILIES
    if np.dtype(dtype).kind in "iu":
        if nonfinite:
            raise ValueError("integer signals cannot hold NaN or Inf")
        families = ("small_int", "repeated", "quantised_sine")
    rows = signal_rows(rng, int(np.prod(batch)), length, families=families, nonfinite=nonfinite)
    if np.dtype(dtype).kind in "iu":
        rows = np.round(rows * 8)
    y = rows.reshape(*batch, length).astype(dtype)
    return np.ascontiguousarray(np.moveaxis(y, -1, axis))


def _sentinel(dtype: np.dtype) -> object:
    return np.nan if dtype.kind == "f" else np.iinfo(dtype).max


def layouts(x: np.ndarray, axis: int, rng: np.random.Generator) -> Iterator[tuple[str, np.ndarray]]:
    """Views with the contents of ``x`` in different memory layouts.

    Samples that are not part of the view (the gaps of strided layouts) hold NaN (or the
    integer maximum), so that a kernel reading outside the view is noticed.
    """
    axis %= x.ndim
    batch_axes = tuple(a for a in range(x.ndim) if a != axis)
    yield "C", np.ascontiguousarray(x)
    yield "F", np.asfortranarray(x)
    perm = rng.permutation(x.ndim)
    yield "transposed", np.ascontiguousarray(x.transpose(perm)).transpose(np.argsort(perm))
    every_other = tuple(slice(None, None, 2) for _ in range(x.ndim))
    big = np.full(tuple(2 * n for n in x.shape), _sentinel(x.dtype), dtype=x.dtype)
    big[every_other] = x
    yield "sliced", big[every_other]
    yield "neg_path", np.flip(np.ascontiguousarray(np.flip(x, axis)), axis)
    if batch_axes:
        yield "neg_batch", np.flip(np.ascontiguousarray(np.flip(x, batch_axes)), batch_axes)
    path_big = np.full(
        (*x.shape[:axis], 3 * x.shape[axis], *x.shape[axis + 1 :]), _sentinel(x.dtype), x.dtype
    )
    path_slice = tuple(slice(None, None, -3) if a == axis else slice(None) for a in range(x.ndim))
    path_big[path_slice] = x
    yield "neg_sliced_path", path_big[path_slice]
