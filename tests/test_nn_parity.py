"""Every backend's nn kernels agree with the NumPy reference (``smpfast.nn_reference``).

The backend gets strided views (Fortran order, steps, negative strides, permuted axes,
zero strides), the reference C-contiguous copies of the same values. Max pooling
(values and indices) and the ReLU family must be identical; the other blocks agree
within 1e-12 (float64) or 1e-5 (float32) of the magnitude of their terms. Also: dtype
promotion, unbatched input, empty batches, thread counts, larger shapes (several work
items per thread) and the backend selection with its fallback.
"""

from __future__ import annotations

import doctest
import importlib
import os
import subprocess
import sys

import numpy as np
import pytest
from nn_cases import BLOCKS, LAYOUTS, Case, check, make_case, relayout, require_nn, run, scale

import smpfast
from smpfast import _backends, nn

PER_BLOCK = 60


@pytest.fixture
def nn_backend(backend: str) -> str:
    return require_nn(backend)


def _views(rng: np.random.Generator, case: Case) -> tuple[list, Case]:
    """Strided views of the case's arrays, and the case rebuilt from contiguous copies."""
    views = [None if a is None else relayout(rng, a, str(rng.choice(LAYOUTS))) for a in case.arrays]
    copies = [None if v is None else np.array(v, order="C") for v in views]
    return views, Case(case.block, copies, case.params)


@pytest.mark.parametrize("block", BLOCKS)
def test_backend_matches_reference(block: str, nn_backend: str) -> None:
    rng = np.random.default_rng([BLOCKS.index(block), 99])
    for i in range(PER_BLOCK):
        views, case = _views(rng, make_case(block, rng))
        want = run(case, "numpy")
        got = run(case, nn_backend, views)
        check(got, want, case, scale(case), f"{nn_backend} case {i}")


def test_reference_ignores_layout() -> None:
    """The reference itself gives the same result for a strided view and its copy."""
    rng = np.random.default_rng(5)
    for block in BLOCKS:
        for _ in range(10):
            views, case = _views(rng, make_case(block, rng))
            check(run(case, "numpy", views), run(case, "numpy"), case, scale(case), "layout")


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_larger_shapes_and_threads(nn_backend: str, threads: int) -> None:
    smpfast.set_num_threads(threads)
    rng = np.random.default_rng(threads)
    x = rng.standard_normal((5, 6, 17, 19))[:, :, ::-1, ::2]
    w = rng.standard_normal((8, 3, 3, 2))
    b = rng.standard_normal(8)
    cases = [
        Case("conv2d", [x, w, b], {"stride": (2, 1), "padding": (1, 2), "groups": 2}),
        Case("max_pool2d", [x], {"kernel_size": 3, "stride": 2, "padding": 1,
                                 "ceil_mode": True, "return_indices": True}),
        Case("avg_pool2d", [x], {"kernel_size": (3, 2), "padding": 1, "ceil_mode": True}),
        Case("relu", [x]),
        Case("prelu", [x, rng.standard_normal(6)]),
        Case("linear", [x, rng.standard_normal((7, 10)), None]),
        Case("batch_norm", [x, *rng.standard_normal((2, 6)) ** 2, None, None], {"eps": 1e-5}),
    ]  # fmt: skip
    for case in cases:
        copies = Case(case.block, [None if a is None else np.array(a) for a in case.arrays],
                      case.params)  # fmt: skip
        check(run(case, nn_backend), run(copies, "numpy"), copies, scale(copies), "large")


def test_dtype_rule(nn_backend: str) -> None:
    """Result dtype: np.result_type of the float inputs, integers and bool as float64."""
    rng = np.random.default_rng(3)
    x32 = rng.standard_normal((2, 2, 5, 5)).astype(np.float32)
    w64 = rng.standard_normal((3, 2, 2, 2))
    out = nn.conv2d(x32, w64, backend=nn_backend)
    assert out.dtype == np.float64
    want = nn.conv2d(x32.astype(np.float64), w64, backend="numpy")
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)
    assert nn.conv2d(x32, w64.astype(np.float32), backend=nn_backend).dtype == np.float32
    assert nn.conv2d(x32, w64.astype(np.float16), backend=nn_backend).dtype == np.float32
    xi = rng.integers(-5, 5, size=(2, 2, 5, 5))
    assert nn.max_pool2d(xi, 2, backend=nn_backend).dtype == np.float64
    assert nn.relu(xi > 0, backend=nn_backend).dtype == np.float64
    assert nn.avg_pool1d(xi[0].astype(np.float16), 2, backend=nn_backend).dtype == np.float32
    assert nn.linear(x32, np.ones((4, 5)), backend=nn_backend).dtype == np.float64
    bn = nn.batch_norm(x32, np.zeros(2), np.ones(2), backend=nn_backend)
    assert bn.dtype == np.float64
    assert nn.prelu(x32, np.float32(0.5), backend=nn_backend).dtype == np.float32
    assert nn.prelu(x32, 0.5, backend=nn_backend).dtype == np.float32  # weak Python scalar
    assert nn.prelu(x32, np.float64(0.5), backend=nn_backend).dtype == np.float64
    assert nn.prelu([1, -2], 0.5, backend=nn_backend).dtype == np.float64
    assert nn.gelu(x32).dtype == np.float32 and nn.gelu(xi).dtype == np.float64


def test_unbatched_is_batched_without_n(nn_backend: str) -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 6, 7))
    w = rng.standard_normal((2, 3, 3, 3))
    np.testing.assert_array_equal(
        nn.conv2d(x, w, padding=1, backend=nn_backend),
        nn.conv2d(x[None], w, padding=1, backend=nn_backend)[0],
    )
    out, idx = nn.max_pool2d(x, 2, return_indices=True, backend=nn_backend)
    out_b, idx_b = nn.max_pool2d(x[None], 2, return_indices=True, backend=nn_backend)
    np.testing.assert_array_equal(out, out_b[0])
    np.testing.assert_array_equal(idx, idx_b[0])
    np.testing.assert_array_equal(
        nn.avg_pool1d(x[0], 3, backend=nn_backend), nn.avg_pool1d(x[:1], 3, backend=nn_backend)[0]
    )


def test_empty_batches(nn_backend: str) -> None:
    x = np.zeros((0, 2, 5, 5))
    assert nn.conv2d(x, np.ones((3, 2, 2, 2)), backend=nn_backend).shape == (0, 3, 4, 4)
    out, idx = nn.max_pool2d(x, 2, return_indices=True, backend=nn_backend)
    assert out.shape == idx.shape == (0, 2, 2, 2) and idx.dtype == np.int64
    assert nn.avg_pool1d(np.zeros((0, 1, 4)), 2, backend=nn_backend).shape == (0, 1, 2)
    assert nn.relu(np.zeros((0, 3)), backend=nn_backend).shape == (0, 3)
    assert nn.prelu(np.zeros((2, 3, 0)), np.ones(3), backend=nn_backend).shape == (2, 3, 0)
    assert nn.batch_norm(x, np.zeros(2), np.ones(2), backend=nn_backend).shape == x.shape
    np.testing.assert_array_equal(
        nn.linear(np.zeros((4, 0)), np.zeros((2, 0)), np.array([1.0, 2.0]), backend=nn_backend),
        np.tile([1.0, 2.0], (4, 1)),
    )
    assert nn.linear(np.zeros((0, 3)), np.ones((2, 3)), backend=nn_backend).shape == (0, 2)


def test_conv1d_is_conv2d_with_unit_height(nn_backend: str) -> None:
    rng = np.random.default_rng(6)
    x, w, b = (
        rng.standard_normal((2, 4, 11)),
        rng.standard_normal((6, 2, 3)),
        rng.standard_normal(6),
    )
    out1 = nn.conv1d(x, w, b, stride=2, padding=2, dilation=2, groups=2, backend=nn_backend)
    out2 = nn.conv2d(x[:, :, None], w[:, :, None], b, stride=(1, 2), padding=(0, 2),
                     dilation=(1, 2), groups=2, backend=nn_backend)  # fmt: skip
    np.testing.assert_array_equal(out1, out2[:, :, 0])


def test_padding_same_odd_total(nn_backend: str) -> None:
    """padding="same" with an even kernel: the odd zero goes on the right (PyTorch)."""
    x = np.arange(1.0, 6.0).reshape(1, 1, 5)
    w = np.array([[[1.0, 10.0]]])
    np.testing.assert_array_equal(
        nn.conv1d(x, w, padding="same", backend=nn_backend), [[[21.0, 32.0, 43.0, 54.0, 5.0]]]
    )


# --------------------------------------------------------------------------- dispatch
@pytest.fixture
def no_cpp_nn(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend the cpp backend has no nn kernels (whether or not it has them)."""
    monkeypatch.setitem(nn._MODULES, "cpp", "smpfast._no_such_module_")
    monkeypatch.setattr(nn, "_loaded", {k: v for k, v in nn._loaded.items() if k != "cpp"})
    monkeypatch.setattr(nn, "_errors", {})


def _used(monkeypatch: pytest.MonkeyPatch, **kwargs: object) -> str:
    """Name of the nn module a relu call dispatches to."""
    seen: list[str] = []
    original = nn._kernels

    def spy(backend: str | None) -> object:
        module = original(backend)
        seen.append(module.name)
        return module

    monkeypatch.setattr(nn, "_kernels", spy)
    nn.relu(np.array([-1.0, 1.0]), **kwargs)  # type: ignore[arg-type]
    monkeypatch.setattr(nn, "_kernels", original)
    return seen[0]


def test_fallback_when_selected_backend_lacks_nn(
    no_cpp_nn: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_backends, "current_name", lambda: "cpp")
    expected = "numba" if nn._load("numba") is not None else "numpy"
    assert _used(monkeypatch) == expected
    assert "cpp" not in nn.available_backends()
    assert "No module named" in str(nn.unavailable_reason("cpp"))


def test_explicit_backend_without_nn_raises(no_cpp_nn: None) -> None:
    with pytest.raises(RuntimeError, match="'cpp' has no nn kernels"):
        nn.relu(np.ones(3), backend="cpp")


def test_selection_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _used(monkeypatch, backend="numpy") == "numpy"
    with smpfast.use_backend("numpy"):
        assert _used(monkeypatch) == "numpy"
        if "numba" in nn.available_backends():
            assert _used(monkeypatch, backend="numba") == "numba"
    monkeypatch.setenv("SMPFAST_BACKEND", "numpy")
    assert _used(monkeypatch) == "numpy"


def test_missing_kernel_makes_module_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(nn._MODULES, "cpp", "smpfast.measure")  # a module without kernels
    monkeypatch.setattr(nn, "_loaded", {k: v for k, v in nn._loaded.items() if k != "cpp"})
    monkeypatch.setattr(nn, "_errors", {})
    assert "lacks conv2d" in str(nn.unavailable_reason("cpp"))


# --------------------------------------------------------------------------- module hygiene
@pytest.mark.parametrize("module", ["smpfast.nn", "smpfast.nn_reference"])
def test_docstring_examples(module: str, nn_backend: str) -> None:
    tests = doctest.DocTestFinder().find(importlib.import_module(module))
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    with smpfast.use_backend("numpy" if nn_backend == "numpy" else "cpp"):
        for test in tests:
            runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0, f"no examples found in {module}"
    assert result.failed == 0, "".join(report)


def test_import_is_light() -> None:
    """Importing smpfast (and so smpfast.nn) imports neither Numba nor PyTorch."""
    code = (
        "import sys, warnings\n"
        "sys.modules['numba'] = None\n"  # importing it would now fail
        "sys.modules['torch'] = None\n"
        "warnings.simplefilter('ignore')\n"
        "import smpfast\n"
        "from smpfast import nn\n"
        "print(nn.relu([-1.0, 2.0], backend='numpy').tolist())\n"
        "print('smpfast._numba.nn' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[0.0,", "2.0]", "False"]


# --------------------------------------------------------------------------- PyTorch's rules
MAX_POOL_RULES = [
    # (x along L, kernel, stride, padding, dilation, ceil_mode) -> (values, indices)
    ([2.0, 2.0, 1.0, 4.0], 2, None, 0, 1, False, [2.0, 4.0], [0, 3]),  # first max wins
    ([-0.0, 0.0], 2, None, 0, 1, False, [-0.0], [0]),  # so does its sign
    ([np.nan, 1.0, np.nan, 2.0], 4, None, 0, 1, False, [np.nan], [2]),  # the last NaN
    ([-np.inf, -np.inf], 2, None, 0, 1, False, [-np.inf], [0]),  # first tap
    ([5.0], 2, 2, 1, 2, False, [-np.inf], [1]),  # no tap inside: index past the plane
    ([1.0, 2.0, 3.0, 4.0, 5.0], 2, 2, 1, 1, True, [1.0, 3.0, 5.0], [0, 2, 4]),
    ([1.0, 2.0, 3.0, 4.0, 5.0], 3, 2, 0, 1, True, [3.0, 5.0], [2, 4]),
]


@pytest.mark.parametrize("case", MAX_POOL_RULES)
def test_max_pool_rules(case: tuple, nn_backend: str) -> None:
    x, k, s, p, d, ceil, values, indices = case
    out, idx = nn.max_pool1d(
        np.array([[x]]), k, s, p, d, ceil, return_indices=True, backend=nn_backend
    )
    np.testing.assert_array_equal(out[0, 0], values)
    np.testing.assert_array_equal(np.signbit(out[0, 0]), np.signbit(values))
    np.testing.assert_array_equal(idx[0, 0], indices)


def test_avg_pool_divisor_rules(nn_backend: str) -> None:
    """ceil_mode's last window runs past the right padding: those positions never count."""
    x = np.arange(1.0, 7.0).reshape(1, 1, 6)
    with_pad = nn.avg_pool1d(x, 3, 2, 1, ceil_mode=True, backend=nn_backend)
    without = nn.avg_pool1d(x, 3, 2, 1, True, count_include_pad=False, backend=nn_backend)
    np.testing.assert_array_equal(with_pad, [[[1.0, 3.0, 5.0, 3.0]]])  # 6 / 2, not 6 / 3
    np.testing.assert_array_equal(without, [[[1.5, 3.0, 5.0, 6.0]]])
