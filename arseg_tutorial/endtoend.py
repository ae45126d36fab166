"""End to end: a whole compressed video through AR-Seg and through per-frame HR, timed frame by frame.

Introduced in notebook 07. The video is decoded as a player would decode it, one frame at a time
(``codec.iter_flows_to_keyframe``): an I-frame runs through the HR network and its feature is
kept; every P-frame runs through the LR branch at scale s and CReFF fuses the kept keyframe
feature, warped with the motion vectors chained back to the I-frame. The per-frame HR baseline
runs the HR network on every frame. Both are timed on every frame (wall clock, networks
interleaved so that a busy machine slows both alike), scored per frame, and drawn into an overlay
video written with PyAV (H.264 in MP4) that a notebook can play inline.
"""
from __future__ import annotations

import copy
import time
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
        network_ms: method -> (N,) measured wall-clock of the network(s) per frame, ms.
        decode_ms: method -> (N,) measured decoding time per frame, ms: "hr" decodes the pixels
            only, "arseg" (and "warp") also export the motion vectors and chain them to the keyframe.
        miou: method -> (N,) mIoU of each frame in % (classes present in the frame or predicted).
    """

    frames: np.ndarray
    labels: np.ndarray
    frame_types: str
    lr_scale: float
    predictions: dict[str, np.ndarray]
    network_ms: dict[str, np.ndarray]
    decode_ms: dict[str, np.ndarray]
    miou: dict[str, np.ndarray]

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


def _timed(run) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    labels = run().argmax(1)[0].cpu().numpy().astype(np.uint8)
    return labels, 1000.0 * (time.perf_counter() - start)


def _decode_times_without_vectors(path: Path) -> np.ndarray:
    """(N,) ms per frame of a plain decode (no motion-vector export), as the HR player does."""
    from arseg_tutorial.codec import iter_video

    times, frames = [], iter_video(path, motion_vectors=False)
    while True:
        start = time.perf_counter()
        if next(frames, None) is None:
            return np.asarray(times)
        times.append(1000.0 * (time.perf_counter() - start))


def compare_on_video(video: TestVideo, hr_model: nn.Module, lr_model: nn.Module, lr_scale: float,
                     device: torch.device | None = None, progress: bool = True,
                     warp_only: bool = False) -> VideoComparison:
    """Run AR-Seg and per-frame HR over every frame of ``video``, timing each frame.

    Introduced in notebook 07. The two methods alternate which runs first on each frame, and
    both networks run once untimed on the first frame (warm-up).

    Args:
        video: a ``TestVideo`` (``make_test_video``).
        hr_model: the HR network (e.g. ``assets.load_shipped("hr")``).
        lr_model: AR-Seg's LR branch with CReFF (e.g. ``assets.load_shipped("arseg-0.5")``); its
            own classifier is used (for shipped AR-Seg runs it is the HR classifier anyway).
        lr_scale: the scale s that ``lr_model`` was trained for.
        device: where to run (default CPU).
        progress: show a tqdm bar.
        warp_only: also run the ``WARP_ONLY`` reference player ("warp").
    Returns:
        A ``VideoComparison``.
    """
    from tqdm.auto import tqdm

    from arseg_tutorial.codec import iter_flows_to_keyframe
    from arseg_tutorial.models.arseg import ARSeg, warp_reference_logits
    from arseg_tutorial.train.data import to_input

    device = device or torch.device("cpu")
    trained_classifier = copy.deepcopy(lr_model.classifier.state_dict())
    arseg = ARSeg(hr_model.eval().to(device), lr_model.eval().to(device), lr_scale).eval()
    lr_model.classifier.load_state_dict(trained_classifier)     # ARSeg copied HR's; keep the trained one
    n = video.num_frames
    methods = METHODS + ((WARP_ONLY,) if warp_only else ())
    frames, types, keyframe = [], [], {}
    preds = {m: np.zeros(video.labels.shape, np.uint8) for m in methods}
    network_ms = {m: np.zeros(n) for m in methods}
    arseg_decode_ms = np.zeros(n)

    def run_arseg(x: torch.Tensor, frame_type: str, flow: torch.Tensor) -> torch.Tensor:
        if frame_type == "I":
            out = arseg.keyframe(x)
            keyframe["feature"] = out.feature          # kept for the P-frames of this GOP
            return out.logits
        if "feature" not in keyframe:
            raise ValueError(f"{video.path} does not start with an I-frame")
        return arseg.nonkeyframe(x, keyframe["feature"], flow).logits

    def run_warp_only(x: torch.Tensor, frame_type: str, flow: torch.Tensor) -> torch.Tensor:
        if frame_type == "I":
            return hr_model(x)
        return warp_reference_logits(hr_model, keyframe["feature"], flow, x)

    stream = iter_flows_to_keyframe(video.path)
    with torch.inference_mode():
        for t in tqdm(range(n), desc="HR vs AR-Seg, frame by frame", disable=not progress, leave=False):
            start = time.perf_counter()
            item = next(stream, None)
            arseg_decode_ms[t] = 1000.0 * (time.perf_counter() - start)
            if item is None:
                raise ValueError(f"{video.path} has fewer frames than its {n} labels")
            decoded, flow, _ = item
            x = to_input(decoded.image)[None].to(device)
            flow_t = torch.from_numpy(flow)[None].to(device)
            runs = {"hr": lambda: hr_model(x),
                    "arseg": lambda: run_arseg(x, decoded.frame_type, flow_t),
                    WARP_ONLY: lambda: run_warp_only(x, decoded.frame_type, flow_t)}
            if t == 0:
                for method in methods:
                    runs[method]()
            for method in (methods if t % 2 == 0 else methods[::-1]):
                preds[method][t], network_ms[method][t] = _timed(runs[method])
            frames.append(decoded.image)
            types.append(decoded.frame_type)
    stream.close()
    decode_ms = {"hr": _decode_times_without_vectors(video.path)[:n], "arseg": arseg_decode_ms}
    if warp_only:
        decode_ms[WARP_ONLY] = arseg_decode_ms
    miou = {m: np.array([_frame_miou(preds[m][t], video.labels[t]) for t in range(n)]) for m in methods}
    return VideoComparison(np.stack(frames), video.labels, "".join(types), float(lr_scale), preds,
                           network_ms, decode_ms, miou)


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
