"""Evaluation by keyframe distance: confusion matrices, IoU, per-distance mIoU, cost and timing.

Introduced in notebook 06. The protocol (docs/method.md#evaluation-by-keyframe-distance): for
each distance d = 0 .. L-1 from the I-frame, one
confusion matrix is accumulated over the whole split (label 255 ignored); IoU = diag / (row + col
- diag); mIoU = mean over classes; the reported number is the mean over the L distances. Frames are
the *decoded* frames, whose coding error differs from frame to frame, so even the HR model's
per-distance curve is not perfectly flat (in the shipped sweep it barely moves with d).
"""
from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np
import torch

from arseg_tutorial.config import Profile

IGNORE_LABEL = 255

#: segment a GOP: (frames (L,H,W,3) uint8, flows (L,H,W,2) float32 backward to the keyframe)
#: -> predicted labels (L,H,W) int.
GopSegmenter = Callable[[np.ndarray, np.ndarray], np.ndarray]


def confusion_matrix(pred: np.ndarray, label: np.ndarray, num_classes: int,
                     ignore_label: int = IGNORE_LABEL) -> np.ndarray:
    """Counts of (true class, predicted class) pairs over the labelled pixels.

    Args:
        pred: (...) predicted class indices in 0 .. num_classes-1.
        label: (...) true class indices, same shape; ``ignore_label`` pixels are skipped.
    Returns:
        (num_classes, num_classes) int64; rows = true class, columns = predicted class.
    """
    pred = np.asarray(pred)
    label = np.asarray(label)
    if pred.shape != label.shape:
        raise ValueError(f"prediction {pred.shape} and label {label.shape} must have the same shape")
    keep = label != ignore_label
    true = label[keep].astype(np.int64)
    guess = pred[keep].astype(np.int64)
    if true.size and (true.max() >= num_classes or guess.max() >= num_classes or guess.min() < 0):
        raise ValueError(f"class indices must lie in 0..{num_classes - 1} (or {ignore_label} in labels)")
    return np.bincount(true * num_classes + guess, minlength=num_classes**2).reshape(
        num_classes, num_classes)


def iou_per_class(conf: np.ndarray) -> np.ndarray:
    """IoU of each class from a confusion matrix: diag / (row + col - diag).

    Returns:
        (K,) float64; NaN for a class that is neither present nor predicted.
    """
    conf = np.asarray(conf, dtype=np.float64)
    diag = np.diag(conf)
    union = conf.sum(0) + conf.sum(1) - diag
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, diag / union, np.nan)


def mean_iou(conf: np.ndarray) -> float:
    """Mean IoU in percent over the classes that are present or predicted (NaN classes skipped)."""
    ious = iou_per_class(conf)
    if np.all(np.isnan(ious)):
        raise ValueError("the confusion matrix is empty: no labelled pixel was evaluated")
    return float(np.nanmean(ious) * 100.0)


@dataclass
class DistanceReport:
    """Per-distance evaluation of one method on one split.

    Attributes:
        mean_miou: mean over the L distances of the per-distance mIoU, percent.
        per_distance: L mIoU values in percent, d = 0 .. L-1.
        per_class_iou: class name -> IoU in percent over all frames of the split.
        per_distance_per_class: L lists of per-class IoU in percent (NaN -> None).
        gmacs_per_frame: GOP-average cost per frame in GMACs (filled by the caller).
        ms_per_frame: measured wall-clock network time per frame in milliseconds.
        frames: number of evaluated frames.
    """

    mean_miou: float
    per_distance: list[float]
    per_class_iou: dict[str, float | None]
    per_distance_per_class: list[list[float | None]]
    gmacs_per_frame: float | None
    ms_per_frame: float
    frames: int

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)


def _percent_or_none(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else round(float(v) * 100.0, 4) for v in values]


def report_from_confusions(confusions: np.ndarray, class_names: Sequence[str], seconds: float,
                           frames: int, gmacs_per_frame: float | None = None) -> DistanceReport:
    """Turn (L, K, K) per-distance confusion matrices into a ``DistanceReport``.

    Args:
        confusions: (L, K, K) confusion matrix per distance d.
        class_names: K class names.
        seconds: total measured network time over all frames.
        frames: number of frames that time covers.
    """
    per_distance = [mean_iou(c) for c in confusions]
    pooled = iou_per_class(confusions.sum(0))
    return DistanceReport(
        mean_miou=float(np.mean(per_distance)),
        per_distance=per_distance,
        per_class_iou=dict(zip(class_names, _percent_or_none(pooled))),
        per_distance_per_class=[_percent_or_none(iou_per_class(c)) for c in confusions],
        gmacs_per_frame=gmacs_per_frame,
        ms_per_frame=1000.0 * seconds / max(frames, 1),
        frames=frames,
    )


def evaluate_by_distance(segment_gop: GopSegmenter, frames: np.ndarray, labels: np.ndarray,
                         flows: np.ndarray, class_names: Sequence[str],
                         gmacs_per_frame: float | None = None) -> DistanceReport:
    """Run a segmenter over every GOP and score each keyframe distance separately.

    Args:
        segment_gop: the method, see ``GopSegmenter``; it is timed (network time only).
        frames: (N, L, H, W, 3) uint8 decoded frames, N clips of one GOP each.
        labels: (N, L, H, W) uint8 labels, 255 = ignore.
        flows: (N, L, H, W, 2) float32 motion-vector flow from each frame back to its I-frame.
        class_names: the K class names.
        gmacs_per_frame: GOP-average cost, copied into the report.
    Returns:
        The ``DistanceReport``.
    """
    if frames.ndim != 5 or labels.shape != frames.shape[:4]:
        raise ValueError(f"expected frames (N,L,H,W,3) and labels (N,L,H,W), got {frames.shape} "
                         f"and {labels.shape}")
    num_clips, gop_length = frames.shape[:2]
    num_classes = len(class_names)
    confusions = np.zeros((gop_length, num_classes, num_classes), dtype=np.int64)
    seconds = 0.0
    for clip in range(num_clips):
        start = time.perf_counter()
        pred = np.asarray(segment_gop(frames[clip], flows[clip]))
        seconds += time.perf_counter() - start
        for d in range(gop_length):
            confusions[d] += confusion_matrix(pred[d], labels[clip, d], num_classes)
    return report_from_confusions(confusions, class_names, seconds, num_clips * gop_length,
                                  gmacs_per_frame)


def evaluate_oracle(first: GopSegmenter, second: GopSegmenter, frames: np.ndarray, labels: np.ndarray,
                    flows: np.ndarray, class_names: Sequence[str]) -> DistanceReport:
    """The per-pixel oracle of two methods: a pixel counts as right where either method is right.

    Introduced in notebook 06. With ``first`` = the "warp" reference and ``second`` = LR-only it
    bounds what a fusion of the keyframe and the LR frame can reach by choosing, per pixel,
    between them. Where both are wrong the oracle keeps ``first``'s prediction. Arguments as in
    ``evaluate_by_distance``; the report's timing is meaningless (0).
    """
    num_clips, gop_length = frames.shape[:2]
    num_classes = len(class_names)
    confusions = np.zeros((gop_length, num_classes, num_classes), dtype=np.int64)
    for clip in range(num_clips):
        a = np.asarray(first(frames[clip], flows[clip]))
        b = np.asarray(second(frames[clip], flows[clip]))
        label = labels[clip]
        pred = np.where((b == label) & (a != label), b, a)
        for d in range(gop_length):
            confusions[d] += confusion_matrix(pred[d], label[d], num_classes)
    return report_from_confusions(confusions, class_names, 0.0, 0)


METHODS = ("hr", "lr", "arseg", "warp")
"""What ``make_segmenter`` runs. "warp" is a reference, not a method of the paper: the keyframe's HR
feature, warped with the motion vectors and classified by the HR classifier, on every P-frame (no
LR branch at all). It shows what the keyframe alone carries, which AR-Seg should add to."""


def make_segmenter(method: str, hr_model: torch.nn.Module | None = None,
                   lr_model: torch.nn.Module | None = None, scale: float = 1.0,
                   device: torch.device | None = None, batched: bool = False) -> GopSegmenter:
    """A ``GopSegmenter`` that runs one method over a GOP.

    Args:
        method: "hr" (the HR network on every frame), "lr" (the LR-only network at ``scale`` on
            every frame), "arseg" (HR on the I-frame, LR + CReFF on the others) or "warp" (HR on
            the I-frame, its feature warped by the motion vectors and classified by the HR
            classifier on the others).
        hr_model: the HR network (for "hr", "arseg" and "warp").
        lr_model: the LR-only network (for "lr") or AR-Seg's LR branch with CReFF (for "arseg").
        scale: the LR scale s.
        batched: False = frame by frame, as a video player would (use this for timing);
            True = the GOP's frames as one batch (faster on a CPU, the same predictions up to
            floating-point rounding; the keyframe still goes first).
    Returns:
        The segmenter; it puts the networks in eval mode and runs under ``torch.inference_mode``.
        It raises ValueError on NaN or infinite logits (a damaged or diverged network).
    """
    from arseg_tutorial.models.arseg import ARSeg, downsample_frame, warp_reference_logits
    from arseg_tutorial.models.preprocess import to_input

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    needed = {"hr": (hr_model,), "lr": (lr_model,), "arseg": (hr_model, lr_model),
              "warp": (hr_model,)}[method]
    if any(m is None for m in needed):
        raise ValueError(f"method {method!r} needs " + {"hr": "hr_model", "lr": "lr_model",
                                                          "arseg": "hr_model and lr_model",
                                                          "warp": "hr_model"}[method])
    device = device or torch.device("cpu")
    for m in needed:
        m.eval().to(device)
    arseg = None
    if method == "arseg":
        trained_classifier = copy.deepcopy(lr_model.classifier.state_dict())
        arseg = ARSeg(hr_model, lr_model, scale)
        lr_model.classifier.load_state_dict(trained_classifier)  # ablation: it was trained

    def lr_logits(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return lr_model.forward_phase2(lr_model.forward_phase1(downsample_frame(x, scale)),
                                       output_size=size)

    def run(x: torch.Tensor, flows: torch.Tensor) -> torch.Tensor:
        size = tuple(x.shape[-2:])
        if method == "warp":
            key_feature = hr_model.forward_phase1(x[:1])
            key_logits = hr_model.forward_phase2(key_feature, output_size=size)
            if not batched:
                return torch.cat([key_logits] + [warp_reference_logits(hr_model, key_feature, flows[t:t + 1],
                                                                       x[t:t + 1]) for t in range(1, len(x))])
            return torch.cat([key_logits, warp_reference_logits(hr_model, key_feature, flows[1:], x[1:])])
        if not batched:
            if arseg is not None:
                return arseg.segment_gop(x, flows)
            one = (lambda f: hr_model(f)) if method == "hr" else (lambda f: lr_logits(f, size))
            return torch.cat([one(x[t:t + 1]) for t in range(len(x))])
        if method == "hr":
            return hr_model(x)
        if method == "lr":
            return lr_logits(x, size)
        key = arseg.keyframe(x[:1])
        rest = arseg.nonkeyframe(x[1:], key.feature.expand(len(x) - 1, -1, -1, -1), flows[1:])
        return torch.cat([key.logits, rest.logits])

    def segment(frames: np.ndarray, flows: np.ndarray) -> np.ndarray:
        x = to_input(frames).to(device)
        with torch.inference_mode():
            logits = run(x, torch.from_numpy(np.asarray(flows)).to(device))
            if not torch.isfinite(logits).all():
                raise ValueError(f"the {method} network computed NaN or infinite logits, so its "
                                 f"labels (and any mIoU) would be meaningless; its weights are "
                                 f"damaged or training diverged: train it again or load other weights")
        return logits.argmax(1).cpu().numpy()

    return segment


def method_gmacs_per_frame(method: str, scale: float, model_name: str, height: int, width: int,
                           num_classes: int, net_width: float, gop_length: int,
                           creff_kernel: int = 7) -> float:
    """GOP-average GMACs per frame of a method (``arseg_tutorial.cost`` conventions).

    "hr": the HR network on a full frame; "lr": the LR network on the downsampled frame;
    "arseg": (HR + (L-1) x (LR + CReFF)) / L; "warp": HR / L (the warp is a bilinear gather, not
    counted here or in AR-Seg's cost; the classifier on a P-frame's warped feature is counted).
    """
    from arseg_tutorial.cost import cost_rows

    if method == "warp":
        return _warp_gmacs_per_frame(model_name, height, width, num_classes, net_width, gop_length)
    row = cost_rows(model_name, height, width, num_classes, (scale,), gop_length, net_width,
                    creff_kernel=creff_kernel)[0]
    return {"hr": row.hr_gmacs, "lr": row.lr_gmacs, "arseg": row.gop_gmacs}[method]


def _warp_gmacs_per_frame(model_name: str, height: int, width: int, num_classes: int,
                          net_width: float, gop_length: int) -> float:
    """(HR + (L-1) x classifier on the HR feature grid) / L, the cost of the "warp" reference."""
    from arseg_tutorial.cost import count_gmacs, gmacs, gop_average
    from arseg_tutorial.models import build_model

    with torch.device("meta"):
        hr = build_model(model_name, num_classes, width=net_width).eval()
    frame = torch.empty(1, 3, height, width, device="meta")
    with torch.no_grad():
        feature = hr.forward_phase1(frame)
    classify = count_gmacs(lambda: hr.classify(feature, (height, width)), hr)
    return gop_average(gmacs(hr, tuple(frame.shape)), classify, gop_length)


def networks_gmacs_per_frame(method: str, scale: float, hr_model: torch.nn.Module | None,
                             lr_model: torch.nn.Module | None, height: int, width: int,
                             gop_length: int) -> float:
    """GOP-average GMACs per frame of a method, counted on the networks themselves (their width,
    classes and CReFF window, whatever a profile says); conventions of ``method_gmacs_per_frame``.

    Args:
        hr_model: the HR network ("hr", "arseg", "warp").
        lr_model: the LR network ("lr"; "arseg": the LR branch with CReFF).
        height, width: frame size in pixels.
    """
    from arseg_tutorial.cost import count_gmacs, gmacs, gop_average
    from arseg_tutorial.cost import _on_meta
    from arseg_tutorial.models.arseg import lr_size

    frame = (1, 3, height, width)
    lr_shape = (1, 3, *lr_size(height, width, scale))
    if method == "lr":
        return gmacs(lr_model, lr_shape)
    hr_gmacs = gmacs(hr_model, frame)
    if method == "hr":
        return hr_gmacs
    hr_meta = _on_meta(hr_model).eval()
    with torch.no_grad():
        feature = hr_meta.forward_phase1(torch.empty(frame, device="meta"))
    if method == "warp":
        return gop_average(hr_gmacs, count_gmacs(lambda: hr_meta.classify(feature, (height, width)),
                                                 hr_meta), gop_length)
    return gop_average(hr_gmacs, gmacs(lr_model, lr_shape, reference_shape=tuple(feature.shape)),
                       gop_length)


class LabelledClips(Protocol):
    """What evaluation reads of a set of clips (``train.data.ClipSet`` is one).

    Attributes:
        frames: (N, L, H, W, 3) uint8 decoded RGB frames.
        labels: (N, L, H, W) uint8 class indices, 255 = ignore.
        flow_key: (N, L, H, W, 2) float32 backward flow from each frame to its keyframe.
    """

    frames: np.ndarray
    labels: np.ndarray
    flow_key: np.ndarray


def measure_ms_per_frame(segment_gop: GopSegmenter, frames: np.ndarray, flows: np.ndarray,
                         max_clips: int = 2) -> float:
    """Wall-clock milliseconds per frame of a (frame-by-frame) segmenter over the first clips.

    Introduced in notebook 06. The first GOP is run once untimed (warm-up).

    Args:
        frames: (N, L, H, W, 3) uint8; flows: (N, L, H, W, 2) float32.
        max_clips: how many clips to time.
    """
    segment_gop(frames[0], flows[0])
    count = min(max_clips, len(frames))
    start = time.perf_counter()
    for clip in range(count):
        segment_gop(frames[clip], flows[clip])
    return 1000.0 * (time.perf_counter() - start) / (count * frames.shape[1])


def evaluate_networks(method: str, scale: float, hr_model: torch.nn.Module | None,
                      lr_model: torch.nn.Module | None, clips: LabelledClips, profile: Profile,
                      model_name: str = "bisenet18", timing_clips: int = 2) -> DistanceReport:
    """Per-distance report of one method on ``clips``, with its GOP-average GMACs.

    Accuracy is computed with each GOP as one batch (fast); ``ms_per_frame`` is measured frame
    by frame, as a player would run, on the first ``timing_clips`` clips (0 = not measured, NaN).
    """
    from arseg_tutorial.scenes import CLASS_NAMES

    batched = make_segmenter(method, hr_model, lr_model, scale, batched=True)
    height, width = clips.frames.shape[2:4]
    gmacs = networks_gmacs_per_frame(method, scale, hr_model, lr_model, height, width,
                                     clips.frames.shape[1])
    report = evaluate_by_distance(batched, clips.frames, clips.labels, clips.flow_key, CLASS_NAMES, gmacs)
    report.ms_per_frame = float("nan")
    if timing_clips:
        one_by_one = make_segmenter(method, hr_model, lr_model, scale, batched=False)
        report.ms_per_frame = measure_ms_per_frame(one_by_one, clips.frames, clips.flow_key, timing_clips)
    return report
