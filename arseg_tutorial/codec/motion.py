"""Block motion vectors -> a dense backward flow per pixel, with a validity mask.

Introduced in notebook 02. H.264 stores one vector per block (16x16, 16x8, 8x16 or 8x8 on an
8-pixel grid). FFmpeg's convention (DESIGN §3): ``dst_x, dst_y`` is the block centre in the
current frame, the vector in pixels is ``motion_x / motion_scale`` and
``current(x) = reference(x + motion)``: the field is a *backward* flow. Intra blocks have no
vector; they, and pixels whose vector points outside the reference, are marked invalid and get
zero motion. Everything is vectorised: no Python loop over blocks.
"""
from __future__ import annotations

from typing import Literal

import numpy as np

Direction = Literal["past", "future"]


def select_direction(mvs: np.ndarray, direction: Direction) -> np.ndarray:
    """The vectors that point to the past (``source < 0``) or future (``source > 0``) reference.

    Introduced in notebook 02.
    """
    if direction not in ("past", "future"):
        raise ValueError(f"direction must be 'past' or 'future', got {direction!r}")
    return mvs[mvs["source"] < 0] if direction == "past" else mvs[mvs["source"] > 0]


def block_cells(mvs: np.ndarray, cell_px: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expand each block into the cell_px x cell_px cells it covers (vectorised).

    Introduced in notebook 02.

    Args:
        mvs: (M,) structured motion vectors.
        cell_px: cell size in pixels; every block edge must lie on this grid.

    Returns:
        (rows, cols, block) three (K,) int arrays: cell row, cell column and the block it belongs to.
    """
    widths = mvs["w"].astype(np.int64) // cell_px
    heights = mvs["h"].astype(np.int64) // cell_px
    left = (mvs["dst_x"].astype(np.int64) - mvs["w"].astype(np.int64) // 2) // cell_px
    top = (mvs["dst_y"].astype(np.int64) - mvs["h"].astype(np.int64) // 2) // cell_px
    counts = widths * heights
    block = np.repeat(np.arange(len(mvs)), counts)
    offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    cols = left[block] + offset % widths[block]
    rows = top[block] + offset // widths[block]
    return rows, cols, block


def _cell_size(mvs: np.ndarray) -> int:
    """The largest power of two (<= 16) dividing every block size and block corner."""
    edges = np.concatenate([mvs["w"], mvs["h"], mvs["dst_x"] - mvs["w"] // 2,
                            mvs["dst_y"] - mvs["h"] // 2]).astype(np.int64)
    combined = int(np.bitwise_or.reduce(np.abs(edges))) | 16
    return combined & -combined


def _invalidate_outside(flow: np.ndarray, valid: np.ndarray, cell_flow: np.ndarray,
                        cell: int) -> None:
    """In place: pixels whose ``p + flow`` leaves the frame become invalid with zero flow.

    Only cells whose vector can carry one of their pixels outside are checked pixel by pixel
    (a handful along the borders), all at once with array indexing.

    Args:
        flow: (H, W, 2) float32 and valid: (H, W) bool, painted from ``cell_flow``.
        cell_flow: (gh, gw, 2) float32 vector of each cell_px x cell_px cell.
    """
    height, width = valid.shape
    grid_h, grid_w = cell_flow.shape[:2]
    left = np.arange(grid_w, dtype=np.float32)[None, :] * cell
    top = np.arange(grid_h, dtype=np.float32)[:, None] * cell
    right = np.minimum(left + cell, width) - 1
    bottom = np.minimum(top + cell, height) - 1
    risky = ((left + cell_flow[..., 0] < 0) | (right + cell_flow[..., 0] > width - 1)
             | (top + cell_flow[..., 1] < 0) | (bottom + cell_flow[..., 1] > height - 1))
    cell_rows, cell_cols = np.nonzero(risky)
    offsets = np.arange(cell * cell)
    rows = (cell_rows[:, None] * cell + offsets // cell).ravel()
    cols = (cell_cols[:, None] * cell + offsets % cell).ravel()
    inside_frame = (rows < height) & (cols < width)
    rows, cols = rows[inside_frame], cols[inside_frame]
    target_x, target_y = cols + flow[rows, cols, 0], rows + flow[rows, cols, 1]
    outside = (target_x < 0) | (target_x > width - 1) | (target_y < 0) | (target_y > height - 1)
    valid[rows[outside], cols[outside]] = False
    flow[rows[outside], cols[outside]] = 0.0


def interpolate_cells(cell_flow: np.ndarray, cell_valid: np.ndarray, cell_px: int, height: int,
                      width: int, tolerance_px: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear interpolation between block centres where the neighbouring blocks agree.

    Block vectors are piecewise constant, but much real motion is smooth (the ground plane's flow
    grows row by row). Each pixel takes the bilinear blend of the four nearest cell-centre vectors
    when all four are valid and no component differs from their mean by ``tolerance_px`` or more;
    elsewhere (motion boundaries, intra blocks) it is left to the caller's piecewise-constant value.
    Introduced in notebook 02.

    Args:
        cell_flow: (h, w, 2) float32 vector of each cell_px x cell_px cell.
        cell_valid: (h, w) bool, the cell holds a vector.
        cell_px: cell size in pixels.
        height, width: frame size in pixels.
        tolerance_px: largest disagreement (pixels) that still counts as smooth motion.

    Returns:
        flow: (H, W, 2) float32 blended vectors; use: (H, W) bool, where the blend applies.
    """
    grid_h, grid_w = cell_valid.shape
    ys = (np.arange(height) + 0.5) / cell_px - 0.5
    xs = (np.arange(width) + 0.5) / cell_px - 0.5
    y0 = np.clip(np.floor(ys).astype(int), 0, grid_h - 1)
    x0 = np.clip(np.floor(xs).astype(int), 0, grid_w - 1)
    y1, x1 = np.minimum(y0 + 1, grid_h - 1), np.minimum(x0 + 1, grid_w - 1)
    wy = np.clip(ys - y0, 0, 1)[:, None, None]
    wx = np.clip(xs - x0, 0, 1)[None, :, None]
    corners = np.stack([cell_flow[y0][:, x0], cell_flow[y0][:, x1],
                        cell_flow[y1][:, x0], cell_flow[y1][:, x1]])
    weights = np.stack([(1 - wy) * (1 - wx), (1 - wy) * wx, wy * (1 - wx), wy * wx])
    blend = (corners * weights).sum(axis=0).astype(np.float32)
    spread = np.abs(corners - corners.mean(axis=0)).max(axis=(0, 3))
    all_valid = (cell_valid[y0][:, x0] & cell_valid[y0][:, x1]
                 & cell_valid[y1][:, x0] & cell_valid[y1][:, x1])
    return blend, all_valid & (spread < tolerance_px)


def motion_vectors_to_flow(mvs: np.ndarray, height: int, width: int,
                           direction: Direction = "past", *,
                           interpolate: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Dense backward flow (pixels, x first) and validity from one frame's block vectors.

    Introduced in notebook 02.

    Args:
        mvs: (M,) structured array from ``read_video(...).motion_vectors[t]`` (may be empty).
        height, width: frame size in pixels.
        direction: use the vectors to the past reference (``source < 0``; P-frames and the
            forward half of B-frames) or to the future reference (``source > 0``; B-frames).

    Returns:
        flow: (H, W, 2) float32, ``current(x, y) = reference(x + flow[..., 0], y + flow[..., 1])``.
        valid: (H, W) bool; False in intra blocks, uncovered areas and where ``x + flow`` falls
            outside the reference frame. Flow is 0 wherever valid is False.
    """
    if mvs.dtype.names is None or "motion_scale" not in mvs.dtype.names:
        raise ValueError("mvs must be the structured array of read_video(...).motion_vectors[t]")
    chosen = select_direction(mvs, direction)
    cell = _cell_size(chosen)
    grid_h, grid_w = -(-height // cell), -(-width // cell)
    cell_flow = np.zeros((grid_h, grid_w, 2), np.float32)
    cell_valid = np.zeros((grid_h, grid_w), bool)
    if len(chosen):
        rows, cols, block = block_cells(chosen, cell)
        inside = (rows >= 0) & (rows < grid_h) & (cols >= 0) & (cols < grid_w)
        rows, cols, block = rows[inside], cols[inside], block[inside]
        scale = np.maximum(chosen["motion_scale"], 1).astype(np.float32)
        vectors = np.stack([chosen["motion_x"] / scale, chosen["motion_y"] / scale], axis=1)
        cell_flow[rows, cols] = vectors[block]
        cell_valid[rows, cols] = True
    flow = np.repeat(np.repeat(cell_flow, cell, axis=0), cell, axis=1)[:height, :width]
    valid = np.repeat(np.repeat(cell_valid, cell, axis=0), cell, axis=1)[:height, :width]
    flow, valid = np.ascontiguousarray(flow), np.ascontiguousarray(valid)
    if interpolate:
        blend, use = interpolate_cells(cell_flow, cell_valid, cell, height, width)
        flow[use] = blend[use]
    _invalidate_outside(flow, valid, cell_flow, cell)
    return flow, valid


def endpoint_error(flow: np.ndarray, reference_flow: np.ndarray) -> np.ndarray:
    """Per-pixel endpoint error ``|flow - reference_flow|`` in pixels, (H, W) float32.

    Introduced in notebook 02.
    """
    if flow.shape != reference_flow.shape or flow.shape[-1] != 2:
        raise ValueError(f"both flows must be (H, W, 2) of one size, got {flow.shape} and "
                         f"{reference_flow.shape}")
    return np.linalg.norm(flow.astype(np.float32) - reference_flow, axis=-1)
