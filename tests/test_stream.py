"""``smpfast.SMPStream``: streaming equals the batch ``smp_and_count`` however frames are split.

The oracle is ``smpfast.reference.smp_and_count`` (the definition) on the concatenation of
all frames along axis 0. The ``numpy`` and ``numba`` streams must match it bit for bit;
``cpp`` counts exactly and SMP within 1e-12 relative.
"""

from __future__ import annotations

import itertools
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from smp_data import signals

import smpfast
from smpfast import reference

MODES = ("local", "run")
POLICIES = ("propagate", "omit")
RTOL = 1e-12


def check_same(got, want, backend, context=""):
    smp, count = got
    smp_ref, count_ref = want
    assert smp.dtype == np.float64 and count.dtype == np.int64, context
    assert smp.shape == smp_ref.shape and count.shape == count_ref.shape, context
    np.testing.assert_array_equal(count, count_ref, err_msg=f"count {context}")
    np.testing.assert_array_equal(np.isnan(smp), np.isnan(smp_ref), err_msg=f"NaN {context}")
    if backend in ("numpy", "numba"):
        np.testing.assert_array_equal(smp, smp_ref, err_msg=f"SMP {context}")
    else:
        np.testing.assert_allclose(smp, smp_ref, rtol=RTOL, atol=0, err_msg=f"SMP {context}")


def stream_in_blocks(x, cuts, backend, **options):
    s = smpfast.SMPStream(x.shape[1:], dtype=x.dtype, backend=backend, **options)
    edges = [0, *sorted(cuts), x.shape[0]]
    for a, b in itertools.pairwise(edges):
        assert s.update(x[a:b]) is s
    assert s.n_frames == x.shape[0]
    return s


def frames_data(rng, length, shape, dtype, nonfinite=0.0):
    """``(length, *shape)`` frames: signals of the shared families along axis 0."""
    return signals(rng, (length, *shape), 0, dtype, nonfinite=nonfinite)


# --------------------------------------------------------------------------- parity
@given(
    seed=st.integers(0, 2**32 - 1),
    length=st.integers(0, 40),
    n_cuts=st.integers(0, 8),
    mode=st.sampled_from(MODES),
    policy=st.sampled_from(POLICIES),
    dtype=st.sampled_from([np.float32, np.float64]),
    height=st.sampled_from([0.0, 0.0, 1e-3, 0.5]),
    tol=st.sampled_from([None, None, 0.0, 1e-3]),
    npix=st.integers(0, 70),
)
def test_random_splits_match_batch(
    backend, seed, length, n_cuts, mode, policy, dtype, height, tol, npix
):
    rng = np.random.default_rng(seed)
    x = frames_data(rng, length, (npix,), dtype, nonfinite=0.2)
    cuts = rng.integers(0, length + 1, size=n_cuts)
    options = dict(mode=mode, height=height, tol=tol, nan_policy=policy)
    s = stream_in_blocks(x, cuts, backend, **options)
    want = reference.smp_and_count(x, 0, **options)
    check_same(s.result(), want, backend, f"cuts {sorted(cuts)}")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("block", [1, 2, 3, 7, 16])
def test_fixed_blocks_wide(backend, mode, dtype, block):
    # more pixels than one SIMD block (W <= 64 lanes), plus a tail
    rng = np.random.default_rng(block)
    x = frames_data(rng, 37, (2 * 64 + 13,), dtype)
    s = stream_in_blocks(x, list(range(block, 37, block)), backend, mode=mode)
    check_same(s.result(), reference.smp_and_count(x, 0, mode=mode), backend)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("mode", MODES)
def test_nonfinite_in_different_blocks(backend, mode, policy):
    rng = np.random.default_rng(5)
    x = frames_data(rng, 30, (3, 40), np.float64)
    x[0, 0, 0] = np.nan  # first frame
    x[1, 0, 1] = np.inf  # second frame (stream warm-up)
    x[7, 1, 2] = np.nan  # block boundary below
    x[8, 1, 2] = -np.inf
    x[12, 2, 3] = np.nan
    x[13:15, 2, 3] = 1.0
    x[15, 2, 3] = np.nan  # a 2-sample piece between NaNs
    x[29, 2, 30] = np.nan  # last frame
    x[5::6, 1, 20] = np.nan  # every block
    options = dict(mode=mode, nan_policy=policy)
    want = reference.smp_and_count(x, 0, **options)
    for cuts in ([8], [2, 8, 9, 16], list(range(1, 30))):
        s = stream_in_blocks(x, cuts, backend, **options)
        check_same(s.result(), want, backend, f"cuts {cuts}")


@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 4), (0,), (3, 0)])
def test_frame_shapes(backend, shape):
    rng = np.random.default_rng(1)
    x = frames_data(rng, 20, shape, np.float64)
    s = stream_in_blocks(x, [3, 4, 11], backend, mode="run")
    smp, count = s.result()
    assert smp.shape == shape and count.shape == shape
    check_same((smp, count), reference.smp_and_count(x, 0, mode="run"), backend)


@pytest.mark.parametrize("mode", MODES)
def test_strided_frames(backend, mode):
    rng = np.random.default_rng(2)
    x = frames_data(rng, 25, (6, 70), np.float32)
    want = reference.smp_and_count(x, 0, mode=mode)
    views = {
        "neg_frames": np.flip(np.flip(x, 0).copy(), 0),
        "neg_pixels": np.flip(np.flip(x, 2).copy(), 2),
        "fortran": np.asfortranarray(x),
        "sliced": np.repeat(x, 2, axis=2)[:, :, ::2],
        "transposed": np.ascontiguousarray(x.transpose(0, 2, 1)).transpose(0, 2, 1),
    }
    for name, view in views.items():
        assert np.array_equal(view, x)
        s = stream_in_blocks(view, [4, 5, 17], backend, mode=mode)
        check_same(s.result(), want, backend, name)


def test_short_streams_are_zero(backend):
    s = smpfast.SMPStream(4, backend=backend)
    x = np.array([[np.nan, 1.0, 2.0, 3.0], [5.0, np.inf, 0.0, 1.0]])
    for n in range(3):
        smp, count = s.result()
        assert np.array_equal(smp, np.zeros(4)) and np.array_equal(count, np.zeros(4, np.int64))
        if n < 2:
            s.update(x[n : n + 1])
    assert s.n_frames == 2


def test_integer_frames_become_float64(backend):
    x = np.array([[0], [1], [4], [9], [3], [3]], dtype=np.int16)
    s = smpfast.SMPStream(1, backend=backend).update(x[:2]).update(x[2:])
    check_same(s.result(), reference.smp_and_count(x, 0), backend)


# --------------------------------------------------------------------------- state
@pytest.mark.parametrize("mode", MODES)
def test_pickle_mid_stream_and_continue(backend, mode):
    rng = np.random.default_rng(3)
    x = frames_data(rng, 30, (2, 33), np.float32, nonfinite=0.2)
    options = dict(mode=mode, nan_policy="omit", height=1e-4)
    s = stream_in_blocks(x[:11], [4], backend, **options)
    restored = pickle.loads(pickle.dumps(s))
    assert restored.n_frames == 11 and restored.shape == (2, 33) and restored.mode == mode
    assert restored.dtype == np.float32 and restored.nan_policy == "omit"
    restored.update(x[11:])
    check_same(restored.result(), reference.smp_and_count(x, 0, **options), backend)
    assert s.n_frames == 11  # the original is untouched


def test_copy_is_independent(backend):
    rng = np.random.default_rng(4)
    x = frames_data(rng, 20, (10,), np.float64)
    a = smpfast.SMPStream(10, backend=backend).update(x[:8])
    b = a.copy()
    b.update(x[8:])
    check_same(a.result(), reference.smp_and_count(x[:8], 0), backend)
    check_same(b.result(), reference.smp_and_count(x, 0), backend)


def test_result_does_not_change_state(backend):
    rng = np.random.default_rng(6)
    x = frames_data(rng, 20, (10,), np.float64)
    s = smpfast.SMPStream(10, mode="run", backend=backend).update(x[:10])
    s.result()
    s.result()
    s.update(x[10:])
    check_same(s.result(), reference.smp_and_count(x, 0, mode="run"), backend)


def test_backends_take_turns():
    rng = np.random.default_rng(7)
    x = frames_data(rng, 40, (3, 25), np.float32, nonfinite=0.3)
    names = smpfast.available_backends()
    for mode in MODES:
        options = dict(mode=mode, nan_policy="omit")
        s = smpfast.SMPStream((3, 25), dtype=np.float32, **options)
        for i, a in enumerate(range(0, 40, 5)):
            with smpfast.use_backend(names[i % len(names)]):
                s.update(x[a : a + 5])
        check_same(s.result(), reference.smp_and_count(x, 0, **options), "cpp")


def test_reference_stream_is_numpy():
    s = reference.SMPStream(3)
    assert s.backend == "numpy"
    with pytest.raises(ValueError, match="backend"):
        reference.SMPStream(3, backend="cpp")


def test_properties_read_only():
    s = smpfast.SMPStream((2, 2), height=0.25, dtype=np.float32)
    assert s.shape == (2, 2) and s.height == 0.25 and s.mode == "local"
    assert s.tol == 8 * float(np.finfo(np.float32).eps) and s.nan_policy == "propagate"
    with pytest.raises(AttributeError):
        s.mode = "run"  # type: ignore[misc]
    assert "SMPStream(shape=(2, 2)" in repr(s)


# --------------------------------------------------------------------------- errors
def test_raise_policy(backend):
    x = np.ones((6, 2, 3))
    x[4, 1, 2] = np.nan
    s = smpfast.SMPStream((2, 3), nan_policy="raise", backend=backend).update(x[:3])
    match = r"frames holds NaN or Inf.*\(1, 2\).*frame 1.*path index 4"
    with pytest.raises(ValueError, match=match):
        s.update(x[3:])
    assert s.n_frames == 3  # left as before the failing call
    s.update(np.ones((3, 2, 3)))
    check_same(s.result(), reference.smp_and_count(np.ones((6, 2, 3)), 0), backend)


def test_wrong_frame_shape():
    s = smpfast.SMPStream((4, 5))
    match = r"frames must have shape \(n, 4, 5\).*got shape \(3, 5, 4\)"
    with pytest.raises(ValueError, match=match):
        s.update(np.zeros((3, 5, 4)))
    with pytest.raises(ValueError, match=r"got shape \(4, 5\)"):
        s.update(np.zeros((4, 5)))  # one frame without the frame axis
    with pytest.raises(ValueError, match=r"\(n,\)"):
        smpfast.SMPStream(()).update(np.zeros((3, 1)))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(mode="peaks"), ValueError, "mode must be one of"),
        (dict(nan_policy="skip"), ValueError, "nan_policy must be one of"),
        (dict(height=-1.0), ValueError, "height must be"),
        (dict(height="1"), TypeError, "height must be a real number"),
        (dict(tol=float("nan")), ValueError, "tol must be"),
        (dict(dtype=np.int32), TypeError, "dtype must be float32 or float64"),
        (dict(dtype=np.float16), TypeError, "dtype must be float32 or float64"),
        (dict(dtype="not a dtype"), TypeError, "dtype must be float32 or float64"),
        (dict(backend="gpu"), ValueError, "backend must be one of"),
    ],
)
def test_bad_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        smpfast.SMPStream(3, **kwargs)


@pytest.mark.parametrize(
    ("shape", "error", "match"),
    [
        ((2, -1), ValueError, "negative"),
        ("abc", TypeError, "shape must be"),
        (2.5, TypeError, "shape must be"),
    ],
)
def test_bad_shape(shape, error, match):
    with pytest.raises(error, match=match):
        smpfast.SMPStream(shape)


def test_bad_frame_dtype():
    s = smpfast.SMPStream(2)
    with pytest.raises(TypeError, match="frames has complex dtype"):
        s.update(np.zeros((3, 2), dtype=complex))
    with pytest.raises(TypeError, match="frames has dtype"):
        s.update(np.array([["a", "b"]]))


def test_bad_pickled_state():
    state = smpfast.SMPStream(3).__getstate__()
    state["arrays"]["y1"] = np.zeros(4)
    with pytest.raises(ValueError, match="state array 'y1'"):
        pickle.loads(pickle.dumps(smpfast.SMPStream(3))).__setstate__(state)
    state["version"] = 99
    with pytest.raises(ValueError, match="state version 99"):
        smpfast.SMPStream(3).__setstate__(state)


# --------------------------------------------------------------------------- cpp specifics
def _simd_targets():
    if "cpp" not in smpfast.available_backends():
        return [pytest.param(None, marks=pytest.mark.skip(reason="no cpp backend"))]
    from smpfast import _core

    return list(_core.simd_targets())


@pytest.fixture(params=_simd_targets())
def simd_target(request):
    from smpfast import _core

    previous = _core.get_simd_target()
    _core.set_simd_target(request.param)
    try:
        yield request.param
    finally:
        _core.set_simd_target(previous)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
def test_cpp_simd_targets(simd_target, mode, dtype):
    rng = np.random.default_rng(8)
    # pixel counts around every lane count (W <= 64), NaN and Inf, both policies
    for npix in (1, 15, 16, 17, 33, 64, 65, 130):
        x = frames_data(rng, 23, (npix,), dtype, nonfinite=0.15)
        for policy, height, view in (
            ("propagate", 0.0, x),
            ("omit", 0.0, x),
            ("omit", 1e-3, np.flip(np.flip(x, 1).copy(), 1)),
            ("propagate", 0.5, np.repeat(x, 2, axis=1)[:, ::2]),
        ):
            options = dict(mode=mode, height=height, nan_policy=policy)
            for cuts in ([1, 2, 3], [5, 12], list(range(1, 23))):
                s = stream_in_blocks(view, cuts, "cpp", **options)
                want = reference.smp_and_count(x, 0, **options)
                check_same(s.result(), want, "cpp", f"{simd_target} {npix} {options} {cuts}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
def test_cpp_simd_targets_wide(simd_target, mode, dtype):
    """Frames wide enough for the grouped in-place stream kernel (thousands of adjacent
    pixels), with runs and plateaus that cross the update boundaries."""
    rng = np.random.default_rng(10)
    x = frames_data(rng, 19, (2 * 2048 + 40,), dtype, nonfinite=0.001)
    x[:, 100:108] = 3.0  # plateaus
    x[:, 200:264] = np.linspace(0.0, 1.0, 19, dtype=dtype)[:, None] ** 2  # one long run
    for height in (0.0, 1e-3):
        options = dict(mode=mode, height=height, nan_policy="omit")
        want = reference.smp_and_count(x, 0, **options)
        for cuts in ([2, 7, 8, 15], list(range(1, 19, 3))):
            s = stream_in_blocks(x, cuts, "cpp", **options)
            check_same(s.result(), want, "cpp", f"{simd_target} {options} {cuts}")


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_cpp_threads(threads):
    if "cpp" not in smpfast.available_backends():
        pytest.skip("no cpp backend")
    smpfast.set_num_threads(threads)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((20, 40_003)).astype(np.float32)  # > 256k samples per call
    x[rng.integers(0, 20, 50), rng.integers(0, 40_003, 50)] = np.nan
    for mode in MODES:
        for policy in POLICIES:
            options = dict(mode=mode, nan_policy=policy)
            s = stream_in_blocks(x, [13], "cpp", **options)
            check_same(s.result(), reference.smp_and_count(x, 0, **options), "cpp", options)


def test_cpp_binding_checks_state():
    if "cpp" not in smpfast.available_backends():
        pytest.skip("no cpp backend")
    from smpfast import _core

    state = reference.stream_state(4, np.dtype(np.float64), "run")
    frames = np.zeros((3, 4))
    _core.stream_update(frames, state, "run", 0.0, 0.0, False)
    with pytest.raises(TypeError, match="frames must have dtype float32 or float64"):
        _core.stream_update(frames.astype(np.int64), state, "run", 0.0, 0.0, False)
    with pytest.raises(TypeError, match=r"state\['y1'\] has dtype float32"):
        _core.stream_update(frames, {**state, "y1": np.zeros(4, np.float32)}, "run", 0, 0, False)
    with pytest.raises(ValueError, match=r"state\['acc'\] has 3 elements, expected 4"):
        _core.stream_update(frames, {**state, "acc": np.zeros(3)}, "run", 0.0, 0.0, False)
    with pytest.raises(ValueError, match=r"state\['s'\] must be C-contiguous and writable"):
        _core.stream_update(frames, {**state, "s": np.zeros(8)[::2]}, "run", 0.0, 0.0, False)
    with pytest.raises(KeyError, match="state lacks the array 'p'"):
        _core.stream_update(frames, state, "local", 0.0, 0.0, False)
    with pytest.raises(ValueError, match="mode must be 'local' or 'run'"):
        _core.stream_update(frames, state, "peaks", 0.0, 0.0, False)


def test_streams_in_threads(backend):
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(10)
    xs = [frames_data(rng, 30, (200,), np.float32) for _ in range(4)]

    def work(x):
        s = smpfast.SMPStream(200, dtype=np.float32, mode="run", backend=backend)
        for a in range(0, 30, 4):
            s.update(x[a : a + 4])
            s.result()
        return s.result()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, xs))
    for x, got in zip(xs, results, strict=True):
        check_same(got, reference.smp_and_count(x, 0, mode="run"), backend)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
def test_cpp_grouped_blocks_long_and_late_nonfinite(mode, dtype):
    """The grouped (many contiguous pixels) stream path: blocks longer than its row chunks,
    a NaN, an Inf and a scale overflow arriving only after every signal is warmed up."""
    if "cpp" not in smpfast.available_backends():
        pytest.skip("no cpp backend")
    rng = np.random.default_rng(10)
    x = frames_data(rng, 47, (4_133,), dtype)
    x[30, 5] = np.nan  # second block
    x[33, 2_000] = np.inf
    x[40:43, 4_100] = 0.3 * np.finfo(dtype).max  # finite d, but the noise-floor scale overflows
    for policy in POLICIES:
        for height in (0.0, 1e-3):
            options = dict(mode=mode, height=height, nan_policy=policy)
            with np.errstate(over="ignore"):
                want = reference.smp_and_count(x, 0, **options)
            assert np.isnan(want[0][5]) == (policy == "propagate")  # the data reach the case
            for cuts in ([21], [2, 23], [9, 18, 27, 36, 45]):
                s = stream_in_blocks(x, cuts, "cpp", **options)
                check_same(s.result(), want, "cpp", f"{options} {cuts}")
