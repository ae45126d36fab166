"""``generate_clip``: the seeded street-scene video with exact labels and exact optical flow;
``iter_clip``: the same frames and labels one at a time (for long videos).

Introduced in notebook 00; used by every later notebook as the stand-in for CamVid.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from arseg_tutorial.scenes.classes import CLASS_NAMES
from arseg_tutorial.scenes.layout import build_scene
from arseg_tutorial.scenes.render import iter_scene_frames, render_scene

MIN_SIZE = (120, 160)
MAX_SIZE = (720, 960)


@dataclass
class Clip:
    """A generated clip of T frames of H x W pixels (introduced in notebook 00).

    Attributes:
        frames: (T, H, W, 3) uint8 RGB.
        labels: (T, H, W) uint8; 0..10 = ``class_names``, 255 = ignore (ambiguous edge pixels).
        flow_prev: (T, H, W, 2) float32 backward flow to frame t-1 in pixels, (dx, dy):
            frame t at pixel p shows what frame t-1 shows at p + flow. Zeros at t = 0.
        flow_key: (T, H, W, 2) float32 the same to frame 0 (the keyframe). Zeros at t = 0.
        valid_prev, valid_key: (T, H, W) bool, the pixel's surface is visible in that reference
            (not occluded, not outside the image, not an anti-aliased edge). True at t = 0.
        class_names: the 11 CamVid class names.
        seed: the seed that generated the clip.
    """

    frames: np.ndarray
    labels: np.ndarray
    flow_prev: np.ndarray
    flow_key: np.ndarray
    valid_prev: np.ndarray
    valid_key: np.ndarray
    class_names: tuple[str, ...]
    seed: int

    @property
    def length(self) -> int:
        """Number of frames T."""
        return int(self.frames.shape[0])

    @property
    def frame_size(self) -> tuple[int, int]:
        """(H, W) in pixels."""
        return tuple(self.frames.shape[1:3])


def _check_arguments(seed: int, length: int, height: int, width: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"length must be an integer >= 1 (frames), got {length!r}")
    for name, value, lo, hi in (("height", height, MIN_SIZE[0], MAX_SIZE[0]), ("width", width, MIN_SIZE[1], MAX_SIZE[1])):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an integer number of pixels, got {value!r}")
        if value % 2 or not lo <= value <= hi:
            raise ValueError(f"{name}={value} is not supported: use an even number of pixels from {lo} to {hi} "
                             f"(frame sizes from {MIN_SIZE[0]}x{MIN_SIZE[1]} to {MAX_SIZE[0]}x{MAX_SIZE[1]})")


def generate_clip(seed: int, length: int = 12, height: int = 360, width: int = 480) -> Clip:
    """Generate a street-scene clip: a camera driving past buildings, trees, poles, signs, fences,
    parked and moving cars, cyclists and pedestrians, with exact labels and backward optical flow.

    Introduced in notebook 00. The same seed gives the same street at every frame size.

    Args:
        seed: any non-negative integer; the same seed always gives the same clip.
        length: number of frames T (>= 1).
        height, width: frame size in pixels, even, from 120x160 up to 720x960.
    Returns:
        A ``Clip`` (see its attributes for shapes and conventions).
    Raises:
        ValueError: a size that is odd or out of range, a length < 1, or a negative seed.
    """
    _check_arguments(seed, length, height, width)
    scene = build_scene(int(seed), int(length), int(height), int(width))
    arrays = render_scene(scene)
    return Clip(class_names=CLASS_NAMES, seed=int(seed), **arrays)


def iter_clip(seed: int, length: int = 12, height: int = 360, width: int = 480
              ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The frames and labels of ``generate_clip(seed, length, height, width)``, one frame at a time.

    Introduced in notebook 07 (its long test video). Nothing is kept from one frame to the next
    and no flow is computed, so a long video needs no more memory per frame than a short one.
    The arguments are checked at once, before the first frame is asked for.

    Args:
        seed, length, height, width: as ``generate_clip``.
    Returns:
        An iterator of ``length`` pairs (frame, labels): (H, W, 3) uint8 RGB equal to
        ``generate_clip(...).frames[t]`` and (H, W) uint8 equal to ``.labels[t]``.
    Raises:
        ValueError: as ``generate_clip``.
    """
    _check_arguments(seed, length, height, width)
    return iter_scene_frames(build_scene(int(seed), int(length), int(height), int(width)))
