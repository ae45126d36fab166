"""Reading a training history: what each loss did in each stage, and around the stage switch.

Introduced in notebook 05, whose prose states what these functions print, so that a sentence
such as "the loss falls" is computed from the run beside it and never assumed. A history is the
trainer's list of per-step dicts ("step", "loss", "seg", "fst" for AR-Seg, "stage"); a stored
curve (``data/training_curves.json``) is the same as columns ("step": [...], "fst": [...]).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def stage_switch(curve: Mapping[str, Sequence]) -> float | None:
    """First logged step of stage 2 (AR-Seg's CReFF stage) in a stored curve, or None.

    Introduced in notebook 05.
    """
    steps, stages = curve.get("step", []), curve.get("stage", [])
    return next((float(s) for s, g in zip(steps, stages) if g == 2), None)


def loss_trend(values: Sequence[float], flat_within: float = 0.05) -> dict:
    """What a loss curve did: mean of its first and last quarter, and the verdict.

    Introduced in notebook 05 (so that the prose says what the printed numbers show).

    Args:
        values: the loss per step, in order.
        flat_within: relative change below which the curve "stays about flat".
    Returns:
        dict with ``first``, ``last`` (means of the first and last quarter, at least one step
        each), ``change`` (last / first - 1), ``steps`` (per quarter) and ``verdict`` ("falls",
        "rises" or "stays about flat").
    """
    values = [float(v) for v in values if v is not None]
    if not values:
        raise ValueError("loss_trend needs at least one logged value")
    n = max(1, len(values) // 4)
    first, last = float(np.mean(values[:n])), float(np.mean(values[-n:]))
    change = last / first - 1 if first else 0.0
    verdict = "stays about flat" if abs(change) < flat_within else "falls" if change < 0 else "rises"
    return {"first": first, "last": last, "change": change, "steps": n, "verdict": verdict}


def describe_run(history: Sequence[Mapping[str, float]], keys: Sequence[str] = ("seg", "fst")) -> list[str]:
    """One line per stage and loss of a trainer history: what the curve did, with its numbers.

    Introduced in notebook 05. AR-Seg's history has two stages (1: no CReFF, 2: CReFF on); a
    stage switch can make a loss jump, so each stage is described on its own.
    """
    stages = sorted({int(h.get("stage", 0)) for h in history})
    lines = []
    for stage in stages:
        steps = [h for h in history if int(h.get("stage", 0)) == stage]
        for key in keys:
            if not steps or steps[0].get(key) is None:
                continue
            t = loss_trend([h[key] for h in steps])
            where = f"stage {stage}, " if len(stages) > 1 else ""
            lines.append(f"{where}{key} loss over {len(steps)} steps: {t['first']:.3f} (mean of the first "
                         f"{t['steps']}) -> {t['last']:.3f} (last {t['steps']}): it {t['verdict']} "
                         f"({100 * t['change']:+.0f} %)")
    return lines


def stage_switch_summary(curve: Mapping[str, Sequence], key: str = "fst") -> dict | None:
    """A stored AR-Seg curve's loss around the switch to stage 2 (CReFF on).

    Introduced in notebook 05.

    Returns:
        dict with ``switch_step``, ``before`` (last logged value of stage 1), ``after`` (first of
        stage 2), ``end`` (last value) and ``stage2_min``; None for a curve with no stage 2.
    """
    switch = stage_switch(curve)
    if switch is None or not curve.get(key):
        return None
    steps, values = list(curve["step"]), list(curve[key])
    index = steps.index(switch)
    stage2 = [v for v in values[index:] if v is not None]
    return {"switch_step": int(switch), "before": values[index - 1] if index else None, "after": values[index],
            "end": values[-1], "stage2_min": min(stage2)}
