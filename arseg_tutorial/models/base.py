"""What BiSeNet18 and PSPNet18 share: the split into phase 1 (to the feature) and phase 2 (fusion,
classifier, upsampling), the training output type, and the optional CReFF module.

Introduced in notebook 03 (the split) and notebook 04 (CReFF inside phase 2).
"""
from __future__ import annotations

from typing import NamedTuple

import torch.nn.functional as F
from torch import Tensor, nn

from arseg_tutorial.models.creff import CReFF


class TrainOutput(NamedTuple):
    """What a network's ``forward`` returns in training mode.

    Introduced in notebook 03.

    Attributes:
        logits: (N, K, H, W) main segmentation logits at the output size (the input size, or the
            HR frame size when a reference was given; after CReFF in that case).
        aux: auxiliary outputs, model-specific: BiSeNet18 -> two (N, K, H, W) logit maps at the
            size of ``logits`` (heads on the 1/8 and 1/16 context-path features, for OHEM losses
            1:1:1); PSPNet18 -> one (N, K) class-presence logit vector (for a BCE loss).
        feature: the (N, C, h, w) feature the classifier saw (the fused feature when a reference
            was given), for the explicit FST loss.
    """

    logits: Tensor
    aux: tuple[Tensor, ...]
    feature: Tensor


class TwoPhaseSegmenter(nn.Module):
    """Base class: ``forward_phase1`` -> feature; ``forward_phase2`` -> CReFF + classifier + upsample.

    Introduced in notebook 03.

    Subclasses set ``feature_channels``, ``output_stride`` (input pixels per feature pixel),
    ``classifier`` (the final 1x1 conv, the "shared decoding layer" of AR-Seg) and implement
    ``_phase1`` and ``_aux_outputs``.

    Attributes:
        num_classes: K.
        feature_channels: C of the pre-classifier feature.
        output_stride: 8 for BiSeNet18 (feature at 1/8), 1 for PSPNet18 (full resolution).
        classifier: nn.Conv2d(C, K, 1).
        creff: the CReFF module, or None until ``add_creff`` is called.
        upsample_align_corners: how the logits are upsampled (as in each official model).
    """

    num_classes: int
    feature_channels: int
    output_stride: int
    classifier: nn.Conv2d
    upsample_align_corners: bool = False

    def __init__(self) -> None:
        super().__init__()
        self.creff: CReFF | None = None

    def add_creff(self, kernel: int = 7, variant: str = "paper") -> CReFF:
        """Give this network a CReFF module (the LR branch of AR-Seg needs one); returns it.

        Introduced in notebook 04. Its parameters are new (the per-frame model has none).
        ``variant``: "paper" (the official module) or "position_bias" (see ``models.creff``).
        """
        param = next(self.parameters())
        self.creff = CReFF(self.feature_channels, kernel, variant).to(device=param.device, dtype=param.dtype)
        return self.creff

    def _phase1(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        """(N, 3, H, W) -> (feature, intermediate maps the aux heads need)."""
        raise NotImplementedError

    def _aux_outputs(self, aux_inputs: tuple[Tensor, ...], size: tuple[int, int]) -> tuple[Tensor, ...]:
        raise NotImplementedError

    def forward_phase1(self, x: Tensor) -> Tensor:
        """Everything up to the pre-classifier feature.

        Introduced in notebook 03.

        Args:
            x: (N, 3, H, W) normalised images.
        Returns:
            (N, feature_channels, H / output_stride, W / output_stride) feature (sizes rounded up).
        """
        _check_images(x)
        return self._phase1(x)[0]

    def forward_phase2(self, feature: Tensor, reference: Tensor | None = None,
                       output_size: tuple[int, int] | None = None) -> Tensor:
        """CReFF (when a reference is given), the 1x1 classifier, bilinear upsampling.

        Introduced in notebook 03 (without reference) and 04 (with).

        Args:
            feature: (N, C, h, w) output of ``forward_phase1``.
            reference: optional (N, C, H', W') HR keyframe feature warped to this frame; the fused
                feature then lives on its grid.
            output_size: (H, W) of the logits; default: the feature grid times ``output_stride``.
        Returns:
            (N, K, H, W) logits.
        """
        return self.classify(self.fuse(feature, reference), output_size)

    def fuse(self, feature: Tensor, reference: Tensor | None) -> Tensor:
        """CReFF of ``feature`` with ``reference`` (see ``forward_phase2``); identity if None.

        Introduced in notebook 04.
        """
        if reference is None:
            return feature
        if self.creff is None:
            raise RuntimeError("this network has no CReFF module: call model.add_creff(kernel=7) first "
                               "(ARSeg does this for its LR branch)")
        return self.creff(feature, reference)

    def classify(self, feature: Tensor, output_size: tuple[int, int] | None = None) -> Tensor:
        """The 1x1 classifier and bilinear upsampling (see ``forward_phase2``).

        Introduced in notebook 03.
        """
        if output_size is None:
            output_size = (feature.shape[-2] * self.output_stride, feature.shape[-1] * self.output_stride)
        logits = self.classifier(feature)
        if tuple(logits.shape[-2:]) == tuple(output_size):
            return logits
        return F.interpolate(logits, size=output_size, mode="bilinear", align_corners=self.upsample_align_corners)

    def forward(self, x: Tensor, reference: Tensor | None = None,
                output_size: tuple[int, int] | None = None) -> Tensor | TrainOutput:
        """Segment a batch of frames (phase 1 then phase 2).

        Args:
            x: (N, 3, H, W) normalised images.
            reference: optional warped HR keyframe feature (see ``forward_phase2``); used to train
                the LR branch with CReFF.
            output_size: (H, W) of the logits; default: the input size without a reference, the
                reference grid times ``output_stride`` (the HR frame size) with one.
        Returns:
            In eval mode: (N, K, H, W) logits. In training mode: a ``TrainOutput`` (main logits,
            model-specific aux outputs (maps at the size of the main logits), the feature the
            classifier saw).
        """
        _check_images(x)
        input_size = (x.shape[-2], x.shape[-1])
        if output_size is None and reference is None:
            output_size = input_size
        feature, aux_inputs = self._phase1(x)
        fused = self.fuse(feature, reference)
        logits = self.classify(fused, output_size)
        if not self.training:
            return logits
        return TrainOutput(logits, self._aux_outputs(aux_inputs, tuple(logits.shape[-2:])), fused)


def _check_images(x: Tensor) -> None:
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"expected a batch of RGB images (N, 3, H, W), got shape {tuple(x.shape)}; "
                         "add a batch dimension with x[None] and put channels first")
    if not x.is_floating_point():
        raise ValueError(f"expected float images (normalised), got dtype {x.dtype}")
