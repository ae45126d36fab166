"""Render a laid-out scene into frames, labels, exact backward flow and visibility masks.

Introduced in notebook 00. Layers are composited far to near ("painter's algorithm") with
premultiplied alpha. Every layer moves by a pure translation per frame (the ground by one
translation per row), so a sprite at a sub-pixel position is sampled with four constant bilinear
weights, and the exact flow of each pixel is that of the front-most surface there (for a
non-rigid sprite, a walking person, the translation of its body; its pixels are never valid):

    flow_x(t -> ref) = speed_x * (ref - t) + shake_x[ref] - shake_x[t],
    flow_y(t -> ref) = shake_y[ref] - shake_y[t].

A pixel is *valid* for a reference frame when it shows a single surface (no anti-aliased edge)
and all four reference pixels that bilinear warping reads show that same surface, unmixed.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from arseg_tutorial.scenes.classes import IGNORE_LABEL, SKY
from arseg_tutorial.scenes.layout import Scene

_FULL, _EMPTY = 0.996, 0.004
_AMBIGUOUS = 0.4
"""Edge pixels whose front layer covers between this and 1 - this of them get the ignore label."""
_SKY_ID, _GROUND_ID = 0, 1


@dataclass
class _FrameBuffers:
    """What one frame accumulates while its layers are composited."""

    rgb: np.ndarray      # (H, W, 3) float32
    labels: np.ndarray   # (H, W) uint8
    ambiguous: np.ndarray  # (H, W) bool
    surface: np.ndarray  # (H, W) int32 id of the front-most surface
    speed: np.ndarray    # (H, W) float32 horizontal px/frame of that surface
    pure: np.ndarray     # (H, W) bool: one surface fills the pixel

    def over(self, rows: slice, cols: slice, rgba: np.ndarray, class_id, surface_id: int, speed,
             rigid: bool = True) -> None:
        """Composite ``rgba`` (h, w, 4) over the region ``rows, cols``; class_id/speed: scalar or (h, w).

        A non-``rigid`` layer changes shape between frames: no translation maps its pixels, so
        they are never pure (never valid for a reference frame)."""
        alpha = rgba[..., 3]
        rgb = self.rgb[rows, cols]
        rgb *= (1.0 - alpha)[..., None]
        rgb += rgba[..., :3]
        full = alpha >= _FULL
        partial = (alpha > _EMPTY) ^ full
        below = alpha < 1.0 - _AMBIGUOUS
        labels, amb = self.labels[rows, cols], self.ambiguous[rows, cols]
        straddle = below & (alpha > _AMBIGUOUS)
        straddle &= labels != class_id
        amb &= below
        amb |= straddle
        front = alpha >= 0.5
        np.copyto(labels, class_id, where=front, casting="unsafe")
        np.copyto(self.surface[rows, cols], surface_id, where=front)
        np.copyto(self.speed[rows, cols], speed, where=front)
        pure = self.pure[rows, cols]
        pure &= ~partial
        pure |= full
        if not rigid:
            pure &= ~front


def _shifted(rgba: np.ndarray, x_px: float, y_px: float, height: int, width: int):
    """Sample a sprite placed at sub-pixel (x_px, y_px) on the image grid (bilinear, 4 fixed weights).

    The sprite must carry a transparent border of one texel (so nothing is lost at its edges).

    Returns:
        (rows, cols, sample) with the image region and its (h', w', 4) samples, or None if off-screen.
    """
    h, w = rgba.shape[:2]
    ix, iy = int(np.floor(x_px)), int(np.floor(y_px))
    fx, fy = np.float32(x_px - ix), np.float32(y_px - iy)
    a0, a1 = max(1, -iy), min(h, height - iy)
    c0, c1 = max(1, -ix), min(w, width - ix)
    if a0 >= a1 or c0 >= c1:
        return None
    band = rgba[a0 - 1:a1]
    across = (1 - fx) * band[:, c0:c1] + fx * band[:, c0 - 1:c1 - 1]
    sample = (1 - fy) * across[1:] + fy * across[:-1]
    return slice(iy + a0, iy + a1), slice(ix + c0, ix + c1), sample


def _sample_ground(atlas: np.ndarray, first_row: float, xs: np.ndarray) -> np.ndarray:
    """Sample the ground atlas (R, U, C) for consecutive image rows starting at fractional atlas row
    ``first_row``, at fractional atlas columns ``xs`` (n, W) that differ per row.

    Returns:
        (n, W, C) float32 bilinear samples.
    """
    n = xs.shape[0]
    a0 = int(np.floor(first_row))
    fy = np.float32(first_row - a0)
    rows = atlas[a0:a0 + n] * (1 - fy) + atlas[a0 + 1:a0 + n + 1] * fy
    x0 = np.clip(np.floor(xs).astype(np.int64), 0, atlas.shape[1] - 2)
    wx = (xs - x0).astype(np.float32)[..., None]
    flat = rows.reshape(-1, atlas.shape[2])
    index = x0 + (np.arange(n) * atlas.shape[1])[:, None]
    return flat[index] * (1 - wx) + flat[index + 1] * wx


def _render_frame(scene: Scene, t: int) -> _FrameBuffers:
    height, width = scene.height, scene.width
    sx, sy = float(scene.shake_x_px[t]), float(scene.shake_y_px[t])
    buf = _FrameBuffers(rgb=np.zeros((height, width, 3), np.float32),
                        labels=np.full((height, width), SKY, np.uint8),
                        ambiguous=np.zeros((height, width), bool),
                        surface=np.full((height, width), _SKY_ID, np.int32),
                        speed=np.zeros((height, width), np.float32),
                        pure=np.ones((height, width), bool))
    rows, cols, sample = _shifted(scene.sky.rgba, scene.sky.x_px + sx, scene.sky.y_px + sy, height, width)
    buf.rgb[rows, cols] = sample[..., :3]

    ground = scene.ground
    y_first = max(0, int(np.ceil(ground.row0 + sy)))
    scene_rows = (np.arange(y_first, height, dtype=np.float32) - sy)[:, None]
    speed = ground.speed(scene_rows)
    u = np.arange(width, dtype=np.float32)[None, :] - speed * t - sx
    sample = _sample_ground(ground.rgba, y_first - sy - ground.row0, u - ground.col0)
    atlas_rows = scene_rows[:, 0] - ground.row0
    label_rows = np.clip(np.rint(atlas_rows).astype(np.int64), 0, len(ground.labels) - 1)
    buf.over(slice(y_first, height), slice(0, width), sample, ground.labels[label_rows][:, None], _GROUND_ID, speed)
    lower = np.clip(np.floor(atlas_rows).astype(np.int64), 0, len(ground.labels) - 2)
    between = np.abs(atlas_rows - lower - 0.5) < 0.25
    straddle = np.flatnonzero((ground.labels[lower] != ground.labels[lower + 1]) & between) + y_first
    buf.ambiguous[straddle] = True
    buf.pure[straddle] = False

    for index, sprite in enumerate(scene.sprites):
        placed = _shifted(sprite.picture(t), sprite.x_px + sprite.vx_px * t + sx, sprite.y_px + sy, height, width)
        if placed is not None:
            rows, cols, sample = placed
            buf.over(rows, cols, sample, sprite.class_id, _GROUND_ID + 1 + index, sprite.vx_px, sprite.rigid)
    return buf


def _visible(code_t: np.ndarray, code_ref: np.ndarray, flow_x: np.ndarray, flow_y: float) -> np.ndarray:
    """(H, W) bool: the surface at each pixel of frame t is seen, unmixed, at all four bilinear
    neighbours of (x + flow_x, y + flow_y) in the reference frame.

    Args:
        code_t, code_ref: (H, W) int32 surface id where one surface fills the pixel, else -1.
        flow_x: (H, W) horizontal backward flow to the reference; flow_y: the vertical one, the same
            for every pixel (only camera shake moves things vertically).
    """
    height, width = code_t.shape
    xs = np.arange(width, dtype=np.float32)[None, :] + flow_x
    ys = np.arange(height, dtype=np.float32) + np.float32(flow_y)
    ok = (xs >= 0) & (xs <= width - 1) & (code_t >= 0)
    ok &= ((ys >= 0) & (ys <= height - 1))[:, None]
    x0 = np.clip(np.floor(xs), 0, width - 2).astype(np.int32)
    y0 = np.clip(np.floor(ys), 0, height - 2).astype(np.int32)
    index = x0 + (y0 * width)[:, None]
    flat = code_ref.ravel()
    for offset in (0, 1, width, width + 1):
        ok &= flat[index + offset] == code_t
    return ok


def _frame_and_labels(scene: Scene, buf: _FrameBuffers, t: int) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 RGB and (H, W) uint8 labels (ambiguous edges ignored) of composited frame t."""
    frame = np.clip(buf.rgb * (255.0 * scene.gain[t]) + 0.5, 0, 255).astype(np.uint8)
    return frame, np.where(buf.ambiguous, IGNORE_LABEL, buf.labels)


def iter_scene_frames(scene: Scene) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Render ``scene`` one frame at a time, without flow: memory of one frame, whatever the length.

    Yields:
        (frame, labels) per frame: (H, W, 3) uint8 RGB and (H, W) uint8 labels, equal to
        ``render_scene(scene)["frames"][t]`` and ``["labels"][t]``.
    """
    for t in range(scene.length):
        yield _frame_and_labels(scene, _render_frame(scene, t), t)


def render_scene(scene: Scene) -> dict[str, np.ndarray]:
    """Render every frame of ``scene``.

    Returns:
        dict with frames (T, H, W, 3) uint8, labels (T, H, W) uint8, flow_prev / flow_key
        (T, H, W, 2) float32 and valid_prev / valid_key (T, H, W) bool (see the module docstring).
    """
    T, H, W = scene.length, scene.height, scene.width
    frames = np.empty((T, H, W, 3), np.uint8)
    labels = np.empty((T, H, W), np.uint8)
    codes = np.empty((T, H, W), np.int32)
    speeds = np.empty((T, H, W), np.float32)
    for t in range(T):
        buf = _render_frame(scene, t)
        frames[t], labels[t] = _frame_and_labels(scene, buf, t)
        codes[t], speeds[t] = np.where(buf.pure, buf.surface, -1), buf.speed
    out = {"frames": frames, "labels": labels}
    for name, ref_of in (("prev", lambda t: t - 1), ("key", lambda t: 0)):
        flow = np.zeros((T, H, W, 2), np.float32)
        valid = np.ones((T, H, W), bool)
        for t in range(1, T):
            ref = ref_of(t)
            flow_y = scene.shake_y_px[ref] - scene.shake_y_px[t]
            flow[t, ..., 0] = speeds[t] * np.float32(ref - t) + (scene.shake_x_px[ref] - scene.shake_x_px[t])
            flow[t, ..., 1] = flow_y
            valid[t] = _visible(codes[t], codes[ref], flow[t, ..., 0], flow_y)
        out[f"flow_{name}"], out[f"valid_{name}"] = flow, valid
    return out
