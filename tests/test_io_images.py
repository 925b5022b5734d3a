"""smpfast.io.smp_images (per-image spatial SMP), tables, atomic outputs, lazy imports."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import smpfast
from smpfast import io as sio
from smpfast.io import _atomic, _optional

PIL_Image = pytest.importorskip("PIL.Image")


def _images(n: int = 6, h: int = 7, w: int = 9, c: int | None = None) -> np.ndarray:
    rng = np.random.default_rng(n * 100 + h)
    shape = (n, h, w) if c is None else (n, h, w, c)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def _expected(images: np.ndarray, **kw: object) -> dict[str, np.ndarray]:
    out = {}
    n = len(images)
    for name, axis in (("rows", 2), ("cols", 1)):
        s, c = smpfast.smp_and_count(images, axis, **kw)  # type: ignore[arg-type]
        out[f"smp_{name}"] = s.reshape(n, -1).mean(axis=1)
        out[f"peaks_{name}"] = c.reshape(n, -1).mean(axis=1)
    return out


@pytest.mark.parametrize("channels", [None, 3])
def test_array_source_matches_direct(channels: int | None) -> None:
    images = _images(c=channels)
    table = sio.smp_images(images, chunk_bytes=500, progress=False)
    expected = _expected(images)
    assert list(table) == ["image", "height", "width", "channels", "smp_rows", "peaks_rows",
                           "smp_cols", "peaks_cols"]
    for key, want in expected.items():
        np.testing.assert_allclose(table[key], want, rtol=1e-12, atol=0)
    assert table["image"].tolist() == [str(i) for i in range(len(images))]
    assert set(table["height"]) == {7} and set(table["width"]) == {9}
    assert set(table["channels"]) == {channels or 1}


def test_rows_of_one_image_by_hand() -> None:
    x = np.linspace(-1.0, 1.0, 9)
    kinked = np.abs(x)[None, :] * np.ones((4, 1))  # every row has one kink of 0.5
    table = sio.smp_images(np.stack([kinked, kinked.T[:4, :4].repeat(3, 1)[:, :9]]),
                           mode="run", progress=False)
    assert table["smp_rows"][0] == pytest.approx(0.5) and table["peaks_rows"][0] == 1
    assert table["smp_cols"][0] == 0 and table["peaks_cols"][0] == 0


@pytest.mark.parametrize("axes", ["rows", "cols"])
def test_axes_choice(axes: str) -> None:
    table = sio.smp_images(_images(), axes=axes, mode="run", progress=False)
    assert f"smp_{axes}" in table and len([k for k in table if k.startswith("smp_")]) == 1
    with pytest.raises(ValueError, match="axes must be one of"):
        sio.smp_images(_images(), axes="diag", progress=False)


def test_folder_to_csv(tmp_path: Path) -> None:
    images = _images(n=12)
    d = tmp_path / "imgs"
    d.mkdir()
    for i, img in enumerate(images):
        PIL_Image.fromarray(img).save(d / f"gen{i}.png")
    (d / "gen4.png").write_bytes(b"\x89PNG broken")
    out = tmp_path / "table.csv"
    table = sio.smp_images(d, output=out, skip_bad=True, chunk_bytes=1000, progress=False)
    keep = [i for i in range(12) if i != 4]
    assert [Path(p).name for p in table.skipped] == ["gen4.png"]
    assert [Path(p).name for p in table["image"]] == [f"gen{i}.png" for i in keep]
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 11
    want = _expected(images[keep])
    for key in ("smp_rows", "smp_cols", "peaks_rows", "peaks_cols"):
        got = np.array([float(r[key]) for r in rows])
        np.testing.assert_array_equal(got, want[key])  # repr() round-trips floats exactly
    with pytest.raises(sio.ImageReadError, match=re.escape("gen4.png")):
        sio.smp_images(d, progress=False)


def test_image_shape_checks(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"must be \(H, W\) or \(H, W, C\)"):
        sio.smp_images(np.zeros((3, 4)), progress=False)
    np.save(tmp_path / "x.npy", _images(n=3))
    table = sio.smp_images(tmp_path / "x.npy", progress=False)
    assert len(table["image"]) == 3


def test_write_table_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape("must end in .csv or .parquet")):
        sio.write_table({"a": np.zeros(1)}, tmp_path / "t.xlsx")
    with pytest.raises(ValueError, match="equal lengths"):
        sio.write_table({"a": np.zeros(1), "b": np.zeros(2)}, tmp_path / "t.csv")
    with pytest.raises(FileNotFoundError, match="output directory"):
        sio.write_table({"a": np.zeros(1)}, tmp_path / "missing" / "t.csv")


def test_parquet(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    table = sio.smp_images(_images(), output=tmp_path / "t.parquet", progress=False)
    back = pq.read_table(tmp_path / "t.parquet").to_pydict()
    np.testing.assert_array_equal(back["smp_rows"], table["smp_rows"])
    assert back["image"] == table["image"].tolist()


# ----------------------------------------------------------------------------- atomic
def test_atomic_open_failure_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out.npy"
    with pytest.raises(RuntimeError, match="interrupted"), _atomic.atomic_open(target) as f:
        f.write(b"half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_atomic_open_keeps_old_file_until_complete(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    target.write_text("old")
    with _atomic.atomic_open(target, "w") as f:
        f.write("new")
        assert target.read_text() == "old"  # not replaced until the body finishes
        temps = [p.name for p in tmp_path.iterdir() if p.name != "summary.json"]
        assert len(temps) == 1 and temps[0].startswith(".summary.json.")
        assert temps[0].endswith(".tmp")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
    mode = target.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


def test_atomic_helpers(tmp_path: Path) -> None:
    sio.save_npy(tmp_path / "a", np.arange(3))  # no .npy appended
    np.testing.assert_array_equal(np.load(tmp_path / "a"), np.arange(3))
    with pytest.raises(ValueError, match="Out of range float values"):
        sio.save_json(tmp_path / "s.json", {"x": float("nan")})
    assert not (tmp_path / "s.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["a"]
    with pytest.raises(ValueError, match="mode must be"):
        with _atomic.atomic_open(tmp_path / "b", "a"):
            pass  # pragma: no cover


def test_heatmap(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    for shape in [(5, 6), (4, 5, 3), (7,), (2, 3, 4, 5)]:
        values = np.random.default_rng(0).random(shape)
        values.flat[0] = np.nan
        sio.save_heatmap(tmp_path / "h.png", values)
        with PIL_Image.open(tmp_path / "h.png") as im:
            assert im.format == "PNG" and im.size[0] > 100
    sio.save_heatmap(tmp_path / "z.png", np.zeros((3, 3)))  # constant: no zero-width scale


# ----------------------------------------------------------------------------- imports
def test_import_smpfast_is_light() -> None:
    code = (
        "import sys, smpfast\n"
        "heavy = [m for m in ('dask', 'distributed', 'PIL', 'tifffile', 'zarr', 'matplotlib')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "import smpfast.io\n"
        "heavy = [m for m in ('dask', 'PIL', 'tifffile', 'zarr', 'matplotlib')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert smpfast.io.smp_stack is not None and smpfast.dask.smp is not None\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True, env=env,
                   timeout=120)


def test_missing_optional_library_names_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zarr", None)  # import zarr now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "smpfast\[zarr\]"'):
        _optional.require("zarr", "reading Zarr arrays")
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    with pytest.raises(ImportError, match=r'reading PNG.*smpfast\[io\]'):
        sio.smp_stack([Path(__file__)], progress=False)
