"""Chain per-frame motion back to the GOP's I-frame (the keyframe).

Introduced in notebook 02. With ``refs=1`` a P-frame's vectors point to the previous anchor
(I or P frame); a B-frame's past vectors (``source < 0``) point to the previous anchor and its
future vectors (``source > 0``) to the next one. Composition, sampled bilinearly
(docs/codec.md#chaining-to-the-keyframe):

    F(t -> key)(x) = F(t -> a)(x) + F(a -> key)(x + F(t -> a)(x)),

valid where the step is valid and the anchor's chained flow is valid at the landing point.
The formula is applied everywhere (one-step holes carry zero motion,
docs/codec.md#motion-vectors), so where
``valid`` is False the flow is still the chain's best guess rather than zero.
A B-frame uses its past chain where valid and falls back to the future chain elsewhere (only if
the next anchor is a P-frame of the same GOP).
"""
from __future__ import annotations

import numpy as np

from arseg_tutorial.codec.errors import REENCODE_HINT, IntraOnlyVideoError, NoMotionVectorsError
from arseg_tutorial.codec.motion import Direction, motion_vectors_to_flow
from arseg_tutorial.codec.video import Video
from arseg_tutorial.codec.warp import warp

ANCHOR_TYPES = ("I", "P")


def previous_anchor(video: Video, t: int) -> int:
    """Display index of the last I/P frame before frame ``t`` (the past reference).

    Introduced in notebook 02.
    """
    index = max(video.frame_types.rfind(kind, 0, t) for kind in ANCHOR_TYPES)
    if index < 0:
        raise ValueError(f"frame {t} has no anchor frame before it (types {video.frame_types!r})")
    return index


def next_anchor(video: Video, t: int) -> int | None:
    """Display index of the first I/P frame after frame ``t`` (None at the end).

    Introduced in notebook 02.
    """
    found = [i for i in (video.frame_types.find(k, t + 1) for k in ANCHOR_TYPES) if i >= 0]
    return min(found) if found else None


def compose(step_flow: np.ndarray, step_valid: np.ndarray, ref_flow: np.ndarray,
            ref_valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chain a one-step backward flow with the reference frame's flow to the keyframe.

    Introduced in notebook 02 (docs/codec.md#chaining-to-the-keyframe, sampled bilinearly).

    Args:
        step_flow, step_valid: (H, W, 2) float32 / (H, W) bool, frame t -> its reference a.
        ref_flow, ref_valid: (H, W, 2) / (H, W), frame a -> the keyframe.

    Returns:
        (H, W, 2) float32 flow t -> keyframe and its (H, W) bool validity.
    """
    sampled = warp(ref_flow, step_flow, "bilinear")
    landed = warp(ref_valid.astype(np.float32), step_flow, "bilinear") > 0.5
    return (step_flow + sampled).astype(np.float32), step_valid & landed


def prefer_valid(first: tuple[np.ndarray, np.ndarray],
                 second: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(flow, valid) taking ``first`` where it is valid and ``second`` where only it is valid.

    Introduced in notebook 02 (a B-frame's past chain, completed by its future chain).
    """
    use_second = ~first[1] & second[1]
    return np.where(use_second[..., None], second[0], first[0]), first[1] | second[1]


def step_flow(video: Video, t: int, direction: Direction = "past") -> tuple[np.ndarray, np.ndarray]:
    """One frame's dense flow to its past or future reference (see ``motion_vectors_to_flow``).

    Introduced in notebook 02.
    """
    return motion_vectors_to_flow(video.motion_vectors[t], video.height, video.width, direction)


def _check_video(video: Video, t: int) -> None:
    if not 0 <= t < len(video):
        raise IndexError(f"frame {t} is outside the video's {len(video)} frames")
    if set(video.frame_types) <= {"I"}:
        raise IntraOnlyVideoError(
            f"every frame of this video is an I-frame (types {video.frame_types[:24]!r}...): "
            f"there are no motion vectors to chain; re-encode with a longer GOP, e.g. "
            f"encode_video(video.frames, 'clip.mp4', gop=12)")
    if video.codec != "h264" or not any(len(m) for m in video.motion_vectors):
        raise NoMotionVectorsError(
            f"this {video.codec.upper()} video was read without motion vectors (read it with "
            f"read_video(path, motion_vectors=True), H.264 only); otherwise {REENCODE_HINT}")


def flow_to_keyframe(video: Video, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Backward flow from frame ``t`` to its GOP's I-frame, chained through reference frames.

    Introduced in notebook 02; AR-Seg warps the keyframe's features with it (notebook 04).

    Args:
        video: a ``Video`` from ``read_video`` (H.264, with motion vectors).
        t: display index of the frame.

    Returns:
        flow: (H, W, 2) float32 in pixels, x first:
            ``frame[t](x, y) ~ frame[key](x + flow[..., 0], y + flow[..., 1])``; zeros at I-frames.
        valid: (H, W) bool, False where the chain meets an intra block or leaves the frame
            (the flow there is the chaining formula's guess, built from zero-motion holes).

    Raises:
        IntraOnlyVideoError: every frame is an I-frame. NoMotionVectorsError: no vectors.
    """
    _check_video(video, t)
    if t in video.cache:
        return video.cache[t]
    key = video.keyframe_index(t)
    if t == key:
        result = (np.zeros((video.height, video.width, 2), np.float32),
                  np.ones((video.height, video.width), bool))
    else:
        past = previous_anchor(video, t)
        result = compose(*step_flow(video, t, "past"), *flow_to_keyframe(video, past))
        future = next_anchor(video, t) if video.frame_types[t] == "B" else None
        if future is not None and video.frame_types[future] == "P":
            other = compose(*step_flow(video, t, "future"), *flow_to_keyframe(video, future))
            result = prefer_valid(result, other)
    video.cache[t] = result
    return result


def flows_to_keyframe(video: Video) -> tuple[np.ndarray, np.ndarray]:
    """``flow_to_keyframe`` for every frame: (N, H, W, 2) float32 flows, (N, H, W) bool valid.

    Introduced in notebook 02.
    """
    pairs = [flow_to_keyframe(video, t) for t in range(len(video))]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
