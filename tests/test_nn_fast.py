"""The fast paths of the nn kernels (issue 4 follow-up) against the reference and PyTorch.

The random cases of ``test_nn_parity.py`` use small planes (at most 12 columns), which
mostly miss the vectorised code: the values-only max pooling of 1x2 / 2x2 windows (one
vector of outputs per step, a scalar tail), and the register-blocked convolution (blocks
of 1, 2, 4, 6, 8 or 12 output channels times one or two vectors of columns, the last
vector partial). Here the planes are wide enough for several vectors on every SIMD
target, the channel counts cover every register block, and each check runs on every SIMD
target this CPU supports (``smpfast._core.set_simd_target``), so the baseline build is
tested next to the best one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nn_cases import LAYOUTS, relayout, require_nn

from smpfast import nn

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _cpp_targets() -> list[str]:
    try:
        from smpfast import _core
    except ImportError:
        return []
    return list(_core.simd_targets())


@pytest.fixture(params=_cpp_targets() or ["none"])
def simd(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each SIMD target this CPU supports, active for the test (then restored)."""
    if request.param == "none":
        pytest.skip("compiled extension not available")
    from smpfast import _core

    before = _core.get_simd_target()
    _core.set_simd_target(request.param)
    try:
        yield request.param
    finally:
        _core.set_simd_target(before)


@pytest.fixture
def nn_backend(backend: str) -> str:
    return require_nn(backend)


def _pool_input(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """Small integers (ties), with NaN, +-inf and +-0 sprinkled in."""
    x = rng.integers(-3, 4, size=shape).astype(dtype)
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0], dtype=dtype)
    where = rng.random(shape) < 0.15
    x[where] = rng.choice(specials, size=int(where.sum()))
    return x


def _same(got: Any, want: Any, what: str) -> None:
    """Equal down to the sign of zero (NaN equals NaN); both must be arrays."""
    assert isinstance(got, np.ndarray) and isinstance(want, np.ndarray), what
    assert got.dtype == want.dtype and got.shape == want.shape, what
    np.testing.assert_array_equal(got, want, err_msg=what)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want), err_msg=what)


# --------------------------------------------------------------------------- max pooling
@given(
    seed=st.integers(0, 2**32 - 1),
    dims=st.sampled_from([1, 2]),
    width=st.integers(2, 70),
    height=st.integers(2, 7),
    dtype=st.sampled_from([np.float32, np.float64]),
    layout=st.sampled_from(LAYOUTS),
)
def test_max_pool_values_only_equals_indices_path(
    seed: int, dims: int, width: int, height: int, dtype: Any, layout: str
) -> None:
    """Values-only pooling (k=2) equals the values of the indices path, on every backend."""
    rng = np.random.default_rng(seed)
    shape = (2, 3, height, width) if dims == 2 else (2, 3, width)
    x = _pool_input(rng, shape, dtype)
    pool = nn.max_pool2d if dims == 2 else nn.max_pool1d
    want, _ = pool(x, 2, return_indices=True, backend="numpy")
    view = relayout(rng, x, layout)
    if layout == "broadcast":
        want, _ = pool(np.broadcast_to(x[:1], x.shape), 2, return_indices=True, backend="numpy")
    for backend in nn.available_backends():
        got = pool(view, 2, backend=backend)
        with_idx, _ = pool(view, 2, return_indices=True, backend=backend)
        _same(got, want, f"{backend} values-only, {layout} {shape} {np.dtype(dtype)}")
        _same(with_idx, want, f"{backend} indices path, {layout} {shape}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dims", [1, 2])
def test_max_pool_values_only_matches_torch(simd: str, dims: int, dtype: Any) -> None:
    """Wide planes (several vectors), odd widths and heights, unbatched input, vs torch."""
    rng = np.random.default_rng([dims, np.dtype(dtype).itemsize])
    pool = nn.max_pool2d if dims == 2 else nn.max_pool1d
    tpool = F.max_pool2d if dims == 2 else F.max_pool1d
    for width in (16, 17, 33, 64, 67):
        shape = (3, 4, 5, width) if dims == 2 else (3, 4, width)
        x = _pool_input(rng, shape, dtype)
        want = tpool(torch.from_numpy(x), 2).numpy()
        _same(pool(x, 2, backend="cpp"), want, f"{simd} {shape}")
        _same(pool(x[0], 2, backend="cpp"), want[0], f"{simd} unbatched {shape}")


def test_max_pool_values_only_rules(simd: str, nn_backend: str) -> None:
    """PyTorch's rules inside a vector: first maximum (sign of zero), NaN anywhere wins."""
    n = 64  # outputs: several vectors on every target
    zeros = np.tile(np.array([-0.0, 0.0, 0.0, -0.0]), n // 2)  # windows (-0, +0), (+0, -0)
    got = np.asarray(nn.max_pool1d(zeros[None, None], 2, backend=nn_backend))[0, 0]
    _same(got, np.tile(np.array([-0.0, 0.0]), n // 2), f"{simd} zeros")
    x = np.full((1, 1, 2, 2 * n), 1.0)
    x[0, 0, 1, 5] = np.nan  # bottom-right of window 2
    x[0, 0, 0, 40] = np.nan  # top-left of window 20, then larger values after it
    x[0, 0, 1, 41] = 7.0
    x[0, 0, 0, 2 * n - 1] = np.inf
    got = np.asarray(nn.max_pool2d(x, 2, backend=nn_backend))[0, 0, 0]
    want = np.ones(n)
    want[[2, 20]] = np.nan
    want[n - 1] = np.inf
    _same(got, want, f"{simd} NaN and inf")
    padded = nn.max_pool2d(np.full((1, 1, 4, 40), -np.inf), 2, padding=1, backend=nn_backend)
    assert np.all(np.asarray(padded) == -np.inf)  # padding never wins, -inf stays


# --------------------------------------------------------------------------- convolution
def _conv_check(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, what: str, **kw: Any) -> None:
    """cpp conv2d against the reference within the nn tests' rule (1e-5 / 1e-12 of |x|*|w|)."""
    got = nn.conv2d(x, w, b, backend="cpp", **kw)
    want = nn.conv2d(x, w, b, backend="numpy", **kw)
    terms = nn.conv2d(np.abs(x), np.abs(w), None if b is None else np.abs(b), backend="numpy",
                      **kw)  # fmt: skip
    rtol = 1e-5 if x.dtype == np.float32 else 1e-12
    assert got.shape == want.shape and got.dtype == want.dtype, what
    assert np.all(np.abs(got - want) <= rtol * terms + 1e-30), what


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_register_blocks(simd: str, dtype: Any) -> None:
    """Every output-channel count up to 26 (all register blocks and remainders) and widths
    of one, two and several vectors (with a partial last one), 3x3 and other kernels."""
    rng = np.random.default_rng(np.dtype(dtype).itemsize)
    for out_ch in range(1, 27):
        width = int(rng.choice([1, 5, 8, 9, 16, 17, 31, 40]))
        k = (3, 3) if out_ch % 3 else (int(rng.integers(1, 4)), int(rng.integers(1, 6)))
        x = rng.standard_normal((2, 2, 5, width)).astype(dtype)
        w = rng.standard_normal((out_ch, 2, *k)).astype(dtype)
        b = rng.standard_normal(out_ch).astype(dtype) if out_ch % 2 else None
        pad = (int(rng.integers(0, k[0])), int(rng.integers(0, k[1])))
        if width + 2 * pad[1] < k[1]:
            pad = (pad[0], k[1])
        _conv_check(x, w, b, f"{simd} O={out_ch} W={width} k={k}", padding=pad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_vector_path_options(simd: str, dtype: Any) -> None:
    """Dilation, row stride, groups, wide padding, and the column-stride fallback."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4, 9, 37)).astype(dtype)
    w = rng.standard_normal((6, 2, 3, 3)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    options: list[dict[str, Any]] = [
        {"padding": 1, "groups": 2},
        {"padding": (2, 3), "dilation": (2, 3), "groups": 2},
        {"stride": (2, 1), "padding": (0, 2), "groups": 2},
        {"stride": (1, 2), "padding": 1, "groups": 2},  # column stride 2: scalar path
    ]
    for kw in options:
        _conv_check(x, w, b, f"{simd} {kw}", **kw)
    w4 = rng.standard_normal((13, 4, 2, 5)).astype(dtype)
    _conv_check(x, w4, None, f"{simd} 2x5 kernel, 13 channels", padding=(1, 2))


def test_conv_matches_torch(simd: str) -> None:
    """The simulate benchmark's layer (1 -> 8, 3x3, padding 1) and a wide one, vs torch."""
    rng = np.random.default_rng(3)
    for shape, out_ch in (((64, 1, 16, 16), 8), ((4, 16, 20, 70), 16)):
        x = rng.standard_normal(shape).astype(np.float32)
        w = rng.standard_normal((out_ch, shape[1], 3, 3)).astype(np.float32)
        b = rng.standard_normal(out_ch).astype(np.float32)
        got = nn.conv2d(x, w, b, padding=1, backend="cpp")
        want = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b),
                        padding=1).numpy()  # fmt: skip
        terms = nn.conv2d(np.abs(x), np.abs(w), np.abs(b), padding=1, backend="numpy")
        assert np.all(np.abs(got - want) <= 1e-5 * terms), f"{simd} {shape}"
