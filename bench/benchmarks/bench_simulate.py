"""``smpfast.simulate`` benchmarks: paths per second of the Monte Carlo engine.

The typical cell of the experiments: a conv(3x3, 8 channels, padding 1) - ReLU -
max-pool(2) stack on 1x16x16 inputs, paths of T = 64 steps, both SMP modes. ``setup``
first checks the engine against a direct computation (the network's forward pass on the
same paths and the NumPy reference SMP), so a fast wrong engine cannot produce a number.

Run as a script for a one-off table (paths/s, the load average in the header)::

    PYTHONPATH=python python bench/benchmarks/bench_simulate.py --paths 4096 --threads 2
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any, ClassVar

import numpy as np

import smpfast
from smpfast import nets, reference, simulate

INPUT_SHAPE = (1, 16, 16)
T = 64


def stack(dtype: Any) -> nets.Sequential:
    """The benchmarked network: conv(1 -> 8, 3x3, padding 1) - ReLU - max-pool(2)."""
    blocks = [nets.Conv2d(1, 8, 3, padding=1), nets.ReLU(), nets.MaxPool2d(2)]
    return nets.Sequential(blocks, seed=0, dtype=dtype)


def check(net: nets.Sequential, path: str, dtype: Any) -> None:
    """Raise AssertionError unless the engine's samples equal a direct computation."""
    inputs: list[np.ndarray] = []

    def grab(index: int, block: Any, x_in: np.ndarray, x_out: np.ndarray) -> None:
        if index == -1:
            inputs.append(x_in.copy())

    res = simulate.run(net, INPUT_SHAPE, 6, T, path=path, keep=True, observers=[grab],
                       chunk_paths=4, dtype=dtype)  # fmt: skip
    x = np.concatenate(inputs, axis=1)
    outs = net.forward_all(x.reshape(-1, *INPUT_SHAPE), backend="numpy")
    for block, y in zip(res.blocks, outs, strict=True):
        y = y.reshape(T, 6, *y.shape[1:])
        for mode in ("run", "local"):
            want = reference.smp(y, axis=0, mode=mode)
            got = block.stats[mode].samples
            scale = np.abs(y).max() * 1e-5
            if got is None or not np.allclose(got, want, rtol=1e-4, atol=scale):
                raise AssertionError(f"simulate: block {block.index} {mode} differs from direct")


class TimeSimulate:
    """``simulate.run`` of 256 paths through the conv-ReLU-pool stack."""

    params: ClassVar[list[list[str]]] = [["float32", "float64"], ["linear", "gaussian"]]
    param_names: ClassVar[list[str]] = ["dtype", "path"]
    n_paths = 256

    def setup(self, dtype: str, path: str) -> None:
        self.net = stack(dtype)
        check(self.net, path, dtype)

    def time_run(self, dtype: str, path: str) -> None:
        simulate.run(self.net, INPUT_SHAPE, self.n_paths, T, path=path, progress=False)

    def track_paths_per_second(self, dtype: str, path: str) -> float:
        started = time.perf_counter()
        simulate.run(self.net, INPUT_SHAPE, self.n_paths, T, path=path, progress=False)
        return self.n_paths / (time.perf_counter() - started)

    track_paths_per_second.unit = "paths/s"  # type: ignore[attr-defined]


def main() -> None:
    """Print paths/s of the typical cell for both dtypes and both path kinds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    smpfast.set_num_threads(args.threads)
    print(
        f"smpfast {smpfast.__version__}, threads {args.threads}, load average "
        f"{os.getloadavg()[0]:.2f}; conv(1->8,3x3,p1)-ReLU-maxpool(2), input {INPUT_SHAPE}, "
        f"T={T}, both modes, {args.paths} paths"
    )
    print("| dtype | path | chunk | paths/s (best of repeats) |")
    print("| --- | --- | --- | --- |")
    for dtype in ("float32", "float64"):
        net = stack(dtype)
        for path in ("linear", "gaussian"):
            check(net, path, dtype)
            best, chunk = 0.0, 0
            for _ in range(args.repeat):
                res = simulate.run(net, INPUT_SHAPE, args.paths, T, path=path, progress=False)
                best, chunk = max(best, res.paths_per_second), res.chunk_paths
            print(f"| {dtype} | {path} | {chunk} | {best:.0f} |")


if __name__ == "__main__":
    main()
