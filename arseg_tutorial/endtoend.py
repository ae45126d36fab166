"""End to end: a whole compressed video through AR-Seg and through per-frame HR, timed frame by frame.

Introduced in notebook 07. The video is decoded as a player would decode it, one frame at a time
(the players of ``arseg_tutorial.player``, also timed by ``bench-player``): an I-frame runs
through the HR network and its feature is kept; every P-frame runs through the LR branch at scale s
and CReFF fuses the kept keyframe feature, warped with the motion vectors chained back to the
I-frame. The per-frame HR baseline runs the HR network on every frame. Both are timed on every
frame (wall clock, players interleaved so that a busy machine slows both alike), scored per frame,
and drawn into an overlay video (``arseg_tutorial.overlay``) that a notebook can play inline.

Everything streams: the test video is rendered, encoded and its labels written one frame at a
time, and the comparison keeps per-frame numbers and a few chosen frames only, so its memory does
not grow with the length of the video.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from arseg_tutorial.atomic import atomic_path
from arseg_tutorial.config import cache_dir
from arseg_tutorial.overlay import FRAME_TYPE_RGB, MP4Writer, overlay_frame, write_mp4

__all__ = ["METHODS", "WARP_ONLY", "FRAME_TYPE_RGB", "TestVideo", "make_test_video", "KeptFrame",
           "VideoComparison", "compare_on_video", "overlay_frame", "MP4Writer", "write_mp4"]

METHODS = ("hr", "arseg")
WARP_ONLY = "warp"
"""Reference player: the I-frame's HR feature warped to each P-frame with the motion vectors and
classified by the HR classifier, with no LR branch at all (what the keyframe alone carries);
``models.arseg.warp_reference_logits``, as ``evaluate --method warp``."""


@dataclass(frozen=True)
class TestVideo:
    """A generated test video, encoded to an MP4 file, with the true labels of its frames in a
    ``.npy`` file beside it.

    Attributes:
        path: the H.264 MP4 file (P-frames only, one I-frame every ``gop_length`` frames).
        labels_path: the (N, H, W) uint8 true labels (255 = ignore), a ``.npy`` file.
        gop_length: L, frames per GOP.
        seed: the generator seed.
    """

    path: Path
    labels_path: Path
    gop_length: int
    seed: int

    @property
    def labels(self) -> np.ndarray:
        """(N, H, W) uint8 true labels, a read-only memory map of ``labels_path`` (frames are read
        from disk when indexed; nothing is loaded up front)."""
        return np.load(self.labels_path, mmap_mode="r")

    @property
    def num_frames(self) -> int:
        """Number of frames N."""
        return int(self.labels.shape[0])

    def iter_labels(self) -> Iterator[np.ndarray]:
        """The (H, W) uint8 labels of each frame in turn, read from the file one frame at a time
        (unlike the memory map, pages read are not kept mapped)."""
        with open(self.labels_path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(handle)
            if fortran or dtype != np.uint8 or len(shape) != 3:
                raise ValueError(f"{self.labels_path} is not an (N, H, W) uint8 label file; "
                                 f"rebuild it with make_test_video(...)")
            size = shape[1] * shape[2]
            for _ in range(shape[0]):
                yield np.frombuffer(handle.read(size), np.uint8).reshape(shape[1:])


def labels_path_of(video_path: str | Path) -> Path:
    """Where ``make_test_video`` keeps the labels of ``video_path``: ``name.mp4`` -> ``name.labels.npy``."""
    video_path = Path(video_path)
    return video_path.with_name(f"{video_path.stem}.labels.npy")


def _frames_writing_labels(pairs: Iterable[tuple[np.ndarray, np.ndarray]], handle) -> Iterator[np.ndarray]:
    """Yield each frame of (frame, labels) pairs, appending its labels to the open file ``handle``."""
    for frame, labels in pairs:
        handle.write(np.ascontiguousarray(labels, np.uint8).tobytes())
        yield frame


def make_test_video(seed: int, num_gops: int, height: int, width: int, gop_length: int = 12,
                    path: str | Path | None = None, crf: int = 18) -> TestVideo:
    """Generate a street-scene clip of ``num_gops`` GOPs and encode it (H.264, P-frames only).

    Introduced in notebook 07. Frames are rendered (``scenes.iter_clip``), encoded and their
    labels appended to ``labels_path_of(path)`` one at a time, so memory does not grow with the
    length. Both files are written atomically and rebuilt on every call: the same arguments give
    the same bytes (x264 runs on one thread), and a cached video can never lag behind a changed
    scene generator.

    Args:
        seed: generator seed (use one outside the training seeds, e.g. 970_000).
        num_gops: number of GOPs; the video has ``num_gops * gop_length`` frames.
        height, width: frame size in pixels.
        gop_length: L.
        path: where to write the MP4 (default ``cache_dir()/videos/...``); the labels go beside it.
        crf: x264 constant rate factor.
    """
    from arseg_tutorial.codec import encode_video
    from arseg_tutorial.scenes import iter_clip

    if num_gops < 1 or gop_length < 2:
        raise ValueError(f"need num_gops >= 1 and gop_length >= 2, got {num_gops} and {gop_length}")
    length = num_gops * gop_length
    pairs = iter_clip(seed, length=length, height=height, width=width)
    if path is None:
        path = cache_dir() / "videos" / f"video-{seed}-{num_gops}x{gop_length}-{height}x{width}-crf{crf}.mp4"
    path = Path(path)
    labels_path = labels_path_of(path)
    with atomic_path(labels_path, suffix=".npy") as tmp, open(tmp, "wb") as handle:
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False,
                  "shape": (length, height, width)}
        np.lib.format.write_array_header_1_0(handle, header)
        encode_video(_frames_writing_labels(pairs, handle), path, gop=gop_length, bframes=0, crf=crf)
    return TestVideo(path, labels_path, gop_length, int(seed))


@dataclass
class KeptFrame:
    """One frame that ``compare_on_video`` kept whole, for figures.

    Attributes:
        image: (H, W, 3) uint8 decoded frame.
        labels: (H, W) uint8 true labels.
        frame_type: "I" or "P".
        predictions: method -> (H, W) uint8 predicted labels.
    """

    image: np.ndarray
    labels: np.ndarray
    frame_type: str
    predictions: dict[str, np.ndarray]

    def overlay(self, **style) -> np.ndarray:
        """Ground truth | HR | AR-Seg over the frame, frame type as a top strip (``overlay_frame``;
        ``style``: its ``alpha``, ``strip_px``, ``gap_px``)."""
        return overlay_frame(self.image, [self.labels, self.predictions["hr"], self.predictions["arseg"]],
                             self.frame_type, **style)


@dataclass
class VideoComparison:
    """AR-Seg against per-frame HR on every frame of a video: per-frame numbers, a few whole frames.

    Attributes:
        frame_types: one character per frame ("IPPP...").
        lr_scale: s of AR-Seg's LR branch.
        network_ms: method ("hr", "arseg", and "warp" if asked for, see ``WARP_ONLY``) -> (N,)
            measured wall-clock per frame, ms, of everything but decoding: input tensor, networks,
            warp, CReFF, classifier, label map.
        decode_ms: method -> (N,) measured decoding time per frame, ms: "hr" decodes the pixels
            only, "arseg" (and "warp") also export the motion vectors and chain them to the keyframe.
        miou: method -> (N,) mIoU of each frame in % (classes present in the frame or predicted).
        arseg_equals_hr: (N,) bool, AR-Seg's label map is HR's, pixel for pixel, on that frame.
        stages: method -> stage -> ms per frame (``arseg_tutorial.player.STAGES``).
        kept: frame index -> ``KeptFrame``, for the frames asked for with ``keep``.
        overlay_path: the overlay MP4 written, or None.
    """

    frame_types: str
    lr_scale: float
    network_ms: dict[str, np.ndarray]
    decode_ms: dict[str, np.ndarray]
    miou: dict[str, np.ndarray]
    arseg_equals_hr: np.ndarray
    stages: dict[str, dict[str, float]]
    kept: dict[int, KeptFrame]
    overlay_path: Path | None = None

    @property
    def methods(self) -> tuple[str, ...]:
        """The players compared ("hr", "arseg", maybe "warp")."""
        return tuple(self.miou)

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
        for method in self.methods:
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


def _timed_step(player, method: str, t: int, video: TestVideo) -> tuple[object, np.ndarray, float, float]:
    """Step ``player`` once: (decoded frame, labels, decode ms, network ms)."""
    times = player.times
    before = dict(times.ms)
    step = player.step()
    if step is None:
        raise ValueError(f"{video.path} has fewer frames than its labels ({method} player ended at frame {t}); "
                         f"rebuild both with make_test_video(...)")
    spent = {stage: times.ms[stage] - before[stage] for stage in times.ms}
    decode = spent["decode"] + spent["flow"]
    return step[0], step[1], decode, sum(spent.values()) - decode


def _default_keep(video: TestVideo) -> tuple[int, ...]:
    """The first GOP's I-frame, middle and last frames: (0, L // 2, L - 1)."""
    return tuple(sorted({0, video.gop_length // 2, video.gop_length - 1}))


def compare_on_video(video: TestVideo, hr_model: nn.Module, lr_model: nn.Module, lr_scale: float,
                     progress: bool = True, warp_only: bool = False, keep: Sequence[int] | None = None,
                     overlay_path: str | Path | None = None, fps: float = 6.0,
                     alpha: float = 0.6) -> VideoComparison:
    """Run AR-Seg and per-frame HR over every frame of ``video``, timing and scoring each frame.

    Introduced in notebook 07. The players are those of ``bench-player`` (``arseg_tutorial.player``,
    BatchNorm folded into both networks, AR-Seg's P-frames decoded at the LR size, the label maps
    upsampled sparsely): each decodes its own stream one frame at a time and is
    timed stage by stage; they advance in lock step, alternating which goes first, after one
    untimed warm-up frame. Each frame is scored, drawn into the overlay video if asked for, and
    dropped: only per-frame numbers and the ``keep`` frames stay, so memory does not grow with
    the length of the video.

    Args:
        video: a ``TestVideo`` (``make_test_video``).
        hr_model: the HR network (e.g. ``assets.load_shipped("hr")``).
        lr_model: AR-Seg's LR branch with CReFF (e.g. ``assets.load_shipped("arseg-0.5")``); its
            own classifier is used (for shipped AR-Seg runs it is the HR classifier anyway).
        lr_scale: the scale s that ``lr_model`` was trained for.
        progress: show a tqdm bar.
        warp_only: also run the ``WARP_ONLY`` reference player ("warp").
        keep: indices of the frames to keep whole (``VideoComparison.kept``); default the first
            GOP's (0, L // 2, L - 1).
        overlay_path: if given, write the overlay video there (``overlay_frame`` per frame,
            ground truth | HR | AR-Seg; H.264 MP4, atomically: an interrupted run leaves no file).
        fps, alpha: the overlay video's frame rate and label opacity.
    Returns:
        A ``VideoComparison``; frames decoded from damaged data are reported by a warning.
    Raises:
        CorruptVideoError: every frame was decoded from damaged data (see
            ``player.HRPlayer.check_damage``).
    """
    from contextlib import nullcontext

    from tqdm.auto import tqdm

    from arseg_tutorial.player import ARSegPlayer, HRPlayer, inference_networks

    n = video.num_frames
    keep = _default_keep(video) if keep is None else tuple(keep)
    if any(not 0 <= t < n for t in keep):
        raise ValueError(f"keep must hold frame indices in 0..{n - 1}, got {keep}")
    hr, arseg = inference_networks(hr_model, lr_model, lr_scale)
    methods = METHODS + ((WARP_ONLY,) if warp_only else ())

    def players() -> dict:
        made = {"hr": HRPlayer(video.path, hr), "arseg": ARSegPlayer(video.path, arseg, lr_decode=True)}
        if warp_only:
            made[WARP_ONLY] = ARSegPlayer(video.path, arseg, warp_only=True, lr_decode=True)
        return made

    network_ms, decode_ms, miou = ({m: np.zeros(n) for m in methods} for _ in range(3))
    same, types, kept = np.zeros(n, bool), [], {}
    writer = MP4Writer(overlay_path, fps=fps) if overlay_path is not None else nullcontext()
    with torch.inference_mode(), writer:
        for player in players().values():      # warm-up: one frame each, untimed
            player.step()
        running = players()
        frames = tqdm(zip(range(n), video.iter_labels()), total=n, desc="HR vs AR-Seg, frame by frame",
                      disable=not progress, leave=False)
        for t, labels in frames:
            preds, decoded_by = {}, {}
            for method in (methods if t % 2 == 0 else methods[::-1]):
                decoded_by[method], preds[method], decode_ms[method][t], network_ms[method][t] = _timed_step(
                    running[method], method, t, video)
                miou[method][t] = _frame_miou(preds[method], labels)
            decoded = decoded_by["hr"]               # AR-Seg's P-frames come at the LR size
            same[t] = np.array_equal(preds["hr"], preds["arseg"])
            types.append(decoded.frame_type)
            if overlay_path is not None:
                writer.write(overlay_frame(decoded.image, [labels, preds["hr"], preds["arseg"]],
                                           decoded.frame_type, alpha=alpha))
            if t in keep:
                kept[t] = KeptFrame(decoded.image, labels, decoded.frame_type, preds)
    running["hr"].check_damage()
    stages = {m: running[m].times.per_frame() for m in methods}
    return VideoComparison("".join(types), float(lr_scale), network_ms, decode_ms, miou, same, stages,
                           kept, Path(overlay_path) if overlay_path is not None else None)
