"""The procedural street-scene generator: frames, labels and exact optical flow (stands in for CamVid).

Introduced in notebook 00. ``generate_clip(seed)`` returns a ``Clip`` (``iter_clip`` streams its
frames and labels); the class names, the palette and the ignore label are shared by every figure
of the tutorial. Real footage lives in ``arseg_tutorial.realdata`` (docs/real_data.md).
"""
from arseg_tutorial.scenes.classes import CLASS_NAMES, IGNORE_LABEL, NUM_CLASSES, PALETTE, THIN_CLASSES
from arseg_tutorial.scenes.clip import Clip, generate_clip, iter_clip

__all__ = ["generate_clip", "iter_clip", "Clip", "CLASS_NAMES", "PALETTE", "IGNORE_LABEL", "THIN_CLASSES", "NUM_CLASSES"]
