"""Atomic, resumable training checkpoints: model, optimiser, scheduler, step, RNG states, history.

Introduced in notebook 05. A checkpoint is written to a temporary file next to its target and
moved into place with ``os.replace``, so an interrupted write never leaves a half-written file;
``load_checkpoint`` restores everything needed to continue a run exactly where it stopped.
Everything stored is a tensor or a plain value (RNG states included), so a checkpoint is read with
``torch.load(weights_only=True)`` and a crafted file cannot run code (see
``arseg_tutorial.checkpoint_file``); its ``meta`` says which network it holds.
"""
from __future__ import annotations

import errno
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from arseg_tutorial.atomic import atomic_path
from arseg_tutorial.checkpoint_file import CheckpointFileError, read_torch_file, split_network_file


def rng_state() -> dict[str, Any]:
    """The states of Python's, NumPy's and PyTorch's global generators, as plain values and
    tensors (what ``torch.load(weights_only=True)`` reads)."""
    version, internal, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = np.random.get_state()
    return {"python": [version, torch.tensor(internal, dtype=torch.int64), gauss],
            "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)),
                      "position": int(position), "has_gauss": int(has_gauss),
                      "cached_gaussian": float(cached)},
            "torch": torch.get_rng_state()}


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore generator states saved by ``rng_state``."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(int(v) for v in internal.tolist()), gauss))
    numpy = state["numpy"]
    np.random.set_state((numpy["kind"], numpy["keys"].numpy().astype(np.uint32), numpy["position"],
                         numpy["has_gauss"], numpy["cached_gaussian"]))
    torch.set_rng_state(state["torch"])


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to a temporary file in the target's folder, then ``os.replace`` onto ``path``.

    The file is written through an open file object: given a file *name*, ``torch.save`` names
    the folder inside its zip archive after it, so the random temporary name would make the
    same weights hash differently on every save.
    """
    path = Path(path)
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            torch.save(obj, handle)
    except (RuntimeError, OSError) as error:
        if not _out_of_space(error, path):
            raise
        raise OSError(errno.ENOSPC, f"no space left on the device to write {path}; the previous "
                      f"file there (if any) is kept: free some space and run again") from None
    return path


def _out_of_space(error: BaseException, path: Path) -> bool:
    """Whether a failed write was (most likely) a full disk: ENOSPC, or torch's zip writer
    failing ("enforce fail at inline_container") while the device has little space left."""
    import shutil

    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return True
    if isinstance(error, RuntimeError) and "inline_container" in str(error):
        return shutil.disk_usage(path.parent).free < 64 * 2**20
    return False


def save_checkpoint(path: str | Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, step: int, history: list[dict[str, float]],
                    config: dict[str, Any], meta: dict[str, Any], seconds: float = 0.0,
                    validation: dict[str, Any] | None = None,
                    best_model: dict[str, torch.Tensor] | None = None) -> Path:
    """Write a resumable checkpoint atomically.

    Args:
        path: target file (``.pt``).
        model, optimizer, scheduler: their ``state_dict()`` is stored.
        step: optimisation steps completed so far.
        history: per-step loss records so far.
        config: the training configuration as a plain dict (checked again on resume).
        meta: what the network is (``checkpoint_file.network_meta``; checked again on resume).
        seconds: training wall-clock time so far.
        validation: the run's ``plateau.ValidationRecord.to_dict()`` (runs that validate).
        best_model: the state dict of the best validation evaluation so far.
    Returns:
        The path written.
    """
    return atomic_torch_save({
        "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(), "step": step, "history": list(history),
        "config": dict(config), "meta": dict(meta), "seconds": float(seconds), "rng": rng_state(),
        "validation": dict(validation or {}), "best_model": best_model,
    }, path)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint``, without running code from the file.

    Raises:
        FileNotFoundError: no file at ``path``, with a hint on how to make one.
        CheckpointFileError: a folder, an empty, damaged, foreign or unsafe file, a file that
            is not a trainer checkpoint, or one whose weights are not finite or not those its
            ``meta`` records (one sentence naming the file and what is wrong).
    """
    state = read_torch_file(path, "trainer checkpoint", map_location)
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise CheckpointFileError(f"{path} is not a resumable trainer checkpoint (it lacks "
                                  f"{', '.join(missing)}); pass a file written by `python -m "
                                  f"arseg_tutorial train --checkpoint ...`, or a new path to start a run")
    split_network_file(state, path)
    return state


#: what ``save_checkpoint`` stores
CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "step", "history", "config", "meta", "seconds", "rng")
