"""Analytic propagation of cross-covariances: max pooling, convs on pooled inputs, borders.

Each check compares the analytic model against a small Monte Carlo of the same Gaussian
model (or of the network itself).
"""

from __future__ import annotations

import numpy as np
import pytest

from smpfast import nets, paths
from smpfast.model import analytic
from smpfast.model.moments import moments

ELEMS = [(0, 0), (0, 1), (1, 0), (1, 1)]


def _window_model(rng: np.random.Generator, C: int, R: int = 4) -> tuple[
    analytic.XCov, np.ndarray, np.ndarray,
]:
    """Latent Cov(z_c(p), z_d(p + o)) of z = conv of white noise (3x3, C outputs)."""
    w = rng.standard_normal((C, 3, 3))
    xc = analytic.XCov(R, 2, np.zeros(0), None)
    tab = np.zeros((len(xc.offsets), 1, C, C))
    for i, (oy, ox) in enumerate(xc.offsets):
        for c in range(C):
            for d in range(C):
                acc = 0.0
                for ty in range(3):
                    for tx in range(3):
                        uy, ux = ty - oy, tx - ox
                        if 0 <= uy < 3 and 0 <= ux < 3:
                            acc += w[c, ty, tx] * w[d, uy, ux]
                tab[i, 0, c, d] = acc
    xc.yy = tab
    xc.lat = tab
    return xc, w, tab


def _sample_field(w: np.ndarray, n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """z_c(p) = sum_t w_c(t) e(p + t) for white e: shape (n, C, size, size)."""
    e = rng.standard_normal((n, size + 2, size + 2))
    C = w.shape[0]
    z = np.zeros((n, C, size, size))
    for ty in range(3):
        for tx in range(3):
            z += w[None, :, ty, tx, None, None] * e[:, None, ty:ty + size, tx:tx + size]
    return z


@pytest.mark.parametrize("rect", [True, False])
def test_pool_qmc_matches_monte_carlo(rect: bool) -> None:
    rng = np.random.default_rng(3)
    C = 2
    xc, w, tab = _window_model(rng, C)
    m = np.array([[0.3], [-0.2]])
    s = np.sqrt(np.array([[tab[xc.index((0, 0)), 0, c, c]] for c in range(C)]))
    m = m * s
    q = analytic._PoolQMC(m, s, np.full((C, 1), rect), xc, tab, ELEMS, (2, 2))
    single = q.single()
    # Monte Carlo: pooled outputs of the sampled field, windows at stride 2
    z = _sample_field(w, 4000, 8, rng) + m[None, :, 0, None, None]
    M = z.reshape(4000, C, 4, 2, 4, 2).max(axis=(3, 5))
    Y = np.maximum(M, 0.0) if rect else M
    mc_mean = Y.mean(axis=(0, 2, 3))
    mc_var = Y.var(axis=(0, 2, 3))
    np.testing.assert_allclose(single["y"][:, 0], mc_mean, rtol=0.02)
    np.testing.assert_allclose(single["y2"][:, 0] - single["y"][:, 0] ** 2, mc_var, rtol=0.04)
    # P(i is the max) sums to one
    np.testing.assert_allclose(single["w"].sum(axis=0), 1.0, atol=1e-12)
    Yc = Y - Y.mean(axis=(0, 2, 3), keepdims=True)
    sd = np.sqrt(mc_var)
    for off in ((0, 0), (0, 1), (1, 0), (1, -1)):
        pc = q.pair_cov(off)["cov"][0]
        oy, ox = off
        a = Yc[:, :, max(0, -oy):4 - max(0, oy), max(0, -ox):4 - max(0, ox)]
        b = Yc[:, :, max(0, oy):4 - max(0, -oy), max(0, ox):4 - max(0, -ox)]
        mc = np.einsum("ncij,ndij->cd", a, b) / (a.shape[0] * a.shape[2] * a.shape[3])
        # correlations within 0.03 (the Monte Carlo's own error is about 0.01)
        np.testing.assert_allclose(pc / np.outer(sd, sd), mc / np.outer(sd, sd), atol=0.03)


def test_linear_xcov_is_exact_on_white_input() -> None:
    net = nets.Sequential([nets.Conv2d(1, 3, 3, padding=1, bias=False), nets.ReLU()], seed=2)
    sums = analytic.summaries(net, (1, 10, 10), 16, path="gaussian", n_bins=2)
    xc = sums[1].cache[analytic.XCOV_KEY]
    w = np.asarray(net.blocks[0].weight, np.float64)[:, 0]
    frac = analytic._border_var_factor(
        net.blocks[0], (1, 10, 10), (3, 10, 10),
        [(i, j) for i in range(3) for j in range(3)])
    for off in ((0, 1), (1, -1), (2, 2)):
        exact = np.zeros((3, 3))
        for c in range(3):
            for d in range(3):
                for ty in range(3):
                    for tx in range(3):
                        uy, ux = ty - off[0], tx - off[1]
                        if 0 <= uy < 3 and 0 <= ux < 3:
                            exact[c, d] += w[c, ty, tx] * w[d, uy, ux]
        np.testing.assert_allclose(xc.get("yy", off)[0], exact * frac, rtol=1e-10, atol=1e-12)
    assert not np.any(xc.get("yy", (3, 0)))


def _measured(net: nets.Sequential, shape: tuple[int, ...], n: int, T: int) -> list[object]:
    rng = np.random.default_rng(11)
    x = paths.random_gaussian(n, shape, T, rng=rng, length_scale=4.0)
    outs = net.forward_all(x.reshape(T * n, *shape))
    ins = [x] + [o.reshape(T, n, *o.shape[1:]) for o in outs[:-1]]
    return [moments(a, n_bins=1, max_lag=2) for a in ins]


def test_conv_on_pooled_input_value_variance() -> None:
    """Value variance after a conv on a pooled input, and the ReLU's mixture over borders."""
    net = nets.Sequential([
        nets.Conv2d(1, 3, 3, padding=1), nets.ReLU(), nets.MaxPool2d(2),
        nets.Conv2d(3, 4, 3, padding=1), nets.ReLU(), nets.MaxPool2d(2),
    ], seed=1)
    shape, T = (1, 12, 12), 24
    ana = analytic.summaries(net, shape, T, path="gaussian",
                             path_kwargs={"length_scale": 4.0}, n_bins=1)
    mea = _measured(net, shape, 120, T)
    for b in (3, 4):  # the pooled input of the second conv, and its output
        a, m = ana[b].stats, mea[b].stats  # type: ignore[attr-defined]
        var_a = a["y2"] - a["y"] ** 2
        within_m = m["y2"] - m["y2_0"]
        np.testing.assert_allclose(var_a[:, 0], within_m[:, 0], rtol=0.08)
    # the ReLU output mixes the border positions' means: total value moments agree
    a, m = ana[5].stats, mea[5].stats  # type: ignore[attr-defined]
    np.testing.assert_allclose(a["pos"][:, 0], m["pos"][:, 0], atol=0.03)
    busy = m["pos"][:, 0] > 0.2  # channels mostly below 0: too few positive samples
    assert busy.sum() >= 2
    np.testing.assert_allclose(a["y2"][busy, 0], m["y2"][busy, 0], rtol=0.08)
    np.testing.assert_allclose(a["y2_0"][busy, 0], m["y2_0"][busy, 0], rtol=0.1)


def test_xcov_validation() -> None:
    xc = analytic.XCov(1, 1, np.zeros((3, 1, 1, 1)), None)
    assert xc.index((2,)) is None
    with pytest.raises(ValueError, match="which"):
        xc.get("lat", (0,))
