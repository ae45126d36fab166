"""Atomic, resumable training checkpoints: model, optimiser, scheduler, step, RNG states, history.

Introduced in notebook 05. A checkpoint is written to a temporary file next to its target and
moved into place with ``os.replace``, so an interrupted write never leaves a half-written file;
``load_checkpoint`` restores everything needed to continue a run exactly where it stopped.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from arseg_tutorial.atomic import atomic_path


def rng_state() -> dict[str, Any]:
    """The states of Python's, NumPy's and PyTorch's global generators."""
    return {"python": random.getstate(), "numpy": np.random.get_state(),
            "torch": torch.get_rng_state()}


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore generator states saved by ``rng_state``."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to a temporary file in the target's folder, then ``os.replace`` onto ``path``.

    The file is written through an open file object: given a file *name*, ``torch.save`` names
    the folder inside its zip archive after it, so the random temporary name would make the
    same weights hash differently on every save.
    """
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        torch.save(obj, handle)
    return path


def save_checkpoint(path: str | Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, step: int, history: list[dict[str, float]],
                    config: dict[str, Any], seconds: float = 0.0) -> Path:
    """Write a resumable checkpoint atomically.

    Args:
        path: target file (``.pt``).
        model, optimizer, scheduler: their ``state_dict()`` is stored.
        step: optimisation steps completed so far.
        history: per-step loss records so far.
        config: the training configuration as a plain dict (checked again on resume).
        seconds: training wall-clock time so far.
    Returns:
        The path written.
    """
    return atomic_torch_save({
        "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(), "step": step, "history": list(history),
        "config": dict(config), "seconds": float(seconds), "rng": rng_state(),
    }, path)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint`` (or a bare state dict, for weights only).

    Raises:
        FileNotFoundError: no file at ``path``, with a hint on how to make one.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; train one with `python -m arseg_tutorial "
                                f"train ...` or use the shipped ones (arseg_tutorial.assets)")
    return torch.load(path, map_location=map_location, weights_only=False)
