"""``smpfast demo``: SMP of a generated ReLU-network example, checked against exact kinks."""

from __future__ import annotations

import argparse
import sys

NAME = "demo"
HELP = "measure SMP on a generated ReLU-network example"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``smpfast demo``."""
    parser.add_argument("--outputs", type=int, default=20000, help="signals (default 20000)")
    parser.add_argument("--frames", type=int, default=256, help="path length T (default 256)")
    parser.add_argument("--hidden", type=int, default=4, help="ReLU units per output (default 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="force the progress bar on or off (default: on a terminal)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the demo and print what it measured."""
    from .._show import show_config
    from ..demo import run_demo

    if args.outputs < 1 or args.frames < 3 or args.hidden < 1:
        raise ValueError("--outputs and --hidden must be >= 1 and --frames >= 3")
    show_config()
    result = run_demo(
        n_outputs=args.outputs, frames=args.frames, hidden=args.hidden,
        seed=args.seed, progress=args.progress,
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
