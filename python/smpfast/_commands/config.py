"""``smpfast config``: print the configuration (version, backends, SIMD target, threads)."""

from __future__ import annotations

import argparse

NAME = "config"
HELP = "print the configuration"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options of its own."""


def run(args: argparse.Namespace) -> int:
    """Print :func:`smpfast.show_config`."""
    from .._show import show_config

    show_config()
    return 0
