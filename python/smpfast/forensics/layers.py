"""SMP after every layer of a network along smooth paths: where nonsmoothness is born.

Works on a torch ``nn.Module`` (forward hooks on its leaf modules, in call order) or on
an :class:`smpfast.nets.Sequential` (:meth:`~smpfast.nets.Sequential.forward_all`). The
paths are those of :func:`smpfast.forensics.fingerprint` with the same arguments and
seed; row 0 of the profile is the input path itself.
"""

from __future__ import annotations

import operator
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _validate
from .._progress import Progress
from . import _analysis
from ._fn import convert_module
from ._paths import PATH_KINDS, build_paths
from .fingerprint import _inputs

__all__ = ["LayerProfile", "layer_profile"]


@dataclass
class LayerProfile:
    """Per-layer SMP statistics (one entry per layer; entry 0 is the input).

    Attributes
    ----------
    names : list of str
        ``"input"``, then the layers (``"index:Type"`` for nets, module names for torch).
    shapes : list of tuple of int
        Per-sample shape of each layer's output.
    smp_run, smp_local : numpy.ndarray
        Mean over paths and elements of the SMP per unit path parameter.
    kink_share : numpy.ndarray
        Share of run-mode SMP carried by sharp kinks (pooled over paths and elements).
    active_fraction : numpy.ndarray
        Fraction of (path, element) signals with at least one run-mode peak.
    peaks_per_element : numpy.ndarray
        Mean run-mode peak count per element and path.
    n_paths, T : int
    path : str
    """

    names: list[str]
    shapes: list[tuple[int, ...]]
    smp_run: np.ndarray
    smp_local: np.ndarray
    kink_share: np.ndarray
    active_fraction: np.ndarray
    peaks_per_element: np.ndarray
    n_paths: int
    T: int
    path: str

    def table(self) -> str:
        """The profile as a fixed-width text table."""
        head = (f"{'layer':<24} {'shape':<16} {'SMP run':>11} {'SMP local':>11} "
                f"{'kink share':>10} {'active':>7} {'peaks':>7}")
        rows = [head, "-" * len(head)]
        for i, name in enumerate(self.names):
            rows.append(
                f"{name[:24]:<24} {str(self.shapes[i])[:16]:<16} {self.smp_run[i]:11.4g} "
                f"{self.smp_local[i]:11.4g} {self.kink_share[i]:10.3f} "
                f"{self.active_fraction[i]:7.3f} {self.peaks_per_element[i]:7.3f}"
            )
        return "\n".join(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {
            "names": list(self.names), "shapes": [list(s) for s in self.shapes],
            "smp_run": self.smp_run.tolist(), "smp_local": self.smp_local.tolist(),
            "kink_share": self.kink_share.tolist(),
            "active_fraction": self.active_fraction.tolist(),
            "peaks_per_element": self.peaks_per_element.tolist(),
            "n_paths": self.n_paths, "T": self.T, "path": self.path,
        }


_Runner = Callable[[np.ndarray], list[tuple[str, np.ndarray]]]


def _torch_runner(model: Any, dtype: np.dtype[Any]) -> _Runner:
    torch = sys.modules["torch"]
    module = convert_module(model, torch.float64 if dtype == np.float64 else torch.float32)
    leaves = [(n, m) for n, m in module.named_modules() if not list(m.children())]
    if not leaves:
        leaves = [("model", module)]
    record: list[tuple[str, np.ndarray]] = []

    def hook(name: str) -> Callable[..., None]:
        def f(_mod: Any, _inp: Any, out: Any) -> None:
            if hasattr(out, "detach"):
                record.append((name, out.detach().cpu().numpy()))
            elif isinstance(out, (tuple, list)) and out and hasattr(out[0], "detach"):
                record.append((name, out[0].detach().cpu().numpy()))
        return f

    for name, m in leaves:
        m.register_forward_hook(hook(name))

    def run(x: np.ndarray) -> list[tuple[str, np.ndarray]]:
        record.clear()
        with torch.no_grad():
            module(torch.from_numpy(np.ascontiguousarray(x, dtype=dtype)))
        return list(record)

    return run


def _nets_runner(model: Any) -> _Runner:
    names = [f"{i}:{type(b).__name__}" for i, b in enumerate(model.blocks)]

    def run(x: np.ndarray) -> list[tuple[str, np.ndarray]]:
        return list(zip(names, model.forward_all(x), strict=True))

    return run


def layer_profile(
    model: Any,
    inputs: Any,
    *,
    n_paths: int = 16,
    T: int = 64,
    path: str = "linear",
    batch_size: int = 256,
    seed: int = 0,
    progress: bool | None = True,
    radius: float = 0.5,
    dtype: Any = np.float64,
    tol: float | None = None,
) -> LayerProfile:
    """SMP statistics after every layer of ``model`` along smooth paths around ``inputs``.

    Parameters
    ----------
    model : torch.nn.Module or smpfast.nets.Sequential
        Torch modules are copied, set to eval mode and run in ``dtype``; every leaf
        module's output is recorded by a forward hook (a module called twice appears
        twice).
    inputs : array_like
        (N, ...) inputs the paths are built around.
    n_paths, T, path, batch_size, seed, progress, radius, dtype, tol
        As in :func:`smpfast.forensics.fingerprint` (one resolution only).

    Returns
    -------
    LayerProfile

    Examples
    --------
    >>> import numpy as np
    >>> from smpfast import nets, forensics
    >>> net = nets.Sequential([nets.Linear(3, 8), nets.ReLU(), nets.Linear(8, 2)], seed=0)
    >>> x = np.random.default_rng(0).standard_normal((8, 3))
    >>> prof = forensics.layer_profile(net, x, n_paths=4, T=32, progress=False)
    >>> prof.names
    ['input', '0:Linear', '1:ReLU', '2:Linear']
    >>> bool(prof.smp_run[1] == 0.0 and prof.smp_run[2] > 0.0)
    True
    """
    path = _validate.choice(path, PATH_KINDS, "path")
    n_paths = _validate.positive_int(n_paths, "n_paths")
    T = _validate.positive_int(T, "T")
    if T < 3:
        raise ValueError(f"T must be >= 3; got {T}")
    batch_size = _validate.positive_int(batch_size, "batch_size")
    seed = operator.index(seed)
    radius = _validate.nonnegative(radius, "radius")
    np_dtype = np.dtype(dtype)
    if np_dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64; got {np_dtype}")
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(model, torch.jit.ScriptModule):
        raise TypeError("model is a TorchScript module, which has no forward hooks; profile "
                        "the original torch.nn.Module instead")
    if torch is not None and isinstance(model, torch.nn.Module):
        run = _torch_runner(model, np_dtype)
    elif hasattr(model, "forward_all") and hasattr(model, "blocks"):
        run = _nets_runner(model)
    else:
        raise TypeError(
            "model must be a torch.nn.Module or an smpfast.nets.Sequential; got "
            f"{type(model).__name__}"
        )
    x = _inputs(inputs, path, np_dtype)
    paths = build_paths(x, path, n_paths, np.random.default_rng(seed), radius)
    s = np.linspace(0.0, 1.0, T)
    names: list[str] = []
    shapes: list[tuple[int, ...]] = []
    acc: np.ndarray | None = None  # per layer: run, local, kink, active, peaks, elements
    with Progress(n_paths * T, f"layer profile ({path})", enabled=progress) as bar:
        for p in range(n_paths):
            xp = paths.at(p, s).astype(np_dtype)
            pieces = [run(xp[a:a + batch_size]) for a in range(0, T, batch_size)]
            layers = [("input", xp)] + [
                (name, np.concatenate([pc[i][1] for pc in pieces], axis=0))
                for i, (name, _) in enumerate(pieces[0])
            ]
            if acc is None:
                names = [n for n, _ in layers]
                shapes = [tuple(int(v) for v in a.shape[1:]) for _, a in layers]
                acc = np.zeros((len(layers), 6))
            elif len(layers) != len(names):
                raise ValueError(
                    f"model recorded {len(layers) - 1} layer outputs on path {p} but "
                    f"{len(names) - 1} on earlier paths; its forward pass must not change"
                )
            for i, (_, a) in enumerate(layers):
                sig = np.ascontiguousarray(a.reshape(T, -1).T)
                if sig.dtype.kind != "f":
                    sig = sig.astype(np.float64)
                sig = _analysis.lift(sig)
                runv, nrun, loc, _ = _analysis.smp_pair(sig, tol, 0.0)
                kink, _ = _analysis.kink_stats(sig, tol)
                acc[i] += (runv.sum(), loc.sum(), kink.sum(), np.count_nonzero(nrun),
                           nrun.sum(), sig.shape[0])
            bar.update(T)
    assert acc is not None
    scale = float(T - 1)
    elems = np.maximum(acc[:, 5], 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(acc[:, 0] > 0, acc[:, 2] / acc[:, 0], 0.0)
    return LayerProfile(
        names=names, shapes=shapes,
        smp_run=acc[:, 0] * scale / elems, smp_local=acc[:, 1] * scale / elems,
        kink_share=share, active_fraction=acc[:, 3] / elems, peaks_per_element=acc[:, 4] / elems,
        n_paths=n_paths, T=T, path=path,
    )
