"""The pure cores of notebook 03's resolution explorer and notebook 04's attention explorer."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("agg")

from arseg_tutorial.config import get_profile  # noqa: E402
from arseg_tutorial.viz.models import pca_rgb  # noqa: E402
from arseg_tutorial.widgets.attention import (  # noqa: E402
    AttentionExplorer, DemoModel, creff_with_kernel, make_encoded_pair,
)
from arseg_tutorial.widgets.resolution import (  # noqa: E402
    ResolutionExplorer, resample_image, resample_labels, roundtrip_iou,
)


def test_resample_labels_keeps_wide_regions_and_loses_a_thin_line():
    labels = np.zeros((40, 60), np.uint8)
    labels[:, 30] = 2                       # a 1-px pole
    labels[20:, :] = np.where(labels[20:, :] == 2, 2, 3)
    assert np.array_equal(resample_labels(labels, 1.0), labels)
    half = resample_labels(labels, 0.5)
    assert half.shape == labels.shape
    iou = roundtrip_iou(labels[None], (1.0, 0.5, 0.25), num_classes=4)
    assert iou[0, 2] == 1.0 and iou[0, 3] == 1.0
    assert iou[2, 2] < 0.6 < iou[2, 3]      # the pole loses more than the road
    assert np.isnan(iou[0, 1])              # absent class


def test_resample_image_shapes():
    frame = np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)
    small, back = resample_image(frame, 0.5)
    assert small.shape == (15, 20, 3) and back.shape == frame.shape and back.dtype == np.uint8


def test_resolution_explorer_update_reports_costs_and_accuracy():
    frame = np.zeros((32, 48, 3), np.uint8)
    labels = np.zeros((32, 48), np.uint8)
    labels[:, 10] = 2
    explorer = ResolutionExplorer(frame, labels, cost_size=(64, 96), net_width=0.125)
    state = explorer.update(0.5)
    assert state["lr_frame"].shape == (16, 24, 3)
    assert state["labels_back"].shape == labels.shape
    assert 0.9 < state["pixel_accuracy"] < 1.0
    assert state["lr_gmacs"] < state["nonkeyframe_gmacs"] < state["hr_gmacs"]
    assert state["saving"] == pytest.approx(1 - state["gop_gmacs"] / state["hr_gmacs"])
    assert explorer.update(1.0)["pixel_accuracy"] == 1.0


def test_pca_rgb_shares_one_projection():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(5, 4, 6, generator=g)
    images = pca_rgb([a, a.clone()])
    assert images[0].shape == (4, 6, 3)
    np.testing.assert_allclose(images[0], images[1])
    assert images[0].min() >= 0 and images[0].max() <= 1


@pytest.fixture(scope="module")
def explorer():
    from arseg_tutorial.models import ARSeg, build_model

    torch.manual_seed(0)
    model = ARSeg(build_model("bisenet18", 11, width=0.125), build_model("bisenet18", 11, width=0.125), 0.5)
    pair = make_encoded_pair(3, 120, 160, gop_length=4)
    return AttentionExplorer(DemoModel(model.eval(), False, "untrained"), pair)


def test_attention_explorer_update(explorer):
    state = explorer.update(60, 80, kernel=5, aligned=True)
    assert state["weights"].shape == (5, 5)
    assert state["weights"].sum() == pytest.approx(1.0, abs=1e-5)
    assert state["pixel_feature"] == (60 // 8, 80 // 8) and state["stride_px"] == 8
    assert 0 < state["entropy"] <= np.log(25) + 1e-6
    unaligned = explorer.update(60, 80, kernel=5, aligned=False)
    assert unaligned["keyframe_warped"] is explorer.pair.keyframe
    with pytest.raises(ValueError, match="kernel"):
        explorer.update(60, 80, kernel=4)
    with pytest.raises(ValueError, match="outside"):
        explorer.update(500, 80)


def test_creff_with_kernel_keeps_the_convolutions(explorer):
    creff = explorer.demo.model.lr_model.creff
    other = creff_with_kernel(creff, 9)
    assert other.kernel == 9 and other.variant == creff.variant
    torch.testing.assert_close(other.query_conv.weight, creff.query_conv.weight)
    if creff.position_bias is not None:  # the shared offsets keep their bias, the centre included
        k = creff.kernel
        inner = other.position_bias.detach().view(9, 9)[(9 - k) // 2:(9 + k) // 2, (9 - k) // 2:(9 + k) // 2]
        torch.testing.assert_close(inner.flatten(), creff.position_bias.detach())
        assert int(other.position_bias.argmax()) == 40 == 81 // 2


def test_encoded_pair_flow_is_close_to_the_true_flow():
    profile = get_profile("ci")
    pair = make_encoded_pair(3, profile.height, profile.width, gop_length=4, distance=3)
    assert pair.flow.shape == pair.true_flow.shape == (profile.height, profile.width, 2)
    error = np.abs(pair.flow - pair.true_flow).sum(-1)[pair.valid]
    assert np.median(error) < 1.0
    with pytest.raises(ValueError, match="distance"):
        make_encoded_pair(3, 120, 160, gop_length=4, distance=4)


def test_roundtrip_miou_is_perfect_on_wide_regions_and_lower_with_thin_lines():
    from arseg_tutorial.widgets.resolution import roundtrip_miou

    labels = np.zeros((1, 32, 32), np.uint8)
    labels[:, 16:] = 1
    assert roundtrip_miou(labels, (0.5,), 3) == [pytest.approx(100.0)]
    labels[:, :, 5] = 2                                   # a one-pixel line
    low, full = roundtrip_miou(labels, (0.25, 1.0), 3)
    assert low < 90.0 and full == pytest.approx(100.0)


def test_attention_statistics_of_uniform_and_peaked_windows():
    from arseg_tutorial.widgets.attention import attention_statistics

    uniform = torch.full((1, 2, 2, 9), 1 / 9)
    stats = attention_statistics(uniform)
    assert stats["centre_weight"] == pytest.approx(1 / 9) and stats["entropy"] == pytest.approx(np.log(9))
    assert stats["uniform_entropy"] == pytest.approx(np.log(9)) and stats["argmax_centre"] == 0.0
    peaked = torch.zeros(1, 2, 2, 9)
    peaked[..., 4] = 1.0
    peaked[0, 0, 0] = torch.tensor([1.0] + [0.0] * 8)      # one pixel looks at a corner
    stats = attention_statistics(peaked)
    assert stats["argmax_centre"] == 0.75 and stats["centre_weight"] == 0.75 and stats["entropy"] == pytest.approx(0)


def test_moving_object_pixel_and_alignment_state(explorer):
    from arseg_tutorial.widgets.attention import MOVING_CLASSES, moving_object_pixel, pair_with_moving_object

    pair, (y, x, name) = pair_with_moving_object(3, 120, 160, gop_length=4, margin_px=16)
    assert (y, x, name) == moving_object_pixel(pair, margin_px=16)
    assert pair.labels[y, x] in MOVING_CLASSES and 16 <= y < pair.labels.shape[0] - 16
    speed = np.linalg.norm(pair.true_flow, axis=-1)
    accurate = np.linalg.norm(pair.flow - pair.true_flow, axis=-1) < 4.0
    assert accurate[y, x]
    candidates = (np.isin(pair.labels, MOVING_CLASSES) & pair.valid & pair.visible & accurate)[16:-16, 16:-16]
    assert speed[y, x] > 0 and speed[y, x] == speed[16:-16, 16:-16][candidates].max()
    explorer = AttentionExplorer(explorer.demo, pair)
    state = explorer.alignment(y, x)
    assert state["keyframe_px"] == pytest.approx((y + pair.flow[y, x, 1], x + pair.flow[y, x, 0]))
    assert state["aligned"]["aligned"] and not state["zero_flow"]["aligned"]
    stats = explorer.statistics()
    assert set(stats) == {"aligned", "zero flow", "exact"}
    assert all(0 < s["centre_weight"] < 1 for s in stats.values())
    fig = explorer.alignment_figure(y, x)
    assert len(fig.axes) >= 6
    still = type(pair)(**{**pair.__dict__, "labels": np.zeros_like(pair.labels)})
    with pytest.raises(ValueError, match="another seed"):
        moving_object_pixel(still, margin_px=16)


def test_resize_position_bias_keeps_the_trained_centre():
    from arseg_tutorial.widgets.attention import resize_position_bias

    bias = torch.arange(9.0) - 2.0                        # 3x3, smallest -2 at the top-left offset
    grown = resize_position_bias(bias, 5).reshape(5, 5)
    torch.testing.assert_close(grown[1:4, 1:4].reshape(-1), bias)
    assert grown[0, 0] == -2.0 and grown[4, 4] == -2.0 and grown[2, 2] == bias[4]
    torch.testing.assert_close(resize_position_bias(grown.reshape(-1), 3), bias)
    assert resize_position_bias(bias, 1).tolist() == [bias[4].item()]


def test_window_extra_bias_equals_adding_it_to_the_logits(explorer):
    kernel = explorer.demo.model.lr_model.creff.kernel
    bias = torch.zeros(kernel * kernel)
    bias[kernel * kernel // 2] = 5.0
    plain = explorer.window(60, 80, "exact")
    biased = explorer.window(60, 80, "exact", extra_bias=bias)
    expected = plain.reshape(-1) * np.exp(bias.numpy())
    np.testing.assert_allclose(biased.reshape(-1), expected / expected.sum(), rtol=1e-4)
    assert biased[kernel // 2, kernel // 2] > plain[kernel // 2, kernel // 2]
