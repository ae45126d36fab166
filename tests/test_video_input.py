"""Video input without silent damage: frames decoded from damaged data are reported, NaN flows
are refused, written videos are ordinary 0644 files."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from arseg_tutorial import codec
from arseg_tutorial.codec.decode import damaged_frames
from arseg_tutorial.scenes import generate_clip


def test_frames_decoded_from_damaged_data_are_reported_with_their_range():
    frames = np.asarray(generate_clip(5, length=24, height=120, width=160).frames)
    data = bytearray(codec.encode_to_bytes(frames))
    middle = len(data) // 2
    data[middle:middle + 500] = np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8).tobytes()
    with pytest.warns(UserWarning, match=r"\(display order\).*damaged data") as record:
        video = codec.read_video(bytes(data), allow_partial=True)
    damaged = video.damaged_frames
    assert video.complete is False and damaged and damaged[0] > 0, damaged
    assert damaged == tuple(range(damaged[0], damaged[-1] + 1)), damaged   # one run, to the next I-frame
    span = f"{damaged[0]}" if len(damaged) == 1 else f"{damaged[0]}-{damaged[-1]}"
    assert any(f"frames {span} (display order)" in str(w.message) for w in record), [str(w.message) for w in record]
    clean = codec.read_video(codec.encode_to_bytes(frames))
    assert clean.complete and clean.damaged_frames == ()


def test_damage_carries_on_to_the_next_iframe():
    corrupt = [False, False, True, False, False, False, False]
    assert damaged_frames(corrupt, "IPPPIPP") == (2, 3)
    assert damaged_frames([False] * 4, "IPPP") == ()


@pytest.mark.parametrize("as_torch", [False, True])
def test_a_nan_flow_is_a_clear_error(as_torch):
    flow = np.zeros((8, 8, 2), np.float32)
    flow[3, 4, 0] = np.nan
    image = np.zeros((8, 8, 3), np.uint8)
    x = torch.zeros(1, 4, 8, 8) if as_torch else image
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        codec.warp(x, torch.from_numpy(flow) if as_torch else flow)


def test_encoded_files_are_0644_like_every_other_file(tmp_path):
    old = os.umask(0o022)
    try:
        path = codec.encode_video(np.zeros((2, 16, 16, 3), np.uint8), tmp_path / "v.mp4")
    finally:
        os.umask(old)
    assert (path.stat().st_mode & 0o777) == 0o644
