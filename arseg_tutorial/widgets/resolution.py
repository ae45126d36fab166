"""The LR-scale explorer of notebook 03: what an image and its labels lose at scale s, and what it saves.

Introduced in notebook 03. Built like every explorer (see ``arseg_tutorial.widgets``):
``ResolutionExplorer.update(lr_scale)`` is the pure core (arrays and numbers, no drawing) that the
tests call; ``figure(lr_scale)`` draws one state (the static figure of the notebook); ``show``
puts a slider over a ``ResolutionLiveView``, that figure changed in place (``widgets.live``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from arseg_tutorial.cost import gmacs, gop_average
from arseg_tutorial.evaluate import confusion_matrix, iou_per_class
from arseg_tutorial.models import build_model
from arseg_tutorial.models.arseg import lr_size
from arseg_tutorial.viz import SMALL_FONT_PT
from arseg_tutorial.widgets.live import EXPLORER_DPI, LiveView, with_spines

IGNORE_LABEL = 255


def resample_image(frame: np.ndarray, lr_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear downsampling of an RGB frame to scale s, and back up to its size.

    Introduced in notebook 03.

    Args:
        frame: (H, W, 3) uint8 RGB.
        lr_scale: s in (0, 1].
    Returns:
        ((h, w, 3) uint8 LR frame, (H, W, 3) uint8 LR frame upsampled back bilinearly).
    """
    height, width = frame.shape[:2]
    x = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].float()
    small = F.interpolate(x, size=lr_size(height, width, lr_scale), mode="bilinear", align_corners=False)
    back = F.interpolate(small, size=(height, width), mode="bilinear", align_corners=False)
    to_uint8 = lambda t: t[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()  # noqa: E731
    return to_uint8(small), to_uint8(back)


def resample_labels(labels: np.ndarray, lr_scale: float) -> np.ndarray:
    """Labels as the LR branch can at best see them: nearest-neighbour down to scale s and back up.

    Introduced in notebook 03.

    Args:
        labels: (..., H, W) uint8 label maps.
        lr_scale: s in (0, 1].
    Returns:
        (..., H, W) uint8: each pixel takes the label of the LR pixel it falls into.
    """
    labels = np.asarray(labels)
    height, width = labels.shape[-2:]
    small_h, small_w = lr_size(height, width, lr_scale)
    rows = np.minimum(((np.arange(small_h) + 0.5) * height / small_h).astype(np.int64), height - 1)
    cols = np.minimum(((np.arange(small_w) + 0.5) * width / small_w).astype(np.int64), width - 1)
    small = labels[..., rows[:, None], cols[None, :]]
    back_rows = np.minimum((np.arange(height) * small_h / height).astype(np.int64), small_h - 1)
    back_cols = np.minimum((np.arange(width) * small_w / width).astype(np.int64), small_w - 1)
    return small[..., back_rows[:, None], back_cols[None, :]]


def roundtrip_iou(labels: np.ndarray, scales: tuple[float, ...], num_classes: int) -> np.ndarray:
    """Per-class IoU of the down/up-sampled labels against the originals, per scale.

    Introduced in notebook 03: the accuracy ceiling of a perfect network that only sees scale s.

    Args:
        labels: (T, H, W) uint8 label maps (255 = ignore).
        scales: the LR scales s.
        num_classes: K.
    Returns:
        (len(scales), K) IoU in [0, 1]; NaN for a class absent from the labels.
    """
    ious = []
    for scale in scales:
        predicted = resample_labels(labels, scale)
        # an LR pixel that lands on an ignore pixel predicts "unknown" (class K): always wrong
        predicted = np.where(predicted == IGNORE_LABEL, num_classes, predicted)
        conf = confusion_matrix(predicted, labels, num_classes + 1)
        ious.append(iou_per_class(conf)[:num_classes])
    return np.stack(ious)


def roundtrip_miou(labels: np.ndarray, scales: tuple[float, ...], num_classes: int) -> list[float]:
    """mIoU (%) of the down/up-sampled labels against the originals, per scale.

    Introduced in notebook 03: the label round-trip ceiling of an LR-only network at scale s (the
    mean over the classes present of ``roundtrip_iou``).

    Args:
        labels: (T, H, W) uint8 label maps (255 = ignore).
    """
    return [float(np.nanmean(row) * 100.0) for row in roundtrip_iou(labels, scales, num_classes)]


@lru_cache(maxsize=8)
def _keyframe_cost(model_name: str, height: int, width: int, num_classes: int,
                   net_width: float) -> tuple[float, tuple[int, ...]]:
    """(GMACs of the HR network on a frame, shape of its feature), which no LR scale changes."""
    with torch.device("meta"):
        hr = build_model(model_name, num_classes, width=net_width)
        feature_shape = tuple(hr.eval().forward_phase1(torch.empty(1, 3, height, width)).shape)
    return gmacs(hr, (1, 3, height, width)), feature_shape


@lru_cache(maxsize=64)
def _nonkeyframe_costs(model_name: str, height: int, width: int, num_classes: int, net_width: float,
                       lr_scale: float) -> tuple[float, float, float]:
    hr_gmacs, feature_shape = _keyframe_cost(model_name, height, width, num_classes, net_width)
    with torch.device("meta"):
        lr = build_model(model_name, num_classes, width=net_width)
        lr.add_creff()
    lr_shape = (1, 3, *lr_size(height, width, lr_scale))
    return hr_gmacs, gmacs(lr, lr_shape), gmacs(lr, lr_shape, reference_shape=feature_shape)


@dataclass
class ResolutionExplorer:
    """LR-scale slider -> the frame at that scale, the labels after down/up sampling, the GMACs.

    Introduced in notebook 03.

    Args:
        frame: (H, W, 3) uint8 frame shown.
        labels: (H, W) uint8 its labels.
        model_name: network whose cost is shown ("bisenet18" or "pspnet18").
        cost_size: (H, W) at which GMACs are counted (default the paper's 720x960).
        num_classes: K for the cost model.
        net_width: channel multiplier for the cost model (1.0 = the paper's network).
        gop_length: L for the GOP average.
    """

    frame: np.ndarray
    labels: np.ndarray
    model_name: str = "bisenet18"
    cost_size: tuple[int, int] = (720, 960)
    num_classes: int = 12
    net_width: float = 1.0
    gop_length: int = 12

    def update(self, lr_scale: float) -> dict:
        """The explorer's state at scale s (pure: arrays and numbers).

        Returns:
            dict with ``lr_frame`` (h, w, 3), ``frame_back`` (H, W, 3), ``labels_back`` (H, W),
            ``pixel_accuracy`` of the labels after the round trip, ``lr_size`` (h, w), and the
            costs in GMACs: ``hr_gmacs``, ``lr_gmacs``, ``nonkeyframe_gmacs`` (LR + CReFF),
            ``gop_gmacs`` (GOP average) and ``saving`` (fraction).
        """
        lr_frame, frame_back = resample_image(self.frame, lr_scale)
        labels_back = resample_labels(self.labels, lr_scale)
        valid = self.labels != IGNORE_LABEL
        accuracy = float((labels_back[valid] == self.labels[valid]).mean())
        hr, lr, nonkey = _nonkeyframe_costs(self.model_name, *self.cost_size, self.num_classes,
                                            self.net_width, round(float(lr_scale), 4))
        average = gop_average(hr, nonkey, self.gop_length)
        return {"lr_scale": float(lr_scale), "lr_frame": lr_frame, "frame_back": frame_back,
                "labels_back": labels_back, "pixel_accuracy": accuracy, "lr_size": lr_frame.shape[:2],
                "hr_gmacs": hr, "lr_gmacs": lr, "nonkeyframe_gmacs": nonkey, "gop_gmacs": average,
                "saving": 1.0 - average / hr}

    def figure(self, lr_scale: float):
        """Draw the state at ``lr_scale`` (the static figure next to the widget)."""
        from arseg_tutorial.viz.models import plot_resolution_state

        return plot_resolution_state(self.update(lr_scale), self.frame, self.model_name,
                                     self.cost_size, self.gop_length)

    def show(self, lr_scale: float = 0.5):
        """The interactive face: a slider for s from 0.2 to 1.0 over a ``ResolutionLiveView``."""
        import ipywidgets as widgets

        from arseg_tutorial.widgets.live import live_face

        slider = widgets.FloatSlider(value=lr_scale, min=0.2, max=1.0, step=0.05, description="LR scale s",
                                     continuous_update=False)
        view = ResolutionLiveView(self, lr_scale)
        return live_face(view.render_png, {"lr_scale": slider}, view.pending)


class ResolutionLiveView(LiveView):
    """The LR-scale explorer's live face: one ``ResolutionExplorer.figure`` changed in place.

    Introduced in notebook 03. Each scale's state is computed once; the first visit of a scale
    counts the LR network's GMACs (a few tenths of a second, ``pending`` says so).

    Args:
        explorer: the ``ResolutionExplorer``.
        lr_scale: the first scale drawn.
    """

    def __init__(self, explorer: ResolutionExplorer, lr_scale: float = 0.5, dpi: int = EXPLORER_DPI):
        from arseg_tutorial.viz.models import plot_resolution_state

        self.explorer = explorer
        self._states: dict[float, dict] = {}
        super().__init__(plot_resolution_state(self.state(lr_scale), explorer.frame, explorer.model_name,
                                               explorer.cost_size, explorer.gop_length), dpi)
        _, self.frame_ax, self.labels_ax, self.cost_ax = self.figure.axes
        self.bars = self.cost_ax.containers[0]
        self.bar_labels = list(self.cost_ax.texts)
        self._fixed = [*with_spines(self.frame_ax, self.frame_ax.images[0], self.frame_ax.title),
                       *with_spines(self.labels_ax, self.labels_ax.images[0], self.labels_ax.title),
                       *with_spines(self.cost_ax, self.cost_ax.title), *self.bars.patches]

    def state(self, lr_scale: float) -> dict:
        """``explorer.update(lr_scale)``, computed once per scale."""
        key = round(float(lr_scale), 4)
        if key not in self._states:
            self._states[key] = self.explorer.update(lr_scale)
        return self._states[key]

    def pending(self, lr_scale: float) -> str | None:
        return None if round(float(lr_scale), 4) in self._states else f"counting GMACs at s = {lr_scale:.2f}"

    def set_state(self, lr_scale: float) -> dict:
        """Draw scale s into the figure; returns its state."""
        from arseg_tutorial.viz import colorize_labels
        from arseg_tutorial.viz.models import label_cost_bars, resolution_costs, resolution_titles

        state = self.state(lr_scale)
        explorer = self.explorer
        titles = resolution_titles(state, explorer.model_name, explorer.cost_size)
        self.frame_ax.images[0].set_data(state["frame_back"])
        self.frame_ax.set_title(titles["frame"], fontsize=SMALL_FONT_PT)
        self.labels_ax.images[0].set_data(colorize_labels(state["labels_back"]))
        self.labels_ax.set_title(titles["labels"], fontsize=SMALL_FONT_PT)
        for bar, value in zip(self.bars, resolution_costs(state)):
            bar.set_height(value)
        for label in self.bar_labels:
            label.remove()
        self.bar_labels = label_cost_bars(self.cost_ax, self.bars)
        self.cost_ax.relim()
        self.cost_ax.autoscale_view(scalex=False)
        self.cost_ax.set_title(titles["cost"], fontsize=SMALL_FONT_PT)
        return state

    def dynamic_artists(self) -> list:
        return [*self._fixed, *self.bar_labels]

    def background_key(self) -> tuple:
        return self.cost_ax.get_ylim()
