"""Paired augmentation keeps frame, keyframe and flow consistent; the clip cache is keyed by config."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from arseg_tutorial.models import preprocess
from arseg_tutorial.train import augment, data

SHIFT_PX = (3.0, -2.0)  # frame(x, y) = key(x + 3, y - 2)


def _pattern(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.stack([0.5 + 0.4 * torch.sin(0.21 * x + 0.1 * y), 0.5 + 0.4 * torch.cos(0.17 * y),
                        0.5 + 0.3 * torch.sin(0.13 * (x - y))])


def _pair(height: int = 40, width: int = 56) -> augment.Sample:
    y, x = torch.meshgrid(torch.arange(height, dtype=torch.float32),
                          torch.arange(width, dtype=torch.float32), indexing="ij")
    key = _pattern(x, y)
    frame = _pattern(x + SHIFT_PX[0], y + SHIFT_PX[1])
    flow = torch.tensor(SHIFT_PX).view(2, 1, 1).expand(2, height, width).clone()
    return augment.Sample(frame, torch.zeros(height, width, dtype=torch.long), key, flow,
                          torch.ones(height, width, dtype=torch.bool))


def _warp(image: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Backward warp with align_corners=True; returns the result and where it sampled inside."""
    _, height, width = image.shape
    y, x = torch.meshgrid(torch.arange(height, dtype=torch.float32),
                          torch.arange(width, dtype=torch.float32), indexing="ij")
    sx, sy = x + flow[0], y + flow[1]
    grid = torch.stack([2 * sx / (width - 1) - 1, 2 * sy / (height - 1) - 1], -1)[None]
    out = F.grid_sample(image[None], grid, mode="bilinear", align_corners=True)[0]
    inside = (sx >= 0) & (sx <= width - 1) & (sy >= 0) & (sy <= height - 1)
    return out, inside


def _warp_error(sample: augment.Sample) -> float:
    warped, inside = _warp(sample.key, sample.flow)
    inside &= sample.valid
    assert inside.float().mean() > 0.5
    return float((warped - sample.frame).abs()[:, inside].max())


def test_the_synthetic_pair_is_consistent():
    assert _warp_error(_pair()) < 1e-4


@pytest.mark.parametrize("size", [(60, 84), (31, 43)])
def test_rescale_resizes_and_multiplies_the_flow(size):
    sample = augment.rescale(_pair(), size)
    assert sample.frame.shape == (3, *size) and sample.label.shape == size
    assert _warp_error(sample) < 0.03
    wrong = dataclasses.replace(sample, flow=torch.tensor(SHIFT_PX).view(2, 1, 1).expand(2, *size))
    assert _warp_error(wrong) > 0.05  # forgetting to multiply the vectors breaks the warp


def test_hflip_negates_dx():
    flipped = augment.hflip(_pair())
    assert torch.all(flipped.flow[0] == -SHIFT_PX[0]) and torch.all(flipped.flow[1] == SHIFT_PX[1])
    assert _warp_error(flipped) < 1e-4


def test_crop_and_jitter_keep_consistency_and_pad_with_ignore():
    sample = augment.crop(_pair(), 5, 7, (30, 40))
    assert _warp_error(sample) < 1e-4
    jittered = augment.color_jitter(sample, 1.1, 0.9, 1.2)
    assert _warp_error(jittered) < 0.05
    padded = augment.crop(_pair(), 30, 0, (20, 56))
    assert torch.all(padded.label[10:] == 255) and not padded.valid[10:].any()


def test_random_augment_repeats_with_the_same_generator():
    first = augment.random_augment(_pair(), torch.Generator().manual_seed(3), (32, 48))
    again = augment.random_augment(_pair(), torch.Generator().manual_seed(3), (32, 48))
    other = augment.random_augment(_pair(), torch.Generator().manual_seed(4), (32, 48))
    assert first.frame.shape == (3, 32, 48)
    assert torch.equal(first.frame, again.frame) and torch.equal(first.flow, again.flow)
    assert not torch.equal(first.frame, other.frame)
    assert _warp_error(first) < 0.05


def test_cache_key_changes_with_every_field():
    base = data.ClipConfig(first_seed=0, num_clips=2, height=48, width=64)
    keys = {base.cache_key()}
    for change in ({"first_seed": 1}, {"num_clips": 3}, {"height": 64}, {"width": 80},
                   {"gop_length": 6}, {"crf": 23}):
        keys.add(dataclasses.replace(base, **change).cache_key())
    assert len(keys) == 7
    assert data.clips_cache_path(base) != data.clips_cache_path(dataclasses.replace(base, crf=23))


def test_split_configs_use_disjoint_seeds():
    from arseg_tutorial.config import get_profile

    profile = get_profile("laptop")
    ranges = [range(c.first_seed, c.first_seed + c.num_clips)
              for c in (data.split_config(profile, s) for s in ("train", "val", "test"))]
    assert not set(ranges[0]) & set(ranges[1]) and not set(ranges[1]) & set(ranges[2])
    with pytest.raises(ValueError, match="unknown split"):
        data.split_config(profile, "dev")


def test_to_input_normalises_channels_first():
    frames = np.full((2, 4, 5, 3), 255, np.uint8)
    x = preprocess.to_input(frames)
    assert x.shape == (2, 3, 4, 5)
    assert torch.allclose(x[0, :, 0, 0], (1 - torch.tensor(preprocess.MEAN_RGB)) / torch.tensor(preprocess.STD_RGB))


def test_clips_built_in_parallel_equal_clips_built_in_one_process():
    config = data.ClipConfig(first_seed=321, num_clips=3, height=120, width=160, gop_length=3)
    one = data.build_clips(config)
    two = data.build_clips(config, workers=2)
    for field in data.ClipSet.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(two, field), getattr(one, field), err_msg=field)
    assert not np.array_equal(one.frames[0], one.frames[1])     # the clips differ from each other
    with pytest.raises(ValueError, match="workers"):
        data.build_clips(config, workers=0)
