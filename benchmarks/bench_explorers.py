"""Benchmark: how long each notebook explorer takes to answer a change of a control (goal <= 150 ms).

Run from the repository root: ``.venv/bin/python -m benchmarks.bench_explorers [--repeats 3]``.
It builds each explorer on the laptop profile's data as its notebook does, then times what one
change of a control costs in its ipywidgets face: the live view's update (state put into the figure
in place, changed artists redrawn on the cached background) and the PNG the browser receives. Each
row moves one control over a few values; "first" is the worst first visit of a value (encodes,
cost counts and backgrounds not cached yet: the face shows a busy sign then), "median" and "worst"
are over the later passes. Rows marked "(fresh)" time the static figure (a new figure drawn to PNG),
what every face but 06's did before. Explorers: 00 clip player, 01 GOP explorer, 02 frame scrubber,
03 LR scale, 04 attention, 06 trade-off (``benchmarks/bench_explorer.py`` details it). Nothing is
asserted; the network runs on one torch thread. ``--compare-threads 1,2`` times every row at
each thread count instead, interleaved, to choose the count ``make lab`` gives its kernel.
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
from arseg_tutorial.widgets.attention_view import AttentionLiveView  # noqa: E402
from arseg_tutorial.widgets.codec import (SCRUBBER_OVERLAYS, FrameScrubberView, GopExplorerView,  # noqa: E402
                                          frame_scrubber_update, gop_explorer_update)
from arseg_tutorial.widgets.resolution import ResolutionExplorer, ResolutionLiveView  # noqa: E402
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
    """Row name -> the control changes to time (each a zero-argument callable -> ms)."""
    clip = generate_clip(seed=0, length=profile.gop_length, height=profile.height, width=profile.width)
    long_clip = generate_clip(seed=1, length=2 * profile.gop_length, height=profile.height, width=profile.width)
    video = read_video(encode_to_bytes(clip.frames, gop=profile.gop_length))
    resolution = ResolutionExplorer(clip.frames[0], clip.labels[0])
    attention = AttentionExplorer(load_demo_arseg(profile),
                                  make_encoded_pair(3, profile.height, profile.width, profile.gop_length))
    h, w = profile.height, profile.width
    clip_view, gop_view, scrubber = ClipPlayerView(clip), GopExplorerView(long_clip.frames), FrameScrubberView(video, clip)
    lr_view, attention_view = ResolutionLiveView(resolution), AttentionLiveView(attention, h // 2, w // 2)
    tradeoff = TradeoffLiveView(TradeoffExplorer(assets.read_json(assets.SWEEP_NAME), example_predictions()))
    png = lambda view, **state: lambda: _ms(lambda: view.render_png(**state))  # noqa: E731
    fresh = lambda draw: lambda: figure_ms(draw)  # noqa: E731
    return {
        "00 clip player: frame t": [png(clip_view, t=t) for t in (1, 5, 11)],
        "00 clip player (fresh)": [fresh(lambda t=t: clip_player_update(clip, t)) for t in (1, 5, 11)],
        "01 GOP: GOP length": [png(gop_view, gop_length=g, bframes=0) for g in (6, 9, 12)],
        "01 GOP: B-frames": [png(gop_view, gop_length=12, bframes=b) for b in (1, 2, 3)],
        "01 GOP (fresh)": [fresh(lambda g=g, b=b: gop_explorer_update(long_clip.frames, g, b))
                           for g, b in ((6, 0), (12, 2), (4, 1))],
        "02 scrubber: frame t": [png(scrubber, t=t, overlay=SCRUBBER_OVERLAYS[0]) for t in (3, 7, 11)],
        "02 scrubber: overlay": [png(scrubber, t=11, overlay=o) for o in SCRUBBER_OVERLAYS],
        "02 scrubber (fresh)": [fresh(lambda t=t: frame_scrubber_update(video, clip, t)) for t in (3, 7, 11)],
        "03 LR scale s": [png(lr_view, lr_scale=s) for s in (0.3, 0.5, 0.7, 1.0)],
        "03 LR scale (fresh)": [fresh(lambda s=s: resolution.figure(s)) for s in (0.3, 0.5, 0.7)],
        "04 attention: pixel": [png(attention_view, pixel_y=y, pixel_x=x) for y, x in ((h // 2, w // 2), (h // 3, w // 4),
                                                                                      (h // 4, w // 2))],
        "04 attention: kernel": [png(attention_view, pixel_y=h // 2, pixel_x=w // 2, kernel=k) for k in (3, 5, 7, 9)],
        "04 attention: aligned": [png(attention_view, pixel_y=h // 2, pixel_x=w // 2, aligned=a) for a in (False, True)],
        "04 attention (fresh)": [fresh(lambda y=y, x=x, k=k: attention.figure(y, x, k))
                                 for y, x, k in ((h // 2, w // 2, 3), (h // 3, w // 4, 5), (h // 4, w // 2, 7))],
        "06 trade-off: s and L": [png(tradeoff, lr_scale=s, gop_length=g) for s, g in ((0.5, 12), (0.25, 6), (0.75, 3))],
    }


def _ms(run) -> float:
    start = time.perf_counter()
    run()
    return 1000.0 * (time.perf_counter() - start)


def compare_threads(cases: dict[str, list], counts: list[int], repeats: int) -> None:
    """Median ms of each row at each torch thread count, the counts interleaved change by change
    (A B A B: a busy machine slows them alike), and the count fastest for most rows."""
    times = {count: {name: [] for name in cases} for count in counts}
    for _ in range(repeats):
        for name, changes in cases.items():
            for change in changes:
                for count in counts:
                    torch.set_num_threads(count)
                    times[count][name].append(change())
    print(f"{'explorer: control':<26}" + "".join(f"{f'{c} thread(s)':>13}" for c in counts))
    wins = dict.fromkeys(counts, 0)
    for name in cases:
        medians = {count: statistics.median(times[count][name]) for count in counts}
        wins[min(medians, key=medians.get)] += 1
        print(f"{name:<26}" + "".join(f"{medians[c]:>13.0f}" for c in counts))
    total = {count: sum(statistics.median(t) for t in times[count].values()) for count in counts}
    print("fastest on " + ", ".join(f"{wins[c]} rows with {c} thread(s) (sum of medians {total[c]:.0f} ms)"
                                    for c in counts) + f"; load average {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="passes over the control values")
    parser.add_argument("--compare-threads", help="comma-separated torch thread counts to compare, "
                        "interleaved (e.g. 1,2): which one should `make lab`'s kernel use")
    args = parser.parse_args()
    torch.set_num_threads(1)
    profile = get_profile("laptop")
    cases = explorers(profile)
    if args.compare_threads:
        for changes in cases.values():                      # caches fill
            for change in changes:
                change()
        compare_threads(cases, [int(c) for c in args.compare_threads.split(",")], args.repeats)
        return
    first = {name: max(change() for change in changes) for name, changes in cases.items()}  # caches fill
    print(f"{'explorer: control':<26}{'first ms':>9}{'median ms':>10}{'worst ms':>9}   goal <= {GOAL_MS:.0f} ms "
          f"(laptop profile {profile.height}x{profile.width}, load {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs)")
    for name, changes in cases.items():
        times = [change() for _ in range(args.repeats) for change in changes]
        median = statistics.median(times)
        print(f"{name:<26}{first[name]:>9.0f}{median:>10.0f}{max(times):>9.0f}   "
              f"{'meets' if median <= GOAL_MS else 'misses'} ({median / GOAL_MS:.1f}x the goal)")
    print(f"load average after the run: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
