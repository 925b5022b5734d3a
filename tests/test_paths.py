"""smpfast.paths: shapes, seeds, exactness of linear paths, GP and sinusoid statistics."""

from __future__ import annotations

import doctest
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import smpfast
from smpfast import paths

N_STAT = 20_000  # independent elements for the statistical checks
Z = 5.0  # tolerance in standard errors (fixed seeds: deterministic, but not tuned)


def _random(kind: str) -> Callable[..., np.ndarray]:
    return {
        "linear": paths.random_linear,
        "gaussian": lambda *a, **k: paths.random_gaussian(*a, length_scale=3.0, **k),
        "sinusoid": lambda *a, **k: paths.random_sinusoid(*a, periods=1.5, **k),
    }[kind]


KINDS = ["linear", "gaussian", "sinusoid"]


# --------------------------------------------------------------------------- shapes, seeds
@pytest.mark.parametrize("kind", KINDS)
def test_random_shapes_seeds_dtypes(kind: str) -> None:
    make = _random(kind)
    p = make(3, (2, 4, 5), 16, 7)
    assert p.shape == (16, 3, 2, 4, 5) and p.dtype == np.float64
    np.testing.assert_array_equal(p, make(3, (2, 4, 5), 16, 7))
    np.testing.assert_array_equal(p, make(3, (2, 4, 5), 16, np.random.default_rng(7)))
    np.testing.assert_array_equal(p, make(3, (2, 4, 5), 16, np.random.SeedSequence(7)))
    assert not np.array_equal(p, make(3, (2, 4, 5), 16, 8))
    p32 = make(3, (2, 4, 5), 16, 7, dtype=np.float32)
    assert p32.dtype == np.float32
    if kind == "linear":  # snapped to the float32 grid: relative 2 T 2^-24 (paths.linear)
        np.testing.assert_allclose(p32, p, rtol=0, atol=2 * 16 * 2.0**-24 * np.abs(p).max())
    else:  # the float64 path, rounded once
        np.testing.assert_array_equal(p32, p.astype(np.float32))
    assert make(2, 6, 5, 0).shape == (5, 2, 6)  # an int shape
    assert make(2, (), 5, 0).shape == (5, 2)


def test_single_path_shapes() -> None:
    assert paths.linear(np.zeros((3, 4)), np.ones((3, 4)), 10).shape == (10, 3, 4)
    assert paths.gaussian((3, 4), 10, 2.0, 0).shape == (10, 3, 4)
    assert paths.sinusoid((3, 4), 10, 0).shape == (10, 3, 4)
    assert paths.gaussian(5, 1, 2.0, 0).shape == (1, 5)
    # random_* are the single-path generators of shape (n_paths, *shape)
    np.testing.assert_array_equal(
        paths.random_gaussian(3, (4,), 12, 5, length_scale=2.0), paths.gaussian((3, 4), 12, 2.0, 5)
    )
    np.testing.assert_array_equal(
        paths.random_sinusoid(3, (4,), 12, 5), paths.sinusoid((3, 4), 12, 5)
    )


def test_linear_dtype() -> None:
    a32 = np.zeros(3, np.float32)
    assert paths.linear(a32, np.ones(3, np.float32), 4).dtype == np.float64
    assert paths.linear(a32, a32, 4, dtype=np.float32).dtype == np.float32
    assert paths.linear([0, 1], [2, 3], 3).dtype == np.float64


# --------------------------------------------------------------------------- linear
@given(
    T=st.integers(2, 300),
    seed=st.integers(0, 2**32 - 1),
    log_scale=st.floats(-30, 30),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_linear_exactly_affine(T: int, seed: int, log_scale: float, dtype: Any) -> None:
    rng = np.random.default_rng(seed)
    a, b = 2.0**log_scale * rng.standard_normal((2, 6))
    a[0] = 0.0  # an element starting at zero, and one constant element
    b[1] = a[1]
    p = paths.linear(a, b, T, dtype=dtype)
    assert p.dtype == dtype
    # exactly affine: every first difference equal, every second difference 0
    steps = np.diff(p, axis=0)
    np.testing.assert_array_equal(steps, np.broadcast_to(steps[:1], steps.shape))
    np.testing.assert_array_equal(smpfast.second_diff(p, axis=0), 0.0)
    for mode in ("run", "local"):
        np.testing.assert_array_equal(smpfast.smp(p, axis=0, mode=mode, tol=0.0), np.zeros(6))
    # endpoints within the documented bound: q / 2 and T q / 2, q <= 2^(2-p) * 2 max|.|
    bits = np.finfo(dtype).nmant + 1
    scale = np.maximum(np.abs(a), np.abs(b))
    q = 2.0 ** (2 - bits) * 2 * scale
    assert np.all(np.abs(p[0] - a) <= q / 2)
    assert np.all(np.abs(p[-1] - b) <= T * q / 2)
    # exact=False: the formula, rounded once; exact endpoints, affine to rounding
    r = paths.linear(a, b, T, dtype=dtype, exact=False)
    np.testing.assert_array_equal(r[0], a.astype(dtype))
    np.testing.assert_array_equal(r[-1], b.astype(dtype))
    t = np.arange(T)[:, None] / (T - 1)
    eps = float(np.finfo(dtype).eps)
    np.testing.assert_allclose(r, (1 - t) * a + t * b, rtol=0, atol=2 * eps * scale.max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_relu_slope_is_exact(dtype: Any) -> None:
    from smpfast import nn

    a = np.array([-1.3, 0.2, -5.0, -2e3])
    b = np.array([2.1, -3.3, 0.7, 7e4])
    p = paths.linear(a, b, 50, dtype=dtype)
    h = p[1] - p[0]
    s = smpfast.smp(nn.relu(p), axis=0, mode="run", tol=0.0)
    np.testing.assert_array_equal(s, np.abs(h).astype(np.float64))  # one crossing each


def test_random_linear_endpoint_statistics() -> None:
    p = paths.random_linear(N_STAT, (), 3, 0, mean=1.5, std=0.5)
    for end in (p[0], p[-1]):
        assert abs(end.mean() - 1.5) < Z * 0.5 / np.sqrt(N_STAT)
        assert abs(end.std() / 0.5 - 1.0) < Z / np.sqrt(2 * N_STAT)
    assert abs(np.corrcoef(p[0], p[-1])[0, 1]) < Z / np.sqrt(N_STAT)
    np.testing.assert_array_equal(p[1], (p[0] + p[-1]) / 2)


# --------------------------------------------------------------------------- Gaussian process
@pytest.mark.parametrize(("T", "scale"), [(64, 8.0), (64, 1.0), (257, 3.0), (400, 30.0)])
def test_gaussian_factor_accuracy(T: int, scale: float) -> None:
    L = paths.gaussian_factor(T, scale)
    t = np.arange(T)
    C = np.exp(-((t[:, None] - t) ** 2) / (2 * scale**2))
    assert np.abs(L @ L.T - C).max() < 1e-13
    np.testing.assert_allclose(np.einsum("ij,ij->i", L, L), 1.0, rtol=1e-15)
    assert not L.flags.writeable


@pytest.mark.parametrize(("scale", "mean", "std"), [(4.0, 0.0, 1.0), (10.0, -2.0, 0.3)])
def test_gaussian_marginals_and_correlation(scale: float, mean: float, std: float) -> None:
    T = 32
    p = paths.gaussian(N_STAT, T, scale, 123, mean=mean, std=std)
    for t in (0, T // 2, T - 1):
        x = p[t]
        assert abs(x.mean() - mean) < Z * std / np.sqrt(N_STAT)
        assert abs(x.var() / std**2 - 1.0) < Z * np.sqrt(2.0 / N_STAT)
    for lag in (1, 3, 8):
        rho = np.exp(-(lag**2) / (2 * scale**2))
        r = np.corrcoef(p[5], p[5 + lag])[0, 1]
        assert abs(r - rho) < Z * (1 - rho**2) / np.sqrt(N_STAT) + 1e-12
    # slope: std of the first difference = std * sqrt(2 (1 - rho_1))
    d1 = np.diff(p, axis=0)[T // 2]
    want = std * np.sqrt(2 * (1 - np.exp(-1 / (2 * scale**2))))
    assert abs(d1.std() / want - 1.0) < Z / np.sqrt(2 * N_STAT)


def test_gaussian_is_smooth() -> None:
    p = paths.random_gaussian(200, (), 64, 3, length_scale=8.0)
    run = smpfast.smp(p, axis=0, mode="run")
    # |d| ~ std / l^2: run-mode SMP (sum of |d|) is bounded by T std / l^2 times a few
    assert np.all(run < 64 * 6 / 8**2)


# --------------------------------------------------------------------------- sinusoid
def test_sinusoid_exact_form_and_statistics() -> None:
    T, periods = 40, 2.5
    p = paths.sinusoid(N_STAT, T, 9, periods=periods, mean=0.7, std=1.3)
    w = 2 * np.pi * periods / (T - 1)
    # a sinusoid satisfies d[t] = (2 cos w - 2) (x[t] - mean) exactly
    d = smpfast.second_diff(p, axis=0)
    np.testing.assert_allclose(d, (2 * np.cos(w) - 2) * (p[1:-1] - 0.7), rtol=0, atol=1e-12)
    for t in (0, 17):
        assert abs(p[t].mean() - 0.7) < Z * 1.3 / np.sqrt(N_STAT)
        assert abs(p[t].var() / 1.3**2 - 1.0) < Z * np.sqrt(2.0 / N_STAT)
    rho = np.cos(w * 4)
    r = np.corrcoef(p[3], p[7])[0, 1]
    assert abs(r - rho) < Z * (1 - rho**2) / np.sqrt(N_STAT) + 1e-12
    flat = paths.sinusoid(3, 5, 0, periods=0.0, mean=2.0)
    np.testing.assert_array_equal(flat, np.broadcast_to(flat[0], flat.shape))


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: paths.linear(np.zeros(2), np.zeros(3), 5), ValueError, "same shape"),
        (lambda: paths.linear(0.0, 1.0, 1), ValueError, "T .* must be >= 2; got 1"),
        (lambda: paths.linear(0.0, 1.0, 2.0), TypeError, "T must be an integer"),
        (lambda: paths.linear(0.0, 1j, 3), TypeError, "x_b has complex dtype"),
        (lambda: paths.linear(0.0, np.inf, 3), ValueError, "x_b must be finite"),
        (lambda: paths.linear(0.0, 1.0, 3, exact=1), TypeError, "exact must be a bool"),
        (lambda: paths.linear(0.0, 1.0, 3, dtype=np.int32), ValueError, "dtype must be float32"),
        (lambda: paths.random_linear(0, 3, 5, 0), ValueError, "n_paths must be >= 1"),
        (lambda: paths.random_linear(2, (3, -1), 5, 0), ValueError, "shape must have sizes"),
        (lambda: paths.random_linear(2, "ab", 5, 0), TypeError, "shape must be an int"),
        (lambda: paths.random_linear(2, 3, 5, 0, std=-1.0), ValueError, "std must be >= 0"),
        (lambda: paths.random_linear(2, 3, 5, 0, mean=np.nan), ValueError, "mean must be"),
        (lambda: paths.random_linear(2, 3, 5, "x"), TypeError, "rng must be an int seed"),
        (lambda: paths.random_linear(2, 3, 5, -3), ValueError, "rng must be >= 0"),
        (lambda: paths.gaussian(3, 5, 0.0, 0), ValueError, "length_scale must be > 0"),
        (lambda: paths.gaussian(3, 0, 1.0, 0), ValueError, "T .* must be >= 1"),
        (lambda: paths.random_gaussian(2, 3, 5, 0, length_scale=np.inf), ValueError, "finite"),
        (lambda: paths.sinusoid(3, 5, 0, periods=-1.0), ValueError, "periods must be >= 0"),
        (lambda: paths.random_sinusoid(2, 3, 1, 0), ValueError, "must be >= 2"),
    ],
)
def test_errors(call: Callable[[], object], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def test_docstring_examples() -> None:
    tests = doctest.DocTestFinder().find(paths)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test)
    assert runner.failures == 0 and runner.tries > 5
