"""Subcommands of the ``smpfast`` command line, one module each.

Every module here defines ``NAME`` (the subcommand), ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. :mod:`smpfast.cli` lists them in
:data:`COMMANDS`; a module keeps the library imports it needs inside ``run`` so that
``smpfast --help`` stays fast.
"""

from __future__ import annotations

#: Subcommand modules, in the order ``smpfast --help`` lists them.
COMMANDS: tuple[str, ...] = ("config", "demo", "stack", "images", "experiment", "forensics")
