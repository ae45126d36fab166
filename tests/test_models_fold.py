"""BatchNorm folding: the folded copy computes what the network computes (float rounding)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from arseg_tutorial.models import ARSeg, build_model
from arseg_tutorial.models.fold import fold_batchnorm
from arseg_tutorial.scenes import NUM_CLASSES

pytestmark = pytest.mark.usefixtures("one_thread")


def randomise_batchnorm(model: nn.Module, seed: int) -> None:
    """Trained-looking BN statistics and affine terms (fresh ones are the identity)."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.3)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.2)


@pytest.mark.parametrize("name", ["bisenet18", "pspnet18"])
def test_folded_network_gives_the_same_logits(name):
    torch.manual_seed(0)
    model = build_model(name, NUM_CLASSES, width=0.125)
    randomise_batchnorm(model, 1)
    model.eval()
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())      # the original is kept
    x = torch.randn(2, 3, 64, 96)
    with torch.inference_mode():
        expected, got = model(x), folded(x)
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_folded_arseg_branches_give_the_same_fused_logits():
    torch.manual_seed(0)
    hr, lr = (build_model("bisenet18", NUM_CLASSES, width=0.125) for _ in range(2))
    lr.add_creff(3)
    for seed, m in enumerate((hr, lr)):
        randomise_batchnorm(m, seed)
    arseg = ARSeg(hr.eval(), lr.eval(), 0.5).eval()
    folded = ARSeg(fold_batchnorm(hr), fold_batchnorm(lr), 0.5).eval()
    frames = torch.randn(3, 3, 64, 96)
    with torch.inference_mode():
        torch.testing.assert_close(folded.segment_gop(frames, None), arseg.segment_gop(frames, None),
                                   rtol=1e-4, atol=1e-4)


def test_player_networks_are_channels_last_and_give_the_same_logits():
    """``player.inference_networks``: BatchNorm folded and channels-last weights (faster on CPU),
    the same logits to float rounding, for a channels-last or a contiguous input."""
    from arseg_tutorial.player import inference_networks

    torch.manual_seed(0)
    hr, lr = build_model("bisenet18", NUM_CLASSES, width=0.125), build_model("bisenet18", NUM_CLASSES, width=0.125)
    randomise_batchnorm(hr, 3)
    randomise_batchnorm(lr, 4)
    lr.add_creff(3)
    fast_hr, arseg = inference_networks(hr.eval(), lr.eval(), 0.5)
    conv = next(m for m in fast_hr.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 64, 96)
    with torch.inference_mode():
        for given in (x, x.contiguous(memory_format=torch.channels_last)):
            torch.testing.assert_close(fast_hr(given), hr(x), rtol=1e-4, atol=1e-4)
            torch.testing.assert_close(arseg.lr_model.forward_phase1(given), lr.forward_phase1(x),
                                       rtol=1e-4, atol=1e-4)
