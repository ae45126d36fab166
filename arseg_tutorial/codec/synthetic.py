"""A translating texture with known exact motion: the ground truth for codec-motion tests.

Introduced in notebook 02. Every frame samples one analytic texture (a sum of sinusoids, so
sub-pixel shifts are exact, no interpolation): ``frame[t](x, y) = T(x + vx * t, y + vy * t)``,
hence ``frame[t](x) = frame[t-1](x + v)`` - the exact backward flow is the constant ``v`` and the
flow to frame 0 is ``v * t``.
"""
from __future__ import annotations

import numpy as np


def translating_texture(length: int, height: int, width: int,
                        velocity_px: tuple[float, float] = (1.3, 0.55), *, waves: int = 36,
                        seed: int = 0) -> np.ndarray:
    """Frames of a texture moving with a constant sub-pixel velocity.

    Args:
        length: number of frames T.
        height, width: frame size in pixels.
        velocity_px: (vx, vy) content motion in pixels per frame (backward-flow convention).
        waves: number of sinusoids summed (spread over the three colour channels).
        seed: seeds the random frequencies and phases.

    Returns:
        (T, H, W, 3) uint8 frames.
    """
    rng = np.random.default_rng(seed)
    freqs = rng.uniform(-0.9, 0.9, size=(waves, 2))
    phases = rng.uniform(0.0, 2 * np.pi, size=waves)
    xs = np.arange(width, dtype=np.float64)
    ys = np.arange(height, dtype=np.float64)
    frames = np.zeros((length, height, width, 3), np.float64)
    for t in range(length):
        x_t, y_t = xs + velocity_px[0] * t, ys + velocity_px[1] * t
        for k in range(waves):
            along_x, along_y = freqs[k, 0] * x_t, freqs[k, 1] * y_t + phases[k]
            frames[t, :, :, k % 3] += (np.outer(np.cos(along_y), np.sin(along_x))
                                       + np.outer(np.sin(along_y), np.cos(along_x)))
    return np.clip(128 + 25 * frames, 0, 255).astype(np.uint8)


def textured_mask(frame: np.ndarray, min_gradient: float = 4.0) -> np.ndarray:
    """(H, W) bool: pixels whose grey-level gradient magnitude is at least ``min_gradient``.

    Motion can only be measured where the image has texture; flat areas are excluded from
    flow-error statistics. Introduced in notebook 02.

    Args:
        frame: (H, W, 3) uint8 RGB image.
        min_gradient: threshold in grey levels per pixel (central differences).
    """
    grey = frame.astype(np.float32).mean(axis=-1)
    gy, gx = np.gradient(grey)
    return np.hypot(gx, gy) >= min_gradient
