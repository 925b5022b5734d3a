"""Two-sample test between two fingerprints (a suspect deployment against a reference).

The per-path statistics compared are the detector features
(:data:`smpfast.forensics.FEATURES`) and ``log(1 + run-mode SMP)`` summed over outputs.
The test statistic is the largest absolute standardised mean difference over those
statistics; its null distribution comes from permutations, so the p-value is exact up
to Monte Carlo error and needs no SciPy. When both fingerprints were taken on the same
paths (same inputs, seed, path kind, ``T`` and number of paths) the test is *paired*:
per-path differences with random sign flips; otherwise the path labels are permuted.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np

from .fingerprint import FEATURES, Fingerprint

__all__ = ["STATISTICS", "Comparison", "compare"]

STATISTICS = (*FEATURES, "log_run_smp")


@dataclass(frozen=True)
class Comparison:
    """Result of :func:`compare`.

    Attributes
    ----------
    statistic : float
        Largest absolute standardised mean difference over :data:`STATISTICS`.
    pvalue : float
        Permutation p-value, ``(1 + #{T* >= T}) / (1 + n_permutations)``.
    paired : bool
        Whether the fingerprints shared their paths (sign-flip test) or not.
    differences : dict of str to float
        Standardised mean difference (a - b) of each statistic.
    n_permutations : int
    """

    statistic: float
    pvalue: float
    paired: bool
    differences: dict[str, float]
    n_permutations: int


def _stats(fp: Fingerprint) -> np.ndarray:
    cols = [np.asarray(fp.per_path[f], dtype=np.float64) for f in FEATURES]
    cols.append(np.log1p(np.asarray(fp.per_path["run_smp"], dtype=np.float64)))
    return np.stack(cols, axis=1)


def _same_paths(a: Fingerprint, b: Fingerprint) -> bool:
    return (a.inputs_digest, a.seed, a.path, a.T, a.n_paths, a.resolutions) == (
        b.inputs_digest, b.seed, b.path, b.T, b.n_paths, b.resolutions)


def compare(
    fp_a: Fingerprint, fp_b: Fingerprint, *, n_permutations: int = 9999, seed: int = 0,
    paired: bool | None = None,
) -> Comparison:
    """Permutation test of "the two fingerprints come from the same function".

    Parameters
    ----------
    fp_a, fp_b : Fingerprint
    n_permutations : int, default 9999
    seed : int, default 0
        Seeds the permutations.
    paired : bool, optional
        Force the paired (sign-flip) or unpaired test; default: paired exactly when the
        fingerprints share their paths.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import forensics
    >>> x = np.random.default_rng(0).standard_normal((16, 3))
    >>> a = forensics.fingerprint(np.abs, x, n_paths=16, progress=False)
    >>> b = forensics.fingerprint(np.tanh, x, n_paths=16, progress=False)
    >>> forensics.compare(a, b, n_permutations=999).pvalue < 0.01
    True
    """
    for name, fp in (("fp_a", fp_a), ("fp_b", fp_b)):
        if not isinstance(fp, Fingerprint):
            raise TypeError(f"{name} must be a Fingerprint, got {type(fp).__name__}")
    n_perm = operator.index(n_permutations)
    if n_perm < 1:
        raise ValueError(f"n_permutations must be >= 1; got {n_perm}")
    same = _same_paths(fp_a, fp_b)
    if paired is None:
        paired = same
    elif paired and not same:
        raise ValueError(
            "paired=True needs fingerprints of the same paths (same inputs, seed, path, T, "
            "n_paths and resolutions)"
        )
    xa, xb = _stats(fp_a), _stats(fp_b)
    rng = np.random.default_rng(seed)
    if paired:
        diff = xa - xb
        scale = diff.std(axis=0, ddof=1) if len(diff) > 1 else np.zeros(diff.shape[1])
        scale = np.where(scale > 0, scale, 1.0) / np.sqrt(len(diff))
        observed = diff.mean(axis=0) / scale
        signs = rng.choice([-1.0, 1.0], size=(n_perm, len(diff)))
        null = np.abs((signs @ diff) / len(diff) / scale).max(axis=1)
    else:
        pooled = np.vstack([xa, xb])
        na = len(xa)
        scale = pooled.std(axis=0, ddof=1) if len(pooled) > 1 else np.zeros(pooled.shape[1])
        scale = np.where(scale > 0, scale, 1.0) * np.sqrt(1.0 / na + 1.0 / len(xb))
        observed = (xa.mean(axis=0) - xb.mean(axis=0)) / scale
        null = np.empty(n_perm)
        for i in range(n_perm):
            perm = rng.permutation(len(pooled))
            a, b = pooled[perm[:na]], pooled[perm[na:]]
            null[i] = np.abs((a.mean(axis=0) - b.mean(axis=0)) / scale).max()
    stat = float(np.abs(observed).max())
    pvalue = float((1 + np.count_nonzero(null >= stat - 1e-12)) / (1 + n_perm))
    return Comparison(
        statistic=stat, pvalue=pvalue, paired=bool(paired),
        differences={k: float(v) for k, v in zip(STATISTICS, observed, strict=True)},
        n_permutations=n_perm,
    )
