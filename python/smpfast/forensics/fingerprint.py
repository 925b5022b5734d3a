"""Nonsmoothness fingerprints of a black-box batch function along smooth input paths.

Units. A path is parametrised by ``s`` in [0, 1] and sampled at ``T_r = r (T - 1) + 1``
points for every resolution ``r``. SMP values here are *per unit path parameter*: the
SMP of the sampled output divided by the step ``h = 1 / (T_r - 1)``, so that the run-mode
SMP of a piecewise-linear output is its total slope change ``sum |D y'(s)|`` at every
resolution. Under refinement (``h -> 0``):

- piecewise-linear output: run-mode SMP stays at the total slope change and local-mode
  SMP at about 3/4 of it (each kink is one sharp peak): both scale like ``T^0``;
- smooth output: run-mode SMP converges to the total variation of the slope
  ``int |y''(s)| ds`` (also ``T^0``: a run of same-sign curvature sums to the change of
  slope across it), while local-mode SMP falls like ``1/T`` (its peaks are the maxima of
  ``h |y''|``).

So the resolution exponent of *local*-mode SMP (0 versus -1), the local/run ratio and the
share of run-mode SMP carried by sharp kinks (see :mod:`smpfast.forensics._analysis`)
separate the two; :func:`smpfast.forensics.detect` combines them.
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _validate
from .._progress import Progress
from . import _analysis
from ._fn import BatchFunction, as_batch_function
from ._paths import PATH_KINDS, PathSet, build_paths

__all__ = ["FEATURES", "Fingerprint", "fingerprint", "path_features"]

#: Per-path features, in the order the detector uses them.
FEATURES = ("kink_share", "local_run_ratio", "local_exponent")

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass
class Fingerprint:
    """What :func:`fingerprint` measured (arrays over output coordinates and paths).

    Attributes
    ----------
    path, mode : str
        Path kind and the peak mode of the summary statistics.
    n_paths, T : int
        Number of paths and samples per path at resolution 1.
    resolutions : tuple of int
        Refinement factors; resolution ``r`` samples ``r (T - 1) + 1`` points.
    seed : int
    output_shape : tuple of int
        Per-sample output shape of ``fn`` (tuple outputs: their concatenated size).
    inputs_digest : str
        SHA-1 of the inputs (fingerprints of the same inputs and seed share their paths).
    smp_mean, smp_std : numpy.ndarray
        (n_outputs,) SMP per unit path parameter at resolution 1, over paths.
    smp_quantiles, count_quantiles : numpy.ndarray
        (len(quantile_levels), n_outputs).
    count_mean, count_std : numpy.ndarray
        (n_outputs,) peak counts at resolution 1.
    kink_fraction : float
        Fraction of paths on which some output coordinate has a kink (finest resolution).
    kink_density : numpy.ndarray
        (n_outputs,) kinks per unit input-space path length, mean over paths.
    resolution_T : numpy.ndarray
        Samples per path at each resolution.
    resolution_smp_run, resolution_smp_local : numpy.ndarray
        (n_resolutions,) mean over paths of the SMP summed over outputs, per resolution.
    exponent_run, exponent_local : float
        Log-log slopes of those against ``T - 1`` (about 0 and 0 for piecewise-linear
        functions, 0 and -1 for smooth ones).
    per_path : dict of str to numpy.ndarray
        (n_paths,) arrays: ``run_smp``, ``local_smp`` (summed over outputs, finest
        resolution), ``kink_smp``, ``n_kinks``, ``length`` and the :data:`FEATURES`.
    features : dict of str to float
        The :data:`FEATURES` of all paths pooled (ratios of sums over paths).
    examples : dict
        A few output trajectories at the finest resolution for plots: ``s`` (T_f,),
        ``y`` (n_ex, T_f, n_show), ``outputs`` (n_show,) output indices, ``paths``.
    """

    path: str
    mode: str
    n_paths: int
    T: int
    resolutions: tuple[int, ...]
    seed: int
    output_shape: tuple[int, ...]
    inputs_digest: str
    quantile_levels: tuple[float, ...]
    smp_mean: np.ndarray
    smp_std: np.ndarray
    smp_quantiles: np.ndarray
    count_mean: np.ndarray
    count_std: np.ndarray
    count_quantiles: np.ndarray
    kink_fraction: float
    kink_density: np.ndarray
    resolution_T: np.ndarray
    resolution_smp_run: np.ndarray
    resolution_smp_local: np.ndarray
    exponent_run: float
    exponent_local: float
    per_path: dict[str, np.ndarray]
    features: dict[str, float]
    examples: dict[str, Any] = field(default_factory=dict)

    @property
    def n_outputs(self) -> int:
        """Number of output coordinates."""
        return int(self.smp_mean.shape[0])

    def feature_matrix(self) -> np.ndarray:
        """(n_paths, len(FEATURES)) per-path features, for tests between fingerprints."""
        return np.stack([self.per_path[f] for f in FEATURES], axis=1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (arrays become lists)."""
        out: dict[str, Any] = {}
        for k, v in self.__dict__.items():
            out[k] = _jsonable(v)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fingerprint:
        """Inverse of :meth:`to_dict` (extra keys, e.g. the CLI's ``detection``, are ignored)."""
        names = set(cls.__dataclass_fields__)
        d = {k: v for k, v in data.items() if k in names}
        for k in ("smp_mean", "smp_std", "smp_quantiles", "count_mean", "count_std",
                  "count_quantiles", "kink_density", "resolution_T", "resolution_smp_run",
                  "resolution_smp_local"):
            d[k] = np.asarray(d[k], dtype=np.float64)
        d["resolutions"] = tuple(d["resolutions"])
        d["output_shape"] = tuple(d["output_shape"])
        d["quantile_levels"] = tuple(d["quantile_levels"])
        d["per_path"] = {k: np.asarray(v) for k, v in d["per_path"].items()}
        ex = dict(d.get("examples", {}))
        for k in ("s", "y", "outputs", "paths"):
            if k in ex:
                ex[k] = np.asarray(ex[k])
        d["examples"] = ex
        return cls(**d)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the fingerprint as JSON (to a temporary name, then renamed)."""
        write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Fingerprint:
        """Read a fingerprint written by :meth:`save`."""
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (temporary file + rename)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, allow_nan=True)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _digest(x: np.ndarray) -> str:
    h = hashlib.sha1(np.ascontiguousarray(x).tobytes())
    h.update(repr((x.shape, str(x.dtype))).encode())
    return h.hexdigest()


def _resolutions(resolutions: Any) -> tuple[int, ...]:
    try:
        res = sorted({operator.index(r) for r in resolutions})
    except TypeError:
        raise TypeError(
            f"resolutions must be a sequence of positive integers, got {resolutions!r}"
        ) from None
    if not res or res[0] < 1:
        raise ValueError(f"resolutions must be positive integers; got {resolutions!r}")
    if 1 not in res:
        res = [1, *res]
    top = res[-1]
    bad = [r for r in res if top % r]
    if bad:
        raise ValueError(
            f"resolutions must all divide the largest ({top}) so that the finest grid holds "
            f"the coarser ones; {bad} do not"
        )
    return tuple(res)


def _inputs(inputs: Any, path: str, dtype: np.dtype[Any]) -> np.ndarray:
    arr = _validate.float_array(inputs, "inputs")
    if arr.ndim < 2:
        raise ValueError(
            f"inputs must be a batch (N, ...) with at least 2 dimensions; got shape {arr.shape}"
        )
    if arr.shape[0] < 1 or arr.size == 0:
        raise ValueError(f"inputs is empty (shape {arr.shape})")
    if not np.isfinite(arr).all():
        raise ValueError("inputs holds NaN or Inf; paths need finite inputs")
    if path == "linear" and arr.shape[0] < 2:
        raise ValueError("path='linear' needs at least 2 inputs (it interpolates pairs)")
    if path == "shift" and arr.ndim < 3:
        raise ValueError(
            f"path='shift' needs images: inputs of shape (N, ..., H, W); got {arr.shape}"
        )
    return np.asarray(arr, dtype=np.float64)


def _log_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of log y against log x (-1 when y is all zero)."""
    good = y > 0
    if good.sum() < 2:
        return -1.0 if not good.any() or y.max() == 0 else 0.0
    lx, ly = np.log(x[good]), np.log(y[good])
    lx = lx - lx.mean()
    return float(np.dot(lx, ly - ly.mean()) / np.dot(lx, lx))


def path_features(
    run_fine: np.ndarray, local_coarse: np.ndarray, local_fine: np.ndarray,
    kink_smp: np.ndarray, t_coarse: int, t_fine: int,
) -> dict[str, np.ndarray]:
    """The :data:`FEATURES` from SMP sums (per path, or pooled when given 1-element arrays).

    All SMP arguments are per unit path parameter. A path with no curvature at all
    (run-mode SMP 0) gets kink share 0, ratio 0 and exponent -1: no evidence of a kink.

    Examples
    --------
    >>> import numpy as np
    >>> f = path_features(np.array([1.0]), np.array([0.75]), np.array([0.75]),
    ...                   np.array([1.0]), 64, 253)
    >>> [round(float(f[k][0]), 3) for k in FEATURES]
    [1.0, 0.75, 0.0]
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(run_fine > 0, kink_smp / run_fine, 0.0)
        ratio = np.where(run_fine > 0, local_fine / run_fine, 0.0)
        if t_fine > t_coarse:
            expo = np.log(local_fine / local_coarse) / math.log((t_fine - 1) / (t_coarse - 1))
        else:
            expo = np.zeros_like(local_fine)
        expo = np.where((local_fine > 0) & (local_coarse > 0), expo, -1.0)
        expo = np.where((local_fine > 0) & (local_coarse == 0), 0.0, expo)
    return {
        "kink_share": np.clip(share, 0.0, 1.0),
        "local_run_ratio": np.clip(ratio, 0.0, 1.0),
        "local_exponent": np.clip(expo, -2.0, 1.0),
    }


def evaluate_paths(
    f: BatchFunction, paths: PathSet, s: np.ndarray, batch_size: int, dtype: np.dtype[Any],
    bar: Progress | None,
) -> np.ndarray:
    """Outputs of ``f`` along every path at parameters ``s``: (n_paths, len(s), n_outputs)."""
    n_paths, t = len(paths), len(s)
    out: np.ndarray | None = None
    pending: list[tuple[int, int, int]] = []  # (path, start, stop) pieces of the batch
    chunks: list[np.ndarray] = []
    filled = 0

    def flush() -> None:
        nonlocal out, filled
        if not chunks:
            return
        x = np.concatenate(chunks, axis=0).astype(dtype, copy=False)
        y = f(x)
        if out is None:
            out = np.empty((n_paths, t, y.shape[1]), dtype=y.dtype)
        row = 0
        for p, a, b in pending:
            out[p, a:b] = y[row:row + b - a]
            row += b - a
        if bar is not None:
            bar.update(x.shape[0])
        pending.clear()
        chunks.clear()
        filled = 0

    for p in range(n_paths):
        a = 0
        while a < t:
            b = min(t, a + batch_size - filled)
            chunks.append(paths.at(p, s[a:b]))
            pending.append((p, a, b))
            filled += b - a
            a = b
            if filled >= batch_size:
                flush()
    flush()
    assert out is not None
    return out


def fingerprint(
    fn: Callable[..., Any] | Any,
    inputs: Any,
    *,
    n_paths: int = 64,
    T: int = 64,
    path: str = "linear",
    mode: str = "run",
    resolutions: Sequence[int] = (1, 2, 4),
    batch_size: int = 256,
    seed: int = 0,
    progress: bool | None = True,
    radius: float = 0.5,
    dtype: Any = np.float64,
    tol: float | None = None,
    height: float = 0.0,
    n_examples: int = 4,
) -> Fingerprint:
    """Nonsmoothness fingerprint of ``fn`` along smooth paths around ``inputs``.

    Parameters
    ----------
    fn : callable
        Batch function: (N, ...) inputs -> (N, ...) outputs (or a tuple of such
        outputs, concatenated). A NumPy function, a torch ``nn.Module`` (copied, set to
        eval mode and run in ``dtype`` under ``torch.no_grad``) or an
        ``smpfast.nets.Sequential``.
    inputs : array_like
        (N, ...) inputs the paths are built around.
    n_paths : int, default 64
    T : int, default 64
        Samples per path at resolution 1 (>= 3).
    path : {"linear", "gaussian", "shift", "brightness"}
        See :mod:`smpfast.forensics._paths`.
    mode : {"run", "local"}, default "run"
        Peak mode of the summary statistics (the resolution study uses both).
    resolutions : sequence of int, default (1, 2, 4)
        Refinement factors (1 is always included; each must divide the largest).
        Every path is evaluated once, on the finest grid.
    batch_size : int, default 256
        Inputs per call of ``fn``.
    seed : int, default 0
        Seeds the paths: the same seed, inputs and arguments give the same fingerprint.
    progress : bool or None, default True
        Progress bar on stderr (None: only on a terminal).
    radius : float, default 0.5
        Path size for ``"gaussian"``/``"brightness"`` (inputs' std units) and ``"shift"``
        (pixels).
    dtype : numpy dtype, default float64
        Dtype of the inputs given to ``fn``.
    tol, height : float
        Noise floor and smallest peak, as in :func:`smpfast.smp`.
    n_examples : int, default 4
        Paths whose output trajectories are kept for plots.

    Returns
    -------
    Fingerprint

    Raises
    ------
    ValueError, TypeError
        Bad arguments, or ``fn`` output that is non-numeric, non-finite, has the wrong
        number of rows or changes its per-sample shape between calls.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import forensics
    >>> x = np.random.default_rng(0).standard_normal((8, 3))
    >>> fp = forensics.fingerprint(lambda b: np.abs(b), x, n_paths=8, T=32, progress=False)
    >>> fp.n_outputs, round(fp.features["kink_share"], 2)
    (3, 1.0)
    """
    path = _validate.choice(path, PATH_KINDS, "path")
    mode = _validate.choice(mode, _validate.MODES, "mode")
    n_paths = _validate.positive_int(n_paths, "n_paths")
    T = _validate.positive_int(T, "T")
    if T < 3:
        raise ValueError(f"T must be >= 3 (a second difference needs 3 samples); got {T}")
    batch_size = _validate.positive_int(batch_size, "batch_size")
    n_examples = operator.index(n_examples)
    seed = operator.index(seed)
    radius = _validate.nonnegative(radius, "radius")
    height = _validate.nonnegative(height, "height")
    if tol is not None:
        tol = _validate.nonnegative(tol, "tol")
    np_dtype = np.dtype(dtype)
    if np_dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64; got {np_dtype}")
    res = _resolutions(resolutions)
    x = _inputs(inputs, path, np_dtype)
    f = as_batch_function(fn, np_dtype)

    rng = np.random.default_rng(seed)
    paths = build_paths(x, path, n_paths, rng, radius)
    top = res[-1]
    t_fine = top * (T - 1) + 1
    s = np.linspace(0.0, 1.0, t_fine)
    with Progress(n_paths * t_fine, f"fingerprint ({path})", enabled=progress) as bar:
        y = evaluate_paths(f, paths, s, batch_size, np_dtype, bar)
    lengths = np.array([paths.length(p, s) for p in range(n_paths)])
    return summarize(
        y, s, lengths, path=path, mode=mode, T=T, resolutions=res, seed=seed,
        output_shape=f.output_shape or (y.shape[2],), inputs_digest=_digest(x),
        tol=tol, height=height, n_examples=n_examples,
    )


def summarize(
    y: np.ndarray, s: np.ndarray, lengths: np.ndarray, *, path: str, mode: str, T: int,
    resolutions: tuple[int, ...], seed: int, output_shape: tuple[int, ...],
    inputs_digest: str, tol: float | None, height: float, n_examples: int,
) -> Fingerprint:
    """Build a :class:`Fingerprint` from outputs ``y`` (n_paths, T_fine, n_outputs)."""
    n_paths, t_fine, n_out = y.shape
    top = resolutions[-1]
    # (P, K, T_f): time last, contiguous per signal, floor at the signal's own scale
    signals = _analysis.lift(np.ascontiguousarray(np.moveaxis(y, 1, 2)))
    res_t, res_run, res_loc = [], [], []
    per_res: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
    for r in resolutions:
        step = top // r
        yr = signals[:, :, ::step]
        tr = yr.shape[2]
        run, nrun, loc, nloc = _analysis.smp_pair(yr, tol, height)
        scale = float(tr - 1)
        run, loc = run * scale, loc * scale
        per_res[r] = (run, nrun, loc, nloc)
        res_t.append(tr)
        res_run.append(float(run.sum(axis=1).mean()))
        res_loc.append(float(loc.sum(axis=1).mean()))
    run1, nrun1, loc1, nloc1 = per_res[1]
    smp1, cnt1 = (run1, nrun1) if mode == "run" else (loc1, nloc1)
    q = np.asarray(QUANTILES)
    kink_smp, n_kinks = _analysis.kink_stats(signals.reshape(n_paths * n_out, t_fine), tol, height)
    kink_smp = kink_smp.reshape(n_paths, n_out) * float(t_fine - 1)
    n_kinks = n_kinks.reshape(n_paths, n_out)
    run_f, _, loc_f, _ = per_res[top]
    loc_c = per_res[1][2]
    t_c = res_t[0]
    pp_run, pp_loc, pp_locc, pp_kink = (
        run_f.sum(axis=1), loc_f.sum(axis=1), loc_c.sum(axis=1), kink_smp.sum(axis=1)
    )
    per_path: dict[str, np.ndarray] = {
        "run_smp": pp_run, "local_smp": pp_loc, "kink_smp": pp_kink,
        "n_kinks": n_kinks.sum(axis=1), "length": lengths,
    }
    per_path.update(path_features(pp_run, pp_locc, pp_loc, pp_kink, t_c, t_fine))
    pooled = path_features(
        np.array([pp_run.sum()]), np.array([pp_locc.sum()]), np.array([pp_loc.sum()]),
        np.array([pp_kink.sum()]), t_c, t_fine,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.where(lengths[:, None] > 0, n_kinks / lengths[:, None], 0.0).mean(axis=0)
    res_t_arr = np.asarray(res_t, dtype=np.float64)
    examples: dict[str, Any] = {}
    n_ex = min(max(n_examples, 0), n_paths)
    if n_ex:
        n_show = min(3, n_out)
        top_out = np.argsort(-run_f.sum(axis=0), kind="stable")[:n_show]
        examples = {
            "s": s, "y": y[:n_ex][:, :, top_out].astype(np.float64),
            "outputs": top_out, "paths": np.arange(n_ex),
        }
    return Fingerprint(
        path=path, mode=mode, n_paths=n_paths, T=T, resolutions=resolutions, seed=seed,
        output_shape=tuple(int(v) for v in output_shape), inputs_digest=inputs_digest,
        quantile_levels=QUANTILES,
        smp_mean=smp1.mean(axis=0), smp_std=smp1.std(axis=0),
        smp_quantiles=np.quantile(smp1, q, axis=0),
        count_mean=cnt1.mean(axis=0).astype(np.float64),
        count_std=cnt1.std(axis=0).astype(np.float64),
        count_quantiles=np.quantile(cnt1.astype(np.float64), q, axis=0),
        kink_fraction=float((n_kinks.sum(axis=1) > 0).mean()),
        kink_density=density,
        resolution_T=res_t_arr,
        resolution_smp_run=np.asarray(res_run), resolution_smp_local=np.asarray(res_loc),
        exponent_run=_log_slope(res_t_arr - 1, np.asarray(res_run)),
        exponent_local=_log_slope(res_t_arr - 1, np.asarray(res_loc)),
        per_path=per_path,
        features={k: float(v[0]) for k, v in pooled.items()},
        examples=examples,
    )
