"""The SMP propagation model: per-block predictors of E[SMP] and its spread.

Two predictors share one set of per-block formulas (:mod:`smpfast.model.blocks`):

* *empirical-moments*: :func:`moments` reduces a block input to a fixed-size summary
  per channel (value, slope and curvature moments per time bin, neighbour and channel
  correlations, kink activity and sizes, peak statistics; see
  :mod:`smpfast.model.moments`); the block's predictor sees only that and the weights;
* *analytic*: :func:`smpfast.model.analytic.summaries` builds the same summaries from the
  input path distribution and the weights alone, propagating means and covariances of
  value and slope (Gaussian approximation after linear blocks) and the kink statistics.

:func:`validate` compares both with measurement for a network; ``smpfast experiment``
(:func:`smpfast.model.experiment.run_experiments`) reproduces experiments E1-E3.

Examples
--------
>>> import numpy as np
>>> from smpfast import nets, paths
>>> from smpfast import model
>>> x = paths.random_linear(256, (1, 1), 33, 0)              # (T, n, C, 1)
>>> p = model.predict(nets.ReLU(), model.moments(x), "run", (1, 1))
>>> y = np.maximum(x, 0.0)
>>> import smpfast
>>> bool(abs(p.overall_mean / smpfast.smp(y, mode="run").mean() - 1) < 0.1)
True
"""

from __future__ import annotations

from . import analytic
from .blocks import Prediction, predict
from .moments import MomentAccumulator, Summary, moments
from .validate import ValidationReport, measure_net, validate

__all__ = [
    "MomentAccumulator",
    "Prediction",
    "Summary",
    "ValidationReport",
    "analytic",
    "measure_net",
    "moments",
    "predict",
    "validate",
]
