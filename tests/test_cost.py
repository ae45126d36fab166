"""Cost accounting: the project's GMACs convention against the reference numbers.

The convention and the numbers: docs/method.md#how-gmacs-are-counted-here.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from arseg_tutorial.cost import (
    count_gmacs, cost_rows, format_cost_table, gmacs, gop_average, latency_ms, model_latency_ms, saving,
)
from arseg_tutorial.models import CReFF, build_model


@pytest.mark.parametrize("name, classes, size, design_gmacs", [
    ("bisenet18", 12, (720, 960), 39.1),
    ("pspnet18", 12, (720, 960), 308.6),
    ("bisenet18", 19, (1024, 2048), 118.3),
])
def test_faithful_models_match_design_gmacs(name, classes, size, design_gmacs):
    with torch.device("meta"):
        model = build_model(name, classes)
    assert gmacs(model, (1, 3, *size)) == pytest.approx(design_gmacs, rel=0.05)


def test_gmacs_of_a_conv_is_the_textbook_count_and_leaves_the_model_alone():
    conv = nn.Conv2d(3, 8, 3, padding=1)
    assert gmacs(nn.Sequential(conv), (2, 3, 10, 20)) * 1e9 == 2 * 8 * 3 * 9 * 10 * 20
    assert conv.weight.device.type == "cpu"


def test_creff_is_charged_depthwise_convs_plus_the_analytic_attention_term():
    creff = CReFF(16, kernel=5)
    lr, ref = torch.randn(1, 16, 4, 6), torch.randn(1, 16, 8, 12)
    macs = count_gmacs(lambda: creff(lr, ref), creff) * 1e9
    assert macs == pytest.approx(3 * 16 * 9 * 8 * 12 + 2 * 16 * 25 * 8 * 12)


def test_gop_average_and_saving():
    assert gop_average(12.0, 1.0, 12) == pytest.approx((12 + 11) / 12)
    assert saving(100.0, 25.0) == pytest.approx(0.75)
    assert 1 - gop_average(1.0, 0.25, 12) == pytest.approx(0.6875)   # the zero-overhead floor at s = 0.5


@pytest.mark.parametrize("name", ["bisenet18", "pspnet18"])
def test_paper_saving_at_half_scale(name):
    (row,) = cost_rows(name, 720, 960, 12, (0.5,), 12, dataset="CamVid")
    assert 0.665 <= row.saving <= 0.68
    assert row.lr_gmacs / row.hr_gmacs == pytest.approx(0.25, abs=0.01)      # cost ~ s^2
    assert "CamVid" in format_cost_table([row])


def test_latency_helpers():
    calls = []
    assert latency_ms(lambda: calls.append(1), warmup=2, repeats=3) >= 0
    assert len(calls) == 5
    model = build_model("bisenet18", 3, width=0.125).train()
    assert model_latency_ms(model, (1, 3, 32, 32), warmup=0, repeats=1) > 0
    assert model.training


def test_attention_term_counts_every_frame_of_the_batch_and_keyword_calls():
    creff = CReFF(8, kernel=3)
    lr, ref = torch.randn(2, 8, 3, 4), torch.randn(2, 8, 6, 8)
    macs = count_gmacs(lambda: creff(lr, reference=ref, return_attention=True), creff) * 1e9
    assert macs == pytest.approx(2 * (3 * 8 * 9 * 6 * 8 + 2 * 8 * 9 * 6 * 8))
