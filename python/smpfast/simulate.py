"""Monte Carlo engine: push many smooth paths through a network, measure SMP after every block.

:func:`run` draws ``n_paths`` random input paths (:mod:`smpfast.paths`), feeds them through
a :class:`smpfast.nets.Sequential` block by block and measures, for every output element of
every block (and of the input path itself), the SMP of its signal along the path axis, in
each requested mode. It returns streaming statistics: overall and per channel mean,
standard deviation and standard error, the mean peak count, and on request every SMP value.

Memory is bounded: paths are processed in chunks of ``chunk_paths`` paths (by default as
many as fit in ``max_bytes`` of activations), and only the statistics are kept (Chan's
pairwise merge of per-chunk means and sums of squared deviations, numerically stable).

Reproducibility: paths are drawn in groups of :data:`PATH_GROUP` consecutive paths, group
``g`` from ``np.random.default_rng(np.random.SeedSequence(seed).spawn(n_groups)[g])``, so
path ``i`` depends only on ``seed`` and ``i``: the paths, and the results up to the rounding
of the forward kernels and of the merge order, do not depend on ``chunk_paths`` or
``max_bytes``.

Examples
--------
>>> import numpy as np
>>> from smpfast import nets, simulate
>>> net = nets.Sequential([nets.Conv2d(1, 4, 3, padding=1), nets.ReLU(), nets.MaxPool2d(2)],
...                       seed=0)
>>> res = simulate.run(net, (1, 8, 8), 64, 32, seed=1)
>>> [b.name for b in res.blocks], res.blocks[0].stats["run"].mean < 1e-12
(['conv2d', 'relu', 'max_pool2d'], True)
>>> res.blocks[1].stats["run"].mean > 0, res.blocks[2].stats["local"].channel_mean.shape
(True, (4,))
"""

from __future__ import annotations

import copy
import math
import operator
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _validate, nets, paths
from ._progress import Progress
from .measure import smp_and_count

__all__ = ["PATH_GROUP", "BlockResult", "SMPStats", "SimulationResult", "run"]

#: Paths are drawn in groups of this many consecutive paths, one child seed per group.
PATH_GROUP = 16

#: Activation copies alive at once per path during a forward step (input, output and the
#: kernels' temporaries), used to turn ``max_bytes`` into a chunk size.
_ACTIVATION_COPIES = 3

_PATH_KWARGS = {
    "linear": ("mean", "std", "exact"),
    "gaussian": ("length_scale", "mean", "std"),
    "sinusoid": ("periods", "mean", "std"),
}

Observer = Callable[[int, "nets.Block | None", np.ndarray, np.ndarray], object]
PathFn = Callable[[np.random.Generator, int, int], np.ndarray]


# --------------------------------------------------------------------------- statistics
@dataclass
class SMPStats:
    """SMP statistics of one block output (one mode), over all output elements and paths.

    Attributes
    ----------
    mean, std : float
        Mean and sample standard deviation (ddof=1) of the SMP of all ``n`` signals
        (every output element of every path).
    sem : float
        ``std / sqrt(n)``. Too small as an error bar of ``mean``: the elements of one path
        are correlated (they see the same input path). Use ``sem_paths``.
    sem_paths : float
        Standard deviation (ddof=1) over paths of the per-path mean SMP, divided by
        ``sqrt(n_paths)``: the honest standard error of ``mean`` (paths are independent).
    n : int
        Signals measured: ``n_paths * prod(shape)``.
    n_paths : int
        Paths measured.
    channel_mean, channel_std, channel_sem : numpy.ndarray, (C,)
        The same per channel (axis 0 of the per-path output shape; each feature of a
        flat output); ``channel_sem = channel_std / sqrt(n / C)`` (same caveat as ``sem``).
    channel_sem_paths : numpy.ndarray, (C,)
        Per channel, the standard deviation over paths of the per-path channel mean
        divided by ``sqrt(n_paths)`` (the honest standard error of ``channel_mean``).
    count_mean : float
        Mean number of peaks per signal.
    samples : numpy.ndarray or None
        float64 ``(n_paths, *shape)`` SMP of every signal with ``keep=True``, else None.
    """

    mean: float
    std: float
    sem: float
    sem_paths: float
    n: int
    n_paths: int
    channel_mean: np.ndarray
    channel_std: np.ndarray
    channel_sem: np.ndarray
    channel_sem_paths: np.ndarray
    count_mean: float
    samples: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (``samples`` left out)."""
        return {
            "mean": self.mean,
            "std": self.std,
            "sem": self.sem,
            "sem_paths": self.sem_paths,
            "n": self.n,
            "n_paths": self.n_paths,
            "count_mean": self.count_mean,
            "channel_mean": self.channel_mean.tolist(),
            "channel_std": self.channel_std.tolist(),
            "channel_sem": self.channel_sem.tolist(),
            "channel_sem_paths": self.channel_sem_paths.tolist(),
        }


@dataclass
class BlockResult:
    """Statistics of one block's output (``index`` -1, ``name`` "input": the input path).

    Attributes
    ----------
    index : int
        Block index in the network (-1 for the input path).
    name : str
        ``block.name`` ("input" for the input path).
    shape : tuple of int
        Output shape of one path step (without the path and batch axes).
    stats : dict of str to SMPStats
        By mode ("run", "local").
    block : str
        ``repr`` of the block ("input" for the input path).
    """

    index: int
    name: str
    shape: tuple[int, ...]
    stats: dict[str, SMPStats]
    block: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary."""
        return {
            "index": self.index,
            "name": self.name,
            "block": self.block,
            "shape": list(self.shape),
            "stats": {mode: s.to_dict() for mode, s in self.stats.items()},
        }


@dataclass
class SimulationResult:
    """What :func:`run` returns: per-block statistics and the run's settings.

    Examples
    --------
    >>> from smpfast import nets, simulate
    >>> res = simulate.run(nets.Sequential([nets.ReLU()]), (4,), 20, 16, seed=3)
    >>> res.input_stats.index, res.blocks[0].name, res.n_chunks, sorted(res.blocks[0].stats)
    (-1, 'relu', 1, ['local', 'run'])
    >>> res.to_dict()["blocks"][0]["stats"]["run"]["n"]
    80
    """

    input_stats: BlockResult
    blocks: list[BlockResult]
    n_paths: int
    T: int
    path: str
    path_kwargs: dict[str, Any]
    modes: tuple[str, ...]
    seed: int | None
    dtype: str
    chunk_paths: int
    n_chunks: int
    elapsed: float
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def paths_per_second(self) -> float:
        """Throughput of the run (paths / wall-clock second)."""
        return self.n_paths / self.elapsed if self.elapsed > 0 else math.inf

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary of the run (no samples)."""
        return {
            "n_paths": self.n_paths,
            "T": self.T,
            "path": self.path,
            "path_kwargs": {k: _jsonable(v) for k, v in self.path_kwargs.items()},
            "modes": list(self.modes),
            "seed": self.seed,
            "dtype": self.dtype,
            "chunk_paths": self.chunk_paths,
            "n_chunks": self.n_chunks,
            "elapsed_s": self.elapsed,
            "paths_per_s": self.paths_per_second,
            **self.settings,
            "input": self.input_stats.to_dict(),
            "blocks": [b.to_dict() for b in self.blocks],
        }

    def table(self, mode: str = "run") -> str:
        """A Markdown table of mean +- sem_paths per block for ``mode``.

        Examples
        --------
        >>> from smpfast import nets, simulate
        >>> res = simulate.run(nets.Sequential([nets.ReLU()]), (3,), 32, 16)
        >>> print(res.table().splitlines()[0])
        | index | block | shape | mean SMP (run) | sem (paths) | std | peaks |
        """
        _validate.choice(mode, self.modes, "mode")
        rows = [
            f"| index | block | shape | mean SMP ({mode}) | sem (paths) | std | peaks |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for b in (self.input_stats, *self.blocks):
            s = b.stats[mode]
            rows.append(
                f"| {b.index} | {b.name} | {b.shape} | {s.mean:.6g} | {s.sem_paths:.3g} | "
                f"{s.std:.4g} | {s.count_mean:.4g} |"
            )
        return "\n".join(rows)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return repr(value)


class _Accumulator:
    """Streaming mean and M2 (sum of squared deviations) per channel, per-path means, counts.

    Chunks are merged with Chan et al.'s pairwise update, which is exact in exact
    arithmetic and numerically stable (no sum-of-squares cancellation).
    """

    def __init__(self, shape: tuple[int, ...], n_paths: int, keep: bool) -> None:
        self.shape = shape
        self.channels = shape[0] if shape else 1
        self.n = 0  # signals per channel so far
        self.mean = np.zeros(self.channels)
        self.m2 = np.zeros(self.channels)
        self.paths = 0
        self.path_mean = np.zeros(self.channels)  # per-path channel means: mean, M2
        self.path_m2 = np.zeros(self.channels)
        self.total_mean = 0.0  # per-path means over all elements: mean, M2
        self.total_m2 = 0.0
        self.count = 0
        self.samples = np.empty((n_paths, *shape)) if keep else None

    def add(self, smp: np.ndarray, count: np.ndarray, start: int) -> None:
        n_chunk = smp.shape[0]
        s = smp.reshape(n_chunk, self.channels, -1)
        per_channel = np.add.reduce(s, axis=2) / s.shape[2]  # (n_chunk, C) per-path means
        # per channel over all signals of the chunk (every path has the same count)
        nb = n_chunk * s.shape[2]
        mean_b = np.add.reduce(per_channel, axis=0) / n_chunk
        dev = s - mean_b[None, :, None]
        m2_b = np.einsum("ijk,ijk->j", dev, dev)
        na, n = self.n, self.n + nb
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (nb / n)
        self.m2 = self.m2 + m2_b + delta**2 * (na * nb / n)
        self.n = n
        # per path: channel means, and means over all elements
        pb = n_chunk
        pa, p = self.paths, self.paths + pb
        cdev = per_channel - mean_b
        cm2_b = np.einsum("ij,ij->j", cdev, cdev)
        cdelta = mean_b - self.path_mean
        self.path_mean = self.path_mean + cdelta * (pb / p)
        self.path_m2 = self.path_m2 + cm2_b + cdelta**2 * (pa * pb / p)
        per_path = np.add.reduce(per_channel, axis=1) / self.channels
        tmean_b = float(np.add.reduce(per_path)) / pb
        tdev = per_path - tmean_b
        tm2_b = float(np.dot(tdev, tdev))
        tdelta = tmean_b - self.total_mean
        self.total_mean += tdelta * (pb / p)
        self.total_m2 += tm2_b + tdelta**2 * (pa * pb / p)
        self.paths = p
        self.count += int(count.sum())
        if self.samples is not None:
            self.samples[start : start + n_chunk] = smp

    def result(self) -> SMPStats:
        c = self.channels
        n_total = self.n * c
        mean = float(self.mean.mean())
        m2 = float(self.m2.sum() + self.n * ((self.mean - mean) ** 2).sum())
        std = math.sqrt(m2 / (n_total - 1)) if n_total > 1 else 0.0
        ch_std = np.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else np.zeros(c)
        path_std = math.sqrt(self.total_m2 / (self.paths - 1)) if self.paths > 1 else 0.0
        ch_path_std = np.sqrt(self.path_m2 / (self.paths - 1)) if self.paths > 1 else np.zeros(c)
        return SMPStats(
            mean=mean,
            std=std,
            sem=std / math.sqrt(n_total),
            sem_paths=path_std / math.sqrt(self.paths),
            n=n_total,
            n_paths=self.paths,
            channel_mean=self.mean.copy(),
            channel_std=ch_std,
            channel_sem=ch_std / math.sqrt(self.n),
            channel_sem_paths=ch_path_std / math.sqrt(self.paths),
            count_mean=self.count / n_total,
            samples=self.samples,
        )


# --------------------------------------------------------------------------- paths
class _PathSource:
    """Paths ``start .. stop`` of the run, drawn group by group from per-group seeds."""

    def __init__(
        self,
        make: PathFn,
        n_paths: int,
        T: int,
        input_shape: tuple[int, ...],
        seed: np.random.SeedSequence,
        dtype: np.dtype[Any],
        name: str,
    ) -> None:
        self.make, self.n_paths, self.T = make, n_paths, T
        self.input_shape, self.dtype, self.name = input_shape, dtype, name
        self.seeds = seed.spawn(-(-n_paths // PATH_GROUP))
        self._group = -1
        self._cache: np.ndarray | None = None

    def _draw(self, group: int) -> np.ndarray:
        if group != self._group:
            n = min(PATH_GROUP, self.n_paths - group * PATH_GROUP)
            rng = np.random.default_rng(self.seeds[group])
            out = np.asarray(self.make(rng, n, self.T))
            want = (self.T, n, *self.input_shape)
            if out.shape != want:
                raise ValueError(
                    f"path {self.name} returned an array of shape {out.shape}; expected "
                    f"(T, n, *input_shape) = {want}"
                )
            self._group, self._cache = group, out
        assert self._cache is not None
        return self._cache

    def get(self, start: int, stop: int) -> np.ndarray:
        out = np.empty((self.T, stop - start, *self.input_shape), dtype=self.dtype)
        first, last = start // PATH_GROUP, (stop - 1) // PATH_GROUP
        for g in range(first, last + 1):
            g0 = g * PATH_GROUP
            lo, hi = max(start, g0), min(stop, g0 + PATH_GROUP)
            out[:, lo - start : hi - start] = self._draw(g)[:, lo - g0 : hi - g0]
        return out


def _path_maker(
    path: Any, path_kwargs: Mapping[str, Any] | None, input_shape: tuple[int, ...], T: int,
    dtype: np.dtype[Any],
) -> tuple[PathFn, str, dict[str, Any]]:  # fmt: skip
    """The per-group path function, the path's name and its keyword arguments."""
    kwargs = dict(path_kwargs or {})
    if callable(path):
        name = getattr(path, "__name__", type(path).__name__)
        if kwargs:
            fn = path

            def call(rng: np.random.Generator, n: int, steps: int) -> np.ndarray:
                return np.asarray(fn(rng, n, steps, **kwargs), dtype=dtype)

            return call, name, kwargs
        return (lambda rng, n, steps: np.asarray(path(rng, n, steps), dtype=dtype)), name, kwargs
    kind = _validate.choice(path, tuple(_PATH_KWARGS), "path")
    unknown = sorted(set(kwargs) - set(_PATH_KWARGS[kind]))
    if unknown:
        raise ValueError(
            f"path_kwargs {unknown} are not arguments of path={kind!r} "
            f"(it takes {list(_PATH_KWARGS[kind])})"
        )
    if kind == "gaussian":
        kwargs.setdefault("length_scale", T / 8.0)
        paths.gaussian_factor(T, kwargs["length_scale"])  # validates length_scale
    generators: dict[str, Callable[..., np.ndarray]] = {
        "linear": paths.random_linear,
        "gaussian": paths.random_gaussian,
        "sinusoid": paths.random_sinusoid,
    }
    generator = generators[kind]

    def make(rng: np.random.Generator, n: int, steps: int) -> np.ndarray:
        return generator(n, input_shape, steps, rng, dtype=dtype, **kwargs)

    make(np.random.default_rng(0), 1, T)  # validates the keyword values up front
    return make, kind, kwargs


# --------------------------------------------------------------------------- run
def _as_net(net: Any) -> nets.Sequential:
    if isinstance(net, nets.Sequential):
        return net
    if isinstance(net, nets.Block):
        return nets.Sequential._wrap([net], _block_dtype(net), 0)
    raise TypeError(f"net must be an smpfast.nets.Sequential or block; got {type(net).__name__}")


def _block_dtype(block: nets.Block) -> np.dtype[Any]:
    params = block.parameters()
    if params:
        return np.dtype(next(iter(params.values())).dtype)
    return np.dtype(np.float64)


def _cast(net: nets.Sequential, dtype: np.dtype[Any]) -> nets.Sequential:
    """``net`` itself, or a copy whose parameters are cast to ``dtype``."""
    if net.dtype == dtype and all(
        v.dtype == dtype for b in net.blocks for v in b.parameters().values()
    ):
        return net
    blocks = copy.deepcopy(net.blocks)
    for block in blocks:
        for p, value in block.parameters().items():
            setattr(block, p, np.ascontiguousarray(value, dtype=dtype))
    return nets.Sequential._wrap(blocks, dtype, net.seed)


def _seed(seed: Any) -> tuple[np.random.SeedSequence, int | None]:
    if isinstance(seed, np.random.SeedSequence):
        return seed, None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(
            f"seed must be an int or a np.random.SeedSequence; got {type(seed).__name__} {seed!r}"
        )
    if seed < 0:
        raise ValueError(f"seed must be >= 0; got {seed}")
    return np.random.SeedSequence(int(seed)), int(seed)


def _modes(modes: Any) -> tuple[str, ...]:
    items = (modes,) if isinstance(modes, str) else tuple(modes)
    if not items:
        raise ValueError("modes must name at least one mode ('run', 'local')")
    out = tuple(_validate.choice(m, _validate.MODES, "modes") for m in items)
    if len(set(out)) != len(out):
        raise ValueError(f"modes has duplicates: {out}")
    return out


def chunk_size(
    shapes: Sequence[tuple[int, ...]], T: int, itemsize: int, max_bytes: int, n_paths: int
) -> int:
    """Paths per chunk so that the largest activation, times 3 copies, fits ``max_bytes``.

    Examples
    --------
    >>> from smpfast import simulate
    >>> simulate.chunk_size([(1, 16, 16), (8, 16, 16)], 64, 8, 2**20, 10**5)
    1
    >>> simulate.chunk_size([(1, 16, 16), (8, 16, 16)], 64, 4, 256 * 2**20, 10**5)
    170
    """
    largest = max(math.prod(s) for s in shapes)
    per_path = _ACTIVATION_COPIES * T * largest * itemsize
    return int(min(max(1, max_bytes // per_path), n_paths))


def run(
    net: Any,
    input_shape: Any,
    n_paths: int,
    T: int,
    *,
    path: str | PathFn = "linear",
    path_kwargs: Mapping[str, Any] | None = None,
    modes: Sequence[str] | str = ("run", "local"),
    height: float = 0.0,
    tol: float | None = None,
    seed: int | np.random.SeedSequence = 0,
    chunk_paths: int | None = None,
    max_bytes: int = 256 * 2**20,
    progress: bool | None = None,
    dtype: Any = None,
    keep: bool = False,
    observers: Sequence[Observer] = (),
    backend: str | None = None,
) -> SimulationResult:
    """Measure SMP after every block of ``net`` over ``n_paths`` random paths of ``T`` steps.

    Parameters
    ----------
    net : smpfast.nets.Sequential or smpfast.nets.Block
        The network (a block alone is a one-block network).
    input_shape : tuple of int
        Shape of one input without the batch axis, e.g. (C, H, W).
    n_paths : int
        Number of random paths, >= 1.
    T : int
        Steps per path, >= 3 (SMP needs three samples).
    path : {"linear", "gaussian", "sinusoid"} or callable, default "linear"
        :func:`smpfast.paths.random_linear`, ``random_gaussian`` (``length_scale``
        default ``T / 8``) or ``random_sinusoid``; or ``path(rng, n, T, **path_kwargs)``
        returning ``(T, n, *input_shape)`` (called once per group of
        :data:`PATH_GROUP` paths with that group's Generator).
    path_kwargs : dict, optional
        Keyword arguments of the path generator (``mean``, ``std``, ``length_scale``,
        ``periods``, ``exact``).
    modes : sequence of {"run", "local"}, default ("run", "local")
        SMP modes to measure.
    height, tol : float
        As in :func:`smpfast.smp` (``tol`` None: 8 eps of ``dtype``).
    seed : int or numpy.random.SeedSequence, default 0
        Source of the paths (see the module docstring).
    chunk_paths : int, optional
        Paths per chunk; default from ``max_bytes``.
    max_bytes : int, default 256 MiB
        Memory budget for the activations of one chunk: ``chunk_paths`` is chosen so that
        3 copies of the largest activation (``T * chunk_paths * prod(shape) * itemsize``)
        fit (at least one path per chunk).
    progress : bool, optional
        Progress bar over paths on stderr (None: when stderr is a terminal).
    dtype : float32 or float64, optional
        Dtype of the paths and of the computation; default the network's. A different
        dtype runs on a copy of the network whose parameters are cast to it.
    keep : bool, default False
        Keep every SMP value in ``stats[mode].samples`` (``n_paths * prod(shape)``
        float64 per block and mode: only for modest sizes).
    observers : sequence of callables
        ``obs(index, block, x_in, x_out)`` called for every chunk and block with arrays
        of shape ``(T, n_chunk, *shape)``; first with index -1, block None and
        ``x_in = x_out`` = the input paths. The arrays are the engine's own: do not
        modify them (copy what you keep).
    backend : {"cpp", "numba", "numpy"}, optional
        Backend of the blocks and of the SMP kernels.

    Returns
    -------
    SimulationResult
        ``input_stats`` (the input path, index -1), ``blocks`` (one
        :class:`BlockResult` per block), the settings, ``elapsed`` seconds and
        ``to_dict()``.

    Raises
    ------
    ValueError
        ``n_paths < 1``, ``T < 3``, an input shape the first block cannot take (the
        error names the block and the shapes), an unknown path, mode or path keyword.
    TypeError
        Wrong argument types.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nets, simulate
    >>> res = simulate.run(nets.Sequential([nets.ReLU()]), (100,), 16, 32, modes="run", keep=True)
    >>> s = res.blocks[0].stats["run"]
    >>> s.samples.shape, s.n, bool(np.isclose(s.mean, s.samples.mean()))
    ((16, 100), 1600, True)
    """
    started = time.perf_counter()
    network = _as_net(net)
    n = _validate.positive_int(n_paths, "n_paths")
    try:
        steps = operator.index(T)
    except TypeError:
        raise TypeError(f"T must be an integer, got {type(T).__name__} {T!r}") from None
    if steps < 3:
        raise ValueError(f"T must be >= 3 (SMP needs three samples per signal); got {steps}")
    in_shape = nets._shape(input_shape, "input_shape")
    shapes = network.output_shapes(in_shape)
    mode_t = _modes(modes)
    dt = network.dtype if dtype is None else nets._float_dtype(dtype)
    height_v = _validate.nonnegative(height, "height")
    tol_v = _validate.tolerance(tol, dt)
    seq, seed_int = _seed(seed)
    budget = _validate.positive_int(max_bytes, "max_bytes")
    if chunk_paths is None:
        chunk = chunk_size([in_shape, *shapes], steps, dt.itemsize, budget, n)
    else:
        chunk = min(_validate.positive_int(chunk_paths, "chunk_paths"), n)
    keep_v = _validate_flag(keep, "keep")
    obs = tuple(observers)
    for i, o in enumerate(obs):
        if not callable(o):
            raise TypeError(f"observers[{i}] must be callable; got {type(o).__name__}")
    make, path_name, kwargs = _path_maker(path, path_kwargs, in_shape, steps, dt)
    if backend is not None:
        _validate.choice(backend, ("cpp", "numba", "numpy"), "backend")
    work = _cast(network, dt)
    source = _PathSource(make, n, steps, in_shape, seq, dt, f"{path_name!r}")

    accs = [{m: _Accumulator(shape, n, keep_v) for m in mode_t} for shape in (in_shape, *shapes)]

    Measured = dict[str, tuple[np.ndarray, np.ndarray]]

    def measure(level: int, y: np.ndarray, start: int) -> Measured:
        out = {}
        for m in mode_t:
            s, c = smp_and_count(y, 0, mode=m, height=height_v, tol=tol_v, backend=backend)
            accs[level][m].add(s, c, start)
            out[m] = (s, c)
        return out

    def relayout(level: int, block: nets.Block, prev: Measured, start: int) -> Measured:
        # a reshape or transpose moves signals without changing them: reuse their SMP
        out = {}
        for m, (s, c) in prev.items():
            if isinstance(block, nets.Permute):
                s, c = s.transpose(block.dims), c.transpose(block.dims)
            else:
                s, c = s.reshape(s.shape[0], *shapes[level - 1]), c.reshape(s.shape)
            accs[level][m].add(s, c, start)
            out[m] = (s, c)
        return out

    n_chunks = 0
    with Progress(n, "simulate", enabled=progress) as bar:
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            x = source.get(start, stop)
            for o in obs:
                o(-1, None, x, x)
            measured = measure(0, x, start)
            k = stop - start
            for i, block in enumerate(work.blocks):
                y = block.forward(x.reshape(steps * k, *x.shape[2:]), backend=backend)
                y = y.reshape(steps, k, *y.shape[1:])
                for o in obs:
                    o(i, block, x, y)
                if isinstance(block, (nets.Flatten, nets.Permute)):
                    measured = relayout(i + 1, block, measured, start)
                else:
                    measured = measure(i + 1, y, start)
                x = y
            n_chunks += 1
            bar.update(k)

    results = [
        BlockResult(
            index=level - 1,
            name="input" if level == 0 else network.blocks[level - 1].name,
            shape=shape,
            stats={m: accs[level][m].result() for m in mode_t},
            block="input" if level == 0 else repr(network.blocks[level - 1]),
        )
        for level, shape in enumerate((in_shape, *shapes))
    ]
    return SimulationResult(
        input_stats=results[0],
        blocks=results[1:],
        n_paths=n,
        T=steps,
        path=path_name,
        path_kwargs=kwargs,
        modes=mode_t,
        seed=seed_int,
        dtype=str(dt),
        chunk_paths=chunk,
        n_chunks=n_chunks,
        elapsed=time.perf_counter() - started,
        settings={"height": height_v, "tol": tol_v, "input_shape": list(in_shape)},
    )


def _validate_flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return bool(value)
