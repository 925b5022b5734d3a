"""``smpfast stack`` and ``smpfast images``: outputs, summary, errors, atomicity."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

import smpfast
from smpfast import cli
from smpfast._commands import stack as stack_cmd

PIL_Image = pytest.importorskip("PIL.Image")
pytest.importorskip("matplotlib")


def _stack(t: int = 21, h: int = 6, w: int = 5) -> np.ndarray:
    rng = np.random.default_rng(0)
    tt = np.linspace(-1, 1, t)[:, None, None]
    return np.maximum(rng.standard_normal((h, w)) + 2 * tt, 0) + 0.1 * np.cumsum(
        rng.standard_normal((t, h, w)), axis=0)


def test_stack_npy_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = _stack().astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "out" / "nested"
    code = cli.main(["stack", str(tmp_path / "x.npy"), "-o", str(out), "--mode", "run",
                     "--height", "0.01", "--chunk-bytes", "1k", "--no-progress"])
    assert code == 0
    ref_s, ref_c = smpfast.smp_and_count(x, 0, mode="run", height=0.01)
    smp = np.load(out / "smp.npy")
    np.testing.assert_allclose(smp, ref_s, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(np.load(out / "count.npy"), ref_c)
    with PIL_Image.open(out / "smp.png") as im:
        assert im.format == "PNG"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["shape"] == [6, 5] and summary["frames"] == 21
    assert summary["dtype"] == "float32" and summary["mode"] == "run"
    assert summary["height"] == 0.01 and summary["nan_policy"] == "propagate"
    assert summary["tol"] == pytest.approx(8 * np.finfo(np.float32).eps)
    assert summary["chunk_bytes"] == 1024 and summary["bytes"] == x.nbytes
    assert summary["smp"]["mean"] == pytest.approx(float(ref_s.mean()))
    assert summary["smp"]["max"] == pytest.approx(float(ref_s.max()))
    assert summary["count"]["min"] == int(ref_c.min()) and summary["skipped"] == []
    assert summary["seconds"] > 0 and summary["gb_per_s"] > 0
    assert sorted(p.name for p in out.iterdir()) == ["count.npy", "smp.npy", "smp.png",
                                                     "summary.json"]
    assert "21 frames" in capsys.readouterr().out


def test_stack_png_skip_bad_in_summary(tmp_path: Path) -> None:
    frames = np.random.default_rng(1).integers(0, 256, (6, 4, 4), dtype=np.uint8)
    src = tmp_path / "png"
    src.mkdir()
    for i, f in enumerate(frames):
        PIL_Image.fromarray(f).save(src / f"f{i}.png")
    (src / "f3.png").write_bytes(b"garbage")
    out = tmp_path / "out"
    assert cli.main(["stack", str(src), "-o", str(out), "--skip-bad", "--no-plot",
                     "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [Path(p).name for p in summary["skipped"]] == ["f3.png"]
    assert summary["frames"] == 5 and summary["outputs"] == ["smp.npy", "count.npy"]
    assert summary["chunk_bytes"] == 64 * 2**20  # decoded sources: the smaller default
    assert not (out / "smp.png").exists()
    np.testing.assert_array_equal(np.load(out / "count.npy"),
                                  smpfast.peak_count(frames[[0, 1, 2, 4, 5]], 0))


def test_stack_default_block_per_source_kind(tmp_path: Path) -> None:
    x = np.random.default_rng(2).standard_normal((7, 3, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "o"
    assert cli.main(["stack", str(tmp_path / "x.npy"), "-o", str(out), "--no-plot",
                     "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["chunk_bytes"] == 256 * 2**20  # read in place: the larger default
    np.testing.assert_array_equal(np.load(out / "count.npy"), smpfast.peak_count(x, 0))


def test_stack_nan_summary_is_valid_json(tmp_path: Path) -> None:
    x = _stack()
    x[:, 0, 0] = np.nan
    np.save(tmp_path / "x.npy", x)
    assert cli.main(["stack", str(tmp_path / "x.npy"), "-o", str(tmp_path / "o"), "--no-plot",
                     "--no-progress"]) == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())  # strict JSON
    assert summary["smp"]["nonfinite"] == 1 and summary["smp"]["min"] is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.npy"], "does not exist"),
        (["two.npy"], "at least 3 frames"),
        (["bad"], "frame1.png"),
        (["x.npy", "--axis", "3"], "axis 3 is out of bounds"),
        (["x.npy", "--chunk-bytes", "0"], None),
        (["x.npy", "--chunk-bytes", "lots"], None),
    ],
)
def test_stack_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str], args: list[str],
                      message: str | None) -> None:
    monkeypatch.chdir(tmp_path)
    np.save("x.npy", _stack())
    np.save("two.npy", np.zeros((2, 3)))
    Path("bad").mkdir()
    for i in range(3):
        PIL_Image.fromarray(np.zeros((3, 3), np.uint8)).save(f"bad/frame{i}.png")
    Path("bad/frame1.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(SystemExit) as exc:
        cli.main(["stack", *args, "-o", "out"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message is None or message in err, err
    assert "size" in err or message is not None
    assert not Path("out", "summary.json").exists()


def test_stack_interrupted_leaves_no_complete_looking_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    np.save(tmp_path / "x.npy", _stack())
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text("{}")  # from an earlier run

    def fail(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("smpfast.io.save_heatmap", fail)
    with pytest.raises(KeyboardInterrupt):
        cli.main(["stack", str(tmp_path / "x.npy"), "-o", str(out), "--no-progress"])
    names = sorted(p.name for p in out.iterdir())
    assert "summary.json" not in names and not any(n.endswith(".tmp") for n in names)
    assert "smp.png" not in names


def test_stack_output_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.save(tmp_path / "x.npy", _stack())
    (tmp_path / "f").write_text("")
    with pytest.raises(SystemExit):
        cli.main(["stack", str(tmp_path / "x.npy"), "-o", str(tmp_path / "f")])
    assert "is not a directory" in capsys.readouterr().err


def test_parse_size() -> None:
    assert stack_cmd.parse_size("64M") == 64 * 2**20
    assert stack_cmd.parse_size("64MiB") == 64 * 2**20
    assert stack_cmd.parse_size("1.5k") == 1536
    assert stack_cmd.parse_size("2G") == 2 * 2**30
    assert stack_cmd.parse_size("100") == 100
    for bad in ("", "-1", "0", "1X", "M"):
        with pytest.raises(argparse.ArgumentTypeError):
            stack_cmd.parse_size(bad)


def test_images_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    images = np.random.default_rng(2).integers(0, 256, (4, 5, 6), dtype=np.uint8)
    for i, img in enumerate(images):
        PIL_Image.fromarray(img).save(tmp_path / f"im{i}.png")
    (tmp_path / "im9.png").write_bytes(b"")
    table = tmp_path / "t.csv"
    assert cli.main(["images", str(tmp_path / "im*.png"), "-o", str(table), "--mode", "run",
                     "--skip-bad", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "im9.png" in captured.err and "4 images" in captured.out
    lines = table.read_text().splitlines()
    assert lines[0].split(",")[:4] == ["image", "height", "width", "channels"]
    assert len(lines) == 5
    s = smpfast.smp(images, 2, mode="run").mean(axis=1)
    assert [float(r.split(",")[4]) for r in lines[1:]] == s.tolist()
    with pytest.raises(SystemExit):
        cli.main(["images", str(tmp_path / "im*.png"), "-o", str(tmp_path / "t2.csv")])
    assert "im9.png" in capsys.readouterr().err
    assert not (tmp_path / "t2.csv").exists()
