"""Motion vectors chained to the keyframe at the feature grid only: the player's fast path.

Introduced in notebook 07. CReFF warps a feature map on a coarse h x w grid (1/8 of the frame for
BiSeNet18), and ``codec.warp`` samples the per-pixel chained flow at h x w points only: bilinearly,
at the ``align_corners=True`` positions ``P = (j (W-1)/(w-1), i (H-1)/(h-1))``. This module
computes the flow at those points and nothing else:

- the one-step flow ``s(P)`` is the exact bilinear sample of the per-pixel flow that
  ``motion_vectors_to_flow`` paints (each of the four neighbouring pixels takes its block's
  vector, or zero where that vector leaves the frame);
- the chain ``G_t(P) = s(P) + G_a(P + s(P))`` samples the previous anchor's chain ``G_a``
  bilinearly *on the grid* (edge values repeated), where the per-pixel path samples it per pixel
  and then averages neighbouring pixels.

The two agree exactly on the first P-frame of a GOP and wherever the motion is constant over the
pixels a grid point averages; elsewhere (block edges of moving objects) they differ by a fraction of
the motion difference there, growing slowly along the GOP. ``tests/test_codec_grid_chain.py``
states and checks the tolerance on the warped feature. The validity mask is not computed: the
player does not use it (intra holes carry zero motion in both paths).
"""
from __future__ import annotations

import numpy as np

from arseg_tutorial.codec.motion import block_field


def grid_positions(size: int, grid: int) -> np.ndarray:
    """(grid,) float64 image coordinates of the ``align_corners=True`` samples of ``size`` pixels."""
    if grid == 1:
        return np.zeros(1)
    return np.arange(grid) * ((size - 1) / (grid - 1))


def _bilinear_corners(positions: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower index, upper index, weight of the upper one) of each coordinate, inside [0, size-1]."""
    positions = np.clip(positions, 0, size - 1)
    lower = np.minimum(np.floor(positions).astype(np.int64), size - 1)
    return lower, np.minimum(lower + 1, size - 1), positions - lower


def pixel_corners(xs: np.ndarray, ys: np.ndarray, height: int,
                  width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The four pixels around each grid point and their bilinear weights (the same for every frame
    of a video: ``GridChain`` computes them once).

    Returns:
        rows (2, 1, gh, 1) and cols (1, 2, 1, gw) int64: corner (a, b) of grid point (i, j) is pixel
        (rows[a, 0, i, 0], cols[0, b, 0, j]); wx (1, gw, 1) and wy (gh, 1, 1): weights of the
        right and lower corners.
    """
    x0, x1, wx = _bilinear_corners(xs, width)
    y0, y1, wy = _bilinear_corners(ys, height)
    return (np.stack([y0, y1])[:, None, :, None], np.stack([x0, x1])[None, :, None, :],
            wx[None, :, None], wy[:, None, None])


def sample_step_flow(mvs: np.ndarray, height: int, width: int, xs: np.ndarray,
                     ys: np.ndarray, corners: tuple | None = None) -> np.ndarray:
    """Bilinear samples of ``motion_vectors_to_flow(mvs, height, width)[0]`` on a grid.

    Introduced in notebook 07.

    Args:
        mvs: one frame's motion vectors (past direction: P-frames).
        height, width: frame size in pixels.
        xs: (gw,) and ys: (gh,) image coordinates of the grid's columns and rows.
        corners: ``pixel_corners(xs, ys, height, width)``, if already computed.
    Returns:
        (gh, gw, 2) float32 flow in image pixels, x first.
    """
    field = block_field(mvs, height, width, "past")
    if field is None:
        return np.zeros((len(ys), len(xs), 2), np.float32)
    cell_flow, _, cell = field
    rows, cols, wx, wy = corners if corners is not None else pixel_corners(xs, ys, height, width)
    vectors = cell_flow[rows // cell, cols // cell]  # (2, 2, gh, gw, 2): each corner pixel's block
    target_x = cols + vectors[..., 0]  # float64, as motion_vectors_to_flow checks
    target_y = rows + vectors[..., 1]
    outside = (target_x < 0) | (target_x > width - 1) | (target_y < 0) | (target_y > height - 1)
    corner = np.where(outside[..., None], np.float32(0), vectors)  # each pixel's vector, or 0
    top = corner[0, 0] * (1 - wx) + corner[0, 1] * wx
    bottom = corner[1, 0] * (1 - wx) + corner[1, 1] * wx
    return (top * (1 - wy) + bottom * wy).astype(np.float32)


def sample_grid(values: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Bilinear samples of a (gh, gw, C) grid at fractional grid coordinates, edges repeated.

    Args:
        values: (gh, gw, C) the grid.
        xs, ys: (gh, gw) column and row coordinates in grid units.
    Returns:
        (gh, gw, C) float32.
    """
    grid_h, grid_w = values.shape[:2]
    x0, x1, wx = _bilinear_corners(xs, grid_w)
    y0, y1, wy = _bilinear_corners(ys, grid_h)
    wx, wy = wx[..., None], wy[..., None]
    top = values[y0, x0] * (1 - wx) + values[y0, x1] * wx
    bottom = values[y1, x0] * (1 - wx) + values[y1, x1] * wx
    return (top * (1 - wy) + bottom * wy).astype(np.float32)


class GridChain:
    """Backward flow from each frame to its GOP's I-frame, kept at a grid's points only.

    Introduced in notebook 07. Feed the frames in display order (I- and P-frames, ``refs=1``).

    Args:
        height, width: frame size in pixels.
        grid_h, grid_w: the grid (the feature map's size).
    """

    def __init__(self, height: int, width: int, grid_h: int, grid_w: int):
        self.height, self.width = height, width
        self.xs, self.ys = grid_positions(width, grid_w), grid_positions(height, grid_h)
        self._to_grid = np.array([(grid_w - 1) / max(width - 1, 1), (grid_h - 1) / max(height - 1, 1)])
        self.chain = np.zeros((grid_h, grid_w, 2), np.float32)
        self._corners = pixel_corners(self.xs, self.ys, height, width)

    def step(self, frame_type: str, mvs: np.ndarray) -> np.ndarray:
        """Advance by one frame; returns its (gh, gw, 2) float32 flow to the keyframe, image pixels.

        Raises:
            ValueError: a B-frame (its reference is in the future; re-encode with ``bframes=0``).
        """
        if frame_type == "I":
            self.chain = np.zeros_like(self.chain)
        elif frame_type == "P":
            step = sample_step_flow(mvs, self.height, self.width, self.xs, self.ys, self._corners)
            landing_x = (self.xs[None, :] + step[..., 0]) * self._to_grid[0]
            landing_y = (self.ys[:, None] + step[..., 1]) * self._to_grid[1]
            self.chain = step + sample_grid(self.chain, landing_x, landing_y)
        else:
            raise ValueError(f"the grid chain follows I- and P-frames only, got a {frame_type!r}-frame; "
                             f"re-encode the video with encode_video(..., bframes=0)")
        return self.chain

    def feature_flow(self) -> np.ndarray:
        """The current chain in feature pixels, (gh, gw, 2) float32, scaled as ``codec.warp`` does
        (by w / W and h / H)."""
        grid_h, grid_w = self.chain.shape[:2]
        scale = np.array([grid_w / self.width, grid_h / self.height], np.float32)
        return self.chain * scale
