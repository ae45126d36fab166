"""The CReFF explorer of notebook 04: a real (keyframe, frame d) pair from an encoded clip, the
features CReFF mixes, and where a pixel's attention window looks.

Introduced in notebook 04. ``load_demo_arseg`` is the one place the notebook gets its networks
(shipped checkpoints when they exist, else a clearly labelled untrained model);
``make_encoded_pair`` builds the pair; ``AttentionExplorer.update(pixel_y, pixel_x, kernel,
aligned)`` is the pure core (numbers and arrays) that the tests call, ``figure`` draws one state and
``show`` adds the controls with ``build_explorer``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from arseg_tutorial.codec import encode_to_bytes, flow_to_keyframe, read_video, warp
from arseg_tutorial.config import Profile, seed_everything
from arseg_tutorial.models import ARSeg, CReFF, build_model
from arseg_tutorial.models.arseg import downsample_frame
from arseg_tutorial.scenes import NUM_CLASSES, generate_clip
from arseg_tutorial.train.data import to_input

KERNELS = (3, 5, 7, 9)


@dataclass
class DemoModel:
    """The networks notebook 04 explores.

    Introduced in notebook 04.

    Attributes:
        model: the ``ARSeg`` model, in eval mode.
        trained: True when it was loaded from the shipped checkpoints.
        description: one line saying where the weights come from (print it in the notebook).
    """

    model: ARSeg
    trained: bool
    description: str


def load_demo_arseg(profile: Profile, lr_scale: float = 0.5, seed: int = 0) -> DemoModel:
    """The AR-Seg model of notebook 04: the shipped HR + AR-Seg checkpoints if they exist, else
    an UNTRAINED model with the profile's width (its attention weights then show the mechanics,
    not learned behaviour).

    Introduced in notebook 04.
    """
    try:
        from arseg_tutorial.assets import load_method

        hr, lr = load_method("arseg", lr_scale)
        return DemoModel(ARSeg(hr, lr, lr_scale).eval(), True,
                         f"shipped checkpoints 'hr' + 'arseg-{lr_scale:g}' (trained)")
    except (FileNotFoundError, KeyError):
        seed_everything(seed)
        hr = build_model("bisenet18", NUM_CLASSES, width=profile.net_width)
        lr = build_model("bisenet18", NUM_CLASSES, width=profile.net_width)
        return DemoModel(ARSeg(hr, lr, lr_scale, creff_kernel=profile.creff_kernel).eval(), False,
                         f"UNTRAINED bisenet18 (width {profile.net_width}, seed {seed}): no shipped "
                         "checkpoints found; weights are random")


@dataclass
class EncodedPair:
    """A keyframe and the frame ``distance`` frames later, decoded from an H.264 GOP.

    Introduced in notebook 04.

    Attributes:
        keyframe, frame: (H, W, 3) uint8 decoded frames.
        labels: (H, W) uint8 labels of ``frame``.
        flow: (H, W, 2) float32 backward flow frame -> keyframe chained from the motion vectors.
        valid: (H, W) bool where the chain met no intra block.
        true_flow: (H, W, 2) float32 the generator's exact flow, for comparison.
        visible: (H, W) bool, the generator says the pixel's surface is visible in the keyframe.
        distance: d, frames between the keyframe and the frame.
    """

    keyframe: np.ndarray
    frame: np.ndarray
    labels: np.ndarray
    flow: np.ndarray
    valid: np.ndarray
    true_flow: np.ndarray
    visible: np.ndarray
    distance: int


def make_encoded_pair(seed: int, height: int, width: int, gop_length: int = 12,
                      distance: int | None = None) -> EncodedPair:
    """Generate a clip, encode it as one H.264 GOP, decode it, chain the vectors of frame d.

    Introduced in notebook 04.

    Args:
        seed: clip seed.
        height, width: frame size in pixels (even).
        gop_length: L; the clip is one GOP long.
        distance: d (default L - 1, the farthest frame, as in FST training).
    """
    distance = gop_length - 1 if distance is None else distance
    if not 1 <= distance < gop_length:
        raise ValueError(f"distance must be in 1..{gop_length - 1} (a P-frame of the GOP), got {distance}")
    clip = generate_clip(seed, length=gop_length, height=height, width=width)
    video = read_video(encode_to_bytes(clip.frames, gop=gop_length))
    flow, valid = flow_to_keyframe(video, distance)
    return EncodedPair(video.frames[0], video.frames[distance], clip.labels[distance], flow, valid,
                       clip.flow_key[distance], clip.valid_key[distance], distance)


def creff_with_kernel(creff: CReFF, kernel: int) -> CReFF:
    """A copy of ``creff`` with another attention window (the Q/K/V convs do not depend on it).

    Introduced in notebook 04. A ``tutorial`` CReFF's position bias keeps its value at every
    window offset the two windows share; offsets only the new window has get the smallest
    learned bias.
    """
    copy = CReFF(creff.channels, kernel, creff.variant).to(creff.query_conv.weight.device)
    state = dict(creff.state_dict())
    if creff.position_bias is not None:
        old = creff.position_bias.detach().view(creff.kernel, creff.kernel)
        bias = torch.full((kernel, kernel), float(old.min()), device=old.device)
        shared, start_old, start_new = min(kernel, creff.kernel), (creff.kernel - kernel) // 2, (kernel - creff.kernel) // 2
        o0, n0 = max(start_old, 0), max(start_new, 0)
        bias[n0:n0 + shared, n0:n0 + shared] = old[o0:o0 + shared, o0:o0 + shared]
        state["position_bias"] = bias.flatten()
    copy.load_state_dict(state)
    return copy.eval()


class AttentionExplorer:
    """Pick a pixel, a kernel size and with/without alignment: see where CReFF's window looks.

    Introduced in notebook 04.

    Args:
        demo: the networks (``load_demo_arseg``).
        pair: the (keyframe, frame d) pair (``make_encoded_pair``).
    """

    def __init__(self, demo: DemoModel, pair: EncodedPair):
        self.demo, self.pair = demo, pair
        model = demo.model
        device = next(model.parameters()).device
        frames = to_input(np.stack([pair.keyframe, pair.frame])).to(device)
        self._frame = frames[1:]
        with torch.no_grad():
            self.keyframe_feature = model.keyframe(frames[:1]).feature
            self.lr_feature = model.lr_model.forward_phase1(downsample_frame(self._frame, model.lr_scale))
            self.references = {
                True: model.warp_keyframe_feature(self.keyframe_feature, pair.flow, self._frame),
                False: self.keyframe_feature,
            }
        self.stride_px = pair.frame.shape[0] / self.keyframe_feature.shape[-2]
        self.warped_keyframes = {True: warp(pair.keyframe, pair.flow), False: pair.keyframe}

    def features(self) -> dict[str, torch.Tensor]:
        """(C, h, w) maps: keyframe feature, keyframe feature warped with the motion vectors, LR
        feature upsampled to the HR grid, and CReFF's fused feature (aligned, the module's own
        kernel)."""
        creff = self.demo.model.lr_model.creff
        with torch.no_grad():
            result = creff(self.lr_feature, self.references[True], return_attention=True)
        return {"keyframe feature": self.keyframe_feature[0], "warped keyframe feature": self.references[True][0],
                "LR feature (upsampled)": result.lr_upsampled[0], "fused (CReFF)": result.fused[0]}

    def update(self, pixel_y: int, pixel_x: int, kernel: int | None = None, aligned: bool = True) -> dict:
        """Attention of the feature pixel under image pixel (pixel_y, pixel_x).

        Args:
            kernel: window size, one of ``KERNELS``; None = the trained module's own.
        Returns:
            dict with ``weights`` (k, k) softmax weights (row-major window), ``pixel_feature``
            (row, col) on the feature grid, ``pixel_px``, ``kernel``, ``aligned``, ``stride_px``,
            ``entropy`` of the weights (nats; uniform = log k^2), ``keyframe_warped`` (H, W, 3) the
            keyframe image warped like the feature (or not), ``frame`` and ``distance``.
        """
        height, width = self.pair.frame.shape[:2]
        if not (0 <= pixel_y < height and 0 <= pixel_x < width):
            raise ValueError(f"pixel ({pixel_y}, {pixel_x}) is outside the {height}x{width} frame")
        if kernel is None:
            kernel = self.demo.model.lr_model.creff.kernel
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {kernel}")
        row = min(int(pixel_y / self.stride_px), self.keyframe_feature.shape[-2] - 1)
        col = min(int(pixel_x / self.stride_px), self.keyframe_feature.shape[-1] - 1)
        creff = creff_with_kernel(self.demo.model.lr_model.creff, kernel)
        with torch.no_grad():
            attention = creff(self.lr_feature, self.references[bool(aligned)], return_attention=True).attention
        weights = attention[0, row, col].view(kernel, kernel).cpu().numpy()
        entropy = float(-(weights * np.log(np.maximum(weights, 1e-12))).sum())
        return {"weights": weights, "pixel_feature": (row, col), "pixel_px": (pixel_y, pixel_x),
                "kernel": kernel, "aligned": bool(aligned), "stride_px": self.stride_px, "entropy": entropy,
                "keyframe_warped": self.warped_keyframes[bool(aligned)], "frame": self.pair.frame,
                "distance": self.pair.distance}

    def figure(self, pixel_y: int, pixel_x: int, kernel: int | None = None, aligned: bool = True):
        """Draw one state (the static figure next to the widget)."""
        from arseg_tutorial.viz.models import plot_attention_state

        return plot_attention_state(self.update(pixel_y, pixel_x, kernel, aligned))

    def show(self, pixel_y: int | None = None, pixel_x: int | None = None):
        """The interactive face: pixel sliders, a kernel dropdown and an alignment checkbox."""
        import ipywidgets as widgets

        from arseg_tutorial.widgets import build_explorer

        height, width = self.pair.frame.shape[:2]
        controls = {
            "pixel_y": widgets.IntSlider(value=height // 2 if pixel_y is None else pixel_y, min=0,
                                         max=height - 1, description="pixel y", continuous_update=False),
            "pixel_x": widgets.IntSlider(value=width // 2 if pixel_x is None else pixel_x, min=0,
                                         max=width - 1, description="pixel x", continuous_update=False),
            "kernel": widgets.Dropdown(options=list(KERNELS), value=self.demo.model.lr_model.creff.kernel,
                                       description="kernel"),
            "aligned": widgets.Checkbox(value=True, description="align with motion vectors"),
        }
        return build_explorer(self.figure, controls)
