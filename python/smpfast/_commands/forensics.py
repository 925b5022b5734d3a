"""``smpfast forensics``: fingerprint a model, detect piecewise linearity, write plots."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

NAME = "forensics"
HELP = "nonsmoothness fingerprint of a model (piecewise-linear or smooth?)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``smpfast forensics``."""
    parser.add_argument(
        "model", nargs="?",
        help="onet, onet-smooth, onet-nets, facemesh, minilm, a TorchScript file (.pt), a "
             "torch.export file (.pt2, run in float32) or module:callable",
    )
    parser.add_argument(
        "inputs", nargs="?", default="default",
        help="a .npy batch (N, ...) of inputs, or 'default' (built-in models' own inputs)",
    )
    parser.add_argument("-o", "--outdir", default=None, help="output directory")
    parser.add_argument("--demo", action="store_true",
                        help="trained-model study on rotated digits: table, ROC, plots")
    parser.add_argument("--paths", type=int, default=64, help="number of paths (default 64)")
    parser.add_argument("-T", "--frames", type=int, default=32,
                        help="samples per path at resolution 1 (default 32)")
    parser.add_argument("--path", default="linear",
                        choices=("linear", "gaussian", "shift", "brightness"))
    parser.add_argument("--resolutions", default="1,2,4",
                        help="refinement factors, comma-separated (default 1,2,4)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=2, help="--demo: seeds per model")
    parser.add_argument("--layers", action=argparse.BooleanOptionalAction, default=True,
                        help="also profile every layer (torch and smpfast.nets models)")
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="force the progress bars on or off (default: on a terminal)",
    )


def _load_model(spec: str) -> tuple[Any, Any, Any]:
    import importlib

    import numpy as np

    from ..forensics import models

    if spec in models.BUILTIN:
        return models.load(spec)
    if spec.endswith(".pt2") and os.path.exists(spec):
        import torch

        return torch.export.load(spec).module(), None, np.dtype(np.float32)
    if spec.endswith((".pt", ".pth")) and os.path.exists(spec):
        import warnings

        import torch

        with warnings.catch_warnings():  # TorchScript is deprecated in torch 2.13, not gone
            warnings.simplefilter("ignore", DeprecationWarning)
            jit: Any = torch.jit
            module = jit.load(spec, map_location="cpu").eval()
        return module, None, np.dtype(np.float64)
    if ":" in spec:
        mod_name, attr = spec.split(":", 1)
        obj: Any = importlib.import_module(mod_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj, None, np.dtype(np.float64)
    raise ValueError(
        f"MODEL must be one of {', '.join(models.BUILTIN)}, an existing TorchScript .pt file "
        f"or module:callable; got {spec!r}"
    )


def _run_demo(args: argparse.Namespace, outdir: str) -> int:
    import numpy as np

    from ..forensics import plots, study

    res = study.run_study(seeds=tuple(range(args.seeds)), n_paths=args.paths,
                          T=args.frames, progress=args.progress)
    print(res.table())
    by_model = {f"{r['activation']} (seed {r['seed']})": fp
                for r, fp in zip(res.rows, res.fingerprints, strict=True) if r["seed"] == 0}
    plots.plot_resolution(by_model, os.path.join(outdir, "resolution.png"))
    fpr, tpr = study.roc_curve(np.array([r["score"] for r in res.rows]),
                               np.array([r["piecewise_linear"] for r in res.rows]))
    pfpr, ptpr = study.roc_curve(res.path_scores, res.path_labels)
    plots.plot_roc({"models": (fpr, tpr, res.auc_models),
                    "single paths": (pfpr, ptpr, res.auc_paths)},
                   os.path.join(outdir, "roc.png"))
    for r, fp in zip(res.rows, res.fingerprints, strict=True):
        if r["seed"] == 0:
            plots.plot_trajectories(fp, os.path.join(outdir, f"trajectories_{r['activation']}.png"))
    from ..forensics.fingerprint import write_json_atomic

    write_json_atomic(os.path.join(outdir, "study.json"),
                      {"rows": res.rows, "auc_models": res.auc_models,
                       "auc_paths": res.auc_paths})
    print(f"wrote {outdir}/: study.json, roc.png, resolution.png, trajectories_*.png")
    return 0


def run(args: argparse.Namespace) -> int:
    """Fingerprint the model (or run the study) and write JSON and PNG files."""
    import numpy as np

    if args.paths < 1 or args.frames < 3 or args.batch_size < 1 or args.seeds < 1:
        raise ValueError("--paths, --batch-size and --seeds must be >= 1 and -T >= 3")
    try:
        resolutions = tuple(int(v) for v in args.resolutions.split(","))
    except ValueError:
        raise ValueError(f"--resolutions must be comma-separated integers; got "
                         f"{args.resolutions!r}") from None
    outdir = args.outdir or ("forensics-demo" if args.demo else f"forensics-{args.model}")
    os.makedirs(outdir, exist_ok=True)
    if args.demo:
        return _run_demo(args, outdir)
    if args.model is None:
        raise ValueError("give a MODEL (or --demo)")
    from ..forensics import detect, fingerprint, layer_profile, plots
    from ..forensics.fingerprint import write_json_atomic

    fn, default_inputs, dtype = _load_model(args.model)
    if args.inputs == "default":
        if default_inputs is None:
            raise ValueError("INPUTS: give a .npy batch of inputs for this model")
        x = default_inputs
    else:
        x = np.load(args.inputs, allow_pickle=False)
    fp = fingerprint(fn, x, n_paths=args.paths, T=args.frames, path=args.path,
                     resolutions=resolutions, batch_size=args.batch_size, seed=args.seed,
                     progress=args.progress, dtype=dtype)
    det = detect(fp)
    data = fp.to_dict()
    data["model"] = args.model
    data["detection"] = {"label": det.label, "score": det.score, "features": det.features}
    write_json_atomic(os.path.join(outdir, "fingerprint.json"), data)
    plots.plot_trajectories(fp, os.path.join(outdir, "trajectories.png"))
    plots.plot_resolution({args.model: fp}, os.path.join(outdir, "resolution.png"))
    written = ["fingerprint.json", "trajectories.png", "resolution.png"]
    torch = sys.modules.get("torch")
    scripted = torch is not None and isinstance(fn, torch.jit.ScriptModule)
    layered = (torch is not None and isinstance(fn, torch.nn.Module)) or hasattr(fn, "forward_all")
    if args.layers and scripted:
        print("layer profile skipped: TorchScript modules have no forward hooks")
    elif args.layers and layered:
        prof = layer_profile(fn, x, n_paths=min(args.paths, 8), T=args.frames, path=args.path,
                             batch_size=args.batch_size, seed=args.seed,
                             progress=args.progress, dtype=dtype)
        print(prof.table())
        write_json_atomic(os.path.join(outdir, "layers.json"), prof.to_dict())
        plots.plot_layer_profile(prof, os.path.join(outdir, "layers.png"))
        written += ["layers.json", "layers.png"]
    print(f"{args.model}: {fp.n_paths} {fp.path} paths, T={fp.T} (finest "
          f"{int(fp.resolution_T[-1])}), {fp.n_outputs} outputs")
    print("  " + ", ".join(f"{k} {v:.4g}" for k, v in fp.features.items()))
    print(f"  kink fraction {fp.kink_fraction:.3f}; SMP exponents run {fp.exponent_run:.3f}, "
          f"local {fp.exponent_local:.3f}")
    print(f"  detection: {det.label} (P(piecewise-linear) = {det.score:.4f})")
    print(f"wrote {outdir}/: {', '.join(written)}")
    return 0
