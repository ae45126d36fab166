"""How well a warped keyframe predicts frame t: label mIoU and masked flow error.

Introduced in notebook 02 (error vs distance d: chained vectors vs copying the keyframe vs exact
flow). mIoU follows DESIGN §1 (IoU = diag / (row + col - diag), label 255 ignored) with one
addition: a *predicted* 255 (an ignore pixel carried over from the keyframe) counts as a miss.
"""
from __future__ import annotations

import numpy as np

IGNORE_LABEL = 255


def label_miou(predicted: np.ndarray, true: np.ndarray, num_classes: int) -> float:
    """Mean IoU (a fraction in 0..1) of predicted labels against true labels.

    Args:
        predicted: (H, W) or (T, H, W) integer labels in 0..num_classes-1 or 255 (a miss).
        true: same shape; 255 pixels are not evaluated.
        num_classes: K; classes absent from both maps are left out of the mean.
    """
    if predicted.shape != true.shape:
        raise ValueError(f"predicted {predicted.shape} and true {true.shape} labels differ in shape")
    keep = true != IGNORE_LABEL
    rows = true[keep].astype(np.int64)
    cols = np.where(predicted[keep] == IGNORE_LABEL, num_classes, predicted[keep]).astype(np.int64)
    if rows.size == 0:
        raise ValueError("no labelled pixel to evaluate (every true label is 255)")
    if rows.max() >= num_classes or cols.max() > num_classes:
        raise ValueError(f"labels must lie in 0..{num_classes - 1} or be {IGNORE_LABEL}")
    conf = np.bincount(rows * (num_classes + 1) + cols,
                       minlength=num_classes * (num_classes + 1)).reshape(num_classes, -1)
    hits = np.diag(conf[:, :num_classes]).astype(np.float64)
    union = conf.sum(1) + conf[:, :num_classes].sum(0) - hits
    return float(np.mean(hits[union > 0] / union[union > 0]))


def masked_mean(values: np.ndarray, mask: np.ndarray) -> float:
    """Mean of ``values`` where ``mask`` is True (NaN if the mask is empty)."""
    return float(values[mask].mean()) if mask.any() else float("nan")
