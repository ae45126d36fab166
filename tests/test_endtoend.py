"""Notebook 07's end-to-end run: a multi-GOP video through AR-Seg and per-frame HR, overlay video."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from arseg_tutorial import codec
from arseg_tutorial.endtoend import (FRAME_TYPE_RGB, compare_on_video, make_test_video, overlay_frames,
                                     write_mp4)
from arseg_tutorial.evaluate import confusion_matrix, mean_iou
from arseg_tutorial.models import build_model
from arseg_tutorial.player import STAGES, ARSegPlayer, HRPlayer, inference_networks
from arseg_tutorial.scenes import NUM_CLASSES
from arseg_tutorial.viz import colorize_labels

GOP = 4


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return make_test_video(970_001, num_gops=2, height=120, width=160, gop_length=GOP,
                           path=tmp_path_factory.mktemp("video") / "test.mp4")


@pytest.fixture(scope="module")
def networks():
    torch.manual_seed(0)
    hr = build_model("bisenet18", NUM_CLASSES, width=0.125).eval()
    lr = build_model("bisenet18", NUM_CLASSES, width=0.125)
    lr.add_creff()
    lr.classifier.load_state_dict(hr.classifier.state_dict())     # as in a shipped AR-Seg checkpoint
    return hr, lr.eval()


@pytest.fixture(scope="module")
def comparison(video, networks):
    return compare_on_video(video, *networks, lr_scale=0.5, progress=False, warp_only=True)


def test_test_video_has_one_i_frame_per_gop(video):
    decoded = codec.read_video(video.path)
    assert decoded.frame_types == "IPPP" * 2
    assert video.labels.shape == (8, 120, 160)


def test_arseg_uses_hr_on_i_frames_and_the_players_labels(video, networks, comparison):
    assert comparison.frame_types == "IPPPIPPP"
    np.testing.assert_array_equal(comparison.predictions["hr"][[0, 4]], comparison.predictions["arseg"][[0, 4]])
    np.testing.assert_array_equal(comparison.predictions["warp"][4], comparison.predictions["hr"][4])
    hr, arseg = inference_networks(*networks, 0.5)
    for method, player in (("hr", HRPlayer(video.path, hr)), ("arseg", ARSegPlayer(video.path, arseg)),
                           ("warp", ARSegPlayer(video.path, arseg, warp_only=True))):
        with torch.inference_mode():
            labels = [player.step()[1] for _ in range(video.num_frames)]
        np.testing.assert_array_equal(comparison.predictions[method], np.stack(labels))
    np.testing.assert_array_equal(comparison.frames, codec.read_video(video.path).frames)
    assert set(comparison.stages["arseg"]) == set(STAGES) and comparison.stages["arseg"]["creff"] > 0


def test_an_lr_branch_keeps_its_own_trained_classifier(video, networks):
    hr, _ = networks
    lr = build_model("bisenet18", NUM_CLASSES, width=0.125)
    lr.add_creff()
    before = lr.classifier.weight.detach().clone()
    compare_on_video(video, hr, lr.eval(), lr_scale=0.5, progress=False)
    assert torch.equal(lr.classifier.weight, before) and not torch.equal(before, hr.classifier.weight)


def test_per_frame_scores_and_times(comparison):
    assert set(comparison.summary()) >= {"warp_miou", "warp_total_ms", "speedup_total"}
    for method in ("hr", "arseg", "warp"):
        expected = [mean_iou(confusion_matrix(p, l, NUM_CLASSES))
                    for p, l in zip(comparison.predictions[method], comparison.labels)]
        np.testing.assert_allclose(comparison.miou[method], expected)
        assert (comparison.network_ms[method] > 0).all() and (comparison.decode_ms[method] > 0).all()
        assert comparison.network_ms[method].shape == (8,)
    summary = comparison.summary()
    assert summary["speedup_total"] == pytest.approx(
        comparison.total_ms("hr").mean() / comparison.total_ms("arseg").mean())
    assert summary["arseg_miou"] == pytest.approx(comparison.miou["arseg"].mean())


def test_overlay_panels_strip_and_alpha(comparison):
    frames = overlay_frames(comparison, alpha=1.0, strip_px=4, gap_px=2)
    assert frames.shape == (8, 4 + 120, 3 * 160 + 4, 3)
    np.testing.assert_array_equal(frames[:, 4:, :160], colorize_labels(comparison.labels))
    np.testing.assert_array_equal(frames[:, 4:, -160:], colorize_labels(comparison.predictions["arseg"]))
    assert tuple(frames[0, 0, 0]) == FRAME_TYPE_RGB["I"] and tuple(frames[1, 0, 0]) == FRAME_TYPE_RGB["P"]
    plain = overlay_frames(comparison, alpha=0.0)
    np.testing.assert_array_equal(plain[:, 6:, 162:322], comparison.frames)
    with pytest.raises(ValueError, match="alpha"):
        overlay_frames(comparison, alpha=2.0)


def test_write_mp4_round_trip_pads_odd_sizes(tmp_path):
    rng = np.random.default_rng(0)
    frames = np.repeat(rng.integers(0, 255, (3, 1, 1, 3), dtype=np.uint8), 33 * 45, 1).reshape(3, 33, 45, 3)
    path = write_mp4(frames, tmp_path / "x.mp4", fps=5, crf=10)
    back = codec.read_video(path, motion_vectors=False)
    assert back.codec == "h264" and back.frames.shape == (3, 34, 46, 3)
    assert np.abs(back.frames[:, :32, :44].astype(int) - frames[:, :32, :44]).mean() < 4
    assert not list(tmp_path.glob(".x-*"))                     # no temporary file left behind
    with pytest.raises(ValueError, match="uint8"):
        write_mp4(frames.astype(np.float32), tmp_path / "y.mp4")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_mp4(frames, tmp_path / "missing" / "y.mp4")
