"""Local attention on large CPU grids: dense matmuls over tiles of queries, channels last.

Introduced in notebook 04 (``models.local_attention`` picks these kernels for large grids). A tile
of t x t queries has windows that together cover an s x s region of keys (s = t + kernel - 1).
One matmul gives every query of the tile its score with every key of the region, and each query
keeps its kernel**2 of them; the aggregation scatters the weights into the same (t*t, s*s)
matrices, zero off the windows, and multiplies them with the region's values. The matmul does
s*s / kernel**2 times the useful work (2x for t = 4, kernel 7) but runs ~10x faster per
multiply-accumulate than elementwise passes over memory.

Everything is laid out channels last. A row of tiles is copied once into a band stored column by
column, ``band[column, row, channel]``: each tile's region is then one contiguous (s*s, C) block
of it, so the whole row of tiles is one batched matmul over strided views, with no copy per tile;
filling the band moves whole C-vectors (contiguous when the input is channels last, as CReFF
makes it), and each query's window is picked out of the scores, or scattered into the weight
matrices, through one strided view. Working buffers hold one row of tiles.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

TILE = 4
"""Tile side t (t x t queries per tile; 3, 4 and 6 measured alike for 7x7 at C = 256, 90x120)."""


def _fill_band(band: Tensor, x_hwc: Tensor, row0: int, pad: int) -> Tensor:
    """Fill ``band`` (width, rows, C), in place, with rows ``row0 ..`` of ``x_hwc`` (H, W, C)
    column by column: ``band[pad + col, r] = x_hwc[row0 + r, col]``, 0 for rows outside ``x``.
    Columns outside ``pad .. pad + W`` are left as they are (zero from the allocation)."""
    rows = band.shape[1]
    h, w = x_hwc.shape[:2]
    lo, hi = max(row0, 0), min(row0 + rows, h)
    band[:, :lo - row0].zero_()
    band[:, hi - row0:].zero_()
    band[pad:pad + w, lo - row0:hi - row0].copy_(x_hwc[lo:hi].transpose(0, 1))
    return band


def _regions(band: Tensor, t: int, tiles: int) -> Tensor:
    """(width, s, C) band -> (tiles, s*s, C) view: tile j's s x s block, columns from j*t on."""
    _, s, c = band.shape
    return band.as_strided((tiles, s * s, c), (t * s * c, c, 1))


def _windows(scores: Tensor, t: int, kernel: int) -> Tensor:
    """(tiles, t*t, s*s) tile matrices -> (tiles, t_x, t_y, kernel_i, kernel_j) view of the
    entries on each query's window. Query (y, x) of a tile is row ``x*t + y``; its window offset
    (i, j) is key ``(x + j) * s + y + i`` of the region (both numbered column by column)."""
    s = t + kernel - 1
    tiles = scores.shape[0]
    return scores.as_strided((tiles, t, t, kernel, kernel),
                             (t * t * s * s, t * s * s + s, s * s + 1, 1, s))


def similarity_tiled(q: Tensor, k: Tensor, kernel: int) -> Tensor:
    """``local_attention.similarity`` by tiles.

    Args:
        q, k: (N, C, H, W) queries and keys (channels-last memory reads fastest).
        kernel: odd window size.
    Returns:
        (N, H, W, kernel*kernel) similarities, window positions outside the image 0.
    """
    n, c, h, w = q.shape
    t, r = TILE, kernel // 2
    s, rows, cols = t + 2 * r, -(-h // t), -(-w // t)
    key_band = k.new_zeros((cols * t + 2 * r, s, c))
    query_band = q.new_zeros((cols * t, t, c))
    scores = q.new_empty((cols, t * t, s * s))
    out = q.new_empty((n, rows * t, cols * t, kernel * kernel))
    for b in range(n):
        q_hwc, k_hwc = q[b].permute(1, 2, 0), k[b].permute(1, 2, 0)
        for a in range(rows):
            keys = _regions(_fill_band(key_band, k_hwc, a * t - r, r), t, cols)
            queries = _regions(_fill_band(query_band, q_hwc, a * t, 0), t, cols)
            torch.bmm(queries, keys.transpose(1, 2), out=scores)
            picked = _windows(scores, t, kernel).permute(2, 0, 1, 3, 4)      # (y, tile, x, i, j)
            out[b, a * t:(a + 1) * t].view(t, cols, t, kernel, kernel).copy_(picked)
    return out[:, :h, :w].contiguous() if out.shape[1:3] != (h, w) else out


def aggregate_tiled(v: Tensor, weights: Tensor, kernel: int) -> Tensor:
    """``local_attention.aggregate`` by tiles.

    Args:
        v: (N, C, H, W) values (channels-last memory reads fastest).
        weights: (N, H, W, kernel*kernel) weights, window index row-major.
        kernel: odd window size.
    Returns:
        (N, C, H, W) weighted window sums, channels-last memory.
    """
    n, c, h, w = v.shape
    t, r = TILE, kernel // 2
    s, rows, cols = t + 2 * r, -(-h // t), -(-w // t)
    padded = F.pad(weights, (0, 0, 0, cols * t - w, 0, rows * t - h))
    value_band = v.new_zeros((cols * t + 2 * r, s, c))
    dense = v.new_zeros((cols, t * t, s * s))         # entries off the windows stay 0
    on_windows = _windows(dense, t, kernel)
    tile_out = v.new_empty((cols, t * t, c))
    out = v.new_empty((n, h, w, c))
    for b in range(n):
        v_hwc = v[b].permute(1, 2, 0)
        for a in range(rows):
            values = _regions(_fill_band(value_band, v_hwc, a * t - r, r), t, cols)
            tile_weights = padded[b, a * t:(a + 1) * t].view(t, cols, t, kernel, kernel)
            on_windows.copy_(tile_weights.permute(1, 2, 0, 3, 4))           # (tile, x, y, i, j)
            torch.bmm(dense, values, out=tile_out)
            _put_tiles(out[b, a * t:(a + 1) * t], tile_out.view(cols, t, t, c))
    return out.permute(0, 3, 1, 2)


def _put_tiles(dest: Tensor, tiles: Tensor) -> None:
    """dest (rows, W, C) <- tiles (cols, t_x, t_y, C) side by side, the last row and column of
    tiles cropped to fit (no padded copy of the output to crop afterwards)."""
    cols, t, _, c = tiles.shape
    rows, w = dest.shape[:2]
    by_row = tiles.permute(2, 0, 1, 3)[:rows]                               # (y, tile, x, C)
    full = w // t
    dest[:, :full * t].view(rows, full, t, c).copy_(by_row[:, :full])
    if full < cols:
        dest[:, full * t:].copy_(by_row[:, full, :w - full * t])
