"""A generated example: SMP of a random one-hidden-layer ReLU network along linear paths.

Along a linear path ``x(t) = x_a + t (x_b - x_a) / (T - 1)`` hidden unit ``i`` of
``y = sum_i w_i relu(a_i + b_i t)`` is piecewise linear with one kink at
``t_i = -a_i / b_i``, where the slope of ``y`` changes by ``|w_i b_i|``. Run-mode SMP of
``y`` therefore equals the sum of ``|w_i b_i|`` over the kinks inside the path, as long
as kinks do not fall within two samples of each other; the demo checks that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import measure
from ._progress import Progress


@dataclass
class DemoResult:
    """Measured and exact SMP of the demo network's outputs."""

    n_outputs: int
    frames: int
    seconds: float
    smp_run_mean: float
    smp_local_mean: float
    exact_run_mean: float
    max_rel_error_isolated: float
    n_isolated: int
    peaks_per_output: float


def relu_paths(
    n_outputs: int, frames: int, hidden: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outputs ``(frames, n_outputs)`` float64, kink positions and slope changes per unit."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames, dtype=np.float64)
    kink_at = rng.uniform(-0.1 * frames, 1.1 * frames, size=(n_outputs, hidden))
    slope = rng.normal(size=(n_outputs, hidden))
    weight = rng.normal(size=(n_outputs, hidden))
    offset = -slope * kink_at
    pre = offset[None, :, :] + slope[None, :, :] * t[:, None, None]
    y = np.einsum("toh,oh->to", np.maximum(pre, 0.0), weight)
    return y, kink_at, np.abs(weight * slope)


def run_demo(
    n_outputs: int = 20000,
    frames: int = 256,
    hidden: int = 4,
    seed: int = 0,
    chunk: int = 2000,
    progress: bool | None = None,
) -> DemoResult:
    """Measure SMP of the demo network's outputs in chunks, with a progress bar."""
    import time

    start = time.perf_counter()
    run_sum = local_sum = exact_sum = 0.0
    peaks = 0
    worst = 0.0
    isolated = 0
    with Progress(n_outputs, "smpfast demo", enabled=progress) as bar:
        for first in range(0, n_outputs, chunk):
            n = min(chunk, n_outputs - first)
            y, kink_at, change = relu_paths(n, frames, hidden, seed + first)
            smp_run, count = measure.smp_and_count(y, axis=0, mode="run")
            smp_local = measure.smp(y, axis=0, mode="local")
            # kinks that both of their d samples see, and kinks the path partly sees
            inside = (kink_at > 1.0) & (kink_at < frames - 2.0)
            edge = ~inside & (kink_at > -1.0) & (kink_at < frames)
            exact = np.where(inside, change, 0.0).sum(axis=1)
            gaps = np.diff(np.sort(np.where(inside, kink_at, np.nan), axis=1), axis=1)
            alone = ~edge.any(axis=1) & np.all(np.isnan(gaps) | (gaps >= 2.0), axis=1)
            alone &= exact > 0
            if alone.any():
                err = np.abs(smp_run[alone] - exact[alone]) / exact[alone]
                worst = max(worst, float(err.max()))
                isolated += int(alone.sum())
            run_sum += float(smp_run.sum())
            local_sum += float(smp_local.sum())
            exact_sum += float(exact.sum())
            peaks += int(count.sum())
            bar.update(n)
    return DemoResult(
        n_outputs=n_outputs,
        frames=frames,
        seconds=time.perf_counter() - start,
        smp_run_mean=run_sum / n_outputs,
        smp_local_mean=local_sum / n_outputs,
        exact_run_mean=exact_sum / n_outputs,
        max_rel_error_isolated=worst,
        n_isolated=isolated,
        peaks_per_output=peaks / n_outputs,
    )
