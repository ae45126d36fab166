"""Inference-time BatchNorm folding: every eval-mode BatchNorm that follows a convolution becomes
part of that convolution's weights and bias.

Introduced in notebook 07. In eval mode ``BN(conv(x)) = gamma (conv(x) - mean) / sqrt(var + eps)
+ beta`` is itself a convolution (weights scaled per output channel, a bias added), so the folded
network computes the same function (to float rounding) with one op fewer per layer. For the tiny
networks of the laptop profile, per-op overhead is a large part of the time, and this makes both
players faster (``python -m arseg_tutorial bench-player``). The weights are a copy: the model you
pass in is not changed, and training needs the unfolded one.
"""
from __future__ import annotations

import copy

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with each (Conv2d, BatchNorm2d) pair folded into the conv.

    A pair is a conv child directly followed by a BatchNorm child of the same module, in the
    order they were registered (how every network here is written: ``ConvBNReLU``, ResNet's
    ``conv1``/``bn1``, the ARM and FFM ``attention_conv``/``attention_bn``, PSPNet's up-blocks);
    the BatchNorm is replaced by ``nn.Identity``.

    Args:
        model: any network (not changed).
    Returns:
        The folded copy, in eval mode.
    """
    folded = copy.deepcopy(model).eval()
    for module in folded.modules():
        names = list(module._modules)
        for conv_name, bn_name in zip(names, names[1:]):
            conv, bn = module._modules[conv_name], module._modules[bn_name]
            if (isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)
                    and bn.num_features == conv.out_channels and bn.track_running_stats):
                module._modules[conv_name] = fuse_conv_bn_eval(conv, bn)
                module._modules[bn_name] = nn.Identity()
    return folded
