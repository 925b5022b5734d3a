"""SMP benchmarks: ``smpfast.smp`` over backend x dtype x layout, and ``find_peaks``.

Sizes are modest (about 1 M samples per array) so that ``asv run --quick`` over every
backend finishes in a few minutes; ``bench/compare.py`` measures throughput on large
arrays. Every ``setup`` checks the backend against the NumPy reference on a slice of the
same layout and raises if they differ, so a fast wrong kernel cannot produce a number.
The number of threads is smpfast's default (``SMPFAST_NUM_THREADS`` or the usable cores).
"""

from __future__ import annotations

from typing import ClassVar

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
