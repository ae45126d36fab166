"""ResNet-18, written out (no torchvision): BasicBlock, optional dilation, width multiplier.

Introduced in notebook 03. Both AR-Seg backbones use it:

* BiSeNetV1 takes the 1/8, 1/16 and 1/32 maps of the plain network (output stride 32);
* PSPNet18 uses the *dilated* network (output stride 8): layer3 and layer4 keep stride 1 and
  dilate their convolutions by 2 and 4. As in the official AR-Seg extractor, the first block of a
  dilated stage keeps dilation 1 and only the following blocks are dilated.

``width`` scales every channel count (64, 128, 256, 512) so that a CPU can train the network; at
``width=1.0`` it is the standard ResNet-18 (without the ImageNet classifier).
"""
from __future__ import annotations

from torch import Tensor, nn

MIN_CHANNELS = 8
"""Smallest channel count ``scale_channels`` returns (narrower layers stop learning anything)."""


def scale_channels(channels: int, width: float) -> int:
    """``channels * width`` rounded, but at least ``MIN_CHANNELS``.

    Introduced in notebook 03.

    Raises:
        ValueError: ``width`` is not a positive number.
    """
    if not width > 0:
        raise ValueError(f"width multiplier must be > 0 (1.0 = the official model), got {width!r}")
    return max(MIN_CHANNELS, int(round(channels * width)))


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with a residual connection (1x1 conv-BN shortcut when the shape changes).

    Introduced in notebook 03.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output.
        stride: stride of the first conv (and of the shortcut).
        dilation: dilation (and padding) of both 3x3 convs.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=dilation,
                               dilation=dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=dilation, dilation=dilation,
                               bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: Tensor) -> Tensor:
        """(N, in, H, W) -> (N, out, H / stride, W / stride)."""
        residual = self.relu(self.bn1(self.conv1(x)))
        residual = self.bn2(self.conv2(residual))
        return self.relu(self.shortcut(x) + residual)


def _stage(in_channels: int, out_channels: int, stride: int, dilation: int) -> nn.Sequential:
    """Two BasicBlocks; the first one changes the shape (and is not dilated, as in AR-Seg's code)."""
    return nn.Sequential(
        BasicBlock(in_channels, out_channels, stride=stride, dilation=1),
        BasicBlock(out_channels, out_channels, dilation=dilation),
    )


class ResNet18(nn.Module):
    """ResNet-18 feature extractor returning the maps of stages 2, 3 and 4.

    Introduced in notebook 03.

    Args:
        width: channel multiplier (1.0 = 64/128/256/512 channels).
        dilated: output stride 8 (layer3/layer4 dilated by 2/4) instead of 32.
        stem_pool: keep the 3x3 stride-2 max-pool after ``conv1`` (the standard network). Without
            it every map is twice as fine (layer2 at 1/4): BiSeNet18's ``output_stride=4``.

    Attributes:
        channels: output channels of (layer1, layer2, layer3, layer4).
    """

    def __init__(self, width: float = 1.0, dilated: bool = False, stem_pool: bool = True):
        super().__init__()
        c1, c2, c3, c4 = (scale_channels(c, width) for c in (64, 128, 256, 512))
        self.channels = (c1, c2, c3, c4)
        self.dilated = dilated
        self.conv1 = nn.Conv2d(3, c1, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(c1)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool: nn.Module = nn.MaxPool2d(3, stride=2, padding=1) if stem_pool else nn.Identity()
        self.layer1 = _stage(c1, c1, stride=1, dilation=1)
        self.layer2 = _stage(c1, c2, stride=2, dilation=1)
        self.layer3 = _stage(c2, c3, stride=1 if dilated else 2, dilation=2 if dilated else 1)
        self.layer4 = _stage(c3, c4, stride=1 if dilated else 2, dilation=4 if dilated else 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Run the backbone.

        Args:
            x: (N, 3, H, W) normalised images.
        Returns:
            (layer2, layer3, layer4) maps: (N, c2, H/8, W/8) and, for the plain network,
            (N, c3, H/16, W/16), (N, c4, H/32, W/32); the dilated network keeps all three at H/8;
            without ``stem_pool`` every map is twice as large. Sizes are rounded up for sizes
            that do not divide.
        """
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        feat8 = self.layer2(self.layer1(x))
        feat16 = self.layer3(feat8)
        feat32 = self.layer4(feat16)
        return feat8, feat16, feat32
