"""Per-frame HR against AR-Seg, decode to label map, in lock step: ``bench-player``.

Introduced in notebook 07 (``python -m arseg_tutorial bench-player VIDEO`` runs it). Both players
(``arseg_tutorial.player``) advance one frame at a time, alternating which goes first, so that a
busy machine slows both alike; a pass plays the whole video (or its first ``max_frames``), the
first GOP is played once untimed (warm-up), and the numbers are medians over the passes.
"""
from __future__ import annotations

import os
import statistics
from pathlib import Path

import torch
from torch import nn

from arseg_tutorial.player import STAGES, ARSegPlayer, HRPlayer


def play_pass(video: str | Path, hr_model: nn.Module, arseg: nn.Module,
              max_frames: int | None = None, batch_gop: bool = False) -> tuple[HRPlayer, ARSegPlayer]:
    """Play ``video`` once through both players in lock step; returns them (with their times)."""
    hr, ar = HRPlayer(video, hr_model, batch_gop), ARSegPlayer(video, arseg, batch_gop=batch_gop)
    t = 0
    with torch.inference_mode():
        while max_frames is None or t < max_frames:
            order = (hr, ar) if t % 2 == 0 else (ar, hr)
            if any(player.step() is None for player in order):
                break
            t += 1
    return hr, ar


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
        the same by this process's CPU time (``hr_cpu_ms_per_frame``, ``arseg_cpu_ms_per_frame``,
        ``cpu_speedup``: steadier on a shared machine),
        ``stages`` (player -> stage -> median ms per frame), ``frames``, ``passes``,
        ``threads``, ``load_average``.
    """
    if passes < 1:
        raise ValueError(f"passes must be >= 1, got {passes}")
    play_pass(video, hr_model, arseg, warmup_frames, batch_gop)
    load_before = os.getloadavg()[0]
    runs = [play_pass(video, hr_model, arseg, max_frames, batch_gop) for _ in range(passes)]
    per_pass = {"hr": [r[0].times for r in runs], "arseg": [r[1].times for r in runs]}
    ms = {name: [t.total_ms() / t.frames for t in times] for name, times in per_pass.items()}
    cpu = {name: [t.total_ms(cpu=True) / t.frames for t in times] for name, times in per_pass.items()}
    return {
        "hr_ms_per_frame": statistics.median(ms["hr"]),
        "arseg_ms_per_frame": statistics.median(ms["arseg"]),
        "speedup": statistics.median(h / a for h, a in zip(ms["hr"], ms["arseg"])),
        "hr_cpu_ms_per_frame": statistics.median(cpu["hr"]),
        "arseg_cpu_ms_per_frame": statistics.median(cpu["arseg"]),
        "cpu_speedup": statistics.median(h / a for h, a in zip(cpu["hr"], cpu["arseg"])),
        "stages": {name: {stage: statistics.median(t.per_frame()[stage] for t in times)
                          for stage in STAGES} for name, times in per_pass.items()},
        "frames": runs[0][0].times.frames, "passes": passes, "batch_gop": batch_gop, "threads": torch.get_num_threads(),
        "load_average": [load_before, os.getloadavg()[0]],
    }


def format_table(result: dict) -> str:
    """The ``bench_player`` result as a text table: stages by player, totals, speed-up."""
    lines = [f"{'stage (ms/frame)':<18}{'HR':>10}{'AR-Seg':>10}"]
    for stage in STAGES:
        hr, ar = result["stages"]["hr"][stage], result["stages"]["arseg"][stage]
        if hr or ar:
            lines.append(f"{stage:<18}{hr:>10.2f}{ar:>10.2f}")
    lines.append(f"{'total':<18}{result['hr_ms_per_frame']:>10.2f}{result['arseg_ms_per_frame']:>10.2f}")
    lines.append(f"{'total, CPU time':<18}{result['hr_cpu_ms_per_frame']:>10.2f}"
                 f"{result['arseg_cpu_ms_per_frame']:>10.2f}   (speed-up {result['cpu_speedup']:.2f}x)")
    mode = "a GOP per batch" if result["batch_gop"] else "frame by frame"
    lines.append(f"speed-up {result['speedup']:.2f}x ({mode}, {result['frames']} frames, median of "
                 f"{result['passes']} passes, {result['threads']} torch threads, load average "
                 f"{result['load_average'][0]:.1f} -> {result['load_average'][1]:.1f} on "
                 f"{os.cpu_count()} CPUs)")
    return "\n".join(lines)
