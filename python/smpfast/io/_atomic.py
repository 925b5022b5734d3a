"""Atomic file output: write to a temporary name in the same directory, then rename.

An interrupted run therefore never leaves a half-written file under the final name: the
final name either does not exist or holds a complete file (``os.replace`` is atomic on
POSIX and Windows when source and target are on the same file system, which a sibling
temporary file guarantees).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["atomic_open", "save_json", "save_npy"]

_umask: int | None = None


def _file_mode() -> int:
    """Permissions a plain ``open(path, "w")`` would give (0o666 minus the umask)."""
    global _umask
    if _umask is None:
        _umask = os.umask(0o022)  # the only portable way to read it: set, then restore
        os.umask(_umask)
    return 0o666 & ~_umask


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary sibling of ``path`` for writing; rename it to ``path`` on success.

    The temporary file is named ``.<name>.<random>.tmp`` in the directory of ``path``.
    If the body raises, the temporary file is removed and ``path`` is left untouched.

    Parameters
    ----------
    path : str or os.PathLike
        Final file name. Its directory must exist.
    mode : {"wb", "w"}, default "wb"
        Binary or text (UTF-8) mode.

    Yields
    ------
    file object
        The open temporary file; it is flushed, synced and closed before the rename.

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> with atomic_open(os.path.join(d, "a.txt"), "w") as f:
    ...     _ = f.write("done")
    >>> sorted(os.listdir(d))
    ['a.txt']
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w'; got {mode!r}")
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"output directory {str(directory)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, _file_mode())  # mkstemp makes it 0o600
        encoding = None if mode == "wb" else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def save_npy(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Save ``array`` as a ``.npy`` file atomically (exactly the name given, no suffix added).

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> p = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> save_npy(p, np.arange(3))
    >>> np.load(p)
    array([0, 1, 2])
    """
    with atomic_open(path, "wb") as f:
        np.save(f, np.asarray(array), allow_pickle=False)


def save_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as indented JSON atomically (NaN and Inf are refused: use None).

    Examples
    --------
    >>> import json, os, pathlib, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "s.json")
    >>> save_json(p, {"frames": 3})
    >>> json.loads(pathlib.Path(p).read_text())
    {'frames': 3}
    """
    with atomic_open(path, "w") as f:
        json.dump(data, f, indent=2, allow_nan=False)
        f.write("\n")
