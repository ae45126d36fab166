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
  memory stays close to that of the inputs.
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


class _Similarity(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, kernel: int) -> Tensor:
        ctx.save_for_backward(q, k)
        ctx.kernel = kernel
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
        weights_nkhw = weights.permute(0, 3, 1, 2).contiguous()
        ctx.save_for_backward(v, weights_nkhw)
        ctx.kernel = kernel
        return _aggregate_loop(v, weights_nkhw, kernel)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        v, weights_nkhw = ctx.saved_tensors
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
