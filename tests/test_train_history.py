"""Notebook 05's reading of training histories: what each loss did, stage by stage."""
from __future__ import annotations

import pytest

from arseg_tutorial.train.history import describe_run, loss_trend, stage_switch, stage_switch_summary


def test_loss_trend_tells_falling_rising_and_flat_curves_apart():
    assert loss_trend([4.0, 3.0, 2.0, 1.0])["verdict"] == "falls"
    rising = loss_trend([1.0, 1.2, 1.5, 2.0, 2.2, 2.5, 2.6, 3.0])
    assert rising["verdict"] == "rises" and rising["first"] == pytest.approx(1.1) and rising["last"] == pytest.approx(2.8)
    assert loss_trend([2.0, 2.01, 1.99, 2.0])["verdict"] == "stays about flat"
    assert loss_trend([5.0])["verdict"] == "stays about flat"
    with pytest.raises(ValueError, match="at least one"):
        loss_trend([])


def test_describe_run_splits_the_stages_so_a_jump_at_the_switch_is_not_a_trend():
    history = [{"step": i + 1, "stage": 1 if i < 8 else 2, "seg": 3.0 - 0.1 * i,
                "fst": 0.2 if i < 8 else 1.0 - 0.05 * (i - 8)} for i in range(16)]
    lines = describe_run(history)
    assert len(lines) == 4
    assert lines[0].startswith("stage 1, seg") and "it falls" in lines[0]
    assert lines[1].startswith("stage 1, fst") and "stays about flat" in lines[1]
    assert lines[3].startswith("stage 2, fst") and "it falls" in lines[3]
    single = describe_run([{"step": 1, "seg": 2.0}, {"step": 2, "seg": 3.0}])
    assert single == ["seg loss over 2 steps: 2.000 (mean of the first 1) -> 3.000 (last 1): it rises (+50 %)"]


def test_stage_switch_summary_reads_the_stored_curve():
    curve = {"step": [5, 10, 15, 20], "fst": [0.3, 0.2, 0.9, 0.5], "stage": [1, 1, 2, 2]}
    assert stage_switch(curve) == 15.0
    summary = stage_switch_summary(curve)
    assert summary == {"switch_step": 15, "before": 0.2, "after": 0.9, "end": 0.5, "stage2_min": 0.5}
    assert stage_switch_summary({"step": [5], "fst": [0.1], "stage": [0]}) is None
