"""Profiles, seeding and device choice."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from arseg_tutorial import config


def test_tests_run_in_the_ci_profile():
    assert config.get_profile().name == "ci"


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv(config.PROFILE_ENV, "paper")
    assert config.get_profile().name == "paper"
    assert config.get_profile().net_width == 1.0
    monkeypatch.delenv(config.PROFILE_ENV)
    assert config.get_profile().name == config.DEFAULT_PROFILE == "laptop"


def test_profiles_grow_from_ci_to_paper():
    ci, laptop, paper = (config.get_profile(n) for n in ("ci", "laptop", "paper"))
    for small, big in ((ci, laptop), (laptop, paper)):
        assert small.height * small.width < big.height * big.width
        assert small.net_width < big.net_width
    for profile in (ci, laptop, paper):
        assert profile.height % 2 == 0 and profile.width % 2 == 0


def test_with_overrides_rejects_unknown_fields():
    assert config.get_profile("ci").with_overrides(height=240).height == 240
    with pytest.raises(ValueError, match="unknown profile field"):
        config.get_profile("ci").with_overrides(heigth=240)


def test_seed_everything_repeats_all_generators():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()

    config.seed_everything(7)
    first = draw()
    config.seed_everything(7)
    assert draw() == first
    config.seed_everything(8)
    assert draw() != first
    with pytest.raises(ValueError):
        config.seed_everything(-1)


def test_device_choice(monkeypatch):
    monkeypatch.setenv(config.DEVICE_ENV, "cpu")
    assert config.get_device().type == "cpu"
    monkeypatch.setenv(config.DEVICE_ENV, "potato")
    with pytest.raises(ValueError, match="not a device name"):
        config.get_device()
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA"):
            config.get_device("cuda")


def test_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(config.CACHE_ENV, str(tmp_path / "c"))
    assert config.cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()


def test_profile_summary_is_one_short_line_with_the_sizes():
    for name in ("ci", "laptop", "paper"):
        profile = config.get_profile(name)
        line = profile.summary()
        assert "\n" not in line and len(line) < 140, line
        assert f"{profile.height}x{profile.width} px" in line and name in line
        assert f"{profile.creff_kernel}x{profile.creff_kernel}" in line
