"""``smpfast.nn`` benchmarks: one class per block family, backend x dtype x size.

Sizes are small (at most a few million elements, a few hundred MFLOP per convolution)
so that ``asv run --quick`` over every backend stays quick; ``bench/compare.py --cases
nn`` measures the large shapes against PyTorch. Every ``setup`` runs the backend and the
NumPy reference (``backend="numpy"``) on the same input and raises if they differ, so a
fast wrong kernel cannot produce a number: convolution and ``linear`` within a rounding
tolerance relative to the magnitude of their terms (``|x| conv |w|``, ``|x| @ |w|.T``),
pooling (values and indices) and the piecewise-linear activations exactly, batch norm
within a few ulps. Backends without nn kernels (``smpfast.nn.unavailable_reason``) raise
NotImplementedError, which asv shows as ``n/a``. The number of threads is smpfast's
default (``SMPFAST_NUM_THREADS`` or the usable cores).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from smpfast import nn
from smpfast.nn_reference import batch_norm_coefficients

from .common import BACKENDS, SEED, signals

#: Relative tolerance of the rounding blocks (conv, linear), relative to their terms'
#: magnitude; the same rule as the nn tests (tests/nn_cases.py).
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}

#: (N, C_in, C_out, H, W) of the convolutions (3x3, padding 1; conv1d: kernel 3 on L = H*W).
CONV_SIZES = {
    "N8-C8-O16-32x32": (8, 8, 16, 32, 32),
    "N8-C16-O32-64x64": (8, 16, 32, 64, 64),
}
#: (N, C, H, W) of the poolings, the activations and batch norm.
MAP_SIZES = {
    "8x16x64x64": (8, 16, 64, 64),
    "8x16x128x128": (8, 16, 128, 128),
}
#: (M, K, O) of ``linear``: x (M, K), weight (O, K).
LINEAR_SIZES = {
    "256x256->256": (256, 256, 256),
    "2048x256->256": (2048, 256, 256),
}


def require_nn(backend: str) -> None:
    """Raise NotImplementedError (asv's "skip this benchmark") if ``backend`` lacks nn kernels."""
    problem = nn.unavailable_reason(backend)
    if problem is not None:
        raise NotImplementedError(f"backend {backend!r} has no nn kernels: {problem}")


def check_close(
    got: np.ndarray, want: np.ndarray, scale: np.ndarray, what: str, rtol: float | None = None
) -> None:
    """Raise AssertionError unless ``|got - want| <= rtol * scale`` everywhere.

    ``scale`` is the magnitude of the terms summed into each element; ``rtol`` defaults
    to ``RTOL`` of the dtype.
    """
    tol = (RTOL[np.dtype(want.dtype)] if rtol is None else rtol) * scale
    err = np.abs(got.astype(np.float64) - want.astype(np.float64))
    if got.shape != want.shape or got.dtype != want.dtype or not (err <= tol).all():
        i = int(np.argmax(err - tol)) if got.shape == want.shape else 0
        raise AssertionError(
            f"{what}: differs from the reference (shape {got.shape} vs {want.shape}, dtype "
            f"{got.dtype} vs {want.dtype}); worst at flat index {i}: |diff| "
            f"{err.ravel()[i]:.3g} > tol {tol.ravel()[i]:.3g}"
        )


def check_equal(got: np.ndarray, want: np.ndarray, what: str) -> None:
    """Raise AssertionError unless ``got`` and ``want`` are equal (dtype and shape too)."""
    if got.shape != want.shape or got.dtype != want.dtype or not np.array_equal(got, want):
        bad = np.flatnonzero(got != want) if got.shape == want.shape else np.array([0])
        raise AssertionError(
            f"{what}: differs from the reference (shape {got.shape} vs {want.shape}, dtype "
            f"{got.dtype} vs {want.dtype}); {bad.size} elements differ"
        )


class Conv2d:
    """``conv2d`` 3x3 (padding 1) and ``conv1d`` kernel 3 (padding 1), no bias."""

    params: ClassVar = [list(BACKENDS), ["float32", "float64"], list(CONV_SIZES)]
    param_names: ClassVar = ["backend", "dtype", "size"]
    timeout = 300

    def setup(self, backend, dtype, size):
        require_nn(backend)
        n, c, o, h, w = CONV_SIZES[size]
        self.x = signals((n, c, h, w), dtype)
        self.w = signals((o, c, 3, 3), dtype, SEED + 1)
        self.x1 = self.x.reshape(n, c, h * w)
        self.w1 = self.w[:, :, 1, :]
        for fn, x, wt in ((nn.conv2d, self.x, self.w), (nn.conv1d, self.x1, self.w1)):
            got = fn(x, wt, padding=1, backend=backend)  # also the JIT warm-up
            want = fn(x, wt, padding=1, backend="numpy")
            scale = fn(np.abs(x).astype(np.float64), np.abs(wt).astype(np.float64), padding=1,
                       backend="numpy")  # fmt: skip
            check_close(got, want, scale, f"{fn.__name__} backend {backend!r}")

    def time_conv2d(self, backend, dtype, size):
        nn.conv2d(self.x, self.w, padding=1, backend=backend)

    def time_conv1d(self, backend, dtype, size):
        nn.conv1d(self.x1, self.w1, padding=1, backend=backend)

    def peakmem_conv2d(self, backend, dtype, size):
        nn.conv2d(self.x, self.w, padding=1, backend=backend)


class Pool2d:
    """Max pooling 2x2 (with indices, and values only), average pooling 3x3 stride 2
    padding 1, and the 1-D forms."""

    params: ClassVar = [list(BACKENDS), ["float32", "float64"], list(MAP_SIZES)]
    param_names: ClassVar = ["backend", "dtype", "size"]
    timeout = 300

    def setup(self, backend, dtype, size):
        require_nn(backend)
        n, c, h, w = MAP_SIZES[size]
        self.x = signals((n, c, h, w), dtype)
        self.x1 = self.x.reshape(n, c, h * w)
        for fn, x in ((nn.max_pool2d, self.x), (nn.max_pool1d, self.x1)):
            out, idx = fn(x, 2, return_indices=True, backend=backend)
            ref_out, ref_idx = fn(x, 2, return_indices=True, backend="numpy")
            check_equal(out, ref_out, f"{fn.__name__} values, backend {backend!r}")
            check_equal(idx, ref_idx, f"{fn.__name__} indices, backend {backend!r}")
            values = fn(x, 2, backend=backend)  # the values-only kernel
            check_equal(values, ref_out, f"{fn.__name__} values only, backend {backend!r}")
        for fn, x in ((nn.avg_pool2d, self.x), (nn.avg_pool1d, self.x1)):
            got = fn(x, 3, stride=2, padding=1, backend=backend)
            want = fn(x, 3, stride=2, padding=1, backend="numpy")
            check_equal(got, want, f"{fn.__name__} backend {backend!r}")

    def time_max_pool2d(self, backend, dtype, size):
        nn.max_pool2d(self.x, 2, return_indices=True, backend=backend)

    def time_max_pool2d_values(self, backend, dtype, size):
        nn.max_pool2d(self.x, 2, backend=backend)

    def time_max_pool1d_values(self, backend, dtype, size):
        nn.max_pool1d(self.x1, 2, backend=backend)

    def time_avg_pool2d(self, backend, dtype, size):
        nn.avg_pool2d(self.x, 3, stride=2, padding=1, backend=backend)

    def time_max_pool1d(self, backend, dtype, size):
        nn.max_pool1d(self.x1, 2, return_indices=True, backend=backend)

    def time_avg_pool1d(self, backend, dtype, size):
        nn.avg_pool1d(self.x1, 3, stride=2, padding=1, backend=backend)

    def peakmem_max_pool2d(self, backend, dtype, size):
        nn.max_pool2d(self.x, 2, return_indices=True, backend=backend)


class Activations:
    """The piecewise-linear activations: ``relu``, ``leaky_relu`` (0.01), ``prelu`` per channel."""

    params: ClassVar = [list(BACKENDS), ["float32", "float64"], list(MAP_SIZES)]
    param_names: ClassVar = ["backend", "dtype", "size"]
    timeout = 300

    def setup(self, backend, dtype, size):
        require_nn(backend)
        self.x = signals(MAP_SIZES[size], dtype)
        self.slopes = np.linspace(0.05, 0.5, self.x.shape[1]).astype(dtype)
        for name, call in (
            ("relu", lambda b: nn.relu(self.x, backend=b)),
            ("leaky_relu", lambda b: nn.leaky_relu(self.x, 0.01, backend=b)),
            ("prelu", lambda b: nn.prelu(self.x, self.slopes, backend=b)),
        ):
            check_equal(call(backend), call("numpy"), f"{name} backend {backend!r}")

    def time_relu(self, backend, dtype, size):
        nn.relu(self.x, backend=backend)

    def time_leaky_relu(self, backend, dtype, size):
        nn.leaky_relu(self.x, 0.01, backend=backend)

    def time_prelu(self, backend, dtype, size):
        nn.prelu(self.x, self.slopes, backend=backend)

    def peakmem_relu(self, backend, dtype, size):
        nn.relu(self.x, backend=backend)


class SmoothActivations:
    """``tanh``, ``sigmoid``, ``softplus``, ``gelu`` (NumPy on every backend: no backend axis)."""

    params: ClassVar = [["float32", "float64"], list(MAP_SIZES)]
    param_names: ClassVar = ["dtype", "size"]
    timeout = 300

    def setup(self, dtype, size):
        self.x = signals(MAP_SIZES[size], dtype)

    def time_tanh(self, dtype, size):
        nn.tanh(self.x)

    def time_sigmoid(self, dtype, size):
        nn.sigmoid(self.x)

    def time_softplus(self, dtype, size):
        nn.softplus(self.x)

    def time_gelu(self, dtype, size):
        nn.gelu(self.x)

    def time_gelu_tanh(self, dtype, size):
        nn.gelu(self.x, approximate="tanh")


class LinearBatchNorm:
    """``linear`` with bias on (M, K) -> (M, O), and inference ``batch_norm`` on (N, C, H, W).

    The size parameter indexes both tables: the first ``linear`` size goes with the first
    batch-norm size, and so on.
    """

    params: ClassVar = [list(BACKENDS), ["float32", "float64"], ["small", "large"]]
    param_names: ClassVar = ["backend", "dtype", "size"]
    timeout = 300

    def setup(self, backend, dtype, size):
        require_nn(backend)
        i = ["small", "large"].index(size)
        m, k, o = list(LINEAR_SIZES.values())[i]
        self.xl = signals((m, k), dtype)
        self.wl = signals((o, k), dtype, SEED + 1)
        self.bl = signals((o,), dtype, SEED + 2)
        got = nn.linear(self.xl, self.wl, self.bl, backend=backend)
        want = nn.linear(self.xl, self.wl, self.bl, backend="numpy")
        scale = np.abs(self.xl).astype(np.float64) @ np.abs(self.wl).T.astype(np.float64)
        check_close(got, want, scale + np.abs(self.bl), f"linear backend {backend!r}")

        self.xb = signals(list(MAP_SIZES.values())[i], dtype)
        c = self.xb.shape[1]
        rng = np.random.default_rng(SEED)
        mean, bias = rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)
        var, weight = rng.uniform(0.5, 2, c).astype(dtype), rng.uniform(0.5, 2, c).astype(dtype)
        self.stats = [mean, var, weight, bias]
        got = nn.batch_norm(self.xb, *self.stats, backend=backend)
        want = nn.batch_norm(self.xb, *self.stats, backend="numpy")
        # x * alpha + beta with the same coefficients in every backend: a few ulps at most
        alpha, beta = batch_norm_coefficients(*self.stats, 1e-5)
        scale = np.abs(self.xb * alpha[:, None, None]) + np.abs(beta[:, None, None])
        check_close(got, want, scale.astype(np.float64), f"batch_norm backend {backend!r}",
                    rtol=4 * float(np.finfo(dtype).eps))  # fmt: skip

    def time_linear(self, backend, dtype, size):
        nn.linear(self.xl, self.wl, self.bl, backend=backend)

    def time_batch_norm(self, backend, dtype, size):
        nn.batch_norm(self.xb, *self.stats, backend=backend)

    def peakmem_linear(self, backend, dtype, size):
        nn.linear(self.xl, self.wl, self.bl, backend=backend)
