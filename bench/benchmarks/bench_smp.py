"""SMP benchmarks: ``smpfast.smp`` over backend x dtype x layout, and ``find_peaks``.

Sizes are modest (about 1 M samples per array) so that ``asv run --quick`` over every
backend finishes in a few minutes; ``bench/compare.py`` measures throughput on large
arrays. Every ``setup`` checks the backend against the NumPy reference on a slice of the
same layout and raises if they differ, so a fast wrong kernel cannot produce a number.
The number of threads is smpfast's default (``SMPFAST_NUM_THREADS`` or the usable cores).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

import smpfast

from .common import (
    BACKENDS,
    check_find_peaks,
    check_smp,
    layout_array,
    require_backend,
    signals,
    subset,
)

#: Shapes per layout: (T, H, W) for frames, (B, T) for signals and strided.
SHAPES = {
    "frames": (64, 128, 128),
    "signals": (4096, 256),
    "strided": (4096, 256),
}


class SMP:
    """``smpfast.smp`` in both modes on ~1 M samples."""

    params: ClassVar = [list(BACKENDS), ["float32", "float64"], ["frames", "signals", "strided"]]
    param_names: ClassVar = ["backend", "dtype", "layout"]
    timeout = 300

    def setup(self, backend, dtype, layout):
        require_backend(backend)
        self.x, self.axis = layout_array(layout, dtype, SHAPES[layout])
        small = subset(self.x, self.axis)
        for mode in ("local", "run"):
            check_smp(small, self.axis, backend, mode)
            smpfast.smp(self.x, self.axis, mode=mode, backend=backend)  # JIT warm-up

    def time_smp_local(self, backend, dtype, layout):
        smpfast.smp(self.x, self.axis, mode="local", backend=backend)

    def time_smp_run(self, backend, dtype, layout):
        smpfast.smp(self.x, self.axis, mode="run", backend=backend)

    def peakmem_smp_local(self, backend, dtype, layout):
        smpfast.smp(self.x, self.axis, mode="local", backend=backend)


class FindPeaks:
    """``smpfast.find_peaks`` on one long float64 signal (2**20 samples)."""

    params: ClassVar = [list(BACKENDS), ["local", "run"]]
    param_names: ClassVar = ["backend", "mode"]
    timeout = 300

    def setup(self, backend, mode):
        require_backend(backend)
        self.y = signals((2**20,), "float64")
        check_find_peaks(self.y[:10_000], backend, mode)
        smpfast.find_peaks(self.y, mode=mode, backend=backend)  # JIT warm-up

    def time_find_peaks(self, backend, mode):
        smpfast.find_peaks(self.y, mode=mode, backend=backend)


#: (T, pixels) of the streamed stack and the frames per ``SMPStream.update``.
STREAM_SHAPE = (64, 128 * 128)
STREAM_BLOCK = 16


def _stream(x, backend, mode, block=STREAM_BLOCK):
    s = smpfast.SMPStream(x.shape[1:], mode=mode, dtype=x.dtype, backend=backend)
    for a in range(0, x.shape[0], block):
        s.update(x[a : a + block])
    return s.result()


class Stream:
    """``smpfast.SMPStream`` over a float32 (T, pixels) stack fed in blocks of 16 frames.

    Compare with ``SMP.time_smp_*`` on the ``frames`` layout (the batch call on a whole
    stack of the same size).
    """

    params: ClassVar = [list(BACKENDS), ["local", "run"]]
    param_names: ClassVar = ["backend", "mode"]
    timeout = 300

    def setup(self, backend, mode):
        require_backend(backend)
        if not hasattr(smpfast._backends.load(backend), "stream_update"):
            raise NotImplementedError(f"backend {backend!r} has no streaming kernel")
        self.x = signals(STREAM_SHAPE, "float32")
        small = self.x[:, :256]
        got_s, got_n = _stream(small, backend, mode)
        ref_s, ref_n = smpfast.smp_and_count(small, 0, mode=mode, backend="numpy")
        if not (np.allclose(got_s, ref_s, rtol=1e-12, atol=0.0) and np.array_equal(got_n, ref_n)):
            raise AssertionError(f"SMPStream on backend {backend!r} disagrees with the reference")
        _stream(self.x, backend, mode)  # JIT warm-up

    def time_stream(self, backend, mode):
        _stream(self.x, backend, mode)

    def time_batch(self, backend, mode):
        smpfast.smp_and_count(self.x, 0, mode=mode, backend=backend)
