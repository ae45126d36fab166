"""Painters for the objects of a street: each returns one RGBA sprite at its final pixel size.

Introduced in notebook 00. A painter takes a random generator and ``k`` (pixels per metre at the
object's depth) and returns a (h, w, 4) float32 premultiplied-RGBA array whose bottom edge is the
object's contact with the ground. Sizes are in metres so that distant objects come out small:
a 25 cm pole 12 m away is about 3.4 px wide at 180x240 and 1.7 px at half resolution.
The thin parts (poles, sign panels, railing bars, bicycle tubes, limbs) are drawn at the widths
of what annotators outline in CamVid-style labels, not at their thinnest: see docs/calibration.md.
A walking person changes shape every frame: ``walking_person`` returns a ``WalkingPerson`` that
paints the picture of any frame when asked.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from arseg_tutorial.scenes.shapes import (Canvas, capsule, disc, fractal_noise, grain, periodic_coverage, rect,
                                          ring, rounded_box, value_noise)

GRAIN = 0.15
"""Relative amplitude of the pixel-scale grain on facades and the ground."""
POLE_WIDTH_M = (0.22, 0.32)
"""Width range of poles (metres)."""
SIGN_SIZE_M = (0.8, 1.1)
"""Size range of sign panels (metres)."""
LIMB = 1.4
"""Width factor of limbs, torso, bicycle tubes and railing bars over their thinnest real width."""
GAIT_HZ_PER_FRAME = 1.8 / 30.0
"""Walking step frequency (about 1.8 steps/s) in cycles per frame at 30 fps."""

BUILDING_COLORS = np.array([(0.62, 0.33, 0.25), (0.78, 0.70, 0.58), (0.55, 0.55, 0.57), (0.70, 0.58, 0.45),
                            (0.45, 0.40, 0.38), (0.82, 0.78, 0.70), (0.52, 0.30, 0.28)], np.float32)
CAR_COLORS = np.array([(0.75, 0.10, 0.08), (0.10, 0.20, 0.55), (0.85, 0.85, 0.85), (0.12, 0.12, 0.13),
                       (0.55, 0.57, 0.60), (0.90, 0.75, 0.15), (0.15, 0.40, 0.25)], np.float32)
CLOTH_COLORS = np.array([(0.15, 0.15, 0.20), (0.60, 0.10, 0.12), (0.20, 0.30, 0.60), (0.85, 0.80, 0.70),
                         (0.30, 0.45, 0.25), (0.70, 0.45, 0.15), (0.45, 0.45, 0.48)], np.float32)


def _size(meters: float, k: float) -> int:
    return max(1, int(math.ceil(meters * k)))


def _textured(base: np.ndarray, noise: np.ndarray, amount: float) -> np.ndarray:
    """(h, w, 3) colour: ``base`` (3,) modulated by ``noise`` (h, w) with relative ``amount``."""
    return np.clip(base[None, None, :] * (1.0 + amount * noise[..., None]), 0.0, 1.0)


def paint_building(rng: np.random.Generator, k: float, width_m: float, height_m: float,
                   haze: float, haze_rgb: np.ndarray) -> np.ndarray:
    """A facade with noisy plaster or brick, floor ledges, a window grid and a cornice."""
    c = Canvas(_size(height_m, k), _size(width_m, k))
    w_px, h_px = width_m * k, height_m * k
    base = BUILDING_COLORS[rng.integers(len(BUILDING_COLORS))] * rng.uniform(0.85, 1.1)
    tex = fractal_noise(rng, c.height, c.width, 1.5 * k, 3) * 0.08 + GRAIN * grain(rng, c.height, c.width)
    course_px = rng.uniform(0.22, 0.32) * k
    bricks = rng.random() < 0.6
    if bricks and course_px >= 5.0:
        tex = tex - 0.07 * periodic_coverage(c.ys, course_px, max(0.8, 0.025 * k))[:, None]
    color = _textured(base, tex, 1.0)
    c.paint(rect(c.ys, c.xs, 0.0, 0.0, h_px, w_px), color)
    floor_px = rng.uniform(3.0, 3.5) * k
    ledge = periodic_coverage(c.ys, floor_px, 0.15 * k, offset=h_px % floor_px)
    c.paint(ledge[:, None] * rect(c.ys, c.xs, 0.0, 0.0, h_px - 1.0 * k, w_px) * 0.5, base * 0.75)
    spacing_px = rng.uniform(2.4, 3.4) * k
    win_w, win_h = rng.uniform(0.9, 1.4) * k, rng.uniform(1.3, 1.8) * k
    n_cols = max(1, int((w_px - 1.2 * k) // spacing_px))
    x_off = 0.5 * (w_px - n_cols * spacing_px) + 0.5 * (spacing_px - win_w)
    cols = periodic_coverage(c.xs, spacing_px, win_w, x_off) * ((c.xs > x_off - 1) & (c.xs < w_px - x_off + 1))
    rows = periodic_coverage(c.ys, floor_px, win_h, (h_px % floor_px) + 0.7 * k)
    rows = rows * ((c.ys > 1.2 * k) & (c.ys < h_px - 1.3 * k))
    win_id = (np.floor((c.ys[:, None] - 0.7 * k) / floor_px) * 31 + np.floor((c.xs[None, :] - x_off) / spacing_px))
    lit = (np.sin(win_id * 12.9898 + rng.uniform(0, 6.3)) * 43758.5453) % 1.0
    glass = np.stack([0.16 + 0.10 * lit, 0.20 + 0.08 * lit, 0.27 - 0.05 * lit], -1)
    glass = glass * (1.0 + 0.6 * (c.yy % floor_px) / floor_px)[..., None] * np.where(lit > 0.9, 2.6, 1.0)[..., None]
    c.paint(rows[:, None] * cols[None, :], np.clip(glass, 0.0, 1.0))
    door_x = rng.uniform(0.2, 0.8) * max(w_px - 1.4 * k, 1.0)
    c.paint(rect(c.ys, c.xs, h_px - 2.2 * k, door_x, h_px, door_x + 1.2 * k), base * 0.35)
    c.paint(rect(c.ys, c.xs, 0.0, 0.0, 0.45 * k, w_px), base * 0.6)
    c.rgb = (1.0 - haze) * c.rgb + haze * c.alpha[..., None] * haze_rgb
    return c.rgba()


def paint_tree(rng: np.random.Generator, k: float) -> np.ndarray:
    """A trunk and a noisy-edged crown of foliage."""
    crown_w, crown_h = rng.uniform(2.8, 4.8), rng.uniform(2.8, 4.5)
    trunk_h = rng.uniform(2.0, 3.2)
    c = Canvas(_size(crown_h + trunk_h, k), _size(crown_w + 0.4, k))
    cx = 0.5 * c.width
    trunk_w = rng.uniform(0.22, 0.35) * k
    bark = _textured(np.array([0.35, 0.26, 0.18], np.float32), fractal_noise(rng, c.height, c.width, 0.3 * k, 2), 0.15)
    c.paint(rect(c.ys, c.xs, crown_h * 0.6 * k, cx - trunk_w / 2, c.height, cx + trunk_w / 2), bark)
    cy, ry, rx = 0.5 * crown_h * k, 0.5 * crown_h * k, 0.5 * crown_w * k
    r = np.hypot((c.yy - cy) / ry, (c.xx - cx) / rx)
    edge = value_noise(rng, c.height, c.width, 0.5 * k) * 0.18
    crown = np.clip(0.5 + (1.0 - r + edge) * min(rx, ry), 0.0, 1.0)
    leaf = fractal_noise(rng, c.height, c.width, 0.6 * k, 3)
    green = np.array([0.20, 0.42, 0.16], np.float32) * rng.uniform(0.8, 1.2)
    shade = (1.15 - 0.45 * (c.yy / max(2 * ry, 1.0)))[..., None]
    c.paint(crown, np.clip(_textured(green, leaf, 0.35) * shade, 0.0, 1.0))
    return c.rgba()


def paint_pole(rng: np.random.Generator, k: float, height_m: float, lamp: bool) -> np.ndarray:
    """A metal pole (``POLE_WIDTH_M``), optionally with a street-lamp arm at the top."""
    width_px = rng.uniform(*POLE_WIDTH_M) * k
    arm_px = 1.2 * k if lamp else 0.0
    c = Canvas(_size(height_m, k), max(1, int(math.ceil(width_px + arm_px + 0.3 * k))) + 1)
    x0 = 0.5
    metal = np.array([0.42, 0.43, 0.45], np.float32) * rng.uniform(0.8, 1.2)
    shading = (1.0 + 0.25 * np.cos(np.pi * np.clip((c.xs - x0 - width_px / 2) / max(width_px, 1.0), -1, 1)))
    c.paint(rect(c.ys, c.xs, 0.0, x0, c.height, x0 + width_px), metal[None, None, :] * shading[None, :, None])
    if lamp:
        y_arm = 0.3 * k
        c.paint(capsule(c.yy, c.xx, (y_arm, x0 + width_px / 2), (y_arm - 0.15 * k, x0 + arm_px), 0.14 * k), metal)
        c.paint(rounded_box(c.yy, c.xx, y_arm - 0.2 * k, x0 + arm_px - 0.3 * k, y_arm, x0 + arm_px + 0.2 * k,
                            0.05 * k), np.array([0.85, 0.85, 0.75], np.float32))
    return c.rgba()


def paint_sign(rng: np.random.Generator, k: float) -> np.ndarray:
    """A traffic-sign panel (round, square or diamond) with a white symbol, ``SIGN_SIZE_M`` across."""
    size = rng.uniform(*SIGN_SIZE_M) * k
    c = Canvas(_size(size / k + 0.05, k), _size(size / k + 0.05, k))
    cy = cx = 0.5 * c.width
    kind = rng.integers(3)
    if kind == 0:
        c.paint(disc(c.yy, c.xx, cy, cx, size / 2), np.array([0.80, 0.10, 0.10], np.float32))
        c.paint(disc(c.yy, c.xx, cy, cx, size * 0.36), np.array([0.95, 0.95, 0.95], np.float32))
        c.paint(rect(c.ys, c.xs, cy - 0.08 * size, cx - 0.25 * size, cy + 0.08 * size, cx + 0.25 * size),
                np.array([0.1, 0.1, 0.1], np.float32))
    elif kind == 1:
        c.paint(rounded_box(c.yy, c.xx, cy - size / 2, cx - size / 2, cy + size / 2, cx + size / 2, 0.08 * size),
                np.array([0.10, 0.30, 0.70], np.float32))
        c.paint(rect(c.ys, c.xs, cy - 0.3 * size, cx - 0.1 * size, cy + 0.3 * size, cx + 0.1 * size),
                np.array([0.95, 0.95, 0.95], np.float32))
    else:
        d = (np.abs(c.yy - cy) + np.abs(c.xx - cx) - size / 2) / math.sqrt(2.0)
        c.paint(np.clip(0.5 - d, 0.0, 1.0), np.array([0.95, 0.78, 0.10], np.float32))
        c.paint(np.clip(0.5 - (np.abs(c.yy - cy) + np.abs(c.xx - cx) - size * 0.32) / math.sqrt(2.0), 0, 1),
                np.array([0.15, 0.15, 0.15], np.float32))
    return c.rgba()


def paint_fence(rng: np.random.Generator, k: float, length_m: float, railing: bool) -> np.ndarray:
    """A see-through fence: rails and thin vertical slats; a metal ``railing`` has sparser, thinner bars."""
    height_m = rng.uniform(0.9, 1.1) if railing else rng.uniform(1.0, 1.6)
    c = Canvas(_size(height_m, k), _size(length_m, k))
    palette = [(0.25, 0.32, 0.25), (0.45, 0.33, 0.22), (0.55, 0.55, 0.57), (0.70, 0.68, 0.62)]
    color = np.array(palette[rng.integers(len(palette))], np.float32)
    if railing:
        period, slat = rng.uniform(0.15, 0.22), LIMB * rng.uniform(0.04, 0.06)
    else:
        period = rng.uniform(0.12, 0.2)
        slat = period * rng.uniform(0.45, 0.85)
    wood = _textured(color, value_noise(rng, c.height, c.width, max(0.3 * k, 3.0)), 0.12)
    slats = periodic_coverage(c.xs, period * k, slat * k)
    c.paint(slats[None, :] * rect(c.ys, c.xs, 0.05 * k, 0.0, height_m * k, length_m * k), wood)
    for y_m in (0.15, height_m - 0.12):
        c.paint(rect(c.ys, c.xs, y_m * k, 0.0, (y_m + 0.07) * k, length_m * k), color * 0.8)
    for x_m in np.arange(0.0, length_m, 2.0):
        c.paint(rect(c.ys, c.xs, 0.0, x_m * k, height_m * k, (x_m + 0.08) * k), color * 0.7)
    return c.rgba()


def paint_car(rng: np.random.Generator, k: float, facing_right: bool) -> np.ndarray:
    """A side view of a car: body, cabin with windows, wheels and lights (about 4.2 x 1.5 m)."""
    length, height = rng.uniform(3.8, 4.8), rng.uniform(1.35, 1.6)
    c = Canvas(_size(height, k), _size(length, k))
    L, Hh = length * k, height * k
    base = CAR_COLORS[rng.integers(len(CAR_COLORS))] * rng.uniform(0.85, 1.1)
    paint = _textured(base, value_noise(rng, c.height, c.width, 0.8 * k) + 0.5 * grain(rng, c.height, c.width), 0.06)
    paint = paint * (1.0 + 0.25 * np.exp(-((c.yy - 0.45 * Hh) / (0.08 * Hh + 1)) ** 2))[..., None]
    c.paint(rounded_box(c.yy, c.xx, 0.55 * Hh - 0.22 * k, 0.0, Hh - 0.18 * k, L, 0.25 * k), np.clip(paint, 0, 1))
    cab_l, cab_r = (0.22, 0.78) if rng.random() < 0.5 else (0.28, 0.72)
    c.paint(rounded_box(c.yy, c.xx, 0.0, cab_l * L, 0.6 * Hh, cab_r * L, 0.25 * k), np.clip(paint, 0, 1))
    glass = np.array([0.12, 0.16, 0.22], np.float32)
    glass_tex = glass[None, None, :] * (1.0 + 0.8 * (c.xx / L))[..., None]
    mid = 0.5 * (cab_l + cab_r) * L
    c.paint(rounded_box(c.yy, c.xx, 0.1 * k, cab_l * L + 0.15 * k, 0.52 * Hh, mid - 0.04 * k, 0.1 * k), glass_tex)
    c.paint(rounded_box(c.yy, c.xx, 0.1 * k, mid + 0.04 * k, 0.52 * Hh, cab_r * L - 0.15 * k, 0.1 * k), glass_tex)
    wheel_r = 0.33 * k
    for frac in (0.2, 0.8):
        c.paint(disc(c.yy, c.xx, Hh - wheel_r, frac * L, wheel_r), np.array([0.07, 0.07, 0.08], np.float32))
        c.paint(disc(c.yy, c.xx, Hh - wheel_r, frac * L, 0.5 * wheel_r), np.array([0.6, 0.6, 0.62], np.float32))
    front = L - 0.12 * k if facing_right else 0.12 * k
    rear = 0.12 * k if facing_right else L - 0.12 * k
    c.paint(disc(c.yy, c.xx, 0.62 * Hh, front, 0.1 * k), np.array([0.95, 0.92, 0.75], np.float32))
    c.paint(disc(c.yy, c.xx, 0.62 * Hh, rear, 0.1 * k), np.array([0.75, 0.05, 0.05], np.float32))
    return c.rgba()


@dataclass(frozen=True)
class WalkingPerson:
    """A walking person (1.6-1.9 m): legs, torso, swinging arms, head; ``picture(t)`` paints frame t.

    People are not rigid: when ``animated`` the legs and arms swing with the gait phase
    (``GAIT_HZ_PER_FRAME``), one picture per frame, so no single translation maps one frame onto
    the next (motion vectors of the codec cannot follow it either). The pictures are painted when
    asked for, so a long clip does not keep one per frame.
    """

    height_m: float
    k: float
    shirt: np.ndarray
    trousers: np.ndarray
    skin: np.ndarray
    stride: float
    phase0: float
    animated: bool
    walking: bool

    def picture(self, t: int) -> np.ndarray:
        """(h, w, 4) float32 premultiplied RGBA at frame ``t`` (the same size at every frame)."""
        height, k, stride = self.height_m, self.k, self.stride
        c = Canvas(_size(height, k), _size(0.95, k))
        H, cx = height * k, 0.5 * c.width
        swing = math.sin(self.phase0 + 2.0 * math.pi * GAIT_HZ_PER_FRAME * t * self.walking) if self.animated else 0.7
        hip = (0.53 * H, cx)
        for sign in (-1.0, 1.0):
            c.paint(capsule(c.yy, c.xx, hip, (H - 0.07 * k, cx + sign * swing * stride * k), LIMB * 0.14 * k),
                    self.trousers)
        c.paint(rounded_box(c.yy, c.xx, 0.2 * H, cx - 0.21 * k, 0.57 * H, cx + 0.21 * k, 0.06 * k), self.shirt)
        for sign in (-1.0, 1.0):
            hand = (0.5 * H, cx + sign * (0.23 - 0.5 * swing * stride) * k)  # against the same-side leg
            c.paint(capsule(c.yy, c.xx, (0.23 * H, cx + sign * 0.17 * k), hand, LIMB * 0.08 * k),
                    self.shirt * 0.85)
        c.paint(disc(c.yy, c.xx, 0.2 * H - 0.12 * k, cx, 0.12 * k), self.skin)
        return c.rgba()


def walking_person(rng: np.random.Generator, k: float, frames: int = 1, walking: bool = True) -> WalkingPerson:
    """Draw a person's look (height, clothes, skin, stride, gait phase) for a clip of ``frames``
    frames; with ``frames`` = 1 the person stands mid-stride in its one picture."""
    height = rng.uniform(1.6, 1.9)
    shirt, trousers = CLOTH_COLORS[rng.integers(len(CLOTH_COLORS), size=2)]
    skin = np.array([0.85, 0.65, 0.50], np.float32) * rng.uniform(0.5, 1.05)
    stride = rng.uniform(0.15, 0.3)
    phase0 = rng.uniform(0.0, 2.0 * math.pi)
    return WalkingPerson(height, k, shirt, trousers, skin, stride, phase0, frames > 1, walking)


def paint_cyclist(rng: np.random.Generator, k: float, facing_right: bool) -> np.ndarray:
    """A bicycle (thin wheels and frame) with its rider, about 1.8 m long and 1.75 m tall."""
    c = Canvas(_size(1.75, k), _size(1.8, k))
    H, L = 1.75 * k, 1.8 * k
    r_w = 0.34 * k
    rear, front = (0.2 * L, 0.8 * L) if facing_right else (0.8 * L, 0.2 * L)
    hub_y = H - r_w - 0.03 * k
    frame = CAR_COLORS[rng.integers(len(CAR_COLORS))]
    tyre = np.array([0.08, 0.08, 0.08], np.float32)
    for x in (rear, front):
        c.paint(ring(c.yy, c.xx, hub_y, x, r_w, LIMB * 0.06 * k), tyre)
    seat = (hub_y - 0.55 * k, rear + 0.3 * (front - rear))
    bar = (hub_y - 0.62 * k, rear + 0.85 * (front - rear))
    crank = (hub_y, 0.5 * (rear + front))
    for p, q in ((( hub_y, rear), seat), (seat, crank), (crank, (hub_y, rear)), (seat, bar), (bar, (hub_y, front)),
                 (crank, bar)):
        c.paint(capsule(c.yy, c.xx, p, q, LIMB * 0.05 * k), frame)
    shirt, trousers = CLOTH_COLORS[rng.integers(len(CLOTH_COLORS), size=2)]
    hip = (seat[0] - 0.05 * k, seat[1])
    shoulder = (hip[0] - 0.48 * k, hip[1] + 0.35 * (bar[1] - hip[1]))
    c.paint(capsule(c.yy, c.xx, hip, crank, LIMB * 0.12 * k), trousers)
    c.paint(capsule(c.yy, c.xx, hip, shoulder, 0.3 * k), shirt)
    c.paint(capsule(c.yy, c.xx, shoulder, bar, LIMB * 0.07 * k), shirt * 0.85)
    c.paint(disc(c.yy, c.xx, shoulder[0] - 0.15 * k, shoulder[1] + 0.04 * (bar[1] - hip[1]), 0.11 * k),
            np.array([0.9, 0.85, 0.2], np.float32))
    return c.rgba()
