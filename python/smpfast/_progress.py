"""A small progress bar for long work (stderr; no dependency)."""

from __future__ import annotations

import os
import sys
import time
from types import TracebackType
from typing import TextIO


class Progress:
    """Progress bar on a terminal, silent elsewhere unless forced.

    Parameters
    ----------
    total : int
        Units of work (e.g. bytes or signals).
    desc : str
        Label printed before the bar.
    enabled : bool or None
        None shows the bar when ``stream`` is a terminal (and ``SMPFAST_PROGRESS`` is not
        ``0``); True or False force it.
    unit_scale : float
        Units per "GB" shown as a rate (1e9 for bytes); 0 shows units/s.
    stream : file, default sys.stderr

    Examples
    --------
    >>> with Progress(10, "demo", enabled=False) as bar:
    ...     for _ in range(10):
    ...         bar.update(1)
    """

    def __init__(
        self,
        total: int,
        desc: str = "",
        *,
        enabled: bool | None = None,
        unit_scale: float = 0.0,
        stream: TextIO | None = None,
    ) -> None:
        self.total = max(int(total), 0)
        self.desc = desc
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            enabled = os.environ.get("SMPFAST_PROGRESS", "") != "0" and bool(
                getattr(self.stream, "isatty", lambda: False)()
            )
        self.enabled = enabled
        self.unit_scale = unit_scale
        self.done = 0
        self.start = time.perf_counter()
        self._last = 0.0

    def update(self, n: int) -> None:
        """Record ``n`` more units of work done."""
        self.done += int(n)
        now = time.perf_counter()
        if self.enabled and (now - self._last > 0.1 or self.done >= self.total):
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        frac = self.done / self.total if self.total else 1.0
        width = 30
        filled = round(frac * width)
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        if self.unit_scale:
            rate_s = f"{rate / self.unit_scale:.2f} GB/s"
        else:
            rate_s = f"{rate:.3g}/s"
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta_s = f"{eta:.1f}s" if eta != float("inf") else "?"
        self.stream.write(
            f"\r{self.desc} [{'#' * filled}{'.' * (width - filled)}] {frac:6.1%} "
            f"{rate_s} eta {eta_s}   "
        )
        self.stream.flush()

    def close(self) -> None:
        """Finish the bar (newline on a terminal)."""
        if self.enabled:
            self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
