"""The shipped laptop checkpoints against the project's targets for AR-Seg (docs/calibration.md).

The numbers come from the manifest, which ``test_assets`` re-measures checkpoint by checkpoint;
here one checkpoint (AR-Seg at s = 0.5) is re-evaluated on the unseen split as well. Each target
is checked on the test split and on the unseen seeds. Targets the shipped data do NOT meet are
listed in ``NOT_MET`` with the measured reason; the test fails if any other target fails, and
also if a listed one starts to pass (then the list, and the docs, must be updated).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from arseg_tutorial import assets
from arseg_tutorial.config import get_profile
from arseg_tutorial.scenes import CLASS_NAMES, THIN_CLASSES
from arseg_tutorial.train import recipes

#: target -> why the shipped laptop data miss it (docs/calibration.md, sections 4 and 7)
NOT_MET: dict[str, str] = {
    "lr 0.5 loses 3-8": "loses 15.9 (test): at 180x240 even at output stride 4 an LR-0.5 cell is 4.4 % of the "
                        "frame height (CamVid 2.2 %); the label round-trip gap of the two grids is 11.6 "
                        "(9.2 at 720x960), and the HR network nearly reaches its grid's ceiling",
    "arseg >= hr - 2": "73.9 vs HR 86.4: the paper's CReFF adds attention output to an LR feature 16 points "
                       "away, and its trained attention does not copy the aligned keyframe feature (at d = 1 "
                       "74.1 vs the warp's 82.3), while the per-pixel oracle of warp and LR-only reaches 85.3",
    "zero flow >= 2 below": "1.85 below on the means of three seeds (test; about 1.9 unseen), twice the seed "
                            "spread of 0.90: the trained attention spreads over the window, so aligning it "
                            "helps less than it could",
}

pytestmark = pytest.mark.usefixtures("one_thread")


def _mean(metrics: dict) -> float:
    return metrics["mean_miou"]


def _seed_mean(metrics: dict, run: str) -> float:
    """Mean mIoU of a run over its three seeds (the run, -seed1 and -seed2)."""
    names = [run] + [f"{run}-seed{seed}" for seed in recipes.EXTRA_SEEDS]
    return float(np.mean([_mean(metrics[name]) for name in names]))


def targets(manifest: dict, metrics_key: str, references_key: str) -> dict[str, bool]:
    """Target name -> met, for one split (``metrics`` / ``metrics_unseen``; "test" / "unseen")."""
    from arseg_tutorial.cost import saving

    entries = manifest["checkpoints"]
    m = {name: entry[metrics_key] for name, entry in entries.items()}
    warp = manifest["references"][references_key]["warp"]
    scales = sorted(manifest["profile_config"]["lr_scales"])
    hr, lr, ar = _mean(m["hr"]), _mean(m["lr-0.5"]), _mean(m["arseg-0.5"])
    lr_curve = [_mean(m[f"lr-{s:g}"]) for s in scales]
    ar_curve = [_mean(m[f"arseg-{s:g}"]) for s in scales]
    thin = [CLASS_NAMES[c] for c in THIN_CLASSES]
    low = [s for s in scales if s <= 0.35]
    return {
        "arseg >= hr - 2": ar >= hr - 2.0,
        "arseg >= warp + 1": ar >= _mean(warp) + 1.0,
        "arseg >= lr + 2": ar >= lr + 2.0,
        "saving at 0.5 >= 60 %": saving(m["hr"]["gmacs_per_frame"], m["arseg-0.5"]["gmacs_per_frame"]) >= 0.6,
        "zero flow >= 2 below": _seed_mean(m, "arseg-0.5-zero_flow") <= _seed_mean(m, "arseg-0.5") - 2.0,
        "lr non-decreasing in s": all(b >= a - 0.5 for a, b in zip(lr_curve, lr_curve[1:])),
        "arseg non-decreasing in s": all(b >= a - 0.5 for a, b in zip(ar_curve, ar_curve[1:])),
        "lr 0.5 loses 3-8": 3.0 <= hr - lr <= 8.0,
        "every class present": all(m["hr"]["per_class_iou"][c] is not None for c in CLASS_NAMES),
        "thin classes suffer at s <= 0.35": all(
            (m[f"lr-{s:g}"]["per_class_iou"][c] or 0.0) < (m["hr"]["per_class_iou"][c] or 0.0) - 5.0
            for s in low for c in thin),
    }


@pytest.fixture(scope="module")
def manifest() -> dict:
    return assets.load_manifest()


@pytest.mark.parametrize("split", ["test", "unseen"])
def test_the_targets_met_are_exactly_the_documented_ones(manifest, split):
    key = "metrics" if split == "test" else "metrics_unseen"
    met = targets(manifest, key, split)
    assert set(met) >= set(NOT_MET)
    failing = {name for name, ok in met.items() if not ok}
    assert failing == set(NOT_MET), (f"{split}: failing {sorted(failing)}, documented as not met "
                                     f"{sorted(NOT_MET)}")


def test_the_window_was_chosen_on_validation(manifest):
    """The profile's CReFF window is the one with the better validation mIoU, and the sweep
    reports both windows on both splits."""
    entries = manifest["checkpoints"]
    windows = {entries[name]["config"]["creff_kernel"]: entries[name]["validation"]["best_miou"]
               for name in ("arseg-0.5", "arseg-0.5-kernel5")}
    assert max(windows, key=windows.get) == manifest["profile_config"]["creff_kernel"]
    sweep = assets.read_json(assets.SWEEP_NAME)
    for table in (sweep["creff_windows"], sweep["unseen"]["creff_windows"]):
        assert set(table) == {f"{k}" for k in windows} and all("0.5" in v for v in table.values())
    assert sweep["methods"]["warp"]["1"] == manifest["references"]["test"]["warp"]
    assert set(sweep["oracle"]) == {f"{s:g}" for s in manifest["profile_config"]["lr_scales"]}


def test_every_run_followed_the_plateau_rule_and_ships_its_best_validation_weights(manifest):
    """Each run's record: evaluations on the validation split, an anneal that began at a plateau
    (or at the cap), the run ended where the anneal ends, and the best evaluation is the maximum."""
    from arseg_tutorial.train import plateau

    config = manifest["profile_config"]
    for name, entry in manifest["checkpoints"].items():
        record = plateau.ValidationRecord.from_dict(entry["validation"])
        run = entry["config"]
        assert run["schedule"] == "plateau" and run["eval_every"] == config["eval_every"], name
        assert record.best_miou == max(m for _, m in record.evals), name
        assert entry["steps"] == plateau.final_step("plateau", run["steps"], record.plateau_step,
                                                    run["anneal_fraction"]), name
        start = run["stage1_steps"] if run["method"] == "arseg" else 0
        if not record.capped:
            assert plateau.plateaued(record.evals, start, record.plateau_step, run["plateau_min_steps"],
                                     run["plateau_gain"]), name


def test_creff_got_at_least_the_official_budget(manifest):
    """Stage 2's CReFF learning-rate sum is at least the official recipe's (~0.44)."""
    for name, entry in manifest["checkpoints"].items():
        if entry["method"] == "arseg":
            assert entry["creff_lr_sum"] >= 0.44, name


def test_seed_spread_is_shipped(manifest):
    ablation = assets.read_json(assets.ABLATION_NAME)
    for split in ("test", "unseen"):
        for variant in ("full", "zero_flow"):
            row = ablation["seeds"][split][variant]
            assert row["seeds"] == [0, 1, 2] and len(row["mean_miou"]) == 3
            assert row["spread"] == pytest.approx(max(row["mean_miou"]) - min(row["mean_miou"]))


def test_arseg_on_unseen_seeds_reproduces_the_manifest(manifest):
    from arseg_tutorial.evaluate import evaluate_networks
    from arseg_tutorial.train.data import load_clips, split_config

    profile = get_profile(manifest["profile"])
    clips = load_clips(split_config(profile, "unseen"))
    assert clips.frames.shape[0] == manifest["unseen_split"]["num_clips"]
    report = evaluate_networks("arseg", 0.5, assets.load_shipped("hr"), assets.load_shipped("arseg-0.5"),
                               clips, profile, timing_clips=0)
    assert report.mean_miou == pytest.approx(manifest["checkpoints"]["arseg-0.5"]["metrics_unseen"]["mean_miou"],
                                             abs=0.5)
    assert np.isfinite(report.per_distance).all()
