"""Trained-model study: detection of piecewise-linear regressors trained on real data.

Data: scikit-learn's handwritten digits (1,797 images of 8x8), upsampled to 16x16 and
rotated by a random angle in [-45, 45] degrees (bilinear, ``scipy.ndimage.rotate``);
the regression target is the angle (in units of 45 degrees). Models: small CNNs
(conv 3x3 -> activation -> pooling, twice, then dense -> activation -> dense), trained
with Adam on CPU in seconds:

- piecewise linear: ``relu`` (ReLU + max pooling), ``leaky_relu`` (leaky ReLU + max
  pooling);
- smooth: ``tanh``, ``gelu``, ``softplus`` (average pooling).

Each trained model is fingerprinted along linear paths between held-out digits (64
paths by default), and the detector's score is collected; the ROC/AUC is computed over
the fingerprints (one per model) and over single paths (each path's own score).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .detect import detect
from .fingerprint import Fingerprint, fingerprint

__all__ = ["ACTIVATIONS", "PIECEWISE_LINEAR", "StudyResult", "auc", "digits_rotation",
           "roc_curve", "run_study", "train_regressor"]

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "gelu", "softplus")
PIECEWISE_LINEAR = frozenset({"relu", "leaky_relu"})


def digits_rotation(
    n: int | None = None, seed: int = 0, max_angle: float = 45.0
) -> tuple[np.ndarray, np.ndarray]:
    """Rotated digits and their angles (needs scikit-learn and SciPy).

    Returns
    -------
    x : numpy.ndarray of float32
        (n, 1, 16, 16) images scaled to [0, 1].
    y : numpy.ndarray of float32
        (n,) rotation angles divided by ``max_angle`` (in [-1, 1]).

    Examples
    --------
    >>> x, y = digits_rotation(4)  # doctest: +SKIP
    >>> x.shape, y.shape  # doctest: +SKIP
    ((4, 1, 16, 16), (4,))
    """
    try:
        from scipy import ndimage
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("the study needs scikit-learn and scipy: pip install scikit-learn "
                          "scipy") from None
    images = load_digits().images.astype(np.float64) / 16.0
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))
    if n is not None:
        order = order[:n]
    angles = rng.uniform(-max_angle, max_angle, len(order))
    out = np.empty((len(order), 1, 16, 16), dtype=np.float32)
    for k, (i, a) in enumerate(zip(order, angles, strict=True)):
        big = ndimage.zoom(images[i], 2, order=1)
        out[k, 0] = np.clip(ndimage.rotate(big, a, reshape=False, order=1), 0.0, 1.0)
    return out, (angles / max_angle).astype(np.float32)


def _model(activation: str) -> Any:
    from torch import nn

    acts: dict[str, Any] = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.1),
                            "tanh": nn.Tanh, "gelu": nn.GELU, "softplus": nn.Softplus}
    if activation not in acts:
        raise ValueError(f"activation must be one of {ACTIVATIONS}; got {activation!r}")
    act = acts[activation]
    pool: Any = nn.MaxPool2d if activation in PIECEWISE_LINEAR else nn.AvgPool2d
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), act(), pool(2),
        nn.Conv2d(8, 16, 3, padding=1), act(), pool(2),
        nn.Flatten(), nn.Linear(256, 32), act(), nn.Linear(32, 1),
    )


def train_regressor(
    activation: str, x: np.ndarray, y: np.ndarray, *, seed: int = 0, epochs: int = 12,
    batch_size: int = 64, lr: float = 3e-3,
) -> Any:
    """Train one CNN regressor (torch, CPU, float32); returns the module in eval mode.

    Examples
    --------
    >>> import numpy as np
    >>> m = train_regressor("relu", np.zeros((8, 1, 16, 16), np.float32),
    ...                     np.zeros(8, np.float32), epochs=1)  # doctest: +SKIP
    """
    import torch

    torch.manual_seed(seed)
    model = _model(activation)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)[:, None]
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=gen)
        for a in range(0, len(xt), batch_size):
            idx = perm[a:a + batch_size]
            opt.zero_grad()
            loss: Any = torch.mean((model(xt[idx]) - yt[idx]) ** 2)
            loss.backward()
            opt.step()
    return model.eval()


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted half).

    Examples
    --------
    >>> import numpy as np
    >>> auc(np.array([0.9, 0.8, 0.3, 0.1]), np.array([1, 1, 0, 0]))
    1.0
    """
    s = np.asarray(scores, dtype=np.float64)
    lab = np.asarray(labels).astype(bool)
    pos, neg = s[lab], s[~lab]
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("labels must hold both classes")
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def roc_curve(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates at every threshold (descending scores).

    Examples
    --------
    >>> import numpy as np
    >>> fpr, tpr = roc_curve(np.array([0.9, 0.1]), np.array([1, 0]))
    >>> fpr.tolist(), tpr.tolist()
    ([0.0, 0.0, 1.0], [0.0, 1.0, 1.0])
    """
    s = np.asarray(scores, dtype=np.float64)
    lab = np.asarray(labels).astype(bool)
    thr = np.unique(s)[::-1]
    tpr = [0.0] + [float((s[lab] >= t).mean()) for t in thr]
    fpr = [0.0] + [float((s[~lab] >= t).mean()) for t in thr]
    return np.asarray(fpr), np.asarray(tpr)


@dataclass
class StudyResult:
    """Rows (one per trained model) and the detection ROC/AUC."""

    rows: list[dict[str, Any]]
    auc_models: float
    auc_paths: float
    fingerprints: list[Fingerprint] = field(repr=False)
    path_scores: np.ndarray = field(repr=False)
    path_labels: np.ndarray = field(repr=False)

    def table(self) -> str:
        """The rows as a text table, with the AUCs."""
        head = (f"{'model':<12} {'seed':>4} {'val RMSE (deg)':>14} {'kink share':>10} "
                f"{'local/run':>9} {'exponent':>8} {'score':>7}  label")
        lines = [head, "-" * len(head)]
        for r in self.rows:
            lines.append(
                f"{r['activation']:<12} {r['seed']:>4} {r['rmse_deg']:>14.2f} "
                f"{r['kink_share']:>10.3f} {r['local_run_ratio']:>9.3f} "
                f"{r['local_exponent']:>8.3f} {r['score']:>7.4f}  {r['label']}"
            )
        lines.append(f"AUC over models: {self.auc_models:.4f}   AUC over single paths: "
                     f"{self.auc_paths:.4f}")
        return "\n".join(lines)


def run_study(
    *, activations: tuple[str, ...] = ACTIVATIONS, seeds: tuple[int, ...] = (0, 1),
    n_train: int = 1200, n_test: int = 200, epochs: int = 12, n_paths: int = 64,
    T: int = 32, progress: bool | None = True,
) -> StudyResult:
    """Train every (activation, seed) regressor, fingerprint it, and score detection.

    Examples
    --------
    >>> res = run_study(activations=("relu", "tanh"), seeds=(0,), n_train=64, n_test=16,
    ...                 epochs=1, n_paths=4, T=8, progress=False)  # doctest: +SKIP
    >>> sorted(r["label"] for r in res.rows)  # doctest: +SKIP
    ['piecewise-linear', 'smooth']
    """
    x, y = digits_rotation(n_train + n_test, seed=1234)
    xtr, ytr, xte, yte = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    rows: list[dict[str, Any]] = []
    fps: list[Fingerprint] = []
    pscores, plabels = [], []
    import torch

    for seed in seeds:
        for act in activations:
            t0 = time.perf_counter()
            model = train_regressor(act, xtr, ytr, seed=seed, epochs=epochs)
            with torch.no_grad():
                pred = model(torch.from_numpy(xte))[:, 0].numpy()
            rmse = float(np.sqrt(np.mean((pred - yte) ** 2)) * 45.0)
            fp = fingerprint(model, xte, n_paths=n_paths, T=T, seed=seed, progress=progress)
            det = detect(fp)
            fps.append(fp)
            pl = act in PIECEWISE_LINEAR
            pscores.append(det.path_scores)
            plabels.append(np.full(n_paths, int(pl)))
            rows.append({"activation": act, "seed": seed, "piecewise_linear": pl,
                         "rmse_deg": rmse, "score": det.score, "label": det.label,
                         **det.features, "seconds": time.perf_counter() - t0})
    labels = np.array([r["piecewise_linear"] for r in rows], dtype=int)
    scores = np.array([r["score"] for r in rows])
    ps, pl_arr = np.concatenate(pscores), np.concatenate(plabels)
    return StudyResult(rows=rows, auc_models=auc(scores, labels), auc_paths=auc(ps, pl_arr),
                       fingerprints=fps, path_scores=ps, path_labels=pl_arr)
