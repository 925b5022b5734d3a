"""Frame sources: one pass over the frames of a stack, in order, in bounded memory.

A *source* is a NumPy array, a ``.npy`` file (memory-mapped), a directory, glob or list of
image files (PNG, JPEG, TIFF), a multi-page TIFF, or a Zarr array (object or store path).
:func:`open_source` recognises it and returns a :class:`FrameSource`, whose
:meth:`~FrameSource.blocks` yields the frames along the path axis in blocks of at most a
given number of frames, converted to the arithmetic dtype. Nothing ever holds the whole
stack: a memory-mapped ``.npy`` gives its pages back to the kernel once a block is done,
images are decoded by a thread pool one block ahead into two reusable buffers.
"""

from __future__ import annotations

import concurrent.futures
import glob
import math
import mmap
import operator
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import _config, _validate
from ._optional import require

__all__ = [
    "IMAGE_SUFFIXES",
    "Block",
    "FrameSource",
    "ImageReadError",
    "arithmetic_dtype",
    "decode_image",
    "natural_key",
    "open_source",
    "stream_dtype",
]

#: File suffixes read as images (lower case): Pillow for PNG/JPEG, tifffile for TIFF.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
TIFF_SUFFIXES = (".tif", ".tiff")
_GLOB_CHARS = re.compile(r"[*?\[]")


class ImageReadError(ValueError):
    """An image file could not be read or decoded (the message names the file)."""


@dataclass(frozen=True)
class Block:
    """Consecutive frames of a source: ``data`` is ``(n, *frame_shape)``, ``labels`` names them.

    ``skipped`` lists the unreadable files dropped just before or inside this block (only
    with ``skip_bad=True``).
    """

    data: np.ndarray
    labels: tuple[str, ...]
    skipped: tuple[str, ...] = ()


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders embedded numbers by value ("frame2" before "frame10").

    Examples
    --------
    >>> sorted(["f10.png", "f2.png", "F1.png"], key=natural_key)
    ['F1.png', 'f2.png', 'f10.png']
    """
    parts = re.split(r"(\d+)", name)
    key: list[tuple[int, int | str]] = []
    for i, part in enumerate(parts):
        key.append((1, int(part)) if i % 2 else (0, part.casefold()))
    return (*key, (0, name))


def arithmetic_dtype(dtype: np.dtype[Any], name: str = "source") -> np.dtype[Any]:
    """The dtype SMP is computed in for data of ``dtype`` (as :func:`smpfast.smp` decides).

    Integers and bool give float64, float16 gives float32; complex and other dtypes raise
    TypeError naming ``name``.

    Examples
    --------
    >>> arithmetic_dtype(np.dtype(np.uint8)), arithmetic_dtype(np.dtype(np.float32))
    (dtype('float64'), dtype('float32'))
    """
    return _validate.float_array(np.empty(0, dtype=dtype), name).dtype


def stream_dtype(dtype: np.dtype[Any], tol: Any = None, name: str = "source") -> np.dtype[Any]:
    """The dtype frames of ``dtype`` are streamed in (float32 for 8/16-bit integers).

    That is :func:`arithmetic_dtype`, except float32 for integers of at most 16 bits (8- and
    16-bit images) when ``tol`` is the default. For such data every ``d`` is an exact
    integer in float32 as in float64 (``|d| <= 4 * 65535 < 2**24``), the default noise
    floor (``8 eps * scale < 1``) zeroes only ``d = 0`` in both, and magnitudes and run
    sums are accumulated in float64 either way: the results are identical to
    :func:`smpfast.smp_and_count` (which uses float64), with half the bytes to convert and
    read. An explicit ``tol`` keeps float64, whose noise floor it was chosen for.

    Examples
    --------
    >>> stream_dtype(np.dtype(np.uint8)), stream_dtype(np.dtype(np.uint8), tol=1e-3)
    (dtype('float32'), dtype('float64'))
    >>> stream_dtype(np.dtype(np.int32)), stream_dtype(np.dtype(np.float16))
    (dtype('float64'), dtype('float32'))
    """
    work = arithmetic_dtype(dtype, name)
    if tol is None and dtype.kind in "biu" and dtype.itemsize <= 2:
        return np.dtype(np.float32)
    return work


# --------------------------------------------------------------------------- images
def _pillow_decode(path: str) -> np.ndarray:
    image_mod = require("PIL.Image", "reading PNG/JPEG images")
    with image_mod.open(path) as im:
        im.load()
        if im.mode in ("P", "PA"):
            im = im.convert("RGBA" if "transparency" in im.info or im.mode == "PA" else "RGB")
        elif im.mode == "1":
            im = im.convert("L")
        return np.asarray(im)


def _tiff_decode(path: str) -> np.ndarray:
    tifffile = require("tifffile", "reading TIFF images")
    with tifffile.TiffFile(path) as tf:
        if len(tf.pages) != 1:
            raise ImageReadError(
                f"image {path!r} is a TIFF with {len(tf.pages)} pages; a folder of images "
                "takes single-page files (pass a multi-page TIFF as the source itself)"
            )
        return np.asarray(tf.pages[0].asarray())


def decode_image(path: str) -> np.ndarray:
    """Decode one image file to an array ``(H, W)`` or ``(H, W, C)`` in its own dtype.

    PNG and JPEG are read with Pillow (palette images become RGB or RGBA), TIFF with
    tifffile (single page). Any failure raises :class:`ImageReadError` naming the file.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from PIL import Image
    >>> p = os.path.join(tempfile.mkdtemp(), "a.png")
    >>> Image.fromarray(np.zeros((2, 3), np.uint8)).save(p)
    >>> decode_image(p).shape
    (2, 3)
    """
    suffix = os.path.splitext(path)[1].lower()
    try:
        if suffix in TIFF_SUFFIXES:
            return _tiff_decode(path)
        return _pillow_decode(path)
    except ImageReadError:
        raise
    except ImportError:
        raise
    except Exception as exc:  # Pillow and tifffile raise many kinds (OSError, ValueError...)
        raise ImageReadError(
            f"cannot read image {path!r}: {type(exc).__name__}: {exc}"
        ) from exc


def _image_header(path: str) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """Shape and dtype of an image (decoded once: a header alone can lie about the pixels)."""
    arr = decode_image(path)
    return arr.shape, arr.dtype


# --------------------------------------------------------------------------- sources
class FrameSource:
    """Frames of a stack along one axis, read block by block.

    Attributes
    ----------
    kind : str
        ``"array"``, ``"npy"``, ``"images"``, ``"tiff"`` or ``"zarr"``.
    location : str
        Path (or ``"<array>"``) for messages and summaries.
    n_frames : int
        Frames along the path axis (for images: files found, before skipping any).
    frame_shape : tuple of int
        Shape of one frame.
    dtype : numpy.dtype
        Dtype of the stored data.
    """

    kind = "source"

    def __init__(
        self, location: str, n_frames: int, frame_shape: tuple[int, ...], dtype: np.dtype[Any]
    ) -> None:
        self.location = location
        self.n_frames = n_frames
        self.frame_shape = frame_shape
        self.dtype = dtype

    @property
    def frame_nbytes(self) -> int:
        """Bytes of one frame in the stored dtype."""
        return math.prod(self.frame_shape) * self.dtype.itemsize

    def blocks(self, frames_per_block: int, out_dtype: np.dtype[Any]) -> Iterator[Block]:
        """Yield the frames in order, at most ``frames_per_block`` at a time, as ``out_dtype``.

        A yielded block's array may be a reused buffer or a view of the source: use it
        before asking for the next block.
        """
        raise NotImplementedError  # pragma: no cover - every subclass defines it

    def close(self) -> None:
        """Release files and mappings (idempotent)."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _convert(view: np.ndarray, out_dtype: np.dtype[Any], buffer: np.ndarray | None) -> np.ndarray:
    """``view`` as ``out_dtype`` (itself if it already is; else copied into ``buffer``)."""
    if view.dtype == out_dtype:
        return view
    if buffer is None or buffer.shape[0] < view.shape[0]:
        buffer = np.empty(view.shape, dtype=out_dtype)
    out = buffer[: view.shape[0]]
    np.copyto(out, view, casting="unsafe")
    return out


class ArraySource(FrameSource):
    """An in-memory (or memory-mapped) array; frames along ``axis``."""

    kind = "array"

    def __init__(self, array: np.ndarray, axis: int, location: str = "<array>") -> None:
        ax = _validate.axis_index(axis, array.ndim) if array.ndim else None
        if ax is None:
            raise ValueError(f"source is a 0-d array (shape {array.shape}); it has no frames")
        arithmetic_dtype(array.dtype)  # TypeError for complex/object data
        shape = array.shape[:ax] + array.shape[ax + 1 :]
        super().__init__(location, array.shape[ax], shape, array.dtype)
        self.array = array
        self.axis = ax
        self._release: Callable[[np.ndarray], None] | None = None

    def _view(self, start: int, stop: int) -> np.ndarray:
        index = (slice(None),) * self.axis + (slice(start, stop),)
        return np.moveaxis(self.array[index], self.axis, 0)

    def blocks(self, frames_per_block: int, out_dtype: np.dtype[Any]) -> Iterator[Block]:
        """Yield views (or converted copies) of consecutive frame ranges."""
        buffer: np.ndarray | None = None
        for start in range(0, self.n_frames, frames_per_block):
            stop = min(start + frames_per_block, self.n_frames)
            view = self._view(start, stop)
            data = _convert(view, out_dtype, buffer)
            if data is not view:
                buffer = data if buffer is None else buffer
            yield Block(data, tuple(str(i) for i in range(start, stop)))
            if self._release is not None:
                self._release(view)


def _byte_bounds(arr: np.ndarray) -> tuple[int, int]:
    """First and one-past-last byte address of the elements of ``arr`` (any strides)."""
    lo = hi = int(arr.ctypes.data)
    for n, stride in zip(arr.shape, arr.strides, strict=True):
        extent = (n - 1) * stride
        lo, hi = (lo + extent, hi) if extent < 0 else (lo, hi + extent)
    return lo, hi + arr.itemsize


class NpySource(ArraySource):
    """A ``.npy`` file, memory-mapped read-only; pages are released after each block.

    Pages of a file mapping count in the process's resident set once touched; after each
    block they are dropped with ``madvise(MADV_DONTNEED)`` (the data stays in the page
    cache), so the resident memory stays bounded by the block size.
    """

    kind = "npy"

    def __init__(self, path: str, axis: int) -> None:
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"source {path!r} is not a readable .npy array: {exc}") from exc
        except OSError as exc:
            raise ValueError(f"cannot read source {path!r}: {exc}") from exc
        super().__init__(array, axis, path)
        self._mm = array.base if isinstance(array, np.memmap) else None
        if isinstance(self._mm, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
            self._origin = array.ctypes.data - int(array.offset) % mmap.ALLOCATIONGRANULARITY
            self._release = self._drop_pages

    def _drop_pages(self, view: np.ndarray) -> None:
        mm = self._mm
        if not isinstance(mm, mmap.mmap) or view.size == 0:
            return
        lo, hi = _byte_bounds(view)
        start = (lo - self._origin) // mmap.PAGESIZE * mmap.PAGESIZE
        stop = min(hi - self._origin, len(mm))
        if stop > start >= 0:
            mm.madvise(mmap.MADV_DONTNEED, start, stop - start)

    def close(self) -> None:
        """Drop the mapping (the array views become invalid only once unreferenced)."""
        self._release = None
        self._mm = None


class ZarrSource(FrameSource):
    """A Zarr array (object or store path), read in blocks aligned to its chunks."""

    kind = "zarr"

    def __init__(self, array: Any, axis: int, location: str) -> None:
        shape = tuple(int(n) for n in array.shape)
        if not shape:
            raise ValueError(f"source {location!r} is a 0-d Zarr array; it has no frames")
        ax = _validate.axis_index(axis, len(shape))
        dtype = np.dtype(array.dtype)
        arithmetic_dtype(dtype)
        super().__init__(location, shape[ax], shape[:ax] + shape[ax + 1 :], dtype)
        self.array = array
        self.axis = ax
        self.chunk = max(1, int(array.chunks[ax]))

    def blocks(self, frames_per_block: int, out_dtype: np.dtype[Any]) -> Iterator[Block]:
        """Yield whole chunks along the axis (as many as fit ``frames_per_block``, at least 1)."""
        step = max(self.chunk, frames_per_block // self.chunk * self.chunk)
        for start in range(0, self.n_frames, step):
            stop = min(start + step, self.n_frames)
            index = (slice(None),) * self.axis + (slice(start, stop),)
            data = np.moveaxis(np.asarray(self.array[index]), self.axis, 0)
            yield Block(_convert(data, out_dtype, None), tuple(str(i) for i in range(start, stop)))


def _pipelined(
    items: Sequence[Any],
    labels: Sequence[str],
    load: Callable[[Any, np.ndarray], BaseException | None],
    skippable: Callable[[BaseException], bool],
    frame_shape: tuple[int, ...],
    frames_per_block: int,
    out_dtype: np.dtype[Any],
    threads: int,
    skipped_before: Sequence[str] = (),
) -> Iterator[Block]:
    """Load ``items`` into frame slots with a thread pool, one block ahead; yield in order.

    ``load(item, slot)`` decodes one frame into ``slot`` and returns the error instead of
    raising it; errors for which ``skippable`` is true drop that frame (its label goes to
    :attr:`Block.skipped`), any other error is raised, the first in frame order. Two
    reusable buffers: block ``k + 1`` is decoded while block ``k`` is being used.
    """
    nb = max(1, frames_per_block)
    groups = [range(i, min(i + nb, len(items))) for i in range(0, len(items), nb)]
    buffers: list[np.ndarray] = []
    pending_skipped = list(skipped_before)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, threads)) as pool:

        def submit(k: int) -> list[concurrent.futures.Future[BaseException | None]]:
            while len(buffers) <= k % 2:
                buffers.append(np.empty((len(groups[k]), *frame_shape), out_dtype))
            buf = buffers[k % 2]
            return [pool.submit(load, items[i], buf[j]) for j, i in enumerate(groups[k])]

        queue = [submit(k) for k in range(min(2, len(groups)))]
        try:
            for k, group in enumerate(groups):
                futures = queue.pop(0)
                good: list[int] = []
                for j, fut in enumerate(futures):
                    err = fut.result()
                    if err is None:
                        good.append(j)
                    elif skippable(err):
                        pending_skipped.append(labels[group[j]])
                    else:
                        raise err
                data = buffers[k % 2][: len(group)]
                if len(good) < len(group):
                    data = data[good]
                yield Block(data, tuple(labels[group[j]] for j in good), tuple(pending_skipped))
                pending_skipped = []
                if k + 2 < len(groups):
                    queue.append(submit(k + 2))
        finally:
            for futures in queue:
                for fut in futures:
                    fut.cancel()
    if pending_skipped:  # every item after the last good block was skipped
        yield Block(np.empty((0, *frame_shape), out_dtype), (), tuple(pending_skipped))


class TiffPagesSource(FrameSource):
    """The pages of one multi-page TIFF file, in page order, decoded by a thread pool.

    Every decoding thread opens its own handle of the file (a TIFF handle is not safe to
    share between threads); all are closed by :meth:`close`.
    """

    kind = "tiff"

    def __init__(self, path: str, *, threads: int | None = None) -> None:
        self._tifffile = require("tifffile", "reading TIFF stacks")
        try:
            self._tf = self._tifffile.TiffFile(path)
            pages = self._tf.pages
            first = pages[0]
            shape = tuple(int(n) for n in first.shape)
            dtype = np.dtype(first.dtype)
            n = len(pages)
        except Exception as exc:
            raise ImageReadError(
                f"cannot read TIFF {path!r}: {type(exc).__name__}: {exc}"
            ) from exc
        arithmetic_dtype(dtype)
        super().__init__(path, n, shape, dtype)
        self.threads = threads if threads is not None else _config.get_num_threads()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._handles: list[Any] = []

    def _handle(self) -> Any:
        tf = getattr(self._local, "tf", None)
        if tf is None:
            tf = self._tifffile.TiffFile(self.location)
            self._local.tf = tf
            with self._lock:
                self._handles.append(tf)
        return tf

    def _load(self, i: int, slot: np.ndarray) -> BaseException | None:
        try:
            page = self._handle().pages[i]
            shape, dtype = tuple(int(n) for n in page.shape), np.dtype(page.dtype)
        except Exception as exc:
            return ImageReadError(f"cannot read page {i} of TIFF {self.location!r}: {exc}")
        if shape != self.frame_shape or dtype != self.dtype:
            return ValueError(
                f"page {i} of TIFF {self.location!r} has shape {shape} and dtype {dtype}, but "
                f"page 0 has shape {self.frame_shape} and dtype {self.dtype}; all frames of a "
                "stack must match"
            )
        try:
            np.copyto(slot, page.asarray(), casting="unsafe")
        except Exception as exc:
            return ImageReadError(
                f"cannot decode page {i} of TIFF {self.location!r}: {type(exc).__name__}: {exc}"
            )
        return None

    def blocks(self, frames_per_block: int, out_dtype: np.dtype[Any]) -> Iterator[Block]:
        """Yield consecutive pages (each checked for shape and dtype)."""
        labels = [f"{self.location}[{i}]" for i in range(self.n_frames)]
        return _pipelined(range(self.n_frames), labels, self._load, lambda err: False,
                          self.frame_shape, frames_per_block, out_dtype, self.threads)

    def close(self) -> None:
        """Close the TIFF file and every thread's handle."""
        with self._lock:
            handles, self._handles = self._handles, []
        for tf in [self._tf, *handles]:
            tf.close()


class ImageFilesSource(FrameSource):
    """A list of image files, one frame each, decoded by a thread pool one block ahead.

    Shape and dtype come from the first readable file; every later file must match
    (ValueError naming the first one that does not). With ``skip_bad`` unreadable files
    are dropped and reported in :attr:`Block.skipped`; otherwise the first one raises
    :class:`ImageReadError` naming it.
    """

    kind = "images"

    def __init__(
        self, paths: Sequence[str], location: str, *, skip_bad: bool = False,
        threads: int | None = None,
    ) -> None:
        if not paths:
            raise FileNotFoundError(f"source {location!r} holds no image files "
                                    f"({', '.join(IMAGE_SUFFIXES)})")
        self.paths = list(paths)
        self.skip_bad = skip_bad
        self.threads = threads if threads is not None else _config.get_num_threads()
        self.leading_skipped: list[str] = []
        header: tuple[tuple[int, ...], np.dtype[Any]] | None = None
        for path in self.paths:
            try:
                header = _image_header(path)
                break
            except ImageReadError:
                if not skip_bad:
                    raise
                self.leading_skipped.append(path)
        if header is None:
            raise ImageReadError(f"source {location!r}: none of its {len(self.paths)} image "
                                 "files could be read")
        self.first = self.paths[len(self.leading_skipped)]
        arithmetic_dtype(header[1])
        super().__init__(location, len(self.paths), header[0], header[1])

    def _load(self, path: str, slot: np.ndarray) -> BaseException | None:
        """Decode ``path`` into ``slot``; return the error instead of raising it."""
        try:
            arr = decode_image(path)
        except (ImageReadError, ImportError) as exc:
            return exc
        if arr.shape != self.frame_shape or arr.dtype != self.dtype:
            return ValueError(
                f"image {path!r} has shape {arr.shape} and dtype {arr.dtype}, but the first "
                f"image {self.first!r} has shape {self.frame_shape} and dtype {self.dtype}; "
                "all frames of a stack must match"
            )
        np.copyto(slot, arr, casting="unsafe")
        return None

    def blocks(self, frames_per_block: int, out_dtype: np.dtype[Any]) -> Iterator[Block]:
        """Yield decoded frames in file order; the next block is decoded meanwhile."""
        paths = self.paths[len(self.leading_skipped) :]
        return _pipelined(
            paths, paths, self._load,
            lambda err: self.skip_bad and isinstance(err, ImageReadError),
            self.frame_shape, frames_per_block, out_dtype, self.threads, self.leading_skipped,
        )


# --------------------------------------------------------------------------- resolution
def _is_zarr_array(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] == "zarr" and hasattr(obj, "chunks")


def _is_zarr_store(path: Path) -> bool:
    return path.is_dir() and any(
        (path / name).exists() for name in ("zarr.json", ".zarray", ".zgroup")
    )


def _image_paths(paths: Sequence[str]) -> list[str]:
    files = [p for p in paths if os.path.splitext(p)[1].lower() in IMAGE_SUFFIXES
             and os.path.isfile(p)]
    return sorted(files, key=lambda p: natural_key(os.path.basename(p)) + natural_key(p))


def _open_zarr(path: str) -> Any:
    zarr = require("zarr", "reading Zarr arrays")
    try:
        obj = zarr.open(path, mode="r")
    except Exception as exc:
        raise ValueError(f"cannot open Zarr store {path!r}: {type(exc).__name__}: {exc}") from exc
    if not _is_zarr_array(obj) or not hasattr(obj, "shape"):
        raise ValueError(f"Zarr store {path!r} is a group, not an array; pass the array's path "
                         "(e.g. store.zarr/name)")
    return obj


def open_source(
    source: Any, axis: int = 0, *, skip_bad: bool = False, threads: int | None = None
) -> FrameSource:
    """Recognise ``source`` and open it as a :class:`FrameSource` with frames along ``axis``.

    Parameters
    ----------
    source : array_like, str, os.PathLike, sequence of paths, or zarr.Array
        A NumPy array; a ``.npy`` file; a directory of images (PNG, JPEG, TIFF; natural
        sort order) or a Zarr store; a glob pattern of images; a multi-page ``.tif``; a
        list of image paths (taken in the order given); or a Zarr array.
    axis : int, default 0
        Path axis (images and TIFF pages: 0 only).
    skip_bad : bool, default False
        Images only: skip unreadable files instead of raising.
    threads : int, optional
        Decoding threads for images (default :func:`smpfast.get_num_threads`).

    Returns
    -------
    FrameSource

    Raises
    ------
    FileNotFoundError
        The path does not exist, or a glob or directory matches no image.
    ValueError, TypeError
        Unsupported source, bad axis, unreadable file.

    Examples
    --------
    >>> import numpy as np
    >>> src = open_source(np.zeros((5, 2, 3)), axis=1)
    >>> src.n_frames, src.frame_shape
    (2, (5, 3))
    """
    if isinstance(source, np.ndarray):
        return ArraySource(source, axis)
    if _is_zarr_array(source):
        return ZarrSource(source, axis, f"<zarr {getattr(source, 'path', '') or 'array'}>")
    if isinstance(source, (list, tuple)) and source and all(
        isinstance(p, (str, os.PathLike)) for p in source
    ):
        paths = [os.fspath(p) for p in source]
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing:
            raise FileNotFoundError(f"source image {missing[0]!r} does not exist")
        _image_axis(axis, "a list of image files")
        return ImageFilesSource(paths, f"<{len(paths)} files>", skip_bad=skip_bad,
                                threads=threads)
    if isinstance(source, (str, os.PathLike)):
        return _open_path(os.fspath(source), axis, skip_bad, threads)
    if hasattr(source, "__array__") or isinstance(source, (list, tuple)):
        return ArraySource(_validate.float_array(source, "source"), axis)
    raise TypeError(
        f"source must be an array, a path (.npy, .tif, image folder, glob, Zarr store) or a "
        f"zarr.Array; got {type(source).__name__}"
    )


def _image_axis(axis: Any, what: str) -> None:
    try:
        ok = operator.index(axis) == 0
    except TypeError:
        raise TypeError(f"axis must be an integer, got {type(axis).__name__} {axis!r}") from None
    if not ok:
        raise ValueError(f"axis must be 0 for {what} (frames are files or pages); got {axis!r}")


def _open_path(path: str, axis: int, skip_bad: bool, threads: int | None) -> FrameSource:
    p = Path(path)
    if not p.exists():
        if _GLOB_CHARS.search(path):
            matches = _image_paths(glob.glob(path))
            if not matches:
                raise FileNotFoundError(f"source pattern {path!r} matches no image files "
                                        f"({', '.join(IMAGE_SUFFIXES)})")
            _image_axis(axis, "images")
            return ImageFilesSource(matches, path, skip_bad=skip_bad, threads=threads)
        raise FileNotFoundError(f"source {path!r} does not exist")
    if p.is_dir():
        if _is_zarr_store(p):
            return ZarrSource(_open_zarr(path), axis, path)
        _image_axis(axis, "an image folder")
        files = _image_paths([str(c) for c in p.iterdir()])
        return ImageFilesSource(files, path, skip_bad=skip_bad, threads=threads)
    suffix = p.suffix.lower()
    if suffix == ".npy":
        return NpySource(path, axis)
    if suffix in TIFF_SUFFIXES:
        _image_axis(axis, "a TIFF stack")
        return TiffPagesSource(path, threads=threads)
    if suffix in IMAGE_SUFFIXES:
        _image_axis(axis, "an image")
        return ImageFilesSource([path], path, skip_bad=skip_bad, threads=threads)
    raise ValueError(
        f"source {path!r} has an unsupported type {suffix or '(no suffix)'!r}; expected a .npy "
        f"file, a TIFF stack, an image folder or glob ({', '.join(IMAGE_SUFFIXES)}), or a Zarr "
        "store"
    )
