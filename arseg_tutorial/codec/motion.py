"""Block motion vectors -> a dense backward flow per pixel, with a validity mask.

Introduced in notebook 02. H.264 stores one vector per block (16x16, 16x8, 8x16 or 8x8 on an
8-pixel grid). FFmpeg's convention (docs/codec.md#motion-vectors): ``dst_x, dst_y`` is the
block centre in the
current frame, the vector in pixels is ``motion_x / motion_scale`` and
``current(x) = reference(x + motion)``: the field is a *backward* flow. Intra blocks have no
vector; they, and pixels whose vector points outside the reference, are marked invalid and get
zero motion. Everything is vectorised: no Python loop over blocks.
"""
from __future__ import annotations

import functools
from typing import Literal

import numpy as np

Direction = Literal["past", "future"]


def select_direction(mvs: np.ndarray, direction: Direction) -> np.ndarray:
    """The vectors that point to the past (``source < 0``) or future (``source > 0``) reference.

    Introduced in notebook 02.
    """
    return mvs[_direction_mask(mvs, direction)]


def _direction_mask(mvs: np.ndarray, direction: Direction) -> np.ndarray:
    """(M,) bool: which vectors ``select_direction`` keeps."""
    if direction not in ("past", "future"):
        raise ValueError(f"direction must be 'past' or 'future', got {direction!r}")
    return mvs["source"] < 0 if direction == "past" else mvs["source"] > 0


def _block_geometry(mvs: np.ndarray) -> tuple[np.ndarray, ...]:
    """(w, h, x, y) four (M,) int64 arrays: each block's size and top-left pixel."""
    w, h = mvs["w"].astype(np.int64), mvs["h"].astype(np.int64)
    return w, h, mvs["dst_x"] - w // 2, mvs["dst_y"] - h // 2


def _cells_of_blocks(w: np.ndarray, h: np.ndarray, x: np.ndarray, y: np.ndarray,
                     cell_px: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expand each block (the ``_block_geometry`` arrays) into the cell_px x cell_px cells it
    covers; every block edge must lie on this grid.

    Returns:
        (rows, cols, block) three (K,) int arrays: cell row, cell column and the block it belongs to.
    """
    widths, heights, left, top = w // cell_px, h // cell_px, x // cell_px, y // cell_px
    counts = widths * heights
    block = np.arange(len(counts)).repeat(counts)
    # each cell's place in its block, row by row: offset = row * block width + column
    offset = np.arange(len(block)) - (counts.cumsum() - counts)[block]
    row_in_block, col_in_block = np.divmod(offset, widths[block])
    return top[block] + row_in_block, left[block] + col_in_block, block


def _cell_size(w: np.ndarray, h: np.ndarray, x: np.ndarray, y: np.ndarray) -> int:
    """The largest power of two (<= 16) dividing every block size and block corner.

    Takes the ``_block_geometry`` arrays. That power is the lowest bit set in any of them, and
    ``n`` and ``-n`` have the same lowest set bit: negative corners need no ``abs``.
    """
    combined = int(np.bitwise_or.reduce(w | h | x | y)) | 16
    return combined & -combined


@functools.lru_cache(maxsize=64)
def _pixels_per_cell(size: int, cell: int) -> np.ndarray:
    """(ceil(size / cell),) read-only: how many pixels of each cell lie inside the frame.

    ``cell`` for every cell but the last, which the frame's edge may cut: ``np.repeat`` with
    these counts upsamples straight to the frame size, with no crop and copy afterwards.
    """
    counts = np.full(-(-size // cell), cell)
    counts[-1:] = size - cell * (len(counts) - 1)  # [-1:]: no cell at all in a 0-pixel frame
    counts.flags.writeable = False
    return counts


@functools.lru_cache(maxsize=64)
def _cell_bounds(height: int, width: int, cell: int) -> tuple[np.ndarray, ...]:
    """Read-only float32 pixel bounds of each cell, cut at the frame's edge.

    Returns:
        left, right: (gw,) first and last pixel column; top, bottom: (gh, 1) first and last row.
    """
    left = np.arange(-(-width // cell), dtype=np.float32) * cell
    top = np.arange(-(-height // cell), dtype=np.float32)[:, None] * cell
    bounds = left, np.minimum(left + cell, width) - 1, top, np.minimum(top + cell, height) - 1
    for bound in bounds:
        bound.flags.writeable = False
    return bounds


def _invalidate_outside(flow: np.ndarray, valid: np.ndarray, cell_flow: np.ndarray,
                        cell: int, *, constant_cells: bool = True) -> None:
    """In place: pixels whose ``p + flow`` leaves the frame become invalid with zero flow.

    Only cells whose vector can carry one of their pixels outside are checked pixel by pixel
    (a handful along the borders), all at once with array indexing.

    Args:
        flow: (H, W, 2) float32 and valid: (H, W) bool, painted from ``cell_flow``, C-contiguous.
        cell_flow: (gh, gw, 2) float32 vector of each cell_px x cell_px cell.
        constant_cells: every pixel still has its cell's vector (no interpolation), so the
            vectors are read once per cell instead of once per pixel.
    """
    height, width = valid.shape
    left, right, top, bottom = _cell_bounds(height, width, cell)
    flow_x, flow_y = cell_flow[..., 0].copy(), cell_flow[..., 1].copy()  # contiguous: faster
    risky = ((left + flow_x < 0) | (right + flow_x > width - 1)
             | (top + flow_y < 0) | (bottom + flow_y > height - 1))
    cell_rows, cell_cols = np.divmod(np.flatnonzero(risky), risky.shape[1])
    if not len(cell_rows):
        return
    # The pixels of the n risky cells, laid out (cell, n) and (cell, cell, n): numpy's inner loops
    # then run over the n cells, not over a cell's few pixels (much faster). Rows and columns stop
    # at the frame's edge: a cell cut by the edge repeats its edge pixel (same verdict, no harm).
    steps = np.arange(cell)[:, None]
    rows = np.minimum(steps + cell_rows * cell, height - 1)  # (cell, n)
    cols = np.minimum(steps + cell_cols * cell, width - 1)
    pixel = (rows * width)[:, None, :] + cols  # (cell, cell, n): pixel (i, j) of cell k, flat
    # As complex64, each (x, y) pair is one 8-byte item: .real is x, .imag is y (no copies).
    if constant_cells:
        vectors = cell_flow.view(np.complex64)[cell_rows, cell_cols, 0]  # (n,): one per cell
    else:
        vectors = np.take(flow.view(np.complex64).reshape(-1), pixel)  # (cell, cell, n)
    target_x = cols[None, :, :] + vectors.real  # int + float32 -> float64, as p + flow
    target_y = rows[:, None, :] + vectors.imag
    outside = (((target_x < 0) | (target_x > width - 1))
               | ((target_y < 0) | (target_y > height - 1)))  # (cell, cell, n)
    pixel = pixel[outside]
    valid.reshape(-1)[pixel] = False
    flow.view(np.complex64).reshape(-1)[pixel] = 0


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
    field = block_field(mvs, height, width, direction)
    if field is None:  # I-frame (or none this way): no motion
        return np.zeros((height, width, 2), np.float32), np.zeros((height, width), bool)
    cell_flow, cell_valid, cell = field
    # Cells -> pixels with np.repeat, the counts cut at the frame's edge (no crop, no copy). The
    # order is for speed: flow ends by repeating 8-byte (x, y) pairs along the rows (copying whole
    # pixel rows of a few KB instead can be 6x slower on AMD CPUs at unlucky alignments); valid
    # ends by copying whole rows, short ones.
    down, across = _pixels_per_cell(height, cell), _pixels_per_cell(width, cell)
    flow = cell_flow.repeat(down, axis=0).repeat(across, axis=1)
    valid = cell_valid.repeat(across, axis=1).repeat(down, axis=0)
    if interpolate:
        blend, use = interpolate_cells(cell_flow, cell_valid, cell, height, width)
        flow[use] = blend[use]
    _invalidate_outside(flow, valid, cell_flow, cell, constant_cells=not interpolate)
    return flow, valid


def block_field(mvs: np.ndarray, height: int, width: int,
                direction: Direction = "past") -> tuple[np.ndarray, np.ndarray, int] | None:
    """One frame's block vectors painted on the grid of the smallest block cell (no pixels yet).

    Introduced in notebook 02 (``motion_vectors_to_flow`` expands it to pixels; notebook 07's
    player samples it at the feature grid only, ``codec.grid_chain``).

    Args:
        mvs, height, width, direction: as for ``motion_vectors_to_flow``.
    Returns:
        (cell_flow, cell_valid, cell_px): (gh, gw, 2) float32 vector of each cell_px x cell_px
        cell, (gh, gw) bool where a block covers it, and cell_px (a power of two <= 16); None
        when no vector points this way (an I-frame: zero motion everywhere).
    """
    if mvs.dtype.names is None or "motion_scale" not in mvs.dtype.names:
        raise ValueError("mvs must be the structured array of read_video(...).motion_vectors[t]")
    keep = _direction_mask(mvs, direction)
    chosen = mvs if keep.all() and mvs.ndim == 1 else mvs[keep]  # P-frames: all, no copy
    if not len(chosen) and height > 0 and width > 0:
        return None
    geometry = _block_geometry(chosen)
    cell = _cell_size(*geometry)
    grid_h, grid_w = -(-height // cell), -(-width // cell)
    rows, cols, block = _cells_of_blocks(*geometry, cell)
    inside = (rows >= 0) & (rows < grid_h) & (cols >= 0) & (cols < grid_w)
    index, block = rows[inside] * grid_w + cols[inside], block[inside]  # flat cell index
    # As complex64, each (x, y) pair is one 8-byte item: .real is x, .imag is y, and painting
    # copies whole pairs in one fast 1-d indexing.
    scale = np.maximum(chosen["motion_scale"], 1)
    vectors = np.empty(len(chosen), np.complex64)
    vectors.real = chosen["motion_x"] / scale  # divided in float64, rounded once to float32
    vectors.imag = chosen["motion_y"] / scale
    cell_flow = np.zeros((grid_h, grid_w, 2), np.float32)
    cell_valid = np.zeros((grid_h, grid_w), bool)
    cell_flow.view(np.complex64).reshape(-1)[index] = vectors[block]
    cell_valid.reshape(-1)[index] = True
    return cell_flow, cell_valid, cell


def endpoint_error(flow: np.ndarray, reference_flow: np.ndarray) -> np.ndarray:
    """Per-pixel endpoint error ``|flow - reference_flow|`` in pixels, (H, W) float32.

    Introduced in notebook 02.
    """
    if flow.shape != reference_flow.shape or flow.shape[-1] != 2:
        raise ValueError(f"both flows must be (H, W, 2) of one size, got {flow.shape} and "
                         f"{reference_flow.shape}")
    return np.linalg.norm(flow.astype(np.float32) - reference_flow, axis=-1)
