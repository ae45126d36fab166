"""Confusion matrix, IoU and per-distance mIoU against a hand-made example."""
from __future__ import annotations

import numpy as np
import pytest

from arseg_tutorial.evaluate import (confusion_matrix, evaluate_by_distance, iou_per_class,
                                     mean_iou)


def test_confusion_matrix_and_miou_by_hand():
    pred = np.array([0, 0, 1, 1, 2])
    label = np.array([0, 1, 1, 1, 255])
    conf = confusion_matrix(pred, label, 3)
    assert conf.tolist() == [[1, 0, 0], [1, 2, 0], [0, 0, 0]]
    ious = iou_per_class(conf)
    assert ious[0] == pytest.approx(1 / 2) and ious[1] == pytest.approx(2 / 3)
    assert np.isnan(ious[2])  # only "predicted" on an ignored pixel: not counted
    assert mean_iou(conf) == pytest.approx(100 * (1 / 2 + 2 / 3) / 2)


def test_confusion_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        confusion_matrix(np.zeros(3), np.zeros(4), 2)
    with pytest.raises(ValueError, match="class indices"):
        confusion_matrix(np.array([5]), np.array([0]), 2)
    with pytest.raises(ValueError, match="empty"):
        mean_iou(np.zeros((2, 2)))


def test_per_distance_pools_one_matrix_per_distance_over_all_clips():
    # two clips, GOP of 2, 1x2 frames; the segmenter is perfect at d=0 and wrong on pixel 1 at d=1
    labels = np.array([[[[0, 1]], [[0, 1]]], [[[1, 1]], [[0, 0]]]], np.uint8)
    frames = np.zeros(labels.shape + (3,), np.uint8)
    flows = np.zeros(labels.shape + (2,), np.float32)
    calls = iter(range(2))

    def segment(gop_frames, gop_flows):
        clip = next(calls)
        pred = labels[clip].copy()
        pred[1, 0, 1] = 1 - pred[1, 0, 1]
        return pred

    report = evaluate_by_distance(segment, frames, labels, flows, ["a", "b"], gmacs_per_frame=1.5)
    assert report.per_distance[0] == pytest.approx(100.0)
    # d=1: labels [0,1] and [0,0], preds [0,0] and [0,1] -> conf [[2,1],[1,0]] -> IoU 2/4, 0/2
    assert report.per_distance[1] == pytest.approx(25.0)
    assert report.mean_miou == pytest.approx(62.5)
    assert report.frames == 4 and report.gmacs_per_frame == 1.5
    assert set(report.per_class_iou) == {"a", "b"}


def _warp_fixture():
    import torch

    from arseg_tutorial.models import build_model

    torch.manual_seed(0)
    hr = build_model("bisenet18", 11, width=0.125).eval()
    frames = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    return hr, frames


def test_warp_reference_uses_only_the_keyframe_and_the_flow():
    import torch

    from arseg_tutorial.evaluate import make_segmenter
    from arseg_tutorial.models.preprocess import to_input

    hr, frames = _warp_fixture()
    zero = np.zeros((3, 64, 64, 2), np.float32)
    pred = make_segmenter("warp", hr)(frames, zero)
    np.testing.assert_array_equal(pred[0], make_segmenter("hr", hr)(frames[:1], zero[:1])[0])
    # zero flow: every P-frame gets the keyframe's prediction, whatever its own pixels are
    np.testing.assert_array_equal(pred[1], pred[0])
    np.testing.assert_array_equal(pred[2], pred[0])
    # 8 px to the right in the image = one cell of the stride-8 feature grid: backward warping
    # reads the keyframe feature one column further right (the last column repeats)
    shift = zero.copy()
    shift[1:, ..., 0] = 8.0
    with torch.no_grad():
        feature = hr.forward_phase1(to_input(frames[:1]))
        moved = torch.cat([feature[..., 1:], feature[..., -1:]], dim=-1)
        expected = hr.classify(moved, (64, 64)).argmax(1)[0].numpy()
    for batched in (False, True):
        shifted = make_segmenter("warp", hr, batched=batched)(frames, shift)
        np.testing.assert_array_equal(shifted[1], expected)
        np.testing.assert_array_equal(shifted[2], expected)
    assert (expected != pred[0]).any()
    with pytest.raises(ValueError, match="needs hr_model"):
        make_segmenter("warp", None)


def test_warp_reference_cost_is_the_keyframe_plus_a_classifier_per_p_frame():
    from arseg_tutorial.cost import gmacs
    from arseg_tutorial.evaluate import method_gmacs_per_frame

    hr, _ = _warp_fixture()
    key = gmacs(hr, (1, 3, 64, 64))
    classifier = hr.feature_channels * 11 * 8 * 8 / 1e9      # 1x1 conv C -> K on the 8x8 grid
    got = method_gmacs_per_frame("warp", 1.0, "bisenet18", 64, 64, 11, 0.125, 12)
    assert got == pytest.approx((key + 11 * classifier) / 12, rel=1e-6)
