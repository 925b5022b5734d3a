"""``smpfast images``: per-image spatial SMP (rows and columns) of a folder, to a table."""

from __future__ import annotations

import argparse

NAME = "images"
HELP = "per-image SMP along rows and columns of every image, to a CSV/Parquet table"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``smpfast images``."""
    from .stack import add_smp_options

    parser.add_argument("source", help="an image folder or glob (quote it), a multi-page TIFF, "
                        "a .npy array (N, H, W[, C]) or a Zarr array store")
    parser.add_argument("-o", "--output", required=True, metavar="TABLE",
                        help="output table: .csv, or .parquet (needs pyarrow)")
    parser.add_argument("--axes", choices=("rows+cols", "rows", "cols"), default="rows+cols",
                        help="directions measured (default rows+cols)")
    add_smp_options(parser, "images", "64M", "64M")
    parser.add_argument("--skip-bad", action="store_true",
                        help="skip unreadable images (left out of the table, listed on stderr)")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bar (default: shown on a terminal)")


def run(args: argparse.Namespace) -> int:
    """Measure every image and write the table atomically."""
    import sys
    import time

    from ..io import smp_images

    start = time.perf_counter()
    table = smp_images(
        args.source, axes=args.axes, mode=args.mode, height=args.height, tol=args.tol,
        nan_policy=args.nan_policy, chunk_bytes=args.chunk_bytes, progress=args.progress,
        skip_bad=args.skip_bad, output=args.output,
    )
    skipped = table.skipped
    for name in skipped:
        print(f"smpfast images: skipped unreadable image {name}", file=sys.stderr)
    print(f"smpfast images: {len(table['image'])} images in {time.perf_counter() - start:.2f} s "
          f"-> {args.output}" + (f" ({len(skipped)} skipped)" if skipped else ""))
    return 0
