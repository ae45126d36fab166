"""Video input without silent damage: frames decoded from damaged data are reported, NaN flows
are refused, written videos are ordinary 0644 files."""
from __future__ import annotations

import io
import os
import re

import av
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


def _remuxed(data: bytes, container_format: str, skip: int = 0, rotation: int = 0) -> bytes:
    """The packets of ``data`` from the ``skip``-th on, copied into a new ``container_format``
    file (optionally with a display rotation), without decoding or re-encoding."""
    out = io.BytesIO()
    with av.open(io.BytesIO(data)) as source, av.open(out, "w", format=container_format) as target:
        stream = source.streams.video[0]
        copy = target.add_stream_from_template(stream)
        if rotation:
            copy.set_display_rotation(rotation)
        for number, packet in enumerate(p for p in source.demux(stream) if p.size):
            if number >= skip:
                packet.stream = copy
                target.mux(packet)
    return out.getvalue()


@pytest.mark.parametrize("rotation", [90, -90])
def test_a_display_rotation_in_the_header_is_reported_with_the_fix(rotation):
    frames = np.zeros((3, 120, 160, 3), np.uint8)
    frames[:, :16, :16] = 255                                    # a white top-left corner
    data = _remuxed(codec.encode_to_bytes(frames, crf=10), "mp4", rotation=rotation)
    with pytest.warns(UserWarning, match=f"display rotation of {rotation} degrees") as record:
        video = codec.read_video(data)
    assert video.frames.shape == frames.shape                    # stored as is, not rotated
    assert next(codec.iter_video(data)).rotation == rotation
    k = int(re.search(r"k=(\d)", str(record[0].message)).group(1))
    turned = np.rot90(video.frames, k=k, axes=(1, 2))[0, ..., 0] > 128
    # counterclockwise by 90 degrees moves the top-left corner to the bottom-left, clockwise to the top-right
    corner = turned[-16:, :16] if rotation == 90 else turned[:16, -16:]
    assert turned.shape == (160, 120) and corner.all() and turned.sum() == 16 * 16


@pytest.mark.parametrize("container_format", ["h264", "mp4"])
def test_a_stream_cut_mid_gop_says_which_leading_frames_are_missing_and_why(container_format):
    frames = np.asarray(generate_clip(5, length=24, height=120, width=160).frames)
    whole = codec.encode_to_bytes(frames)                        # I-frames at 0 and 12
    full = codec.read_video(whole)
    data = _remuxed(whole, container_format, skip=5)             # starts at the P-frame 5: 19 frames
    with pytest.warns(UserWarning, match=r"frames 0-6 \(display order\) of 19 could not be decoded"
                                         r".*P-frame.*no I-frame before") as record:
        video = codec.read_video(data)
    assert not any("truncated" in str(w.message) for w in record), [str(w.message) for w in record]
    assert video.complete is False and video.missing_frames == tuple(range(7))
    assert video.first_index == 7 and video.frame_types == "I" + "P" * 11
    np.testing.assert_array_equal(video.frames, full.frames[12:])  # frame 7 of the cut = frame 12
    with pytest.warns(UserWarning, match=r"frames 0-6 \(display order\) could not be decoded.*index"):
        first = next(codec.iter_video(data))
    assert first.index == 7 and first.frame_type == "I"
    assert codec.read_video(whole).first_index == 0 and full.missing_frames == ()
