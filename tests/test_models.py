"""Networks: official parameter counts, the phase split, training outputs, width multiplier."""
from __future__ import annotations

import pytest
import torch

from arseg_tutorial.models import (
    BiSeNet18, PSPNet18, ResNet18, TrainOutput, build_model, count_parameters,
)
from arseg_tutorial.models.resnet import MIN_CHANNELS, scale_channels


def _meta_model(name, classes):
    with torch.device("meta"):
        return build_model(name, classes, width=1.0)


@pytest.mark.parametrize("name, classes, exclude, expected", [
    ("bisenet18", 12, ("aux_heads",), 13_273_740),
    ("bisenet18", 19, ("aux_heads",), 13_275_539),
    ("pspnet18", 12, (), 17_461_979),
])
def test_parameter_counts_match_the_official_models(name, classes, exclude, expected):
    assert count_parameters(_meta_model(name, classes), exclude=exclude) == expected


def test_resnet18_matches_torchvision_count_without_fc():
    # torchvision's resnet18 has 11,689,512 parameters, 513,000 of them in the 1000-class fc layer.
    with torch.device("meta"):
        assert count_parameters(ResNet18()) == 11_689_512 - 513_000
        assert count_parameters(ResNet18(dilated=True)) == 11_689_512 - 513_000


def test_dilated_resnet_keeps_output_stride_8():
    net = ResNet18(width=0.125, dilated=True).eval()
    feat8, feat16, feat32 = net(torch.randn(1, 3, 64, 96))
    assert feat8.shape[-2:] == feat16.shape[-2:] == feat32.shape[-2:] == (8, 12)
    plain = ResNet18(width=0.125).eval()
    assert [f.shape[-2:] for f in plain(torch.randn(1, 3, 64, 96))] == [(8, 12), (4, 6), (2, 3)]


def test_width_multiplier_scales_channels_with_a_floor():
    assert scale_channels(256, 0.25) == 64
    assert scale_channels(64, 0.05) == MIN_CHANNELS
    assert build_model("bisenet18", 5, width=0.25).feature_channels == 64
    assert build_model("pspnet18", 5, width=0.25).feature_channels == 16
    with pytest.raises(ValueError, match="width"):
        scale_channels(64, 0.0)


@pytest.mark.parametrize("name, stride", [("bisenet18", 8), ("pspnet18", 1)])
def test_phase_split_equals_forward_and_has_documented_shapes(name, stride):
    torch.manual_seed(0)
    model = build_model(name, 7, width=0.125).eval()
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        feature = model.forward_phase1(x)
        assert feature.shape == (2, model.feature_channels, 64 // stride, 96 // stride)
        logits = model.forward_phase2(feature)
        torch.testing.assert_close(logits, model(x))
    assert logits.shape == (2, 7, 64, 96)
    assert model.classifier.in_channels == model.feature_channels
    assert model.classifier.out_channels == 7 and model.classifier.kernel_size == (1, 1)


def test_odd_input_sizes_give_logits_at_the_input_size():
    for name in ("bisenet18", "pspnet18"):
        model = build_model(name, 4, width=0.125).eval()
        with torch.no_grad():
            assert model(torch.randn(1, 3, 37, 53)).shape == (1, 4, 37, 53)


def test_training_outputs():
    x = torch.randn(2, 3, 64, 96)
    bisenet = build_model("bisenet18", 5, width=0.125).train()
    out = bisenet(x)
    assert isinstance(out, TrainOutput)
    assert out.logits.shape == (2, 5, 64, 96)
    assert [a.shape for a in out.aux] == [(2, 5, 64, 96)] * 2
    assert out.feature.shape == (2, bisenet.feature_channels, 8, 12)
    pspnet = build_model("pspnet18", 5, width=0.125).train()
    out = pspnet(x)
    assert [a.shape for a in out.aux] == [(2, 5)]
    assert out.feature.shape == (2, pspnet.feature_channels, 64, 96)
    loss = out.logits.mean() + out.aux[0].mean()
    loss.backward()
    assert pspnet.presence_head.mlp[0].weight.grad is not None


def test_forward_with_reference_needs_creff_and_outputs_the_hr_size():
    torch.manual_seed(0)
    hr, lr = build_model("bisenet18", 3, width=0.125).eval(), build_model("bisenet18", 3, width=0.125)
    reference = hr.forward_phase1(torch.randn(2, 3, 64, 96))
    with pytest.raises(RuntimeError, match="add_creff"):
        lr(torch.randn(2, 3, 32, 48), reference=reference)
    lr.add_creff(kernel=5)
    out = lr.train()(torch.randn(2, 3, 32, 48), reference=reference)   # BiSeNet trains with N >= 2
    assert out.logits.shape == (2, 3, 64, 96)
    assert out.feature.shape == reference.shape
    assert [a.shape for a in out.aux] == [(2, 3, 64, 96)] * 2      # aux maps follow the main logits


def test_build_model_rejects_bad_arguments():
    with pytest.raises(ValueError, match="bisenet18"):
        build_model("deeplab", 3)
    with pytest.raises(ValueError, match="num_classes"):
        build_model("pspnet18", 0)
    with pytest.raises(ValueError, match="N, 3, H, W"):
        build_model("bisenet18", 3, width=0.125)(torch.randn(3, 32, 32))
    assert isinstance(build_model("BiSeNet18", 3, width=0.125), BiSeNet18)
    assert isinstance(build_model("pspnet18", 3, width=0.125), PSPNet18)


def test_bisenet_output_stride_4_keeps_the_layers_and_doubles_the_grid():
    """Stride 4 (the small profiles) has the same weights by name and shape, a grid twice as
    fine, and the same 1/8 -> 1/4 relation between its two context maps."""
    from arseg_tutorial.models import build_model_from_config

    coarse = build_model("bisenet18", 11, width=0.125)
    fine = build_model("bisenet18", 11, width=0.125, output_stride=4)
    assert {k: v.shape for k, v in coarse.state_dict().items()} == \
        {k: v.shape for k, v in fine.state_dict().items()}
    x = torch.rand(2, 3, 64, 96)
    assert coarse.eval().forward_phase1(x).shape[-2:] == (8, 12)
    assert fine.eval().forward_phase1(x).shape[-2:] == (16, 24)
    assert fine(x).shape == (2, 11, 64, 96) and fine.output_stride == 4
    assert isinstance(fine.context_path.resnet.maxpool, torch.nn.Identity)
    assert fine.spatial_path.layers[2][0].stride == (1, 1)
    config = {"model": "bisenet18", "num_classes": 11, "net_width": 0.125, "output_stride": 4}
    assert build_model_from_config(config).output_stride == 4
    assert build_model_from_config({**config, "output_stride": 8}).output_stride == 8
    with pytest.raises(ValueError, match="output_stride"):
        build_model("bisenet18", 11, output_stride=16)
    with pytest.raises(ValueError, match="output_stride"):
        build_model("pspnet18", 11, output_stride=4)
