"""The CReFF explorer of notebook 04: a real (keyframe, frame d) pair from an encoded clip, the
features CReFF mixes, and where a pixel's attention window looks.

Introduced in notebook 04. ``load_demo_arseg`` is the one place the notebook gets its networks
(shipped checkpoints when they exist, else a clearly labelled untrained model);
``make_encoded_pair`` builds the pair; ``AttentionExplorer.update(pixel_y, pixel_x, kernel,
aligned)`` is the pure core (numbers and arrays) that the tests call, ``figure`` draws one state and
``show`` adds the controls over a live view of that figure (``widgets.attention_view``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from arseg_tutorial.codec import encode_to_bytes, flow_to_keyframe, read_video, warp
from arseg_tutorial.config import Profile, seed_everything
from arseg_tutorial.models import ARSeg, CReFF, build_model
from arseg_tutorial.models.arseg import downsample_frame
from arseg_tutorial.models.preprocess import to_input
from arseg_tutorial.scenes import CLASS_NAMES, NUM_CLASSES, generate_clip
from arseg_tutorial.scenes.classes import BICYCLIST, CAR, PEDESTRIAN
from arseg_tutorial.widgets.attention_view import attention_face

KERNELS = (3, 5, 7, 9)
MOVING_CLASSES = (CAR, PEDESTRIAN, BICYCLIST)
"""Classes whose objects move on their own (the others move only with the camera)."""


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


def load_demo_arseg(profile: Profile, lr_scale: float = 0.5, seed: int = 0,
                    ablation: str | None = None) -> DemoModel:
    """The AR-Seg model of notebook 04: the shipped HR + AR-Seg checkpoints if they exist, else
    an UNTRAINED model with the profile's width (its attention weights then show the mechanics,
    not learned behaviour).

    Introduced in notebook 04.

    Args:
        ablation: a shipped AR-Seg variant instead of the default, e.g. "kernel5" (the run
            "arseg-0.5-kernel5", a 5x5 window).
    """
    try:
        from arseg_tutorial.assets import load_method
        from arseg_tutorial.train.recipes import run_name

        hr, lr = load_method("arseg", lr_scale, ablation)
        name = run_name("arseg", lr_scale, ablation)
        return DemoModel(ARSeg(hr, lr, lr_scale).eval(), True, f"shipped checkpoints 'hr' + '{name}' (trained)")
    except (FileNotFoundError, KeyError):
        from arseg_tutorial.train.recipes import ABLATIONS

        seed_everything(seed)
        hr = build_model("bisenet18", NUM_CLASSES, width=profile.net_width, output_stride=profile.output_stride)
        lr = build_model("bisenet18", NUM_CLASSES, width=profile.net_width, output_stride=profile.output_stride)
        changes = ABLATIONS.get(ablation, {})
        return DemoModel(ARSeg(hr, lr, lr_scale, creff_kernel=changes.get("creff_kernel", profile.creff_kernel),
                               creff_variant=changes.get("creff_variant", "paper")).eval(), False,
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


def moving_object_pixel(pair: EncodedPair, margin_px: int, max_error_px: float = 4.0) -> tuple[int, int, str]:
    """A pixel on a moving object: of the car, pedestrian and cyclist pixels that are visible in
    the keyframe, have valid motion vectors that land within ``max_error_px`` of the true past
    position, and lie ``margin_px`` or more inside the frame, the one that moved most since the
    keyframe (by the generator's exact flow).

    Introduced in notebook 04. (Where the chained vectors fail — a fast car, a walking person —
    no window position can help; the figure teaches the case where they work.)

    Returns:
        (y, x, class name).
    Raises:
        ValueError: no such pixel in this pair (pick another seed).
    """
    accurate = np.linalg.norm(pair.flow - pair.true_flow, axis=-1) < max_error_px
    speed = np.linalg.norm(pair.true_flow, axis=-1) * (pair.valid & pair.visible & accurate
                                                        & np.isin(pair.labels, MOVING_CLASSES))
    inside = np.zeros_like(speed, bool)
    inside[margin_px:-margin_px, margin_px:-margin_px] = True
    speed = np.where(inside, speed, 0.0)
    if not speed.any():
        raise ValueError("no visible, moving car, pedestrian or cyclist pixel with accurate motion vectors away "
                         "from the border in this pair; use another seed in make_encoded_pair")
    y, x = np.unravel_index(int(np.argmax(speed)), speed.shape)
    return int(y), int(x), CLASS_NAMES[int(pair.labels[y, x])]


def pair_with_moving_object(first_seed: int, height: int, width: int, gop_length: int = 12,
                            margin_px: int = 40, tries: int = 20) -> tuple[EncodedPair, tuple[int, int, str]]:
    """The first encoded pair from seeds ``first_seed``, ``first_seed + 1``, ... with a moving object.

    Introduced in notebook 04.

    Returns:
        (the ``EncodedPair``, ``moving_object_pixel(pair, margin_px)``).
    """
    for seed in range(first_seed, first_seed + tries):
        pair = make_encoded_pair(seed, height, width, gop_length)
        try:
            return pair, moving_object_pixel(pair, margin_px)
        except ValueError:
            continue
    raise ValueError(f"none of the seeds {first_seed}..{first_seed + tries - 1} gives a visible moving object "
                     f"{margin_px} px inside a {height}x{width} frame; try other seeds or a smaller margin")


def attention_statistics(attention: torch.Tensor) -> dict[str, float]:
    """How peaked a CReFF attention is, averaged over every pixel.

    Introduced in notebook 04.

    Args:
        attention: (N, H, W, k*k) softmax weights (window row-major; the centre is the aligned tap).
    Returns:
        dict with ``centre_weight`` (mean weight of the centre tap), ``max_weight`` (mean of each
        pixel's largest weight), ``entropy`` (mean, nats), ``uniform_entropy`` (log k^2) and
        ``argmax_centre`` (share of pixels whose largest weight is the centre tap).
    """
    taps = attention.shape[-1]
    weights = attention.detach().reshape(-1, taps).double()
    entropy = -(weights * weights.clamp_min(1e-12).log()).sum(-1)
    return {"centre_weight": float(weights[:, taps // 2].mean()), "max_weight": float(weights.max(-1).values.mean()),
            "entropy": float(entropy.mean()), "uniform_entropy": float(np.log(taps)),
            "argmax_centre": float((weights.argmax(-1) == taps // 2).double().mean())}


def resize_position_bias(bias: torch.Tensor, kernel: int) -> torch.Tensor:
    """A k0 x k0 per-offset position bias (row-major, (k0*k0,)) moved to a k x k window.

    Introduced in notebook 04. The trained offsets keep their values at the centre; a larger
    window's new outer offsets get the smallest trained bias (the least favoured offset), a
    smaller window keeps the centre crop.
    """
    old = int(round(bias.numel() ** 0.5))
    square = bias.reshape(old, old)
    if kernel <= old:
        start = (old - kernel) // 2
        return square[start:start + kernel, start:start + kernel].reshape(-1).clone()
    grown = torch.full((kernel, kernel), float(square.min()), dtype=bias.dtype, device=bias.device)
    start = (kernel - old) // 2
    grown[start:start + old, start:start + old] = square
    return grown.reshape(-1)


def creff_with_kernel(creff: CReFF, kernel: int) -> CReFF:
    """A copy of ``creff`` with another attention window: the Q/K/V convs do not depend on it, and
    a position bias (the tutorial variant's) is moved with ``resize_position_bias``.

    Introduced in notebook 04.
    """
    variant = getattr(creff, "variant", None)
    copy = CReFF(creff.channels, kernel, variant) if variant else CReFF(creff.channels, kernel)
    copy = copy.to(creff.query_conv.weight.device)
    state = creff.state_dict()
    if getattr(creff, "position_bias", None) is not None:
        state["position_bias"] = resize_position_bias(creff.position_bias.detach(), kernel)
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
            self.exact_reference = model.hr_model.forward_phase1(self._frame)
        self.stride_px = pair.frame.shape[0] / self.keyframe_feature.shape[-2]
        self.warped_keyframes = {True: warp(pair.keyframe, pair.flow), False: pair.keyframe}
        self.attention_maps: dict[tuple[int, bool], torch.Tensor] = {}   # (kernel, aligned) -> attention

    def reference(self, kind: str) -> torch.Tensor:
        """The HR feature CReFF attends to: "aligned" (the keyframe feature warped with the motion
        vectors), "zero flow" (the keyframe feature as it is) or "exact" (the HR feature of the
        current frame itself: a perfectly aligned reference no real player has)."""
        options = {"aligned": self.references[True], "zero flow": self.references[False],
                   "exact": self.exact_reference}
        if kind not in options:
            raise ValueError(f"reference must be one of {list(options)}, got {kind!r}")
        return options[kind]

    def attention(self, kind: str = "aligned") -> torch.Tensor:
        """(1, H, W, k*k) attention of the trained module (its own window) for a reference kind."""
        with torch.no_grad():
            return self.demo.model.lr_model.creff(self.lr_feature, self.reference(kind), return_attention=True).attention

    def window(self, pixel_y: int, pixel_x: int, kind: str = "aligned",
               extra_bias: torch.Tensor | None = None) -> np.ndarray:
        """(k, k) attention weights of the feature pixel under image pixel (y, x), module's window.

        Args:
            kind: the reference (see ``reference``).
            extra_bias: (k*k,) logits to add before the softmax, as a position bias would; done as
                softmax(log(weights) + bias), which equals softmax(logits + bias).
        """
        row = min(int(pixel_y / self.stride_px), self.keyframe_feature.shape[-2] - 1)
        col = min(int(pixel_x / self.stride_px), self.keyframe_feature.shape[-1] - 1)
        kernel = self.demo.model.lr_model.creff.kernel
        weights = self.attention(kind)[0, row, col]
        if extra_bias is not None:
            weights = (weights.clamp_min(1e-30).log() + extra_bias.to(weights)).softmax(-1)
        return weights.view(kernel, kernel).cpu().numpy()

    def statistics(self) -> dict[str, dict[str, float]]:
        """``attention_statistics`` over every pixel of the frame, for each reference kind."""
        return {kind: attention_statistics(self.attention(kind)) for kind in ("aligned", "zero flow", "exact")}

    def alignment(self, pixel_y: int, pixel_x: int) -> dict:
        """Where the window of one pixel sits in the keyframe, with and without the motion vectors.

        Returns:
            dict with ``aligned`` and ``zero_flow`` (the ``update`` states of the module's own
            window), ``keyframe_px`` (y, x) = the pixel moved by the motion-vector flow, i.e. where
            the aligned window is centred in the keyframe, ``true_keyframe_px`` (by the exact
            flow), ``pixel_px``, ``keyframe`` and ``frame``.
        """
        flow, true_flow = self.pair.flow[pixel_y, pixel_x], self.pair.true_flow[pixel_y, pixel_x]
        return {"aligned": self.update(pixel_y, pixel_x, aligned=True),
                "zero_flow": self.update(pixel_y, pixel_x, aligned=False),
                "keyframe_px": (pixel_y + float(flow[1]), pixel_x + float(flow[0])),
                "true_keyframe_px": (pixel_y + float(true_flow[1]), pixel_x + float(true_flow[0])),
                "pixel_px": (pixel_y, pixel_x), "keyframe": self.pair.keyframe, "frame": self.pair.frame,
                "distance": self.pair.distance, "stride_px": self.stride_px}

    def alignment_figure(self, pixel_y: int, pixel_x: int):
        """The pixel in the current frame, its window at x + flow in the keyframe, and at x (zero flow)."""
        from arseg_tutorial.viz.models import plot_alignment

        return plot_alignment(self.alignment(pixel_y, pixel_x))

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
        weights = self.attention_map(kernel, aligned)[0, row, col].view(kernel, kernel).cpu().numpy()
        entropy = float(-(weights * np.log(np.maximum(weights, 1e-12))).sum())
        return {"weights": weights, "pixel_feature": (row, col), "pixel_px": (pixel_y, pixel_x),
                "kernel": kernel, "aligned": bool(aligned), "stride_px": self.stride_px, "entropy": entropy,
                "keyframe_warped": self.warped_keyframes[bool(aligned)], "frame": self.pair.frame,
                "distance": self.pair.distance}

    def attention_map(self, kernel: int, aligned: bool = True) -> torch.Tensor:
        """(1, H, W, k*k) attention of every pixel with a k x k window, computed once per (k, aligned)."""
        key = (int(kernel), bool(aligned))
        if key not in self.attention_maps:
            creff = self.demo.model.lr_model.creff
            creff = creff if kernel == creff.kernel else creff_with_kernel(creff, kernel)
            with torch.no_grad():
                self.attention_maps[key] = creff(self.lr_feature, self.references[key[1]],
                                                  return_attention=True).attention
        return self.attention_maps[key]

    def figure(self, pixel_y: int, pixel_x: int, kernel: int | None = None, aligned: bool = True):
        """Draw one state (the static figure next to the widget)."""
        from arseg_tutorial.viz.models import plot_attention_state

        return plot_attention_state(self.update(pixel_y, pixel_x, kernel, aligned))

    def show(self, pixel_y: int | None = None, pixel_x: int | None = None):
        """The interactive face: pixel sliders, a kernel dropdown and an alignment checkbox over an
        ``AttentionLiveView`` (``widgets.attention_view``)."""
        return attention_face(self, KERNELS, pixel_y, pixel_x)


def format_attention_statistics(statistics: dict[str, dict[str, dict[str, float]]]) -> str:
    """A table of ``AttentionExplorer.statistics()`` for several models (name -> statistics).

    Introduced in notebook 04 (the trained module with three references).
    """
    lines = [f"{'CReFF':<12}{'reference':<12}{'centre weight':>15}{'largest weight':>16}{'entropy':>9}"
             f"{'uniform':>9}{'argmax = centre':>17}"]
    for name, by_kind in statistics.items():
        for kind, st in by_kind.items():
            lines.append(f"{name:<12}{kind:<12}{st['centre_weight']:>15.3f}{st['max_weight']:>16.3f}"
                         f"{st['entropy']:>9.2f}{st['uniform_entropy']:>9.2f}{100 * st['argmax_centre']:>16.0f}%")
    return "\n".join(lines)
