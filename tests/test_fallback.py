"""Without the compiled extension smpfast warns once and falls back (fresh interpreters)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import smpfast

SCRIPT = textwrap.dedent(
    """
    import contextlib, io, json, sys, warnings
    for name in {hidden!r}:
        sys.modules[name] = None  # import of it now fails, as for a missing build
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import smpfast
        smpfast._backends.warn_if_extension_missing()  # once per process, not per call
    import numpy as np
    from smpfast import reference
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cfg = smpfast.show_config()
    rng = np.random.default_rng(0)
    results = []
    for dtype in (np.float64, np.float32):
        x = np.cumsum(rng.normal(size=(50, 6)), axis=0).astype(dtype)
        x[:, 2] = np.abs(np.linspace(-1.0, 1.0, 50))
        x[7, 5] = np.nan
        for mode in ("local", "run"):
            got = smpfast.smp_and_count(x, mode=mode)
            want = reference.smp_and_count(x, mode=mode)
            results.append([[a.tolist() for a in got], [a.tolist() for a in want]])
    print(json.dumps({{
        "warnings": [[w.category.__name__, str(w.message), w.filename] for w in caught],
        "show_config": out.getvalue(),
        "selected": cfg["selected_backend"],
        "cpp_available": cfg["backends"]["cpp"]["available"],
        "results": results,
    }}))
    """
)


def run_hidden(hidden):
    env = dict(os.environ)
    env.pop("SMPFAST_BACKEND", None)
    package_root = str(Path(smpfast.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([package_root, env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(hidden=hidden)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def check_fallback(report, expected_backend):
    assert len(report["warnings"]) == 1, report["warnings"]  # exactly once, nothing else
    category, message, filename = report["warnings"][0]
    assert category == "RuntimeWarning"
    assert "extension" in message
    assert filename == "<string>"  # attributed to the user's import statement
    lines = report["show_config"].splitlines()
    cpp_line = [line for line in lines if line.strip().startswith("backend cpp")]
    assert len(cpp_line) == 1 and "NOT available" in cpp_line[0], report["show_config"]
    assert report["cpp_available"] is False
    assert report["selected"] == expected_backend
    assert f"selected backend : {expected_backend}" in report["show_config"]
    for (smp, count), (smp_ref, count_ref) in report["results"]:
        smp, smp_ref = (np.array(s, dtype=float) for s in (smp, smp_ref))
        np.testing.assert_allclose(smp, smp_ref, rtol=1e-12, atol=0)  # NaN where NaN
        np.testing.assert_array_equal(count, count_ref)
        assert np.isnan(smp).sum() == 1 and max(count) > 0


@pytest.mark.parametrize("hidden", [["smpfast._core"], ["smpfast._core", "smpfast._cpp"]])
def test_numba_fallback_without_the_extension(hidden):
    pytest.importorskip("numba")
    check_fallback(run_hidden(hidden), "numba")


def test_numpy_fallback_without_extension_and_numba():
    check_fallback(run_hidden(["smpfast._core", "smpfast._numba"]), "numpy")
