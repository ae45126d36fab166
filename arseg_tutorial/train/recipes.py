"""The runs behind the shipped checkpoints: HR, LR-only and AR-Seg per scale, and the ablations.

Introduced in notebook 05. ``shipped_runs(profile)`` lists them in training order (HR first: the
others start from it); ``train_run`` trains one (or resumes it) with its checkpoint in the cache.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from arseg_tutorial.config import Profile, cache_dir
from arseg_tutorial.train.loops import TrainConfig

#: the ablations of AR-Seg at s = 0.5 (notebook 05): name -> TrainConfig changes; "paper" is
#: the official CReFF (no position bias, random convs) beside the tutorial's default
ABLATIONS: dict[str, dict] = {
    "no_fst": {"fst_weight": 0.0},
    "unfrozen_classifier": {"freeze_classifier": False},
    "zero_flow": {"flow": "zero"},
    "paper": {"creff_variant": "paper"},
}
ABLATION_SCALE = 0.5


@dataclass(frozen=True)
class Run:
    """One shipped training run.

    Attributes:
        name: file-name-safe id, e.g. "hr", "lr-0.5", "arseg-0.5", "arseg-0.5-no_fst".
        config: its ``TrainConfig``.
        ablation: None, or a key of ``ABLATIONS``.
    """

    name: str
    config: TrainConfig
    ablation: str | None = None

    @property
    def method(self) -> str:
        """"hr", "lr" or "arseg"."""
        return self.config.method

    @property
    def scale(self) -> float:
        """The LR scale (1.0 for HR)."""
        return self.config.scale


def run_name(method: str, scale: float = 1.0, ablation: str | None = None) -> str:
    """The id of a run: "hr", "<method>-<scale>" or "<method>-<scale>-<ablation>"."""
    if method == "hr":
        return "hr"
    name = f"{method}-{scale:g}"
    return f"{name}-{ablation}" if ablation else name


def make_config(profile: Profile, method: str, scale: float = 1.0, ablation: str | None = None,
                seed: int = 0) -> TrainConfig:
    """The ``TrainConfig`` of a method at a scale (optionally an ablation) for a profile."""
    from arseg_tutorial.scenes import NUM_CLASSES

    steps = {"hr": profile.hr_steps, "lr": profile.lr_steps, "arseg": profile.arseg_steps}[method]
    config = TrainConfig(
        method=method, scale=scale if method != "hr" else 1.0, steps=steps,
        batch_size=profile.batch_size,
        learning_rate=profile.learning_rate if method == "hr" else profile.finetune_learning_rate,
        crop_size=(profile.crop_height, profile.crop_width), net_width=profile.net_width,
        num_classes=NUM_CLASSES, seed=seed, stage1_steps=steps // 2 if method == "arseg" else 0,
        ref_distance=0, creff_kernel=profile.creff_kernel,
        creff_lr_multiplier=profile.creff_lr_multiplier if method == "arseg" else 1.0)
    if ablation is not None:
        if method != "arseg" or ablation not in ABLATIONS:
            raise ValueError(f"ablations are AR-Seg runs, one of {sorted(ABLATIONS)}; got "
                             f"{method!r} / {ablation!r}")
        config = TrainConfig(**{**config.__dict__, **ABLATIONS[ablation]})
    return config


def shipped_runs(profile: Profile) -> list[Run]:
    """All runs of the shipped checkpoints: HR first, then LR-only and AR-Seg at s = 0.5 (the
    headline comparison), the other scales, and the ablations."""
    scales = sorted(profile.lr_scales, key=lambda s: (s != ABLATION_SCALE, s))
    runs = [Run("hr", make_config(profile, "hr"))]
    for scale in scales:
        runs += [Run(run_name(m, scale), make_config(profile, m, scale)) for m in ("lr", "arseg")]
    for ablation in ABLATIONS:
        runs.append(Run(run_name("arseg", ABLATION_SCALE, ablation),
                        make_config(profile, "arseg", ABLATION_SCALE, ablation), ablation))
    return runs


def config_hash(config: TrainConfig) -> str:
    """A short hash of a training config."""
    return hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:12]


def run_checkpoint_path(profile: Profile, run: Run) -> Path:
    """The resumable checkpoint of ``run`` in the cache; its name holds the hashes of the training
    config and of the training data, so a change to either starts a new run."""
    from arseg_tutorial.train.data import split_config

    data_key = split_config(profile, "train").cache_key()
    return cache_dir() / "runs" / profile.name / f"{run.name}-{config_hash(run.config)}-{data_key}.pt"
