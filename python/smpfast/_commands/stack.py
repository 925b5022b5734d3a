"""``smpfast stack``: per-pixel SMP of a frame stack, to ``.npy`` files, a heat map, a summary.

Writes ``smp.npy``, ``count.npy``, ``smp.png`` (heat map with a colour bar) and
``summary.json`` into the output directory, each to a temporary name first and renamed
when complete; ``summary.json`` is written last, so its presence means the run finished.
"""

from __future__ import annotations

import argparse
import math
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

NAME = "stack"
HELP = "per-pixel SMP along the frames of a stack (.npy, images, TIFF, Zarr)"

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Parse a byte size: ``65536``, ``64M``, ``64MiB``, ``1.5G`` (binary multiples).

    Examples
    --------
    >>> parse_size("64M"), parse_size("1k"), parse_size("4096")
    (67108864, 1024, 4096)
    """
    m = _SIZE.match(text)
    if not m:
        raise argparse.ArgumentTypeError(
            f"invalid size {text!r}: expected bytes like 65536, 64M, 64MiB or 1G"
        )
    number, prefix = float(m.group(1)), m.group(2).lower()
    value = number * (1024 ** ("kmgt".index(prefix) + 1) if prefix else 1)
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}: must be at least 1 byte")
    return int(value)


def add_smp_options(
    parser: argparse.ArgumentParser, unit: str, chunk_default: str | None, chunk_help: str
) -> None:
    """The SMP options shared by ``smpfast stack`` and ``smpfast images``.

    ``--mode``, ``--height``, ``--tol``, ``--nan-policy`` (the keywords of
    :func:`smpfast.smp`) and ``--chunk-bytes`` (``unit`` read per block; default
    ``chunk_default``, described by ``chunk_help``).
    """
    from .._validate import MODES, NAN_POLICIES

    parser.add_argument("--mode", choices=MODES, default="local",
                        help="peak mode (default local)")
    parser.add_argument("--height", type=float, default=0.0, help="minimum peak magnitude")
    parser.add_argument("--tol", type=float, default=None,
                        help="relative noise floor (default 8 eps of the dtype)")
    parser.add_argument("--nan-policy", choices=NAN_POLICIES,
                        default="propagate", help="signals with NaN/Inf (default propagate)")
    parser.add_argument("--chunk-bytes", type=parse_size, default=chunk_default, metavar="SIZE",
                        help=f"{unit} per block, in bytes (default {chunk_help})")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``smpfast stack``."""
    parser.add_argument("source", help="a .npy file, an image folder or glob (quote it), a "
                        "multi-page TIFF, or a Zarr array store")
    parser.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                        help="output directory (created if missing)")
    parser.add_argument("--axis", type=int, default=0, help="frame axis of a .npy/Zarr array "
                        "(default 0)")
    add_smp_options(parser, "frames", None,
                    "256M for arrays and .npy files, 64M for images, TIFF and Zarr")
    parser.add_argument("--skip-bad", action="store_true",
                        help="skip unreadable images (listed in summary.json)")
    parser.add_argument("--no-plot", action="store_true", help="do not draw smp.png")
    parser.add_argument("--dask", metavar="SCHEDULER_ADDRESS", default=None,
                        help="run on a dask.distributed cluster (workers must see the files)")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bar (default: shown on a terminal)")


def _stats(values: np.ndarray) -> dict[str, Any]:
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values.ravel()

    def num(x: Any) -> float | int | None:
        if values.dtype.kind in "iu":
            return int(x)
        f = float(x)
        return f if math.isfinite(f) else None

    if finite.size == 0:
        return {"min": None, "mean": None, "max": None, "nonfinite": int(values.size)}
    return {
        "min": num(finite.min()),
        "mean": float(finite.mean()),
        "max": num(finite.max()),
        "nonfinite": int(values.size - finite.size),
    }


def _run_dask(args: argparse.Namespace, address: str) -> tuple[np.ndarray, np.ndarray,
                                                                dict[str, Any]]:
    from .._progress import Progress
    from ..dask import from_source, smp_and_count
    from ..io._optional import require
    from ..io._sources import open_source
    from ..io._stack import default_chunk_bytes

    distributed = require("distributed", "smpfast stack --dask")
    dask = require("dask", "smpfast stack --dask")
    if args.skip_bad:
        raise ValueError("--skip-bad is not supported with --dask (workers would meet the "
                         "bad files); run without --dask or remove them")
    with open_source(args.source, args.axis) as src:
        if src.n_frames < 3:
            raise ValueError(f"source {src.location!r} has {src.n_frames} frame(s) along axis "
                             f"{args.axis}; SMP needs at least 3 frames")
        info: dict[str, Any] = {"frames": src.n_frames, "frame_shape": src.frame_shape,
                "dtype": str(src.dtype), "source": src.location, "kind": src.kind,
                "nbytes": src.n_frames * src.frame_nbytes}
    chunk = args.chunk_bytes or default_chunk_bytes(info["kind"])
    darr, ax = from_source(args.source, args.axis, chunk_bytes=chunk)
    s, c = smp_and_count(darr, ax, mode=args.mode, height=args.height, tol=args.tol,
                         nan_policy=args.nan_policy)
    start = time.perf_counter()
    try:
        client = distributed.Client(address, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"cannot connect to the Dask scheduler {address!r}: {exc}") from exc
    with client:
        s, c = client.persist([s, c])
        futures = distributed.futures_of(s) + distributed.futures_of(c)
        with Progress(len(futures), "smp on dask", enabled=None if args.progress else False) \
                as bar:
            for _ in distributed.as_completed(futures):
                bar.update(1)
        smp, count = dask.compute(s, c, scheduler=client.get)
    info["seconds"] = time.perf_counter() - start
    info["scheduler"] = address
    return np.asarray(smp), np.asarray(count), info


def run(args: argparse.Namespace) -> int:
    """Compute, then write the outputs atomically (summary last)."""
    from .. import _config, _validate
    from ..io import save_heatmap, save_json, save_npy, smp_stack
    from ..io._optional import require
    from ..io._sources import arithmetic_dtype
    from ..io._stack import default_chunk_bytes

    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--output {str(out)!r} exists and is not a directory")
    if not args.no_plot:
        require("matplotlib", "the heat map (pass --no-plot to skip it)")
    if args.dask:
        smp, count, info = _run_dask(args, args.dask)
        skipped: list[str] = []
    else:
        result = smp_stack(
            args.source, args.axis, mode=args.mode, height=args.height, tol=args.tol,
            nan_policy=args.nan_policy, chunk_bytes=args.chunk_bytes,
            progress=args.progress, skip_bad=args.skip_bad,
        )
        smp, count, skipped = result.smp, result.count, list(result.skipped)
        info = {"frames": result.frames, "frame_shape": result.frame_shape,
                "dtype": result.dtype, "source": result.source, "kind": result.kind,
                "nbytes": result.nbytes, "seconds": result.seconds, "scheduler": None}
    out.mkdir(parents=True, exist_ok=True)
    # a summary left by an earlier run would vouch for outputs it did not write
    (out / "summary.json").unlink(missing_ok=True)
    save_npy(out / "smp.npy", smp)
    save_npy(out / "count.npy", count)
    if not args.no_plot:
        save_heatmap(out / "smp.png", smp, title=f"SMP ({args.mode} mode)",
                     label=f"SMP over {info['frames']} frames")
    seconds = float(info["seconds"])
    summary = {
        "source": info["source"],
        "kind": info["kind"],
        "shape": list(info["frame_shape"]),
        "frames": info["frames"],
        "axis": args.axis,
        "dtype": info["dtype"],
        "mode": args.mode,
        "height": args.height,
        "tol": _validate.tolerance(args.tol, arithmetic_dtype(np.dtype(info["dtype"]))),
        "nan_policy": args.nan_policy,
        "chunk_bytes": args.chunk_bytes or default_chunk_bytes(info["kind"]),
        "threads": _config.get_num_threads(),
        "scheduler": info["scheduler"],
        "smp": _stats(smp),
        "count": _stats(count),
        "bytes": info["nbytes"],
        "seconds": seconds,
        "gb_per_s": info["nbytes"] / 1e9 / seconds if seconds > 0 else None,
        "skipped": skipped,
        "outputs": ["smp.npy", "count.npy", *([] if args.no_plot else ["smp.png"])],
    }
    save_json(out / "summary.json", summary)
    print(f"smpfast stack: {info['frames']} frames of {tuple(info['frame_shape'])} "
          f"{info['dtype']} in {seconds:.2f} s ({summary['gb_per_s'] or 0:.2f} GB/s); "
          f"mean SMP {summary['smp']['mean']}; outputs in {out}"
          + (f"; skipped {len(skipped)} unreadable file(s)" if skipped else ""))
    return 0
