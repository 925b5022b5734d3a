"""Nonsmoothness forensics: fingerprint a black-box regressor, detect piecewise linearity.

A network built from ReLU-like activations and max pooling is piecewise linear: along a
smooth input path its outputs have sharp kinks. :func:`fingerprint` measures SMP
statistics of a function's outputs along smooth paths around given inputs,
:func:`detect` turns a fingerprint into a calibrated probability that the function is
piecewise linear, :func:`compare` tests whether two fingerprints come from the same
function, and :func:`layer_profile` shows where along a network nonsmoothness is born.
Importing this package imports neither torch nor matplotlib.

Examples
--------
>>> import numpy as np
>>> from smpfast import forensics
>>> x = np.random.default_rng(0).standard_normal((16, 4))
>>> w = np.random.default_rng(1).standard_normal((4, 8))
>>> fp = forensics.fingerprint(lambda b: np.maximum(b @ w, 0), x, n_paths=16,
...                            progress=False)
>>> forensics.detect(fp).label
'piecewise-linear'
"""

from __future__ import annotations

from .compare import Comparison, compare
from .detect import Detection, detect
from .fingerprint import FEATURES, Fingerprint, fingerprint
from .layers import LayerProfile, layer_profile

__all__ = [
    "FEATURES",
    "Comparison",
    "Detection",
    "Fingerprint",
    "LayerProfile",
    "compare",
    "detect",
    "fingerprint",
    "layer_profile",
]
