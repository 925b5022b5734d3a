"""Numba kernels of :mod:`smpfast.nn` (the ``"numba"`` backend; compiled on first use, cached).

Same names and signatures as :mod:`smpfast.nn_reference` (see its docstring for the
kernel contract and the definitions). Every kernel is parallel over batch x channels
(``prange``), compiled with ``cache=True`` and without ``fastmath``, so that the
arithmetic is the reference's: max pooling (values and indices), average pooling, the
activations and batch norm are bitwise identical to the reference; convolution and
``linear`` agree to rounding (they accumulate over channels and taps in their own
order).

Inputs are read through ``_flat``: a read-only 1-D contiguous view of the memory an
array spans, with the element offset of its first element and its element strides, so
that any layout (negative and zero strides included) is addressed without a copy and
every kernel compiles once per dtype.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from numba import njit, prange

from .. import _config
from .._validate_nn import conv_output_size, pool_output_size
from ..nn_reference import batch_norm_coefficients

__all__ = [
    "avg_pool2d",
    "batch_norm",
    "conv2d",
    "leaky_relu",
    "linear",
    "max_pool2d",
    "prelu",
    "relu",
]

name = "numba"

_OPTS = {"cache": True, "nogil": True, "parallel": True}


def _threads() -> None:
    numba.set_num_threads(min(_config.get_num_threads(), numba.config.NUMBA_NUM_THREADS))


def _flat(a: np.ndarray) -> tuple[np.ndarray, int, tuple[int, ...]]:
    """Read-only 1-D view of the memory ``a`` spans, offset of ``a``'s first element, strides.

    ``a[i, j, ...]`` is ``flat[offset + i * strides[0] + j * strides[1] + ...]``. ``a``
    must not be empty.
    """
    item = a.itemsize
    if not a.flags.aligned or any(s % item for s in a.strides):
        a = a.copy()
    strides = tuple(s // item for s in a.strides)
    low = sum((n - 1) * s for n, s in zip(a.shape, strides, strict=True) if s < 0)
    high = sum((n - 1) * s for n, s in zip(a.shape, strides, strict=True) if s > 0)
    # flipping the axes with negative strides puts the data pointer at the lowest address
    lowest = a[tuple(slice(None, None, -1) if s < 0 else slice(None) for s in strides)]
    flat = np.lib.stride_tricks.as_strided(
        lowest, shape=(high - low + 1,), strides=(item,), writeable=False
    )
    return flat, -low, strides


def _as3d(x: np.ndarray) -> np.ndarray:
    """``x`` (any shape, not empty) as 3-D (rows first), a view where the layout allows."""
    if x.ndim >= 3:
        return x.reshape(x.shape[0], math.prod(x.shape[1:-1]), x.shape[-1])
    return x.reshape((1,) * (3 - x.ndim) + x.shape)


def _vector(a: np.ndarray | None, n: int, dtype: np.dtype[Any]) -> np.ndarray:
    """A small per-channel array as a fresh writeable C-contiguous copy (zeros for None)."""
    if a is None:
        return np.zeros(n, dtype=dtype)
    return np.array(a, dtype=dtype, order="C", copy=True)


# --------------------------------------------------------------------------- convolution
@njit(**_OPTS)
def _conv2d(xf, xo, xs, xshape, wf, wo, ws, wshape, bias, out, stride, padding, dilation, groups):
    _, _, h, w = xshape
    n_out, cg, kh, kw = wshape
    n_batch, _, ho, wout = out.shape
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    og = n_out // groups
    for job in prange(n_batch * n_out):
        n = job // n_out
        o = job - n * n_out
        g = o // og
        acc = out[n, o]
        acc[:, :] = 0
        for ci in range(cg):
            xb = xo + n * xs[0] + (g * cg + ci) * xs[1]
            wb = wo + o * ws[0] + ci * ws[1]
            for a in range(kh):
                for b in range(kw):
                    wv = wf[wb + a * ws[2] + b * ws[3]]
                    col = b * dw - pw  # input column of output column 0
                    j0 = max(0, (sw - 1 - col) // sw)  # first j with j * sw + col >= 0
                    j1 = min(wout, (w - 1 - col) // sw + 1)  # past the last one < w
                    for i in range(ho):
                        r = i * sh + a * dh - ph
                        if r < 0 or r >= h:
                            continue
                        xr = xb + r * xs[2] + col * xs[3]
                        step = sw * xs[3]
                        for j in range(j0, j1):
                            acc[i, j] += wv * xf[xr + j * step]
        acc += bias[o]


def conv2d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
) -> np.ndarray:
    """2-D convolution (see ``smpfast.nn_reference.conv2d``)."""
    _threads()
    n, _, h, w = x.shape
    o, _, kh, kw = weight.shape
    ho = conv_output_size(h, kh, stride[0], padding[0], dilation[0])
    wo = conv_output_size(w, kw, stride[1], padding[1], dilation[1])
    out = np.empty((n, o, ho, wo), dtype=x.dtype)
    xf, xo, xs = _flat(x)
    wf, woff, ws = _flat(weight)
    _conv2d(
        xf, xo, xs, x.shape, wf, woff, ws, weight.shape, _vector(bias, o, x.dtype), out,
        tuple(stride), tuple(padding), tuple(dilation), groups,
    )  # fmt: skip
    return out


# --------------------------------------------------------------------------- pooling
@njit(**_OPTS)
def _max_pool2d(xf, xo, xs, xshape, out, index, kernel, stride, padding, dilation):
    _, n_chan, h, w = xshape
    n_batch, _, ho, wout = out.shape
    kh, kw = kernel
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    for job in prange(n_batch * n_chan):
        n = job // n_chan
        c = job - n * n_chan
        xb = xo + n * xs[0] + c * xs[1]
        for i in range(ho):
            r0 = i * sh - ph
            r1 = min(r0 + (kh - 1) * dh + 1, h)
            while r0 < 0:
                r0 += dh
            for j in range(wout):
                q0 = j * sw - pw
                q1 = min(q0 + (kw - 1) * dw + 1, w)
                while q0 < 0:
                    q0 += dw
                best = -np.inf
                arg = r0 * w + q0
                for r in range(r0, r1, dh):
                    for q in range(q0, q1, dw):
                        v = xf[xb + r * xs[2] + q * xs[3]]
                        if v > best or np.isnan(v):
                            best = v
                            arg = r * w + q
                out[n, c, i, j] = best
                index[n, c, i, j] = arg


@njit(**_OPTS)
def _max_pool2d_values(xf, xo, xs, xshape, out, kernel, stride, padding, dilation):
    # _max_pool2d without the indices; windows of 2 x 2 at stride 2 that lie inside the
    # input (the common pooling) take a straight-line branch, same update rule and order
    _, n_chan, h, w = xshape
    n_batch, _, ho, wout = out.shape
    kh, kw = kernel
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    quad = kh == 2 and kw == 2 and sw == 2 and dh == 1 and dw == 1 and pw == 0
    for job in prange(n_batch * n_chan):
        n = job // n_chan
        c = job - n * n_chan
        xb = xo + n * xs[0] + c * xs[1]
        for i in range(ho):
            r0 = i * sh - ph
            if quad and r0 >= 0 and r0 + 1 < h and 2 * wout <= w:
                top = xb + r0 * xs[2]
                bottom = top + xs[2]
                for j in range(wout):
                    q = 2 * j * xs[3]
                    best = xf[top + q]
                    v = xf[top + q + xs[3]]
                    if v > best or np.isnan(v):
                        best = v
                    v = xf[bottom + q]
                    if v > best or np.isnan(v):
                        best = v
                    v = xf[bottom + q + xs[3]]
                    if v > best or np.isnan(v):
                        best = v
                    out[n, c, i, j] = best
                continue
            r1 = min(r0 + (kh - 1) * dh + 1, h)
            while r0 < 0:
                r0 += dh
            for j in range(wout):
                q0 = j * sw - pw
                q1 = min(q0 + (kw - 1) * dw + 1, w)
                while q0 < 0:
                    q0 += dw
                best = -np.inf
                for r in range(r0, r1, dh):
                    for q in range(q0, q1, dw):
                        v = xf[xb + r * xs[2] + q * xs[3]]
                        if v > best or np.isnan(v):
                            best = v
                out[n, c, i, j] = best


def max_pool2d(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    ceil_mode: bool,
    with_indices: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """2-D max pooling (see ``smpfast.nn_reference.max_pool2d``).

    Without ``with_indices`` a values-only kernel runs and the indices are None.
    """
    _threads()
    n, c, h, w = x.shape
    ho = pool_output_size(h, kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    wo = pool_output_size(w, kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    out = np.empty((n, c, ho, wo), dtype=x.dtype)
    xf, xo, xs = _flat(x)
    if not with_indices:
        _max_pool2d_values(
            xf, xo, xs, x.shape, out, tuple(kernel), tuple(stride), tuple(padding),
            tuple(dilation),
        )  # fmt: skip
        return out, None
    index = np.empty((n, c, ho, wo), dtype=np.int64)
    _max_pool2d(
        xf, xo, xs, x.shape, out, index, tuple(kernel), tuple(stride), tuple(padding),
        tuple(dilation),
    )  # fmt: skip
    return out, index


@njit(**_OPTS)
def _avg_pool2d(xf, xo, xs, xshape, out, kernel, stride, padding, include_pad, zero):
    _, n_chan, h, w = xshape
    n_batch, _, ho, wout = out.shape
    kh, kw = kernel
    sh, sw = stride
    ph, pw = padding
    for job in prange(n_batch * n_chan):
        n = job // n_chan
        c = job - n * n_chan
        xb = xo + n * xs[0] + c * xs[1]
        for i in range(ho):
            r0 = i * sh - ph
            r1 = min(r0 + kh, h + ph)  # the window, cut at the right padding
            span_h = r1 - r0
            r0 = max(r0, 0)
            r1 = min(r1, h)
            for j in range(wout):
                q0 = j * sw - pw
                q1 = min(q0 + kw, w + pw)
                span_w = q1 - q0
                q0 = max(q0, 0)
                q1 = min(q1, w)
                if r0 >= r1 or q0 >= q1:
                    out[n, c, i, j] = zero
                    continue
                total = zero
                for r in range(r0, r1):
                    for q in range(q0, q1):
                        total += xf[xb + r * xs[2] + q * xs[3]]
                if include_pad:
                    divisor = span_h * span_w
                else:
                    divisor = (r1 - r0) * (q1 - q0)
                # float32 / int is computed in float64 and rounded once: the same value
                # as the float32 division of the reference
                out[n, c, i, j] = total / divisor


def avg_pool2d(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    ceil_mode: bool,
    count_include_pad: bool,
) -> np.ndarray:
    """2-D average pooling (see ``smpfast.nn_reference.avg_pool2d``)."""
    _threads()
    n, c, h, w = x.shape
    ho = pool_output_size(h, kernel[0], stride[0], padding[0], 1, ceil_mode)
    wo = pool_output_size(w, kernel[1], stride[1], padding[1], 1, ceil_mode)
    out = np.empty((n, c, ho, wo), dtype=x.dtype)
    xf, xo, xs = _flat(x)
    _avg_pool2d(
        xf, xo, xs, x.shape, out, tuple(kernel), tuple(stride), tuple(padding),
        bool(count_include_pad), x.dtype.type(0),
    )  # fmt: skip
    return out


# --------------------------------------------------------------------------- activations
@njit(**_OPTS)
def _relu(xf, xo, xs, out, zero):
    n_a, n_b, n_c = out.shape
    for job in prange(n_a * n_b):
        a = job // n_b
        b = job - a * n_b
        base = xo + a * xs[0] + b * xs[1]
        for k in range(n_c):
            v = xf[base + k * xs[2]]
            out[a, b, k] = zero if v < zero else v


@njit(**_OPTS)
def _leaky_relu(xf, xo, xs, out, slope):
    n_a, n_b, n_c = out.shape
    for job in prange(n_a * n_b):
        a = job // n_b
        b = job - a * n_b
        base = xo + a * xs[0] + b * xs[1]
        for k in range(n_c):
            v = xf[base + k * xs[2]]
            out[a, b, k] = v if v > 0 else v * slope


@njit(**_OPTS)
def _prelu(xf, xo, xs, out, weight):
    n_a, n_b, n_c = out.shape
    for job in prange(n_a * n_b):
        a = job // n_b
        b = job - a * n_b
        base = xo + a * xs[0] + b * xs[1]
        wv = weight[b]
        for k in range(n_c):
            v = xf[base + k * xs[2]]
            out[a, b, k] = v if v > 0 else wv * v


def relu(x: np.ndarray) -> np.ndarray:
    """``0 if x < 0 else x`` (see ``smpfast.nn_reference.relu``)."""
    _threads()
    x3 = _as3d(x)
    out = np.empty(x3.shape, dtype=x.dtype)
    xf, xo, xs = _flat(x3)
    _relu(xf, xo, xs, out, x.dtype.type(0))
    return out.reshape(x.shape)


def leaky_relu(x: np.ndarray, slope: float) -> np.ndarray:
    """``x if x > 0 else x * slope`` (see ``smpfast.nn_reference.leaky_relu``)."""
    _threads()
    x3 = _as3d(x)
    out = np.empty(x3.shape, dtype=x.dtype)
    xf, xo, xs = _flat(x3)
    _leaky_relu(xf, xo, xs, out, x.dtype.type(slope))
    return out.reshape(x.shape)


def prelu(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``x if x > 0 else weight[c] * x`` for x (N, C, M) (see ``nn_reference.prelu``)."""
    _threads()
    out = np.empty(x.shape, dtype=x.dtype)
    xf, xo, xs = _flat(x)
    _prelu(xf, xo, xs, out, _vector(weight, x.shape[1], x.dtype))
    return out


# --------------------------------------------------------------------------- affine maps
@njit(**_OPTS)
def _linear(xf, xo, xs, wf, wo, ws, n_in, bias, out, zero):
    n_rows, n_out = out.shape
    for job in prange(n_rows * n_out):
        m = job // n_out
        o = job - m * n_out
        xb = xo + m * xs[0]
        wb = wo + o * ws[0]
        total = zero
        for k in range(n_in):
            total += xf[xb + k * xs[1]] * wf[wb + k * ws[1]]
        out[m, o] = total + bias[o]


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """``x @ weight.T + bias`` for x (M, K) (see ``smpfast.nn_reference.linear``)."""
    _threads()
    m, k = x.shape
    o = weight.shape[0]
    out = np.empty((m, o), dtype=x.dtype)
    xf, xo, xs = _flat(x)
    wf, woff, ws = _flat(weight)
    _linear(xf, xo, xs, wf, woff, ws, k, _vector(bias, o, x.dtype), out, x.dtype.type(0))
    return out


@njit(**_OPTS)
def _affine(xf, xo, xs, out, alpha, beta):
    n_a, n_b, n_c = out.shape
    for job in prange(n_a * n_b):
        a = job // n_b
        b = job - a * n_b
        base = xo + a * xs[0] + b * xs[1]
        al = alpha[b]
        be = beta[b]
        for k in range(n_c):
            out[a, b, k] = xf[base + k * xs[2]] * al + be


def batch_norm(
    x: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray,
    eps: float,
) -> np.ndarray:
    """Inference batch norm of x (N, C, M) (see ``smpfast.nn_reference.batch_norm``)."""
    _threads()
    c = x.shape[1]
    with np.errstate(all="ignore"):
        alpha, beta = batch_norm_coefficients(mean, var, weight, bias, eps)
    out = np.empty(x.shape, dtype=x.dtype)
    xf, xo, xs = _flat(x)
    _affine(xf, xo, xs, out, _vector(alpha, c, x.dtype), _vector(beta, c, x.dtype))
    return out
