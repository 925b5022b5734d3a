"""smpfast: measure and model the nonsmoothness of neural networks.

The sum of the magnitude of peaks (SMP) of a signal's second difference quantifies how
nonsmooth a network's output is along a smooth input path (Liu, Wong & Dai,
arXiv:2103.14731). Importing smpfast is cheap: backends load on first use.

Examples
--------
>>> import numpy as np, smpfast
>>> float(smpfast.smp(np.abs(np.linspace(-1.0, 1.0, 9)), mode="run"))
0.5
"""

from __future__ import annotations

from . import nn
from ._backends import available_backends, set_backend, use_backend, warn_if_extension_missing
from ._config import get_num_threads, set_num_threads
from ._show import show_config
from ._version import __version__
from .measure import find_peaks, peak_count, second_diff, smp, smp_and_count
from .stream import SMPStream

warn_if_extension_missing()

#: Submodules imported on first attribute access (``smpfast.nets``), to keep import cheap.
_LAZY_SUBMODULES = ("nets", "paths", "simulate", "io", "dask", "forensics", "model")


def __getattr__(name: str) -> object:
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY_SUBMODULES])


__all__ = [
    "SMPStream",
    "__version__",
    "available_backends",
    "find_peaks",
    "get_num_threads",
    "nn",
    "peak_count",
    "second_diff",
    "set_backend",
    "set_num_threads",
    "show_config",
    "smp",
    "smp_and_count",
    "use_backend",
]
