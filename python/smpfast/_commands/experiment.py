"""``smpfast experiment``: reproduce experiments E1-E3 (model vs measurement)."""

from __future__ import annotations

import argparse

NAME = "experiment"
HELP = "reproduce experiments E1-E3: predicted vs measured SMP per block"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``smpfast experiment``."""
    parser.add_argument("--quick", action="store_true",
                        help="small configurations (under 2 minutes on 2 cores)")
    parser.add_argument("--out", default="smpfast-experiment",
                        help="output directory (default smpfast-experiment)")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and paths")
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="force the progress bar on or off (default: on a terminal)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the experiments, write report.md, results.json and PNGs, print the summary."""
    from ..model.experiment import run_experiments

    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0; got {args.seed}")
    res = run_experiments(args.out, quick=args.quick, seed=args.seed, progress=args.progress)
    print(f"\nwrote {args.out}/report.md, {args.out}/results.json and "
          f"{len(res['figures'])} figures")
    return 0
