"""The live face of notebook 06's trade-off explorer: one figure, redrawn by blitting.

Introduced in notebook 06. Rebuilding and re-rendering the whole matplotlib figure on every slider
move costs several hundred milliseconds on a laptop CPU, most of it in text and layout that never
change. ``TradeoffLiveView`` draws the static part once (axes, ticks, legends, with limits that fit
every (s, L) setting), keeps it as a background bitmap, and on each change restores it and draws
only the artists whose data changed (curves, rings, labels, images, titles) before encoding a PNG.
The pure core stays ``TradeoffExplorer.update``; the static figure stays ``TradeoffExplorer.figure``;
the blitting is ``widgets.live.LiveView``'s, shared by every explorer.
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from arseg_tutorial.sweep import pareto_points
from arseg_tutorial.viz import FIGURE_WIDTH_IN, SMALL_FONT_PT, add_class_legend, colorize_labels
from arseg_tutorial.viz.training import METHOD_COLOURS, METHOD_LABELS
from arseg_tutorial.widgets.live import EXPLORER_DPI, LiveView, live_face

IMAGE_TITLES = ("frame", "ground truth", "HR", "LR-only", "AR-Seg", "warp")
POINT_MARKERS = {"hr": "s", "warp": "D"}
"""Pareto markers of the methods with one point (no LR scale); the others are lines of circles."""


def tradeoff_grids(figure: Figure, image_count: int):
    """The explorer's fixed layout on ``figure``: the plots' 1x2 grid and the examples' 1xN grid (or None).

    Introduced in notebook 06. Fixed fractions, no constrained layout, so that drawing stays cheap
    when the controls move; ``tradeoff_figsize`` is the figure size these fractions are meant for.
    """
    top = figure.add_gridspec(1, 2, left=0.075, right=0.985, top=0.845 if image_count else 0.8,
                              bottom=0.48 if image_count else 0.14,
                              wspace=0.28)
    if not image_count:
        return top, None
    return top, figure.add_gridspec(1, image_count, left=0.01, right=0.99, top=0.36, bottom=0.12, wspace=0.06)


def tradeoff_figsize(with_images: bool) -> tuple[float, float]:
    """The explorer figure's (width, height) in inches: ``FIGURE_WIDTH_IN`` wide."""
    return FIGURE_WIDTH_IN, 7.0 if with_images else 4.4


def _padded(low: float, high: float, fraction: float = 0.06) -> tuple[float, float]:
    pad = fraction * max(high - low, 1e-6)
    return low - pad, high + pad


def state_title(state: dict) -> str:
    """One line that sums up an explorer state: AR-Seg's mIoU and cost against HR, LR-only, warp.

    Introduced in notebook 06.
    """
    chosen = state["chosen"]
    text = (f"s = {state['lr_scale']:g}, L = {state['gop_length']}: AR-Seg {chosen['arseg']['miou']:.1f} % mIoU "
            f"at {chosen['arseg']['gmacs']:.3g} GMACs/frame ({100 * state['saving']:.0f} % below HR), "
            f"\nHR {chosen['hr']['miou']:.1f} %, LR-only {chosen['lr']['miou']:.1f} %")
    if "warp" in chosen:
        text += f", warp {chosen['warp']['miou']:.1f} %"
    return text


class TradeoffLiveView(LiveView):
    """A persistent explorer figure whose dynamic artists are redrawn on a cached background.

    Introduced in notebook 06.

    Args:
        explorer: the ``widgets.tradeoff.TradeoffExplorer`` whose ``update`` gives each state (the
            view reads its ``sweep``, ``scales``, ``methods``, ``max_gop_length`` and
            ``examples``; that module imports this one for ``show``, not the other way round).
        dpi: resolution of the rendered PNG.
    """

    def __init__(self, explorer, dpi: int = EXPLORER_DPI):
        self.explorer = explorer
        examples = explorer.examples
        figure = self.figure = Figure(figsize=tradeoff_figsize(examples is not None))
        top, bottom = tradeoff_grids(figure, len(IMAGE_TITLES) if examples is not None else 0)
        self._build_pareto(figure.add_subplot(top[0, 0]))
        self._build_distance(figure.add_subplot(top[0, 1]))
        self.images, self.image_titles = [], []
        if examples is not None:
            self._build_images(examples, bottom)
        self.suptitle = figure.suptitle("", fontsize="medium")
        self.dynamic = [self.shade, *self.pareto_lines.values(), self.rings, *self.distance_lines.values(),
                        *self.images, *self.image_titles, self.suptitle]
        super().__init__(figure, dpi)              # not a pyplot figure: never shown by the notebook

    def dynamic_artists(self) -> list:
        return self.dynamic

    def _build_pareto(self, ax) -> None:
        sweep, explorer = self.explorer.sweep, self.explorer
        every = [p for L in range(1, explorer.max_gop_length + 1) for rows in pareto_points(sweep, L).values()
                 for p in rows]
        self.pareto_lines = {m: ax.plot([], [], POINT_MARKERS.get(m, "o-"), color=METHOD_COLOURS[m], ms=6,
                                        label=METHOD_LABELS[m])[0] for m in explorer.methods}
        self.rings = ax.plot([], [], "o", ms=15, mfc="none", mec="k", mew=2, label="chosen s")[0]
        ax.set_xlim(*_padded(min(p[1] for p in every), max(p[1] for p in every)))
        ax.set_ylim(*_padded(min(p[2] for p in every), max(p[2] for p in every), 0.1))
        scales = ", ".join(f"{s:g}" for s in explorer.scales)
        ax.set(xlabel="GMACs per frame (GOP average)", ylabel="mean mIoU (%)")
        ax.set_title(f"accuracy vs cost\n(points left to right: s = {scales})", fontsize=SMALL_FONT_PT + 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=SMALL_FONT_PT, loc="lower right")

    def _build_distance(self, ax) -> None:
        methods = self.explorer.sweep["methods"]
        values = [v for table in methods.values() for entry in table.values() for v in entry["per_distance"]]
        length = self.explorer.max_gop_length
        self.distance_lines = {m: ax.plot(range(length), np.zeros(length), "o-", ms=3, color=METHOD_COLOURS[m],
                                          label=METHOD_LABELS[m] + (" (chosen s)" if m in ("lr", "arseg") else ""))[0]
                               for m in self.explorer.methods}
        self.shade = ax.axvspan(length - 0.5, length - 0.5, color="0.85", label="distances beyond L")
        ax.set_xlim(-0.5, length - 0.5)
        ax.set_ylim(*_padded(min(values), max(values), 0.1))
        ax.set(xlabel="distance d from the keyframe (frames)", ylabel="mIoU (%)",
               title="accuracy by keyframe distance")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=SMALL_FONT_PT, loc="lower left")

    def _build_images(self, examples, bottom) -> None:
        blank = np.zeros(examples.frames.shape[1:], np.uint8)
        for column, name in enumerate(IMAGE_TITLES):
            ax = self.figure.add_subplot(bottom[0, column])
            self.images.append(ax.imshow(blank, interpolation="nearest"))
            title = ax.set_title("\n" if column >= 2 else name + "\n", fontsize=SMALL_FONT_PT)
            if column >= 2:                        # the first two titles never change
                self.image_titles.append(title)
            ax.set_xticks([])
            ax.set_yticks([])
        add_class_legend(ax, fontsize=SMALL_FONT_PT, ncol=6, loc="upper right", bbox_to_anchor=(1.0, -0.04))

    def set_state(self, lr_scale: float, gop_length: int) -> dict:
        """Put the state of ``explorer.update(lr_scale, gop_length)`` into the artists; returns it."""
        state = self.explorer.update(float(lr_scale), int(gop_length))
        s, chosen = state["lr_scale"], state["chosen"]
        for method, rows in state["points"].items():
            self.pareto_lines[method].set_data([r[1] for r in rows], [r[2] for r in rows])
        self.rings.set_data([chosen[m]["gmacs"] for m in ("lr", "arseg")], [chosen[m]["miou"] for m in ("lr", "arseg")])
        for method, line in self.distance_lines.items():
            line.set_ydata(chosen[method]["per_distance"])
        self.shade.set_x(state["gop_length"] - 0.5)
        self.shade.set_width(self.explorer.max_gop_length - state["gop_length"])
        names = ["frame", "ground truth", "HR", f"LR-only s={s:g}", f"AR-Seg s={s:g}", "warp"]
        for image, name in zip(self.images, names):
            picture = state["images"].get(name)
            if picture is None:
                picture = np.zeros_like(state["images"]["frame"])
            image.set_data(picture if picture.ndim == 3 else colorize_labels(picture))
        for title, name in zip(self.image_titles, names[2:]):
            score = state["example_miou"].get(name)
            title.set_text(name + (f"\nmIoU {score:.1f} %" if score is not None else "\n"))
        self.suptitle.set_text(state_title(state)
                               + (f"; examples: frame d = {state['example_distance']}" if self.images else ""))
        return state

    def show(self, lr_scale: float = 0.5, gop_length: int | None = None):
        """The interactive face: an LR-scale selector and a GOP-length slider over the live image."""
        import ipywidgets as widgets

        explorer = self.explorer
        start = min(explorer.scales, key=lambda s: abs(s - lr_scale))
        controls = {"lr_scale": widgets.SelectionSlider(options=list(explorer.scales), value=start,
                                                        description="LR scale s"),
                    "gop_length": widgets.IntSlider(value=gop_length or explorer.max_gop_length, min=1,
                                                    max=explorer.max_gop_length, description="GOP length L")}
        return live_face(self.render_png, controls)
