"""The Numba lane kernels' multi-step passes (``_numba.kernels._step8``, ``_step_run4``).

Local mode advances blocks of lanes 8 time steps per pass (float32/float64 arithmetic
only, the pairs' peak magnitudes added in float64 afterwards), then pairs of steps,
then single steps; run mode 4 steps per pass, split into a second-difference loop and a
float64 run loop. These tests aim at what those passes do differently from the
reference's formulation: every tail length, plateaus (equal ``|d|``, where the
"rising" threshold is the float just below the previous value), heights equal to a
magnitude, non-finite samples at every position of a pass, finite samples whose
noise-floor scales overflow (a false alarm of the non-finite check), and the two
drivers (rows read in place, transposed tiles). The sums are accumulated in the
reference's order, so the SMP must be bit-identical, not only close.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smpfast import _numba, reference

pytestmark = pytest.mark.filterwarnings("ignore::numba.NumbaPerformanceWarning")

TOL = 4.0 * float(np.finfo(np.float32).eps)
DTYPES = (np.float32, np.float64)


def _check(y: np.ndarray, height: float, omit: bool = False, tol: float = TOL) -> None:
    """Numba on ``y`` (path axis last, any layout) equals the reference, both modes."""
    yc = np.ascontiguousarray(y)
    for ours, ref in ((_numba.smp_local, reference.smp_local),
                      (_numba.smp_run, reference.smp_run)):
        smp, cnt = ours(y, height, tol, omit)
        ref_smp, ref_cnt = ref(yc, height, tol, omit)
        np.testing.assert_array_equal(cnt, ref_cnt, err_msg=ours.__name__)
        np.testing.assert_array_equal(np.isnan(smp), np.isnan(ref_smp), err_msg=ours.__name__)
        # same order of float64 additions: bit-identical
        np.testing.assert_array_equal(smp, ref_smp, err_msg=ours.__name__)


def _stack(rng: np.random.Generator, t: int, lanes: int, dtype: type) -> np.ndarray:
    """A ``(lanes, t)`` view of a C-ordered ``(t, lanes)`` stack (the rows driver)."""
    x: np.ndarray = rng.standard_normal((t, lanes)).astype(dtype)
    # quantised steps make runs of equal |d| (plateaus) and exact zeros
    x[:, : lanes // 2] = np.round(x[:, : lanes // 2] * 2.0) / 2.0
    return x.T


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("t", [3, 4, 5, 9, 10, 11, 12, 17, 18, 19, 26, 37])
def test_every_tail_length_rows_driver(t: int, dtype: type) -> None:
    rng = np.random.default_rng(t)
    y = _stack(rng, t, 96, dtype)
    for height in (0.0, 0.75):
        _check(y, height)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("t", [3, 6, 7, 10, 11, 19, 40])
def test_every_tail_length_tiles_driver(t: int, dtype: type) -> None:
    rng = np.random.default_rng(100 + t)
    y = np.ascontiguousarray(_stack(rng, t, 80, dtype))  # signals contiguous along t
    for height in (0.0, 0.75):
        _check(y, height)


def test_plateaus_and_a_height_equal_to_a_magnitude() -> None:
    # |d| = 1 at every sample of a zigzag; "bumps" make plateaus risen into and left
    t = np.arange(40)
    zig = np.where(t % 2 == 0, 0.0, 1.0)  # |d| == 2 everywhere: one long plateau
    bump = np.zeros(40)
    bump[[8, 9, 10, 20, 21]] = [1.0, 1.0, 1.0, 2.0, 2.0]
    lanes = np.stack([zig, bump, zig + bump, -bump, np.zeros(40), np.abs(t - 13.0)] * 4)
    for dtype in DTYPES:
        y = np.ascontiguousarray(lanes.T.astype(dtype)).T  # rows driver
        for height in (0.0, 1.0, 2.0, 2.5):
            _check(y, height)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("omit", [False, True])
def test_non_finite_at_every_position_of_a_pass(dtype: type, omit: bool) -> None:
    rng = np.random.default_rng(7)
    t = 23  # passes of 8 steps cover samples 0..9, 8..17, then pairs and a single step
    x: np.ndarray = rng.standard_normal((t, 3 * t)).astype(dtype)
    for i in range(t):  # lane 3i gets NaN at sample i, 3i+1 +inf, 3i+2 -inf
        x[i, 3 * i] = np.nan
        x[i, 3 * i + 1] = np.inf
        x[i, 3 * i + 2] = -np.inf
    x = np.concatenate([x, rng.standard_normal((t, 40)).astype(dtype)], axis=1)
    _check(x.T, 0.0, omit)
    _check(x.T, 0.5, omit)


@pytest.mark.parametrize("dtype", DTYPES)
def test_huge_finite_samples_are_not_mistaken_for_non_finite(dtype: type) -> None:
    # the noise-floor scales of these samples overflow to inf in the signal's dtype
    big = np.finfo(dtype).max / 3
    rng = np.random.default_rng(3)
    x: np.ndarray = rng.uniform(-big, big, size=(30, 64)).astype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        _check(x.T, 0.0)
        _check(x.T, 0.0, omit=True)


def test_strided_and_reversed_lanes() -> None:
    rng = np.random.default_rng(11)
    base = rng.standard_normal((27, 2, 200)).astype(np.float32)
    _check(base[::-1, 0, ::2].T, 0.0)  # lanes 2 apart, path reversed
    _check(base[:, 1, ::-3].T, 0.3)  # lanes 3 apart, reversed


def test_several_blocks_and_threads() -> None:
    from smpfast import _config

    rng = np.random.default_rng(5)
    y = _stack(rng, 30, 5000, np.float32)  # more lanes than one block on 2 threads
    before = _config.get_num_threads()
    try:
        for n in (1, 2):
            _config.set_num_threads(n)
            _check(y, 0.0)
    finally:
        _config.set_num_threads(before)


@settings(max_examples=40, deadline=None)
@given(
    t=st.integers(3, 30),
    lanes=st.integers(16, 40),
    levels=st.integers(1, 6),
    height=st.sampled_from([0.0, 0.5, 1.0, 1.5]),
    seed=st.integers(0, 2**32 - 1),
    f64=st.booleans(),
)
def test_matches_reference_on_coarse_values(
    t: int, lanes: int, levels: int, height: float, seed: int, f64: bool
) -> None:
    # few distinct values: many exact ties of |d| (plateaus), zeros and heights hit exactly
    rng = np.random.default_rng(seed)
    dtype = np.float64 if f64 else np.float32
    x = rng.integers(-levels, levels + 1, size=(t, lanes)).astype(dtype)
    _check(x.T, height)
