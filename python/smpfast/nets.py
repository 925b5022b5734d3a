"""Small feed-forward networks of :mod:`smpfast.nn` blocks, with seeded random weights.

A :class:`Sequential` is a list of blocks, each a thin object around one building block
of :mod:`smpfast.nn` (so it runs on the C++ / Numba / NumPy backends, ``backend=`` as
everywhere), with PyTorch's module names, parameter names and shapes, so that a network
can be written as in PyTorch, compared with its PyTorch twin (:meth:`Sequential.to_torch`,
:meth:`Sequential.from_torch`) and loaded from a PyTorch ``state_dict``.

Blocks (``block.name`` in brackets): :class:`Conv2d` ("conv2d"), :class:`Conv1d`
("conv1d"), :class:`ReLU` ("relu"), :class:`LeakyReLU` ("leaky_relu"), :class:`PReLU`
("prelu"), :class:`MaxPool2d` ("max_pool2d"), :class:`MaxPool1d` ("max_pool1d"),
:class:`AvgPool2d` ("avg_pool2d"), :class:`AvgPool1d` ("avg_pool1d"),
:class:`BatchNorm2d` ("batch_norm2d", inference form), :class:`Linear` ("linear"),
:class:`Flatten` ("flatten"), :class:`Permute` ("permute"), and the smooth activations
:class:`Tanh` ("tanh"), :class:`Sigmoid` ("sigmoid"), :class:`Softplus` ("softplus"),
:class:`GELU` ("gelu"), :class:`ELU` ("elu").

Initialisation
--------------
Parameters given explicitly (``weight=``, ``bias_value=``, ...) are used as they are
(cast to the network's dtype). Every other parameter is drawn when the block enters a
:class:`Sequential` (or by :meth:`Block.reset_parameters`):

* ``init="he"`` (default for :class:`Conv2d`, :class:`Conv1d`, :class:`Linear`): weights
  i.i.d. ``N(0, 2 / fan_in)`` (He / Kaiming normal, the variance that keeps the second
  moment of activations constant through ReLU layers), ``fan_in = in_channels / groups *
  prod(kernel_size)`` (``in_features`` for Linear);
* ``init=("normal", std)``: weights i.i.d. ``N(0, std^2)``;
* ``init="torch"``: PyTorch's default, weights and bias i.i.d. uniform on
  ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]`` (the same distribution, not the same numbers);
* bias: 0, or i.i.d. ``N(0, bias_std^2)`` with ``bias_std > 0`` (``"he"`` and
  ``"normal"``).

:class:`PReLU` starts at the constant ``init`` (0.25), :class:`BatchNorm2d` at the
identity (weight 1, bias 0, running mean 0, running variance 1) or, with
``init="random"``, at weight ~ U(0.5, 1.5), bias ~ N(0, 0.1^2), running mean ~
N(0, 0.1^2), running variance ~ U(0.5, 1.5).

Random numbers: block ``i`` of ``Sequential(blocks, seed=s)`` draws from
``np.random.default_rng(np.random.SeedSequence(s).spawn(len(blocks))[i])``, weight
first, then bias (then running mean and variance), always in float64, then rounded to
the network's dtype: a float32 network holds the float64 network's weights rounded, and
a block's weights do not depend on the other blocks (explicit weights elsewhere do not
shift them).

Examples
--------
>>> import numpy as np
>>> from smpfast import nets
>>> net = nets.Sequential([nets.Conv2d(1, 4, 3, padding=1), nets.ReLU(), nets.MaxPool2d(2),
...                        nets.Flatten(), nets.Linear(4 * 4 * 4, 2)], seed=0)
>>> net.output_shapes((1, 8, 8))
[(4, 8, 8), (4, 8, 8), (4, 4, 4), (64,), (2,)]
>>> net(np.zeros((5, 1, 8, 8))).shape
(5, 2)
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, overload

import numpy as np

from . import _validate, nn
from . import _validate_nn as _v
from .paths import as_generator

__all__ = [
    "ELU",
    "GELU",
    "AvgPool1d",
    "AvgPool2d",
    "BatchNorm2d",
    "Block",
    "Conv1d",
    "Conv2d",
    "Flatten",
    "LeakyReLU",
    "Linear",
    "MaxPool1d",
    "MaxPool2d",
    "PReLU",
    "Permute",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softplus",
    "Tanh",
]

Shape = tuple[int, ...]
Seed = int | np.random.SeedSequence | np.random.Generator


# --------------------------------------------------------------------------- helpers
def _float_dtype(dtype: Any, name: str = "dtype") -> np.dtype[Any]:
    """float32 or float64 (anything else is an error naming ``name``)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name} must be float32 or float64; got {dtype!r}") from None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"{name} must be float32 or float64; got {dt}")
    return np.dtype(np.float32) if dt == np.float32 else np.dtype(np.float64)


def _children(seed: Any, n: int) -> list[np.random.Generator]:
    """``n`` independent generators derived from ``seed`` (one per block)."""
    if isinstance(seed, np.random.Generator):
        return list(seed.spawn(n))
    if isinstance(seed, np.random.SeedSequence):
        seq = seed
    else:
        as_generator(seed, "seed")  # type and range check
        seq = np.random.SeedSequence(int(seed))
    return [np.random.default_rng(s) for s in seq.spawn(n)]


def _shape(in_shape: Any, name: str = "in_shape") -> Shape:
    """A shape: a sequence of positive ints (an int is a 1-D shape)."""
    items = [in_shape] if isinstance(in_shape, (int, np.integer)) else in_shape
    try:
        out = tuple(_v.integer(s, name) for s in items)
    except TypeError:
        raise TypeError(f"{name} must be a tuple of ints; got {in_shape!r}") from None
    if any(s < 1 for s in out):
        raise ValueError(f"{name} must have sizes >= 1; got {out}")
    return out


def _positive(value: Any, name: str) -> int:
    v = _v.integer(value, name)
    if v < 1:
        raise ValueError(f"{name} must be >= 1; got {v}")
    return v


def _finite(value: Any, name: str) -> float:
    v = _v.real(value, name)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite; got {value!r}")
    return v


def _init_spec(init: Any, where: str) -> tuple[str, float]:
    """``init`` of a weight layer as (kind, std): "he", "torch" or ("normal", std)."""
    if isinstance(init, str):
        if init in ("he", "torch"):
            return init, 0.0
    elif isinstance(init, Sequence) and len(init) == 2 and init[0] == "normal":
        std = _v.real(init[1], f"{where}: init std")
        if not (std >= 0.0 and math.isfinite(std)):
            raise ValueError(f"{where}: init std must be a finite number >= 0; got {init[1]!r}")
        return "normal", std
    raise ValueError(f"{where}: init must be 'he', 'torch' or ('normal', std); got {init!r}")


def _to_numpy(value: Any) -> Any:
    """A torch tensor (detached, on the CPU) as NumPy; anything else unchanged."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return value


def _explicit_array(value: Any, shape: Shape, name: str) -> np.ndarray:
    """An explicit parameter array, checked against its shape (a C-contiguous copy)."""
    arr = _validate.float_array(_to_numpy(value), name)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}; got shape {arr.shape}")
    return np.array(arr, order="C", copy=True)


def _compact(values: tuple[int, ...]) -> int | tuple[int, ...]:
    """One int when every dimension has the same value (as PyTorch shows pooling sizes)."""
    return values[0] if len(set(values)) == 1 else values


def _torch() -> Any:
    import torch  # lazily: importing smpfast never imports torch

    return torch


def _torch_dtype(dtype: np.dtype[Any]) -> Any:
    torch = _torch()
    return torch.float32 if dtype == np.float32 else torch.float64


# --------------------------------------------------------------------------- blocks
class Block:
    """Base class of the blocks: a forward map on batches, its output shape, parameters.

    Subclasses set ``name`` (the block's kind, e.g. ``"conv2d"``) and ``_PARAMS`` (the
    PyTorch names of their array parameters, which are public attributes).

    Examples
    --------
    >>> from smpfast import nets
    >>> pool = nets.MaxPool2d(2)
    >>> pool.name, pool.output_shape((3, 9, 8)), pool.parameters()
    ('max_pool2d', (3, 4, 4), {})
    """

    name: ClassVar[str] = ""
    _PARAMS: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        #: parameters given explicitly (kept by initialisation)
        self._explicit: set[str] = set()

    # -- computation
    def forward(self, x: Any, backend: str | None = None) -> np.ndarray:
        """Apply the block to a batch ``x`` (batch axis first).

        Parameters
        ----------
        x : array_like
            A batch: (N, C, H, W) for 2-D blocks, (N, C, L) for 1-D ones, (N, ..., F)
            for Linear; elementwise blocks take any shape.
        backend : {"cpp", "numba", "numpy"}, optional
            Backend of the :mod:`smpfast.nn` kernel.

        Returns
        -------
        numpy.ndarray
            The output batch, in the common dtype of ``x`` and the parameters.
        """
        self._check_ready()
        return self._forward(x, backend)

    def _forward(self, x: Any, backend: str | None) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover - every block overrides it

    def __call__(self, x: Any, backend: str | None = None) -> np.ndarray:
        """Same as :meth:`forward`."""
        return self.forward(x, backend=backend)

    def output_shape(self, in_shape: Shape) -> Shape:
        """Output shape (without the batch axis) for inputs of shape ``in_shape``.

        Raises ValueError when the block cannot take such inputs.
        """
        return self._output_shape(tuple(in_shape))

    def _output_shape(self, in_shape: Shape) -> Shape:
        return in_shape

    # -- parameters
    def parameters(self) -> dict[str, np.ndarray]:
        """The block's arrays by PyTorch name (the arrays themselves, not copies)."""
        out: dict[str, np.ndarray] = {}
        for p in self._PARAMS:
            value = getattr(self, p)
            if value is not None:
                out[p] = value
        return out

    def _param_shapes(self) -> dict[str, Shape]:
        """Expected shape of every parameter the block has (None ones excluded)."""
        return {}

    def _draw(self, rng: np.random.Generator, names: set[str]) -> dict[str, np.ndarray]:
        """Random float64 values for the parameters ``names`` (all drawn, in a fixed order)."""
        return {}

    def _initialise(
        self, rng: np.random.Generator, dtype: np.dtype[Any], *, only_missing: bool
    ) -> None:
        shapes = self._param_shapes()
        if not shapes:
            return
        if only_missing:
            names = {p for p in shapes if getattr(self, p) is None}
        else:
            names = {p for p in shapes if p not in self._explicit}
        drawn = self._draw(rng, names) if names else {}
        for p in shapes:
            value = drawn[p] if p in names else getattr(self, p)
            setattr(self, p, np.ascontiguousarray(value, dtype=dtype))

    def reset_parameters(self, rng: Seed, dtype: Any = np.float64) -> Block:
        """(Re)draw every parameter not given explicitly, then cast all to ``dtype``.

        Parameters
        ----------
        rng : int, numpy.random.SeedSequence or numpy.random.Generator
            Random source.
        dtype : float32 or float64, default float64
            Dtype of the parameters.

        Returns
        -------
        Block
            The block itself.

        Examples
        --------
        >>> from smpfast import nets
        >>> conv = nets.Conv2d(1, 2, 3).reset_parameters(0)
        >>> conv.weight.shape, conv.bias.tolist()
        ((2, 1, 3, 3), [0.0, 0.0])
        """
        self._initialise(as_generator(rng, "rng"), _float_dtype(dtype), only_missing=False)
        return self

    def _check_ready(self) -> None:
        missing = [p for p in self._param_shapes() if getattr(self, p) is None]
        if missing:
            raise RuntimeError(
                f"{type(self).__name__}: parameters {missing} are not initialised; put the "
                "block in a Sequential(..., seed=...) or call block.reset_parameters(seed)"
            )

    # -- display and PyTorch
    def extra_repr(self) -> str:
        """The arguments shown by ``repr`` (PyTorch's style)."""
        return self._extra_repr()

    def _extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def _torch_module(self) -> Any:
        raise NotImplementedError  # pragma: no cover - every block overrides it

    def to_torch(self) -> Any:
        """An equivalent ``torch.nn.Module`` (in eval mode, same parameters and dtype).

        Imports torch (lazily).
        """
        self._check_ready()
        torch = _torch()
        module = self._torch_module()
        params = self.parameters()
        if params:
            dtype = next(iter(params.values())).dtype
            module = module.to(_torch_dtype(dtype))
            with torch.no_grad():
                for p, value in params.items():
                    getattr(module, p).copy_(torch.from_numpy(np.ascontiguousarray(value)))
        return module.eval()


def _check_ndim(block: Block, in_shape: Shape, ndim: int, layout: str) -> None:
    if len(in_shape) != ndim:
        raise ValueError(
            f"{type(block).__name__} expects inputs of shape {layout} (without the batch "
            f"axis); got {in_shape}"
        )


# --------------------------------------------------------------------------- weight layers
class _Weighted(Block):
    """Shared parts of Conv and Linear: weight, optional bias, init, bias_std."""

    _PARAMS = ("weight", "bias")

    def __init__(
        self,
        weight_shape: Shape,
        fan_in: int,
        bias: bool,
        init: Any,
        bias_std: float,
        weight: Any,
        bias_value: Any,
    ) -> None:
        super().__init__()
        where = type(self).__name__
        self.init = _init_spec(init, where)
        self.bias_std = _finite(bias_std, f"{where}: bias_std")
        if self.bias_std < 0.0:
            raise ValueError(f"{where}: bias_std must be >= 0; got {bias_std!r}")
        if self.init[0] == "torch" and self.bias_std != 0.0:
            raise ValueError(f"{where}: bias_std does not apply to init='torch'")
        self._fan_in = fan_in
        self._weight_shape = weight_shape
        self._has_bias = _v.flag(bias, f"{where}: bias")
        self.weight: np.ndarray | None = None
        self.bias: np.ndarray | None = None
        if weight is not None:
            self.weight = _explicit_array(weight, weight_shape, f"{where}: weight")
            self._explicit.add("weight")
        if bias_value is not None:
            if not self._has_bias:
                raise ValueError(f"{where}: bias_value was given but bias=False")
            self.bias = _explicit_array(bias_value, (weight_shape[0],), f"{where}: bias_value")
            self._explicit.add("bias")

    def _param_shapes(self) -> dict[str, Shape]:
        shapes = {"weight": self._weight_shape}
        if self._has_bias:
            shapes["bias"] = (self._weight_shape[0],)
        return shapes

    def _draw(self, rng: np.random.Generator, names: set[str]) -> dict[str, np.ndarray]:
        kind, std = self.init
        out_n = self._weight_shape[0]
        if kind == "torch":
            bound = 1.0 / math.sqrt(self._fan_in)
            weight = rng.uniform(-bound, bound, self._weight_shape)
            bias = rng.uniform(-bound, bound, out_n) if self._has_bias else None
        else:
            if kind == "he":
                std = math.sqrt(2.0 / self._fan_in)
            weight = rng.normal(0.0, 1.0, self._weight_shape) * std
            bias = None
            if self._has_bias:
                bias = (
                    rng.normal(0.0, 1.0, out_n) * self.bias_std
                    if self.bias_std > 0.0
                    else np.zeros(out_n)
                )
        drawn = {"weight": weight}
        if bias is not None:
            drawn["bias"] = bias
        return {k: v for k, v in drawn.items() if k in names}


class _ConvNd(_Weighted):
    _dims: ClassVar[int] = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        bias: bool = True,
        groups: int = 1,
        *,
        init: Any = "he",
        bias_std: float = 0.0,
        weight: Any = None,
        bias_value: Any = None,
    ) -> None:
        where, d = type(self).__name__, self._dims
        self.in_channels = _positive(in_channels, f"{where}: in_channels")
        self.out_channels = _positive(out_channels, f"{where}: out_channels")
        self.groups = _positive(groups, f"{where}: groups")
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(
                f"{where}: in_channels ({self.in_channels}) and out_channels "
                f"({self.out_channels}) must be divisible by groups ({self.groups})"
            )
        self.kernel_size = _v.int_tuple(kernel_size, d, f"{where}: kernel_size", 1)
        self.stride = _v.int_tuple(stride, d, f"{where}: stride", 1)
        self.dilation = _v.int_tuple(dilation, d, f"{where}: dilation", 1)
        self.padding: tuple[int, ...] | str
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(
                    f"{where}: padding must be an int, a tuple of ints, 'valid' or 'same'; "
                    f"got {padding!r}"
                )
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{where}: padding='same' needs stride 1; got {self.stride}")
            self.padding = padding
        else:
            self.padding = _v.int_tuple(padding, d, f"{where}: padding", 0)
        fan_in = self.in_channels // self.groups * math.prod(self.kernel_size)
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        super().__init__(shape, fan_in, bias, init, bias_std, weight, bias_value)

    def _output_shape(self, in_shape: Shape) -> Shape:
        where = type(self).__name__
        layout = "(C, H, W)" if self._dims == 2 else "(C, L)"
        _check_ndim(self, in_shape, self._dims + 1, layout)
        if in_shape[0] != self.in_channels:
            raise ValueError(
                f"{where} expects {self.in_channels} input channels; got input shape {in_shape}"
            )
        out = []
        for i, size in enumerate(in_shape[1:]):
            k, s, dil = self.kernel_size[i], self.stride[i], self.dilation[i]
            effective = dil * (k - 1) + 1
            if self.padding == "same":
                out.append(size)
                continue
            pad = 0 if isinstance(self.padding, str) else self.padding[i]
            if effective > size + 2 * pad:
                raise ValueError(
                    f"{where}: the dilated kernel {effective} is larger than the padded input "
                    f"{size + 2 * pad} (input shape {in_shape})"
                )
            out.append(_v.conv_output_size(size, k, s, pad, dil))
        return (self.out_channels, *out)

    def _forward(self, x: Any, backend: str | None) -> np.ndarray:
        fn = nn.conv2d if self._dims == 2 else nn.conv1d
        return fn(
            x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups,
            backend=backend,
        )  # fmt: skip

    def _extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * self._dims:
            s += f", padding={self.padding!r}"
        if self.dilation != (1,) * self._dims:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if not self._has_bias:
            s += ", bias=False"
        return s

    def _torch_module(self) -> Any:
        torch = _torch()
        cls = torch.nn.Conv2d if self._dims == 2 else torch.nn.Conv1d
        return cls(
            self.in_channels, self.out_channels, self.kernel_size, stride=self.stride,
            padding=self.padding, dilation=self.dilation, groups=self.groups,
            bias=self._has_bias,
        )  # fmt: skip


class Conv2d(_ConvNd):
    """2-D convolution block (:func:`smpfast.nn.conv2d`), as ``torch.nn.Conv2d``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and the output.
    kernel_size, stride, dilation : int or (int, int)
        As in :func:`smpfast.nn.conv2d`.
    padding : int, (int, int), "valid" or "same", default 0
        Zero padding.
    bias : bool, default True
        Whether the block has a bias.
    groups : int, default 1
        Channel groups.
    init : "he", "torch" or ("normal", std), default "he"
        Weight initialisation (see the module docstring).
    bias_std : float, default 0.0
        Bias ~ N(0, bias_std^2) (0: zero bias).
    weight : array_like, (out_channels, in_channels // groups, kh, kw), optional
        Explicit weights (e.g. pretrained), used instead of a random draw.
    bias_value : array_like, (out_channels,), optional
        Explicit bias.

    Attributes
    ----------
    weight, bias : numpy.ndarray or None
        Parameters (None until initialised; ``bias`` stays None with ``bias=False``).
    stride, dilation, kernel_size : tuple of int
    padding : tuple of int or str

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nets
    >>> conv = nets.Conv2d(1, 1, 2, weight=np.ones((1, 1, 2, 2)), bias_value=[0.5])
    >>> conv(np.arange(9.0).reshape(1, 1, 3, 3))
    array([[[[ 8.5, 12.5],
             [20.5, 24.5]]]])
    """

    name = "conv2d"
    _dims = 2


class Conv1d(_ConvNd):
    """1-D convolution block (:func:`smpfast.nn.conv1d`), as ``torch.nn.Conv1d``.

    Same parameters as :class:`Conv2d` with one spatial dimension: inputs (N, C, L),
    weight (out_channels, in_channels // groups, k).

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nets
    >>> conv = nets.Conv1d(1, 1, 2, weight=[[[1.0, -1.0]]], bias=False)
    >>> conv(np.array([[[1.0, 4.0, 9.0]]]))
    array([[[-3., -5.]]])
    """

    name = "conv1d"
    _dims = 1


class Linear(_Weighted):
    """Affine block ``x @ weight.T + bias`` (:func:`smpfast.nn.linear`), as ``torch.nn.Linear``.

    Parameters
    ----------
    in_features, out_features : int
        Sizes of the last axis of the input and the output.
    bias : bool, default True
        Whether the block has a bias.
    init, bias_std, weight, bias_value
        As in :class:`Conv2d`; ``weight`` is (out_features, in_features), fan-in is
        ``in_features``.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nets
    >>> lin = nets.Linear(2, 1, weight=[[1.0, -1.0]], bias_value=[0.5])
    >>> lin(np.array([[3.0, 1.0]]))
    array([[2.5]])
    """

    name = "linear"

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        init: Any = "he",
        bias_std: float = 0.0,
        weight: Any = None,
        bias_value: Any = None,
    ) -> None:
        self.in_features = _positive(in_features, "Linear: in_features")
        self.out_features = _positive(out_features, "Linear: out_features")
        shape = (self.out_features, self.in_features)
        super().__init__(shape, self.in_features, bias, init, bias_std, weight, bias_value)

    def _output_shape(self, in_shape: Shape) -> Shape:
        if len(in_shape) < 1 or in_shape[-1] != self.in_features:
            raise ValueError(
                f"Linear expects inputs (..., {self.in_features}) (without the batch axis); "
                f"got {in_shape}"
            )
        return (*in_shape[:-1], self.out_features)

    def _forward(self, x: Any, backend: str | None) -> np.ndarray:
        return nn.linear(x, self.weight, self.bias, backend=backend)

    def _extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self._has_bias}"
        )

    def _torch_module(self) -> Any:
        return _torch().nn.Linear(self.in_features, self.out_features, bias=self._has_bias)


class PReLU(Block):
    """Parametric ReLU ``x if x > 0 else weight[c] * x`` (:func:`smpfast.nn.prelu`).

    Parameters
    ----------
    num_parameters : int, default 1
        1 (one slope for all channels) or the number of channels (axis 1 of the batch).
    init : float, default 0.25
        Initial slope (a constant, as in PyTorch).
    weight : array_like, (num_parameters,), optional
        Explicit slopes.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nets
    >>> nets.PReLU().reset_parameters(0)(np.array([[-4.0, 2.0]]))
    array([[-1.,  2.]])
    """

    name = "prelu"
    _PARAMS = ("weight",)

    def __init__(self, num_parameters: int = 1, init: float = 0.25, *, weight: Any = None) -> None:
        super().__init__()
        self.num_parameters = _positive(num_parameters, "PReLU: num_parameters")
        self.init = _finite(init, "PReLU: init")
        self.weight: np.ndarray | None = None
        if weight is not None:
            self.weight = _explicit_array(weight, (self.num_parameters,), "PReLU: weight")
            self._explicit.add("weight")

    def _param_shapes(self) -> dict[str, Shape]:
        return {"weight": (self.num_parameters,)}

    def _draw(self, rng: np.random.Generator, names: set[str]) -> dict[str, np.ndarray]:
        return {"weight": np.full(self.num_parameters, self.init)}

    def _output_shape(self, in_shape: Shape) -> Shape:
        channels = in_shape[0] if len(in_shape) >= 1 else 1
        if self.num_parameters not in (1, channels):
            raise ValueError(
                f"PReLU has {self.num_parameters} parameters but the input has {channels} "
                f"channels (axis 0 of the input shape {in_shape})"
            )
        return tuple(in_shape)

    def _forward(self, x: Any, backend: str | None) -> np.ndarray:
        return nn.prelu(x, self.weight, backend=backend)

    def _extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"

    def _torch_module(self) -> Any:
        return _torch().nn.PReLU(self.num_parameters, init=self.init)


class BatchNorm2d(Block):
    """Inference batch norm ``(x - running_mean) / sqrt(running_var + eps) * weight + bias``.

    :func:`smpfast.nn.batch_norm` per channel (axis 1 of the batch), as
    ``torch.nn.BatchNorm2d`` in eval mode (affine). An affine map: it creates no kinks.

    Parameters
    ----------
    num_features : int
        Channels.
    eps : float, default 1e-5
        Added to the variance.
    init : "identity" or "random", default "identity"
        Starting values (see the module docstring) of the parameters not given.
    weight, bias_value, running_mean, running_var : array_like, (num_features,), optional
        Explicit values.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nets
    >>> bn = nets.BatchNorm2d(1, eps=0.0, running_mean=[1.0], running_var=[4.0])
    >>> bn.reset_parameters(0)(np.full((1, 1, 1, 2), 3.0))
    array([[[[1., 1.]]]])
    """

    name = "batch_norm2d"
    _PARAMS = ("weight", "bias", "running_mean", "running_var")

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        *,
        init: str = "identity",
        weight: Any = None,
        bias_value: Any = None,
        running_mean: Any = None,
        running_var: Any = None,
    ) -> None:
        super().__init__()
        self.num_features = _positive(num_features, "BatchNorm2d: num_features")
        self.eps = _finite(eps, "BatchNorm2d: eps")
        if self.eps < 0.0:
            raise ValueError(f"BatchNorm2d: eps must be >= 0; got {eps!r}")
        self.init = _validate.choice(init, ("identity", "random"), "BatchNorm2d: init")
        shape = (self.num_features,)
        self.weight: np.ndarray | None = None
        self.bias: np.ndarray | None = None
        self.running_mean: np.ndarray | None = None
        self.running_var: np.ndarray | None = None
        given = {
            "weight": weight,
            "bias": bias_value,
            "running_mean": running_mean,
            "running_var": running_var,
        }
        for p, value in given.items():
            if value is not None:
                label = "bias_value" if p == "bias" else p
                setattr(self, p, _explicit_array(value, shape, f"BatchNorm2d: {label}"))
                self._explicit.add(p)
        if self.running_var is not None and np.any(self.running_var < 0):
            raise ValueError("BatchNorm2d: running_var must be >= 0")

    def _param_shapes(self) -> dict[str, Shape]:
        return {p: (self.num_features,) for p in self._PARAMS}

    def _draw(self, rng: np.random.Generator, names: set[str]) -> dict[str, np.ndarray]:
        c = self.num_features
        if self.init == "identity":
            return {"weight": np.ones(c), "bias": np.zeros(c), "running_mean": np.zeros(c),
                    "running_var": np.ones(c)}  # fmt: skip
        return {
            "weight": rng.uniform(0.5, 1.5, c),
            "bias": rng.normal(0.0, 0.1, c),
            "running_mean": rng.normal(0.0, 0.1, c),
            "running_var": rng.uniform(0.5, 1.5, c),
        }

    def _output_shape(self, in_shape: Shape) -> Shape:
        _check_ndim(self, in_shape, 3, "(C, H, W)")
        if in_shape[0] != self.num_features:
            raise ValueError(
                f"BatchNorm2d expects {self.num_features} channels; got input shape {in_shape}"
            )
        return tuple(in_shape)

    def _forward(self, x: Any, backend: str | None) -> np.ndarray:
        return nn.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, eps=self.eps,
            backend=backend,
        )  # fmt: skip

    def _extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, affine=True, track_running_stats=True"

    def _torch_module(self) -> Any:
        return _torch().nn.BatchNorm2d(self.num_features, eps=self.eps)


# --------------------------------------------------------------------------- pooling
class _PoolNd(Block):
    _dims: ClassVar[int] = 2
    _max: ClassVar[bool] = True

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__()
        where, d = type(self).__name__, self._dims
        self.kernel_size = _v.int_tuple(kernel_size, d, f"{where}: kernel_size", 1)
        if stride is None or (isinstance(stride, Sequence) and len(stride) == 0):
            self.stride = self.kernel_size
        else:
            self.stride = _v.int_tuple(stride, d, f"{where}: stride", 1)
        self.padding = _v.int_tuple(padding, d, f"{where}: padding", 0)
        self.dilation = _v.int_tuple(dilation, d, f"{where}: dilation", 1)
        self.ceil_mode = _v.flag(ceil_mode, f"{where}: ceil_mode")
        self.count_include_pad = _v.flag(count_include_pad, f"{where}: count_include_pad")
        if any(p > k // 2 for p, k in zip(self.padding, self.kernel_size, strict=True)):
            raise ValueError(
                f"{where}: padding {self.padding} must be at most half the kernel size "
                f"{self.kernel_size}"
            )

    def _output_shape(self, in_shape: Shape) -> Shape:
        where = type(self).__name__
        _check_ndim(self, in_shape, self._dims + 1, "(C, H, W)" if self._dims == 2 else "(C, L)")
        out = tuple(
            _v.pool_output_size(s, k, st, p, dl, self.ceil_mode)
            for s, k, st, p, dl in zip(
                in_shape[1:], self.kernel_size, self.stride, self.padding, self.dilation,
                strict=True,
            )
        )  # fmt: skip
        if min(out) < 1:
            raise ValueError(f"{where}: input shape {in_shape} is too small (output {out})")
        return (in_shape[0], *out)


class _MaxPoolNd(_PoolNd):
    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__(kernel_size, stride, padding, dilation, ceil_mode)

    def _forward(self, x: Any, backend: str | None) -> np.ndarray:
        fn = nn.max_pool2d if self._dims == 2 else nn.max_pool1d
        out = fn(
            x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
            backend=backend,
        )  # fmt: skip
        assert isinstance(out, np.ndarray)
        return out

    def _extra_repr(self) -> str:
        k, s, p, d = (_compact(t) for t in (self.kernel_size, self.stride, self.padding,
                                            self.dilation))  # fmt: skip
        return f"kernel_size={k}, stride={s}, padding={p}, dilation={d}, ceil_mode={self.ceil_mode}"

    def _torch_module(self) -> Any:
        torch = _torch()
        cls = torch.nn.MaxPool2d if self._dims == 2 else torch.nn.MaxPool1d
        return cls(self.kernel_size, self.stride, self.padding, self.dilation,
                   ceil_mode=self.ceil_mode)  # fmt: skip


class MaxPool2d(_MaxPoolNd):
    """2-D max pooling block (:func:`smpfast.nn.max_pool2d`), as ``torch.nn.MaxPool2d``.

    Parameters
    ----------
    kernel_size : int or (int, int)
        Window.
    stride : int or (int, int), optional
        Default ``kernel_size``.
    padding, dilation, ceil_mode
        As in :func:`smpfast.nn.max_pool2d`.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nets
    >>> nets.MaxPool2d(2)(np.arange(16.0).reshape(1, 1, 4, 4))
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    """

    name = "max_pool2d"
    _dims = 2


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling block (:func:`smpfast.nn.max_pool1d`), as ``torch.nn.MaxPool1d``.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nets
    >>> nets.MaxPool1d(2)(np.array([[[1.0, 3.0, 2.0, 0.0]]]))
    array([[[3., 2.]]])
    """

    name = "max_pool1d"
    _dims = 1


class _AvgPoolNd(_PoolNd):
    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__(kernel_size, stride, padding, 1, ceil_mode, count_include_pad)

    def _forward(self, x: Any, backend: str | None) -> np.ndarray:
        fn = nn.avg_pool2d if self._dims == 2 else nn.avg_pool1d
        return fn(
            x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
            self.count_include_pad, backend=backend,
        )  # fmt: skip

    def _extra_repr(self) -> str:
        k, s, p = (_compact(t) for t in (self.kernel_size, self.stride, self.padding))
        return (
            f"kernel_size={k}, stride={s}, padding={p}, ceil_mode={self.ceil_mode}, "
            f"count_include_pad={self.count_include_pad}"
        )

    def _torch_module(self) -> Any:
        torch = _torch()
        cls = torch.nn.AvgPool2d if self._dims == 2 else torch.nn.AvgPool1d
        return cls(self.kernel_size, self.stride, self.padding, ceil_mode=self.ceil_mode,
                   count_include_pad=self.count_include_pad)  # fmt: skip


class AvgPool2d(_AvgPoolNd):
    """2-D average pooling block (:func:`smpfast.nn.avg_pool2d`), as ``torch.nn.AvgPool2d``.

    Parameters
    ----------
    kernel_size : int or (int, int)
        Window.
    stride : int or (int, int), optional
        Default ``kernel_size``.
    padding, ceil_mode, count_include_pad
        As in :func:`smpfast.nn.avg_pool2d`.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nets
    >>> nets.AvgPool2d(2)(np.arange(16.0).reshape(1, 1, 4, 4))
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]])
    """

    name = "avg_pool2d"
    _dims = 2


class AvgPool1d(_AvgPoolNd):
    """1-D average pooling block (:func:`smpfast.nn.avg_pool1d`), as ``torch.nn.AvgPool1d``.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nets
    >>> nets.AvgPool1d(2)(np.array([[[1.0, 3.0, 2.0, 0.0]]]))
    array([[[2., 1.]]])
    """

    name = "avg_pool1d"
    _dims = 1


# --------------------------------------------------------------------------- reshaping
class Flatten(Block):
    """Flatten axes ``start_dim .. end_dim`` of the batch into one, as ``torch.nn.Flatten``.

    Dimensions count the batch axis (``start_dim=1``: everything but the batch).

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nets
    >>> nets.Flatten()(np.zeros((2, 3, 4, 5))).shape
    (2, 60)
    """

    name = "flatten"

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = _v.integer(start_dim, "Flatten: start_dim")
        self.end_dim = _v.integer(end_dim, "Flatten: end_dim")
        if self.start_dim == 0 or self.end_dim == 0:
            raise ValueError("Flatten: start_dim and end_dim must not be 0 (the batch axis)")

    def _range(self, ndim: int) -> tuple[int, int]:
        """Start and end (inclusive) in the batched array of ``ndim`` axes."""
        start = self.start_dim % ndim if -ndim <= self.start_dim < ndim else None
        end = self.end_dim % ndim if -ndim <= self.end_dim < ndim else None
        if start is None or end is None or start == 0 or end < start:
            raise ValueError(
                f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}) does not fit "
                f"an input of {ndim - 1} axes (without the batch axis)"
            )
        return start, end

    def _output_shape(self, in_shape: Shape) -> Shape:
        full = (1, *in_shape)
        start, end = self._range(len(full))
        return (*full[1:start], math.prod(full[start : end + 1]), *full[end + 1 :])

    def _forward(self, x: Any, backend: str | None) -> np.ndarray:
        arr = _validate.float_array(x, "x")
        if arr.ndim < 1:
            raise ValueError("Flatten: x must have a batch axis")
        start, end = self._range(arr.ndim)
        return arr.reshape(*arr.shape[:start], -1, *arr.shape[end + 1 :])

    def _extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def _torch_module(self) -> Any:
        return _torch().nn.Flatten(self.start_dim, self.end_dim)


class Permute(Block):
    """Reorder the axes after the batch axis (``x.permute(0, *(d for d in dims))``).

    ``dims`` count the batch axis, which must stay first: ``Permute(0, 3, 2, 1)`` turns
    (N, C, H, W) into (N, W, H, C) (e.g. before a :class:`Flatten` of a network trained
    with another memory order).

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nets
    >>> nets.Permute(0, 3, 2, 1)(np.zeros((1, 2, 3, 4))).shape
    (1, 4, 3, 2)
    """

    name = "permute"

    def __init__(self, *dims: int) -> None:
        super().__init__()
        self.dims = tuple(_v.integer(d, "Permute: dims") for d in dims)
        if sorted(self.dims) != list(range(len(self.dims))) or self.dims[:1] != (0,):
            raise ValueError(
                f"Permute: dims must be a permutation of 0..{len(self.dims) - 1} starting "
                f"with 0 (the batch axis); got {self.dims}"
            )

    def _output_shape(self, in_shape: Shape) -> Shape:
        if len(in_shape) + 1 != len(self.dims):
            raise ValueError(
                f"Permute{self.dims} needs inputs of {len(self.dims) - 1} axes (without the "
                f"batch axis); got {in_shape}"
            )
        full = (1, *in_shape)
        return tuple(full[d] for d in self.dims[1:])

    def _forward(self, x: Any, backend: str | None) -> np.ndarray:
        arr = _validate.float_array(x, "x")
        if arr.ndim != len(self.dims):
            raise ValueError(f"Permute{self.dims}: x must be {len(self.dims)}-D; got {arr.shape}")
        return np.ascontiguousarray(arr.transpose(self.dims))

    def _extra_repr(self) -> str:
        return ", ".join(str(d) for d in self.dims)

    def _torch_module(self) -> Any:
        torch = _torch()
        dims = self.dims

        class TorchPermute(torch.nn.Module):  # type: ignore[misc,name-defined]
            def forward(self, x: Any) -> Any:
                return x.permute(*dims)

            def _extra_repr(self) -> str:
                return ", ".join(str(d) for d in dims)

        return TorchPermute()


# --------------------------------------------------------------------------- activations
class _Elementwise(Block):
    _fn: ClassVar[Callable[..., np.ndarray]]
    _torch_name: ClassVar[str] = ""

    def _kwargs(self) -> dict[str, Any]:
        return {}

    def _forward(self, x: Any, backend: str | None) -> np.ndarray:
        return type(self)._fn(x, **self._kwargs(), backend=backend)

    def _extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self._kwargs().items())

    def _torch_module(self) -> Any:
        return getattr(_torch().nn, self._torch_name or type(self).__name__)(**self._kwargs())


class ReLU(_Elementwise):
    """``max(x, 0)`` (:func:`smpfast.nn.relu`): a kink at every zero crossing.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nets
    >>> nets.ReLU()(np.array([[-1.0, 2.0]]))
    array([[0., 2.]])
    """

    name = "relu"
    _fn = staticmethod(nn.relu)


class LeakyReLU(_Elementwise):
    """``x if x > 0 else negative_slope * x`` (:func:`smpfast.nn.leaky_relu`).

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nets
    >>> nets.LeakyReLU(0.1)(np.array([[-1.0, 2.0]]))
    array([[-0.1,  2. ]])
    """

    name = "leaky_relu"
    _fn = staticmethod(nn.leaky_relu)

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = _finite(negative_slope, "LeakyReLU: negative_slope")

    def _kwargs(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}


class Tanh(_Elementwise):
    """Hyperbolic tangent (:func:`smpfast.nn.tanh`), smooth.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nets
    >>> nets.Tanh()(np.array([[0.0]]))
    array([[0.]])
    """

    name = "tanh"
    _fn = staticmethod(nn.tanh)


class Sigmoid(_Elementwise):
    """Logistic sigmoid (:func:`smpfast.nn.sigmoid`), smooth.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nets
    >>> nets.Sigmoid()(np.array([[0.0]]))
    array([[0.5]])
    """

    name = "sigmoid"
    _fn = staticmethod(nn.sigmoid)


class Softplus(_Elementwise):
    """``log(1 + exp(beta x)) / beta``, linear above ``threshold`` (:func:`smpfast.nn.softplus`).

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nets
    >>> nets.Softplus(beta=2.0)(np.array([[0.0]]))
    array([[0.34657359]])
    """

    name = "softplus"
    _fn = staticmethod(nn.softplus)

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = _finite(beta, "Softplus: beta")
        if self.beta == 0.0:
            raise ValueError("Softplus: beta must be nonzero")
        self.threshold = _v.real(threshold, "Softplus: threshold")
        if math.isnan(self.threshold):
            raise ValueError("Softplus: threshold must not be NaN")

    def _kwargs(self) -> dict[str, Any]:
        return {"beta": self.beta, "threshold": self.threshold}


class GELU(_Elementwise):
    """Gaussian error linear unit (:func:`smpfast.nn.gelu`), smooth.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nets
    >>> nets.GELU()(np.array([[1.0]]))
    array([[0.84134475]])
    """

    name = "gelu"
    _fn = staticmethod(nn.gelu)

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = _validate.choice(approximate, ("none", "tanh"), "GELU: approximate")

    def _kwargs(self) -> dict[str, Any]:
        return {"approximate": self.approximate}

    def _extra_repr(self) -> str:
        return "" if self.approximate == "none" else f"approximate={self.approximate!r}"


class ELU(_Elementwise):
    """``x if x > 0 else alpha (exp(x) - 1)`` (:func:`smpfast.nn.elu`); smooth for alpha = 1.

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nets
    >>> nets.ELU()(np.array([[-1.0, 1.0]]))
    array([[-0.63212056,  1.        ]])
    """

    name = "elu"
    _fn = staticmethod(nn.elu)

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = _finite(alpha, "ELU: alpha")

    def _kwargs(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


# --------------------------------------------------------------------------- Sequential
class Sequential:
    """A chain of blocks, seeded: ``Sequential(blocks, seed=0, dtype=np.float64)``.

    Parameters
    ----------
    blocks : iterable of Block
        The blocks, applied in order. They are used, not copied: the Sequential
        initialises their missing parameters and casts all of them to ``dtype``.
    seed : int, numpy.random.SeedSequence or numpy.random.Generator, default 0
        Source of the random parameters (see the module docstring): block ``i`` draws
        from the ``i``-th child of ``SeedSequence(seed)``.
    dtype : float32 or float64, default float64
        Dtype of the parameters and of the computation (inputs are cast to it).

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nets
    >>> net = nets.Sequential([nets.Conv2d(1, 8, 3, padding=1), nets.ReLU(), nets.MaxPool2d(2)],
    ...                       seed=0, dtype=np.float32)
    >>> net
    Sequential(
      (0): Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
      (1): ReLU()
      (2): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
    )
    >>> net(np.ones((2, 1, 6, 6))).shape, net[0].weight.dtype
    ((2, 8, 3, 3), dtype('float32'))
    >>> [a.shape for a in net.forward_all(np.ones((2, 1, 6, 6)))]
    [(2, 8, 6, 6), (2, 8, 6, 6), (2, 8, 3, 3)]
    """

    def __init__(self, blocks: Iterable[Block], *, seed: Seed = 0, dtype: Any = np.float64) -> None:
        if isinstance(blocks, Block):
            raise TypeError("blocks must be a list of blocks; got a single block")
        self.blocks: list[Block] = list(blocks)
        for i, block in enumerate(self.blocks):
            if not isinstance(block, Block):
                raise TypeError(
                    f"blocks[{i}] must be an smpfast.nets block; got {type(block).__name__}"
                )
        self.dtype: np.dtype[Any] = _float_dtype(dtype)
        self.seed = seed
        rngs = _children(seed, len(self.blocks))
        for block, rng in zip(self.blocks, rngs, strict=True):
            block._initialise(rng, self.dtype, only_missing=True)

    @classmethod
    def _wrap(cls, blocks: list[Block], dtype: np.dtype[Any], seed: Seed) -> Sequential:
        net = cls.__new__(cls)
        net.blocks, net.dtype, net.seed = blocks, dtype, seed
        return net

    # -- container protocol
    def __len__(self) -> int:
        return len(self.blocks)

    @overload
    def __getitem__(self, index: int) -> Block: ...
    @overload
    def __getitem__(self, index: slice) -> Sequential: ...
    def __getitem__(self, index: int | slice) -> Block | Sequential:
        if isinstance(index, slice):
            return Sequential._wrap(self.blocks[index], self.dtype, self.seed)
        return self.blocks[operator.index(index)]

    def __iter__(self) -> Iterator[Block]:
        return iter(self.blocks)

    def __repr__(self) -> str:
        lines = [f"  ({i}): {block!r}" for i, block in enumerate(self.blocks)]
        return "Sequential(\n" + "\n".join(lines) + "\n)" if lines else "Sequential()"

    # -- computation
    def _input(self, x: Any) -> np.ndarray:
        arr = _validate.float_array(x, "x")
        if arr.ndim < 2:
            raise ValueError(
                f"x must be a batch (N, ...) with at least one axis after the batch axis; "
                f"got shape {arr.shape}"
            )
        self.output_shapes(arr.shape[1:])
        return arr.astype(self.dtype, copy=False)

    def forward(self, x: Any, backend: str | None = None) -> np.ndarray:
        """The network's output for a batch ``x`` (N, C, H, W), (N, C, L) or (N, F).

        ``x`` is cast to the network's dtype. Raises ValueError naming the first block
        whose input shape does not fit.
        """
        out = self._input(x)
        for block in self.blocks:
            out = block.forward(out, backend=backend)
        return out

    def __call__(self, x: Any, backend: str | None = None) -> np.ndarray:
        """Same as :meth:`forward`."""
        return self.forward(x, backend=backend)

    def forward_all(self, x: Any, backend: str | None = None) -> list[np.ndarray]:
        """The outputs after every block (``len(net)`` arrays, batch axis first)."""
        out = self._input(x)
        outs = []
        for block in self.blocks:
            out = block.forward(out, backend=backend)
            outs.append(out)
        return outs

    def output_shapes(self, in_shape: Any) -> list[Shape]:
        """Output shape of every block (without the batch axis) for inputs ``in_shape``.

        Raises
        ------
        ValueError
            Naming the block (index and repr) whose input shape does not fit, and the
            shapes.
        """
        shape = _shape(in_shape)
        shapes = []
        for i, block in enumerate(self.blocks):
            try:
                out = block.output_shape(shape)
            except ValueError as exc:
                where = "the network input" if i == 0 else f"the output of block {i - 1}"
                raise ValueError(
                    f"block {i} ({block!r}) cannot take {where} of shape {shape}: {exc}"
                ) from None
            shapes.append(out)
            shape = out
        return shapes

    # -- parameters
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter, by PyTorch name (``"0.weight"``, ``"3.running_var"``).

        Examples
        --------
        >>> from smpfast import nets
        >>> list(nets.Sequential([nets.Linear(2, 3), nets.ReLU()]).state_dict())
        ['0.weight', '0.bias']
        """
        return {
            f"{i}.{p}": value.copy()
            for i, block in enumerate(self.blocks)
            for p, value in block.parameters().items()
        }

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> None:
        """Set parameters from ``state`` (NumPy arrays or torch tensors), cast to the dtype.

        Keys are PyTorch's (``"0.weight"``); ``num_batches_tracked`` entries of PyTorch's
        batch norms are ignored. With ``strict``, missing or unexpected keys raise
        KeyError; shapes must always match (ValueError naming the key). Loaded
        parameters count as explicit: :meth:`Block.reset_parameters` keeps them.

        Examples
        --------
        >>> import numpy as np
        >>> from smpfast import nets
        >>> net = nets.Sequential([nets.Linear(2, 1)])
        >>> net.load_state_dict({"0.weight": np.ones((1, 2)), "0.bias": np.zeros(1)})
        >>> net(np.array([[1.0, 2.0]]))
        array([[3.]])
        """
        expected: dict[str, tuple[Block, str, Shape]] = {}
        for i, block in enumerate(self.blocks):
            for p, shape in block._param_shapes().items():
                expected[f"{i}.{p}"] = (block, p, shape)
        given = {k: v for k, v in state.items() if not k.endswith(".num_batches_tracked")}
        if strict:
            missing = sorted(set(expected) - set(given))
            unexpected = sorted(set(given) - set(expected))
            if missing or unexpected:
                raise KeyError(
                    f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}"
                )
        arrays = {
            k: _explicit_array(v, expected[k][2], f"state[{k!r}]")
            for k, v in given.items()
            if k in expected
        }
        for k, arr in arrays.items():
            block, p, _ = expected[k]
            setattr(block, p, arr.astype(self.dtype, copy=False))
            block._explicit.add(p)

    def reset_parameters(self, seed: Seed) -> Sequential:
        """Redraw every parameter not given explicitly (or loaded) from a new seed.

        Block ``i`` draws from the ``i``-th child of ``seed``, exactly as at construction
        with that seed; the dtype is kept. Returns the network itself.

        Examples
        --------
        >>> from smpfast import nets
        >>> a = nets.Sequential([nets.Linear(3, 2)], seed=0)
        >>> b = nets.Sequential([nets.Linear(3, 2)], seed=1).reset_parameters(0)
        >>> bool((a[0].weight == b[0].weight).all())
        True
        """
        for block, rng in zip(self.blocks, _children(seed, len(self.blocks)), strict=True):
            block._initialise(rng, self.dtype, only_missing=False)
        self.seed = seed
        return self

    # -- PyTorch
    def to_torch(self) -> Any:
        """An equivalent ``torch.nn.Sequential`` in eval mode (imports torch lazily).

        Examples
        --------
        >>> from smpfast import nets
        >>> nets.Sequential([nets.Linear(2, 3), nets.ReLU()]).to_torch()  # doctest: +SKIP
        Sequential(
          (0): Linear(in_features=2, out_features=3, bias=True)
          (1): ReLU()
        )
        """
        torch = _torch()
        return torch.nn.Sequential(*(block.to_torch() for block in self.blocks)).eval()

    @classmethod
    def from_torch(cls, module: Any, *, dtype: Any = None) -> Sequential:
        """A Sequential equivalent to a ``torch.nn.Sequential`` of supported modules.

        Supported: Conv1d/2d (zero padding), Linear, PReLU, BatchNorm2d (affine, with
        running statistics; used in inference form), ReLU, LeakyReLU, MaxPool1d/2d,
        AvgPool1d/2d (no ``divisor_override``), Flatten, Tanh, Sigmoid, Softplus, GELU,
        ELU. ``dtype`` defaults to the module's parameter dtype (float64 without
        parameters).
        """
        torch = _torch()
        tnn = torch.nn
        blocks: list[Block] = []
        dtypes = {p.dtype for p in module.parameters()}
        for i, m in enumerate(module):
            blocks.append(_block_from_torch(tnn, m, i))
        if dtype is None:
            dtype = np.float32 if dtypes == {torch.float32} else np.float64
        return cls(blocks, seed=0, dtype=dtype)


def _block_from_torch(tnn: Any, m: Any, i: int) -> Block:
    """One smpfast block equal to the torch module ``m`` (module ``i`` of a Sequential)."""

    def arr(t: Any) -> np.ndarray | None:
        return None if t is None else np.asarray(_to_numpy(t))

    if isinstance(m, (tnn.Conv2d, tnn.Conv1d)):
        if m.padding_mode != "zeros":
            raise ValueError(f"module {i}: padding_mode {m.padding_mode!r} is not supported")
        cls: type[_ConvNd] = Conv2d if isinstance(m, tnn.Conv2d) else Conv1d
        return cls(
            m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation,
            m.bias is not None, m.groups, weight=arr(m.weight), bias_value=arr(m.bias),
        )  # fmt: skip
    if isinstance(m, tnn.Linear):
        return Linear(m.in_features, m.out_features, m.bias is not None,
                      weight=arr(m.weight), bias_value=arr(m.bias))  # fmt: skip
    if isinstance(m, tnn.PReLU):
        return PReLU(m.num_parameters, weight=arr(m.weight))
    if isinstance(m, tnn.BatchNorm2d):
        if m.running_mean is None or not m.affine:
            raise ValueError(f"module {i}: BatchNorm2d needs affine=True and running stats")
        return BatchNorm2d(
            m.num_features, m.eps, weight=arr(m.weight), bias_value=arr(m.bias),
            running_mean=arr(m.running_mean), running_var=arr(m.running_var),
        )  # fmt: skip
    if isinstance(m, (tnn.MaxPool2d, tnn.MaxPool1d)):
        if m.return_indices:
            raise ValueError(f"module {i}: MaxPool with return_indices=True is not supported")
        mcls: type[_MaxPoolNd] = MaxPool2d if isinstance(m, tnn.MaxPool2d) else MaxPool1d
        return mcls(m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)
    if isinstance(m, (tnn.AvgPool2d, tnn.AvgPool1d)):
        if getattr(m, "divisor_override", None) is not None:
            raise ValueError(f"module {i}: AvgPool divisor_override is not supported")
        acls: type[_AvgPoolNd] = AvgPool2d if isinstance(m, tnn.AvgPool2d) else AvgPool1d
        return acls(m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad)
    simple: dict[Any, Callable[[], Block]] = {
        tnn.ReLU: ReLU,
        tnn.Tanh: Tanh,
        tnn.Sigmoid: Sigmoid,
        tnn.Flatten: lambda: Flatten(m.start_dim, m.end_dim),
        tnn.LeakyReLU: lambda: LeakyReLU(m.negative_slope),
        tnn.Softplus: lambda: Softplus(m.beta, m.threshold),
        tnn.GELU: lambda: GELU(m.approximate),
        tnn.ELU: lambda: ELU(m.alpha),
    }
    make = simple.get(type(m))
    if make is None:
        raise ValueError(f"module {i}: {type(m).__name__} has no smpfast.nets equivalent")
    return make()
