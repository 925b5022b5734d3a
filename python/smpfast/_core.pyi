"""Type stubs for the compiled extension ``smpfast._core`` (cpp/bindings)."""

from typing import Literal, overload

import numpy as np
import numpy.typing as npt

__version__: str

def smp_local(
    y: npt.NDArray[np.floating], height: float, tol: float, omit: bool, threads: int = 1
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]: ...
def smp_run(
    y: npt.NDArray[np.floating], height: float, tol: float, omit: bool, threads: int = 1
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]: ...
def find_peaks_local(
    y: npt.NDArray[np.floating], height: float, tol: float, omit: bool
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]: ...
def find_peaks_run(
    y: npt.NDArray[np.floating], height: float, tol: float, omit: bool
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]: ...
def stream_update(
    frames: npt.NDArray[np.floating],
    state: dict[str, npt.NDArray[np.generic]],
    mode: str,
    height: float,
    tol: float,
    omit: bool,
    threads: int = 1,
) -> None: ...
def simd_targets() -> list[str]: ...
def compiled_simd_targets() -> list[str]: ...
def get_simd_target() -> str: ...
def set_simd_target(name: str) -> None: ...
def block_lanes() -> int: ...
def conv2d(
    x: npt.NDArray[np.floating],
    weight: npt.NDArray[np.floating],
    bias: npt.NDArray[np.floating] | None,
    sh: int, sw: int, ph: int, pw: int, dh: int, dw: int, groups: int, threads: int = 1,
) -> npt.NDArray[np.floating]: ...
@overload
def max_pool2d(
    x: npt.NDArray[np.floating], kh: int, kw: int, sh: int, sw: int, ph: int, pw: int,
    dh: int, dw: int, ho: int, wo: int, with_indices: Literal[True], threads: int = 1,
) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.int64]]: ...
@overload
def max_pool2d(
    x: npt.NDArray[np.floating], kh: int, kw: int, sh: int, sw: int, ph: int, pw: int,
    dh: int, dw: int, ho: int, wo: int, with_indices: Literal[False], threads: int = 1,
) -> npt.NDArray[np.floating]: ...
def avg_pool2d(
    x: npt.NDArray[np.floating], kh: int, kw: int, sh: int, sw: int, ph: int, pw: int,
    ho: int, wo: int, count_include_pad: bool, threads: int = 1,
) -> npt.NDArray[np.floating]: ...
def relu(x: npt.NDArray[np.floating], threads: int = 1) -> npt.NDArray[np.floating]: ...
def leaky_relu(
    x: npt.NDArray[np.floating], negative_slope: float, threads: int = 1
) -> npt.NDArray[np.floating]: ...
def prelu(
    x: npt.NDArray[np.floating], weight: npt.NDArray[np.floating], threads: int = 1
) -> npt.NDArray[np.floating]: ...
