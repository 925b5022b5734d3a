"""Random configurations of the ``smpfast.nn`` blocks, shared by the nn test modules.

A :class:`Case` holds a block's array arguments (C-contiguous) and its keyword
parameters, spelled as in ``torch.nn.functional`` so that the same case runs through
``smpfast.nn`` and PyTorch. :func:`make_case` draws one, seeded by the caller's
generator; :func:`check` compares a result with the expected one under the block's
tolerance rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from smpfast import nn
from smpfast._validate_nn import pool_output_size

BLOCKS = (
    "conv1d",
    "conv2d",
    "max_pool1d",
    "max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "relu",
    "leaky_relu",
    "prelu",
    "tanh",
    "sigmoid",
    "softplus",
    "gelu",
    "linear",
    "batch_norm",
)

#: Blocks whose results every backend must reproduce exactly (values, and indices).
EXACT = frozenset({"relu", "leaky_relu", "prelu", "max_pool1d", "max_pool2d"})

#: Relative tolerance per dtype (relative to the magnitude of the terms, see ``scale``).
RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}


def require_nn(backend: str) -> str:
    """Skip when ``backend`` has no nn kernels here (``smpfast._cpp_nn`` not built yet)."""
    if backend not in nn.available_backends():
        pytest.skip(f"backend {backend!r} has no nn kernels: {nn.unavailable_reason(backend)}")
    return backend


@dataclass
class Case:
    block: str
    arrays: list[np.ndarray | None]
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def dtype(self) -> np.dtype[Any]:
        x = self.arrays[0]
        assert x is not None
        return x.dtype

    def __str__(self) -> str:
        shapes = [None if a is None else (a.shape, str(a.dtype)) for a in self.arrays]
        return f"{self.block}{shapes} {self.params}"


# --------------------------------------------------------------------------- values
def values(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    dtype: Any,
    *,
    ties: bool = False,
    special: float = 0.0,
    wide: bool = False,
) -> np.ndarray:
    """Random values: normal at a random scale, small integers (``ties``), a fraction
    ``special`` replaced by NaN, +-inf and +-0, and (``wide``) some large magnitudes."""
    if ties:
        a = np.asarray(rng.integers(-3, 4, size=shape), dtype=np.float64)
    else:
        a = np.asarray(rng.standard_normal(shape) * 10.0 ** rng.uniform(-1, 1))
    if wide and a.size:
        where = rng.random(shape) < 0.2
        a[where] = rng.choice([-1.0, 1.0], size=where.sum()) * 10.0 ** rng.uniform(
            0.5, 3, size=where.sum()
        )
    if special and a.size:
        where = rng.random(shape) < special
        a[where] = rng.choice([np.nan, np.inf, -np.inf, 0.0, -0.0], size=where.sum())
    return np.asarray(a, dtype=dtype)


def _dtype(rng: np.random.Generator) -> type:
    return np.float64 if rng.random() < 0.5 else np.float32


def _spatial(rng: np.random.Generator, v: np.ndarray) -> Any:
    """A per-dimension parameter as an int (when all equal, sometimes) or a tuple."""
    v = [int(e) for e in v]
    if len(set(v)) == 1 and rng.random() < 0.6:
        return v[0]
    return tuple(v)


# --------------------------------------------------------------------------- cases
def conv_case(rng: np.random.Generator, dims: int) -> Case:
    dtype = _dtype(rng)
    groups = int(rng.choice([1, 1, 2, 3]))
    cg, og = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    k = rng.integers(1, 5, size=dims)
    dil = np.where(rng.random(dims) < 0.6, 1, rng.integers(1, 4, size=dims))
    stride = np.where(rng.random(dims) < 0.4, 1, rng.integers(1, 4, size=dims))
    u = rng.random()
    padding: Any
    if u < 0.15:
        padding, pad = "same", np.zeros(dims, dtype=int)
        stride[:] = 1
    elif u < 0.25:
        padding, pad = "valid", np.zeros(dims, dtype=int)
    else:
        pad = rng.integers(0, 4, size=dims)
        padding = _spatial(rng, pad)
    eff = dil * (k - 1) + 1
    size = [
        int(rng.integers(max(1, e - 2 * p), max(1, e - 2 * p) + 7))
        for e, p in zip(eff, pad, strict=True)
    ]
    batch = () if rng.random() < 0.15 else (int(rng.integers(1, 4)),)
    x = values(rng, (*batch, groups * cg, *size), dtype)
    w = values(rng, (groups * og, cg, *(int(e) for e in k)), dtype)
    b = values(rng, (groups * og,), dtype) if rng.random() < 0.7 else None
    params = {
        "stride": _spatial(rng, stride),
        "padding": padding,
        "dilation": _spatial(rng, dil),
        "groups": groups,
    }
    return Case(f"conv{dims}d", [x, w, b], params)


def pool_case(rng: np.random.Generator, dims: int, kind: str) -> Case:
    dtype = _dtype(rng)
    while True:
        k = rng.integers(1, 5, size=dims)
        stride = None if rng.random() < 0.25 else rng.integers(1, 4, size=dims)
        pad = np.array([rng.integers(0, e // 2 + 1) for e in k])
        dil = (
            np.where(rng.random(dims) < 0.5, 1, rng.integers(1, 4, size=dims))
            if kind == "max"
            else np.ones(dims, dtype=int)
        )
        ceil = bool(rng.random() < 0.5)
        size = rng.integers(1, 13, size=dims)
        st = k if stride is None else stride
        if all(
            pool_output_size(int(s), int(kk), int(t), int(p), int(d), ceil) >= 1
            for s, kk, t, p, d in zip(size, k, st, pad, dil, strict=True)
        ):
            break
    batch = () if rng.random() < 0.15 else (int(rng.integers(1, 4)),)
    shape = (*batch, int(rng.integers(1, 4)), *(int(s) for s in size))
    ties = kind == "max" and rng.random() < 0.4
    special = 0.1 if kind == "max" and rng.random() < 0.3 else 0.0
    x = values(rng, shape, dtype, ties=ties, special=special)
    if kind == "max" and special and rng.random() < 0.5:
        x[...] = -np.inf  # windows of -inf only: the index of the first tap
        x.flat[rng.integers(0, x.size, size=2)] = np.nan
    params: dict[str, Any] = {
        "kernel_size": _spatial(rng, k),
        "stride": None if stride is None else _spatial(rng, stride),
        "padding": _spatial(rng, pad),
        "ceil_mode": ceil,
    }
    if kind == "max":
        params["dilation"] = _spatial(rng, dil)
        params["return_indices"] = bool(rng.random() < 0.7)
    else:
        params["count_include_pad"] = bool(rng.random() < 0.5)
    return Case(f"{kind}_pool{dims}d", [x], params)


def _shape(rng: np.random.Generator, min_ndim: int = 0) -> tuple[int, ...]:
    ndim = int(rng.integers(min_ndim, 5))
    return tuple(int(rng.integers(1, 6)) for _ in range(ndim))


def elementwise_case(rng: np.random.Generator, block: str) -> Case:
    dtype = _dtype(rng)
    special = 0.1 if rng.random() < 0.3 else 0.0
    if block == "prelu":
        x = values(rng, _shape(rng, 1), dtype, special=special)
        channels = x.shape[1] if x.ndim >= 2 else 1
        u = rng.random()
        w_shape: tuple[int, ...] = () if u < 0.1 else (1,) if u < 0.3 else (channels,)
        return Case(block, [x, values(rng, w_shape, dtype)])
    x = values(rng, _shape(rng), dtype, special=special, wide=block != "relu")
    params: dict[str, Any] = {}
    if block == "leaky_relu":
        params["negative_slope"] = float(rng.choice([0.01, 0.2, 0.0, -0.5, 1.5]))
    elif block == "softplus":
        params["beta"] = float(rng.choice([1.0, 0.5, 2.0, 3.7]))
        params["threshold"] = float(rng.choice([20.0, 5.0, 1.0]))
    elif block == "gelu":
        params["approximate"] = str(rng.choice(["none", "none", "tanh"]))
    return Case(block, [x], params)


def linear_case(rng: np.random.Generator) -> Case:
    dtype = _dtype(rng)
    lead = tuple(int(rng.integers(1, 5)) for _ in range(int(rng.integers(0, 3))))
    k, o = int(rng.integers(1, 7)), int(rng.integers(1, 6))
    x = values(rng, (*lead, k), dtype)
    if rng.random() < 0.1:
        w = values(rng, (k,), dtype)
        # (PyTorch 2.13 fails on 2-D x with a 1-D weight and a bias: "mat2 must be a matrix")
        b = values(rng, (), dtype) if rng.random() < 0.5 and x.ndim != 2 else None
    else:
        w = values(rng, (o, k), dtype)
        b = values(rng, (o,), dtype) if rng.random() < 0.7 else None
    return Case("linear", [x, w, b])


def batch_norm_case(rng: np.random.Generator) -> Case:
    dtype = _dtype(rng)
    c = int(rng.integers(1, 5))
    extra = tuple(int(rng.integers(1, 5)) for _ in range(int(rng.integers(0, 3))))
    x = values(rng, (int(rng.integers(1, 4)), c, *extra), dtype)
    mean = values(rng, (c,), dtype)
    var = (rng.random(c) * 3 + 0.05).astype(dtype)
    w = values(rng, (c,), dtype) if rng.random() < 0.7 else None
    b = values(rng, (c,), dtype) if rng.random() < 0.7 else None
    return Case("batch_norm", [x, mean, var, w, b], {"eps": float(rng.choice([1e-5, 0.0, 1e-3]))})


def make_case(block: str, rng: np.random.Generator) -> Case:
    """One random configuration of ``block``."""
    if block.startswith("conv"):
        return conv_case(rng, int(block[4]))
    if "pool" in block:
        return pool_case(rng, int(block[-2]), block.split("_")[0])
    if block == "linear":
        return linear_case(rng)
    if block == "batch_norm":
        return batch_norm_case(rng)
    return elementwise_case(rng, block)


# --------------------------------------------------------------------------- running
def run(case: Case, backend: str, arrays: list[np.ndarray | None] | None = None) -> Any:
    """``smpfast.nn.<block>`` on the case (or on ``arrays`` in its place)."""
    return getattr(nn, case.block)(*(case.arrays if arrays is None else arrays), **case.params,
                                   backend=backend)  # fmt: skip


def scale(case: Case) -> np.ndarray | None:
    """Magnitude of the terms of each output element, in float64 (None: exact blocks).

    Convolution, pooling, linear: the block applied to ``|x|``, ``|w|``, ``|b|``;
    batch norm: ``|x alpha| + |mean alpha| + |bias|``; GELU: ``|x|``; others: the
    result's own magnitude.
    """
    if case.block in EXACT:
        return None
    absolute = [None if a is None else np.abs(a.astype(np.float64)) for a in case.arrays]
    params = dict(case.params)
    if case.block in ("conv1d", "conv2d", "linear", "avg_pool1d", "avg_pool2d"):
        return np.asarray(getattr(nn, case.block)(*absolute, **params, backend="numpy"))
    x = absolute[0]
    assert x is not None
    if case.block == "batch_norm":
        _, mean, var, w, b = (None if a is None else a.astype(np.float64) for a in case.arrays)
        alpha = (1.0 if w is None else np.abs(w)) / np.sqrt(var + params["eps"])
        shape = (1, -1) + (1,) * (x.ndim - 2)
        bias = 0.0 if b is None else np.abs(b).reshape(shape)
        return x * alpha.reshape(shape) + np.abs(mean * alpha).reshape(shape) + bias
    if case.block == "gelu":
        return x
    return np.abs(np.asarray(run(case, "numpy"), dtype=np.float64))


def check(got: Any, want: Any, case: Case, terms: np.ndarray | None, what: str = "") -> None:
    """``got`` equals ``want`` (exact blocks) or is within RTOL of ``terms`` of it."""
    context = f"{what}: {case}"
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), context
        check(got[0], want[0], case, terms, what)
        assert got[1].dtype == np.int64, context
        np.testing.assert_array_equal(got[1], want[1], err_msg=f"indices {context}")
        return
    assert isinstance(got, np.ndarray), context
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape} {context}"
    assert got.dtype == want.dtype, f"dtype {got.dtype} != {want.dtype} {context}"
    if terms is None:  # exact, down to the sign of zero
        np.testing.assert_array_equal(got, want, err_msg=context)
        np.testing.assert_array_equal(
            np.signbit(got) & ~np.isnan(got),
            np.signbit(want) & ~np.isnan(want),
            err_msg=f"sign {context}",
        )
        return
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"NaN {context}")
    g, w = got.astype(np.float64), want.astype(np.float64)
    same = (g == w) | np.isnan(w)
    with np.errstate(invalid="ignore"):  # inf - inf where both are inf: masked by `same`
        err = np.where(same, 0.0, np.abs(g - w))
    bound = RTOL[got.dtype] * np.where(np.isfinite(terms), terms, 0.0)
    bound += 4 * float(np.finfo(got.dtype).tiny)
    bad = err > bound
    if bad.any():
        i = int(np.argmax(bad.ravel()))
        raise AssertionError(
            f"{bad.sum()} of {bad.size} elements off, first at flat {i}: got "
            f"{g.ravel()[i]!r}, want {w.ravel()[i]!r}, terms {terms.ravel()[i]!r} {context}"
        )


# --------------------------------------------------------------------------- layouts
LAYOUTS = ("C", "F", "step", "reversed", "permuted", "broadcast")


def relayout(rng: np.random.Generator, a: np.ndarray, kind: str) -> np.ndarray:
    """``a``'s values in a different memory layout.

    Equal to ``a`` elementwise, except ``"broadcast"``, which repeats ``a[:1]`` along
    axis 0 with stride 0 (a read-only view).
    """
    if a.ndim == 0 or kind == "C":
        return a
    if kind == "F":
        return np.asfortranarray(a)
    if kind == "step":  # every other element of a larger buffer, along every axis
        big = np.zeros(tuple(2 * s + 1 for s in a.shape), dtype=a.dtype)
        view = big[tuple(slice(1, None, 2) for _ in a.shape)]
        view[...] = a
        return view
    if kind == "reversed":  # negative strides along random axes
        axes = [i for i in range(a.ndim) if rng.random() < 0.6] or [a.ndim - 1]
        flip = tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(a.ndim))
        return np.ascontiguousarray(a[flip])[flip]
    if kind == "permuted":  # memory order of a random axis permutation
        perm = rng.permutation(a.ndim)
        return np.ascontiguousarray(a.transpose(perm)).transpose(np.argsort(perm))
    if kind == "broadcast":  # zero strides where an axis is constant (read-only view)
        if a.shape[0] > 1:
            a = np.broadcast_to(a[:1], a.shape)
        return np.broadcast_to(a, a.shape)
    raise ValueError(kind)
