"""What decoding gives: one ``DecodedFrame`` at a time, or a whole ``Video`` in memory.

Introduced in notebook 01. ``arseg_tutorial.codec.decode`` fills them; they sit below it and
below the errors (a ``CorruptVideoError`` carries the frames decoded before the damage as a
``Video``), so that neither of those modules imports the other's types.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
