"""What fits in memory: rough sizes of a training step and of generated clips, checked before work.

Introduced in docs/safety.md. ``python -m arseg_tutorial train`` and ``evaluate`` call
``check_fits`` before they build data or networks, so ``--batch-size 100000`` or ``--clips
1000000`` is refused with one sentence instead of running until the machine runs out of memory.
The sizes are upper estimates measured on BiSeNet-18 (one training step at width 1.0 peaks at
about 1.4 KB per pixel of the crop, at width 0.25 at 0.7-1.0 KB; AR-Seg also runs the HR network
on the keyframe): a run refused here would not have fitted, and one that passes may still be slow.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

#: peak bytes per pixel of the training crop, per sample, of one HR/LR-only training step
TRAIN_BYTES_PER_CROP_PX = 1500
#: bytes per pixel of one generated frame in a ``ClipSet``: RGB 3, label 1, flow 8, valid 1
CLIP_BYTES_PER_PX = 13


def available_bytes(device: torch.device | None = None) -> int | None:
    """Memory free for new work on ``device`` (CPU: the kernel's MemAvailable), or None if unknown."""
    if device is not None and device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def train_step_bytes(batch_size: int, crop_size: tuple[int, int], net_width: float,
                     method: str) -> int:
    """Upper estimate of the peak memory of one training step (activations and gradients)."""
    per_sample = crop_size[0] * crop_size[1] * TRAIN_BYTES_PER_CROP_PX * max(net_width, 0.5)
    return int(batch_size * per_sample * (2 if method == "arseg" else 1))


def clips_bytes(num_clips: int, gop_length: int, height: int, width: int) -> int:
    """Memory of ``num_clips`` generated clips of one GOP each (``train.data.ClipSet``)."""
    return num_clips * gop_length * height * width * CLIP_BYTES_PER_PX


def _gb(size: float) -> str:
    return f"{size / 2**30:.1f} GB"


def check_fits(needed_bytes: int, what: str, fix: str, device: torch.device | None = None) -> None:
    """Refuse work that needs more memory than ``device`` has free.

    Args:
        needed_bytes: the estimate (``train_step_bytes`` + ``clips_bytes``, ...).
        what: the input that asks for it, for the message (e.g. "--batch-size 100000").
        fix: what to pass instead (e.g. "--batch-size 8 or less").
    Raises:
        MemoryError: with one sentence naming ``what``, both sizes and ``fix``.
    """
    free = available_bytes(device)
    if free is not None and needed_bytes > free:
        where = "this GPU" if device is not None and device.type == "cuda" else "this machine"
        raise MemoryError(f"{what} needs about {_gb(needed_bytes)} of memory but {where} has "
                          f"{_gb(free)} free, so it would run out of memory; pass {fix}")
