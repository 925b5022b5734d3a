"""Local mode is ``scipy.signal.find_peaks(abs(d), height=height)`` on the floored d.

Thousands of plateau- and tie-rich signals (integer-valued data, repeated values,
quantised sines, integer walks) where scipy's plateau rules decide the answer.
"""

from __future__ import annotations

import numpy as np
import pytest
from smp_data import signal_rows

import smpfast
from smpfast import reference

signal = pytest.importorskip("scipy.signal")

HEIGHTS = (0.0, 1.0, 2.5)
LENGTHS = (3, 4, 5, 6, 8, 13, 40)
ROWS_PER_LENGTH = 400


def tie_rich_rows(rng, n_rows, length):
    rows = signal_rows(
        rng, n_rows, length, families=("small_int", "repeated", "quantised_sine", "kinks")
    )
    rows[:, :] = np.round(rows * 2) / 2  # dyadic values: every d is exact, ties stay ties
    walks = np.cumsum(rng.integers(-2, 3, size=(n_rows // 4, length)), axis=1)
    rows[: n_rows // 4] = walks
    return rows


@pytest.fixture(scope="module")
def cases():
    """Signal blocks with scipy's peaks for each height (computed once)."""
    rng = np.random.default_rng(11)
    out = []
    for length in LENGTHS:
        for dtype in (np.float64, np.float32):
            y = tie_rich_rows(rng, ROWS_PER_LENGTH // 2, length).astype(dtype)
            tol = 8 * float(np.finfo(dtype).eps)  # the documented default noise floor
            a = np.abs(reference.floored_second_difference(y, tol)).astype(np.float64)
            for height in HEIGHTS:
                peaks = [signal.find_peaks(row, height=height)[0] for row in a]
                out.append((y, a, height, peaks))
    assert sum(len(y) for y, *_ in out) >= 2000 * len(HEIGHTS)
    return out


def test_cases_have_plateaus_and_peaks(cases):
    _, a, _, peaks = cases[-1]
    assert (a[:, 1:] == a[:, :-1]).any(axis=1).mean() > 0.5  # plateaus of |d| are common
    assert np.mean([p.size > 0 for p in peaks]) > 0.5


def test_smp_and_count_equal_scipy(backend, cases):
    for y, a, height, peaks in cases:
        smp, count = smpfast.smp_and_count(y, axis=1, mode="local", height=height, backend=backend)
        want_count = np.array([p.size for p in peaks])
        want_smp = np.array([a[i, p].sum() for i, p in enumerate(peaks)])
        context = f"T={y.shape[1]} {y.dtype} height={height}"
        np.testing.assert_array_equal(count, want_count, err_msg=context)
        np.testing.assert_allclose(smp, want_smp, rtol=1e-12, atol=0, err_msg=context)


def test_find_peaks_positions_equal_scipy(backend, cases):
    for y, a, height, peaks in cases:
        for i, row in enumerate(y):
            pos, mag = smpfast.find_peaks(row, mode="local", height=height, backend=backend)
            context = f"row {row!r} height={height}"
            np.testing.assert_array_equal(pos, peaks[i] + 1, err_msg=context)
            np.testing.assert_allclose(mag, a[i, peaks[i]], rtol=1e-12, atol=0, err_msg=context)
