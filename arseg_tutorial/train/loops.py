"""What one training step computes for each method: the batch, the forward pass, the loss.

Introduced in notebook 05. Three methods (docs/method.md#fst-feature-similarity-training):

- ``hr``: the per-frame HR network, OHEM cross-entropy on the main output and the two aux heads;
- ``lr``: the LR-only baseline, the same network and loss on frames downsampled by ``scale``
  (logits upsampled to the label size), initialised from the trained HR network;
- ``arseg``: the LR branch of AR-Seg, initialised from the HR network, its classifier copied from
  HR and frozen; loss = segmentation loss + ``fst_weight`` x MSE(LR feature, frozen HR feature of
  the same frame). Stage 1 (the first ``stage1_steps``) runs without CReFF; stage 2 fuses the HR
  keyframe feature, warped with the motion-vector flow over ``ref_distance`` frames.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from arseg_tutorial.models.preprocess import normalize
from arseg_tutorial.train.augment import Sample, random_augment
from arseg_tutorial.train.data import ClipSet
from arseg_tutorial.train.losses import fst_loss, segmentation_loss

METHODS = ("hr", "lr", "arseg")
FLOWS = ("mv", "zero")
CREFF_VARIANTS = ("tutorial", "paper")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Stored in every checkpoint; a resume must match it.

    Attributes:
        method: "hr", "lr" (LR-only baseline) or "arseg".
        scale: LR input scale s (1.0 for ``hr``).
        steps: optimisation steps in total (for ``arseg``: stage 1 + stage 2).
        batch_size: global batch size (split over processes when distributed).
        learning_rate: Adam's initial learning rate, cosine-annealed to 0 per step.
        seed: seeds the initialisation and every batch.
        crop_size: (H, W) training crop in pixels.
        scale_range: random rescaling range before the crop.
        stage1_steps: ``arseg`` steps without CReFF.
        ref_distance: frames between the trained frame and its keyframe (L-1 by default, as in
            the paper); 0 = a random distance in 1 .. L-1 for every sample.
        fst_weight: weight of the explicit FST loss (0 = the "no FST" ablation).
        freeze_classifier: keep the classifier copied from HR frozen (False = ablation).
        flow: "mv" (codec motion vectors) or "zero" (no alignment, ablation).
        creff_variant: "tutorial" (the default: a learnable position bias on the attention logits,
            starting on the aligned tap, and Q/K/V convs starting near the identity, see
            ``models.creff`` and ``trainer.init_creff_identity``) or "paper" (the official module:
            random Kaiming convs, no positional term).
        creff_kernel: CReFF's attention window (7 in the paper at 720x960; the small profiles use
            3, see ``Profile.creff_kernel``).
        creff_lr_multiplier: CReFF's learning rate relative to ``learning_rate`` (its weights
            start from scratch while the rest starts from the trained HR network).
        model: network name for ``arseg_tutorial.models.build_model``.
        net_width: channel multiplier of the network.
        num_classes: K.
    """

    method: str
    steps: int
    batch_size: int
    learning_rate: float
    crop_size: tuple[int, int]
    net_width: float
    num_classes: int
    scale: float = 1.0
    seed: int = 0
    scale_range: tuple[float, float] = (0.9, 1.25)
    stage1_steps: int = 0
    ref_distance: int = 11
    fst_weight: float = 1.0
    freeze_classifier: bool = True
    flow: str = "mv"
    creff_variant: str = "tutorial"
    creff_kernel: int = 7
    creff_lr_multiplier: float = 1.0
    model: str = "bisenet18"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.flow not in FLOWS:
            raise ValueError(f"flow must be one of {FLOWS}, got {self.flow!r}")
        if self.creff_variant not in CREFF_VARIANTS:
            raise ValueError(f"creff_variant must be one of {CREFF_VARIANTS}, got {self.creff_variant!r}")
        if self.creff_kernel < 1 or self.creff_kernel % 2 == 0:
            raise ValueError(f"creff_kernel must be an odd window size >= 1 (7 in the paper), "
                             f"got {self.creff_kernel}")
        if not 0 < self.scale <= 1:
            raise ValueError(f"scale must be in (0, 1], got {self.scale}")
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be positive")

    def to_dict(self) -> dict:
        """A JSON-ready dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def sample_seeds(config: TrainConfig, step: int) -> list[int]:
    """The per-sample seeds of the global batch of ``step`` (the same on every process)."""
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
    return torch.randint(0, 2**62, (config.batch_size,), generator=generator).tolist()


def _sample(clips: ClipSet, config: TrainConfig, seed: int) -> Sample:
    generator = torch.Generator().manual_seed(seed)
    clip = int(torch.randint(0, len(clips), (), generator=generator))
    length = clips.frames.shape[1]
    as_float = (lambda a: torch.from_numpy(a).permute(2, 0, 1).float().div(255.0))
    if config.method != "arseg":
        t = int(torch.randint(0, length, (), generator=generator))
        sample = Sample(as_float(clips.frames[clip, t]), torch.from_numpy(clips.labels[clip, t]).long())
    else:
        t = config.ref_distance
        if t == 0:
            t = int(torch.randint(1, length, (), generator=generator))
        if not 0 < t < length:
            raise ValueError(f"ref_distance must be in 1..{length - 1} (or 0 = random), got {t}")
        flow = torch.from_numpy(clips.flow_key[clip, t]).permute(2, 0, 1).float()
        if config.flow == "zero":
            flow = torch.zeros_like(flow)
        sample = Sample(as_float(clips.frames[clip, t]), torch.from_numpy(clips.labels[clip, t]).long(),
                        as_float(clips.frames[clip, 0]), flow, torch.from_numpy(clips.valid_key[clip, t]))
    return random_augment(sample, generator, config.crop_size, config.scale_range)


def make_batch(clips: ClipSet, config: TrainConfig, step: int, rank: int = 0,
               world_size: int = 1, device: torch.device | None = None) -> dict[str, Tensor]:
    """This process's share of the batch of ``step``.

    Returns:
        Dict with "frame" (B, 3, H, W) normalised, "label" (B, H, W) int64 and, for ``arseg``,
        "key" (B, 3, H, W) normalised and "flow" (B, 2, H, W) pixels.
    """
    seeds = sample_seeds(config, step)[rank::world_size]
    samples = [_sample(clips, config, s) for s in seeds]
    batch = {"frame": normalize(torch.stack([s.frame for s in samples])),
             "label": torch.stack([s.label for s in samples])}
    if config.method == "arseg":
        batch["key"] = normalize(torch.stack([s.key for s in samples]))
        batch["flow"] = torch.stack([s.flow for s in samples])
    return {k: v.to(device) if device is not None else v for k, v in batch.items()}


def per_frame_loss(model: torch.nn.Module, batch: dict[str, Tensor], scale: float) -> dict[str, Tensor]:
    """Loss of the ``hr`` / ``lr`` methods: OHEM on main + aux outputs at the label size."""
    from arseg_tutorial.models.arseg import downsample_frame

    frame = batch["frame"] if scale == 1.0 else downsample_frame(batch["frame"], scale)
    out = model(frame, output_size=tuple(batch["label"].shape[-2:]))
    seg = segmentation_loss((out.logits, *out.aux), batch["label"])
    return {"loss": seg, "seg": seg}


def arseg_loss(lr_model: torch.nn.Module, arseg: torch.nn.Module, batch: dict[str, Tensor],
               config: TrainConfig, stage: int) -> dict[str, Tensor]:
    """Loss of the ``arseg`` method (``lr_model`` may be the DDP-wrapped ``arseg.lr_model``).

    The HR teacher (``arseg.hr_model``, eval mode) computes the keyframe's and the current
    frame's features once, without gradients.
    """
    from arseg_tutorial.models.arseg import downsample_frame

    frame = batch["frame"]
    with torch.no_grad():
        hr_features = arseg.hr_model.forward_phase1(torch.cat([batch["key"], frame]))
        key_feature, target_feature = hr_features.chunk(2)
        reference = None
        if stage == 2:
            reference = arseg.warp_keyframe_feature(key_feature, batch["flow"], frame)
    out = lr_model(downsample_frame(frame, config.scale), reference=reference,
                   output_size=tuple(batch["label"].shape[-2:]))
    seg = segmentation_loss((out.logits, *out.aux), batch["label"])
    fst = fst_loss(out.feature, target_feature)
    return {"loss": seg + config.fst_weight * fst, "seg": seg, "fst": fst}
