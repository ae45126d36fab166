"""Faster codec paths against the ones they replace (nothing here is timed)."""
from __future__ import annotations

import subprocess
import sys

import av
import numpy as np

from arseg_tutorial.codec import encode_to_bytes, iter_video


def test_one_thread_decoding_and_rgb_conversion_give_the_default_frames_and_vectors():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (6, 64, 96, 3), dtype=np.uint8)
    data = encode_to_bytes(frames, gop=3)
    import io

    with av.open(io.BytesIO(data)) as container:          # FFmpeg's automatic threads
        stream = container.streams.video[0]
        stream.codec_context.options = {"flags2": "+export_mvs"}
        default = [(f.to_ndarray(format="rgb24"), f.side_data.get("MOTION_VECTORS"))
                   for f in container.decode(stream)]
    ours = list(iter_video(data))
    assert len(ours) == len(default) == 6
    for mine, (image, vectors) in zip(ours, default):
        np.testing.assert_array_equal(mine.image, image)
        expected = np.zeros(0) if vectors is None else vectors.to_ndarray()
        assert len(mine.motion_vectors) == len(expected)
        for name in ("motion_x", "motion_y", "dst_x", "dst_y", "w", "h", "source"):
            np.testing.assert_array_equal(mine.motion_vectors[name], expected[name] if len(expected) else [])


def test_reading_a_video_does_not_import_torch(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(encode_to_bytes(np.zeros((3, 32, 32, 3), np.uint8), gop=3))
    script = ("import sys; from arseg_tutorial.codec import read_video, flow_to_keyframe, warp; "
              f"v = read_video({str(path)!r}); warp(v.frames[1], flow_to_keyframe(v, 1)[0]); "
              "assert 'torch' not in sys.modules, 'codec imported torch'")
    subprocess.run([sys.executable, "-c", script], check=True)
