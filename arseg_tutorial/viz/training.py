"""Figures about training and results: loss curves (stored and live), the ablation table, the
GMACs-vs-mIoU (Pareto) plot, per-distance curves, and per-frame mIoU and time over a video.

Introduced in notebook 05 (losses, ablation), notebook 06 (Pareto plot, per-distance curves) and
notebook 07 (mIoU and time per frame). Methods keep one colour everywhere: ``METHOD_COLOURS``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from arseg_tutorial.viz.codec import FRAME_TYPE_COLOURS

METHOD_COLOURS = {"hr": "#D55E00", "lr": "#0072B2", "arseg": "#009E73"}
"""Okabe-Ito colours per method: vermillion HR, blue LR-only, bluish green AR-Seg."""
METHOD_LABELS = {"hr": "HR every frame", "lr": "LR-only", "arseg": "AR-Seg"}
ABLATION_LABELS = {"full": "full AR-Seg", "no_fst": "no FST loss",
                   "unfrozen_classifier": "unfrozen classifier", "zero_flow": "zero flow (no MVs)"}


def method_of(label: str) -> str | None:
    """The method key ("hr", "lr", "arseg") a label starts with ("AR-Seg s=0.5" -> "arseg").

    Introduced in notebook 06.
    """
    text = label.lower().replace("-", "").replace(" ", "")
    return next((m for m in ("arseg", "hr", "lr") if text.startswith(m)), None)


def _stage_switch(curve: Mapping[str, Sequence]) -> float | None:
    """First logged step of stage 2 (AR-Seg's CReFF stage), or None."""
    steps, stages = curve.get("step", []), curve.get("stage", [])
    return next((float(s) for s, g in zip(steps, stages) if g == 2), None)


def plot_training_curves(curves: Mapping[str, Mapping[str, Sequence]], runs: Sequence[str] | None = None,
                         title: str = "training curves of the shipped checkpoints") -> Figure:
    """Segmentation loss (left) and explicit FST loss (right, AR-Seg runs) against the step.

    Introduced in notebook 05.

    Args:
        curves: run name -> {"step": [...], "loss": [...], "seg": [...], "fst": [...] (AR-Seg),
            "stage": [...]} as in ``data/training_curves.json``.
        runs: the runs to draw (default all).
        title: the figure title.
    Returns:
        The figure; a dotted line marks where AR-Seg's stage 2 (with CReFF) begins.
    """
    runs = list(curves) if runs is None else list(runs)
    missing = [r for r in runs if r not in curves]
    if missing:
        raise KeyError(f"no training curve for {missing}; available: {sorted(curves)}")
    fig, (seg_ax, fst_ax) = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
    colours = plt.cm.viridis(np.linspace(0, 0.9, max(len(runs), 1)))
    for colour, name in zip(colours, runs):
        curve = curves[name]
        seg_ax.plot(curve["step"], curve["seg"], color=colour, label=name)
        if curve.get("fst") and any(v is not None for v in curve["fst"]):
            fst_ax.plot(curve["step"], curve["fst"], color=colour, label=name)
            switch = _stage_switch(curve)
            if switch is not None:
                fst_ax.axvline(switch, color=colour, ls=":", lw=1)
    seg_ax.set(xlabel="optimisation step", ylabel="OHEM cross-entropy (main + 2 aux heads)",
               title="segmentation loss")
    fst_ax.set(xlabel="optimisation step", ylabel="FST loss (MSE of features)",
               title="explicit FST loss (dotted: stage 2, CReFF on)")
    for ax in (seg_ax, fst_ax):
        if ax.lines:
            ax.legend(fontsize="x-small", ncol=2)
    fig.suptitle(title)
    return fig


class LiveLossPlot:
    """A loss plot that redraws in place in a notebook while a run trains.

    Introduced in notebook 05. ``update(history)`` takes the trainer's history (one dict per step
    with "step", "loss", "seg" and, for AR-Seg, "fst") and redraws.
    """

    def __init__(self, title: str = "live training run", display: bool = True):
        self.figure, self.axes = plt.subplots(1, 2, figsize=(10, 3.4), constrained_layout=True)
        self.figure.suptitle(title)
        self._handle = None
        if display:
            from IPython.display import display as show
            self._handle = show(self.figure, display_id=True)
        plt.close(self.figure)

    def update(self, history: Sequence[Mapping[str, float]]) -> None:
        """Redraw both panels from the full history so far."""
        steps = [h["step"] for h in history]
        seg_ax, fst_ax = self.axes
        seg_ax.clear()
        fst_ax.clear()
        seg_ax.plot(steps, [h["loss"] for h in history], color="k", label="total loss")
        seg_ax.plot(steps, [h["seg"] for h in history], color=METHOD_COLOURS["lr"], label="segmentation (OHEM)")
        if history and "fst" in history[0]:
            fst_ax.plot(steps, [h["fst"] for h in history], color=METHOD_COLOURS["arseg"], label="FST (MSE)")
            switch = next((h["step"] for h in history if h.get("stage") == 2), None)
            if switch is not None:
                fst_ax.axvline(switch, color="0.4", ls=":", label="stage 2: CReFF on")
        else:
            fst_ax.text(0.5, 0.5, "no FST loss: per-frame method", ha="center", transform=fst_ax.transAxes)
        for ax in self.axes:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        seg_ax.set(xlabel="optimisation step", ylabel="loss", title="total and segmentation loss")
        fst_ax.set(xlabel="optimisation step", ylabel="MSE", title="explicit FST loss")
        for ax in self.axes:
            if ax.lines:
                ax.legend(fontsize="small")
        if self._handle is not None:
            self._handle.update(self.figure)


def train_with_live_plot(config, clips, checkpoint_path: str | Path, hr_state: dict | None = None,
                         refresh_every: int = 2, plot: LiveLossPlot | None = None):
    """Run ``arseg_tutorial.train.trainer.train`` in chunks, redrawing a ``LiveLossPlot`` after each.

    Introduced in notebook 05. Each chunk resumes from the checkpoint the previous one wrote (the
    trainer's resumability), so the result equals one uninterrupted run.

    Args:
        config: a ``TrainConfig``; clips: the training ``ClipSet``.
        checkpoint_path: a fresh path for the run's checkpoint (an existing one is resumed).
        hr_state: the trained HR weights (for "lr" and "arseg").
        refresh_every: steps between redraws.
        plot: the plot to redraw (default: a new ``LiveLossPlot`` shown in the notebook).
    Returns:
        The final ``TrainResult``.
    """
    from tqdm.auto import tqdm

    from arseg_tutorial.train.trainer import train

    if refresh_every < 1:
        raise ValueError(f"refresh_every must be >= 1, got {refresh_every}")
    plot = plot or LiveLossPlot(f"live run: {config.method}, s = {config.scale:g}, {config.steps} steps")
    result = None
    with tqdm(total=config.steps, desc=f"{config.method} s={config.scale:g}") as bar:
        for stop in range(refresh_every, config.steps + refresh_every, refresh_every):
            result = train(config, clips, checkpoint_path, hr_state=hr_state,
                           max_steps=min(stop, config.steps), progress=False, checkpoint_every=config.steps)
            bar.update(result.steps_done - bar.n)
            bar.set_postfix(loss=f"{result.history[-1]['loss']:.3f}")
            plot.update(result.history)
    return result


def format_ablation_table(ablation: Mapping) -> str:
    """The ablation of ``data/ablation.json`` as a fixed-width text table (mIoU in %).

    Introduced in notebook 05.
    """
    lines = [f"{'variant':<22}{'mean mIoU':>10}{'vs full':>9}{'final loss':>12}  command"]
    full = ablation["variants"]["full"]["mean_miou"]
    for name, row in ablation["variants"].items():
        lines.append(f"{ABLATION_LABELS.get(name, name):<22}{row['mean_miou']:>10.2f}"
                     f"{row['mean_miou'] - full:>+9.2f}{row['final_loss']:>12.4f}  {row['command']}")
    lines.append(f"{'HR every frame':<22}{ablation['hr_mean_miou']:>10.2f}"
                 f"{ablation['hr_mean_miou'] - full:>+9.2f}")
    lines.append(f"{'LR-only':<22}{ablation['lr_mean_miou']:>10.2f}{ablation['lr_mean_miou'] - full:>+9.2f}")
    return "\n".join(lines)


def plot_ablation(ablation: Mapping) -> Figure:
    """Mean mIoU per ablation variant (bars, with HR and LR-only as lines) and per distance.

    Introduced in notebook 05.

    Args:
        ablation: the content of ``data/ablation.json`` ("scale", "hr_mean_miou",
            "lr_mean_miou", "variants": name -> {"mean_miou", "per_distance", ...}).
    """
    variants = ablation["variants"]
    names = list(variants)
    fig, (bar_ax, dist_ax) = plt.subplots(1, 2, figsize=(11.5, 4), constrained_layout=True)
    values = [variants[n]["mean_miou"] for n in names]
    colours = plt.cm.viridis(np.linspace(0.15, 0.85, len(names)))
    bar_ax.bar(range(len(names)), values, color=colours)
    for i, value in enumerate(values):
        bar_ax.text(i, value, f"{value:.1f}", ha="center", va="bottom", fontsize="small")
    for key, method in (("hr_mean_miou", "hr"), ("lr_mean_miou", "lr")):
        bar_ax.axhline(ablation[key], color=METHOD_COLOURS[method], ls="--",
                       label=f"{METHOD_LABELS[method]}: {ablation[key]:.1f}")
    bar_ax.set_xticks(range(len(names)), [ABLATION_LABELS.get(n, n) for n in names], rotation=15,
                      fontsize="small")
    low = min(values + [ablation["lr_mean_miou"]])
    high = max(values + [ablation["hr_mean_miou"]])
    bar_ax.set_ylim(max(0.0, low - 0.3 * (high - low) - 1), high + 0.2 * (high - low) + 1)
    bar_ax.set(ylabel="mean mIoU over d = 0..L-1 (%)",
               title=f"ablation at s = {ablation['scale']:g} (test split)")
    bar_ax.legend(fontsize="small", loc="lower right")
    for colour, name in zip(colours, names):
        per_distance = variants[name]["per_distance"]
        dist_ax.plot(range(len(per_distance)), per_distance, "o-", ms=3, color=colour,
                     label=ABLATION_LABELS.get(name, name))
    dist_ax.set(xlabel="distance d from the keyframe (frames)", ylabel="mIoU (%)",
                title="per keyframe distance")
    dist_ax.legend(fontsize="small")
    return fig


def plot_pareto(ax: Axes, points: Mapping[str, Sequence[tuple[float, float, float]]],
                chosen_scale: float | None = None, gop_length: int | None = None) -> None:
    """GMACs per frame against mIoU for HR, LR-only and AR-Seg; the chosen scale ringed.

    Introduced in notebook 06.

    Args:
        ax: where to draw.
        points: method -> [(lr_scale, gmacs_per_frame, miou_percent), ...] sorted by scale
            (HR: one point at scale 1).
        chosen_scale: the LR scale to highlight on the LR-only and AR-Seg curves.
        gop_length: L, for the title.
    """
    for method, rows in points.items():
        rows = sorted(rows)
        gmacs = [r[1] for r in rows]
        miou = [r[2] for r in rows]
        ax.plot(gmacs, miou, "o-" if len(rows) > 1 else "s", color=METHOD_COLOURS[method], ms=6,
                label=METHOD_LABELS[method])
        if len(rows) > 1:
            for scale, x, y in rows:
                ax.annotate(f"s={scale:g}", (x, y), textcoords="offset points", xytext=(4, -10),
                            fontsize="x-small", color=METHOD_COLOURS[method])
        for scale, x, y in rows:
            if chosen_scale is not None and abs(scale - chosen_scale) < 1e-9 and method != "hr":
                ax.plot([x], [y], "o", ms=15, mfc="none", mec="k", mew=2)
    if chosen_scale is not None:
        ax.plot([], [], "o", ms=10, mfc="none", mec="k", mew=2, label=f"chosen s = {chosen_scale:g}")
    ax.set(xlabel="GMACs per frame (GOP average)", ylabel="mean mIoU (%)",
           title="accuracy vs cost" + (f" at GOP length L = {gop_length}" if gop_length else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="best")


def plot_per_distance(ax: Axes, curves: Mapping[str, Sequence[float]], gop_length: int | None = None,
                      colours: Mapping[str, str] | None = None) -> None:
    """mIoU against the distance d from the keyframe, one line per method.

    Introduced in notebook 06.

    Args:
        curves: label -> mIoU (%) for d = 0, 1, ...; a label that starts with a method's name
            ("HR", "LR-only", "AR-Seg", see ``method_of``) gets that method's colour.
        gop_length: L; distances d >= L (not used at this GOP length) are shaded.
        colours: explicit label -> colour (overrides the method colours).
    """
    longest = 0
    for label, values in curves.items():
        colour = (colours or {}).get(label, METHOD_COLOURS.get(method_of(label) or ""))
        ax.plot(range(len(values)), values, "o-", ms=3, color=colour, label=label)
        longest = max(longest, len(values))
    if gop_length is not None and gop_length < longest:
        ax.axvspan(gop_length - 0.5, longest - 0.5, color="0.85", label=f"unused at L = {gop_length}")
    ax.set(xlabel="distance d from the keyframe (frames)", ylabel="mIoU (%)",
           title="accuracy by keyframe distance")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")


def _mark_keyframes(ax: Axes, frame_types: str) -> None:
    for index, kind in enumerate(frame_types):
        if kind == "I":
            ax.axvline(index, color=FRAME_TYPE_COLOURS["I"], lw=1, ls=":")
    ax.plot([], [], color=FRAME_TYPE_COLOURS["I"], lw=1, ls=":", label="I-frame (keyframe)")


def plot_video_timeline(frame_types: str, miou: Mapping[str, Sequence[float]],
                        ms_per_frame: Mapping[str, Sequence[float]], title: str = "",
                        colours: Mapping[str, str] | None = None) -> Figure:
    """Per-frame mIoU (top) and measured time per frame (bottom) over a video, I-frames marked.

    Introduced in notebook 07.

    Args:
        frame_types: one character per frame ("IPPP...").
        miou: label -> (N,) per-frame mIoU in %; the label's leading method key picks the colour.
        ms_per_frame: label -> (N,) measured wall-clock milliseconds per frame.
        title: figure title.
        colours: explicit label -> colour (overrides the method colours).
    """
    fig, (miou_ax, time_ax) = plt.subplots(2, 1, figsize=(12, 6), sharex=True, constrained_layout=True)
    for ax, series, ylabel in ((miou_ax, miou, "mIoU of the frame (%)"),
                               (time_ax, ms_per_frame, "wall-clock per frame (ms)")):
        for label, values in series.items():
            colour = (colours or {}).get(label, METHOD_COLOURS.get(method_of(label) or ""))
            ax.plot(np.arange(len(values)), values, ".-", color=colour,
                    label=f"{label} (mean {np.mean(values):.1f})")
        _mark_keyframes(ax, frame_types)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    miou_ax.set_title("segmentation accuracy of every frame")
    time_ax.set_title("measured time per frame")
    time_ax.set_xlabel("frame index (display order)")
    if title:
        fig.suptitle(title)
    return fig
