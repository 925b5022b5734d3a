"""Describe any strided array as element offsets into one flat view (no copies).

The Numba kernels address an input ``y`` (path axis last) through ``flat``, a read-only
1-D contiguous view of the memory ``y`` spans, and a :class:`Plan`:

* signal ``(o, i)`` is ``flat[in_off[o] + i * si + t * st]`` for ``t = 0 .. n-1``;
* its results go to index ``out_off[o] + i * so`` of the C-ordered batch output.

The *inner* axis is the batch axis with the smallest non-zero stride, merged with every
other batch axis that continues it both in the input and in the output; the remaining
axes are enumerated in ``in_off`` / ``out_off``. Only arrays whose strides are not whole
multiples of the item size (or that are misaligned) are copied.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Plan:
    """How the kernels walk one array: see the module docstring."""

    flat: np.ndarray
    in_off: np.ndarray
    out_off: np.ndarray
    n_inner: int
    si: int
    so: int
    n: int
    st: int
    batch_shape: tuple[int, ...]


def as_float(y: np.ndarray) -> np.ndarray:
    """``y`` as a native, aligned float32 or float64 array (a copy only when needed)."""
    y = np.asarray(y)
    if y.dtype not in (np.float32, np.float64):
        y = y.astype(np.float64)
    if not y.dtype.isnative:  # pragma: no cover - the public API already converts
        y = y.astype(y.dtype.newbyteorder("="))
    if not y.flags.aligned or any(s % y.itemsize for s in y.strides):
        y = np.ascontiguousarray(y)
    return y


def flat_view(y: np.ndarray) -> tuple[np.ndarray, int, list[int]]:
    """Return ``(flat, base, strides)``: ``y[idx]`` is ``flat[base + sum(idx * strides)]``.

    ``strides`` are in elements. ``y`` must come from :func:`as_float`.
    """
    strides = [s // y.itemsize if n > 1 else 0 for s, n in zip(y.strides, y.shape, strict=True)]
    low = sum((n - 1) * s for s, n in zip(strides, y.shape, strict=True) if s < 0)
    high = sum((n - 1) * s for s, n in zip(strides, y.shape, strict=True) if s > 0)
    # view whose [0, ..., 0] element sits at the lowest address
    lowest = y[tuple(slice(None, None, -1) if s < 0 else slice(None) for s in strides)]
    flat = np.lib.stride_tricks.as_strided(
        lowest, shape=(high - low + 1,), strides=(y.itemsize,), writeable=False
    )
    return flat, -low, strides


def plan(y: np.ndarray) -> Plan:
    """Plan the walk over ``y`` (float32/float64 from :func:`as_float`, ``y.size > 0``)."""
    flat, base, strides = flat_view(y)
    batch_shape = tuple(y.shape[:-1])
    n, st = y.shape[-1], strides[-1]
    out_strides = [int(np.prod(batch_shape[k + 1 :])) for k in range(len(batch_shape))]
    in_base, out_base = base, 0
    axes: list[list[int]] = []  # [size, in stride, out stride] of batch axes longer than 1
    for size, s, so in zip(batch_shape, strides[:-1], out_strides, strict=True):
        if size == 1:
            continue
        if s < 0:  # walk it backwards: same signals, same outputs
            in_base += (size - 1) * s
            out_base += (size - 1) * so
            s, so = -s, -so
        axes.append([size, s, so])
    moving = [a for a in axes if a[1] > 0]
    if moving:
        inner = min(moving, key=lambda a: a[1])
        axes.remove(inner)
        n_inner, si, so = inner
        merged = True
        while merged:
            merged = False
            for a in axes:
                if a[1] == si * n_inner and a[2] == so * n_inner:
                    n_inner *= a[0]
                    axes.remove(a)
                    merged = True
                    break
    else:
        n_inner, si, so = 1, 0, 0
    in_off = np.array([in_base], dtype=np.int64)
    out_off = np.array([out_base], dtype=np.int64)
    for size, s, so_a in axes:
        steps = np.arange(size, dtype=np.int64)
        in_off = (in_off[:, None] + steps * s).ravel()
        out_off = (out_off[:, None] + steps * so_a).ravel()
    return Plan(flat, in_off, out_off, int(n_inner), int(si), int(so), int(n), int(st), batch_shape)
