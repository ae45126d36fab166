"""Time the street-scene generator: a 12-frame 360x480 clip (goal <= 1 s), plus the profile sizes.

Run: ``.venv/bin/python benchmarks/bench_scenes.py [--repeats N]``. For each size it prints the best
and median wall-clock time of N clips (different seeds, after one warm-up) and the best CPU time of
this process (``time.process_time``), which is less disturbed by other programs sharing the CPU.
Nothing here is asserted; the unit tests check correctness, not speed.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

from arseg_tutorial.scenes import generate_clip

SIZES = ((12, 360, 480), (12, 120, 160), (12, 180, 240), (12, 720, 960))
GOAL_S = 1.0


def time_clip(length: int, height: int, width: int, repeats: int) -> tuple[list[float], list[float]]:
    """(wall seconds, CPU seconds) of ``repeats`` generations with different seeds, after a warm-up."""
    generate_clip(0, length, height, width)
    wall, cpu = [], []
    for seed in range(1, repeats + 1):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        generate_clip(seed, length, height, width)
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="clips timed per size (default 5)")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} CPUs, load average {load:.1f} (timings grow when other programs run)")
    print(f"{'clip (T x H x W)':<20}{'best s':>9}{'median s':>10}{'best CPU s':>12}{'ms/frame':>10}")
    for length, height, width in SIZES:
        wall, cpu = time_clip(length, height, width, args.repeats if height <= 360 else 2)
        best = min(wall)
        print(f"{f'{length} x {height} x {width}':<20}{best:>9.3f}{statistics.median(wall):>10.3f}"
              f"{min(cpu):>12.3f}{1000 * best / length:>10.1f}")
        if (length, height, width) == SIZES[0]:
            print(f"{'':<20}goal <= {GOAL_S:.1f} s: best wall time is {best / GOAL_S:.2f} x the goal")


if __name__ == "__main__":
    main()
