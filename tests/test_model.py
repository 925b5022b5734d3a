"""smpfast.model: predictors against closed forms and small Monte Carlo runs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

import smpfast
from smpfast import nets, paths
from smpfast.model import _gauss as g
from smpfast.model import analytic, moments, predict
from smpfast.model._grid import windows
from smpfast.model.blocks import _Corr, _pool_terms
from smpfast.model.moments import MomentAccumulator


def _measure(block, x, mode):
    T, n = x.shape[:2]
    net = nets.Sequential([block], seed=3)
    out_shape = net.output_shapes(x.shape[2:])[-1]
    y = net(x.reshape(T * n, *x.shape[2:])).reshape(T, n, *out_shape)
    s = smpfast.smp(y, axis=0, mode=mode)
    per_path = s.reshape(n, -1).mean(axis=1)
    return float(s.mean()), float(per_path.std(ddof=1) / math.sqrt(n)), float(s.std())


# ----------------------------------------------------------------------------- closed forms
def test_rice_terms_match_the_spec_formula():
    m, s, mp, sp, r = 0.3, 1.7, -0.2, 0.5, 0.4
    _, r2, _ = g.rice_terms(0.0, np.array(m), np.array(s), np.array(mp), np.array(sp),
                            np.array(r))
    spec = (stats.norm.pdf(m / s) / s) * (sp**2 * (1 - r**2) + (mp - r * sp * m / s) ** 2)
    assert float(r2) == pytest.approx(spec, rel=1e-12)


def test_abs_moments_match_quadrature():
    mu, sd = -0.4, 1.3
    m1, m2, m3 = g.abs_moments(np.array(mu), np.array(sd))
    for k, val in ((1, m1), (2, m2), (3, m3)):
        ref = integrate.quad(lambda x, k=k: abs(x) ** k * stats.norm.pdf(x, mu, sd), -20, 20)[0]
        assert float(val) == pytest.approx(ref, rel=1e-9)


def test_bvn_cdf_matches_scipy():
    for h, k, rho in ((0.3, -0.5, 0.8), (-1.0, 2.0, -0.6), (0.0, 0.0, 0.0)):
        ref = stats.multivariate_normal([0, 0], [[1, rho], [rho, 1]]).cdf([h, k])
        assert float(g.bvn_cdf(np.array(h), np.array(k), np.array(rho))) == pytest.approx(
            ref, abs=1e-6)


def test_expected_abs_sum_of_sparse_terms_matches_monte_carlo():
    rng = np.random.default_rng(0)
    n, N = 5, 400_000
    w = np.array([1.0, -0.5, 2.0, 0.3, -1.2])
    q, pos, kap, th = np.full(n, 0.2), np.full(n, 0.7), np.full(n, 1.5), np.full(n, 0.4)
    act = rng.random((N, n)) < q
    sgn = np.where(rng.random((N, n)) < pos, 1.0, -1.0)
    S = (act * sgn * rng.gamma(kap, th, (N, n)) * w).sum(axis=1)
    pred = float(g.expected_abs_sum(w[None], q[None], pos[None], kap[None], th[None])[0])
    assert pred == pytest.approx(np.abs(S).mean(), rel=0.01)


def test_gauss_peak_factor_of_white_noise():
    rng = np.random.default_rng(1)
    x = np.abs(rng.standard_normal(400_000))
    peak = (x[1:-1] > x[:-2]) & (x[1:-1] > x[2:])
    mc = (x[1:-1] * peak).mean() / x.mean()
    assert float(g.gauss_peak_factor(np.array(0.0), np.array(0.0))) == pytest.approx(mc, rel=0.01)


def test_windows_three_quarters_and_ends():
    T = 40
    w = windows(T, 4)
    assert w.run.sum() == pytest.approx(T - 2)  # 1/2 of the first and last interval
    assert w.loc.sum() == pytest.approx(0.75 * (T - 4))  # local: 3/4 and no edge peaks
    assert w.samples.sum() == T - 2


@pytest.mark.parametrize("mode", ["run", "local"])
def test_relu_on_linear_paths_equals_the_rice_integral(mode):
    # y(tau) = (1 - tau) A + tau B, A, B i.i.d. N(0, sig^2): Rice's slope-weighted crossing
    # density p(0) E[y'^2 | y = 0] (slope per sample y' = (B - A) h), times the window of
    # the sample grid (ends; local mode: max(a, 1 - a) and no edge peaks), integrated
    T, sig = 24, 1.7
    h = 1.0 / (T - 1)

    def window(sv):
        n = np.floor(sv)
        a = n + 1 - sv  # kink splits a D on d[n] and (1 - a) D on d[n + 1]
        if mode == "run":
            return (a if 1 <= n <= T - 2 else 0.0) + ((1 - a) if 1 <= n + 1 <= T - 2 else 0.0)
        left = a if (a > 0.5 and 2 <= n <= T - 3) else 0.0
        return left + ((1 - a) if (a < 0.5 and 2 <= n + 1 <= T - 3) else 0.0)

    def density(sv):
        tau = sv * h
        v = (1 - tau) ** 2 + tau**2
        cond_var = 2 * sig**2 - sig**2 * (2 * tau - 1) ** 2 / v
        return h * h * cond_var / (math.sqrt(2 * math.pi) * sig * math.sqrt(v))

    ref = sum(
        integrate.quad(lambda sv: window(sv) * density(sv), n + e0, n + e1)[0]
        for n in range(T - 1) for e0, e1 in ((0.0, 0.5), (0.5, 1.0))
    )
    s_in = analytic.input_summary("linear", (1,), T, path_kwargs={"std": sig}, n_bins=23)
    pred = predict(nets.ReLU(), s_in, mode, (1,)).overall_mean
    assert pred == pytest.approx(ref, rel=2e-3)


def test_maxpool_switch_rate_for_iid_gaussians_matches_the_spec():
    # k i.i.d. stationary inputs: rate = k(k-1)/2 * 2 s'^2 / s * int pdf^2 cdf^(k-2)
    k, s, sp = 4, 1.3, 0.2
    shape = (1, 1)
    lat = {name: np.full(shape, val) for name, val in
           (("m", 0.0), ("s", s), ("mp", 0.0), ("sp", sp), ("r", 0.0))}
    lat["rect"] = np.zeros(shape, dtype=bool)

    class _NoCorr:
        def __call__(self, off):
            one = np.ones(shape) if all(o == 0 for o in off) else np.zeros(shape)
            return one, one

    elems = [(0, 0), (0, 1), (1, 0), (1, 1)]
    sw1, _, surv = _pool_terms(elems, lat, _NoCorr(), lat["rect"])
    integral = integrate.quad(lambda v: stats.norm.pdf(v) ** 2 * stats.norm.cdf(v) ** (k - 2),
                              -12, 12)[0]
    spec = k * (k - 1) / 2 * 2 * sp**2 / s * integral
    assert float(sw1[0, 0]) == pytest.approx(spec, rel=1e-4)
    assert float(surv[0, 0]) == pytest.approx(1.0, rel=1e-4)  # sum of P(i is the max)


def test_maxpool_convexity_identity_on_linear_paths():
    # for lines, max pooling is convex: run SMP = last slope - first slope, exactly
    x = paths.random_linear(50, (1, 4), 33, 5)
    y = np.max(x, axis=-1)
    run = smpfast.smp(y, axis=0, mode="run")
    conv = (y[-1] - y[-2]) - (y[1] - y[0])
    np.testing.assert_allclose(run, conv, rtol=1e-9, atol=1e-12)
    # and the model's mean for two i.i.d. lines is the closed form of that difference:
    # E max of two N(0, v) is sqrt(v / pi), v(tau) = (1 - tau)^2 + tau^2
    T = 33
    h = 1.0 / (T - 1)
    ref = 2 / math.sqrt(math.pi) * (1 - math.sqrt((1 - h) ** 2 + h**2))
    s_in = analytic.input_summary("linear", (1, 2), T)
    pred = predict(nets.MaxPool1d(2), s_in, "run", (1, 2)).overall_mean
    assert pred == pytest.approx(ref, rel=0.01)


# ----------------------------------------------------------------------------- Monte Carlo
@pytest.mark.parametrize(
    ("block", "shape", "kw"),
    [
        (nets.ReLU(), (2, 4, 4), {}),
        (nets.LeakyReLU(0.2), (2, 4, 4), {"mean": 0.5}),
        (nets.PReLU(), (2, 4, 4), {"std": 2.0}),
        (nets.MaxPool2d(2), (2, 6, 6), {}),
        (nets.MaxPool1d(3), (2, 9), {"mean": 1.0}),
        (nets.Tanh(), (2, 4, 4), {}),
        (nets.GELU(), (2, 4, 4), {"std": 2.0}),
    ],
)
@pytest.mark.parametrize("mode", ["run", "local"])
def test_single_blocks_on_linear_paths_match_monte_carlo(block, shape, kw, mode):
    T, n = 40, 300
    x = paths.random_linear(n, shape, T, 11, **kw)
    meas, sem, sd = _measure(block, x, mode)
    for s in (moments(x if x.ndim >= 3 else x[..., None]),
              analytic.input_summary("linear", shape, T, path_kwargs=kw)):
        p = predict(block, s, mode, shape)
        assert abs(p.overall_mean - meas) <= 4 * sem + 0.01 * meas
        assert p.overall_std == pytest.approx(sd, rel=0.3)


@pytest.mark.parametrize("block", [nets.ReLU(), nets.AvgPool2d(2), nets.Conv2d(2, 3, 3, padding=1)])
def test_blocks_on_gaussian_paths_match_monte_carlo(block):
    T, n, shape = 40, 120, (2, 6, 6)
    x = paths.random_gaussian(n, shape, T, 4, length_scale=5.0)
    net = nets.Sequential([block], seed=2)
    meas, sem, _ = _measure(net[0], x, "run")
    for s in (moments(x), analytic.input_summary("gaussian", shape, T,
                                                 path_kwargs={"length_scale": 5.0})):
        p = predict(net[0], s, "run", shape)
        assert abs(p.overall_mean - meas) <= 4 * sem + 0.02 * meas


@pytest.mark.parametrize("mode", ["run", "local"])
def test_maxpool_on_gaussian_paths_matches_monte_carlo(mode):
    # the maximum is high, where a smooth path's curvature is larger and mostly opposes
    # the switch kinks: without those terms run mode was 5% low, local mode 7% high
    T, n, shape = 48, 300, (2, 8, 8)
    x = paths.random_gaussian(n, shape, T, 4, length_scale=6.0)
    meas, sem, _ = _measure(nets.MaxPool2d(2), x, mode)
    for s in (moments(x), analytic.input_summary("gaussian", shape, T,
                                                 path_kwargs={"length_scale": 6.0})):
        p = predict(nets.MaxPool2d(2), s, mode, shape)
        assert abs(p.overall_mean - meas) <= 4 * sem + 0.035 * meas, p.overall_mean / meas


def test_linear_blocks_on_linear_paths_predict_zero():
    s = analytic.input_summary("linear", (2, 5, 5), 20)
    net = nets.Sequential([nets.Conv2d(2, 3, 3, padding=1), nets.AvgPool2d(2)], seed=0)
    for mode in ("run", "local"):
        assert predict(net[0], s, mode, (2, 5, 5)).overall_mean == 0.0
        assert predict(net[1], s, mode, (2, 5, 5)).overall_mean == 0.0


def test_stack_both_methods_track_monte_carlo():
    from smpfast.model.validate import measure_net, report

    net = nets.Sequential([nets.Conv2d(1, 3, 3, padding=1), nets.ReLU(), nets.MaxPool2d(2)],
                          seed=1)
    meas = measure_net(net, (1, 8, 8), 120, 32, seed=2)
    for method in ("empirical", "analytic"):
        rows = report(net, meas, method, "run", "linear").rows
        assert rows[0]["zero"]
        for r in rows[1:]:
            assert abs(r["rel_error"]) < 0.12, (method, r)


# ----------------------------------------------------------------------------- summaries
def test_accumulator_merges_chunks_like_one_pass():
    x = paths.random_gaussian(12, (2, 3, 3), 20, 0, length_scale=3.0)
    one = moments(x, n_bins=4)
    a, b = MomentAccumulator(n_bins=4), MomentAccumulator(n_bins=4)
    a.add(x[:, :5])
    b.add(x[:, 5:])
    a.merge(b)
    two = a.summary()
    for k, v in one.stats.items():
        np.testing.assert_allclose(two.stats[k], v, rtol=1e-10, atol=1e-14, err_msg=k)


def test_latent_fit_recovers_a_rectified_gaussian():
    rng = np.random.default_rng(0)
    T, n = 30, 4000
    a = rng.normal(0.3, 1.2, n)
    b = rng.normal(0.0, 2.0, n)
    z = a[None] + b[None] * np.linspace(0, 1, T)[:, None]
    s = moments(np.maximum(z, 0.0)[:, :, None], n_bins=1)
    lat = s.latent()
    truth = moments(z[:, :, None], n_bins=1).latent()
    assert bool(lat["rect"][0, 0])
    for k in ("m", "s", "sp"):
        assert float(lat[k][0, 0]) == pytest.approx(float(truth[k][0, 0]), rel=0.05, abs=0.02)


def test_neighbour_correlation_of_rectified_inputs_is_inverted():
    x = paths.random_linear(400, (1, 8, 8), 24, 3)
    net = nets.Sequential([nets.Conv2d(1, 2, 3, padding=1, bias=False)], seed=4)
    z = net(x.reshape(-1, 1, 8, 8)).reshape(24, 400, 2, 8, 8)
    s_z, s_r = moments(z, max_lag=1), moments(np.maximum(z, 0.0), max_lag=1)
    rho_true = _Corr(s_z, s_z.latent())((0, 1))[0]
    rho_est = _Corr(s_r, s_r.latent())((0, 1))[0]
    np.testing.assert_allclose(rho_est, rho_true, atol=0.06)


@pytest.mark.parametrize("rectify", [False, True])
def test_position_means_are_not_neighbour_correlation(rectify):
    # independent paths per position around very different per-position means: the
    # neighbour correlation of the fluctuations is 0, pooled moments would read ~0.9
    ii, jj = np.meshgrid(np.arange(6), np.arange(6), indexing="ij")
    mu = (1.2 * (ii + jj) - 6.0)[None, None, None]  # smooth in space, as borders give
    x = paths.random_linear(300, (1, 6, 6), 16, 7) + mu
    if rectify:
        x = np.maximum(x, 0.0)
    s = moments(x, n_bins=2, max_lag=1)
    rho, rho_v = _Corr(s, s.latent())((0, 1))
    np.testing.assert_allclose(rho, 0.0, atol=0.12)
    np.testing.assert_allclose(rho_v, 0.0, atol=0.12)
    st = s.stats
    pooled = (st["l_yy"][..., 0] - st["y"] ** 2) / (st["y2"] - st["y"] ** 2)
    assert float(pooled.min()) > 0.3  # what the position means alone would give


@pytest.mark.parametrize("mode", ["run", "local"])
def test_last_maxpool_of_a_stack_matches_monte_carlo(mode):
    # after pool -> conv, borders give every position its own mean; read as neighbour
    # correlation they made the empirical predictor 18-32% high on this net
    from smpfast.model.validate import measure_net, report

    net = nets.Sequential([nets.Conv2d(1, 3, 3, padding=1), nets.ReLU(), nets.MaxPool2d(2),
                           nets.Conv2d(3, 4, 3, padding=1), nets.ReLU(), nets.MaxPool2d(2)],
                          seed=2)
    meas = measure_net(net, (1, 8, 8), 150, 24, seed=3)
    row = report(net, meas, "empirical", mode, "linear").rows[-1]
    assert abs(row["rel_error"]) < 0.06, row


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="n_bins"):
        MomentAccumulator(n_bins=0)
    with pytest.raises(ValueError, match="max_lag"):
        MomentAccumulator(max_lag=-1)
    with pytest.raises(ValueError, match="x must have shape"):
        moments(np.zeros((10, 3)))
    with pytest.raises(ValueError, match="T = 5"):
        moments(np.zeros((4, 2, 1)))
    with pytest.raises(TypeError, match="float32 or float64"):
        moments(np.zeros((8, 2, 1), dtype=np.int64))
    s = moments(np.zeros((8, 2, 1)))
    with pytest.raises(ValueError, match="mode"):
        predict(nets.ReLU(), s, "peaks", (1,))
    with pytest.raises(ValueError, match="block"):
        predict(object(), s, "run", (1,))
    with pytest.raises(ValueError, match="path"):
        analytic.input_summary("brownian", (1,), 10)


# ----------------------------------------------------------------------------- properties
@settings(max_examples=12, deadline=None)
@given(scale=st.floats(0.05, 20.0), mean=st.floats(-2.0, 2.0))
def test_predictions_are_positively_homogeneous(scale, mean):
    # SMP(c y) = |c| SMP(y): scaling the input distribution scales every prediction
    T, shape = 24, (1, 4, 4)
    base = analytic.input_summary("linear", shape, T, path_kwargs={"mean": mean, "std": 1.0})
    scaled = analytic.input_summary("linear", shape, T,
                                    path_kwargs={"mean": mean * scale, "std": scale})
    for block in (nets.ReLU(), nets.MaxPool2d(2), nets.LeakyReLU(0.3)):
        for mode in ("run", "local"):
            p0 = predict(block, base, mode, shape).overall_mean
            p1 = predict(block, scaled, mode, shape).overall_mean
            assert p1 == pytest.approx(scale * p0, rel=1e-6)
