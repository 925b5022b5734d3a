"""The ``smpfast`` command line: thin; parses, calls the library, prints.

Each subcommand lives in its own module of :mod:`smpfast._commands`. ``smpfast`` with no
subcommand runs the demo (``smpfast demo``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from . import _backends, _config
from ._commands import COMMANDS


def _command_modules() -> dict[str, ModuleType]:
    return {name: importlib.import_module(f"._commands.{name}", __package__) for name in COMMANDS}


def _parser(modules: dict[str, ModuleType]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smpfast",
        description="Measure and model the nonsmoothness (SMP) of neural networks.",
    )
    parser.add_argument("--backend", choices=_backends.BACKENDS, help="backend to use")
    parser.add_argument("--threads", type=int, help="number of threads")
    sub = parser.add_subparsers(dest="command")
    for name, module in modules.items():
        module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``smpfast`` command."""
    modules = _command_modules()
    parser = _parser(modules)
    words = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(words)
    if args.command is None:
        args = parser.parse_args([*words, "demo"])
    try:
        if args.backend:
            _backends.set_backend(args.backend)
        if args.threads is not None:
            _config.set_num_threads(args.threads)
    except (ValueError, RuntimeError) as exc:
        parser.error(str(exc))
    try:
        code: int = modules[args.command].run(args)
    except (ValueError, FileNotFoundError, TypeError) as exc:
        parser.exit(2, f"smpfast {args.command}: error: {exc}\n")
    return code
