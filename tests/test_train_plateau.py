"""The plateau rule: train until the validation mIoU stops rising, anneal, keep the best weights."""
from __future__ import annotations

import pytest

from arseg_tutorial.train import plateau
from arseg_tutorial.train.trainer import train
from tests.test_train_loop import tiny_clips, tiny_config

pytestmark = pytest.mark.usefixtures("one_thread")


def test_a_plateau_is_less_than_the_gain_in_the_last_quarter():
    rising = [(s, 50 + s / 100) for s in range(100, 1700, 100)]      # +1 point per 100 steps
    flat = [(s, 60 + (0.3 if s > 1200 else 0.0)) for s in range(100, 1700, 100)]
    assert not plateau.plateaued(rising, 0, 1600, 800, 0.5)
    assert plateau.plateaued(flat, 0, 1600, 800, 0.5)
    assert not plateau.plateaued(flat, 0, 700, 800, 0.5)             # too early
    # counted from the start of AR-Seg's stage 2: evaluations before it are ignored
    late = [(100, 90.0)] + [(s, 50 + s / 100) for s in range(500, 1700, 100)]
    assert not plateau.plateaued(late, 400, 1600, 800, 0.5)
    assert plateau.plateaued(late, 0, 1600, 800, 0.5)


def test_the_schedule_is_constant_then_a_half_cosine_over_a_quarter():
    assert plateau.lr_factor("plateau", 500, 4000, None, 0.25) == 1.0
    assert plateau.lr_factor("plateau", 999, 4000, 1000, 0.25) == 1.0
    # the 250 steps after the plateau: below 1 from the first, above 0 at the last, 0.5 midway
    assert 0.99 < plateau.lr_factor("plateau", 1000, 4000, 1000, 0.25) < 1.0
    assert plateau.lr_factor("plateau", 1124.5, 4000, 1000, 0.25) == pytest.approx(0.5)
    assert 0 < plateau.lr_factor("plateau", 1249, 4000, 1000, 0.25) < 0.001
    assert plateau.final_step("plateau", 4000, 1000, 0.25) == 1250
    assert plateau.final_step("plateau", 4000, None, 0.25) == 4000
    assert plateau.constant_phase_cap(4000, 0.25) == 3200
    assert plateau.lr_factor("cosine", 50, 100, None, 0.25) == pytest.approx(0.5)


def test_a_plateau_run_keeps_its_best_validation_weights_and_resumes(tmp_path):
    clips, val = tiny_clips(), tiny_clips(num_clips=1)
    config = tiny_config(steps=12, schedule="plateau", eval_every=2, plateau_min_steps=4)
    result = train(config, clips, tmp_path / "a.pt", val_clips=val, progress=False)
    record = plateau.ValidationRecord.from_dict(result.validation)
    assert result.complete and result.steps_done == result.end_step <= 12
    assert record.plateau_step is not None and record.evals[-1][0] == result.end_step
    assert record.best_miou == max(m for _, m in record.evals)
    rates = [h["lr"] for h in result.history]
    assert rates[0] == rates[record.plateau_step - 1] == config.learning_rate and rates[-1] < rates[0]
    from arseg_tutorial.train.trainer import validate
    assert validate(result.model, None, config, val) == pytest.approx(record.best_miou)
    # the same run cut in two ends with the same record
    train(config, clips, tmp_path / "b.pt", val_clips=val, progress=False, max_steps=5)
    resumed = train(config, clips, tmp_path / "b.pt", val_clips=val, progress=False)
    assert resumed.validation == result.validation


def test_a_validating_run_needs_the_validation_clips(tmp_path):
    with pytest.raises(ValueError, match="val_clips"):
        train(tiny_config(schedule="plateau", eval_every=2), tiny_clips(), tmp_path / "a.pt", progress=False)
    with pytest.raises(ValueError, match="eval_every"):
        tiny_config(schedule="plateau")
