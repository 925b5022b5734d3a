#!/usr/bin/env python
"""Throughput of every smpfast backend against its peers and the machine's read bandwidth.

One run prints, for each case, a table of best-of-N wall times, the throughput in GB/s
of input read (``x.nbytes / best seconds``) and ratios: to the read bandwidth measured on
the same array with the same thread count, to the NumPy reference, and to a per-signal
``scipy.signal.find_peaks`` loop. The ``nn`` group times ``smpfast.nn`` blocks (conv2d,
max_pool2d, relu) on every backend next to ``torch.nn.functional`` on the same memory,
with GFLOP/s or GB/s and the ratio torch time / smpfast time. See bench/README.md for
what every column means.

    PYTHONPATH=python python bench/compare.py                 # full sizes, 2 threads
    PYTHONPATH=python python bench/compare.py --quick         # small arrays (CI smoke)
    PYTHONPATH=python python bench/compare.py --cases stack --threads 4 --json out.json
    PYTHONPATH=python python bench/compare.py --cases nn      # smpfast.nn against torch
    PYTHONPATH=python python bench/compare.py --cases stream  # SMPStream vs batch smp

Every backend is checked against the reference (SMP within rtol 1e-9, equal counts) on a
subset before it is timed, and on the whole array after its warm-up call; an nn block is
checked against torch's result on the same input. A mismatch aborts the run with exit
status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import math
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for benchmarks.common

from benchmarks.common import BACKENDS, SEED, backend_problem, signals

import smpfast
from smpfast import _backends, _validate, nn
from smpfast.reference import floored_second_difference

try:
    import scipy
    import scipy.signal
except ImportError:  # pragma: no cover - scipy is in the bench extra
    scipy = None

try:
    import numba
except ImportError:  # pragma: no cover
    numba = None

try:
    import torch
except ImportError:
    torch = None

#: A peer loop whose (estimated) full run exceeds this many seconds is extrapolated.
SCIPY_FULL_LIMIT = 20.0
#: Time budget of one row's repeats, in seconds (fewer repeats when a call is slow).
ROW_BUDGET = 30.0
#: Calls shorter than this are repeated inside one timing sample.
MIN_SAMPLE = 0.02
RTOL = 1e-9
#: Environment variables that change what is measured (printed in the header).
ENV_SHOWN = (
    "PYTHONPATH",
    "OMP_NUM_THREADS",
    "OMP_WAIT_POLICY",
    "GOMP_SPINCOUNT",
    "NUMBA_NUM_THREADS",
    "NUMBA_THREADING_LAYER",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "THP_MEM_ALLOC_ENABLE",
)
#: The case group of the ``smpfast.nn`` blocks against torch (see ``NN_CASES``).
NN_GROUP = "nn"
#: Samples per nn implementation (``--nn-repeat``): the rounds alternate implementations.
NN_REPEAT = 15
#: Time budget of one nn implementation's samples in one workload, in seconds.
NN_BUDGET = 15.0
#: A NumPy-reference nn call estimated to take longer than this (seconds) is timed on the
#: first images of the batch and scaled to the whole batch (the row says "est.").
NN_FULL_LIMIT = 20.0
#: Untimed pause before each nn sample, so that the worker threads of the library timed
#: just before (smpfast's pool, torch's OpenMP, Numba) stop spinning first.
NN_PAUSE = 0.005
#: conv2d results must agree with torch to this, relative to ``|x| conv |w|``.
NN_CONV_RTOL = 1e-4


#: The case group of ``smpfast.SMPStream``: a (T, 1024 * 1024) float32 stack fed in blocks
#: of STREAM_BLOCK frames, against the batch ``smp`` on the whole array and the read
#: bandwidth of the same array.
STREAM_GROUP = "stream"
STREAM_SHAPE = (64, 1024 * 1024)
STREAM_QUICK_SHAPE = (32, 64 * 1024)
STREAM_BLOCK = 16
#: Pixels of the stream case checked against the NumPy reference batch.
STREAM_CHECK_PIXELS = 4096


class Mismatch(Exception):
    """A backend or peer disagrees with the reference."""


@dataclasses.dataclass(frozen=True)
class Case:
    """One benchmarked array."""

    name: str
    shape: tuple[int, ...]
    quick_shape: tuple[int, ...]
    dtype: str
    axis: int
    modes: tuple[str, ...]
    what: str


CASES = {
    "stack": Case(
        name="stack",
        shape=(256, 256, 256),
        quick_shape=(64, 128, 128),
        dtype="float32",
        axis=0,
        modes=("local", "run"),
        what="frames (T, H, W) along axis 0",
    ),
    "signals": Case(
        name="signals",
        shape=(65536, 256),
        quick_shape=(8192, 256),
        dtype="float32",
        axis=-1,
        modes=("local", "run"),
        what="contiguous signals (B, T) along the last axis",
    ),
    "scipy": Case(
        name="scipy",
        shape=(2048, 256),
        quick_shape=(256, 256),
        dtype="float64",
        axis=-1,
        modes=("local",),
        what="signals (B, T) along the last axis, against a scipy.signal.find_peaks loop",
    ),
}


@dataclasses.dataclass
class Timing:
    """Best and median seconds per call over ``n`` samples of ``number`` calls each."""

    best: float
    median: float
    n: int
    number: int


@dataclasses.dataclass
class Row:
    """One line of a case's table."""

    case: str
    mode: str
    impl: str
    kind: str  # "backend", "peer", "read"
    threads: int | None = None
    timing: Timing | None = None
    gbps: float | None = None
    per_read: float | None = None
    vs_ref: float | None = None
    vs_scipy: float | None = None
    gflops: float | None = None
    vs_torch: float | None = None
    estimated: bool = False
    note: str = ""


# --------------------------------------------------------------------------- timing
def timeit(fn: Callable[[], Any], repeat: int, budget: float = ROW_BUDGET) -> tuple[Timing, Any]:
    """Warm ``fn`` up once (JIT), then best-of-``repeat`` wall time with perf_counter.

    Returns the timing and the warm-up call's result. Calls shorter than ``MIN_SAMPLE``
    are looped inside a sample; slow calls get fewer samples to stay within ``budget``.
    """
    result = fn()
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    number = 1 if first >= MIN_SAMPLE else min(1000, math.ceil(MIN_SAMPLE / max(first, 1e-9)))
    n = max(1, min(repeat, int(budget / max(first * number, 1e-9))))
    times = [first] if number == 1 else []
    while len(times) < n:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return Timing(min(times), statistics.median(times), len(times), number), result


# --------------------------------------------------------------------------- read bandwidth
def _numba_sum() -> Callable[[np.ndarray], float] | None:
    if numba is None:
        return None

    @numba.njit(parallel=True, fastmath=True, cache=False)
    def psum(a):  # pragma: no cover - compiled
        s = 0.0
        for i in numba.prange(a.size):
            s += a[i]
        return s

    return psum


def read_bandwidth(
    x: np.ndarray, threads: int, repeat: int, pool: ThreadPoolExecutor, case: str
) -> list[Row]:
    """Sum ``x`` three ways; the fastest is the machine's read bandwidth for this array."""
    if not x.flags.c_contiguous:
        raise ValueError("read bandwidth is measured on C-contiguous arrays")
    slabs = [s for s in np.array_split(x, threads, axis=0) if s.size]
    candidates: list[tuple[str, int, Callable[[], Any]]] = [
        ("np.sum (1 thread)", 1, lambda: np.sum(x)),
        (
            f"np.add.reduce on {len(slabs)} slabs, ThreadPool",
            threads,
            lambda: sum(pool.map(lambda s: np.add.reduce(s, axis=None), slabs)),
        ),
    ]
    psum = _numba_sum()
    if psum is not None:
        flat = x.reshape(-1)
        candidates.append(("numba prange sum", numba.get_num_threads(), lambda: psum(flat)))
    rows = []
    for label, thr, fn in candidates:
        timing, _ = timeit(fn, repeat)
        rows.append(
            Row(case, "-", f"read: {label}", "read", thr, timing, x.nbytes / timing.best / 1e9)
        )
    return rows


# --------------------------------------------------------------------------- peers
def path_rows(x: np.ndarray, axis: int) -> np.ndarray:
    """All signals of ``x`` as rows of a 2-D view (path axis last; no copy for our cases)."""
    y = np.moveaxis(x, axis, -1)
    return y.reshape(-1, y.shape[-1])


def scipy_loop(rows: np.ndarray, tol: float, height: float) -> np.ndarray:
    """Per-signal SMP the obvious way: floored second difference, then scipy's find_peaks."""
    out = np.empty(rows.shape[0])
    find_peaks = scipy.signal.find_peaks
    for i, row in enumerate(rows):
        d = floored_second_difference(row[None], tol)[0]
        _, props = find_peaks(np.abs(d), height=height)
        out[i] = props["peak_heights"].sum(dtype=np.float64)
    return out


def torch_peak_mask(t: Any, axis: int, height: float) -> Any:
    """Second difference, abs, strict local-maximum mask and masked sum, in torch ops.

    Not the full SMP: no noise floor, and plateaus are never peaks.
    """
    n = t.shape[axis]
    d = (t.narrow(axis, 2, n - 2) - 2 * t.narrow(axis, 1, n - 2)) + t.narrow(axis, 0, n - 2)
    a = d.abs()
    mid, left, right = a.narrow(axis, 1, n - 4), a.narrow(axis, 0, n - 4), a.narrow(axis, 2, n - 4)
    mask = (mid > left) & (mid > right) & (mid >= height)
    return torch.where(mask, mid, torch.zeros((), dtype=mid.dtype)).sum(
        dim=axis, dtype=torch.float64
    )


# --------------------------------------------------------------------------- checks
def compare(got: np.ndarray, ref: np.ndarray, what: str) -> None:
    """Raise Mismatch unless ``got`` equals ``ref`` to ``RTOL`` (NaN equal to NaN)."""
    got = np.asarray(got, dtype=np.float64)
    close = np.isclose(got, ref, rtol=RTOL, atol=0.0, equal_nan=True)
    if got.shape != ref.shape or not close.all():
        bad = np.flatnonzero(~close.ravel()) if got.shape == ref.shape else np.array([0])
        i = int(bad[0])
        raise Mismatch(
            f"{what}: {bad.size} of {ref.size} signals differ from the NumPy reference "
            f"(rtol {RTOL}); first at flat index {i}: "
            f"{float(got.ravel()[i])!r} vs {float(ref.ravel()[i])!r}"
        )


def check_subset(
    x: np.ndarray, axis: int, backend: str, mode: str, tol: float, height: float
) -> None:
    """Backend vs reference (SMP and counts) on a subset of signals with ``x``'s strides."""
    y = np.moveaxis(x, axis, -1)
    sub = y.reshape(-1, y.shape[-1])[:256] if y.ndim == 2 else y[:8, :32]
    kw = {"mode": mode, "tol": tol, "height": height}
    s, c = smpfast.smp_and_count(sub, -1, backend=backend, **kw)
    rs, rc = smpfast.smp_and_count(sub, -1, backend="numpy", **kw)
    compare(s, rs, f"backend {backend!r} (mode={mode!r}, subset {sub.shape})")
    if not np.array_equal(c, rc):
        raise Mismatch(f"backend {backend!r} (mode={mode!r}): peak counts differ on the subset")


# --------------------------------------------------------------------------- one case
def run_case(case: Case, args: argparse.Namespace, pool: ThreadPoolExecutor) -> list[Row]:
    """Time everything for one case; returns its rows (a table per mode plus read rows)."""
    shape = case.quick_shape if args.quick else case.shape
    x = signals(shape, case.dtype)
    tol = _validate.default_tol(x.dtype)
    height = args.height
    n_signals = x.size // x.shape[case.axis]
    print(
        f"\n== {case.name}: {case.dtype} {shape} {case.what}; {n_signals} signals of "
        f"T={x.shape[case.axis]}, {x.nbytes / 2**20:.1f} MiB read per call ==",
        flush=True,
    )

    read_rows = read_bandwidth(x, args.threads, args.repeat, pool, case.name)
    bw = max(r.gbps for r in read_rows if r.gbps is not None)
    rows: list[Row] = []
    for mode in case.modes:
        rows.extend(run_mode(case, mode, x, tol, height, args))
    for r in (*rows, *read_rows):
        if r.gbps is not None:
            r.per_read = r.gbps / bw
    for mode in case.modes:
        mode_rows = [r for r in rows if r.mode == mode]
        ref = next((r for r in mode_rows if r.impl == "numpy (reference)" and r.timing), None)
        sci = next((r for r in mode_rows if r.impl.startswith("scipy") and r.timing), None)
        for r in mode_rows:
            if r.timing is None:
                continue
            if ref is not None:
                r.vs_ref = ref.timing.best / r.timing.best
            if sci is not None and r.kind == "backend":
                r.vs_scipy = sci.timing.best / r.timing.best
    best_read = max(read_rows, key=lambda r: r.gbps or 0.0)
    best_read.note = "<- read bandwidth"
    return rows + read_rows


def backend_label(name: str) -> str:
    """Row label of a backend."""
    return "numpy (reference)" if name == "numpy" else name


def run_mode(
    case: Case, mode: str, x: np.ndarray, tol: float, height: float, args: argparse.Namespace
) -> list[Row]:
    """Backends and peers for one mode of one case."""
    kw = {"mode": mode, "tol": tol, "height": height}
    usable = [b for b in BACKENDS if backend_problem(b) is None]
    failed: dict[str, str] = {}
    for b in usable:  # every backend is checked before anything is timed
        try:
            check_subset(x, case.axis, b, mode, tol, height)
        except Mismatch:
            raise
        except Exception as exc:  # a backend being written may raise: report, go on
            failed[b] = f"FAILED: {type(exc).__name__}: {exc}"

    rows: dict[str, Row] = {}
    ref_out: np.ndarray | None = None
    for b in ["numpy", *[b for b in usable if b != "numpy"]]:
        if b not in usable or b in failed:
            continue
        try:
            timing, out = timeit(
                lambda b=b: smpfast.smp(x, case.axis, backend=b, **kw), args.repeat
            )
        except Exception as exc:
            failed[b] = f"FAILED: {type(exc).__name__}: {exc}"
            continue
        if b == "numpy":
            ref_out = out
        elif ref_out is not None:
            compare(out, ref_out, f"backend {b!r} (mode={mode!r}, whole array)")
        thr = 1 if b == "numpy" else smpfast.get_num_threads()
        rows[b] = Row(
            case.name, mode, backend_label(b), "backend", thr, timing, x.nbytes / timing.best / 1e9
        )
    ordered = []
    for b in BACKENDS:
        if b in rows:
            ordered.append(rows[b])
        else:
            note = failed.get(b) or f"skipped: {backend_problem(b)}"
            ordered.append(Row(case.name, mode, backend_label(b), "backend", note=note))

    if mode == "local":
        ordered.append(scipy_row(case, x, tol, height, ref_out, args))
        ordered.append(torch_row(case, x, height, ref_out, args))
    return ordered


def scipy_row(
    case: Case,
    x: np.ndarray,
    tol: float,
    height: float,
    ref_out: np.ndarray | None,
    args: argparse.Namespace,
) -> Row:
    """The per-signal scipy.signal.find_peaks loop (extrapolated from a subset if slow)."""
    label = "scipy.signal.find_peaks loop"
    if scipy is None:
        return Row(case.name, "local", label, "peer", note="skipped: scipy not importable")
    rows = path_rows(x, case.axis)
    n = rows.shape[0]
    ref_rows = None if ref_out is None else ref_out.reshape(-1)
    k = min(n, 256)
    t0 = time.perf_counter()
    probe = scipy_loop(rows[:k], tol, height)
    estimate = (time.perf_counter() - t0) * n / k
    if ref_rows is not None:
        compare(probe, ref_rows[:k], f"{label} (first {k} signals)")
    row = Row(case.name, "local", label, "peer", 1)
    if estimate <= SCIPY_FULL_LIMIT:
        timing, out = timeit(
            lambda: scipy_loop(rows, tol, height), args.repeat, budget=SCIPY_FULL_LIMIT
        )
        if ref_rows is not None:
            compare(out, ref_rows, f"{label} (whole array)")
        row.note = "checked = reference" if ref_rows is not None else ""
    else:
        k = min(n, max(k, int(2.0 * n / estimate)))  # a subset taking about 2 s
        sub_t, _ = timeit(lambda: scipy_loop(rows[:k], tol, height), args.repeat, budget=10.0)
        scale = n / k
        timing = Timing(sub_t.best * scale, sub_t.median * scale, sub_t.n, sub_t.number)
        row.estimated = True
        row.impl = f"{label} (est.)"
        row.note = f"est. from {k} of {n} signals"
    row.timing = timing
    row.gbps = x.nbytes / timing.best / 1e9
    return row


def torch_row(
    case: Case, x: np.ndarray, height: float, ref_out: np.ndarray | None, args: argparse.Namespace
) -> Row:
    """PyTorch CPU ops on the same memory (a lower bound on what torch does for SMP)."""
    label = "torch 2nd-diff+peak mask (not full SMP)"
    if torch is None:
        return Row(case.name, "local", label, "peer", note="skipped: torch not importable")
    t = torch.from_numpy(x)
    axis = case.axis % x.ndim

    def run() -> Any:
        with torch.inference_mode():
            return torch_peak_mask(t, axis, height)

    timing, out = timeit(run, args.repeat)
    note = "no noise floor, no plateaus"
    if ref_out is not None:
        diff = np.abs(out.numpy() - ref_out) / np.maximum(np.abs(ref_out), 1e-300)
        note += f"; max rel diff vs ref {float(np.nanmax(diff)):.1e}"
    return Row(
        case.name,
        "local",
        label,
        "peer",
        torch.get_num_threads(),
        timing,
        x.nbytes / timing.best / 1e9,
        note=note,
    )


# --------------------------------------------------------------------------- nn blocks
@dataclasses.dataclass(frozen=True)
class NNCase:
    """One ``smpfast.nn`` workload: a block on a float32 (N, C, H, W) input."""

    block: str  # "conv2d" (3x3, padding 1, no bias), "max_pool2d" (2x2, indices) or "relu"
    shape: tuple[int, int, int, int]
    quick_shape: tuple[int, int, int, int]
    out_channels: int = 0  # conv2d only

    def label(self, shape: tuple[int, ...]) -> str:
        """The workload column: block, parameters and input shape."""
        dims = "x".join(map(str, shape))
        if self.block == "conv2d":
            return f"conv2d 3x3 p1 {dims} -> {self.out_channels}"
        if self.block == "max_pool2d":
            return f"max_pool2d 2x2 {dims}"
        return f"relu {dims}"


NN_CASES = (
    NNCase("conv2d", (64, 3, 64, 64), (8, 3, 64, 64), 16),
    NNCase("conv2d", (64, 16, 64, 64), (8, 16, 64, 64), 16),
    NNCase("conv2d", (16, 64, 64, 64), (2, 64, 64, 64), 64),
    NNCase("max_pool2d", (64, 16, 128, 128), (8, 16, 128, 128)),
    NNCase("relu", (64, 16, 128, 128), (8, 16, 128, 128)),
)


def timeit_interleaved(
    fns: dict[str, Callable[[], Any]], repeat: int, budget: float = NN_BUDGET
) -> dict[str, Timing]:
    """Best-of-``repeat`` wall times of several warmed-up functions, sampled in rounds.

    Each round takes one sample of every function that still needs one, in alternating
    order (forward, then backward), after an untimed ``NN_PAUSE``: all of them see the same
    load on a shared machine. The fastest of up to three untimed calls per function sizes
    its samples as ``timeit`` does (calls under ``MIN_SAMPLE`` are looped inside a sample;
    slow functions get fewer samples, to stay within ``budget`` each).
    """
    plan: dict[str, tuple[int, int]] = {}
    for key, fn in fns.items():
        first = math.inf
        for _ in range(3):  # a shared machine: size the samples on the fastest call
            t0 = time.perf_counter()
            fn()
            first = min(first, time.perf_counter() - t0)
            if first > budget / repeat:
                break
        number = 1 if first >= MIN_SAMPLE else min(1000, math.ceil(MIN_SAMPLE / max(first, 1e-9)))
        plan[key] = (number, max(1, min(repeat, int(budget / max(first * number, 1e-9)))))
    times: dict[str, list[float]] = {key: [] for key in fns}
    keys = list(fns)
    rnd = 0
    while any(len(times[k]) < plan[k][1] for k in keys):
        for key in keys if rnd % 2 == 0 else keys[::-1]:
            number, n = plan[key]
            if len(times[key]) >= n:
                continue
            fn = fns[key]
            time.sleep(NN_PAUSE)
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            times[key].append((time.perf_counter() - t0) / number)
        rnd += 1
    return {k: Timing(min(v), statistics.median(v), len(v), plan[k][0]) for k, v in times.items()}


def nn_call(block: str, x: np.ndarray, w: np.ndarray | None, backend: str) -> Callable[[], Any]:
    """One ``smpfast.nn`` call of the workload on ``backend``."""
    if block == "conv2d":
        return lambda: nn.conv2d(x, w, padding=1, backend=backend)
    if block == "max_pool2d":
        return lambda: nn.max_pool2d(x, 2, return_indices=True, backend=backend)
    return lambda: nn.relu(x, backend=backend)


def torch_call(
    block: str, x: np.ndarray, w: np.ndarray | None, indices: bool = True
) -> Callable[[], Any]:
    """The same call in ``torch.nn.functional`` on ``torch.from_numpy`` of the same arrays."""
    functional = torch.nn.functional
    tx = torch.from_numpy(x)
    tw = None if w is None else torch.from_numpy(w)

    def run() -> Any:
        with torch.inference_mode():
            if block == "conv2d":
                return functional.conv2d(tx, tw, padding=1)
            if block == "max_pool2d":
                return functional.max_pool2d(tx, 2, return_indices=indices)
            return functional.relu(tx)

    return run


def as_numpy(result: Any) -> Any:
    """A torch result (a tensor or a tuple of them) as NumPy arrays."""
    if isinstance(result, tuple):
        return tuple(r.numpy() for r in result)
    return result.numpy()


def conv_magnitude(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``|x| conv |w|`` in float64 (torch): the scale of conv2d's rounding errors."""
    with torch.inference_mode():
        return torch.nn.functional.conv2d(
            torch.from_numpy(np.abs(x).astype(np.float64)),
            torch.from_numpy(np.abs(w).astype(np.float64)),
            padding=1,
        ).numpy()


def check_nn(block: str, got: Any, want: Any, scale: np.ndarray | None, what: str) -> None:
    """Raise Mismatch unless an smpfast.nn result agrees with torch's.

    conv2d: ``|got - want| <= NN_CONV_RTOL * scale`` (``scale = |x| conv |w|``);
    max_pool2d: values and indices equal; relu: values equal.
    """
    pairs = list(zip(got, want, strict=True)) if block == "max_pool2d" else [(got, want)]
    for part, (g, t) in zip(("values", "indices"), pairs, strict=False):
        if g.shape != t.shape or g.dtype != t.dtype:
            raise Mismatch(
                f"{what}: {part} are {g.dtype} {g.shape}, torch gives {t.dtype} {t.shape}"
            )
        if block == "conv2d":
            err = np.abs(g.astype(np.float64) - t)
            tol = NN_CONV_RTOL * scale
            bad = np.flatnonzero(err > tol)
            if bad.size:
                i = int(bad[np.argmax((err - tol).ravel()[bad])])
                raise Mismatch(
                    f"{what}: {bad.size} of {g.size} outputs differ from torch by more than "
                    f"{NN_CONV_RTOL:g} x (|x| conv |w|); worst at flat index {i}: "
                    f"{float(g.ravel()[i])!r} vs {float(t.ravel()[i])!r}, tolerance "
                    f"{float(tol.ravel()[i]):.3g}"
                )
        elif not np.array_equal(g, t):
            bad = np.flatnonzero(g != t)
            i = int(bad[0]) if bad.size else 0
            raise Mismatch(
                f"{what}: {part} differ from torch at {bad.size} of {g.size} positions; "
                f"first at flat index {i}: {g.ravel()[i]!r} vs {t.ravel()[i]!r}"
            )


def run_nn(args: argparse.Namespace) -> list[Row]:
    """Every ``NN_CASES`` workload: each smpfast backend and torch, checked, then timed."""
    print(
        f"\n== {NN_GROUP}: smpfast.nn blocks against torch.nn.functional, float32 NCHW; "
        f"best of {args.nn_repeat} interleaved samples ==",
        flush=True,
    )
    if torch is None:
        return [
            Row(NN_GROUP, "-", "torch.nn.functional", "peer",
                note="skipped: torch not importable (the nn rows are checked against torch)")
        ]  # fmt: skip
    rows: list[Row] = []
    for case in NN_CASES:
        rows.extend(run_nn_case(case, args))
    return rows


def run_nn_case(case: NNCase, args: argparse.Namespace) -> list[Row]:
    """One workload's rows: smpfast backends, torch, and the ratio torch / smpfast."""
    shape = case.quick_shape if args.quick else case.shape
    label = case.label(shape)
    n, c, h, wd = shape
    x = signals(shape, "float32")
    w = (
        signals((case.out_channels, c, 3, 3), "float32", SEED + 1)
        if case.block == "conv2d"
        else None
    )
    flops = 2.0 * n * case.out_channels * c * 9 * h * wd if case.block == "conv2d" else None
    size = f"{x.nbytes / 2**20:.0f} MiB in" + (f", {flops / 1e9:.2f} GFLOP" if flops else "")
    print(f"   {label} ({size}): checking against torch ...", end="", flush=True)

    want = as_numpy(torch_call(case.block, x, w)())
    scale = conv_magnitude(x, w) if case.block == "conv2d" else None
    fns: dict[str, Callable[[], Any]] = {}
    notes: dict[str, str] = {}
    estimate: dict[str, Any] = {}
    for b in BACKENDS:
        problem = nn.unavailable_reason(b)
        if problem is not None:
            notes[b] = f"skipped: {problem}"
            continue
        fn = nn_call(case.block, x, w, b)
        if b == "numpy":  # the reference may be too slow to time on the whole batch
            k = max(1, n // 8)
            sub = x[:k]
            probe = nn_call(case.block, sub, w, b)
            probe()
            t0 = time.perf_counter()
            sub_out = probe()
            guess = (time.perf_counter() - t0) * n / k
            if guess > NN_FULL_LIMIT:
                sub_scale = None if scale is None else scale[:k]
                sub_want = as_numpy(torch_call(case.block, sub, w)())
                check_nn(case.block, sub_out, sub_want, sub_scale, f"{label}: numpy, N={k}")
                estimate = {"fn": probe, "k": k, "guess": guess}
                continue
        try:
            out = fn()  # warm-up (Numba JIT) and the result to check
        except Exception as exc:  # a backend being written may raise: report, go on
            notes[b] = f"FAILED: {type(exc).__name__}: {exc}"
            continue
        check_nn(case.block, out, want, scale, f"{label}: backend {b!r}")
        del out
        fns[b] = fn
    fns["torch"] = torch_call(case.block, x, w)
    if case.block == "max_pool2d":
        if "cpp" in fns:  # the default call (no indices), as torch's default
            fns["cpp values only"] = lambda: nn.max_pool2d(x, 2, backend="cpp")
        fns["torch values only"] = torch_call(case.block, x, w, indices=False)
    print(f" ok; timing {', '.join(fns)} ...", flush=True)
    timings = timeit_interleaved(fns, args.nn_repeat)
    if estimate:
        sub_t, _ = timeit(estimate["fn"], args.repeat, budget=10.0)
        factor = n / estimate["k"]
        timings["numpy"] = Timing(sub_t.best * factor, sub_t.median * factor, sub_t.n, sub_t.number)
        notes["numpy"] = (
            f"est. from N={estimate['k']} of {n} (not interleaved; "
            f"about {estimate['guess']:.3g} s per call)"
        )

    torch_best = timings["torch"].best
    rows = []
    for key in (*BACKENDS, "cpp values only", "torch", "torch values only"):
        if key.endswith("values only") and key not in timings:
            continue
        t = timings.get(key)
        if key == "cpp values only":
            impl, kind, thr = "cpp (no indices)", "backend", smpfast.get_num_threads()
        elif key in BACKENDS:
            impl = backend_label(key) + (" (est.)" if key == "numpy" and estimate else "")
            kind = "backend"
            if key == "numpy":
                thr = None if case.block == "conv2d" else 1
                if case.block == "conv2d" and t is not None:
                    est_note = notes.get("numpy")
                    notes["numpy"] = "matmul on NumPy's BLAS threads" + (
                        f"; {est_note}" if est_note else ""
                    )
            else:
                thr = smpfast.get_num_threads()
        else:
            impl = f"torch F.{case.block}" + (" (no indices)" if key != "torch" else "")
            kind, thr = "peer", torch.get_num_threads()
            if key != "torch":
                notes[key] = "values only; the cpp (no indices) row compares with this"
        row = Row(NN_GROUP, label, impl, kind, thr if t else None, t, note=notes.get(key, ""))
        row.estimated = key == "numpy" and bool(estimate)
        if t is not None:
            if flops is not None:
                row.gflops = flops / t.best / 1e9
            else:
                row.gbps = x.nbytes / t.best / 1e9
            if kind == "backend":
                peer = timings["torch values only"].best if key == "cpp values only" else torch_best
                row.vs_torch = peer / t.best
        rows.append(row)
    return rows


def print_nn_table(rows: Sequence[Row]) -> None:
    """One aligned table for the nn group, a blank line between workloads."""
    head = [
        "workload",
        "implementation",
        "thr",
        "best ms",
        "median ms",
        "n",
        "GFLOP/s",
        "GB/s",
        "torch/this",
        "note",
    ]
    lines: list[list[str] | None] = [head]
    previous = None
    for r in rows:
        if previous is not None and r.mode != previous:
            lines.append(None)
        previous = r.mode
        t = r.timing
        lines.append(
            [
                r.mode,
                r.impl,
                fmt(r.threads, "d"),
                fmt(t and t.best * 1e3, ".4g"),
                fmt(t and t.median * 1e3, ".4g"),
                "-" if t is None else (f"{t.n}" if t.number == 1 else f"{t.n}x{t.number}"),
                fmt(r.gflops, ".3g"),
                fmt(r.gbps, ".3g"),
                fmt(r.vs_torch, ".2f"),
                r.note,
            ]
        )
    full = [line for line in lines if line is not None]
    widths = [max(len(line[i]) for line in full) for i in range(len(head) - 1)]
    right = {2, 3, 4, 5, 6, 7, 8}
    for line in lines:
        if line is None:
            print()
            continue
        cells = [
            c.rjust(wd) if i in right else c.ljust(wd)
            for i, (c, wd) in enumerate(zip(line, widths, strict=False))
        ]
        print("  ".join([*cells, line[-1]]).rstrip())


# --------------------------------------------------------------------------- output
def cpu_model() -> str:
    """CPU model name and a few SIMD flags from /proc/cpuinfo."""
    model, flags = platform.processor() or platform.machine(), set()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    simd = [f for f in ("sse4_2", "avx2", "fma", "avx512f", "avx512bw", "avx512vl") if f in flags]
    return f"{model} ({' '.join(simd) or 'no SIMD flags read'})"


def transparent_hugepages() -> str:
    """The kernel's transparent-huge-page mode (``[madvise]`` and so on), or "unknown"."""
    with contextlib.suppress(OSError), open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
        return f.read().strip()
    return "unknown"


def version_of(module: Any) -> str:
    """``module.__version__`` or "not installed"."""
    return "not installed" if module is None else str(module.__version__)


def smpfast_config() -> tuple[str, dict[str, Any]]:
    """``smpfast.show_config()`` output, or a summary built here if it fails."""
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            cfg = smpfast.show_config()
        return buf.getvalue().rstrip(), cfg
    except Exception as exc:  # a backend being written may break show_config
        lines = [
            f"smpfast {smpfast.__version__} (show_config() failed: {type(exc).__name__}: {exc})"
        ]
        cfg = {"show_config_error": f"{type(exc).__name__}: {exc}", "backends": {}}
        for b in BACKENDS:
            problem = backend_problem(b)
            info: dict[str, Any] = {"available": problem is None}
            if problem is None:
                with contextlib.suppress(Exception):
                    info.update(_backends.load(b).describe())
            else:
                info["reason"] = problem
            cfg["backends"][b] = info
            lines.append(
                f"  backend {b:<6}: "
                + (
                    ", ".join(f"{k}={v}" for k, v in info.items() if k not in ("available", "name"))
                    if problem is None
                    else f"NOT usable - {problem}"
                )
            )
        return "\n".join(lines), cfg


def header(args: argparse.Namespace) -> dict[str, Any]:
    """Print and return what this run measured on."""
    env = {k: v for k, v in os.environ.items() if k in ENV_SHOWN or k.startswith("SMPFAST_")}
    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    try:
        usable_cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        usable_cores = os.cpu_count() or 1
    config_text, config = smpfast_config()
    info = {
        "command": command,
        "env": env,
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable_cores,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "numba": version_of(numba),
        "scipy": version_of(scipy),
        "torch": version_of(torch),
        "threads": args.threads,
        "repeat": args.repeat,
        "nn_repeat": args.nn_repeat,
        "quick": args.quick,
        "smpfast_config": config,
        "transparent_hugepages": transparent_hugepages(),
    }
    print("smpfast bench/compare.py")
    print("command : " + " ".join([*(f"{k}={shlex.quote(v)}" for k, v in env.items()), command]))
    print(f"cpu     : {info['cpu']}; {info['cores']} cores ({usable_cores} usable)")
    print(
        f"versions: python {info['python']}, numpy {info['numpy']}, numba {info['numba']}, "
        f"scipy {info['scipy']}, torch {info['torch']}"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    info["loadavg_1min"] = load
    busy = " - other processes are running: expect noisy timings" if load > 0.5 else ""
    print(f"load    : {load:.2f} (1-min load average before the run){busy}")
    print(
        f"THP     : {info['transparent_hugepages']} (torch allocates with huge pages only "
        f"with THP_MEM_ALLOC_ENABLE=1; NumPy asks for them on large arrays)"
    )
    print(
        f"threads : {args.threads} (smpfast, torch, numba and the threaded read); "
        f"best of {args.repeat}, nn rows {args.nn_repeat} interleaved (median also shown)"
        f"{'; --quick sizes' if args.quick else ''}"
    )
    print(config_text)
    return info


def fmt(value: float | None, spec: str) -> str:
    """Format a number, or '-' for None."""
    return "-" if value is None else format(value, spec)


def print_table(rows: Sequence[Row]) -> None:
    """One aligned table for a case."""
    head = [
        "mode",
        "implementation",
        "thr",
        "best ms",
        "median ms",
        "n",
        "GB/s",
        "/read",
        "vs ref",
        "vs scipy",
        "note",
    ]
    lines = [head]
    for r in rows:
        t = r.timing
        lines.append(
            [
                r.mode,
                r.impl,
                fmt(r.threads, "d"),
                fmt(t and t.best * 1e3, ".3g"),
                fmt(t and t.median * 1e3, ".3g"),
                "-" if t is None else (f"{t.n}" if t.number == 1 else f"{t.n}x{t.number}"),
                fmt(r.gbps, ".3g"),
                fmt(r.per_read, ".2f"),
                fmt(r.vs_ref, ".3g"),
                fmt(r.vs_scipy, ".3g"),
                r.note,
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head) - 1)]
    right = {2, 3, 4, 5, 6, 7, 8, 9}
    for line in lines:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=False))
        ]
        print("  ".join([*cells, line[-1]]).rstrip())


def row_json(r: Row) -> dict[str, Any]:
    """A row as plain JSON data (seconds, not ms)."""
    d = dataclasses.asdict(r)
    t = d.pop("timing")
    d.update(
        {"best_s": None, "median_s": None, "samples": None, "calls_per_sample": None}
        if t is None
        else {
            "best_s": t["best"],
            "median_s": t["median"],
            "samples": t["n"],
            "calls_per_sample": t["number"],
        }
    )
    return d


# --------------------------------------------------------------------------- streaming
def stream_call(
    x: np.ndarray, backend: str, mode: str, height: float, block: int
) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    """A call that streams ``x`` through a fresh ``SMPStream`` in blocks of ``block`` frames."""

    def run() -> tuple[np.ndarray, np.ndarray]:
        s = smpfast.SMPStream(x.shape[1:], mode=mode, height=height, dtype=x.dtype, backend=backend)
        for a in range(0, x.shape[0], block):
            s.update(x[a : a + block])
        return s.result()

    return run


def check_counts(
    got: tuple[np.ndarray, np.ndarray], want: tuple[np.ndarray, np.ndarray], what: str
) -> None:
    """SMP within RTOL and identical counts, else Mismatch."""
    compare(got[0], want[0], what)
    if not np.array_equal(got[1], want[1]):
        raise Mismatch(f"{what}: peak counts differ")


def run_stream(args: argparse.Namespace, pool: ThreadPoolExecutor) -> list[Row]:
    """``SMPStream`` on every backend vs the batch ``smp`` (cpp) and the read bandwidth."""
    shape = STREAM_QUICK_SHAPE if args.quick else STREAM_SHAPE
    x = signals(shape, "float32")
    block = STREAM_BLOCK
    print(
        f"\n== stream: float32 {shape} frames (T, pixels), SMPStream.update in blocks of "
        f"{block} frames vs the batch smp(x, axis=0); {x.nbytes / 2**20:.1f} MiB read per "
        f"call ==",
        flush=True,
    )
    read_rows = read_bandwidth(x, args.threads, args.repeat, pool, STREAM_GROUP)
    bw = max(r.gbps for r in read_rows if r.gbps is not None)
    usable = [
        b
        for b in BACKENDS
        if backend_problem(b) is None and hasattr(_backends.load(b), "stream_update")
    ]
    rows: list[Row] = []
    sub = x[:, :STREAM_CHECK_PIXELS]
    batch_backend = usable[0]
    for mode in ("local", "run"):
        kw = {"mode": mode, "height": args.height}
        ref_sub = smpfast.smp_and_count(sub, 0, backend="numpy", **kw)
        batch_timing, batch = timeit(
            lambda m=mode: smpfast.smp_and_count(
                x, 0, backend=batch_backend, mode=m, height=args.height
            ),
            args.repeat,
        )
        check_counts(
            (batch[0][:STREAM_CHECK_PIXELS], batch[1][:STREAM_CHECK_PIXELS]),
            ref_sub,
            f"batch {batch_backend} (mode={mode!r})",
        )
        batch_row = Row(
            STREAM_GROUP,
            mode,
            f"{batch_backend} smp(x, axis=0) (batch)",
            "backend",
            smpfast.get_num_threads(),
            batch_timing,
            x.nbytes / batch_timing.best / 1e9,
            note="<- batch",
        )
        mode_rows = [batch_row]
        ref_row: Row | None = None
        for b in ["numpy", *[b for b in usable if b != "numpy"]]:
            if b not in usable:
                continue
            check_counts(
                stream_call(sub, b, mode, args.height, block)(),
                ref_sub,
                f"SMPStream {b} (mode={mode!r}, first {STREAM_CHECK_PIXELS} pixels)",
            )
            timing, out = timeit(stream_call(x, b, mode, args.height, block), args.repeat)
            check_counts(out, batch, f"SMPStream {b} (mode={mode!r}, whole array vs batch)")
            row = Row(
                STREAM_GROUP,
                mode,
                f"{backend_label(b)} SMPStream, blocks of {block}",
                "backend",
                1 if b == "numpy" else smpfast.get_num_threads(),
                timing,
                x.nbytes / timing.best / 1e9,
                note=f"time / batch {timing.best / batch_timing.best:.2f}",
            )
            if b == "numpy":
                ref_row = row
            mode_rows.append(row)
        for r in mode_rows:
            if ref_row is not None and r.timing is not None and ref_row.timing is not None:
                r.vs_ref = ref_row.timing.best / r.timing.best
        rows.extend(mode_rows)
    for r in (*rows, *read_rows):
        if r.gbps is not None:
            r.per_read = r.gbps / bw
    best_read = max(read_rows, key=lambda r: r.gbps or 0.0)
    best_read.note = "<- read bandwidth"
    return rows + read_rows


# --------------------------------------------------------------------------- main
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--threads",
        type=int,
        default=2,
        help="threads for smpfast, torch, numba and the threaded read (default 2)",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=5,
        help="timing samples per row; the best and the median are shown (default 5)",
    )
    p.add_argument(
        "--nn-repeat",
        type=int,
        default=NN_REPEAT,
        help=f"timing samples per implementation in the nn rows, taken in interleaved "
        f"rounds (default {NN_REPEAT})",
    )
    p.add_argument("--quick", action="store_true", help="small arrays (a CI smoke run)")
    p.add_argument(
        "--cases",
        default=",".join([*CASES, STREAM_GROUP, NN_GROUP]),
        help=f"comma-separated subset of {', '.join([*CASES, STREAM_GROUP, NN_GROUP])} "
        "(default: all)",
    )
    p.add_argument(
        "--height",
        type=float,
        default=0.0,
        help="minimum peak magnitude passed to every implementation (default 0)",
    )
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = p.parse_args(argv)
    args.case_list = [c.strip() for c in args.cases.split(",") if c.strip()]
    groups = [*CASES, STREAM_GROUP, NN_GROUP]
    unknown = [c for c in args.case_list if c not in groups]
    if unknown or not args.case_list:
        p.error(f"--cases: unknown {unknown}; choose from {', '.join(groups)}")
    if args.threads < 1 or args.repeat < 1 or args.nn_repeat < 1:
        p.error("--threads, --repeat and --nn-repeat must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison; 0 on success, 1 when a result disagrees with the reference."""
    args = parse_args(argv)
    smpfast.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    if numba is not None:
        numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    info = header(args)
    all_rows: list[Row] = []
    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        for name in args.case_list:
            try:
                if name == NN_GROUP:
                    rows = run_nn(args)
                elif name == STREAM_GROUP:
                    rows = run_stream(args, pool)
                else:
                    rows = run_case(CASES[name], args, pool)
            except Mismatch as exc:
                print(f"\nERROR: result check failed in case {name!r}: {exc}", file=sys.stderr)
                print("ABORTED: no timings are reported for a wrong result.", file=sys.stderr)
                return 1
            (print_nn_table if name == NN_GROUP else print_table)(rows)
            all_rows.extend(rows)
    failed = [f"{r.case}/{r.mode}/{r.impl}" for r in all_rows if r.note.startswith("FAILED")]
    skipped = sorted({r.impl for r in all_rows if r.note.startswith("skipped")})
    if skipped:
        print(f"\nskipped rows: {', '.join(skipped)} (see the note column)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"header": info, "rows": [row_json(r) for r in all_rows]}, f, indent=2, default=str
            )
        print(f"wrote {args.json}")
    if failed:
        print(
            f"\nERROR: these rows raised (see the note column): {', '.join(failed)}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
