"""SMP of Dask arrays: lazy, for arrays chunked along any axes, path axis included.

The path axis may be split across chunks: for every block of the other axes, one chain of
tasks walks the chunks of the path axis in order, each task updating a copy of the
previous task's :class:`smpfast.SMPStream` with its chunk. Peaks that straddle a chunk
boundary are therefore counted once, and plateaus or runs of any length are handled
exactly (no overlap, no halo): the result equals :func:`smpfast.smp_and_count` on the
computed array.

``import smpfast`` does not import Dask; this module does (``pip install "smpfast[dask]"``).

Examples
--------
>>> import numpy as np, dask.array as da, smpfast.dask
>>> t = np.linspace(-1.0, 1.0, 9)
>>> x = da.from_array(np.abs(t)[:, None] * np.ones((9, 4)), chunks=(2, 2))
>>> smp = smpfast.dask.smp(x, axis=0, mode="run")      # lazy
>>> smp.compute()
array([0.5, 0.5, 0.5, 0.5])
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
from typing import Any

import numpy as np

from . import _validate
from .io._optional import require
from .io._sources import (
    ArraySource,
    FrameSource,
    ImageFilesSource,
    NpySource,
    TiffPagesSource,
    ZarrSource,
    arithmetic_dtype,
    decode_image,
    open_source,
)
from .io._stack import DEFAULT_CHUNK_BYTES, check_chunk_bytes
from .measure import _options
from .stream import SMPStream

da = require("dask.array", "smpfast.dask")
_hlg = require("dask.highlevelgraph", "smpfast.dask")
_base = require("dask.base", "smpfast.dask")

__all__ = ["from_source", "peak_count", "smp", "smp_and_count"]

#: Default number of parts :func:`from_source` cuts each frame into (along its first axis),
#: so that the chains of several workers share every range of frames.
DEFAULT_SPLIT = 8


def _frames(chunk: np.ndarray, axis: int) -> np.ndarray:
    return np.moveaxis(np.asarray(chunk), axis, 0)


def _stream_start(chunk: np.ndarray, *, axis: int, options: dict[str, Any]) -> SMPStream:
    frames = _frames(chunk, axis)
    return SMPStream(frames.shape[1:], **options).update(frames)


def _stream_advance(state: SMPStream, chunk: np.ndarray, *, axis: int) -> SMPStream:
    return state.copy().update(_frames(chunk, axis))


def _stream_result(state: SMPStream) -> tuple[np.ndarray, np.ndarray]:
    return state.result()


def smp_and_count(
    darr: Any,
    axis: int = 0,
    *,
    mode: str = "local",
    height: float = 0.0,
    tol: float | None = None,
    nan_policy: str = "propagate",
    backend: str | None = None,
) -> tuple[Any, Any]:
    """Lazy SMP and peak count of every signal of a Dask array along ``axis``.

    Parameters
    ----------
    darr : dask.array.Array
        Real input, chunked any way (the path axis too).
    axis : int, default 0
        Path axis.
    mode, height, tol, nan_policy, backend
        As in :func:`smpfast.smp_and_count` (``nan_policy="raise"`` raises when the
        chunk holding the first non-finite sample is computed).

    Returns
    -------
    smp : dask.array.Array of float64
        Shape of ``darr`` without ``axis``, chunked like ``darr``'s other axes.
    count : dask.array.Array of int64
        Same shape and chunks. Computing both together (``dask.compute(smp, count)``)
        runs the chains once.

    Examples
    --------
    >>> import numpy as np, dask, dask.array as da, smpfast.dask
    >>> x = da.from_array(np.abs(np.linspace(-1.0, 1.0, 9)), chunks=4)
    >>> s, n = dask.compute(*smpfast.dask.smp_and_count(x, mode="run"))
    >>> float(s), int(n)
    (0.5, 1)
    """
    if not isinstance(darr, da.Array):
        raise TypeError(
            f"darr must be a dask.array.Array, got {type(darr).__name__} (use smpfast.smp for "
            "NumPy arrays, or wrap it with dask.array.from_array)"
        )
    ax = _validate.axis_index(axis, darr.ndim) if darr.ndim else 0
    if darr.ndim == 0:
        raise ValueError("darr must have at least one dimension (the path axis)")
    work = arithmetic_dtype(np.dtype(darr.dtype), "darr")
    mode, height_v, tol_v, nan_policy = _options(mode, height, tol, nan_policy, work)
    if backend is not None:
        from . import _backends

        _backends.resolve(backend)
    options = {"mode": mode, "height": height_v, "tol": tol_v, "nan_policy": nan_policy,
               "dtype": work, "backend": backend}

    token = _base.tokenize(darr.name, ax, sorted((k, str(v)) for k, v in options.items()))
    chain = f"smp-stream-{token}"
    name_s, name_c = f"smp-{token}", f"smp-count-{token}"
    start = functools.partial(_stream_start, axis=ax, options=options)
    advance = functools.partial(_stream_advance, axis=ax)
    other_blocks = [n for i, n in enumerate(darr.numblocks) if i != ax]
    chain_layer: dict[Any, Any] = {}
    smp_layer: dict[Any, Any] = {}
    count_layer: dict[Any, Any] = {}
    for idx in itertools.product(*(range(n) for n in other_blocks)):
        previous: tuple[Any, ...] | None = None
        for k in range(darr.numblocks[ax]):
            key_in = (darr.name, *idx[:ax], k, *idx[ax:])
            key = (chain, *idx, k)
            chain_layer[key] = (start, key_in) if previous is None else (advance, previous,
                                                                          key_in)
            previous = key
        result_key = (f"{chain}-result", *idx)
        chain_layer[result_key] = (_stream_result, previous)
        smp_layer[(name_s, *idx)] = (operator.getitem, result_key, 0)
        count_layer[(name_c, *idx)] = (operator.getitem, result_key, 1)

    layers = dict(darr.dask.layers)
    deps = {k: set(v) for k, v in darr.dask.dependencies.items()}
    layers[chain] = chain_layer
    deps[chain] = set(darr.__dask_layers__())
    layers[name_s], deps[name_s] = smp_layer, {chain}
    layers[name_c], deps[name_c] = count_layer, {chain}
    graph = _hlg.HighLevelGraph(layers, deps)
    chunks = tuple(c for i, c in enumerate(darr.chunks) if i != ax)
    out_ndim = darr.ndim - 1
    smp_arr = da.Array(graph, name_s, chunks, meta=np.empty((0,) * out_ndim, np.float64))
    count_arr = da.Array(graph, name_c, chunks, meta=np.empty((0,) * out_ndim, np.int64))
    return smp_arr, count_arr


def smp(darr: Any, axis: int = 0, **kw: Any) -> Any:
    """Lazy SMP (float64) of every signal of a Dask array along ``axis``.

    Same keywords as :func:`smp_and_count`.

    Examples
    --------
    >>> import numpy as np, dask.array as da, smpfast.dask
    >>> x = da.from_array(np.abs(np.linspace(-1.0, 1.0, 9)), chunks=2)
    >>> float(smpfast.dask.smp(x, mode="run").compute())
    0.5
    """
    return smp_and_count(darr, axis, **kw)[0]


def peak_count(darr: Any, axis: int = 0, **kw: Any) -> Any:
    """Lazy peak count (int64) of every signal of a Dask array along ``axis``.

    Examples
    --------
    >>> import numpy as np, dask.array as da, smpfast.dask
    >>> x = da.from_array(np.abs(np.linspace(-1.0, 1.0, 9)), chunks=2)
    >>> int(smpfast.dask.peak_count(x, mode="run").compute())
    1
    """
    return smp_and_count(darr, axis, **kw)[1]


# --------------------------------------------------------------------------- sources
class _NpyFile:
    """Array-like view of a ``.npy`` file that pickles as its path (workers read it)."""

    def __init__(self, path: str, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        self.path, self.shape, self.dtype = path, shape, dtype
        self.ndim = len(shape)

    def __getitem__(self, index: Any) -> np.ndarray:
        return np.array(np.load(self.path, mmap_mode="r", allow_pickle=False)[index])


class _ImageFiles:
    """Array-like stack of image files ``(N, *frame_shape)``; pickles as the file list."""

    def __init__(self, paths: list[str], frame_shape: tuple[int, ...],
                 dtype: np.dtype[Any]) -> None:
        self.paths, self.dtype = paths, dtype
        self.shape = (len(paths), *frame_shape)
        self.ndim = len(self.shape)

    def __getitem__(self, index: Any) -> np.ndarray:
        index = index if isinstance(index, tuple) else (index,)
        first, rest = index[0], index[1:]
        picked = range(len(self.paths))[first]
        out = np.empty((len(picked), *self.shape[1:]), self.dtype)
        for i, j in enumerate(picked):
            arr = decode_image(self.paths[j])
            if arr.shape != self.shape[1:] or arr.dtype != self.dtype:
                raise ValueError(
                    f"image {self.paths[j]!r} has shape {arr.shape} and dtype {arr.dtype}, but "
                    f"the first image {self.paths[0]!r} has shape {self.shape[1:]} and dtype "
                    f"{self.dtype}; all frames of a stack must match"
                )
            out[i] = arr
        return out[(slice(None), *rest)]


class _TiffPages:
    """Array-like stack of the pages of one TIFF file; pickles as its path."""

    def __init__(self, path: str, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        self.path, self.shape, self.dtype = path, shape, dtype
        self.ndim = len(shape)

    def __getitem__(self, index: Any) -> np.ndarray:
        tifffile = require("tifffile", "reading TIFF stacks")
        index = index if isinstance(index, tuple) else (index,)
        picked = list(range(self.shape[0])[index[0]])
        with tifffile.TiffFile(self.path) as tf:
            out = np.empty((len(picked), *self.shape[1:]), self.dtype)
            for i, j in enumerate(picked):
                out[i] = tf.pages[j].asarray()
        return out[(slice(None), *index[1:])]


def _array_like(src: FrameSource) -> tuple[Any, int]:
    """An array-like for ``dask.array.from_array`` and its frame axis."""
    if isinstance(src, NpySource):
        return _NpyFile(src.location, src.array.shape, src.dtype), src.axis
    if isinstance(src, ZarrSource):
        return src.array, src.axis
    if isinstance(src, ArraySource):
        return src.array, src.axis
    if isinstance(src, ImageFilesSource):
        if src.skip_bad:
            raise ValueError("skip_bad is not supported on the Dask path (bad files would be "
                             "found on the workers); run without Dask or remove the files")
        return _ImageFiles(src.paths, src.frame_shape, src.dtype), 0
    if isinstance(src, TiffPagesSource):
        return _TiffPages(src.location, (src.n_frames, *src.frame_shape), src.dtype), 0
    raise TypeError(f"no Dask reader for a {type(src).__name__}")  # pragma: no cover


def from_source(
    source: Any, axis: int = 0, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    split: int | None = None,
) -> tuple[Any, int]:
    """A lazy Dask array over a stack source (as :func:`smpfast.io.smp_stack` takes).

    Frames are cut into ``split`` parts along their first axis (so that several workers
    share every range of frames), and each chunk holds as many frames of one part as fit
    in ``chunk_bytes`` (at least one). Files are read on the
    workers, which must see the same paths; tasks carry paths, not data.

    Parameters
    ----------
    source : array_like, str, os.PathLike, list of paths, or zarr.Array
        As in :func:`smpfast.io.smp_stack`.
    axis : int, default 0
        Frame axis of an array source.
    chunk_bytes : int, default 64 MiB
        Target chunk size (stored dtype).
    split : int, optional
        Parts to cut the first non-path axis into (default :data:`DEFAULT_SPLIT`, at most
        its length).

    Returns
    -------
    darr : dask.array.Array
    axis : int
        The path axis of ``darr`` (0 for images).

    Examples
    --------
    >>> import numpy as np, smpfast.dask
    >>> darr, ax = smpfast.dask.from_source(np.zeros((8, 4, 4)), chunk_bytes=256, split=2)
    >>> darr.chunks, ax
    (((4, 4), (2, 2), (4,)), 0)
    """
    chunk = check_chunk_bytes(chunk_bytes)
    with open_source(source, axis) as src:
        like, ax = _array_like(src)
        shape = tuple(int(n) for n in like.shape)
        dtype = np.dtype(like.dtype)
    if isinstance(src, ZarrSource) and split is None:
        return da.from_zarr(like), ax
    others = [i for i in range(len(shape)) if i != ax]
    parts = 1
    if others:
        first = others[0]
        parts = max(1, min(split if split is not None else DEFAULT_SPLIT, shape[first]))
    chunks: list[Any] = list(shape)
    if others:
        chunks[first] = max(1, math.ceil(shape[first] / parts))
    part_bytes = max(1, math.prod(chunks[:ax] + chunks[ax + 1 :]) * dtype.itemsize)
    chunks[ax] = max(1, min(shape[ax], chunk // part_bytes))
    meta = np.empty((0,) * len(shape), dtype)
    return da.from_array(like, chunks=tuple(chunks), asarray=False, lock=False, fancy=False,
                         meta=meta), ax
