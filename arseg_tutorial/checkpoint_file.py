"""Saved networks: read ``.pt`` files without running code, and say what a network is.

Introduced in notebook 05. Every file this package writes (the shipped float16 weights, trainer
checkpoints, ``train --out`` exports) is a ``torch.save`` zip archive holding only tensors,
numbers, strings, lists and dicts, so it is read with ``torch.load(weights_only=True)``: an
unpickler that builds those types and refuses everything else (a crafted file cannot run code).
Before that, the file is checked to be a complete zip archive, so an empty, truncated, JSON or
random file is named with what is wrong instead of a raw unpickling error.

Each saved network carries ``meta``, a JSON-ready dict of what it is (``network_meta``): model,
width, classes, CReFF window and variant, method, LR scale, profile, its own weights' sha256 and,
for LR-only and AR-Seg, the sha256 of the HR teacher it was trained from, plus the whole training
config (so fields added to ``TrainConfig`` later are recorded too). ``check_meta`` compares it with
what the caller asks for and fails with a sentence naming both and the flag that fixes it.
"""
from __future__ import annotations

import hashlib
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

#: ``meta["format"]`` of files written by this package; bump the version if the layout changes
FORMAT_NAME = "arseg-tutorial network"
FORMAT_VERSION = 1
ZIP_SIGNATURE = b"PK\x03\x04"


class CheckpointFileError(ValueError):
    """A file that is not a readable checkpoint (missing, empty, damaged, foreign or unsafe)."""


class CheckpointMismatchError(ValueError):
    """A checkpoint that is not the network the caller asked for."""


def _describe_foreign(path: Path, head: bytes, what: str) -> str:
    if head.lstrip()[:1] in (b"{", b"["):
        return f"{path} is a JSON/text file, not a PyTorch {what} (.pt); check the path"
    if head[:1] == b"\x80":
        return (f"{path} is a raw pickle or PyTorch's legacy (pre-1.6) format, which is refused "
                f"because reading it can run code; re-save its tensors with torch.save in a "
                f"current PyTorch")
    return (f"{path} is not a PyTorch {what} (.pt): it does not start with the zip signature "
            f"torch.save writes; check the path")


def read_torch_file(path: str | Path, what: str = "checkpoint",
                    map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(path, weights_only=True)`` after checking that ``path`` is a whole archive.

    Args:
        path: a ``.pt`` file written by ``torch.save``.
        what: what the file should be, for the messages ("checkpoint", "HR checkpoint", ...).
    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointFileError: a folder, an empty, truncated, foreign or unsafe file; one sentence
            that names the file and what is wrong.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no {what} at {path}; check the path, train one with `python -m "
                                f"arseg_tutorial train ...` or use the shipped ones (arseg_tutorial.assets)")
    if path.is_dir():
        raise CheckpointFileError(f"{path} is a folder, not a {what} file; pass the .pt file itself")
    if path.stat().st_size == 0:
        raise CheckpointFileError(f"{path} is empty (0 bytes), so it holds no {what} (probably cut "
                                  f"short while being written); delete it and write it again")
    with open(path, "rb") as handle:
        head = handle.read(16)
    if not head.startswith(ZIP_SIGNATURE):
        raise CheckpointFileError(_describe_foreign(path, head, what))
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise CheckpointFileError(f"{path} is truncated or damaged ({error}), so it is not a "
                                  f"readable {what}; delete it and write it again") from None
    if damaged is not None:
        raise CheckpointFileError(f"{path} is damaged (its entry {damaged} fails its checksum); "
                                  f"delete it and write it again")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        reason = str(error).strip().splitlines()[0][:200]
        raise CheckpointFileError(
            f"{path} contains Python objects other than tensors and plain values ({reason}); it "
            f"is refused because loading it could run code: only load {what}s written by "
            f"arseg_tutorial or plain torch.save(state_dict) files") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile) as error:
        reason = str(error).strip().splitlines()[0][:200]
        raise CheckpointFileError(f"{path} is not a readable {what} ({reason}); delete it and "
                                  f"write it again") from None


def weights_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """A hash of a network's weights at the shipped precision (float16), in key order.

    A float32 network and its float16 export hash the same, so an AR-Seg checkpoint can name
    its HR teacher whichever file the teacher is read from.
    """
    digest = hashlib.sha256()
    for key, value in state_dict.items():
        value = value.detach().cpu()
        value = value.half() if value.is_floating_point() else value
        digest.update(f"{key}:{value.dtype}:{tuple(value.shape)};".encode())
        digest.update(value.reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def network_meta(config: dict, *, profile: str | None, has_creff: bool,
                 state_dict: dict[str, torch.Tensor], hr_sha256: str | None = None) -> dict:
    """What a saved network is (JSON-ready; see the module docstring).

    Args:
        config: the training config as a dict (``TrainConfig.to_dict()``); every field is kept.
        profile: the profile it was trained for (None if unknown).
        has_creff: whether the network has a CReFF module (AR-Seg's LR branch).
        state_dict: its weights (hashed with ``weights_sha256``).
        hr_sha256: ``weights_sha256`` of the HR teacher (LR-only and AR-Seg).
    """
    return {
        "format": FORMAT_NAME, "format_version": FORMAT_VERSION,
        "model": config["model"], "net_width": config["net_width"],
        "num_classes": config["num_classes"], "method": config["method"],
        "scale": config.get("scale", 1.0), "profile": profile,
        "creff_kernel": config.get("creff_kernel") if has_creff else None,
        "creff_variant": config.get("creff_variant") if has_creff else None,
        "output_stride": config.get("output_stride", 8) if config["model"] == "bisenet18" else None,
        "hr_sha256": hr_sha256, "weights_sha256": weights_sha256(state_dict),
        "train_config": dict(config),
    }


#: meta key -> how a user changes what is asked for
FIX_FLAGS = {"profile": "--profile {found}", "method": "--method {found}",
             "scale": "--scale {found:g}", "net_width": "a network of width {found:g}",
             "model": "a {found} network", "num_classes": "a network with {found} classes",
             "creff_kernel": "a CReFF window of {found} (build the network from the file: "
                             "arseg_tutorial.assets.load_network)",
             "creff_variant": "CReFF variant {found} (build the network from the file: "
                              "arseg_tutorial.assets.load_network)",
             "output_stride": "a network of output stride {found} (build the network from the "
                              "file: arseg_tutorial.assets.load_network)",
             "hr_sha256": "--hr-checkpoint with the HR weights it was trained from (sha256 "
                          "{found_short})"}


def describe(meta: dict) -> str:
    """A few words on a saved network, e.g. "an arseg network at scale 0.5, profile laptop"."""
    scale = f" at scale {meta.get('scale'):g}" if meta.get("method") in ("lr", "arseg") else ""
    return (f"a {meta.get('method')} {meta.get('model')} network{scale}, width "
            f"{meta.get('net_width')}, profile {meta.get('profile')}")


def _show(key: str, value: Any) -> str:
    if key == "hr_sha256" and isinstance(value, str):
        return f"HR teacher {value[:12]}"
    return f"{key} {value}"


def check_meta(path: str | Path, meta: dict | None, asked: dict[str, Any],
               fixes: dict[str, str] | None = None) -> None:
    """Raise ``CheckpointMismatchError`` if ``meta`` records another value for any key of ``asked``.

    Keys that ``meta`` does not record (None or absent) are not checked.

    Args:
        path: the file, for the message.
        meta: the file's ``meta`` (None for files without one).
        asked: meta key -> the value the caller needs.
        fixes: meta key -> the fix to suggest (default ``FIX_FLAGS``; ``{found}`` is the file's
            value).
    """
    if not meta:
        return
    fixes = {**FIX_FLAGS, **(fixes or {})}
    for key, wanted in asked.items():
        found = meta.get(key)
        if found is None or wanted is None or found == wanted:
            continue
        if isinstance(found, float) or isinstance(wanted, float):
            if abs(float(found) - float(wanted)) < 1e-9:
                continue
        fix = fixes.get(key, "the matching setting").format(
            found=found, found_short=str(found)[:12])
        raise CheckpointMismatchError(
            f"{path} was made for {_show(key, found)} ({describe(meta)}), but "
            f"{_show(key, wanted)} was asked for; pass {fix}")


def check_weights(path: str | Path, state_dict: dict[str, torch.Tensor], meta: dict | None) -> None:
    """Refuse weights that are not finite, or that are not the weights ``meta`` records.

    Raises:
        CheckpointFileError: a tensor holds NaN or infinite values (named), or the weights'
            ``weights_sha256`` differs from ``meta["weights_sha256"]`` (the file was changed after
            it was written).
    """
    for key, value in state_dict.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not torch.isfinite(value).all():
            bad = int((~torch.isfinite(value)).sum())
            raise CheckpointFileError(
                f"{path} holds {bad} NaN or infinite value(s) in tensor {key!r}, so the network "
                f"would compute nothing meaningful (training diverged or the file was damaged); "
                f"train it again or restore the file")
    recorded = (meta or {}).get("weights_sha256")
    if recorded is not None and recorded != weights_sha256(state_dict):
        raise CheckpointFileError(
            f"{path} holds weights whose sha256 ({weights_sha256(state_dict)[:12]}) is not the "
            f"one its meta records ({str(recorded)[:12]}): the weights were changed after the file "
            f"was written; restore the file, or train and export it again")


def split_network_file(state: Any, path: str | Path) -> tuple[dict[str, torch.Tensor], dict | None]:
    """(state dict, meta or None) of a loaded network file or trainer checkpoint, after
    ``check_weights`` (finite, and the weights its meta records).

    Raises:
        CheckpointFileError: the file holds something else, non-finite or altered weights.
    """
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        weights, meta = state["state_dict"], state.get("meta")
    elif isinstance(state, dict) and isinstance(state.get("model"), dict):
        weights, meta = state["model"], state.get("meta")
    elif isinstance(state, dict) and state and all(isinstance(v, torch.Tensor) for v in state.values()):
        weights, meta = state, None
    else:
        raise CheckpointFileError(f"{path} holds no network weights (expected a state dict, a file "
                                  f"from arseg_tutorial.assets.export_state_dict or a trainer "
                                  f"checkpoint)")
    check_weights(path, weights, meta if isinstance(meta, dict) else None)
    return weights, meta
