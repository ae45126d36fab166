"""Anti-aliased drawing primitives and band-limited noise for the street-scene sprites.

Introduced in notebook 00. Everything is drawn at its final pixel size with *analytic* coverage
(the fraction of each pixel a shape covers), and noise never has detail finer than ~2 px, so that
a sprite shifted by a sub-pixel amount still looks the same -- which is what makes the generator's
exact optical flow reproduce the next frame under bilinear warping.

Coordinates: a canvas of ``h x w`` texels spans the continuous rectangle [0, h] x [0, w]; texel
(i, j) covers [i, i+1] x [j, j+1]; lengths are in pixels.
"""
from __future__ import annotations

import numpy as np

MIN_NOISE_CELL_PX = 2.5
"""Noise octaves with cells smaller than this are dropped (they would alias under sub-pixel motion)."""


def _smooth_interp(grid: np.ndarray, pos: np.ndarray, axis: int) -> np.ndarray:
    """Interpolate ``grid`` along ``axis`` at fractional indices ``pos`` with a smoothstep kernel."""
    i0 = np.floor(pos).astype(np.int64)
    s = (pos - i0).astype(np.float32)
    s = s * s * (3.0 - 2.0 * s)
    shape = [1, 1]
    shape[axis] = -1
    s = s.reshape(shape)
    return np.take(grid, i0, axis=axis) * (1.0 - s) + np.take(grid, i0 + 1, axis=axis) * s


def child_rng(rng: np.random.Generator) -> np.random.Generator:
    """An independent generator seeded by one draw from ``rng``.

    Drawing textures from children keeps the parent's stream the same at every image size, so a
    seed lays out the same street at 120x160 and at 720x960.
    """
    return np.random.default_rng(int(rng.integers(2 ** 63)))


def value_noise(rng: np.random.Generator, height: int, width: int, cell_px: float,
                aspect: float = 1.0) -> np.ndarray:
    """Smooth random field with features of about ``cell_px`` pixels across (``aspect`` x that tall).

    Takes exactly one draw from ``rng`` whatever the size.

    Returns:
        (height, width) float32, zero mean, standard deviation about 0.7.
    """
    own = child_rng(rng)
    cell_x = max(float(cell_px), 1.0)
    cell_y = max(cell_x * aspect, 1.0)
    grid = own.standard_normal((int(height / cell_y) + 3, int(width / cell_x) + 3)).astype(np.float32)
    oy, ox = own.random(2)
    rows = _smooth_interp(grid, np.arange(height) / cell_y + oy, axis=0)
    return _smooth_interp(rows, np.arange(width) / cell_x + ox, axis=1).astype(np.float32)


def fractal_noise(rng: np.random.Generator, height: int, width: int, cell_px: float,
                  octaves: int = 3, aspect: float = 1.0) -> np.ndarray:
    """Sum of ``octaves`` value-noise layers (cells halving, amplitudes halving), band-limited.

    Octaves whose cell (the smaller side, with ``aspect``) is below ``MIN_NOISE_CELL_PX`` are skipped
    (their draw from ``rng`` is still taken, so the stream does not depend on the size).

    Returns:
        (height, width) float32, roughly within [-1.5, 1.5].
    """
    out = np.zeros((height, width), np.float32)
    cell, amp = float(cell_px), 1.0
    for own in [child_rng(rng) for _ in range(octaves)]:
        if cell * min(aspect, 1.0) >= MIN_NOISE_CELL_PX:
            out += amp * value_noise(own, height, width, cell, aspect)
        cell, amp = cell / 2.0, amp / 2.0
    return out


def grain(rng: np.random.Generator, height: int, width: int, aspect: float = 1.0) -> np.ndarray:
    """Pixel-scale surface grain (cells of 3 and 5 px, whatever the object's distance), so that every
    surface has detail for block matching at any resolution.

    Returns:
        (height, width) float32, standard deviation about 0.8.
    """
    return value_noise(rng, height, width, 3.0, aspect) + 0.6 * value_noise(rng, height, width, 5.0, aspect)


def box_coverage(centres: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Fraction of each unit cell [c - 0.5, c + 0.5] covered by the interval [lo, hi]."""
    return np.clip(np.minimum(centres + 0.5, hi) - np.maximum(centres - 0.5, lo), 0.0, 1.0)


def periodic_coverage(centres: np.ndarray, period: float, length: float, offset: float = 0.0) -> np.ndarray:
    """Coverage of unit cells by intervals [offset + n*period, offset + n*period + length].

    Exact while ``period >= 1`` (a cell then meets at most three intervals).
    """
    m = np.mod(centres - offset, period)
    return np.clip(box_coverage(m, 0.0, length) + box_coverage(m, period, period + length)
                   + box_coverage(m, -period, -period + length), 0.0, 1.0)


def _thin_fix(coverage: np.ndarray, width_px: float) -> np.ndarray:
    """Scale the distance-based coverage of a shape narrower than a pixel to its true area."""
    if width_px >= 1.0:
        return coverage
    return coverage * (width_px / (0.5 * width_px + 0.5))


def disc(yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, radius: float) -> np.ndarray:
    """Coverage of a disc of ``radius`` px centred at (cy, cx)."""
    cov = np.clip(0.5 + radius - np.hypot(yy - cy, xx - cx), 0.0, 1.0)
    return _thin_fix(cov, 2.0 * radius)


def ring(yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, radius: float, width: float) -> np.ndarray:
    """Coverage of a circular ring of mean ``radius`` and line ``width`` (px)."""
    cov = np.clip(0.5 + 0.5 * width - np.abs(np.hypot(yy - cy, xx - cx) - radius), 0.0, 1.0)
    return _thin_fix(cov, width)


def capsule(yy: np.ndarray, xx: np.ndarray, p0: tuple[float, float], p1: tuple[float, float],
            width: float) -> np.ndarray:
    """Coverage of a line segment from p0 = (y, x) to p1 with round caps and line ``width`` (px)."""
    (y0, x0), (y1, x1) = p0, p1
    dy, dx = y1 - y0, x1 - x0
    t = np.clip(((yy - y0) * dy + (xx - x0) * dx) / max(dy * dy + dx * dx, 1e-9), 0.0, 1.0)
    dist = np.hypot(yy - y0 - t * dy, xx - x0 - t * dx)
    return _thin_fix(np.clip(0.5 + 0.5 * width - dist, 0.0, 1.0), width)


def rounded_box(yy: np.ndarray, xx: np.ndarray, top: float, left: float, bottom: float, right: float,
                radius: float) -> np.ndarray:
    """Coverage of an axis-aligned box [top, bottom] x [left, right] with corners rounded by ``radius``."""
    cy, cx = 0.5 * (top + bottom), 0.5 * (left + right)
    hy, hx = 0.5 * (bottom - top), 0.5 * (right - left)
    r = min(radius, hy, hx)
    qy, qx = np.abs(yy - cy) - (hy - r), np.abs(xx - cx) - (hx - r)
    outside = np.hypot(np.maximum(qy, 0.0), np.maximum(qx, 0.0))
    sdf = outside + np.minimum(np.maximum(qy, qx), 0.0) - r
    return np.clip(0.5 - sdf, 0.0, 1.0)


def rect(ys: np.ndarray, xs: np.ndarray, top: float, left: float, bottom: float, right: float) -> np.ndarray:
    """Exact coverage of an axis-aligned box, from the 1-D cell centres ``ys`` (h,) and ``xs`` (w,)."""
    return box_coverage(ys, top, bottom)[:, None] * box_coverage(xs, left, right)[None, :]


def soften(image: np.ndarray, pad: int = 0, weight: float = 0.25) -> np.ndarray:
    """Blur ``image`` (h, w, C) with the separable kernel [weight, 1 - 2 weight, weight].

    This removes the last bit of detail at the pixel scale, so that sub-pixel motion and bilinear
    warping commute closely (PSNR > 35 dB). With ``pad`` > 0 the image first grows by ``pad``
    transparent texels on every side, so that edges can spread.
    """
    if pad:
        image = np.pad(image, ((pad, pad), (pad, pad), (0, 0)))
    centre = np.float32(1.0 - 2.0 * weight)
    out = image * centre
    out[1:] += weight * image[:-1]
    out[:-1] += weight * image[1:]
    out[0] += weight * image[0]
    out[-1] += weight * image[-1]
    rows = out
    out = rows * centre
    out[:, 1:] += weight * rows[:, :-1]
    out[:, :-1] += weight * rows[:, 1:]
    out[:, 0] += weight * rows[:, 0]
    out[:, -1] += weight * rows[:, -1]
    return out.astype(np.float32)


class Canvas:
    """An RGBA sprite being painted, premultiplied alpha, float32 colours in [0, 1].

    Attributes:
        ys, xs: (h,) and (w,) texel-centre coordinates; yy, xx: the same broadcast to 2-D.
    """

    def __init__(self, height: int, width: int) -> None:
        self.height, self.width = int(height), int(width)
        self.ys = np.arange(self.height, dtype=np.float32) + 0.5
        self.xs = np.arange(self.width, dtype=np.float32) + 0.5
        self.yy, self.xx = self.ys[:, None], self.xs[None, :]
        self.rgb = np.zeros((self.height, self.width, 3), np.float32)
        self.alpha = np.zeros((self.height, self.width), np.float32)

    def paint(self, coverage: np.ndarray, color) -> None:
        """Draw ``color`` ((3,) or (h, w, 3)) over the canvas where ``coverage`` (h, w) in [0, 1]."""
        cov = np.broadcast_to(coverage, (self.height, self.width)).astype(np.float32)
        self.rgb = cov[..., None] * np.asarray(color, np.float32) + (1.0 - cov[..., None]) * self.rgb
        self.alpha = cov + (1.0 - cov) * self.alpha

    def rgba(self) -> np.ndarray:
        """(h, w, 4) float32 premultiplied RGBA."""
        return np.concatenate([self.rgb, self.alpha[..., None]], axis=-1).astype(np.float32)
