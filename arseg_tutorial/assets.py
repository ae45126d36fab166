"""Shipped artefacts in ``data/``: checkpoints, their manifest, training curves, sweep, ablation.

Introduced in notebook 05 (training curves, ablation) and notebook 06 (the sweep). The manifest
(``data/manifest.json``) records for every checkpoint its training config, sha256, metrics on the
test split, training time and the command that made it; ``python -m arseg_tutorial build-assets``
rebuilds everything (resumably, see ``arseg_tutorial.train.build``). Checkpoints are float16
state dicts; loading verifies the hash and returns float32 networks in eval mode.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from arseg_tutorial.atomic import atomic_path
from arseg_tutorial.config import data_dir, get_profile

MANIFEST_NAME = "manifest.json"
SWEEP_NAME = "sweep.json"
ABLATION_NAME = "ablation.json"
CURVES_NAME = "training_curves.json"
CHECKPOINT_FOLDER = "checkpoints"
BUILD_COMMAND = "python -m arseg_tutorial build-assets"


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to a temporary file, then ``os.replace`` onto ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=False)
        f.write("\n")
    return path


def read_json(name: str, folder: Path | None = None) -> dict:
    """A JSON file of ``data/`` (``manifest.json``, ``sweep.json``, ...).

    Raises:
        FileNotFoundError: with the command that builds it.
    """
    path = (folder or data_dir()) / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; rebuild the shipped assets with `{BUILD_COMMAND}`")
    with open(path) as f:
        return json.load(f)


def load_manifest(folder: Path | None = None) -> dict:
    """The manifest of the shipped checkpoints (see the module docstring)."""
    return read_json(MANIFEST_NAME, folder)


def export_state_dict(model: nn.Module, path: str | Path) -> str:
    """Save ``model``'s weights as a float16 state dict (atomically); returns its sha256."""
    from arseg_tutorial.train.checkpoint import atomic_torch_save

    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    atomic_torch_save(state, path)
    return sha256_of(path)


def verify_hashes(folder: Path | None = None) -> dict[str, bool]:
    """Checkpoint name -> whether its file's sha256 matches the manifest."""
    folder = folder or data_dir()
    manifest = load_manifest(folder)
    return {name: (folder / entry["file"]).is_file() and sha256_of(folder / entry["file"]) == entry["sha256"]
            for name, entry in manifest["checkpoints"].items()}


def build_network(config: dict, with_creff: bool) -> nn.Module:
    """An untrained network shaped like the one a training config describes."""
    from arseg_tutorial.models import build_model

    model = build_model(config["model"], config["num_classes"], config["net_width"])
    if with_creff:
        model.add_creff(config.get("creff_kernel", 7), config.get("creff_variant", "paper"))
    return model


def load_weights(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a shipped float16 state dict or a trainer checkpoint into ``model`` (as float32)."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    if "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return model.eval()


def load_shipped(name: str, folder: Path | None = None) -> nn.Module:
    """A shipped network by run name ("hr", "lr-0.5", "arseg-0.5", "arseg-0.5-no_fst", ...).

    The file's sha256 is checked against the manifest first.

    Raises:
        KeyError: no such checkpoint (the message lists the shipped ones).
        ValueError: the file does not match its recorded hash.
    """
    folder = folder or data_dir()
    entries = load_manifest(folder)["checkpoints"]
    if name not in entries:
        raise KeyError(f"no shipped checkpoint {name!r}; shipped: {sorted(entries)}")
    entry = entries[name]
    path = folder / entry["file"]
    if sha256_of(path) != entry["sha256"]:
        raise ValueError(f"{path} does not match its sha256 in the manifest; restore it with git "
                         f"or rebuild with `{BUILD_COMMAND}`")
    return load_weights(build_network(entry["config"], entry["config"]["method"] == "arseg"), path)


def load_method(method: str, scale: float = 0.5, ablation: str | None = None,
                folder: Path | None = None) -> tuple[nn.Module | None, nn.Module | None]:
    """The shipped (HR network, LR network) of a method: ("hr": (HR, None); "lr": (None, LR-only);
    "arseg": (HR, AR-Seg LR branch with CReFF))."""
    from arseg_tutorial.train.recipes import run_name

    hr = load_shipped("hr", folder) if method in ("hr", "arseg") else None
    lr = None if method == "hr" else load_shipped(run_name(method, scale, ablation), folder)
    return hr, lr


def get_or_train(method: str, scale: float = 0.5, ablation: str | None = None,
                 profile_name: str | None = None, progress: bool = True) -> nn.Module:
    """The network of a run: shipped if the profile is the shipped one, else trained (and cached).

    Introduced in notebook 05. Training resumes from the cache, so a second call is instant.
    """
    from arseg_tutorial.train.build import train_shipped_run
    from arseg_tutorial.train.recipes import run_name

    profile = get_profile(profile_name)
    name = run_name(method, scale, ablation)
    try:
        manifest = load_manifest()
        if manifest["profile"] == profile.name and name in manifest["checkpoints"]:
            return load_shipped(name)
    except FileNotFoundError:
        pass
    return train_shipped_run(profile, name, progress=progress).model
