"""smpfast.model.validate: report rows, markdown, plots, argument errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from smpfast import nets
from smpfast.model import validate
from smpfast.model.validate import ROW_KEYS, measure_net, report


@pytest.fixture(scope="module")
def net():
    return nets.Sequential([nets.Conv2d(1, 2, 3, padding=1), nets.ReLU(), nets.MaxPool2d(2)],
                           seed=0)


@pytest.fixture(scope="module")
def meas(net):
    return measure_net(net, (1, 6, 6), 40, 24, seed=1)


@pytest.mark.parametrize("method", ["analytic", "empirical"])
@pytest.mark.parametrize("mode", ["run", "local"])
def test_report_rows(net, meas, method, mode):
    rep = report(net, meas, method, mode, "linear")
    assert [r["block"] for r in rep.rows] == ["conv2d", "relu", "max_pool2d"]
    for i, r in enumerate(rep.rows):
        assert set(ROW_KEYS) <= set(r)
        assert r["index"] == i
        assert math.isfinite(r["predicted_mean"]) and r["predicted_std"] >= 0
    assert rep.rows[0]["zero"] and rep.rows[0]["rel_error"] == 0.0
    assert rep.rows[1]["measured_mean"] > 0 and rep.rows[1]["measured_sem"] > 0
    assert rep.rows[1]["rel_error"] == pytest.approx(
        rep.rows[1]["predicted_mean"] / rep.rows[1]["measured_mean"] - 1)
    md = rep.to_markdown()
    assert md.count("\n| ") == 5 and f"method={method}" in md and "relu" in md


def test_measured_statistics_match_a_direct_computation(net):
    import smpfast
    from smpfast import paths

    m = measure_net(net, (1, 6, 6), 16, 20, seed=3, chunk_paths=5)
    x = paths.random_linear(5, (1, 6, 6), 20, np.random.default_rng(3))
    # first chunk only: the generator is shared across chunks, so compare totals instead
    del x
    outs = []
    rng = np.random.default_rng(3)
    for n in (5, 5, 5, 1):
        xx = paths.random_linear(n, (1, 6, 6), 20, rng)
        outs.append(net.forward_all(xx.reshape(-1, 1, 6, 6))[1].reshape(20, n, 2, 6, 6))
    y = np.concatenate(outs, axis=1)
    s = smpfast.smp(y, axis=0, mode="run")
    assert m.stats["run"][1].mean == pytest.approx(float(s.mean()), rel=1e-12)
    assert m.stats["run"][1].std == pytest.approx(float(s.std()), rel=1e-9)


def test_plot_writes_png(net, meas, tmp_path):
    rep = report(net, meas, "empirical", "run", "linear")
    out = tmp_path / "val.png"
    written = rep.plot(out)
    assert written == [str(out)]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]


def test_validate_end_to_end():
    net = nets.Sequential([nets.ReLU()], seed=0)
    rep = validate(net, (2, 3, 3), 60, 24, path="gaussian", mode="local", method="analytic",
                   path_kwargs={"length_scale": 4.0})
    (row,) = rep.rows
    assert row["block"] == "relu" and abs(row["rel_error"]) < 0.15


def test_validate_errors(net):
    with pytest.raises(ValueError, match="mode"):
        validate(net, (1, 6, 6), 8, 16, mode="peaks")
    with pytest.raises(ValueError, match="method"):
        validate(net, (1, 6, 6), 8, 16, method="oracle")
    with pytest.raises(ValueError, match="path"):
        validate(net, (1, 6, 6), 8, 16, path="brownian")
    with pytest.raises(ValueError, match="n_paths"):
        validate(net, (1, 6, 6), 1, 16)
    with pytest.raises(ValueError, match="T must"):
        validate(net, (1, 6, 6), 8, 4)
    with pytest.raises(ValueError, match="path_kwargs"):
        validate(net, (1, 6, 6), 8, 16, path_kwargs={"sigma": 1.0})
