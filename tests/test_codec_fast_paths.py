"""Faster codec paths against the ones they replace (nothing here is timed)."""
from __future__ import annotations

import subprocess
import sys

import av
import numpy as np

from arseg_tutorial.codec import encode_to_bytes, iter_video


def test_one_thread_rgb_conversion_gives_the_pixels_of_the_default_one():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (6, 64, 96, 3), dtype=np.uint8)
    data = encode_to_bytes(frames, gop=3)
    import io

    with av.open(io.BytesIO(data)) as container:
        default = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    ours = [frame.image for frame in iter_video(data)]
    assert len(ours) == len(default) == 6
    for mine, reference in zip(ours, default):
        np.testing.assert_array_equal(mine, reference)


def test_reading_a_video_does_not_import_torch(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(encode_to_bytes(np.zeros((3, 32, 32, 3), np.uint8), gop=3))
    script = ("import sys; from arseg_tutorial.codec import read_video, flow_to_keyframe, warp; "
              f"v = read_video({str(path)!r}); warp(v.frames[1], flow_to_keyframe(v, 1)[0]); "
              "assert 'torch' not in sys.modules, 'codec imported torch'")
    subprocess.run([sys.executable, "-c", script], check=True)
