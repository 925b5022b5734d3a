"""smpfast.nets: blocks, Sequential, initialisation, state dicts, parity with PyTorch."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from smpfast import nets

# (factory, input shape without the batch axis); every block type appears at least once
BLOCK_CASES: list[tuple[str, Callable[[], nets.Block], tuple[int, ...]]] = [
    ("conv2d", lambda: nets.Conv2d(3, 4, 3, padding=1), (3, 7, 6)),
    (
        "conv2d_strided",
        lambda: nets.Conv2d(4, 6, (3, 2), stride=2, dilation=(1, 2), groups=2, bias_std=0.5),
        (4, 9, 8),
    ),
    ("conv2d_same", lambda: nets.Conv2d(2, 3, 4, padding="same", bias=False), (2, 6, 5)),
    ("conv1d", lambda: nets.Conv1d(2, 3, 3, padding=2, dilation=2, bias_std=0.1), (2, 11)),
    ("relu", nets.ReLU, (3, 5, 5)),
    ("leaky_relu", lambda: nets.LeakyReLU(0.2), (3, 5, 5)),
    ("prelu", lambda: nets.PReLU(3, weight=[0.1, -0.3, 0.5]), (3, 5, 5)),
    ("prelu_shared", nets.PReLU, (2, 7)),
    ("max_pool2d", lambda: nets.MaxPool2d(2), (2, 6, 7)),
    ("max_pool2d_ceil", lambda: nets.MaxPool2d(3, 2, padding=1, ceil_mode=True), (2, 8, 7)),
    ("max_pool1d", lambda: nets.MaxPool1d(3, stride=2, dilation=2), (2, 13)),
    ("avg_pool2d", lambda: nets.AvgPool2d(2), (2, 6, 7)),
    (
        "avg_pool2d_pad",
        lambda: nets.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
        (2, 8, 7),
    ),
    ("avg_pool1d", lambda: nets.AvgPool1d(2), (2, 9)),
    ("batch_norm2d", lambda: nets.BatchNorm2d(3, init="random"), (3, 4, 4)),
    ("linear", lambda: nets.Linear(6, 4, bias_std=0.3), (6,)),
    ("linear_torch_init", lambda: nets.Linear(6, 4, init="torch"), (2, 6)),
    ("flatten", nets.Flatten, (2, 3, 4)),
    ("flatten_partial", lambda: nets.Flatten(2, 3), (2, 3, 4, 2)),
    ("permute", lambda: nets.Permute(0, 3, 2, 1), (2, 3, 4)),
    ("tanh", nets.Tanh, (3, 4)),
    ("sigmoid", nets.Sigmoid, (3, 4)),
    ("softplus", lambda: nets.Softplus(beta=2.0, threshold=3.0), (3, 4)),
    ("gelu", nets.GELU, (3, 4)),
    ("gelu_tanh", lambda: nets.GELU("tanh"), (3, 4)),
    ("elu", lambda: nets.ELU(0.7), (3, 4)),
]

NAMES = {
    nets.Conv2d: "conv2d", nets.Conv1d: "conv1d", nets.ReLU: "relu",
    nets.LeakyReLU: "leaky_relu", nets.PReLU: "prelu", nets.MaxPool2d: "max_pool2d",
    nets.MaxPool1d: "max_pool1d", nets.AvgPool2d: "avg_pool2d", nets.AvgPool1d: "avg_pool1d",
    nets.BatchNorm2d: "batch_norm2d", nets.Linear: "linear", nets.Flatten: "flatten",
    nets.Tanh: "tanh", nets.Sigmoid: "sigmoid", nets.Softplus: "softplus", nets.GELU: "gelu",
    nets.ELU: "elu", nets.Permute: "permute",
}  # fmt: skip

TOL = {np.float32: 1e-5, np.float64: 1e-12}


def _stack() -> list[nets.Block]:
    return [
        nets.Conv2d(2, 6, 3, padding=1, bias_std=0.2),
        nets.BatchNorm2d(6, init="random"),
        nets.ReLU(),
        nets.MaxPool2d(2),
        nets.Conv2d(6, 4, 3, init=("normal", 0.3)),
        nets.PReLU(4),
        nets.AvgPool2d(2, ceil_mode=True),
        nets.Flatten(),
        nets.Linear(4 * 2 * 2, 5),
        nets.GELU(),
        nets.Linear(5, 3, init="torch"),
        nets.Tanh(),
    ]


def _close(a: np.ndarray, b: np.ndarray, dtype: Any) -> None:
    scale = max(1.0, float(np.max(np.abs(b))) if b.size else 1.0)
    np.testing.assert_allclose(a, b, rtol=TOL[dtype], atol=TOL[dtype] * scale)


# --------------------------------------------------------------------------- basics
@pytest.mark.parametrize(("case", "make", "shape"), BLOCK_CASES, ids=[c[0] for c in BLOCK_CASES])
def test_output_shapes_match_forward(
    case: str, make: Callable[[], nets.Block], shape: tuple[int, ...]
) -> None:
    net = nets.Sequential([make()], seed=1)
    x = np.random.default_rng(0).standard_normal((3, *shape))
    out = net(x)
    assert out.shape == (3, *net.output_shapes(shape)[0])
    assert out.dtype == np.float64
    assert net[0].name == NAMES[type(net[0])]


def test_sequential_container_and_repr() -> None:
    blocks = _stack()
    net = nets.Sequential(blocks, seed=3)
    assert len(net) == len(blocks) and net.blocks == blocks
    assert net[0] is blocks[0] and list(net) == blocks
    sub = net[2:4]
    assert isinstance(sub, nets.Sequential) and sub.blocks == blocks[2:4]
    text = repr(net)
    assert text.startswith("Sequential(\n  (0): Conv2d(2, 6, kernel_size=(3, 3), stride=(1, 1)")
    assert (
        "  (3): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)" in text
    )
    assert "(11): Tanh()" in text and text.endswith("\n)")
    assert repr(nets.Sequential([])) == "Sequential()"
    x = np.random.default_rng(0).standard_normal((2, 2, 10, 10))
    outs = net.forward_all(x)
    assert len(outs) == len(net)
    assert [o.shape[1:] for o in outs] == net.output_shapes((2, 10, 10))
    np.testing.assert_array_equal(outs[-1], net(x))


def test_block_attributes() -> None:
    conv = nets.Conv2d(4, 6, (3, 1), stride=2, padding=(1, 0), dilation=1, bias=False, groups=2)
    nets.Sequential([conv])
    assert conv.weight is not None and conv.weight.shape == (6, 2, 3, 1)
    assert conv.bias is None
    assert (conv.stride, conv.padding, conv.dilation, conv.groups) == ((2, 2), (1, 0), (1, 1), 2)
    pool = nets.MaxPool2d(3)
    assert (pool.kernel_size, pool.stride, pool.padding, pool.dilation, pool.ceil_mode) == (
        (3, 3), (3, 3), (0, 0), (1, 1), False,
    )  # fmt: skip
    avg = nets.AvgPool2d(2, 1, count_include_pad=False)
    assert (avg.stride, avg.count_include_pad) == ((1, 1), False)
    assert nets.LeakyReLU(0.3).negative_slope == 0.3
    prelu = nets.PReLU(5)
    nets.Sequential([prelu])
    np.testing.assert_array_equal(prelu.weight, np.full(5, 0.25))
    bn = nets.BatchNorm2d(2)
    nets.Sequential([bn])
    np.testing.assert_array_equal(bn.running_var, [1.0, 1.0])
    assert bn.eps == 1e-5
    sp = nets.Softplus()
    assert (sp.beta, sp.threshold) == (1.0, 20.0)
    assert nets.ELU().alpha == 1.0


# --------------------------------------------------------------------------- initialisation
def test_he_init_statistics() -> None:
    conv = nets.Conv2d(16, 64, 3)
    lin = nets.Linear(50, 200)
    nets.Sequential([conv, nets.Flatten(), lin], seed=7)
    for w, fan_in in ((conv.weight, 16 * 9), (lin.weight, 50)):
        assert w is not None
        n = w.size
        std = np.sqrt(2.0 / fan_in)
        # sample std of n normals: relative standard error ~ 1/sqrt(2n); 5 sigma
        assert abs(w.std() / std - 1.0) < 5.0 / np.sqrt(2 * n)
        assert abs(w.mean()) < 5.0 * std / np.sqrt(n)
    assert conv.bias is not None and not conv.bias.any()


def test_normal_torch_and_bias_std_init() -> None:
    normal = nets.Linear(100, 100, init=("normal", 0.05), bias_std=2.0)
    torch_like = nets.Linear(100, 100, init="torch")
    nets.Sequential([normal, torch_like], seed=0)
    assert normal.weight is not None and normal.bias is not None
    assert abs(normal.weight.std() / 0.05 - 1.0) < 5.0 / np.sqrt(2e4)
    assert abs(normal.bias.std() / 2.0 - 1.0) < 5.0 / np.sqrt(200)
    assert torch_like.weight is not None and torch_like.bias is not None
    bound = 1.0 / np.sqrt(100)
    assert np.abs(torch_like.weight).max() <= bound and np.abs(torch_like.bias).max() <= bound
    # uniform on [-b, b]: std b / sqrt(3)
    assert abs(torch_like.weight.std() / (bound / np.sqrt(3)) - 1.0) < 5.0 / np.sqrt(1e4)


def test_seed_reproducible_and_block_independent() -> None:
    a = nets.Sequential(_stack(), seed=5).state_dict()
    b = nets.Sequential(_stack(), seed=5).state_dict()
    c = nets.Sequential(_stack(), seed=6).state_dict()
    assert a.keys() == b.keys() == c.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["0.weight"], c["0.weight"])
    # an explicit weight in block 0 does not shift the draws of the later blocks
    blocks = _stack()
    blocks[0] = nets.Conv2d(2, 6, 3, padding=1, bias_std=0.2, weight=np.ones((6, 2, 3, 3)))
    d = nets.Sequential(blocks, seed=5).state_dict()
    np.testing.assert_array_equal(d["0.weight"], np.ones((6, 2, 3, 3)))
    np.testing.assert_array_equal(d["0.bias"], a["0.bias"])
    np.testing.assert_array_equal(d["4.weight"], a["4.weight"])
    # a Generator or SeedSequence works as a seed too
    g = nets.Sequential(_stack(), seed=np.random.SeedSequence(5)).state_dict()
    np.testing.assert_array_equal(g["4.weight"], a["4.weight"])
    nets.Sequential(_stack(), seed=np.random.default_rng(1))


def test_float32_is_rounded_float64() -> None:
    w64 = nets.Sequential(_stack(), seed=2).state_dict()
    net32 = nets.Sequential(_stack(), seed=2, dtype=np.float32)
    w32 = net32.state_dict()
    for k in w64:
        assert w32[k].dtype == np.float32
        np.testing.assert_array_equal(w32[k], w64[k].astype(np.float32))
    out = net32(np.ones((1, 2, 10, 10)))  # float64 input is cast to the network's dtype
    assert out.dtype == np.float32


def test_existing_parameters_kept_and_reset() -> None:
    conv = nets.Conv2d(1, 2, 3)
    nets.Sequential([conv], seed=0)
    assert conv.weight is not None
    first = conv.weight.copy()
    nets.Sequential([conv], seed=1)  # already initialised: kept
    np.testing.assert_array_equal(conv.weight, first)
    conv.reset_parameters(1)
    redrawn = conv.weight.copy()
    assert not np.array_equal(redrawn, first)
    conv.reset_parameters(np.random.default_rng(1), dtype=np.float32)
    assert conv.weight.dtype == np.float32
    np.testing.assert_array_equal(conv.weight, redrawn.astype(np.float32))


def test_uninitialised_block_raises() -> None:
    conv = nets.Conv2d(1, 2, 3)
    assert conv.weight is None
    with pytest.raises(RuntimeError, match=r"Conv2d: parameters \['weight', 'bias'\] are not"):
        conv(np.zeros((1, 1, 4, 4)))


# --------------------------------------------------------------------------- state dicts
def test_state_dict_round_trip() -> None:
    src = nets.Sequential(_stack(), seed=11)
    dst = nets.Sequential(_stack(), seed=12)
    state = src.state_dict()
    assert "1.running_var" in state and "5.weight" in state and "0.bias" in state
    dst.load_state_dict(state)
    x = np.random.default_rng(1).standard_normal((3, 2, 10, 10))
    np.testing.assert_array_equal(dst(x), src(x))
    state["0.weight"][...] = 0.0  # a copy: the network is unchanged
    assert src[0].weight is not None and src[0].weight.any()
    # loaded parameters survive reset_parameters (they count as explicit)
    dst[0].reset_parameters(99)
    np.testing.assert_array_equal(dst(x), src(x))


def test_load_state_dict_errors() -> None:
    net = nets.Sequential([nets.Linear(2, 3), nets.ReLU()])
    good = net.state_dict()
    with pytest.raises(KeyError, match=r"missing keys \['0.bias'\]"):
        net.load_state_dict({"0.weight": good["0.weight"]})
    with pytest.raises(KeyError, match=r"unexpected keys \['1.weight'\]"):
        net.load_state_dict({**good, "1.weight": np.ones(1)})
    net.load_state_dict({"0.weight": np.ones((3, 2))}, strict=False)
    np.testing.assert_array_equal(net[0].weight, np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"state\['0.weight'\] must have shape \(3, 2\)"):
        net.load_state_dict({**good, "0.weight": np.ones((2, 3))})


# --------------------------------------------------------------------------- errors
def test_shape_errors_name_the_block() -> None:
    net = nets.Sequential([nets.Conv2d(3, 4, 3), nets.ReLU(), nets.Flatten(), nets.Linear(10, 2)])
    with pytest.raises(ValueError, match=r"block 0 \(Conv2d\(3, 4.*\) cannot take the network "
                       r"input of shape \(1, 8, 8\).*expects 3 input channels"):  # fmt: skip
        net.output_shapes((1, 8, 8))
    with pytest.raises(ValueError, match=r"block 3 \(Linear.*output of block 2 of shape \(144,\)"):
        net(np.zeros((2, 3, 8, 8)))
    with pytest.raises(ValueError, match="Conv2d expects inputs of shape"):
        nets.Conv2d(1, 1, 1).output_shape((1, 4))
    with pytest.raises(ValueError, match="dilated kernel 5 is larger than the padded input 4"):
        nets.Conv2d(1, 1, 5).output_shape((1, 4, 9))
    with pytest.raises(ValueError, match=r"MaxPool2d: input shape .* is too small"):
        nets.MaxPool2d(3).output_shape((1, 2, 8))
    with pytest.raises(ValueError, match="PReLU has 3 parameters but the input has 2 channels"):
        nets.PReLU(3).output_shape((2, 5))
    with pytest.raises(ValueError, match="x must be a batch"):
        net(np.zeros(3))
    with pytest.raises(ValueError, match="in_shape must have sizes >= 1"):
        net.output_shapes((3, 0, 8))


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: nets.Conv2d(0, 1, 3), ValueError, "Conv2d: in_channels must be >= 1"),
        (lambda: nets.Conv2d(3, 4, 3, groups=2), ValueError, "divisible by groups"),
        (lambda: nets.Conv2d(1, 1, 3, stride=0), ValueError, "Conv2d: stride must be >= 1"),
        (lambda: nets.Conv2d(1, 1, 3, padding="full"), ValueError, "Conv2d: padding must be"),
        (lambda: nets.Conv2d(1, 1, 3, stride=2, padding="same"), ValueError, "needs stride 1"),
        (lambda: nets.Conv2d(1, 1, 3, init="xavier"), ValueError, "Conv2d: init must be"),
        (lambda: nets.Conv2d(1, 1, 3, init=("normal", -1)), ValueError, "init std must be"),
        (lambda: nets.Conv2d(1, 1, 3, bias_std=-1.0), ValueError, "bias_std must be >= 0"),
        (lambda: nets.Linear(2, 2, init="torch", bias_std=1.0), ValueError, "does not apply"),
        (
            lambda: nets.Conv2d(1, 2, 3, weight=np.ones((2, 1, 3))),
            ValueError,
            r"Conv2d: weight must have shape \(2, 1, 3, 3\)",
        ),
        (
            lambda: nets.Conv1d(1, 2, 3, bias=False, bias_value=[1.0, 2.0]),
            ValueError,
            "bias_value was given but bias=False",
        ),
        (lambda: nets.Linear(2, 2, weight=np.ones((2, 2), complex)), TypeError, "complex"),
        (lambda: nets.Linear(2.5, 2), TypeError, "Linear: in_features must be an integer"),
        (lambda: nets.MaxPool2d(2, padding=2), ValueError, "at most half the kernel size"),
        (lambda: nets.MaxPool1d(2, ceil_mode=1), TypeError, "MaxPool1d: ceil_mode must be a bool"),
        (lambda: nets.BatchNorm2d(2, init="ones"), ValueError, "BatchNorm2d: init must be one of"),
        (lambda: nets.BatchNorm2d(2, running_var=[1.0, -1.0]), ValueError, "running_var"),
        (lambda: nets.BatchNorm2d(2, eps=-1.0), ValueError, "eps must be >= 0"),
        (lambda: nets.LeakyReLU(float("nan")), ValueError, "negative_slope must be finite"),
        (lambda: nets.Softplus(beta=0.0), ValueError, "beta must be nonzero"),
        (lambda: nets.GELU("erf"), ValueError, "GELU: approximate must be one of"),
        (lambda: nets.Flatten(0), ValueError, "must not be 0"),
        (lambda: nets.Permute(1, 0, 2), ValueError, "starting with 0"),
        (lambda: nets.Sequential(nets.ReLU()), TypeError, "a single block"),  # type: ignore[arg-type]
        (lambda: nets.Sequential([np.tanh]), TypeError, r"blocks\[0\] must be"),  # type: ignore[list-item]
        (lambda: nets.Sequential([], dtype=np.float16), ValueError, "dtype must be float32"),
        (lambda: nets.Sequential([], seed=-1), ValueError, "seed must be >= 0"),
        (lambda: nets.Sequential([], seed=1.5), TypeError, "seed must be an int seed"),
    ],
)
def test_construction_errors(make: Callable[[], object], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        make()


# --------------------------------------------------------------------------- PyTorch parity
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("case", "make", "shape"), BLOCK_CASES, ids=[c[0] for c in BLOCK_CASES])
def test_block_parity_torch(
    case: str, make: Callable[[], nets.Block], shape: tuple[int, ...], dtype: Any
) -> None:
    torch = pytest.importorskip("torch")
    net = nets.Sequential([make()], seed=4, dtype=dtype)
    x = np.random.default_rng(2).standard_normal((4, *shape)).astype(dtype)
    with torch.no_grad(), warnings.catch_warnings():
        # torch warns that it copies the input for padding="same" with an even kernel
        warnings.filterwarnings("ignore", message="Using padding='same'", category=UserWarning)
        want = net.to_torch()(torch.from_numpy(x)).numpy()
    got = net(x)
    assert got.dtype == want.dtype == dtype
    _close(got, want, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stack_parity_torch_and_from_torch(dtype: Any) -> None:
    torch = pytest.importorskip("torch")
    net = nets.Sequential(_stack(), seed=8, dtype=dtype)
    x = np.random.default_rng(3).standard_normal((5, 2, 10, 10)).astype(dtype)
    tnet = net.to_torch()
    assert isinstance(tnet, torch.nn.Sequential) and not tnet.training
    with torch.no_grad():
        want = tnet(torch.from_numpy(x)).numpy()
        hooks = [m(torch.from_numpy(x)) for m in [tnet[: i + 1] for i in range(len(tnet))]]
    _close(net(x), want, dtype)
    for ours, theirs in zip(net.forward_all(x), hooks, strict=True):
        _close(ours, theirs.numpy(), dtype)
    back = nets.Sequential.from_torch(tnet)
    assert back.dtype == dtype and repr(back) == repr(net)
    np.testing.assert_array_equal(back(x), net(x))


def test_load_torch_state_dict() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tnet = torch.nn.Sequential(
        torch.nn.Conv2d(2, 6, 3, padding=1), torch.nn.BatchNorm2d(6), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.Conv2d(6, 4, 3), torch.nn.PReLU(4),
        torch.nn.AvgPool2d(2, ceil_mode=True), torch.nn.Flatten(), torch.nn.Linear(16, 5),
        torch.nn.GELU(), torch.nn.Linear(5, 3), torch.nn.Tanh(),
    ).double().eval()  # fmt: skip
    with torch.no_grad():  # non-trivial running statistics
        tnet[1].running_mean.uniform_(-0.5, 0.5)
        tnet[1].running_var.uniform_(0.5, 2.0)
    net = nets.Sequential(_stack(), seed=0)
    net.load_state_dict(tnet.state_dict())  # tensors; num_batches_tracked ignored
    x = np.random.default_rng(4).standard_normal((3, 2, 10, 10))
    with torch.no_grad():
        want = tnet(torch.from_numpy(x)).numpy()
    _close(net(x), want, np.float64)


def test_from_torch_rejects_unsupported() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match=r"module 1: Dropout has no smpfast\.nets equivalent"):
        nets.Sequential.from_torch(torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Dropout()))
    with pytest.raises(ValueError, match="padding_mode 'reflect'"):
        nets.Sequential.from_torch(
            torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect"))
        )


def test_backends_agree() -> None:
    from smpfast import nn

    net = nets.Sequential(_stack(), seed=9)
    x = np.random.default_rng(5).standard_normal((2, 2, 10, 10))
    want = net(x, backend="numpy")
    for backend in nn.available_backends():
        _close(net(x, backend=backend), want, np.float64)


def test_import_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import sys, smpfast.nets; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- shape arithmetic
@given(
    kind=st.sampled_from(["conv2d", "conv1d", "max_pool2d", "avg_pool2d", "max_pool1d"]),
    k=st.integers(1, 4),
    stride=st.integers(1, 3),
    pad=st.integers(0, 3),
    dilation=st.integers(1, 2),
    ceil=st.booleans(),
    size=st.tuples(st.integers(1, 9), st.integers(1, 9)),
)
def test_output_shape_matches_torch(
    kind: str, k: int, stride: int, pad: int, dilation: int, ceil: bool, size: tuple[int, int]
) -> None:
    torch = pytest.importorskip("torch")
    dims = 1 if kind.endswith("1d") else 2
    block: nets.Block
    if kind.startswith("conv"):
        cls = nets.Conv2d if dims == 2 else nets.Conv1d
        block = cls(2, 3, k, stride=stride, padding=pad, dilation=dilation)
    elif kind.startswith("max"):
        pad = min(pad, k // 2)
        cls_p = nets.MaxPool2d if dims == 2 else nets.MaxPool1d
        block = cls_p(k, stride, pad, dilation, ceil_mode=ceil)
    else:
        block = nets.AvgPool2d(k, stride, min(pad, k // 2), ceil_mode=ceil)
    net = nets.Sequential([block], seed=0)
    in_shape = (2, *size[:dims])
    x = np.random.default_rng(0).standard_normal((1, *in_shape))
    try:
        shape = net.output_shapes(in_shape)[0]
    except ValueError:
        with pytest.raises((RuntimeError, ValueError)):
            net.to_torch()(torch.from_numpy(x))
        with pytest.raises(ValueError):  # the block itself refuses too
            block(x)
        return
    with torch.no_grad():
        want = net.to_torch()(torch.from_numpy(x)).numpy()
    assert shape == want.shape[1:]
    _close(net(x), want, np.float64)


def test_sequential_reset_parameters_keeps_explicit() -> None:
    fixed = np.full((2, 3), 0.5)
    net = nets.Sequential([nets.Linear(3, 2, weight=fixed), nets.ReLU(), nets.Linear(2, 2)], seed=3)
    fresh = nets.Sequential([nets.Linear(3, 2), nets.ReLU(), nets.Linear(2, 2)], seed=4)
    net.reset_parameters(4)
    np.testing.assert_array_equal(net[0].weight, fixed)
    np.testing.assert_array_equal(net[2].weight, fresh[2].weight)
    assert net.seed == 4


def test_from_torch_return_indices_rejected() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="return_indices=True is not supported"):
        nets.Sequential.from_torch(torch.nn.Sequential(torch.nn.MaxPool2d(2, return_indices=True)))


def test_docstring_examples() -> None:
    import doctest

    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in doctest.DocTestFinder().find(nets):
        runner.run(test)
    assert runner.failures == 0 and runner.tries > 20


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("alpha", [1.0, 0.3, -2.0])
def test_nn_elu_matches_torch(dtype: Any, alpha: float) -> None:
    torch = pytest.importorskip("torch")
    from smpfast import nn

    x = np.concatenate([np.linspace(-30, 5, 71), [0.0, -0.0, np.inf, -np.inf, np.nan]])
    x = x.astype(dtype)
    got = nn.elu(x, alpha)
    want = torch.nn.functional.elu(torch.from_numpy(x), alpha).numpy()
    assert got.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype], equal_nan=True)
    with pytest.raises(ValueError, match="elu: alpha must be finite"):
        nn.elu(x, np.inf)
    with pytest.raises(TypeError, match="alpha must be a real number"):
        nn.elu(x, "1")
