"""Motion vectors -> dense flow, chaining to the keyframe: against a texture with exact motion."""
from __future__ import annotations

import numpy as np
import pytest

from arseg_tutorial.codec import (IntraOnlyVideoError, encode_to_bytes, endpoint_error,
                                  flow_to_keyframe, iter_flows_to_keyframe,
                                  motion_vectors_to_flow, read_video)
from arseg_tutorial.codec.decode import MOTION_VECTOR_DTYPE
from arseg_tutorial.codec.synthetic import textured_mask, translating_texture

H, W = 96, 128
VELOCITY = np.array([1.3, 0.55], np.float32)  # sub-pixel: not a multiple of the quarter pel


@pytest.fixture(scope="module")
def p_video():
    return read_video(encode_to_bytes(translating_texture(12, H, W, tuple(VELOCITY)), gop=12))


@pytest.fixture(scope="module")
def b_video():
    frames = translating_texture(12, H, W, tuple(VELOCITY))
    return read_video(encode_to_bytes(frames, gop=12, bframes=2))


def mvs(*rows) -> np.ndarray:
    """Structured motion vectors from (source, w, h, dst_x, dst_y, motion_x, motion_y) rows."""
    out = np.zeros(len(rows), MOTION_VECTOR_DTYPE)
    for i, (source, w, h, dst_x, dst_y, mx, my) in enumerate(rows):
        out[i] = (source, w, h, 0, 0, dst_x, dst_y, 0, mx, my, 4)
    return out


def test_blocks_fill_their_area_and_intra_holes_stay_invalid():
    vectors = mvs((-1, 16, 16, 8, 8, -4, 8),    # block x [0,16), y [0,16): (-1, 2) px
                  (-1, 16, 8, 24, 4, 8, 0),     # block x [16,32), y [0,8): (2, 0) px
                  (-1, 8, 8, 4, 20, 2, 4),      # block x [0,8), y [16,24): (0.5, 1) px
                  (1, 16, 16, 8, 8, 8, 4))      # a future vector (2, 1) px: not "past"
    flow, valid = motion_vectors_to_flow(vectors, 24, 32)
    assert flow.shape == (24, 32, 2) and flow.dtype == np.float32 and valid.dtype == bool
    np.testing.assert_array_equal(flow[0:16, 1:16], np.broadcast_to([-1.0, 2.0], (16, 15, 2)))
    np.testing.assert_array_equal(flow[0:8, 16:30], np.broadcast_to([2.0, 0.0], (8, 14, 2)))
    np.testing.assert_array_equal(flow[16:23, 0:8], np.broadcast_to([0.5, 1.0], (7, 8, 2)))
    assert valid[0:16, 1:16].all() and valid[0:8, 16:30].all() and valid[16:23, 0:8].all()
    # no vector (intra block or not covered): invalid with zero flow
    assert not valid[8:16, 16:32].any() and not valid[16:24, 8:32].any()
    assert not flow[~valid].any()
    # vectors pointing outside the reference frame are invalid
    assert not valid[:, 0][:16].any() and not valid[0:8, 30:32].any() and not valid[23].any()
    future, future_valid = motion_vectors_to_flow(vectors, 24, 32, direction="future")
    assert future_valid[:16, :16].all() and future_valid.sum() == 16 * 16
    np.testing.assert_array_equal(future[:16, :16], np.broadcast_to([2.0, 1.0], (16, 16, 2)))


def test_interpolation_follows_smooth_motion_and_keeps_boundaries():
    """A vertical ramp of block vectors (the ground plane) is blended between block centres; a
    jump bigger than the tolerance (a car's edge) and intra holes keep the block values."""
    rows = [(-1, 8, 8, 8 * c + 4, 8 * r + 4, r, 0) for r in range(4) for c in range(2)]  # r/4 px
    rows += [(-1, 8, 8, 8 * 2 + 4, 8 * r + 4, 40, 0) for r in range(4)]  # +10 px: a moving car
    flow, valid = motion_vectors_to_flow(mvs(*rows), 32, 32, interpolate=True)
    blocky, _ = motion_vectors_to_flow(mvs(*rows), 32, 32)
    # between two block centres (rows 3.5 and 11.5 -> 0 and 0.25 px) the ramp is linear
    np.testing.assert_allclose(flow[4:12, 4, 0], (np.arange(4, 12) - 3.5) / 32, atol=1e-6)
    np.testing.assert_array_equal(flow[:, 20:24], blocky[:, 20:24])  # across the jump: unchanged
    assert not valid[:, 24:].any() and not flow[:, 24:].any()        # no vectors: still invalid


def test_empty_vectors_and_bad_input():
    flow, valid = motion_vectors_to_flow(np.zeros(0, MOTION_VECTOR_DTYPE), 8, 8)
    assert not valid.any() and not flow.any()
    with pytest.raises(ValueError, match="structured array"):
        motion_vectors_to_flow(np.zeros((3, 2)), 8, 8)
    with pytest.raises(ValueError, match="'past' or 'future'"):
        motion_vectors_to_flow(np.zeros(0, MOTION_VECTOR_DTYPE), 8, 8, direction="back")


def test_one_step_flow_matches_the_exact_translation(p_video):
    for t in range(1, 12):
        flow, valid = motion_vectors_to_flow(p_video.motion_vectors[t], H, W)
        measured = valid & textured_mask(p_video.frames[t])
        assert measured.mean() > 0.8
        epe = endpoint_error(flow, np.broadcast_to(VELOCITY, flow.shape))[measured].mean()
        assert epe <= 0.15, f"frame {t}: one-step EPE {epe:.3f} px"
        smooth, _ = motion_vectors_to_flow(p_video.motion_vectors[t], H, W, interpolate=True)
        assert endpoint_error(smooth, np.broadcast_to(VELOCITY, smooth.shape))[measured].mean() <= 0.15


def test_chained_flow_to_keyframe_accumulates_the_motion(p_video):
    for t in (0, 2, 6, 11):
        flow, valid = flow_to_keyframe(p_video, t)
        if t == 0:
            assert valid.all() and not flow.any()
            continue
        exact = np.broadcast_to(VELOCITY * t, flow.shape)
        assert valid.mean() > 0.7
        epe = endpoint_error(flow, exact)[valid].mean()
        assert epe < 0.12 * t + 0.1, f"frame {t}: chained EPE {epe:.3f} px"
        # content enters from the right: a band there (less 1 px of slack) has no source in the
        # keyframe; a rare block whose vector is not the true motion may still chain inside
        assert valid[:, W - int(VELOCITY[0] * t) + 1:].mean() < 0.02


def test_chaining_beats_the_naive_one_step_vectors(p_video):
    flow, valid = flow_to_keyframe(p_video, 11)
    last_step, _ = motion_vectors_to_flow(p_video.motion_vectors[11], H, W)
    exact = np.broadcast_to(VELOCITY * 11, flow.shape)
    assert endpoint_error(flow, exact)[valid].mean() < 0.2 * endpoint_error(last_step, exact)[valid].mean()


def test_b_frames_chain_through_their_anchors(b_video):
    assert b_video.frame_types == "IBBPBBPBBPBP"
    for t in range(1, 12):
        flow, valid = flow_to_keyframe(b_video, t)
        epe = endpoint_error(flow, np.broadcast_to(VELOCITY * t, flow.shape))[valid].mean()
        assert valid.mean() > 0.7 and epe < 0.15 * t + 0.3, f"{t}: {epe:.2f}"


def test_results_are_memoised_per_video(p_video):
    first = flow_to_keyframe(p_video, 5)
    assert flow_to_keyframe(p_video, 5)[0] is first[0]


@pytest.mark.parametrize("bframes", [0, 2])
def test_streamed_chains_equal_the_whole_video_chains(bframes):
    data = encode_to_bytes(translating_texture(20, 48, 64, tuple(VELOCITY)), gop=8, bframes=bframes)
    video = read_video(data)
    streamed = list(iter_flows_to_keyframe(data))
    assert [frame.index for frame, _, _ in streamed] == list(range(20))
    assert "".join(frame.frame_type for frame, _, _ in streamed) == video.frame_types
    for frame, flow, valid in streamed:
        expected_flow, expected_valid = flow_to_keyframe(video, frame.index)
        np.testing.assert_array_equal(flow, expected_flow)
        np.testing.assert_array_equal(valid, expected_valid)


def test_streamed_chains_refuse_intra_only_videos():
    data = encode_to_bytes(translating_texture(4, 48, 64), gop=1)
    with pytest.raises(IntraOnlyVideoError, match="gop=12"):
        list(iter_flows_to_keyframe(data))
