"""The paper's claims about AR-Seg next to what this package measures, one row per claim.

Introduced in notebook 07, which ends the course with this table and the cause of each
difference. The paper's numbers are its released CamVid results (BiSeNet18, GOP 12, s = 0.5, mean
mIoU over d = 0..11; the GMACs saving is the paper's PSPNet18 figure, the one it reports).
"""
from __future__ import annotations

from arseg_tutorial.cost import saving
from arseg_tutorial.results import PAPER_CAMVID_BISENET
from arseg_tutorial.sweep import sweep_entry

PAPER_GMACS_SAVING = 0.67
"""The GMACs saving the paper reports at s = 0.5, L = 12 (PSPNet18, CamVid)."""


def claims_table(sweep: dict, ablation: dict, lr_scale: float = 0.5,
                 speedup: float | None = None) -> list[dict]:
    """One dict per claim: ``claim``, ``paper`` (the paper's number, or None where it reports
    none), ``here`` (this package's, on the sweep's test split), ``unit`` and ``holds`` (whether
    the claim's target holds here).

    Args:
        sweep: ``data/sweep.json`` (with the "warp" reference).
        ablation: ``data/ablation.json`` (the zero-flow ablation, compared on the means over its
            seeds where it has them, and the seed spread).
        speedup: the end-to-end speed-up measured on this machine (HR ms / AR-Seg ms), if any.
    """
    hr = sweep_entry(sweep, "hr", 1.0)
    lr, ar = sweep_entry(sweep, "lr", lr_scale), sweep_entry(sweep, "arseg", lr_scale)
    warp = sweep_entry(sweep, "warp", 1.0)["mean_miou"]
    paper = PAPER_CAMVID_BISENET
    seeds = ablation.get("seeds", {}).get("test", {})
    full_mean = seeds["full"]["mean"] if "full" in seeds else ar["mean_miou"]
    zero = seeds["zero_flow"]["mean"] if "zero_flow" in seeds else ablation["variants"]["zero_flow"]["mean_miou"]
    spread = seeds.get("full", {}).get("spread")
    kept = saving(hr["gmacs_per_frame"], ar["gmacs_per_frame"])
    rows = [
        ("LR-only loses a few points against HR (target: 2 to 8)", paper["lr"] - paper["hr"],
         lr["mean_miou"] - hr["mean_miou"], "points", 2.0 <= hr["mean_miou"] - lr["mean_miou"] <= 8.0),
        ("AR-Seg keeps HR's accuracy (target: at most 2 below)", paper["arseg"] - paper["hr"],
         ar["mean_miou"] - hr["mean_miou"], "points", ar["mean_miou"] >= hr["mean_miou"] - 2.0),
        ("AR-Seg beats LR-only (target: by 2 or more)", paper["arseg"] - paper["lr"],
         ar["mean_miou"] - lr["mean_miou"], "points", ar["mean_miou"] >= lr["mean_miou"] + 2.0),
        ("AR-Seg beats the warped keyframe (target: by 1 or more)", None, ar["mean_miou"] - warp, "points",
         ar["mean_miou"] >= warp + 1.0),
        ("the motion vectors matter (zero flow at least 2 below, seed means)", None, zero - full_mean,
         "points", zero <= full_mean - 2.0),
        ("AR-Seg saves about two thirds of HR's GMACs", 100 * PAPER_GMACS_SAVING, 100 * kept, "%", kept >= 0.6),
    ]
    table = [{"claim": c, "paper": p, "here": h, "unit": u, "holds": bool(ok)} for c, p, h, u, ok in rows]
    if speedup is not None:
        table.append({"claim": "fewer GMACs means less time (HR ms / AR-Seg ms, this machine)", "paper": None,
                      "here": speedup, "unit": "x", "holds": speedup >= 1.5})
    if spread is not None:
        table.append({"claim": "seed noise of AR-Seg (three seeds, max - min)", "paper": None, "here": spread,
                      "unit": "points", "holds": True})
    return table


def format_claims_table(table: list[dict]) -> str:
    """``claims_table`` as fixed-width lines: claim, paper, here, holds."""
    def number(value, unit):
        return "-" if value is None else f"{value:+.1f}" if unit == "points" else f"{value:.1f} {unit}".strip()

    lines = [f"{'claim':<60}{'paper':>9}{'here':>9}  holds here"]
    for row in table:
        lines.append(f"{row['claim']:<60}{number(row['paper'], row['unit']):>9}"
                     f"{number(row['here'], row['unit']):>9}  {'yes' if row['holds'] else 'NO'}")
    return "\n".join(lines)
