"""CReFF and the two-branch ARSeg model."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from arseg_tutorial.models import ARSeg, CReFF, build_model
from arseg_tutorial.models.arseg import downsample_frame, lr_size
from arseg_tutorial.models.local_attention import aggregate_reference, similarity_reference


@pytest.mark.parametrize("variant", ["paper", "position_bias"])
def test_creff_follows_the_definition(variant):
    torch.manual_seed(0)
    creff = CReFF(6, kernel=5, variant=variant)
    if variant == "position_bias":
        with torch.no_grad():
            creff.position_bias.normal_()
    lr_feature, reference = torch.randn(2, 6, 5, 7), torch.randn(2, 6, 10, 14)
    result = creff(lr_feature, reference, return_attention=True)
    lr_up = F.interpolate(lr_feature, size=(10, 14), mode="bilinear", align_corners=True)
    logits = similarity_reference(creff.query_conv(lr_up), creff.key_conv(reference), 5)
    if variant == "position_bias":  # one learnable bias per window offset, the same at every pixel
        logits = logits + creff.position_bias.view(1, 1, 1, 25)
    weights = logits.softmax(-1)
    expected = aggregate_reference(creff.value_conv(reference), weights, 5)
    if variant == "paper":  # residual; the position-bias variant's output is the attention alone
        expected = lr_up + expected
    torch.testing.assert_close(result.fused, expected)
    torch.testing.assert_close(result.attention, weights)
    torch.testing.assert_close(result.attention.sum(-1), torch.ones(2, 10, 14))
    assert result.attention.shape == (2, 10, 14, 25)
    torch.testing.assert_close(creff(lr_feature, reference), result.fused)


def test_creff_queries_keys_values_are_separate_depthwise_convs():
    creff = CReFF(16, kernel=7, variant="paper")
    convs = [creff.query_conv, creff.key_conv, creff.value_conv]
    assert all(c.groups == 16 and c.kernel_size == (3, 3) and c.bias is not None for c in convs)
    assert len({id(c.weight) for c in convs}) == 3
    assert sum(p.numel() for p in creff.parameters()) == 3 * (16 * 9 + 16)
    assert sum(p.numel() for p in CReFF(16, kernel=7).parameters()) == 3 * (16 * 9 + 16)  # default: paper
    assert sum(p.numel() for p in CReFF(16, kernel=7, variant="position_bias").parameters()) == \
        3 * (16 * 9 + 16) + 49
    with pytest.raises(ValueError, match="odd"):
        CReFF(16, kernel=4)
    with pytest.raises(ValueError, match="variant"):
        CReFF(16, kernel=3, variant="swin")


def test_position_bias_creff_starts_on_the_aligned_tap():
    """With the position bias at its start, a reference identical to the query's source puts
    most of the weight on the centre tap; the paper's variant spreads it (no notion of where)."""
    torch.manual_seed(0)
    feature = torch.randn(1, 8, 9, 9)
    for variant, lo, hi in (("position_bias", 0.9, 1.0), ("paper", 0.0, 0.9)):
        creff = CReFF(8, kernel=3, variant=variant)
        with torch.no_grad():
            for conv in (creff.query_conv, creff.key_conv):
                conv.weight.zero_()
                conv.weight[:, 0, 1, 1] = 1.0 / 8 ** 0.5
        centre = creff(feature, feature, return_attention=True).attention[0, 1:-1, 1:-1, 4]
        assert lo <= centre.mean() <= hi, (variant, float(centre.mean()))


def _pair(name="bisenet18", scale=0.5):
    torch.manual_seed(0)
    hr, lr = build_model(name, 4, width=0.125), build_model(name, 4, width=0.125)
    return ARSeg(hr, lr, scale).eval()


def test_arseg_shares_a_frozen_copy_of_the_hr_classifier():
    model = _pair()
    hr_cls, lr_cls = model.hr_model.classifier, model.lr_model.classifier
    torch.testing.assert_close(hr_cls.weight, lr_cls.weight)
    assert hr_cls.weight.data_ptr() != lr_cls.weight.data_ptr()
    assert not lr_cls.weight.requires_grad and hr_cls.weight.requires_grad
    backbone = dict(model.lr_model.named_parameters())["context_path.resnet.conv1.weight"]
    assert not torch.equal(backbone, dict(model.hr_model.named_parameters())["context_path.resnet.conv1.weight"])
    assert model.lr_model.creff is not None and model.hr_model.creff is None
    with pytest.raises(ValueError, match="separate weights"):
        ARSeg(model.hr_model, model.hr_model, 0.5)


@pytest.mark.parametrize("name", ["bisenet18", "pspnet18"])
def test_keyframe_and_nonkeyframe(name):
    model = _pair(name)
    frames = torch.randn(3, 3, 64, 96)
    with torch.no_grad():
        key = model.keyframe(frames[:1])
        torch.testing.assert_close(key.logits, model.hr_model(frames[:1]))
        out = model.nonkeyframe(frames[1:2], key.feature, None)
        lr_feature = model.lr_model.forward_phase1(F.interpolate(frames[1:2], size=(32, 48), mode="bilinear"))
        expected = model.lr_model.forward_phase2(lr_feature, key.feature, output_size=(64, 96))
    torch.testing.assert_close(out.logits, expected)
    assert out.feature.shape == key.feature.shape
    assert out.logits.shape == (1, 4, 64, 96)


def test_nonkeyframe_warps_with_the_flow_rescaled_to_the_feature_grid():
    model = _pair("bisenet18")
    frame = torch.randn(1, 3, 64, 96)
    feature = torch.randn(1, model.hr_model.feature_channels, 8, 12)
    flow = np.zeros((64, 96, 2), np.float32)
    flow[..., 0] = 16.0                      # 16 image px = 2 feature px to the right
    warped = model.warp_keyframe_feature(feature, flow, frame)
    torch.testing.assert_close(warped[..., :, :-2], feature[..., :, 2:])
    layouts = [torch.from_numpy(flow), torch.from_numpy(flow)[None],
               torch.from_numpy(flow).permute(2, 0, 1)[None]]
    for layout in layouts:
        torch.testing.assert_close(model.warp_keyframe_feature(feature, layout, frame), warped)
    with pytest.raises(ValueError, match="flow_to_keyframe"):
        model.warp_keyframe_feature(feature, flow[:32], frame)


def test_segment_gop_runs_keyframe_then_nonkeyframes():
    model = _pair("bisenet18", scale=0.35)
    frames = torch.randn(4, 3, 64, 96)
    flows = torch.randn(4, 64, 96, 2)
    with torch.no_grad():
        logits = model.segment_gop(frames, flows)
        key = model.keyframe(frames[:1])
        third = model.nonkeyframe(frames[2:3], key.feature, flows[2])
    assert logits.shape == (4, 4, 64, 96)
    torch.testing.assert_close(logits[:1], key.logits)
    torch.testing.assert_close(logits[2:3], third.logits)


def test_lr_training_step_updates_lr_but_not_the_shared_classifier():
    model = _pair("pspnet18")
    model.lr_model.train()
    frame = torch.randn(2, 3, 32, 48)
    with torch.no_grad():
        key = model.keyframe(frame)
    before = model.lr_model.classifier.weight.clone()
    optimiser = torch.optim.Adam([p for p in model.lr_model.parameters() if p.requires_grad], lr=1e-2)
    out = model.nonkeyframe(frame, key.feature, None)
    F.cross_entropy(out.logits, torch.randint(0, 4, (2, 32, 48))).backward()
    optimiser.step()
    torch.testing.assert_close(model.lr_model.classifier.weight, before)
    assert model.lr_model.creff.query_conv.weight.grad is not None


def test_lr_size_and_downsampling():
    assert lr_size(720, 960, 0.5) == (360, 480)
    assert lr_size(120, 160, 0.35) == (42, 56)
    assert downsample_frame(torch.zeros(1, 3, 120, 160), 0.25).shape == (1, 3, 30, 40)
    with pytest.raises(ValueError, match="lr_scale"):
        lr_size(10, 10, 1.5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_arseg_runs_on_cuda():
    model = _pair("bisenet18").to("cuda")
    frames = torch.randn(3, 3, 64, 96, device="cuda")
    with torch.no_grad():
        logits = model.segment_gop(frames, np.zeros((3, 64, 96, 2), np.float32))
    assert logits.device.type == "cuda" and logits.shape == (3, 4, 64, 96)


@pytest.mark.parametrize("taps", [9, 25, 49])
def test_window_softmax_is_the_softmax_over_the_window_in_either_layout(taps):
    from arseg_tutorial.models.creff import window_softmax

    logits = torch.randn(2, 5, 7, taps, generator=torch.Generator().manual_seed(taps)) * 4
    logits.requires_grad_()
    weights = window_softmax(logits)
    assert weights.shape == logits.shape
    torch.testing.assert_close(weights, logits.softmax(-1), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 5, 7))
    (weights * torch.arange(taps)).sum().backward()
    expected = logits.detach().clone().requires_grad_()
    (expected.softmax(-1) * torch.arange(taps)).sum().backward()
    torch.testing.assert_close(logits.grad, expected.grad, atol=1e-6, rtol=1e-5)
