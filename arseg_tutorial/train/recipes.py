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

#: the ablations of AR-Seg at s = 0.5 (notebook 05): name -> TrainConfig changes; "kernel5" is
#: the other window the laptop profile's was chosen against on the validation split
ABLATIONS: dict[str, dict] = {
    "no_fst": {"fst_weight": 0.0},
    "unfrozen_classifier": {"freeze_classifier": False},
    "zero_flow": {"flow": "zero"},
    "kernel5": {"creff_kernel": 5},
}
ABLATION_SCALE = 0.5
#: AR-Seg at s = 0.5 and its zero-flow ablation are trained with these seeds too (besides 0),
#: so that notebooks can say which differences are larger than seed noise
EXTRA_SEEDS = (1, 2)
SEEDED = (None, "zero_flow")


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


def run_name(method: str, scale: float = 1.0, ablation: str | None = None, seed: int = 0) -> str:
    """The id of a run: "hr", "<method>-<scale>", then "-<ablation>" and "-seed<N>" if any."""
    if method == "hr":
        return "hr"
    name = f"{method}-{scale:g}"
    name = f"{name}-{ablation}" if ablation else name
    return f"{name}-seed{seed}" if seed else name


def make_config(profile: Profile, method: str, scale: float = 1.0, ablation: str | None = None,
                seed: int = 0) -> TrainConfig:
    """The ``TrainConfig`` of a method at a scale (optionally an ablation) for a profile."""
    from arseg_tutorial.scenes import NUM_CLASSES

    steps = {"hr": profile.hr_steps, "lr": profile.lr_steps, "arseg": profile.arseg_steps}[method]
    stage1 = (profile.stage1_steps if profile.stage1_steps is not None else steps // 2)
    config = TrainConfig(
        method=method, scale=scale if method != "hr" else 1.0, steps=steps,
        batch_size=profile.batch_size,
        learning_rate=profile.learning_rate if method == "hr" else profile.finetune_learning_rate,
        crop_size=(profile.crop_height, profile.crop_width), net_width=profile.net_width,
        num_classes=NUM_CLASSES, seed=seed, stage1_steps=stage1 if method == "arseg" else 0,
        ref_distance=0, creff_kernel=profile.creff_kernel,
        creff_lr_multiplier=profile.creff_lr_multiplier if method == "arseg" else 1.0,
        schedule=profile.schedule, eval_every=profile.eval_every,
        plateau_min_steps=profile.plateau_min_steps, output_stride=profile.output_stride)
    if ablation is not None:
        if method != "arseg" or ablation not in ABLATIONS:
            raise ValueError(f"ablations are AR-Seg runs, one of {sorted(ABLATIONS)}; got "
                             f"{method!r} / {ablation!r}")
        config = TrainConfig(**{**config.__dict__, **ABLATIONS[ablation]})
    return config


def shipped_runs(profile: Profile) -> list[Run]:
    """All runs of the shipped checkpoints in training order: HR first, then LR-only and AR-Seg
    at s = 0.5 (the headline comparison), the window choice and the zero-flow ablation, the other
    scales, the other ablations, and the extra seeds."""
    scales = sorted(profile.lr_scales, key=lambda s: (s != ABLATION_SCALE, s))
    ablations = sorted(ABLATIONS, key=lambda a: a not in ("kernel5", "zero_flow"))
    runs = [Run("hr", make_config(profile, "hr"))]
    runs += [Run(run_name(m, ABLATION_SCALE), make_config(profile, m, ABLATION_SCALE)) for m in ("lr", "arseg")]
    for ablation in ablations[:2]:
        runs.append(_ablation_run(profile, ablation))
    for scale in scales[1:]:
        runs += [Run(run_name(m, scale), make_config(profile, m, scale)) for m in ("lr", "arseg")]
    for ablation in ablations[2:]:
        runs.append(_ablation_run(profile, ablation))
    for ablation in SEEDED:
        runs += [_ablation_run(profile, ablation, seed) for seed in EXTRA_SEEDS]
    return runs


def _ablation_run(profile: Profile, ablation: str | None, seed: int = 0) -> Run:
    """AR-Seg at ``ABLATION_SCALE`` with an ablation (or none) and a seed."""
    config = make_config(profile, "arseg", ABLATION_SCALE, ablation, seed)
    return Run(run_name("arseg", ABLATION_SCALE, ablation, seed), config, ablation)


def config_hash(config: TrainConfig) -> str:
    """A short hash of a training config."""
    return hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:12]


def run_checkpoint_path(profile: Profile, run: Run, hr_state: dict | None = None) -> Path:
    """The resumable checkpoint of ``run`` in the cache; its name holds the hashes of the training
    config, of the training data, of the checkpoint format and (LR-only, AR-Seg) of the HR
    teacher ``hr_state``, so a change to any of them starts a new run, while two run names with
    the same config (e.g. an ablation that equals the default) share one."""
    from arseg_tutorial.checkpoint_file import FORMAT_VERSION, weights_sha256
    from arseg_tutorial.train.data import split_config

    data_key = split_config(profile, "train").cache_key()
    teacher = f"-hr{weights_sha256(hr_state)[:12]}" if hr_state is not None else ""
    return (cache_dir() / "runs" / profile.name /
            f"{run_name(run.method, run.scale)}-{config_hash(run.config)}-{data_key}{teacher}"
            f"-v{FORMAT_VERSION}.pt")
