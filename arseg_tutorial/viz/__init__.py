"""Shared figure helpers: label colours and legend, the optical-flow colour wheel, small multiples.

Introduced in notebook 00 and used by every notebook. Segmentation maps are always drawn with the
one palette of ``arseg_tutorial.scenes`` (ignore = black) and a class legend; optical flow with the
standard colour wheel (hue = direction, saturation = magnitude; Baker et al., Middlebury).
Topic-specific figures live beside this module (``viz.codec``, ``viz.models``, ``viz.training``).
"""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from arseg_tutorial.scenes.classes import CLASS_NAMES, IGNORE_COLOR, IGNORE_LABEL, NUM_CLASSES, PALETTE

SMALL_FONT_PT = 9
"""The smallest text of any figure (titles, legends, tick labels): 9 pt, 12.5 px in a 100 dpi PNG."""
FIGURE_WIDTH_IN = 9.2
"""The widest figure: 920 px at 100 dpi, shown unscaled in JupyterLab on a laptop's 1366-px-wide
window (outputs there are 934 px wide), so that ``SMALL_FONT_PT`` text stays 9 pt as shown. Wider
content is stacked in rows. The test suite holds the notebooks' figures (``conftest.py``) and the
explorers (``tests/test_live_views.py``) to it."""

__all__ = ["SMALL_FONT_PT", "FIGURE_WIDTH_IN", "colorize_labels", "class_legend_handles", "add_class_legend", "flow_to_rgb", "flow_wheel",
           "show_images", "plot_clip_overview", "draw_arseg_overview"]


def colorize_labels(labels: np.ndarray) -> np.ndarray:
    """Colour a label map with the project palette.

    Introduced in notebook 00.

    Args:
        labels: (..., H, W) integer class indices 0..10, or 255 (ignore, drawn black).
    Returns:
        (..., H, W, 3) uint8 RGB.
    Raises:
        ValueError: non-integer labels or values that are neither a class nor 255.
    """
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers (class indices), got dtype {labels.dtype}; "
                         "take argmax over the class axis of scores first")
    bad = (labels != IGNORE_LABEL) & ((labels < 0) | (labels >= NUM_CLASSES))
    if bad.any():
        raise ValueError(f"labels contain {np.unique(labels[bad])[:5].tolist()}: valid values are "
                         f"0..{NUM_CLASSES - 1} and {IGNORE_LABEL} (ignore)")
    lut = np.zeros((256, 3), np.uint8)
    lut[:NUM_CLASSES] = PALETTE
    lut[IGNORE_LABEL] = IGNORE_COLOR
    return lut[labels.astype(np.uint8)]


def class_legend_handles(classes: Sequence[int] | None = None, ignore: bool = True) -> list[Patch]:
    """Legend patches for ``classes`` (default: all 11), plus the ignore colour if ``ignore``.

    Introduced in notebook 00.
    """
    chosen = range(NUM_CLASSES) if classes is None else classes
    handles = [Patch(facecolor=PALETTE[c] / 255.0, edgecolor="none", label=CLASS_NAMES[c]) for c in chosen]
    if ignore:
        handles.append(Patch(facecolor=np.array(IGNORE_COLOR) / 255.0, edgecolor="none", label="ignore (255)"))
    return handles


def add_class_legend(target, classes: Sequence[int] | None = None, ignore: bool = True, **legend_kwargs):
    """Add the class legend to an Axes (to its right) or to a Figure (below the panels).

    Introduced in notebook 00.

    Args:
        target: a matplotlib Axes or Figure.
        classes: class indices to list (default all); ignore: also list the ignore colour.
        legend_kwargs: passed to ``legend`` (override placement, font size, ...).
    Returns:
        The matplotlib Legend.
    """
    handles = class_legend_handles(classes, ignore)
    if isinstance(target, Figure):
        options = dict(loc="lower center", ncol=min(len(handles), 6), fontsize=SMALL_FONT_PT, frameon=False,
                       bbox_to_anchor=(0.5, -0.02))
        options.update(legend_kwargs)
        return target.legend(handles=handles, **options)
    options = dict(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=SMALL_FONT_PT, frameon=False)
    options.update(legend_kwargs)
    return target.legend(handles=handles, **options)


def _colour_wheel() -> np.ndarray:
    """(55, 3) float colours of the Middlebury flow wheel (red, yellow, green, cyan, blue, magenta)."""
    segments = ((15, (255, 0, 0), (255, 255, 0)), (6, (255, 255, 0), (0, 255, 0)), (4, (0, 255, 0), (0, 255, 255)),
                (11, (0, 255, 255), (0, 0, 255)), (13, (0, 0, 255), (255, 0, 255)), (6, (255, 0, 255), (255, 0, 0)))
    rows = []
    for n, start, end in segments:
        ramp = np.arange(n)[:, None] / n
        rows.append((1 - ramp) * np.array(start) + ramp * np.array(end))
    return np.concatenate(rows) / 255.0


def flow_to_rgb(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Colour optical flow: hue = direction, saturation = magnitude (white = no motion).

    Introduced in notebook 00.

    Args:
        flow: (..., H, W, 2) flow in pixels, (dx, dy).
        max_magnitude: magnitude (px) drawn fully saturated; default the largest in ``flow``.
    Returns:
        (..., H, W, 3) uint8 RGB.
    """
    flow = np.asarray(flow, np.float32)
    if flow.shape[-1] != 2:
        raise ValueError(f"flow must end in a (dx, dy) axis of size 2, got shape {flow.shape}")
    dx, dy = flow[..., 0], flow[..., 1]
    magnitude = np.hypot(dx, dy)
    scale = float(magnitude.max()) if max_magnitude is None else float(max_magnitude)
    radius = np.clip(magnitude / max(scale, 1e-6), 0.0, 1.0)
    wheel = _colour_wheel()
    position = (np.arctan2(-dy, -dx) / np.pi + 1.0) / 2.0 * (len(wheel) - 1)
    i0 = np.floor(position).astype(np.int64)
    frac = (position - i0)[..., None]
    colour = (1 - frac) * wheel[i0] + frac * wheel[(i0 + 1) % len(wheel)]
    rgb = 1.0 - radius[..., None] * (1.0 - colour)
    return (255.0 * rgb + 0.5).astype(np.uint8)


def flow_wheel(ax, max_magnitude: float, size: int = 101) -> None:
    """Draw the flow colour key into ``ax`` (an inset is a good place), labelled in pixels.

    Introduced in notebook 00.
    """
    axis = np.linspace(-max_magnitude, max_magnitude, size, dtype=np.float32)
    grid = np.stack(np.meshgrid(axis, axis), -1)
    image = flow_to_rgb(grid, max_magnitude)
    image[np.hypot(grid[..., 0], grid[..., 1]) > max_magnitude] = 255
    ax.imshow(image, extent=(-max_magnitude, max_magnitude, max_magnitude, -max_magnitude))
    ax.set_xlabel("dx (px)", fontsize=SMALL_FONT_PT)
    ax.set_ylabel("dy (px)", fontsize=SMALL_FONT_PT)
    ax.tick_params(labelsize=SMALL_FONT_PT)
    ax.set_title("flow key", fontsize=SMALL_FONT_PT)


def show_images(images: Sequence[np.ndarray], titles: Sequence[str] | None = None, ncols: int | None = None,
                panel_size: float = 3.0, suptitle: str | None = None, cmap: str | None = None) -> tuple[Figure, np.ndarray]:
    """Small multiples: images on a grid with titles, pixel axes labelled on the outer panels.

    Introduced in notebook 00.

    Args:
        images: each (H, W, 3) uint8/float RGB or (H, W) scalar (drawn with ``cmap``).
        titles: one per image; ncols: panels per row (default all in one row, at most 4).
        panel_size: inches per panel width, at most ``FIGURE_WIDTH_IN`` / ncols; suptitle: figure title.
    Returns:
        (figure, 2-D array of axes).
    """
    if len(images) == 0:
        raise ValueError("show_images needs at least one image")
    ncols = ncols or min(len(images), 4)
    nrows = -(-len(images) // ncols)
    panel_size = min(panel_size, FIGURE_WIDTH_IN / ncols)
    height, width = np.asarray(images[0]).shape[:2]
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, constrained_layout=True,
                             figsize=(panel_size * ncols, panel_size * nrows * height / width + 0.6))
    for index, ax in enumerate(axes.flat):
        if index >= len(images):
            ax.axis("off")
            continue
        ax.imshow(images[index], cmap=cmap)
        if titles is not None:
            ax.set_title(titles[index], fontsize=SMALL_FONT_PT)
        row, col = divmod(index, ncols)
        ax.set_xlabel("x (px)" if row == nrows - 1 else "", fontsize=SMALL_FONT_PT)
        ax.set_ylabel("y (px)" if col == 0 else "", fontsize=SMALL_FONT_PT)
        ax.tick_params(labelsize=SMALL_FONT_PT)
    if suptitle:
        fig.suptitle(suptitle)
    return fig, axes


def plot_clip_overview(clip, times: Sequence[int] | None = None, panel_size: float = 2.6) -> Figure:
    """Frames, labels, flow to the keyframe and its visibility mask of a generated clip, one column
    per time step (small multiples), with the class legend and the flow key.

    Introduced in notebook 00.

    Args:
        clip: an ``arseg_tutorial.scenes.Clip``.
        times: frame indices to show (default first, middle, last).
    """
    T = clip.frames.shape[0]
    times = list(times) if times is not None else sorted({0, T // 2, T - 1})
    max_flow = max(float(np.abs(clip.flow_key[times]).max()), 1.0)
    rows = [("frame", lambda t: clip.frames[t]), ("labels", lambda t: colorize_labels(clip.labels[t])),
            ("flow to frame 0", lambda t: flow_to_rgb(clip.flow_key[t], max_flow)),
            ("visible in frame 0", lambda t: np.where(clip.valid_key[t][..., None], 235, 60).astype(np.uint8)
             .repeat(3, -1))]
    images = [draw(t) for _, draw in rows for t in times]
    titles = [f"{name}, t = {t}" for name, _ in rows for t in times]
    fig, axes = show_images(images, titles, ncols=len(times), panel_size=panel_size,
                            suptitle=f"generated clip (seed {clip.seed}): {T} frames of "
                                     f"{clip.frames.shape[1]}x{clip.frames.shape[2]} px")
    add_class_legend(axes[1, -1], ignore=True, fontsize=SMALL_FONT_PT)
    flow_wheel(axes[2, -1].inset_axes([1.05, 0.1, 0.45, 0.8]), max_flow)
    axes[3, -1].legend(handles=[Patch(facecolor="#ebebeb", label="visible (valid)"),
                                Patch(facecolor="#3c3c3c", label="occluded / edge / outside")],
                       loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=SMALL_FONT_PT, frameon=False)
    return fig


def draw_arseg_overview(gop_length: int = 12, lr_scale: float = 0.5, ax=None, kernel: int = 7) -> Figure:
    """AR-Seg in one figure: one GOP, the I-frame through the HR branch, the P-frames at scale s
    through the LR branch, and CReFF fusing the keyframe features warped with motion vectors.

    Introduced in notebook 00.

    Args:
        gop_length: frames per GOP (L); lr_scale: resolution scale s of the non-keyframes.
        ax: Axes to draw into (default: a new figure).
        kernel: CReFF's attention window (7 in the paper, ``Profile.creff_kernel`` here).
    """
    if gop_length < 2 or not 0 < lr_scale <= 1:
        raise ValueError(f"need gop_length >= 2 and 0 < lr_scale <= 1, got {gop_length}, {lr_scale}")
    if ax is None:
        _, ax = plt.subplots(figsize=(FIGURE_WIDTH_IN, 5.2), constrained_layout=True)
    i_colour, p_colour, net_colour = "#E69F00", "#56B4E9", "#DDDDDD"
    for t in range(gop_length):
        size = 0.8 if t == 0 else 0.8 * lr_scale
        ax.add_patch(plt.Rectangle((t + 0.5 - size / 2, 3.1), size, size * 0.75,
                                   facecolor=i_colour if t == 0 else p_colour, edgecolor="k"))
        ax.text(t + 0.5, 3.0, ("I" if t == 0 else "P") + f"{t}", ha="center", va="top", fontsize=SMALL_FONT_PT)
        ax.annotate("", (t + 0.5, 2.35), (t + 0.5, 2.75), arrowprops=dict(arrowstyle="->", lw=0.8))
        ax.add_patch(plt.Rectangle((t + 0.2, 0.05), 0.6, 0.45, facecolor="#44AA99", edgecolor="k", alpha=0.6))
        ax.annotate("", (t + 0.5, 0.5), (t + 0.5, 0.95 if t else 1.75), arrowprops=dict(arrowstyle="->", lw=0.8))
    boxes = [((0.05, 1.75, 0.9, 0.6), "HR branch\nfull res.\ncost 1"),
             ((1.05, 1.75, gop_length - 1.1, 0.6), f"LR branch (own weights), input bilinearly downsampled\n"
                                                    f"to s = {lr_scale:g}: cost ~ s^2 = {lr_scale ** 2:.2f}"),
             ((1.05, 0.95, gop_length - 1.1, 0.5), "CReFF: HR keyframe feature warped with the codec's motion vectors\n"
                                                   f"(P-frame -> I-frame) + {kernel}x{kernel} local attention, then the shared classifier")]
    for (x, y, w, h), text in boxes:
        ax.add_patch(plt.Rectangle((x, y), w, h, facecolor=net_colour, edgecolor="k"))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=SMALL_FONT_PT)
    ax.annotate("", (1.05, 1.2), (0.95, 1.85),
                arrowprops=dict(arrowstyle="->", lw=1.2, color="C3", connectionstyle="arc3,rad=-0.4"))
    ax.text(0.55, 1.3, "keyframe\nfeature", color="C3", fontsize=SMALL_FONT_PT, ha="left", va="center")
    for t in range(1, gop_length):
        ax.annotate("", (t + 0.5, 1.45), (t + 0.5, 1.75), arrowprops=dict(arrowstyle="->", lw=0.8))
    ax.text(gop_length / 2, -0.15, "segmentation of every frame", ha="center", va="top", fontsize=SMALL_FONT_PT)
    average = (1 + (gop_length - 1) * lr_scale ** 2) / gop_length
    ax.set_title(f"AR-Seg on one GOP (L = {gop_length}): average cost per frame = (1 + {gop_length - 1} x "
                 f"{lr_scale ** 2:.2f}) / {gop_length}\n= {average:.3f} of per-frame HR "
                 f"(a floor: CReFF's cost not counted)")
    ax.legend(handles=[Patch(facecolor=i_colour, edgecolor="k", label="I-frame = keyframe (full resolution)"),
                       Patch(facecolor=p_colour, edgecolor="k", label="P-frame (low resolution input)"),
                       Patch(facecolor="#44AA99", alpha=0.6, edgecolor="k", label="segmentation output")],
              loc="upper center", fontsize=SMALL_FONT_PT, ncol=3, bbox_to_anchor=(0.5, 1.0))
    ax.set_xlim(0, gop_length)
    ax.set_ylim(-0.5, 4.4)
    ax.set_xlabel("frame index t within the GOP")
    ax.set_yticks([])
    ax.set_xticks(np.arange(gop_length) + 0.5, [str(t) for t in range(gop_length)])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    return ax.figure
