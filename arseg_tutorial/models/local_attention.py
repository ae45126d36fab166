"""Local (windowed) attention: the two ops CReFF is built from, in plain PyTorch.

Introduced in notebook 04. The official AR-Seg code ships these ops as a CUDA-only extension
(``f_similar`` and ``f_weighting``). Their semantics, which this module reproduces exactly:

* the window around pixel (h, w) has ``kernel * kernel`` positions, numbered row-major: index
  ``i * kernel + j`` is the offset ``(i - kernel // 2, j - kernel // 2)`` (rows first, then columns);
* positions outside the image behave like zero padding: their key and value are 0, so their
  similarity is 0 (not -inf) and they still take softmax mass;
* the similarity is a plain dot product over channels, with no ``1 / sqrt(C)`` scaling.

Two implementations are given:

* ``similarity`` / ``aggregate`` (the default) loop over the ``kernel**2`` shifts, reading padded
  slices and accumulating (N, H, W) maps. They never build the (N, C, kernel**2, H, W) tensor, and
  their custom backward passes (``torch.autograd.Function``) are written the same way, so training
  memory stays close to that of the inputs. On large grids (``MATMUL_MIN_ELEMENTS``) the forward
  passes read the windows as strided views of a channels-last copy and run batched matmuls
  instead, 4-5x faster (``benchmarks/bench_local_attention.py``), same results to float rounding.
* ``similarity_reference`` / ``aggregate_reference`` use ``F.unfold`` and read like the definition;
  they cost ``kernel**2`` times the memory of the input and serve as the readable reference that
  the tests compare against.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable


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


# ----------------------------------------------------------------------------------------------
# Fast forward kernels for large grids: channels-last windows as strided views, batched matmuls.
# The loops above read every input once per shift (kernel**2 passes over a map that does not fit
# in cache); these read each window from cache. Below MATMUL_MIN_ELEMENTS the loops are faster.
# ----------------------------------------------------------------------------------------------

MATMUL_MIN_ELEMENTS = 1 << 18
"""C * H * W from which the forward passes use the matmul kernels (C = 256 at 90x120 is 2.8M;
the laptop CReFF, C = 64 at 23x30, is 44k and keeps the loops)."""
_TILE = 4


def _flat_rows(x: Tensor, kernel: int) -> Tensor:
    """(N, C, H, W) -> (N, L) channels-last buffer, rows zero-padded by r above and below, r + tile
    zero pixels before and after: pixel (y + dy, x + dx) of a window sits at a constant stride."""
    n, c, h, w = x.shape
    r = kernel // 2
    buf = x.new_zeros((n, (h + 2 * r) * w * c + (3 * r + _TILE) * c))
    start = r * c + r * w * c
    buf[:, start:start + h * w * c].view(n, h, w, c).copy_(x.permute(0, 2, 3, 1))
    return buf


def _zero_wrapped_columns(windows: Tensor, kernel: int) -> None:
    """In place, on (N, H, W, kernel, kernel): window columns that fell off the row's ends (the
    flat buffer wraps them onto the neighbouring row) become 0, as in zero padding."""
    r, width = kernel // 2, windows.shape[2]
    for j in range(kernel):
        dx = j - r
        if dx < 0:
            windows[:, :, :-dx, :, j] = 0
        elif dx > 0:
            windows[:, :, max(width - dx, 0):, :, j] = 0


def _similarity_matmul(q: Tensor, k: Tensor, kernel: int) -> Tensor:
    """``similarity`` forward, (N, H, W, kernel**2): per window row, tiles of ``_TILE`` queries
    times the ``_TILE + kernel - 1`` keys they see (one batched matmul), diagonals kept."""
    n, c, h, w = q.shape
    hw, span = h * w, _TILE + kernel - 1
    tiles = -(-hw // _TILE)
    keys = _flat_rows(k, kernel)
    queries = q.new_zeros((n, tiles * _TILE, c))
    queries[:, :hw].view(n, h, w, c).copy_(q.permute(0, 2, 3, 1))
    queries = queries.view(n, tiles, _TILE, c)
    products = q.new_empty((n, kernel, tiles, _TILE, span))
    for b in range(n):
        for i in range(kernel):
            window_keys = keys.as_strided((tiles, c, span), (_TILE * c, 1, c),
                                          keys.stride(0) * b + i * w * c)
            torch.bmm(queries[b], window_keys, out=products[b, i])
    diagonals = products.as_strided((n, kernel, tiles, _TILE, kernel),
                                    products.stride()[:3] + (span + 1, 1))
    out = diagonals.permute(0, 2, 3, 1, 4).reshape(n, tiles * _TILE, kernel * kernel)[:, :hw]
    out = out.reshape(n, h, w, kernel, kernel)
    _zero_wrapped_columns(out, kernel)
    return out.view(n, h, w, kernel * kernel)


def _aggregate_matmul(v: Tensor, weights: Tensor, kernel: int) -> Tensor:
    """``aggregate`` forward, (N, C, H, W): per window row, each pixel's (1, kernel) weights times
    its (kernel, C) values (one batched matmul over the pixels), accumulated."""
    n, c, h, w = v.shape
    values = _flat_rows(v, kernel)
    masked = weights.reshape(n, h, w, kernel, kernel).clone()
    _zero_wrapped_columns(masked, kernel)
    masked = masked.view(n, h * w, kernel, kernel)
    out = v.new_zeros((n, h * w, 1, c))
    for b in range(n):
        for i in range(kernel):
            window_values = values.as_strided((h * w, kernel, c), (c, c, 1),
                                              values.stride(0) * b + i * w * c)
            out[b].baddbmm_(masked[b, :, i:i + 1], window_values)
    return out.view(n, h, w, c).permute(0, 3, 1, 2).contiguous()


def _uses_matmul(x: Tensor) -> bool:
    return x.device.type == "cpu" and x[0].numel() >= MATMUL_MIN_ELEMENTS


class _Similarity(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, kernel: int) -> Tensor:
        ctx.save_for_backward(q, k)
        ctx.kernel = kernel
        if _uses_matmul(q):
            return _similarity_matmul(q, k, kernel)
        return _similarity_loop(q, k, kernel).permute(0, 2, 3, 1).contiguous()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        q, k = ctx.saved_tensors
        grad_nkhw = grad_out.permute(0, 3, 1, 2).contiguous()
        grad_q = _aggregate_loop(k, grad_nkhw, ctx.kernel) if ctx.needs_input_grad[0] else None
        grad_k = _scatter_loop(q, grad_nkhw, ctx.kernel) if ctx.needs_input_grad[1] else None
        return grad_q, grad_k, None


class _Aggregate(torch.autograd.Function):
    @staticmethod
    def forward(ctx, v: Tensor, weights: Tensor, kernel: int) -> Tensor:
        ctx.save_for_backward(v, weights)
        ctx.kernel = kernel
        if _uses_matmul(v):
            return _aggregate_matmul(v, weights, kernel)
        return _aggregate_loop(v, weights.permute(0, 3, 1, 2).contiguous(), kernel)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        v, weights = ctx.saved_tensors
        weights_nkhw = weights.permute(0, 3, 1, 2).contiguous()
        grad_out = grad_out.contiguous()
        grad_v = _scatter_loop(grad_out, weights_nkhw, ctx.kernel) if ctx.needs_input_grad[0] else None
        grad_w = None
        if ctx.needs_input_grad[1]:
            grad_w = _similarity_loop(grad_out, v, ctx.kernel).permute(0, 2, 3, 1).contiguous()
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
