"""Lay out a random street: camera motion, depths, and every object with its sprite and speed.

Introduced in notebook 00. The camera (height 1.5 m, focal length 0.9 x image height) looks
across a street while driving along it at ``camera_speed_m`` metres per frame, with a little
shake. An object at depth z moves in the image at ``(v_object - v_camera) * f / z`` px/frame:
far buildings crawl, near poles race past (parallax); cars, cyclists and pedestrians add their
own motion and occlude what lies behind them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from arseg_tutorial.scenes import sprites as paint
from arseg_tutorial.scenes.backdrop import Ground, StreetGeometry, paint_ground, paint_sky
from arseg_tutorial.scenes.shapes import soften
from arseg_tutorial.scenes.classes import (BICYCLIST, BUILDING, CAR, FENCE, PEDESTRIAN, POLE, SIGN, SKY,
                                           TREE)

CAMERA_HEIGHT_M = 1.5
FOCAL_PER_HEIGHT = 0.9
LANE_WIDTH_M, BIKE_LANE_M, PARKING_LANE_M = 3.3, 1.2, 2.2
CAR_GAP_M = 12.0
"""Mean free gap between consecutive cars of a lane (metres)."""
FPS = 30.0
"""Frame rate the speeds below assume (CamVid and Cityscapes footage: 30 and 17 fps)."""
CAMERA_SPEED_M = (0.08, 0.2)
"""Camera speed range, metres per frame (10-22 km/h at 30 fps: a car in slow urban traffic)."""
CAR_SPEED_M = (0.15, 0.4)
"""Speed range of moving cars, metres per frame (16-43 km/h at 30 fps)."""
CYCLIST_SPEED_M = (0.12, 0.22)
"""Speed range of cyclists, metres per frame (13-24 km/h)."""
WALK_SPEED_M = (0.035, 0.05)
"""Walking speed range, metres per frame (3.8-5.4 km/h)."""
VIEW_MARGIN = 0.03
"""Objects are placed up to this fraction of the image height beyond the left/right border."""


@dataclass
class Sprite:
    """One object: its picture and how it moves.

    Attributes:
        rgba: (h, w, 4) float32 premultiplied RGBA with a transparent border of at least one texel
            (for a non-rigid object, its picture at t = 0).
        x_px, y_px: image position of texel (0, 0)'s centre at t = 0, before camera shake.
        vx_px: horizontal image speed in px/frame.
        class_id: CamVid class index of every pixel of the sprite.
        depth_m: distance from the camera (drawing order: far first).
        painter: for a non-rigid object (e.g. a walking person), frame t -> its (h, w, 4) picture,
            painted when asked (a clip does not keep one picture per frame); None if rigid.
    """

    rgba: np.ndarray
    x_px: float
    y_px: float
    vx_px: float
    class_id: int
    depth_m: float
    painter: Callable[[int], np.ndarray] | None = None

    @property
    def rigid(self) -> bool:
        """True when one picture is translated over the clip (its exact flow is that translation)."""
        return self.painter is None

    def picture(self, t: int) -> np.ndarray:
        """(h, w, 4) the sprite's picture at frame ``t``."""
        return self.rgba if self.painter is None else self.painter(t)


@dataclass
class Scene:
    """Everything the renderer needs for one clip.

    Attributes:
        shake_x_px, shake_y_px: (T,) camera shake added to every layer's position.
        gain: (T,) global illumination factor.
    """

    height: int
    width: int
    length: int
    sky: Sprite
    ground: Ground
    sprites: list[Sprite] = field(default_factory=list)
    shake_x_px: np.ndarray = None
    shake_y_px: np.ndarray = None
    gain: np.ndarray = None


def _softened_picture(person: paint.WalkingPerson, t: int) -> np.ndarray:
    """The person's picture at frame ``t``, softened and padded as ``_Placer.add`` does every sprite."""
    return soften(person.picture(t), pad=2)


class _Placer:
    """Turns world positions (metres) into sprites, knowing the camera's path over the clip."""

    def __init__(self, geo: StreetGeometry, camera_speed_m: float, length: int, width: int, margin_px: float):
        self.geo, self.v_cam, self.length, self.width, self.margin = geo, camera_speed_m, length, width, margin_px
        self.sprites: list[Sprite] = []

    def x_range_m(self, depth_m: float, speed_m: float = 0.0) -> tuple[float, float]:
        """Interval of world X at t = 0 from which an object moving at ``speed_m`` (m/frame) at
        ``depth_m`` is seen at some time during the clip."""
        k = self.geo.k(depth_m)
        travel = (0.0, (self.v_cam - speed_m) * (self.length - 1))
        lo = min(travel) - (self.geo.centre_x_px + self.margin) / k
        hi = max(travel) + (self.width - self.geo.centre_x_px + self.margin) / k
        return lo, hi

    def count(self, rng: np.random.Generator, depth_m: float, speed_m: float, per_view: float) -> int:
        """Poisson number of movers: ``per_view`` for each image width of street they can be seen on."""
        lo, hi = self.x_range_m(depth_m, speed_m)
        view_m = (self.width + 2 * self.margin) / self.geo.k(depth_m)
        return int(rng.poisson(per_view * (hi - lo) / view_m))

    def add(self, picture: np.ndarray | paint.WalkingPerson, x_left_m: float, depth_m: float, class_id: int,
            speed_m: float = 0.0, lift_m: float = 0.0) -> None:
        """Place a sprite whose left edge is at world X ``x_left_m`` and bottom ``lift_m`` above the
        ground; ``picture``: (h, w, 4) RGBA, or a ``WalkingPerson`` (non-rigid, painted per frame)."""
        k = self.geo.k(depth_m)
        foot = self.geo.foot_row(depth_m) - lift_m * k
        walks = isinstance(picture, paint.WalkingPerson)
        painter = partial(_softened_picture, picture) if walks else None
        soft = painter(0) if walks else soften(picture, pad=2)
        self.sprites.append(Sprite(rgba=soft, x_px=self.geo.centre_x_px + x_left_m * k - 1.5,
                                   y_px=foot + 2.5 - soft.shape[-3], vx_px=(speed_m - self.v_cam) * k,
                                   class_id=class_id, depth_m=depth_m, painter=painter))


def _street_geometry(rng: np.random.Generator, height: int, width: int) -> StreetGeometry:
    """Depths of the near curb, the far curb and the facades, from a random street cross-section."""
    near_curb = rng.uniform(3.2, 4.5)
    lanes = int(rng.integers(1, 4))
    parked = bool(rng.random() < 0.5)
    far_curb = near_curb + 0.3 + LANE_WIDTH_M * lanes + BIKE_LANE_M + (PARKING_LANE_M if parked else 0.0)
    return StreetGeometry(focal_px=FOCAL_PER_HEIGHT * height, camera_height_m=CAMERA_HEIGHT_M,
                          horizon_px=rng.uniform(0.48, 0.58) * height, centre_x_px=0.5 * width,
                          facade_m=far_curb + rng.uniform(3.0, 5.0), far_curb_m=far_curb, near_curb_m=near_curb,
                          lane_lines_m=(), moving_lanes=lanes, parking=parked)


def _add_buildings(rng, place: _Placer, depth_m: float, widths: tuple, heights: tuple, gap_p: float,
                   haze: float, haze_rgb: np.ndarray) -> None:
    lo, hi = place.x_range_m(depth_m)
    x = lo - rng.uniform(0.0, widths[1])
    while x < hi:
        w = rng.uniform(*widths)
        rgba = paint.paint_building(rng, place.geo.k(depth_m), w, rng.uniform(*heights), haze, haze_rgb)
        place.add(rgba, x, depth_m + rng.uniform(0.0, 0.5), BUILDING)
        x += w + (rng.uniform(2.0, 6.0) if rng.random() < gap_p else 0.0)


def _add_street_furniture(rng, place: _Placer) -> None:
    geo = place.geo
    pole_z = geo.far_curb_m + 0.35
    lo, hi = place.x_range_m(pole_z)
    x = lo + rng.uniform(0.0, 10.0)
    while x < hi:
        k = geo.k(pole_z)
        if rng.random() < 0.55:
            place.add(paint.paint_pole(rng, k, rng.uniform(2.8, 3.4), lamp=False), x, pole_z, POLE)
            lift = rng.uniform(2.0, 2.5)
            for _ in range(rng.choice([1, 1, 2])):
                sign = paint.paint_sign(rng, k)
                place.add(sign, x + 0.06 - 0.5 * sign.shape[1] / k, pole_z - 0.01, SIGN, lift_m=lift)
                lift -= sign.shape[0] / k + 0.05
        else:
            place.add(paint.paint_pole(rng, k, rng.uniform(5.0, 7.0), lamp=rng.random() < 0.6), x, pole_z, POLE)
        x += rng.uniform(7.0, 22.0)
    tree_z = geo.facade_m - rng.uniform(1.0, 1.6)
    if rng.random() < 0.8:
        lo, hi = place.x_range_m(tree_z)
        x = lo + rng.uniform(-4.0, 6.0)
        while x < hi:
            rgba = paint.paint_tree(rng, geo.k(tree_z))
            place.add(rgba, x, tree_z + rng.uniform(-0.3, 0.3), TREE)
            x += rng.uniform(7.0, 20.0)
    for fence_z, railing in ((geo.facade_m - 0.3, False), (geo.far_curb_m + 0.2, True)):
        lo, hi = place.x_range_m(fence_z)
        for _ in range(rng.choice([0, 1, 1, 2])):
            length = rng.uniform(5.0, 15.0)
            place.add(paint.paint_fence(rng, geo.k(fence_z), length, railing), rng.uniform(lo - length, hi),
                      fence_z, FENCE)
    if rng.random() < 0.35:
        near_z = geo.near_curb_m - 0.3
        lo, hi = place.x_range_m(near_z)
        place.add(paint.paint_pole(rng, geo.k(near_z), 7.0, lamp=False), rng.uniform(lo, hi), near_z, POLE)


def _add_traffic(rng, place: _Placer) -> tuple[tuple[float, bool], ...]:
    """Parked cars, a bike lane, moving lanes (two-way); returns the lane lines (depth, dashed)."""
    geo = place.geo
    edge = geo.far_curb_m
    if geo.parking:
        z = edge - 0.5 * PARKING_LANE_M
        lo, hi = place.x_range_m(z)
        x = lo + rng.uniform(-4.0, 6.0)
        while x < hi:
            place.add(paint.paint_car(rng, geo.k(z), rng.random() < 0.5), x, z, CAR)
            x += rng.uniform(5.5, 14.0)
        edge -= PARKING_LANE_M
    lines = [(edge, False)]
    bike_lane = edge - 0.5 * BIKE_LANE_M
    edge -= BIKE_LANE_M
    lanes = [edge - (i + 0.5) * LANE_WIDTH_M for i in range(geo.moving_lanes)]
    lines += [(edge - (i + 1) * LANE_WIDTH_M, True) for i in range(geo.moving_lanes - 1)]
    lines.append((geo.near_curb_m + 0.3, False))
    for i, z in enumerate(lanes):
        direction = 1.0 if i < (len(lanes) + 1) // 2 else -1.0
        v = direction * rng.uniform(*CAR_SPEED_M)
        lo, hi = place.x_range_m(z, v)
        x = lo - 5.0 + rng.exponential(CAR_GAP_M)
        while x < hi:
            place.add(paint.paint_car(rng, geo.k(z), v > 0), x, z + rng.uniform(-0.4, 0.4), CAR, v)
            x += 5.0 + rng.exponential(CAR_GAP_M)
    for _ in range(place.count(rng, bike_lane, 0.1, 1.2)):
        z = bike_lane if rng.random() < 0.5 else rng.choice(lanes) + rng.uniform(0.6, 1.2)
        v = rng.choice([-1.0, 1.0]) * rng.uniform(*CYCLIST_SPEED_M)
        place.add(paint.paint_cyclist(rng, geo.k(z), v > 0), rng.uniform(*place.x_range_m(z, v)) - 0.9, z,
                  BICYCLIST, v)
    return tuple(lines)


def _add_pedestrians(rng, place: _Placer) -> None:
    """People walking along the far pavement, and now and then one crossing the road."""
    geo = place.geo
    for _ in range(place.count(rng, geo.facade_m - 2.0, 0.0, 4.0)):
        z = rng.uniform(geo.far_curb_m + 0.6, geo.facade_m - 0.5)
        if rng.random() < 0.2:
            z = rng.uniform(geo.near_curb_m + 1.5, geo.far_curb_m - 0.5)
        v = rng.choice([-1.0, 1.0]) * rng.uniform(*WALK_SPEED_M)
        place.add(paint.walking_person(rng, geo.k(z), place.length), rng.uniform(*place.x_range_m(z, v)) - 0.45,
                  z, PEDESTRIAN, v)


def build_scene(seed: int, length: int, height: int, width: int) -> Scene:
    """Sample a whole street scene for a clip of ``length`` frames of ``height`` x ``width`` px.

    Each part of the street draws from its own random stream, and every world-space decision is
    independent of the image size: the same seed gives the same street at every resolution (with
    the same aspect ratio), only drawn with more or fewer pixels.
    """
    camera_rng, geo_rng, far_rng, facade_rng, furniture_rng, traffic_rng, people_rng, backdrop_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8))
    geo = _street_geometry(geo_rng, height, width)
    scale = height / 360.0
    t = np.arange(length, dtype=np.float32)
    shake_x = camera_rng.uniform(0.0, 1.5) * scale * np.sin(2 * np.pi * t / camera_rng.uniform(10, 24)
                                                             + camera_rng.uniform(0, 6.3))
    shake_y = camera_rng.uniform(0.3, 1.2) * scale * np.sin(2 * np.pi * t / camera_rng.uniform(6, 14)
                                                             + camera_rng.uniform(0, 6.3))
    gain = 1.0 + camera_rng.uniform(0.02, 0.05) * np.sin(2 * np.pi * t / camera_rng.uniform(30, 60)
                                                          + camera_rng.uniform(0, 6.3))
    camera_speed = camera_rng.choice([-1.0, 1.0]) * camera_rng.uniform(*CAMERA_SPEED_M)
    margin = int(np.ceil(np.abs(shake_x).max() + np.abs(shake_y).max())) + 3
    place = _Placer(geo, camera_speed, length, width, VIEW_MARGIN * height)

    sky_rgba = paint_sky(backdrop_rng, height + 2 * margin, width + 2 * margin, geo.horizon_px + margin)
    sky = Sprite(np.pad(sky_rgba, ((1, 1), (1, 1), (0, 0))), -1.0 - margin, -1.0 - margin, 0.0, SKY, np.inf)
    haze_rgb = sky_rgba[int(geo.horizon_px) + margin, :, :3].mean(0)
    _add_buildings(far_rng, place, far_rng.uniform(45.0, 80.0), (10.0, 30.0), (6.0, 28.0), 0.0,
                   far_rng.uniform(0.4, 0.6), haze_rgb)
    _add_buildings(facade_rng, place, geo.facade_m, (6.0, 16.0), (4.5, 13.0), 0.3, 0.05, haze_rgb)
    _add_street_furniture(furniture_rng, place)
    geo.lane_lines_m = _add_traffic(traffic_rng, place)
    _add_pedestrians(people_rng, place)

    speed_per_row = -camera_speed / CAMERA_HEIGHT_M
    row0 = int(np.floor(geo.horizon_px)) - 1
    rows = height + margin - row0 + 2
    max_shift = abs(speed_per_row) * (height + margin - geo.horizon_px) * (length - 1)
    col0 = -int(np.ceil(max_shift)) - margin - 2
    cols = width - 2 * col0 + 1
    ground = paint_ground(backdrop_rng, geo, row0, rows, col0, cols, speed_per_row)
    order = sorted(range(len(place.sprites)), key=lambda i: (-place.sprites[i].depth_m, i))
    return Scene(height=height, width=width, length=length, sky=sky, ground=ground,
                 sprites=[place.sprites[i] for i in order], shake_x_px=shake_x.astype(np.float32),
                 shake_y_px=shake_y.astype(np.float32), gain=gain.astype(np.float32))
