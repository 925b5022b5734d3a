"""``show_config``: what smpfast runs on here."""

from __future__ import annotations

import os
import platform
import sys
from typing import Any

import numpy as np

from . import _backends, _config
from ._version import __version__


def config() -> dict[str, Any]:
    """The configuration as a dictionary (what :func:`show_config` prints)."""
    backends: dict[str, Any] = {}
    for name in _backends.BACKENDS:
        module = _backends.load(name)
        if module is None:
            backends[name] = {"available": False, "reason": _backends.unavailable_reason(name)}
        else:
            backends[name] = {"available": True, **module.describe()}
    try:
        selected: str | None = _backends.current_name()
    except ValueError as exc:
        selected = f"invalid ({exc})"
    return {
        "smpfast": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "platform": f"{platform.system()} {platform.machine()}",
        "selected_backend": selected,
        "SMPFAST_BACKEND": os.environ.get("SMPFAST_BACKEND"),
        "threads": _config.get_num_threads(),
        "backends": backends,
    }


def show_config() -> dict[str, Any]:
    """Print the version, the backends (and why any is missing), SIMD target and threads.

    Returns
    -------
    dict
        The same information, for programs.

    Examples
    --------
    >>> import smpfast
    >>> cfg = smpfast.show_config()  # doctest: +ELLIPSIS
    smpfast ...
    >>> cfg["threads"] >= 1
    True
    """
    cfg = config()
    print(f"smpfast {cfg['smpfast']} (python {cfg['python']}, numpy {cfg['numpy']}, "
          f"{cfg['platform']})")
    print(f"  selected backend : {cfg['selected_backend']}")
    print(f"  threads          : {cfg['threads']}")
    for name, info in cfg["backends"].items():
        if info["available"]:
            extra = ", ".join(f"{k}={v}" for k, v in info.items() if k not in ("available", "name"))
            print(f"  backend {name:<6}   : available ({extra})")
        else:
            print(f"  backend {name:<6}   : NOT available - {info['reason']}")
    return cfg
