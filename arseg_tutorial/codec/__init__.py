"""Compressed video: encode (H.264 via PyAV), decode with frame types, packet sizes and motion
vectors, dense backward flow, chaining to the keyframe, and warping.

Introduced in notebooks 01 (frame types) and 02 (motion vectors). Typical use::

    from arseg_tutorial.codec import encode_video, read_video, flow_to_keyframe, warp
    encode_video(frames, "clip.mp4", gop=12)            # frames: (N, H, W, 3) uint8
    video = read_video("clip.mp4")                       # .frames, .frame_types, .packet_sizes
    flow, valid = flow_to_keyframe(video, t=11)          # (H, W, 2) float32, (H, W) bool
    predicted = warp(video.frames[0], flow)              # keyframe warped to frame 11
"""
from arseg_tutorial.codec.chain import flow_to_keyframe, flows_to_keyframe
from arseg_tutorial.codec.decode import iter_video, read_video
from arseg_tutorial.codec.encode import encode_to_bytes, encode_video, parse_x264_settings
from arseg_tutorial.codec.errors import (CorruptVideoError, EncoderSettingsError,
                                         IntraOnlyVideoError, NoMotionVectorsError,
                                         NotAVideoError, NoVideoStreamError, VideoError,
                                         VideoNotFoundError)
from arseg_tutorial.codec.motion import endpoint_error, motion_vectors_to_flow
from arseg_tutorial.codec.stream import iter_flows_to_keyframe
from arseg_tutorial.codec.video import DecodedFrame, Video
from arseg_tutorial.codec.warp import warp

__all__ = [
    "CorruptVideoError", "DecodedFrame", "EncoderSettingsError", "IntraOnlyVideoError",
    "NoMotionVectorsError", "NoVideoStreamError", "NotAVideoError", "Video", "VideoError",
    "VideoNotFoundError", "encode_to_bytes", "encode_video", "endpoint_error",
    "flow_to_keyframe", "flows_to_keyframe", "iter_flows_to_keyframe", "iter_video", "motion_vectors_to_flow",
    "parse_x264_settings", "read_video", "warp",
]
