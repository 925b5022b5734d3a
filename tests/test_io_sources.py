"""smpfast.io.smp_stack: every source type, chunk boundaries, the bad-input list."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import smpfast
from smpfast import io as sio
from smpfast.io import _sources

PIL_Image = pytest.importorskip("PIL.Image")
tifffile = pytest.importorskip("tifffile")
zarr = pytest.importorskip("zarr")


def _stack(shape: tuple[int, ...], seed: int = 0, dtype: type = np.float64) -> np.ndarray:
    """Kinked paths with plateaus: ReLU of random lines plus a clipped random walk."""
    rng = np.random.default_rng(seed)
    t = np.linspace(-1.0, 1.0, shape[0]).reshape((-1,) + (1,) * (len(shape) - 1))
    a = rng.standard_normal(shape[1:])
    walk = np.cumsum(rng.standard_normal(shape), axis=0)
    return (np.maximum(a + 2 * t, 0) + np.clip(walk, -1, 1)).astype(dtype)


def _same(result: sio.StackResult, x: np.ndarray, axis: int = 0, **kw: object) -> None:
    ref_s, ref_c = smpfast.smp_and_count(x, axis, **kw)  # type: ignore[arg-type]
    np.testing.assert_array_equal(result.count, ref_c)
    np.testing.assert_allclose(result.smp, ref_s, rtol=1e-12, atol=0)
    assert result.smp.dtype == np.float64 and result.count.dtype == np.int64


def _write_pngs(directory: Path, frames: np.ndarray, names: list[str] | None = None) -> list[Path]:
    directory.mkdir(exist_ok=True)
    names = names or [f"frame{i}.png" for i in range(len(frames))]
    paths = []
    for name, frame in zip(names, frames, strict=True):
        PIL_Image.fromarray(frame).save(directory / name)
        paths.append(directory / name)
    return paths


@pytest.fixture
def u8_frames() -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (13, 9, 7), dtype=np.uint8)


# ----------------------------------------------------------------------------- sources
@pytest.mark.parametrize("mode", ["local", "run"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_numpy_array_any_axis(mode: str, axis: int) -> None:
    x = _stack((24, 5, 6), dtype=np.float32)
    x = np.moveaxis(x, 0, axis)
    res = sio.smp_stack(x, axis, mode=mode, chunk_bytes=100, progress=False)
    _same(res, x, axis, mode=mode)
    assert res.frames == 24 and res.kind == "array" and res.dtype == "float32"


def test_result_fields_and_unpacking() -> None:
    x = _stack((10, 3, 4))
    res = sio.smp_stack(x, progress=False)
    smp, count = res
    assert smp is res.smp and count is res.count
    assert res.frame_shape == (3, 4) and res.nbytes == x.nbytes and res.skipped == ()
    assert res.seconds >= 0 and res.gb_per_s > 0


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("order", ["C", "F"])
def test_npy_memmap(tmp_path: Path, axis: int, order: str) -> None:
    x = np.asarray(_stack((20, 6, 5), seed=2), order=order)
    np.save(tmp_path / "x.npy", x)
    res = sio.smp_stack(tmp_path / "x.npy", axis, chunk_bytes=256, progress=False)
    _same(res, x, axis)
    assert res.kind == "npy" and res.source == str(tmp_path / "x.npy")


def test_npy_integer_converted_like_smp(tmp_path: Path) -> None:
    x = np.random.default_rng(3).integers(-5, 5, (15, 4), dtype=np.int16)
    np.save(tmp_path / "x.npy", x)
    _same(sio.smp_stack(tmp_path / "x.npy", chunk_bytes=8, progress=False), x)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_npy_pages_released(tmp_path: Path) -> None:
    """Reading a 64 MiB .npy in 1 MiB blocks leaves at most a few blocks resident."""

    def rss_mib() -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")  # pragma: no cover

    path = tmp_path / "big.npy"
    np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(64, 512, 512)).flush()
    src = _sources.open_source(path)
    before = rss_mib()
    for block in src.blocks(1, np.dtype(np.float32)):
        float(block.data.sum())  # touch every page of the block
    grown = rss_mib() - before
    src.close()
    assert grown < 16, f"resident set grew by {grown:.0f} MiB reading a 64 MiB file"


def test_png_folder_natural_order(tmp_path: Path, u8_frames: np.ndarray) -> None:
    # written in an order where lexicographic sorting would put frame10 before frame2
    _write_pngs(tmp_path / "png", u8_frames)
    res = sio.smp_stack(tmp_path / "png", chunk_bytes=3 * 9 * 7 * 8, progress=False)
    _same(res, u8_frames)
    assert res.kind == "images" and res.dtype == "uint8" and res.frames == 13


def test_natural_key() -> None:
    names = ["f10.png", "f2.png", "F1.png", "f2b.png", "g.png"]
    assert sorted(names, key=sio.natural_key) == ["F1.png", "f2.png", "f2b.png", "f10.png",
                                                  "g.png"]


def test_glob_and_list_sources(tmp_path: Path, u8_frames: np.ndarray) -> None:
    paths = _write_pngs(tmp_path, u8_frames)
    (tmp_path / "notes.txt").write_text("not an image")
    _same(sio.smp_stack(str(tmp_path / "frame*.png"), chunk_bytes=1, progress=False), u8_frames)
    reversed_paths = list(reversed(paths))  # a list is taken in the order given
    _same(sio.smp_stack(reversed_paths, progress=False), u8_frames[::-1])


def test_rgb_png_per_channel(tmp_path: Path) -> None:
    frames = np.random.default_rng(4).integers(0, 256, (8, 5, 6, 3), dtype=np.uint8)
    _write_pngs(tmp_path, frames)
    res = sio.smp_stack(tmp_path, progress=False)
    assert res.smp.shape == (5, 6, 3)
    _same(res, frames)


def test_palette_png_becomes_rgb(tmp_path: Path) -> None:
    rgb = np.random.default_rng(5).integers(0, 4, (5, 4, 4, 3), dtype=np.uint8) * 60
    for i, frame in enumerate(rgb):
        PIL_Image.fromarray(frame).convert("P", palette=PIL_Image.Palette.ADAPTIVE).save(
            tmp_path / f"p{i}.png")
    res = sio.smp_stack(tmp_path, progress=False)
    assert res.smp.shape == (4, 4, 3)
    _same(res, rgb)


def test_jpeg_folder(tmp_path: Path, u8_frames: np.ndarray) -> None:
    for i, frame in enumerate(u8_frames):
        PIL_Image.fromarray(frame).save(tmp_path / f"j{i}.jpg", quality=90)
    decoded = np.stack([np.asarray(PIL_Image.open(tmp_path / f"j{i}.jpg"))
                        for i in range(len(u8_frames))])
    _same(sio.smp_stack(tmp_path, progress=False), decoded)


def test_tiff_folder_and_uint16(tmp_path: Path) -> None:
    frames = np.random.default_rng(6).integers(0, 60000, (7, 4, 5), dtype=np.uint16)
    for i, frame in enumerate(frames):
        tifffile.imwrite(tmp_path / f"t{i}.tif", frame)
    res = sio.smp_stack(tmp_path, chunk_bytes=1, progress=False)
    _same(res, frames)
    assert res.dtype == "uint16"


@pytest.mark.parametrize("compression", [None, "zlib"])
def test_multipage_tiff(tmp_path: Path, compression: str | None) -> None:
    frames = _stack((11, 4, 6), seed=7, dtype=np.float32)
    tifffile.imwrite(tmp_path / "stack.tif", frames, compression=compression)
    res = sio.smp_stack(tmp_path / "stack.tif", chunk_bytes=200, progress=False)
    _same(res, frames)
    assert res.kind == "tiff" and res.frames == 11
    with _sources.open_source(tmp_path / "stack.tif", threads=3) as src:
        labels = [label for block in src.blocks(4, np.dtype(np.float64))
                  for label in block.labels]
    assert labels == [f"{tmp_path / 'stack.tif'}[{i}]" for i in range(11)]


@pytest.mark.parametrize("axis", [0, 1])
def test_zarr_path_and_object(tmp_path: Path, axis: int) -> None:
    x = _stack((19, 6, 4), seed=8)
    z = zarr.create_array(store=str(tmp_path / "x.zarr"), shape=x.shape, chunks=(5, 4, 4),
                          dtype=x.dtype)
    z[:] = x
    _same(sio.smp_stack(str(tmp_path / "x.zarr"), axis, chunk_bytes=1, progress=False), x,
          axis)
    res = sio.smp_stack(zarr.open_array(str(tmp_path / "x.zarr"), mode="r"), axis,
                        chunk_bytes=10_000, progress=False)
    _same(res, x, axis)
    assert res.kind == "zarr"


# ----------------------------------------------------------------------------- chunking
@given(
    t=st.integers(3, 40),
    chunk=st.integers(1, 4000),
    mode=st.sampled_from(["local", "run"]),
    seed=st.integers(0, 2**16),
)
def test_results_independent_of_chunk_bytes(t: int, chunk: int, mode: str, seed: int) -> None:
    x = _stack((t, 3, 4), seed=seed)
    x[t // 3 : t // 2] = x[t // 3]  # plateaus that cross block boundaries
    res = sio.smp_stack(x, mode=mode, chunk_bytes=chunk, progress=False)
    _same(res, x, mode=mode)


@pytest.mark.parametrize("chunk", [1, 9 * 7 * 8 * 2, 9 * 7 * 8 * 5 + 1, 10**9])
def test_png_results_independent_of_chunk_bytes(tmp_path: Path, u8_frames: np.ndarray,
                                                chunk: int) -> None:
    _write_pngs(tmp_path, u8_frames)
    _same(sio.smp_stack(tmp_path, chunk_bytes=chunk, progress=False), u8_frames)


def test_options_pass_through() -> None:
    x = _stack((30, 4, 4), seed=9)
    x[5, 0, 0] = np.nan
    for kw in ({"height": 0.05}, {"tol": 1e-3}, {"nan_policy": "omit"},
               {"backend": "numpy"}, {"mode": "run", "height": 0.1}):
        _same(sio.smp_stack(x, chunk_bytes=200, progress=False, **kw), x, **kw)
    with pytest.raises(ValueError, match="NaN or Inf"):
        sio.smp_stack(x, nan_policy="raise", progress=False)


# ----------------------------------------------------------------------------- bad input
def test_corrupt_image_named(tmp_path: Path, u8_frames: np.ndarray) -> None:
    _write_pngs(tmp_path, u8_frames)
    bad = tmp_path / "frame5.png"
    bad.write_bytes(bad.read_bytes()[:60])  # truncated
    with pytest.raises(sio.ImageReadError, match=re.escape("frame5.png")):
        sio.smp_stack(tmp_path, progress=False)


def test_not_an_image_named(tmp_path: Path, u8_frames: np.ndarray) -> None:
    _write_pngs(tmp_path, u8_frames)
    (tmp_path / "frame0.png").write_text("hello")  # the first file: fails at open
    with pytest.raises(sio.ImageReadError, match=re.escape("frame0.png")):
        sio.smp_stack(tmp_path, progress=False)


def test_skip_bad_lists_skipped(tmp_path: Path, u8_frames: np.ndarray) -> None:
    _write_pngs(tmp_path, u8_frames)
    (tmp_path / "frame0.png").write_text("hello")
    bad = tmp_path / "frame7.png"
    bad.write_bytes(bad.read_bytes()[:60])
    (tmp_path / "frame12.png").write_bytes(b"")
    res = sio.smp_stack(tmp_path, chunk_bytes=2 * 9 * 7 * 8, skip_bad=True, progress=False)
    keep = [i for i in range(13) if i not in (0, 7, 12)]
    _same(res, u8_frames[keep])
    assert [Path(p).name for p in res.skipped] == ["frame0.png", "frame7.png", "frame12.png"]
    assert res.frames == 10


def test_shape_mismatch_names_first(tmp_path: Path, u8_frames: np.ndarray) -> None:
    _write_pngs(tmp_path, u8_frames)
    PIL_Image.fromarray(u8_frames[0][:, :5]).save(tmp_path / "frame4.png")
    PIL_Image.fromarray(u8_frames[0][:, :4]).save(tmp_path / "frame9.png")
    with pytest.raises(ValueError, match=r"frame4\.png.*shape \(9, 5\).*frame0\.png"):
        sio.smp_stack(tmp_path, chunk_bytes=1, progress=False)
    # skip_bad does not hide a mismatch: it is not an unreadable file
    with pytest.raises(ValueError, match=r"frame4\.png"):
        sio.smp_stack(tmp_path, skip_bad=True, progress=False)


def test_dtype_mismatch_names_first(tmp_path: Path, u8_frames: np.ndarray) -> None:
    _write_pngs(tmp_path, u8_frames)
    PIL_Image.fromarray(u8_frames[3].astype(np.uint16) * 200).save(tmp_path / "frame3.png")
    with pytest.raises(ValueError, match=r"frame3\.png.*dtype uint16.*uint8"):
        sio.smp_stack(tmp_path, progress=False)


def test_tiff_page_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "s.tif"
    with tifffile.TiffWriter(path) as tw:
        for shape in [(4, 4), (4, 4), (4, 5), (4, 4)]:
            tw.write(np.zeros(shape, np.uint8))
    with pytest.raises(ValueError, match=r"page 2 .*shape \(4, 5\)"):
        sio.smp_stack(path, progress=False)


@pytest.mark.parametrize("t", [0, 1, 2])
def test_fewer_than_three_frames(tmp_path: Path, t: int) -> None:
    with pytest.raises(ValueError, match=f"{t} frame.*at least 3"):
        sio.smp_stack(np.zeros((t, 4)), progress=False)
    if t:
        _write_pngs(tmp_path, np.zeros((t, 3, 3), np.uint8))
        with pytest.raises(ValueError, match="at least 3"):
            sio.smp_stack(tmp_path, progress=False)


def test_fewer_than_three_after_skipping(tmp_path: Path, u8_frames: np.ndarray) -> None:
    _write_pngs(tmp_path, u8_frames[:4])
    (tmp_path / "frame1.png").write_text("x")
    (tmp_path / "frame2.png").write_text("x")
    with pytest.raises(ValueError, match=r"2 readable frame\(s\) \(2 skipped\)"):
        sio.smp_stack(tmp_path, skip_bad=True, progress=False)


def test_all_bad(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"f{i}.png").write_text("x")
    with pytest.raises(sio.ImageReadError, match="none of its 3 image files"):
        sio.smp_stack(tmp_path, skip_bad=True, progress=False)


def test_missing_sources(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        sio.smp_stack(tmp_path / "nope.npy", progress=False)
    with pytest.raises(FileNotFoundError, match="matches no image"):
        sio.smp_stack(str(tmp_path / "*.png"), progress=False)
    with pytest.raises(FileNotFoundError, match="holds no image files"):
        sio.smp_stack(tmp_path, progress=False)
    with pytest.raises(FileNotFoundError, match=re.escape("nope.png")):
        sio.smp_stack([tmp_path / "nope.png"], progress=False)


def test_unsupported_and_bad_arguments(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("1,2\n")
    with pytest.raises(ValueError, match=r"unsupported type '\.csv'"):
        sio.smp_stack(tmp_path / "x.csv", progress=False)
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(ValueError, match=re.escape("bad.npy")):
        sio.smp_stack(tmp_path / "bad.npy", progress=False)
    with pytest.raises(TypeError, match="source must be"):
        sio.smp_stack(object(), progress=False)
    with pytest.raises(TypeError, match="complex"):
        sio.smp_stack(np.zeros((5, 2), complex), progress=False)
    with pytest.raises(ValueError, match="chunk_bytes must be >= 1"):
        sio.smp_stack(np.zeros((5, 2)), chunk_bytes=0, progress=False)
    with pytest.raises(TypeError, match="chunk_bytes"):
        sio.smp_stack(np.zeros((5, 2)), chunk_bytes=1.5, progress=False)
    with pytest.raises(ValueError, match="mode"):
        sio.smp_stack(np.zeros((5, 2)), mode="peak", progress=False)
    with pytest.raises(np.exceptions.AxisError):
        sio.smp_stack(np.zeros((5, 2)), axis=2, progress=False)
    _write_pngs(tmp_path / "png", np.zeros((3, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="axis must be 0 for an image folder"):
        sio.smp_stack(tmp_path / "png", axis=1, progress=False)


def test_zarr_group_refused(tmp_path: Path) -> None:
    zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    with pytest.raises(ValueError, match="group, not an array"):
        sio.smp_stack(str(tmp_path / "g.zarr"), progress=False)


def test_multipage_tiff_in_folder_refused(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "a.tif", np.zeros((2, 5, 5), np.uint8))
    tifffile.imwrite(tmp_path / "b.tif", np.zeros((5, 5), np.uint8))
    tifffile.imwrite(tmp_path / "c.tif", np.zeros((5, 5), np.uint8))
    with pytest.raises(sio.ImageReadError, match=r"a\.tif.*2 pages"):
        sio.smp_stack(tmp_path, progress=False)


def test_unreadable_permission(tmp_path: Path, u8_frames: np.ndarray) -> None:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("root reads any file")
    _write_pngs(tmp_path, u8_frames)
    (tmp_path / "frame2.png").chmod(0)
    with pytest.raises(sio.ImageReadError, match=re.escape("frame2.png")):
        sio.smp_stack(tmp_path, progress=False)


@given(
    data=st.data(),
    dtype=st.sampled_from([np.uint8, np.int8, np.uint16, np.int16, np.bool_]),
    mode=st.sampled_from(["local", "run"]),
    height=st.sampled_from([0.0, 1.0, 2.5, 300.0]),
)
def test_small_integers_streamed_as_float32_exactly(data: st.DataObject, dtype: type,
                                                    mode: str, height: float) -> None:
    """8/16-bit frames go through float32 and still equal smp_and_count's float64 result."""
    info = np.iinfo(dtype) if dtype is not np.bool_ else None
    lo, hi = (info.min, info.max) if info else (0, 1)
    t = data.draw(st.integers(3, 30))
    values = data.draw(st.lists(st.sampled_from([lo, hi, lo + 1, hi - 1, (lo + hi) // 2]),
                                min_size=t * 4, max_size=t * 4))
    x = np.array(values).astype(dtype).reshape(t, 4)
    assert _sources.stream_dtype(x.dtype) == np.float32
    res = sio.smp_stack(x, mode=mode, height=height, chunk_bytes=16, progress=False)
    ref_s, ref_c = smpfast.smp_and_count(x, 0, mode=mode, height=height)
    np.testing.assert_array_equal(res.count, ref_c)
    np.testing.assert_array_equal(res.smp, ref_s)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_smp_stack_peak_memory_bounded(tmp_path: Path) -> None:
    """A 128 MiB .npy in 4 MiB blocks: the process's peak RSS grows by far less than 128 MiB."""
    import subprocess

    path = tmp_path / "big.npy"
    big = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(128, 512, 512))
    big[:] = np.linspace(0, 1, 128, dtype=np.float32)[:, None, None] ** 2
    big.flush()
    del big
    code = (
        "import sys, numpy as np, smpfast, smpfast.io\n"
        "def hwm():\n"
        "    with open('/proc/self/status') as f:\n"
        "        return [int(l.split()[1]) for l in f if l.startswith('VmHWM:')][0] / 1024\n"
        "smpfast.io.smp_stack(np.zeros((3, 512, 512), np.float32), progress=False)  # warm up\n"
        "before = hwm()\n"
        "res = smpfast.io.smp_stack(sys.argv[1], chunk_bytes=4 * 2**20, progress=False)\n"
        "assert res.frames == 128\n"
        "print(hwm() - before)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, check=True, env=env, timeout=300)
    grown = float(out.stdout.split()[-1])
    assert grown < 48, f"peak RSS grew by {grown:.0f} MiB on a 128 MiB stack"
