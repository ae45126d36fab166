"""CReFF, cross-resolution feature fusion: the LR feature attends to the warped HR keyframe feature.

Introduced in notebook 04. Steps (AR-Seg, Hu et al. CVPR 2023, and its official ``MyAttention``):

1. the LR frame's pre-classifier feature is upsampled bilinearly (align_corners=True) to the grid
   of the HR keyframe feature, which was already warped to the current frame;
2. Q = depthwise 3x3 conv (with bias) of the upsampled LR feature; K and V = two separate
   depthwise 3x3 convs of the warped HR feature (all channels last in memory: the depthwise
   convolutions and the attention's large-grid kernels run faster so, the values are the same);
3. local attention over a kernel x kernel window (7 in the paper): similarity without scaling,
   softmax over the window, weighted sum of V (``arseg_tutorial.models.local_attention``);
4. output = upsampled LR feature + attention output (residual).

Two variants (``CReFF(..., variant=...)``):

- ``"paper"`` (the default): exactly the above, with Kaiming-random depthwise convs, as the
  official module;
- ``"position_bias"`` (an extension, taught after the paper's module and shipped as an ablation):
  a learnable bias per window offset added to the similarity logits before the softmax (the
  relative position bias of Swin's window attention), initialised at ``POSITION_BIAS_INIT`` on
  the centre (zero-offset) tap and 0 elsewhere, and the attention output alone as the fused
  feature (no residual LR term: the official ``MyAttentionLocalOnly`` form). It starts as a warp
  of the keyframe feature and tends to stay one: the LR frame then only steers where to look.
"""
from __future__ import annotations

from typing import NamedTuple

import torch.nn.functional as F
from torch import Tensor, nn

import torch

from arseg_tutorial.models.local_attention import _check_kernel, aggregate, similarity

VARIANTS = ("paper", "position_bias")
POSITION_BIAS_INIT = 5.0
"""Initial logit bias of the centre tap in the ``position_bias`` variant (softmax weight ~0.95 in 3x3)."""


SHORT_WINDOW = 16
"""Windows of fewer taps (3x3) take their softmax on a (N, taps, H, W) copy: on this CPU build a
softmax along a contiguous axis shorter than 16 is 6-8x slower than across one (measured 1.30 vs
0.16 ms for 11 frames of the laptop CReFF, 23x30 3x3; 7x7 is faster in place)."""


def window_softmax(logits: Tensor) -> Tensor:
    """Softmax over the window axis of (N, H, W, taps) similarity logits, same layout back (a
    view). The same values as ``logits.softmax(-1)`` to float rounding, whichever layout is used."""
    if logits.shape[-1] >= SHORT_WINDOW:
        return logits.softmax(dim=-1)
    return logits.permute(0, 3, 1, 2).contiguous().softmax(dim=1).permute(0, 2, 3, 1)


class CReFFResult(NamedTuple):
    """What ``CReFF.forward(..., return_attention=True)`` returns.

    Introduced in notebook 04.

    Attributes:
        fused: (N, C, H, W) fused feature on the reference's grid (``paper``: LR + attention;
            ``position_bias``: attention output alone).
        attention: (N, H, W, kernel*kernel) softmax weights, window index row-major.
        lr_upsampled: (N, C, H, W) the LR feature after upsampling (the residual branch).
    """

    fused: Tensor
    attention: Tensor
    lr_upsampled: Tensor


def _depthwise3x3(channels: int) -> nn.Conv2d:
    conv = nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=True)
    nn.init.kaiming_normal_(conv.weight, a=1)
    nn.init.zeros_(conv.bias)
    return conv


class CReFF(nn.Module):
    """Cross-resolution feature fusion (one box of the paper's figure).

    Introduced in notebook 04.

    Args:
        channels: C, channels of both features.
        kernel: odd attention window size (7 in the paper; notebook 04 tries 3, 5, 7, 9).
        variant: "paper" (the official module, default) or "position_bias" (see the module
            docstring).

    Attributes:
        position_bias: (kernel*kernel,) logit bias per window offset (row-major), ``position_bias``
            variant only.
    """

    def __init__(self, channels: int, kernel: int = 7, variant: str = "paper"):
        super().__init__()
        _check_kernel(kernel)
        if variant not in VARIANTS:
            raise ValueError(f"CReFF variant must be one of {VARIANTS}, got {variant!r}")
        self.channels = channels
        self.kernel = kernel
        self.variant = variant
        self.query_conv = _depthwise3x3(channels)
        self.key_conv = _depthwise3x3(channels)
        self.value_conv = _depthwise3x3(channels)
        self.position_bias = None
        if variant == "position_bias":
            bias = torch.zeros(kernel * kernel)
            bias[kernel * kernel // 2] = POSITION_BIAS_INIT
            self.position_bias = nn.Parameter(bias)

    def forward(self, lr_feature: Tensor, reference: Tensor,
                return_attention: bool = False) -> Tensor | CReFFResult:
        """Fuse an LR feature with the warped HR keyframe feature.

        Args:
            lr_feature: (N, C, h, w) pre-classifier feature of the LR frame.
            reference: (N, C, H, W) HR keyframe feature, warped to the current frame.
            return_attention: also return the attention weights and the upsampled LR feature.
        Returns:
            (N, C, H, W) fused feature, or a ``CReFFResult`` if ``return_attention``.
        """
        if lr_feature.dim() != 4 or reference.dim() != 4:
            raise ValueError(f"CReFF expects (N, C, H, W) features, got {tuple(lr_feature.shape)} "
                             f"and {tuple(reference.shape)}")
        if lr_feature.shape[:2] != reference.shape[:2] or reference.shape[1] != self.channels:
            raise ValueError(f"lr_feature {tuple(lr_feature.shape)} and reference {tuple(reference.shape)} "
                             f"must share N and have C = {self.channels} channels")
        lr_feature, reference = (x.contiguous(memory_format=torch.channels_last) for x in (lr_feature, reference))
        lr_up = F.interpolate(lr_feature, size=reference.shape[-2:], mode="bilinear", align_corners=True)
        query = self.query_conv(lr_up)
        key = self.key_conv(reference)
        value = self.value_conv(reference)
        logits = similarity(query, key, self.kernel)
        if self.position_bias is not None:
            logits = logits + self.position_bias
        attention = window_softmax(logits)
        fused = aggregate(value, attention, self.kernel)
        if self.variant == "paper":
            fused = lr_up + fused
        if return_attention:
            return CReFFResult(fused, attention, lr_up)
        return fused

    def extra_repr(self) -> str:
        return f"channels={self.channels}, kernel={self.kernel}, variant={self.variant!r}"
