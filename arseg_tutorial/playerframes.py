"""The AR-Seg player's decoder: keyframes in full, P-frames converted straight to the LR size.

Introduced in notebook 07. AR-Seg never looks at a P-frame in full: its LR branch reads the frame
at scale s. FFmpeg's colour conversion (swscale, YUV 4:2:0 to RGB) can scale while it converts,
so a P-frame can leave the decoder at the LR size for about a quarter of the conversion's work,
and the player skips both the full-size input tensor and its downsampling. swscale's area filter
(the closest of its filters to ``F.interpolate``'s bilinear at s = 0.5, which averages 2 x 2
pixels) works on the subsampled chroma planes directly and rounds to uint8, so the LR frame
differs slightly from the torch-resized one: 1.5 grey levels on average on a test clip, and
docs/performance.md measures how far the labels move (``tests/test_player.py`` bounds the pixels).

The stream is read as ``codec.iter_video`` reads it (one decoder thread, motion vectors exported,
the same frame types), without the bookkeeping the players do not use (packet sizes, decode
order, damaged-frame reports): a damaged or truncated file raises FFmpeg's own error here.
"""
from __future__ import annotations

from collections.abc import Iterator

import av
import numpy as np

from arseg_tutorial.codec.decode import (MOTION_VECTOR_CODECS, VideoSource, _frame_type, _motion_vectors,
                                         _no_motion_vectors_message, _open)
from arseg_tutorial.codec.errors import NoMotionVectorsError, NoVideoStreamError
from arseg_tutorial.codec.video import DecodedFrame
from arseg_tutorial.models.arseg import lr_size


def iter_lr_frames(source: VideoSource, lr_scale: float) -> Iterator[DecodedFrame]:
    """Decode an H.264 video one frame at a time: I-frames as (H, W, 3) RGB, P-frames as
    (round(s H), round(s W), 3) RGB from swscale, each with its motion vectors.

    Introduced in notebook 07 (``ARSegPlayer(..., lr_decode=True)``).

    Args:
        source: the video (path, bytes or binary file), H.264 with P-frames only.
        lr_scale: s, the LR branch's scale.
    Yields:
        ``DecodedFrame`` records (``packet_size`` 0 and ``decode_index`` -1: not tracked).
    """
    with _open(source) as container:
        if not container.streams.video:
            raise NoVideoStreamError("the container has no video stream; pass a video file, e.g. one "
                                     "made by encode_video")
        stream = container.streams.video[0]
        codec = stream.codec_context.codec.canonical_name
        if codec not in MOTION_VECTOR_CODECS:
            raise NoMotionVectorsError(_no_motion_vectors_message(codec))
        stream.codec_context.options = {"flags2": "+export_mvs"}
        stream.codec_context.thread_count = 1
        for index, frame in enumerate(container.decode(stream)):
            yield _record(index, frame, lr_scale)


def _record(index: int, frame: av.VideoFrame, lr_scale: float) -> DecodedFrame:
    frame_type = _frame_type(frame)
    if frame_type == "I":
        image = frame.to_ndarray(format="rgb24", threads=1)
    else:
        height, width = lr_size(frame.height, frame.width, lr_scale)
        image = frame.to_ndarray(format="rgb24", width=width, height=height, threads=1,
                                 interpolation="AREA")
    return DecodedFrame(index=index, image=np.ascontiguousarray(image), frame_type=frame_type, packet_size=0,
                        decode_index=-1, motion_vectors=_motion_vectors(frame),
                        time_s=float(frame.time or 0.0), corrupt=bool(frame.is_corrupt))
