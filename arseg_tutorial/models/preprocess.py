"""What the networks take in: uint8 RGB frames as ImageNet-normalised float tensors.

Introduced in notebook 05 (with the training data). ``to_input`` turns decoded frames into a network's input (evaluation,
the players, the explorers); ``normalize`` does the same for float images in [0, 1] (the training
batches of ``train.loops``).
"""
from __future__ import annotations

import numpy as np
import torch

#: ImageNet statistics (RGB, values in [0, 1])
MEAN_RGB = (0.485, 0.456, 0.406)
STD_RGB = (0.229, 0.224, 0.225)


def to_input(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 RGB frames -> normalised float network input.

    Args:
        frames: (..., H, W, 3) uint8 (numpy or torch).
    Returns:
        (..., 3, H, W) float32, ImageNet-normalised.
    """
    x = frames if isinstance(frames, torch.Tensor) else torch.from_numpy(np.asarray(frames))
    x = x.movedim(-1, -3).float()  # a fresh float tensor: normalised in place, as normalize() does
    mean = torch.tensor(MEAN_RGB, device=x.device).view(3, 1, 1)
    std = torch.tensor(STD_RGB, device=x.device).view(3, 1, 1)
    return x.div_(255.0).sub_(mean).div_(std)


def normalize(x: torch.Tensor) -> torch.Tensor:
    """ImageNet-normalise (..., 3, H, W) float RGB images with values in [0, 1]."""
    mean = torch.tensor(MEAN_RGB, device=x.device).view(3, 1, 1)
    std = torch.tensor(STD_RGB, device=x.device).view(3, 1, 1)
    return (x - mean) / std
