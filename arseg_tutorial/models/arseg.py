"""AR-Seg: an HR branch for keyframes, an LR branch + CReFF for the other frames of a GOP.

Introduced in notebook 04 (one pair) and notebook 07 (whole videos). The two branches have separate
weights except the final 1x1 classifier, which is copied from the HR network into the LR network
and frozen there (the "shared decoding layer", FST's implicit constraint).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from arseg_tutorial.codec.warp import warp
from arseg_tutorial.models.base import TwoPhaseSegmenter


class FramePrediction(NamedTuple):
    """Result of ``ARSeg.keyframe`` / ``ARSeg.nonkeyframe``.

    Introduced in notebook 04.

    Attributes:
        feature: (N, C, h, w) the feature the classifier saw: the HR feature for a keyframe, the
            CReFF-fused feature (on the HR feature grid) for a non-keyframe.
        logits: (N, K, H, W) class logits at the frame size.
    """

    feature: Tensor
    logits: Tensor


def lr_size(height: int, width: int, lr_scale: float) -> tuple[int, int]:
    """(round(s * H), round(s * W)), at least 1 pixel: the LR branch's input size.

    Introduced in notebook 03.
    """
    if not 0 < lr_scale <= 1:
        raise ValueError(f"lr_scale must be in (0, 1], got {lr_scale!r}")
    return max(1, int(round(height * lr_scale))), max(1, int(round(width * lr_scale)))


def downsample_frame(frame: Tensor, lr_scale: float) -> Tensor:
    """Bilinear downsampling of (N, 3, H, W) frames to the LR size (``lr_size``).

    Introduced in notebook 03.
    """
    size = lr_size(frame.shape[-2], frame.shape[-1], lr_scale)
    if size == tuple(frame.shape[-2:]):
        return frame
    return F.interpolate(frame, size=size, mode="bilinear", align_corners=False)


def _flow_tensor(flow: Tensor | np.ndarray | None, frame: Tensor) -> Tensor:
    """Any accepted flow layout -> (N, 2, H, W) float tensor on the frame's device."""
    n, _, h, w = frame.shape
    if flow is None:
        return frame.new_zeros((n, 2, h, w))
    flow_t = torch.as_tensor(np.asarray(flow) if not isinstance(flow, Tensor) else flow)
    flow_t = flow_t.to(device=frame.device, dtype=frame.dtype)
    if flow_t.dim() == 3 and flow_t.shape[-1] == 2:
        flow_t = flow_t.permute(2, 0, 1)[None]
    elif flow_t.dim() == 4 and flow_t.shape[-1] == 2 and flow_t.shape[1] != 2:
        flow_t = flow_t.permute(0, 3, 1, 2)
    if flow_t.dim() != 4 or flow_t.shape[1] != 2 or tuple(flow_t.shape[-2:]) != (h, w):
        raise ValueError(f"flow_to_keyframe must be (H, W, 2), (N, H, W, 2) or (N, 2, H, W) at the frame "
                         f"size {(h, w)} (backward pixels, x first), got {tuple(flow_t.shape)}")
    return flow_t.expand(n, -1, -1, -1)


def warp_reference_logits(hr_model: TwoPhaseSegmenter, keyframe_feature: Tensor,
                          flow_to_keyframe: Tensor | np.ndarray | None, frame: Tensor) -> Tensor:
    """The "warp" reference: the keyframe's HR feature, warped to the current frames with the
    motion-vector flow and classified by the HR classifier (no LR branch at all).

    Introduced in notebook 06 (``evaluate --method warp``) and played in notebook 07. It shows
    what the keyframe alone carries, which AR-Seg's LR branch and CReFF should add to.

    Args:
        hr_model: the HR network.
        keyframe_feature: (1 or N, C, h, w) HR feature of the keyframe.
        flow_to_keyframe: backward flow to the keyframe in image pixels, one per frame (see
            ``ARSeg.warp_keyframe_feature``); None = zero flow.
        frame: (N, 3, H, W) the current frames (give the batch, the image size and the device).
    Returns:
        (N, K, H, W) logits.
    """
    feature = keyframe_feature.expand(len(frame), -1, -1, -1)
    warped = warp(feature, _flow_tensor(flow_to_keyframe, frame), "bilinear")
    return hr_model.classify(warped, tuple(frame.shape[-2:]))


class ARSeg(nn.Module):
    """The two-branch AR-Seg model.

    Introduced in notebook 04.

    Args:
        hr_model: the HR network (keyframes, full resolution).
        lr_model: the LR network (non-keyframes at ``lr_scale``); separate weights, same kind and
            feature width. It gets a CReFF module if it has none, and a frozen copy of the HR
            classifier.
        lr_scale: s, the LR input scale (0 < s <= 1; 0.5 in the paper's headline numbers).
        creff_kernel: attention window of the CReFF module added to ``lr_model`` (if it has none).
        creff_variant: "paper" or "position_bias" (see ``models.creff``), for that same module.
    """

    def __init__(self, hr_model: TwoPhaseSegmenter, lr_model: TwoPhaseSegmenter, lr_scale: float,
                 creff_kernel: int = 7, creff_variant: str = "paper"):
        super().__init__()
        if hr_model is lr_model:
            raise ValueError("hr_model and lr_model must be two networks (separate weights); "
                             "build a second one with build_model(...) or copy.deepcopy(hr_model)")
        if hr_model.feature_channels != lr_model.feature_channels or \
                hr_model.num_classes != lr_model.num_classes:
            raise ValueError(f"HR and LR networks must agree on feature channels and classes, got "
                             f"{hr_model.feature_channels}/{hr_model.num_classes} and "
                             f"{lr_model.feature_channels}/{lr_model.num_classes}")
        if not 0 < lr_scale <= 1:
            raise ValueError(f"lr_scale must be in (0, 1] (0.5 in the paper's headline), got {lr_scale!r}")
        self.hr_model = hr_model
        self.lr_model = lr_model
        self.lr_scale = float(lr_scale)
        if lr_model.creff is None:
            lr_model.add_creff(creff_kernel, creff_variant)
        self.share_classifier()

    def share_classifier(self) -> None:
        """Copy the HR classifier into the LR network and freeze it there.

        Introduced in notebook 05. Called by the constructor; call it again after the HR network's
        weights change (e.g. after loading an HR checkpoint).
        """
        self.lr_model.classifier.load_state_dict(self.hr_model.classifier.state_dict())
        self.lr_model.classifier.requires_grad_(False)

    def keyframe(self, frame: Tensor) -> FramePrediction:
        """Run the HR branch on keyframes (I-frames).

        Args:
            frame: (N, 3, H, W) normalised frames.
        Returns:
            ``FramePrediction``: the HR feature (N, C, h, w) and logits (N, K, H, W).
        """
        feature = self.hr_model.forward_phase1(frame)
        logits = self.hr_model.forward_phase2(feature, output_size=tuple(frame.shape[-2:]))
        return FramePrediction(feature, logits)

    def warp_keyframe_feature(self, keyframe_feature: Tensor,
                              flow_to_keyframe: Tensor | np.ndarray | None, frame: Tensor) -> Tensor:
        """Warp the HR keyframe feature to the current frame with the image-resolution flow.

        Introduced in notebook 04. The flow is rescaled to the feature grid by
        ``arseg_tutorial.codec.warp`` (edge values are repeated outside the image).

        Args:
            keyframe_feature: (N, C, h, w) HR feature of the keyframe.
            flow_to_keyframe: backward flow in image pixels, x first, from the current frame to
                the keyframe: (H, W, 2), (N, H, W, 2) or (N, 2, H, W); None = zero flow.
            frame: (N, 3, H, W) the current frame (gives the image size and device).
        Returns:
            (N, C, h, w) warped feature.
        """
        flow = _flow_tensor(flow_to_keyframe, frame)
        return warp(keyframe_feature, flow, "bilinear")

    def nonkeyframe(self, frame: Tensor, keyframe_feature: Tensor,
                    flow_to_keyframe: Tensor | np.ndarray | None) -> FramePrediction:
        """Run the LR branch with CReFF on a non-keyframe.

        Args:
            frame: (N, 3, H, W) full-resolution normalised frames (downsampled here by s).
            keyframe_feature: (N, C, h, w) HR feature of the GOP's keyframe (``keyframe(...)``).
            flow_to_keyframe: backward flow to the keyframe in image pixels (see
                ``warp_keyframe_feature``); None = no alignment (zero flow).
        Returns:
            ``FramePrediction``: the fused feature (N, C, h, w) and logits (N, K, H, W).
        """
        reference = self.warp_keyframe_feature(keyframe_feature, flow_to_keyframe, frame)
        lr_feature = self.lr_model.forward_phase1(downsample_frame(frame, self.lr_scale))
        fused = self.lr_model.fuse(lr_feature, reference)
        logits = self.lr_model.classify(fused, tuple(frame.shape[-2:]))
        return FramePrediction(fused, logits)

    def segment_gop(self, frames: Tensor, flows: Tensor | np.ndarray | None) -> Tensor:
        """Segment one GOP: the first frame is the keyframe, the rest go through the LR branch.

        Introduced in notebook 07.

        Args:
            frames: (T, 3, H, W) normalised frames of one GOP, keyframe first.
            flows: (T, H, W, 2) or (T, 2, H, W) backward flows from each frame to the keyframe
                in image pixels (entry 0 is ignored), e.g. ``clip.flow_key`` or
                ``codec.flow_to_keyframe``; None = zero flow.
        Returns:
            (T, K, H, W) logits.
        """
        if frames.dim() != 4 or frames.shape[1] != 3:
            raise ValueError(f"frames must be (T, 3, H, W), got {tuple(frames.shape)}")
        if flows is not None and len(flows) != len(frames):
            raise ValueError(f"need one flow per frame ({len(frames)}), got {len(flows)}")
        key = self.keyframe(frames[:1])
        outputs = [key.logits]
        for t in range(1, len(frames)):
            flow = None if flows is None else flows[t]
            if flow is not None and tuple(flow.shape[:1]) == (2,):
                flow = flow[None]
            outputs.append(self.nonkeyframe(frames[t:t + 1], key.feature, flow).logits)
        return torch.cat(outputs)
