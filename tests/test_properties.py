"""Properties every backend must satisfy (docs/nonsmoothness.md, section 2), by Hypothesis.

Where floating point makes a property approximate, the data is chosen so that it is
provably exact (correctly rounded affine samples, integer or dyadic values, scaling by
powers of two), or the tolerance is derived from the noise floor.
"""

from __future__ import annotations

from fractions import Fraction

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import smpfast

MODES = st.sampled_from(["local", "run"])
DTYPES = st.sampled_from([np.float32, np.float64])
BATCH = st.integers(1, 4)
LENGTH = st.integers(3, 40)


def default_tol(dtype):
    return 8 * float(np.finfo(dtype).eps)


def measure(y, backend, **options):
    return smpfast.smp_and_count(y, axis=-1, backend=backend, **options)


def signed(magnitudes):
    return st.tuples(st.sampled_from([-1.0, 1.0]), magnitudes).map(lambda sm: sm[0] * sm[1])


# |value| is 0 or in [1e-6, 1e6]: no subnormals anywhere, in float32 either
COEFFICIENTS = signed(st.just(0.0) | st.floats(1e-6, 1e6))


@st.composite
def float_signals(draw, dtype, lo=1e-3, hi=1e6):
    """(batch, length) arrays of 0 or +-[lo, hi] values (no subnormal d, no overflow)."""
    shape = (draw(BATCH), draw(LENGTH))
    lo, hi = float(dtype(lo)), float(dtype(hi))  # exactly representable bounds
    magnitudes = st.just(0.0) | st.floats(lo, hi, width=np.finfo(dtype).bits)
    return draw(hnp.arrays(dtype, shape, elements=signed(magnitudes)))


@st.composite
def integer_signals(draw, bound=1000):
    shape = (draw(BATCH), draw(LENGTH))
    return draw(hnp.arrays(np.int64, shape, elements=st.integers(-bound, bound)))


@given(
    dtype=DTYPES,
    mode=MODES,
    lines=st.lists(st.tuples(COEFFICIENTS, COEFFICIENTS), min_size=1, max_size=4),
    length=LENGTH,
)
def test_affine_signals_have_smp_zero(backend, dtype, mode, lines, length):
    # correctly rounded samples of the exact line: |d| <= eps * scale < 8 eps * scale
    y = np.array(
        [[float(Fraction(a) + Fraction(b) * t) for t in range(length)] for a, b in lines]
    ).astype(dtype)
    smp, count = measure(y, backend, mode=mode)
    np.testing.assert_array_equal(smp, 0.0)
    np.testing.assert_array_equal(count, 0)


@given(
    y=integer_signals(),
    a=st.integers(-10_000, 10_000),
    b=st.integers(-1000, 1000),
    dtype=DTYPES,
    mode=MODES,
    tol=st.sampled_from([0.0, None]),
    height=st.sampled_from([0.0, 1.0, 3.0]),
)
def test_adding_an_integer_trend_changes_nothing(backend, y, a, b, dtype, mode, tol, height):
    # every value is an integer below 1 / (32 eps(float32)): d is exact and no nonzero d
    # (|d| >= 1) is under the default floor, so the property holds exactly
    trend = a + b * np.arange(y.shape[1])
    options = {"mode": mode, "tol": tol, "height": height}
    smp, count = measure(y.astype(dtype), backend, **options)
    smp_t, count_t = measure((y + trend).astype(dtype), backend, **options)
    np.testing.assert_array_equal(smp_t, smp)
    np.testing.assert_array_equal(count_t, count)


@given(
    data=st.data(),
    dtype=DTYPES,
    a=st.floats(-1e3, 1e3),
    b=st.floats(-1e3, 1e3),
)
def test_adding_a_trend_changes_run_mode_smp_within_the_noise_floor(backend, data, dtype, a, b):
    y = data.draw(float_signals(dtype, lo=1e-6, hi=1e3))
    t = np.arange(y.shape[1])
    z = (y.astype(np.float64) + (a + b * t)).astype(dtype)
    smp_y = measure(y, backend, mode="run")[0]
    smp_z = measure(z, backend, mode="run")[0]
    # run-mode SMP is sum |floored d|; per sample the floored d of y and z differ by at most
    # the floor of either plus rounding (of y, z, the trend and d itself)
    eps, tol = float(np.finfo(dtype).eps), default_tol(dtype)

    def scale(v):
        v = np.abs(v.astype(np.float64))
        return v[:, :-2] + 2 * v[:, 1:-1] + v[:, 2:]

    per_sample = (
        (tol + 4 * eps) * (scale(y) + scale(z))
        + 8 * np.finfo(np.float64).eps * (abs(a) + 2 * abs(b) * t[-1])
        + 4 * np.finfo(dtype).smallest_subnormal
    )
    bound = per_sample.sum(axis=1) + 1e-12 * (smp_y + smp_z)
    assert np.all(np.abs(smp_z - smp_y) <= bound), (smp_y, smp_z, bound)


@given(
    data=st.data(),
    dtype=DTYPES,
    mode=MODES,
    k=st.integers(-8, 8).filter(bool),
    negative=st.booleans(),
    height=st.sampled_from([0.0, 0.5, 10.0]),
    tol=st.sampled_from([None, 0.0, 1e-3]),
)
def test_scaling_by_a_power_of_two_scales_smp(backend, data, dtype, mode, k, negative, height, tol):
    y = data.draw(float_signals(dtype))
    c = (-1.0 if negative else 1.0) * 2.0**k
    options = {"mode": mode, "tol": tol}
    smp, count = measure(y, backend, height=height, **options)
    smp_c, count_c = measure((c * y).astype(dtype), backend, height=abs(c) * height, **options)
    np.testing.assert_array_equal(smp_c, abs(c) * smp)
    np.testing.assert_array_equal(count_c, count)


@given(
    data=st.data(),
    dtype=DTYPES,
    mode=MODES,
    height=st.sampled_from([0.0, 0.5, 10.0]),
    tol=st.sampled_from([None, 0.0, 1e-3]),
)
def test_sign_flip_changes_nothing(backend, data, dtype, mode, height, tol):
    y = data.draw(float_signals(dtype, lo=1e-30, hi=1e30))  # negation is exact, always
    options = {"mode": mode, "height": height, "tol": tol}
    smp, count = measure(y, backend, **options)
    smp_f, count_f = measure(-y, backend, **options)
    np.testing.assert_array_equal(smp_f, smp)
    np.testing.assert_array_equal(count_f, count)


@given(
    y=integer_signals(),
    shift=st.integers(0, 6),
    dtype=DTYPES,
    mode=MODES,
    height=st.sampled_from([0.0, 0.25, 2.0]),
    tol=st.sampled_from([None, 0.0]),
)
def test_time_reversal_changes_nothing(backend, y, shift, dtype, mode, height, tol):
    # dyadic values with few bits: d is exact in either direction
    y = (y / 2.0**shift).astype(dtype)
    options = {"mode": mode, "height": height, "tol": tol}
    smp, count = measure(y, backend, **options)
    smp_r, count_r = measure(y[:, ::-1], backend, **options)
    np.testing.assert_array_equal(smp_r, smp)
    np.testing.assert_array_equal(count_r, count)
    # the same peaks, possibly at other sample of a plateau (the middle moves)
    _, mag = smpfast.find_peaks(y[0], backend=backend, **options)
    _, mag_r = smpfast.find_peaks(y[0, ::-1], backend=backend, **options)
    np.testing.assert_array_equal(np.sort(mag_r), np.sort(mag))


@given(
    data=st.data(),
    dtype=DTYPES,
    mode=MODES,
    bad=st.sampled_from([np.nan, np.inf, -np.inf]),
)
def test_nonfinite_sample_gives_nan(backend, data, dtype, mode, bad):
    y = data.draw(float_signals(dtype, hi=1e3))
    rows = data.draw(st.lists(st.integers(0, y.shape[0] - 1), min_size=1, unique=True))
    for row in rows:
        y[row, data.draw(st.integers(0, y.shape[1] - 1))] = bad
    hit = np.zeros(y.shape[0], dtype=bool)
    hit[rows] = True
    smp, count = measure(y, backend, mode=mode)
    assert np.isnan(smp[hit]).all()
    np.testing.assert_array_equal(count[hit], 0)
    # the other signals are unaffected by their neighbours
    smp_ok, count_ok = measure(y[~hit], backend, mode=mode)
    np.testing.assert_array_equal(smp[~hit], smp_ok)
    np.testing.assert_array_equal(count[~hit], count_ok)
    assert not np.isnan(smp_ok).any()


@given(
    y=hnp.arrays(
        DTYPES,
        st.tuples(st.integers(0, 3), st.integers(0, 2)),
        elements=st.floats(allow_nan=True, allow_infinity=True, width=32),
    ),
    mode=MODES,
)
def test_fewer_than_three_samples_give_zero(backend, y, mode):
    smp, count = measure(y, backend, mode=mode)
    assert smp.shape == count.shape == (y.shape[0],)
    np.testing.assert_array_equal(smp, 0.0)
    np.testing.assert_array_equal(count, 0)
