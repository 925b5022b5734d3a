"""The C++ thread pool: concurrent callers, repeated calls, and fork safety."""

from __future__ import annotations

import multiprocessing
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import smpfast


def _cpp_or_skip() -> None:
    if "cpp" not in smpfast.available_backends():
        pytest.skip("the compiled extension is not available")


def _data() -> np.ndarray:
    # large enough that the kernels use 2 threads (>= 2 * 2**18 samples)
    return np.random.default_rng(7).standard_normal((256, 64, 64)).astype(np.float32)


def test_concurrent_python_threads_get_the_same_results() -> None:
    _cpp_or_skip()
    x = _data()
    smpfast.set_num_threads(2)
    want = smpfast.smp_and_count(x, 0, backend="numpy")
    with ThreadPoolExecutor(4) as pool:  # the pool is busy for all but one caller
        results = list(pool.map(lambda _: smpfast.smp_and_count(x, 0, backend="cpp"), range(16)))
    for smp, count in results:
        np.testing.assert_array_equal(count, want[1])
        np.testing.assert_allclose(smp, want[0], rtol=1e-12)


def test_many_back_to_back_calls() -> None:
    _cpp_or_skip()
    x = _data()
    smpfast.set_num_threads(2)
    first = smpfast.smp(x, 0, mode="run", backend="cpp")
    for _ in range(50):
        np.testing.assert_array_equal(smpfast.smp(x, 0, mode="run", backend="cpp"), first)


def _child(queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    x = _data()
    queue.put(float(smpfast.smp(x, 0, backend="cpp").sum()))


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_forked_child_can_use_the_pool() -> None:
    _cpp_or_skip()
    x = _data()
    smpfast.set_num_threads(2)
    want = float(smpfast.smp(x, 0, backend="cpp").sum())  # pool threads exist now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue,))
    proc.start()
    proc.join(timeout=60)
    assert proc.exitcode == 0, "forked child failed or hung"
    assert queue.get(timeout=5) == pytest.approx(want, rel=1e-12)


def test_small_thread_stack_does_not_crash() -> None:
    """The stack-case kernel keeps ~140 KiB of lane states on the stack when there is room;
    a Python thread with a 64 KiB stack must get the smaller path, not a segfault."""
    _cpp_or_skip()
    import subprocess

    code = (
        "import threading, numpy as np, smpfast\n"
        "x = np.random.default_rng(0).standard_normal((64, 128, 128)).astype(np.float32)\n"
        "want = smpfast.smp(x, 0, backend='numpy')\n"
        "threading.stack_size(64 * 1024)\n"
        "out = {}\n"
        "t = threading.Thread(target=lambda: out.update(r=smpfast.smp(x, 0, backend='cpp')))\n"
        "t.start(); t.join()\n"
        "assert np.allclose(out['r'], want, rtol=1e-12)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
