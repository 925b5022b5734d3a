"""Backend registry and selection.

A backend is a module-like object with the kernels ``smp_local``, ``smp_run``,
``find_peaks_local``, ``find_peaks_run`` (already-validated arrays, path axis last) and
``describe()``. Selection order: the ``backend=`` argument, then ``use_backend()``, then
``set_backend()``, then the ``SMPFAST_BACKEND`` environment variable, then the best one
available (``cpp`` > ``numba`` > ``numpy``).
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import os
import warnings
from collections.abc import Iterator
from types import ModuleType
from typing import Any

BACKENDS = ("cpp", "numba", "numpy")
_MODULES = {
    "cpp": "smpfast._cpp",
    "numba": "smpfast._numba",
    "numpy": "smpfast.reference",
}

#: What every backend module provides (same names in every backend and in the C++ core).
KERNELS = ("smp_local", "smp_run", "find_peaks_local", "find_peaks_run", "describe")

_loaded: dict[str, ModuleType] = {}
_errors: dict[str, str] = {}
_default: str | None = None
_context: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "smpfast_backend", default=None
)
_warned_fallback = False


def _check_name(name: Any, what: str = "backend") -> str:
    if not isinstance(name, str) or name not in BACKENDS:
        listed = ", ".join(repr(b) for b in BACKENDS)
        raise ValueError(f"{what} must be one of {listed}; got {name!r}")
    return name


def import_kernels(module_name: str, kernels: tuple[str, ...]) -> tuple[ModuleType | None, str]:
    """Import a backend module and check it provides ``kernels``: (module, "") or (None, why)."""
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # an extension can fail in many ways (ImportError, OSError...)
        return None, f"{type(exc).__name__}: {exc}"
    missing = [f for f in kernels if not callable(getattr(module, f, None))]
    if missing:
        return None, f"module {module_name} lacks {', '.join(missing)}"
    return module, ""


def load(name: str) -> ModuleType | None:
    """Import backend ``name``; None (and the reason kept for show_config) if it fails."""
    if name in _loaded:
        return _loaded[name]
    if name in _errors:
        return None
    module, why = import_kernels(_MODULES[name], KERNELS)
    if module is None:
        _errors[name] = why
        return None
    _loaded[name] = module
    return module


def unavailable_reason(name: str) -> str | None:
    """Why backend ``name`` could not be loaded, or None if it loads."""
    load(name)
    return _errors.get(name)


def available_backends() -> list[str]:
    """Names of the backends that load on this machine, best first.

    Examples
    --------
    >>> import smpfast
    >>> "numpy" in smpfast.available_backends()
    True
    """
    return [name for name in BACKENDS if load(name) is not None]


def _best() -> str:
    for name in BACKENDS:
        if load(name) is not None:
            return name
    raise RuntimeError("no smpfast backend could be loaded")  # pragma: no cover


def warn_if_extension_missing() -> None:
    """Warn (once per process) when the compiled extension cannot be used."""
    global _warned_fallback
    if load("cpp") is None and not _warned_fallback:
        _warned_fallback = True
        fallback = "numba" if load("numba") is not None else "numpy"
        warnings.warn(
            f"smpfast's compiled extension is not available ({_errors.get('cpp')}); "
            f"falling back to the {fallback!r} backend (see smpfast.show_config())",
            RuntimeWarning,
            stacklevel=3,
        )


def current_name() -> str:
    """Name of the backend a call with ``backend=None`` would use now."""
    chosen = _context.get()
    if chosen is not None:
        return chosen
    if _default is not None:
        return _default
    env = os.environ.get("SMPFAST_BACKEND")
    if env:
        return _check_name(env, "environment variable SMPFAST_BACKEND")
    return _best()


def resolve(backend: str | None) -> ModuleType:
    """The backend module for a call's ``backend=`` argument."""
    name = current_name() if backend is None else _check_name(backend)
    module = load(name)
    if module is None:
        raise RuntimeError(f"backend {name!r} is not available: {_errors[name]}")
    return module


def set_backend(name: str | None) -> None:
    """Select the backend used when a call passes ``backend=None``.

    Parameters
    ----------
    name : {"cpp", "numba", "numpy"} or None
        None returns to the automatic choice (``SMPFAST_BACKEND``, then the best).

    Examples
    --------
    >>> import smpfast
    >>> smpfast.set_backend("numpy")
    >>> smpfast.set_backend(None)
    """
    global _default
    if name is not None:
        _check_name(name)
        if load(name) is None:
            raise RuntimeError(f"backend {name!r} is not available: {_errors[name]}")
    _default = name


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Context manager selecting a backend inside a ``with`` block (thread- and task-local).

    Examples
    --------
    >>> import numpy as np, smpfast
    >>> with smpfast.use_backend("numpy"):
    ...     float(smpfast.smp(np.abs(np.linspace(-1, 1, 9))))
    0.5
    """
    _check_name(name)
    if load(name) is None:
        raise RuntimeError(f"backend {name!r} is not available: {_errors[name]}")
    token = _context.set(name)
    try:
        yield
    finally:
        _context.reset(token)
