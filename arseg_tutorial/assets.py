"""Shipped artefacts in ``data/``: checkpoints, their manifest, training curves, sweep, ablation.

Introduced in notebook 05 (training curves, ablation) and notebook 06 (the sweep). The manifest
(``data/manifest.json``) records for every checkpoint its training config, sha256, metrics on the
test split, training time and the command that made it; ``python -m arseg_tutorial build-assets``
rebuilds everything (resumably, see ``arseg_tutorial.train.build``). A checkpoint file holds
``{"meta": ..., "state_dict": float16 weights}`` (``arseg_tutorial.checkpoint_file``): it is read
without running code, says what network it is, and loading checks that against what was asked;
``load_shipped`` also verifies the hash. Networks come back as float32, in eval mode.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from arseg_tutorial.atomic import atomic_path
from arseg_tutorial.checkpoint_file import (CheckpointFileError, CheckpointMismatchError, check_meta,
                                            describe, read_torch_file, split_network_file)
from arseg_tutorial.config import data_dir

MANIFEST_NAME = "manifest.json"
SWEEP_NAME = "sweep.json"
ABLATION_NAME = "ablation.json"
CURVES_NAME = "training_curves.json"
CHECKPOINT_FOLDER = "checkpoints"
BUILD_COMMAND = "python -m arseg_tutorial build-assets"
RESTORE_HINT = f"restore data/ with `git checkout -- data/` or rebuild it with `{BUILD_COMMAND}`"


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
        raise FileNotFoundError(f"{path} is missing; {RESTORE_HINT}")
    try:
        with open(path) as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON ({error}), so the shipped assets cannot be "
                         f"read; {RESTORE_HINT}") from None


def load_manifest(folder: Path | None = None) -> dict:
    """The manifest of the shipped checkpoints (see the module docstring)."""
    return read_json(MANIFEST_NAME, folder)


def export_state_dict(model: nn.Module, path: str | Path, meta: dict) -> str:
    """Save ``model``'s weights as float16 with their ``meta`` (atomically); returns the sha256.

    Args:
        meta: what the network is, from ``arseg_tutorial.checkpoint_file.network_meta`` (a
            ``TrainResult`` has it as ``.meta``).
    """
    from arseg_tutorial.train.checkpoint import atomic_torch_save

    state = {k: v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu()
             for k, v in model.state_dict().items()}
    atomic_torch_save({"meta": meta, "state_dict": state}, path)
    return sha256_of(path)


def shipped_file(folder: Path, entry: dict) -> Path:
    """The file of a manifest entry: a relative path inside ``folder`` (data/), never outside.

    Raises:
        ValueError: the entry names an absolute path or one that leaves ``folder`` (``..``).
        FileNotFoundError: the file is missing (data/ is incomplete).
    """
    name = Path(str(entry.get("file", "")))
    if not name.parts or name.is_absolute() or ".." in name.parts:
        raise ValueError(f"{folder / MANIFEST_NAME} names the file {str(name)!r}, which is not a "
                         f"path inside {folder}; manifest entries are file names in data/ only: "
                         f"{RESTORE_HINT}")
    path = folder / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing, so data/ is incomplete; {RESTORE_HINT}")
    return path


def verify_hashes(folder: Path | None = None) -> dict[str, bool]:
    """Checkpoint name -> whether its file is present, inside ``folder`` and of the manifest's sha256."""
    folder = folder or data_dir()
    manifest = load_manifest(folder)
    return {name: _matches(folder, entry) for name, entry in manifest["checkpoints"].items()}


def _matches(folder: Path, entry: dict) -> bool:
    try:
        return sha256_of(shipped_file(folder, entry)) == entry["sha256"]
    except (ValueError, FileNotFoundError):
        return False


def build_network(config: dict, with_creff: bool) -> nn.Module:
    """An untrained network shaped like the one a training config describes."""
    from arseg_tutorial.models import build_model_from_config

    model = build_model_from_config(config)
    if with_creff:
        model.add_creff(config.get("creff_kernel", 7), config.get("creff_variant", "paper"))
    return model


def _structure(model: nn.Module) -> dict:
    creff = getattr(model, "creff", None)
    stride = model.output_stride if model.__class__.__name__ == "BiSeNet18" else None
    return {"creff_kernel": creff.kernel if creff is not None else None, "output_stride": stride}


def load_weights(model: nn.Module, path: str | Path, asked: dict | None = None,
                 what: str = "checkpoint") -> nn.Module:
    """Load a saved network (``export_state_dict`` file, trainer checkpoint or plain state dict)
    into ``model`` (as float32); the file is read without running code.

    Args:
        asked: meta key -> value the caller needs (e.g. ``{"method": "hr", "profile": "ci"}``),
            checked against the file's ``meta`` (see ``checkpoint_file.check_meta``).
        what: what the file should be, for error messages.
    Raises:
        CheckpointFileError: the file is missing, damaged, foreign or unsafe.
        CheckpointMismatchError: it holds another network than ``model`` or than ``asked``.
    """
    state, meta = split_network_file(read_torch_file(path, what), path)
    if meta is not None and (meta.get("creff_kernel") is None) != (_structure(model)["creff_kernel"] is None):
        has = "has a CReFF module" if meta.get("creff_kernel") else "has no CReFF module"
        raise CheckpointMismatchError(
            f"{path} holds {describe(meta)} that {has}, but the network to load it "
            f"into {'has none' if _structure(model)['creff_kernel'] is None else 'has one'}; pass "
            f"--method {meta.get('method')}, or build the network from the file with "
            f"arseg_tutorial.assets.load_network")
    check_meta(path, meta, {**_structure(model), **(asked or {})})
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except RuntimeError as error:
        first = str(error).strip().splitlines()
        detail = next((line.strip() for line in first[1:] if line.strip()), first[0])
        raise CheckpointMismatchError(
            f"{path} does not fit this network ({detail[:160]}); it was made for another model, "
            f"width or profile: build the network from the file with "
            f"arseg_tutorial.assets.load_network, or pass the --profile it was trained with") from None
    return model.eval()


def load_network(path: str | Path, asked: dict | None = None,
                 what: str = "checkpoint") -> tuple[nn.Module, dict]:
    """The network a saved file describes, built from its ``meta`` and loaded: (model, meta).

    Introduced in notebook 05; use this for your own weights (``train --out`` files, trainer
    checkpoints): the CReFF window, width and classes come from the file.

    Raises:
        CheckpointFileError: as ``load_weights``; also a file without ``meta`` (a plain state
            dict: build the network yourself and use ``load_weights``).
    """
    state, meta = split_network_file(read_torch_file(path, what), path)
    if meta is None:
        raise CheckpointFileError(f"{path} is a plain state dict that does not say which network it "
                                  f"is; build the network yourself (assets.build_network) and use "
                                  f"assets.load_weights")
    model = build_network(meta["train_config"], with_creff=meta.get("creff_kernel") is not None)
    return load_weights(model, path, asked, what), meta


def load_shipped(name: str, folder: Path | None = None, asked: dict | None = None) -> nn.Module:
    """A shipped network by run name ("hr", "lr-0.5", "arseg-0.5", "arseg-0.5-no_fst", ...).

    The file's sha256 is checked against the manifest first; ``asked`` as in ``load_weights``.

    Raises:
        KeyError: no such checkpoint (the message lists the shipped ones).
        FileNotFoundError: the file is missing. ValueError: the file does not match its recorded
            hash, or the manifest points outside ``folder`` (see ``shipped_file``).
    """
    folder = folder or data_dir()
    entries = load_manifest(folder)["checkpoints"]
    if name not in entries:
        raise KeyError(f"no shipped checkpoint {name!r}; shipped: {sorted(entries)}")
    entry = entries[name]
    path = shipped_file(folder, entry)
    if sha256_of(path) != entry["sha256"]:
        raise ValueError(f"{path} does not match its sha256 in the manifest; {RESTORE_HINT}")
    return load_weights(build_network(entry["config"], entry["config"]["method"] == "arseg"), path,
                        asked=asked)


def load_method(method: str, scale: float = 0.5, ablation: str | None = None,
                folder: Path | None = None) -> tuple[nn.Module | None, nn.Module | None]:
    """The shipped (HR network, LR network) of a method: ("hr": (HR, None); "lr": (None, LR-only);
    "arseg": (HR, AR-Seg LR branch with CReFF))."""
    from arseg_tutorial.train.recipes import run_name

    hr = load_shipped("hr", folder) if method in ("hr", "arseg") else None
    lr = None if method == "hr" else load_shipped(run_name(method, scale, ablation), folder)
    return hr, lr
