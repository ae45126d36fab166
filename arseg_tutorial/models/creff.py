"""CReFF, cross-resolution feature fusion: the LR feature attends to the warped HR keyframe feature.

Introduced in notebook 04. Steps (AR-Seg, Hu et al. CVPR 2023, and its official ``MyAttention``):

1. the LR frame's pre-classifier feature is upsampled bilinearly (align_corners=True) to the grid
   of the HR keyframe feature, which was already warped to the current frame;
2. Q = depthwise 3x3 conv (with bias) of the upsampled LR feature; K and V = two separate
   depthwise 3x3 convs of the warped HR feature;
3. local attention over a kernel x kernel window (7 in the paper): similarity without scaling,
   softmax over the window, weighted sum of V (``arseg_tutorial.models.local_attention``);
4. output = upsampled LR feature + attention output (residual).
"""
from __future__ import annotations

from typing import NamedTuple

import torch.nn.functional as F
from torch import Tensor, nn

from arseg_tutorial.models.local_attention import _check_kernel, aggregate, similarity


class CReFFResult(NamedTuple):
    """What ``CReFF.forward(..., return_attention=True)`` returns.

    Introduced in notebook 04.

    Attributes:
        fused: (N, C, H, W) fused feature on the reference's grid.
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
    """

    def __init__(self, channels: int, kernel: int = 7):
        super().__init__()
        _check_kernel(kernel)
        self.channels = channels
        self.kernel = kernel
        self.query_conv = _depthwise3x3(channels)
        self.key_conv = _depthwise3x3(channels)
        self.value_conv = _depthwise3x3(channels)

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
        lr_up = F.interpolate(lr_feature, size=reference.shape[-2:], mode="bilinear", align_corners=True)
        query = self.query_conv(lr_up)
        key = self.key_conv(reference)
        value = self.value_conv(reference)
        attention = similarity(query, key, self.kernel).softmax(dim=-1)
        fused = lr_up + aggregate(value, attention, self.kernel)
        if return_attention:
            return CReFFResult(fused, attention, lr_up)
        return fused

    def extra_repr(self) -> str:
        return f"channels={self.channels}, kernel={self.kernel}"
