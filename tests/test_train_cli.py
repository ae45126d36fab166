"""The command line: train a ci run, evaluate it, and evaluate a shipped checkpoint to JSON."""
from __future__ import annotations

import json

import numpy as np
import pytest

from arseg_tutorial.cli import main


pytestmark = pytest.mark.usefixtures("one_thread")


def test_train_then_evaluate_own_checkpoint(tmp_path, capsys):
    weights = tmp_path / "hr.pt"
    assert main(["train", "--method", "hr", "--profile", "ci", "--steps", "2", "--threads", "1",
                 "--checkpoint", str(tmp_path / "run.pt"), "--out", str(weights), "--quiet"]) == 0
    assert "2/2 steps" in capsys.readouterr().out and weights.is_file()
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--method", "hr", "--profile", "ci", "--seed", "7", "--clips", "1",
                 "--checkpoint", str(weights), "--json", str(out), "--no-cache", "--threads", "1"]) == 0
    result = json.loads(out.read_text())
    assert len(result["per_distance"]) == 12 and result["checkpoint"] == str(weights)
    assert result["mean_miou"] == pytest.approx(np.mean(result["per_distance"]))
    assert result["gmacs_per_frame"] > 0 and result["ms_per_frame"] > 0
    assert len(result["per_class_iou"]) == 11


def test_evaluate_uses_the_shipped_checkpoints(tmp_path):
    out = tmp_path / "arseg.json"
    assert main(["evaluate", "--method", "arseg", "--scale", "0.5", "--seed", "900000", "--clips", "1",
                 "--json", str(out), "--no-cache", "--threads", "1"]) == 0
    result = json.loads(out.read_text())
    assert result["profile"] == "laptop" and result["checkpoint"] == "shipped"
    assert 0 < result["mean_miou"] <= 100 and len(result["per_distance"]) == 12


def test_evaluate_warp_reference_with_the_shipped_hr(tmp_path, capsys):
    out = tmp_path / "warp.json"
    assert main(["evaluate", "--method", "warp", "--seed", "900000", "--clips", "1",
                 "--json", str(out), "--no-cache", "--threads", "1"]) == 0
    assert "warp: mean mIoU" in capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["method"] == "warp" and result["scale"] == 1.0
    # d = 0 is the HR network itself on the keyframe; the others reuse it at a 12th of the cost
    hr = tmp_path / "hr.json"
    assert main(["evaluate", "--method", "hr", "--seed", "900000", "--clips", "1",
                 "--json", str(hr), "--no-cache", "--threads", "1"]) == 0
    hr_result = json.loads(hr.read_text())
    assert result["per_distance"][0] == pytest.approx(hr_result["per_distance"][0])
    assert result["gmacs_per_frame"] < hr_result["gmacs_per_frame"] / 10


def test_help_lists_the_commands(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    assert all(name in text for name in ("train", "evaluate", "build-assets"))
