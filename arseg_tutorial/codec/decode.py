"""Decode a compressed video: frames, frame types, packet sizes and motion vectors.

Introduced in notebook 01 (frame types, bytes per frame, decode order) and notebook 02 (motion
vectors). ``iter_video`` streams one frame at a time (bounded memory); ``read_video`` collects a
whole (short) video into a ``Video``. Motion vectors are FFmpeg's ``export_mvs`` side data: one
structured array per frame with fields (source, w, h, src_x, src_y, dst_x, dst_y, flags,
motion_x, motion_y, motion_scale); see docs/codec.md#motion-vectors for the conventions.
"""
from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

from arseg_tutorial.codec.encode import parse_x264_settings
from arseg_tutorial.codec.errors import (REENCODE_HINT, CorruptVideoError, NoMotionVectorsError,
                                         NotAVideoError, NoVideoStreamError, VideoNotFoundError)

MOTION_VECTOR_CODECS = ("h264",)
MOTION_VECTOR_DTYPE = np.dtype([
    ("source", "<i4"), ("w", "u1"), ("h", "u1"), ("src_x", "<i2"), ("src_y", "<i2"),
    ("dst_x", "<i2"), ("dst_y", "<i2"), ("flags", "<u8"), ("motion_x", "<i4"),
    ("motion_y", "<i4"), ("motion_scale", "<u2")], align=True)
VideoSource = str | os.PathLike | bytes | bytearray | BinaryIO


@dataclass
class DecodedFrame:
    """One frame of a stream, as ``iter_video`` yields it (display order).

    Attributes:
        index: position in the source's display order (0-based), counting frames that could not
            be decoded: a stream cut mid-GOP starts at the index of its first I-frame.
        image: (H, W, 3) uint8 RGB, or None when decoded with ``rgb=False``.
        frame_type: "I", "P" or "B" ("?" for anything else).
        packet_size: bytes of the compressed packet that carried this frame.
        decode_index: position of that packet in decode (bitstream) order.
        motion_vectors: structured array (see module docstring); empty for I-frames.
        time_s: presentation time in seconds.
        corrupt: FFmpeg flagged the frame as decoded from damaged data (concealed errors).
        rotation: the display rotation in degrees the stream asks for (0 = none).
    """

    index: int
    image: np.ndarray | None
    frame_type: str
    packet_size: int
    decode_index: int
    motion_vectors: np.ndarray
    time_s: float
    corrupt: bool = False
    rotation: int = 0


@dataclass
class Video:
    """A decoded video held in memory. Introduced in notebook 01.

    Attributes:
        frames: (N, H, W, 3) uint8 RGB frames in display order.
        frame_types: one character per frame, e.g. "IPPPPPPPPPPP" or "IBBPBBPBBPBP".
        packet_sizes: (N,) int64 compressed bytes of each frame (display order).
        decode_order: (N,) int64; ``decode_order[k]`` is the display index of the k-th decoded frame.
        motion_vectors: N structured arrays (one per frame, empty for I-frames).
        fps: frames per second.
        codec: codec name ("h264", "hevc", "vp9", "av1", ...).
        encoder_settings: x264's key=value options read from the stream ({} if not x264).
        complete: False if decoding stopped early (see ``CorruptVideoError``), if any frame
            was decoded from damaged data (see ``damaged_frames``) or if the first frames could
            not be decoded (see ``first_index``).
        damaged_frames: positions in ``frames`` of frames FFmpeg flagged as corrupt, and of the
            frames after them that reference them (up to the next I-frame).
        first_index: display index in the source of ``frames[0]``; > 0 when the stream starts
            mid-GOP, with frames that predict from an I-frame not in the file (they cannot be
            decoded: ``missing_frames``); ``frames[t]`` is the source's frame ``first_index + t``.
        cache: memo of flows computed by ``flow_to_keyframe`` (not part of the data).
    """

    frames: np.ndarray
    frame_types: str
    packet_sizes: np.ndarray
    decode_order: np.ndarray
    motion_vectors: list[np.ndarray]
    fps: float
    codec: str
    encoder_settings: dict[str, str] = field(default_factory=dict)
    complete: bool = True
    damaged_frames: tuple[int, ...] = ()
    first_index: int = 0
    cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.frame_types)

    @property
    def missing_frames(self) -> tuple[int, ...]:
        """Display indices of the leading frames that could not be decoded (see ``first_index``)."""
        return tuple(range(self.first_index))

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return int(self.frames.shape[1]), int(self.frames.shape[2])

    @property
    def height(self) -> int:
        """Frame height in pixels."""
        return self.size[0]

    @property
    def width(self) -> int:
        """Frame width in pixels."""
        return self.size[1]

    @property
    def total_bytes(self) -> int:
        """Sum of the packet sizes (the compressed video data, without the container)."""
        return int(self.packet_sizes.sum())

    def keyframe_index(self, t: int) -> int:
        """Display index of the I-frame that starts frame ``t``'s GOP."""
        if not 0 <= t < len(self):
            raise IndexError(f"frame {t} is outside the video's {len(self)} frames")
        start = self.frame_types.rfind("I", 0, t + 1)
        if start < 0:
            raise ValueError(f"no I-frame at or before frame {t} (types {self.frame_types!r})")
        return start


def _open(source: VideoSource) -> av.container.InputContainer:
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(bytes(source))
    elif not hasattr(source, "read"):
        path = Path(source)
        if not path.is_file():
            what = "is a folder, not a video file" if path.is_dir() else "does not exist"
            raise VideoNotFoundError(f"{str(path)!r} {what}; check the path (relative paths start "
                                     f"at {os.getcwd()!r})")
    try:
        return av.open(source)
    except av.error.FFmpegError as err:
        raise NotAVideoError(_not_a_video_message(source, err)) from err


def _not_a_video_message(source: VideoSource, err: Exception) -> str:
    name = repr(str(source)) if isinstance(source, (str, os.PathLike)) else "the given bytes"
    head = b""
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            head = handle.read(12)
    elif hasattr(source, "getvalue"):
        head = source.getvalue()[:12]
    if head[4:8] == b"ftyp":
        return (f"{name} starts like an MP4 file but FFmpeg cannot open it ({err}): its index "
                f"(moov atom) is missing, so the file is truncated or was never closed; no frame "
                f"could be decoded (decoding stopped at frame 0). Re-create or re-copy the file.")
    return (f"{name} is not a video FFmpeg can read ({err}); pass an .mp4/.mkv file or its bytes, "
            f"e.g. one written by arseg_tutorial.codec.encode_video")


def _expected_frames(container: av.container.InputContainer, stream: av.video.VideoStream,
                     fps: float) -> int | None:
    if stream.frames:
        return int(stream.frames)
    if container.duration:
        return int(round(container.duration / av.time_base * fps))
    return None


def _frame_type(frame: av.VideoFrame) -> str:
    name = av.video.frame.PictureType(frame.pict_type).name
    return name if name in ("I", "P", "B") else "?"


def _motion_vectors(frame: av.VideoFrame) -> np.ndarray:
    side = frame.side_data.get("MOTION_VECTORS")
    if side is None:
        return np.zeros(0, MOTION_VECTOR_DTYPE)
    return np.asarray(side.to_ndarray()).astype(MOTION_VECTOR_DTYPE, copy=False)


def _rgb(frame: av.VideoFrame) -> np.ndarray:
    """(H, W, 3) uint8 RGB. swscale on one thread: the same pixels as its automatic threads, and
    3x less wall time per small frame (thread start-up dominates; measured 3.4 vs 1.0 ms at
    180x240 on 2 busy CPUs)."""
    return frame.to_ndarray(format="rgb24", threads=1)


def _no_motion_vectors_message(codec: str) -> str:
    return (f"this video is {codec.upper()}: FFmpeg exports motion vectors only for H.264 here "
            f"(not for HEVC, VP9 or AV1); {REENCODE_HINT}")


def iter_video(source: VideoSource, *, motion_vectors: bool = True,
               rgb: bool = True) -> Iterator[DecodedFrame]:
    """Decode a video one frame at a time, in display order (memory stays bounded).

    Introduced in notebook 01.

    Args:
        source: path to an .mp4/.mkv file, its bytes, or a readable binary file object.
        motion_vectors: export motion vectors (H.264 only); False also reads HEVC, VP9, AV1.
        rgb: convert each frame to an (H, W, 3) uint8 array (False skips the conversion).

    Yields:
        ``DecodedFrame`` records. Frames before the first I-frame of a stream cut mid-GOP cannot
        be decoded: they are skipped with a warning, and ``index`` counts them.

    Raises:
        VideoNotFoundError, NotAVideoError, NoVideoStreamError, NoMotionVectorsError: see
            ``arseg_tutorial.codec.errors``.
        CorruptVideoError: decoding stopped early (after the frames already yielded).
    """
    expected_index = 0
    for frame in _decode(source, motion_vectors, rgb):
        if frame.index > expected_index:
            warnings.warn(_missing_message(frame.index, None), UserWarning, stacklevel=2)
        expected_index = frame.index + 1
        yield frame


def _decode(source: VideoSource, motion_vectors: bool, rgb: bool) -> Iterator[DecodedFrame]:
    container = _open(source)
    with container:
        if not container.streams.video:
            kinds = ", ".join(s.type for s in container.streams) or "none"
            raise NoVideoStreamError(f"the container has no video stream (streams: {kinds}); "
                                     f"pass a video file, e.g. one made by encode_video")
        stream = container.streams.video[0]
        codec = stream.codec_context.codec.canonical_name
        if motion_vectors and codec not in MOTION_VECTOR_CODECS:
            raise NoMotionVectorsError(_no_motion_vectors_message(codec))
        if motion_vectors:
            stream.codec_context.options = {"flags2": "+export_mvs"}
        # One decoder thread: the same frames and vectors (decoding is exact; a test checks) with
        # less overhead per frame at these sizes (1.3x less CPU time at 180x240, measured).
        stream.codec_context.thread_count = 1
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        expected = _expected_frames(container, stream, fps)
        packets: dict[int | None, tuple[int, int]] = {}
        index, decode_index, leading, skipped = 0, 0, 0, 0
        try:
            for packet in container.demux(stream):
                if packet.size:
                    packets[packet.pts] = (packet.size, decode_index)
                    # packets before the first keyframe (decode order) are displayed before it
                    leading += decode_index == leading and not packet.is_keyframe
                    decode_index += 1
                for frame in packet.decode():
                    size, order = packets.pop(frame.pts, (0, -1))
                    if order >= leading > index:   # the packets before the first I-frame gave no frame
                        skipped, index = leading - index, leading
                    yield DecodedFrame(
                        index=index, image=_rgb(frame) if rgb else None,
                        frame_type=_frame_type(frame), packet_size=size, decode_index=order,
                        motion_vectors=_motion_vectors(frame) if motion_vectors
                        else np.zeros(0, MOTION_VECTOR_DTYPE),
                        time_s=float(frame.time) if frame.time is not None else index / fps,
                        corrupt=bool(frame.is_corrupt), rotation=int(frame.rotation or 0))
                    index += 1
        except av.error.FFmpegError as err:
            raise CorruptVideoError(
                f"decoding stopped at frame {index} (display order) of "
                f"{expected if expected else 'an unknown number of'} frames: the file is corrupt "
                f"or truncated ({err}); the {index - skipped} frames before it are kept",
                frames_decoded=index - skipped,
                frames_expected=expected) from err
        if expected is not None and index < expected:
            raise CorruptVideoError(
                f"decoding stopped at frame {index} (display order) but the container announces "
                f"{expected} frames: the file is truncated or damaged; the {index - skipped} frames "
                f"before it are kept", frames_decoded=index - skipped, frames_expected=expected)


def _stream_info(source: VideoSource) -> tuple[float, str, dict[str, str]]:
    with _open(source) as container:
        if not container.streams.video:
            return 0.0, "", {}
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        codec = stream.codec_context.codec.canonical_name
        settings: dict[str, str] = {}
        if codec == "h264":
            for packet in container.demux(stream):
                settings = parse_x264_settings(bytes(packet))
                break
    return fps, codec, settings


def _collect(records: list[DecodedFrame], info: tuple[float, str, dict[str, str]],
             complete: bool) -> Video:
    fps, codec, settings = info
    images = [r.image for r in records if r.image is not None]
    frames = np.stack(images) if images else np.zeros((0, 0, 0, 3), np.uint8)
    order = sorted(range(len(records)), key=lambda i: records[i].decode_index)
    damaged = damaged_frames([r.corrupt for r in records], "".join(r.frame_type for r in records))
    first = records[0].index if records else 0
    return Video(frames=frames, frame_types="".join(r.frame_type for r in records),
                 packet_sizes=np.array([r.packet_size for r in records], np.int64),
                 decode_order=np.array(order, np.int64),
                 motion_vectors=[r.motion_vectors for r in records], fps=fps, codec=codec,
                 encoder_settings=settings, complete=complete and not damaged and not first,
                 damaged_frames=damaged, first_index=first)


def damaged_frames(corrupt: list[bool], frame_types: str) -> tuple[int, ...]:
    """Display indices of corrupt frames and of those after them up to the next I-frame (P- and
    B-frames predict from damaged pictures and carry the damage on)."""
    damaged, carrying = [], False
    for index, (bad, kind) in enumerate(zip(corrupt, frame_types)):
        carrying = bad or (carrying and kind != "I")
        if carrying:
            damaged.append(index)
    return tuple(damaged)


def _ranges(indices: tuple[int, ...]) -> str:
    runs, start = [], None
    for i, index in enumerate(indices):
        start = index if start is None else start
        if i + 1 == len(indices) or indices[i + 1] != index + 1:
            runs.append(f"{start}" if start == index else f"{start}-{index}")
            start = None
    return ", ".join(runs)


def _missing_message(first: int, total: int | None) -> str:
    where = (f"video.frames[t] is frame {first} + t (video.first_index = {first})" if total
             else "DecodedFrame.index counts the missing frames")
    return (f"frames {_ranges(tuple(range(first)))} (display order)"
            f"{f' of {total}' if total else ''} could not be decoded: the stream starts mid-GOP, "
            f"and P-frames with no I-frame before them predict from frames that are not in the "
            f"file; the first frame decoded is frame {first}, an I-frame, and {where}; cut videos "
            f"at an I-frame")


def _warn_about(video: Video, records: list[DecodedFrame]) -> None:
    if video.first_index:
        warnings.warn(_missing_message(video.first_index, video.first_index + len(video)),
                      UserWarning, stacklevel=3)
    if video.damaged_frames:
        warnings.warn(f"frames {_ranges(video.damaged_frames)} (display order) of {len(video)} were "
                      f"decoded from damaged data (FFmpeg concealed the errors), so video.complete "
                      f"is False; re-encode or re-download the file, or drop those frames",
                      UserWarning, stacklevel=3)
    rotation = next((r.rotation for r in records if r.rotation), 0)
    if rotation:
        warnings.warn(f"the stream asks for a display rotation of {rotation} degrees, which is "
                      f"not applied: frames are as stored; rotate them with "
                      f"np.rot90(video.frames, k={rotation // 90 % 4}, axes=(1, 2)) if needed",
                      UserWarning, stacklevel=3)


def read_video(source: VideoSource, *, motion_vectors: bool = True,
               allow_partial: bool = False) -> Video:
    """Decode a whole video into memory. Introduced in notebook 01.

    Args:
        source: path to an .mp4/.mkv file, its bytes, or a readable binary file object.
        motion_vectors: export motion vectors (H.264 only); False also reads HEVC, VP9, AV1.
        allow_partial: if decoding stops early, warn and return the frames decoded so far
            (``video.complete`` is False) instead of raising ``CorruptVideoError``.

    Returns:
        A ``Video`` (frames (N, H, W, 3) uint8 in display order, frame types, packet sizes, ...).

    Raises:
        CorruptVideoError: decoding stopped early; ``err.partial_video`` holds the frames before.
        VideoNotFoundError, NotAVideoError, NoVideoStreamError, NoMotionVectorsError.
    """
    if hasattr(source, "read"):
        source = source.read()
    info = _stream_info(source)
    records: list[DecodedFrame] = []
    try:
        records.extend(_decode(source, motion_vectors, rgb=True))
    except CorruptVideoError as err:
        err.partial_video = _collect(records, info, complete=False)
        if not allow_partial:
            raise
        warnings.warn(str(err), UserWarning, stacklevel=2)
        _warn_about(err.partial_video, records)
        return err.partial_video
    video = _collect(records, info, complete=True)
    _warn_about(video, records)
    return video
