"""The procedural street-scene generator: frames, labels and exact optical flow (stands in for CamVid).

Introduced in notebook 00. ``generate_clip(seed)`` returns a ``Clip``; the class names, the
palette and the ignore label are shared by every figure of the tutorial. Real CamVid-style
footage: ``load_real_clip`` / ``iter_real_clips`` and ``evaluate_real`` (``scenes.real``,
docs/real_data.md).
"""
from arseg_tutorial.scenes.classes import CLASS_NAMES, IGNORE_LABEL, NUM_CLASSES, PALETTE, THIN_CLASSES
from arseg_tutorial.scenes.clip import Clip, generate_clip
from arseg_tutorial.scenes.real import RealClip, encode_gops, evaluate_real, iter_real_clips, load_real_clip

__all__ = ["generate_clip", "Clip", "CLASS_NAMES", "PALETTE", "IGNORE_LABEL", "THIN_CLASSES", "NUM_CLASSES",
           "RealClip", "load_real_clip", "iter_real_clips", "encode_gops", "evaluate_real"]
