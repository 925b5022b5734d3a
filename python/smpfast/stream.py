"""Streaming SMP: :class:`SMPStream` accumulates SMP over frames that arrive in blocks.

A stack of ``T`` images (or any ``(T, *shape)`` array too large for memory) is a batch of
signals along the first axis. ``SMPStream(shape)`` keeps, for every signal, the carry
the SMP state machine needs between blocks (the last two samples, the open plateau or
run, the sums and counts), so that feeding the frames in blocks of any size gives the same
result as :func:`smpfast.smp_and_count` on the whole array along axis 0.
"""

from __future__ import annotations

import copy as _copy
import operator
import threading
from types import ModuleType
from typing import Any

import numpy as np

from . import _backends, _validate

__all__ = ["SMPStream"]

#: Version of the pickled state layout (``__getstate__``).
_STATE_VERSION = 1


def _shape(shape: Any) -> tuple[int, ...]:
    """Validate the per-frame shape (an int or a sequence of non-negative ints)."""
    dims: tuple[int, ...]
    try:
        dims = (operator.index(shape),)
    except TypeError:
        try:
            dims = tuple(operator.index(n) for n in shape)
        except TypeError:
            raise TypeError(
                f"shape must be an int or a sequence of ints, got {type(shape).__name__} "
                f"{shape!r}"
            ) from None
    if any(n < 0 for n in dims):
        raise ValueError(f"shape must not have negative dimensions; got {dims}")
    return dims


def _stream_dtype(dtype: Any) -> np.dtype[Any]:
    """Validate the stream's dtype: float32 or float64."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    native: np.dtype[Any] = np.dtype(dt.type)  # native byte order
    return native


def _kernel(module: ModuleType) -> Any:
    update = getattr(module, "stream_update", None)
    if not callable(update):
        raise RuntimeError(f"backend {module.name!r} has no streaming kernel (stream_update)")
    return update


class SMPStream:
    """Accumulate SMP and peak counts of signals whose samples arrive frame by frame.

    Every element of a frame of shape ``shape`` is one signal; frames arrive in path order
    in blocks of ``n >= 0`` frames. At any time :meth:`result` gives what
    ``smpfast.smp_and_count(all_frames, axis=0, ...)`` gives on the concatenation of the
    frames seen so far, however they were split into blocks (counts identical; SMP
    bit-identical on the ``numpy`` and ``numba`` backends, within 1e-12 relative on
    ``cpp``).

    Parameters
    ----------
    shape : int or tuple of int
        Shape of one frame (``()`` for a single signal).
    mode : {"local", "run"}, default "local"
        Peak mode, as in :func:`smpfast.smp_and_count`.
    height : float, default 0.0
        Minimum magnitude of a peak.
    tol : float, optional
        Relative noise floor; default ``8 * eps`` of ``dtype``.
    nan_policy : {"propagate", "raise", "omit"}, default "propagate"
        ``"propagate"``: a signal that saw NaN or Inf gives SMP NaN and count 0.
        ``"raise"``: :meth:`update` raises ValueError on a non-finite sample and leaves the
        stream as it was before that call (unlike ``smp_and_count``, which gives 0 for
        fewer than 3 samples in all, the stream cannot know whether more frames follow,
        so it raises even then). ``"omit"``: the signal is split at the non-finite sample.
    dtype : {numpy.float64, numpy.float32}, default numpy.float64
        Arithmetic dtype of ``d``; frames are converted to it (float32 stays float32 with
        ``dtype=np.float32``, as ``smp`` keeps float32 input float32).
    backend : {"cpp", "numba", "numpy"}, optional
        Backend for every :meth:`update`; by default the one selected at the time of each
        update (``use_backend`` > ``set_backend`` > ``SMPFAST_BACKEND`` > best). All
        backends share one state layout, so they can take turns on one stream.

    Notes
    -----
    The state is a few arrays over the frame (``smpfast.reference.stream_state``: the last
    two samples, the open plateau or run, sums and counts; about 40 bytes per signal),
    shared by every backend. Updates release the GIL on the ``cpp`` backend; one stream
    takes one update (or ``result``, or pickling) at a time (a lock serialises them), so
    feed a stream from one thread, or give each thread its own stream. With
    ``nan_policy="raise"`` every update first copies the state, so that a failing update
    can be undone.

    Examples
    --------
    >>> import numpy as np, smpfast
    >>> t = np.linspace(-1.0, 1.0, 9)
    >>> frames = np.stack([np.abs(t), t], axis=1)          # (9, 2): two signals
    >>> s = smpfast.SMPStream(2, mode="run")
    >>> s.update(frames[:4]).update(frames[4:]).n_frames
    9
    >>> smp, count = s.result()
    >>> smp, count
    (array([0.5, 0. ]), array([1, 0]))
    """

    def __init__(
        self,
        shape: Any,
        *,
        mode: str = "local",
        height: float = 0.0,
        tol: float | None = None,
        nan_policy: str = "propagate",
        dtype: Any = np.float64,
        backend: str | None = None,
    ) -> None:
        self._shape = _shape(shape)
        self._dtype = _stream_dtype(dtype)
        self._mode = _validate.choice(mode, _validate.MODES, "mode")
        self._height = _validate.nonnegative(height, "height")
        self._tol = _validate.tolerance(tol, self._dtype)
        self._nan_policy = _validate.choice(nan_policy, _validate.NAN_POLICIES, "nan_policy")
        if backend is not None:
            _backends.resolve(backend)  # unknown or unavailable: fail now, not at update
        self._backend = backend
        self._n_frames = 0
        self._lock = threading.Lock()  # one update (or result, or pickling) at a time
        from . import reference  # the state layout is the reference's (lazy: no cycle)

        self._state = reference.stream_state(int(np.prod(self._shape)), self._dtype, self._mode)

    # ----------------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one frame."""
        return self._shape

    @property
    def mode(self) -> str:
        """Peak mode, ``"local"`` or ``"run"``."""
        return self._mode

    @property
    def height(self) -> float:
        """Minimum peak magnitude."""
        return self._height

    @property
    def tol(self) -> float:
        """Relative noise floor in use (the dtype's default resolved)."""
        return self._tol

    @property
    def nan_policy(self) -> str:
        """``"propagate"``, ``"raise"`` or ``"omit"``."""
        return self._nan_policy

    @property
    def dtype(self) -> np.dtype[Any]:
        """Arithmetic dtype (float32 or float64)."""
        return self._dtype

    @property
    def backend(self) -> str | None:
        """The backend given at construction (None: chosen at each update)."""
        return self._backend

    @property
    def n_frames(self) -> int:
        """Frames seen so far."""
        return self._n_frames

    # ----------------------------------------------------------------------- work
    def _frames(self, frames: Any) -> np.ndarray:
        arr = _validate.float_array(frames, "frames")
        if arr.ndim != 1 + len(self._shape) or arr.shape[1:] != self._shape:
            expected = str((-1, *self._shape)).replace("-1", "n")
            raise ValueError(
                f"frames must have shape {expected} (n frames of shape {self._shape}); "
                f"got shape {arr.shape}"
            )
        if arr.dtype != self._dtype:
            arr = arr.astype(self._dtype)
        return arr

    def update(self, frames: Any) -> SMPStream:
        """Advance every signal over ``frames`` (shape ``(n, *shape)``, in path order).

        Parameters
        ----------
        frames : array_like
            ``n >= 0`` frames, any strides; real dtype, converted to :attr:`dtype`.

        Returns
        -------
        SMPStream
            ``self``, so that updates chain.

        Raises
        ------
        ValueError
            Wrong frame shape; a non-finite sample with ``nan_policy="raise"`` (the stream
            is then left as it was before the call).

        Examples
        --------
        >>> import numpy as np, smpfast
        >>> s = smpfast.SMPStream((2, 3))
        >>> s.update(np.zeros((5, 2, 3))).n_frames
        5
        """
        arr = self._frames(frames)
        kernel = _kernel(_backends.resolve(self._backend))
        with self._lock:
            self._update(arr, kernel)
        return self

    def _update(self, arr: np.ndarray, kernel: Any) -> None:
        n = arr.shape[0]
        if n == 0 or arr.size == 0:
            self._n_frames += n
            return
        raising = self._nan_policy == "raise"
        before = {k: v.copy() for k, v in self._state.items()} if raising else None
        kernel(self._state, arr, self._mode, self._height, self._tol, self._nan_policy == "omit")
        if before is not None and self._state["poisoned"].any():
            self._state = before
            finite = np.isfinite(arr.reshape(n, -1))
            pixel = int(np.argmin(finite.all(axis=0)))
            frame = int(np.argmin(finite[:, pixel]))
            where = np.unravel_index(pixel, self._shape) if self._shape else ()
            raise ValueError(
                f"frames holds NaN or Inf (first in the signal at index "
                f"{tuple(int(i) for i in where)}, frame {frame} of this block, path index "
                f"{self._n_frames + frame}); pass nan_policy='omit' to skip such samples"
            )
        self._n_frames += n

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """SMP and peak counts as if the stream ended now (the stream is not changed).

        Returns
        -------
        smp : numpy.ndarray of float64, shape :attr:`shape`
        count : numpy.ndarray of int64, shape :attr:`shape`

        Examples
        --------
        >>> import numpy as np, smpfast
        >>> s = smpfast.SMPStream(()).update(np.abs(np.linspace(-1.0, 1.0, 9)))
        >>> smp, count = s.result()
        >>> float(smp), int(count)
        (0.5, 1)
        """
        from . import reference

        with self._lock:
            smp, count = reference.stream_result(
                self._state, self._n_frames, self._mode, self._height
            )
        return smp.reshape(self._shape), count.reshape(self._shape)

    def copy(self) -> SMPStream:
        """An independent copy (state arrays copied).

        Examples
        --------
        >>> import numpy as np, smpfast
        >>> a = smpfast.SMPStream(3).update(np.ones((4, 3)))
        >>> b = a.copy().update(np.ones((2, 3)))
        >>> a.n_frames, b.n_frames
        (4, 6)
        """
        return _copy.deepcopy(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> SMPStream:
        new = SMPStream.__new__(type(self))
        new.__setstate__(self.__getstate__())
        return new

    # ----------------------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        with self._lock:
            return self._export()

    def _export(self) -> dict[str, Any]:
        return {
            "version": _STATE_VERSION,
            "shape": self._shape,
            "mode": self._mode,
            "height": self._height,
            "tol": self._tol,
            "nan_policy": self._nan_policy,
            "dtype": self._dtype.str,
            "backend": self._backend,
            "n_frames": self._n_frames,
            "arrays": {k: v.copy() for k, v in self._state.items()},
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        if state.get("version") != _STATE_VERSION:
            raise ValueError(
                f"cannot restore an SMPStream saved with state version {state.get('version')!r} "
                f"(this smpfast reads version {_STATE_VERSION})"
            )
        self._shape = tuple(int(n) for n in state["shape"])
        self._mode = str(state["mode"])
        self._height = float(state["height"])
        self._tol = float(state["tol"])
        self._nan_policy = str(state["nan_policy"])
        self._dtype = np.dtype(state["dtype"])
        self._backend = state["backend"]
        self._n_frames = int(state["n_frames"])
        from . import reference

        fresh = reference.stream_state(int(np.prod(self._shape)), self._dtype, self._mode)
        arrays = state["arrays"]
        for key, like in fresh.items():
            got = np.asarray(arrays[key])
            if got.shape != like.shape or got.dtype != like.dtype:
                raise ValueError(
                    f"SMPStream state array {key!r} has shape {got.shape} and dtype "
                    f"{got.dtype}; expected {like.shape} and {like.dtype}"
                )
            # our own writable C-contiguous array (no copy of a freshly unpickled one)
            fresh[key] = np.require(got, like.dtype, ["C_CONTIGUOUS", "WRITEABLE", "OWNDATA"])
        self._state = fresh
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"SMPStream(shape={self._shape}, mode={self._mode!r}, height={self._height}, "
            f"tol={self._tol}, nan_policy={self._nan_policy!r}, dtype={self._dtype.name}, "
            f"backend={self._backend!r}; n_frames={self._n_frames})"
        )
