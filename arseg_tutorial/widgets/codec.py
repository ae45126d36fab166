"""The two codec explorers: GOP settings -> frame types and bytes (notebook 01), and a frame
scrubber with motion-vector overlays (notebook 02).

Introduced in notebooks 01 and 02. Built like every explorer (see ``arseg_tutorial.widgets``):
``*_state`` computes numbers and arrays (tested), ``*_update`` draws one state (the static figure
of the notebook), and the face puts ipywidgets controls over ``*_update`` with ``build_explorer``.
"""
from __future__ import annotations

import hashlib

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from arseg_tutorial.codec import (Video, encode_to_bytes, endpoint_error, flow_to_keyframe,
                                  motion_vectors_to_flow, read_video, warp)
from arseg_tutorial.viz import add_class_legend, colorize_labels, flow_to_rgb
from arseg_tutorial.viz.codec import draw_motion_vectors, plot_frame_type_strip, plot_packet_sizes
from arseg_tutorial.widgets import build_explorer

SCRUBBER_OVERLAYS = ("chained flow to keyframe", "error vs exact flow", "keyframe labels warped",
                     "keyframe image warped")
_ENCODED: dict[tuple[str, int, int], dict] = {}


def gop_explorer_state(frames: np.ndarray, gop_length: int = 12, bframes: int = 0) -> dict:
    """Encode ``frames`` with these GOP settings and measure the result (memoised).

    Introduced in notebook 01.

    Args:
        frames: (N, H, W, 3) uint8 clip.
        gop_length: frames per GOP (1 = every frame an I-frame).
        bframes: B-frames between anchors; limited to ``gop_length - 2`` (needs an I and a P).

    Returns:
        dict with "frame_types" (str), "packet_sizes" (N,) bytes, "file_bytes" (int, MP4 size),
        "intra_only_bytes" (MP4 size with gop_length=1, for comparison), "bframes" (as used).
    """
    bframes = int(min(bframes, max(gop_length - 2, 0)))
    intra_only = _encoded(frames, 1, 0)
    return _encoded(frames, int(gop_length), bframes) | {"intra_only_bytes": intra_only["file_bytes"]}


def _encoded(frames: np.ndarray, gop_length: int, bframes: int) -> dict:
    key = (hashlib.blake2b(np.ascontiguousarray(frames).tobytes(), digest_size=16).hexdigest(),
           gop_length, bframes)
    if key not in _ENCODED:
        data = encode_to_bytes(frames, gop=gop_length, bframes=bframes)
        video = read_video(data, motion_vectors=False)
        _ENCODED[key] = {"frame_types": video.frame_types, "packet_sizes": video.packet_sizes,
                         "file_bytes": len(data), "bframes": bframes}
    return _ENCODED[key]


def gop_explorer_update(frames: np.ndarray, gop_length: int = 12, bframes: int = 0) -> Figure:
    """Frame-type strip, bytes per frame and file size for one GOP setting. Notebook 01."""
    state = gop_explorer_state(frames, gop_length, bframes)
    fig, axes = plt.subplots(2, 2, figsize=(12, 4.6), constrained_layout=True,
                             gridspec_kw={"height_ratios": [1, 3], "width_ratios": [5, 1.3]})
    plot_frame_type_strip(axes[0, 0], state["frame_types"], title="frame types (display order)")
    plot_packet_sizes(axes[1, 0], state["packet_sizes"], state["frame_types"], legend=False)
    axes[0, 1].axis("off")
    sizes_kb = [state["file_bytes"] / 1000, state["intra_only_bytes"] / 1000]
    axes[1, 1].bar(["this GOP", "all I"], sizes_kb, color=["#0072B2", "#D55E00"])
    axes[1, 1].set_ylabel("MP4 file size (kB)")
    axes[1, 1].set_title(f"file: {sizes_kb[0]:.1f} kB\n({100 * sizes_kb[0] / sizes_kb[1]:.0f} % of all-I)",
                         fontsize="small")
    note = "" if state["bframes"] == bframes else f" (B-frames limited to {state['bframes']})"
    fig.suptitle(f"GOP length {gop_length}, {state['bframes']} B-frames{note}")
    return fig


def gop_explorer(frames: np.ndarray):
    """Face of the GOP explorer: sliders for GOP length and B-frames. Introduced in notebook 01."""
    import ipywidgets as widgets

    controls = {
        "gop_length": widgets.IntSlider(value=12, min=1, max=24, description="GOP length",
                                        continuous_update=False),
        "bframes": widgets.IntSlider(value=0, min=0, max=3, description="B-frames",
                                     continuous_update=False),
    }
    return build_explorer(gop_explorer_update, controls, frames=frames)


def frame_scrubber_state(video: Video, clip, t: int) -> dict:
    """Everything the scrubber shows for frame ``t`` (display index in the video's first GOP).

    Introduced in notebook 02.

    Returns:
        dict with "step_flow" / "step_valid" (frame t -> its reference), "chained_flow" /
        "chained_valid" (t -> keyframe), "error_px" (H, W) endpoint error of the chained flow
        against ``clip.flow_key[t]`` (NaN where either is invalid), "mean_error_px",
        "warped_frame" and "warped_labels" (keyframe warped to t).
    """
    if not 0 <= t < len(video):
        raise ValueError(f"t={t} is outside the video: use 0 <= t <= {len(video) - 1}")
    key = video.keyframe_index(t)
    step = motion_vectors_to_flow(video.motion_vectors[t], video.height, video.width)
    chained_flow, chained_valid = flow_to_keyframe(video, t)
    both = chained_valid & clip.valid_key[t]
    error = np.where(both, endpoint_error(chained_flow, clip.flow_key[t]), np.nan)
    return {"step_flow": step[0], "step_valid": step[1], "chained_flow": chained_flow,
            "chained_valid": chained_valid, "error_px": error,
            "mean_error_px": float(np.nanmean(error)) if both.any() else float("nan"),
            "warped_frame": warp(video.frames[key], chained_flow),
            "warped_labels": warp(clip.labels[key], chained_flow, "nearest")}


def frame_scrubber_update(video: Video, clip, t: int = 11,
                          overlay: str = SCRUBBER_OVERLAYS[0]) -> Figure:
    """Frame t with its motion vectors (left) and one overlay (right). Introduced in notebook 02."""
    if overlay not in SCRUBBER_OVERLAYS:
        raise ValueError(f"overlay must be one of {SCRUBBER_OVERLAYS}, got {overlay!r}")
    state = frame_scrubber_state(video, clip, t)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.2), constrained_layout=True)
    draw_motion_vectors(left, video.frames[t], video.motion_vectors[t], state["step_valid"],
                        f"frame {t} ({video.frame_types[t]}): its motion vectors", arrow_gain=3)
    scale = max(float(np.abs(clip.flow_key).max()), 1.0)
    if overlay == "chained flow to keyframe":
        right.imshow(flow_to_rgb(state["chained_flow"], scale))
        right.set_title(f"flow to the keyframe, chained (colour wheel, {scale:.0f} px = full)")
    elif overlay == "error vs exact flow":
        shown = right.imshow(state["error_px"], cmap="magma", vmin=0, vmax=3)
        right.set_facecolor("0.6")
        fig.colorbar(shown, ax=right, label="endpoint error (px)", shrink=0.8)
        right.set_title(f"chained flow error, mean {state['mean_error_px']:.2f} px (grey = invalid)")
    elif overlay == "keyframe labels warped":
        right.imshow(colorize_labels(state["warped_labels"]))
        right.set_title(f"keyframe labels warped to frame {t}")
        add_class_legend(right, fontsize="x-small")
    else:
        right.imshow(state["warped_frame"])
        right.set_title(f"keyframe image warped to frame {t}")
    right.set_xlabel("x (px)")
    right.set_ylabel("y (px)")
    fig.suptitle(f"frame scrubber: t = {t}, distance to the keyframe d = {t - video.keyframe_index(t)}")
    return fig


def frame_scrubber(video: Video, clip):
    """Face of the scrubber: a frame slider and an overlay menu. Introduced in notebook 02."""
    import ipywidgets as widgets

    controls = {
        "t": widgets.IntSlider(value=len(video) - 1, min=0, max=len(video) - 1,
                               description="frame t", continuous_update=False),
        "overlay": widgets.Dropdown(options=SCRUBBER_OVERLAYS, value=SCRUBBER_OVERLAYS[0],
                                    description="overlay"),
    }
    return build_explorer(frame_scrubber_update, controls, video=video, clip=clip)
