"""Per-frame HR against AR-Seg, decode to label map, in lock step: ``bench-player``.

Introduced in notebook 07 (``python -m arseg_tutorial bench-player VIDEO`` runs it). Both players
(``arseg_tutorial.player``) advance one frame at a time, alternating which goes first, so that a
busy machine slows both alike; a pass plays the whole video (or its first ``max_frames``), the
first GOP is played once untimed (warm-up), and the numbers are medians over the passes, with
the spread of the speed-up over them and its bound: the speed-up AR-Seg's networks alone would
allow (the flow, the warp and CReFF taking no time). AR-Seg's P-frames leave the decoder at the
LR size (``ARSegPlayer(..., lr_decode=True)``); both players' label maps are upsampled sparsely
(``models.label_upsample``).
"""
from __future__ import annotations

import errno
import os
import statistics
from pathlib import Path

import av
import torch
from torch import nn

from arseg_tutorial import assets
from arseg_tutorial.codec.decode import damaged_frames, iter_video
from arseg_tutorial.codec.errors import CorruptVideoError, NotAVideoError, VideoNotFoundError
from arseg_tutorial.config import get_profile
from arseg_tutorial.models import build_model
from arseg_tutorial.player import STAGES, ARSegPlayer, HRPlayer, StageTimes, inference_networks
from arseg_tutorial.scenes import NUM_CLASSES

FREE_IN_BOUND = ("flow", "warp", "creff")
"""AR-Seg's stages that the bound counts as free: what it adds to its networks."""


def player_networks(profile_name: str, random_weights: bool, lr_scale: float = 0.5) -> tuple[nn.Module, nn.Module]:
    """(HR network, ARSeg) for the players (``player.inference_networks``): the shipped
    checkpoints, or random weights shaped by a profile (width, output stride, CReFF window,
    11 classes; timing does not depend on the weights).

    Introduced in notebook 07 (the paper-size timing).
    """
    if random_weights:
        profile = get_profile(profile_name)
        hr, lr = (build_model("bisenet18", NUM_CLASSES, width=profile.net_width,
                              output_stride=profile.output_stride) for _ in range(2))
        lr.add_creff(profile.creff_kernel)
    else:
        hr, lr = assets.load_method("arseg", lr_scale)
    return inference_networks(hr.eval(), lr.eval(), lr_scale)


def play_pass(video: str | Path, hr_model: nn.Module, arseg: nn.Module,
              max_frames: int | None = None, batch_gop: bool = False) -> tuple[HRPlayer, ARSegPlayer]:
    """Play ``video`` once through both players in lock step; returns them (with their times)."""
    hr, ar = HRPlayer(video, hr_model, batch_gop), ARSegPlayer(video, arseg, batch_gop=batch_gop, lr_decode=True)
    t = 0
    with torch.inference_mode():
        while max_frames is None or t < max_frames:
            order = (hr, ar) if t % 2 == 0 else (ar, hr)
            if any(player.step() is None for player in order):
                break
            t += 1
    hr.check_damage()
    return hr, ar


def _frames(video: str | Path, max_frames: int | None):
    """The first ``max_frames`` frames of ``video`` without pixels (with motion vectors)."""
    for count, frame in enumerate(iter_video(video, motion_vectors=True, rgb=False), 1):
        yield frame
        if max_frames is not None and count >= max_frames:
            return


def _check_path(path: Path) -> None:
    """Name a path that is no video file for what it is (the decoder would say "does not exist"
    or "invalid data")."""
    if path.is_symlink() and not path.exists():
        try:
            path.stat()
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise VideoNotFoundError(f"{path} is a symbolic link that loops back on itself, "
                                         f"not a video file; pass the video file itself") from None
        raise VideoNotFoundError(f"{path} is a symbolic link to {os.readlink(path)!r}, which does "
                                 f"not exist; pass the video file itself")
    if path.exists() and not path.is_dir() and not path.is_file():
        raise VideoNotFoundError(f"{path} is not a regular file (a pipe, socket or device), so it "
                                 f"cannot be read as a video; pass a video file")
    if path.is_file() and path.stat().st_size == 0:
        raise NotAVideoError(f"{path} is empty (0 bytes), so it holds no video; re-create or "
                             f"re-copy the file")


def check_playable(video: str | Path, max_frames: int | None = None) -> tuple[int, ...]:
    """Decode ``video`` once without pixels and refuse what the players cannot time honestly.

    Returns:
        The damaged frames (``Video.damaged_frames``) among the first ``max_frames``.
    Raises:
        The errors of ``iter_video`` (missing file, not a video, no H.264, truncated, ...);
        CorruptVideoError: no frame, or every frame was decoded from damaged data (concealment);
        ValueError: a B-frame (the players follow I- and P-frames only).
    """
    _check_path(Path(video))
    corrupt, types = [], ""
    try:
        for frame in _frames(video, max_frames):
            if frame.frame_type == "B":
                raise ValueError(f"{video} has B-frames (frame {frame.index} is one): the players "
                                 f"follow I- and P-frames only; re-encode it with arseg_tutorial."
                                 f"codec.encode_video(frames, path, gop=12, bframes=0)")
            corrupt.append(frame.corrupt)
            types += frame.frame_type
    except NotAVideoError as error:
        if isinstance(error.__cause__, av.error.EOFError):
            raise NotAVideoError(f"{video} holds no video frames: FFmpeg reached its end right "
                                 f"after the header, so it is a video with 0 frames or one cut "
                                 f"short after its header; re-create or re-copy the file") from error
        raise
    if not types:
        raise CorruptVideoError(f"{video} holds no video frame to play; pass a video with frames",
                                frames_decoded=0, frames_expected=None)
    if all(corrupt):
        raise CorruptVideoError(
            f"every frame of {video} ({len(types)}) was decoded from damaged data (FFmpeg concealed "
            f"the errors: the file is truncated or damaged), so there is nothing real to time; "
            f"re-encode or re-download it", frames_decoded=0, frames_expected=len(types))
    return damaged_frames(corrupt, types)


def bench_player(video: str | Path, hr_model: nn.Module, arseg: nn.Module, passes: int = 3,
                 max_frames: int | None = None, warmup_frames: int = 12,
                 batch_gop: bool = False) -> dict:
    """Median ms per frame of each player, their ratio and the per-stage breakdown.

    Args:
        video: an H.264 video, P-frames only.
        hr_model: the HR network (eval mode); arseg: an ``ARSeg`` (eval mode).
        passes: timed passes (medians over them).
        max_frames: play only the first frames of the video.
        warmup_frames: frames played once, untimed, first.
        batch_gop: both players run a GOP's frames as one batch (latency: one GOP).
    Returns:
        ``hr_ms_per_frame``, ``arseg_ms_per_frame``, ``speedup`` (median of the per-pass ratios),
        ``speedup_passes`` (each pass's), ``bound`` (median over the passes of HR's time over
        AR-Seg's without ``FREE_IN_BOUND``), ``noise_floor`` (the per-pass ratios of the two
        players' I-frame HR network time per I-frame: the same work, so its spread around 1 is
        the timing's noise),
        the same by this process's CPU time (``hr_cpu_ms_per_frame``, ``arseg_cpu_ms_per_frame``,
        ``cpu_speedup``: steadier on a shared machine),
        ``stages`` (player -> stage -> median ms per frame), ``stages_cpu`` (the same in CPU
        time), ``frames``, ``passes``, ``threads``, ``load_average``, ``damaged_frames`` (frames
        decoded from damaged data, also reported by a warning).
    Raises:
        The errors of ``check_playable`` (checked before anything is played).
    """
    if passes < 1:
        raise ValueError(f"passes must be >= 1, got {passes}")
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1 (or None for the whole video), got {max_frames}")
    damaged = check_playable(video, max_frames)
    play_pass(video, hr_model, arseg, warmup_frames, batch_gop)
    load_before = os.getloadavg()[0]
    runs = [play_pass(video, hr_model, arseg, max_frames, batch_gop) for _ in range(passes)]
    per_pass = {"hr": [r[0].times for r in runs], "arseg": [r[1].times for r in runs]}
    ms = {name: [t.total_ms() / t.frames for t in times] for name, times in per_pass.items()}
    cpu = {name: [t.total_ms(cpu=True) / t.frames for t in times] for name, times in per_pass.items()}
    speedups = [h / a for h, a in zip(ms["hr"], ms["arseg"])]
    bounds = [h / _networks_only_ms(a) for h, a in zip(ms["hr"], per_pass["arseg"])]
    return {
        "hr_ms_per_frame": statistics.median(ms["hr"]),
        "arseg_ms_per_frame": statistics.median(ms["arseg"]),
        "speedup": statistics.median(speedups),
        "speedup_passes": speedups,
        "bound": statistics.median(bounds),
        "noise_floor": [_keyframe_ms(a) / _keyframe_ms(h, every_frame=True) for h, a in zip(*per_pass.values())],
        "hr_cpu_ms_per_frame": statistics.median(cpu["hr"]),
        "arseg_cpu_ms_per_frame": statistics.median(cpu["arseg"]),
        "cpu_speedup": statistics.median(h / a for h, a in zip(cpu["hr"], cpu["arseg"])),
        "stages": {name: {stage: statistics.median(t.per_frame()[stage] for t in times)
                          for stage in STAGES} for name, times in per_pass.items()},
        "stages_cpu": {name: {stage: statistics.median(t.cpu_ms[stage] / t.frames for t in times)
                              for stage in STAGES} for name, times in per_pass.items()},
        "frames": runs[0][0].times.frames, "passes": passes, "batch_gop": batch_gop, "threads": torch.get_num_threads(),
        "load_average": [load_before, os.getloadavg()[0]], "damaged_frames": list(damaged),
    }


def _networks_only_ms(times: StageTimes) -> float:
    """AR-Seg's ms per frame without the stages the bound counts as free."""
    return (times.total_ms() - sum(times.ms[stage] for stage in FREE_IN_BOUND)) / times.frames


def _keyframe_ms(times: StageTimes, every_frame: bool = False) -> float:
    """The HR network's ms per I-frame: AR-Seg's ``hr_net`` runs on I-frames only; HR's on every
    frame (``every_frame``), of which the same share are I-frames."""
    return times.ms["hr_net"] / (times.frames if every_frame else max(times.keyframes, 1))


def format_table(result: dict) -> str:
    """The ``bench_player`` result as a text table: stages by player, totals, speed-up."""
    lines = [f"{'stage (ms/frame)':<18}{'HR':>10}{'AR-Seg':>10}{'HR CPU':>10}{'AR-Seg CPU':>12}"]
    for stage in STAGES:
        hr, ar = result["stages"]["hr"][stage], result["stages"]["arseg"][stage]
        if hr or ar:
            cpu = result["stages_cpu"]
            lines.append(f"{stage:<18}{hr:>10.2f}{ar:>10.2f}{cpu['hr'][stage]:>10.2f}{cpu['arseg'][stage]:>12.2f}")
    lines.append(f"{'total':<18}{result['hr_ms_per_frame']:>10.2f}{result['arseg_ms_per_frame']:>10.2f}")
    lines.append(f"{'total, CPU time':<18}{result['hr_cpu_ms_per_frame']:>10.2f}"
                 f"{result['arseg_cpu_ms_per_frame']:>10.2f}   (speed-up {result['cpu_speedup']:.2f}x)")
    mode = "a GOP per batch" if result["batch_gop"] else "frame by frame"
    passes = result["speedup_passes"]
    floor = result["noise_floor"]
    lines.append(f"speed-up per pass {min(passes):.2f}x to {max(passes):.2f}x; bound (flow, warp, CReFF "
                 f"free) {result['bound']:.2f}x; noise floor (the same HR network on I-frames, AR-Seg's "
                 f"over HR's ms) {min(floor):.2f} to {max(floor):.2f}")
    lines.append(f"speed-up {result['speedup']:.2f}x ({mode}, {result['frames']} frames, median of "
                 f"{result['passes']} passes, {result['threads']} torch threads, load average "
                 f"{result['load_average'][0]:.1f} -> {result['load_average'][1]:.1f} on "
                 f"{os.cpu_count()} CPUs)")
    if result.get("damaged_frames"):
        lines.append(f"frames {', '.join(map(str, result['damaged_frames']))} were decoded from "
                     f"damaged data: their times are not those of an intact video")
    return "\n".join(lines)
