"""The spread (E[SMP^2]) of smooth activations and max pooling on Gaussian-process inputs.

Checked against small Monte Carlo runs; each check also computes the previous rule
(the input's SMP spread scaled by one factor, plus Poisson kinks) and asserts that it
misses the same tolerance, so the tests tell the two apart.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import smpfast.model.spread as spread
from smpfast import measure, nets, nn, paths
from smpfast.model import analytic, blocks, moments

T, ELL = 64, 6.0
TOL = 0.08  # relative error of the predicted std (sampling error of the MC std ~2%)


def _std(second: np.ndarray, mean: np.ndarray) -> float:
    return blocks.Prediction(mean=mean, second=second).overall_std


@pytest.fixture(scope="module")
def gp_1d() -> np.ndarray:
    """2000 one-channel Gaussian-process paths, shape (T, n, 1)."""
    return paths.gaussian((2000, 1), T, ELL, np.random.default_rng(11))


@pytest.fixture(scope="module")
def gp_2d() -> np.ndarray:
    """100 paths of a (1, 8, 8) input of i.i.d. Gaussian-process elements."""
    return paths.gaussian((100, 1, 8, 8), T, ELL, np.random.default_rng(12))


@pytest.mark.parametrize("mode", ["run", "local"])
def test_tanh_std_matches_monte_carlo(gp_1d: np.ndarray, mode: str) -> None:
    s = moments(gp_1d)
    p = blocks.predict(nets.Tanh(), s, mode, (1,))
    meas = measure.smp(np.tanh(gp_1d), axis=0, mode=mode)
    assert p.overall_std == pytest.approx(float(meas.std()), rel=TOL)
    # the old rule: the input's SMP spread scaled by the ratio of means (16% / 38% low)
    in_m = float(s.smp_mean(mode)[0])
    old = p.overall_mean / in_m * np.sqrt(float(s.smp_second(mode)[0]) - in_m**2)
    assert abs(old / meas.std() - 1) > TOL


@pytest.mark.parametrize(("leak", "mode"), [(0.0, "run"), (0.0, "local"), (0.3, "run")])
def test_relu_std_matches_monte_carlo(gp_1d: np.ndarray, leak: float, mode: str) -> None:
    """(Leaky) ReLU of a Gaussian process: the old rule is 6-12% off, the surrogate < 2%."""
    block = nets.LeakyReLU(leak) if leak else nets.ReLU()
    s = moments(gp_1d)
    p = blocks.predict(block, s, mode, (1,))
    meas = measure.smp(np.where(gp_1d > 0, gp_1d, leak * gp_1d), axis=0, mode=mode)
    assert p.overall_std == pytest.approx(float(meas.std()), rel=0.04)
    base = blocks._relu(block, s, mode)
    assert abs(base.overall_std / meas.std() - 1) > 0.04
    assert p.overall_mean == pytest.approx(base.overall_mean)


@pytest.mark.parametrize("mode", ["run", "local"])
def test_maxpool_std_matches_monte_carlo(gp_2d: np.ndarray, mode: str) -> None:
    block = nets.MaxPool2d(2)
    y = np.asarray(nn.max_pool2d(gp_2d.reshape(-1, 1, 8, 8), 2)).reshape(T, -1, 1, 4, 4)
    meas = measure.smp(y, axis=0, mode=mode)
    for s in (moments(gp_2d), analytic.input_summary(
            "gaussian", (1, 8, 8), T, path_kwargs={"length_scale": ELL})):
        p = blocks.predict(block, s, mode, (1, 8, 8))
        assert p.overall_std == pytest.approx(float(meas.std()), rel=TOL)
        # the predictor without the surrogate (Poisson switches + scaled survivors)
        base = blocks._maxpool(block, s, mode, (1, 8, 8))
        assert base.overall_std / meas.std() - 1 > TOL
        assert p.overall_mean == pytest.approx(base.overall_mean)


def test_maxpool_correlated_window() -> None:
    """Elements correlated through a 2x2 average: the surrogate uses the correlation."""
    x = paths.gaussian((150, 1, 9, 9), T, ELL, np.random.default_rng(13))
    a = nn.avg_pool2d(x.reshape(-1, 1, 9, 9), 2, stride=1).reshape(T, -1, 1, 8, 8)
    y = np.asarray(nn.max_pool2d(a.reshape(-1, 1, 8, 8), 2)).reshape(T, -1, 1, 4, 4)
    s = moments(a)
    for mode in ("run", "local"):
        meas = measure.smp(y, axis=0, mode=mode)
        p = blocks.predict(nets.MaxPool2d(2), s, mode, (1, 8, 8))
        assert p.overall_std == pytest.approx(float(meas.std()), rel=TOL)


@pytest.mark.parametrize("mode", ["run", "local"])
def test_maxpool_affine_std_matches_monte_carlo(mode: str) -> None:
    """Max of 6 i.i.d. linear paths: the per-signal switch kinks are few and ordered."""
    x = paths.random_linear(800, (1, 12), 32, 0)
    y = np.asarray(nn.max_pool1d(x.reshape(-1, 1, 12), 6)).reshape(32, -1, 1, 2)
    meas = measure.smp(y, axis=0, mode=mode)
    block = nets.MaxPool1d(6)
    s = moments(x)
    p = blocks.predict(block, s, mode, (1, 12))
    assert p.overall_std == pytest.approx(float(meas.std()), rel=TOL)
    # binomial-midpoint cross moments of the switch kinks: 12% high
    base = blocks._maxpool(block, s, mode, (1, 12))
    assert base.overall_std / meas.std() - 1 > TOL


def test_affine_fit_recovers_the_path_coefficients() -> None:
    s = analytic.input_summary("linear", (2, 3), 17, path_kwargs={"mean": 1.5, "std": 2.0})
    fit = spread.affine_fit(s)
    assert bool(fit["ok"].all())
    # x = x_a + (x_b - x_a) tau: a ~ N(1.5, 4), b ~ N(0, 8), Cov(a, b) = -4
    np.testing.assert_allclose(fit["ma"], 1.5, atol=1e-9)
    np.testing.assert_allclose(fit["mb"], 0.0, atol=1e-9)
    np.testing.assert_allclose(fit["sb"], np.sqrt(8.0), rtol=1e-9)
    np.testing.assert_allclose(fit["beta"], -0.5, rtol=1e-9)
    np.testing.assert_allclose(fit["sa"], np.sqrt(4.0 - 0.5 * 4.0), rtol=1e-9)
    assert not bool(spread.affine_fit(analytic.input_summary(
        "gaussian", (1,), 17))["ok"][0])


def test_surrogate_fit_recovers_the_process(gp_1d: np.ndarray) -> None:
    fit = spread.surrogate_fit(moments(gp_1d))
    assert bool(fit["ok"][0])
    assert float(fit["ell"][0]) == pytest.approx(ELL, rel=0.03)
    assert float(fit["s"][0]) == pytest.approx(1.0, rel=0.05)
    fit_a = spread.surrogate_fit(analytic.input_summary(
        "gaussian", (2,), T, path_kwargs={"length_scale": 4.0, "mean": 0.5, "std": 2.0}))
    np.testing.assert_allclose(fit_a["ell"], 4.0, rtol=1e-9)
    np.testing.assert_allclose(fit_a["s"], 2.0, rtol=1e-9)
    np.testing.assert_allclose(fit_a["m"], 0.5, rtol=1e-9)


def test_surrogate_skips_inputs_it_does_not_describe(gp_1d: np.ndarray) -> None:
    lin = paths.random_linear(400, (1,), T, 0)
    relu = np.maximum(gp_1d, 0.0)
    kinked = np.abs(lin)  # one kink per crossing: not Gaussian curvature
    for x in (lin, relu, kinked):
        s = moments(x)
        assert not bool(spread.surrogate_fit(s)["ok"][0])
        base = blocks._smooth(nets.Tanh(), s, "run")
        p = blocks.predict(nets.Tanh(), s, "run", (1,))
        np.testing.assert_array_equal(p.second, base.second)
    # other blocks are returned as they are
    s = moments(gp_1d)
    pred = blocks.Prediction(mean=np.ones(1), second=np.full(1, 2.0))
    assert spread.refine(nets.Conv1d(1, 1, 3), s, "run", (1,), pred) is pred


def test_deterministic(gp_1d: np.ndarray) -> None:
    s = moments(gp_1d)
    a = blocks.predict(nets.Tanh(), s, "local", (1,))
    b = blocks.predict(nets.Tanh(), s, "local", (1,))
    np.testing.assert_array_equal(a.second, b.second)


@settings(max_examples=3, deadline=None)
@given(scale=st.floats(0.1, 10.0), shift=st.floats(-3.0, 3.0))
def test_maxpool_spread_scales_with_the_input(scale: float, shift: float) -> None:
    """max(c x + b) has c times the SMP: the relative spread does not change."""
    s0 = analytic.input_summary("gaussian", (1, 4, 4), 32, path_kwargs={"length_scale": 4.0})
    s1 = analytic.input_summary("gaussian", (1, 4, 4), 32, path_kwargs={
        "length_scale": 4.0, "std": scale, "mean": shift})
    block = nets.MaxPool2d(2)
    p0 = blocks.predict(block, s0, "run", (1, 4, 4))
    p1 = blocks.predict(block, s1, "run", (1, 4, 4))
    assert p1.overall_std / p1.overall_mean == pytest.approx(
        p0.overall_std / p0.overall_mean, rel=1e-6)


def test_bad_arguments_are_named(gp_1d: np.ndarray) -> None:
    s = moments(gp_1d)
    one = np.ones(1)
    with pytest.raises(ValueError, match="mode"):
        spread.smooth_second(np.tanh, s, "peak", one, one)
    with pytest.raises(ValueError, match="mean"):
        spread.smooth_second(np.tanh, s, "run", np.ones(2), one)
    with pytest.raises(ValueError, match="second"):
        spread.maxpool_second(nets.MaxPool1d(2), s, "run", (1, 4), one, np.ones((1, 1)))
