"""Building blocks of neural networks on NumPy arrays, with ``torch.nn.functional`` semantics.

The blocks whose nonsmoothness ``docs/nonsmoothness.md`` (section 3) describes:
convolutions and poolings (NCHW, or NCL for the 1-D forms; unbatched input without the
N axis is accepted too), the piecewise-linear activations, the smooth controls, and the
affine maps ``linear`` and inference ``batch_norm``. Each function validates once
(``smpfast._validate_nn``), dispatches to one backend's kernel and returns a new
C-contiguous array.

Dtypes: float32 and float64 are computed in their own precision; bool and integer arrays
become float64 and float16 becomes float32; when a call mixes dtypes (``x`` and
``weight``, say) everything is computed in ``np.result_type`` of them (PyTorch would
raise instead), Python scalars being weak (``prelu(x32, 0.25)`` stays float32). Any
strides are accepted, negative ones included.

Backends: the piecewise-linear and affine blocks run on the selected backend (the
``backend=`` argument, then ``smpfast.use_backend``, ``smpfast.set_backend``, the
``SMPFAST_BACKEND`` environment variable, then the best one available), whose nn kernels
live in ``smpfast._cpp_nn`` ("cpp"), ``smpfast._numba.nn`` ("numba") and
``smpfast.nn_reference`` ("numpy"). When the selected backend has no nn kernels, the
next one in the order cpp > numba > numpy is used, unless the backend was named in the
call's ``backend=`` argument: then RuntimeError. The smooth controls (``tanh``,
``sigmoid``, ``softplus``, ``gelu``, ``elu``) are NumPy code shared by every backend.

Examples
--------
>>> import numpy as np
>>> from smpfast import nn
>>> x = np.arange(16.0).reshape(1, 1, 4, 4)
>>> nn.conv2d(x, np.ones((1, 1, 2, 2)), stride=2)
array([[[[10., 18.],
         [42., 50.]]]])
>>> nn.max_pool2d(x, 2, return_indices=True)[1]
array([[[[ 5,  7],
         [13, 15]]]])
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np

from . import _backends, _validate
from . import _validate_nn as _v
from . import nn_reference as _ref

__all__ = [
    "available_backends",
    "avg_pool1d",
    "avg_pool2d",
    "batch_norm",
    "conv1d",
    "conv2d",
    "elu",
    "gelu",
    "leaky_relu",
    "linear",
    "max_pool1d",
    "max_pool2d",
    "prelu",
    "relu",
    "sigmoid",
    "softplus",
    "tanh",
]

_MODULES = {
    "cpp": "smpfast._cpp_nn",
    "numba": "smpfast._numba.nn",
    "numpy": "smpfast.nn_reference",
}

#: What every backend's nn module provides (same names in every backend and in C++).
KERNELS = (
    "conv2d",
    "max_pool2d",
    "avg_pool2d",
    "relu",
    "leaky_relu",
    "prelu",
    "linear",
    "batch_norm",
)

_loaded: dict[str, ModuleType] = {}
_errors: dict[str, str] = {}


# --------------------------------------------------------------------------- backends
def _load(name: str) -> ModuleType | None:
    """Import backend ``name``'s nn kernels; None (and the reason kept) if that fails."""
    if name in _loaded:
        return _loaded[name]
    if name in _errors:
        return None
    module, why = _backends.import_kernels(_MODULES[name], KERNELS)
    if module is None:
        _errors[name] = why
        return None
    _loaded[name] = module
    return module


def unavailable_reason(name: str) -> str | None:
    """Why backend ``name`` has no nn kernels here, or None if it has them."""
    _backends._check_name(name)
    _load(name)
    return _errors.get(name)


def available_backends() -> list[str]:
    """Names of the backends whose nn kernels load on this machine, best first.

    Examples
    --------
    >>> from smpfast import nn
    >>> "numpy" in nn.available_backends()
    True
    """
    return [name for name in _backends.BACKENDS if _load(name) is not None]


def _kernels(backend: str | None) -> ModuleType:
    """The nn kernel module for a call's ``backend=`` argument."""
    if backend is not None:
        name = _backends._check_name(backend)
        module = _load(name)
        if module is None:
            raise RuntimeError(f"backend {name!r} has no nn kernels: {_errors[name]}")
        return module
    chosen = _backends.current_name()
    for name in _backends.BACKENDS[_backends.BACKENDS.index(chosen) :]:
        module = _load(name)
        if module is not None:
            return module
    raise RuntimeError(  # pragma: no cover - the NumPy reference always loads
        f"no backend has nn kernels: {_errors}"
    )


def _check_backend(backend: str | None) -> None:
    """Validate a ``backend=`` argument of a block that runs on NumPy everywhere."""
    if backend is not None:
        _backends._check_name(backend)


# --------------------------------------------------------------------------- convolution
def _pad_end(x: np.ndarray, extra: tuple[int, ...]) -> np.ndarray:
    """``x`` with ``extra`` zeros appended at the end of each spatial (trailing) axis."""
    dims = len(extra)
    out = np.zeros(
        (*x.shape[:-dims], *(s + e for s, e in zip(x.shape[-dims:], extra, strict=True))), x.dtype
    )
    region: tuple[Any, ...] = (..., *(slice(0, s) for s in x.shape[-dims:]))
    out[region] = x
    return out


def _conv(
    fn: str,
    dims: int,
    x: Any,
    weight: Any,
    bias: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: Any,
    backend: str | None,
) -> np.ndarray:
    a = _v.conv_args(fn, dims, x, weight, bias, stride, padding, dilation, groups)
    kernels = _kernels(backend)
    xb, w = a.x, a.weight
    if any(a.pad_extra):
        xb = _pad_end(xb, a.pad_extra)
    stride2, padding2, dilation2 = a.stride, a.padding, a.dilation
    if dims == 1:  # (N, C, L) as (N, C, 1, L)
        xb, w = xb[:, :, np.newaxis, :], w[:, :, np.newaxis, :]
        stride2, padding2, dilation2 = (1, *stride2), (0, *padding2), (1, *dilation2)
    if math.prod(a.out_shape) == 0:
        out = np.zeros(a.out_shape, dtype=xb.dtype)
    else:
        out = kernels.conv2d(xb, w, a.bias, stride2, padding2, dilation2, a.groups)
        out = out.reshape(a.out_shape)
    return out[0] if a.unbatched else out


def conv2d(
    x: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    *,
    backend: str | None = None,
) -> np.ndarray:
    """2-D convolution (cross-correlation) of NCHW input, as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    x : array_like, (N, C, H, W) or unbatched (C, H, W)
        Input.
    weight : array_like, (O, C // groups, KH, KW)
        Filters.
    bias : array_like, (O,), optional
        Added to every output position of each output channel.
    stride, dilation : int or (int, int), default 1
        Step between output positions; spacing between kernel taps.
    padding : int, (int, int), "valid" or "same", default 0
        Zeros added on both sides of H and W. ``"same"`` (stride 1 only) pads so that the
        output has the input's size, the odd zero of an odd total on the right, as
        PyTorch does.
    groups : int, default 1
        Input and output channels are split into ``groups`` independent groups.
    backend : {"cpp", "numba", "numpy"}, optional
        Overrides the selected backend for this call.

    Returns
    -------
    numpy.ndarray
        (N, O, HO, WO), ``HO = (H + 2 padding - dilation (KH - 1) - 1) // stride + 1``;
        (O, HO, WO) for unbatched input.

    Raises
    ------
    ValueError
        Wrong number of dimensions, channels of ``x`` not ``weight.shape[1] * groups``,
        ``O`` not divisible by ``groups``, a bias of the wrong shape, a dilated kernel
        larger than the padded input, a stride or dilation < 1 or a padding < 0.
    TypeError
        Complex or non-numeric arrays, non-integer parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nn
    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> nn.conv2d(x, np.ones((2, 1, 2, 2)), bias=np.array([0.0, 100.0]))
    array([[[[  8.,  12.],
             [ 20.,  24.]],
    <BLANKLINE>
            [[108., 112.],
             [120., 124.]]]])
    """
    return _conv("conv2d", 2, x, weight, bias, stride, padding, dilation, groups, backend)


def conv1d(
    x: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    *,
    backend: str | None = None,
) -> np.ndarray:
    """1-D convolution of NCL input, as ``torch.nn.functional.conv1d``.

    :func:`conv2d` with H = 1: ``x`` is (N, C, L) or unbatched (C, L), ``weight`` is
    (O, C // groups, K); the parameters are ints (or sequences of one int); the result is
    (N, O, LO) or (O, LO).

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nn
    >>> nn.conv1d(np.array([[[1.0, 2.0, 3.0, 4.0]]]), np.array([[[1.0, -1.0]]]), padding=1)
    array([[[-1., -1., -1., -1.,  4.]]])
    """
    return _conv("conv1d", 1, x, weight, bias, stride, padding, dilation, groups, backend)


# --------------------------------------------------------------------------- pooling
def _lift(a: _v.PoolArgs, dims: int) -> tuple[np.ndarray, tuple[tuple[int, int], ...]]:
    """The 2-D form of a pooling: x (N, C, H, W) and kernel, stride, padding, dilation."""
    if dims == 2:
        params = (a.kernel, a.stride, a.padding, a.dilation)
        return a.x, tuple((p[0], p[1]) for p in params)
    lifted = ((1, a.kernel[0]), (1, a.stride[0]), (0, a.padding[0]), (1, a.dilation[0]))
    return a.x[:, :, np.newaxis, :], lifted


def _max_pool(
    fn: str,
    dims: int,
    x: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: Any,
    return_indices: Any,
    backend: str | None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    a = _v.pool_args(fn, dims, x, kernel_size, stride, padding, dilation, ceil_mode)
    want_indices = _v.flag(return_indices, f"{fn}: return_indices")
    kernels = _kernels(backend)
    x4, (kernel, step, pad, dil) = _lift(a, dims)
    if math.prod(a.out_shape) == 0:
        out = np.zeros(a.out_shape, dtype=x4.dtype)
        index = np.zeros(a.out_shape, dtype=np.int64)
    else:
        # the kernels compute the indices only when asked (a values-only path otherwise)
        out, found = kernels.max_pool2d(
            x4, kernel, step, pad, dil, a.ceil_mode, with_indices=want_indices
        )
        out = np.asarray(out).reshape(a.out_shape)
        if not want_indices:
            return out[0] if a.unbatched else out
        if found is None:
            raise RuntimeError(f"{fn}: backend {kernels.name!r} returned no indices")
        index = found.reshape(a.out_shape)
    if a.unbatched:
        out, index = out[0], index[0]
    return (out, index) if want_indices else out


def max_pool2d(
    x: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
    *,
    backend: str | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """2-D max pooling of NCHW input, as ``torch.nn.functional.max_pool2d``.

    Parameters
    ----------
    x : array_like, (N, C, H, W) or unbatched (C, H, W)
        Input.
    kernel_size : int or (int, int)
        Window size.
    stride : int or (int, int), optional
        Step between windows; default ``kernel_size``.
    padding : int or (int, int), default 0
        Implicit padding on both sides, at most ``kernel_size // 2``; padding positions
        never win (they act as ``-inf``).
    dilation : int or (int, int), default 1
        Spacing between the taps of a window.
    ceil_mode : bool, default False
        Round the number of windows up instead of down; the last window must still start
        inside the input or its left padding.
    return_indices : bool, default False
        Also return where each maximum is.
    backend : {"cpp", "numba", "numpy"}, optional
        Overrides the selected backend for this call.

    Returns
    -------
    out : numpy.ndarray
        (N, C, HO, WO), or (C, HO, WO) for unbatched input.
    indices : numpy.ndarray of int64
        Only with ``return_indices``: flat index ``h * W + w`` of each maximum in its
        input plane. Ties go to the first tap in row-major order; a NaN in the window
        propagates (the last NaN's index), as on PyTorch's CPU.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nn
    >>> x = np.array([[[[1.0, 3.0, 3.0], [0.0, 2.0, np.nan], [5.0, 1.0, 1.0]]]])
    >>> out, idx = nn.max_pool2d(x, 2, stride=1, return_indices=True)
    >>> out
    array([[[[ 3., nan],
             [ 5., nan]]]])
    >>> idx
    array([[[[1, 5],
             [6, 5]]]])
    """
    return _max_pool(
        "max_pool2d", 2, x, kernel_size, stride, padding, dilation, ceil_mode,
        return_indices, backend,
    )  # fmt: skip


def max_pool1d(
    x: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
    *,
    backend: str | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """1-D max pooling of NCL input, as ``torch.nn.functional.max_pool1d``.

    :func:`max_pool2d` with H = 1: ``x`` is (N, C, L) or unbatched (C, L); indices are
    positions along L.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nn
    >>> nn.max_pool1d(np.array([[[2.0, 2.0, 1.0, 4.0]]]), 2, return_indices=True)
    (array([[[2., 4.]]]), array([[[0, 3]]]))
    """
    return _max_pool(
        "max_pool1d", 1, x, kernel_size, stride, padding, dilation, ceil_mode,
        return_indices, backend,
    )  # fmt: skip


def _avg_pool(
    fn: str,
    dims: int,
    x: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    ceil_mode: Any,
    count_include_pad: Any,
    backend: str | None,
) -> np.ndarray:
    a = _v.pool_args(fn, dims, x, kernel_size, stride, padding, 1, ceil_mode)
    include_pad = _v.flag(count_include_pad, f"{fn}: count_include_pad")
    kernels = _kernels(backend)
    x4, (kernel, step, pad, _) = _lift(a, dims)
    if math.prod(a.out_shape) == 0:
        out = np.zeros(a.out_shape, dtype=x4.dtype)
    else:
        out = kernels.avg_pool2d(x4, kernel, step, pad, a.ceil_mode, include_pad)
        out = out.reshape(a.out_shape)
    return out[0] if a.unbatched else out


def avg_pool2d(
    x: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    *,
    backend: str | None = None,
) -> np.ndarray:
    """2-D average pooling of NCHW input, as ``torch.nn.functional.avg_pool2d``.

    Parameters
    ----------
    x : array_like, (N, C, H, W) or unbatched (C, H, W)
        Input.
    kernel_size, stride, padding, ceil_mode
        As in :func:`max_pool2d` (no dilation).
    count_include_pad : bool, default True
        Divide by the window size including the zero padding. As in PyTorch, a window
        that ``ceil_mode`` lets run past the right padding is cut there: the positions
        beyond the padding are not counted. False divides by the number of input
        positions in the window.
    backend : {"cpp", "numba", "numpy"}, optional
        Overrides the selected backend for this call.

    Returns
    -------
    numpy.ndarray
        (N, C, HO, WO), or (C, HO, WO) for unbatched input.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nn
    >>> x = np.arange(1.0, 6.0).reshape(1, 1, 5)
    >>> nn.avg_pool1d(x, 2, padding=1), nn.avg_pool1d(x, 2, padding=1, count_include_pad=False)
    (array([[[0.5, 2.5, 4.5]]]), array([[[1. , 2.5, 4.5]]]))
    >>> nn.avg_pool2d(np.ones((1, 1, 3, 3)), 2, ceil_mode=True)
    array([[[[1., 1.],
             [1., 1.]]]])
    """
    return _avg_pool(
        "avg_pool2d", 2, x, kernel_size, stride, padding, ceil_mode, count_include_pad, backend
    )


def avg_pool1d(
    x: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    *,
    backend: str | None = None,
) -> np.ndarray:
    """1-D average pooling of NCL input, as ``torch.nn.functional.avg_pool1d``.

    :func:`avg_pool2d` with H = 1: ``x`` is (N, C, L) or unbatched (C, L).

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nn
    >>> nn.avg_pool1d(np.array([[1.0, 2.0, 3.0, 4.0]]), 2)
    array([[1.5, 3.5]])
    """
    return _avg_pool(
        "avg_pool1d", 1, x, kernel_size, stride, padding, ceil_mode, count_include_pad, backend
    )


# --------------------------------------------------------------------------- activations
def relu(x: Any, *, backend: str | None = None) -> np.ndarray:
    """Rectified linear unit ``max(x, 0)``, as ``torch.relu`` (NaN and -0.0 pass through).

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nn
    >>> nn.relu(np.array([-2.0, 0.0, 3.0]))
    array([0., 0., 3.])
    """
    xa = _validate.float_array(x, "x")
    kernels = _kernels(backend)
    if xa.size == 0:
        return np.zeros(xa.shape, dtype=xa.dtype)
    return np.asarray(kernels.relu(xa))


def leaky_relu(x: Any, negative_slope: float = 0.01, *, backend: str | None = None) -> np.ndarray:
    """``x if x > 0 else negative_slope * x``, as ``torch.nn.functional.leaky_relu``.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nn
    >>> nn.leaky_relu(np.array([-2.0, 3.0]), 0.25)
    array([-0.5,  3. ])
    """
    xa = _validate.float_array(x, "x")
    slope = _v.real(negative_slope, "negative_slope")
    kernels = _kernels(backend)
    if xa.size == 0:
        return np.zeros(xa.shape, dtype=xa.dtype)
    return np.asarray(kernels.leaky_relu(xa, slope))


def prelu(x: Any, weight: Any, *, backend: str | None = None) -> np.ndarray:
    """``x if x > 0 else weight[c] * x`` with c the channel (axis 1), as ``F.prelu``.

    Parameters
    ----------
    x : array_like
        Input; axis 1 is the channel axis (one channel when ``x`` has fewer than 2 axes).
    weight : array_like, 0-D or 1-D
        One slope for all channels, or one per channel.
    backend : {"cpp", "numba", "numpy"}, optional
        Overrides the selected backend for this call.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nn
    >>> nn.prelu(np.array([[-1.0, -1.0], [2.0, -4.0]]), np.array([0.1, 0.5]))
    array([[-0.1, -0.5],
           [ 2. , -2. ]])
    """
    xa, w = _v.prelu_args(x, weight)
    kernels = _kernels(backend)
    if xa.size == 0:
        return np.zeros(xa.shape, dtype=xa.dtype)
    x3 = _v.channels_view(xa) if xa.ndim >= 2 else xa.reshape(1, 1, xa.size)
    return np.asarray(kernels.prelu(x3, w)).reshape(xa.shape)


# --------------------------------------------------------------------------- smooth controls
def tanh(x: Any, *, backend: str | None = None) -> np.ndarray:
    """Hyperbolic tangent (NumPy on every backend; ``backend`` is only checked).

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nn
    >>> nn.tanh(np.array([0.0, 1.0]))
    array([0.        , 0.76159416])
    """
    xa = _validate.float_array(x, "x")
    _check_backend(backend)
    return _ref.tanh(xa)


def sigmoid(x: Any, *, backend: str | None = None) -> np.ndarray:
    """Logistic sigmoid ``1 / (1 + exp(-x))``, without overflow (NumPy on every backend).

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nn
    >>> nn.sigmoid(np.array([-800.0, 0.0, 800.0]))
    array([0. , 0.5, 1. ])
    """
    xa = _validate.float_array(x, "x")
    _check_backend(backend)
    return _ref.sigmoid(xa)


def softplus(
    x: Any, beta: float = 1.0, threshold: float = 20.0, *, backend: str | None = None
) -> np.ndarray:
    """``log(1 + exp(beta x)) / beta``, linear (``x``) where ``beta x > threshold``.

    As ``torch.nn.functional.softplus``; evaluated stably, so it stays finite where
    PyTorch's ``log1p(exp(beta x))`` overflows (thresholds above ~88). NumPy on every
    backend.

    Parameters
    ----------
    x : array_like
        Input.
    beta : float, default 1.0
        Sharpness; finite and nonzero.
    threshold : float, default 20.0
        Above ``beta * x > threshold`` the result is ``x``.
    backend : {"cpp", "numba", "numpy"}, optional
        Checked only.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nn
    >>> nn.softplus(np.array([0.0, 30.0]))
    array([ 0.69314718, 30.        ])
    """
    xa = _validate.float_array(x, "x")
    beta_v = _v.real(beta, "beta")
    threshold_v = _v.real(threshold, "threshold")
    if beta_v == 0.0 or not math.isfinite(beta_v):
        raise ValueError(f"softplus: beta must be finite and nonzero; got {beta!r}")
    if math.isnan(threshold_v):
        raise ValueError("softplus: threshold must not be NaN")
    _check_backend(backend)
    return _ref.softplus(xa, beta_v, threshold_v)


def gelu(x: Any, approximate: str = "none", *, backend: str | None = None) -> np.ndarray:
    """Gaussian error linear unit ``x * Phi(x)``, as ``torch.nn.functional.gelu``.

    ``approximate="none"`` (PyTorch's default) is the exact erf form
    ``x / 2 * (1 + erf(x / sqrt(2)))`` with a vectorised NumPy erf accurate to 1 ulp
    (:func:`smpfast.nn_reference.erf`, no SciPy); ``"tanh"`` is PyTorch's tanh
    approximation. Computed in float64 (float32 input is rounded once at the end).
    NumPy on every backend.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nn
    >>> nn.gelu(np.array([-1.0, 0.0, 1.0]))
    array([-0.15865525,  0.        ,  0.84134475])
    """
    xa = _validate.float_array(x, "x")
    mode = _validate.choice(approximate, ("none", "tanh"), "approximate")
    _check_backend(backend)
    return _ref.gelu(xa, mode)


def elu(x: Any, alpha: float = 1.0, *, backend: str | None = None) -> np.ndarray:
    """Exponential linear unit ``x if x > 0 else alpha * (exp(x) - 1)``, as ``F.elu``.

    Smooth for ``alpha = 1`` (continuous slope at 0); for other ``alpha`` the slope jumps
    from ``alpha`` to 1 at 0, a kink. NumPy on every backend (``backend`` is only checked).

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nn
    >>> nn.elu(np.array([-1.0, 0.0, 2.0]))
    array([-0.63212056,  0.        ,  2.        ])
    """
    xa = _validate.float_array(x, "x")
    alpha_v = _v.real(alpha, "alpha")
    if not math.isfinite(alpha_v):
        raise ValueError(f"elu: alpha must be finite; got {alpha!r}")
    _check_backend(backend)
    return _ref.elu(xa, alpha_v)


# --------------------------------------------------------------------------- affine maps
def linear(x: Any, weight: Any, bias: Any = None, *, backend: str | None = None) -> np.ndarray:
    """``x @ weight.T + bias``, as ``torch.nn.functional.linear``.

    Parameters
    ----------
    x : array_like, (..., in_features)
        Input.
    weight : array_like, (out_features, in_features) or (in_features,)
        Weights; a 1-D weight gives an output without the ``out_features`` axis.
    bias : array_like, (out_features,), optional
        Bias (0-D for a 1-D weight).
    backend : {"cpp", "numba", "numpy"}, optional
        Overrides the selected backend for this call.

    Returns
    -------
    numpy.ndarray
        (..., out_features).

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nn
    >>> nn.linear(np.array([[1.0, 2.0]]), np.array([[1.0, 1.0], [0.0, -1.0]]), np.array([0.5, 0.0]))
    array([[ 3.5, -2. ]])
    """
    xa, w, b, vector = _v.linear_args(x, weight, bias)
    kernels = _kernels(backend)
    batch = xa.shape[:-1]
    rows, features, outputs = math.prod(batch), xa.shape[-1], w.shape[0]
    if rows == 0 or features == 0:
        out = np.zeros((rows, outputs), dtype=xa.dtype)
        if b is not None:
            out += b
    else:
        out = kernels.linear(xa.reshape(rows, features), w, b)
    out = out.reshape(*batch, outputs)
    return out[..., 0] if vector else out


def batch_norm(
    x: Any,
    running_mean: Any,
    running_var: Any,
    weight: Any = None,
    bias: Any = None,
    *,
    eps: float = 1e-5,
    backend: str | None = None,
) -> np.ndarray:
    """Inference batch norm ``(x - mean) / sqrt(var + eps) * weight + bias`` per channel.

    ``torch.nn.functional.batch_norm`` with ``training=False``, computed as PyTorch's CPU
    kernel does: ``x * alpha + beta`` with ``alpha = weight / sqrt(var + eps)`` and
    ``beta = bias - mean * alpha`` per channel. ``eps`` is keyword-only (PyTorch's
    positional slots 6 and 7 are ``training`` and ``momentum``).

    Parameters
    ----------
    x : array_like, (N, C, ...)
        Input; axis 1 is the channel axis.
    running_mean, running_var : array_like, (C,)
        The statistics to normalise with.
    weight, bias : array_like, (C,), optional
        Affine parameters (default 1 and 0).
    eps : float, default 1e-5
        Added to the variance; finite, >= 0.
    backend : {"cpp", "numba", "numpy"}, optional
        Overrides the selected backend for this call.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nn
    >>> x = np.array([[1.0, 10.0], [3.0, 30.0]])
    >>> nn.batch_norm(x, np.array([2.0, 20.0]), np.array([1.0, 100.0]), eps=0.0)
    array([[-1., -1.],
           [ 1.,  1.]])
    """
    xa, mean, var, w, b, eps_v = _v.batch_norm_args(x, running_mean, running_var, weight, bias, eps)
    kernels = _kernels(backend)
    if xa.size == 0:
        return np.zeros(xa.shape, dtype=xa.dtype)
    out = kernels.batch_norm(_v.channels_view(xa), mean, var, w, b, eps_v)
    return np.asarray(out).reshape(xa.shape)
