"""Reading the shipped results: warp in the sweep, per-class table, the regime, the oracle, claims."""
from __future__ import annotations

import copy

import matplotlib
import numpy as np
import pytest

matplotlib.use("agg")

from arseg_tutorial import results  # noqa: E402
from arseg_tutorial.viz.training import METHOD_COLOURS, method_of, plot_regime, run_colour  # noqa: E402
from arseg_tutorial.sweep import (  # noqa: E402
    find_oracle, format_splits_table, format_sweep_table, gop_metrics, has_warp, pareto_points, sweep_methods,
)
from arseg_tutorial.widgets.tradeoff import TradeoffExplorer  # noqa: E402

L0 = 12
CLASSES = ("Sky", "Pole")
HR_GMACS, CLASSIFIER_GMACS = 1.0, 0.02


def entry(per_distance, gmacs, per_class=(90.0, 10.0)) -> dict:
    return {"mean_miou": float(np.mean(per_distance)), "per_distance": [float(v) for v in per_distance],
            "per_class_iou": dict(zip(CLASSES, per_class)), "gmacs_per_frame": gmacs, "ms_per_frame": 1.0}


@pytest.fixture
def sweep() -> dict:
    """HR flat at 60; LR-only 40 + 20 s; warp decays 1 point per d; AR-Seg flat below the warp early,
    above it late (at s = 0.5 it crosses between d = 5 and d = 6)."""
    d = np.arange(L0)
    hr = np.full(L0, 60.0)
    warp = np.where(d == 0, 60.0, 60.0 - d)
    methods = {"hr": {"1": entry(hr, HR_GMACS)},
               "warp": {"1": entry(warp, (HR_GMACS + (L0 - 1) * CLASSIFIER_GMACS) / L0, (92.0, 5.0))},
               "lr": {}, "arseg": {}}
    for s in (0.25, 0.5, 0.75):
        methods["lr"][f"{s:g}"] = entry(np.full(L0, 40.0 + 20.0 * s), s * s, (80.0, 1.0))
        arseg = np.where(d == 0, 60.0, 44.5 + 20.0 * s)
        methods["arseg"][f"{s:g}"] = entry(arseg, (HR_GMACS + (L0 - 1) * (s * s + 0.01)) / L0, (85.0, 8.0))
    return {"profile": "test", "gop_length": L0, "test_split": {}, "methods": methods}


def test_warp_is_a_method_of_the_sweep_when_present(sweep):
    assert has_warp(sweep) and sweep_methods(sweep)[-1] == "warp"
    for L in (1, 4, 12):
        row = gop_metrics(sweep, "warp", 1.0, L)
        assert row["gmacs"] == pytest.approx((HR_GMACS + (L - 1) * CLASSIFIER_GMACS) / L)
        assert row["miou"] == pytest.approx(np.mean(sweep["methods"]["warp"]["1"]["per_distance"][:L]))
    assert len(pareto_points(sweep, 12)["warp"]) == 1
    table = format_sweep_table(sweep)
    assert table.splitlines()[-1].startswith("warped keyframe")
    state = TradeoffExplorer(sweep).update(0.5, 12)
    assert "warp" in state["chosen"] and "warp" in state["points"]


def test_a_sweep_without_warp_leaves_it_out_and_says_how_to_get_it(sweep):
    old = copy.deepcopy(sweep)
    del old["methods"]["warp"]
    assert not has_warp(old) and "warp" not in pareto_points(old, 12)
    assert "warped" not in format_sweep_table(old)
    with pytest.raises(ValueError, match="build-assets"):
        gop_metrics(old, "warp", 1.0, 12)
    assert "warp" not in TradeoffExplorer(old).update(0.5, 4)["chosen"]


def test_per_class_table_has_every_method_and_class(sweep):
    table = results.per_class_iou(sweep, 0.5)
    assert list(table) == ["hr", "lr", "arseg", "warp"] and table["warp"]["Pole"] == 5.0
    text = results.format_per_class_table(sweep, 0.5, thin=("Pole",))
    lines = text.splitlines()
    assert "LR-only s=0.5" in lines[0] and "warp" in lines[0]
    assert lines[2].startswith("Pole (thin)") and lines[2].split()[-4:] == ["10.0", "1.0", "8.0", "5.0"]
    assert lines[-1].split()[-1] == "48.5"                     # (92 + 5) / 2


def test_regime_finds_where_arseg_beats_the_warp(sweep):
    r = results.regime(sweep, 0.5)
    assert r["lr_gap"] == pytest.approx(10.0)
    assert r["warp_loss"][1] == pytest.approx(1.0) and r["warp_loss"][11] == pytest.approx(11.0)
    assert r["wins"] == [6, 7, 8, 9, 10, 11] and r["first_win"] == 6   # AR-Seg 54.5 > warp 60 - d
    assert results.regime(sweep, 0.75)["first_win"] == 1               # 59.5 > 59
    assert results.regime(sweep, 0.25)["wins"] == [11]
    table = results.format_regime_table(sweep).splitlines()
    assert len(table) == 4 and table[2].rstrip().endswith("6, 7, 8, 9, 10, 11")
    lines = results.regime_summary(sweep, 0.5, {"mean_miou": 58.0})
    assert "at d = 6, 7" in lines[1] and "best margin is at s = 0.75, the scale with the smallest" in lines[2]
    assert "Oracle bound" in lines[3] and "58.00" in lines[3]


def test_paper_claims_hold_or_fail_with_the_numbers(sweep):
    claims = {c["claim"].split(" (")[0]: c for c in results.paper_claims(sweep, 0.5)}
    near_hr = claims["AR-Seg s=0.5 within 2 points of HR"]
    assert not near_hr["holds"] and near_hr["value"] < -2
    assert claims["AR-Seg s=0.5 at least 2 points above LR-only"]["holds"]
    assert claims["LR-only rises with s"]["holds"] and claims["AR-Seg rises with s"]["holds"]
    broken = copy.deepcopy(sweep)
    broken["methods"]["arseg"]["0.75"]["mean_miou"] = 40.0
    claims = {c["claim"].split(" (")[0]: c for c in results.paper_claims(broken, 0.5)}
    assert not claims["AR-Seg rises with s"]["holds"]
    assert "does NOT hold" in results.format_claims(results.paper_claims(broken, 0.5))


def test_find_oracle_reads_a_shipped_entry():
    assert find_oracle({"methods": {}}, {}) is None
    shipped = {"oracle": {"0.35": {"mean_miou": 49.0}, "0.5": {"mean_miou": 50.0}}}
    assert find_oracle(shipped)["mean_miou"] == 50.0
    assert find_oracle(shipped, lr_scale=0.35)["mean_miou"] == 49.0
    assert find_oracle(shipped, lr_scale=0.75) is None
    assert find_oracle({}, {"oracle_bound": {"mean_miou": 51.0}})["mean_miou"] == 51.0


def test_regime_figure_and_method_colours(sweep):
    fig = plot_regime(results.regime_curves(sweep, 0.5, {"per_distance": [60.0] * L0}))
    left, right = fig.axes[:2]
    colours = [line.get_color() for line in left.lines]
    assert METHOD_COLOURS["warp"] in colours and METHOD_COLOURS["oracle"] in colours
    assert len(right.lines[0].get_xdata()) == 3
    assert method_of("warped keyframe") == "warp"
    assert method_of("oracle bound") == "oracle"
    assert run_colour("arseg-0.5") == METHOD_COLOURS["arseg"] and run_colour("hr") == METHOD_COLOURS["hr"]
    assert run_colour("arseg-0.5-no_fst") not in METHOD_COLOURS.values()
    assert len(set(METHOD_COLOURS.values())) == len(METHOD_COLOURS)


def test_timeline_facts_read_the_per_frame_numbers():
    from types import SimpleNamespace

    same = np.array([True, False, True, True])             # differs from HR on a P-frame only
    times = {"hr": np.array([10.0, 10.0, 10.0, 10.0]), "arseg": np.array([11.0, 4.0, 5.0, 6.0])}
    comparison = SimpleNamespace(frame_types="IPPP", arseg_equals_hr=same,
                                 miou={"hr": np.array([60.0, 60, 60, 60]), "arseg": np.array([60.0, 50, 58, 57]),
                                       "warp": np.array([60.0, 55, 55, 55])},
                                 total_ms=lambda method: times[method])
    facts = results.timeline_facts(comparison, 0.5)
    assert facts[0].startswith("I-frames: AR-Seg's labels equal HR's on 1 of 1") and "AR-Seg 11.0 ms, HR 10.0" in facts[0]
    assert "AR-Seg s=0.5 5.0 ms, HR 10.0 ms" in facts[1]
    assert "AR-Seg 55.0, warp 55.0; AR-Seg above the warp on 67 %" in facts[2]


def test_creff_movement_is_zero_at_the_start_and_sees_a_trained_change():
    import torch

    from arseg_tutorial.models.creff import CReFF, POSITION_BIAS_INIT
    from arseg_tutorial.train.trainer import init_creff_identity

    creff = CReFF(8, 3, "position_bias")
    init_creff_identity(creff)
    start = results.creff_movement(creff)
    assert start["conv_max_change"] == 0 and start["centre_bias"] == POSITION_BIAS_INIT and start["other_bias"] == 0
    with torch.no_grad():
        creff.key_conv.weight[0, 0, 0, 0] += 0.25
        creff.position_bias[0] -= 1.0
    moved = results.creff_movement(creff)
    assert moved["conv_max_change"] == pytest.approx(0.25) and moved["other_bias"] == pytest.approx(-1 / 8)
    assert results.creff_movement(CReFF(8, 3, "paper")) is None


def test_splits_table_shows_test_and_unseen_with_every_method(sweep):
    full = copy.deepcopy(sweep)
    full["oracle"] = {"0.5": {"mean_miou": 58.0}}
    full["unseen"] = {"methods": copy.deepcopy(sweep["methods"]), "oracle": {"0.5": {"mean_miou": 57.0}}}
    lines = format_splits_table(full, 0.5).splitlines()
    assert lines[1].split() == ["test", "60.00", "50.00", "54.96", "54.50", "58.00"]
    assert lines[2].split()[0] == "unseen" and lines[2].split()[-1] == "57.00"
    assert format_splits_table(sweep, 0.5).splitlines()[1].split()[-2:] == ["54.50", "-"]

def test_claims_table_puts_the_paper_beside_this_package(sweep):
    from arseg_tutorial.claims import claims_table, format_claims_table

    full = copy.deepcopy(sweep)
    ablation = {"variants": {"zero_flow": {"mean_miou": 50.0}},
                "seeds": {"test": {"full": {"spread": 0.8, "mean": 55.0}, "zero_flow": {"mean": 53.5}}}}
    table = claims_table(full, ablation, 0.5, speedup=1.2)
    rows = {row["claim"].split(" (")[0]: row for row in table}
    assert rows["AR-Seg keeps HR's accuracy"]["paper"] == pytest.approx(70.37 - 71.57)
    assert rows["AR-Seg keeps HR's accuracy"]["here"] == pytest.approx(54.96 - 60.0, abs=0.01)
    assert not rows["AR-Seg keeps HR's accuracy"]["holds"]
    assert rows["AR-Seg beats LR-only"]["holds"]
    assert not rows["AR-Seg beats the warped keyframe"]["holds"]  # 54.96 against 54.50: less than 1
    assert rows["the motion vectors matter"]["here"] == pytest.approx(-1.5)   # on the seed means
    assert not rows["the motion vectors matter"]["holds"]
    assert not rows["fewer GMACs means less time"]["holds"]
    text = format_claims_table(table)
    assert "NO" in text and "1.2 x" in text and len(text.splitlines()) == 1 + len(table)
