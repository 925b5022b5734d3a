"""smpfast.model: per-position-class statistics and the max-pool predictor that uses them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smpfast import nets, paths
from smpfast.model import blocks, moments, predict
from smpfast.model.blocks import (
    _class_heterogeneity,
    _class_latent,
    _class_samples,
    _curvature_lags,
    _has_classes,
)
from smpfast.model.moments import (
    CLASS_BORDER,
    CLASS_STATS,
    POS_PAIR_STATS,
    Summary,
    position_classes,
)
from smpfast.model.validate import Measurement, measure_net, report

NEW_KEYS = (*("cls_" + k for k in CLASS_STATS), "cls_w", *POS_PAIR_STATS)


def _strip(s: Summary, keys: tuple[str, ...] = NEW_KEYS) -> Summary:
    """The summary without the given statistics (as an analytic summary has them)."""
    stats = {k: v for k, v in s.stats.items() if k not in keys}
    return Summary(T=s.T, shape=s.shape, n_bins=s.n_bins, lags=s.lags, stats=stats,
                   dtype=s.dtype, n_signals=s.n_signals)


def _rectified_input(seed: int, n: int = 6) -> np.ndarray:
    """A padded conv + ReLU output on quadratic paths: (T, n, C, H, W), positions differ."""
    rng = np.random.default_rng(seed)
    T, H = 12, 6
    a = rng.standard_normal((n, 1, H, H))
    b = rng.standard_normal((n, 1, H, H))
    c = rng.standard_normal((n, 1, H, H))
    tau = np.linspace(0.0, 1.0, T)[:, None, None, None, None]
    x = a + b * tau + c * tau**2
    conv = nets.Conv2d(1, 2, 3, padding=1, weight=rng.standard_normal((2, 1, 3, 3)),
                       bias_value=np.array([0.3, -0.2]))
    y = conv.forward(x.reshape(T * n, 1, H, H)).reshape(T, n, 2, H, H)
    return np.asarray(np.maximum(y, 0.0))


def test_position_classes_split_borders_and_interior() -> None:
    assert position_classes((6,), 2).tolist() == [0, 1, 2, 2, 3, 4]
    assert position_classes((4,), 2).tolist() == [0, 1, 3, 4]
    cls = position_classes((5, 5), 1)
    assert cls[0, 0] == 0 and cls[0, 4] == 2 and cls[4, 0] == 6 and cls[2, 2] == 4
    assert set(np.unique(cls).tolist()) == set(range(9))
    with pytest.raises(ValueError, match="border"):
        position_classes((3,), -1)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(0, 3))
def test_position_classes_are_fixed_in_number_and_mirror_symmetric(h: int, w: int,
                                                                   b: int) -> None:
    cls = position_classes((h, w), b)
    assert cls.min() >= 0 and cls.max() < (2 * b + 1) ** 2
    per = 2 * b + 1
    row, col = cls // per, cls % per
    # mirrored positions get mirrored classes unless they tie (the start side wins)
    for i in range(h):
        j = h - 1 - i
        if i != j and min(i, j) < b:
            assert row[i, 0] + row[j, 0] == 2 * b
    for j in range(w):
        if j < b and j <= w - 1 - j:
            assert np.all(col[:, j] == j)
        elif w - 1 - j < b:
            assert np.all(col[:, j] == 2 * b - (w - 1 - j))
        else:
            assert np.all(col[:, j] == b)


def test_class_statistics_match_a_direct_computation() -> None:
    x = _rectified_input(0)
    s = moments(x, n_bins=2, max_lag=1)
    T = x.shape[0]
    cls = position_classes(x.shape[3:])
    bins = np.minimum((np.arange(1, T - 1) * 2) // (T - 1), 1)
    y = x[1:-1]
    v = 0.5 * (x[2:] - x[:-2])
    d = x[2:] - 2 * x[1:-1] + x[:-2]
    p3 = (x[2:] > 0) & (x[1:-1] > 0) & (x[:-2] > 0)
    ad = np.abs(d)
    peak = np.zeros_like(ad, dtype=bool)
    peak[1:-1] = (ad[1:-1] > ad[:-2]) & (ad[1:-1] >= ad[2:]) & (ad[1:-1] > 0)
    direct = {
        "y2": y * y, "pos": (y > 0) * 1.0, "yv_p": y * v * (y > 0), "d_abs_p": ad * p3,
        "pk_p": ad * peak * p3, "zero": (y == 0) * 1.0,
    }
    for name, val in direct.items():
        for c in np.unique(cls):
            sel = val[..., cls == c]  # (T-2, n, C, n_in_class)
            for k in range(2):
                ref = sel[bins == k].mean(axis=(0, 1, 3))
                np.testing.assert_allclose(s["cls_" + name][:, k, c], ref, rtol=1e-10,
                                           atol=1e-14, err_msg=name)
    n_cls = (2 * CLASS_BORDER + 1) ** 2
    assert s["cls_y"].shape == (2, 2, n_cls)
    np.testing.assert_allclose(s["cls_w"], np.bincount(cls.ravel(), minlength=n_cls) / cls.size)
    # the positive part's lag-1 curvature product over the pairs inside the path
    both = p3[:-1] & p3[1:]
    prod = (d[:-1] * d[1:] * both).mean(axis=(1, 3, 4))  # (T-3, C)
    cnt = both.mean(axis=(1, 3, 4))
    for k in range(2):
        sel = bins[:-1] == k
        np.testing.assert_allclose(s["dd1_p3"][:, k], prod[sel].mean(axis=0), rtol=1e-10)
        np.testing.assert_allclose(s["p3_1"][:, k], cnt[sel].mean(axis=0), rtol=1e-10)


def test_summary_size_does_not_depend_on_the_grid() -> None:
    rng = np.random.default_rng(1)
    small = moments(rng.standard_normal((9, 3, 2, 4, 5)), n_bins=3)
    large = moments(rng.standard_normal((9, 3, 2, 11, 7)), n_bins=3)
    for k in NEW_KEYS:
        assert small[k].shape == large[k].shape, k


def test_predictions_without_the_new_statistics_use_the_pooled_path() -> None:
    x = _rectified_input(2, n=40)
    s = moments(x, n_bins=4, max_lag=1)
    bare = _strip(s)
    assert _has_classes(s, x.shape[3:]) and not _has_classes(bare, x.shape[3:])
    # blocks other than max pooling never read the new statistics
    for block in (nets.ReLU(), nets.Conv2d(2, 3, 3, padding=1), nets.Tanh()):
        b = nets.Sequential([block], seed=0).blocks[0]
        for mode in ("run", "local"):
            p1 = predict(b, s, mode, x.shape[2:])
            p2 = predict(b, bare, mode, x.shape[2:])
            np.testing.assert_array_equal(p1.mean, p2.mean)
            np.testing.assert_array_equal(p1.second, p2.second)
    # max pooling: the pooled path is deterministic in the pooled statistics only, so
    # adding unrelated keys to a stripped summary changes nothing
    pool = nets.MaxPool2d(2)
    extra = _strip(s)
    extra.stats["unrelated"] = np.ones(3)
    for mode in ("run", "local"):
        np.testing.assert_array_equal(predict(pool, bare, mode, x.shape[2:]).mean,
                                      predict(pool, extra, mode, x.shape[2:]).mean)
    # the curvature lags fall back to all samples without the positive-part products
    r1_all = _curvature_lags(bare)[0]
    r1_pos = _curvature_lags(s)[0]
    assert r1_all.shape == r1_pos.shape == (2,)


def test_equal_classes_give_the_pooled_run_mode_prediction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # every class carrying the pooled statistics: the class path (forced) is the pooled
    # model
    monkeypatch.setattr(blocks, "CLASS_HETEROGENEITY", -1.0)
    x = _rectified_input(3, n=60)
    s = moments(x, n_bins=4, max_lag=1)
    eq = dict(s.stats)
    for k in CLASS_STATS:
        eq["cls_" + k] = np.broadcast_to(s[k][..., None], s["cls_" + k].shape).copy()
    s_eq = Summary(T=s.T, shape=s.shape, n_bins=s.n_bins, lags=s.lags, stats=eq,
                   dtype=s.dtype, n_signals=s.n_signals)
    pool = nets.MaxPool2d(2)
    p_eq = predict(pool, s_eq, "run", x.shape[2:])
    p_pooled = predict(pool, _strip(s), "run", x.shape[2:])
    np.testing.assert_allclose(p_eq.mean, p_pooled.mean, rtol=2e-3)


def _heterogeneity(s: Summary, sizes: tuple[int, ...]) -> float:
    lat = s.latent()
    lat_c = _class_latent({k: s["cls_" + k] for k in CLASS_STATS}, lat,
                          _class_samples(s, sizes))
    return _class_heterogeneity(s, lat, lat_c, sizes)


def test_class_spread_is_shrunk_toward_the_pooled_one_by_its_samples() -> None:
    x = _rectified_input(5, n=30)
    s = moments(x, n_bins=2, max_lag=1)
    lat = s.latent()
    cls_st = {k: s["cls_" + k] for k in CLASS_STATS}
    own = _class_latent(cls_st, lat)
    used = np.unique(position_classes(x.shape[3:]))
    pooled_s = np.broadcast_to(lat["s"][..., None], own["s"].shape)
    few = _class_latent(cls_st, lat, np.full(own["s"].shape[-1], 1e-6))
    many = _class_latent(cls_st, lat, np.full(own["s"].shape[-1], 1e12))
    np.testing.assert_allclose(few["s"][..., used], pooled_s[..., used], rtol=1e-6)
    np.testing.assert_allclose(many["s"][..., used], own["s"][..., used], rtol=1e-6)
    # a rectified class keeps its own P(y > 0) = Phi(m / s) whatever the shrinkage
    np.testing.assert_allclose((few["m"] / few["s"])[..., used],
                               (own["m"] / own["s"])[..., used], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("rectify", [False, True])
def test_alike_positions_keep_the_pooled_prediction(rectify: bool) -> None:
    # i.i.d. positions: the classes differ by sampling noise only (heterogeneity ~1-2.5)
    x = paths.random_linear(120, (2, 6, 6), 20, 3)
    if rectify:
        x = np.maximum(x, 0.0)
    s = moments(x, n_bins=4, max_lag=1)
    assert _heterogeneity(s, (6, 6)) < blocks.CLASS_HETEROGENEITY
    pool = nets.MaxPool2d(2)
    for mode in ("run", "local"):
        np.testing.assert_array_equal(predict(pool, s, mode, (2, 6, 6)).mean,
                                      predict(pool, _strip(s), mode, (2, 6, 6)).mean)


def test_padded_conv_relu_positions_are_heterogeneous() -> None:
    # border positions of a padded conv see 4/9 or 6/9 of the taps: their spread is
    # 20-30% lower, far beyond the noise of 400 signals (the statistic grows with n)
    x = _rectified_input(4, n=400)
    s = moments(x, n_bins=4, max_lag=1)
    assert _heterogeneity(s, x.shape[3:]) > 2 * blocks.CLASS_HETEROGENEITY


@pytest.fixture(scope="module")
def stack_measurement() -> tuple[nets.Sequential, Measurement]:
    # conv-ReLU-pool twice on linear paths: the last pool's input positions (corner, edge,
    # centre of a padded 4x4 conv output) differ in mean and spread; the pooled model
    # read -6% in run mode on the E3 quick stack
    net = nets.Sequential([
        nets.Conv2d(1, 3, 3, padding=1), nets.ReLU(), nets.MaxPool2d(2),
        nets.Conv2d(3, 3, 3, padding=1), nets.ReLU(), nets.MaxPool2d(2),
    ], seed=0)
    return net, measure_net(net, (1, 8, 8), 400, 32, seed=1)


@pytest.mark.parametrize("mode", ["run", "local"])
def test_maxpool_of_a_padded_conv_relu_stack_matches_monte_carlo(
    stack_measurement: tuple[nets.Sequential, Measurement], mode: str
) -> None:
    net, meas = stack_measurement
    assert _has_classes(meas.summaries[5], (4, 4))
    row = report(net, meas, "empirical", mode, "linear").rows[5]
    tol = 3 * row["measured_sem"] + 0.03 * row["measured_mean"]
    assert abs(row["predicted_mean"] - row["measured_mean"]) <= tol, row
