"""Interactive explorers, built the same way everywhere: a pure core and a thin widget face.

Introduced in notebook 00. The pattern, used by every ``widgets.*`` module:

1. **Core** -- a pure function ``<name>_update(data, **params)`` that takes plain values (a frame
   index, a scale, a GOP length ...) and returns a matplotlib ``Figure`` (or a dict of numbers).
   It has no widget code, so a unit test calls it directly and a notebook can call it to draw the
   *static* figure shown next to every widget (the page must read correctly without a kernel).
2. **Face** -- ``<name>(data)`` builds ipywidgets controls and hands them, with the core, to
   ``build_explorer``, which re-runs the core whenever a control changes and shows its figure.

The clip player below is the first example: ``clip_player_update(clip, t)`` draws frame t, its
labels and its flow; ``clip_player(clip)`` adds a frame slider and panel toggles.
Other explorers live beside this file (``widgets.codec``, ``widgets.resolution``, ...).
"""
from __future__ import annotations

import io
from typing import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from arseg_tutorial.viz import add_class_legend, colorize_labels, flow_to_rgb

__all__ = ["build_explorer", "clip_player_update", "clip_player", "ClipPlayerView", "CLIP_PANELS"]

CLIP_PANELS = ("frame", "labels", "flow to previous", "flow to frame 0")


def build_explorer(update: Callable[..., Figure], controls: Mapping[str, object], **fixed):
    """The widget face of an explorer: ``controls`` above the figure that ``update`` returns.

    Introduced in notebook 00.

    Args:
        update: the pure core; called as ``update(**fixed, **{name: control.value})``.
        controls: parameter name -> ipywidgets control (slider, dropdown, checkbox ...).
        fixed: arguments passed unchanged on every call (the data being explored).
    Returns:
        An ``ipywidgets.VBox`` (display it, or make it the last expression of a cell).
    """
    import ipywidgets as widgets
    from IPython.display import display

    output = widgets.Output()

    def redraw(**params) -> None:
        output.clear_output(wait=True)
        with output:
            figure = update(**fixed, **params)
            display(figure)
            plt.close(figure)

    widgets.interactive_output(redraw, dict(controls))
    return widgets.VBox([widgets.HBox(list(controls.values())), output])


def _check_panels(panels: Sequence[str]) -> tuple[str, ...]:
    unknown = [p for p in panels if p not in CLIP_PANELS]
    if unknown or not panels:
        raise ValueError(f"panels must be a non-empty selection of {CLIP_PANELS}, got {list(panels)}")
    return tuple(panels)


def clip_player_update(clip, t: int = 0, panels: Sequence[str] = CLIP_PANELS,
                       max_flow_px: float | None = None, panel_size: float = 3.2) -> Figure:
    """Core of the clip player: frame ``t`` of ``clip`` with the chosen panels side by side.

    Introduced in notebook 00.

    Args:
        clip: an ``arseg_tutorial.scenes.Clip``.
        t: frame index, 0 <= t < T.
        panels: which of ``CLIP_PANELS`` to draw, in order.
        max_flow_px: flow magnitude drawn fully saturated (default: largest flow to frame 0 in the clip,
            so colours are comparable between frames).
    Returns:
        The matplotlib Figure (one Axes per panel, in ``panels`` order).
    """
    T = clip.frames.shape[0]
    if not 0 <= t < T:
        raise ValueError(f"frame index t={t} is outside the clip: use 0 <= t <= {T - 1}")
    panels = _check_panels(panels)
    scale = max_flow_px if max_flow_px is not None else max(float(np.abs(clip.flow_key).max()), 1.0)
    height, width = clip.frames.shape[1:3]
    fig, axes = plt.subplots(1, len(panels), squeeze=False, constrained_layout=True,
                             figsize=(panel_size * len(panels) + 1.6, panel_size * height / width + 0.7))
    for ax, name in zip(axes[0], panels):
        ax.imshow(_panel_image(clip, name, t, scale))
        ax.set_title(_panel_title(name, t, scale), fontsize="small")
        ax.set_xlabel("x (px)", fontsize="x-small")
        ax.tick_params(labelsize="xx-small")
    axes[0, 0].set_ylabel("y (px)", fontsize="x-small")
    if "labels" in panels:
        add_class_legend(axes[0, -1], fontsize="x-small")
    fig.suptitle(_clip_title(clip, t), fontsize="medium")
    return fig


def _panel_image(clip, name: str, t: int, scale: float) -> np.ndarray:
    drawings = {
        "frame": lambda: clip.frames[t],
        "labels": lambda: colorize_labels(clip.labels[t]),
        "flow to previous": lambda: flow_to_rgb(clip.flow_prev[t], scale),
        "flow to frame 0": lambda: flow_to_rgb(clip.flow_key[t], scale),
    }
    return drawings[name]()


def _panel_title(name: str, t: int, scale: float) -> str:
    return f"{name}, t = {t}" + (f" (saturated at {scale:.0f} px)" if name.startswith("flow") else "")


def _clip_title(clip, t: int) -> str:
    return f"clip player: seed {clip.seed}, frame {t} of {clip.frames.shape[0] - 1}"


class ClipPlayerView:
    """The clip player's live face: one figure whose images and titles change in place.

    Introduced in notebook 00. Building the figure (subplots, layout, legend) is most of what a
    fresh ``clip_player_update`` costs; this view builds it once, freezes the layout, and on each
    change only swaps the images and titles before encoding a PNG
    (``benchmarks/bench_explorers.py`` times both).

    Args:
        clip: an ``arseg_tutorial.scenes.Clip``.
        panels: which of ``CLIP_PANELS`` to draw.
        dpi: resolution of the PNG.
    """

    def __init__(self, clip, panels: Sequence[str] = CLIP_PANELS, dpi: int = 72):
        self.clip, self.panels = clip, _check_panels(panels)
        self.scale = max(float(np.abs(clip.flow_key).max()), 1.0)
        self.figure = clip_player_update(clip, 0, self.panels)
        plt.close(self.figure)                    # kept here, never shown by pyplot
        self.figure.set_dpi(dpi)
        self.figure.canvas.draw()
        self.figure.set_layout_engine("none")     # positions stay those of the first layout
        self.axes = [ax for ax in self.figure.axes if ax.images]

    def render_png(self, t: int) -> bytes:
        """PNG bytes of frame ``t`` (0 <= t < T)."""
        if not 0 <= t < self.clip.frames.shape[0]:
            raise ValueError(f"frame index t={t} is outside the clip: use 0 <= t <= {self.clip.frames.shape[0] - 1}")
        for ax, name in zip(self.axes, self.panels):
            ax.images[0].set_data(_panel_image(self.clip, name, t, self.scale))
            ax.set_title(_panel_title(name, t, self.scale), fontsize="small")
        self.figure.suptitle(_clip_title(self.clip, t), fontsize="medium")
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png")
        return buffer.getvalue()


def clip_player(clip, panels: Sequence[str] = CLIP_PANELS):
    """Face of the clip player: a frame slider and panel toggles over a ``ClipPlayerView``.

    Introduced in notebook 00. A frame change updates the view's figure in place; a panel change
    builds a new view.
    """
    import ipywidgets as widgets

    panels = _check_panels(panels)
    slider = widgets.IntSlider(value=0, min=0, max=clip.frames.shape[0] - 1, description="frame t",
                               continuous_update=False)
    choice = widgets.SelectMultiple(options=CLIP_PANELS, value=panels, description="panels", rows=4)
    state = {"view": ClipPlayerView(clip, panels)}
    image = widgets.Image(value=state["view"].render_png(0), format="png")

    def on_frame(change) -> None:
        image.value = state["view"].render_png(change["new"])

    def on_panels(change) -> None:
        if change["new"]:
            state["view"] = ClipPlayerView(clip, change["new"])
            image.value = state["view"].render_png(slider.value)

    slider.observe(on_frame, names="value")
    choice.observe(on_panels, names="value")
    return widgets.VBox([widgets.HBox([slider, choice]), image])
