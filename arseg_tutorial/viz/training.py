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
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from arseg_tutorial.train.history import stage_switch
from arseg_tutorial.viz import FIGURE_WIDTH_IN, SMALL_FONT_PT

METHOD_COLOURS = {"hr": "#D55E00", "lr": "#0072B2", "arseg": "#009E73", "warp": "#E69F00",
                  "oracle": "#000000"}
"""One colour per method in every figure, from the colour-blind-safe Okabe-Ito palette: vermillion
HR, blue LR-only, bluish green AR-Seg, orange the warped keyframe ("warp"), black the oracle
bound. Scales of one method share its colour and differ by line style (``SCALE_STYLES``)."""
METHOD_LABELS = {"hr": "HR every frame", "lr": "LR-only", "arseg": "AR-Seg",
                 "warp": "warped keyframe", "oracle": "oracle bound"}
SCALE_STYLES = ("-", "--", "-.", ":")
"""Line styles that tell the scales of one method apart (smallest scale first)."""
ABLATION_GREYS = ("0.15", "0.45", "0.7")
"""Greys for ablation variants that are not a method of their own (no FST, unfrozen classifier,
zero flow, another window)."""


def method_of(label: str) -> str | None:
    """The method key a figure label stands for ("AR-Seg s=0.5" -> "arseg", "warped keyframe" ->
    "warp"), or None.

    Introduced in notebook 06.
    """
    text = label.lower().replace("-", "").replace(" ", "")
    return next((m for m in ("arseg", "hr", "lr", "warp", "oracle") if text.startswith(m)), None)


def run_colour(run: str) -> str:
    """The colour of a shipped run in figures: its method's, grey for the other ablations.

    Introduced in notebook 05 ("arseg-0.5" -> AR-Seg's green, "arseg-0.5-no_fst" -> grey).
    """
    parts = run.split("-")
    if parts[0] == "arseg" and len(parts) > 2:
        return ABLATION_GREYS[0]
    return METHOD_COLOURS.get(parts[0], ABLATION_GREYS[1])


def plot_training_curves(curves: Mapping[str, Mapping[str, Sequence]], runs: Sequence[str] | None = None,
                         title: str = "training curves of the shipped checkpoints") -> Figure:
    """Segmentation loss, explicit FST loss (AR-Seg runs) and validation mIoU against the step.

    Introduced in notebook 05.

    Args:
        curves: run name -> {"step": [...], "loss": [...], "seg": [...], "fst": [...] (AR-Seg),
            "stage": [...], "val_miou": [...] (None where the run did not validate)} as in
            ``data/training_curves.json``.
        runs: the runs to draw (default all).
        title: the figure title.
    Returns:
        The figure; a dotted line marks where AR-Seg's stage 2 (with CReFF) begins, a star each
        run's best validation evaluation (the weights it ships).
    """
    runs = list(curves) if runs is None else list(runs)
    missing = [r for r in runs if r not in curves]
    if missing:
        raise KeyError(f"no training curve for {missing}; available: {sorted(curves)}")
    fig, ((seg_ax, fst_ax), (val_ax, key_ax)) = plt.subplots(2, 2, figsize=(FIGURE_WIDTH_IN, 7.2),
                                                             constrained_layout=True)
    for name in runs:
        curve, colour = curves[name], run_colour(name)
        style = "--" if colour in ABLATION_GREYS else "-"
        seg_ax.plot(curve["step"], curve["seg"], color=colour, ls=style, label=name)
        if curve.get("fst") and any(v is not None for v in curve["fst"]):
            fst_ax.plot(curve["step"], curve["fst"], color=colour, ls=style, label=name)
            switch = stage_switch(curve)
            if switch is not None:
                fst_ax.axvline(switch, color=colour, ls=":", lw=1)
        evals = [(s, v) for s, v in zip(curve["step"], curve.get("val_miou") or []) if v is not None]
        if evals:
            steps, values = zip(*evals)
            val_ax.plot(steps, values, color=colour, ls=style, label=name)
            best = max(range(len(values)), key=values.__getitem__)
            val_ax.plot([steps[best]], [values[best]], "*", ms=11, color=colour)
    seg_ax.set(xlabel="optimisation step", ylabel="OHEM cross-entropy (main + 2 aux heads)",
               title="segmentation loss")
    fst_ax.set(xlabel="optimisation step", ylabel="FST loss (MSE of features)",
               title="explicit FST loss (AR-Seg runs)")
    val_ax.set(xlabel="optimisation step", ylabel="mean mIoU over d (%)",
               title="validation mIoU (star: the weights shipped)")
    key_ax.axis("off")                              # one key for the three panels
    handles = [Line2D([], [], color=run_colour(n), ls="--" if run_colour(n) in ABLATION_GREYS else "-", label=n)
               for n in runs]
    handles += [Line2D([], [], color="0.3", ls=":", label="stage 2 begins (CReFF on)"),
                Line2D([], [], color="0.3", ls="", marker="*", ms=11, label="best validation: shipped")]
    key_ax.legend(handles=handles, loc="center", fontsize=SMALL_FONT_PT, title="runs", frameon=False)
    fig.suptitle(title)
    return fig


class LiveLossPlot:
    """A loss plot that redraws in place in a notebook while a run trains.

    Introduced in notebook 05. ``update(history)`` takes the trainer's history (one dict per step
    with "step", "loss", "seg" and, for AR-Seg, "fst") and redraws.
    """

    def __init__(self, title: str = "live training run", display: bool = True):
        self.figure, self.axes = plt.subplots(1, 2, figsize=(FIGURE_WIDTH_IN, 3.4), constrained_layout=True)
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
                ax.legend(fontsize=SMALL_FONT_PT)
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


def plot_pareto(ax: Axes, points: Mapping[str, Sequence[tuple[float, float, float]]],
                chosen_scale: float | None = None, gop_length: int | None = None) -> None:
    """GMACs per frame against mIoU for HR, LR-only, AR-Seg (and warp); the chosen scale ringed.

    Introduced in notebook 06.

    Args:
        ax: where to draw.
        points: method -> [(lr_scale, gmacs_per_frame, miou_percent), ...] sorted by scale
            (HR and warp: one point at scale 1).
        chosen_scale: the LR scale to highlight on the LR-only and AR-Seg curves.
        gop_length: L, for the title.
    """
    for method, rows in points.items():
        rows = sorted(rows)
        gmacs = [r[1] for r in rows]
        miou = [r[2] for r in rows]
        ax.plot(gmacs, miou, "o-" if len(rows) > 1 else "D" if method == "warp" else "s",
                color=METHOD_COLOURS[method], ms=6, label=METHOD_LABELS[method])
        if len(rows) > 1:
            above = method == "arseg"                # AR-Seg's labels above-left, the others below-right
            for scale, x, y in rows:
                ax.annotate(f"s={scale:g}", (x, y), textcoords="offset points", xytext=(-5, 4) if above else (4, -11),
                            ha="right" if above else "left", fontsize=SMALL_FONT_PT, color=METHOD_COLOURS[method])
        for scale, x, y in rows:
            if chosen_scale is not None and abs(scale - chosen_scale) < 1e-9 and method in ("lr", "arseg"):
                ax.plot([x], [y], "o", ms=15, mfc="none", mec="k", mew=2)
    if chosen_scale is not None:
        ax.plot([], [], "o", ms=10, mfc="none", mec="k", mew=2, label=f"chosen s = {chosen_scale:g}")
    ax.set(xlabel="GMACs per frame (GOP average)", ylabel="mean mIoU (%)",
           title="accuracy vs cost" + (f" at GOP length L = {gop_length}" if gop_length else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=SMALL_FONT_PT, loc="best")


def plot_per_distance(ax: Axes, curves: Mapping[str, Sequence[float]], gop_length: int | None = None,
                      colours: Mapping[str, str] | None = None,
                      linestyles: Mapping[str, str] | None = None) -> None:
    """mIoU against the distance d from the keyframe, one line per method.

    Introduced in notebook 06.

    Args:
        curves: label -> mIoU (%) for d = 0, 1, ...; a label that starts with a method's name
            ("HR", "LR-only", "AR-Seg", see ``method_of``) gets that method's colour.
        gop_length: L; distances d >= L (not used at this GOP length) are shaded.
        colours: explicit label -> colour (overrides the method colours).
        linestyles: label -> line style (``SCALE_STYLES`` tell one method's scales apart).
    """
    longest = 0
    for label, values in curves.items():
        colour = (colours or {}).get(label, METHOD_COLOURS.get(method_of(label) or ""))
        ax.plot(range(len(values)), values, marker="o", ls=(linestyles or {}).get(label, "-"), ms=3,
                color=colour, label=label)
        longest = max(longest, len(values))
    if gop_length is not None and gop_length < longest:
        ax.axvspan(gop_length - 0.5, longest - 0.5, color="0.85", label=f"unused at L = {gop_length}")
    ax.set(xlabel="distance d from the keyframe (frames)", ylabel="mIoU (%)",
           title="accuracy by keyframe distance")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=SMALL_FONT_PT)


KEYFRAME_MARK = "0.3"
"""Colour of the I-frame lines in per-frame plots: a grey, so that no method's colour means two things."""


def _mark_keyframes(ax: Axes, frame_types: str) -> None:
    for index, kind in enumerate(frame_types):
        if kind == "I":
            ax.axvline(index, color=KEYFRAME_MARK, lw=1, ls=":")
    ax.plot([], [], color=KEYFRAME_MARK, lw=1, ls=":", label="I-frame (keyframe)")


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
    fig, (miou_ax, time_ax) = plt.subplots(2, 1, figsize=(FIGURE_WIDTH_IN, 6), sharex=True, constrained_layout=True)
    for ax, series, ylabel in ((miou_ax, miou, "mIoU of the frame (%)"),
                               (time_ax, ms_per_frame, "wall-clock per frame (ms)")):
        for label, values in series.items():
            colour = (colours or {}).get(label, METHOD_COLOURS.get(method_of(label) or ""))
            ax.plot(np.arange(len(values)), values, ".-", color=colour,
                    label=f"{label} (mean {np.mean(values):.1f})")
        _mark_keyframes(ax, frame_types)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=SMALL_FONT_PT, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    miou_ax.set_title("segmentation accuracy of every frame")
    time_ax.set_title("measured time per frame")
    time_ax.set_xlabel("frame index (display order)")
    if title:
        fig.suptitle(title)
    return fig


def plot_regime(curves: Mapping) -> Figure:
    """When AR-Seg beats the warped keyframe: losses against HR by distance, and by LR scale.

    Introduced in notebook 06. Left: HR(d) minus each method's mIoU at distance d (lower is
    better; the oracle bound in black when given). Right: one point per LR scale, the LR-only gap
    to HR against AR-Seg's margin over the warp (above 0: AR-Seg wins).

    Args:
        curves: ``results.regime_curves(sweep, lr_scale, oracle)``: ``lr_scale`` (the scale of the
            left panel), ``per_distance`` (method -> mIoU (%) by distance: "hr", "lr", "warp",
            "arseg", optionally "oracle") and ``regimes`` (rows with ``lr_scale``, ``lr_gap`` and
            ``arseg_vs_warp``, one per LR scale).
    """
    lr_scale, per_distance = curves["lr_scale"], curves["per_distance"]
    hr = np.asarray(per_distance["hr"], float)
    fig, (dist_ax, scale_ax) = plt.subplots(1, 2, figsize=(FIGURE_WIDTH_IN, 4.4), constrained_layout=True)
    for method in ("lr", "warp", "arseg"):
        values = np.asarray(per_distance[method], float)
        label = METHOD_LABELS[method] + (f" s={lr_scale:g}" if method != "warp" else "")
        dist_ax.plot(range(len(hr)), hr - values, "o-", ms=3, color=METHOD_COLOURS[method], label=label)
    if "oracle" in per_distance:
        dist_ax.plot(range(len(hr)), hr - np.asarray(per_distance["oracle"], float), "o--", ms=3,
                     color=METHOD_COLOURS["oracle"], label="oracle bound (warp or LR-only, per pixel)")
    dist_ax.axhline(0, color="0.6", lw=0.8)
    dist_ax.set(xlabel="distance d from the keyframe (frames)", ylabel="HR(d) - mIoU(d) (points)",
                title="what each method loses against HR, by distance")
    dist_ax.grid(alpha=0.3)
    dist_ax.legend(fontsize=SMALL_FONT_PT)
    rows = curves["regimes"]
    gaps, margins = [r["lr_gap"] for r in rows], [r["arseg_vs_warp"] for r in rows]
    scale_ax.plot(gaps, margins, "o-", color=METHOD_COLOURS["arseg"])
    for r in rows:
        scale_ax.annotate(f"s={r['lr_scale']:g}", (r["lr_gap"], r["arseg_vs_warp"]), textcoords="offset points",
                          xytext=(5, 4), fontsize=SMALL_FONT_PT, color=METHOD_COLOURS["arseg"])
    scale_ax.axhline(0, color=METHOD_COLOURS["warp"], ls="--", label="warped keyframe (AR-Seg = warp)")
    scale_ax.set(xlabel="LR-only gap: HR - LR-only (mean mIoU points)",
                 ylabel="AR-Seg - warp (mean mIoU points)", title="AR-Seg's margin over the warp, by LR scale")
    scale_ax.grid(alpha=0.3)
    scale_ax.legend(fontsize=SMALL_FONT_PT)
    return fig
