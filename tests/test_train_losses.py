"""OHEM cross-entropy and the FST loss against values computed by hand."""
from __future__ import annotations

import math

import pytest
import torch

from arseg_tutorial.train.losses import fst_loss, ohem_cross_entropy, segmentation_loss


def _two_class_logits(p_true: list[float], labels: list[int]) -> torch.Tensor:
    """(1, 2, 1, W) logits whose softmax gives probability p_true[i] to labels[i] (0 or 1)."""
    cols = []
    for p, y in zip(p_true, labels):
        pair = [math.log(p), math.log(1 - p)]
        cols.append(pair if y == 0 else pair[::-1])
    return torch.tensor(cols, dtype=torch.float64).T.reshape(1, 2, 1, len(cols))


def test_ohem_averages_only_the_hard_pixels():
    labels = [0, 1, 0, 255]
    logits = _two_class_logits([0.9, 0.5, 0.2, 0.5], [0, 1, 0, 0])
    loss = ohem_cross_entropy(logits, torch.tensor(labels).view(1, 1, 4))
    # -log 0.9 = 0.105 is easy (below -log 0.7 = 0.357); the ignored pixel does not count
    expected = (-math.log(0.5) - math.log(0.2)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-9)


def test_ohem_keeps_n_min_largest_when_few_are_hard():
    probs = [0.99] * 30 + [0.95, 0.9]  # 32 valid pixels, none hard -> n_min = 32 // 16 = 2
    labels = [0] * 32
    loss = ohem_cross_entropy(_two_class_logits(probs, labels), torch.tensor(labels).view(1, 1, 32))
    assert loss.item() == pytest.approx((-math.log(0.95) - math.log(0.9)) / 2, rel=1e-9)


def test_ohem_with_no_labelled_pixel_is_zero_with_gradient():
    logits = torch.zeros(1, 3, 2, 2, requires_grad=True)
    loss = ohem_cross_entropy(logits, torch.full((1, 2, 2), 255))
    loss.backward()
    assert loss.item() == 0.0 and logits.grad is not None


def test_segmentation_loss_sums_main_and_aux_heads():
    logits = _two_class_logits([0.5, 0.2], [0, 1])
    labels = torch.tensor([0, 1]).view(1, 1, 2)
    single = ohem_cross_entropy(logits, labels)
    assert segmentation_loss((logits, logits, logits), labels).item() == pytest.approx(3 * single.item())


def test_fst_loss_upsamples_with_aligned_corners():
    lr = torch.tensor([[0.0, 2.0], [4.0, 6.0]]).view(1, 1, 2, 2)
    hr = torch.zeros(1, 1, 3, 3)
    # upsampled: [[0,1,2],[2,3,4],[4,5,6]] -> mean of squares = 111 / 9
    assert fst_loss(lr, hr).item() == pytest.approx(111 / 9)
    with pytest.raises(ValueError, match="channels"):
        fst_loss(torch.zeros(1, 2, 2, 2), hr)


def test_fst_loss_sends_no_gradient_to_the_hr_feature():
    lr = torch.ones(1, 2, 3, 3, requires_grad=True)
    hr = torch.zeros(1, 2, 3, 3, requires_grad=True)
    fst_loss(lr, hr).backward()
    assert hr.grad is None and torch.allclose(lr.grad, torch.full_like(lr, 2 / lr.numel()))
