"""``smpfast.io`` benchmarks: ``smp_stack`` over a ``.npy`` file and a PNG folder, small sizes.

A (64, 256, 256) float32 ``.npy`` (16 MiB) and 64 PNG frames of 256x256 (8-bit) are
written once per ``setup`` into a temporary directory. ``setup`` checks ``smp_stack``
against ``smpfast.smp_and_count`` on the same data (counts exact, SMP within 1e-12) and
raises if they differ, so a fast wrong pipeline cannot produce a number. The "read"
baselines time reading alone (a sum over the memmap; Pillow decodes in a thread pool of
smpfast's thread count), the same comparison ``bench/stack_io.py`` makes at 4 GB.
"""

from __future__ import annotations

import concurrent.futures
import shutil
import tempfile
from pathlib import Path
from typing import ClassVar

import numpy as np

import smpfast
from smpfast import io as sio

from .common import SEED

SHAPE = (64, 256, 256)


def _frames(dtype: str) -> np.ndarray:
    rng = np.random.default_rng(SEED)
    t = np.linspace(-1, 1, SHAPE[0], dtype=np.float32)[:, None, None]
    x = np.maximum(rng.standard_normal(SHAPE[1:], dtype=np.float32) + 2 * t, 0) * 100
    x = x + rng.normal(0, 2, SHAPE).astype(np.float32)
    return np.clip(x, 0, 255).astype(dtype)


def _check(result: sio.StackResult, x: np.ndarray) -> None:
    ref_s, ref_c = smpfast.smp_and_count(x, 0)
    if not np.array_equal(result.count, ref_c) or not np.allclose(result.smp, ref_s,
                                                                  rtol=1e-12, atol=0):
        raise AssertionError("smp_stack disagrees with smpfast.smp_and_count")


class StackNpy:
    """``smp_stack`` on a 16 MiB float32 ``.npy`` (memory-mapped) vs a plain read."""

    params: ClassVar = [[2**20, 16 * 2**20]]
    param_names: ClassVar = ["chunk_bytes"]
    timeout = 300

    def setup(self, chunk_bytes):
        self.dir = Path(tempfile.mkdtemp(prefix="smpfast-asv-"))
        self.x = _frames("float32")
        self.path = self.dir / "x.npy"
        np.save(self.path, self.x)
        _check(sio.smp_stack(self.path, chunk_bytes=chunk_bytes, progress=False), self.x)

    def teardown(self, chunk_bytes):
        shutil.rmtree(self.dir, ignore_errors=True)

    def time_smp_stack(self, chunk_bytes):
        sio.smp_stack(self.path, chunk_bytes=chunk_bytes, progress=False)

    def time_read_only(self, chunk_bytes):
        arr = np.load(self.path, mmap_mode="r")
        per = max(1, chunk_bytes // arr[0].nbytes)
        for i in range(0, arr.shape[0], per):
            np.add.reduce(arr[i : i + per], axis=None)

    def peakmem_smp_stack(self, chunk_bytes):
        sio.smp_stack(self.path, chunk_bytes=chunk_bytes, progress=False)


class StackPng:
    """``smp_stack`` on 64 PNG frames of 256x256 vs decoding them alone (same threads)."""

    timeout = 300

    def setup(self):
        from PIL import Image

        self.dir = Path(tempfile.mkdtemp(prefix="smpfast-asv-"))
        self.x = _frames("uint8")
        self.paths = []
        for i, frame in enumerate(self.x):
            path = self.dir / f"frame{i}.png"
            Image.fromarray(frame).save(path)
            self.paths.append(path)
        _check(sio.smp_stack(self.dir, progress=False), self.x)

    def teardown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def time_smp_stack(self):
        sio.smp_stack(self.dir, progress=False)

    def time_decode_only(self):
        from PIL import Image

        def one(path):
            with Image.open(path) as im:
                im.load()

        with concurrent.futures.ThreadPoolExecutor(smpfast.get_num_threads()) as pool:
            list(pool.map(one, self.paths))


class Images:
    """``smp_images`` (rows and columns) on 64 images of 256x256."""

    timeout = 300

    def setup(self):
        self.x = _frames("uint8")

    def time_smp_images(self):
        sio.smp_images(self.x, progress=False)
