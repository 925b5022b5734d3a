"""smpfast.simulate: statistics, chunk independence, seeds, exact cases, observers, errors."""

from __future__ import annotations

import doctest
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import smpfast
from smpfast import nets, paths, simulate


def _net(dtype: Any = np.float64) -> nets.Sequential:
    return nets.Sequential(
        [
            nets.Conv2d(2, 4, 3, padding=1, bias_std=0.3),
            nets.ReLU(),
            nets.MaxPool2d(2),
            nets.Flatten(),
            nets.Linear(4 * 3 * 3, 5),
        ],
        seed=0,
        dtype=dtype,
    )


SHAPE = (2, 6, 6)


def _direct(samples: np.ndarray) -> dict[str, Any]:
    """The statistics of :class:`simulate.SMPStats`, computed directly from all samples."""
    n_paths = samples.shape[0]
    flat = samples.reshape(n_paths, samples.shape[1], -1)
    per_channel = np.moveaxis(flat, 1, 0).reshape(flat.shape[1], -1)
    per_path = flat.reshape(n_paths, -1).mean(axis=1)
    return {
        "mean": samples.mean(),
        "std": samples.std(ddof=1),
        "sem": samples.std(ddof=1) / np.sqrt(samples.size),
        "sem_paths": per_path.std(ddof=1) / np.sqrt(n_paths),
        "channel_mean": per_channel.mean(axis=1),
        "channel_std": per_channel.std(axis=1, ddof=1),
        "channel_sem": per_channel.std(axis=1, ddof=1) / np.sqrt(per_channel.shape[1]),
        "channel_sem_paths": flat.mean(axis=2).std(axis=0, ddof=1) / np.sqrt(n_paths),
    }


def _check_stats(s: simulate.SMPStats, rtol: float = 1e-10) -> None:
    assert s.samples is not None
    want = _direct(s.samples)
    for key, value in want.items():
        np.testing.assert_allclose(getattr(s, key), value, rtol=rtol, atol=1e-300, err_msg=key)
    assert s.n == s.samples.size and s.n_paths == s.samples.shape[0]


# --------------------------------------------------------------------------- statistics
def test_stats_match_direct_computation() -> None:
    res = simulate.run(_net(), SHAPE, 23, 24, seed=3, chunk_paths=5, keep=True)
    assert [b.name for b in res.blocks] == ["conv2d", "relu", "max_pool2d", "flatten", "linear"]
    assert [b.index for b in res.blocks] == [0, 1, 2, 3, 4]
    assert res.input_stats.index == -1 and res.input_stats.name == "input"
    assert res.input_stats.shape == SHAPE
    assert [b.shape for b in res.blocks] == _net().output_shapes(SHAPE)
    assert res.n_chunks == 5 and res.chunk_paths == 5
    for b in res.blocks[1:]:
        for mode in ("run", "local"):
            s = b.stats[mode]
            _check_stats(s)
            assert s.channel_mean.shape == (b.shape[0],)
            assert s.samples is not None and s.samples.shape == (23, *b.shape)
            assert s.samples.dtype == np.float64


@given(
    values=st.lists(st.floats(0.0, 1e6), min_size=12, max_size=60).map(np.array),
    cuts=st.lists(st.integers(1, 5), min_size=1, max_size=8),
)
def test_accumulator_merge_is_exact(values: np.ndarray, cuts: list[int]) -> None:
    # values as (n_paths, 3 channels, 2): any chunking gives the direct statistics
    n_paths = len(values) // 6
    samples = values[: n_paths * 6].reshape(n_paths, 3, 2)
    acc = simulate._Accumulator((3, 2), n_paths, keep=True)
    start, k = 0, 0
    while start < n_paths:
        stop = min(n_paths, start + cuts[k % len(cuts)])
        acc.add(samples[start:stop], np.ones(samples[start:stop].shape, np.int64), start)
        start, k = stop, k + 1
    s = acc.result()
    want = _direct(samples)
    scale = max(1.0, float(values.max()))
    for key, value in want.items():
        np.testing.assert_allclose(getattr(s, key), value, rtol=1e-9, atol=1e-12 * scale)
    assert s.count_mean == 1.0


def test_chunk_size_independence() -> None:
    runs = [
        simulate.run(_net(), SHAPE, 37, 20, seed=5, chunk_paths=c, keep=True)
        for c in (1, 7, 16, 37)
    ]
    runs.append(simulate.run(_net(), SHAPE, 37, 20, seed=5, max_bytes=20_000, keep=True))
    assert runs[-1].chunk_paths == simulate.chunk_size(
        [SHAPE, *_net().output_shapes(SHAPE)], 20, 8, 20_000, 37
    )
    first = runs[0]
    for other in runs[1:]:
        for a, b in zip((first.input_stats, *first.blocks), (other.input_stats, *other.blocks),
                        strict=True):  # fmt: skip
            for mode in ("run", "local"):
                sa, sb = a.stats[mode], b.stats[mode]
                assert sa.samples is not None and sb.samples is not None
                np.testing.assert_allclose(sb.samples, sa.samples, rtol=1e-12, atol=1e-300)
                for key in ("mean", "std", "sem_paths", "channel_mean", "channel_std"):
                    np.testing.assert_allclose(
                        getattr(sb, key), getattr(sa, key), rtol=1e-10, err_msg=key
                    )
                assert sa.count_mean == sb.count_mean


def test_seed_reproducible() -> None:
    a = simulate.run(_net(), SHAPE, 20, 16, seed=11).to_dict()
    b = simulate.run(_net(), SHAPE, 20, 16, seed=11).to_dict()
    c = simulate.run(_net(), SHAPE, 20, 16, seed=12).to_dict()
    for d in (a, b, c):
        d.pop("elapsed_s"), d.pop("paths_per_s")
    assert a == b
    assert a["blocks"][1]["stats"]["run"]["mean"] != c["blocks"][1]["stats"]["run"]["mean"]
    # a SeedSequence is accepted (and the same paths as its int entropy)
    d = simulate.run(_net(), SHAPE, 20, 16, seed=np.random.SeedSequence(11)).to_dict()
    assert d["blocks"][1]["stats"] == a["blocks"][1]["stats"] and d["seed"] is None


def test_paths_are_the_documented_ones() -> None:
    seen: list[np.ndarray] = []

    def grab(index: int, block: Any, x_in: np.ndarray, x_out: np.ndarray) -> None:
        if index == -1:
            seen.append(x_in.copy())

    simulate.run(nets.ReLU(), (3,), 20, 8, seed=4, chunk_paths=7, observers=[grab],
                 path="gaussian", path_kwargs={"length_scale": 2.0})  # fmt: skip
    got = np.concatenate(seen, axis=1)
    groups = np.random.SeedSequence(4).spawn(2)
    want = np.concatenate(
        [
            paths.random_gaussian(16, (3,), 8, np.random.default_rng(groups[0]), length_scale=2.0),
            paths.random_gaussian(4, (3,), 8, np.random.default_rng(groups[1]), length_scale=2.0),
        ],
        axis=1,
    )
    assert simulate.PATH_GROUP == 16
    np.testing.assert_array_equal(got, want)


# --------------------------------------------------------------------------- exact cases
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_linear_blocks_on_linear_paths(dtype: Any) -> None:
    net = nets.Sequential(
        [nets.Conv2d(2, 4, 3, padding=1, bias_std=0.5), nets.AvgPool2d(2),
         nets.BatchNorm2d(4, init="random"), nets.Flatten(), nets.Linear(16, 3)],
        seed=1, dtype=dtype,
    )  # fmt: skip
    res = simulate.run(net, (2, 4, 4), 30, 32, seed=2, keep=True)
    s_in = res.input_stats.stats["run"]
    assert s_in.mean == 0.0 and s_in.count_mean == 0.0  # exactly affine input paths
    eps = float(np.finfo(dtype).eps)
    for b in res.blocks:
        for mode in ("run", "local"):
            # affine blocks: no kinks; only rounding noise of the order eps * |y|
            assert b.stats[mode].mean < 50 * eps
    # an absolute height above that noise gives exactly 0
    res = simulate.run(net, (2, 4, 4), 30, 32, seed=2, height=1e3 * eps)
    for b in res.blocks:
        assert b.stats["run"].mean == 0.0 and b.stats["local"].count_mean == 0.0


def test_relu_on_linear_paths_is_the_exact_slope() -> None:
    T, n, F = 40, 50, 8
    seen: list[np.ndarray] = []

    def grab(index: int, block: Any, x_in: np.ndarray, x_out: np.ndarray) -> None:
        if index == -1:
            seen.append(x_in.copy())

    res = simulate.run(nets.ReLU(), (F,), n, T, seed=6, keep=True, observers=[grab],
                       path_kwargs={"mean": 0.2, "std": 1.5})  # fmt: skip
    x = np.concatenate(seen, axis=1)  # (T, n, F)
    slope = x[1] - x[0]
    samples = res.blocks[0].stats["run"].samples
    assert samples is not None
    # spec: one kink per zero crossing, slope change |slope|; kinks in the first or last
    # sample interval are not (fully) seen
    neg = x < 0
    crossings = (neg[1:] != neg[:-1]).sum(axis=0)
    first = np.argmax(neg[1:] != neg[:-1], axis=0)  # the interval of the crossing
    interior = (crossings == 1) & (first >= 1) & (first <= T - 3) & (x != 0).all(axis=0)
    never = crossings == 0
    assert interior.sum() > 50 and never.sum() > 50
    np.testing.assert_array_equal(samples[interior], np.abs(slope[interior]))
    np.testing.assert_array_equal(samples[never], 0.0)
    counts = smpfast.peak_count(nn_relu(x), axis=0, mode="run")
    assert counts[interior].min() == 1
    # local mode sees max(a, 1 - a) of the split kink: between |slope| / 2 and |slope|
    kwargs = {"mean": 0.2, "std": 1.5}
    again = simulate.run(
        nets.ReLU(), (F,), n, T, seed=6, keep=True, modes="local", path_kwargs=kwargs
    )
    local = again.blocks[0].stats["local"]
    assert local.samples is not None
    # (local peaks are never at the edges of d: the crossing must be in [2, T-4])
    inner = interior & (first >= 2) & (first <= T - 4)
    ratio = local.samples[inner] / np.abs(slope[inner])
    assert ratio.min() >= 0.5 and ratio.max() <= 1.0


def nn_relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


# --------------------------------------------------------------------------- observers, memory
def test_observers_and_memory_bound() -> None:
    calls: list[tuple[int, str | None, tuple[int, ...], tuple[int, ...]]] = []

    def obs(index: int, block: Any, x_in: np.ndarray, x_out: np.ndarray) -> None:
        calls.append((index, None if block is None else block.name, x_in.shape, x_out.shape))

    net = _net()
    T, n = 12, 10
    # one path of the largest activation: T x (4 x 6 x 6) float64 = 13824 bytes, x 3 copies
    res = simulate.run(net, SHAPE, n, T, max_bytes=3 * 3 * 13824 + 100, observers=[obs])
    assert res.chunk_paths == 3 and res.n_chunks == 4
    shapes = [SHAPE, *net.output_shapes(SHAPE)]
    assert len(calls) == res.n_chunks * (len(net) + 1)
    sizes = [3, 3, 3, 1]
    for chunk in range(res.n_chunks):
        k = sizes[chunk]
        block_calls = calls[chunk * (len(net) + 1) : (chunk + 1) * (len(net) + 1)]
        assert block_calls[0] == (-1, None, (T, k, *SHAPE), (T, k, *SHAPE))
        for i, call in enumerate(block_calls[1:]):
            assert call == (i, net[i].name, (T, k, *shapes[i]), (T, k, *shapes[i + 1]))


def test_dtype_and_cast_copy() -> None:
    net = _net()
    res32 = simulate.run(net, SHAPE, 12, 16, seed=1, dtype=np.float32)
    res64 = simulate.run(net, SHAPE, 12, 16, seed=1)
    assert res32.dtype == "float32" and res64.dtype == "float64"
    assert net[0].weight is not None and net[0].weight.dtype == np.float64  # not modified
    a, b = res32.blocks[1].stats["run"].mean, res64.blocks[1].stats["run"].mean
    assert abs(a - b) < 1e-3 * b
    net32 = _net(np.float32)
    res = simulate.run(net32, SHAPE, 12, 16, seed=1)
    assert res.dtype == "float32"
    assert res.blocks[1].stats["run"].mean == res32.blocks[1].stats["run"].mean


def test_callable_path_and_kwargs() -> None:
    def make(rng: np.random.Generator, n: int, T: int, *, std: float) -> np.ndarray:
        return paths.random_sinusoid(n, SHAPE, T, rng, std=std, periods=2.0)

    a = simulate.run(_net(), SHAPE, 20, 16, path=make, path_kwargs={"std": 0.5})
    b = simulate.run(_net(), SHAPE, 20, 16, path="sinusoid",
                     path_kwargs={"std": 0.5, "periods": 2.0})  # fmt: skip
    assert a.path == "make" and b.path == "sinusoid"
    assert a.blocks[1].stats["local"].to_dict() == b.blocks[1].stats["local"].to_dict()


def test_to_dict_json_table_and_progress(capsys: pytest.CaptureFixture[str]) -> None:
    res = simulate.run(_net(), SHAPE, 8, 10, path="gaussian", progress=True)
    err = capsys.readouterr().err
    assert "simulate [" in err and "100.0%" in err
    d = json.loads(json.dumps(res.to_dict()))
    assert d["path_kwargs"] == {"length_scale": 10 / 8}
    assert len(d["blocks"]) == 5 and d["input"]["index"] == -1
    assert set(d["blocks"][0]["stats"]) == {"run", "local"}
    assert d["n_paths"] == 8 and d["T"] == 10 and res.paths_per_second > 0
    table = res.table("local").splitlines()
    assert len(table) == 2 + 6 and table[3].startswith("| 0 | conv2d | (4, 6, 6) |")


def test_backends_agree() -> None:
    want = simulate.run(_net(), SHAPE, 10, 16, backend="numpy", keep=True)
    for backend in smpfast.available_backends():
        got = simulate.run(_net(), SHAPE, 10, 16, backend=backend, keep=True)
        for a, b in zip(want.blocks, got.blocks, strict=True):
            sa, sb = a.stats["run"].samples, b.stats["run"].samples
            assert sa is not None and sb is not None
            np.testing.assert_allclose(sb, sa, rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_paths": -1}, ValueError, "n_paths must be >= 1"),
        ({"n_paths": 2.5}, TypeError, "n_paths must be an integer"),
        ({"T": 2}, ValueError, "T must be >= 3"),
        (
            {"input_shape": (3, 6, 6)},
            ValueError,
            r"block 0 \(Conv2d\(2, 4.*\) cannot take the network input of shape \(3, 6, 6\)",
        ),
        ({"input_shape": (2, 6)}, ValueError, r"block 0 .*Conv2d expects inputs of shape"),
        ({"input_shape": (2, 0, 6)}, ValueError, "input_shape must have sizes >= 1"),
        ({"path": "brownian"}, ValueError, "path must be one of 'linear', 'gaussian'"),
        (
            {"path_kwargs": {"length_scale": 2.0}},
            ValueError,
            r"path_kwargs \['length_scale'\] are not arguments of path='linear'",
        ),
        (
            {"path": "gaussian", "path_kwargs": {"length_scale": -1.0}},
            ValueError,
            "length_scale must be > 0",
        ),
        ({"path_kwargs": {"std": -1.0}}, ValueError, "std must be >= 0"),
        (
            {"path": lambda rng, n, T: np.zeros((T, n, 3))},
            ValueError,
            r"returned an array of shape \(10, 4, 3\); expected .* \(10, 4, 2, 6, 6\)",
        ),
        ({"modes": ("run", "peak")}, ValueError, "modes must be one of 'local', 'run'"),
        ({"modes": ()}, ValueError, "at least one mode"),
        ({"modes": ("run", "run")}, ValueError, "duplicates"),
        ({"height": -1.0}, ValueError, "height must be"),
        ({"tol": -1.0}, ValueError, "tol must be"),
        ({"seed": -2}, ValueError, "seed must be >= 0"),
        ({"seed": np.random.default_rng(0)}, TypeError, "seed must be an int"),
        ({"chunk_paths": 0}, ValueError, "chunk_paths must be >= 1"),
        ({"max_bytes": 0}, ValueError, "max_bytes must be >= 1"),
        ({"dtype": np.int16}, ValueError, "dtype must be float32 or float64"),
        ({"keep": "yes"}, TypeError, "keep must be a bool"),
        ({"observers": [1]}, TypeError, r"observers\[0\] must be callable"),
        ({"backend": "gpu"}, ValueError, "backend must be one of"),
        ({"net": np.tanh}, TypeError, "net must be an smpfast.nets.Sequential"),
    ],
)
def test_errors(kwargs: dict[str, Any], error: type, match: str) -> None:
    args: dict[str, Any] = {"net": _net(), "input_shape": SHAPE, "n_paths": 4, "T": 10}
    args.update(kwargs)
    net = args.pop("net")
    with pytest.raises(error, match=match):
        simulate.run(net, **args)


def test_docstring_examples() -> None:
    tests = doctest.DocTestFinder().find(simulate)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test)
    assert runner.failures == 0 and runner.tries >= 8


def test_reshape_blocks_reuse_exact_smp() -> None:
    # Flatten and Permute move signals without changing them: their SMP is taken from the
    # previous block; it must equal a direct measurement of their output
    net = nets.Sequential(
        [nets.Conv2d(2, 3, 3), nets.ReLU(), nets.Permute(0, 2, 3, 1), nets.Flatten()], seed=2
    )
    outs: dict[int, list[np.ndarray]] = {2: [], 3: []}

    def grab(index: int, block: Any, x_in: np.ndarray, x_out: np.ndarray) -> None:
        if index in outs:
            outs[index].append(x_out.copy())

    res = simulate.run(net, SHAPE, 9, 12, seed=1, chunk_paths=4, keep=True, observers=[grab])
    for index, chunks in outs.items():
        y = np.concatenate(chunks, axis=1)
        for mode in ("run", "local"):
            s, c = smpfast.smp_and_count(y, 0, mode=mode)
            stats = res.blocks[index].stats[mode]
            assert stats.samples is not None
            np.testing.assert_array_equal(stats.samples, s)
            assert stats.count_mean == c.mean()
            _check_stats(stats)
    assert res.blocks[3].shape == (4 * 4 * 3,)


def test_memory_stays_bounded() -> None:
    import tracemalloc

    # 6000 paths of T=16 x 8 float64 = 6 MB of inputs (and as much per block output);
    # with a 64 KiB budget the run must never hold more than a few chunks of them
    net = nets.Sequential([nets.Linear(8, 8), nets.ReLU()], seed=0)
    tracemalloc.start()
    try:
        res = simulate.run(net, (8,), 6000, 16, max_bytes=2**16, modes="run")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert res.chunk_paths == 2**16 // (3 * 16 * 8 * 8) and res.n_paths == 6000
    assert peak < 2 * 2**20, peak
    assert res.blocks[1].stats["run"].n == 6000 * 8


_SMALL = nets.Sequential([nets.Conv1d(1, 2, 3), nets.ReLU(), nets.MaxPool1d(2)], seed=4)


@settings(max_examples=25)
@given(n=st.integers(1, 40), chunk=st.integers(1, 40), seed=st.integers(0, 2**32 - 1))
def test_chunking_property(n: int, chunk: int, seed: int) -> None:
    whole = simulate.run(_SMALL, (1, 9), n, 8, seed=seed, chunk_paths=n, keep=True)
    parts = simulate.run(_SMALL, (1, 9), n, 8, seed=seed, chunk_paths=chunk, keep=True)
    assert parts.n_chunks == -(-n // min(chunk, n))
    for a, b in zip((whole.input_stats, *whole.blocks), (parts.input_stats, *parts.blocks),
                    strict=True):  # fmt: skip
        for mode in ("run", "local"):
            sa, sb = a.stats[mode], b.stats[mode]
            assert sa.samples is not None and sb.samples is not None
            np.testing.assert_allclose(sb.samples, sa.samples, rtol=1e-12, atol=1e-300)
            if n > 1:
                _check_stats(sb, rtol=1e-9)
            assert sb.count_mean == sa.count_mean
