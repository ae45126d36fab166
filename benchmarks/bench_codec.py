"""Decode speed: plain decode to RGB vs decode + motion-vector export (+ dense flow, + the
player's grid chain), and motion-vector-extractor side by side when it is installed.

Prints frames per second of each (medians of interleaved repeats), the ratio flow / plain (goal
>= 0.6) and frames + vectors against motion-vector-extractor (goal >= 0.8). Not a test: run it,
    python benchmarks/bench_codec.py [--frames 300] [--height 360] [--width 640] [--repeats 5]
The clip is a texture scrolling by (2, 1) px per frame with a few moving squares, encoded with
the default settings (GOP 12, P-frames only, crf 18). motion-vector-extractor is not a project
dependency: ``pip install motion-vector-extractor`` into the environment to compare (it reads a
file, so the clip is written to a temporary one for both readers).
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from arseg_tutorial.codec import encode_to_bytes, iter_video, motion_vectors_to_flow
from arseg_tutorial.codec.grid_chain import GridChain


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


def time_decode(source: Path, with_vectors: bool, with_flow: str) -> tuple[float, float]:
    """(wall, CPU) seconds to decode every frame to RGB (+ export vectors, + "dense" flow or the
    player's "grid" chain at 1/8 resolution)."""
    wall, cpu = time.perf_counter(), time.process_time()
    chain = None
    for frame in iter_video(source, motion_vectors=with_vectors):
        height, width = frame.image.shape[:2]
        if with_flow == "dense":
            motion_vectors_to_flow(frame.motion_vectors, height, width)
        elif with_flow == "grid":
            chain = chain or GridChain(height, width, -(-height // 8), -(-width // 8))
            chain.step(frame.frame_type, frame.motion_vectors)
    return time.perf_counter() - wall, time.process_time() - cpu


def time_mvextractor(source: Path) -> tuple[float, float]:
    """(wall, CPU) seconds for motion-vector-extractor to read every frame (BGR) and its vectors."""
    from mvextractor.videocap import VideoCap

    wall, cpu = time.perf_counter(), time.process_time()
    cap = VideoCap()
    if not cap.open(str(source)):
        raise RuntimeError(f"motion-vector-extractor cannot open {source}")
    while cap.read()[0]:
        pass
    cap.release()
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
    modes = {"plain decode to RGB": lambda p: time_decode(p, False, ""),
             "decode + MV export": lambda p: time_decode(p, True, ""),
             "decode + MV export + dense flow": lambda p: time_decode(p, True, "dense"),
             "decode + MV export + grid chain": lambda p: time_decode(p, True, "grid")}
    try:
        import mvextractor  # noqa: F401
        modes["motion-vector-extractor"] = time_mvextractor
    except ImportError:
        print("motion-vector-extractor is not installed: `pip install motion-vector-extractor` to compare")
    times = {name: [] for name in modes}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.mp4"
        path.write_bytes(data)
        for _ in range(args.repeats):  # interleaved, medians: a shared, busy CPU slows all alike
            for name, run in modes.items():
                times[name].append(run(path))
    median = {name: [statistics.median(t[i] for t in runs) for i in (0, 1)] for name, runs in times.items()}
    print(f"{'':<34}  {'wall fps':>9}  {'CPU fps':>9}   (medians of {args.repeats}; CPU time counts this process only)")
    for name, (wall_s, cpu_s) in median.items():
        print(f"{name:<34}: {args.frames / wall_s:9.0f}  {args.frames / cpu_s:9.0f}")
    plain, full = median["plain decode to RGB"], median["decode + MV export + dense flow"]
    print(f"{'ratio flow / plain (goal >= 0.6)':<34}: {plain[0] / full[0]:9.2f}  {plain[1] / full[1]:9.2f}")
    if "motion-vector-extractor" in median:
        ours, theirs = median["decode + MV export"], median["motion-vector-extractor"]
        print(f"{'ours / mv-extractor (goal >= 0.8)':<34}: {theirs[0] / ours[0]:9.2f}  {theirs[1] / ours[1]:9.2f}"
              f"   (frames + vectors per second, ours over theirs)")
    print(f"load average (1 min) {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
