"""motion_vectors_to_flow is pinned bit for bit: the training data shipped with the tutorial is
fingerprinted on its outputs, so a faster implementation must give the very same bytes.

The digests below were computed with the first (np.repeat-based) implementation.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from arseg_tutorial.codec import motion_vectors_to_flow
from arseg_tutorial.codec.decode import MOTION_VECTOR_DTYPE

PARTITIONS = {"16x16": [(16, 16, 0, 0)],
              "16x8": [(16, 8, 0, 0), (16, 8, 0, 8)],
              "8x16": [(8, 16, 0, 0), (8, 16, 8, 0)],
              "8x8": [(8, 8, x, y) for y in (0, 8) for x in (0, 8)],
              "4x4": [(4, 4, x, y) for y in range(0, 16, 4) for x in range(0, 16, 4)]}


def macroblock_vectors(height: int, width: int, seed: int, *, b_frame: bool = False,
                       smooth: bool = True,
                       partitions: tuple[str, ...] = ("16x16", "16x8", "8x16", "8x8")) -> np.ndarray:
    """H.264-like vectors: 16x16 macroblocks covering the frame (the last row and column may
    pass its edge), split into partitions, quarter-pel motion (a smooth zoom plus noise, so that
    interpolation applies in places, or random), some intra macroblocks and, for a B-frame,
    vectors to the past, the future or both."""
    rng = np.random.default_rng(seed)
    rows = []
    for mb_y in range(0, height, 16):
        for mb_x in range(0, width, 16):
            if rng.random() < 0.1:
                continue  # intra: no vector
            for w, h, dx, dy in PARTITIONS[partitions[rng.integers(len(partitions))]]:
                sources = [-1, 1, (-1, 1)][rng.integers(3)] if b_frame else -1
                for source in np.atleast_1d(sources):
                    centre = np.array([mb_x + dx + w / 2 - width / 2,
                                       mb_y + dy + h / 2 - height / 2])
                    motion = (np.round(0.12 * centre * source) + rng.integers(-1, 2, 2) if smooth
                              else rng.integers(-40, 41, 2))
                    rows.append((source, w, h, 0, 0, mb_x + dx + w // 2, mb_y + dy + h // 2, 0,
                                 motion[0], motion[1], 4))
    return np.array(rows, MOTION_VECTOR_DTYPE)


def edge_case_vectors() -> np.ndarray:
    """Overlapping blocks (the later wins), blocks partly or wholly outside the frame, a zero
    motion_scale, huge vectors and a 4-pixel block."""
    rows = [(-1, 16, 16, 8, 8, 4, 0, 4), (-1, 8, 8, 4, 4, -4, 0, 4), (-1, 16, 16, 8, 8, 8, 8, 4),
            (-1, 16, 16, -8, -8, 3, 1, 4), (-1, 16, 16, 40, 8, 3, 1, 4),
            (-1, 16, 8, 24, 20, -7, 5, 0), (-1, 16, 16, 24, 8, 2**31 - 1, -2**31, 1),
            (-1, 4, 4, 30, 22, 6, -3, 4), (1, 16, 16, 8, 8, 9, -9, 2)]
    return np.array([(s, w, h, 0, 0, x, y, 0, mx, my, sc) for s, w, h, x, y, mx, my, sc in rows],
                    MOTION_VECTOR_DTYPE)


CASES = {
    "P 96x128": lambda: (macroblock_vectors(96, 128, 0), 96, 128),
    "B 90x118": lambda: (macroblock_vectors(90, 118, 1, b_frame=True), 90, 118),
    "4x4 60x84": lambda: (macroblock_vectors(60, 84, 2, smooth=False,
                                             partitions=("16x16", "8x8", "4x4")), 60, 84),
    "edge cases 30x37": lambda: (edge_case_vectors(), 30, 37),
    "empty 17x33": lambda: (np.zeros(0, MOTION_VECTOR_DTYPE), 17, 33),
}
DIGESTS = {  # (case, direction, interpolate): the first 16 hex digits of sha256(flow + valid)
    ('4x4 60x84', 'past', False): '553307251d47357e',
    ('4x4 60x84', 'past', True): '553307251d47357e',
    ('4x4 60x84', 'future', False): 'aeacd767e003804c',
    ('4x4 60x84', 'future', True): 'aeacd767e003804c',
    ('B 90x118', 'past', False): '8b2c9708a34cd02f',
    ('B 90x118', 'past', True): '8800dc96648dca58',
    ('B 90x118', 'future', False): '19208212265227a0',
    ('B 90x118', 'future', True): 'e96eab3d0c8e8d55',
    ('P 96x128', 'past', False): '1c258eb6d104a2cb',
    ('P 96x128', 'past', True): 'cf51307b0f8b77ec',
    ('P 96x128', 'future', False): '7c98d2da7afa2bde',
    ('P 96x128', 'future', True): '7c98d2da7afa2bde',
    ('edge cases 30x37', 'past', False): '45aee5ca11afd88a',
    ('edge cases 30x37', 'past', True): '45aee5ca11afd88a',
    ('edge cases 30x37', 'future', False): 'f3c828e988b79896',
    ('edge cases 30x37', 'future', True): 'f3c828e988b79896',
    ('empty 17x33', 'past', False): '3a3d0028f80c9681',
    ('empty 17x33', 'past', True): '3a3d0028f80c9681',
    ('empty 17x33', 'future', False): '3a3d0028f80c9681',
    ('empty 17x33', 'future', True): '3a3d0028f80c9681',
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_flow_and_validity_are_bit_identical_to_the_fingerprinted_version(case):
    mvs, height, width = CASES[case]()
    for direction in ("past", "future"):
        for interpolate in (False, True):
            flow, valid = motion_vectors_to_flow(mvs, height, width, direction,
                                                 interpolate=interpolate)
            assert flow.shape == (height, width, 2) and flow.dtype == np.float32
            assert valid.shape == (height, width) and valid.dtype == bool
            assert flow.flags.c_contiguous and valid.flags.c_contiguous
            digest = hashlib.sha256(flow.tobytes() + valid.tobytes()).hexdigest()[:16]
            assert digest == DIGESTS[case, direction, interpolate], (case, direction, interpolate)
