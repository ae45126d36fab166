"""End to end: a whole compressed video through AR-Seg and through per-frame HR, timed frame by frame.

Introduced in notebook 07. The video is decoded as a player would decode it, one frame at a time
(the players of ``arseg_tutorial.player``, also timed by ``bench-player``): an I-frame runs
through the HR network and its feature is kept; every P-frame runs through the LR branch at scale s
and CReFF fuses the kept keyframe feature, warped with the motion vectors chained back to the
I-frame. The per-frame HR baseline runs the HR network on every frame. Both are timed on every
frame (wall clock, players interleaved so that a busy machine slows both alike), scored per frame,
and drawn into an overlay video written with PyAV (H.264 in MP4) that a notebook can play inline.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from arseg_tutorial.atomic import atomic_path
from arseg_tutorial.config import cache_dir

METHODS = ("hr", "arseg")
WARP_ONLY = "warp"
"""Reference player: the I-frame's HR feature warped to each P-frame with the motion vectors and
classified by the HR classifier, with no LR branch at all (what the keyframe alone carries);
``models.arseg.warp_reference_logits``, as ``evaluate --method warp``."""
FRAME_TYPE_RGB = {"I": (0xD5, 0x5E, 0x00), "P": (0x00, 0x72, 0xB2), "B": (0x00, 0x9E, 0x73)}
"""Colour of the frame-type strip on top of the overlay video (as ``viz.codec.FRAME_TYPE_COLOURS``)."""


@dataclass
class TestVideo:
    """A generated test video, encoded to an MP4 file, with the true labels of its frames.

    Attributes:
        path: the H.264 MP4 file (P-frames only, one I-frame every ``gop_length`` frames).
        labels: (N, H, W) uint8 true labels, 255 = ignore.
        gop_length: L, frames per GOP.
        seed: the generator seed.
    """

    path: Path
    labels: np.ndarray
    gop_length: int
    seed: int

    @property
    def num_frames(self) -> int:
        """Number of frames N."""
        return int(self.labels.shape[0])


def make_test_video(seed: int, num_gops: int, height: int, width: int, gop_length: int = 12,
                    path: str | Path | None = None, crf: int = 18) -> TestVideo:
    """Generate a street-scene clip of ``num_gops`` GOPs and encode it (H.264, P-frames only).

    Introduced in notebook 07.

    Args:
        seed: generator seed (use one outside the training seeds, e.g. 970_000).
        num_gops: number of GOPs; the video has ``num_gops * gop_length`` frames.
        height, width: frame size in pixels.
        gop_length: L.
        path: where to write the MP4 (default ``cache_dir()/videos/...``).
        crf: x264 constant rate factor.
    """
    from arseg_tutorial.codec import encode_video
    from arseg_tutorial.scenes import generate_clip

    if num_gops < 1 or gop_length < 2:
        raise ValueError(f"need num_gops >= 1 and gop_length >= 2, got {num_gops} and {gop_length}")
    clip = generate_clip(seed, length=num_gops * gop_length, height=height, width=width)
    if path is None:
        folder = cache_dir() / "videos"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"video-{seed}-{num_gops}x{gop_length}-{height}x{width}-crf{crf}.mp4"
    encode_video(np.asarray(clip.frames), path, gop=gop_length, bframes=0, crf=crf)
    return TestVideo(Path(path), np.asarray(clip.labels), gop_length, seed)


@dataclass
class VideoComparison:
    """AR-Seg against per-frame HR on every frame of a video.

    Attributes:
        frames: (N, H, W, 3) uint8 decoded frames.
        labels: (N, H, W) uint8 true labels.
        frame_types: one character per frame ("IPPP...").
        lr_scale: s of AR-Seg's LR branch.
        predictions: method ("hr", "arseg", and "warp" if asked for, see ``WARP_ONLY``) ->
            (N, H, W) uint8 predicted labels.
        network_ms: method -> (N,) measured wall-clock per frame, ms, of everything but decoding:
            input tensor, networks, warp, CReFF, classifier, label map.
        decode_ms: method -> (N,) measured decoding time per frame, ms: "hr" decodes the pixels
            only, "arseg" (and "warp") also export the motion vectors and chain them to the keyframe.
        miou: method -> (N,) mIoU of each frame in % (classes present in the frame or predicted).
        stages: method -> stage -> ms per frame (``arseg_tutorial.player.STAGES``).
    """

    frames: np.ndarray
    labels: np.ndarray
    frame_types: str
    lr_scale: float
    predictions: dict[str, np.ndarray]
    network_ms: dict[str, np.ndarray]
    decode_ms: dict[str, np.ndarray]
    miou: dict[str, np.ndarray]
    stages: dict[str, dict[str, float]]

    def total_ms(self, method: str) -> np.ndarray:
        """(N,) decode + network milliseconds per frame of ``method``."""
        return self.decode_ms[method] + self.network_ms[method]

    def speedup(self, include_decode: bool = True) -> float:
        """Mean time per frame of per-frame HR divided by that of AR-Seg (> 1: AR-Seg is faster)."""
        times = self.total_ms if include_decode else self.network_ms.__getitem__
        return float(np.mean(times("hr")) / np.mean(times("arseg")))

    def summary(self) -> dict[str, float]:
        """Mean mIoU (%), mean network and total ms per frame of each method, and the speed-ups."""
        out: dict[str, float] = {}
        for method in self.predictions:
            out[f"{method}_miou"] = float(np.mean(self.miou[method]))
            out[f"{method}_network_ms"] = float(np.mean(self.network_ms[method]))
            out[f"{method}_total_ms"] = float(np.mean(self.total_ms(method)))
        out["speedup_network"] = self.speedup(include_decode=False)
        out["speedup_total"] = self.speedup(include_decode=True)
        return out


def _frame_miou(pred: np.ndarray, label: np.ndarray) -> float:
    from arseg_tutorial.evaluate import confusion_matrix, mean_iou
    from arseg_tutorial.scenes import NUM_CLASSES

    return mean_iou(confusion_matrix(pred, label, NUM_CLASSES))


def compare_on_video(video: TestVideo, hr_model: nn.Module, lr_model: nn.Module, lr_scale: float,
                     progress: bool = True, warp_only: bool = False) -> VideoComparison:
    """Run AR-Seg and per-frame HR over every frame of ``video``, timing each frame.

    Introduced in notebook 07. The players are those of ``bench-player`` (``arseg_tutorial.player``,
    BatchNorm folded into both networks): each decodes its own stream one frame at a time and is
    timed stage by stage; they advance in lock step, alternating which goes first, after one
    untimed warm-up frame. The players' memory does not grow with the video; the comparison keeps
    the frames and label maps for the overlay video (about 0.2 MiB per 180x240 frame).

    Args:
        video: a ``TestVideo`` (``make_test_video``).
        hr_model: the HR network (e.g. ``assets.load_shipped("hr")``).
        lr_model: AR-Seg's LR branch with CReFF (e.g. ``assets.load_shipped("arseg-0.5")``); its
            own classifier is used (for shipped AR-Seg runs it is the HR classifier anyway).
        lr_scale: the scale s that ``lr_model`` was trained for.
        progress: show a tqdm bar.
        warp_only: also run the ``WARP_ONLY`` reference player ("warp").
    Returns:
        A ``VideoComparison``.
    """
    from tqdm.auto import tqdm

    from arseg_tutorial.player import ARSegPlayer, HRPlayer, inference_networks

    hr, arseg = inference_networks(hr_model, lr_model, lr_scale)
    methods = METHODS + ((WARP_ONLY,) if warp_only else ())

    def players() -> dict:
        made = {"hr": HRPlayer(video.path, hr), "arseg": ARSegPlayer(video.path, arseg)}
        if warp_only:
            made[WARP_ONLY] = ARSegPlayer(video.path, arseg, warp_only=True)
        return made

    n = video.num_frames
    preds = {m: np.zeros(video.labels.shape, np.uint8) for m in methods}
    network_ms, decode_ms = ({m: np.zeros(n) for m in methods} for _ in range(2))
    frames, types = np.zeros(video.labels.shape + (3,), np.uint8), []
    with torch.inference_mode():
        for player in players().values():      # warm-up: one frame each, untimed
            player.step()
        running = players()
        for t in tqdm(range(n), desc="HR vs AR-Seg, frame by frame", disable=not progress, leave=False):
            for method in (methods if t % 2 == 0 else methods[::-1]):
                times = running[method].times
                before = dict(times.ms)
                step = running[method].step()
                if step is None:
                    raise ValueError(f"{video.path} has fewer frames than its {n} labels")
                spent = {stage: times.ms[stage] - before[stage] for stage in times.ms}
                decode_ms[method][t] = spent["decode"] + spent["flow"]
                network_ms[method][t] = sum(spent.values()) - decode_ms[method][t]
                preds[method][t] = step[1]
            frames[t] = step[0].image
            types.append(step[0].frame_type)
    stages = {m: running[m].times.per_frame() for m in methods}
    miou = {m: np.array([_frame_miou(preds[m][t], video.labels[t]) for t in range(n)]) for m in methods}
    return VideoComparison(frames, video.labels, "".join(types), float(lr_scale), preds,
                           network_ms, decode_ms, miou, stages)


def overlay_frames(comparison: VideoComparison, alpha: float = 0.6, strip_px: int = 6,
                   gap_px: int = 2) -> np.ndarray:
    """Side-by-side overlays per frame: ground truth | HR | AR-Seg, frame type as a top strip.

    Introduced in notebook 07.

    Args:
        comparison: the result of ``compare_on_video``.
        alpha: weight of the label colours over the frame (0 = frame only, 1 = labels only).
        strip_px: height of the strip on top (I-frame vermillion, P-frame blue).
        gap_px: white gap between the panels.
    Returns:
        (N, strip_px + H, 3 * W + 2 * gap_px, 3) uint8 RGB frames.
    """
    from arseg_tutorial.viz import colorize_labels

    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    frames = comparison.frames.astype(np.float32)
    panels = [comparison.labels, comparison.predictions["hr"], comparison.predictions["arseg"]]
    blended = [((1 - alpha) * frames + alpha * colorize_labels(p)).round().astype(np.uint8) for p in panels]
    n, height, width = comparison.labels.shape
    gap = np.full((n, height, gap_px, 3), 255, np.uint8)
    body = np.concatenate([blended[0], gap, blended[1], gap, blended[2]], axis=2)
    strip = np.zeros((n, strip_px, body.shape[2], 3), np.uint8)
    for t, kind in enumerate(comparison.frame_types):
        strip[t] = FRAME_TYPE_RGB.get(kind, (128, 128, 128))
    return np.concatenate([strip, body], axis=1)


def write_mp4(frames: np.ndarray, path: str | Path, fps: float = 10.0, crf: int = 20) -> Path:
    """Write RGB frames as an H.264 MP4 (yuv420p, plays in browsers) with PyAV, atomically.

    Introduced in notebook 07. Odd sizes are padded to even with black.

    Args:
        frames: (N, H, W, 3) uint8 RGB.
        path: the ``.mp4`` file to write (its folder must exist).
        fps: frames per second.
        crf: x264 constant rate factor (lower = better quality, larger file).
    Returns:
        The path written.
    """
    import av

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"frames must be a non-empty (N, H, W, 3) uint8 array, got {frames.shape} "
                         f"{frames.dtype}")
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the folder {path.parent} does not exist; create it first")
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)))
    with (atomic_path(path, suffix=".mp4") as tmp,
          av.open(str(tmp), mode="w", format="mp4") as container):
        stream = container.add_stream("libx264", rate=int(round(fps)))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast", "movflags": "+faststart"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
    return path
