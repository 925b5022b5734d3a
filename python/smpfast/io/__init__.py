"""Image stacks and files: per-pixel SMP of frame stacks, per-image SMP of image folders.

:func:`smp_stack` streams a stack (NumPy array, ``.npy``, image folder or glob, multi-page
TIFF, Zarr array) through :class:`smpfast.SMPStream` in blocks of bounded size and returns
per-pixel SMP and peak counts along the frame axis. :func:`smp_images` measures every
image's spatial nonsmoothness (SMP along rows and columns) into a table.

Pillow and tifffile (``pip install "smpfast[io]"``), zarr (``[zarr]``) and matplotlib
(``[plot]``) are imported only when a source or output needs them.

Examples
--------
>>> import numpy as np, smpfast.io
>>> stack = np.abs(np.linspace(-1.0, 1.0, 9))[:, None] * np.ones((9, 3))
>>> smp, count = smpfast.io.smp_stack(stack, mode="run", progress=False)
>>> smp, count
(array([0.5, 0.5, 0.5]), array([1, 1, 1]))
"""

from __future__ import annotations

from ._atomic import atomic_open, save_json, save_npy
from ._images import AXES, ImageTable, smp_images, write_table
from ._plot import save_heatmap
from ._sources import IMAGE_SUFFIXES, FrameSource, ImageReadError, natural_key, open_source
from ._stack import DEFAULT_CHUNK_BYTES, StackResult, smp_stack

__all__ = [
    "AXES",
    "DEFAULT_CHUNK_BYTES",
    "IMAGE_SUFFIXES",
    "FrameSource",
    "ImageReadError",
    "ImageTable",
    "StackResult",
    "atomic_open",
    "natural_key",
    "open_source",
    "save_heatmap",
    "save_json",
    "save_npy",
    "smp_images",
    "smp_stack",
    "write_table",
]
