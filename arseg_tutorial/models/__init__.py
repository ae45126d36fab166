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


def build_model(name: str, num_classes: int, width: float = 1.0) -> TwoPhaseSegmenter:
    """A freshly initialised per-frame segmentation network (no CReFF; see ``add_creff``).

    Introduced in notebook 03.

    Args:
        name: "bisenet18" or "pspnet18".
        num_classes: K, number of output classes (12 for CamVid with void, 19 for Cityscapes;
            ``len(arseg_tutorial.scenes`` class names) for the generated scenes).
        width: channel multiplier; 1.0 gives the official parameter count.
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
    return _MODELS[key](num_classes, width=width)


def count_parameters(model, exclude: tuple[str, ...] = ()) -> int:
    """Number of parameters of ``model``, leaving out submodules whose name starts with ``exclude``.

    Introduced in notebook 03. ``count_parameters(net, exclude=("aux_heads",))`` gives the
    "no aux heads" count of the table in docs/method.md#how-gmacs-are-counted-here.
    """
    return sum(p.numel() for n, p in model.named_parameters() if not n.startswith(exclude))


__all__ = ["ARSeg", "BiSeNet18", "CReFF", "CReFFResult", "FramePrediction", "MODEL_NAMES", "PSPNet18",
           "ResNet18", "TrainOutput", "TwoPhaseSegmenter", "build_model", "count_parameters"]

