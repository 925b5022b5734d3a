"""Argument checks shared by every public function (one place for user-facing errors).

Backends receive arrays and options that went through here: a real floating dtype
(float32 or float64), the path axis moved last, and checked scalar options. They never
raise user-facing errors themselves.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np
from numpy.exceptions import AxisError

MODES = ("local", "run")
NAN_POLICIES = ("propagate", "raise", "omit")

#: Default relative noise floor, in units of the input dtype's machine epsilon.
#: A second difference ``d[t]`` counts as zero when
#: ``|d[t]| < tol * (|y[t-1]| + 2|y[t]| + |y[t+1]|)``. Rounding an exactly affine signal to
#: the dtype leaves ``|d| <= eps/2 * scale``; 8 eps leaves room for a few more roundings in
#: the user's own arithmetic.
TOL_EPS_FACTOR = 8.0


def float_array(x: Any, name: str = "x") -> np.ndarray:
    """Return ``x`` as a float32 or float64 array (a view where possible).

    Integer and bool input becomes float64, float16 becomes float32. Complex, object,
    string and extended-precision input raise TypeError naming the dtype.
    """
    arr = np.asarray(x)
    kind = arr.dtype.kind
    if kind in "biu":
        return arr.astype(np.float64)
    if kind == "f":
        if arr.dtype == np.float16:
            return arr.astype(np.float32)
        if arr.dtype.itemsize > 8:
            raise TypeError(
                f"{name} has dtype {arr.dtype}, which cannot be converted to float64 without "
                "loss; convert it explicitly with x.astype(np.float64)"
            )
        if not arr.dtype.isnative:
            return arr.astype(np.dtype(arr.dtype.type))  # the canonical native dtype
        return arr
    if kind == "c":
        raise TypeError(
            f"{name} has complex dtype {arr.dtype}; smpfast works on real arrays "
            f"(pass {name}.real, {name}.imag or np.abs({name}))"
        )
    raise TypeError(
        f"{name} has dtype {arr.dtype}; expected a real numeric dtype "
        "(float32, float64, integer or bool)"
    )


signal_array = float_array  # the name the SMP functions use


def axis_index(axis: Any, ndim: int) -> int:
    """Normalise ``axis`` for an array of ``ndim`` dimensions (AxisError when out of range)."""
    try:
        ax = operator.index(axis)
    except TypeError:
        raise TypeError(f"axis must be an integer, got {type(axis).__name__} {axis!r}") from None
    if not -ndim <= ax < ndim:
        raise AxisError(ax, ndim)
    return ax % ndim


def choice(value: Any, valid: tuple[str, ...], name: str) -> str:
    """Check that ``value`` is one of ``valid`` (ValueError listing the valid values)."""
    if not isinstance(value, str) or value not in valid:
        listed = ", ".join(repr(v) for v in valid)
        raise ValueError(f"{name} must be one of {listed}; got {value!r}")
    return value


def nonnegative(value: Any, name: str) -> float:
    """Check a finite, non-negative real scalar."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    v = float(value)
    if math.isnan(v) or v < 0.0 or math.isinf(v):
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    return v


def default_tol(dtype: np.dtype[Any]) -> float:
    """Default relative noise floor for signals of ``dtype`` (``TOL_EPS_FACTOR * eps``)."""
    return TOL_EPS_FACTOR * float(np.finfo(dtype).eps)


def tolerance(tol: Any, dtype: np.dtype[Any]) -> float:
    """Resolve ``tol`` (None means the dtype's default)."""
    if tol is None:
        return default_tol(dtype)
    return nonnegative(tol, "tol")


def positive_int(value: Any, name: str) -> int:
    """Check a positive integer (threads, counts)."""
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if v < 1:
        raise ValueError(f"{name} must be >= 1; got {v}")
    return v


def one_dimensional(arr: np.ndarray, name: str) -> np.ndarray:
    """Check that ``arr`` is one signal (1-D)."""
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one signal); got an array of shape {arr.shape}")
    return arr
