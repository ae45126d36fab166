"""The live face of notebook 04's attention explorer: one figure changed in place.

Introduced in notebook 04. ``AttentionLiveView`` draws ``AttentionExplorer.figure`` once and on
each change of the pixel, the kernel or the alignment puts the new window, marker, weights and
titles into it (``widgets.live.LiveView``); the attention of every pixel is computed once per
(kernel, aligned) by ``AttentionExplorer.attention_map``, so moving the pixel only indexes it.
"""
from __future__ import annotations

from collections.abc import Sequence

from arseg_tutorial.viz import SMALL_FONT_PT
from arseg_tutorial.widgets.live import EXPLORER_DPI, LiveView, live_face, with_spines


class AttentionLiveView(LiveView):
    """Pixel, kernel and alignment -> the explorer's figure, updated in place.

    Introduced in notebook 04.

    Args:
        explorer: the ``widgets.attention.AttentionExplorer`` (the view calls its ``figure`` and
            ``update`` and reads its ``attention_maps``; that module imports this one for
            ``show``, not the other way round).
        pixel_y, pixel_x, kernel, aligned: the first state drawn (kernel None = the module's own).
    """

    def __init__(self, explorer, pixel_y: int, pixel_x: int, kernel: int | None = None,
                 aligned: bool = True, dpi: int = EXPLORER_DPI):
        self.explorer = explorer
        super().__init__(explorer.figure(pixel_y, pixel_x, kernel, aligned), dpi)
        self.window_ax, self.frame_ax, self.weights_ax, self.colorbar_ax = self.figure.axes
        self.window = [*self.window_ax.collections, *self.window_ax.patches, self.window_ax.get_legend()]
        self.marker = self.frame_ax.lines[0]
        self._fixed = [*with_spines(self.window_ax, self.window_ax.images[0], self.window_ax.title), self.marker,
                       self.weights_ax.images[0], self.weights_ax.title, self.colorbar_ax]

    def pending(self, pixel_y: int, pixel_x: int, kernel: int | None = None, aligned: bool = True) -> str | None:
        kernel = self.explorer.demo.model.lr_model.creff.kernel if kernel is None else kernel
        if (int(kernel), bool(aligned)) in self.explorer.attention_maps and kernel in self._backgrounds:
            return None
        return f"computing the {kernel}x{kernel} attention of every pixel"

    def set_state(self, pixel_y: int, pixel_x: int, kernel: int | None = None, aligned: bool = True) -> dict:
        """Draw one state into the figure; returns ``explorer.update(...)``."""
        from arseg_tutorial.viz.models import attention_titles, set_window_ticks, window_patches

        state = self.explorer.update(pixel_y, pixel_x, kernel, aligned)
        titles, k, weights = attention_titles(state), state["kernel"], state["weights"]
        self.window_ax.images[0].set_data(state["keyframe_warped"])
        for artist in self.window:
            artist.remove()
        self.window = window_patches(self.window_ax, weights, state["pixel_feature"], state["stride_px"])
        self.window_ax.set_title(titles["window"], fontsize=SMALL_FONT_PT)
        self.marker.set_data([pixel_x], [pixel_y])
        heat_map = self.weights_ax.images[0]
        heat_map.set_data(weights)
        heat_map.set_extent((-0.5, k - 0.5, k - 0.5, -0.5))
        heat_map.set_clim(0, weights.max())
        self.weights_ax.set(xlim=(-0.5, k - 0.5), ylim=(k - 0.5, -0.5))
        set_window_ticks(self.weights_ax, k)
        self.weights_ax.set_title(titles["weights"], fontsize=SMALL_FONT_PT)
        return state

    def dynamic_artists(self) -> list:
        return [*self._fixed, *with_spines(self.weights_ax), *self.window]

    def background_key(self) -> int:
        return len(self.weights_ax.get_xticks())   # the heat map's ticks: one per window offset


def attention_face(explorer, kernels: Sequence[int], pixel_y: int | None = None, pixel_x: int | None = None):
    """Pixel sliders, a kernel dropdown and an alignment checkbox over an ``AttentionLiveView``.

    Introduced in notebook 04 (``AttentionExplorer.show``).

    Args:
        explorer: the ``AttentionExplorer``.
        kernels: the window sizes the dropdown offers (``widgets.attention.KERNELS``).
    """
    import ipywidgets as widgets

    height, width = explorer.pair.frame.shape[:2]
    controls = {
        "pixel_y": widgets.IntSlider(value=height // 2 if pixel_y is None else pixel_y, min=0,
                                     max=height - 1, description="pixel y", continuous_update=False),
        "pixel_x": widgets.IntSlider(value=width // 2 if pixel_x is None else pixel_x, min=0,
                                     max=width - 1, description="pixel x", continuous_update=False),
        "kernel": widgets.Dropdown(options=list(kernels), value=explorer.demo.model.lr_model.creff.kernel,
                                   description="kernel"),
        "aligned": widgets.Checkbox(value=True, description="align with motion vectors"),
    }
    view = AttentionLiveView(explorer, **{name: control.value for name, control in controls.items()})
    return live_face(view.render_png, controls, view.pending)
