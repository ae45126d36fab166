"""Label maps from low-resolution logits without upsampling every logit: exact sparse bilinear.

Introduced in notebook 07 (the players' ``labels`` stage). A network's logits live on its feature
grid; the label map is the argmax of their bilinear upsampling to the frame. Every output pixel
is a convex combination of the four grid cells around it. Where all four cells have the same
argmax c, so does every convex combination of them: for each class k, each cell scores c at
least as high as k (strictly, for the classes before c, since c is each cell's *first* largest
logit), and a sum of such inequalities with non-negative weights keeps them. Those pixels take
the label c directly; only the pixels whose four cells disagree need their logits interpolated.

Floating point: a cell counts as agreeing only when its top logit beats the runner-up by more
than the rounding of an interpolation can close (``TIE_EPS`` times the largest |logit|), so that
no tie can appear on the uniform pixels. On the other pixels the four cells' logits are
combined with the weights ``F.interpolate`` uses; the sum may round differently from
PyTorch's (whose own rounding differs between memory layouts), so a label can differ only where
two classes' upsampled logits lie within float rounding of each other.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor

TIE_EPS = 32
"""Gap, in units of the dtype's epsilon times the largest |logit|, that a cell's best class must
have over its second for the cell to count as agreeing (float32: 3.8e-6 relative)."""


def source_cells(out_size: int, in_size: int, align_corners: bool) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Bilinear source cells and weights along one axis, as ``F.interpolate`` computes them.

    Args:
        out_size: output length (pixels).
        in_size: input length (grid cells).
        align_corners: the interpolation convention.
    Returns:
        (i0, i1, weight0, weight1), each (out_size,): output index o reads cells i0[o] and
        i1[o] = min(i0[o] + 1, in_size - 1) with float32 weights summing to 1.
    """
    dst = torch.arange(out_size, dtype=torch.float32)
    if align_corners:
        scale = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
        real = dst * torch.tensor(scale, dtype=torch.float32)
    else:
        real = (torch.tensor(in_size / out_size, dtype=torch.float32) * (dst + 0.5) - 0.5).clamp_min(0)
    i0 = real.floor().long().clamp_max(in_size - 1)
    weight1 = (real - i0).clamp(0, 1)
    i1 = torch.where(i0 < in_size - 1, i0 + 1, i0)
    return i0, i1, 1 - weight1, weight1


def _safe_cells(logits: Tensor) -> Tensor:
    """(N, h, w) bool: the cell's best class beats its second by more than an interpolation's
    rounding can close (``TIE_EPS``)."""
    if logits.shape[1] == 1:
        return torch.ones_like(logits[:, 0], dtype=torch.bool)
    top2 = logits.topk(2, dim=1).values
    margin = TIE_EPS * torch.finfo(logits.dtype).eps * logits.abs().amax().clamp_min(1e-30)
    return (top2[:, 0] - top2[:, 1]) > margin


@functools.lru_cache(maxsize=16)
def _runs(out_size: int, in_size: int, align_corners: bool) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """The output pixels along one axis grouped by the two cells they read: runs of consecutive
    outputs with the same (first cell, second cell), the second taken equal to the first where
    its weight is 0 (the clamped borders), padded to the longest run.

    Returns:
        (first, second, index, weight0, weight1): (runs,) the two cells of each run; (runs, length)
        the output index of each of its pixels (``out_size`` past its end) and their weights
        (0 past the end).
    """
    i0, i1, weight0, weight1 = source_cells(out_size, in_size, align_corners)
    i1 = torch.where(weight1 > 0, i1, i0)
    key = i0 * in_size + i1
    starts = torch.cat([torch.tensor([True]), key[1:] != key[:-1]]).nonzero().flatten()
    counts = torch.diff(torch.cat([starts, torch.tensor([out_size])]))
    offset = torch.arange(int(counts.max()))
    valid = offset < counts[:, None]
    index = (starts[:, None] + offset).clamp_max(out_size - 1)
    zero = torch.zeros(())
    return (i0[starts], i1[starts], torch.where(valid, index, out_size),
            torch.where(valid, weight0[index], zero), torch.where(valid, weight1[index], zero))


def _agreeing_runs(labels: Tensor, safe: Tensor, row_runs: tuple[Tensor, ...],
                   col_runs: tuple[Tensor, ...]) -> Tensor:
    """(N, row runs, column runs) bool: the (up to) four cells a block of output pixels reads
    share one label, each by a safe margin."""
    agree = None
    for rows in row_runs[:2]:
        for cols in col_runs[:2]:
            cell_labels = labels.index_select(1, rows).index_select(2, cols)
            cell_safe = safe.index_select(1, rows).index_select(2, cols)
            if agree is None:
                first, agree = cell_labels, cell_safe
            else:
                agree = agree & cell_safe & (cell_labels == first)
    return agree


DENSE_FRACTION = {"small": 0.08, "large": 0.3}
"""Share of output blocks whose cells disagree above which the whole map is upsampled instead
(cheaper then), for outputs of fewer pixels than ``LARGE_OUTPUT_PX`` ("small") or more. Measured
on one thread (bilinear fields of 11 classes): at 720x960 the sparse labels take 0.2x the full
upsample's time at 4 % disagreeing blocks, 0.5x at 14 %, 0.9x at 30 %; at 180x240, where fixed
costs weigh more, 0.5x at 0 %, 1.0x at 8 %, 1.6x at 21 %."""
LARGE_OUTPUT_PX = 1 << 19


def upsampled_labels(logits: Tensor, size: tuple[int, int], align_corners: bool = False) -> Tensor:
    """Argmax of the bilinear upsampling of ``logits`` to ``size``, interpolating only where the
    four surrounding cells disagree.

    Introduced in notebook 07. The labels of
    ``F.interpolate(logits, size, mode="bilinear", align_corners=...).max(1).indices``
    (first class of largest logit), float near-ties aside (module docstring). When more than
    ``DENSE_FRACTION`` of the output blocks read disagreeing cells, it upsamples everything (the
    same labels, sooner).

    Args:
        logits: (N, K, h, w) class logits on the grid (K <= 256).
        size: (H, W) output size.
        align_corners: the network's upsampling convention (``upsample_align_corners``).
    Returns:
        (N, H, W) uint8 labels.
    """
    n, k, h, w = logits.shape
    height, width = size
    if k > 256:
        raise ValueError(f"uint8 label maps hold at most 256 classes, got {k}")
    labels = logits.max(1).indices.to(torch.uint8)
    if (h, w) == (height, width):
        return labels
    row_runs, col_runs = _runs(height, h, align_corners), _runs(width, w, align_corners)
    dense = DENSE_FRACTION["large" if height * width >= LARGE_OUTPUT_PX else "small"]
    mixed = ~_agreeing_runs(labels, torch.ones_like(labels, dtype=torch.bool), row_runs, col_runs)
    if mixed.float().mean() <= dense:                 # the labels alone leave few blocks: check margins
        mixed = ~_agreeing_runs(labels, _safe_cells(logits), row_runs, col_runs)
    if mixed.float().mean() > dense:
        full = F.interpolate(logits, size=size, mode="bilinear", align_corners=align_corners)
        return full.max(1).indices.to(torch.uint8)
    y0, _, _, _ = source_cells(height, h, align_corners)
    x0, _, _, _ = source_cells(width, w, align_corners)
    flat = labels.new_empty(n * height * width + 1)          # the last entry takes padding writes
    out = flat[:-1].view(n, height, width)
    torch.index_select(labels.index_select(1, y0), 2, x0, out=out)
    blocks = mixed.nonzero(as_tuple=True)
    if len(blocks[0]):
        _interpolate_blocks(flat, (n, height, width), logits, blocks, row_runs, col_runs)
    return out


def _interpolate_blocks(flat: Tensor, shape: tuple[int, int, int], logits: Tensor,
                        blocks: tuple[Tensor, Tensor, Tensor], row_runs: tuple[Tensor, ...],
                        col_runs: tuple[Tensor, ...]) -> None:
    """Write into ``flat`` (the (N, H, W) labels, flattened, plus one spare entry) the labels of
    the output pixels of ``blocks`` = (b, row run, column run), each interpolated from its four
    cells (the same bilinear weights as ``F.interpolate``)."""
    n, k, h, w = logits.shape
    _, height, width = shape
    b, run_y, run_x = blocks
    row0, row1, rows, row_w0, row_w1 = (t[run_y] for t in row_runs)
    col0, col1, cols, col_w0, col_w1 = (t[run_x] for t in col_runs)
    cells = logits.permute(0, 2, 3, 1).reshape(n * h * w, k)
    dtype = logits.dtype
    values = None
    for row, row_w in ((row0, row_w0), (row1, row_w1)):
        for col, col_w in ((col0, col_w0), (col1, col_w1)):
            corner = cells.index_select(0, (b * h + row) * w + col)                  # (Q, K)
            weight = (row_w[:, :, None] * col_w[:, None, :]).to(dtype).flatten(1)    # (Q, pixels)
            term = corner[:, :, None] * weight[:, None, :]
            values = term if values is None else values.add_(term)
    labels = values.max(1).indices.to(torch.uint8)                                    # (Q, pixels)
    index = (b[:, None, None] * height + rows[:, :, None]) * width + cols[:, None, :]
    index = torch.where((rows[:, :, None] < height) & (cols[:, None, :] < width), index, n * height * width)
    flat[index.flatten()] = labels.flatten()
