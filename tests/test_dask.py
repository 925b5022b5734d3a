"""smpfast.dask: lazy SMP over chunked Dask arrays; a 2-worker LocalCluster; ``stack --dask``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import smpfast
from smpfast import cli
from smpfast import io as sio

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
sdask = pytest.importorskip("smpfast.dask")


def _paths(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Kinked paths along axis 0 with long plateaus (constant stretches) and ties."""
    rng = np.random.default_rng(seed)
    t = np.linspace(-1, 1, shape[0]).reshape((-1,) + (1,) * (len(shape) - 1))
    x = np.maximum(rng.standard_normal(shape[1:]) + 2 * t, 0)
    x = x + np.round(np.cumsum(rng.standard_normal(shape), axis=0))
    x[shape[0] // 4 : shape[0] // 2] = x[shape[0] // 4]  # plateau across many chunks
    return x


def _check(lazy: tuple[Any, Any], x: np.ndarray, axis: int, **kw: Any) -> None:
    s, c = dask.compute(*lazy, scheduler="sync")
    ref_s, ref_c = smpfast.smp_and_count(x, axis, **kw)
    np.testing.assert_array_equal(c, ref_c)
    np.testing.assert_allclose(s, ref_s, rtol=1e-12, atol=0)
    assert s.dtype == np.float64 and c.dtype == np.int64


@pytest.mark.parametrize("mode", ["local", "run"])
@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("chunks", [(1, 2, 3), (4, 5, 7), (7, -1, 2), (-1, -1, -1)])
def test_matches_in_memory(mode: str, axis: int, chunks: tuple[int, ...]) -> None:
    x = np.moveaxis(_paths((30, 5, 7)), 0, axis)
    darr = da.from_array(x, chunks=chunks)
    lazy = sdask.smp_and_count(darr, axis, mode=mode)
    assert lazy[0].shape == x.shape[:axis] + x.shape[axis + 1 :]
    assert lazy[0].chunks == tuple(c for i, c in enumerate(darr.chunks) if i != axis)
    _check(lazy, x, axis, mode=mode)


@given(
    t=st.integers(0, 25),
    cuts=st.lists(st.integers(1, 6), min_size=1, max_size=8),
    mode=st.sampled_from(["local", "run"]),
    seed=st.integers(0, 1000),
)
def test_any_path_chunking(t: int, cuts: list[int], mode: str, seed: int) -> None:
    """Peaks and plateaus straddling chunk boundaries of the path axis are counted once."""
    x = _paths((max(t, 1), 3), seed)[:t]
    sizes: list[int] = []
    for c in cuts * (t + 1):
        if sum(sizes) >= t:
            break
        sizes.append(min(c, t - sum(sizes)))
    darr = da.from_array(x, chunks=(tuple(sizes) or (0,), 2))
    _check(sdask.smp_and_count(darr, 0, mode=mode), x, 0, mode=mode)


def test_one_dimensional_and_options() -> None:
    x = _paths((40,))
    x[7] = np.nan
    darr = da.from_array(x, chunks=6)
    for kw in ({}, {"mode": "run", "height": 0.5}, {"tol": 1e-3, "nan_policy": "omit"},
               {"backend": "numpy"}):
        lazy = sdask.smp_and_count(darr, **kw)
        assert lazy[0].shape == ()
        _check(lazy, x, 0, **kw)
    assert np.isnan(sdask.smp(darr).compute(scheduler="sync"))
    np.testing.assert_array_equal(sdask.peak_count(darr, nan_policy="omit").compute(),
                                  smpfast.peak_count(x, nan_policy="omit"))
    with pytest.raises(ValueError, match="NaN or Inf"):
        sdask.smp(darr, nan_policy="raise").compute(scheduler="sync")


def test_float32_and_integer_input() -> None:
    x32 = _paths((20, 4)).astype(np.float32)
    _check(sdask.smp_and_count(da.from_array(x32, chunks=(3, 2))), x32, 0)
    xi = np.round(_paths((20, 4)) * 3).astype(np.int32)
    _check(sdask.smp_and_count(da.from_array(xi, chunks=(6, 4)), mode="run"), xi, 0,
           mode="run")


def test_lazy_and_errors() -> None:
    calls = []

    def spy(block: np.ndarray) -> np.ndarray:
        calls.append(block.shape)
        return block

    darr = da.from_array(_paths((10, 3)), chunks=(5, 3)).map_blocks(spy)
    probes = len(calls)  # map_blocks probes its meta once
    lazy = sdask.smp(darr)
    assert len(calls) == probes  # building the graph computes nothing
    with pytest.raises(TypeError, match=re.escape("darr must be a dask.array.Array")):
        sdask.smp(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="mode must be one of"):
        sdask.smp(darr, mode="peaks")
    with pytest.raises(ValueError, match="height"):
        sdask.smp(darr, height=-1.0)
    with pytest.raises(np.exceptions.AxisError):
        sdask.smp(darr, axis=2)
    with pytest.raises(TypeError, match="complex"):
        sdask.smp(da.zeros((5, 2), dtype=complex))
    assert lazy.compute(scheduler="sync").shape == (3,)
    assert len(calls) == probes + 2  # two chunks along the path, each read once


def test_from_source_kinds(tmp_path: Path) -> None:
    PIL_Image = pytest.importorskip("PIL.Image")
    tifffile = pytest.importorskip("tifffile")
    zarr = pytest.importorskip("zarr")
    x = _paths((17, 6, 5)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    u8 = np.random.default_rng(3).integers(0, 256, (9, 6, 5), dtype=np.uint8)
    (tmp_path / "png").mkdir()
    for i, f in enumerate(u8):
        PIL_Image.fromarray(f).save(tmp_path / "png" / f"f{i}.png")
    tifffile.imwrite(tmp_path / "s.tif", u8)
    z = zarr.create_array(store=str(tmp_path / "z.zarr"), shape=x.shape, chunks=(4, 3, 5),
                          dtype=x.dtype)
    z[:] = x
    cases = [(tmp_path / "x.npy", x, 0), (tmp_path / "x.npy", x, 2), (tmp_path / "png", u8, 0),
             (tmp_path / "s.tif", u8, 0), (str(tmp_path / "z.zarr"), x, 1), (x, x, 1)]
    for source, expected, axis in cases:
        darr, ax = sdask.from_source(source, axis, chunk_bytes=100, split=2)
        assert ax == axis and darr.shape == expected.shape
        assert max(darr.chunks[ax]) < expected.shape[ax]  # the path axis is split
        np.testing.assert_array_equal(darr.compute(scheduler="sync"), expected)
        _check(sdask.smp_and_count(darr, ax), expected, ax)


# ----------------------------------------------------------------------------- cluster
@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, worker_dashboard_address=None,
                                  silence_logs=50) as c:
        yield c


def test_local_cluster_matches_smp_stack(cluster: Any, tmp_path: Path) -> None:
    x = _paths((40, 12, 9), seed=4).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    for mode in ("local", "run"):
        expected = sio.smp_stack(tmp_path / "x.npy", mode=mode, progress=False)
        darr, ax = sdask.from_source(tmp_path / "x.npy", chunk_bytes=1500, split=3)
        assert darr.numblocks[0] > 1 and darr.numblocks[1] == 3
        with distributed.Client(cluster) as client:
            s, c = dask.compute(*sdask.smp_and_count(darr, ax, mode=mode), scheduler=client.get)
            workers = {w for ws in client.who_has().values() for w in ws}
        np.testing.assert_array_equal(c, expected.count)
        np.testing.assert_array_equal(s, expected.smp)
        ref_s, ref_c = smpfast.smp_and_count(x, 0, mode=mode)
        np.testing.assert_array_equal(c, ref_c)
        np.testing.assert_allclose(s, ref_s, rtol=1e-12, atol=0)
        assert len(workers) <= 2


def test_cli_stack_dask(cluster: Any, tmp_path: Path) -> None:
    x = _paths((25, 8, 6), seed=5)
    np.save(tmp_path / "x.npy", x)
    outs = {}
    for name, extra in (("mem", []), ("dask", ["--dask", cluster.scheduler_address])):
        out = tmp_path / name
        assert cli.main(["stack", str(tmp_path / "x.npy"), "-o", str(out), "--no-plot",
                         "--no-progress", "--chunk-bytes", "500", *extra]) == 0
        outs[name] = out
    for f in ("smp.npy", "count.npy"):
        np.testing.assert_array_equal(np.load(outs["mem"] / f), np.load(outs["dask"] / f))
    summary = json.loads((outs["dask"] / "summary.json").read_text())
    assert summary["scheduler"] == cluster.scheduler_address and summary["frames"] == 25
    with pytest.raises(SystemExit):
        cli.main(["stack", str(tmp_path / "x.npy"), "-o", str(tmp_path / "o"), "--skip-bad",
                  "--dask", cluster.scheduler_address])
