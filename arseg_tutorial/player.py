"""Streaming players, decode -> label map, timed stage by stage: per-frame HR and AR-Seg.

Introduced in notebook 07 (and run by ``python -m arseg_tutorial bench-player``). A player reads
one frame at a time from its own decoder and keeps only what the next frame needs (AR-Seg: the
GOP's HR keyframe feature and the flow chained to it), so its memory does not grow with the
video. Every stage is computed once per frame and timed on the wall clock:

``decode`` (frame to RGB; AR-Seg's decoder also exports the motion vectors and, with
``lr_decode``, converts P-frames straight to the LR size), ``flow`` (motion vectors to the flow
the feature warp needs, chained to the I-frame), ``input`` (uint8 frame to the normalised tensor),
``hr_net`` (HR network to its feature), ``lr_net`` (downsampling, unless the frame came at the LR
size, and the LR network), ``warp`` (keyframe feature warped to the frame), ``creff`` (fusion),
``classify`` (the 1x1 classifier, on the feature grid) and ``labels`` (the grid's logits to a
uint8 label map at the frame size: ``models.label_upsample``, which interpolates only where
neighbouring cells disagree).
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from arseg_tutorial.codec.chain import compose
from arseg_tutorial.codec.decode import VideoSource, damaged_frames, iter_video
from arseg_tutorial.codec.errors import CorruptVideoError
from arseg_tutorial.codec.grid_chain import GridChain
from arseg_tutorial.codec.motion import motion_vectors_to_flow
from arseg_tutorial.codec.video import DecodedFrame
from arseg_tutorial.codec.warp import warp
from arseg_tutorial.models.arseg import ARSeg, downsample_frame
from arseg_tutorial.models.fold import fold_batchnorm
from arseg_tutorial.models.label_upsample import upsampled_labels
from arseg_tutorial.models.preprocess import to_input
from arseg_tutorial.playerframes import iter_lr_frames

STAGES = ("decode", "flow", "input", "hr_net", "lr_net", "warp", "creff", "classify", "labels")


@dataclass
class StageTimes:
    """Milliseconds spent in each stage, summed over the frames played: wall clock (``ms``) and
    this process's CPU time (``cpu_ms``; on one thread, what the wall clock would read on an idle
    machine), over ``frames`` frames of which ``keyframes`` were I-frames."""

    ms: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    cpu_ms: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    frames: int = 0
    keyframes: int = 0

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Add the time spent in the ``with`` block to stage ``name``."""
        start, start_cpu = time.perf_counter(), time.process_time()
        yield
        self.ms[name] += 1000.0 * (time.perf_counter() - start)
        self.cpu_ms[name] += 1000.0 * (time.process_time() - start_cpu)

    def total_ms(self, cpu: bool = False) -> float:
        """Milliseconds over all stages and frames (wall clock, or CPU time)."""
        return sum((self.cpu_ms if cpu else self.ms).values())

    def per_frame(self) -> dict[str, float]:
        """Stage -> ms per frame."""
        return {name: value / max(self.frames, 1) for name, value in self.ms.items()}


def inference_networks(hr_model: nn.Module, lr_model: nn.Module,
                       lr_scale: float) -> tuple[nn.Module, ARSeg]:
    """(HR network, ARSeg) for the players: BatchNorm folded into the convolutions of both
    (``models.fold``; same logits to float rounding, fewer ops per frame), the LR network's own
    trained classifier kept (``ARSeg`` would copy HR's). The networks passed in are not changed.
    """
    hr, lr = (fold_batchnorm(model).to(memory_format=torch.channels_last) for model in (hr_model, lr_model))
    trained_classifier = {k: v.clone() for k, v in lr.classifier.state_dict().items()}
    arseg = ARSeg(hr, lr, lr_scale).eval()
    lr.classifier.load_state_dict(trained_classifier)
    return hr, arseg


def _same_classifier(a: nn.Module, b: nn.Module) -> bool:
    """Whether ``a.classify`` and ``b.classify`` compute the same function: the same classifier
    weights (FST's shared frozen classifier: every shipped AR-Seg network) and upsampling."""
    ours, theirs = a.classifier.state_dict(), b.classifier.state_dict()
    return (a.upsample_align_corners == b.upsample_align_corners and ours.keys() == theirs.keys()
            and all(torch.equal(ours[k], theirs[k]) for k in ours))


class _Player:
    """Shared by both players: frames are read and segmented a group at a time, one frame per
    group, or one GOP per group with ``batch_gop`` (a GOP's frames in one batch through each
    network: fewer ops per frame, one GOP of latency), and handed out one by one by ``step``.
    Frames decoded from damaged data are reported (``check_damage``) at the end of the video;
    a caller that stops earlier calls ``check_damage`` itself."""

    def __init__(self, frames: Iterator[DecodedFrame], batch_gop: bool):
        self.frames = frames
        self.batch_gop = batch_gop
        self.times = StageTimes()
        self._pending: DecodedFrame | None = None
        self._ready: list[tuple[DecodedFrame, np.ndarray]] = []
        self.frame_size: tuple[int, int] | None = None
        self._corrupt: list[bool] = []
        self._types = ""
        self._checked = 0

    @property
    def damaged_frames(self) -> tuple[int, ...]:
        """Positions among the frames read so far of those decoded from damaged data, and of the
        frames after them up to the next I-frame (as ``Video.damaged_frames``)."""
        return damaged_frames(self._corrupt, self._types)

    def check_damage(self) -> None:
        """Report the frames read so far that were decoded from damaged data, as ``read_video``
        does (a warning naming them); refuse a stream whose every frame was concealment.

        Raises:
            CorruptVideoError: every frame read was flagged as decoded from damaged data.
        """
        if self._checked == len(self._corrupt):
            return
        self._checked = len(self._corrupt)
        if self._corrupt and all(self._corrupt):
            raise CorruptVideoError(
                f"all {len(self._corrupt)} frame(s) of the video were decoded from damaged data "
                f"(FFmpeg concealed the errors: the file is truncated or damaged), so there is "
                f"nothing real to segment or time; re-encode or re-download it",
                frames_decoded=0, frames_expected=len(self._corrupt))
        if self.damaged_frames:
            warnings.warn(f"frames {', '.join(map(str, self.damaged_frames))} (display order) of "
                          f"{len(self._corrupt)} were decoded from damaged data (FFmpeg concealed "
                          f"the errors), so their label maps and times are not those of the real "
                          f"video; re-encode or re-download it", UserWarning, stacklevel=2)

    def _read_group(self) -> list[DecodedFrame]:
        """The next frame, or with ``batch_gop`` the frames up to the next I-frame."""
        group = [self._pending] if self._pending is not None else []
        self._pending = None
        while not group or self.batch_gop:
            frame = next(self.frames, None)
            if frame is None:
                break
            if group and frame.frame_type == "I":
                self._pending = frame
                break
            group.append(frame)
            self._corrupt.append(frame.corrupt)
            self._types += frame.frame_type
        return group

    def _segment(self, group: list[DecodedFrame], inputs: list[Tensor]) -> tuple[Tensor, bool]:
        """The group's (T, K, h, w) logits on the feature grid and whether they are upsampled
        with ``align_corners``, given the inputs of ``_inputs``."""
        raise NotImplementedError

    def _inputs(self, group: list[DecodedFrame]) -> list[Tensor]:
        """The group's normalised input tensors, one (T', 3, H', W') tensor per frame size."""
        return [to_input(np.stack([frame.image for frame in group]))]

    def step(self) -> tuple[DecodedFrame, np.ndarray] | None:
        """The next frame and its (H, W) uint8 label map, or None at the end of the video."""
        if not self._ready:
            with self.times.stage("decode"):
                group = self._read_group()
            if not group:
                self.check_damage()
                return None
            if self.frame_size is None or group[0].frame_type == "I":
                self.frame_size = tuple(group[0].image.shape[:2])
            with self.times.stage("input"):
                inputs = self._inputs(group)
            logits, align_corners = self._segment(group, inputs)
            with self.times.stage("labels"):
                labels = upsampled_labels(logits, self.frame_size, align_corners).numpy()
            self._ready = list(zip(group, labels))[::-1]
            self.times.frames += len(group)
            self.times.keyframes += sum(frame.frame_type == "I" for frame in group)
        return self._ready.pop()


class HRPlayer(_Player):
    """The HR network on every frame of a video.

    Introduced in notebook 07.

    Args:
        source: an H.264 (or any) video: path, bytes or binary file.
        hr_model: the HR network, in eval mode.
        batch_gop: segment a GOP's frames in one batch (see ``_Player``).
    """

    def __init__(self, source: VideoSource, hr_model: nn.Module, batch_gop: bool = False):
        super().__init__(iter_video(source, motion_vectors=False), batch_gop)
        self.hr_model = hr_model

    def _segment(self, group: list[DecodedFrame], inputs: list[Tensor]) -> tuple[Tensor, bool]:
        with self.times.stage("hr_net"):
            feature = self.hr_model.forward_phase1(inputs[0])
        with self.times.stage("classify"):
            return self.hr_model.classifier(feature), self.hr_model.upsample_align_corners


class ARSegPlayer(_Player):
    """AR-Seg on a video: HR on I-frames, LR branch + CReFF at scale s on P-frames.

    Introduced in notebook 07.

    Args:
        source: an H.264 video with P-frames only (``encode_video(..., bframes=0)``).
        arseg: an ``models.ARSeg`` in eval mode (its LR network with CReFF).
        warp_only: on P-frames, classify the warped keyframe feature with the HR classifier and
            skip the LR branch (the "warp" reference, ``models.arseg.warp_reference_logits``).
        chain: "grid" chains the motion vectors at the feature grid only (``codec.grid_chain``,
            the flow the feature warp samples); "pixel" chains the per-pixel flow of notebook 02
            (``codec.chain.compose``) and lets the warp resize it (the slower reference path).
        batch_gop: segment a GOP's P-frames in one batch (see ``_Player``).
        lr_decode: P-frames leave the decoder at the LR size (``playerframes``; swscale's
            bilinear instead of ``F.interpolate``: labels move a little, docs/performance.md).
            Their ``DecodedFrame.image`` is then the LR frame.
    """

    def __init__(self, source: VideoSource, arseg: nn.Module, warp_only: bool = False,
                 chain: str = "grid", batch_gop: bool = False, lr_decode: bool = False):
        if chain not in ("grid", "pixel"):
            raise ValueError(f"chain must be 'grid' or 'pixel', got {chain!r}")
        frames = (iter_lr_frames(source, arseg.lr_scale) if lr_decode
                  else iter_video(source, motion_vectors=True))
        super().__init__(frames, batch_gop)
        self.arseg = arseg
        self.warp_only = warp_only
        self.chain_mode = chain
        self.keyframe_feature: Tensor | None = None
        self.chain: GridChain | tuple[np.ndarray, np.ndarray] | None = None
        self._one_classifier = _same_classifier(arseg.hr_model, arseg.lr_model)

    def _flow(self, frame: DecodedFrame, grid: tuple[int, int]) -> Tensor:
        """The frame's backward flow to its keyframe: (2, h, w) feature pixels ("grid") or
        (2, H, W) image pixels ("pixel")."""
        height, width = self.frame_size
        if frame.frame_type not in ("I", "P"):
            raise ValueError(f"the player follows I- and P-frames only, got a {frame.frame_type!r}-frame; "
                             f"re-encode the video with encode_video(..., bframes=0)")
        if self.chain_mode == "pixel":
            if frame.frame_type == "I":
                self.chain = (np.zeros((height, width, 2), np.float32), np.ones((height, width), bool))
            else:
                self.chain = compose(*motion_vectors_to_flow(frame.motion_vectors, height, width),
                                     *self.chain)
            return torch.from_numpy(self.chain[0]).permute(2, 0, 1)
        if self.chain is None or self.chain.chain.shape[:2] != grid:
            self.chain = GridChain(height, width, *grid)
        self.chain.step(frame.frame_type, frame.motion_vectors)
        return torch.from_numpy(self.chain.feature_flow()).permute(2, 0, 1)

    def _inputs(self, group: list[DecodedFrame]) -> list[Tensor]:
        """[keyframe input (1, 3, H, W)] if the group starts with an I-frame, then the P-frames'
        input (T, 3, H', W'), at the LR size with ``lr_decode``."""
        split = 1 if group[0].frame_type == "I" else 0
        parts = [group[:split], group[split:]]
        return [to_input(np.stack([frame.image for frame in part])) for part in parts if part]

    def _segment(self, group: list[DecodedFrame], inputs: list[Tensor]) -> tuple[Tensor, bool]:
        times, arseg = self.times, self.arseg
        to_classify = []  # (network whose classifier applies, feature), in frame order
        if group[0].frame_type == "I":
            with times.stage("hr_net"):
                self.keyframe_feature = arseg.hr_model.forward_phase1(inputs[0])
            with times.stage("flow"):
                self._flow(group[0], tuple(self.keyframe_feature.shape[-2:]))
            to_classify.append((arseg.hr_model, self.keyframe_feature))
            group, inputs = group[1:], inputs[1:]
        if group:
            x = inputs[0]
            if self.keyframe_feature is None:
                raise ValueError("the video does not start with an I-frame: AR-Seg needs a keyframe first")
            with times.stage("flow"):
                grid = tuple(self.keyframe_feature.shape[-2:])
                flows = torch.stack([self._flow(frame, grid) for frame in group])
            with times.stage("warp"):
                reference = warp(self.keyframe_feature.expand(len(group), -1, -1, -1), flows, "bilinear",
                                 exact=False)
            if self.warp_only:
                to_classify.append((arseg.hr_model, reference))
            else:
                with times.stage("lr_net"):
                    lr_input = x if tuple(x.shape[-2:]) != self.frame_size else downsample_frame(x, arseg.lr_scale)
                    lr_feature = arseg.lr_model.forward_phase1(lr_input)
                with times.stage("creff"):
                    to_classify.append((arseg.lr_model, arseg.lr_model.fuse(lr_feature, reference)))
        align_corners = arseg.hr_model.upsample_align_corners
        if any(model.upsample_align_corners != align_corners for model, _ in to_classify):
            raise ValueError("the HR and LR networks upsample their logits differently (align_corners); "
                             "the player needs one convention")
        with times.stage("classify"):
            if len(to_classify) == 2 and self._one_classifier:    # a GOP batch: one call for all
                return arseg.hr_model.classifier(torch.cat([f for _, f in to_classify])), align_corners
            logits = [model.classifier(feature) for model, feature in to_classify]
            return (torch.cat(logits) if len(logits) > 1 else logits[0]), align_corners
