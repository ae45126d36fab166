"""Interactive explorers, built the same way everywhere: a pure core and a thin widget face.

Introduced in notebook 00. The pattern, used by every ``widgets.*`` module:

1. **Core** -- a pure function ``<name>_update(data, **params)`` that takes plain values (a frame
   index, a scale, a GOP length ...) and returns a matplotlib ``Figure`` (or a dict of numbers).
   It has no widget code, so a unit test calls it directly and a notebook can call it to draw the
   *static* figure shown next to every widget (the page must read correctly without a kernel).
2. **Face** -- ``<name>(data)`` builds ipywidgets controls over a *live view* of that figure
   (``widgets.live``): the figure is drawn once, and a change of a control puts the new data into
   its artists and redraws only those on a cached background, fast enough to follow a slider;
   a busy sign shows while a setting needs work not done before (an encode, a cost count).

The clip player below is the first example: ``clip_player_update(clip, t)`` draws frame t, its
labels and its flow; ``clip_player(clip)`` adds a frame slider and panel toggles over a
``ClipPlayerView``.
Other explorers live beside this file (``widgets.codec``, ``widgets.resolution``, ...).
"""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from arseg_tutorial.viz import SMALL_FONT_PT, add_class_legend, colorize_labels, flow_to_rgb, flow_wheel
from arseg_tutorial.widgets.live import EXPLORER_DPI, LiveView, live_face, with_spines

__all__ = ["clip_player_update", "clip_player", "ClipPlayerView", "CLIP_PANELS"]

CLIP_PANELS = ("frame", "labels", "flow to previous", "flow to frame 0")


def _check_panels(panels: Sequence[str]) -> tuple[str, ...]:
    unknown = [p for p in panels if p not in CLIP_PANELS]
    if unknown or not panels:
        raise ValueError(f"panels must be a non-empty selection of {CLIP_PANELS}, got {list(panels)}")
    return tuple(panels)


def clip_player_update(clip, t: int = 0, panels: Sequence[str] = CLIP_PANELS,
                       max_flow_px: float | None = None, panel_size: float = 3.2) -> Figure:
    """Core of the clip player: frame ``t`` of ``clip`` with the chosen panels side by side.

    Introduced in notebook 00. Flow panels come with a colour key (one column more); the
    one-step flow is small next to the flow to frame 0, so each flow panel has its own scale
    (in its title), fixed over the clip so that colours compare between frames.

    Args:
        clip: an ``arseg_tutorial.scenes.Clip``.
        t: frame index, 0 <= t < T.
        panels: which of ``CLIP_PANELS`` to draw, in order.
        max_flow_px: flow magnitude drawn fully saturated in every flow panel (default: per panel,
            the largest magnitude of that flow in the clip).
    Returns:
        The matplotlib Figure (one Axes per panel, in ``panels`` order, then the flow key if any).
    """
    T = clip.frames.shape[0]
    if not 0 <= t < T:
        raise ValueError(f"frame index t={t} is outside the clip: use 0 <= t <= {T - 1}")
    panels = _check_panels(panels)
    scales = _flow_scales(clip, max_flow_px)
    height, width = clip.frames.shape[1:3]
    with_key = any(name.startswith("flow") for name in panels)
    columns = min(len(panels), 2)                  # two panels a row: about 1000 px wide at 100 dpi
    rows = -(-len(panels) // columns)
    side = 0.55 if with_key or "labels" in panels else 0.0
    fig = plt.figure(layout="constrained", figsize=(panel_size * (columns + side) + 0.6,
                                                     rows * (panel_size * height / width + 0.4) + 0.6))
    grid = fig.add_gridspec(rows, columns + (1 if side else 0), width_ratios=[1.0] * columns + ([side] if side else []))
    axes = [fig.add_subplot(grid[i // columns, i % columns]) for i in range(len(panels))]
    for ax, name in zip(axes, panels):
        ax.imshow(_panel_image(clip, name, t, scales))
        if name == "flow to previous":
            ax.text(width / 2, height / 2, NO_PREVIOUS, ha="center", va="center", visible=t == 0)
        ax.set_title(_panel_title(name, t, scales), fontsize=SMALL_FONT_PT)
        ax.set_xlabel("x (px)", fontsize=SMALL_FONT_PT)
        ax.set_ylabel("y (px)", fontsize=SMALL_FONT_PT)
        ax.tick_params(labelsize=SMALL_FONT_PT)
    if with_key:
        key = fig.add_subplot(grid[rows - 1, -1])
        flow_wheel(key, 1.0)
        key.set_title("flow key", fontsize=SMALL_FONT_PT)
        key.set_xlabel("dx / full colour", fontsize=SMALL_FONT_PT)
        key.set_ylabel("dy / full colour", fontsize=SMALL_FONT_PT)
    if "labels" in panels:
        legend_ax = axes[panels.index("labels")]
        add_class_legend(legend_ax, fontsize=SMALL_FONT_PT,
                         bbox_to_anchor=(1.02 + (columns - 1 - panels.index("labels") % columns) * 1.1, 1.0))
    fig.suptitle(_clip_title(clip, t, with_key), fontsize="medium")
    return fig


NO_PREVIOUS = "frame 0 has no\nprevious frame"


def _flow_scales(clip, max_flow_px: float | None) -> dict[str, float]:
    """Full-colour flow magnitude per flow panel: ``max_flow_px``, else that flow's clip maximum."""
    return {name: max_flow_px if max_flow_px is not None else max(float(np.abs(flow).max()), 1.0)
            for name, flow in (("flow to previous", clip.flow_prev), ("flow to frame 0", clip.flow_key))}


def _panel_image(clip, name: str, t: int, scales: dict[str, float]) -> np.ndarray:
    drawings = {
        "frame": lambda: clip.frames[t],
        "labels": lambda: colorize_labels(clip.labels[t]),
        "flow to previous": lambda: flow_to_rgb(clip.flow_prev[t], scales["flow to previous"]),
        "flow to frame 0": lambda: flow_to_rgb(clip.flow_key[t], scales["flow to frame 0"]),
    }
    return drawings[name]()


def _panel_title(name: str, t: int, scales: dict[str, float]) -> str:
    title = f"{name}, t = {t}"
    if name.startswith("flow"):
        title += f"\n(full colour at {scales[name]:.0f} px)"
    return title


def _clip_title(clip, t: int, with_key: bool) -> str:
    title = f"clip player: seed {clip.seed}, frame {t} of {clip.frames.shape[0] - 1}"
    return title + "\nflow: white = no motion, hue = direction, saturation = distance" if with_key else title


class ClipPlayerView(LiveView):
    """The clip player's live face: one figure whose images and titles change in place.

    Introduced in notebook 00. Building the figure (subplots, layout, legend) and drawing it in
    full is most of what a fresh ``clip_player_update`` costs; this view builds it once and on
    each change redraws only the images and titles (a ``widgets.live.LiveView``;
    ``benchmarks/bench_explorers.py`` times both).

    Args:
        clip: an ``arseg_tutorial.scenes.Clip``.
        panels: which of ``CLIP_PANELS`` to draw.
        dpi: resolution of the PNG.
    """

    def __init__(self, clip, panels: Sequence[str] = CLIP_PANELS, dpi: int = EXPLORER_DPI):
        self.clip, self.panels = clip, _check_panels(panels)
        self.scales = _flow_scales(clip, None)
        self.with_key = any(name.startswith("flow") for name in self.panels)
        super().__init__(clip_player_update(clip, 0, self.panels), dpi)
        self.axes = [ax for ax in self.figure.axes if ax.images][:len(self.panels)]
        self.no_previous = [text for ax in self.axes for text in ax.texts if text.get_text() == NO_PREVIOUS]
        self._panel_artists = [part for ax in self.axes for part in with_spines(ax, ax.images[0], ax.title)]

    def set_state(self, t: int) -> None:
        """Put frame ``t`` (0 <= t < T) into the panels and titles."""
        if not 0 <= t < self.clip.frames.shape[0]:
            raise ValueError(f"frame index t={t} is outside the clip: use 0 <= t <= {self.clip.frames.shape[0] - 1}")
        for ax, name in zip(self.axes, self.panels):
            ax.images[0].set_data(_panel_image(self.clip, name, t, self.scales))
            ax.set_title(_panel_title(name, t, self.scales), fontsize=SMALL_FONT_PT)
        for text in self.no_previous:
            text.set_visible(t == 0)
        self.figure.suptitle(_clip_title(self.clip, t, self.with_key), fontsize="medium")

    def dynamic_artists(self) -> list:
        return self._panel_artists + [text for text in self.no_previous if text.get_visible()] + [self.figure._suptitle]


def clip_player(clip, panels: Sequence[str] = CLIP_PANELS):
    """Face of the clip player: a frame slider and panel toggles over a ``ClipPlayerView``.

    Introduced in notebook 00. A frame change updates the view's figure in place; a panel change
    builds a new view (the busy sign shows meanwhile).
    """
    import ipywidgets as widgets

    panels = _check_panels(panels)
    controls = {"t": widgets.IntSlider(value=0, min=0, max=clip.frames.shape[0] - 1, description="frame t",
                                       continuous_update=False),
                "panels": widgets.SelectMultiple(options=CLIP_PANELS, value=panels, description="panels", rows=4)}
    views = {panels: ClipPlayerView(clip, panels)}
    last = {"panels": panels}

    def render_png(t: int, panels: Sequence[str]) -> bytes:
        if panels:                                 # an empty selection keeps the last panels
            last["panels"] = tuple(panels)
        if last["panels"] not in views:
            views[last["panels"]] = ClipPlayerView(clip, last["panels"])
        return views[last["panels"]].render_png(t=t)

    def pending(t: int, panels: Sequence[str]) -> str | None:
        return "drawing the new panels" if panels and tuple(panels) not in views else None

    return live_face(render_png, controls, pending)
