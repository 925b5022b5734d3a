"""The ``cpp`` backend: thin adapter from the registry's kernel signature to ``smpfast._core``."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _config, _core

name = "cpp"


def smp_local(
    y: np.ndarray, height: float, tol: float, omit: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Local-mode SMP and counts (see ``smpfast.reference.smp_local``)."""
    return _core.smp_local(y, height, tol, omit, _config.get_num_threads())


def smp_run(
    y: np.ndarray, height: float, tol: float, omit: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Run-mode SMP and counts (see ``smpfast.reference.smp_run``)."""
    return _core.smp_run(y, height, tol, omit, _config.get_num_threads())


def find_peaks_local(
    y: np.ndarray, height: float, tol: float, omit: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Local-mode peaks of one signal (see ``smpfast.reference.find_peaks_local``)."""
    return _core.find_peaks_local(y, height, tol, omit)


def find_peaks_run(
    y: np.ndarray, height: float, tol: float, omit: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Run-mode peaks of one signal (see ``smpfast.reference.find_peaks_run``)."""
    return _core.find_peaks_run(y, height, tol, omit)


def stream_update(
    state: dict[str, np.ndarray],
    frames: np.ndarray,
    mode: str,
    height: float,
    tol: float,
    omit: bool,
) -> None:
    """Advance an ``SMPStream`` state over ``frames`` (see ``smpfast.reference.stream_update``)."""
    _core.stream_update(frames, state, mode, height, tol, omit, _config.get_num_threads())


def describe() -> dict[str, Any]:
    """Backend facts for ``show_config``."""
    return {
        "name": name,
        "simd": _core.get_simd_target(),
        "simd_supported": ",".join(_core.simd_targets()),
        "simd_compiled": ",".join(_core.compiled_simd_targets()),
        "threads": _config.get_num_threads(),
    }
