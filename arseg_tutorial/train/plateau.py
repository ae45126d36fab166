"""One rule for how long every network trains: until its validation mIoU stops rising.

Introduced in notebook 05. Comparing methods trained for different budgets compares the budgets,
not the methods (an LR-only network given 400 steps against an HR network given 1,200). So every
shipped run follows the same rule (``TrainConfig(schedule="plateau")``):

1. train at a constant learning rate, evaluating the mean mIoU over the keyframe distances on the
   validation split every ``eval_every`` steps (AR-Seg: from the start of stage 2, when CReFF
   joins; its stage 1 has a fixed length);
2. the run has *plateaued* once the best validation mIoU of the last quarter of its steps is less
   than ``plateau_gain`` (0.5) points above the best before that quarter (and at least
   ``plateau_min_steps`` steps were taken);
3. then the learning rate anneals to 0 along a half cosine over ``anneal_fraction`` (1/4) times
   the steps taken so far, still evaluating;
4. the weights of the best validation evaluation are the run's result (the official code selects
   its checkpoints on validation too). Nothing is ever chosen on the test split.

``steps`` stays a cap: a run that has not plateaued when only the anneal still fits starts it then,
and its record says so (``capped``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class ValidationRecord:
    """What a run has learned about itself on the validation split (saved in its checkpoint).

    Attributes:
        evals: (step, mean validation mIoU in %) of every evaluation, in order.
        plateau_step: the step at which the anneal began, or None while the rate is constant.
        capped: True if the anneal began because only it still fitted under the cap.
        best_step, best_miou: the best evaluation so far (None before the first).
    """

    evals: list[tuple[int, float]] = field(default_factory=list)
    plateau_step: int | None = None
    capped: bool = False
    best_step: int | None = None
    best_miou: float | None = None

    def add(self, step: int, miou: float) -> bool:
        """Record an evaluation; True if it is the best so far."""
        self.evals.append((int(step), float(miou)))
        if self.best_miou is None or miou > self.best_miou:
            self.best_step, self.best_miou = int(step), float(miou)
            return True
        return False

    def to_dict(self) -> dict:
        """Plain values, for checkpoints and the manifest."""
        return {"evals": [list(e) for e in self.evals], "plateau_step": self.plateau_step,
                "capped": self.capped, "best_step": self.best_step, "best_miou": self.best_miou}

    @classmethod
    def from_dict(cls, data: dict) -> "ValidationRecord":
        """The inverse of ``to_dict``."""
        return cls([(int(s), float(m)) for s, m in data.get("evals", [])], data.get("plateau_step"),
                   bool(data.get("capped", False)), data.get("best_step"), data.get("best_miou"))


def plateaued(evals: list[tuple[int, float]], start: int, step: int, min_steps: int,
              gain: float) -> bool:
    """Whether the validation mIoU has stopped rising at ``step``.

    Args:
        evals: (step, mIoU) evaluations so far.
        start: the step from which this run's steps count (AR-Seg: the start of stage 2).
        step: the current step.
        min_steps: no plateau before this many steps since ``start``.
        gain: points the last quarter must gain over the best before it.
    Returns:
        True if at least ``min_steps`` were taken, both the last quarter of the steps since
        ``start`` and the three quarters before it hold evaluations, and the best of the last
        quarter is less than ``gain`` above the best before.
    """
    taken = step - start
    if taken < max(min_steps, 1):
        return False
    cut = start + 0.75 * taken
    before = [m for s, m in evals if start <= s <= cut]
    last = [m for s, m in evals if cut < s <= step]
    return bool(before and last) and max(last) - max(before) < gain


def anneal_steps(plateau_step: int, fraction: float) -> int:
    """Length of the final anneal that starts at ``plateau_step``."""
    return max(1, int(round(fraction * plateau_step)))


def constant_phase_cap(steps: int, fraction: float) -> int:
    """The last step at which the anneal can begin and still end by ``steps``."""
    return max(1, int(math.floor(steps / (1.0 + fraction))))


def lr_factor(schedule: str, step: int, steps: int, plateau_step: int | None, fraction: float) -> float:
    """The learning rate of the step after ``step`` steps, over the initial one.

    "cosine": a half cosine from 1 to 0 over ``steps``; "plateau": 1 until ``plateau_step``,
    then the ``anneal_steps(plateau_step, fraction)`` = A steps of the anneal follow a half
    cosine from 1 to 0 sampled at 1/(A+1), ..., A/(A+1) (no step at rate 1 or 0).
    """
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(step, steps) / steps))
    if plateau_step is None or step < plateau_step:
        return 1.0
    length = anneal_steps(plateau_step, fraction)
    return 0.5 * (1.0 + math.cos(math.pi * min(step - plateau_step + 1, length + 1) / (length + 1)))


def final_step(schedule: str, steps: int, plateau_step: int | None, fraction: float) -> int:
    """Where a run ends: ``steps`` for "cosine"; for "plateau" the end of the anneal (or the cap
    while no plateau has been found)."""
    if schedule == "cosine" or plateau_step is None:
        return steps
    return min(steps, plateau_step + anneal_steps(plateau_step, fraction))
