"""Paired augmentation: the current frame, its keyframe and the flow between them move together.

Introduced in notebook 05. As in the official code (docs/method.md#fst-feature-similarity-training):
the same colour jitter on both frames; a horizontal flip
flips the flow field and negates its x component; a random scale resizes the field and multiplies
its vectors by the scale; a crop takes the same window from frames, flow and labels (a backward
flow is a displacement, so a common shift leaves it unchanged). After any of these,
``warp(keyframe, flow)`` still reproduces the frame. Resizing uses align_corners=True, as the
warp does, so the exact factor on the vectors is (W'-1)/(W-1) horizontally and (H'-1)/(H-1)
vertically.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor

IGNORE_LABEL = 255
CROP_ALIGN = 8
"""Crop offsets are multiples of this many pixels: a whole feature cell at output stride 8 or 4."""


@dataclass
class Sample:
    """One training example, channels first, frames as floats in [0, 1].

    Attributes:
        frame: (3, H, W) the frame to segment.
        label: (H, W) int64 classes, 255 = ignore.
        key: (3, H, W) its keyframe, or None for per-frame training.
        flow: (2, H, W) backward flow frame -> keyframe in pixels (x, y), or None.
        valid: (H, W) bool validity of the flow, or None.
        offset: (top, left) of the crop in the whole (rescaled, flipped) frame when ``key`` and
            ``flow`` are whole (``random_augment(..., whole_key=True)``), else None.
    """

    frame: Tensor
    label: Tensor
    key: Tensor | None = None
    flow: Tensor | None = None
    valid: Tensor | None = None
    offset: tuple[int, int] | None = None


def _resize_image(x: Tensor | None, size: tuple[int, int]) -> Tensor | None:
    if x is None:
        return None
    return F.interpolate(x[None], size=size, mode="bilinear", align_corners=True)[0]


def _nearest_index(new: int, old: int) -> Tensor:
    if new == 1:
        return torch.zeros(1, dtype=torch.long)
    return torch.round(torch.arange(new) * ((old - 1) / (new - 1))).long()


def _resize_nearest(x: Tensor | None, size: tuple[int, int]) -> Tensor | None:
    if x is None:
        return None
    rows = _nearest_index(size[0], x.shape[-2])
    cols = _nearest_index(size[1], x.shape[-1])
    return x[..., rows[:, None], cols[None, :]]


def rescale(sample: Sample, size: tuple[int, int]) -> Sample:
    """Resize everything to ``size`` = (H', W'); the flow's vectors are multiplied accordingly."""
    height, width = sample.frame.shape[-2:]
    flow = _resize_image(sample.flow, size)
    if flow is not None:
        factor_x = (size[1] - 1) / max(width - 1, 1)
        factor_y = (size[0] - 1) / max(height - 1, 1)
        flow = flow * torch.tensor([factor_x, factor_y], dtype=flow.dtype).view(2, 1, 1)
    return Sample(_resize_image(sample.frame, size), _resize_nearest(sample.label, size),
                  _resize_image(sample.key, size), flow, _resize_nearest(sample.valid, size))


def hflip(sample: Sample) -> Sample:
    """Mirror left-right; the flow's x component changes sign."""
    flow = None
    if sample.flow is not None:
        flow = sample.flow.flip(-1) * torch.tensor([-1.0, 1.0], dtype=sample.flow.dtype).view(2, 1, 1)
    flip = (lambda x: None if x is None else x.flip(-1))
    return Sample(flip(sample.frame), flip(sample.label), flip(sample.key), flow, flip(sample.valid))


def crop(sample: Sample, top: int, left: int, size: tuple[int, int]) -> Sample:
    """The window of ``size`` at (top, left); parts outside the image are padded (label 255,
    frames 0, flow 0, valid False)."""
    height, width = sample.frame.shape[-2:]
    pad_bottom = max(0, top + size[0] - height)
    pad_right = max(0, left + size[1] - width)

    def cut(x: Tensor | None, fill: float) -> Tensor | None:
        if x is None:
            return None
        if pad_bottom or pad_right:
            x = F.pad(x, (0, pad_right, 0, pad_bottom), value=fill)
        return x[..., top:top + size[0], left:left + size[1]]

    return Sample(cut(sample.frame, 0.0), cut(sample.label, IGNORE_LABEL), cut(sample.key, 0.0),
                  cut(sample.flow, 0.0), cut(sample.valid, False))


def color_jitter(sample: Sample, brightness: float, contrast: float, saturation: float) -> Sample:
    """The same brightness, contrast and saturation factors on the frame and on its keyframe."""

    def adjust(x: Tensor | None) -> Tensor | None:
        if x is None:
            return None
        x = x * brightness
        x = (x - x.mean()) * contrast + x.mean()
        grey = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2])[None]
        return ((x - grey) * saturation + grey).clamp(0.0, 1.0)

    return replace(sample, frame=adjust(sample.frame), key=adjust(sample.key))


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def _aligned_offset(generator: torch.Generator, room: int) -> int:
    """A random crop offset in 0..room that is a multiple of ``CROP_ALIGN``."""
    return CROP_ALIGN * int(torch.randint(0, max(room, 0) // CROP_ALIGN + 1, (), generator=generator))


def random_augment(sample: Sample, generator: torch.Generator, crop_size: tuple[int, int],
                   scale_range: tuple[float, float] = (0.9, 1.25), jitter: float = 0.2,
                   whole_key: bool = False) -> Sample:
    """Random scale, flip, colour jitter and crop, drawn from ``generator`` (so runs repeat).

    Args:
        sample: the example at full size.
        crop_size: (H, W) of the result.
        scale_range: the random scale factor's range.
        jitter: brightness, contrast and saturation factors are drawn from [1-jitter, 1+jitter].
        whole_key: keep ``key`` and ``flow`` whole (rescaled, flipped, jittered) and record the
            crop's ``offset``; ``valid`` is dropped (AR-Seg's training pairs).
    Returns:
        The augmented sample: frame and label of spatial size ``crop_size``.
    """
    height, width = sample.frame.shape[-2:]
    scale = _uniform(generator, *scale_range)
    size = (max(2, round(height * scale)), max(2, round(width * scale)))
    sample = rescale(sample, size)
    top = _aligned_offset(generator, size[0] - crop_size[0])
    left = _aligned_offset(generator, size[1] - crop_size[1])
    if float(torch.rand((), generator=generator)) < 0.5:
        sample = hflip(sample)
    factors = [_uniform(generator, 1 - jitter, 1 + jitter) for _ in range(3)]
    sample = color_jitter(sample, *factors)
    if not whole_key:
        return crop(sample, top, left, crop_size)
    cropped = crop(replace(sample, key=None, flow=None, valid=None), top, left, crop_size)
    return replace(cropped, key=sample.key, flow=sample.flow, offset=(top, left))
