"""Where the CPU time of ``smp_stack`` on a ``.npy`` stack goes, against reading it alone.

``bench/stack_io.py`` compares wall times, which on a shared 2-core VM move with the
neighbours' load. This script counts CPU cycles instead, split into user space (the
kernel that computes: NumPy's sum, or smpfast's stream kernel) and the operating system
(page faults of the fresh file mapping, and for smpfast the ``MADV_DONTNEED`` that keeps
its resident set bounded). Both sides run with the same thread count on the same
``stack.npy`` (made by ``bench/stack_io.py``; warm page cache) in a child process under
``perf stat``, ``1x`` and ``3x`` times; the difference divided by the two extra passes is
the cost of one pass, so start-up and imports cancel out.

The ratio of the total cycles (read / smpfast) is what the wall-time ratio tends to when
both keep all cores busy; the last lines turn the acceptance bar (0.8x) into the user
cycles per sample smpfast's kernel would need, given the operating-system share both pay.

Run: ``PYTHONPATH=python python bench/stack_cycles.py [--threads 2] [--repeat 2] [DIR]``.
Needs ``perf`` with readable counters (Debian: linux-perf).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

EVENTS = ("cycles:u", "cycles:k", "instructions:u")


def child(kind: str, path: str, threads: int, times: int, block_bytes: int) -> None:
    """One pass ``times`` times: ``read`` (sum over a fresh memmap) or ``stack``."""

    if kind == "read":
        from stack_io import read_npy  # bench/ is the script's directory, on sys.path

        for _ in range(times):
            read_npy(Path(path), threads, block_bytes)
        return
    import smpfast
    from smpfast.io import smp_stack

    smpfast.set_num_threads(threads)
    for _ in range(times):
        smp, _count = smp_stack(path, progress=False)
        assert smp.shape


def _count(kind: str, path: Path, threads: int, times: int, block_bytes: int) -> dict[str, float]:
    cmd = [
        "perf",
        "stat",
        "-x,",
        "-e",
        ",".join(EVENTS),
        sys.executable,
        __file__,
        "--child",
        kind,
        str(path),
        str(threads),
        str(times),
        str(block_bytes),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr}")
    values: dict[str, float] = {}
    for line in done.stderr.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2] in EVENTS:
            if not fields[0].replace(".", "").isdigit():
                raise RuntimeError(f"perf could not count {fields[2]}: {line}")
            values[fields[2]] = float(fields[0])
    return values


def per_pass(
    kind: str, path: Path, threads: int, repeat: int, block_bytes: int
) -> dict[str, float]:
    """Counts of one pass: min over ``repeat`` of (3x - 1x) / 2, per event."""
    best: dict[str, float] = {}
    for _ in range(repeat):
        one = _count(kind, path, threads, 1, block_bytes)
        three = _count(kind, path, threads, 3, block_bytes)
        for ev in EVENTS:
            value = (three[ev] - one[ev]) / 2
            best[ev] = min(best.get(ev, value), value)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", nargs="?", default="/tmp/smpfast-bench")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, path, threads, times, block = args.child
        child(kind, path, int(threads), int(times), int(block))
        return 0
    if args.threads < 1 or args.repeat < 1:
        parser.error("--threads and --repeat must be >= 1")
    if shutil.which("perf") is None:
        parser.error("perf is not installed (Debian: apt-get install linux-perf)")
    path = Path(args.dir) / "stack.npy"
    if not path.exists():
        parser.error(f"{path} does not exist: make it with bench/stack_io.py first")
    import numpy as np

    arr = np.load(path, mmap_mode="r")
    samples = float(arr.size)
    del arr
    print(
        f"{path}: {samples:.3g} samples; {args.threads} threads; load average "
        f"{os.getloadavg()[0]:.2f}; min of {args.repeat} (3x - 1x) / 2 counts"
    )
    child(
        kind="read", path=str(path), threads=args.threads, times=1, block_bytes=64 * 2**20
    )  # warm the page cache
    rows = {
        "read alone (sum)": per_pass("read", path, args.threads, args.repeat, 64 * 2**20),
        "smp_stack": per_pass("stack", path, args.threads, args.repeat, 0),
    }
    print(
        f"{'pass':<18} {'user c/sample':>14} {'system c/sample':>16} "
        f"{'total c/sample':>15} {'user instr/sample':>18}"
    )
    for name, c in rows.items():
        u, k = c["cycles:u"] / samples, c["cycles:k"] / samples
        print(
            f"{name:<18} {u:>14.3f} {k:>16.3f} {u + k:>15.3f} "
            f"{c['instructions:u'] / samples:>18.3f}"
        )
    read, ours = rows["read alone (sum)"], rows["smp_stack"]
    total_read = read["cycles:u"] + read["cycles:k"]
    total_ours = ours["cycles:u"] + ours["cycles:k"]
    print(
        f"cycle ratio read / smp_stack: {total_read / total_ours:.2f} "
        "(the wall-time ratio when both keep every core busy)"
    )
    need = (total_read / 0.8 - ours["cycles:k"]) / samples
    print(
        f"0.8x would need smp_stack's user side at <= {need:.3f} cycles/sample "
        f"(now {ours['cycles:u'] / samples:.3f}), with its system side as measured"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
