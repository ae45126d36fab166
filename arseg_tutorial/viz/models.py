"""Figures about the networks: cost vs LR scale, per-class loss of resolution, features as RGB,
and CReFF's attention windows.

Introduced in notebook 03 (cost, resolution) and notebook 04 (features, attention).
"""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.collections import PatchCollection
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MultipleLocator

from arseg_tutorial.scenes.classes import CLASS_NAMES, PALETTE, THIN_CLASSES
from arseg_tutorial.viz import FIGURE_WIDTH_IN, SMALL_FONT_PT, add_class_legend, colorize_labels


def plot_cost_vs_scale(scales: Sequence[float], measured_gmacs: Sequence[float], hr_gmacs: float,
                       latency_scales: Sequence[float] | None = None,
                       latency_ms: Sequence[float] | None = None, title: str = "") -> Figure:
    """GMACs (and optionally measured latency) of the LR network against the scale s.

    Introduced in notebook 03. Dashed lines are the s^2 law: hr_gmacs * s^2 on the left, the
    latency at the largest measured scale times (s / s_max)^2 on the right.

    Args:
        scales: LR scales s of the GMACs counts.
        measured_gmacs: GMACs counted at each scale.
        hr_gmacs: GMACs at s = 1.
        latency_scales, latency_ms: optional measured latency (ms) at other scales (second panel).
    """
    with_latency = latency_ms is not None
    fig, axes = plt.subplots(1, 2 if with_latency else 1, figsize=(FIGURE_WIDTH_IN if with_latency else 5.2, 3.8),
                             constrained_layout=True, squeeze=False)
    ax = axes[0, 0]
    grid = np.linspace(min(scales), 1.0, 100)
    ax.plot(grid, hr_gmacs * grid**2, "--", color="0.4", label=r"HR GMACs $\times s^2$")
    ax.plot(scales, measured_gmacs, "o", color="#0072B2", label="counted (FlopCounterMode / 2)")
    ax.set(xlabel="LR scale s", ylabel="GMACs per frame", title="counted cost of one LR frame")
    ax.legend(fontsize=SMALL_FONT_PT)
    if with_latency:
        ax = axes[0, 1]
        top = int(np.argmax(latency_scales))
        grid = np.linspace(min(latency_scales), max(latency_scales), 100)
        law = latency_ms[top] * (grid / latency_scales[top]) ** 2
        ax.plot(grid, law, "--", color="0.4", label=r"$s^2$ law through the largest s")
        ax.plot(latency_scales, latency_ms, "s", color="#D55E00", label="measured CPU latency (median)")
        ax.set(xlabel="LR scale s", ylabel="ms per frame", title="measured latency of one LR frame")
        ax.legend(fontsize=SMALL_FONT_PT)
    if title:
        fig.suptitle(title, fontsize="medium")
    return fig


def plot_iou_vs_scale(scales: Sequence[float], iou: np.ndarray, class_names: Sequence[str] = CLASS_NAMES,
                      thin_classes: Sequence[int] = THIN_CLASSES, title: str = "") -> Figure:
    """Per-class IoU (%) of labels after down/up sampling, against the scale; thin classes solid.

    Introduced in notebook 03.

    Args:
        scales: LR scales s.
        iou: (len(scales), K) IoU in [0, 1] (NaN = class absent).
    """
    fig, ax = plt.subplots(figsize=(7.5, 4.2), constrained_layout=True)
    for c, name in enumerate(class_names):
        if np.all(np.isnan(iou[:, c])):
            continue
        thin = c in thin_classes
        ax.plot(scales, 100 * iou[:, c], "o-" if thin else "o--", color=PALETTE[c] / 255.0,
                lw=2.2 if thin else 1.0, label=f"{name}{' (thin)' if thin else ''}")
    ax.set(xlabel="LR scale s", ylabel="IoU after down/up sampling (%)", ylim=(0, 101),
           title=title or "what each class loses at low resolution (perfect LR labels)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=SMALL_FONT_PT, frameon=False)
    return fig


def plot_ceiling_vs_trained(scales: Sequence[float], ceilings: dict[str, tuple[Sequence[float], float]],
                            trained: dict, hr_miou: float, title: str = "") -> Figure:
    """Label round-trip ceilings next to what the trained networks reach, against the scale.

    Introduced in notebook 03. Left: mIoU (%); right: the drop against full resolution, for each
    ceiling (its value at s = 1 minus its value at s) and for the trained networks (HR - their mIoU).

    Args:
        scales: LR scales s.
        ceilings: label -> (mIoU % at each s, mIoU % at s = 1) of labels after a down/up round trip.
        trained: label ("LR-only", "AR-Seg") -> (scales, mIoU %) of trained networks.
        hr_miou: mIoU (%) of the trained HR network.
    """
    from arseg_tutorial.viz.training import METHOD_COLOURS, method_of

    fig, (level_ax, loss_ax) = plt.subplots(1, 2, figsize=(FIGURE_WIDTH_IN, 4.6), constrained_layout=True)
    for (label, (values, at_one)), style in zip(ceilings.items(), ("o--", "s:")):
        level_ax.plot(scales, values, style, color="0.35", label=f"ceiling: {label}")
        loss_ax.plot(scales, [at_one - v for v in values], style, color="0.35", label=f"ceiling: {label}")
    level_ax.axhline(hr_miou, color=METHOD_COLOURS["hr"], ls=":", label=f"trained HR: {hr_miou:.1f}")
    for label, (xs, ys) in trained.items():
        colour = METHOD_COLOURS.get(method_of(label) or "", "k")
        level_ax.plot(xs, ys, "o-", color=colour, label=f"trained {label}")
        loss_ax.plot(xs, [hr_miou - y for y in ys], "o-", color=colour, label=f"trained {label}: HR - it")
    level_ax.set(xlabel="LR scale s", ylabel="mIoU (%)", ylim=(0, 101), title="accuracy at scale s")
    loss_ax.set(xlabel="LR scale s", ylabel="mIoU points lost against s = 1", title="what scale s costs")
    loss_ax.axhline(0, color="0.7", lw=0.8)
    for ax in (level_ax, loss_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=SMALL_FONT_PT)
    if title:
        fig.suptitle(title, fontsize="medium")
    return fig


def plot_resolution_state(state: dict, frame: np.ndarray, model_name: str, cost_size: tuple[int, int],
                          gop_length: int) -> Figure:
    """One state of the LR-scale explorer: frame at scale s, labels after the round trip, GMACs bars.

    Introduced in notebook 03 (``ResolutionExplorer.figure``).
    """
    fig, grid = plt.subplots(2, 2, figsize=(FIGURE_WIDTH_IN, 7.2), constrained_layout=True)
    axes = grid.ravel()                          # two rows, so that the book shows it at full size
    titles = resolution_titles(state, model_name, cost_size)
    panels = [(frame, "original frame"), (state["frame_back"], titles["frame"]),
              (colorize_labels(state["labels_back"]), titles["labels"])]
    for ax, (image, name) in zip(axes[:3], panels):
        ax.imshow(image)
        ax.set(title=name, xlabel="x (px)", ylabel="y (px)")
        ax.title.set_fontsize(SMALL_FONT_PT)
    add_class_legend(fig, ignore=True, ncol=6, loc="outside lower center", bbox_to_anchor=None)
    ax = axes[3]
    names = ["HR frame", "LR frame", "LR + CReFF", f"GOP average\n(L = {gop_length})"]
    bars = ax.bar(range(4), resolution_costs(state), color=["#332288", "#88CCEE", "#44AA99", "#E69F00"], label=names)
    label_cost_bars(ax, bars)
    ax.margins(y=0.12)                           # room for the label over the tallest bar
    ax.set_xticks(range(4), names, fontsize=SMALL_FONT_PT, rotation=20)
    ax.set(ylabel="GMACs per frame", title=titles["cost"])
    ax.title.set_fontsize(SMALL_FONT_PT)
    return fig


def resolution_titles(state: dict, model_name: str, cost_size: tuple[int, int]) -> dict[str, str]:
    """The titles of ``plot_resolution_state`` that change with the scale: "frame", "labels", "cost"."""
    h, w = state["lr_size"]
    return {"frame": f"frame at s = {state['lr_scale']:.2f} ({h}x{w} px), upsampled",
            "labels": f"labels down/up: {100 * state['pixel_accuracy']:.1f} % pixels kept",
            "cost": f"{model_name} at {cost_size[0]}x{cost_size[1]}: saving {100 * state['saving']:.1f} %"}


def resolution_costs(state: dict) -> list[float]:
    """GMACs of the four bars of ``plot_resolution_state``: HR, LR, LR + CReFF, GOP average."""
    return [state["hr_gmacs"], state["lr_gmacs"], state["nonkeyframe_gmacs"], state["gop_gmacs"]]


def label_cost_bars(ax, bars) -> list:
    """Write each bar's GMACs (its current height) on top of it; returns the labels.

    The text is given explicitly: ``Axes.bar_label`` alone would write the heights the bars had
    when they were created, also after ``set_height`` (the live explorer changes them in place).
    """
    heights = [bar.get_height() for bar in bars]
    return ax.bar_label(bars, labels=[f"{height:.1f}" for height in heights], fontsize=SMALL_FONT_PT)


def pca_rgb(features: Sequence[torch.Tensor | np.ndarray]) -> list[np.ndarray]:
    """Project several (C, h, w) feature maps onto the same 3 principal components, as RGB.

    Introduced in notebook 04. One PCA is fitted on all maps together, so a colour means the same
    feature direction in every map; each component is scaled to [0, 1] by its 1st-99th percentile.

    Returns:
        One (h, w, 3) float array in [0, 1] per input.
    """
    arrays = [np.asarray(f.detach().cpu() if isinstance(f, torch.Tensor) else f, np.float64) for f in features]
    channels = arrays[0].shape[0]
    if any(a.ndim != 3 or a.shape[0] != channels for a in arrays):
        raise ValueError("pca_rgb expects (C, h, w) maps with the same C; drop the batch axis first")
    pixels = np.concatenate([a.reshape(channels, -1).T for a in arrays])
    mean = pixels.mean(0)
    _, _, vt = np.linalg.svd(pixels - mean, full_matrices=False)
    projected = (pixels - mean) @ vt[:3].T
    if projected.shape[1] < 3:
        projected = np.pad(projected, ((0, 0), (0, 3 - projected.shape[1])))
    low, high = np.percentile(projected, 1, axis=0), np.percentile(projected, 99, axis=0)
    rgb = np.clip((projected - low) / np.maximum(high - low, 1e-12), 0, 1)
    out, start = [], 0
    for a in arrays:
        n = a.shape[1] * a.shape[2]
        out.append(rgb[start:start + n].reshape(a.shape[1], a.shape[2], 3))
        start += n
    return out


def plot_feature_pca(images: Sequence[np.ndarray], titles: Sequence[str], suptitle: str) -> Figure:
    """Frames and PCA-coloured feature maps side by side (feature maps drawn over the image extent).

    Introduced in notebook 04. Images of different sizes share the frame's extent so that the
    pixel axes (image pixels) line up. At most three panels per row.
    """
    height, width = images[0].shape[:2]
    ncols = min(len(images), 3)
    nrows = -(-len(images) // ncols)
    panel_in = min(3.3, FIGURE_WIDTH_IN / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_in * ncols, nrows * (panel_in * height / width + 0.6) + 0.3),
                             constrained_layout=True, squeeze=False)
    for ax in axes.flat[len(images):]:
        ax.axis("off")
    for ax, image, name in zip(axes.flat, images, titles):
        ax.imshow(image, extent=(0, width, height, 0), interpolation="nearest")
        ax.set(title=name, xlabel="x (image px)", ylabel="y (image px)")
        ax.title.set_fontsize(SMALL_FONT_PT)
    fig.suptitle(suptitle)
    return fig


def draw_attention_window(ax, image: np.ndarray, weights: np.ndarray, centre_feature: tuple[float, float],
                          stride_px: float, title: str, centre_label: str = "query pixel") -> None:
    """Draw a k x k attention window over an image: one translucent square per window position.

    Introduced in notebook 04.

    Args:
        ax: matplotlib Axes.
        image: (H, W, 3) the frame the window is drawn over (the keyframe).
        weights: (k, k) softmax weights of one pixel (row-major window, as the ops use).
        centre_feature: (row, col) of the query pixel on the feature grid.
        stride_px: image pixels per feature pixel.
        centre_label: legend label of the centre cell.
    """
    ax.imshow(image)
    window_patches(ax, weights, centre_feature, stride_px, centre_label)
    ax.set(title=title, xlabel="x (px)", ylabel="y (px)", xlim=(-0.5, image.shape[1] - 0.5),
           ylim=(image.shape[0] - 0.5, -0.5))
    ax.title.set_fontsize(SMALL_FONT_PT)


def window_patches(ax, weights: np.ndarray, centre_feature: tuple[float, float], stride_px: float,
                   centre_label: str = "query pixel") -> list:
    """The window of ``draw_attention_window`` (cells, outline, query cell) and its legend;
    returns them all (a live view removes and redraws them)."""
    k = weights.shape[0]
    r = k // 2
    share = (weights / weights.max()).reshape(-1)
    colours = plt.get_cmap("magma")(share)
    colours[:, 3] = 0.45 * share                   # the stronger the weight, the more opaque its cell
    rows, cols = np.meshgrid(np.arange(k) - r + centre_feature[0], np.arange(k) - r + centre_feature[1], indexing="ij")
    cells = PatchCollection([Rectangle((x * stride_px - 0.5, y * stride_px - 0.5), stride_px, stride_px)
                             for y, x in zip(rows.reshape(-1), cols.reshape(-1))],
                            facecolors=colours, edgecolors="none")
    ax.add_collection(cells, autolim=False)
    y0, x0 = centre_feature[0] - r, centre_feature[1] - r
    outline = Rectangle((x0 * stride_px - 0.5, y0 * stride_px - 0.5), k * stride_px, k * stride_px,
                        fill=False, edgecolor="#FFB000", lw=1.2, ls="--", label=f"{k}x{k} window")
    cy, cx = centre_feature
    centre = Rectangle((cx * stride_px - 0.5, cy * stride_px - 0.5), stride_px, stride_px, fill=False,
                       edgecolor="cyan", lw=1.5, label=centre_label)
    for patch in (outline, centre):
        ax.add_patch(patch)
    legend = ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, fontsize=SMALL_FONT_PT, frameon=False)
    return [cells, outline, centre, legend]


def set_window_ticks(ax, kernel: int) -> None:
    """Label a k x k window's axes with the offsets -k//2 .. k//2 (feature pixels)."""
    offsets = np.arange(kernel) - kernel // 2
    ax.set_xticks(range(kernel), offsets)
    ax.set_yticks(range(kernel), offsets)


def attention_titles(state: dict) -> dict[str, str]:
    """The titles of ``plot_attention_state`` that change with the state: "window", "weights"."""
    mode = "aligned with motion vectors" if state["aligned"] else "unaligned (zero flow)"
    k = state["kernel"]
    return {"window": f"{k}x{k} attention on the warped keyframe ({mode})",
            "weights": f"weights (max {state['weights'].max():.2f}, uniform {1 / k**2:.3f})"}


def plot_attention_state(state: dict) -> Figure:
    """One state of the attention explorer: the window on the keyframe, on the current frame, and
    the k x k weights as a heat map.

    Introduced in notebook 04 (``AttentionExplorer.figure``).
    """
    fig, grid = plt.subplots(2, 2, figsize=(FIGURE_WIDTH_IN, 7.0), constrained_layout=True)
    fig.delaxes(grid[1, 1])                      # two rows, so that the book shows it at full size
    axes = [grid[0, 0], grid[0, 1], grid[1, 0]]
    titles = attention_titles(state)
    draw_attention_window(axes[0], state["keyframe_warped"], state["weights"], state["pixel_feature"],
                          state["stride_px"], titles["window"])
    axes[1].imshow(state["frame"])
    y, x = state["pixel_px"]
    axes[1].plot([x], [y], "c+", ms=14, mew=2, label="query pixel")
    axes[1].set(title=f"current frame (d = {state['distance']})", xlabel="x (px)", ylabel="y (px)")
    axes[1].legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=SMALL_FONT_PT, frameon=False)
    axes[1].title.set_fontsize(SMALL_FONT_PT)
    step_px = 50 if state["frame"].shape[1] >= 200 else 40     # fixed ticks: the same in every state
    for ax in axes[:2]:
        ax.xaxis.set_major_locator(MultipleLocator(step_px))
        ax.yaxis.set_major_locator(MultipleLocator(step_px))
    im = axes[2].imshow(state["weights"], cmap="magma", vmin=0)
    set_window_ticks(axes[2], state["kernel"])
    axes[2].set(title=titles["weights"], xlabel="window dx (feature px)", ylabel="window dy (feature px)")
    axes[2].title.set_fontsize(SMALL_FONT_PT)
    fig.colorbar(im, ax=axes[2], label="softmax weight")
    return fig


def _weights_panel(ax, weights: np.ndarray, title: str) -> None:
    k = weights.shape[0]
    image = ax.imshow(weights, cmap="magma", vmin=0, vmax=1)
    set_window_ticks(ax, k)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{weights[i, j]:.2f}", ha="center", va="center", fontsize=SMALL_FONT_PT,
                    color="k" if weights[i, j] > 0.6 else "w")
    ax.set(title=title, xlabel="window dx (feature px)", ylabel="window dy (feature px)")
    ax.title.set_fontsize(SMALL_FONT_PT)
    return image


def plot_alignment(state: dict) -> Figure:
    """Notebook 04's alignment figure: a pixel of the current frame, its attention window in the
    keyframe at x + flow (motion vectors) and at x (zero flow), and both windows' weights.

    Introduced in notebook 04 (``AttentionExplorer.alignment_figure``). The keyframe panels are
    zoomed on the pixel and its past position; the window's cells are drawn where the warped
    feature reads them, shifted by the flow at the pixel.

    Args:
        state: ``AttentionExplorer.alignment(pixel_y, pixel_x)``.
    """
    aligned, zero = state["aligned"], state["zero_flow"]
    stride, (y, x) = state["stride_px"], state["pixel_px"]
    key_y, key_x = state["keyframe_px"]
    true_y, true_x = state["true_keyframe_px"]
    row, col = aligned["pixel_feature"]
    k = aligned["kernel"]
    shifted = (row + (key_y - y) / stride, col + (key_x - x) / stride)
    reach = (k // 2 + 2) * stride
    box = (min(x, key_x) - reach, max(x, key_x) + reach, max(y, key_y) + reach, min(y, key_y) - reach)
    fig, axes = plt.subplots(3, 2, figsize=(FIGURE_WIDTH_IN * 0.9, 9.6), constrained_layout=True,
                             gridspec_kw={"width_ratios": [1.7, 1], "height_ratios": [1.5, 1, 1]})
    (frame_ax, zoom_ax), (aligned_ax, aligned_weights_ax), (zero_ax, zero_weights_ax) = axes
    frame_ax.imshow(state["frame"])
    frame_ax.plot([x], [y], "c+", ms=16, mew=2.5, label="pixel x")
    frame_ax.add_patch(Rectangle((box[0], box[3]), box[1] - box[0], box[2] - box[3], fill=False,
                                 edgecolor="w", ls=":", lw=1.5, label="zoomed area (white)"))
    frame_ax.set(title=f"current frame (d = {state['distance']}): pixel x on the object", xlabel="x (px)",
                 ylabel="y (px)")
    frame_ax.title.set_fontsize(SMALL_FONT_PT)
    zoom_ax.imshow(state["frame"])
    zoom_ax.plot([x], [y], "c+", ms=14, mew=2)
    zoom_ax.set(xlim=(box[0], box[1]), ylim=(box[2], box[3]), title="current frame, zoomed", xlabel="x (px)",
                ylabel="y (px)")
    zoom_ax.title.set_fontsize(SMALL_FONT_PT)
    windows = ((aligned_ax, aligned, shifted, "keyframe: window at x + flow\n(motion vectors)"),
               (zero_ax, zero, (row, col), "keyframe: window at x (zero flow)"))
    for ax, window, centre, title in windows:
        draw_attention_window(ax, state["keyframe"], window["weights"], centre, stride, title, "window centre")
        ax.plot([x], [y], "c+", ms=14, mew=2)
        ax.plot([true_x], [true_y], "x", color="#FFB000", ms=10, mew=2, label="true past position")
        ax.set(xlim=(box[0], box[1]), ylim=(box[2], box[3]))
        ax.get_legend().remove()                 # one key for the figure, below
    _weights_panel(aligned_weights_ax, aligned["weights"], f"its weights (entropy {aligned['entropy']:.2f})")
    image = _weights_panel(zero_weights_ax, zero["weights"], f"its weights (entropy {zero['entropy']:.2f})")
    fig.colorbar(image, ax=[aligned_weights_ax, zero_weights_ax], label="softmax weight", shrink=0.6)
    handles = frame_ax.get_legend_handles_labels()[0] + aligned_ax.get_legend_handles_labels()[0]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=SMALL_FONT_PT, frameon=False)
    fig.suptitle(f"where CReFF reads the keyframe for one pixel\n({k}x{k} window, {stride:.0f} px per cell; "
                 f"uniform entropy {np.log(k * k):.2f} nats)", fontsize="medium")
    return fig


def plot_attention_windows(windows: dict[str, dict[str, np.ndarray]], title: str = "") -> Figure:
    """Weights of one pixel's window, one row per model and one column per reference kind.

    Introduced in notebook 04 (the trained module and a constructed position bias; aligned, zero-flow
    and exact references).

    Args:
        windows: row name -> column name -> (k, k) softmax weights.
    """
    rows, columns = list(windows), list(next(iter(windows.values())))
    panel_in = min(3.4, (FIGURE_WIDTH_IN - 1) / len(columns))
    fig, axes = plt.subplots(len(rows), len(columns), figsize=(panel_in * len(columns) + 1, (panel_in - 0.3) * len(rows) + 0.4),
                             constrained_layout=True, squeeze=False)
    image = None
    for i, row in enumerate(rows):
        for j, column in enumerate(columns):
            weights = windows[row][column]
            image = _weights_panel(axes[i, j], weights, f"{row}\n{column}: centre {weights[weights.shape[0] // 2, weights.shape[1] // 2]:.2f}")
            if i < len(rows) - 1:
                axes[i, j].set_xlabel("")
            if j:
                axes[i, j].set_ylabel("")
    fig.colorbar(image, ax=axes[:, -1], label="softmax weight")
    if title:
        fig.suptitle(title, fontsize="medium")
    return fig
