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
import torch.nn.functional as F
from torch import Tensor

from arseg_tutorial.models.preprocess import normalize
from arseg_tutorial.train.augment import Sample, random_augment
from arseg_tutorial.train.data import ClipSet
from arseg_tutorial.train.losses import fst_loss, segmentation_loss

METHODS = ("hr", "lr", "arseg")
FLOWS = ("mv", "zero")
CREFF_VARIANTS = ("paper", "position_bias")
SCHEDULES = ("cosine", "plateau")


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
        creff_variant: "paper" (the default, the official module: random Kaiming convs, LR
            feature + local attention) or "position_bias" (an extension: a learnable position bias
            on the attention logits starting on the aligned tap, Q/K/V convs starting near the
            identity, attention output alone; see ``models.creff`` and
            ``trainer.init_creff_identity``).
        creff_kernel: CReFF's attention window (7 in the paper at 720x960; the small profiles use
            3, see ``Profile.creff_kernel``).
        creff_lr_multiplier: CReFF's learning rate relative to ``learning_rate`` (its weights
            start from scratch while the rest starts from the trained HR network).
        schedule: "cosine" (the learning rate falls from ``learning_rate`` to 0 over ``steps``)
            or "plateau" (constant until the validation mIoU stops rising, then a cosine
            anneal over ``anneal_fraction`` x the steps so far; ``steps`` is then a cap; see
            ``train.plateau``).
        eval_every: steps between validation evaluations (0 = none; "plateau" needs them).
        plateau_min_steps: "plateau": steps (counted from the start of AR-Seg's stage 2) before
            a plateau may be declared.
        plateau_gain: "plateau": the run has plateaued when the best validation mIoU of the last
            quarter of its steps is less than this (in points) above the best before it.
        anneal_fraction: "plateau": length of the final anneal relative to the steps before it.
        model: network name for ``arseg_tutorial.models.build_model``.
        net_width: channel multiplier of the network.
        output_stride: input pixels per feature cell of BiSeNet18 (8 = official, 4 = the small
            profiles' finer grid).
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
    creff_variant: str = "paper"
    creff_kernel: int = 7
    creff_lr_multiplier: float = 1.0
    schedule: str = "cosine"
    eval_every: int = 0
    plateau_min_steps: int = 0
    plateau_gain: float = 0.5
    anneal_fraction: float = 0.25
    model: str = "bisenet18"
    output_stride: int = 8

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
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.schedule == "plateau" and self.eval_every < 1:
            raise ValueError("the plateau schedule needs validation: set eval_every >= 1")
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
                        as_float(clips.frames[clip, 0]), flow)
    return random_augment(sample, generator, config.crop_size, config.scale_range,
                          whole_key=config.method == "arseg")


def make_batch(clips: ClipSet, config: TrainConfig, step: int, rank: int = 0,
               world_size: int = 1, device: torch.device | None = None) -> dict[str, Tensor]:
    """This process's share of the batch of ``step``.

    Returns:
        Dict with "frame" (B, 3, H, W) normalised (the crops) and "label" (B, H, W) int64 and,
        for ``arseg``, lists of B whole keyframes "key" (3, H', W') normalised, whole flows
        "flow" (2, H', W') in pixels (each sample has its own random scale, so H', W' differ)
        and crop offsets "offset" (top, left).
    """
    seeds = sample_seeds(config, step)[rank::world_size]
    samples = [_sample(clips, config, s) for s in seeds]
    move = (lambda x: x.to(device) if device is not None else x)
    batch = {"frame": move(normalize(torch.stack([s.frame for s in samples]))),
             "label": move(torch.stack([s.label for s in samples]))}
    if config.method == "arseg":
        batch["key"] = [move(normalize(s.key)) for s in samples]
        batch["flow"] = [move(s.flow) for s in samples]
        batch["offset"] = [s.offset for s in samples]
    return batch


def per_frame_loss(model: torch.nn.Module, batch: dict[str, Tensor], scale: float) -> dict[str, Tensor]:
    """Loss of the ``hr`` / ``lr`` methods: OHEM on main + aux outputs at the label size."""
    from arseg_tutorial.models.arseg import downsample_frame

    frame = batch["frame"] if scale == 1.0 else downsample_frame(batch["frame"], scale)
    out = model(frame, output_size=tuple(batch["label"].shape[-2:]))
    seg = segmentation_loss((out.logits, *out.aux), batch["label"])
    return {"loss": seg, "seg": seg}


def crop_feature(feature: Tensor, offset: tuple[int, int], crop_size: tuple[int, int],
                 stride: int) -> Tensor:
    """The window of a (N, C, h, w) whole-frame feature that covers the pixel crop at ``offset``
    (multiples of ``stride``) of ``crop_size``; cells beyond the feature are 0."""
    top, left = offset[0] // stride, offset[1] // stride
    rows, cols = -(-crop_size[0] // stride), -(-crop_size[1] // stride)
    pad_bottom = max(0, top + rows - feature.shape[-2])
    pad_right = max(0, left + cols - feature.shape[-1])
    if pad_bottom or pad_right:
        feature = F.pad(feature, (0, pad_right, 0, pad_bottom))
    return feature[..., top:top + rows, left:left + cols]


def keyframe_references(arseg: torch.nn.Module, batch: dict, crop_size: tuple[int, int]) -> Tensor:
    """Each sample's whole keyframe through the HR network, its feature warped to the whole
    current frame by the whole flow (as at test time), then cut to the crop: (B, C, h, w)."""
    stride = arseg.hr_model.output_stride
    references = []
    for key, flow, offset in zip(batch["key"], batch["flow"], batch["offset"]):
        feature = arseg.hr_model.forward_phase1(key[None])
        warped = arseg.warp_keyframe_feature(feature, flow[None], key[None])
        references.append(crop_feature(warped, offset, crop_size, stride))
    return torch.cat(references)


def arseg_loss(lr_model: torch.nn.Module, arseg: torch.nn.Module, batch: dict,
               config: TrainConfig, stage: int) -> dict[str, Tensor]:
    """Loss of the ``arseg`` method (``lr_model`` may be the DDP-wrapped ``arseg.lr_model``).

    The HR teacher (``arseg.hr_model``, eval mode) computes, without gradients, the current
    frame's feature (the FST target) and, in stage 2, the whole keyframe's feature warped into
    the crop (``keyframe_references``).
    """
    from arseg_tutorial.models.arseg import downsample_frame

    frame = batch["frame"]
    with torch.no_grad():
        target_feature = arseg.hr_model.forward_phase1(frame)
        reference = None
        if stage == 2:
            reference = keyframe_references(arseg, batch, tuple(frame.shape[-2:]))
    out = lr_model(downsample_frame(frame, config.scale), reference=reference,
                   output_size=tuple(batch["label"].shape[-2:]))
    seg = segmentation_loss((out.logits, *out.aux), batch["label"])
    fst = fst_loss(out.feature, target_feature)
    return {"loss": seg + config.fst_weight * fst, "seg": seg, "fst": fst}
