"""Benchmark: how long each notebook explorer takes to answer a change of a control (goal <= 150 ms).

Run from the repository root: ``.venv/bin/python -m benchmarks.bench_explorers [--repeats 3]``.
It builds each explorer on the laptop profile's data as its notebook does, then times what one
change of a control costs in the ipywidgets face: the update (state and figure) and the figure
drawn to PNG (what ``display`` sends to the browser), median over the control values tried.
Explorers: 00 clip player (frame t; the live view its face uses, and a fresh figure), 01 GOP explorer (GOP length, B-frames), 02 frame scrubber
(frame t), 03 LR scale, 04 attention (pixel, kernel), 06 trade-off (scale x GOP length, the live
view; ``benchmarks/bench_explorer.py`` details it). Nothing is asserted; the network runs on one
torch thread.
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import time

import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from arseg_tutorial import assets  # noqa: E402
from arseg_tutorial.codec import encode_to_bytes, read_video  # noqa: E402
from arseg_tutorial.config import get_profile  # noqa: E402
from arseg_tutorial.scenes import generate_clip  # noqa: E402
from arseg_tutorial.widgets import ClipPlayerView, clip_player_update  # noqa: E402
from arseg_tutorial.widgets.attention import AttentionExplorer, load_demo_arseg, make_encoded_pair  # noqa: E402
from arseg_tutorial.widgets.codec import frame_scrubber_update, gop_explorer_update  # noqa: E402
from arseg_tutorial.widgets.resolution import ResolutionExplorer  # noqa: E402
from arseg_tutorial.widgets.tradeoff import TradeoffExplorer, example_predictions  # noqa: E402
from arseg_tutorial.widgets.tradeoff_view import TradeoffLiveView  # noqa: E402

GOAL_MS = 150.0


def figure_ms(make_figure) -> float:
    """ms to build a figure and draw it to PNG (then close it)."""
    start = time.perf_counter()
    fig = make_figure()
    fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)
    return 1000.0 * (time.perf_counter() - start)


def explorers(profile) -> dict[str, list]:
    """Explorer name -> the control changes to time (each a zero-argument callable -> ms)."""
    clip = generate_clip(seed=0, length=profile.gop_length, height=profile.height, width=profile.width)
    video = read_video(encode_to_bytes(clip.frames, gop=profile.gop_length))
    resolution = ResolutionExplorer(clip.frames[0], clip.labels[0])
    attention = AttentionExplorer(load_demo_arseg(profile),
                                  make_encoded_pair(3, profile.height, profile.width, profile.gop_length))
    clip_view = ClipPlayerView(clip)
    view = TradeoffLiveView(TradeoffExplorer(assets.read_json(assets.SWEEP_NAME), example_predictions()))
    h, w = profile.height, profile.width
    return {
        "00 clip player (live view)": [lambda t=t: _ms(lambda: clip_view.render_png(t)) for t in (1, 5, 11)],
        "00 clip player (fresh)": [lambda t=t: figure_ms(lambda: clip_player_update(clip, t)) for t in (1, 5, 11)],
        "01 GOP explorer": [lambda g=g, b=b: figure_ms(lambda: gop_explorer_update(clip.frames, g, b))
                            for g, b in ((6, 0), (12, 2), (4, 1))],
        "02 frame scrubber": [lambda t=t: figure_ms(lambda: frame_scrubber_update(video, clip, t)) for t in (3, 7, 11)],
        "03 LR scale": [lambda s=s: figure_ms(lambda: resolution.figure(s)) for s in (0.3, 0.5, 0.7)],
        "04 attention": [lambda y=y, x=x, k=k: figure_ms(lambda: attention.figure(y, x, k))
                         for y, x, k in ((h // 2, w // 2, 3), (h // 3, w // 4, 5), (h // 4, w // 2, 7))],
        "06 trade-off (live view)": [lambda s=s, g=g: _ms(lambda: view.render_png(s, g))
                                     for s, g in ((0.5, 12), (0.25, 6), (0.75, 3))],
    }


def _ms(run) -> float:
    start = time.perf_counter()
    run()
    return 1000.0 * (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="passes over the control values")
    args = parser.parse_args()
    torch.set_num_threads(1)
    profile = get_profile("laptop")
    cases = explorers(profile)
    for changes in cases.values():  # warm-up: first drawing, caches
        changes[0]()
    print(f"{'explorer':<26}{'median ms':>10}{'worst ms':>10}   goal <= {GOAL_MS:.0f} ms "
          f"(laptop profile {profile.height}x{profile.width}, load {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs)")
    for name, changes in cases.items():
        times = [change() for _ in range(args.repeats) for change in changes]
        median = statistics.median(times)
        print(f"{name:<26}{median:>10.0f}{max(times):>10.0f}   "
              f"{'meets' if median <= GOAL_MS else 'misses'} ({median / GOAL_MS:.1f}x the goal)")


if __name__ == "__main__":
    main()
