"""Heat map of a per-pixel SMP image, with a colour bar (matplotlib, Agg, no display)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ._atomic import atomic_open
from ._optional import require

__all__ = ["save_heatmap"]

#: Upper end of the colour scale, as a percentile of the finite values (SMP is
#: heavy-tailed: a few kinked pixels would otherwise make the rest one colour).
CLIP_PERCENTILE = 99.9


def _panels(values: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """2-D images to draw: one, or one per channel of an ``(H, W, C<=4)`` result."""
    if values.ndim == 0:
        return [("", values.reshape(1, 1))]
    if values.ndim == 1:
        return [("", values.reshape(1, -1))]
    if values.ndim == 2:
        return [("", values)]
    if values.ndim == 3 and values.shape[2] <= 4:
        return [(f"channel {c}", values[:, :, c]) for c in range(values.shape[2])]
    return [("", values.reshape(values.shape[0], -1))]


def save_heatmap(
    path: str | os.PathLike[str], values: np.ndarray, *, title: str = "SMP", label: str = "SMP"
) -> None:
    r"""Save ``values`` as a PNG heat map with a colour bar, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Output PNG.
    values : numpy.ndarray
        Per-pixel values: ``(H, W)``; ``(H, W, C)`` with ``C <= 4`` gives one panel per
        channel; 1-D gives one row; more dimensions are flattened to 2-D. NaN pixels are
        left blank. The colour scale runs from the minimum to the 99.9th percentile.
    title, label : str
        Figure title and colour-bar label.

    Examples
    --------
    >>> import os, pathlib, tempfile, numpy as np
    >>> p = os.path.join(tempfile.mkdtemp(), "smp.png")
    >>> save_heatmap(p, np.arange(12.0).reshape(3, 4))
    >>> pathlib.Path(p).read_bytes()[:4]
    b'\x89PNG'
    """
    require("matplotlib", "drawing the SMP heat map")
    from matplotlib.figure import Figure  # no pyplot: no global state, no display

    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    vmin = float(finite.min()) if finite.size else 0.0
    vmax = float(np.percentile(finite, CLIP_PERCENTILE)) if finite.size else 1.0
    if vmax <= vmin:
        vmax = vmin + 1.0
    panels = _panels(values)
    fig = Figure(figsize=(4.5 * len(panels) + 1.0, 4.5), layout="constrained")
    axs: Any = fig.subplots(1, len(panels), squeeze=False)[0]
    image: Any = None
    for ax, (name, data) in zip(axs, panels, strict=True):
        aspect = "auto" if data.shape[0] * 20 < data.shape[1] else "equal"
        image = ax.imshow(data, cmap="magma", vmin=vmin, vmax=vmax, interpolation="nearest",
                          aspect=aspect)
        ax.set_title(f"{title} {name}".strip())
        ax.set_xlabel("column")
        ax.set_ylabel("row")
    fig.colorbar(image, ax=list(axs), label=label, shrink=0.9)
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100)
