"""Local (windowed) attention: the two ops CReFF is built from, in plain PyTorch.

Introduced in notebook 04. The official AR-Seg code ships these ops as a CUDA-only extension
(``f_similar`` and ``f_weighting``). Their semantics, which this module reproduces exactly:

* the window around pixel (h, w) has ``kernel * kernel`` positions, numbered row-major: index
  ``i * kernel + j`` is the offset ``(i - kernel // 2, j - kernel // 2)`` (rows first, then columns);
* positions outside the image behave like zero padding: their key and value are 0, so their
  similarity is 0 (not -inf) and they still take softmax mass;
* the similarity is a plain dot product over channels, with no ``1 / sqrt(C)`` scaling.

Two implementations are given:

* ``similarity`` / ``aggregate`` (the default) never build the (N, C, kernel**2, H, W) tensor,
  forward or backward (custom ``torch.autograd.Function`` passes), so training memory stays close
  to that of the inputs. On small grids they loop over the ``kernel**2`` shifts, reading padded
  slices and accumulating (N, H, W) maps. On large CPU grids (``TILED_MIN_ELEMENTS``) they run
  dense matmuls over tiles of 4 x 4 queries and the keys their windows cover, channels last
  (``models.window_tiles``), ~3x faster than the loops forward and ~14x forward+backward at the
  paper's CReFF (``benchmarks/bench_local_attention.py --sweep``), same results to float rounding.
* ``similarity_reference`` / ``aggregate_reference`` use ``F.unfold`` and read like the definition;
  they cost ``kernel**2`` times the memory of the input and serve as the readable reference that
  the tests compare against.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from arseg_tutorial.models.window_tiles import aggregate_tiled, similarity_tiled


def _check_kernel(kernel: int) -> None:
    if not isinstance(kernel, int) or kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"kernel must be a positive odd int (3, 5, 7, ...), got {kernel!r}")


def _check_pair(a: Tensor, b: Tensor, names: str) -> None:
    if a.dim() != 4 or b.dim() != 4:
        raise ValueError(f"{names} must be 4-D (N, C, H, W) tensors, got shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape != b.shape:
        raise ValueError(f"{names} must have the same shape (resize one to the other's grid first), "
                         f"got {tuple(a.shape)} and {tuple(b.shape)}")


def _check_weights(values: Tensor, weights: Tensor, kernel: int) -> None:
    if values.dim() != 4:
        raise ValueError(f"values must be a 4-D (N, C, H, W) tensor, got shape {tuple(values.shape)}")
    n, _, h, w = values.shape
    expected = (n, h, w, kernel * kernel)
    if tuple(weights.shape) != expected:
        raise ValueError(f"weights must have shape (N, H, W, kernel*kernel) = {expected} for values "
                         f"of shape {tuple(values.shape)} and kernel={kernel}, got {tuple(weights.shape)}")


def window_offsets(kernel: int = 7) -> list[tuple[int, int]]:
    """The (dy, dx) offset of each window index, in the row-major order the ops use.

    Introduced in notebook 04.

    Returns:
        ``kernel**2`` pairs; entry ``i * kernel + j`` is ``(i - kernel // 2, j - kernel // 2)``.
    """
    _check_kernel(kernel)
    r = kernel // 2
    return [(i - r, j - r) for i in range(kernel) for j in range(kernel)]


# ----------------------------------------------------------------------------------------------
# Memory-light kernels: loops over the kernel**2 shifts on zero-padded inputs (no autograd inside).
# ----------------------------------------------------------------------------------------------

def _similarity_loop(q: Tensor, k: Tensor, kernel: int) -> Tensor:
    """(N, C, H, W) x2 -> (N, kernel**2, H, W): dot products with each shifted key."""
    n, _, h, w = q.shape
    r = kernel // 2
    k_pad = F.pad(k, (r, r, r, r))
    out = q.new_empty((n, kernel * kernel, h, w))
    for idx in range(kernel * kernel):
        i, j = divmod(idx, kernel)
        torch.sum(q * k_pad[:, :, i:i + h, j:j + w], dim=1, out=out[:, idx])
    return out


def _aggregate_loop(v: Tensor, weights_nkhw: Tensor, kernel: int) -> Tensor:
    """(N, C, H, W) values, (N, kernel**2, H, W) weights -> (N, C, H, W) weighted sums of shifts."""
    _, _, h, w = v.shape
    r = kernel // 2
    v_pad = F.pad(v, (r, r, r, r))
    out = torch.zeros_like(v)
    for idx in range(kernel * kernel):
        i, j = divmod(idx, kernel)
        out.addcmul_(v_pad[:, :, i:i + h, j:j + w], weights_nkhw[:, idx:idx + 1])
    return out


def _scatter_loop(x: Tensor, weights_nkhw: Tensor, kernel: int) -> Tensor:
    """Transpose of ``_aggregate_loop``: out(y + dy, x + dx) += weight(y, x, idx) * x(y, x).

    Args:
        x: (N, C, H, W) per-pixel vectors to spread.
        weights_nkhw: (N, kernel**2, H, W) weights.
    Returns:
        (N, C, H, W); contributions that land outside the image are dropped (zero padding).
    """
    n, c, h, w = x.shape
    r = kernel // 2
    out_pad = x.new_zeros((n, c, h + 2 * r, w + 2 * r))
    for idx in range(kernel * kernel):
        i, j = divmod(idx, kernel)
        out_pad[:, :, i:i + h, j:j + w].addcmul_(x, weights_nkhw[:, idx:idx + 1])
    return out_pad[:, :, r:r + h, r:r + w].contiguous()


TILED_MIN_ELEMENTS = {3: 1 << 21, 5: 1 << 20}
"""C * H * W from which the ops use the tiled kernels (``models.window_tiles``) on CPU, per window
size (larger windows: ``1 << 13``). Small windows do little work per pixel, so the loops stay
faster up to larger grids. Measured with ``benchmarks/bench_local_attention.py --sweep``: the
paper's CReFF (C = 256 at 90x120, 7x7, 2.8M) takes the tiles; the laptop CReFF (C = 64 at 45x60,
3x3, 173k) keeps the loops."""


def _uses_tiles(x: Tensor, kernel: int) -> bool:
    if x.device.type != "cpu" or kernel == 1:
        return False
    return x[0].numel() >= TILED_MIN_ELEMENTS.get(kernel, 1 << 13)


def _mirror_windows(weights: Tensor, kernel: int) -> Tensor:
    """(N, H, W, kernel**2) -> (N, H, W, kernel**2): entry (y, x, offset e) is the weight that
    pixel (y, x) + e gives to (y, x), i.e. ``weights[y + ey, x + ex, offset -e]``, 0 outside.

    Spreading x with ``weights`` (the transpose of ``aggregate``) is aggregating x with these.
    The offset of index ``idx`` negated is index ``kernel**2 - 1 - idx`` (row-major order), so one
    strided view of the zero-padded weights reads them all.
    """
    n, h, w, kk = weights.shape
    r = kernel // 2
    padded = F.pad(weights, (0, 0, r, r, r, r))
    s0, s1, s2, _ = padded.stride()
    mirrored = padded.as_strided((n, h, w, kernel, kernel), (s0, s1, s2, s1 - kernel, s2 - 1), kk - 1)
    return mirrored.reshape(n, h, w, kk)


def _similarity_any(q: Tensor, k: Tensor, kernel: int) -> Tensor:
    """(N, C, H, W) x2 -> (N, H, W, kernel**2), by tiles or by loops (``_uses_tiles``)."""
    if _uses_tiles(q, kernel):
        return similarity_tiled(q, k, kernel)
    return _similarity_loop(q, k, kernel).permute(0, 2, 3, 1).contiguous()


def _aggregate_any(v: Tensor, weights: Tensor, kernel: int) -> Tensor:
    """(N, C, H, W) values, (N, H, W, kernel**2) weights -> (N, C, H, W), by tiles or by loops."""
    if _uses_tiles(v, kernel):
        return aggregate_tiled(v, weights, kernel)
    return _aggregate_loop(v, weights.permute(0, 3, 1, 2).contiguous(), kernel)


def _spread_any(x: Tensor, weights: Tensor, kernel: int) -> Tensor:
    """The transpose of ``_aggregate_any``: out(y + dy, x + dx) += weights(y, x, idx) * x(y, x)."""
    if _uses_tiles(x, kernel):
        return aggregate_tiled(x, _mirror_windows(weights, kernel), kernel)
    return _scatter_loop(x, weights.permute(0, 3, 1, 2).contiguous(), kernel)


class _Similarity(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, kernel: int) -> Tensor:
        ctx.save_for_backward(q, k)
        ctx.kernel = kernel
        return _similarity_any(q, k, kernel)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        q, k = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        grad_q = _aggregate_any(k, grad_out, ctx.kernel) if ctx.needs_input_grad[0] else None
        grad_k = _spread_any(q, grad_out, ctx.kernel) if ctx.needs_input_grad[1] else None
        return grad_q, grad_k, None


class _Aggregate(torch.autograd.Function):
    @staticmethod
    def forward(ctx, v: Tensor, weights: Tensor, kernel: int) -> Tensor:
        ctx.save_for_backward(v, weights)
        ctx.kernel = kernel
        return _aggregate_any(v, weights, kernel)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        v, weights = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        grad_v = _spread_any(grad_out, weights, ctx.kernel) if ctx.needs_input_grad[0] else None
        grad_w = _similarity_any(grad_out, v, ctx.kernel) if ctx.needs_input_grad[1] else None
        return grad_v, grad_w, None


def similarity(q: Tensor, k: Tensor, kernel: int = 7) -> Tensor:
    """Dot products of each query with the keys in its kernel x kernel window (memory-light).

    Introduced in notebook 04. Same result as ``similarity_reference`` without building the
    (N, C, kernel**2, H, W) unfold tensor, in the forward or the backward pass.

    Args:
        q: (N, C, H, W) queries.
        k: (N, C, H, W) keys on the same grid.
        kernel: odd window size.
    Returns:
        (N, H, W, kernel*kernel) similarities; entry ``i*kernel + j`` pairs q(h, w) with
        k(h + i - kernel//2, w + j - kernel//2); window positions outside the image are 0.
    """
    _check_kernel(kernel)
    _check_pair(q, k, "q and k")
    return _Similarity.apply(q, k, kernel)


def aggregate(v: Tensor, weights: Tensor, kernel: int = 7) -> Tensor:
    """Weighted sum of the values in each pixel's kernel x kernel window (memory-light).

    Introduced in notebook 04. Same result as ``aggregate_reference`` without building the
    (N, C, kernel**2, H, W) unfold tensor.

    Args:
        v: (N, C, H, W) values.
        weights: (N, H, W, kernel*kernel) weights in the window order of ``similarity``
            (usually its softmax).
        kernel: odd window size.
    Returns:
        (N, C, H, W): out(h, w) = sum_idx weights(h, w, idx) * v(shifted by offset idx), with
        v = 0 outside the image.
    """
    _check_kernel(kernel)
    _check_weights(v, weights, kernel)
    return _Aggregate.apply(v, weights, kernel)


def _unfold_windows(x: Tensor, kernel: int) -> Tensor:
    """(N, C, H, W) -> (N, C, kernel**2, H, W): every pixel's zero-padded window, row-major."""
    n, c, h, w = x.shape
    return F.unfold(x, kernel_size=kernel, padding=kernel // 2).view(n, c, kernel * kernel, h, w)


def similarity_reference(q: Tensor, k: Tensor, kernel: int = 7) -> Tensor:
    """``similarity`` written with ``F.unfold``: the readable definition (kernel**2 x the memory).

    Introduced in notebook 04.

    Args:
        q: (N, C, H, W) queries.
        k: (N, C, H, W) keys.
        kernel: odd window size.
    Returns:
        (N, H, W, kernel*kernel) similarities.
    """
    _check_kernel(kernel)
    _check_pair(q, k, "q and k")
    k_windows = _unfold_windows(k, kernel)                       # (N, C, k*k, H, W)
    return (q.unsqueeze(2) * k_windows).sum(dim=1).permute(0, 2, 3, 1)


def aggregate_reference(v: Tensor, weights: Tensor, kernel: int = 7) -> Tensor:
    """``aggregate`` written with ``F.unfold``: the readable definition (kernel**2 x the memory).

    Introduced in notebook 04.

    Args:
        v: (N, C, H, W) values.
        weights: (N, H, W, kernel*kernel) weights.
        kernel: odd window size.
    Returns:
        (N, C, H, W) weighted window sums.
    """
    _check_kernel(kernel)
    _check_weights(v, weights, kernel)
    v_windows = _unfold_windows(v, kernel)                       # (N, C, k*k, H, W)
    return (v_windows * weights.permute(0, 3, 1, 2).unsqueeze(1)).sum(dim=2)


def local_attention_macs(channels: int, height: int, width: int, kernel: int = 7) -> int:
    """Multiply-accumulates of one ``similarity`` plus one ``aggregate``: 2 * C * kernel**2 * H * W.

    Introduced in notebook 03 (cost accounting). FlopCounterMode does not see these elementwise
    ops, so ``arseg_tutorial.cost`` adds this term by hand.
    """
    return 2 * channels * kernel * kernel * height * width
