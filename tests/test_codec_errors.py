"""Every codec error, triggered by a real file made here, with a message saying what to do."""
from __future__ import annotations

import av
import numpy as np
import pytest

from arseg_tutorial.codec import (CorruptVideoError, IntraOnlyVideoError, NoMotionVectorsError,
                                  NotAVideoError, NoVideoStreamError, VideoNotFoundError,
                                  encode_to_bytes, encode_video, flow_to_keyframe, read_video)
from arseg_tutorial.codec.synthetic import translating_texture

H, W = 48, 64


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return translating_texture(24, H, W, (1.0, 0.5), seed=2)


def write_with_pyav(path, frames: np.ndarray, codec: str, container_format: str,
                    options: dict | None = None) -> None:
    """A video written directly with PyAV (not through encode_video)."""
    with av.open(str(path), "w", format=container_format, options=options or {}) as container:
        stream = container.add_stream(codec, rate=30)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(VideoNotFoundError, match="does not exist"):
        read_video(tmp_path / "nope.mp4")
    with pytest.raises(FileNotFoundError):  # also a FileNotFoundError for generic handlers
        read_video(tmp_path / "nope.mp4")
    with pytest.raises(VideoNotFoundError, match="is a folder"):
        read_video(tmp_path)


def test_not_a_video(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("these are my notes, not a video\n" * 50)
    with pytest.raises(NotAVideoError, match="not a video FFmpeg can read"):
        read_video(text)
    with pytest.raises(NotAVideoError, match="encode_video"):
        read_video(b"\x00\x01garbage" * 100)


def test_truncated_mp4_keeps_the_frames_before(frames, tmp_path):
    path = encode_video(frames, tmp_path / "clip.mp4")
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(CorruptVideoError, match=r"decoding stopped at frame \d+") as caught:
        read_video(cut)
    err = caught.value
    assert 0 < err.frames_decoded < 24 and err.frames_expected == 24
    assert f"frame {err.frames_decoded}" in str(err)
    partial = err.partial_video
    assert partial is not None and not partial.complete
    assert partial.frames.shape == (err.frames_decoded, H, W, 3)
    full = read_video(path)
    np.testing.assert_array_equal(partial.frames, full.frames[: err.frames_decoded])
    with pytest.warns(UserWarning, match="decoding stopped"):
        kept = read_video(cut, allow_partial=True)
    assert len(kept) == err.frames_decoded and not kept.complete


def test_truncated_mkv_is_detected(frames, tmp_path):
    data = encode_video(frames, tmp_path / "clip.mkv").read_bytes()
    with pytest.raises(CorruptVideoError, match="announces 24 frames") as caught:
        read_video(data[: len(data) // 2])
    assert 0 < caught.value.frames_decoded < 24


def test_mp4_without_index_says_truncated(frames, tmp_path):
    path = tmp_path / "unfinished.mp4"
    write_with_pyav(path, frames, "libx264", "mp4")  # no faststart: the index is at the end
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(NotAVideoError, match="moov atom.*truncated.*stopped at frame 0"):
        read_video(path)


def test_corrupt_bytes_in_the_middle(frames):
    data = bytearray(encode_to_bytes(frames))
    middle = len(data) // 2
    data[middle: middle + 2000] = bytes(2000)
    with pytest.raises(CorruptVideoError, match="corrupt or truncated") as caught:
        read_video(bytes(data))
    assert 0 < caught.value.frames_decoded < 24
    assert len(caught.value.partial_video) == caught.value.frames_decoded


def test_audio_only_file_has_no_video_stream(tmp_path):
    path = tmp_path / "sound.mp4"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=44100)
        for i in range(4):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                               layout="mono")
            frame.sample_rate, frame.pts = 44100, i * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(NoVideoStreamError, match="no video stream.*audio"):
        read_video(path)


@pytest.mark.parametrize("codec, container_format, name", [
    ("libx265", "matroska", "HEVC"), ("libvpx-vp9", "matroska", "VP9"),
    ("libsvtav1", "matroska", "AV1"),
])
def test_codecs_without_motion_vectors(frames, tmp_path, codec, container_format, name):
    path = tmp_path / f"clip_{name}.mkv"
    write_with_pyav(path, frames[:8], codec, container_format)
    with pytest.raises(NoMotionVectorsError, match=rf"{name}.*encode_video\(frames, "):
        read_video(path)
    frames_only = read_video(path, motion_vectors=False)
    assert frames_only.frames.shape == (8, H, W, 3)
    with pytest.raises(NoMotionVectorsError, match=name):
        flow_to_keyframe(frames_only, 3)


def test_flow_on_intra_only_video(frames):
    video = read_video(encode_to_bytes(frames[:6], gop=1))
    assert video.frame_types == "IIIIII"
    with pytest.raises(IntraOnlyVideoError, match=r"I-frame.*gop=12"):
        flow_to_keyframe(video, 3)


def test_frame_index_out_of_range(frames):
    video = read_video(encode_to_bytes(frames[:6]))
    with pytest.raises(IndexError, match="outside the video's 6 frames"):
        flow_to_keyframe(video, 6)
