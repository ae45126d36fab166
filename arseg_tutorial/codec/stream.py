"""Chained flows to the keyframe for long videos, one frame at a time (bounded memory).

Introduced in notebook 02. ``iter_flows_to_keyframe`` gives the same flows as
``flow_to_keyframe`` on a whole ``Video`` but keeps only the previous anchor's chain and the
B-frames waiting for their next anchor (at most ``bframes`` of them) in memory.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from arseg_tutorial.codec.chain import compose, prefer_valid
from arseg_tutorial.codec.decode import VideoSource, iter_video
from arseg_tutorial.codec.errors import IntraOnlyVideoError
from arseg_tutorial.codec.motion import motion_vectors_to_flow
from arseg_tutorial.codec.video import DecodedFrame

Chain = tuple[np.ndarray, np.ndarray]


def _step(frame: DecodedFrame, direction: str) -> Chain:
    height, width = frame.image.shape[:2]
    return motion_vectors_to_flow(frame.motion_vectors, height, width, direction)


def iter_flows_to_keyframe(source: VideoSource) -> Iterator[tuple[DecodedFrame, np.ndarray, np.ndarray]]:
    """Decode a video and yield, in display order, each frame with its flow to its keyframe.

    Introduced in notebook 02.

    Args:
        source: an H.264 .mp4/.mkv path, its bytes, or a binary file object.

    Yields:
        (frame, flow, valid): the ``DecodedFrame``, its (H, W, 2) float32 backward flow to the
        GOP's I-frame and (H, W) bool validity, exactly as ``flow_to_keyframe`` computes them.

    Raises:
        IntraOnlyVideoError: the whole video held only I-frames (raised at its end).
        The errors of ``iter_video`` (missing file, corrupt stream, codec without vectors, ...).
    """
    anchor: Chain | None = None
    waiting: list[DecodedFrame] = []
    saw_motion = False
    for frame in iter_video(source):
        if frame.frame_type == "B":
            waiting.append(frame)
            continue
        saw_motion |= frame.frame_type == "P"
        height, width = frame.image.shape[:2]
        if frame.frame_type == "P" and anchor is not None:
            current = compose(*_step(frame, "past"), *anchor)
        else:
            current = (np.zeros((height, width, 2), np.float32), np.ones((height, width), bool))
        for b_frame in waiting:
            chain = compose(*_step(b_frame, "past"), *anchor)
            if frame.frame_type == "P":
                chain = prefer_valid(chain, compose(*_step(b_frame, "future"), *current))
            saw_motion = True
            yield (b_frame, *chain)
        waiting.clear()
        anchor = current
        yield (frame, *current)
    for b_frame in waiting:
        yield (b_frame, *compose(*_step(b_frame, "past"), *anchor))
    if not saw_motion:
        raise IntraOnlyVideoError("every frame of this video is an I-frame: there are no motion "
                                  "vectors to chain; re-encode with a longer GOP, e.g. "
                                  "encode_video(frames, 'clip.mp4', gop=12)")
