"""Overlay videos: label maps drawn over decoded frames, written one frame at a time as H.264 MP4.

Introduced in notebook 07. ``overlay_frame`` draws panels side by side (ground truth | HR |
AR-Seg there) with a strip on top coloured by frame type; ``MP4Writer`` encodes frames as they
come (PyAV, yuv420p, plays in browsers), so a long video never sits in memory, and writes the file
atomically: an interrupted run leaves no half file. ``write_mp4`` writes a whole array.
"""
from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Sequence

import numpy as np

from arseg_tutorial.atomic import atomic_path

FRAME_TYPE_RGB = {"I": (0xD5, 0x5E, 0x00), "P": (0x00, 0x72, 0xB2), "B": (0x00, 0x9E, 0x73)}
"""Colour of the frame-type strip on top of the overlay video (as ``viz.codec.FRAME_TYPE_COLOURS``)."""


def overlay_frame(image: np.ndarray, panels: Sequence[np.ndarray], frame_type: str, alpha: float = 0.6,
                  strip_px: int = 6, gap_px: int = 2) -> np.ndarray:
    """Label maps over one frame, side by side, with the frame type as a strip on top.

    Introduced in notebook 07 (ground truth | HR every frame | AR-Seg).

    Args:
        image: (H, W, 3) uint8 RGB frame.
        panels: K label maps, each (H, W) integer classes (255 = ignore).
        frame_type: "I", "P" or "B": colour of the strip (``FRAME_TYPE_RGB``, grey otherwise).
        alpha: weight of the label colours over the frame (0 = frame only, 1 = labels only).
        strip_px: height of the strip on top (I-frame vermillion, P-frame blue).
        gap_px: white gap between the panels.
    Returns:
        (strip_px + H, K * W + (K - 1) * gap_px, 3) uint8 RGB.
    """
    from arseg_tutorial.viz import colorize_labels

    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    height, width = image.shape[:2]
    if not panels or any(np.shape(p) != (height, width) for p in panels):
        raise ValueError(f"panels must be one or more ({height}, {width}) label maps, the frame's size; "
                         f"got {[np.shape(p) for p in panels]}")
    frame = image.astype(np.float32)
    gap = np.full((height, gap_px, 3), 255, np.uint8)
    body = [gap] * (2 * len(panels) - 1)
    body[::2] = [((1 - alpha) * frame + alpha * colorize_labels(p)).round().astype(np.uint8) for p in panels]
    body = np.concatenate(body, axis=1)
    strip = np.empty((strip_px, body.shape[1], 3), np.uint8)
    strip[:] = FRAME_TYPE_RGB.get(frame_type, (128, 128, 128))
    return np.concatenate([strip, body], axis=0)


class MP4Writer:
    """Write RGB frames one at a time as an H.264 MP4 (yuv420p, plays in browsers) with PyAV.

    Introduced in notebook 07. Use it as a context manager; the file appears when the ``with``
    block ends without an error (and at least one frame was written); otherwise nothing is left.
    Odd sizes are padded to even with black. Memory does not grow with the number of frames.

    Args:
        path: the ``.mp4`` file to write (its folder must exist).
        fps: frames per second.
        crf: x264 constant rate factor (lower = better quality, larger file).
    """

    def __init__(self, path: str | Path, fps: float = 10.0, crf: int = 20):
        self.path, self.fps, self.crf = Path(path), fps, crf
        self.frames = 0
        self._stack: ExitStack | None = None
        self._container = self._stream = None

    def __enter__(self) -> "MP4Writer":
        import av

        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"cannot write {self.path}: the folder {self.path.parent} does not "
                                    f"exist; create it first")
        with ExitStack() as stack:
            tmp = stack.enter_context(atomic_path(self.path, suffix=".mp4"))
            self._container = stack.enter_context(av.open(str(tmp), mode="w", format="mp4"))
            self._stack = stack.pop_all()
        return self

    def write(self, frame: np.ndarray) -> None:
        """Encode one (H, W, 3) uint8 RGB frame; every frame must have the first one's size."""
        import av

        if self._stack is None:
            raise RuntimeError("MP4Writer.write outside its with block: use `with MP4Writer(path) as w:`")
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame {self.frames} must be an (H, W, 3) uint8 RGB array, got {frame.shape} "
                             f"{frame.dtype}")
        frame = np.pad(frame, ((0, frame.shape[0] % 2), (0, frame.shape[1] % 2), (0, 0)))
        if self._stream is None:
            self._stream = self._container.add_stream("libx264", rate=int(round(self.fps)))
            self._stream.width, self._stream.height = frame.shape[1], frame.shape[0]
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": str(self.crf), "preset": "veryfast", "movflags": "+faststart"}
        elif frame.shape[:2] != (self._stream.height, self._stream.width):
            raise ValueError(f"frame {self.frames} is {frame.shape[:2]} after padding, the first was "
                             f"{(self._stream.height, self._stream.width)}: one size per video")
        self._container.mux(self._stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        self.frames += 1

    def __exit__(self, kind, error, traceback) -> bool:
        stack, self._stack = self._stack, None
        if kind is None:
            try:
                if self._stream is None:
                    raise ValueError(f"no frames were written to {self.path}: write at least one")
                self._container.mux(self._stream.encode(None))
            except BaseException as failure:          # nothing is left behind
                stack.__exit__(type(failure), failure, failure.__traceback__)
                raise
        return stack.__exit__(kind, error, traceback)


def write_mp4(frames: np.ndarray, path: str | Path, fps: float = 10.0, crf: int = 20) -> Path:
    """Write RGB frames as an H.264 MP4 (``MP4Writer``), atomically.

    Introduced in notebook 07.

    Args:
        frames: (N, H, W, 3) uint8 RGB.
        path: the ``.mp4`` file to write (its folder must exist).
        fps: frames per second.
        crf: x264 constant rate factor (lower = better quality, larger file).
    Returns:
        The path written.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"frames must be a non-empty (N, H, W, 3) uint8 array, got {frames.shape} "
                         f"{frames.dtype}")
    with MP4Writer(path, fps, crf) as writer:
        for frame in frames:
            writer.write(frame)
    return Path(path)
