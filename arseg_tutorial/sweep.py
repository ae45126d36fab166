"""Reading the sweep of ``data/sweep.json``: one method's entry at an LR scale, the metrics at a
shorter GOP length, the Pareto points, and the sweep as text tables.

Introduced in notebook 06. The sweep holds, per method ("hr", "lr", "arseg" and the "warp"
reference) and LR scale, the mIoU of every keyframe distance d = 0 .. L0-1 and the GOP-average
cost at L0 (12). A GOP length L <= L0 needs no new evaluation:

- mIoU(L) = mean of the per-distance mIoU over d < L (every method);
- GMACs(L) = (HR + (L-1) * (LR + CReFF)) / L for AR-Seg, where the non-keyframe cost LR + CReFF
  is recovered from the sweep's GOP average at L0; HR and LR-only cost the same at every L.

Everything here reads numbers; nothing trains or evaluates (``results`` computes what the shipped
sweep lacks, ``widgets.tradeoff`` explores it).
"""
from __future__ import annotations

import numpy as np

METHODS = ("hr", "lr", "arseg")
KEYFRAME_METHODS = ("hr", "warp")
"""Methods with no LR scale (one entry each in the sweep). "warp" is the reference with no LR
branch: the I-frame's HR feature warped to each P-frame by the motion vectors and classified by
the HR classifier; a sweep made before it existed has no "warp" entry, and everything below
then leaves it out."""


def sweep_scales(sweep: dict) -> tuple[float, ...]:
    """The LR scales that both LR-only and AR-Seg cover in the sweep, ascending.

    Introduced in notebook 06.
    """
    methods = sweep["methods"]
    scales = set(methods["lr"]) & set(methods["arseg"])
    if not scales or not methods["hr"]:
        raise ValueError("the sweep needs HR and LR-only / AR-Seg at >= 1 common scale; rebuild it "
                         "with `python -m arseg_tutorial build-assets`")
    return tuple(sorted(float(s) for s in scales))


def has_warp(sweep: dict) -> bool:
    """Whether the sweep holds the warped-keyframe reference ("warp").

    Introduced in notebook 06.
    """
    return bool(sweep["methods"].get("warp"))


def sweep_methods(sweep: dict) -> tuple[str, ...]:
    """The methods the sweep holds, in drawing order: HR, LR-only, AR-Seg, then warp if present.

    Introduced in notebook 06.
    """
    return METHODS + (("warp",) if has_warp(sweep) else ())


def sweep_entry(sweep: dict, method: str, lr_scale: float) -> dict:
    """The sweep's metrics of one method at scale s (HR and warp: their single entry).

    Introduced in notebook 06.
    """
    if method not in METHODS + ("warp",):
        raise ValueError(f"method must be one of {METHODS + ('warp',)}, got {method!r}")
    if method == "warp" and not has_warp(sweep):
        raise ValueError("this sweep has no 'warp' entry; rebuild it with `python -m arseg_tutorial "
                         "build-assets` (or evaluate it alone with `python -m arseg_tutorial evaluate "
                         "--method warp`)")
    table = sweep["methods"][method]
    key = "1" if method in KEYFRAME_METHODS else f"{lr_scale:g}"
    if method == "warp" and key not in table and len(table) == 1:
        key = next(iter(table))
    if key not in table:
        raise ValueError(f"the sweep has no {method} result at s = {lr_scale:g}; scales: "
                         f"{', '.join(sorted(table))}")
    return table[key]


def gop_metrics(sweep: dict, method: str, lr_scale: float, gop_length: int) -> dict:
    """mIoU and GMACs of a method at GOP length L, derived from the per-distance sweep.

    Introduced in notebook 06.

    Args:
        sweep: the content of ``data/sweep.json``.
        method: "hr", "lr", "arseg" or "warp" (when the sweep has it).
        lr_scale: s (ignored for "hr" and "warp").
        gop_length: L, 1 <= L <= the sweep's GOP length.
    Returns:
        dict with ``miou`` (mean of ``per_distance`` over d < L, %), ``gmacs`` (per frame, GOP
        average), ``per_distance`` (all L0 values, %) and ``ms_per_frame`` (measured at L0).
    """
    full_length = int(sweep["gop_length"])
    if not 1 <= gop_length <= full_length:
        raise ValueError(f"gop_length must be in 1..{full_length} (the sweep's per-distance numbers "
                         f"cover d < {full_length}), got {gop_length}")
    entry = sweep_entry(sweep, method, lr_scale)
    per_distance = [float(v) for v in entry["per_distance"]]
    gmacs = float(entry["gmacs_per_frame"])
    if method in ("arseg", "warp"):         # one HR keyframe per GOP, a cheaper non-key frame
        hr_gmacs = float(sweep_entry(sweep, "hr", 1.0)["gmacs_per_frame"])
        nonkey_gmacs = (full_length * gmacs - hr_gmacs) / (full_length - 1)
        gmacs = (hr_gmacs + (gop_length - 1) * nonkey_gmacs) / gop_length
    return {"miou": float(np.mean(per_distance[:gop_length])), "gmacs": gmacs,
            "per_distance": per_distance, "ms_per_frame": float(entry.get("ms_per_frame", float("nan")))}


def pareto_points(sweep: dict, gop_length: int) -> dict[str, list[tuple[float, float, float]]]:
    """method -> [(lr_scale, gmacs, miou), ...] at GOP length L (HR and warp: one point, s = 1).

    Introduced in notebook 06.
    """
    points = {"hr": [(1.0, *_gm(gop_metrics(sweep, "hr", 1.0, gop_length)))]}
    for method in ("lr", "arseg"):
        points[method] = [(s, *_gm(gop_metrics(sweep, method, s, gop_length))) for s in sweep_scales(sweep)]
    if has_warp(sweep):
        points["warp"] = [(1.0, *_gm(gop_metrics(sweep, "warp", 1.0, gop_length)))]
    return points


def frontier(sweep: dict, gop_length: int) -> list[tuple[str, float, float, float]]:
    """The Pareto frontier of every method and scale at GOP length L: the points that no other
    point beats in both GMACs (fewer) and mIoU (more), cheapest first, as (method, lr_scale,
    gmacs, miou).

    Introduced in notebook 06 ("which method sits on the upper-left frontier?").
    """
    points = [(method, s, g, m) for method, rows in pareto_points(sweep, gop_length).items()
              for s, g, m in rows]
    kept = [p for p in points
            if not any(q[2] <= p[2] and q[3] >= p[3] and (q[2], q[3]) != (p[2], p[3]) for q in points)]
    return sorted(kept, key=lambda p: p[2])


def _gm(metrics: dict) -> tuple[float, float]:
    return metrics["gmacs"], metrics["miou"]


def best_under_budget(sweep: dict, gmacs_budget: float, gop_length: int | None = None,
                      method: str = "arseg") -> float | None:
    """The LR scale with the highest mIoU whose GMACs per frame stay within the budget.

    Introduced in notebook 06 (an exercise).

    Returns:
        The scale s, or None when no scale fits the budget.
    """
    gop_length = gop_length or int(sweep["gop_length"])
    fitting = [(m, s) for s, g, m in pareto_points(sweep, gop_length)[method] if g <= gmacs_budget]
    return max(fitting)[1] if fitting else None


def format_sweep_table(sweep: dict) -> str:
    """The sweep as a fixed-width text table: method, scale, mean mIoU, GMACs, saving, ms/frame.

    Introduced in notebook 06.
    """
    hr = sweep_entry(sweep, "hr", 1.0)
    lines = [f"{'method':<17}{'s':>5}{'mean mIoU %':>13}{'GMACs/frame':>13}{'saving':>9}{'ms/frame':>10}"]
    rows = [("hr", 1.0)] + [(m, s) for m in ("lr", "arseg") for s in sweep_scales(sweep)]
    rows += [("warp", 1.0)] if has_warp(sweep) else []
    for method, scale in rows:
        e = sweep_entry(sweep, method, scale)
        saving = 1 - e["gmacs_per_frame"] / hr["gmacs_per_frame"]
        name = {"hr": "HR every frame", "lr": "LR-only", "arseg": "AR-Seg", "warp": "warped keyframe"}[method]
        shown_scale = "-" if method == "warp" else f"{scale:g}"
        ms = e.get("ms_per_frame")
        lines.append(f"{name:<17}{shown_scale:>5}{e['mean_miou']:>13.2f}{e['gmacs_per_frame']:>13.4f}"
                     f"{100 * saving:>8.1f}%{'' if ms is None else format(ms, '.1f'):>10}")
    return "\n".join(lines)


def find_oracle(*tables: dict, lr_scale: float = 0.5) -> dict | None:
    """The shipped oracle bound at s, if one of the given JSON tables (sweep, ablation) carries it.

    Introduced in notebook 06. Looks for a top-level or ``methods`` key containing "oracle" whose
    value has ``mean_miou``, directly or under the scale's key (``sweep["oracle"]["0.5"]``).

    Returns:
        The entry (``mean_miou``, ``per_distance``, ...) or None.
    """
    for table in tables:
        for place in (table, table.get("methods", {})):
            for key, value in place.items():
                if "oracle" not in key or not isinstance(value, dict):
                    continue
                if "mean_miou" in value:
                    return value
                inner = value.get(f"{lr_scale:g}")
                if isinstance(inner, dict) and "mean_miou" in inner:
                    return inner
    return None


def format_splits_table(sweep: dict, lr_scale: float = 0.5) -> str:
    """Mean mIoU of every method at s on the test split and on the unseen seeds, one row each.

    Introduced in notebook 06. Columns: HR, LR-only, AR-Seg, warp and the oracle bound, where the
    sweep has them (``sweep["unseen"]`` holds the same tables for clips from seeds no split uses).
    """
    key = f"{lr_scale:g}"
    splits = [("test", sweep)] + ([("unseen", sweep["unseen"])] if "unseen" in sweep else [])
    columns = ["HR", "LR-only", "AR-Seg", "warp", "oracle"]
    lines = [f"{'split':<8}" + "".join(f"{c:>12}" for c in columns)]
    for name, table in splits:
        methods = table["methods"]
        values = [methods["hr"]["1"], methods["lr"].get(key), methods["arseg"].get(key),
                  methods.get("warp", {}).get("1"), table.get("oracle", {}).get(key)]
        lines.append(f"{name:<8}" + "".join(f"{'-' if v is None else format(v['mean_miou'], '.2f'):>12}"
                                            for v in values))
    return "\n".join(lines)
