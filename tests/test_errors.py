"""Bad input, dtype conversion, nan_policy, degenerate sizes and backend selection."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.exceptions import AxisError

import smpfast
from smpfast import _backends, reference

MEASURES = [smpfast.smp, smpfast.peak_count, smpfast.smp_and_count]
EVERY_FUNCTION = [*MEASURES, smpfast.second_diff, smpfast.find_peaks]
SIGNAL = np.abs(np.linspace(-1.0, 1.0, 9)) + np.array([0, 0, 0.1, 0, 0, 0, -0.2, 0, 0])


@pytest.fixture
def automatic_backend(monkeypatch):
    """No SMPFAST_BACKEND and no set_backend: the automatic choice."""
    monkeypatch.delenv("SMPFAST_BACKEND", raising=False)
    smpfast.set_backend(None)


# --------------------------------------------------------------------------- dtypes
@pytest.mark.parametrize("func", EVERY_FUNCTION)
@pytest.mark.parametrize(
    "x",
    [
        np.array([1, 2, 3, 4], dtype=np.complex128),
        np.array([1, 2, 3, 4], dtype=np.complex64),
        np.array(["a", "b", "c", "d"]),
        np.array([b"a", b"b", b"c", b"d"]),
        np.array([1.0, 2.0, 3.0, 4.0], dtype=object),
        np.array(["2020-01-01"] * 4, dtype="datetime64[D]"),
    ],
    ids=lambda x: str(x.dtype),
)
def test_unsupported_dtype_is_a_type_error_naming_it(func, x):
    with pytest.raises(TypeError, match=str(x.dtype).replace("[", r"\[").replace("]", r"\]")):
        func(x)


@pytest.mark.skipif(np.dtype(np.longdouble).itemsize <= 8, reason="longdouble is float64 here")
def test_extended_precision_is_a_type_error():
    with pytest.raises(TypeError, match=r"longdouble|float128|float96"):
        smpfast.smp(np.arange(5, dtype=np.longdouble))


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint16, np.int32, np.int64, np.uint64])
def test_integer_and_bool_input_is_measured_as_float64(backend, dtype):
    rng = np.random.default_rng(31)
    x = rng.integers(0, 2 if dtype is np.bool_ else 100, size=(40, 3)).astype(dtype)
    for mode in ("local", "run"):
        got = smpfast.smp_and_count(x, mode=mode, backend=backend)
        want = smpfast.smp_and_count(x.astype(np.float64), mode=mode, backend=backend)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        assert got[1].sum() > 0
        pos, mag = smpfast.find_peaks(x[:, 0], mode=mode, backend=backend)
        pos64, mag64 = smpfast.find_peaks(x[:, 0].astype(np.float64), mode=mode, backend=backend)
        np.testing.assert_array_equal(pos, pos64)
        np.testing.assert_array_equal(mag, mag64)
    assert smpfast.second_diff(x).dtype == np.float64


def test_float16_is_measured_as_float32(backend):
    x = np.random.default_rng(32).normal(size=(30, 4)).astype(np.float16)
    got = smpfast.smp_and_count(x, backend=backend)
    want = smpfast.smp_and_count(x.astype(np.float32), backend=backend)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_native_byte_order_is_accepted(backend, dtype):
    x = np.random.default_rng(33).normal(size=(30, 4)).astype(dtype)
    swapped = x.astype(x.dtype.newbyteorder())
    for mode in ("local", "run"):
        got = smpfast.smp_and_count(swapped, mode=mode, backend=backend)
        want = reference.smp_and_count(x, mode=mode)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
        np.testing.assert_array_equal(got[1], want[1])
        pos, _ = smpfast.find_peaks(swapped[:, 0], mode=mode, backend=backend)
        np.testing.assert_array_equal(pos, reference.find_peaks(x[:, 0], mode=mode)[0])


# --------------------------------------------------------------------------- axis
@pytest.mark.parametrize("func", [*MEASURES, smpfast.second_diff])
@pytest.mark.parametrize("axis", [2, -3, 10])
def test_axis_out_of_range_is_an_axis_error(func, axis):
    with pytest.raises(AxisError):
        func(np.zeros((4, 5)), axis=axis)


@pytest.mark.parametrize("func", [*MEASURES, smpfast.second_diff])
def test_zero_dimensional_input_is_an_axis_error(func):
    with pytest.raises(AxisError):
        func(np.float64(3.0))
    with pytest.raises(AxisError):
        func(3.0)


@pytest.mark.parametrize("func", MEASURES)
def test_non_integer_axis_is_a_type_error(func):
    with pytest.raises(TypeError, match="axis"):
        func(np.zeros((4, 5)), axis=1.0)


def test_find_peaks_needs_one_signal():
    with pytest.raises(ValueError, match="1-D"):
        smpfast.find_peaks(np.zeros((4, 5)))
    with pytest.raises(ValueError, match="1-D"):
        smpfast.find_peaks(np.float64(1.0))


# --------------------------------------------------------------------------- options
@pytest.mark.parametrize("func", [*MEASURES, smpfast.find_peaks])
@pytest.mark.parametrize(
    ("option", "value", "valid"),
    [
        ("mode", "peak", ("local", "run")),
        ("mode", None, ("local", "run")),
        ("nan_policy", "ignore", ("propagate", "raise", "omit")),
        ("backend", "cuda", ("cpp", "numba", "numpy")),
        ("backend", "NUMPY", ("cpp", "numba", "numpy")),
    ],
)
def test_unknown_choice_lists_the_valid_values(func, option, value, valid):
    with pytest.raises(ValueError, match=option) as info:
        func(SIGNAL, **{option: value})
    for name in valid:
        assert repr(name) in str(info.value)


@pytest.mark.parametrize("func", [*MEASURES, smpfast.find_peaks])
@pytest.mark.parametrize("option", ["height", "tol"])
@pytest.mark.parametrize("value", [-1.0, -1e-300, np.nan, np.inf, -np.inf, np.float32(-0.5)])
def test_negative_or_nan_height_and_tol_are_value_errors(func, option, value):
    with pytest.raises(ValueError, match=option):
        func(SIGNAL, **{option: value})


@pytest.mark.parametrize("option", ["height", "tol"])
@pytest.mark.parametrize("value", ["1", [1.0], True, 1j])
def test_non_numeric_height_and_tol_are_type_errors(option, value):
    with pytest.raises(TypeError, match=option):
        smpfast.smp(SIGNAL, **{option: value})


@pytest.mark.parametrize("n", [0, -1])
def test_set_num_threads_needs_a_positive_count(n):
    before = smpfast.get_num_threads()
    with pytest.raises(ValueError):
        smpfast.set_num_threads(n)
    with pytest.raises(TypeError):
        smpfast.set_num_threads(1.5)
    assert smpfast.get_num_threads() == before


# --------------------------------------------------------------------------- nan_policy
def test_nan_policy_raise(backend):
    x = np.stack([SIGNAL, SIGNAL], axis=1)
    x[4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        smpfast.smp(x, nan_policy="raise", backend=backend)
    with pytest.raises(ValueError, match="NaN"):
        smpfast.find_peaks(x[:, 1], nan_policy="raise", backend=backend)
    clean = smpfast.smp_and_count(x[:, :1], nan_policy="raise", backend=backend)
    np.testing.assert_array_equal(clean[0], reference.smp(x[:, :1]))
    x[4, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or Inf"):
        smpfast.peak_count(x, nan_policy="raise", backend=backend)


def test_nan_policy_propagate(backend):
    x = np.stack([SIGNAL] * 3, axis=0)
    x[0, 3] = np.nan
    x[2, 8] = -np.inf
    for mode in ("local", "run"):
        smp, count = smpfast.smp_and_count(x, axis=1, mode=mode, backend=backend)
        assert np.isnan(smp[[0, 2]]).all()
        np.testing.assert_array_equal(count, [0, count[1], 0])
        assert smp[1] > 0 and count[1] > 0
        pos, mag = smpfast.find_peaks(x[0], mode=mode, backend=backend)
        assert pos.size == mag.size == 0


@pytest.mark.parametrize("mode", ["local", "run"])
def test_nan_policy_omit_measures_the_finite_pieces(backend, mode):
    rng = np.random.default_rng(34)
    rows = np.cumsum(rng.normal(size=(50, 60)), axis=1)
    for row in rows:  # NaN / Inf runs anywhere, including at the ends and side by side
        bad = rng.integers(0, 60, size=rng.integers(0, 8))
        row[bad] = rng.choice([np.nan, np.inf, -np.inf], size=bad.size)
    rows[0, :2] = np.nan
    rows[1, -1] = np.nan
    smp, count = smpfast.smp_and_count(rows, axis=1, mode=mode, nan_policy="omit", backend=backend)
    for i, row in enumerate(rows):
        finite = np.concatenate(([False], np.isfinite(row), [False]))
        edges = np.flatnonzero(finite[1:] != finite[:-1])
        pieces = [(a, row[a:b]) for a, b in zip(edges[::2], edges[1::2], strict=True)]
        want = [smpfast.smp_and_count(p, mode=mode, backend=backend) for _, p in pieces]
        assert smp[i] == pytest.approx(sum(float(s) for s, _ in want), rel=1e-12, abs=0)
        assert count[i] == sum(int(c) for _, c in want)
        pos, mag = smpfast.find_peaks(row, mode=mode, nan_policy="omit", backend=backend)
        want_pos = [
            int(start + p)
            for start, piece in pieces
            for p in smpfast.find_peaks(piece, mode=mode, backend=backend)[0]
        ]
        assert pos.tolist() == want_pos
        assert mag.sum() == pytest.approx(smp[i], rel=1e-12, abs=0)
    assert count.sum() > 50


# --------------------------------------------------------------------------- sizes
@pytest.mark.parametrize(
    ("shape", "axis", "out_shape"),
    [
        ((0,), 0, ()),
        ((1,), 0, ()),
        ((2,), 0, ()),
        ((5, 0), 0, (0,)),
        ((5, 0), 1, (5,)),
        ((2, 7), 0, (7,)),
        ((3, 0, 4), 1, (3, 4)),
        ((0, 9), -1, (0,)),
    ],
)
def test_empty_and_short_signals_give_zeros(backend, shape, axis, out_shape):
    x = np.full(shape, np.nan)  # no sample is measured, so not even NaN propagates
    for mode in ("local", "run"):
        smp, count = smpfast.smp_and_count(x, axis, mode=mode, backend=backend)
        assert smp.shape == count.shape == out_shape
        assert smp.dtype == np.float64 and count.dtype == np.int64
        np.testing.assert_array_equal(smp, 0.0)
        np.testing.assert_array_equal(count, 0)
    if len(shape) == 1:
        pos, mag = smpfast.find_peaks(x, backend=backend)
        assert pos.shape == mag.shape == (0,)
        assert pos.dtype == np.int64 and mag.dtype == np.float64


# --------------------------------------------------------------------------- backends
def test_backend_from_environment(monkeypatch, automatic_backend):
    monkeypatch.setenv("SMPFAST_BACKEND", "numpy")
    assert _backends.current_name() == "numpy"
    monkeypatch.setenv("SMPFAST_BACKEND", "garbage")
    with pytest.raises(ValueError, match="SMPFAST_BACKEND") as info:
        smpfast.smp(SIGNAL, backend=None)
    for name in ("cpp", "numba", "numpy"):
        assert repr(name) in str(info.value)
    assert float(smpfast.smp(SIGNAL, backend="numpy")) > 0  # an explicit backend still works
    smpfast.set_backend("numpy")  # and set_backend overrides the environment
    assert float(smpfast.smp(SIGNAL)) > 0


@pytest.mark.usefixtures("automatic_backend")
def test_set_backend_none_returns_to_automatic():
    best = smpfast.available_backends()[0]
    assert _backends.current_name() == best
    smpfast.set_backend("numpy")
    assert _backends.current_name() == "numpy"
    smpfast.set_backend(None)
    assert _backends.current_name() == best


@pytest.mark.usefixtures("automatic_backend")
def test_use_backend_restores_the_previous_backend(backend):
    smpfast.set_backend("numpy")
    with smpfast.use_backend(backend):
        assert _backends.current_name() == backend
        with smpfast.use_backend("numpy"):
            assert _backends.current_name() == "numpy"
        assert _backends.current_name() == backend
    assert _backends.current_name() == "numpy"
    with pytest.raises(KeyError), smpfast.use_backend(backend):
        raise KeyError
    assert _backends.current_name() == "numpy"
    smpfast.set_backend(None)
    with smpfast.use_backend(backend):
        assert _backends.current_name() == backend
    assert _backends.current_name() == smpfast.available_backends()[0]


@pytest.mark.usefixtures("automatic_backend")
def test_the_selected_backend_does_the_work(monkeypatch):
    calls = []

    def spy(y, height, tol, omit):
        calls.append(y.shape)
        return np.full(y.shape[:-1], 42.0), np.zeros(y.shape[:-1], dtype=np.int64)

    monkeypatch.setattr(reference, "smp_run", spy)
    with smpfast.use_backend("numpy"):
        assert float(smpfast.smp(SIGNAL, mode="run")) == 42.0
    smpfast.set_backend("numpy")
    assert float(smpfast.smp(np.zeros((9, 2)), mode="run")[0]) == 42.0
    monkeypatch.setenv("SMPFAST_BACKEND", "numpy")
    smpfast.set_backend(None)
    assert float(smpfast.smp(SIGNAL, mode="run")) == 42.0
    assert calls == [(9,), (2, 9), (9,)]


@pytest.mark.parametrize("bad", ["garbage", None, 3])
def test_set_and_use_backend_reject_unknown_names(bad):
    if bad is not None:
        with pytest.raises(ValueError, match="backend"):
            smpfast.set_backend(bad)
    with pytest.raises(ValueError, match="backend"), smpfast.use_backend(bad):
        pass
