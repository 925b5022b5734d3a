"""``smpfast stack`` against reading alone: a 4 GB ``.npy`` stack and a folder of PNG frames.

Creates (or reuses) under DIR (default /tmp/smpfast-bench):

- ``stack.npy``: T=1024 frames of 1024x1024 float32 (4 GiB), a kinked smooth path per pixel;
- ``png/frame0000.png`` ... : 1,000 frames of 1024x1024 8-bit grayscale.

Then, in one run, with the same thread count everywhere and a warm page cache:

1. reading the ``.npy`` alone: a multithreaded float32 sum over ``np.load(mmap_mode="r")``
   in 64 MiB frame blocks (a fresh mapping each time, as the smpfast run maps it afresh);
2. ``smpfast --threads N stack stack.npy -o OUT --no-plot`` as a subprocess: wall time,
   the pass time smpfast reports (``summary.json`` "seconds"), and the child's peak RSS
   (its own ``VmHWM``, Linux);
3. decoding the PNG folder alone: a thread pool of Pillow decodes (``Image.open().load()``);
4. ``smpfast stack png -o OUT --no-plot`` as a subprocess, measured the same way.

Each measurement is repeated (``--repeat``, best time kept) and the ratios are printed:
throughput ratio = reading time / smpfast pass time (>= 0.8 is the acceptance bar).

Run: ``PYTHONPATH=python python bench/stack_io.py --threads 2 [DIR]``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

GiB = 2**30


def _log(msg: str) -> None:
    print(msg, flush=True)


def _need_disk(directory: Path, nbytes: int) -> None:
    free = shutil.disk_usage(directory).free
    if free < nbytes * 1.1:
        sys.exit(f"not enough free disk in {directory}: {free / GiB:.1f} GiB free, "
                 f"{nbytes / GiB:.1f} GiB needed")


def make_npy(path: Path, frames: int, size: int) -> None:
    """A (frames, size, size) float32 stack: per pixel a smooth path through a ReLU."""
    if path.exists():
        arr = np.load(path, mmap_mode="r")
        if arr.shape == (frames, size, size) and arr.dtype == np.float32:
            return
    _need_disk(path.parent, frames * size * size * 4)
    tmp = path.with_name(path.name + ".tmp")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size)).astype(np.float32)
    b = rng.standard_normal((size, size)).astype(np.float32) * 2
    c = rng.standard_normal((size, size)).astype(np.float32)
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32,
                                    shape=(frames, size, size))
    t = np.linspace(-1.0, 1.0, frames, dtype=np.float32)
    block = 16
    for i in range(0, frames, block):
        tt = t[i : i + block, None, None]
        out[i : i + block] = np.maximum(a + b * tt, 0) + np.abs(c - tt) * 0.5
    out.flush()
    del out
    os.replace(tmp, path)


def make_pngs(directory: Path, count: int, size: int, threads: int) -> list[Path]:
    """``count`` 8-bit grayscale PNG frames: a moving kinked pattern plus mild noise."""
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"frame{i:04d}.png" for i in range(count)]
    missing = [i for i, p in enumerate(paths) if not p.exists()]
    if not missing:
        return paths
    _need_disk(directory, len(missing) * size * size)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size

    def one(i: int) -> None:
        rng = np.random.default_rng(i)
        phase = i / count
        img = 128 + 90 * np.abs(np.sin(6 * xx + 4 * yy + 6.28 * phase)) - 60 * np.maximum(
            xx - phase, 0) + rng.normal(0, 3, (size, size))
        tmp = paths[i].with_name(paths[i].name + ".tmp")
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(tmp, format="PNG")
        os.replace(tmp, paths[i])

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, missing))
    return paths


def read_npy(path: Path, threads: int, block_bytes: int) -> float:
    """Seconds for a multithreaded sum over a fresh memmap of ``path``, in frame blocks."""
    return read_npy_cpu(path, threads, block_bytes)[0]


def read_npy_cpu(path: Path, threads: int, block_bytes: int) -> tuple[float, float]:
    """Wall seconds and CPU seconds (all threads, user + system) of :func:`read_npy`."""
    cpu0 = time.process_time()
    start = time.perf_counter()
    arr = np.load(path, mmap_mode="r")
    per = max(1, block_bytes // (arr[0].nbytes or 1))
    ranges = [(i, min(i + per, arr.shape[0])) for i in range(0, arr.shape[0], per)]

    def part(r: tuple[int, int]) -> float:
        return float(np.add.reduce(arr[r[0] : r[1]], axis=None))

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(part, ranges))
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    assert np.isfinite(total)
    return seconds, cpu


def kernel_only(path: Path, frames: int, block_bytes: int, repeat: int) -> float:
    """GB/s of ``SMPStream.update`` alone on the first ``frames`` frames, held in memory."""
    import smpfast

    x = np.array(np.load(path, mmap_mode="r")[:frames])
    per = max(1, block_bytes // x[0].nbytes)
    best = float("inf")
    for _ in range(repeat + 1):  # the first run warms up
        stream = smpfast.SMPStream(x.shape[1:], dtype=x.dtype)
        start = time.perf_counter()
        for i in range(0, frames, per):
            stream.update(x[i : i + per])
        best = min(best, time.perf_counter() - start)
    return x.nbytes / 1e9 / best


def decode_pngs(paths: list[Path], threads: int) -> float:
    """Seconds to decode every PNG with Pillow in a pool of ``threads``."""
    from PIL import Image

    def one(p: Path) -> int:
        with Image.open(p) as im:
            im.load()
            return int(np.asarray(im)[0, 0])

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, paths))
    return time.perf_counter() - start


_CHILD = (
    "import sys\n"
    "from smpfast.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "with open('/proc/self/status') as f:\n"
    "    hwm = [l.split()[1] for l in f if l.startswith('VmHWM:')][0]\n"
    "print('VmHWM_kB', hwm, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def run_stack(source: Path, out: Path, threads: int, extra: list[str]) -> dict[str, float]:
    """Run ``smpfast stack`` as a child: wall time, pass time and the child's peak RSS.

    The peak RSS is the child's own ``VmHWM`` (read from ``/proc/self/status`` as it
    exits): ``ru_maxrss`` of a forked child can report the parent's resident set at fork.
    """
    cmd = [sys.executable, "-c", _CHILD, "--threads", str(threads), "stack", str(source),
           "-o", str(out), "--no-plot", "--no-progress", *extra]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    if proc.returncode != 0:
        sys.exit(f"smpfast stack failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
    hwm = [line.split()[1] for line in proc.stderr.splitlines()
           if line.startswith("VmHWM_kB")]
    summary = json.loads((out / "summary.json").read_text())
    return {"wall": wall, "pass": float(summary["seconds"]), "cpu": cpu,
            "rss_mb": int(hwm[0]) / 1024 if hwm else float("nan"),
            "bytes": float(summary["bytes"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", default="/tmp/smpfast-bench")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, default=1024)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--pngs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-npy", action="store_true")
    parser.add_argument("--skip-png", action="store_true")
    parser.add_argument("--chunk-bytes", default=None,
                        help="passed to smpfast stack (default: its own, per source kind)")
    args = parser.parse_args()

    import smpfast

    base = Path(args.dir)
    base.mkdir(parents=True, exist_ok=True)
    _log(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
         f"load {os.getloadavg()[0]:.2f}; python {platform.python_version()}, numpy "
         f"{np.__version__}, smpfast {smpfast.__version__}; threads {args.threads}")
    from smpfast import _backends

    kernels = {name: callable(getattr(_backends.load(name), "stream_update", None))
               for name in smpfast.available_backends()}
    _log(f"smpfast backends {smpfast.available_backends()}; streaming kernel per backend "
         f"{kernels} (without one, SMPStream falls back to the NumPy reference kernel)")
    # without --chunk-bytes, smpfast stack picks its default per source kind
    extra = ["--chunk-bytes", args.chunk_bytes] if args.chunk_bytes else []
    rows = []
    if not args.skip_npy:
        npy = base / "stack.npy"
        _log(f"preparing {npy} ...")
        make_npy(npy, args.frames, args.size)
        nbytes = npy.stat().st_size
        read_npy(npy, args.threads, 64 * 2**20)  # warm the page cache
        reads = [read_npy_cpu(npy, args.threads, 64 * 2**20) for _ in range(args.repeat)]
        t_read = min(r[0] for r in reads)
        runs = [run_stack(npy, base / "out-npy", args.threads, extra)
                for _ in range(args.repeat)]
        best = min(runs, key=lambda r: r["pass"])
        # CPU seconds are less sensitive than wall time to other load on the machine; the
        # child's include its start-up (imports), so the ratio is a lower bound.
        cpu_read = min(r[1] for r in reads)
        cpu_stack = min(r["cpu"] for r in runs)
        _log(f"npy CPU seconds (user + system, all threads): read alone {cpu_read:.2f}, "
             f"smpfast stack process {cpu_stack:.2f}, ratio {cpu_read / cpu_stack:.2f}")
        rows.append(("npy", nbytes, t_read, best, max(r["rss_mb"] for r in runs)))
        gbs = kernel_only(npy, min(64, args.frames), 64 * 2**20, args.repeat)
        _log(f"SMPStream.update alone, 64 frames in memory, 64 MiB blocks: {gbs:.2f} GB/s "
             f"(read alone: {nbytes / 1e9 / t_read:.2f} GB/s, smpfast pass: "
             f"{nbytes / 1e9 / best['pass']:.2f} GB/s)")
    if not args.skip_png:
        pngdir = base / "png"
        _log(f"preparing {pngdir} ...")
        paths = make_pngs(pngdir, args.pngs, args.size, args.threads)
        decode_pngs(paths, args.threads)  # warm the page cache
        t_read = min(decode_pngs(paths, args.threads) for _ in range(args.repeat))
        runs = [run_stack(pngdir, base / "out-png", args.threads, extra)
                for _ in range(args.repeat)]
        best = min(runs, key=lambda r: r["pass"])
        rows.append(("png", int(best["bytes"]), t_read, best, max(r["rss_mb"] for r in runs)))

    _log("")
    _log("| source | decoded GB | read alone s | smpfast pass s | smpfast wall s | "
         "ratio read/pass | ratio read/wall | peak RSS MB |")
    _log("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, nbytes, t_read, best, rss in rows:
        _log(f"| {name} | {nbytes / 1e9:.2f} | {t_read:.3f} | {best['pass']:.3f} | "
             f"{best['wall']:.3f} | {t_read / best['pass']:.2f} | {t_read / best['wall']:.2f} | "
             f"{rss:.0f} |")


if __name__ == "__main__":
    main()
