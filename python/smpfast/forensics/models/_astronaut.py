"""Face crops of ``skimage.data.astronaut()`` on a grid of box offsets (both face models)."""

from __future__ import annotations

from typing import Any

import numpy as np


def astronaut_crops(
    box: tuple[int, int, int], out_size: int, n_side: int, step: int, who: str
) -> tuple[np.ndarray, np.ndarray]:
    """Crops of ``box = (top, left, size)`` shifted on an ``n_side`` x ``n_side`` grid.

    Neighbouring boxes are ``step`` pixels apart, centred on ``box``; each crop is resized
    with anti-aliasing to ``out_size`` x ``out_size``. Returns float64 crops in [0, 1]
    of shape ``(n_side**2, out_size, out_size, 3)`` and the ``(top, left, size)`` boxes
    (int64). ``who`` names the caller in the error when scikit-image is missing.

    Examples
    --------
    >>> crops, boxes = astronaut_crops((70, 180, 120), 48, 1, 8, "demo")  # doctest: +SKIP
    >>> crops.shape, boxes.tolist()  # doctest: +SKIP
    ((1, 48, 48, 3), [[70, 180, 120]])
    """
    try:
        from skimage import data, transform
    except ImportError:
        raise ImportError(f"{who} needs scikit-image: pip install scikit-image") from None
    sk_data: Any = data
    sk_transform: Any = transform
    img = sk_data.astronaut()
    top, left, size = box
    half = (n_side - 1) / 2.0
    crops, boxes = [], []
    for i in range(n_side):
        for j in range(n_side):
            y0 = round(top + (i - half) * step)
            x0 = round(left + (j - half) * step)
            patch = img[y0:y0 + size, x0:x0 + size]
            crops.append(sk_transform.resize(patch, (out_size, out_size), anti_aliasing=True))
            boxes.append((y0, x0, size))
    return np.asarray(crops, dtype=np.float64), np.asarray(boxes, dtype=np.int64)
