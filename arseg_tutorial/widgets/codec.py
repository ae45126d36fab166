"""The two codec explorers: GOP settings -> frame types and bytes (notebook 01), and a frame
scrubber with motion-vector overlays (notebook 02).

Introduced in notebooks 01 and 02. Built like every explorer (see ``arseg_tutorial.widgets``):
``*_state`` computes numbers and arrays (tested), ``*_update`` draws one state (the static figure
of the notebook), and the face puts ipywidgets controls over a live view of that figure
(``GopExplorerView``, ``FrameScrubberView``; see ``widgets.live``).
"""
from __future__ import annotations

import hashlib

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from arseg_tutorial.codec import (Video, encode_to_bytes, endpoint_error, flow_to_keyframe,
                                  motion_vectors_to_flow, read_video, warp)
from arseg_tutorial.viz import FIGURE_WIDTH_IN, SMALL_FONT_PT, add_class_legend, colorize_labels, flow_to_rgb, flow_wheel
from arseg_tutorial.codec.motion import select_direction
from arseg_tutorial.viz.codec import (FRAME_TYPE_COLOURS, FRAME_TYPE_NAMES, STRIP_LEGEND, block_corners, draw_motion_vectors,
                                      frame_type_legend, hole_mask, motion_vector_arrows, plot_frame_type_strip,
                                      plot_packet_sizes)
from arseg_tutorial.widgets.live import EXPLORER_DPI, LiveView, live_face, with_spines

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
    bframes = _usable_bframes(gop_length, bframes)
    intra_only = _encoded(frames, 1, 0)
    return _encoded(frames, int(gop_length), bframes) | {"intra_only_bytes": intra_only["file_bytes"]}


def _usable_bframes(gop_length: int, bframes: int) -> int:
    return int(min(bframes, max(gop_length - 2, 0)))


def _encoding_key(frames: np.ndarray, gop_length: int, bframes: int) -> tuple[str, int, int]:
    return (hashlib.blake2b(np.ascontiguousarray(frames).tobytes(), digest_size=16).hexdigest(),
            int(gop_length), int(bframes))


def _encoded(frames: np.ndarray, gop_length: int, bframes: int) -> dict:
    key = _encoding_key(frames, gop_length, bframes)
    if key not in _ENCODED:
        data = encode_to_bytes(frames, gop=gop_length, bframes=bframes)
        video = read_video(data, motion_vectors=False)
        _ENCODED[key] = {"frame_types": video.frame_types, "packet_sizes": video.packet_sizes,
                         "file_bytes": len(data), "bframes": bframes}
    return _ENCODED[key]


def gop_explorer_update(frames: np.ndarray, gop_length: int = 12, bframes: int = 0) -> Figure:
    """Frame-type strip, bytes per frame and file size for one GOP setting. Notebook 01."""
    state = gop_explorer_state(frames, gop_length, bframes)
    fig, axes = plt.subplots(2, 2, figsize=(FIGURE_WIDTH_IN, 4.6), constrained_layout=True,
                             gridspec_kw={"height_ratios": [1, 3], "width_ratios": [5, 1.8]})
    plot_frame_type_strip(axes[0, 0], state["frame_types"], title="frame types (display order)")
    axes[0, 0].get_legend().set_in_layout(False)        # it sits over the empty cell to the right
    plot_packet_sizes(axes[1, 0], state["packet_sizes"], state["frame_types"], legend=False)
    axes[0, 1].axis("off")
    sizes_kb = [state["file_bytes"] / 1000, state["intra_only_bytes"] / 1000]
    axes[1, 1].bar(["this GOP", "all I"], sizes_kb, color=["#0072B2", "#D55E00"])
    axes[1, 1].set_ylabel("MP4 file size (kB)")
    axes[1, 1].set_title(_file_size_title(sizes_kb), fontsize=SMALL_FONT_PT)
    fig.suptitle(_gop_title(state, gop_length, bframes))
    return fig


def _file_size_title(sizes_kb: list[float]) -> str:
    return f"file: {sizes_kb[0]:.1f} kB\n({100 * sizes_kb[0] / sizes_kb[1]:.0f} % of all-I)"


def _gop_title(state: dict, gop_length: int, bframes: int) -> str:
    note = "" if state["bframes"] == bframes else f" (B-frames limited to {state['bframes']})"
    return f"GOP length {gop_length}, {state['bframes']} B-frames{note}"


class GopExplorerView(LiveView):
    """The GOP explorer's live face: one ``gop_explorer_update`` figure changed in place.

    Introduced in notebook 01. Each GOP setting is encoded once, when first asked for
    (``gop_explorer_state`` memoises it); ``pending`` says when a setting still needs encoding.

    Args:
        frames: (N, H, W, 3) uint8 clip.
        gop_length, bframes: the first setting drawn.
    """

    def __init__(self, frames: np.ndarray, gop_length: int = 12, bframes: int = 0, dpi: int = EXPLORER_DPI):
        self.frames = frames
        self._states: dict[tuple[int, int], dict] = {}
        super().__init__(gop_explorer_update(frames, gop_length, bframes), dpi)
        self.strip, _, self.bars, self.sizes = self.figure.axes
        self._fixed = [*with_spines(self.strip), self.bars, *with_spines(self.sizes, self.sizes.title),
                       self.figure._suptitle]

    def pending(self, gop_length: int, bframes: int) -> str | None:
        if (gop_length, bframes) in self._states:
            return None
        key = _encoding_key(self.frames, gop_length, _usable_bframes(gop_length, bframes))
        return None if key in _ENCODED else f"encoding the clip with GOP length {gop_length}, {bframes} B-frames"

    def state(self, gop_length: int, bframes: int) -> dict:
        """``gop_explorer_state(frames, gop_length, bframes)``, looked up once per setting."""
        if (gop_length, bframes) not in self._states:
            self._states[gop_length, bframes] = gop_explorer_state(self.frames, gop_length, bframes)
        return self._states[gop_length, bframes]

    def set_state(self, gop_length: int, bframes: int) -> dict:
        """Draw the setting (GOP length, B-frames) into the figure; returns its state."""
        state = self.state(gop_length, bframes)
        shown_types = "".join(text.get_text() for text in self.strip.get_legend().get_texts())
        colours = [FRAME_TYPE_COLOURS.get(kind, "#999") for kind in state["frame_types"]]
        for cell, text, kind, colour in zip(self.strip.patches, self.strip.texts, state["frame_types"], colours):
            cell.set_facecolor(colour)
            text.set_text(kind)
        if shown_types != "".join(FRAME_TYPE_NAMES[kind] for kind in "IPB?" if kind in state["frame_types"]):
            self.strip.get_legend().remove()
            frame_type_legend(self.strip, state["frame_types"], **STRIP_LEGEND)
            self.strip.get_legend().set_in_layout(False)
        for bar, size, colour in zip(self.bars.patches, state["packet_sizes"], colours):
            bar.set_height(size / 1000.0)
            bar.set_facecolor(colour)
        sizes_kb = [state["file_bytes"] / 1000, state["intra_only_bytes"] / 1000]
        for bar, size in zip(self.sizes.patches, sizes_kb):
            bar.set_height(size)
        self.sizes.set_title(_file_size_title(sizes_kb), fontsize=SMALL_FONT_PT)
        for ax in (self.bars, self.sizes):
            ax.relim()
            ax.autoscale_view(scalex=False)
        self.figure.suptitle(_gop_title(state, gop_length, bframes))
        return state

    def dynamic_artists(self) -> list:
        return [*self.strip.patches, *self.strip.texts, self.strip.get_legend(), *self.sizes.patches, *self._fixed]

    def background_key(self) -> tuple:
        return self.sizes.get_ylim()


def gop_explorer(frames: np.ndarray):
    """Face of the GOP explorer: sliders for GOP length and B-frames. Introduced in notebook 01."""
    import ipywidgets as widgets

    controls = {
        "gop_length": widgets.IntSlider(value=12, min=1, max=24, description="GOP length",
                                        continuous_update=False),
        "bframes": widgets.IntSlider(value=0, min=0, max=3, description="B-frames",
                                     continuous_update=False),
    }
    view = GopExplorerView(frames, controls["gop_length"].value, controls["bframes"].value)
    return live_face(view.render_png, controls, view.pending)


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
    fig, (left, right) = plt.subplots(1, 2, figsize=(FIGURE_WIDTH_IN, 5.2), constrained_layout=True)
    draw_motion_vectors(left, video.frames[t], video.motion_vectors[t], state["step_valid"],
                        _motion_title(video, t), arrow_gain=ARROW_GAIN, legend_below=True)
    scale = _flow_scale(clip)
    if overlay == "error vs exact flow":
        shown = right.imshow(state["error_px"], cmap="magma", vmin=0, vmax=3)
        right.set_facecolor("0.6")
        fig.colorbar(shown, ax=right, label="endpoint error (px)", shrink=0.8)
    else:
        right.imshow(_overlay_image(state, overlay, scale))
    if overlay == "chained flow to keyframe":
        flow_wheel(right.inset_axes([1.24, 0.25, 0.3, 0.5]), scale)
    if overlay == "keyframe labels warped":
        add_class_legend(right, fontsize=SMALL_FONT_PT, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=4,
                         frameon=False)
    right.set_title(_overlay_title(state, overlay, t, scale))
    right.set_xlabel("x (px)")
    right.set_ylabel("y (px)")
    fig.suptitle(_scrubber_title(video, t))
    return fig


ARROW_GAIN = 3
"""Motion vectors are drawn this many times longer than they are (they are a few pixels)."""


def _flow_scale(clip) -> float:
    return max(float(np.abs(clip.flow_key).max()), 1.0)


def _motion_title(video: Video, t: int) -> str:
    return f"frame {t} ({video.frame_types[t]}): its motion vectors"


def _scrubber_title(video: Video, t: int) -> str:
    return f"frame scrubber: t = {t}, distance to the keyframe d = {t - video.keyframe_index(t)}"


def _overlay_image(state: dict, overlay: str, scale: float) -> np.ndarray:
    images = {"chained flow to keyframe": lambda: flow_to_rgb(state["chained_flow"], scale),
              "error vs exact flow": lambda: state["error_px"],
              "keyframe labels warped": lambda: colorize_labels(state["warped_labels"]),
              "keyframe image warped": lambda: state["warped_frame"]}
    return images[overlay]()


def _overlay_title(state: dict, overlay: str, t: int, scale: float) -> str:
    titles = {"chained flow to keyframe": f"flow to the keyframe, chained\n(key: full colour = {scale:.0f} px)",
              "error vs exact flow": f"chained flow error, mean {state['mean_error_px']:.2f} px\n(grey = invalid)",
              "keyframe labels warped": f"keyframe labels warped to frame {t}",
              "keyframe image warped": f"keyframe image warped to frame {t}"}
    return titles[overlay]


class _ScrubberFigure(LiveView):
    """One overlay's ``frame_scrubber_update`` figure, changed in place from frame to frame."""

    def __init__(self, scrubber: "FrameScrubberView", t: int, overlay: str, dpi: int):
        self.scrubber, self.overlay = scrubber, overlay
        super().__init__(frame_scrubber_update(scrubber.video, scrubber.clip, t, overlay), dpi)
        self.left, self.right = self.figure.axes[:2]
        self._fixed = [*with_spines(self.left, *self.left.images, self.left.collections[0], self.left.title),
                       *with_spines(self.right, self.right.images[0], self.right.title), self.figure._suptitle]

    def set_state(self, t: int) -> None:
        video, state = self.scrubber.video, self.scrubber.state(t)
        frame_image, holes = self.left.images
        frame_image.set_data(video.frames[t])
        holes.set_data(hole_mask(state["step_valid"]))
        chosen = select_direction(video.motion_vectors[t], "past")
        self.left.collections[0].set_segments(block_corners(chosen))
        self.left.collections[1].remove()          # the arrows: their number changes with the frame
        motion_vector_arrows(self.left, chosen, ARROW_GAIN)
        self.left.set_title(_motion_title(video, t))
        scale = self.scrubber.flow_scale
        self.right.images[0].set_data(_overlay_image(state, self.overlay, scale))
        self.right.set_title(_overlay_title(state, self.overlay, t, scale))
        self.figure.suptitle(_scrubber_title(video, t))

    def dynamic_artists(self) -> list:
        return [*self._fixed, self.left.collections[1]]


class FrameScrubberView:
    """The scrubber's live face: one figure per overlay, each made when first shown and then
    changed in place; each frame's state is computed once.

    Introduced in notebook 02.

    Args:
        video: the decoded video (with motion vectors).
        clip: the generator's clip (exact flow and labels).
    """

    def __init__(self, video: Video, clip, dpi: int = EXPLORER_DPI):
        self.video, self.clip, self.dpi = video, clip, dpi
        self.flow_scale = _flow_scale(clip)
        self._states: dict[int, dict] = {}
        self.figures: dict[str, _ScrubberFigure] = {}

    def state(self, t: int) -> dict:
        """``frame_scrubber_state(video, clip, t)``, computed once per frame."""
        if t not in self._states:
            self._states[t] = frame_scrubber_state(self.video, self.clip, t)
        return self._states[t]

    def pending(self, t: int, overlay: str) -> str | None:
        return None if overlay in self.figures else f"drawing the overlay '{overlay}'"

    def render_png(self, t: int, overlay: str) -> bytes:
        """PNG bytes of frame ``t`` with ``overlay`` (one of ``SCRUBBER_OVERLAYS``)."""
        if overlay not in SCRUBBER_OVERLAYS:
            raise ValueError(f"overlay must be one of {SCRUBBER_OVERLAYS}, got {overlay!r}")
        if overlay not in self.figures:
            self.figures[overlay] = _ScrubberFigure(self, t, overlay, self.dpi)
        return self.figures[overlay].render_png(t=t)


def frame_scrubber(video: Video, clip):
    """Face of the scrubber: a frame slider and an overlay menu. Introduced in notebook 02."""
    import ipywidgets as widgets

    controls = {
        "t": widgets.IntSlider(value=len(video) - 1, min=0, max=len(video) - 1,
                               description="frame t", continuous_update=False),
        "overlay": widgets.Dropdown(options=SCRUBBER_OVERLAYS, value=SCRUBBER_OVERLAYS[0],
                                    description="overlay"),
    }
    view = FrameScrubberView(video, clip)
    return live_face(view.render_png, controls, view.pending)
