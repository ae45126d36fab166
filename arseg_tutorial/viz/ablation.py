"""Notebook 05's ablation: the table and the dot plot of ``data/ablation.json``.

Introduced in notebook 05. Colours follow ``viz.training``: the full model in AR-Seg's colour, every
ablation a grey with its own marker.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from arseg_tutorial.viz import FIGURE_WIDTH_IN, SMALL_FONT_PT
from arseg_tutorial.viz.training import ABLATION_GREYS, METHOD_COLOURS, METHOD_LABELS

ABLATION_LABELS = {"full": "full AR-Seg", "no_fst": "no FST loss",
                   "unfrozen_classifier": "unfrozen classifier", "zero_flow": "zero flow (no MVs)",
                   "kernel5": "CReFF window 5x5", "position_bias": "position-bias CReFF"}



REFERENCE_KEYS = (("hr_mean_miou", "hr"), ("lr_mean_miou", "lr"), ("warp_mean_miou", "warp"))
"""The reference methods an ablation table may carry (key in ``data/ablation.json``, method)."""



def format_ablation_table(ablation: Mapping) -> str:
    """The ablation of ``data/ablation.json`` as a fixed-width text table (mIoU in %).

    Introduced in notebook 05.
    """
    lines = [f"{'variant':<22}{'mean mIoU':>10}{'vs full':>9}{'final loss':>12}  command"]
    full = ablation["variants"]["full"]["mean_miou"]
    for name, row in ablation["variants"].items():
        lines.append(f"{ABLATION_LABELS.get(name, name):<22}{row['mean_miou']:>10.2f}"
                     f"{row['mean_miou'] - full:>+9.2f}{row['final_loss']:>12.4f}  {row['command']}")
    for key, method in REFERENCE_KEYS:
        if key in ablation:
            lines.append(f"{METHOD_LABELS[method]:<22}{ablation[key]:>10.2f}{ablation[key] - full:>+9.2f}")
    for name, row in ablation.get("seeds", {}).get("test", {}).items():
        runs = ", ".join(f"{v:.2f}" for v in row["mean_miou"])
        lines.append(f"{ABLATION_LABELS.get(name, name)} over seeds {row['seeds']}: {runs} "
                     f"(mean {row['mean']:.2f}, spread {row['spread']:.2f})")
    return "\n".join(lines)


def _ablation_colours(names: Sequence[str]) -> list[str]:
    """full = AR-Seg's colour, every other variant a grey."""
    greys = iter(ABLATION_GREYS * len(names))
    return [METHOD_COLOURS["arseg"] if n == "full" else next(greys) for n in names]


def plot_ablation(ablation: Mapping) -> Figure:
    """Each ablation variant as a dot on one mIoU axis, with its seeds and the reference methods as
    lines (top), and per keyframe distance (below).

    Introduced in notebook 05. Variants trained with several seeds (``ablation["seeds"]``) show
    every seed as a small dot and their range as a bar, so that a difference can be compared with
    the seed noise.

    Args:
        ablation: the content of ``data/ablation.json`` ("scale", "hr_mean_miou",
            "lr_mean_miou", optionally "warp_mean_miou", "variants": name -> {"mean_miou",
            "per_distance", ...}, optionally "seeds": {"test": variant -> {"mean_miou": [...]}}).
    """
    variants = ablation["variants"]
    names = list(variants)
    seeds = ablation.get("seeds", {}).get("test", {})
    fig, (dot_ax, dist_ax) = plt.subplots(2, 1, figsize=(FIGURE_WIDTH_IN * 0.85, 8.0), constrained_layout=True)
    colours = _ablation_colours(names)
    rows = range(len(names))[::-1]                                  # the full model on top
    for row, name, colour in zip(rows, names, colours):
        runs = seeds.get(name, {}).get("mean_miou")
        if runs:
            dot_ax.plot([min(runs), max(runs)], [row, row], "-", lw=6, alpha=0.3, color=colour)
            dot_ax.plot(runs, [row] * len(runs), "o", ms=4, color=colour, alpha=0.7)
        value = variants[name]["mean_miou"]
        dot_ax.plot([value], [row], "D", ms=8, color=colour)
        seeds_text = f" (seeds {min(runs):.1f}-{max(runs):.1f})" if runs else ""
        dot_ax.annotate(f"{value:.1f}{seeds_text}", (value, row), xytext=(6, 6), textcoords="offset points",
                        fontsize=SMALL_FONT_PT)
    for key, method in REFERENCE_KEYS:
        if key in ablation:
            dot_ax.axvline(ablation[key], color=METHOD_COLOURS[method], ls="--",
                           label=f"{METHOD_LABELS[method]}: {ablation[key]:.1f}")
    dot_ax.set_yticks(list(rows), [ABLATION_LABELS.get(n, n) for n in names], fontsize=SMALL_FONT_PT)
    dot_ax.set_ylim(-0.7, len(names) - 0.2)
    dot_ax.set(xlabel="mean mIoU over d = 0..L-1 (%)",
               title=f"ablation at s = {ablation['scale']:g} (test split; diamond = seed 0)")
    dot_ax.legend(fontsize=SMALL_FONT_PT, loc="center right")    # clear of the dots, which lie left of HR
    grey_styles = iter(["s--", "^:", "v-.", "D--"])        # each grey variant its own marker and dashes
    for colour, name in zip(colours, names):
        per_distance = variants[name]["per_distance"]
        style = next(grey_styles, "s--") if colour in ABLATION_GREYS else "o-"
        dist_ax.plot(range(len(per_distance)), per_distance, style, ms=4, color=colour,
                     label=ABLATION_LABELS.get(name, name))
    dist_ax.set(xlabel="distance d from the keyframe (frames)", ylabel="mIoU (%)",
                title="per keyframe distance")
    dist_ax.legend(fontsize=SMALL_FONT_PT)
    return fig
