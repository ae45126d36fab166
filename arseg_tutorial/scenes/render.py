"""Render a laid-out scene into frames, labels, exact backward flow and visibility masks.

Introduced in notebook 00. Layers are composited far to near ("painter's algorithm") with
premultiplied alpha. Every layer moves by a pure translation per frame (the ground by one
translation per row), so a sprite at a sub-pixel position is sampled with four constant bilinear
weights, and the exact flow of each pixel is that of the front-most surface there:

    flow_x(t -> ref) = speed_x * (ref - t) + shake_x[ref] - shake_x[t],
    flow_y(t -> ref) = shake_y[ref] - shake_y[t].

A pixel is *valid* for a reference frame when it shows a single surface (no anti-aliased edge)
and all four reference pixels that bilinear warping reads show that same surface, unmixed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from arseg_tutorial.scenes.classes import IGNORE_LABEL, SKY
from arseg_tutorial.scenes.layout import Scene, Sprite

_FULL, _EMPTY = 0.996, 0.004
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

    def over(self, rows: slice, cols: slice, rgba: np.ndarray, class_id, surface_id: int, speed) -> None:
        """Composite ``rgba`` (h, w, 4) over the region ``rows, cols``; class_id/speed: scalar or (h, w)."""
        alpha = rgba[..., 3]
        rgb = self.rgb[rows, cols]
        rgb *= (1.0 - alpha)[..., None]
        rgb += rgba[..., :3]
        labels = self.labels[rows, cols]
        front = alpha >= 0.5
        straddle = (alpha > 0.25) & (alpha < 0.75) & (labels != class_id)
        amb = self.ambiguous[rows, cols]
        amb |= straddle
        amb &= alpha < 0.75
        labels[front] = (class_id[front] if np.ndim(class_id) else class_id)
        self.surface[rows, cols][front] = surface_id
        self.speed[rows, cols][front] = (speed[front] if np.ndim(speed) else speed)
        pure = self.pure[rows, cols]
        pure &= ~((alpha > _EMPTY) & (alpha < _FULL))
        pure |= alpha >= _FULL


def _shifted(rgba: np.ndarray, x_px: float, y_px: float, height: int, width: int):
    """Sample a sprite placed at sub-pixel (x_px, y_px) on the image grid (bilinear, 4 fixed weights).

    Returns:
        (rows, cols, sample) with the image region and its (h', w', 4) samples, or None if off-screen.
    """
    h, w = rgba.shape[:2]
    ix, iy = int(np.floor(x_px)), int(np.floor(y_px))
    fx, fy = np.float32(x_px - ix), np.float32(y_px - iy)
    a0, a1 = max(0, -iy), min(h + 1, height - iy)
    c0, c1 = max(0, -ix), min(w + 1, width - ix)
    if a0 >= a1 or c0 >= c1:
        return None
    pad = np.pad(rgba, ((1, 1), (1, 1), (0, 0)))
    sample = ((1 - fy) * ((1 - fx) * pad[a0 + 1:a1 + 1, c0 + 1:c1 + 1] + fx * pad[a0 + 1:a1 + 1, c0:c1])
              + fy * ((1 - fx) * pad[a0:a1, c0 + 1:c1 + 1] + fx * pad[a0:a1, c0:c1]))
    return slice(iy + a0, iy + a1), slice(ix + c0, ix + c1), sample


def _bilinear(atlas: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Sample ``atlas`` (R, U, C) at fractional texel positions ``ys`` (h, 1) and ``xs`` (h, w)."""
    y0 = np.floor(ys).astype(np.int64)
    x0 = np.floor(xs).astype(np.int64)
    wy = (ys - y0).astype(np.float32)[..., None]
    wx = (xs - x0).astype(np.float32)[..., None]
    y0 = np.clip(y0, 0, atlas.shape[0] - 2)
    x0 = np.clip(x0, 0, atlas.shape[1] - 2)
    top = atlas[y0, x0] * (1 - wx) + atlas[y0, x0 + 1] * wx
    bottom = atlas[y0 + 1, x0] * (1 - wx) + atlas[y0 + 1, x0 + 1] * wx
    return top * (1 - wy) + bottom * wy


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
    sample = _bilinear(ground.rgba, scene_rows - ground.row0, u - ground.col0)
    label_rows = np.clip(np.rint(scene_rows[:, 0] - ground.row0).astype(np.int64), 0, len(ground.labels) - 1)
    labels = np.broadcast_to(ground.labels[label_rows][:, None], sample.shape[:2])
    buf.over(slice(y_first, height), slice(0, width), sample, labels, _GROUND_ID,
             np.broadcast_to(speed, sample.shape[:2]))

    for index, sprite in enumerate(scene.sprites):
        placed = _shifted(sprite.rgba, sprite.x_px + sprite.vx_px * t + sx, sprite.y_px + sy, height, width)
        if placed is not None:
            rows, cols, sample = placed
            buf.over(rows, cols, sample, sprite.class_id, _GROUND_ID + 1 + index, sprite.vx_px)
    return buf


def _visible(surface_t: np.ndarray, pure_t: np.ndarray, surface_ref: np.ndarray, pure_ref: np.ndarray,
             flow: np.ndarray) -> np.ndarray:
    """(H, W) bool: the surface at each pixel of frame t is seen, unmixed, at all four bilinear
    neighbours of x + flow in the reference frame."""
    height, width = surface_t.shape
    xs = np.arange(width, dtype=np.float32)[None, :] + flow[..., 0]
    ys = np.arange(height, dtype=np.float32)[:, None] + flow[..., 1]
    inside = (xs >= 0) & (xs <= width - 1) & (ys >= 0) & (ys <= height - 1)
    x0 = np.clip(np.floor(xs).astype(np.int64), 0, width - 1)
    y0 = np.clip(np.floor(ys).astype(np.int64), 0, height - 1)
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    ok = inside & pure_t
    for yy, xx in ((y0, x0), (y0, x1), (y1, x0), (y1, x1)):
        ok &= (surface_ref[yy, xx] == surface_t) & pure_ref[yy, xx]
    return ok


def render_scene(scene: Scene) -> dict[str, np.ndarray]:
    """Render every frame of ``scene``.

    Returns:
        dict with frames (T, H, W, 3) uint8, labels (T, H, W) uint8, flow_prev / flow_key
        (T, H, W, 2) float32 and valid_prev / valid_key (T, H, W) bool (see the module docstring).
    """
    T, H, W = scene.length, scene.height, scene.width
    frames = np.empty((T, H, W, 3), np.uint8)
    labels = np.empty((T, H, W), np.uint8)
    surfaces = np.empty((T, H, W), np.int32)
    speeds = np.empty((T, H, W), np.float32)
    pures = np.empty((T, H, W), bool)
    for t in range(T):
        buf = _render_frame(scene, t)
        frames[t] = np.clip(buf.rgb * (255.0 * scene.gain[t]) + 0.5, 0, 255).astype(np.uint8)
        labels[t] = np.where(buf.ambiguous, IGNORE_LABEL, buf.labels)
        surfaces[t], speeds[t], pures[t] = buf.surface, buf.speed, buf.pure
    out = {"frames": frames, "labels": labels}
    for name, ref_of in (("prev", lambda t: t - 1), ("key", lambda t: 0)):
        flow = np.zeros((T, H, W, 2), np.float32)
        valid = np.ones((T, H, W), bool)
        for t in range(1, T):
            ref = ref_of(t)
            flow[t, ..., 0] = speeds[t] * (ref - t) + (scene.shake_x_px[ref] - scene.shake_x_px[t])
            flow[t, ..., 1] = scene.shake_y_px[ref] - scene.shake_y_px[t]
            valid[t] = _visible(surfaces[t], pures[t], surfaces[ref], pures[ref], flow[t])
        out[f"flow_{name}"], out[f"valid_{name}"] = flow, valid
    return out
