"""How well a warped keyframe predicts frame t: label mIoU and masked flow error.

Introduced in notebook 02 (error vs distance d: chained vectors vs copying the keyframe vs exact
flow). mIoU follows docs/method.md#evaluation-by-keyframe-distance
(IoU = diag / (row + col - diag), label 255 ignored) with one
addition: a *predicted* 255 (an ignore pixel carried over from the keyframe) counts as a miss.
"""
from __future__ import annotations

import numpy as np

IGNORE_LABEL = 255


def label_miou(predicted: np.ndarray, true: np.ndarray, num_classes: int) -> float:
    """Mean IoU (a fraction in 0..1) of predicted labels against true labels.

    Introduced in notebook 02.

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


def image_psnr(predicted: np.ndarray, true: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB of an 8-bit image against the true one (inf if equal).

    Introduced in notebook 01 (the quality of I-frames) and 02 (warping real footage).

    Args:
        predicted, true: (H, W, 3) or (H, W) uint8 images (or stacks of them) of one shape.
        mask: (H, W) bool, pixels to compare (default all); must select at least one.
    """
    if predicted.shape != true.shape:
        raise ValueError(f"predicted {predicted.shape} and true {true.shape} images differ in shape")
    error = (predicted.astype(np.float64) - true.astype(np.float64)) ** 2
    if mask is not None:
        if not mask.any():
            raise ValueError("the mask selects no pixel to compare")
        error = error[mask]
    mse = float(error.mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def masked_mean(values: np.ndarray, mask: np.ndarray) -> float:
    """Mean of ``values`` where ``mask`` is True (NaN if the mask is empty). Notebook 02."""
    return float(values[mask].mean()) if mask.any() else float("nan")


def transfer_by_distance(video, clip, num_classes: int) -> dict[str, np.ndarray]:
    """Per distance d from the keyframe: how well each motion source carries keyframe labels.

    Introduced in notebook 02.

    Args:
        video: the decoded ``Video`` of ``clip.frames`` (one GOP starting at an I-frame).
        clip: a generated clip with ``labels``, ``flow_key`` and ``valid_key`` (scenes.Clip).
        num_classes: K.

    Returns:
        "distance" (L,) int; "miou_copy", "miou_vectors", "miou_exact" (L,) label mIoU of the
        keyframe labels copied, warped with chained motion vectors, warped with the exact flow;
        "epe_vectors_px" (L,) mean endpoint error of the chained flow where both are valid;
        "valid_fraction" (L,) share of pixels whose chain stayed valid.
    """
    from arseg_tutorial.codec.chain import flow_to_keyframe
    from arseg_tutorial.codec.motion import endpoint_error
    from arseg_tutorial.codec.warp import warp

    key_labels = clip.labels[0]
    rows: dict[str, list[float]] = {k: [] for k in ("miou_copy", "miou_vectors", "miou_exact",
                                                    "epe_vectors_px", "valid_fraction")}
    for t in range(len(video)):
        flow, valid = flow_to_keyframe(video, t)
        rows["miou_copy"].append(label_miou(key_labels, clip.labels[t], num_classes))
        rows["miou_vectors"].append(label_miou(warp(key_labels, flow, "nearest"), clip.labels[t],
                                               num_classes))
        rows["miou_exact"].append(label_miou(warp(key_labels, clip.flow_key[t], "nearest"),
                                             clip.labels[t], num_classes))
        rows["epe_vectors_px"].append(masked_mean(endpoint_error(flow, clip.flow_key[t]),
                                                  valid & clip.valid_key[t]))
        rows["valid_fraction"].append(float(valid.mean()))
    return {"distance": np.arange(len(video))} | {k: np.array(v) for k, v in rows.items()}
