"""Calibration of the detector on synthetic families with known answers.

Run ``python -m smpfast.forensics.calibration --fit`` to refit the coefficients stored in
:mod:`smpfast.forensics.detect`.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .fingerprint import FEATURES, fingerprint

__all__ = ["calibrate", "fit_logistic", "synthetic_family", "synthetic_features"]



def _softplus(beta: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda z: np.logaddexp(0.0, beta * z) / beta


def _activation(rng: np.random.Generator, piecewise_linear: bool) -> tuple[str, Any]:
    if piecewise_linear:
        kind = str(rng.choice(["relu", "leaky", "prelu", "abs", "hardtanh", "maxout"]))
        if kind == "relu":
            return kind, lambda z: np.maximum(z, 0.0)
        if kind == "leaky":
            a = rng.uniform(0.01, 0.3)
            return kind, lambda z: np.where(z > 0, z, a * z)
        if kind == "prelu":
            a = rng.uniform(-0.25, 0.5)
            return kind, lambda z: np.where(z > 0, z, a * z)
        if kind == "abs":
            return kind, np.abs
        if kind == "hardtanh":
            return kind, lambda z: np.clip(z, -1.0, 1.0)
        return kind, "maxout"
    kind = str(rng.choice(["tanh", "sigmoid", "softplus", "gelu", "elu", "silu", "sin"]))
    if kind == "tanh":
        return kind, np.tanh
    if kind == "sigmoid":
        return kind, lambda z: 1.0 / (1.0 + np.exp(-z))
    if kind == "softplus":
        return kind, _softplus(float(rng.uniform(0.5, 4.0)))
    if kind == "gelu":
        return kind, lambda z: 0.5 * z * (1.0 + np.tanh(0.7978845608 * (z + 0.044715 * z**3)))
    if kind == "elu":
        return kind, lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0)))
    if kind == "silu":
        return kind, lambda z: z / (1.0 + np.exp(-z))
    return kind, np.sin


def synthetic_family(
    rng: np.random.Generator, piecewise_linear: bool
) -> tuple[str, Callable[[np.ndarray], np.ndarray], np.ndarray, np.dtype[Any]]:
    """One random MLP of a known class, its inputs and its evaluation dtype.

    Returns
    -------
    name : str
    fn : callable
        (N, 1, a, b) -> (N, k) NumPy function.
    inputs : numpy.ndarray
        (32, 1, a, b) inputs to build paths around (small images, so that the curved
        ``"shift"`` paths apply; ``fn`` flattens them).
    dtype : numpy dtype
        float64 or float32 (then ``fn`` computes in float32: rounding noise included).

    Examples
    --------
    >>> import numpy as np
    >>> name, fn, x, dt = synthetic_family(np.random.default_rng(0), True)
    >>> fn(x.astype(dt)).shape[0]
    32
    """
    side = (int(rng.integers(3, 5)), int(rng.integers(3, 5)))  # (1, a, b) images
    d_in = side[0] * side[1]
    dense = rng.random() < 0.4  # wide and deep: many kinks per path, runs of merged kinks
    width = int(rng.integers(64, 257)) if dense else int(rng.integers(4, 65))
    depth = int(rng.integers(2, 5)) if dense else int(rng.integers(1, 4))
    d_out = int(rng.integers(1, 6))
    scale = float(rng.uniform(0.5, 3.0))
    dtype = np.dtype(np.float32 if rng.random() < 0.35 else np.float64)
    kind, act = _activation(rng, piecewise_linear)
    maxout = isinstance(act, str)
    mult = 2 if maxout else 1
    ws, bs = [], []
    fan = d_in
    for _ in range(depth):
        ws.append((rng.standard_normal((fan, width * mult)) * scale / math.sqrt(fan)).astype(dtype))
        bs.append((0.3 * rng.standard_normal(width * mult)).astype(dtype))
        fan = width
    w_out = (rng.standard_normal((fan, d_out)) / math.sqrt(fan)).astype(dtype)
    inputs = rng.standard_normal((32, 1, *side))

    def fn(x: np.ndarray) -> np.ndarray:
        h = np.asarray(x, dtype=dtype).reshape(len(x), -1)
        for w, b in zip(ws, bs, strict=True):
            z = h @ w + b
            if maxout:
                h = np.maximum(z[:, :width], z[:, width:])
            else:
                h = np.asarray(act(z), dtype=dtype)
        return np.asarray(h @ w_out, dtype=dtype)

    name = f"{kind}-d{depth}-w{width}-s{scale:.1f}-{dtype}"
    return name, fn, inputs, dtype


def synthetic_features(n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Pooled features and labels (1 = piecewise linear) of random synthetic fingerprints.

    Examples
    --------
    >>> x, y = synthetic_features(2, seed=0)
    >>> x.shape, y.tolist()
    ((4, 3), [1, 0, 1, 0])
    """
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for _ in range(n_per_class):
        for pl in (True, False):
            _, fn, inputs, dtype = synthetic_family(rng, pl)
            fp = fingerprint(
                fn, inputs, n_paths=int(rng.choice([8, 16, 32, 64])),
                T=int(rng.choice([32, 64])),
                path=str(rng.choice(["linear", "gaussian", "brightness", "shift"])),
                seed=int(rng.integers(2**31)), progress=False, dtype=dtype,
                radius=float(rng.uniform(0.25, 3.0)), n_examples=0,
            )
            rows.append([fp.features[k] for k in FEATURES])
            labels.append(int(pl))
    return np.asarray(rows), np.asarray(labels)


def fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float = 1e-3, iterations: int = 100
) -> tuple[np.ndarray, float]:
    """L2-penalised logistic regression by Newton's method (intercept unpenalised).

    Examples
    --------
    >>> import numpy as np
    >>> w, b = fit_logistic(np.array([[0.0], [1.0], [0.2], [0.9]]), np.array([0, 1, 0, 1]))
    >>> bool(w[0] > 0)
    True
    """
    n, k = x.shape
    a = np.hstack([x, np.ones((n, 1))])
    beta = np.zeros(k + 1)
    pen = np.full(k + 1, l2 * n)
    pen[-1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ beta, -700, 700)))
        grad = a.T @ (p - y) + pen * beta
        hess = (a * (p * (1 - p))[:, None]).T @ a + np.diag(pen) + 1e-9 * np.eye(k + 1)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta[:-1], float(beta[-1])


def calibrate(n_per_class: int = 150, seed: int = 12345, l2: float = 1e-4
              ) -> tuple[tuple[float, ...], float]:
    """Fit the detector's coefficients on synthetic families (see the module docstring).

    Returns
    -------
    coef : tuple of float
    intercept : float

    Examples
    --------
    >>> coef, b = calibrate(n_per_class=4, seed=1)
    >>> len(coef)
    3
    """
    x, y = synthetic_features(n_per_class, seed)
    w, b = fit_logistic(x, y, l2=l2)
    return tuple(float(v) for v in w), b


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or '').splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="refit and print COEF/INTERCEPT")
    parser.add_argument("--n", type=int, default=150, help="fingerprints per class")
    parser.add_argument("--l2", type=float, default=1e-4, help="L2 penalty per sample")
    parser.add_argument("--seed", type=int, default=12345)
    args = parser.parse_args(argv)
    if not args.fit:
        parser.print_help()
        return 0
    coef, b = calibrate(args.n, args.seed, args.l2)
    print(f"COEF = {tuple(round(c, 4) for c in coef)}")
    print(f"INTERCEPT = {b:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
