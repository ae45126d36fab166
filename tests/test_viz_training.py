"""Figures of notebooks 05-07 (arseg_tutorial.viz.training) and the chunked live training run."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402

from arseg_tutorial.train.data import ClipSet  # noqa: E402
from arseg_tutorial.train.loops import TrainConfig  # noqa: E402
from arseg_tutorial.train.trainer import train  # noqa: E402
from arseg_tutorial.viz.ablation import format_ablation_table, plot_ablation  # noqa: E402
from arseg_tutorial.viz.training import (  # noqa: E402
    METHOD_COLOURS, LiveLossPlot, method_of, plot_pareto,
    plot_per_distance, plot_training_curves, plot_video_timeline, train_with_live_plot,
)

CURVES = {
    "hr": {"step": [5, 10, 15], "loss": [3.0, 2.0, 1.5], "seg": [3.0, 2.0, 1.5], "stage": [0, 0, 0]},
    "arseg-0.5": {"step": [5, 10, 15], "loss": [2.5, 1.8, 1.2], "seg": [2.0, 1.5, 1.0],
                  "fst": [0.5, 0.3, 0.2], "stage": [1, 2, 2], "val_miou": [None, 40.0, 39.0]},
}
ABLATION = {"scale": 0.5, "hr_mean_miou": 60.0, "lr_mean_miou": 50.0, "variants": {
    name: {"run": name, "mean_miou": miou, "per_distance": [miou] * 12, "changes": {},
           "command": f"python -m arseg_tutorial train {name}", "final_loss": 1.0}
    for name, miou in (("full", 58.0), ("no_fst", 55.5), ("unfrozen_classifier", 56.0), ("zero_flow", 54.0))}}


def test_method_of_reads_the_labels_used_in_the_figures():
    assert method_of("AR-Seg s=0.5") == "arseg"
    assert method_of("LR-only s=0.25") == "lr"
    assert method_of("HR every frame") == "hr"
    assert method_of("truth") is None


def test_training_curves_draw_every_run_and_mark_the_stage_switch():
    fig = plot_training_curves(CURVES)
    seg_ax, fst_ax, val_ax, key_ax = fig.axes
    assert [line.get_label() for line in seg_ax.lines] == ["hr", "arseg-0.5"]
    assert [t.get_text() for t in key_ax.get_legend().get_texts()][:2] == ["hr", "arseg-0.5"]   # one key for all
    assert list(fst_ax.lines[0].get_ydata()) == [0.5, 0.3, 0.2]
    switch = [line for line in fst_ax.lines if list(line.get_xdata()) == [10.0, 10.0]]
    assert len(switch) == 1                                  # stage 2 begins at step 10
    assert list(val_ax.lines[0].get_xdata()) == [10, 15]     # only the validated steps
    star = [line for line in val_ax.lines if line.get_marker() == "*"][0]
    assert (star.get_xdata()[0], star.get_ydata()[0]) == (10, 40.0)     # the best evaluation
    plt.close(fig)
    with pytest.raises(KeyError, match="available"):
        plot_training_curves(CURVES, runs=["lr-0.5"])


def test_live_plot_redraws_the_whole_history():
    plot = LiveLossPlot(display=False)
    history = [{"step": s, "loss": 3.0 - s, "seg": 2.0 - s, "fst": 0.5 / s} for s in (1, 2)]
    plot.update(history)
    plot.update(history + [{"step": 3, "loss": 0.5, "seg": 0.4, "fst": 0.1}])
    seg_ax, fst_ax = plot.axes
    assert len(seg_ax.lines) == 2 and list(seg_ax.lines[0].get_ydata()) == [2.0, 1.0, 0.5]
    assert list(fst_ax.lines[0].get_xdata()) == [1, 2, 3]


def test_live_run_in_chunks_ends_with_the_weights_of_one_uninterrupted_run(tmp_path):
    rng = np.random.default_rng(0)
    clips = ClipSet(rng.integers(0, 255, (2, 4, 40, 56, 3), dtype=np.uint8),
                    rng.integers(0, 11, (2, 4, 40, 56), dtype=np.uint8),
                    np.zeros((2, 4, 40, 56, 2), np.float32), np.ones((2, 4, 40, 56), bool),
                    np.zeros((2, 4), np.int64))
    config = TrainConfig(method="hr", steps=3, batch_size=2, learning_rate=1e-3, crop_size=(32, 48),
                         net_width=0.125, num_classes=11)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        plot = LiveLossPlot(display=False)
        chunked = train_with_live_plot(config, clips, tmp_path / "chunked.pt", refresh_every=2, plot=plot)
        whole = train(config, clips, tmp_path / "whole.pt", progress=False)
    finally:
        torch.set_num_threads(threads)
    assert chunked.steps_done == 3
    assert list(plot.axes[0].lines[0].get_xdata()) == [1, 2, 3]
    assert [h["loss"] for h in chunked.history] == [h["loss"] for h in whole.history]
    for name, value in whole.model.state_dict().items():
        assert torch.equal(value, chunked.model.state_dict()[name]), name


def test_ablation_table_and_figure_show_every_variant_against_full():
    table = format_ablation_table(ABLATION).splitlines()
    assert len(table) == 1 + 4 + 2
    assert "no FST loss" in table[2] and "-2.50" in table[2]
    assert "python -m arseg_tutorial train zero_flow" in table[4]
    fig = plot_ablation(ABLATION)
    diamonds = [line for line in fig.axes[0].lines if line.get_marker() == "D"]
    assert [float(d.get_xdata()[0]) for d in diamonds] == [58.0, 55.5, 56.0, 54.0]
    assert [float(d.get_ydata()[0]) for d in diamonds] == [3, 2, 1, 0]     # the full model on top
    plt.close(fig)


def test_ablation_dots_show_the_seed_spread():
    seeds = {"test": {"full": {"seeds": [0, 1, 2], "mean_miou": [58.0, 57.2, 58.6], "mean": 57.93,
                               "spread": 1.4}}}
    ablation = {**ABLATION, "seeds": seeds}
    fig = plot_ablation(ablation)
    seed_dots = [line for line in fig.axes[0].lines if line.get_marker() == "o"]
    assert [list(map(float, d.get_xdata())) for d in seed_dots] == [[58.0, 57.2, 58.6]]
    spans = [line for line in fig.axes[0].lines if line.get_linewidth() == 6]
    assert list(map(float, spans[0].get_xdata())) == [57.2, 58.6]
    assert "spread 1.40" in format_ablation_table(ablation)
    plt.close(fig)


def test_pareto_rings_the_chosen_scale_and_per_distance_shades_unused_distances():
    fig, (ax, ax2) = plt.subplots(1, 2)
    points = {"hr": [(1.0, 10.0, 60.0)], "lr": [(0.25, 1.0, 40.0), (0.5, 2.5, 50.0)],
              "arseg": [(0.25, 2.0, 55.0), (0.5, 3.5, 58.0)]}
    plot_pareto(ax, points, chosen_scale=0.5, gop_length=12)
    ringed = sorted((float(line.get_xdata()[0]), float(line.get_ydata()[0])) for line in ax.lines
                    if line.get_markerfacecolor() == "none" and len(line.get_xdata()))
    assert ringed == [(2.5, 50.0), (3.5, 58.0)]
    plot_per_distance(ax2, {"HR": [60.0] * 12, "AR-Seg s=0.5": [58.0] * 12}, gop_length=8)
    assert ax2.lines[1].get_color() == METHOD_COLOURS["arseg"]
    assert len(ax2.patches) == 1                           # distances 8..11 shaded
    plt.close(fig)


def test_video_timeline_marks_every_i_frame():
    types = "IPPPIPPP"
    fig = plot_video_timeline(types, {"HR": np.full(8, 50.0), "AR-Seg": np.full(8, 48.0)},
                              {"HR": np.full(8, 10.0), "AR-Seg": np.full(8, 4.0)})
    marks = [line for line in fig.axes[0].lines if line.get_linestyle() == ":" and len(line.get_xdata())]
    assert sorted(float(m.get_xdata()[0]) for m in marks) == [0.0, 4.0]
    assert "mean 4.0" in fig.axes[1].get_legend().get_texts()[1].get_text()
    plt.close(fig)


def test_ablation_colours_follow_the_methods_and_show_the_warp_reference():
    ablation = {**ABLATION, "warp_mean_miou": 57.0}
    text = format_ablation_table(ablation)
    assert text.splitlines()[-1].startswith("warped keyframe")
    fig = plot_ablation(ablation)
    diamonds = [line for line in fig.axes[0].lines if line.get_marker() == "D"]
    assert matplotlib.colors.to_hex(diamonds[0].get_color()) == METHOD_COLOURS["arseg"].lower()
    assert all(d.get_color() != METHOD_COLOURS["arseg"] for d in diamonds[1:])
    assert METHOD_COLOURS["warp"] in [line.get_color() for line in fig.axes[0].lines]
    plt.close(fig)

