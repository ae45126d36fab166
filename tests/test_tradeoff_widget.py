"""Notebook 06's trade-off explorer: GOP-length arithmetic on the sweep, example predictions, figure."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("agg")

from arseg_tutorial import assets  # noqa: E402
from arseg_tutorial.checkpoint_file import network_meta  # noqa: E402
from arseg_tutorial.config import data_dir, get_profile  # noqa: E402
from arseg_tutorial.evaluate import make_segmenter  # noqa: E402
from arseg_tutorial.train import recipes  # noqa: E402
from arseg_tutorial.train.build import ablation_from_manifest, sweep_from_manifest  # noqa: E402
from arseg_tutorial.widgets import tradeoff  # noqa: E402
from arseg_tutorial.widgets.live import EXPLORER_DPI  # noqa: E402
from arseg_tutorial.sweep import (  # noqa: E402
    best_under_budget, format_sweep_table, gop_metrics, pareto_points, sweep_scales,
)
from arseg_tutorial.widgets.tradeoff import TradeoffExplorer, example_predictions  # noqa: E402

L0 = 12
HR_GMACS = 1.0
CREFF_GMACS = 0.01


def per_distance_of(method: str, scale: float) -> list[float]:
    """Synthetic per-distance mIoU: HR decays with d, LR-only is flat, AR-Seg decays from HR."""
    d = np.arange(L0)
    if method == "hr":
        return list(60.0 - 0.2 * d)
    if method == "lr":
        return list(np.full(L0, 30.0 + 30.0 * scale))
    return list(np.where(d == 0, 60.0, 50.0 + 10.0 * scale - 0.5 * d))


def gmacs_of(method: str, scale: float) -> float:
    if method == "hr":
        return HR_GMACS
    if method == "lr":
        return scale**2
    return (HR_GMACS + (L0 - 1) * (scale**2 + CREFF_GMACS)) / L0


def write_fake_assets(folder) -> dict:
    """A data/-shaped folder: untrained ci-width checkpoints, synthetic metrics, the real builders."""
    profile = get_profile("ci")
    entries, curves = {}, {}
    for run in recipes.shipped_runs(profile):
        net = assets.build_network(run.config.to_dict(), run.method == "arseg")
        file = f"{assets.CHECKPOINT_FOLDER}/{run.name}.pt"
        per_distance = per_distance_of(run.method, run.scale)
        metrics = {"mean_miou": float(np.mean(per_distance)), "per_distance": per_distance,
                   "per_class_iou": {}, "per_distance_per_class": [],
                   "gmacs_per_frame": gmacs_of(run.method, run.scale), "ms_per_frame": 5.0, "frames": 24}
        meta = network_meta(run.config.to_dict(), profile=profile.name, has_creff=run.method == "arseg",
                            state_dict=net.state_dict())
        entries[run.name] = {"file": file, "sha256": assets.export_state_dict(net, folder / file, meta),
                             "method": run.method, "scale": run.scale, "ablation": run.ablation,
                             "config": run.config.to_dict(), "command": f"train {run.name}",
                             "metrics": metrics}
        curves[run.name] = {"step": [1, 2], "loss": [2.0, 1.0], "seg": [2.0, 1.0], "stage": [0, 0]}
    manifest = {"profile": profile.name, "profile_config": profile.__dict__, "source_fingerprint": "test",
                "test_split": {}, "checkpoints": entries}
    assets.write_json_atomic(folder / assets.MANIFEST_NAME, manifest)
    assets.write_json_atomic(folder / assets.SWEEP_NAME, sweep_from_manifest(manifest))
    assets.write_json_atomic(folder / assets.ABLATION_NAME, ablation_from_manifest(manifest, curves))
    return manifest


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def fake_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    write_fake_assets(folder)
    return folder


@pytest.fixture(scope="module")
def sweep(fake_folder) -> dict:
    return assets.read_json(assets.SWEEP_NAME, fake_folder)


@pytest.fixture(scope="module")
def examples(fake_folder, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ARSEG_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        return example_predictions(folder=fake_folder)


def test_gop_length_answers_come_from_the_per_distance_numbers(sweep):
    assert sweep_scales(sweep) == (0.25, 0.35, 0.5, 0.75)
    for L in (1, 4, L0):
        arseg = gop_metrics(sweep, "arseg", 0.5, L)
        assert arseg["miou"] == pytest.approx(np.mean(per_distance_of("arseg", 0.5)[:L]))
        expected = (HR_GMACS + (L - 1) * (0.25 + CREFF_GMACS)) / L      # HR + (L-1)(LR + CReFF)
        assert arseg["gmacs"] == pytest.approx(expected)
        assert gop_metrics(sweep, "lr", 0.5, L)["gmacs"] == pytest.approx(0.25)
        assert gop_metrics(sweep, "hr", 0.5, L)["miou"] == pytest.approx(np.mean(per_distance_of("hr", 1)[:L]))
    full = gop_metrics(sweep, "arseg", 0.35, L0)
    assert full["miou"] == pytest.approx(sweep["methods"]["arseg"]["0.35"]["mean_miou"])
    assert full["gmacs"] == pytest.approx(sweep["methods"]["arseg"]["0.35"]["gmacs_per_frame"])
    assert gop_metrics(sweep, "arseg", 0.5, 1)["gmacs"] == pytest.approx(HR_GMACS)


def test_bad_queries_say_what_is_allowed(sweep):
    with pytest.raises(ValueError, match="gop_length must be in 1..12"):
        gop_metrics(sweep, "arseg", 0.5, 13)
    with pytest.raises(ValueError, match="scales"):
        gop_metrics(sweep, "lr", 0.6, 12)
    with pytest.raises(ValueError, match="not in the sweep"):
        TradeoffExplorer(sweep).update(0.6, 12)


def test_pareto_points_and_best_scale_under_a_budget(sweep):
    points = pareto_points(sweep, 6)
    assert [p[0] for p in points["arseg"]] == [0.25, 0.35, 0.5, 0.75]
    assert points["hr"] == [(1.0, HR_GMACS, pytest.approx(np.mean(per_distance_of("hr", 1)[:6])))]
    # AR-Seg's mIoU grows with s; its GMACs at L0: s=0.35 -> 0.205, s=0.5 -> 0.322, s=0.75 -> 0.608
    assert best_under_budget(sweep, 0.5) == 0.5
    assert best_under_budget(sweep, 0.7) == 0.75
    assert best_under_budget(sweep, 0.01) is None
    assert best_under_budget(sweep, 0.1, method="lr") == 0.25
    table = format_sweep_table(sweep)
    assert len(table.splitlines()) == 1 + 1 + 2 * 4 and "AR-Seg" in table


def test_example_predictions_are_the_shipped_networks_outputs_and_are_cached(fake_folder, examples,
                                                                               tmp_path, monkeypatch):
    profile = get_profile("ci")
    assert examples.frames.shape == (L0, profile.height, profile.width, 3)
    expected_runs = {"hr", "warp"} | {recipes.run_name(m, s) for m in ("lr", "arseg") for s in profile.lr_scales}
    assert set(examples.predictions) == expected_runs
    np.testing.assert_array_equal(examples.predictions["warp"][0], examples.predictions["hr"][0])  # the I-frame
    hr = assets.load_shipped("hr", fake_folder)
    flows = np.zeros(examples.frames.shape[:3] + (2,), np.float32)   # HR ignores the flow
    np.testing.assert_array_equal(examples.predictions["hr"], make_segmenter("hr", hr)(examples.frames, flows))
    # a second call is served from memory; a fresh process (cleared memo) from the disk cache
    assert example_predictions(folder=fake_folder) is example_predictions(folder=fake_folder)
    monkeypatch.setenv("ARSEG_CACHE_DIR", str(tmp_path))
    tradeoff._examples_cached.cache_clear()
    first = example_predictions(folder=fake_folder)
    assert list((tmp_path / "examples").glob("examples-*.npz"))
    tradeoff._examples_cached.cache_clear()
    monkeypatch.setattr(tradeoff, "_compute_examples", lambda *a: pytest.fail("cache not used"))
    second = example_predictions(folder=fake_folder)
    np.testing.assert_array_equal(first.predictions["arseg-0.5"], second.predictions["arseg-0.5"])
    tradeoff._examples_cached.cache_clear()


def test_explorer_update_is_memoised_and_shows_the_farthest_frame_of_the_gop(sweep, examples):
    explorer = TradeoffExplorer(sweep, examples)
    state = explorer.update(0.35, 5)
    assert explorer.update(0.35, 5) is state
    assert state["example_distance"] == 4
    np.testing.assert_array_equal(state["images"]["frame"], examples.frames[4])
    np.testing.assert_array_equal(state["images"]["AR-Seg s=0.35"], examples.predictions["arseg-0.35"][4])
    assert set(state["example_miou"]) == {"HR", "LR-only s=0.35", "AR-Seg s=0.35", "warp"}
    assert state["saving"] == pytest.approx(1 - state["chosen"]["arseg"]["gmacs"] / HR_GMACS)
    fig = explorer.figure(0.35, 5)
    pareto_ax = fig.axes[0]
    ringed = [line for line in pareto_ax.lines if line.get_markerfacecolor() == "none" and len(line.get_xdata())]
    chosen = state["chosen"]
    drawn = sorted((float(line.get_xdata()[0]), float(line.get_ydata()[0])) for line in ringed)
    expected = sorted((chosen[m]["gmacs"], chosen[m]["miou"]) for m in ("lr", "arseg"))
    assert np.allclose(drawn, expected)
    assert len(fig.axes) == 2 + 6                   # Pareto, per distance, 6 image panels
    matplotlib.pyplot.close(fig)
    assert len(TradeoffExplorer(sweep).figure(0.5, 12).axes) == 2


def test_live_view_redraws_only_what_changed_and_matches_the_state(sweep, examples):
    import io

    from PIL import Image

    from arseg_tutorial.viz import colorize_labels
    from arseg_tutorial.viz import FIGURE_WIDTH_IN
    from arseg_tutorial.widgets.tradeoff_view import TradeoffLiveView, tradeoff_figsize

    explorer = TradeoffExplorer(sweep, examples)
    view = TradeoffLiveView(explorer)
    first = view.render_png(0.25, 12)
    state = view.set_state(0.75, 3)
    np.testing.assert_array_equal(view.images[4].get_array(), colorize_labels(examples.predictions["arseg-0.75"][2]))
    assert np.allclose(view.rings.get_xdata(), [state["chosen"][m]["gmacs"] for m in ("lr", "arseg")])
    assert np.allclose(view.distance_lines["arseg"].get_ydata(), per_distance_of("arseg", 0.75))
    assert view.shade.get_x() == 2.5 and view.shade.get_width() == L0 - 3
    at_half = gop_metrics(sweep, "arseg", 0.5, 3)
    assert (at_half["gmacs"], at_half["miou"]) in zip(*view.pareto_lines["arseg"].get_data())
    assert view.image_titles[-2].get_text().startswith("AR-Seg s=0.75\nmIoU")
    assert view.image_titles[-1].get_text().startswith("warp\nmIoU")
    second = view.render_png(0.75, 3)
    again = view.render_png(0.25, 12)
    assert first == again and first != second            # the background is restored, not drawn over
    width, height = np.array(tradeoff_figsize(True)) * EXPLORER_DPI
    assert Image.open(io.BytesIO(first)).size == (round(width), round(height))
    assert round(width) <= round(FIGURE_WIDTH_IN * EXPLORER_DPI)          # shown unscaled on a laptop
    assert explorer.show().children


@pytest.mark.skipif(not (data_dir() / assets.SWEEP_NAME).is_file(), reason="no shipped sweep in data/")
def test_shipped_sweep_reproduces_its_own_gop_averages():
    sweep = assets.read_json(assets.SWEEP_NAME)
    length = int(sweep["gop_length"])
    for scale in sweep_scales(sweep):
        for method in ("lr", "arseg"):
            got = gop_metrics(sweep, method, scale, length)
            stored = sweep["methods"][method][f"{scale:g}"]
            assert got["miou"] == pytest.approx(stored["mean_miou"])
            assert got["gmacs"] == pytest.approx(stored["gmacs_per_frame"])


def test_frontier_keeps_only_points_no_other_point_beats():
    from arseg_tutorial.sweep import frontier

    sweep = {"gop_length": 2, "methods": {
        "hr": {"1": {"mean_miou": 60.0, "per_distance": [60.0, 60.0], "gmacs_per_frame": 1.0}},
        "lr": {"0.5": {"mean_miou": 40.0, "per_distance": [40.0, 40.0], "gmacs_per_frame": 0.25}},
        "arseg": {"0.5": {"mean_miou": 58.0, "per_distance": [60.0, 56.0], "gmacs_per_frame": 0.65}}}}
    points = frontier(sweep, 2)
    assert [p[0] for p in points] == ["lr", "arseg", "hr"]
    sweep["methods"]["lr"]["0.5"]["per_distance"] = [30.0, 30.0]
    sweep["methods"]["arseg"]["0.5"].update(per_distance=[61.0, 61.0])   # beats HR at less cost
    assert [p[0] for p in frontier(sweep, 2)] == ["lr", "arseg"]
