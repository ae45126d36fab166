"""The 11 CamVid classes, the ignore label and the one colour-blind-safe palette of the project.

Introduced in notebook 00. Every segmentation map in the tutorial is drawn with ``PALETTE``
(through ``arseg_tutorial.viz.colorize_labels``); the ignore label is drawn black.
"""
from __future__ import annotations

import numpy as np

CLASS_NAMES: tuple[str, ...] = (
    "Sky", "Building", "Pole", "Road", "Pavement", "Tree",
    "SignSymbol", "Fence", "Car", "Pedestrian", "Bicyclist",
)
NUM_CLASSES: int = len(CLASS_NAMES)
IGNORE_LABEL: int = 255

SKY, BUILDING, POLE, ROAD, PAVEMENT, TREE, SIGN, FENCE, CAR, PEDESTRIAN, BICYCLIST = range(NUM_CLASSES)

THIN_CLASSES: tuple[int, ...] = (POLE, SIGN, FENCE, PEDESTRIAN, BICYCLIST)
"""Classes made of thin or small structures: each covers < 5 % of the pixels and largely vanishes
at half resolution -- the classes AR-Seg's low-resolution branch is most likely to lose."""

PALETTE: np.ndarray = np.array(
    [
        (0x56, 0xB4, 0xE9),  # Sky: Okabe-Ito sky blue
        (0x88, 0x22, 0x55),  # Building: Tol wine
        (0xF0, 0xE4, 0x42),  # Pole: Okabe-Ito yellow
        (0x33, 0x22, 0x88),  # Road: Tol indigo
        (0xDD, 0xCC, 0x77),  # Pavement: Tol sand
        (0x11, 0x77, 0x33),  # Tree: Tol green
        (0xE6, 0x9F, 0x00),  # SignSymbol: Okabe-Ito orange
        (0xAA, 0x44, 0x99),  # Fence: Tol purple
        (0x00, 0x72, 0xB2),  # Car: Okabe-Ito blue
        (0xD5, 0x5E, 0x00),  # Pedestrian: Okabe-Ito vermillion
        (0x44, 0xAA, 0x99),  # Bicyclist: Tol teal
    ],
    dtype=np.uint8,
)
"""(11, 3) uint8 RGB colour per class, from the Okabe-Ito and Paul Tol colour-blind-safe sets."""

IGNORE_COLOR: tuple[int, int, int] = (0, 0, 0)
"""Colour of the ignore label (255) in every figure."""
