"""The errors of the compressed-video toolkit: each one says what is wrong and what to do.

Introduced in notebook 01 (reading videos) and notebook 02 (motion vectors).
"""
from __future__ import annotations

from arseg_tutorial.codec.video import Video

REENCODE_HINT = (
    "re-encode it as H.264 with: from arseg_tutorial.codec import read_video, encode_video; "
    "frames = read_video(path, motion_vectors=False).frames; "
    "encode_video(frames, 'clip_h264.mp4', gop=12, bframes=0)"
)


class VideoError(Exception):
    """Base class of every error raised by ``arseg_tutorial.codec``."""


class VideoNotFoundError(VideoError, FileNotFoundError):
    """The path does not exist (or is a folder)."""


class NotAVideoError(VideoError, ValueError):
    """The file or bytes are not a container FFmpeg can open (e.g. a text file)."""


class NoVideoStreamError(VideoError, ValueError):
    """The container opens but holds no video stream (e.g. an audio-only file)."""


class CorruptVideoError(VideoError, ValueError):
    """Decoding stopped early: the file is truncated or damaged.

    Attributes:
        frames_decoded: how many frames (display order) were decoded before it stopped.
        frames_expected: how many the container announced (None if it does not say).
        partial_video: the frames decoded before the failure as a ``Video`` (None if not kept).
    """

    def __init__(self, message: str, *, frames_decoded: int, frames_expected: int | None,
                 partial_video: Video | None = None) -> None:
        super().__init__(message)
        self.frames_decoded = frames_decoded
        self.frames_expected = frames_expected
        self.partial_video = partial_video


class NoMotionVectorsError(VideoError, ValueError):
    """The video's codec exports no motion vectors through FFmpeg (HEVC, VP9, AV1, ...)."""


class IntraOnlyVideoError(VideoError, ValueError):
    """Flow was asked for, but every frame is an I-frame: there is no motion to chain."""


class EncoderSettingsError(VideoError, RuntimeError):
    """libx264 did not apply the GOP settings that were asked for (checked in the written stream)."""
