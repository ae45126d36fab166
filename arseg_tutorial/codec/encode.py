"""Encode RGB frames as H.264 (libx264 through PyAV) with a fixed, verified GOP structure.

Introduced in notebook 01. The stream options (docs/codec.md#frame-types-and-the-gop):
``g`` (GOP length),
``sc_threshold=0`` (no scene-cut I-frames), ``refs=1`` (a P-frame references the previous
anchor only), ``bf`` B-frames with ``b-pyramid none`` and ``b_strategy 0`` (a fixed IBBP pattern),
and ``threads=1``: with several threads x264's output depends on the CPU count and, on a busy
CPU, on timing, so the same frames could give different bytes; one thread gives one output.
libx264 silently ignores misspelled options, so after encoding the settings string that x264
writes into the stream is read back and compared with what was asked for.
"""
from __future__ import annotations

import io
import os
import tempfile
import warnings
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

from arseg_tutorial.codec.errors import EncoderSettingsError

CONTAINER_FORMATS = {".mp4": "mp4", ".mkv": "matroska", ".mov": "mov"}
X264_SETTINGS_MARK = b"x264 - core"


def x264_options(gop: int, bframes: int, crf: int) -> dict[str, str]:
    """The libx264 stream options for a fixed GOP of ``gop`` frames and ``bframes`` B-frames.

    Introduced in notebook 01.
    """
    options = {"g": str(gop), "sc_threshold": "0", "refs": "1", "bf": str(bframes),
               "crf": str(crf), "threads": "1"}
    if bframes > 0:
        # MB-tree rate control with B-frames gave a different stream on most runs of the same
        # frames here, even with one thread (8 encodes: up to 7 different files); without it the
        # bytes repeat. I- and P-only streams are repeatable with it and keep it.
        options.update({"b-pyramid": "none", "b_strategy": "0", "mbtree": "0"})
    return options


def parse_x264_settings(data: bytes) -> dict[str, str]:
    """The ``key=value`` options of the x264 settings string found in ``data`` ({} if absent).

    Introduced in notebook 01.

    Args:
        data: bytes of an H.264 packet or file that contains x264's SEI settings message.
    """
    start = data.find(X264_SETTINGS_MARK)
    if start < 0:
        return {}
    end = data.find(b"\x00", start)
    text = data[start:end if end > 0 else None].decode("ascii", errors="replace")
    if "options:" not in text:
        return {}
    pairs = (item.split("=", 1) for item in text.split("options:", 1)[1].split())
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2}


def _expected_settings(gop: int, bframes: int, crf: int) -> dict[str, str]:
    expected = {"keyint": str(gop), "scenecut": "0", "ref": "1", "bframes": str(bframes),
                "threads": "1", "lookahead_threads": "1"}
    # crf 0 makes x264 code losslessly at constant QP 0, and its settings say so instead
    expected.update({"qp": "0"} if crf == 0 else {"crf": f"{float(crf):.1f}"})
    if bframes > 0:
        expected.update({"b_pyramid": "0", "b_adapt": "0", "mbtree": "0"})
    return expected


def _check_arguments(gop: int, bframes: int, crf: int, fps: float) -> None:
    if not isinstance(gop, (int, np.integer)) or gop < 1:
        raise ValueError(f"gop must be an int >= 1 (frames per GOP), got {gop!r}")
    if not isinstance(bframes, (int, np.integer)) or not 0 <= bframes <= 4:
        raise ValueError(f"bframes must be an int in 0..4, got {bframes!r}")
    if bframes > 0 and bframes >= gop - 1:
        raise ValueError(f"bframes={bframes} needs gop >= bframes + 2 (an I and a P anchor), "
                         f"got gop={gop}; use a longer GOP or fewer B-frames")
    if not 0 <= crf <= 51:
        raise ValueError(f"crf must be in 0..51 (lower = better quality), got {crf!r}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps!r}")


def _as_rgb_frame(frame: np.ndarray, index: int) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame {index} must be an (H, W, 3) uint8 RGB array, got shape "
                         f"{frame.shape} dtype {frame.dtype}; convert with "
                         f"np.clip(x, 0, 255).astype(np.uint8)")
    return frame


def _pad_to_even(frame: np.ndarray) -> np.ndarray:
    height, width = frame.shape[:2]
    pad = ((0, height % 2), (0, width % 2), (0, 0))
    return np.ascontiguousarray(np.pad(frame, pad, mode="edge") if any(p[1] for p in pad) else frame)


def _write_stream(frames: Iterable[np.ndarray], target: str, container_format: str, gop: int,
                  bframes: int, crf: int, fps: float) -> int:
    options = {"movflags": "faststart"} if container_format in ("mp4", "mov") else {}
    rate = Fraction(fps).limit_denominator(1001)
    count = 0
    with av.open(target, "w", format=container_format, options=options) as container:
        stream = None
        for count, frame in enumerate(frames, start=1):
            frame = _as_rgb_frame(frame, count - 1)
            if stream is None:
                height, width = frame.shape[:2]
                if height % 2 or width % 2:
                    warnings.warn(
                        f"frames are {height}x{width} (odd); libx264 with yuv420p needs even sizes,"
                        f" so they are padded to {height + height % 2}x{width + width % 2} by "
                        f"repeating the last row/column; crop decoded frames with "
                        f"[:, :{height}, :{width}]", UserWarning, stacklevel=3)
                stream = container.add_stream("libx264", rate=rate)
                stream.width, stream.height = width + width % 2, height + height % 2
                stream.pix_fmt = "yuv420p"
                stream.options = x264_options(gop, bframes, crf)
            elif frame.shape[:2] != (height, width):
                raise ValueError(f"frame {count - 1} is {frame.shape[:2]}, frame 0 is "
                                 f"{(height, width)}; all frames of a video must share one size")
            picture = av.VideoFrame.from_ndarray(_pad_to_even(frame), format="rgb24")
            container.mux(stream.encode(picture))
        if stream is None:
            raise ValueError("no frames to encode: pass a non-empty (N, H, W, 3) uint8 array")
        container.mux(stream.encode(None))
    return count


def _verify_settings(path: str, gop: int, bframes: int, crf: int) -> None:
    with av.open(path) as container:
        first_packet = next(container.demux(container.streams.video[0]))
        found = parse_x264_settings(bytes(first_packet))
    if not found:
        raise EncoderSettingsError("the written stream has no x264 settings string; the encoder "
                                   "was not libx264 - check that PyAV's wheel includes libx264")
    wrong = {key: (value, found.get(key)) for key, value in
             _expected_settings(gop, bframes, crf).items() if found.get(key) != value}
    if wrong:
        details = ", ".join(f"{key}: asked {asked}, got {got}" for key, (asked, got) in wrong.items())
        raise EncoderSettingsError(f"libx264 did not apply the requested settings ({details}); "
                                   f"this PyAV/x264 build may name its options differently")


def encode_video(frames: np.ndarray | Iterable[np.ndarray], path: str | os.PathLike | BinaryIO,
                 *, gop: int = 12, bframes: int = 0, crf: int = 18, fps: float = 30,
                 container_format: str | None = None) -> Path | BinaryIO:
    """Encode RGB frames as H.264 with a fixed GOP, one reference frame and fixed B-frames.

    Introduced in notebook 01. The file is written atomically (temp file, then ``os.replace``).

    Args:
        frames: (N, H, W, 3) uint8 RGB array, or an iterable of (H, W, 3) uint8 frames (long
            videos can be streamed). Odd H or W are padded to even, with a warning.
        path: output file (``.mp4``, ``.mkv`` or ``.mov``) or a writable binary file object
            (e.g. ``io.BytesIO()``), which receives the encoded bytes.
        gop: frames per GOP; frame 0, gop, 2*gop, ... are I-frames (no scene-cut I-frames).
        bframes: consecutive B-frames between anchors (0 = I and P frames only, as in the paper).
        crf: libx264 constant rate factor (0 = lossless, 18 = visually lossless, 51 = worst).
        fps: frames per second written in the stream.
        container_format: FFmpeg muxer name; by default taken from the suffix (``mp4`` for file
            objects).

    Returns:
        The output path (as ``Path``), or the file object it was given.

    Raises:
        ValueError: bad frames or settings (the message says which).
        EncoderSettingsError: x264's settings string in the stream differs from what was asked.
    """
    _check_arguments(gop, bframes, crf, fps)
    in_memory = hasattr(path, "write")
    suffix = ".mp4" if in_memory else Path(path).suffix.lower()
    if container_format is None:
        if suffix not in CONTAINER_FORMATS:
            raise ValueError(f"cannot tell the container from {str(path)!r}: use a .mp4, .mkv or "
                             f".mov name, or pass container_format='mp4'")
        container_format = CONTAINER_FORMATS[suffix]
    folder = None if in_memory else str(Path(path).resolve().parent)
    if folder is not None and not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {str(path)!r}: the folder {folder!r} does not exist; "
                                f"create it first, e.g. Path({folder!r}).mkdir(parents=True)")
    handle, temp_path = tempfile.mkstemp(suffix=suffix, prefix=".encode-", dir=folder)
    os.close(handle)
    try:
        _write_stream(frames, temp_path, container_format, gop, bframes, crf, fps)
        _verify_settings(temp_path, gop, bframes, crf)
        if in_memory:
            with open(temp_path, "rb") as encoded:
                path.write(encoded.read())
            return path
        os.chmod(temp_path, 0o644)   # mkstemp makes 0600; a video is an ordinary file
        os.replace(temp_path, path)
        return Path(path)
    finally:
        if os.path.exists(temp_path):
            os.remove(temp_path)


def encode_to_bytes(frames: np.ndarray | Iterable[np.ndarray], **settings) -> bytes:
    """``encode_video`` into memory; returns the MP4 bytes. Introduced in notebook 01."""
    buffer = io.BytesIO()
    encode_video(frames, buffer, **settings)
    return buffer.getvalue()
