"""Real footage encoded into GOPs and scored by keyframe distance, like the generated clips.

Introduced in docs/real_data.md. ``encode_gops`` turns a ``RealClip`` (``realdata.load``) into the
``ClipSet`` that ``arseg_tutorial.evaluate.evaluate_by_distance`` consumes (H.264 GOPs, P-frames
only, decoded frames, motion-vector flow chained to each GOP's I-frame); ``evaluate_real`` runs
the same evaluation streaming, one GOP at a time, over one clip or the chunks of
``iter_real_clips``.

Protocol (the official CamVid pre-processing): a labelled frame t is scored at distance d in a
GOP of its own that starts at frame t - d, so sparsely labelled footage (CamVid labels about
1 frame in 30) still gives every distance d = 0 .. L-1 its own score.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from arseg_tutorial.realdata.load import RealClip, check_gop_length
from arseg_tutorial.scenes.classes import CLASS_NAMES, IGNORE_LABEL, NUM_CLASSES

if TYPE_CHECKING:
    from arseg_tutorial.evaluate import DistanceReport
    from arseg_tutorial.train.data import ClipSet

PROTOCOLS = ("every_distance", "consecutive")


def gop_windows(clip: RealClip, gop_length: int = 12, protocol: str = "every_distance",
                distances: Sequence[int] | None = None) -> list[tuple[int, list[int]]]:
    """The GOPs to encode: (first frame, positions in the GOP whose labels are scored).

    Introduced in docs/real_data.md.

    Args:
        protocol: "every_distance" (each labelled frame t at each distance d in its own GOP
            starting at t - d, kept where the GOP fits in the clip; the official CamVid protocol)
            or "consecutive" (GOPs 0..L-1, L..2L-1, ... as a player sees the stream, labelled
            or not; the tail of fewer than L frames is dropped).
        distances: score only these distances d (e.g. ``[gop_length - 1]`` for training pairs).
    Returns:
        Sorted list of (start, positions); frame ``start + d`` is scored at distance d
        (``positions`` is empty for an unlabelled "consecutive" GOP). Empty if nothing fits.
    """
    check_gop_length(gop_length)
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if distances is not None and not set(distances) <= set(range(gop_length)):
        raise ValueError(f"distances must lie in 0..{gop_length - 1}, got "
                         f"{sorted(set(distances) - set(range(gop_length)))}")
    if clip.length < gop_length:
        raise ValueError(f"the clip has {clip.length} frames, fewer than one GOP ({gop_length}); "
                         f"load more frames or pass a smaller gop_length")
    wanted = set(range(gop_length) if distances is None else distances)
    if protocol == "consecutive":
        starts = range(0, clip.length - gop_length + 1, gop_length)
    else:
        starts = sorted({t - d for t in clip.labelled_indices for d in wanted
                         if 0 <= t - d <= clip.length - gop_length})
    return [(s, [d for d in sorted(wanted) if clip.labelled[s + d]]) for s in starts]


def encode_gops(clip: RealClip, *, gop_length: int = 12, crf: int = 18,
                protocol: str = "every_distance", distances: Sequence[int] | None = None) -> ClipSet:
    """Encode the GOPs of ``gop_windows`` (H.264, P-frames only), decode them, chain the flows.

    Introduced in docs/real_data.md. The result feeds ``evaluate_by_distance`` directly
    (``clips.frames, clips.labels, clips.flow_key``); all GOPs are held in memory, so for long
    footage use ``evaluate_real``.

    Returns:
        ``arseg_tutorial.train.data.ClipSet`` with N = number of windows: decoded frames
        (N, L, H, W, 3), labels (N, L, H, W) = 255 except at the scored positions, flow_key,
        valid_key, packet_bytes.
    """
    from arseg_tutorial.train.data import ClipSet, encode_clip

    check_gop_length(gop_length)
    windows = gop_windows(clip, gop_length, protocol, distances)
    if not windows:
        raise ValueError(f"no labelled frame can be scored with GOPs of {gop_length} frames "
                         f"({int(clip.labelled.sum())} labelled of {clip.length}); a labelled frame t "
                         f"needs frames t-d .. t-d+{gop_length - 1} in the clip")
    n, (h, w) = len(windows), clip.frame_size
    out = ClipSet(np.zeros((n, gop_length, h, w, 3), np.uint8),
                  np.full((n, gop_length, h, w), IGNORE_LABEL, np.uint8),
                  np.zeros((n, gop_length, h, w, 2), np.float32),
                  np.zeros((n, gop_length, h, w), bool), np.zeros((n, gop_length), np.int64))
    for i, (start, positions) in enumerate(windows):
        out.frames[i], out.flow_key[i], out.valid_key[i], out.packet_bytes[i] = encode_clip(
            clip.frames[start:start + gop_length], gop_length, crf)
        out.labels[i, positions] = clip.labels[[start + d for d in positions]]
    return out


def evaluate_real(segment_gop: Callable[[np.ndarray, np.ndarray], np.ndarray],
                  clips: RealClip | Iterable[RealClip], *, gop_length: int = 12, crf: int = 18,
                  protocol: str = "every_distance", gmacs_per_frame: float | None = None) -> DistanceReport:
    """Per-distance mIoU on real footage, one encoded GOP in memory at a time.

    Introduced in docs/real_data.md. Gives the same confusion matrices as ``evaluate_by_distance``
    on ``encode_gops(clip)``, pooled over all clips (e.g. one per sequence, or a generator that
    loads long footage in chunks). The segmenter sees each GOP up to its last scored frame
    (enough for HR, LR-only and AR-Seg, which never look ahead); ``ms_per_frame`` averages over
    the frames it segmented.

    Args:
        segment_gop: see ``arseg_tutorial.evaluate.GopSegmenter`` (e.g. ``make_segmenter(...)``).
        clips: one ``RealClip`` with labels, or several (a list or a generator).
    Returns:
        ``arseg_tutorial.evaluate.DistanceReport``.
    Raises:
        ValueError: some distance d has no labelled frame to score (the message lists them).
    """
    from arseg_tutorial.evaluate import confusion_matrix, report_from_confusions
    from arseg_tutorial.train.data import encode_clip

    check_gop_length(gop_length)
    clips = [clips] if isinstance(clips, RealClip) else clips
    if isinstance(clips, Sequence):
        scored = {d for clip in clips for _, ds in gop_windows(clip, gop_length, protocol) for d in ds}
        _check_distances(scored, gop_length)
    confusions = np.zeros((gop_length, NUM_CLASSES, NUM_CLASSES), np.int64)
    seconds, frames, scored = 0.0, 0, set()
    for clip in clips:
        for start, positions in gop_windows(clip, gop_length, protocol):
            if not positions:
                continue
            decoded, flow, _, _ = encode_clip(clip.frames[start:start + gop_length], gop_length, crf)
            end = max(max(positions) + 1, min(2, gop_length))  # batched segmenters want a P-frame
            tic = time.perf_counter()
            pred = np.asarray(segment_gop(decoded[:end], flow[:end]))
            seconds += time.perf_counter() - tic
            if pred.ndim != 3 or len(pred) < end or pred.shape[1:] != clip.frame_size:
                raise ValueError(f"segment_gop returned an array of shape {pred.shape} for {end} "
                                 f"frames of {clip.frame_size[0]}x{clip.frame_size[1]} px; it must "
                                 f"return (T, H, W) = ({end}, {clip.frame_size[0]}, "
                                 f"{clip.frame_size[1]}) class indices, one label map per frame")
            frames += end
            scored.update(positions)
            for d in positions:
                confusions[d] += confusion_matrix(pred[d], clip.labels[start + d], NUM_CLASSES)
    _check_distances(scored, gop_length)
    return report_from_confusions(confusions, CLASS_NAMES, seconds, frames, gmacs_per_frame)


def _check_distances(scored: set[int], gop_length: int) -> None:
    missing = sorted(set(range(gop_length)) - scored)
    if missing:
        raise ValueError(f"no labelled frame can be scored at distance(s) {missing}: label more "
                         f"frames, or load more frames around the labelled ones")
