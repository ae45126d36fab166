"""The segmentation networks of AR-Seg: ResNet-18, BiSeNet18, PSPNet18, local attention, CReFF and
the two-branch ``ARSeg`` model.

Introduced in notebook 03 (networks, phases, cost) and notebook 04 (local attention, CReFF).
"""
from __future__ import annotations

from arseg_tutorial.models.arseg import ARSeg, FramePrediction
from arseg_tutorial.models.base import TrainOutput, TwoPhaseSegmenter
from arseg_tutorial.models.bisenet import BiSeNet18
from arseg_tutorial.models.creff import CReFF, CReFFResult
from arseg_tutorial.models.pspnet import PSPNet18
from arseg_tutorial.models.resnet import ResNet18

MODEL_NAMES = ("bisenet18", "pspnet18")
_MODELS = {"bisenet18": BiSeNet18, "pspnet18": PSPNet18}


def build_model(name: str, num_classes: int, width: float = 1.0,
                output_stride: int | None = None) -> TwoPhaseSegmenter:
    """A freshly initialised per-frame segmentation network (no CReFF; see ``add_creff``).

    Introduced in notebook 03.

    Args:
        name: "bisenet18" or "pspnet18".
        num_classes: K, number of output classes (12 for CamVid with void, 19 for Cityscapes;
            ``len(arseg_tutorial.scenes`` class names) for the generated scenes).
        width: channel multiplier; 1.0 gives the official parameter count.
        output_stride: BiSeNet18 only: 8 (official, the default) or 4 (the small profiles'
            finer grid, see ``models.bisenet``); None = the network's default.
    Returns:
        A ``TwoPhaseSegmenter`` with ``forward``, ``forward_phase1``, ``forward_phase2``,
        ``classifier`` and ``feature_channels``.
    Raises:
        ValueError: unknown name, or a non-positive class count or width.
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in _MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {list(MODEL_NAMES)}")
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    if output_stride is None:
        return _MODELS[key](num_classes, width=width)
    if key != "bisenet18":
        raise ValueError(f"output_stride is a BiSeNet18 option; {name} has a fixed grid "
                         f"(leave output_stride=None)")
    return _MODELS[key](num_classes, width=width, output_stride=output_stride)


def build_model_from_config(config: dict) -> TwoPhaseSegmenter:
    """The untrained network a training config (``TrainConfig.to_dict()``) describes: its model,
    classes, width and, for BiSeNet18, output stride (8 when the config does not say).

    Introduced in notebook 05.
    """
    stride = config.get("output_stride", 8) if config["model"] == "bisenet18" else None
    return build_model(config["model"], config["num_classes"], config["net_width"], output_stride=stride)


def count_parameters(model, exclude: tuple[str, ...] = ()) -> int:
    """Number of parameters of ``model``, leaving out submodules whose name starts with ``exclude``.

    Introduced in notebook 03. ``count_parameters(net, exclude=("aux_heads",))`` gives the
    "no aux heads" count of the table in docs/method.md#how-gmacs-are-counted-here.
    """
    return sum(p.numel() for n, p in model.named_parameters() if not n.startswith(exclude))


__all__ = ["ARSeg", "BiSeNet18", "CReFF", "CReFFResult", "FramePrediction", "MODEL_NAMES", "PSPNet18",
           "ResNet18", "TrainOutput", "TwoPhaseSegmenter", "build_model", "build_model_from_config",
           "count_parameters"]

