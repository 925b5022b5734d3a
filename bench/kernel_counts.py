"""Cycles and instructions per sample of the SMP kernels, from hardware counters.

Wall-clock timings on a shared 2-core VM move by 2x with the neighbours' load; the
instruction count of a call does not move at all, and its cycle count moves far less
than its wall time. This script runs every case twice in a child process under
``perf stat`` (``reps`` and ``3 * reps`` calls on the same array) and reports the
difference divided by the extra samples, so that start-up, data generation and
compilation cancel out. One thread, so the counts describe the kernel, not the
scheduler.

Cases (float32 unless the name says otherwise):

* ``stack``: (256, 256, 256) along axis 0, 64 MiB: DRAM-bound reads, in place.
* ``cached``: (256, 8192) along axis 0, 8 MiB: the same kernel with its input in the
  last-level cache (the compute rate of the kernel alone).
* ``signals``: (65536, 256) along the last axis: transposed into tiles first.
* ``signals64``: (2048, 256) float64 along the last axis (the scipy comparison case).
* ``stream``: ``SMPStream.update`` with 64 frames of 512 x 1024.

Usage (from the repository root)::

    PYTHONPATH=python python bench/kernel_counts.py                  # every case, both modes
    PYTHONPATH=python python bench/kernel_counts.py --cases stack --modes local --repeat 3

``--repeat`` runs each measurement that many times and keeps the fewest cycles (the
instruction counts agree to a few parts per thousand). Needs ``perf`` (Debian:
linux-perf) with hardware counters readable (``perf stat -e instructions true``); under
valgrind-only setups use ``valgrind --tool=callgrind`` on ``--child`` by hand.

Reading the result: the read bandwidth that ``bench/compare.py`` measures, divided by the
sample size, gives the samples per second the acceptance ratios ask for; divided by the
clock and the thread count, that is a budget in cycles per sample to set against the
``cycles/sample`` column.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

CASES = ("stack", "cached", "signals", "signals64", "stream")
MODES = ("local", "run")


def _array(case: str):  # type: ignore[no-untyped-def]
    import numpy as np

    rng = np.random.default_rng(0)
    if case == "stack":
        return rng.standard_normal((256, 256, 256), dtype=np.float32), 0, 8
    if case == "cached":
        return rng.standard_normal((256, 8192), dtype=np.float32), 0, 64
    if case == "signals":
        return rng.standard_normal((65536, 256), dtype=np.float32), -1, 8
    if case == "signals64":
        return rng.standard_normal((2048, 256)), -1, 256
    if case == "stream":
        return rng.standard_normal((64, 512, 1024), dtype=np.float32), 0, 4
    raise ValueError(f"case must be one of {CASES}, got {case!r}")


def child(case: str, mode: str, multiple: int) -> None:
    """Run ``multiple`` times the case's base repetitions (inside perf stat)."""
    import smpfast

    smpfast.set_num_threads(1)
    x, axis, reps = _array(case)
    if case == "stream":
        stream = smpfast.SMPStream(x.shape[1:], dtype=x.dtype, mode=mode)
        stream.update(x)  # warm-up (first-touch of the state arrays)
        for _ in range(reps * multiple):
            stream.update(x)
        return
    smpfast.smp(x, axis=axis, mode=mode)  # warm-up
    for _ in range(reps * multiple):
        smpfast.smp(x, axis=axis, mode=mode)


def _counts(case: str, mode: str, multiple: int) -> tuple[float, float, float]:
    cmd = [
        "perf", "stat", "-x,", "-e", "cycles,instructions",
        sys.executable, __file__, "--child", case, mode, str(multiple),
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr}")
    values: dict[str, float] = {}
    for line in done.stderr.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2] in ("cycles", "instructions"):
            if not fields[0].replace(".", "").isdigit():
                raise RuntimeError(f"perf could not count {fields[2]}: {line}")
            values[fields[2]] = float(fields[0])
    return values["cycles"], values["instructions"], seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated subset")
    parser.add_argument("--modes", default=",".join(MODES), help="local, run or both")
    parser.add_argument("--repeat", type=int, default=2, help="measurements per row (min)")
    parser.add_argument("--child", nargs=3, metavar=("CASE", "MODE", "MULTIPLE"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return 0
    cases = [c for c in args.cases.split(",") if c]
    modes = [m for m in args.modes.split(",") if m]
    for name, values, valid in (("--cases", cases, CASES), ("--modes", modes, MODES)):
        bad = [v for v in values if v not in valid]
        if bad or not values:
            parser.error(f"{name} must be a comma-separated subset of {','.join(valid)}")
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    if shutil.which("perf") is None:
        parser.error("perf is not installed (Debian: apt-get install linux-perf)")

    import smpfast

    try:
        from smpfast import _core

        simd = _core.get_simd_target()
    except ImportError:
        parser.error("the cpp backend is not built (these counts are of its kernels)")
    print(f"smpfast {smpfast.__version__}; cpp simd target {simd}")
    print(f"load average {os.getloadavg()[0]:.2f}; 1 thread; fewest cycles of {args.repeat}")
    print(f"{'case':<10} {'mode':<6} {'cycles/sample':>14} {'instr/sample':>13} {'IPC':>5}")
    for case in cases:
        x, _, reps = _array(case)
        extra = 2 * reps * x.size  # samples of the 3x run beyond the 1x run
        del x
        for mode in modes:
            best: tuple[float, float] | None = None
            for _ in range(args.repeat):
                c1, i1, _s = _counts(case, mode, 1)
                c3, i3, _s = _counts(case, mode, 3)
                row = ((c3 - c1) / extra, (i3 - i1) / extra)
                if best is None or row[0] < best[0]:
                    best = row
            assert best is not None
            cyc, ins = best
            print(f"{case:<10} {mode:<6} {cyc:>14.3f} {ins:>13.3f} {ins / cyc:>5.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
