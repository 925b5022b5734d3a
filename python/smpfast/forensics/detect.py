"""Is a fingerprinted function piecewise linear? A calibrated logistic detector.

The detector is a logistic regression on three scale-free features of a fingerprint
(:data:`smpfast.forensics.FEATURES`), pooled over its paths:

``kink_share``
    Share of the run-mode SMP (finest resolution) that is *sharp excess*: second
    differences standing above their neighbours two samples away (see
    :mod:`smpfast.forensics._analysis`): near 1 for piecewise-linear functions (lower
    when kinks ride on curvature or crowd within two samples), about 0 for smooth ones.
``local_run_ratio``
    Local-mode over run-mode SMP at the finest resolution: about 3/4 for kinks, of order
    ``1/T`` for smooth curvature.
``local_exponent``
    Log-log slope of local-mode SMP (per unit path parameter) against resolution: about
    0 for kinks, -1 for smooth curvature (rounding noise pushes it up, which is why the
    kink share carries most of the weight).

Its coefficients (:data:`COEF`) were fitted by
:func:`smpfast.forensics.calibration.calibrate` on synthetic families
with known answers (random MLPs with ReLU, leaky ReLU, PReLU, abs, hard-tanh and maxout
units against tanh, sigmoid, softplus, GELU, ELU, SiLU and sine units; float64 and
float32 evaluation; 8 to 64 paths; three path kinds) with::

    python -m smpfast.forensics.calibration --fit --n 150 --seed 12345 --l2 1e-4

(300 fingerprints, about 5 minutes on 2 busy cores; 40% of the families are wide and
deep, with many kinks per path, so that runs of merged kinks are represented; a quarter
of the fingerprints use the curved ``"shift"`` paths, on which kinks ride on smooth
curvature). The L2 penalty was chosen by the log-loss on 200 fresh fingerprints (seed
777): 1e-2, 1e-3, 1e-4, 1e-5 gave 0.158, 0.072, 0.050, 0.060 (7, 4, 2, 2 errors).

The detector reads the function *at the sampling scale of the paths*: a smooth
function whose curvature is concentrated within less than one sample of the finest
grid (a softplus with a very large beta, saturated attention) looks kinked, and rounding
noise (float32 evaluation) raises the local exponent; raise ``T`` or shorten the paths.

``tests/test_forensics.py`` checks calibration on fresh families and refits a small set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fingerprint import FEATURES, Fingerprint

__all__ = ["COEF", "INTERCEPT", "LABELS", "Detection", "detect", "score_features"]

#: Logistic coefficients for :data:`smpfast.forensics.FEATURES` (fitted by ``--fit``).
COEF = (14.9465, 9.5175, 1.452)
#: Logistic intercept.
INTERCEPT = -7.6938

LABELS = ("smooth", "piecewise-linear")


@dataclass(frozen=True)
class Detection:
    """Result of :func:`detect`.

    Attributes
    ----------
    label : {"piecewise-linear", "smooth"}
    score : float
        Calibrated probability that the function is piecewise linear.
    features : dict of str to float
        The pooled features the score was computed from.
    path_scores : numpy.ndarray
        The same logistic model applied to each path's own features (noisier; for ROC
        curves over single paths).
    """

    label: str
    score: float
    features: dict[str, float]
    path_scores: np.ndarray


def score_features(
    x: np.ndarray, coef: tuple[float, ...] = COEF, intercept: float = INTERCEPT
) -> np.ndarray:
    """Probability of piecewise linearity for feature rows ``x`` (..., len(FEATURES)).

    Examples
    --------
    >>> import numpy as np
    >>> float(score_features(np.array([1.0, 0.75, 0.0]))) > 0.99
    True
    """
    z = np.asarray(x, dtype=np.float64) @ np.asarray(coef) + intercept
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -700.0, 700.0))))


def detect(fp: Fingerprint) -> Detection:
    """Classify a fingerprint as ``"piecewise-linear"`` or ``"smooth"``.

    Parameters
    ----------
    fp : Fingerprint

    Returns
    -------
    Detection

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import forensics
    >>> x = np.random.default_rng(0).standard_normal((8, 3))
    >>> fp = forensics.fingerprint(np.tanh, x, n_paths=8, progress=False)
    >>> d = forensics.detect(fp)
    >>> d.label, d.score < 0.05
    ('smooth', True)
    """
    if not isinstance(fp, Fingerprint):
        raise TypeError(f"fp must be a Fingerprint, got {type(fp).__name__}")
    f = np.array([fp.features[k] for k in FEATURES])
    score = float(score_features(f))
    return Detection(
        label=LABELS[int(score >= 0.5)], score=score, features=dict(fp.features),
        path_scores=score_features(fp.feature_matrix()),
    )
