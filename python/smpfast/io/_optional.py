"""Imports of optional libraries, with an error that names the extra to install.

``import smpfast`` imports none of them; they load on first use.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]

#: Module -> the smpfast extra that installs it.
EXTRAS = {
    "PIL": "io",
    "tifffile": "io",
    "zarr": "zarr",
    "dask": "dask",
    "dask.array": "dask",
    "distributed": "dask",
    "matplotlib": "plot",
    "pyarrow": "parquet",
}


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise ImportError naming the extra that provides it.

    Parameters
    ----------
    module : str
        Module to import (e.g. ``"PIL"``, ``"zarr"``).
    purpose : str
        What it is needed for, used in the error message.

    Examples
    --------
    >>> require("json", "tests").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = EXTRAS.get(module, EXTRAS.get(module.split(".")[0]))
        hint = f'pip install "smpfast[{extra}]"' if extra else f"pip install {module}"
        raise ImportError(
            f"{purpose} needs the optional library {module.split('.')[0]!r}, which is not "
            f"installed ({exc}); install it with: {hint}"
        ) from exc
