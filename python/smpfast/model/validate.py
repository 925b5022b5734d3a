"""Predicted vs measured SMP per block of a network: :func:`validate` and its report.

The measurement feeds random paths through the network chunk by chunk (``forward_all``),
takes the SMP of every block output along the path axis in both peak modes, and
accumulates, in the same pass, the :class:`~smpfast.model.moments.Summary` of every
block input (what the empirical-moments predictor sees). The analytic predictor sees the
path distribution and the weights only (:mod:`smpfast.model.analytic`).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _validate, measure
from .._progress import Progress
from . import analytic
from .blocks import Prediction, predict
from .moments import DEFAULT_BINS, MomentAccumulator, Summary

PATHS = ("linear", "gaussian")
METHODS = ("analytic", "empirical")
MODES = ("run", "local")
#: SMP values kept per block and mode for the histograms.
HIST_SAMPLES = 4000

ROW_KEYS = (
    "block", "index", "predicted_mean", "measured_mean", "measured_sem", "rel_error",
    "predicted_std", "measured_std",
)


@dataclass
class BlockMeasure:
    """Running SMP statistics of one block output in one mode."""

    total: float = 0.0
    total_sq: float = 0.0
    count: int = 0
    path_means: list[np.ndarray] = field(default_factory=list)
    samples: list[np.ndarray] = field(default_factory=list)
    abs_out: float = 0.0

    def add(self, smp: np.ndarray, rng: np.random.Generator, keep: int) -> None:
        """Add the SMP of a chunk, shape (n_chunk, *out_shape)."""
        flat = smp.reshape(smp.shape[0], -1)
        self.total += float(flat.sum())
        self.total_sq += float((flat * flat).sum())
        self.count += flat.size
        self.path_means.append(flat.mean(axis=1))
        take = min(keep, flat.size)
        if take:
            self.samples.append(rng.choice(flat.reshape(-1), size=take, replace=False))

    @property
    def mean(self) -> float:
        """Mean SMP over paths and elements."""
        return self.total / max(self.count, 1)

    @property
    def std(self) -> float:
        """Standard deviation of SMP over paths and elements."""
        return math.sqrt(max(self.total_sq / max(self.count, 1) - self.mean**2, 0.0))

    @property
    def sem(self) -> float:
        """Standard error of the mean, from the per-path means (elements of a path correlate)."""
        pm = np.concatenate(self.path_means) if self.path_means else np.zeros(0)
        if pm.size < 2:
            return float("nan")
        return float(pm.std(ddof=1) / math.sqrt(pm.size))


@dataclass
class Measurement:
    """Everything one measuring pass gives: per-block SMP statistics and input summaries."""

    names: list[str]
    shapes: list[tuple[int, ...]]
    input_shape: tuple[int, ...]
    T: int
    n_paths: int
    stats: dict[str, list[BlockMeasure]]
    summaries: list[Summary]
    floors: list[float]
    dtype: np.dtype[Any]


def _gen_paths(
    path: str, n: int, shape: tuple[int, ...], T: int, rng: np.random.Generator,
    kwargs: dict[str, Any], dtype: np.dtype[Any],
) -> np.ndarray:
    from .. import paths as _paths

    mean = float(kwargs.get("mean", 0.0))
    std = float(kwargs.get("std", 1.0))
    if path == "linear":
        return _paths.random_linear(n, shape, T, rng, mean=mean, std=std, dtype=dtype)
    return _paths.random_gaussian(
        n, shape, T, rng, length_scale=float(kwargs.get("length_scale", 8.0)), mean=mean,
        std=std, dtype=dtype,
    )


def measure_net(
    net: Any,
    input_shape: Sequence[int],
    n_paths: int,
    T: int,
    *,
    path: str = "linear",
    path_kwargs: dict[str, Any] | None = None,
    seed: int = 0,
    chunk_paths: int | None = None,
    n_bins: int = DEFAULT_BINS,
    max_lag: int = 1,
    progress: bool | None = False,
    summaries: bool = True,
) -> Measurement:
    """Measure SMP per block in both modes and summarise every block input (one pass).

    Examples
    --------
    >>> from smpfast import nets
    >>> m = measure_net(nets.Sequential([nets.ReLU()]), (2, 3), 8, 16)
    >>> m.stats["run"][0].count
    48
    """
    _validate.choice(path, PATHS, "path")
    shape = tuple(int(s) for s in input_shape)
    if n_paths < 2:
        raise ValueError(f"n_paths must be at least 2; got {n_paths}")
    if T < 5:
        raise ValueError(f"T must be at least 5; got {T}")
    kwargs = dict(path_kwargs or {})
    unknown = set(kwargs) - {"mean", "std", "length_scale"}
    if unknown:
        raise ValueError(f"path_kwargs: unknown keys {sorted(unknown)}")
    dtype = np.dtype(getattr(net, "dtype", np.float64))
    out_shapes = [tuple(s) for s in net.output_shapes(shape)]
    names = [b.name for b in net.blocks]
    per_path = T * (int(np.prod(shape)) + sum(int(np.prod(s)) for s in out_shapes)) * 8
    if chunk_paths is None:
        chunk_paths = max(1, min(n_paths, int(64e6 // max(per_path * 4, 1))))
    rng = np.random.default_rng(seed)
    keep_rng = np.random.default_rng([seed, 1])
    stats = {m: [BlockMeasure() for _ in names] for m in MODES}
    accs = [MomentAccumulator(n_bins=n_bins, max_lag=max_lag) for _ in names]
    abs_out = [0.0 for _ in names]
    n_chunks = math.ceil(n_paths / chunk_paths)
    keep = max(1, HIST_SAMPLES // n_chunks)
    done = 0
    with Progress(n_paths, "measure", enabled=progress) as bar:
        while done < n_paths:
            n = min(chunk_paths, n_paths - done)
            x = _gen_paths(path, n, shape, T, rng, kwargs, dtype)
            outs = net.forward_all(x.reshape(T * n, *shape))
            inputs = [x] + [o.reshape(T, n, *s) for o, s in zip(outs[:-1], out_shapes[:-1],
                                                                strict=True)]
            for i, (o, s) in enumerate(zip(outs, out_shapes, strict=True)):
                y = o.reshape(T, n, *s)
                abs_out[i] += float(np.abs(y).mean()) * n
                for mode in MODES:
                    stats[mode][i].add(measure.smp(y, axis=0, mode=mode), keep_rng, keep)
                if summaries:
                    xin = inputs[i]
                    accs[i].add(xin if xin.ndim >= 3 else xin[..., None])
            done += n
            bar.update(n)
    eps = float(np.finfo(dtype).eps)
    floors = [1e3 * eps * T * a / n_paths for a in abs_out]
    sums = [a.summary() for a in accs] if summaries else []
    return Measurement(
        names=names, shapes=out_shapes, input_shape=shape, T=T, n_paths=n_paths, stats=stats,
        summaries=sums, floors=floors, dtype=dtype,
    )


@dataclass
class ValidationReport:
    """Predicted vs measured SMP per block (:func:`validate`).

    ``rows`` is a list of dicts, one per block, with the keys ``block``, ``index``,
    ``predicted_mean``, ``measured_mean``, ``measured_sem``, ``rel_error``,
    ``predicted_std``, ``measured_std`` (and ``zero``: True where both prediction and
    measurement are at the noise floor, so ``rel_error`` is 0 by definition).
    """

    rows: list[dict[str, Any]]
    mode: str
    method: str
    path: str
    n_paths: int
    T: int
    samples: list[np.ndarray] = field(default_factory=list)

    def to_markdown(self) -> str:
        """The rows as a Markdown table."""
        head = (
            f"method={self.method}, mode={self.mode}, path={self.path}, "
            f"n_paths={self.n_paths}, T={self.T}\n\n"
            "| # | block | predicted | measured | sem | rel. error | pred. std | meas. std |\n"
            "| --- | --- | --- | --- | --- | --- | --- | --- |\n"
        )
        lines = [
            f"| {r['index']} | {r['block']} | {r['predicted_mean']:.4g} | "
            f"{r['measured_mean']:.4g} | {r['measured_sem']:.2g} | "
            f"{_fmt_rel(r['rel_error'])} | {r['predicted_std']:.4g} | {r['measured_std']:.4g} |"
            for r in self.rows
        ]
        return head + "\n".join(lines) + "\n"

    def plot(self, path: str | os.PathLike[str]) -> list[str]:
        """Write a PNG: predicted vs measured per block (error bars) and SMP histograms.

        The histograms overlay the predicted distribution, drawn as a Gamma density with
        the predicted mean and standard deviation. Returns the written file names.
        """
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        n = len(self.rows)
        fig = plt.figure(figsize=(max(6.0, 2.2 * n), 6.5))
        ax = fig.add_subplot(2, 1, 1)
        idx = np.arange(n)
        meas = np.array([r["measured_mean"] for r in self.rows])
        sem = np.array([r["measured_sem"] for r in self.rows])
        pred = np.array([r["predicted_mean"] for r in self.rows])
        ax.errorbar(idx, meas, yerr=2 * np.nan_to_num(sem), fmt="o", label="measured (2 sem)")
        ax.plot(idx, pred, "x", ms=10, label=f"predicted ({self.method})")
        ax.set_xticks(idx, [f"{r['index']}:{r['block']}" for r in self.rows], fontsize=8)
        ax.set_ylabel(f"mean SMP ({self.mode})")
        ax.legend(fontsize=8)
        for i, r in enumerate(self.rows):
            axh = fig.add_subplot(2, n, n + i + 1)
            data = self.samples[i] if i < len(self.samples) else np.zeros(0)
            if data.size and float(data.max()) > 0:
                axh.hist(data, bins=40, density=True, alpha=0.6)
                m, sd = r["predicted_mean"], r["predicted_std"]
                if m > 0 and sd > 0:
                    xs = np.linspace(float(data.max()) / 400, float(data.max()), 200)
                    axh.plot(xs, _gamma_pdf(xs, m, sd), "r-", lw=1)
            axh.set_title(f"{r['index']}:{r['block']}", fontsize=8)
            axh.tick_params(labelsize=6)
        fig.tight_layout()
        out = os.fspath(path)
        _atomic_savefig(fig, out)
        plt.close(fig)
        return [out]


def _gamma_pdf(x: np.ndarray, mean: float, sd: float) -> np.ndarray:
    """Gamma density with the given mean and standard deviation."""
    k = (mean / sd) ** 2
    theta = sd * sd / mean
    logp = (k - 1) * np.log(x) - x / theta - math.lgamma(k) - k * math.log(theta)
    return np.asarray(np.exp(logp))


def _fmt_rel(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{100 * x:+.2f}%"


def _atomic_savefig(fig: Any, out: str) -> None:
    d = os.path.dirname(os.path.abspath(out))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".png", dir=d)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=90, format="png")
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def predictions(
    net: Any, meas: Measurement, method: str, mode: str, path: str,
    path_kwargs: dict[str, Any] | None = None,
) -> list[Prediction]:
    """Per-block predictions for a measurement, by ``method`` in ``mode``."""
    _validate.choice(method, METHODS, "method")
    _validate.choice(mode, MODES, "mode")
    in_shapes = [meas.input_shape, *meas.shapes[:-1]]
    if method == "empirical":
        sums = meas.summaries
    else:
        sums = analytic.summaries(
            net, meas.input_shape, meas.T, path=path, path_kwargs=path_kwargs,
            n_bins=meas.summaries[0].n_bins if meas.summaries else DEFAULT_BINS,
        )
    return [
        predict(b, s, mode, sh)
        for b, s, sh in zip(net.blocks, sums, in_shapes, strict=True)
    ]


def report(
    net: Any, meas: Measurement, method: str, mode: str, path: str,
    path_kwargs: dict[str, Any] | None = None,
) -> ValidationReport:
    """Build the report of a measurement for one method and mode."""
    preds = predictions(net, meas, method, mode, path, path_kwargs)
    rows = []
    samples = []
    for i, (name, p, st, floor) in enumerate(
        zip(meas.names, preds, meas.stats[mode], meas.floors, strict=True)
    ):
        pm, mm = p.overall_mean, st.mean
        zero = pm <= floor and mm <= floor
        if zero:
            rel = 0.0
        elif mm > 0:
            rel = pm / mm - 1.0
        else:
            rel = math.inf
        rows.append({
            "block": name, "index": i, "predicted_mean": pm, "measured_mean": mm,
            "measured_sem": st.sem, "rel_error": rel, "predicted_std": p.overall_std,
            "measured_std": st.std, "zero": zero,
        })
        samples.append(np.concatenate(st.samples) if st.samples else np.zeros(0))
    return ValidationReport(
        rows=rows, mode=mode, method=method, path=path, n_paths=meas.n_paths, T=meas.T,
        samples=samples,
    )


def validate(
    net: Any,
    input_shape: Sequence[int],
    n_paths: int,
    T: int,
    path: str = "linear",
    mode: str = "run",
    method: str = "analytic",
    seed: int = 0,
    *,
    path_kwargs: dict[str, Any] | None = None,
    chunk_paths: int | None = None,
    progress: bool | None = False,
) -> ValidationReport:
    """Compare predicted and measured SMP for every block of ``net``.

    Parameters
    ----------
    net : smpfast.nets.Sequential
        The network.
    input_shape : tuple of int
        Per-path input shape (without the path or batch axis).
    n_paths : int
        Random paths to measure (>= 2).
    T : int
        Path length (>= 5).
    path : {"linear", "gaussian"}
        ``paths.random_linear`` or ``paths.random_gaussian`` (``path_kwargs``: ``mean``,
        ``std``, ``length_scale``; defaults 0, 1, 8).
    mode : {"run", "local"}
        Peak mode.
    method : {"analytic", "empirical"}
        The analytic predictor (path distribution + weights) or the empirical-moments one
        (the measured summary of each block input + weights).
    seed : int
        Seed of the paths.

    Returns
    -------
    ValidationReport

    Examples
    --------
    >>> from smpfast import nets
    >>> net = nets.Sequential([nets.Conv2d(1, 2, 3, padding=1), nets.ReLU()], seed=0)
    >>> rep = validate(net, (1, 6, 6), 64, 24, method="empirical")
    >>> [r["block"] for r in rep.rows]
    ['conv2d', 'relu']
    >>> rep.rows[0]["measured_mean"] < 1e-12
    True
    """
    _validate.choice(mode, MODES, "mode")
    _validate.choice(method, METHODS, "method")
    meas = measure_net(
        net, input_shape, n_paths, T, path=path, path_kwargs=path_kwargs, seed=seed,
        chunk_paths=chunk_paths, progress=progress, summaries=method == "empirical",
    )
    return report(net, meas, method, mode, path, path_kwargs)
