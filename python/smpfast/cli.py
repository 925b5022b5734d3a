"""The ``smpfast`` command line: thin; parses, calls the library, prints.

``smpfast`` (or ``smpfast demo``) prints the configuration and measures SMP on a
generated example with a progress bar. ``smpfast config`` prints the configuration only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import _backends, _config
from ._show import show_config


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smpfast",
        description="Measure the nonsmoothness (SMP) of neural-network outputs.",
    )
    parser.add_argument("--backend", choices=_backends.BACKENDS, help="backend to use")
    parser.add_argument("--threads", type=int, help="number of threads")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("config", help="print the configuration")
    demo = sub.add_parser("demo", help="measure SMP on a generated ReLU-network example")
    demo.add_argument("--outputs", type=int, default=20000, help="signals (default 20000)")
    demo.add_argument("--frames", type=int, default=256, help="path length T (default 256)")
    demo.add_argument("--hidden", type=int, default=4, help="ReLU units per output (default 4)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="force the progress bar on or off (default: on a terminal)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``smpfast`` command."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.backend:
            _backends.set_backend(args.backend)
        if args.threads is not None:
            _config.set_num_threads(args.threads)
    except (ValueError, RuntimeError) as exc:
        parser.error(str(exc))
    command = args.command or "demo"
    show_config()
    if command == "config":
        return 0
    from .demo import run_demo

    outputs = getattr(args, "outputs", 20000)
    frames = getattr(args, "frames", 256)
    hidden = getattr(args, "hidden", 4)
    if outputs < 1 or frames < 3 or hidden < 1:
        parser.error("--outputs and --hidden must be >= 1 and --frames >= 3")
    result = run_demo(
        n_outputs=outputs, frames=frames, hidden=hidden,
        seed=getattr(args, "seed", 0), progress=getattr(args, "progress", None),
    )
    print(
        f"\ndemo: {result.n_outputs} outputs of a random 1-hidden-layer ReLU network along "
        f"linear paths of T={result.frames} samples ({result.seconds:.2f} s)"
    )
    print(f"  mean SMP, run mode   : {result.smp_run_mean:.6g}")
    print(f"  mean SMP, local mode : {result.smp_local_mean:.6g}  (local/run = "
          f"{result.smp_local_mean / max(result.smp_run_mean, 1e-300):.3f}; about 3/4 expected)")
    print(f"  exact total slope change of kinks inside the path: {result.exact_run_mean:.6g}")
    print(f"  peaks per output     : {result.peaks_per_output:.3f}")
    print(f"  run-mode SMP == exact slope change on {result.n_isolated} outputs with isolated "
          f"kinks: max relative error {result.max_rel_error_isolated:.2e}")
    ok = result.max_rel_error_isolated < 1e-9
    if not ok:
        print("  MISMATCH: run-mode SMP differs from the exact slope change", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
