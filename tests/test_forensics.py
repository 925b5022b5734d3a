"""smpfast.forensics core: paths, fingerprints, detector, comparison, layer profiles."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import smpfast
from smpfast import forensics, nets
from smpfast.forensics import _analysis
from smpfast.forensics._paths import build_paths
from smpfast.forensics.calibration import calibrate, synthetic_features
from smpfast.forensics.detect import COEF, score_features

RNG = np.random.default_rng(1234)
W_IMG = RNG.standard_normal((36, 16)) / 6.0
V_IMG = RNG.standard_normal((16, 3)) / 4.0


def relu_img(x: np.ndarray) -> np.ndarray:
    return np.maximum(x.reshape(len(x), -1) @ W_IMG + 0.1, 0.0) @ V_IMG


def tanh_img(x: np.ndarray) -> np.ndarray:
    return np.tanh(x.reshape(len(x), -1) @ W_IMG + 0.1) @ V_IMG


IMAGES = np.random.default_rng(5).standard_normal((6, 1, 6, 6))
KW = {"n_paths": 8, "T": 32, "progress": False}


# ----------------------------------------------------------------------------- paths
def test_linear_path_ends_at_the_inputs() -> None:
    x = np.random.default_rng(0).standard_normal((3, 4))
    ps = build_paths(x, "linear", 5, np.random.default_rng(0))
    for p in range(5):
        ends = ps.at(p, np.array([0.0, 1.0]))
        hits = [int(np.argmin(np.abs(x - e).sum(axis=1))) for e in ends]
        assert hits[0] != hits[1]
        np.testing.assert_allclose(ends, x[hits], atol=1e-15)


def test_gaussian_and_brightness_paths_are_centred_lines() -> None:
    x = np.random.default_rng(0).standard_normal((3, 5))
    for kind in ("gaussian", "brightness"):
        ps = build_paths(x, kind, 4, np.random.default_rng(1), radius=0.7)
        s = np.linspace(0.0, 1.0, 11)
        y = ps.at(0, s)
        assert np.min(np.abs(x - y[5]).sum(axis=1)) < 1e-12  # centre is an input
        assert smpfast.smp(y.reshape(11, -1), axis=0, mode="run").max() == 0.0  # affine in s
        np.testing.assert_allclose(ps.length(0, s), np.linalg.norm(y[-1] - y[0]), rtol=1e-12)
    flat = build_paths(x, "brightness", 1, np.random.default_rng(1)).at(0, np.array([0.0, 1.0]))
    step = flat[1] - flat[0]
    np.testing.assert_allclose(step, step.flat[0])  # the same offset everywhere


def test_shift_path_is_a_smooth_translation() -> None:
    img = np.random.default_rng(0).standard_normal((1, 2, 7, 9))  # odd: unitary shift
    ps = build_paths(img, "shift", 3, np.random.default_rng(2), radius=1.0)
    q = ps._paths[0]
    assert q.other is not None
    np.testing.assert_allclose(np.linalg.norm(q.other), 1.0)
    # moving one pixel along an axis is np.roll exactly (periodic Fourier shift)
    from smpfast.forensics._paths import _fourier_shift
    out = _fourier_shift(img[0], np.array([[1.0]]), np.array([0.0, 1.0]))[0]
    np.testing.assert_allclose(out, np.roll(img[0], 1, axis=-1), atol=1e-12)
    # smooth in s: no kinks along the path, energy preserved
    s = np.linspace(0.0, 1.0, 65)
    y = ps.at(1, s).reshape(65, -1)
    kink, _ = _analysis.kink_stats(np.ascontiguousarray(y.T))
    assert kink.sum() < 0.05 * smpfast.smp(y, axis=0, mode="run").sum()
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), np.linalg.norm(img), rtol=1e-12)


# ------------------------------------------------------------------------ analysis
def test_kink_stats_agree_with_run_mode_on_isolated_kinks() -> None:
    rng = np.random.default_rng(3)
    t = np.linspace(0.0, 1.0, 201)
    pl = np.stack([np.abs(t - c) * a for c, a in zip(rng.uniform(0.1, 0.9, 20),
                                                      rng.uniform(0.5, 2, 20), strict=True)])
    kink, n = _analysis.kink_stats(_analysis.lift(pl))
    np.testing.assert_allclose(kink, smpfast.smp(pl, axis=1, mode="run"), rtol=1e-9)
    assert (n == 1).all()
    smooth = np.stack([np.sin(2 * np.pi * f * t) for f in rng.uniform(0.5, 2, 20)])
    kink, n = _analysis.kink_stats(_analysis.lift(smooth))
    # excess of a smooth bend: O(h^2) of its curvature, none of it counted as a kink
    assert (kink < 1e-3 * smpfast.smp(smooth, axis=1, mode="run")).all() and n.sum() == 0


# ---------------------------------------------------------------------- fingerprint
def test_fingerprint_is_reproducible_from_the_seed() -> None:
    a = forensics.fingerprint(relu_img, IMAGES, path="gaussian", seed=3, **KW)
    b = forensics.fingerprint(relu_img, IMAGES, path="gaussian", seed=3, **KW)
    c = forensics.fingerprint(relu_img, IMAGES, path="gaussian", seed=4, **KW)
    for key in ("smp_mean", "smp_std", "smp_quantiles", "count_mean", "kink_density"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert a.features == b.features
    assert not np.array_equal(a.smp_mean, c.smp_mean)


@pytest.mark.parametrize("path", ["linear", "gaussian", "shift", "brightness"])
def test_every_path_kind_separates_relu_from_tanh(path: str) -> None:
    fp_pl = forensics.fingerprint(relu_img, IMAGES, path=path, **KW)
    fp_sm = forensics.fingerprint(tanh_img, IMAGES, path=path, **KW)
    assert fp_pl.path == path and fp_pl.n_outputs == 3
    assert fp_pl.smp_quantiles.shape == (5, 3)
    assert forensics.detect(fp_pl).label == "piecewise-linear"
    assert forensics.detect(fp_sm).label == "smooth"
    assert forensics.detect(fp_pl).score > 0.9 > 0.1 > forensics.detect(fp_sm).score
    assert fp_pl.exponent_local > -0.3 and fp_sm.exponent_local < -0.7


def test_run_mode_smp_is_the_total_slope_change_at_every_resolution() -> None:
    # f(x) = |u.x - c|: along a line x(s), g(s) = u.x(s) - c is affine with slope m,
    # so the output has one kink of slope change 2|m| when g changes sign inside (0, 1)
    u = np.array([1.0, -2.0, 0.5])
    x = np.random.default_rng(7).standard_normal((10, 3))
    fp = forensics.fingerprint(lambda b: np.abs(b @ u - 0.1), x, n_paths=12, T=17,
                               resolutions=(1, 2, 4, 8), progress=False, n_examples=0)
    ps = build_paths(x, "linear", 12, np.random.default_rng(0))
    g0 = np.array([ps.at(p, np.array([0.0]))[0] @ u - 0.1 for p in range(12)])
    g1 = np.array([ps.at(p, np.array([1.0]))[0] @ u - 0.1 for p in range(12)])
    exact = np.where(g0 * g1 < 0, 2 * np.abs(g1 - g0), 0.0)
    per_path_run = fp.per_path["run_smp"]
    # kinks inside the first or last sample interval of the finest grid are not seen
    t_f = int(fp.resolution_T[-1])
    s_k = np.where(g0 * g1 < 0, g0 / (g0 - g1), 0.5)
    seen = (s_k > 1.0 / (t_f - 1)) & (s_k < 1 - 1.0 / (t_f - 1))
    np.testing.assert_allclose(per_path_run[seen], exact[seen], rtol=1e-9)
    assert fp.exponent_run == pytest.approx(0.0, abs=0.05)
    assert fp.kink_fraction == pytest.approx(float(np.mean(g0 * g1 < 0)))


def test_smooth_local_smp_falls_like_one_over_T() -> None:
    x = np.random.default_rng(8).standard_normal((10, 2))
    fp = forensics.fingerprint(lambda b: np.sin(2.0 * b), x, n_paths=8, T=65,
                               resolutions=(1, 2, 4), progress=False)
    assert fp.exponent_local == pytest.approx(-1.0, abs=0.05)
    loc = fp.resolution_smp_local
    np.testing.assert_allclose(loc[1:] / loc[:-1], 0.5, rtol=0.02)
    # run mode converges to the total variation of the slope (T^0), not like 1/T
    assert fp.exponent_run == pytest.approx(0.0, abs=0.05)
    assert fp.features["kink_share"] < 1e-3


def test_kink_density_counts_kinks_per_unit_length() -> None:
    x = np.array([[-1.0], [1.0]])  # one path from -1 to 1 (or back): length 2, kink at 0
    fp = forensics.fingerprint(np.abs, x, n_paths=1, T=10, resolutions=(1,), progress=False)
    assert fp.per_path["length"][0] == pytest.approx(2.0)
    assert fp.kink_density[0] == pytest.approx(0.5)
    assert fp.kink_fraction == 1.0


def test_fingerprint_json_round_trip(tmp_path: object) -> None:
    fp = forensics.fingerprint(relu_img, IMAGES, **KW)
    out = tmp_path / "fp.json"  # type: ignore[operator]
    fp.save(out)
    assert json.loads(out.read_text())["path"] == "linear"
    back = forensics.Fingerprint.load(out)
    np.testing.assert_array_equal(back.smp_quantiles, fp.smp_quantiles)
    assert back.features == fp.features and back.resolutions == fp.resolutions
    assert [p.name for p in out.parent.iterdir()] == ["fp.json"]  # no temporary left


# ---------------------------------------------------------------------- bad fn output
def _fp(fn: object, **kw: object) -> forensics.Fingerprint:
    args = {**KW, "batch_size": 16, **kw}
    return forensics.fingerprint(fn, IMAGES, **args)  # type: ignore[arg-type]


def test_wrong_batch_size_is_named() -> None:
    with pytest.raises(ValueError, match="rows for a batch of 16 inputs"):
        _fp(lambda b: relu_img(b)[:-1])


def test_nan_output_is_named() -> None:
    def f(b: np.ndarray) -> np.ndarray:
        y = relu_img(b)
        y[3, 1] = np.nan
        return y
    with pytest.raises(ValueError, match=r"NaN \(first at batch row 3, output 1"):
        _fp(f)
    with pytest.raises(ValueError, match="returned Inf"):
        _fp(lambda b: relu_img(b) + np.inf)


def test_non_numeric_output_is_named() -> None:
    with pytest.raises(TypeError, match="dtype <U"):
        _fp(lambda b: np.array(["a"] * len(b)))
    with pytest.raises(TypeError, match="dtype object"):
        _fp(lambda b: np.array([None] * len(b)))
    with pytest.raises(TypeError, match="complex"):
        _fp(lambda b: relu_img(b) * 1j)
    with pytest.raises(ValueError, match="scalar"):
        _fp(lambda b: 1.0)


def test_shape_change_between_calls_is_named() -> None:
    calls = []

    def f(b: np.ndarray) -> np.ndarray:
        calls.append(1)
        return relu_img(b)[:, : 3 if len(calls) == 1 else 2]
    with pytest.raises(ValueError, match=r"per-sample shape \(2,\) on call 2, but \(3,\)"):
        _fp(f)


@pytest.mark.parametrize(
    ("kw", "exc", "msg"),
    [
        ({"path": "spiral"}, ValueError, "path must be one of"),
        ({"mode": "peak"}, ValueError, "mode must be one of"),
        ({"T": 2}, ValueError, "T must be >= 3"),
        ({"n_paths": 0}, ValueError, "n_paths must be >= 1"),
        ({"resolutions": (1, 3, 4)}, ValueError, "divide the largest"),
        ({"resolutions": (0, 2)}, ValueError, "resolutions must be positive"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
        ({"radius": -1.0}, ValueError, "radius must be a finite number"),
        ({"dtype": np.int32}, ValueError, "dtype must be float32 or float64"),
    ],
)
def test_bad_arguments_name_the_argument(kw: dict, exc: type, msg: str) -> None:
    with pytest.raises(exc, match=msg):
        _fp(relu_img, **kw)


def test_bad_inputs_and_fn() -> None:
    with pytest.raises(ValueError, match="inputs must be a batch"):
        forensics.fingerprint(np.abs, np.ones(5), progress=False)
    with pytest.raises(ValueError, match="at least 2 inputs"):
        forensics.fingerprint(np.abs, np.ones((1, 5)), progress=False)
    with pytest.raises(ValueError, match="needs images"):
        forensics.fingerprint(np.abs, np.ones((3, 5)), path="shift", progress=False)
    with pytest.raises(ValueError, match="NaN or Inf"):
        forensics.fingerprint(np.abs, np.full((3, 5), np.nan), progress=False)
    with pytest.raises(TypeError, match="fn must be callable"):
        forensics.fingerprint(3, np.ones((3, 5)), progress=False)
    with pytest.raises(TypeError, match="fp must be a Fingerprint"):
        forensics.detect("fp")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- torch
def test_torch_module_matches_its_numpy_twin() -> None:
    torch = pytest.importorskip("torch")
    lin1 = torch.nn.Linear(36, 16, dtype=torch.float64)
    lin2 = torch.nn.Linear(16, 3, dtype=torch.float64)
    with torch.no_grad():
        lin1.weight.copy_(torch.from_numpy(W_IMG.T))
        lin1.bias.fill_(0.1)
        lin2.weight.copy_(torch.from_numpy(V_IMG.T))
        lin2.bias.zero_()
    model = torch.nn.Sequential(torch.nn.Flatten(), lin1, torch.nn.ReLU(), lin2)
    fp_t = forensics.fingerprint(model, IMAGES, **KW)
    fp_n = forensics.fingerprint(relu_img, IMAGES, **KW)
    np.testing.assert_allclose(fp_t.smp_mean, fp_n.smp_mean, rtol=1e-9)
    assert fp_t.features == pytest.approx(fp_n.features, rel=1e-9)
    model.float()
    fp_32 = forensics.fingerprint(model, IMAGES, **KW)  # run in float64 again
    np.testing.assert_allclose(fp_32.smp_mean, fp_n.smp_mean, rtol=1e-5)
    assert model[1].weight.dtype == torch.float32  # the caller's module is left alone

    class Two(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = model

        def forward(self, x: object) -> tuple[object, object]:
            return self.m(x), self.m(x)[:, :1]
    fp2 = forensics.fingerprint(Two(), IMAGES, **KW)
    assert fp2.output_shape == (4,)


def test_import_smpfast_forensics_imports_no_torch() -> None:
    code = ("import sys, smpfast, smpfast.forensics; "
            "print(any(m in sys.modules for m in ('torch', 'sklearn', 'skimage', 'matplotlib')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------- detect
def test_detector_is_calibrated_on_fresh_synthetic_families() -> None:
    x, y = synthetic_features(16, seed=2024)  # families the coefficients never saw
    p = score_features(x)
    assert np.mean((p >= 0.5) == (y == 1)) >= 0.95
    assert np.mean((p - y) ** 2) < 0.05  # Brier score
    # reliability: confident predictions are right about as often as they claim
    for lo, hi in ((0.0, 0.1), (0.9, 1.0)):
        sel = (p >= lo) & (p <= hi)
        if sel.sum() >= 5:
            assert abs(np.mean(y[sel]) - np.mean(p[sel])) < 0.1


def test_refit_recovers_the_sign_of_the_stored_coefficients() -> None:
    coef, _ = calibrate(n_per_class=10, seed=99)
    assert coef[0] > 0 and coef[1] > 0
    assert COEF[0] > 0 and COEF[1] > 0


@given(st.floats(0, 1), st.floats(0, 1), st.floats(-2, 1), st.floats(0, 0.5))
def test_score_is_a_probability_increasing_in_kink_evidence(
    share: float, ratio: float, expo: float, bump: float
) -> None:
    p = float(score_features(np.array([share, ratio, expo])))
    q = float(score_features(np.array([min(share + bump, 1.0), ratio, expo])))
    assert 0.0 <= p <= 1.0 and q >= p


def test_affine_function_is_not_called_piecewise_linear() -> None:
    x = np.random.default_rng(0).standard_normal((5, 3))
    fp = forensics.fingerprint(lambda b: b @ np.ones(3), x, **KW)
    d = forensics.detect(fp)
    assert d.label == "smooth" and d.features["kink_share"] < 1e-3
    assert d.path_scores.shape == (8,)


# --------------------------------------------------------------------------- compare
def test_compare_same_function_vs_different_function() -> None:
    kw = {**KW, "n_paths": 16}
    a = forensics.fingerprint(relu_img, IMAGES, seed=1, **kw)
    b = forensics.fingerprint(relu_img, IMAGES, seed=2, **kw)
    c = forensics.fingerprint(tanh_img, IMAGES, seed=1, **kw)
    same = forensics.compare(a, b, n_permutations=999)
    diff = forensics.compare(a, c, n_permutations=999)
    assert not same.paired and diff.paired
    assert same.pvalue > 0.05
    assert diff.pvalue < 0.01
    self_cmp = forensics.compare(a, a, n_permutations=199)
    assert self_cmp.pvalue == 1.0 and self_cmp.statistic == 0.0
    with pytest.raises(ValueError, match="paired=True needs"):
        forensics.compare(a, b, paired=True)
    with pytest.raises(ValueError, match="n_permutations must be >= 1"):
        forensics.compare(a, b, n_permutations=0)


def test_compare_detects_a_modified_deployment() -> None:
    # the same architecture with perturbed weights: a suspect deployment
    w2 = W_IMG * 1.5

    def suspect(x: np.ndarray) -> np.ndarray:
        return np.maximum(x.reshape(len(x), -1) @ w2 + 0.1, 0.0) @ V_IMG
    kw = {**KW, "n_paths": 16}
    a = forensics.fingerprint(relu_img, IMAGES, **kw)
    b = forensics.fingerprint(suspect, IMAGES, **kw)
    assert forensics.compare(a, b, n_permutations=999).pvalue < 0.01


# ---------------------------------------------------------------------- layer profile
def _net() -> nets.Sequential:
    return nets.Sequential([nets.Conv2d(1, 4, 3), nets.ReLU(), nets.MaxPool2d(2),
                            nets.Flatten(), nets.Linear(16, 3), nets.Tanh()], seed=0)


def test_layer_profile_of_a_nets_sequential() -> None:
    prof = forensics.layer_profile(_net(), IMAGES, n_paths=4, T=32, progress=False)
    assert prof.names == ["input", "0:Conv2d", "1:ReLU", "2:MaxPool2d", "3:Flatten",
                          "4:Linear", "5:Tanh"]
    assert prof.shapes[0] == (1, 6, 6) and prof.shapes[3] == (4, 2, 2)
    assert prof.smp_run[0] == 0.0 and prof.smp_run[1] < 1e-9 * prof.smp_run[2]  # conv: linear
    assert prof.smp_run[2] > 0.0 and prof.kink_share[2] > 0.9  # ReLU: kinks are born
    assert prof.peaks_per_element[3] >= 0 and prof.active_fraction[2] > 0.0
    assert "1:ReLU" in prof.table() and prof.to_dict()["names"][0] == "input"


def test_layer_profile_torch_matches_nets() -> None:
    pytest.importorskip("torch")
    net = _net()
    prof_n = forensics.layer_profile(net, IMAGES, n_paths=4, T=32, progress=False)
    prof_t = forensics.layer_profile(net.to_torch(), IMAGES, n_paths=4, T=32, progress=False)
    assert len(prof_t.names) == len(prof_n.names)
    np.testing.assert_allclose(prof_t.smp_run, prof_n.smp_run, rtol=1e-6, atol=1e-12)
    with pytest.raises(TypeError, match=r"torch\.nn\.Module or an smpfast\.nets\.Sequential"):
        forensics.layer_profile(np.abs, IMAGES, progress=False)
