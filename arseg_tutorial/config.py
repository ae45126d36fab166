"""Profiles (ci / laptop / paper), seeding, device choice and the cache directory.

Introduced in notebook 00. Every notebook prints the active profile; the tests run with
``ARSEG_PROFILE=ci``; students get ``laptop`` by default; ``paper`` is the paper's setting
(720x960 CamVid-size frames, full-width networks) for researchers with a GPU.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch

PROFILE_ENV = "ARSEG_PROFILE"
DEVICE_ENV = "ARSEG_DEVICE"
CACHE_ENV = "ARSEG_CACHE_DIR"
DEFAULT_PROFILE = "laptop"


@dataclass(frozen=True)
class Profile:
    """Everything whose size depends on the machine: frames, networks, data and training length.

    Attributes:
        name: the profile's name ("ci", "laptop" or "paper").
        height, width: frame size in pixels of generated clips (even numbers).
        net_width: width multiplier of the ResNet-18 backbones (1.0 = the official model).
        gop_length: frames per GOP (L); the I-frame is the keyframe.
        lr_scales: the LR scales s that sweeps and shipped checkpoints cover.
        train_clips, val_clips, test_clips: clips per split (each one GOP long).
        batch_size: training batch size.
        hr_steps: optimisation steps of the per-frame HR model.
        arseg_steps: optimisation steps of AR-Seg (stage 1 + stage 2 together).
        learning_rate: Adam's initial learning rate (cosine-annealed per step).
        lr_steps: optimisation steps of the LR-only baselines (initialised from the HR model).
        finetune_learning_rate: initial learning rate of the runs that start from the HR model.
        crop_height, crop_width: training crop in pixels.
        notebook_frames: length of the clips notebooks generate for figures.
        creff_kernel: CReFF's attention window. The paper's 7x7 window on its 90x120 feature
            grid spans 7.8 % of the frame height; on laptop's 45x60 grid (stride 4 at 180x240)
            3 cells span 6.7 % and 5 span 11 %. The laptop window was chosen between 3 and 5 on
            the validation split (runs ``arseg-0.5`` and ``arseg-0.5-kernel5``).
        creff_lr_multiplier: CReFF's learning rate over ``finetune_learning_rate`` in AR-Seg's
            stage 2. CReFF starts untrained while the rest starts from the HR network; its
            learning budget (the sum of its learning rates over stage 2, see
            ``arseg_tutorial.train.trainer.creff_learning_rate_sum``) should be at least the
            official recipe's, about 0.44.
        output_stride: BiSeNet18's input pixels per feature cell. The paper's 8 at 720x960 makes
            an LR cell at s = 0.5 2.2 % of the frame height; at 180x240 stride 8 makes it 8.9 %
            and stride 4 4.4 %, the small profiles' choice (``models.bisenet``).
        schedule: "cosine" (a fixed number of steps) or "plateau" (every run until its
            validation mIoU stops rising, ``train.plateau``); the ``*_steps`` are then caps.
        eval_every: steps between validation evaluations (0 = none).
        plateau_min_steps: the plateau rule's minimum (``train.plateau``).
        stage1_steps: AR-Seg steps without CReFF (None = half of ``arseg_steps``).
    """

    name: str
    height: int
    width: int
    net_width: float
    gop_length: int
    lr_scales: tuple[float, ...]
    train_clips: int
    val_clips: int
    test_clips: int
    batch_size: int
    hr_steps: int
    arseg_steps: int
    learning_rate: float
    notebook_frames: int
    lr_steps: int = 3
    finetune_learning_rate: float = 5e-4
    crop_height: int = 96
    crop_width: int = 128
    creff_kernel: int = 7
    creff_lr_multiplier: float = 1.0
    output_stride: int = 8
    schedule: str = "cosine"
    eval_every: int = 0
    plateau_min_steps: int = 0
    stage1_steps: int | None = None

    def summary(self) -> str:
        """One readable line: the sizes a notebook uses (the full field list is ``repr``).

        Introduced in notebook 00, e.g. ``profile laptop: frames 180x240 px, GOP 12, network
        width 0.25, CReFF window 3x3 (choose with ARSEG_PROFILE=ci|laptop|paper)``.
        """
        return (f"profile {self.name}: frames {self.height}x{self.width} px, GOP {self.gop_length}, "
                f"width {self.net_width:g}, stride {self.output_stride}, CReFF window {self.creff_kernel}x{self.creff_kernel} "
                f"(choose with {PROFILE_ENV}={'|'.join(PROFILES)})")

    @property
    def frame_size(self) -> tuple[int, int]:
        """(height, width) of generated frames in pixels."""
        return (self.height, self.width)

    def with_overrides(self, **changes) -> "Profile":
        """A copy with some fields changed; unknown field names are an error."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown profile field(s) {unknown}; known fields: {sorted(known)}")
        return replace(self, **changes)


PROFILES: dict[str, Profile] = {
    "ci": Profile(
        name="ci", height=120, width=160, net_width=0.125, gop_length=12,
        lr_scales=(0.25, 0.35, 0.5, 0.75), train_clips=4, val_clips=2, test_clips=2,
        batch_size=2, hr_steps=3, arseg_steps=4, learning_rate=1e-3, notebook_frames=12,
        lr_steps=3, crop_height=96, crop_width=128, creff_kernel=3, output_stride=4,
    ),
    "laptop": Profile(
        name="laptop", height=180, width=240, net_width=0.25, gop_length=12,
        lr_scales=(0.25, 0.35, 0.5, 0.75), train_clips=96, val_clips=8, test_clips=16,
        batch_size=8, hr_steps=8000, arseg_steps=2400, learning_rate=1e-3, notebook_frames=24,
        lr_steps=2000, crop_height=128, crop_width=160, creff_kernel=3, creff_lr_multiplier=4.0,
        output_stride=4, schedule="plateau", eval_every=50, plateau_min_steps=800, stage1_steps=400,
    ),
    "paper": Profile(
        name="paper", height=720, width=960, net_width=1.0, gop_length=12,
        lr_scales=(0.3, 0.5, 0.7, 0.9), train_clips=400, val_clips=50, test_clips=100,
        batch_size=8, hr_steps=50_000, arseg_steps=50_000, learning_rate=1e-3,
        notebook_frames=24, lr_steps=25_000, crop_height=512, crop_width=768, creff_kernel=7,
    ),
}


def get_profile(name: str | None = None) -> Profile:
    """The profile called ``name``, else the one named by $ARSEG_PROFILE, else ``laptop``.

    Raises:
        ValueError: the name is not a known profile (the message lists the valid ones).
    """
    chosen = name if name is not None else os.environ.get(PROFILE_ENV, DEFAULT_PROFILE)
    chosen = chosen.strip().lower()
    if chosen not in PROFILES:
        given = f"{PROFILE_ENV}={chosen!r}" if name is None else f"profile {chosen!r}"
        fix = (f"set {PROFILE_ENV}=ci|laptop|paper or unset it" if name is None
               else "pass --profile ci, laptop or paper")
        raise ValueError(f"{given} is not a profile; valid profiles are {', '.join(PROFILES)}: {fix}")
    return PROFILES[chosen]


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) so that a run repeats exactly.

    Returns:
        A ``torch.Generator`` seeded with ``seed`` for code that wants its own stream.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    return torch.Generator().manual_seed(seed)


def get_device(name: str | None = None) -> torch.device:
    """The device to compute on: ``name``, else $ARSEG_DEVICE, else CUDA if present, else CPU.

    Raises:
        ValueError: the name is not a device torch understands, or CUDA was asked for but is absent.
    """
    chosen = name if name is not None else os.environ.get(DEVICE_ENV)
    if not chosen:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    given = f"{DEVICE_ENV}={chosen!r}" if name is None else f"device {chosen!r} (--device)"
    fix = f"set {DEVICE_ENV}=cpu or unset it" if name is None else "pass --device cpu"
    try:
        device = torch.device(chosen)
    except RuntimeError as err:
        raise ValueError(f"{given} is not a device name; use cpu, cuda or cuda:N") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{given} asks for a GPU but this PyTorch sees no CUDA GPU; {fix}")
    return device


def repo_root() -> Path | None:
    """The source checkout holding this package (where pyproject.toml lies), or None if installed."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() else None


def data_dir() -> Path:
    """The shipped artefacts folder ``data/`` of the checkout."""
    root = repo_root()
    if root is None:
        raise FileNotFoundError("arseg_tutorial is not running from a source checkout; data/ is absent")
    return root / "data"


def cache_dir(create: bool = True) -> Path:
    """Where generated datasets and other caches go: $ARSEG_CACHE_DIR, else ``<checkout>/.cache``
    (git-ignored), else ``~/.cache/arseg-tutorial``. Created if missing (unless ``create`` is
    False)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        path = Path(env).expanduser()
    elif repo_root() is not None:
        path = repo_root() / ".cache"
    else:
        path = Path.home() / ".cache" / "arseg-tutorial"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def describe_environment() -> dict[str, str]:
    """Versions, device, threads and active profile, for the environment check of notebook 00."""
    import platform

    import av
    import matplotlib

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "av (PyAV)": av.__version__,
        "numpy": np.__version__,
        "matplotlib": matplotlib.__version__,
        "device": str(get_device()),
        "torch threads": str(torch.get_num_threads()),
        "profile": get_profile().name,
    }
