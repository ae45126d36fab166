"""Live explorer figures: drawn once, then only what a control changes is redrawn.

Introduced in notebook 00. Building a matplotlib figure (subplots, layout, legends, tick labels)
and drawing it in full costs several hundred milliseconds on a laptop CPU, most of it laying out
text that never changes. A ``LiveView`` keeps one figure, freezes its layout after the first draw,
keeps everything that does not change as a background bitmap, and on each change of a control
restores that bitmap and draws only its *dynamic* artists (images, curves, titles, or a whole
small Axes whose ticks move) before encoding a PNG for an ``ipywidgets.Image``.
``live_face`` puts the controls over such a view and shows a busy sign while an answer needs work
that has not been done yet (an encode, a cost count). ``benchmarks/bench_explorers.py`` times
every explorer's view.
"""
from __future__ import annotations

import io
from typing import Callable, Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

EXPLORER_DPI = 100
"""Resolution of an explorer's PNG: a 9 pt label is 12.5 px, readable when shown at its size."""

BUSY_PREFIX = "busy: "
"""Start of the busy sign's text (the rest says what is being computed)."""


def png_bytes(rgba: np.ndarray) -> bytes:
    """(H, W, 4) uint8 canvas pixels as PNG bytes (RGB, fast compression)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba[..., :3])).save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


def with_spines(ax: Axes, *artists: Artist) -> list[Artist]:
    """``artists`` of ``ax`` with its spines and tick marks, which a new image must not cover."""
    ticks = [line for axis in (ax.xaxis, ax.yaxis) for tick in axis.get_major_ticks()
             if min(axis.get_view_interval()) <= tick.get_loc() <= max(axis.get_view_interval())
             for line in (tick.tick1line, tick.tick2line)]
    return [*artists, *ax.spines.values(), *ticks]


class LiveView:
    """A figure whose dynamic artists are redrawn on a cached background of everything else.

    Introduced in notebook 00. A subclass builds its figure (usually with the explorer's static
    ``*_update`` function, so both show the same picture), calls ``super().__init__(figure)``, and
    defines ``set_state(**controls)`` (put one state into the artists, in place) and
    ``dynamic_artists()`` (the artists that ``set_state`` may change, including any it made
    anew). An artist may be a whole ``Axes`` (its ticks, labels and children are drawn with it).
    When a state changes what the background shows (an axis' limits, hence its tick labels),
    ``background_key()`` changes with it: the background of each key is drawn once (a full draw,
    slow) and kept.

    Args:
        figure: the figure, laid out; it is detached from pyplot (never shown by a notebook).
        dpi: resolution of the PNG.
    """

    def __init__(self, figure: Figure, dpi: int = EXPLORER_DPI):
        plt.close(figure)
        FigureCanvasAgg(figure)
        figure.set_dpi(dpi)
        figure.canvas.draw()                       # the one layout, with every artist present
        figure.set_layout_engine("none")           # positions stay those of that layout
        self.figure = figure
        self._backgrounds: dict = {}               # background_key() -> bitmap of the static part

    def set_state(self, **controls) -> object:
        raise NotImplementedError

    def dynamic_artists(self) -> list[Artist]:
        raise NotImplementedError

    def background_key(self) -> object:
        """A value that changes whenever the static part of the figure must be drawn again."""
        return None

    def has_background(self) -> bool:
        """Whether the background of the current state's key is drawn already."""
        return self.background_key() in self._backgrounds

    def pending(self, **controls) -> str | None:
        """What a change to ``controls`` must compute first (a slow, not yet cached step), or None."""
        return None

    def _draw_background(self, dynamic: list[Artist]) -> None:
        # texts are animated, not hidden: a full draw still places them (titles move with the axes)
        texts = [artist for artist in dynamic if isinstance(artist, Text)]
        hidden = [artist for artist in dynamic if not isinstance(artist, Text) and artist.get_visible()]
        for artist in texts:
            artist.set_animated(True)
        for artist in hidden:
            artist.set_visible(False)
        self.figure.canvas.draw()
        self._backgrounds[self.background_key()] = self.figure.canvas.copy_from_bbox(self.figure.bbox)
        for artist in texts:
            artist.set_animated(False)
        for artist in hidden:
            artist.set_visible(True)

    def draw(self) -> np.ndarray:
        """Redraw the dynamic artists on the background; returns the (H, W, 4) canvas pixels."""
        dynamic = self.dynamic_artists()
        if self.background_key() not in self._backgrounds:
            self._draw_background(dynamic)
        canvas = self.figure.canvas
        canvas.restore_region(self._backgrounds[self.background_key()])
        for artist in sorted(dynamic, key=lambda a: a.get_zorder()):   # stable: Axes.draw's order
            if artist.get_visible():
                self.figure.draw_artist(artist)
        return np.asarray(canvas.buffer_rgba())

    def render_png(self, *args, **controls) -> bytes:
        """PNG bytes of the figure in the state ``set_state(*args, **controls)`` (what the browser receives)."""
        self.set_state(*args, **controls)
        return png_bytes(self.draw())


def _show_whole_description(control) -> None:
    """Give a control's label the room it needs (ipywidgets cuts labels at 80 px: "GOP lengt...")."""
    if getattr(control, "description", "") and hasattr(control.style, "description_width"):
        control.style.description_width = "initial"
    if hasattr(control, "indent"):            # a checkbox: its label right of the box, not cut
        control.indent = False


def live_face(render_png: Callable[..., bytes], controls: Mapping[str, object],
              pending: Callable[..., str | None] = lambda **_: None):
    """The widget face of a live explorer: ``controls`` and a busy sign above a PNG image.

    Introduced in notebook 00. On every change the image becomes
    ``render_png(**{name: control.value})``; while that runs, the sign reads
    ``BUSY_PREFIX + pending(...)`` when ``pending`` names slow work (else it stays empty).

    Args:
        render_png: state -> PNG bytes (usually ``LiveView.render_png``).
        controls: parameter name -> ipywidgets control.
        pending: state -> what must be computed first, or None (usually ``LiveView.pending``).
    Returns:
        An ``ipywidgets.VBox``: (controls, busy sign) above the image.
    """
    import ipywidgets as widgets

    values = lambda: {name: control.value for name, control in controls.items()}  # noqa: E731
    busy = widgets.Label(value="")
    image = widgets.Image(format="png", value=render_png(**values()))

    def redraw(_change=None) -> None:
        state = values()
        work = pending(**state)
        if work:
            busy.value = BUSY_PREFIX + work
        try:
            image.value = render_png(**state)
        finally:
            busy.value = ""

    for control in controls.values():
        control.observe(redraw, names="value")
        _show_whole_description(control)
    return widgets.VBox([widgets.HBox([*controls.values(), busy]), image])
