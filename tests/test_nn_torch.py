"""``smpfast.nn`` (the reference and every backend) against ``torch.nn.functional``.

Each block runs over 500 seeded random configurations (5 chunks of 100, the same
configurations for every backend): shapes, dtypes, strides, paddings (``"same"`` and
``"valid"`` included), dilations, groups, ``ceil_mode``, ``count_include_pad``,
unbatched input, ties, NaN and infinities where they matter. PyTorch gets C-contiguous
copies. Exact blocks (ReLU family, max pooling with its indices) must match bit for bit
(up to the sign of zero); the others within 1e-12 (float64) or 1e-5 (float32) of the
magnitude of their terms (see ``nn_cases.scale``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from nn_cases import BLOCKS, Case, check, make_case, require_nn, run, scale

torch = pytest.importorskip("torch")
F = torch.nn.functional

CHUNKS = 5
PER_CHUNK = 100


def _tensor(a: np.ndarray | None) -> object:
    return None if a is None else torch.from_numpy(np.array(a, order="C"))


def torch_result(case: Case) -> object:
    """The same block computed by PyTorch (max pooling: always with indices)."""
    args = [_tensor(a) for a in case.arrays]
    params = dict(case.params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # padding="same" with even kernels warns
        if case.block in ("relu", "tanh", "sigmoid"):
            out = getattr(torch, case.block)(*args)
        elif case.block == "batch_norm":
            out = F.batch_norm(*args, training=False, eps=params["eps"])
        elif case.block.startswith("max_pool"):
            want_indices = params.pop("return_indices")
            out, index = getattr(F, case.block)(*args, **params, return_indices=True)
            if want_indices:
                return out.numpy(), index.numpy()
        else:
            out = getattr(F, case.block)(*args, **params)
    result = out.numpy()
    if case.block == "gelu" and result.dtype == np.float32:
        # PyTorch's float32 GELU gives NaN at +inf (its vectorised erf); float64 gives
        # +inf, the limit, and so does smpfast in both dtypes.
        result = np.where(case.arrays[0] == np.inf, np.float32(np.inf), result)
    return result


@pytest.fixture
def nn_backend(backend: str) -> str:
    return require_nn(backend)


@pytest.mark.parametrize("chunk", range(CHUNKS))
@pytest.mark.parametrize("block", BLOCKS)
def test_matches_torch(block: str, chunk: int, nn_backend: str) -> None:
    rng = np.random.default_rng([BLOCKS.index(block), chunk, 20240611])
    for i in range(PER_CHUNK):
        case = make_case(block, rng)
        want = torch_result(case)
        got = run(case, nn_backend)
        check(got, want, case, scale(case), f"{nn_backend} case {chunk}:{i}")


def test_erf_within_one_ulp() -> None:
    """The vectorised erf behind GELU against math.erf (glibc): at most 1 ulp apart."""
    import math

    from smpfast.nn_reference import erf

    rng = np.random.default_rng(7)
    x = np.concatenate([
        rng.uniform(-7, 7, 20000), rng.standard_normal(20000), rng.uniform(-1e-3, 1e-3, 500),
        [0.0, -0.0, 1.0, -1.0, 2.0, 4.0, 6.0, 5.9, 1e-300, 5e-324, np.inf, -np.inf],
    ])  # fmt: skip
    want = np.array([math.erf(v) for v in x])
    got = erf(x)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    assert np.all(np.abs(got - want) <= np.spacing(np.abs(want)))
    assert np.isnan(erf(np.array([np.nan]))).all()
