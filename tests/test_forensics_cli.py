"""smpfast forensics: the trained-model study and the command line."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from smpfast.cli import main
from smpfast.forensics import study


def test_auc_and_roc() -> None:
    assert study.auc(np.array([0.9, 0.8, 0.3, 0.1]), np.array([1, 1, 0, 0])) == 1.0
    assert study.auc(np.array([0.5, 0.5]), np.array([1, 0])) == 0.5
    assert study.auc(np.array([0.1, 0.9]), np.array([1, 0])) == 0.0
    with pytest.raises(ValueError, match="both classes"):
        study.auc(np.array([0.1]), np.array([1]))
    fpr, tpr = study.roc_curve(np.array([0.9, 0.4, 0.6, 0.1]), np.array([1, 1, 0, 0]))
    assert fpr[-1] == tpr[-1] == 1.0 and (np.diff(fpr) >= 0).all() and (np.diff(tpr) >= 0).all()


def test_small_study_separates_trained_relu_from_trained_smooth() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    pytest.importorskip("scipy")
    res = study.run_study(activations=("relu", "leaky_relu", "tanh", "softplus"), seeds=(0,),
                          n_train=200, n_test=24, epochs=2, n_paths=6, T=12, progress=False)
    labels = {r["activation"]: r["label"] for r in res.rows}
    assert labels == {"relu": "piecewise-linear", "leaky_relu": "piecewise-linear",
                      "tanh": "smooth", "softplus": "smooth"}
    assert res.auc_models == 1.0
    assert res.auc_paths > 0.9
    assert all(np.isfinite(r["rmse_deg"]) for r in res.rows)
    assert "AUC over models" in res.table()


def test_digits_rotation_targets() -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("scipy")
    x, y = study.digits_rotation(6, seed=3)
    assert x.shape == (6, 1, 16, 16) and x.dtype == np.float32
    assert np.all(np.abs(y) <= 1.0) and 0.0 <= x.min() and x.max() <= 1.0


def test_cli_on_a_module_callable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    inputs = tmp_path / "x.npy"
    np.save(inputs, np.random.default_rng(0).standard_normal((6, 4)))
    code = main(["forensics", "numpy:abs", str(inputs), "-o", str(tmp_path / "out"),
                 "--paths", "4", "-T", "16", "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    assert "detection: piecewise-linear" in out
    data = json.loads((tmp_path / "out" / "fingerprint.json").read_text())
    assert data["detection"]["label"] == "piecewise-linear" and data["n_paths"] == 4
    from smpfast.forensics import Fingerprint
    assert Fingerprint.load(tmp_path / "out" / "fingerprint.json").n_paths == 4
    for name in ("trajectories.png", "resolution.png"):
        assert (tmp_path / "out" / name).read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".tmp")]


def test_cli_on_a_torch_module_with_layers(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    script = tmp_path / "m.pt"
    with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript, still supported
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(model).save(str(script))
    inputs = tmp_path / "x.npy"
    np.save(inputs, np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32))
    assert main(["forensics", str(script), str(inputs), "-o", str(tmp_path / "o"),
                 "--paths", "4", "-T", "16", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "detection: smooth" in out and "layer profile skipped" in out
    # a plain torch module gets its layer profile
    import smpfast.forensics as fo
    prof = fo.layer_profile(model, np.load(inputs), n_paths=2, T=8, progress=False)
    assert prof.names == ["input", "0", "1", "2"] and prof.kink_share[2] < 0.05


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["forensics", "no-such-model", "-o", str(tmp_path)])
    assert "MODEL must be one of" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["forensics", "numpy:abs", "-o", str(tmp_path)])
    assert "give a .npy batch" in capsys.readouterr().err
