"""PSPNet18, the CamVid variant AR-Seg's official code trains, one class per box.

Introduced in notebook 03. A dilated ResNet-18 (output stride 8), a pyramid pooling module with
bins (1, 2, 3, 6) -> 1024 channels, three up-blocks (x2 bilinear + 3x3 conv + BN + PReLU:
1024 -> 256 -> 64 -> 64, Dropout2d 0.3 / 0.15), so the pre-classifier feature has 64 channels at
the full input resolution; a 1x1 classifier; a class-presence head (max-pooled layer3 -> MLP) for
training. At ``width=1.0`` with 12 classes it has the official 17,461,979 parameters.

The official model ends in LogSoftmax; here ``forward`` returns raw logits (train with
``cross_entropy``, which equals NLL on log-softmax).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from arseg_tutorial.models.base import TwoPhaseSegmenter
from arseg_tutorial.models.resnet import ResNet18, scale_channels

PSP_BINS = (1, 2, 3, 6)


class PyramidPooling(nn.Module):
    """PSP module: average-pool to each bin size, 1x1 conv, upsample, concatenate with the input,

    Introduced in notebook 03.
    1x1 conv (with bias) + ReLU.

    Args:
        in_channels: channels of the backbone feature.
        out_channels: channels after the bottleneck conv (1024 in the official model).
        bins: output sizes of the adaptive average pools.
    """

    def __init__(self, in_channels: int, out_channels: int, bins: tuple[int, ...] = PSP_BINS):
        super().__init__()
        self.bins = bins
        self.stages = nn.ModuleList([nn.Conv2d(in_channels, in_channels, 1, bias=False) for _ in bins])
        self.bottleneck = nn.Conv2d(in_channels * (len(bins) + 1), out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        """(N, in, h, w) -> (N, out, h, w)."""
        size = x.shape[-2:]
        priors = [F.interpolate(conv(F.adaptive_avg_pool2d(x, bin_size)), size=size, mode="bilinear",
                                align_corners=False)
                  for bin_size, conv in zip(self.bins, self.stages)]
        return F.relu(self.bottleneck(torch.cat(priors + [x], dim=1)))


class UpBlock(nn.Module):
    """x2 bilinear upsampling, 3x3 conv (with bias), BN, PReLU.

    Introduced in notebook 03.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = nn.PReLU()

    def forward(self, x: Tensor) -> Tensor:
        """(N, in, h, w) -> (N, out, 2h, 2w)."""
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return self.act(self.bn(self.conv(x)))


class ClassPresenceHead(nn.Module):
    """Training-only head: global max pool of the layer3 feature, MLP -> per-class presence logits.

    Introduced in notebook 03.
    """

    def __init__(self, in_channels: int, hidden: int, num_classes: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_channels, hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, h, w) -> (N, K) logits (BCE target: which classes appear in the labels)."""
        return self.mlp(torch.amax(x, dim=(2, 3)))


class PSPNet18(TwoPhaseSegmenter):
    """PSPNet18 (CamVid variant) split into phase 1 (to the full-resolution 64-ch feature) and
    phase 2 (CReFF, classifier, resize).

    Introduced in notebook 03.

    Args:
        num_classes: K.
        width: channel multiplier (1.0 = official; the feature then has 64 channels).

    Attributes:
        feature_channels: 64 * width (at least 8) channels at the input resolution.
        classifier: the final 1x1 conv (``final_conv`` in the official code).
        presence_head: the class-presence head used in training.
    """

    output_stride = 1
    upsample_align_corners = True

    def __init__(self, num_classes: int, width: float = 1.0):
        super().__init__()
        self.num_classes = num_classes
        self.backbone = ResNet18(width, dilated=True)
        _, _, c3, c4 = self.backbone.channels
        c_psp, c_up1, c_up2 = (scale_channels(c, width) for c in (1024, 256, 64))
        self.psp = PyramidPooling(c4, c_psp)
        self.drop_psp = nn.Dropout2d(p=0.3)
        self.up1 = UpBlock(c_psp, c_up1)
        self.up2 = UpBlock(c_up1, c_up2)
        self.up3 = UpBlock(c_up2, c_up2)
        self.drop_up = nn.Dropout2d(p=0.15)
        self.feature_channels = c_up2
        self.classifier = nn.Conv2d(c_up2, num_classes, 1)
        self.presence_head = ClassPresenceHead(c3, scale_channels(256, width), num_classes)
        for module in self.backbone.modules():       # the official extractor's He (fan-out) init
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def _phase1(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        _, feat_layer3, feat_layer4 = self.backbone(x)
        p = self.drop_psp(self.psp(feat_layer4))
        for up in (self.up1, self.up2, self.up3):
            p = self.drop_up(up(p))
        return p, (feat_layer3,)

    def _aux_outputs(self, aux_inputs: tuple[Tensor, ...], size: tuple[int, int]) -> tuple[Tensor, ...]:
        return (self.presence_head(aux_inputs[0]),)
