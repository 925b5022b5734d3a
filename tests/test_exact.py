"""Run mode is exact on piecewise-linear signals; local mode sees max(a, 1 - a) of a kink.

The signals are generated analytically: kinks at non-integer positions, slopes log-uniform
over 1e-3 .. 1e3 with random signs, every sample the correctly rounded float64 value of
the exact piecewise-linear function (computed with fractions). Rounding then leaves
``|d| <= eps * scale`` on the linear pieces, far under the default noise floor (8 eps),
so the expected SMP is the exact sum of |slope changes|.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

import smpfast

LENGTH = 64


def kink_positions(rng, length, n_kinks, min_gap=2.0, margin=2.0, edge=0.01):
    """Sorted kink positions in [margin, length - 1 - margin], ``min_gap`` apart.

    The fractional parts stay in [edge, 1 - edge], so both samples of d that a kink
    touches are far above the noise floor.
    """
    while True:
        span = (length - 1 - 2 * margin) - (n_kinks - 1) * min_gap
        p = margin + np.sort(rng.uniform(0, span, n_kinks)) + min_gap * np.arange(n_kinks)
        frac = p - np.floor(p)
        if ((frac >= edge) & (frac <= 1 - edge)).all():
            return p


def log_uniform_slopes(rng, n):
    return rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(-3, 3, n)


def piecewise_linear(length, offset, slopes, kinks):
    """Correctly rounded samples of the piecewise-linear function and its exact |D| sum."""
    slopes_q = [Fraction(s) for s in slopes]
    intercepts = [Fraction(offset)]
    for k, p in enumerate(kinks):  # continuity at each kink
        intercepts.append(intercepts[-1] - (slopes_q[k + 1] - slopes_q[k]) * Fraction(p))
    segment = np.searchsorted(kinks, np.arange(length))  # kinks are never integers
    y = np.array([float(intercepts[k] + slopes_q[k] * t) for t, k in enumerate(segment)])
    total = float(sum(abs(b - a) for a, b in itertools.pairwise(slopes_q)))
    return y, total


def expected_run_count(kinks, slopes):
    """Kinks whose d samples touch (next kink two samples on) and share a sign merge."""
    m = np.floor(kinks).astype(int)
    sign = np.sign(np.diff(slopes))
    merges = np.sum((np.diff(m) == 2) & (sign[1:] == sign[:-1]))
    return len(kinks) - int(merges)


@pytest.fixture(scope="module")
def piecewise_signals():
    rng = np.random.default_rng(21)
    rows, totals, counts, n_kinks = [], [], [], []
    for _ in range(300):
        n = int(rng.integers(1, 12))
        kinks = kink_positions(rng, LENGTH, n)
        slopes = log_uniform_slopes(rng, n + 1)
        y, total = piecewise_linear(LENGTH, rng.uniform(-100, 100), slopes, kinks)
        rows.append(y)
        totals.append(total)
        counts.append(expected_run_count(kinks, slopes))
        n_kinks.append(n)
    return np.array(rows), np.array(totals), np.array(counts), np.array(n_kinks)


def test_generator_is_what_it_claims():
    y, total = piecewise_linear(10, 1.0, [1.0, -1.0, 0.5], np.array([3.5, 6.25]))
    t = np.arange(10.0)
    np.testing.assert_array_equal(
        y, 1.0 + t - 2 * np.maximum(t - 3.5, 0) + 1.5 * np.maximum(t - 6.25, 0)
    )
    assert total == 3.5
    assert expected_run_count(np.array([3.5, 5.6]), np.array([0.0, 1.0, 2.0])) == 1
    assert expected_run_count(np.array([3.5, 5.6]), np.array([0.0, 1.0, 0.0])) == 2
    assert expected_run_count(np.array([3.5, 6.6]), np.array([0.0, 1.0, 2.0])) == 2


def test_run_mode_equals_sum_of_slope_changes(backend, piecewise_signals):
    y, totals, counts, n_kinks = piecewise_signals
    smp, count = smpfast.smp_and_count(y, axis=1, mode="run", backend=backend)
    np.testing.assert_allclose(smp, totals, rtol=1e-9, atol=0)
    np.testing.assert_array_equal(count, counts)
    separated = counts == n_kinks
    assert separated.mean() > 0.5  # most signals: one peak per kink
    np.testing.assert_array_equal(count[separated], n_kinks[separated])


def test_run_mode_one_peak_per_kink_when_three_samples_apart(backend):
    rng = np.random.default_rng(22)
    rows, totals, n_kinks = [], [], []
    for _ in range(100):
        n = int(rng.integers(1, 10))
        kinks = kink_positions(rng, LENGTH, n, min_gap=3.0)
        y, total = piecewise_linear(LENGTH, 0.0, log_uniform_slopes(rng, n + 1), kinks)
        rows.append(y)
        totals.append(total)
        n_kinks.append(n)
    smp, count = smpfast.smp_and_count(np.array(rows), axis=1, mode="run", backend=backend)
    np.testing.assert_allclose(smp, totals, rtol=1e-9, atol=0)
    np.testing.assert_array_equal(count, n_kinks)


def test_local_mode_sees_the_larger_share_of_an_isolated_kink(backend):
    rng = np.random.default_rng(23)
    rows, want = [], []
    for _ in range(200):
        (p,) = kink_positions(rng, 20, 1)
        a = math.floor(p) + 1 - p  # d[m] = a D, d[m + 1] = (1 - a) D
        slopes = log_uniform_slopes(rng, 2)
        y, total = piecewise_linear(20, rng.uniform(-10, 10), slopes, np.array([p]))
        rows.append(y)
        want.append(max(a, 1 - a) * total)
    smp, count = smpfast.smp_and_count(np.array(rows), axis=1, mode="local", backend=backend)
    np.testing.assert_allclose(smp, want, rtol=1e-9, atol=0)
    np.testing.assert_array_equal(count, 1)


def test_local_over_run_is_three_quarters_on_average(backend):
    rng = np.random.default_rng(24)
    rows = []
    for _ in range(2000):
        (p,) = kink_positions(rng, 16, 1, edge=0.0)  # uniform sub-sample position
        s0 = rng.normal()
        s1 = s0 + rng.choice([-1, 1]) * rng.uniform(0.5, 2.0)
        rows.append(piecewise_linear(16, 0.0, [s0, s1], np.array([p]))[0])
    y = np.array(rows)
    local = smpfast.smp(y, axis=1, mode="local", backend=backend)
    run = smpfast.smp(y, axis=1, mode="run", backend=backend)
    ratio = local.sum() / run.sum()
    assert abs(ratio - 0.75) < 0.02, ratio  # standard error of the ratio ~ 0.004
