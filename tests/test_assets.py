"""The shipped checkpoints: hashes, size, and their metrics re-measured on the test split."""
from __future__ import annotations

import json
import shutil

import pytest
import torch

from arseg_tutorial import assets
from arseg_tutorial.config import data_dir, get_profile
from arseg_tutorial.evaluate import evaluate_networks
from arseg_tutorial.train import recipes
from arseg_tutorial.train.build import clips_as_trained
from arseg_tutorial.train.loops import TrainConfig
from arseg_tutorial.train.data import load_clips, split_config

MIOU_TOLERANCE = 0.5
DATA_BUDGET_BYTES = 50 * 2**20


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def manifest() -> dict:
    return assets.load_manifest()


def test_every_shipped_run_is_in_the_manifest_with_a_matching_hash(manifest):
    profile = get_profile(manifest["profile"])
    assert set(manifest["checkpoints"]) == {r.name for r in recipes.shipped_runs(profile)}
    assert all(assets.verify_hashes().values())
    for name, entry in manifest["checkpoints"].items():
        assert entry["command"].startswith("python -m arseg_tutorial train")
        assert len(entry["metrics"]["per_distance"]) == manifest["profile_config"]["gop_length"]
    assert manifest["build_command"] == "python -m arseg_tutorial build-assets"


def test_data_folder_fits_the_budget():
    total = sum(p.stat().st_size for p in data_dir().rglob("*") if p.is_file())
    assert total <= DATA_BUDGET_BYTES


def test_a_tampered_checkpoint_is_refused(tmp_path, manifest):
    folder = tmp_path / "data"
    shutil.copytree(data_dir(), folder)
    path = folder / manifest["checkpoints"]["hr"]["file"]
    state = torch.load(path)
    weights = state["state_dict"]
    first = next(k for k, v in weights.items() if v.is_floating_point())
    weights[first] = weights[first] + 1
    torch.save(state, path)
    assert assets.verify_hashes(folder)["hr"] is False
    with pytest.raises(ValueError, match="sha256"):
        assets.load_shipped("hr", folder)
    with pytest.raises(KeyError, match="shipped"):
        assets.load_shipped("hr-0.1", folder)


def test_sweep_and_ablation_agree_with_the_manifest(manifest):
    sweep = assets.read_json(assets.SWEEP_NAME)
    ablation = assets.read_json(assets.ABLATION_NAME)
    entries = manifest["checkpoints"]
    assert sweep["methods"]["arseg"]["0.5"]["mean_miou"] == entries["arseg-0.5"]["metrics"]["mean_miou"]
    assert set(sweep["methods"]["lr"]) == {f"{s:g}" for s in manifest["profile_config"]["lr_scales"]}
    assert set(ablation["variants"]) == {"full", *recipes.ABLATIONS}
    curves = assets.read_json(assets.CURVES_NAME)
    assert set(curves) == set(entries) and all(len(c["loss"]) > 1 for c in curves.values())


def test_shipped_checkpoints_reproduce_the_manifest_metrics(manifest):
    profile = get_profile(manifest["profile"])
    clips = load_clips(split_config(profile, "test"))
    hr = assets.load_shipped("hr")
    measured = {}
    for name, entry in manifest["checkpoints"].items():
        lr = None if entry["method"] == "hr" else assets.load_shipped(name)
        report = evaluate_networks(entry["method"], entry["scale"],
                                   None if entry["method"] == "lr" else hr, lr,
                                   clips_as_trained(clips, TrainConfig(**entry["config"])), profile,
                                   timing_clips=0)
        measured[name] = (report.mean_miou, entry["metrics"]["mean_miou"])
    off = {n: m for n, m in measured.items() if abs(m[0] - m[1]) > MIOU_TOLERANCE}
    assert not off, f"measured vs manifest mIoU: {json.dumps(off)}"
