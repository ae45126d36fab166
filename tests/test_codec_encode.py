"""encode_video / read_video / iter_video: GOP structure, settings check, containers, sizes."""
from __future__ import annotations

import io
import types

import numpy as np
import pytest

from arseg_tutorial.codec import (EncoderSettingsError, encode_to_bytes, encode_video, iter_video,
                                  read_video)
from arseg_tutorial.codec import encode as encode_module
from arseg_tutorial.codec.synthetic import translating_texture

H, W = 64, 96


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return translating_texture(24, H, W, (1.3, 0.55), seed=1)


def luma_psnr_db(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR of the grey levels (4:2:0 chroma subsampling blurs this texture's colours)."""
    mse = np.mean((a.astype(np.float64).mean(-1) - b.astype(np.float64).mean(-1)) ** 2)
    return float(10 * np.log10(255**2 / mse))


@pytest.mark.parametrize("gop, bframes, expected", [
    (12, 0, "I" + "P" * 11),
    (12, 2, "IBBPBBPBBPBP"),
    (6, 0, "IPPPPP"),
    (6, 1, "IBPBPP"),
])
def test_frame_types_follow_gop_and_bframes(frames, gop, bframes, expected):
    video = read_video(encode_to_bytes(frames, gop=gop, bframes=bframes))
    assert video.frame_types == (expected * (24 // gop))
    assert video.encoder_settings["keyint"] == str(gop)
    assert video.encoder_settings["bframes"] == str(bframes)
    assert video.encoder_settings["ref"] == "1" and video.encoder_settings["scenecut"] == "0"


def test_all_intra_with_gop_one(frames):
    assert read_video(encode_to_bytes(frames[:5], gop=1)).frame_types == "IIIII"


def test_roundtrip_quality_sizes_and_metadata(frames, tmp_path):
    path = encode_video(frames, tmp_path / "clip.mp4", gop=12, fps=25)
    video = read_video(path)
    assert video.frames.shape == (24, H, W, 3) and video.frames.dtype == np.uint8
    assert luma_psnr_db(video.frames, frames) > 27  # one frame off: ~21 dB
    assert video.fps == 25 and video.codec == "h264" and video.size == (H, W)
    assert video.packet_sizes.shape == (24,) and np.all(video.packet_sizes > 0)
    assert video.packet_sizes[0] > 3 * np.median(video.packet_sizes[1:12])
    assert video.total_bytes < path.stat().st_size
    assert list(tmp_path.iterdir()) == [path]  # the temp file was moved, not left behind


def test_decode_order_with_bframes(frames):
    video = read_video(encode_to_bytes(frames[:12], gop=12, bframes=2))
    # each anchor is decoded before the two B-frames displayed before it
    assert list(video.decode_order[:4]) == [0, 3, 1, 2]
    assert sorted(video.decode_order) == list(range(12))
    p_only = read_video(encode_to_bytes(frames[:12], gop=12))
    assert list(p_only.decode_order) == list(range(12))


def test_mkv_bytes_and_file_object_agree(frames, tmp_path):
    mkv = read_video(encode_video(frames[:12], tmp_path / "clip.mkv"))
    data = encode_to_bytes(frames[:12])
    from_bytes = read_video(data)
    from_file_object = read_video(io.BytesIO(data))
    assert mkv.frame_types == from_bytes.frame_types == "I" + "P" * 11
    np.testing.assert_array_equal(from_bytes.frames, from_file_object.frames)
    assert np.abs(mkv.frames.astype(int) - from_bytes.frames).mean() < 1.0


def test_iter_video_streams_lazily_in_display_order(frames):
    data = encode_to_bytes(frames, gop=12, bframes=2)
    stream = iter_video(data)
    assert isinstance(stream, types.GeneratorType)
    first = next(stream)
    assert first.index == 0 and first.frame_type == "I" and len(first.motion_vectors) == 0
    rest = list(stream)
    video = read_video(data)
    assert [r.index for r in rest] == list(range(1, 24))
    np.testing.assert_array_equal(np.stack([first.image] + [r.image for r in rest]), video.frames)
    assert [r.packet_size for r in rest] == list(video.packet_sizes[1:])
    assert all((len(r.motion_vectors) > 0) == (r.frame_type != "I") for r in rest)


def test_frames_can_be_streamed_from_a_generator(frames, tmp_path):
    path = encode_video((frame for frame in frames[:6]), tmp_path / "streamed.mkv", gop=3)
    video = read_video(path)
    assert video.frame_types == "IPPIPP" and luma_psnr_db(video.frames, frames[:6]) > 27


def test_odd_size_is_padded_with_a_warning(frames):
    with pytest.warns(UserWarning, match="padded to 64x96"):
        data = encode_to_bytes(frames[:4, :63, :95])
    assert read_video(data).size == (64, 96)


def test_settings_that_did_not_take_effect_raise(frames, monkeypatch):
    original = encode_module.x264_options
    misspelled = lambda gop, bframes, crf: {**{k: v for k, v in original(gop, bframes, crf).items()
                                               if k != "refs"}, "ref": "1"}
    monkeypatch.setattr(encode_module, "x264_options", misspelled)
    with pytest.raises(EncoderSettingsError, match="ref: asked 1, got 3"):
        encode_to_bytes(frames[:4])


@pytest.mark.parametrize("bad, message", [
    (dict(frames=np.zeros((2, 8, 8, 3), np.float32)), "uint8"),
    (dict(frames=np.zeros((2, 8, 8), np.uint8)), r"\(H, W, 3\)"),
    (dict(frames=np.zeros((0, 8, 8, 3), np.uint8)), "no frames"),
    (dict(bframes=5), "bframes"),
    (dict(gop=3, bframes=2), "gop >= bframes"),
])
def test_bad_arguments_say_what_to_do(bad, message):
    arguments = dict(frames=np.zeros((2, 16, 16, 3), np.uint8)) | bad
    with pytest.raises(ValueError, match=message):
        encode_to_bytes(arguments.pop("frames"), **arguments)


def test_unknown_suffix_and_missing_folder_are_refused(frames, tmp_path):
    with pytest.raises(ValueError, match=".mp4, .mkv"):
        encode_video(frames[:2], tmp_path / "clip.avi")
    with pytest.raises(FileNotFoundError, match="does not exist; create it first"):
        encode_video(frames[:2], tmp_path / "no" / "clip.mp4")


def test_crf_0_encodes_losslessly(frames):
    """x264 turns crf 0 into lossless constant-QP coding (its settings say qp=0, not crf=0)."""
    import av

    video = read_video(encode_to_bytes(frames, crf=0))
    assert video.encoder_settings["qp"] == "0" and "crf" not in video.encoder_settings
    for decoded, frame in zip(video.frames, frames):   # exactly the frame's 4:2:0 YUV, shown as RGB
        yuv = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuv420p")
        np.testing.assert_array_equal(decoded, yuv.to_ndarray(format="rgb24"))
