"""The ``cpp`` backend of ``smpfast.nn``: adapter from the kernel contract to ``smpfast._core``.

Kernel contract: see ``smpfast.nn_reference``. ``conv2d``, the poolings and the
piecewise-linear activations run in the C++ core (threads, GIL released, inputs that
are not C-contiguous are copied once). ``linear`` and ``batch_norm`` are dense affine
maps that NumPy already hands to BLAS / vectorised loops; this backend uses the
reference's code for them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _config, _core, nn_reference
from ._validate_nn import pool_output_size

name = "cpp"


def conv2d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
) -> np.ndarray:
    """Direct convolution in C++ (see ``smpfast.nn_reference.conv2d``)."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    return _core.conv2d(x, weight, bias, sh, sw, ph, pw, dh, dw, groups,
                        _config.get_num_threads())


def max_pool2d(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    ceil_mode: bool,
    with_indices: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Max pooling in C++ (see ``smpfast.nn_reference.max_pool2d``).

    Without ``with_indices`` the values-only kernel runs (vectorised 1x2 and 2x2
    windows) and the indices are None.
    """
    h, w = x.shape[2:]
    ho = pool_output_size(h, kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    wo = pool_output_size(w, kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    args = (
        x, kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1],
        dilation[0], dilation[1], ho, wo,
    )  # fmt: skip
    threads = _config.get_num_threads()
    if with_indices:
        out, index = _core.max_pool2d(*args, True, threads)
        return np.asarray(out), np.asarray(index)
    return np.asarray(_core.max_pool2d(*args, False, threads)), None


def avg_pool2d(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    ceil_mode: bool,
    count_include_pad: bool,
) -> np.ndarray:
    """Average pooling in C++ (see ``smpfast.nn_reference.avg_pool2d``)."""
    h, w = x.shape[2:]
    ho = pool_output_size(h, kernel[0], stride[0], padding[0], 1, ceil_mode)
    wo = pool_output_size(w, kernel[1], stride[1], padding[1], 1, ceil_mode)
    return _core.avg_pool2d(
        x, kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1], ho, wo,
        count_include_pad, _config.get_num_threads(),
    )


def relu(x: np.ndarray) -> np.ndarray:
    """ReLU in C++."""
    return _core.relu(x, _config.get_num_threads())


def leaky_relu(x: np.ndarray, slope: float) -> np.ndarray:
    """Leaky ReLU in C++."""
    return _core.leaky_relu(x, slope, _config.get_num_threads())


def prelu(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """PReLU in C++ (x is (N, C, M), weight (C,))."""
    return _core.prelu(x, weight, _config.get_num_threads())


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """Dense layer (NumPy/BLAS, as the reference)."""
    return nn_reference.linear(x, weight, bias)


def batch_norm(
    x: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray,
    eps: float,
) -> np.ndarray:
    """Inference batch norm (NumPy, as the reference)."""
    return nn_reference.batch_norm(x, mean, var, weight, bias, eps)


def describe() -> dict[str, Any]:
    """Backend facts."""
    return {"name": name, "simd": _core.get_simd_target()}


