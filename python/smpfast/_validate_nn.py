"""Argument checks and normalisation for :mod:`smpfast.nn` (one place for user-facing errors).

Every ``smpfast.nn`` function goes through here once; the backends then receive
normalised arguments and never raise user-facing errors themselves:

* arrays of one real floating dtype, float32 or float64. Rule: every array argument is
  first made floating (bool and integer become float64, float16 becomes float32), then
  all of a call's arrays are cast to ``np.result_type`` of those (so float32 ``x`` with a
  float64 ``weight`` computes in float64; Python scalars are weak and take the arrays'
  dtype). Complex, object, string and extended-precision arrays raise TypeError.
* spatial parameters (kernel size, stride, padding, dilation) as tuples of Python ints,
  one per spatial dimension (an int, or a sequence of one, applies to every dimension);
* the output-size arithmetic of PyTorch, shared by every backend: :func:`conv_output_size`
  and :func:`pool_output_size` (with ``ceil_mode``'s rule that the last window must start
  inside the input or its left padding).

Errors are ValueError (shapes and values, the offending shapes in the message) or
TypeError (wrong kinds of argument).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validate import float_array

#: Spatial dimensions of the 1-D and 2-D blocks.
SPATIAL = {1: ("L",), 2: ("H", "W")}


# --------------------------------------------------------------------------- dtypes
def common_dtype(*arrays: np.ndarray | None) -> np.dtype[Any]:
    """``np.result_type`` of the (already floating) arrays that are not None."""
    return np.result_type(*(a.dtype for a in arrays if a is not None))


def cast(arr: np.ndarray | None, dtype: np.dtype[Any]) -> np.ndarray | None:
    """``arr`` in ``dtype`` (no copy when it already is)."""
    return None if arr is None else arr.astype(dtype, copy=False)


def _python_scalar(value: Any) -> bool:
    return isinstance(value, (bool, int, float)) and not isinstance(value, np.generic)


def float_arrays(**named: Any) -> tuple[np.dtype[Any], dict[str, np.ndarray | None]]:
    """Make every named array floating and cast them all to their common dtype.

    None values stay None. Python scalars (``prelu(x, 0.25)``) are weak, as in NumPy 2:
    they take the dtype of the arrays (float64 if every argument is a Python scalar).
    Returns the common dtype and the arrays by name.
    """
    arrays = {k: (None if v is None else float_array(v, k)) for k, v in named.items()}
    strong = [a for k, a in arrays.items() if not _python_scalar(named[k])]
    dtype = common_dtype(*strong) if any(a is not None for a in strong) else np.dtype(np.float64)
    return dtype, {k: cast(v, dtype) for k, v in arrays.items()}


# --------------------------------------------------------------------------- scalars
def real(value: Any, name: str) -> float:
    """A real Python number (not bool, not complex) as float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    return float(value)


def flag(value: Any, name: str) -> bool:
    """A bool (``True``/``False`` or a NumPy bool); anything else is a TypeError."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def integer(value: Any, name: str) -> int:
    """A Python int from an int-like (not bool)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got bool {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(
            f"{name} must be an integer, got {type(value).__name__} {value!r}"
        ) from None


def int_tuple(value: Any, n: int, name: str, minimum: int) -> tuple[int, ...]:
    """``value`` (an int, or a sequence of 1 or ``n`` ints) as ``n`` ints ``>= minimum``."""
    if isinstance(value, np.ndarray) and value.ndim == 1:
        items = value.tolist()
    elif isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        items = [value]
    else:
        items = list(value)
    if len(items) == 1:
        items = items * n
    if len(items) != n:
        raise ValueError(
            f"{name} must be an int or a sequence of {n} int{'s' if n > 1 else ''}; got {value!r}"
        )
    out = tuple(integer(v, name) for v in items)
    if any(v < minimum for v in out):
        raise ValueError(f"{name} must be >= {minimum} in every dimension; got {value!r}")
    return out


# --------------------------------------------------------------------------- output sizes
def conv_output_size(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """Output length of a convolution along one dimension (floor rule, as PyTorch)."""
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


def pool_output_size(
    size: int, kernel: int, stride: int, pad: int, dilation: int, ceil_mode: bool
) -> int:
    """Output length of a pooling along one dimension, PyTorch's ``pooling_output_shape``.

    ``floor((size + 2 pad - dilation (kernel - 1) - 1) / stride) + 1``, or with
    ``ceil_mode`` the ceiling, minus one when the last window would then start beyond the
    input and its left padding (``(out - 1) stride >= size + pad``): the last window must
    start inside the input or the left padding. A window may still run past the right
    padding; those positions are simply not there (max ignores them, average does not
    count them even with ``count_include_pad``).
    """
    num = size + 2 * pad - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return num // stride + 1
    out = -(-num // stride) + 1
    if (out - 1) * stride >= size + pad:
        out -= 1
    return out


# --------------------------------------------------------------------------- layouts
def _batched(x: np.ndarray, dims: int, name: str, fn: str) -> tuple[np.ndarray, bool]:
    """``x`` with a batch axis (added for unbatched input) and whether it was added."""
    if x.ndim in (dims + 1, dims + 2):
        if min(x.shape[-dims - 1 :]) < 1:
            raise ValueError(
                f"{fn}: {name} of shape {x.shape} has an empty channel or spatial dimension"
            )
        return (x[np.newaxis], True) if x.ndim == dims + 1 else (x, False)
    raise ValueError(
        f"{fn}: {name} must be {dims + 2}-D (N, C, {', '.join(SPATIAL[dims])}) or "
        f"{dims + 1}-D unbatched (C, {', '.join(SPATIAL[dims])}); got shape {x.shape}"
    )


@dataclass(frozen=True)
class ConvArgs:
    """Normalised arguments of a ``dims``-D convolution (x batched, shapes checked)."""

    x: np.ndarray
    weight: np.ndarray
    bias: np.ndarray | None
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    unbatched: bool
    out_shape: tuple[int, ...]
    #: extra zeros to append at the end of each spatial dimension (padding="same" with
    #: an odd total padding: PyTorch puts the extra zero on the right)
    pad_extra: tuple[int, ...]


def conv_args(
    fn: str,
    dims: int,
    x: Any,
    weight: Any,
    bias: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: Any,
) -> ConvArgs:
    """Check and normalise the arguments of ``conv1d`` (dims=1) or ``conv2d`` (dims=2)."""
    _, arrs = float_arrays(x=x, weight=weight, bias=bias)
    xa, wa, ba = arrs["x"], arrs["weight"], arrs["bias"]
    assert xa is not None and wa is not None
    xb, unbatched = _batched(xa, dims, "x", fn)
    if wa.ndim != dims + 2:
        raise ValueError(
            f"{fn}: weight must be {dims + 2}-D (out_channels, in_channels / groups, "
            f"{', '.join('k' + d for d in SPATIAL[dims])}); got shape {wa.shape}"
        )
    g = integer(groups, f"{fn}: groups")
    if g < 1:
        raise ValueError(f"{fn}: groups must be >= 1; got {g}")
    stride_t = int_tuple(stride, dims, f"{fn}: stride", 1)
    dilation_t = int_tuple(dilation, dims, f"{fn}: dilation", 1)
    out_ch, in_per_group = wa.shape[0], wa.shape[1]
    kernel = tuple(int(k) for k in wa.shape[2:])
    if in_per_group < 1 or min(kernel) < 1:
        raise ValueError(f"{fn}: weight of shape {wa.shape} is empty (in_channels or kernel 0)")
    if out_ch % g:
        raise ValueError(
            f"{fn}: out_channels = weight.shape[0] = {out_ch} is not divisible by "
            f"groups={g} (weight shape {wa.shape})"
        )
    channels = xb.shape[1]
    if channels != in_per_group * g:
        raise ValueError(
            f"{fn}: x has {channels} channels (shape {xa.shape}) but weight of shape "
            f"{wa.shape} with groups={g} expects {in_per_group * g} "
            f"(weight.shape[1] * groups)"
        )
    if ba is not None and ba.shape != (out_ch,):
        raise ValueError(
            f"{fn}: bias must have shape ({out_ch},) (out_channels of weight {wa.shape}); "
            f"got shape {ba.shape}"
        )
    pad_extra = (0,) * dims
    if isinstance(padding, str):
        if padding == "valid":
            padding_t = (0,) * dims
        elif padding == "same":
            if any(s != 1 for s in stride_t):
                raise ValueError(
                    f"{fn}: padding='same' needs stride 1 in every dimension; got {stride!r}"
                )
            total = tuple(d * (k - 1) for d, k in zip(dilation_t, kernel, strict=True))
            padding_t = tuple(t // 2 for t in total)
            pad_extra = tuple(t - 2 * (t // 2) for t in total)
        else:
            raise ValueError(
                f"{fn}: padding must be an int, a tuple of ints, 'valid' or 'same'; got {padding!r}"
            )
    else:
        padding_t = int_tuple(padding, dims, f"{fn}: padding", 0)
    size = tuple(int(s) for s in xb.shape[2:])
    padded = tuple(s + 2 * p + e for s, p, e in zip(size, padding_t, pad_extra, strict=True))
    effective = tuple(d * (k - 1) + 1 for d, k in zip(dilation_t, kernel, strict=True))
    if any(e > p for e, p in zip(effective, padded, strict=True)):
        raise ValueError(
            f"{fn}: the dilated kernel {effective} (weight shape {wa.shape}, dilation "
            f"{dilation_t}) is larger than the padded input {padded} (x shape {xa.shape}, "
            f"padding {padding_t})"
        )
    out_size = tuple(
        conv_output_size(s + e, k, st, p, d)
        for s, e, k, st, p, d in zip(
            size, pad_extra, kernel, stride_t, padding_t, dilation_t, strict=True
        )
    )
    return ConvArgs(
        x=xb,
        weight=wa,
        bias=ba,
        stride=stride_t,
        padding=padding_t,
        dilation=dilation_t,
        groups=g,
        unbatched=unbatched,
        out_shape=(xb.shape[0], out_ch, *out_size),
        pad_extra=pad_extra,
    )


@dataclass(frozen=True)
class PoolArgs:
    """Normalised arguments of a ``dims``-D pooling (x batched, shapes checked)."""

    x: np.ndarray
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    ceil_mode: bool
    unbatched: bool
    out_shape: tuple[int, ...]


def pool_args(
    fn: str,
    dims: int,
    x: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: Any,
) -> PoolArgs:
    """Check and normalise the arguments of a max or average pooling.

    ``stride=None`` (or an empty sequence, as in PyTorch) means ``stride = kernel_size``.
    Padding may be at most half the kernel size (``padding <= kernel_size // 2``, the
    kernel size without dilation, as PyTorch checks it).
    """
    xa = float_array(x, "x")
    xb, unbatched = _batched(xa, dims, "x", fn)
    kernel = int_tuple(kernel_size, dims, f"{fn}: kernel_size", 1)
    if stride is None or (isinstance(stride, Sequence) and len(stride) == 0):
        stride_t = kernel
    else:
        stride_t = int_tuple(stride, dims, f"{fn}: stride", 1)
    padding_t = int_tuple(padding, dims, f"{fn}: padding", 0)
    dilation_t = int_tuple(dilation, dims, f"{fn}: dilation", 1)
    ceil = flag(ceil_mode, f"{fn}: ceil_mode")
    if any(p > k // 2 for p, k in zip(padding_t, kernel, strict=True)):
        raise ValueError(
            f"{fn}: padding {padding_t} must be at most half the kernel size {kernel} "
            "(padding <= kernel_size // 2)"
        )
    size = tuple(int(s) for s in xb.shape[2:])
    out_size = tuple(
        pool_output_size(s, k, st, p, d, ceil)
        for s, k, st, p, d in zip(size, kernel, stride_t, padding_t, dilation_t, strict=True)
    )
    if min(out_size) < 1:
        raise ValueError(
            f"{fn}: output size {out_size} is too small: x of shape {xa.shape} with "
            f"kernel_size {kernel}, stride {stride_t}, padding {padding_t}, dilation "
            f"{dilation_t}, ceil_mode={ceil}"
        )
    return PoolArgs(
        x=xb,
        kernel=kernel,
        stride=stride_t,
        padding=padding_t,
        dilation=dilation_t,
        ceil_mode=ceil,
        unbatched=unbatched,
        out_shape=(xb.shape[0], xb.shape[1], *out_size),
    )


# --------------------------------------------------------------------------- per-channel
def channels_view(x: np.ndarray) -> np.ndarray:
    """``x`` of shape (N, C, ...) as (N, C, M) (a view where the layout allows)."""
    n, c = x.shape[0], x.shape[1]
    return x.reshape(n, c, math.prod(x.shape[2:]))


def prelu_args(x: Any, weight: Any) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``weight`` of ``prelu``: weight 0-D or 1-D with 1 or C elements.

    The channel axis is axis 1 (no channel axis, one channel, for ``x.ndim < 2``).
    Returns ``x`` and the weight as a C-contiguous (C,) array.
    """
    _, arrs = float_arrays(x=x, weight=weight)
    xa, wa = arrs["x"], arrs["weight"]
    assert xa is not None and wa is not None
    if wa.ndim > 1:
        raise ValueError(f"prelu: weight must be 0-D or 1-D; got shape {wa.shape}")
    channels = xa.shape[1] if xa.ndim >= 2 else 1
    if wa.size not in (1, channels):
        count = "1 element" if channels == 1 else f"1 or {channels} elements"
        raise ValueError(
            f"prelu: weight of shape {wa.shape} must have {count} (channels: axis 1 of x, "
            f"one channel for x of fewer than 2 axes; x has shape {xa.shape})"
        )
    return xa, np.ascontiguousarray(np.broadcast_to(wa.reshape(-1), (channels,)))


def linear_args(
    x: Any, weight: Any, bias: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, bool]:
    """``x`` (*, in), ``weight`` (out, in) or (in,), ``bias`` (out,) or 0-D for 1-D weight.

    Returns x, weight as 2-D, bias as 1-D (or None) and whether the weight was 1-D (the
    output then has no ``out`` axis, as in PyTorch).
    """
    _, arrs = float_arrays(x=x, weight=weight, bias=bias)
    xa, wa, ba = arrs["x"], arrs["weight"], arrs["bias"]
    assert xa is not None and wa is not None
    if wa.ndim not in (1, 2):
        raise ValueError(
            f"linear: weight must be 2-D (out_features, in_features) or 1-D; got shape {wa.shape}"
        )
    if xa.ndim < 1:
        raise ValueError(f"linear: x must be at least 1-D (..., in_features); got shape {xa.shape}")
    vector = wa.ndim == 1
    w2 = wa[np.newaxis] if vector else wa
    if xa.shape[-1] != w2.shape[1]:
        raise ValueError(
            f"linear: x of shape {xa.shape} has {xa.shape[-1]} features (last axis) but "
            f"weight of shape {wa.shape} expects {w2.shape[1]}"
        )
    if ba is not None:
        want = () if vector else (w2.shape[0],)
        if ba.shape != want and not (vector and ba.shape == (1,)):
            raise ValueError(
                f"linear: bias must have shape {want} for weight of shape {wa.shape}; got "
                f"shape {ba.shape}"
            )
        ba = ba.reshape(w2.shape[0])
    return xa, w2, ba, vector


def batch_norm_args(
    x: Any, mean: Any, var: Any, weight: Any, bias: Any, eps: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Inference batch norm: ``x`` (N, C, ...) and four (C,) arrays (weight 1, bias 0 if None)."""
    if mean is None or var is None:
        raise TypeError(
            "batch_norm: running_mean and running_var are required (inference form: the "
            "statistics of x are never used)"
        )
    _, arrs = float_arrays(x=x, running_mean=mean, running_var=var, weight=weight, bias=bias)
    xa = arrs["x"]
    assert xa is not None
    if xa.ndim < 2:
        raise ValueError(f"batch_norm: x must be at least 2-D (N, C, ...); got shape {xa.shape}")
    channels = xa.shape[1]
    for name in ("running_mean", "running_var", "weight", "bias"):
        a = arrs[name]
        if a is not None and a.shape != (channels,):
            raise ValueError(
                f"batch_norm: {name} must have shape ({channels},) (channels, axis 1 of x "
                f"of shape {xa.shape}); got shape {a.shape}"
            )
    eps_v = real(eps, "eps")
    if not (eps_v >= 0.0 and math.isfinite(eps_v)):
        raise ValueError(f"batch_norm: eps must be a finite number >= 0; got {eps!r}")
    dtype = xa.dtype
    ones = np.ones(channels, dtype=dtype)
    zeros = np.zeros(channels, dtype=dtype)
    mean_a, var_a, w_a, b_a = (
        arrs["running_mean"],
        arrs["running_var"],
        arrs["weight"],
        arrs["bias"],
    )
    assert mean_a is not None and var_a is not None
    return (
        xa,
        mean_a,
        var_a,
        ones if w_a is None else w_a,
        zeros if b_a is None else b_a,
        eps_v,
    )
