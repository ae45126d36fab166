"""Reading the shipped results: per-class IoU side by side, and when AR-Seg beats the warped keyframe.

Introduced in notebook 06 (and used by notebooks 03, 05 and 07). Everything here reads the sweep of
``data/sweep.json`` (method -> scale -> mean, per-distance and per-class mIoU, through
``arseg_tutorial.sweep``); nothing trains.

The question "when does AR-Seg win?" has two baselines. LR-only (the same LR network on every
frame, no keyframe) says how much resolution costs; the *warped keyframe* ("warp": the I-frame's
HR feature warped by the motion vectors and classified by the HR classifier, no LR branch) says how
much the keyframe alone explains. AR-Seg sees both inputs, so it can only pay off where

- the LR-only gap to HR is small enough that the current frame's LR feature is worth reading, and
- the warp has decayed: at distance d its loss against HR, ``HR(d) - warp(d)``, grows as the
  motion-vector chain lengthens and more of the scene is new or occluded.

The oracle bound (``evaluate.evaluate_oracle``) is the best any per-pixel choice between the warp and
LR-only could do: a pixel counts as right wherever either of the two is right.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from arseg_tutorial.sweep import find_oracle, has_warp, sweep_entry, sweep_scales

PER_CLASS_METHODS = ("hr", "lr", "arseg", "warp")
COLUMN_NAMES = {"hr": "HR", "lr": "LR-only", "arseg": "AR-Seg", "warp": "warp", "oracle": "oracle"}


def per_class_iou(sweep: dict, lr_scale: float = 0.5) -> dict[str, dict[str, float | None]]:
    """Per-class IoU (%) of HR, LR-only, AR-Seg (at s) and warp (when the sweep has it).

    Introduced in notebook 06. The IoU of a class is pooled over every frame of the test split
    (all distances d; AR-Seg's and warp's d = 0 frames are HR's).

    Returns:
        method -> class name -> IoU in % (None where the class is absent and never predicted).
    """
    methods = [m for m in PER_CLASS_METHODS if m != "warp" or has_warp(sweep)]
    return {m: dict(sweep_entry(sweep, m, lr_scale)["per_class_iou"]) for m in methods}


def format_per_class_table(sweep: dict, lr_scale: float = 0.5, thin: Sequence[str] = ()) -> str:
    """``per_class_iou`` as a fixed-width table, one row per class, plus the mean (= pooled mIoU).

    Introduced in notebook 06.

    Args:
        thin: class names to mark "(thin)".
    """
    table = per_class_iou(sweep, lr_scale)
    methods = list(table)
    names = list(table["hr"])
    header = f"{'class':<18}" + "".join(f"{_column(m, lr_scale):>14}" for m in methods)
    lines = [header]
    for name in names:
        cells = "".join(f"{_cell(table[m].get(name)):>14}" for m in methods)
        lines.append(f"{name + (' (thin)' if name in thin else ''):<18}{cells}")
    means = "".join(f"{_cell(_nanmean(table[m].values())):>14}" for m in methods)
    lines.append(f"{'mean (pooled)':<18}{means}")
    return "\n".join(lines)


def _column(method: str, lr_scale: float) -> str:
    return COLUMN_NAMES[method] + (f" s={lr_scale:g}" if method in ("lr", "arseg") else "")


def _cell(value: float | None) -> str:
    return "-" if value is None or np.isnan(value) else f"{value:.1f}"


def _nanmean(values) -> float:
    array = np.array([np.nan if v is None else v for v in values], float)
    return float(np.nanmean(array)) if np.isfinite(array).any() else float("nan")


def regime(sweep: dict, lr_scale: float = 0.5) -> dict:
    """Where AR-Seg stands against HR, LR-only and the warp at scale s, by keyframe distance.

    Introduced in notebook 06 ("When does AR-Seg win?"). Needs the "warp" entry in the sweep.

    Returns:
        dict with ``lr_gap`` (HR - LR-only, mean mIoU points), ``arseg_vs_hr``, ``arseg_vs_lr``,
        ``arseg_vs_warp`` and ``warp_vs_hr`` (mean differences), ``warp_loss`` (L values:
        HR(d) - warp(d)), ``arseg_minus_warp`` (L values: AR-Seg(d) - warp(d)), ``wins`` (the
        distances d >= 1 where AR-Seg beats the warp) and ``first_win`` (the smallest such d, or
        None).
    """
    hr, lr = sweep_entry(sweep, "hr", 1.0), sweep_entry(sweep, "lr", lr_scale)
    ar, warp = sweep_entry(sweep, "arseg", lr_scale), sweep_entry(sweep, "warp", 1.0)
    per = {name: np.asarray(e["per_distance"], float) for name, e in
           (("hr", hr), ("lr", lr), ("arseg", ar), ("warp", warp))}
    ahead = per["arseg"] - per["warp"]
    wins = [int(d) for d in np.flatnonzero(ahead > 0) if d >= 1]
    mean = {name: float(values.mean()) for name, values in per.items()}
    return {"lr_scale": float(lr_scale), "lr_gap": mean["hr"] - mean["lr"],
            "arseg_vs_hr": mean["arseg"] - mean["hr"], "arseg_vs_lr": mean["arseg"] - mean["lr"],
            "arseg_vs_warp": mean["arseg"] - mean["warp"], "warp_vs_hr": mean["warp"] - mean["hr"],
            "warp_loss": list(per["hr"] - per["warp"]), "arseg_minus_warp": list(ahead),
            "wins": wins, "first_win": wins[0] if wins else None}


def format_regime_table(sweep: dict) -> str:
    """One row per LR scale: the LR-only gap, AR-Seg against HR / LR-only / warp, where it wins.

    Introduced in notebook 06.
    """
    lines = [f"{'s':>5}{'HR - LR-only':>14}{'AR-Seg - HR':>13}{'AR-Seg - LR':>13}{'AR-Seg - warp':>15}"
             f"  distances where AR-Seg > warp"]
    for scale in sweep_scales(sweep):
        r = regime(sweep, scale)
        wins = ", ".join(str(d) for d in r["wins"]) or "none"
        lines.append(f"{scale:>5g}{r['lr_gap']:>14.2f}{r['arseg_vs_hr']:>+13.2f}{r['arseg_vs_lr']:>+13.2f}"
                     f"{r['arseg_vs_warp']:>+15.2f}  {wins}")
    return "\n".join(lines)


def regime_curves(sweep: dict, lr_scale: float = 0.5, oracle: dict | None = None) -> dict:
    """What ``viz.training.plot_regime`` draws, read from the sweep.

    Introduced in notebook 06 ("When does AR-Seg win?"). Needs the "warp" entry in the sweep.

    Args:
        oracle: an entry with ``per_distance`` (``shipped_oracle``), optional.
    Returns:
        dict with ``lr_scale``, ``per_distance`` (method -> mIoU (%) at each distance d: "hr",
        "lr", "warp", "arseg" at s, and "oracle" when given) and ``regimes`` (one ``regime`` row
        per LR scale of the sweep).
    """
    per_distance = {m: [float(v) for v in sweep_entry(sweep, m, lr_scale)["per_distance"]]
                    for m in ("hr", "lr", "warp", "arseg")}
    if oracle is not None:
        per_distance["oracle"] = [float(v) for v in oracle["per_distance"]]
    return {"lr_scale": float(lr_scale), "per_distance": per_distance,
            "regimes": [regime(sweep, s) for s in sweep_scales(sweep)]}


def test_split_labels(sweep: dict, num_clips: int | None = None) -> np.ndarray:
    """The true labels of the first clips of the sweep's test split (regenerated, not decoded).

    Introduced in notebook 03 (the label round-trip ceiling on the frames the sweep scored).

    Args:
        num_clips: how many clips (default all of the split).
    Returns:
        (num_clips * L, H, W) uint8 labels.
    """
    from arseg_tutorial.scenes import generate_clip

    split = sweep["test_split"]
    count = split["num_clips"] if num_clips is None else min(num_clips, split["num_clips"])
    return np.concatenate([generate_clip(split["first_seed"] + i, length=split["gop_length"],
                                         height=split["height"], width=split["width"]).labels
                           for i in range(count)])


def shipped_oracle(lr_scale: float = 0.5, folder=None, use_cache: bool = True) -> dict:
    """The oracle bound of the shipped HR and LR-only networks at s on the shipped test split.

    Introduced in notebook 06. Read from ``data/`` when the build shipped it (``find_oracle``),
    else computed with ``evaluate.evaluate_oracle`` (warp, LR-only) on the test split of the manifest (generated and
    encoded once, then cached like every split) and cached under ``cache_dir()/results`` by the
    checkpoints' hashes.

    Returns:
        dict with ``mean_miou`` and ``per_distance`` (%), and ``source`` ("shipped" or "computed").
    """
    import hashlib
    import json

    from arseg_tutorial import assets
    from arseg_tutorial.atomic import atomic_path
    from arseg_tutorial.config import cache_dir

    tables = [assets.read_json(name, folder) for name in (assets.SWEEP_NAME, assets.ABLATION_NAME)]
    found = find_oracle(*tables, lr_scale=lr_scale)
    if found is not None:
        return {**found, "source": "shipped"}
    manifest = assets.load_manifest(folder)
    lr_name = f"lr-{lr_scale:g}"
    key_text = json.dumps({"hr": manifest["checkpoints"]["hr"]["sha256"],
                           "lr": manifest["checkpoints"][lr_name]["sha256"],
                           "split": manifest["test_split"]}, sort_keys=True)
    path = cache_dir() / "results" / f"oracle-{hashlib.sha256(key_text.encode()).hexdigest()[:16]}.json"
    if use_cache and path.is_file():
        return json.loads(path.read_text())
    result = {**_compute_oracle(manifest, lr_name, lr_scale, folder), "source": "computed"}
    if use_cache:
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(result))
    return result


def _compute_oracle(manifest: dict, lr_name: str, lr_scale: float, folder) -> dict:
    from arseg_tutorial import assets
    from arseg_tutorial.evaluate import evaluate_oracle, make_segmenter
    from arseg_tutorial.scenes import CLASS_NAMES

    clips = shipped_test_clips(manifest)
    hr, lr = assets.load_shipped("hr", folder), assets.load_shipped(lr_name, folder)
    report = evaluate_oracle(make_segmenter("warp", hr, batched=True),
                             make_segmenter("lr", lr_model=lr, scale=lr_scale, batched=True),
                             clips.frames, clips.labels, clips.flow_key, CLASS_NAMES)
    return {"mean_miou": report.mean_miou, "per_distance": report.per_distance,
            "per_class_iou": report.per_class_iou}


def shipped_test_clips(manifest: dict):
    """The test split the manifest's metrics were measured on (generated, encoded, then cached)."""
    from arseg_tutorial.train.data import ClipConfig, load_clips

    return load_clips(ClipConfig(**manifest["test_split"]))


def sweep_with_warp(sweep: dict, folder=None, use_cache: bool = True) -> dict:
    """The sweep, with the "warp" reference evaluated and added when the shipped one lacks it.

    Introduced in notebook 06. The evaluation runs the shipped HR network on the manifest's test
    split (cached under ``cache_dir()/results`` by the HR checkpoint's hash).
    """
    import hashlib
    import json

    from arseg_tutorial import assets
    from arseg_tutorial.atomic import atomic_path
    from arseg_tutorial.config import cache_dir

    if has_warp(sweep):
        return sweep
    manifest = assets.load_manifest(folder)
    key_text = json.dumps({"hr": manifest["checkpoints"]["hr"]["sha256"], "split": manifest["test_split"]},
                          sort_keys=True)
    path = cache_dir() / "results" / f"warp-{hashlib.sha256(key_text.encode()).hexdigest()[:16]}.json"
    if use_cache and path.is_file():
        report = json.loads(path.read_text())
    else:
        from arseg_tutorial.config import get_profile
        from arseg_tutorial.evaluate import evaluate_networks

        report = evaluate_networks("warp", 1.0, assets.load_shipped("hr", folder), None,
                                   shipped_test_clips(manifest), get_profile(manifest["profile"]),
                                   timing_clips=0).to_dict()
        if use_cache:
            with atomic_path(path) as tmp:
                tmp.write_text(json.dumps(report))
    return {**sweep, "methods": {**sweep["methods"], "warp": {"1": report}}}


PAPER_CAMVID_BISENET = {"hr": 71.57, "lr": 66.55, "arseg": 70.37}
"""The paper's released CamVid BiSeNet18 results (GOP 12, s = 0.5, mean mIoU over d = 0..11)."""


def paper_claims(sweep: dict, lr_scale: float = 0.5, tolerance: float = 0.5) -> list[dict]:
    """The paper's claims about AR-Seg, checked against the sweep at scale s.

    Introduced in notebook 06. The claims, with the paper's CamVid BiSeNet18 numbers as the
    reference: AR-Seg stays close to HR (within 2 points; paper -1.2), gains over LR-only (by 2 or
    more; paper +3.8), beats the warped keyframe (the paper has no such baseline; we ask for more
    than 0), and LR-only and AR-Seg both rise with s (within ``tolerance`` points).

    Returns:
        one dict per claim: ``claim`` (text), ``value`` (the measured number, points) and ``holds``.
    """
    r = regime(sweep, lr_scale) if has_warp(sweep) else None
    hr = sweep_entry(sweep, "hr", 1.0)["mean_miou"]
    lr, ar = sweep_entry(sweep, "lr", lr_scale)["mean_miou"], sweep_entry(sweep, "arseg", lr_scale)["mean_miou"]
    claims = [{"claim": f"AR-Seg s={lr_scale:g} within 2 points of HR (paper: "
                        f"{PAPER_CAMVID_BISENET['arseg'] - PAPER_CAMVID_BISENET['hr']:+.1f})",
               "value": ar - hr, "holds": ar >= hr - 2.0},
              {"claim": f"AR-Seg s={lr_scale:g} at least 2 points above LR-only (paper: "
                        f"{PAPER_CAMVID_BISENET['arseg'] - PAPER_CAMVID_BISENET['lr']:+.1f})",
               "value": ar - lr, "holds": ar >= lr + 2.0}]
    if r is not None:
        claims.append({"claim": f"AR-Seg s={lr_scale:g} above the warped keyframe", "value": r["arseg_vs_warp"],
                       "holds": r["arseg_vs_warp"] > 0})
    for method, name in (("lr", "LR-only"), ("arseg", "AR-Seg")):
        values = [sweep_entry(sweep, method, s)["mean_miou"] for s in sweep_scales(sweep)]
        worst = min(b - a for a, b in zip(values, values[1:])) if len(values) > 1 else 0.0
        claims.append({"claim": f"{name} rises with s (largest drop from one scale to the next)",
                       "value": min(worst, 0.0), "holds": worst >= -tolerance})
    return claims


def format_claims(claims: list[dict]) -> str:
    """``paper_claims`` as lines "holds / does NOT hold: claim (measured +x.xx)".

    Introduced in notebook 06.
    """
    return "\n".join(f"{'holds        ' if c['holds'] else 'does NOT hold'}  {c['claim']}: measured {c['value']:+.2f}"
                     for c in claims)


def regime_summary(sweep: dict, lr_scale: float = 0.5, oracle: dict | None = None) -> list[str]:
    """The regime of ``regime`` and the oracle bound in sentences, each with its numbers.

    Introduced in notebook 06 ("When does AR-Seg win?").
    """
    r = regime(sweep, lr_scale)
    last = len(r["warp_loss"]) - 1
    hr = sweep_entry(sweep, "hr", 1.0)["mean_miou"]
    ar = sweep_entry(sweep, "arseg", lr_scale)["mean_miou"]
    lr = sweep_entry(sweep, "lr", lr_scale)["mean_miou"]
    warp = sweep_entry(sweep, "warp", 1.0)["mean_miou"]
    wins = ("at d = " + ", ".join(str(d) for d in r["wins"])) if r["wins"] else "at no distance"
    lines = [f"s = {lr_scale:g}: LR-only is {r['lr_gap']:.2f} points below HR; the warp loses "
             f"{r['warp_loss'][1]:.2f} points against HR at d = 1 and {r['warp_loss'][last]:.2f} at d = {last}.",
             f"AR-Seg is {r['arseg_vs_warp']:+.2f} points against the warp on average and beats it {wins}."]
    rows = sorted((regime(sweep, s) for s in sweep_scales(sweep)), key=lambda row: row["lr_gap"])
    if len(rows) > 1:
        small, large = rows[0], rows[-1]
        best = max(rows, key=lambda row: row["arseg_vs_warp"])
        lines.append(f"Across scales, the smallest LR-only gap ({small['lr_gap']:.2f}, s = {small['lr_scale']:g}) gives "
                     f"AR-Seg {small['arseg_vs_warp']:+.2f} against the warp, the largest ({large['lr_gap']:.2f}, "
                     f"s = {large['lr_scale']:g}) {large['arseg_vs_warp']:+.2f}; the best margin is at s = "
                     f"{best['lr_scale']:g}" + (", the scale with the smallest LR-only gap." if best is small else "."))
    if oracle is not None:
        best = max(lr, warp)
        room = oracle["mean_miou"] - best
        taken = (f"AR-Seg takes {ar - best:.2f} of them ({100 * (ar - best) / room:.0f} %)" if ar > best and room > 0
                 else f"AR-Seg stays {best - ar:.2f} points below that baseline")
        lines.append(f"Oracle bound (right wherever the warp or LR-only is right): {oracle['mean_miou']:.2f}, "
                     f"{oracle['mean_miou'] - hr:+.2f} against HR; above the better baseline ({best:.2f}) it leaves "
                     f"{room:.2f} points; {taken}.")
    return lines


def timeline_facts(comparison, lr_scale: float) -> list[str]:
    """What notebook 07's timeline shows, in sentences with their numbers.

    Introduced in notebook 07.

    Args:
        comparison: an ``endtoend.VideoComparison`` with the "hr", "arseg" and "warp" players.
    """
    types = np.array(list(comparison.frame_types))
    keys, others = np.flatnonzero(types == "I"), np.flatnonzero(types != "I")
    same = int(np.count_nonzero(comparison.arseg_equals_hr[keys]))
    miou = {m: np.asarray(comparison.miou[m], float) for m in ("hr", "arseg", "warp")}
    hr_ms, ar_ms = comparison.total_ms("hr"), comparison.total_ms("arseg")
    ahead = float(np.mean(miou["arseg"][others] > miou["warp"][others])) if len(others) else float("nan")
    return [f"I-frames: AR-Seg's labels equal HR's on {same} of {len(keys)}; median time per I-frame AR-Seg "
            f"{np.median(ar_ms[keys]):.1f} ms, HR {np.median(hr_ms[keys]):.1f} ms.",
            f"P-frames: median time per frame AR-Seg s={lr_scale:g} {np.median(ar_ms[others]):.1f} ms, HR "
            f"{np.median(hr_ms[others]):.1f} ms.",
            f"P-frames: mean mIoU HR {miou['hr'][others].mean():.1f}, AR-Seg {miou['arseg'][others].mean():.1f}, "
            f"warp {miou['warp'][others].mean():.1f}; AR-Seg above the warp on {100 * ahead:.0f} % of them."]


def creff_movement(creff) -> dict | None:
    """How far a trained position-bias CReFF moved from its start (``trainer.init_creff_identity``
    and the position bias ``POSITION_BIAS_INIT`` on the centre tap).

    Introduced in notebook 05 (CReFF must be trained to be judged).

    Returns:
        dict with ``conv_max_change`` (largest change of any Q/K/V weight or bias),
        ``conv_mean_change`` (mean absolute change of the Q/K/V weights), ``centre_bias`` (the
        trained bias of the aligned tap), ``other_bias`` (mean trained bias of the other taps) and
        ``bias_init``; None for a module without a position bias (the paper variant starts at
        random, so there is no start to compare with).
    """
    import torch

    from arseg_tutorial.models.creff import CReFF, POSITION_BIAS_INIT
    from arseg_tutorial.train.trainer import init_creff_identity

    if getattr(creff, "position_bias", None) is None:
        return None
    start = CReFF(creff.channels, creff.kernel, creff.variant)
    init_creff_identity(start)
    trained, initial = dict(creff.named_parameters()), dict(start.named_parameters())
    convs = [name for name in trained if name != "position_bias"]
    with torch.no_grad():
        changes = [(trained[n].detach().cpu() - initial[n]).abs() for n in convs]
        bias = creff.position_bias.detach().cpu()
        centre = bias.numel() // 2
    return {"conv_max_change": float(max(c.max() for c in changes)),
            "conv_mean_change": float(torch.cat([c.flatten() for c in changes]).mean()),
            "centre_bias": float(bias[centre]),
            "other_bias": float(torch.cat([bias[:centre], bias[centre + 1:]]).mean()),
            "bias_init": POSITION_BIAS_INIT}
