"""The procedural street-scene generator: frames, labels and exact optical flow (stands in for CamVid).

Introduced in notebook 00. ``generate_clip(seed)`` returns a ``Clip`` (``iter_clip`` streams its
frames and labels); the class names, the palette and the ignore label are shared by every figure
of the tutorial. Real footage lives in ``arseg_tutorial.realdata`` (docs/real_data.md).
"""
from arseg_tutorial.scenes.classes import CLASS_NAMES, IGNORE_LABEL, NUM_CLASSES, PALETTE, THIN_CLASSES
from arseg_tutorial.scenes.clip import Clip, generate_clip, iter_clip

__all__ = ["generate_clip", "iter_clip", "Clip", "CLASS_NAMES", "PALETTE", "IGNORE_LABEL", "THIN_CLASSES", "NUM_CLASSES"]

_MOVED_TO_REALDATA = ("RealClip", "load_real_clip", "iter_real_clips", "encode_gops", "evaluate_real")


def __getattr__(name: str):
    """Old imports of the real-footage names (``from arseg_tutorial.scenes import load_real_clip``)
    still work, with a warning that says where they live now."""
    if name in _MOVED_TO_REALDATA:
        import warnings

        from arseg_tutorial import realdata

        warnings.warn(f"arseg_tutorial.scenes.{name} moved: import it from arseg_tutorial.realdata",
                      FutureWarning, stacklevel=2)
        return getattr(realdata, name)
    raise AttributeError(f"module 'arseg_tutorial.scenes' has no attribute {name!r}")
