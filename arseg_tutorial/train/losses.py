"""The training losses of AR-Seg: OHEM cross-entropy (BiSeNet) and the explicit FST loss.

Introduced in notebook 05. As in the official code (docs/method.md#fst-feature-similarity-training):
BiSeNet trains with OHEM cross-entropy (threshold 0.7,
at least 1/16 of the valid pixels kept, label 255 ignored) on the main output and the two aux
heads with weights 1:1:1; feature similarity training (FST) adds the mean squared error between
the LR branch's (fused) feature, bilinearly upsampled, and the frozen HR feature of the same frame.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor

IGNORE_LABEL = 255
OHEM_THRESH = 0.7
OHEM_MIN_FRACTION = 1 / 16


def ohem_cross_entropy(
    logits: Tensor,
    labels: Tensor,
    thresh: float = OHEM_THRESH,
    min_fraction: float = OHEM_MIN_FRACTION,
    ignore_label: int = IGNORE_LABEL,
) -> Tensor:
    """Online hard example mining cross-entropy, as in the official BiSeNet code.

    Pixels whose cross-entropy exceeds ``-log(thresh)`` (predicted probability of the true class
    below ``thresh``) are the hard ones; the loss is their mean. If fewer than
    ``n_min = floor(valid / 16)`` pixels are hard, the ``n_min`` largest losses are averaged
    instead (ignored pixels count as loss 0 there, as in the official code).

    Args:
        logits: (N, K, H, W) class scores; resized bilinearly to the labels' size if needed.
        labels: (N, H, W) int64 class indices, ``ignore_label`` for unlabelled pixels.
    Returns:
        Scalar loss; 0 (with a gradient path) when no pixel is labelled.
    """
    if logits.dim() != 4 or labels.dim() != 3:
        raise ValueError(f"expected logits (N,K,H,W) and labels (N,H,W), got {tuple(logits.shape)} "
                         f"and {tuple(labels.shape)}")
    if logits.shape[-2:] != labels.shape[-2:]:
        logits = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=True)
    labels = labels.long()
    n_valid = int((labels != ignore_label).sum())
    if n_valid == 0:
        return logits.sum() * 0.0
    n_min = int(n_valid * min_fraction)
    pixel_loss = F.cross_entropy(logits, labels, ignore_index=ignore_label, reduction="none").flatten()
    hard = pixel_loss[pixel_loss > -math.log(thresh)]
    if hard.numel() < n_min:
        hard, _ = pixel_loss.topk(n_min)
    if hard.numel() == 0:
        return logits.sum() * 0.0
    return hard.mean()


def segmentation_loss(outputs: Tensor | Sequence[Tensor], labels: Tensor) -> Tensor:
    """OHEM cross-entropy summed over the main output and BiSeNet's aux heads (weights 1:1:1).

    Args:
        outputs: (N, K, H, W) logits, or a sequence ``(main, aux16, aux32)`` of such tensors
            (what the model returns in train mode).
        labels: (N, H, W) class indices, 255 = ignore.
    Returns:
        Scalar loss.
    """
    if isinstance(outputs, Tensor):
        outputs = [outputs]
    return sum(ohem_cross_entropy(out, labels) for out in outputs)


def fst_loss(lr_feature: Tensor, hr_feature: Tensor) -> Tensor:
    """Explicit FST constraint: MSE between the upsampled LR feature and the HR feature.

    Args:
        lr_feature: (N, C, h, w) pre-classifier feature of the LR branch (after CReFF in stage 2).
        hr_feature: (N, C, H, W) pre-classifier feature of the frozen HR network, same frame.
    Returns:
        Scalar mean squared error over all N*C*H*W elements; no gradient flows into the HR side.
    """
    if lr_feature.shape[:2] != hr_feature.shape[:2]:
        raise ValueError(f"LR feature {tuple(lr_feature.shape)} and HR feature "
                         f"{tuple(hr_feature.shape)} differ in batch or channels")
    if lr_feature.shape[-2:] != hr_feature.shape[-2:]:
        lr_feature = F.interpolate(lr_feature, size=hr_feature.shape[-2:], mode="bilinear",
                                   align_corners=True)
    return F.mse_loss(lr_feature, hr_feature.detach())
