"""The boundary between :mod:`smpfast.forensics` and the function under test.

``fn`` may be a NumPy callable, a torch ``nn.Module`` (converted at the boundary: torch is
never imported here unless the caller already imported it), an ``smpfast.nets.Sequential``
or any callable returning array-likes. Every call's output is checked: numeric, finite,
one row per input, and the same per-sample shape on every call.
"""

from __future__ import annotations

import copy
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["BatchFunction", "as_batch_function"]


def _torch_module(fn: Any) -> Any | None:
    """The torch module class when ``fn`` is a torch ``nn.Module`` (without importing torch)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    if isinstance(fn, torch.nn.Module):
        return torch
    return None


def convert_module(module: Any, tdtype: Any) -> Any:
    """A copy of a torch module in eval mode and ``tdtype`` (the caller's is left alone).

    TorchScript modules warn about ``.grad`` of non-leaf tensors while converting; the
    conversion is correct, so that warning is silenced here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The .grad attribute", category=UserWarning)
        return copy.deepcopy(module).eval().to(dtype=tdtype)


def _to_numpy(out: Any, what: str) -> np.ndarray:
    """One output array of ``fn`` as a NumPy array (tensors are detached and copied)."""
    if hasattr(out, "detach") and hasattr(out, "cpu"):  # a torch tensor
        out = out.detach().cpu()
        if hasattr(out, "is_complex") and out.is_complex():
            raise TypeError(f"{what} is a complex tensor; fn must return real numbers")
        out = out.numpy()
    try:
        arr = np.asarray(out)
    except Exception as exc:
        raise TypeError(f"{what} cannot be converted to an array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{what} has dtype {arr.dtype}; fn must return real numbers "
            "(an array or tensor of floats or integers)"
        )
    return arr


class BatchFunction:
    """``fn`` wrapped to map an (N, ...) NumPy batch to an (N, n_outputs) array, checked.

    Parameters
    ----------
    fn : callable
        A batch function (see :func:`as_batch_function`).
    dtype : numpy dtype
        Dtype of the inputs given to ``fn`` (torch modules are run in this dtype).

    Examples
    --------
    >>> import numpy as np
    >>> f = BatchFunction(lambda x: np.abs(x).sum(axis=1), np.float64)
    >>> f(np.ones((3, 2))).shape
    (3, 1)
    """

    def __init__(self, fn: Callable[..., Any], dtype: np.dtype[Any] | type) -> None:
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        self.dtype = np.dtype(dtype)
        self.output_shape: tuple[int, ...] | None = None
        self.output_dtype: np.dtype[Any] | None = None
        self._calls = 0
        torch = _torch_module(fn)
        self._torch = torch
        if torch is not None:
            tdtype = torch.float64 if self.dtype == np.float64 else torch.float32
            module = convert_module(fn, tdtype)
            self._tdtype = tdtype
            self._fn: Callable[..., Any] = module
        else:
            self._fn = fn

    def raw(self, x: np.ndarray) -> Any:
        """Call ``fn`` on a NumPy batch (as a tensor for torch modules); no checks."""
        if self._torch is not None:
            torch = self._torch
            with torch.no_grad():
                return self._fn(torch.from_numpy(np.ascontiguousarray(x, dtype=self.dtype)))
        return self._fn(x)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Outputs for the batch ``x`` as an (N, n_outputs) array, checked."""
        n = x.shape[0]
        out = self.raw(x)
        if isinstance(out, (tuple, list)) and out and all(
            hasattr(o, "shape") for o in out
        ):
            parts = [_to_numpy(o, f"output {i} of fn") for i, o in enumerate(out)]
            for i, p in enumerate(parts):
                self._check_rows(p, n, f"output {i} of fn")
            arr = np.concatenate([p.reshape(n, -1) for p in parts], axis=1)
            shape: tuple[int, ...] = (arr.shape[1],)
        else:
            arr = _to_numpy(out, "the output of fn")
            self._check_rows(arr, n, "the output of fn")
            shape = arr.shape[1:]
            arr = arr.reshape(n, -1)
        if self.output_shape is None:
            if arr.shape[1] == 0:
                raise ValueError("fn returned no outputs per sample (per-sample shape "
                                 f"{shape}); it must return at least one number per input")
            self.output_shape = shape
            self.output_dtype = arr.dtype
        elif shape != self.output_shape:
            raise ValueError(
                f"fn returned per-sample shape {shape} on call {self._calls + 1}, but "
                f"{self.output_shape} on earlier calls; its output shape must not change"
            )
        bad = ~np.isfinite(arr)
        if bad.any():
            row, col = (int(i) for i in np.argwhere(bad)[0])
            what = "NaN" if np.isnan(arr[row, col]) else "Inf"
            raise ValueError(
                f"fn returned {what} (first at batch row {row}, output {col} on call "
                f"{self._calls + 1}); fingerprints need finite outputs"
            )
        self._calls += 1
        if arr.dtype.kind != "f":
            arr = arr.astype(np.float64)
        return arr

    @staticmethod
    def _check_rows(arr: np.ndarray, n: int, what: str) -> None:
        if arr.ndim == 0:
            raise ValueError(f"{what} is a scalar; fn must return one row per input (batch {n})")
        if arr.shape[0] != n:
            raise ValueError(
                f"{what} has {arr.shape[0]} rows for a batch of {n} inputs (shape "
                f"{arr.shape}); fn must return one row per input, in order"
            )


def as_batch_function(fn: Any, dtype: np.dtype[Any] | type = np.float64) -> BatchFunction:
    """Wrap ``fn`` (NumPy callable, torch module, ``smpfast.nets.Sequential``) for batches.

    Parameters
    ----------
    fn : callable
        Maps a batch of inputs (first axis) to a batch of outputs (first axis), or to a
        tuple of such batches (their outputs are concatenated).
    dtype : numpy dtype, default float64
        Input dtype; torch modules are copied and converted to it.

    Returns
    -------
    BatchFunction

    Examples
    --------
    >>> import numpy as np
    >>> f = as_batch_function(np.tanh)
    >>> f(np.zeros((2, 3))).shape
    (2, 3)
    """
    if isinstance(fn, BatchFunction):
        return fn
    return BatchFunction(fn, dtype)
