"""Figures about compressed video: frame types, bytes per frame, decode order, motion vectors,
dense flow against the exact flow, warping to frame d, and error against the keyframe distance.

Introduced in notebooks 01 (frame types) and 02 (motion vectors).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from arseg_tutorial.codec.motion import endpoint_error, select_direction
from arseg_tutorial.viz import FIGURE_WIDTH_IN, SMALL_FONT_PT, add_class_legend, colorize_labels, flow_to_rgb, flow_wheel

FRAME_TYPE_COLOURS = {"I": "#D55E00", "P": "#0072B2", "B": "#009E73", "?": "#999999"}
"""Okabe-Ito colours per frame type (vermillion I, blue P, green B): colour-blind safe."""
HOLE_COLOUR = "#CC79A7"
"""Okabe-Ito reddish purple: pixels without a usable motion vector."""
FRAME_TYPE_NAMES = {"I": "I (intra, self-contained)", "P": "P (predicted from the past)",
                    "B": "B (bi-directional)", "?": "other"}
STRIP_LEGEND = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0)}
"""Where the frame-type strip's legend sits: right of the strip."""


def frame_type_legend(ax: Axes, frame_types: str, **kwargs) -> None:
    """Legend of the frame types present in ``frame_types``. Introduced in notebook 01."""
    handles = [Patch(color=FRAME_TYPE_COLOURS[k], label=FRAME_TYPE_NAMES[k])
               for k in "IPB?" if k in frame_types]
    ax.legend(handles=handles, **({"loc": "upper right", "fontsize": SMALL_FONT_PT} | kwargs))


def plot_frame_type_strip(ax: Axes, frame_types: str, title: str | None = None) -> None:
    """One coloured cell per frame in display order, lettered I/P/B. Introduced in notebook 01."""
    for index, kind in enumerate(frame_types):
        ax.add_patch(plt.Rectangle((index - 0.5, 0), 1, 1, color=FRAME_TYPE_COLOURS.get(kind, "#999"),
                                   ec="white", lw=1.5))
        if len(frame_types) <= 48:
            ax.text(index, 0.5, kind, ha="center", va="center", color="white", fontweight="bold")
    ax.set_xlim(-0.5, len(frame_types) - 0.5)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_xlabel("frame index (display order)")
    ax.set_title(title or f"frame types: {frame_types}")
    frame_type_legend(ax, frame_types, **STRIP_LEGEND)


def plot_packet_sizes(ax: Axes, packet_sizes: np.ndarray, frame_types: str,
                      title: str = "compressed size of each frame", legend: bool = True) -> None:
    """Bar chart of bytes per frame, coloured by frame type. Introduced in notebook 01."""
    colours = [FRAME_TYPE_COLOURS.get(k, "#999") for k in frame_types]
    ax.bar(np.arange(len(packet_sizes)), np.asarray(packet_sizes) / 1000.0, color=colours)
    ax.set_xlabel("frame index (display order)")
    ax.set_ylabel("compressed size (kB)")
    ax.set_title(title)
    ax.set_xlim(-0.5, len(packet_sizes) - 0.5)
    if legend:
        frame_type_legend(ax, frame_types, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def plot_gop_summary(frame_types: str, packet_sizes: np.ndarray, title: str) -> Figure:
    """Frame-type strip above the bytes-per-frame chart. Introduced in notebook 01."""
    fig, (strip, bars) = plt.subplots(2, 1, figsize=(FIGURE_WIDTH_IN, 4.2), constrained_layout=True,
                                      gridspec_kw={"height_ratios": [1, 3]}, sharex=True)
    plot_frame_type_strip(strip, frame_types, title="frame types (display order)")
    plot_packet_sizes(bars, packet_sizes, frame_types, legend=False)
    strip.get_legend().remove()                  # the key over the bars' empty corner: both panels keep the width
    frame_type_legend(bars, frame_types, loc="upper right")
    fig.suptitle(title)
    return fig


def plot_decode_order(frame_types: str, decode_order: np.ndarray,
                      title: str = "display order vs decode order") -> Figure:
    """Two rows of frames - display order above, bitstream (decode) order below - with arrows.

    Introduced in notebook 01. ``decode_order[k]`` is the display index of the k-th decoded frame.
    """
    count = len(frame_types)
    fig, ax = plt.subplots(figsize=(min(max(6, 0.6 * count), FIGURE_WIDTH_IN), 2.8), constrained_layout=True)
    for row, order in ((1.2, np.arange(count)), (0.0, np.asarray(decode_order))):
        for position, display_index in enumerate(order):
            kind = frame_types[display_index]
            ax.add_patch(plt.Rectangle((position - 0.4, row), 0.8, 0.6, color=FRAME_TYPE_COLOURS[kind]))
            ax.text(position, row + 0.3, f"{kind}{display_index}", ha="center", va="center",
                    color="white", fontsize=SMALL_FONT_PT, fontweight="bold")
    for position, display_index in enumerate(decode_order):
        ax.annotate("", xy=(position, 0.62), xytext=(display_index, 1.18),
                    arrowprops={"arrowstyle": "->", "color": "0.4", "lw": 0.8})
    ax.set_xlim(-0.6, count - 0.4)
    ax.set_ylim(-0.1, 1.9)
    ax.set_yticks([0.3, 1.5], ["decode order\n(in the file)", "display order\n(on screen)"])
    ax.set_xlabel("position in the sequence (label = type + display index)")
    ax.set_title(title)
    frame_type_legend(ax, frame_types, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def block_corners(mvs: np.ndarray) -> np.ndarray:
    """(n, 4, 2) corners (x, y) in pixel coordinates of each block of one frame's motion vectors."""
    left, top = mvs["dst_x"] - mvs["w"] / 2, mvs["dst_y"] - mvs["h"] / 2
    right, bottom = left + mvs["w"], top + mvs["h"]
    corners = np.stack([np.stack([left, top], 1), np.stack([right, top], 1),
                        np.stack([right, bottom], 1), np.stack([left, bottom], 1)], 1)
    return corners - 0.5


def block_outlines(mvs: np.ndarray) -> LineCollection:
    """The block grid of one frame's motion vectors, as line segments. Introduced in notebook 02."""
    return LineCollection(block_corners(mvs), colors="white", linewidths=0.4, alpha=0.6)


def hole_mask(valid: np.ndarray) -> np.ma.MaskedArray:
    """(H, W) ones where a pixel has no usable motion vector, masked elsewhere (drawn as holes)."""
    return np.ma.masked_where(valid, np.ones(valid.shape))


def motion_vector_arrows(ax: Axes, chosen: np.ndarray, arrow_gain: float = 1.0):
    """One yellow arrow per block, from its centre to where its content sits in the reference
    frame (``dst + motion``), ``arrow_gain`` times longer. Returns the ``Quiver``."""
    scale = np.maximum(chosen["motion_scale"], 1)
    return ax.quiver(chosen["dst_x"] - 0.5, chosen["dst_y"] - 0.5, chosen["motion_x"] / scale * arrow_gain,
                     chosen["motion_y"] / scale * arrow_gain, color="yellow", angles="xy", scale_units="xy",
                     scale=1, width=0.004, headwidth=4)


def draw_motion_vectors(ax: Axes, frame: np.ndarray, mvs: np.ndarray, valid: np.ndarray,
                        title: str, direction: str = "past", arrow_gain: float = 1.0,
                        legend_below: bool = False) -> None:
    """Frame with its block grid, intra holes hatched, and one arrow per block.

    Introduced in notebook 02. Each arrow starts at the block centre and points to where its
    content sits in the reference frame (``dst + motion``), scaled by ``arrow_gain``. The legend
    sits to the right of the frame, or under it if ``legend_below``.
    """
    height, width = frame.shape[:2]
    ax.imshow(frame)
    chosen = select_direction(mvs, direction)
    ax.add_collection(block_outlines(chosen))
    ax.imshow(hole_mask(valid), cmap=ListedColormap([HOLE_COLOUR]), alpha=0.6, vmin=0, vmax=1)
    motion_vector_arrows(ax, chosen, arrow_gain)
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.set_title(title)
    ax.set_xlabel("x (px)")
    ax.set_ylabel("y (px)")
    ax.legend(handles=[Patch(color="yellow", label=f"motion vector (x{arrow_gain:g})"),
                       Patch(facecolor="none", edgecolor="0.3", label="block"),
                       Patch(color=HOLE_COLOUR, alpha=0.6, label="no vector (intra / outside)")],
              fontsize=SMALL_FONT_PT, **(dict(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
                                         if legend_below else dict(loc="upper left", bbox_to_anchor=(1.01, 1.0))))


def plot_flow_comparison(flow: np.ndarray, valid: np.ndarray, exact_flow: np.ndarray,
                         exact_valid: np.ndarray, title: str, max_error_px: float = 2.0) -> Figure:
    """Codec flow | exact flow | endpoint error map (only where both are valid). Notebook 02."""
    scale = max(float(np.abs(exact_flow).max()), 1.0)
    error = np.where(valid & exact_valid, endpoint_error(flow, exact_flow), np.nan)
    height, width = flow.shape[:2]
    fig, axes = plt.subplots(2, 2, figsize=(FIGURE_WIDTH_IN * 0.85, 2 * 3.6 * height / width + 1.2),
                             constrained_layout=True)
    for ax, image, name in ((axes[0, 0], flow_to_rgb(flow, scale), "flow from motion vectors"),
                            (axes[0, 1], flow_to_rgb(exact_flow, scale), "exact flow (generator)")):
        ax.imshow(image)
        ax.set_title(name)
    shown = axes[1, 0].imshow(error, cmap="magma", vmin=0, vmax=max_error_px)
    fig.colorbar(shown, ax=axes[1, 0], label="endpoint error (px)", shrink=0.8)
    axes[1, 0].set_title(f"error, mean {np.nanmean(error):.2f} px\n(grey = invalid in either)")
    axes[1, 0].set_facecolor("0.6")
    for ax in axes.flat[:3]:
        ax.set_xlabel("x (px)")
        ax.set_ylabel("y (px)")
    axes[1, 1].axis("off")
    flow_wheel(axes[1, 1].inset_axes([0.2, 0.1, 0.6, 0.8]), scale)
    fig.suptitle(title)
    return fig


def plot_warp_to_distance(key_frame: np.ndarray, key_labels: np.ndarray, frame: np.ndarray,
                          labels: np.ndarray, warped_frame: np.ndarray, warped_labels: np.ndarray,
                          distance: int) -> Figure:
    """Keyframe, keyframe warped to frame d, and the true frame d: images above, labels below."""
    height, width = frame.shape[:2]
    fig, axes = plt.subplots(2, 3, figsize=(FIGURE_WIDTH_IN, 2 * 2.9 * height / width + 1.6), constrained_layout=True)
    columns = (("keyframe (d = 0)", key_frame, key_labels, "its labels"),
               (f"keyframe warped to d = {distance}", warped_frame, warped_labels, "its labels, warped"),
               (f"true frame d = {distance}", frame, labels, "its true labels"))
    for col, (name, image, label_map, label_name) in enumerate(columns):
        axes[0, col].imshow(image)
        axes[0, col].set_title(name, fontsize=SMALL_FONT_PT + 1)
        axes[1, col].imshow(colorize_labels(label_map))
        axes[1, col].set_title(label_name, fontsize=SMALL_FONT_PT + 1)
        axes[1, col].set_xlabel("x (px)")
    for row in range(2):
        axes[row, 0].set_ylabel("y (px)")
    add_class_legend(fig, loc="outside lower center", bbox_to_anchor=None)
    fig.suptitle(f"warping the keyframe with the chained motion vectors (d = {distance})")
    return fig


def plot_error_vs_distance(distances: Sequence[int], curves: Mapping[str, Sequence[float]],
                           ylabel: str, title: str, ax: Axes | None = None) -> Figure:
    """One line per method against the distance d from the keyframe. Introduced in notebook 02."""
    fig = ax.figure if ax is not None else plt.subplots(figsize=(6.5, 3.8), constrained_layout=True)[0]
    ax = ax if ax is not None else fig.axes[0]
    markers = iter("osD^v")
    for name, values in curves.items():
        ax.plot(distances, values, marker=next(markers), label=name)
    ax.set_xlabel("distance d from the keyframe (frames)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=SMALL_FONT_PT)
    return fig


def plot_prediction_residual(previous: np.ndarray, prediction: np.ndarray, current: np.ndarray,
                             title: str, max_error: float = 40.0) -> Figure:
    """What a P-frame codes: the previous frame, its motion-compensated prediction of the
    current frame, the current frame, and the residual |current - prediction|.

    Introduced in notebook 01.

    Args:
        previous, prediction, current: (H, W, 3) uint8 frames.
        max_error: residual (mean over RGB, grey levels) drawn at full colour.
    """
    residual = np.abs(current.astype(np.int16) - prediction.astype(np.int16)).mean(axis=-1)
    difference = np.abs(current.astype(np.int16) - previous.astype(np.int16)).mean(axis=-1)
    height, width = current.shape[:2]
    panel_in = FIGURE_WIDTH_IN / 3.2
    fig, axes = plt.subplots(2, 3, figsize=(FIGURE_WIDTH_IN, 2 * panel_in * height / width + 1.5), constrained_layout=True)
    panels = [(previous, "previous frame t-1"), (prediction, "prediction: t-1 moved\nalong frame t's vectors"),
              (current, "frame t"), (difference, f"|frame t - frame t-1|\nmean {difference.mean():.1f}"),
              (residual, f"residual |frame t - prediction|\nmean {residual.mean():.1f}")]
    axes = axes.ravel()
    axes[5].axis("off")                          # the residuals' colour bar sits at its left edge
    for ax, (image, name) in zip(axes, panels):
        shown = ax.imshow(image, cmap="magma", vmin=0, vmax=max_error) if image.ndim == 2 else ax.imshow(image)
        ax.set_title(name, fontsize=SMALL_FONT_PT)
        ax.set_xlabel("x (px)", fontsize=SMALL_FONT_PT)
        ax.tick_params(labelsize=SMALL_FONT_PT)
    for ax in (axes[0], axes[3]):
        ax.set_ylabel("y (px)", fontsize=SMALL_FONT_PT)
    fig.colorbar(shown, cax=axes[5].inset_axes([0.0, 0.08, 0.07, 0.84]), label="grey levels (mean over R, G, B)")
    fig.suptitle(title)
    return fig
