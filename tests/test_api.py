"""Public API: return types, entry points agree, second_diff, show_config, doctests."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

import smpfast
from smpfast import _backends

rng = np.random.default_rng(41)
X3 = np.cumsum(rng.normal(size=(4, 30, 3)), axis=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_return_shapes_and_dtypes(backend, dtype):
    x = X3.astype(dtype)
    for axis, shape in [(0, (30, 3)), (1, (4, 3)), (2, (4, 30)), (-2, (4, 3))]:
        smp, count = smpfast.smp_and_count(x, axis, backend=backend)
        assert isinstance(smp, np.ndarray) and isinstance(count, np.ndarray)
        assert smp.shape == count.shape == shape
        assert smp.dtype == np.float64 and count.dtype == np.int64
        assert smpfast.smp(x, axis, backend=backend).shape == shape
        assert smpfast.peak_count(x, axis, backend=backend).dtype == np.int64
    one = smpfast.smp_and_count(x[0, :, 0], backend=backend)
    for result in (*one, smpfast.smp(x[0, :, 0]), smpfast.peak_count(x[0, :, 0])):
        assert isinstance(result, np.ndarray) and result.shape == ()  # 0-d array, not a scalar
    assert one[0].dtype == np.float64 and one[1].dtype == np.int64


@pytest.mark.parametrize("mode", ["local", "run"])
def test_smp_and_count_is_smp_and_peak_count(backend, mode):
    x = X3.copy()
    x[0, 5, 1] = np.nan
    for options in [{}, {"height": 0.5}, {"tol": 0.0}, {"nan_policy": "omit"}]:
        options = {"mode": mode, "backend": backend, **options}
        smp, count = smpfast.smp_and_count(x, 1, **options)
        np.testing.assert_array_equal(smp, smpfast.smp(x, 1, **options))
        np.testing.assert_array_equal(count, smpfast.peak_count(x, 1, **options))
        pos, mag = smpfast.find_peaks(x[2, :, 2], **options)
        assert pos.size == count[2, 2]
        assert mag.sum() == pytest.approx(smp[2, 2], rel=1e-12)
        assert (np.diff(pos) > 0).all() and (pos >= 1).all() and (pos <= 28).all()


@pytest.mark.parametrize(
    ("dtype", "out_dtype"),
    [
        (np.float64, np.float64),
        (np.float32, np.float32),
        (np.float16, np.float32),
        (np.int8, np.float64),
        (np.uint32, np.float64),
        (np.bool_, np.float64),
    ],
)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_second_diff(dtype, out_dtype, axis):
    x = (np.abs(X3[:, :, 0].T) * 3).astype(dtype)  # (30, 4); non-negative for unsigned
    d = smpfast.second_diff(x, axis)
    assert d.dtype == out_dtype
    want = np.diff(x.astype(np.float64), 2, axis=axis)
    np.testing.assert_allclose(d, want, rtol=1e-5 if out_dtype == np.float32 else 1e-12, atol=1e-5)
    # the documented evaluation order, bit for bit, and no noise floor
    y = np.moveaxis(x.astype(out_dtype), axis, -1)
    exact = np.moveaxis((y[..., 2:] - out_dtype(2) * y[..., 1:-1]) + y[..., :-2], -1, axis)
    np.testing.assert_array_equal(d, exact)


def test_second_diff_keeps_what_the_floor_would_drop():
    y = 0.1 + 0.3 * np.arange(10.0)  # affine up to rounding
    d = smpfast.second_diff(y)
    assert d.shape == (8,) and np.any(d != 0)
    assert float(smpfast.smp(y)) == 0.0


@pytest.mark.parametrize(
    ("shape", "axis", "out"), [((2, 5), 0, (0, 5)), ((5, 1), 1, (5, 0)), ((0,), 0, (0,))]
)
def test_second_diff_of_short_axis_is_empty(shape, axis, out):
    for dtype, out_dtype in [(np.float32, np.float32), (np.int64, np.float64)]:
        d = smpfast.second_diff(np.ones(shape, dtype), axis)
        assert d.shape == out and d.dtype == out_dtype


def test_second_diff_accepts_lists_and_strided_views():
    np.testing.assert_array_equal(smpfast.second_diff([0, 1, 4, 9, 16]), [2.0, 2.0, 2.0])
    x = X3[::-1, ::3, 1:]
    np.testing.assert_allclose(smpfast.second_diff(x, 1), np.diff(x, 2, axis=1), atol=1e-12)


def test_show_config_prints_and_returns_a_dict(capsys):
    cfg = smpfast.show_config()
    printed = capsys.readouterr().out
    assert {"threads", "backends", "selected_backend"} <= cfg.keys()
    assert cfg["threads"] == smpfast.get_num_threads()
    assert set(cfg["backends"]) == {"cpp", "numba", "numpy"}
    for name, info in cfg["backends"].items():
        assert info["available"] == (name in smpfast.available_backends())
        assert f"backend {name}" in printed
        if not info["available"]:
            assert info["reason"]  # why, not just that
    assert cfg["backends"]["numpy"]["available"]
    assert cfg["selected_backend"] == _backends.current_name()
    assert f"selected backend : {cfg['selected_backend']}" in printed
    assert smpfast.__version__ in printed
    if cfg["backends"]["cpp"]["available"]:
        from smpfast import _core

        assert cfg["backends"]["cpp"]["simd"] == _core.get_simd_target()
        assert f"simd={_core.get_simd_target()}" in printed


def test_show_config_follows_threads_and_backend(capsys):
    smpfast.set_num_threads(1)
    smpfast.set_backend("numpy")
    cfg = smpfast.show_config()
    capsys.readouterr()
    assert cfg["threads"] == 1 and cfg["selected_backend"] == "numpy"


def test_public_names():
    for name in smpfast.__all__:
        assert hasattr(smpfast, name), name
    assert isinstance(smpfast.__version__, str)


@pytest.mark.parametrize(
    "module",
    ["smpfast", "smpfast.measure", "smpfast._backends", "smpfast._config", "smpfast._show"],
)
def test_docstring_examples(module, backend):
    tests = doctest.DocTestFinder().find(importlib.import_module(module))
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    with smpfast.use_backend(backend):
        for test in tests:
            runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0, f"no examples found in {module}"
    assert result.failed == 0, "".join(report)
