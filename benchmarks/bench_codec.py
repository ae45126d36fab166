"""Decode speed: plain decode to RGB vs decode + motion-vector export + dense flow.

Prints frames per second of each and their ratio (goal >= 0.6). Not a test: run it by hand,
    python benchmarks/bench_codec.py [--frames 300] [--height 360] [--width 640] [--repeats 3]
The clip is a texture scrolling by (2, 1) px per frame with a few moving squares, encoded with
the default settings (GOP 12, P-frames only, crf 18).
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from arseg_tutorial.codec import encode_to_bytes, iter_video, motion_vectors_to_flow


def scrolling_clip(length: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """(T, H, W, 3) uint8: a soft random texture scrolling by (2, 1) px/frame, plus squares."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, ((height + length) // 4 + 4, (width + 2 * length) // 4 + 4, 3))
    texture = np.repeat(np.repeat(coarse.astype(np.float32), 4, axis=0), 4, axis=1)
    for axis in (0, 1):  # box blur over 4 px along each axis: soft blobs, like real surfaces
        texture = sum(np.roll(texture, shift, axis=axis) for shift in range(4)) / 4
    texture = texture.astype(np.uint8)
    frames = np.stack([texture[t: t + height, 2 * t: 2 * t + width] for t in range(length)])
    for k in range(4):
        y0, x0 = rng.integers(0, height - 40), rng.integers(0, width - 40)
        for t in range(length):
            y, x = (y0 + 3 * t * (k % 2)) % (height - 40), (x0 + 4 * t) % (width - 40)
            frames[t, y: y + 32, x: x + 32] = (60 * k, 255 - 60 * k, 128)
    return frames


def time_decode(data: bytes, with_vectors: bool, with_flow: bool) -> tuple[float, float]:
    """(wall, CPU) seconds to decode every frame to RGB (+ export vectors, + dense flow)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for frame in iter_video(data, motion_vectors=with_vectors):
        if with_flow:
            height, width = frame.image.shape[:2]
            motion_vectors_to_flow(frame.motion_vectors, height, width)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    frames = scrolling_clip(args.frames, args.height, args.width)
    start = time.perf_counter()
    data = encode_to_bytes(frames, gop=12)
    encode_s = time.perf_counter() - start
    print(f"clip: {args.frames} frames {args.width}x{args.height}, {len(data) / 1e6:.2f} MB, "
          f"encoded at {args.frames / encode_s:.0f} fps")
    modes = {"plain decode to RGB": (False, False), "decode + MV export": (True, False),
             "decode + MV export + dense flow": (True, True)}
    best = {name: [float("inf"), float("inf")] for name in modes}
    for _ in range(args.repeats):  # interleaved, best of N: robust to a shared, busy CPU
        for name, (vectors, flow) in modes.items():
            best[name] = [min(a, b) for a, b in zip(best[name], time_decode(data, vectors, flow))]
    print(f"{'':<34}  {'wall fps':>9}  {'CPU fps':>9}   (CPU time counts this process only)")
    for name, (wall_s, cpu_s) in best.items():
        print(f"{name:<34}: {args.frames / wall_s:9.0f}  {args.frames / cpu_s:9.0f}")
    plain, full = best["plain decode to RGB"], best["decode + MV export + dense flow"]
    print(f"{'ratio flow / plain (goal >= 0.6)':<34}: {plain[0] / full[0]:9.2f}  {plain[1] / full[1]:9.2f}")
    print(f"load average (1 min) {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

if __name__ == "__main__":
    main()
