"""Every backend agrees with the NumPy reference (``smpfast.reference``).

The reference is checked once against a naive sample-by-sample reading of the
definitions; each backend is then compared with the reference over shapes, axes, memory
layouts, dtypes, options, edge sizes, thread counts and (C++) SIMD targets. The reference
always gets a C-contiguous copy, the backend the strided view.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from smp_data import FAMILIES, layouts, signal_row, signal_rows, signals

import smpfast
from smpfast import reference

MODES = ("local", "run")
RTOL = 1e-12  # float32 and float64 input alike: identical d, sums in float64


def assert_same_measure(got, want, context=""):
    smp, count = got
    smp_ref, count_ref = want
    assert smp.dtype == np.float64, context
    assert count.dtype == np.int64, context
    assert smp.shape == smp_ref.shape, context
    assert count.shape == count_ref.shape, context
    np.testing.assert_array_equal(np.isnan(smp), np.isnan(smp_ref), err_msg=f"NaN {context}")
    np.testing.assert_allclose(smp, smp_ref, rtol=RTOL, atol=0, err_msg=f"SMP {context}")
    np.testing.assert_array_equal(count, count_ref, err_msg=f"count {context}")


def reference_measure(x, axis, **options):
    return reference.smp_and_count(np.ascontiguousarray(x), axis, **options)


def some_height(x, axis):
    """A positive height that keeps some peaks and drops others."""
    if x.dtype.kind in "iub":
        return 1.0  # integer data: |d| is integral, so this height hits magnitudes exactly
    with np.errstate(invalid="ignore"):
        d = np.abs(np.diff(x.astype(np.float64), 2, axis=axis))
    d = d[np.isfinite(d) & (d > 0)]
    return 0.7 * float(np.median(d)) if d.size else 0.5


# --------------------------------------------------------------------------- the oracle
def naive_peaks(y, mode, height, tol):
    """Positions (into ``y``) and magnitudes of the peaks of one finite signal, by hand."""
    ftype = y.dtype.type
    d = []
    for t in range(1, y.size - 1):
        dt = (y[t + 1] - ftype(2) * y[t]) + y[t - 1]
        scale = (abs(y[t - 1]) + ftype(2) * abs(y[t])) + abs(y[t + 1])
        d.append(ftype(0) if abs(dt) < ftype(tol) * scale else dt)
    peaks = []
    if mode == "local":
        a = [abs(v) for v in d]
        i = 1
        while i < len(a) - 1:
            if a[i - 1] < a[i]:
                j = i
                while j + 1 < len(a) and a[j + 1] == a[i]:
                    j += 1
                if j + 1 < len(a) and a[j + 1] < a[i]:
                    peaks.append(((i + j) // 2 + 1, float(a[i])))
                i = j + 1
            else:
                i += 1
    else:
        i = 0
        while i < len(d):
            if d[i] == 0:
                i += 1
                continue
            j, total, best = i, 0.0, i
            while j < len(d) and np.sign(d[j]) == np.sign(d[i]):
                total += float(d[j])
                best = j if abs(d[j]) > abs(d[best]) else best
                j += 1
            peaks.append((best + 1, abs(total)))
            i = j
    return [(p, m) for p, m in peaks if m >= height]


def naive_measure(y, mode, height, tol, omit):
    """SMP, count and peaks of one signal; non-finite samples split it when ``omit``."""
    finite = np.isfinite(y)
    if not finite.all() and not omit:
        return math.nan, 0, []
    peaks, start = [], 0
    for stop in [*np.flatnonzero(~finite), y.size]:
        peaks += [(p + start, m) for p, m in naive_peaks(y[start:stop], mode, height, tol)]
        start = stop + 1
    return sum(m for _, m in peaks), len(peaks), peaks


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
def test_reference_matches_naive_definition(mode, dtype):
    rng = np.random.default_rng(1)
    for length in (3, 4, 5, 9, 31):
        y = signal_rows(rng, 50, length, nonfinite=0.1).astype(dtype)
        for height, tol, omit in itertools.product((0.0, 1.0), (None, 0.0, 1e-3), (False, True)):
            tol_v = 8 * float(np.finfo(dtype).eps) if tol is None else tol
            policy = "omit" if omit else "propagate"
            smp, count = reference.smp_and_count(
                y, 1, mode=mode, height=height, tol=tol, nan_policy=policy
            )
            for i, row in enumerate(y):
                want_smp, want_count, want_peaks = naive_measure(row, mode, height, tol_v, omit)
                context = f"row {row!r}, height={height}, tol={tol}, omit={omit}"
                np.testing.assert_allclose(smp[i], want_smp, rtol=1e-12, err_msg=context)
                assert count[i] == want_count, context
                pos, mag = reference.find_peaks(
                    row, mode=mode, height=height, tol=tol, nan_policy=policy
                )
                assert pos.tolist() == [p for p, _ in want_peaks], context
                np.testing.assert_allclose(mag, [m for _, m in want_peaks], rtol=1e-12)


# --------------------------------------------------------------------------- backends
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("mode", MODES)
def test_parity_shapes_axes_layouts(backend, mode, dtype):
    rng = np.random.default_rng([2, MODES.index(mode), np.dtype(dtype).num])
    nonfinite = 0.15 if np.dtype(dtype).kind == "f" else 0.0
    for ndim in (1, 2, 3, 4):
        for axis in range(ndim):
            shape = tuple(int(n) for n in rng.integers(1, 5, size=ndim))
            shape = (*shape[:axis], int(rng.integers(3, 40)), *shape[axis + 1 :])
            x = signals(rng, shape, axis, dtype, nonfinite=nonfinite)
            height = some_height(x, axis)
            for (name, view), h, tol, policy in itertools.product(
                layouts(x, axis, rng), (0.0, height), (None, 0.0, 1e-4), ("propagate", "omit")
            ):
                np.testing.assert_array_equal(view, x)  # the layout keeps the contents
                options = {"mode": mode, "height": h, "tol": tol, "nan_policy": policy}
                ax = axis - ndim if name == "F" else axis  # negative axes too
                got = smpfast.smp_and_count(view, ax, backend=backend, **options)
                context = f"shape={shape} axis={ax} layout={name} {options}"
                assert_same_measure(got, reference_measure(x, axis, **options), context)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
def test_parity_edge_sizes(backend, mode, dtype):
    rng = np.random.default_rng(3)
    for length, batch in itertools.product(range(6), [(), (0,), (1,), (5,), (2, 0), (0, 3)]):
        for axis in {0, len(batch)}:
            shape = (*batch[:axis], length, *batch[axis:])
            x = signals(rng, shape, axis, dtype)
            for h in (0.0, 0.5):
                options = {"mode": mode, "height": h}
                got = smpfast.smp_and_count(x, axis, backend=backend, **options)
                context = f"shape={shape} axis={axis} {options}"
                assert_same_measure(got, reference_measure(x, axis, **options), context)
                if length < 3:
                    assert not got[0].any() and not got[1].any(), context


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("shape", "axis"), [((256, 16, 16), 0), ((64, 256), -1)])
def test_parity_frames_and_long_paths(backend, mode, dtype, shape, axis):
    rng = np.random.default_rng(4)
    x = signals(rng, shape, axis, dtype, nonfinite=0.02)
    for h, tol in itertools.product((0.0, some_height(x, axis)), (None, 0.0)):
        options = {"mode": mode, "height": h, "tol": tol}
        got = smpfast.smp_and_count(x, axis, backend=backend, **options)
        assert_same_measure(got, reference_measure(x, axis, **options), f"{shape} {options}")
        assert (got[1] > 0).mean() > 0.5  # the data has peaks to find


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
def test_parity_find_peaks(backend, mode, dtype):
    rng = np.random.default_rng(5)
    for family, length in itertools.product(FAMILIES, (3, 4, 7, 50)):
        y = signal_row(rng, family, length)
        if rng.random() < 0.3:
            y[rng.integers(length)] = np.nan
        y = y.astype(dtype)
        views = {"contiguous": y, "reversed": np.ascontiguousarray(y[::-1])[::-1]}
        strided = np.full(2 * length, np.nan, dtype)
        strided[::2] = y
        views["strided"] = strided[::2]
        for (name, view), h, policy in itertools.product(
            views.items(), (0.0, some_height(y, 0)), ("propagate", "omit")
        ):
            options = {"mode": mode, "height": h, "nan_policy": policy}
            pos, mag = smpfast.find_peaks(view, backend=backend, **options)
            pos_ref, mag_ref = reference.find_peaks(y, **options)
            context = f"{family} {name} {options} y={y!r}"
            assert pos.dtype == np.int64 and mag.dtype == np.float64, context
            np.testing.assert_array_equal(pos, pos_ref, err_msg=context)
            np.testing.assert_allclose(mag, mag_ref, rtol=RTOL, atol=0, err_msg=context)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("mode", MODES)
def test_parity_threads(backend, mode, threads):
    rng = np.random.default_rng(6)
    smpfast.set_num_threads(threads)
    assert smpfast.get_num_threads() == threads
    for dtype, shape, axis in [(np.float64, (40, 33, 12), 1), (np.float32, (999, 70), 1)]:
        x = signals(rng, shape, axis, dtype, nonfinite=0.05)
        for policy in ("propagate", "omit"):
            options = {"mode": mode, "nan_policy": policy}
            got = smpfast.smp_and_count(x[:, ::-1], axis, backend=backend, **options)
            want = reference_measure(x[:, ::-1], axis, **options)
            assert_same_measure(got, want, f"threads={threads} {shape} {options}")


# --------------------------------------------------------------------------- SIMD targets
def _simd_targets():
    if "cpp" not in smpfast.available_backends():
        return []
    from smpfast import _core

    return list(_core.simd_targets())


def pytest_generate_tests(metafunc):
    if "simd_target" in metafunc.fixturenames:
        targets = _simd_targets()
        if not targets:
            targets = [pytest.param(None, marks=pytest.mark.skip(reason="no cpp backend"))]
        metafunc.parametrize("simd_target", targets)


@pytest.fixture
def active_simd_target(simd_target):
    from smpfast import _core

    previous = _core.get_simd_target()
    _core.set_simd_target(simd_target)
    try:
        assert _core.get_simd_target() == simd_target
        yield simd_target
    finally:
        _core.set_simd_target(previous)
    assert _core.get_simd_target() == previous


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
def test_parity_simd_targets(active_simd_target, mode, dtype):
    rng = np.random.default_rng(7)
    # batch sizes around every lane count (1, 2, 4, 8, 16) and path lengths around blocks
    for n_signals, length in itertools.product((1, 3, 7, 8, 9, 15, 16, 17, 33), (3, 4, 5, 17, 70)):
        x = signals(rng, (n_signals, length), 1, dtype, nonfinite=0.1)
        for (name, view), h, tol, policy in itertools.product(
            layouts(x, 1, rng), (0.0, some_height(x, 1)), (None, 0.0), ("propagate", "omit")
        ):
            options = {"mode": mode, "height": h, "tol": tol, "nan_policy": policy}
            got = smpfast.smp_and_count(view, 1, backend="cpp", **options)
            context = f"simd={active_simd_target} shape={x.shape} layout={name} {options}"
            assert_same_measure(got, reference_measure(x, 1, **options), context)
        pos, mag = smpfast.find_peaks(x[0], mode=mode, backend="cpp")
        pos_ref, mag_ref = reference.find_peaks(x[0], mode=mode)
        np.testing.assert_array_equal(pos, pos_ref)
        np.testing.assert_allclose(mag, mag_ref, rtol=RTOL, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
def test_parity_simd_targets_wide_rows(active_simd_target, mode, dtype):
    """Stack layouts wide enough for the grouped in-place kernels (thousands of adjacent
    signals per frame), path lengths around their row chunks, NaN/Inf included."""
    rng = np.random.default_rng(8)
    for length, width in ((3, 2304), (6, 4100), (37, 2 * 2048 + 40)):
        x = signals(rng, (length, 2, width), 0, dtype, nonfinite=0.002)
        x[:, 1, 100:108] = 3.0  # plateaus: |d| == 0 over a run of samples
        for view, h in itertools.product((x, x[::-1]), (0.0, some_height(x, 0))):
            options = {"mode": mode, "height": h}
            got = smpfast.smp_and_count(view, 0, backend="cpp", **options)
            context = f"simd={active_simd_target} shape={x.shape} {options}"
            assert_same_measure(got, reference_measure(view, 0, **options), context)
