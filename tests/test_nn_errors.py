"""Bad input to ``smpfast.nn`` raises ValueError (TypeError for wrong kinds) naming the shapes.

Validation happens once, before dispatch, so every backend raises the same error; the
tests run through the ``backend`` fixture to show that.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from nn_cases import require_nn

from smpfast import nn


@pytest.fixture
def nn_backend(backend: str) -> str:
    return require_nn(backend)


def z(*shape: int, dtype: Any = np.float64) -> np.ndarray:
    return np.zeros(shape, dtype=dtype)


X4 = z(2, 4, 6, 6)
W4 = z(3, 4, 3, 3)

# (call, expected exception, strings the message must contain)
VALUE_ERRORS = {
    "conv2d x 2-D": (lambda b: nn.conv2d(z(4, 6), W4, backend=b), ["(4, 6)"]),
    "conv2d x 5-D": (lambda b: nn.conv2d(z(1, 2, 4, 6, 6), W4, backend=b), ["(1, 2, 4, 6, 6)"]),
    "conv2d weight 3-D": (lambda b: nn.conv2d(X4, z(3, 4, 3), backend=b), ["(3, 4, 3)"]),
    "conv2d channels": (
        lambda b: nn.conv2d(X4, z(3, 5, 3, 3), backend=b),
        ["(2, 4, 6, 6)", "(3, 5, 3, 3)"],
    ),
    "conv2d groups do not divide in-channels": (
        lambda b: nn.conv2d(z(1, 3, 6, 6), z(4, 1, 3, 3), groups=2, backend=b),
        ["(1, 3, 6, 6)", "(4, 1, 3, 3)", "groups=2"],
    ),
    "conv2d groups do not divide out-channels": (
        lambda b: nn.conv2d(X4, z(3, 2, 3, 3), groups=2, backend=b),
        ["(3, 2, 3, 3)", "groups=2"],
    ),
    "conv2d groups 0": (lambda b: nn.conv2d(X4, W4, groups=0, backend=b), ["groups"]),
    "conv2d kernel larger than padded input": (
        lambda b: nn.conv2d(z(1, 4, 2, 6), W4, backend=b),
        ["(1, 4, 2, 6)", "(3, 4, 3, 3)"],
    ),
    "conv2d dilated kernel too large": (
        lambda b: nn.conv2d(X4, W4, dilation=3, backend=b),
        ["(2, 4, 6, 6)", "(7, 7)"],
    ),
    "conv2d stride 0": (lambda b: nn.conv2d(X4, W4, stride=0, backend=b), ["stride", "0"]),
    "conv2d stride negative": (lambda b: nn.conv2d(X4, W4, stride=(1, -2), backend=b), ["-2"]),
    "conv2d padding negative": (lambda b: nn.conv2d(X4, W4, padding=-1, backend=b), ["padding"]),
    "conv2d dilation 0": (lambda b: nn.conv2d(X4, W4, dilation=0, backend=b), ["dilation"]),
    "conv2d stride of 3 values": (
        lambda b: nn.conv2d(X4, W4, stride=(1, 1, 1), backend=b),
        ["(1, 1, 1)"],
    ),
    "conv2d bias shape": (lambda b: nn.conv2d(X4, W4, bias=z(4), backend=b), ["(3,)", "(4,)"]),
    "conv2d padding string": (lambda b: nn.conv2d(X4, W4, padding="full", backend=b), ["full"]),
    "conv2d same with stride": (
        lambda b: nn.conv2d(X4, W4, stride=2, padding="same", backend=b),
        ["same"],
    ),
    "conv2d empty channels": (lambda b: nn.conv2d(z(1, 0, 6, 6), W4, backend=b), ["(1, 0, 6, 6)"]),
    "conv2d empty spatial": (lambda b: nn.conv2d(z(1, 4, 0, 6), W4, backend=b), ["(1, 4, 0, 6)"]),
    "conv2d empty kernel": (lambda b: nn.conv2d(X4, z(3, 4, 0, 3), backend=b), ["(3, 4, 0, 3)"]),
    "conv1d channels": (
        lambda b: nn.conv1d(z(2, 3, 9), z(2, 2, 3), backend=b),
        ["(2, 3, 9)", "(2, 2, 3)"],
    ),
    "conv1d x 4-D": (lambda b: nn.conv1d(X4, z(2, 4, 3), backend=b), ["(2, 4, 6, 6)"]),
    "conv1d kernel too large": (
        lambda b: nn.conv1d(z(1, 1, 2), z(1, 1, 5), padding=1, backend=b),
        ["(1, 1, 2)", "(5,)"],
    ),
    "max_pool2d kernel 0": (lambda b: nn.max_pool2d(X4, 0, backend=b), ["kernel_size"]),
    "max_pool2d stride 0": (lambda b: nn.max_pool2d(X4, 2, stride=0, backend=b), ["stride"]),
    "max_pool2d padding over half the kernel": (
        lambda b: nn.max_pool2d(X4, 3, padding=2, backend=b),
        ["(2, 2)", "(3, 3)"],
    ),
    "max_pool2d padding over half, dilated": (
        lambda b: nn.max_pool2d(X4, 3, padding=(0, 2), dilation=2, backend=b),
        ["(0, 2)"],
    ),
    "max_pool2d kernel larger than input": (
        lambda b: nn.max_pool2d(z(1, 1, 3, 8), 4, backend=b),
        ["(1, 1, 3, 8)"],
    ),
    "max_pool2d dilated window too large": (
        lambda b: nn.max_pool2d(X4, 3, dilation=3, backend=b),
        ["(2, 4, 6, 6)", "dilation"],
    ),
    "max_pool2d x 2-D": (lambda b: nn.max_pool2d(z(6, 6), 2, backend=b), ["(6, 6)"]),
    "max_pool2d x 5-D": (lambda b: nn.max_pool2d(z(1, *X4.shape), 2, backend=b), ["(1, 2, 4"]),
    "max_pool2d empty channels": (lambda b: nn.max_pool2d(z(1, 0, 4, 4), 2, backend=b), ["(1, 0"]),
    "max_pool2d kernel of 3 values": (
        lambda b: nn.max_pool2d(X4, (2, 2, 2), backend=b),
        ["(2, 2, 2)"],
    ),
    "max_pool1d x 4-D": (lambda b: nn.max_pool1d(X4, 2, backend=b), ["(2, 4, 6, 6)"]),
    "max_pool1d padding": (lambda b: nn.max_pool1d(z(1, 1, 8), 2, padding=2, backend=b), ["(2,)"]),
    "avg_pool2d padding": (lambda b: nn.avg_pool2d(X4, 2, padding=(0, 2), backend=b), ["(0, 2)"]),
    "avg_pool2d too small": (lambda b: nn.avg_pool2d(z(2, 5, 1), 2, backend=b), ["(2, 5, 1)"]),
    "avg_pool1d x 1-D": (lambda b: nn.avg_pool1d(z(8), 2, backend=b), ["(8,)"]),
    "avg_pool1d stride negative": (
        lambda b: nn.avg_pool1d(z(1, 8), 2, stride=-1, backend=b),
        ["stride"],
    ),
    "prelu weight 2-D": (lambda b: nn.prelu(X4, z(4, 1), backend=b), ["(4, 1)"]),
    "prelu weight count": (lambda b: nn.prelu(X4, z(3), backend=b), ["(3,)", "(2, 4, 6, 6)"]),
    "prelu 1-D x with channel weights": (lambda b: nn.prelu(z(5), z(5), backend=b), ["(5,)"]),
    "linear features": (lambda b: nn.linear(z(3, 4), z(2, 5), backend=b), ["(3, 4)", "(2, 5)"]),
    "linear weight 3-D": (lambda b: nn.linear(z(3, 4), z(1, 2, 4), backend=b), ["(1, 2, 4)"]),
    "linear bias": (lambda b: nn.linear(z(3, 4), z(2, 4), z(3), backend=b), ["(2,)", "(3,)"]),
    "linear x 0-D": (lambda b: nn.linear(z(), z(2, 1), backend=b), ["()"]),
    "batch_norm x 1-D": (lambda b: nn.batch_norm(z(4), z(4), z(4), backend=b), ["(4,)"]),
    "batch_norm mean": (
        lambda b: nn.batch_norm(X4, z(3), z(4), backend=b),
        ["running_mean", "(4,)", "(3,)"],
    ),
    "batch_norm var": (lambda b: nn.batch_norm(X4, z(4), z(4, 1), backend=b), ["(4, 1)"]),
    "batch_norm weight": (lambda b: nn.batch_norm(X4, z(4), z(4), z(5), backend=b), ["(5,)"]),
    "batch_norm bias": (lambda b: nn.batch_norm(X4, z(4), z(4), None, z(2), backend=b), ["(2,)"]),
    "batch_norm eps": (lambda b: nn.batch_norm(X4, z(4), z(4), eps=-1e-5, backend=b), ["eps"]),
    "softplus beta": (lambda b: nn.softplus(X4, beta=0.0, backend=b), ["beta"]),
    "gelu approximate": (lambda b: nn.gelu(X4, approximate="erf", backend=b), ["'erf'"]),
    "unknown backend": (lambda b: nn.relu(X4, backend="cuda"), ["'cuda'"]),
    "unknown backend, smooth block": (lambda b: nn.tanh(X4, backend="gpu"), ["'gpu'"]),
}

TYPE_ERRORS = {
    "complex x": (lambda b: nn.relu(z(3, dtype=complex), backend=b), ["complex"]),
    "complex weight": (lambda b: nn.conv2d(X4, W4.astype(complex), backend=b), ["weight"]),
    "object x": (lambda b: nn.max_pool2d(np.array([[[[None]]]]), 1, backend=b), ["object"]),
    "string x": (lambda b: nn.gelu(np.array(["a"]), backend=b), ["<U1"]),
    "long double x": (
        lambda b: nn.avg_pool1d(z(1, 1, 4, dtype=np.longdouble), 2, backend=b),
        ["float128"],
    ),
    "float stride": (lambda b: nn.conv2d(X4, W4, stride=1.5, backend=b), ["stride"]),
    "bool padding": (lambda b: nn.max_pool2d(X4, 2, padding=True, backend=b), ["padding"]),
    "groups float": (lambda b: nn.conv2d(X4, W4, groups=1.0, backend=b), ["groups"]),
    "ceil_mode int": (lambda b: nn.max_pool2d(X4, 2, ceil_mode=1, backend=b), ["ceil_mode"]),
    "return_indices str": (
        lambda b: nn.max_pool1d(z(1, 4), 2, return_indices="yes", backend=b),
        ["return_indices"],
    ),
    "count_include_pad None": (
        lambda b: nn.avg_pool2d(X4, 2, count_include_pad=None, backend=b),
        ["count_include_pad"],
    ),
    "negative_slope str": (lambda b: nn.leaky_relu(X4, "0.1", backend=b), ["negative_slope"]),
    "threshold complex": (lambda b: nn.softplus(X4, threshold=1j, backend=b), ["threshold"]),
    "batch_norm without running stats": (
        lambda b: nn.batch_norm(X4, None, None, backend=b),
        ["running_mean"],
    ),
}


@pytest.mark.parametrize("name", VALUE_ERRORS)
def test_value_errors(name: str, nn_backend: str) -> None:
    call, parts = VALUE_ERRORS[name]
    with pytest.raises(ValueError) as info:
        call(nn_backend)
    for part in parts:
        assert part in str(info.value), f"{part!r} not in {str(info.value)!r}"


@pytest.mark.parametrize("name", TYPE_ERRORS)
def test_type_errors(name: str, nn_backend: str) -> None:
    call, parts = TYPE_ERRORS[name]
    if name == "long double x" and np.dtype(np.longdouble).itemsize <= 8:
        pytest.skip("long double is float64 here")
    with pytest.raises(TypeError) as info:
        call(nn_backend)
    for part in parts:
        assert part in str(info.value), f"{part!r} not in {str(info.value)!r}"


def test_mixed_dtypes_are_promoted_not_rejected(nn_backend: str) -> None:
    out = nn.conv2d(X4.astype(np.float32), W4, backend=nn_backend)
    assert out.dtype == np.float64
    out = nn.prelu(X4.astype(np.float32), np.float32(0.1), backend=nn_backend)
    assert out.dtype == np.float32


def test_bad_backend_name_is_the_registry_error() -> None:
    with pytest.raises(ValueError, match=re.escape("backend must be one of 'cpp', 'numba'")):
        nn.conv2d(X4, W4, backend="torch")
