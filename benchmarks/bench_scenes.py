"""Time the street-scene generator: a 12-frame 360x480 clip (goal <= 1 s), plus the profile sizes.

Run: ``.venv/bin/python benchmarks/bench_scenes.py [--repeats N]``. Prints the best and median
time of N runs per size (best-of-N is robust to other processes sharing the CPU), and the
time per frame. Nothing here is asserted; the unit tests check correctness, not speed.
"""
from __future__ import annotations

import argparse
import statistics
import time

from arseg_tutorial.scenes import generate_clip

SIZES = ((12, 360, 480), (12, 120, 160), (12, 180, 240), (12, 720, 960))
GOAL_S = 1.0


def time_clip(length: int, height: int, width: int, repeats: int) -> list[float]:
    """Wall-clock seconds of ``repeats`` generations with different seeds (after one warm-up)."""
    generate_clip(0, length, height, width)
    seconds = []
    for seed in range(1, repeats + 1):
        start = time.perf_counter()
        generate_clip(seed, length, height, width)
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="clips timed per size (default 5)")
    args = parser.parse_args()
    print(f"{'clip (T x H x W)':<20}{'best s':>9}{'median s':>10}{'ms/frame':>10}")
    for length, height, width in SIZES:
        seconds = time_clip(length, height, width, args.repeats if height <= 360 else 2)
        best, median = min(seconds), statistics.median(seconds)
        print(f"{f'{length} x {height} x {width}':<20}{best:>9.3f}{median:>10.3f}{1000 * best / length:>10.1f}")
        if (length, height, width) == SIZES[0]:
            print(f"{'':<20}goal <= {GOAL_S:.1f} s: best is {best / GOAL_S:.2f} x the goal")


if __name__ == "__main__":
    main()
