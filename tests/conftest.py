"""Shared fixtures: the ``backend`` parameter, global-state hygiene, Hypothesis profiles."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import settings

with warnings.catch_warnings():
    # Without the compiled extension, importing smpfast warns once (tested in
    # test_fallback.py); here it must not turn into an error under filterwarnings=error.
    warnings.filterwarnings(
        "ignore", message=".*compiled extension is not available", category=RuntimeWarning
    )
    import smpfast
    from smpfast import _backends, _show

BACKENDS = ("cpp", "numba", "numpy")

settings.register_profile("ci", deadline=None, derandomize=True, max_examples=100)
settings.register_profile("dev", deadline=None, max_examples=40)
HYPOTHESIS_PROFILE = "ci" if os.environ.get("CI") else "dev"
settings.load_profile(HYPOTHESIS_PROFILE)


def pytest_configure(config: pytest.Config) -> None:
    # Hypothesis imports libcst to print a patch for a failing example; with this
    # libcst, that import warns, and the warning (an error here) would hide the failure.
    config.addinivalue_line(
        "filterwarnings", "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
    )


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except Exception as exc:  # not installed, or broken
        return f"not available ({type(exc).__name__})"


def pytest_report_header(config: pytest.Config) -> list[str]:
    cfg = _show.config()
    cpp = cfg["backends"]["cpp"]
    if cpp["available"]:
        simd = f"{cpp['simd']} (supported here: {cpp.get('simd_supported', '?')})"
    else:
        simd = "n/a (cpp backend not available)"
    return [
        f"smpfast {smpfast.__version__}: numpy {np.__version__}, scipy {_version('scipy')}, "
        f"numba {_version('numba')}",
        f"smpfast backends: available {smpfast.available_backends()}, "
        f"selected {cfg['selected_backend']!r}, threads {cfg['threads']}",
        f"smpfast SIMD target: {simd}",
        f"hypothesis profile: {HYPOTHESIS_PROFILE} (CI={os.environ.get('CI')!r})",
    ]


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Name of one backend; skips the backends that do not load here."""
    name: str = request.param
    if name not in smpfast.available_backends():
        pytest.skip(f"backend {name!r} not available: {_backends.unavailable_reason(name)}")
    return name


@pytest.fixture(autouse=True)
def _restore_global_state() -> Iterator[None]:
    """Undo ``set_backend`` / ``set_num_threads`` done by a test."""
    threads = smpfast.get_num_threads()
    default = _backends._default  # no public getter for the set_backend() choice
    yield
    smpfast.set_num_threads(threads)
    smpfast.set_backend(default)
