"""BiSeNetV1 with a ResNet-18 context path, one class per box of the BiSeNet paper's figure.

Introduced in notebook 03. Faithful to the model AR-Seg's official code trains (itself the
CoinCheung/BiSeNet layout): at ``width=1.0`` the parameter counts equal the official ones
(13,273,740 for 12 classes without the aux heads). The pre-classifier feature is the output of
``feat_conv_out`` (ConvBNReLU 3x3, 256 channels at 1/8 resolution), where CReFF sits in AR-Seg.

``output_stride=4`` (the small profiles) keeps every layer and weight name but drops the ResNet
stem's max-pool and the spatial path's last stride, so the feature lies on a grid of 1/4 of the
input. What matters for AR-Seg is the size of a cell relative to the frame: at s = 0.5 an LR cell
covers 16 frame pixels at stride 8, which is 2.2 % of CamVid's 720-px height but 8.9 % of a
180-px frame; stride 4 makes it 4.4 % there, half-way to the paper's geometry at 3x the
multiply-accumulates.

As in the official model, BatchNorm runs on globally pooled (N, C, 1, 1) vectors (ARM, FFM, global
context), so training mode needs a batch of at least 2 frames.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from arseg_tutorial.models.base import TwoPhaseSegmenter
from arseg_tutorial.models.resnet import ResNet18, scale_channels


class ConvBNReLU(nn.Sequential):
    """Conv (no bias) + BatchNorm + ReLU, with "same" padding for odd kernel sizes.

    Introduced in notebook 03.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                      padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class AttentionRefinementModule(nn.Module):
    """ARM: a 3x3 ConvBNReLU, then channel re-weighting by sigmoid(BN(1x1 conv(global mean))).

    Introduced in notebook 03.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = ConvBNReLU(in_channels, out_channels, 3)
        self.attention_conv = nn.Conv2d(out_channels, out_channels, 1, bias=False)
        self.attention_bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        """(N, in, h, w) -> (N, out, h, w)."""
        feature = self.conv(x)
        weights = self.attention_bn(self.attention_conv(feature.mean(dim=(2, 3), keepdim=True)))
        return feature * weights.sigmoid()


class ContextPath(nn.Module):
    """ResNet-18 + two ARMs + global context; returns the refined 1/8 and 1/16 context features.

    Introduced in notebook 03.

    Args:
        width: channel multiplier of the backbone and of the 128-channel heads.
    """

    def __init__(self, width: float = 1.0, stem_pool: bool = True):
        super().__init__()
        self.resnet = ResNet18(width, stem_pool=stem_pool)
        _, _, c16, c32 = self.resnet.channels
        c_head = scale_channels(128, width)
        self.arm16 = AttentionRefinementModule(c16, c_head)
        self.arm32 = AttentionRefinementModule(c32, c_head)
        self.conv_head32 = ConvBNReLU(c_head, c_head, 3)
        self.conv_head16 = ConvBNReLU(c_head, c_head, 3)
        self.conv_global = ConvBNReLU(c32, c_head, 1)
        self.out_channels = c_head

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(N, 3, H, W) -> (context at 1/8, context at 1/16), both with ``out_channels`` channels."""
        feat8, feat16, feat32 = self.resnet(x)
        global_context = self.conv_global(feat32.mean(dim=(2, 3), keepdim=True))
        up32 = F.interpolate(self.arm32(feat32) + global_context, size=feat16.shape[-2:], mode="nearest")
        context16 = self.conv_head32(up32)
        up16 = F.interpolate(self.arm16(feat16) + context16, size=feat8.shape[-2:], mode="nearest")
        context8 = self.conv_head16(up16)
        return context8, context16


class SpatialPath(nn.Module):
    """Three stride-2 convs (7x7, 3x3, 3x3) at 64 channels, then 1x1 to 128: detail at 1/8.

    Introduced in notebook 03. ``last_stride=1`` keeps the third conv at stride 1 (detail at 1/4,
    for ``BiSeNet18(output_stride=4)``).
    """

    def __init__(self, width: float = 1.0, last_stride: int = 2):
        super().__init__()
        c, c_out = scale_channels(64, width), scale_channels(128, width)
        self.layers = nn.Sequential(
            ConvBNReLU(3, c, 7, stride=2),
            ConvBNReLU(c, c, 3, stride=2),
            ConvBNReLU(c, c, 3, stride=last_stride),
            ConvBNReLU(c, c_out, 1),
        )
        self.out_channels = c_out

    def forward(self, x: Tensor) -> Tensor:
        """(N, 3, H, W) -> (N, out_channels, H/8, W/8) (H/4, W/4 with ``last_stride=1``)."""
        return self.layers(x)


class FeatureFusionModule(nn.Module):
    """FFM: concatenate spatial and context features, 1x1 ConvBNReLU, add a channel-attention copy.

    Introduced in notebook 03.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = ConvBNReLU(in_channels, out_channels, 1)
        self.attention_conv = nn.Conv2d(out_channels, out_channels, 1, bias=False)
        self.attention_bn = nn.BatchNorm2d(out_channels)

    def forward(self, spatial: Tensor, context: Tensor) -> Tensor:
        """(N, c_s, h, w) and (N, c_c, h, w) -> (N, out_channels, h, w)."""
        feature = self.conv(torch.cat([spatial, context], dim=1))
        weights = self.attention_bn(self.attention_conv(feature.mean(dim=(2, 3), keepdim=True)))
        return feature + feature * weights.sigmoid()


class AuxHead(nn.Module):
    """Training-only head: ConvBNReLU 3x3 then 1x1 conv to classes, upsampled to the input size.

    Introduced in notebook 03.
    """

    def __init__(self, in_channels: int, mid_channels: int, num_classes: int):
        super().__init__()
        self.conv = ConvBNReLU(in_channels, mid_channels, 3)
        self.classifier = nn.Conv2d(mid_channels, num_classes, 1)

    def forward(self, x: Tensor, size: tuple[int, int]) -> Tensor:
        """(N, in, h, w) -> (N, K, *size) logits."""
        return F.interpolate(self.classifier(self.conv(x)), size=size, mode="bilinear", align_corners=False)


class BiSeNet18(TwoPhaseSegmenter):
    """BiSeNetV1-R18 split into phase 1 (to the 1/8 feature) and phase 2 (CReFF, classifier, x8 up).

    Introduced in notebook 03.

    Args:
        num_classes: K.
        width: channel multiplier (1.0 = official; the feature then has 256 channels).
        output_stride: 8 (official) or 4 (no stem max-pool, spatial path's last conv at stride 1;
            same layers and weight names, about 3x the multiply-accumulates).

    Attributes:
        feature_channels: 256 * width channels of the pre-classifier feature.
        output_stride: input pixels per feature cell (8 or 4).
        classifier: the final 1x1 conv (``final_conv`` in the official code).
        aux_heads: the two training heads on the 1/8 and 1/16 context features.
    """

    upsample_align_corners = False
    OUTPUT_STRIDES = (8, 4)

    def __init__(self, num_classes: int, width: float = 1.0, output_stride: int = 8):
        super().__init__()
        if output_stride not in self.OUTPUT_STRIDES:
            raise ValueError(f"BiSeNet18's output_stride must be one of {self.OUTPUT_STRIDES} "
                             f"(8 = official, 4 = the small profiles), got {output_stride!r}")
        self.num_classes = num_classes
        self.output_stride = output_stride
        fine = output_stride == 4
        self.context_path = ContextPath(width, stem_pool=not fine)
        self.spatial_path = SpatialPath(width, last_stride=1 if fine else 2)
        c_fused = self.context_path.out_channels + self.spatial_path.out_channels
        c_feature = scale_channels(256, width)
        self.ffm = FeatureFusionModule(c_fused, c_feature)
        self.feature_conv = ConvBNReLU(c_feature, c_feature, 3)
        self.feature_channels = c_feature
        self.classifier = nn.Conv2d(c_feature, num_classes, 1)
        c_aux = scale_channels(64, width)
        self.aux_heads = nn.ModuleList([
            AuxHead(self.context_path.out_channels, c_aux, num_classes) for _ in range(2)
        ])
        _init_like_official(self)

    def _phase1(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        context8, context16 = self.context_path(x)
        spatial = self.spatial_path(x)
        if spatial.shape[-2:] != context8.shape[-2:]:
            spatial = F.interpolate(spatial, size=context8.shape[-2:], mode="bilinear", align_corners=True)
        feature = self.feature_conv(self.ffm(spatial, context8))
        return feature, (context8, context16)

    def _aux_outputs(self, aux_inputs: tuple[Tensor, ...], size: tuple[int, int]) -> tuple[Tensor, ...]:
        return tuple(head(x, size) for head, x in zip(self.aux_heads, aux_inputs))


def _init_like_official(model: nn.Module) -> None:
    """Kaiming-normal (a=1) convs with zero bias, BN at (1, 0), as in the official BiSeNet code."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, a=1)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
