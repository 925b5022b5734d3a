"""The discrete sample grid of a path: time bins and the finite-sampling windows.

A path has T samples, t = 0 .. T-1, and tau = t / (T - 1). The second difference d[t]
exists for t = 1 .. T-2. Summaries and predictions are kept per *time bin*: K equal bins
of tau. A kink in the sample interval (n, n+1) at sub-sample position a (uniform) puts
a*D on d[n] and (1-a)*D on d[n+1]; the *window* of an interval is the expected fraction
of D that SMP sees, for each peak mode:

- run mode: 1 inside, 1/2 for the first and last interval (only one of the two samples
  exists); the second moment of the fraction is 1 inside and 1/3 there;
- local mode: a peak is the larger of the two samples, max(a, 1-a) (mean 3/4, second
  moment 7/12), and never at d's first or last sample (``scipy.signal.find_peaks`` never
  reports edges): each half counts 3/8 (second moment 7/24) when its sample t is in
  2 .. T-3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def sample_bins(T: int, K: int) -> np.ndarray:
    """Time bin of every sample t = 1 .. T-2 (where d exists), shape (T - 2,)."""
    t = np.arange(1, T - 1)
    return np.minimum((t * K) // max(T - 1, 1), K - 1).astype(np.intp)


@dataclass(frozen=True)
class Windows:
    """Per-bin sums of the finite-sampling windows of the sample intervals (shape (K,)).

    ``run``/``loc`` are the expected seen fraction of a kink summed over the intervals of
    the bin, ``run2``/``loc2`` the summed second moments, ``samples`` the number of
    samples t with d defined, and ``intervals`` the number of intervals.
    """

    run: np.ndarray
    run2: np.ndarray
    loc: np.ndarray
    loc2: np.ndarray
    samples: np.ndarray
    intervals: np.ndarray

    def pick(self, mode: str, second: bool = False) -> np.ndarray:
        """The window sum for ``mode`` ("run" or "local"), first or second moment."""
        if mode == "run":
            return self.run2 if second else self.run
        return self.loc2 if second else self.loc


def windows(T: int, K: int) -> Windows:
    """Windows of a path of T samples in K time bins.

    Examples
    --------
    >>> w = windows(10, 1)
    >>> float(w.run[0]), float(w.loc[0])   # T - 2 and 3/4 (T - 4)
    (8.0, 4.5)
    """
    n = np.arange(T - 1)
    # an interval's statistics are those of its two samples (clipped to 1 .. T-2)
    sb = sample_bins(T, K)
    b_left = sb[np.clip(n, 1, T - 2) - 1]
    b_right = sb[np.clip(n + 1, 1, T - 2) - 1]
    end = (n == 0) | (n == T - 2)
    w_run = np.where(end, 0.5, 1.0)
    w_run2 = np.where(end, 1.0 / 3.0, 1.0)
    left_ok = (n >= 2) & (n <= T - 3)
    right_ok = (n + 1 >= 2) & (n + 1 <= T - 3)
    w_loc = 0.375 * left_ok + 0.375 * right_ok
    w_loc2 = (7.0 / 24.0) * left_ok + (7.0 / 24.0) * right_ok
    samples = np.bincount(sb, minlength=K).astype(np.float64)

    def per_bin(w: np.ndarray) -> np.ndarray:
        return 0.5 * (
            np.bincount(b_left, weights=w, minlength=K)
            + np.bincount(b_right, weights=w, minlength=K)
        )

    return Windows(
        run=per_bin(w_run), run2=per_bin(w_run2), loc=per_bin(w_loc), loc2=per_bin(w_loc2),
        samples=samples, intervals=per_bin(np.ones(T - 1)),
    )
