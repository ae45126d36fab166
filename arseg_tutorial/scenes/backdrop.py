"""The two scene-wide layers: the sky and the ground plane (road, pavements, lane markings).

Introduced in notebook 00. The camera looks across a street while it travels along it, so a
ground point keeps its image row and moves sideways at a speed proportional to 1/depth -- i.e.
linear in its distance below the horizon. The ground is stored as an atlas indexed by
(scene row, ground column ``u``), where ``u`` is the point's image column at t = 0; each frame
samples it at ``u = x - speed(row) * t``. Textures are defined in world metres where that
matters (slab joints, dashed lane markings foreshorten with depth) and in pixels elsewhere.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from arseg_tutorial.scenes.classes import PAVEMENT, ROAD
from arseg_tutorial.scenes.shapes import box_coverage, fractal_noise, grain, periodic_coverage, soften
from arseg_tutorial.scenes.sprites import GRAIN


@dataclass
class Ground:
    """The ground atlas and its motion.

    Attributes:
        rgba: (R, U, 4) float32 premultiplied RGBA; atlas texel (a, b) is scene row ``row0 + a``,
            ground column ``col0 + b``.
        labels: (R,) uint8 class of each atlas row.
        row0, col0: scene row and ground column of texel (0, 0), in pixels.
        horizon_px: scene row of the horizon (continuous).
        speed_per_row: image speed of the ground in px/frame per pixel below the horizon.
    """

    rgba: np.ndarray
    labels: np.ndarray
    row0: int
    col0: int
    horizon_px: float
    speed_per_row: float

    def speed(self, scene_rows: np.ndarray) -> np.ndarray:
        """Horizontal image speed (px/frame) of the ground at (continuous) scene rows."""
        return self.speed_per_row * np.maximum(scene_rows - self.horizon_px, 0.0)


@dataclass
class StreetGeometry:
    """Where the street's parts lie, as depths in metres from the camera, and the camera model."""

    focal_px: float
    camera_height_m: float
    horizon_px: float
    centre_x_px: float
    facade_m: float
    far_curb_m: float
    near_curb_m: float
    lane_lines_m: tuple[tuple[float, bool], ...]
    moving_lanes: int
    parking: bool

    def k(self, depth_m: float) -> float:
        """Pixels per metre at ``depth_m``."""
        return self.focal_px / depth_m

    def foot_row(self, depth_m: float) -> float:
        """Image row (continuous) where the ground at ``depth_m`` appears."""
        return self.horizon_px + self.focal_px * self.camera_height_m / depth_m


def paint_sky(rng: np.random.Generator, height: int, width: int, horizon_px: float) -> np.ndarray:
    """Sky gradient with soft clouds, (height, width, 4) float32 premultiplied RGBA (opaque)."""
    zenith = np.array([0.30, 0.50, 0.82], np.float32) * rng.uniform(0.85, 1.1)
    near = np.array([0.78, 0.86, 0.94], np.float32)
    grey = rng.uniform(0.0, 0.6)
    zenith = (1 - grey) * zenith + grey * np.array([0.62, 0.65, 0.70], np.float32)
    rows = np.clip(np.arange(height, dtype=np.float32) / max(horizon_px, 1.0), 0.0, 1.0)[:, None, None]
    rgb = (1 - rows ** 1.5) * zenith + rows ** 1.5 * near
    clouds = fractal_noise(rng, height, width, 0.12 * height, 3)
    amount = np.clip((clouds - rng.uniform(-0.2, 0.6)) * 0.8, 0.0, 0.85)[..., None]
    rgb = (1 - amount) * rgb + amount * np.array([0.93, 0.93, 0.95], np.float32)
    rgb = np.broadcast_to(rgb, (height, width, 3))
    return np.concatenate([rgb, np.ones((height, width, 1), np.float32)], -1).astype(np.float32)


def paint_ground(rng: np.random.Generator, geo: StreetGeometry, row0: int, rows: int, col0: int, cols: int,
                 speed_per_row: float) -> Ground:
    """Paint the road and pavements into an atlas covering scene rows ``row0..row0+rows`` and
    ground columns ``col0..col0+cols``."""
    r = (row0 + np.arange(rows, dtype=np.float32))[:, None]
    u = (col0 + np.arange(cols, dtype=np.float32))[None, :]
    below = np.maximum(r - geo.horizon_px, 0.05)
    depth = geo.focal_px * geo.camera_height_m / below
    px_m = depth / geo.focal_px
    x_px = (u - geo.centre_x_px)
    labels = np.where((depth[:, 0] >= geo.far_curb_m) | (depth[:, 0] < geo.near_curb_m), PAVEMENT, ROAD)
    asphalt = np.array([0.30, 0.30, 0.31], np.float32) * rng.uniform(0.8, 1.2)
    slabs = np.array([0.62, 0.60, 0.56], np.float32) * rng.uniform(0.85, 1.1)
    base = np.where((labels == ROAD)[:, None], asphalt, slabs)[:, None, :]
    coarse = fractal_noise(rng, rows, cols, 0.06 * geo.focal_px, 2, aspect=0.3)
    fine = grain(rng, rows, cols, aspect=0.7)
    rgb = base * (1.0 + 0.10 * coarse + 1.5 * GRAIN * fine)[..., None]
    joints = periodic_coverage(x_px, 1.2 / px_m, 0.03 / px_m, rng.uniform(0, 1.2) / px_m)
    joints = joints * (labels == PAVEMENT)[:, None] * np.clip(geo.k(1.0) / depth / 8.0, 0.0, 1.0)
    rgb = rgb * (1.0 - 0.25 * joints[..., None])
    white = np.array([0.88, 0.88, 0.86], np.float32)
    curb_lo, curb_hi = geo.foot_row(geo.far_curb_m), geo.foot_row(geo.far_curb_m - 0.15)
    curb = box_coverage(r, curb_lo, curb_hi) * np.ones_like(u)
    rgb = rgb * (1 - 0.3 * curb[..., None]) + 0.3 * curb[..., None] * white
    for line_m, dashed in geo.lane_lines_m:
        band = box_coverage(r, geo.foot_row(line_m + 0.06), geo.foot_row(line_m - 0.06))
        along = periodic_coverage(x_px, 9.0 / px_m, 3.0 / px_m, rng.uniform(0, 9) / px_m) if dashed else 1.0
        mark = (band * along * np.ones_like(u))[..., None] * 0.9
        rgb = (1 - mark) * rgb + mark * white
    alpha = box_coverage(r, geo.horizon_px, np.inf) * np.ones_like(u)
    rgba = soften(np.concatenate([np.clip(rgb, 0, 1) * alpha[..., None], alpha[..., None]], -1))
    return Ground(rgba=rgba, labels=labels.astype(np.uint8), row0=row0, col0=col0,
                  horizon_px=geo.horizon_px, speed_per_row=speed_per_row)
