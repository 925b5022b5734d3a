"""PNG plots of fingerprints, layer profiles and the study's ROC (matplotlib, lazily).

Every plot is written to a temporary name in the target directory and renamed.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np

from .. import measure
from .fingerprint import Fingerprint
from .layers import LayerProfile

__all__ = ["plot_layer_profile", "plot_resolution", "plot_roc", "plot_trajectories"]


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plots need matplotlib: pip install matplotlib") from None
    return plt


def _save(fig: Any, path: str | os.PathLike[str]) -> str:
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".png", dir=directory)
    os.close(fd)
    try:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    finally:
        _pyplot().close(fig)
    return path


def plot_trajectories(fp: Fingerprint, path: str | os.PathLike[str]) -> str:
    """Output trajectories of the example paths with their run-mode peaks marked.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from smpfast import forensics
    >>> fp = forensics.fingerprint(np.abs, np.eye(3), n_paths=2, T=16, progress=False)
    >>> out = plot_trajectories(fp, os.path.join(tempfile.mkdtemp(), "t.png"))  # doctest: +SKIP
    """
    plt = _pyplot()
    ex = fp.examples
    if not ex:
        raise ValueError("the fingerprint holds no example trajectories (n_examples=0)")
    s, y, outs = np.asarray(ex["s"]), np.asarray(ex["y"]), np.asarray(ex["outputs"])
    n_ex = y.shape[0]
    fig, axes = plt.subplots(n_ex, 1, figsize=(7, 1.9 * n_ex), squeeze=False, sharex=True)
    for p in range(n_ex):
        ax = axes[p, 0]
        for j, k in enumerate(outs):
            sig = y[p, :, j]
            ax.plot(s, sig, lw=1.0, label=f"output {int(k)}")
            pos, _ = measure.find_peaks(sig + 2 * np.max(np.abs(sig)), mode="run")
            ax.plot(s[pos], sig[pos], "x", ms=4, color=ax.lines[-1].get_color())
        ax.set_ylabel(f"path {p}")
    axes[0, 0].legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("path parameter s (x: run-mode peaks)")
    fig.suptitle(f"{fp.path} paths, T={int(fp.resolution_T[-1])}")
    return _save(fig, path)


def plot_resolution(fps: dict[str, Fingerprint], path: str | os.PathLike[str]) -> str:
    """SMP per unit path parameter against samples per path, run and local mode.

    A piecewise-linear function's curves are flat; a smooth function's local-mode curve
    falls like 1/T (the dotted guide).
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, fp in fps.items():
        t = np.asarray(fp.resolution_T)
        line = ax.loglog(t, fp.resolution_smp_run, "o-", label=f"{name} run")[0]
        ax.loglog(t, fp.resolution_smp_local, "s--", color=line.get_color(),
                  label=f"{name} local")
        loc = np.asarray(fp.resolution_smp_local)
        if loc[0] > 0:
            ax.loglog(t, loc[0] * t[0] / t, ":", color="gray", lw=0.8)
    ax.set_xlabel("samples per path T")
    ax.set_ylabel("SMP per unit path parameter (sum over outputs)")
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_layer_profile(prof: LayerProfile, path: str | os.PathLike[str]) -> str:
    """Per-layer SMP (run and local, log scale) and kink share."""
    plt = _pyplot()
    x = np.arange(len(prof.names))
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(max(6, 0.45 * len(x)), 5), sharex=True)
    floor = 1e-300
    a1.semilogy(x, np.maximum(prof.smp_run, floor), "o-", label="run")
    a1.semilogy(x, np.maximum(prof.smp_local, floor), "s--", label="local")
    a1.set_ylabel("mean SMP per element")
    a1.legend(fontsize=7)
    a2.bar(x, prof.kink_share)
    a2.set_ylabel("kink share")
    a2.set_ylim(0, 1)
    a2.set_xticks(x, prof.names, rotation=60, ha="right", fontsize=7)
    return _save(fig, path)


def plot_roc(curves: dict[str, tuple[np.ndarray, np.ndarray, float]],
             path: str | os.PathLike[str]) -> str:
    """ROC curves: ``{name: (fpr, tpr, auc)}``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for name, (fpr, tpr, a) in curves.items():
        ax.step(fpr, tpr, where="post", label=f"{name} (AUC {a:.3f})")
    ax.plot([0, 1], [0, 1], ":", color="gray")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)
