"""MTCNN O-Net with the pretrained weights shipped in ``facenet-pytorch==2.6.0``.

Install the weights with ``pip install --no-deps facenet-pytorch==2.6.0`` (its metadata
pins an old torch; ``--no-deps`` keeps the installed one). The package is never
imported: its file ``data/onet.pt`` is located with :func:`importlib.util.find_spec`
and read with ``torch.load`` (reading the file needs torch; running the smpfast version
does not).

O-Net maps a (N, 3, 48, 48) RGB crop scaled as ``(pixel - 127.5) / 128`` to a face
probability, 4 box-regression offsets and 5 landmarks (x1..x5, y1..y5 as fractions of
the crop). Layers: three conv-PReLU-max-pool stages (pooling with ``ceil_mode=True``),
a 2x2 conv + PReLU, a *width-height-channel* flatten (the weights come from Caffe, so
the (N, C, H, W) activations are permuted to (N, W, H, C) before flattening), a dense
layer + PReLU, and three heads. Here the regression heads are fused into one dense
layer: the model returns (N, 14) = 4 box offsets then the 10 landmark coordinates.

Two implementations: :func:`onet_torch` (a ``torch.nn.Module``) and :func:`onet_nets`
(an :class:`smpfast.nets.Sequential` on the smpfast building blocks). ``smooth=True``
gives the controlled contrast: the same weights with PReLU replaced by a smooth
activation (softplus or ELU) and max pooling by average pooling.
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from typing import Any

import numpy as np

from ._astronaut import astronaut_crops

__all__ = ["ASTRONAUT_FACE", "MEAN", "SCALE", "face_crops", "landmarks_in_image",
           "load_onet_state", "onet_nets", "onet_torch", "onet_weights_path", "preprocess"]

#: Pixel normalisation of MTCNN: ``(pixel - MEAN) * SCALE``.
MEAN = 127.5
SCALE = 1.0 / 128.0

_SMOOTH = ("softplus", "elu")


def onet_weights_path() -> str:
    """Path of ``onet.pt`` inside the installed ``facenet_pytorch`` (without importing it).

    Raises
    ------
    ImportError
        When facenet-pytorch is not installed, with the install command.

    Examples
    --------
    >>> onet_weights_path().endswith("onet.pt")  # doctest: +SKIP
    True
    """
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the O-Net weights come from facenet-pytorch: pip install --no-deps "
            "facenet-pytorch==2.6.0"
        )
    path = os.path.join(next(iter(spec.submodule_search_locations)), "data", "onet.pt")
    if not os.path.exists(path):
        raise ImportError(f"facenet_pytorch is installed but {path} is missing")
    return path


@lru_cache(maxsize=1)
def _state() -> dict[str, np.ndarray]:
    import torch

    raw = torch.load(onet_weights_path(), map_location="cpu", weights_only=True)
    return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in raw.items()}


def load_onet_state() -> dict[str, np.ndarray]:
    """The pretrained O-Net parameters as float32 NumPy arrays (facenet-pytorch's names).

    Examples
    --------
    >>> load_onet_state()["conv1.weight"].shape  # doctest: +SKIP
    (32, 3, 3, 3)
    """
    return {k: v.copy() for k, v in _state().items()}


def _fused_head(state: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    w = np.concatenate([state["dense6_2.weight"], state["dense6_3.weight"]], axis=0)
    b = np.concatenate([state["dense6_2.bias"], state["dense6_3.bias"]], axis=0)
    return w, b


def _check_smooth(smooth: bool, activation: str) -> None:
    if activation not in _SMOOTH:
        raise ValueError(f"activation must be one of {_SMOOTH}; got {activation!r}")
    if not isinstance(smooth, bool):
        raise TypeError(f"smooth must be a bool, got {type(smooth).__name__}")


def onet_nets(
    *, smooth: bool = False, activation: str = "softplus", dtype: Any = np.float32
) -> Any:
    """O-Net as an :class:`smpfast.nets.Sequential` with the pretrained weights.

    Parameters
    ----------
    smooth : bool, default False
        The smooth twin: PReLU -> ``activation``, max pooling -> average pooling
        (same kernel, stride and ``ceil_mode``).
    activation : {"softplus", "elu"}
        Smooth activation of the twin.
    dtype : float32 or float64

    Returns
    -------
    smpfast.nets.Sequential
        (N, 3, 48, 48) -> (N, 14): box offsets (4), landmarks x1..x5, y1..y5 (10).

    Examples
    --------
    >>> import numpy as np
    >>> net = onet_nets()  # doctest: +SKIP
    >>> net(np.zeros((1, 3, 48, 48), np.float32)).shape  # doctest: +SKIP
    (1, 14)
    """
    from ... import nets

    _check_smooth(smooth, activation)
    st = _state()

    def act(n: int, name: str) -> Any:
        if not smooth:
            return nets.PReLU(n, weight=st[name])
        return nets.Softplus() if activation == "softplus" else nets.ELU()

    def pool(k: int, s: int) -> Any:
        if smooth:
            return nets.AvgPool2d(k, s, ceil_mode=True)
        return nets.MaxPool2d(k, s, ceil_mode=True)

    def conv(name: str, c_in: int, c_out: int, k: int) -> Any:
        return nets.Conv2d(c_in, c_out, k, weight=st[f"{name}.weight"],
                           bias_value=st[f"{name}.bias"])

    w6, b6 = _fused_head(st)
    blocks = [
        conv("conv1", 3, 32, 3), act(32, "prelu1.weight"), pool(3, 2),
        conv("conv2", 32, 64, 3), act(64, "prelu2.weight"), pool(3, 2),
        conv("conv3", 64, 64, 3), act(64, "prelu3.weight"), pool(2, 2),
        conv("conv4", 64, 128, 2), act(128, "prelu4.weight"),
        nets.Permute(0, 3, 2, 1), nets.Flatten(),
        nets.Linear(1152, 256, weight=st["dense5.weight"], bias_value=st["dense5.bias"]),
        act(256, "prelu5.weight"),
        nets.Linear(256, 14, weight=w6, bias_value=b6),
    ]
    return nets.Sequential(blocks, dtype=dtype)


def onet_torch(
    *, smooth: bool = False, activation: str = "softplus", with_prob: bool = False
) -> Any:
    """O-Net as a ``torch.nn.Module`` (eval mode, float32) with the pretrained weights.

    Parameters
    ----------
    smooth, activation
        As in :func:`onet_nets`.
    with_prob : bool, default False
        Also return the face probability: the module then returns ``(prob, out)`` with
        ``prob`` (N,) and ``out`` (N, 14); otherwise only ``out``.

    Returns
    -------
    torch.nn.Module

    Examples
    --------
    >>> import torch
    >>> onet_torch()(torch.zeros(1, 3, 48, 48)).shape  # doctest: +SKIP
    torch.Size([1, 14])
    """
    import torch
    from torch import nn

    _check_smooth(smooth, activation)
    st = _state()

    class ONet(nn.Module):
        """MTCNN O-Net (facenet-pytorch layout), regression heads fused."""

        def __init__(self) -> None:
            super().__init__()

            def act(n: int) -> nn.Module:
                if not smooth:
                    return nn.PReLU(n)
                return nn.Softplus() if activation == "softplus" else nn.ELU()

            def pool(k: int, s: int) -> nn.Module:
                return (nn.AvgPool2d(k, s, ceil_mode=True) if smooth
                        else nn.MaxPool2d(k, s, ceil_mode=True))

            self.conv1, self.prelu1, self.pool1 = nn.Conv2d(3, 32, 3), act(32), pool(3, 2)
            self.conv2, self.prelu2, self.pool2 = nn.Conv2d(32, 64, 3), act(64), pool(3, 2)
            self.conv3, self.prelu3, self.pool3 = nn.Conv2d(64, 64, 3), act(64), pool(2, 2)
            self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), act(128)
            self.dense5, self.prelu5 = nn.Linear(1152, 256), act(256)
            self.dense6_1 = nn.Linear(256, 2)
            self.dense6_23 = nn.Linear(256, 14)

        def forward(self, x: Any) -> Any:
            x = self.pool1(self.prelu1(self.conv1(x)))
            x = self.pool2(self.prelu2(self.conv2(x)))
            x = self.pool3(self.prelu3(self.conv3(x)))
            x = self.prelu4(self.conv4(x))
            x = x.permute(0, 3, 2, 1).contiguous()
            x = self.prelu5(self.dense5(x.reshape(x.shape[0], -1)))
            out = self.dense6_23(x)
            if with_prob:
                return torch.softmax(self.dense6_1(x), dim=1)[:, 1], out
            return out

    model = ONet()
    w6, b6 = _fused_head(st)
    state = {k: v for k, v in st.items() if not k.startswith(("dense6_2", "dense6_3"))}
    if smooth:
        state = {k: v for k, v in state.items() if not k.startswith("prelu")}
    state["dense6_23.weight"], state["dense6_23.bias"] = w6, b6
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    return model.eval()


def preprocess(crops: Any) -> np.ndarray:
    """(N, 48, 48, 3) uint8 RGB crops -> (N, 3, 48, 48) float32 O-Net input.

    Examples
    --------
    >>> import numpy as np
    >>> preprocess(np.full((1, 48, 48, 3), 255, np.uint8))[0, 0, 0, 0]
    np.float32(0.99609375)
    """
    arr = np.asarray(crops)
    if arr.ndim != 4 or arr.shape[1:] != (48, 48, 3):
        raise ValueError(f"crops must have shape (N, 48, 48, 3); got {arr.shape}")
    x = (arr.astype(np.float32) - np.float32(MEAN)) * np.float32(SCALE)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


#: The face box (top, left, size in pixels) of ``skimage.data.astronaut()``, found by
#: scanning boxes of 120-180 pixels with O-Net's face probability.
ASTRONAUT_FACE = (70, 180, 120)


def face_crops(n_side: int = 3, step: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """48x48 RGB crops of the face in ``skimage.data.astronaut()`` (needs scikit-image).

    Parameters
    ----------
    n_side : int, default 3
        Crops on an ``n_side`` x ``n_side`` grid of box offsets around
        :data:`ASTRONAUT_FACE`.
    step : int, default 8
        Offset between neighbouring boxes, in pixels.

    Returns
    -------
    crops : numpy.ndarray of uint8
        (n_side**2, 48, 48, 3), resized with anti-aliasing.
    boxes : numpy.ndarray of int64
        (n_side**2, 3) ``(top, left, size)`` of each crop in the image.

    Examples
    --------
    >>> crops, boxes = face_crops(1)  # doctest: +SKIP
    >>> crops.shape, boxes.tolist()  # doctest: +SKIP
    ((1, 48, 48, 3), [[70, 180, 120]])
    """
    crops, boxes = astronaut_crops(ASTRONAUT_FACE, 48, n_side, step, "face_crops")
    return np.clip(np.round(crops * 255.0), 0, 255).astype(np.uint8), boxes


def landmarks_in_image(out: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """O-Net outputs (N, 14) and their boxes (N, 3) -> (N, 5, 2) landmark (x, y) pixels.

    Landmark ``k`` is at ``x = left + size * out[4 + k]``, ``y = top + size * out[9 + k]``
    (facenet-pytorch's decoding, without its one-pixel offset of 1-based boxes).

    Examples
    --------
    >>> import numpy as np
    >>> out = np.zeros((1, 14)); out[0, 4:9] = 0.5
    >>> landmarks_in_image(out, np.array([[10, 20, 100]]))[0, 0].tolist()
    [70.0, 10.0]
    """
    out = np.asarray(out, dtype=np.float64)
    boxes = np.asarray(boxes, dtype=np.float64)
    x = boxes[:, 1:2] + boxes[:, 2:3] * out[:, 4:9]
    y = boxes[:, 0:1] + boxes[:, 2:3] * out[:, 9:14]
    return np.stack([x, y], axis=-1)
