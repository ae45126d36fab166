"""The street-scene generator: contract, exact flow, visibility, class content, determinism."""
from __future__ import annotations

import numpy as np
import pytest

from arseg_tutorial.scenes import (CLASS_NAMES, IGNORE_LABEL, PALETTE, THIN_CLASSES, Clip, generate_clip)
from arseg_tutorial.scenes.classes import BUILDING, POLE, ROAD, SKY


def warp_bilinear(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """(H, W, C) image sampled at x + flow (bilinear, border clamped) -> float64."""
    height, width = flow.shape[:2]
    xs = np.clip(np.arange(width)[None, :] + flow[..., 0], 0, width - 1)
    ys = np.clip(np.arange(height)[:, None] + flow[..., 1], 0, height - 1)
    x0 = np.clip(np.floor(xs).astype(int), 0, width - 2)
    y0 = np.clip(np.floor(ys).astype(int), 0, height - 2)
    wx, wy = (xs - x0)[..., None], (ys - y0)[..., None]
    im = image.astype(np.float64)
    return ((1 - wy) * ((1 - wx) * im[y0, x0] + wx * im[y0, x0 + 1])
            + wy * ((1 - wx) * im[y0 + 1, x0] + wx * im[y0 + 1, x0 + 1]))


def warp_nearest(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """(H, W) image sampled at the pixel nearest to x + flow (border clamped)."""
    height, width = flow.shape[:2]
    xs = np.clip(np.rint(np.arange(width)[None, :] + flow[..., 0]).astype(int), 0, width - 1)
    ys = np.clip(np.rint(np.arange(height)[:, None] + flow[..., 1]).astype(int), 0, height - 1)
    return image[ys, xs]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0 ** 2 / max(np.mean((a.astype(np.float64) - b) ** 2), 1e-12)))


@pytest.fixture(scope="module")
def clips() -> list[Clip]:
    return [generate_clip(seed, length=8, height=180, width=240) for seed in (0, 1)]


@pytest.fixture(scope="module")
def twenty_clips() -> list[Clip]:
    return [generate_clip(seed, length=2, height=120, width=160) for seed in range(100, 120)]


def test_contract_shapes_dtypes_and_first_frame():
    clip = generate_clip(3, length=5, height=120, width=160)
    T, H, W = 5, 120, 160
    assert clip.frames.shape == (T, H, W, 3) and clip.frames.dtype == np.uint8
    assert clip.labels.shape == (T, H, W) and clip.labels.dtype == np.uint8
    for name in ("flow_prev", "flow_key"):
        flow = getattr(clip, name)
        assert flow.shape == (T, H, W, 2) and flow.dtype == np.float32
        assert not flow[0].any(), f"{name} must be zero at t = 0"
    for name in ("valid_prev", "valid_key"):
        valid = getattr(clip, name)
        assert valid.shape == (T, H, W) and valid.dtype == bool and valid[0].all()
    np.testing.assert_array_equal(clip.flow_prev[1], clip.flow_key[1])
    assert tuple(clip.class_names) == CLASS_NAMES and len(CLASS_NAMES) == 11
    assert set(np.unique(clip.labels)) <= set(range(11)) | {IGNORE_LABEL}
    assert clip.length == T and clip.frame_size == (H, W)


def test_class_order_palette_and_thin_classes():
    assert CLASS_NAMES[:4] == ("Sky", "Building", "Pole", "Road") and CLASS_NAMES[-1] == "Bicyclist"
    assert PALETTE.shape == (11, 3) and PALETTE.dtype == np.uint8
    assert len({tuple(c) for c in PALETTE}) == 11, "palette colours must be distinct"
    assert not (PALETTE == 0).all(axis=1).any(), "black is reserved for the ignore label"
    assert {CLASS_NAMES[c] for c in THIN_CLASSES} == {"Pole", "SignSymbol", "Fence", "Pedestrian", "Bicyclist"}


@pytest.mark.parametrize("kwargs", [dict(height=121, width=160), dict(height=120, width=161),
                                    dict(height=118, width=160), dict(height=722, width=960),
                                    dict(height=720, width=962), dict(length=0), dict(height=120.0, width=160)])
def test_bad_arguments_raise_clear_errors(kwargs):
    args = dict(length=2, height=120, width=160) | kwargs
    with pytest.raises(ValueError, match="length|height|width"):
        generate_clip(0, **args)


def test_negative_seed_raises():
    with pytest.raises(ValueError, match="seed"):
        generate_clip(-1, length=1, height=120, width=160)


@pytest.mark.parametrize("size", [(122, 200), (240, 160), (720, 960)])
def test_any_even_size_in_range_works(size):
    clip = generate_clip(5, length=1, height=size[0], width=size[1])
    assert clip.frames.shape == (1, *size, 3)


def test_same_seed_same_clip_other_seed_other_clip():
    a, b = (generate_clip(11, length=3, height=120, width=160) for _ in range(2))
    for name in ("frames", "labels", "flow_prev", "flow_key", "valid_prev", "valid_key"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    c = generate_clip(12, length=3, height=120, width=160)
    assert np.mean(a.frames != c.frames) > 0.5 and np.mean(a.labels != c.labels) > 0.05


def test_exact_flow_reproduces_next_frame(clips):
    for clip in clips:
        for t in range(1, clip.length):
            valid = clip.valid_prev[t]
            assert valid.mean() > 0.6, "most pixels must be visible in the previous frame"
            warped = warp_bilinear(clip.frames[t - 1], clip.flow_prev[t])
            exact = psnr(warped[valid], clip.frames[t][valid])
            assert exact >= 35.0, f"seed {clip.seed} t={t}: PSNR {exact:.1f} dB on valid pixels"
            static = psnr(clip.frames[t - 1][valid], clip.frames[t][valid])
            assert exact > static + 3.0, "the scene must move: zero flow must do clearly worse"


def test_labels_follow_flow_to_keyframe(clips):
    for clip in clips:
        for t in range(1, clip.length):
            valid = clip.valid_key[t]
            assert valid.mean() > 0.4
            agree = np.mean(warp_nearest(clip.labels[0], clip.flow_key[t])[valid] == clip.labels[t][valid])
            assert agree >= 0.98, f"seed {clip.seed} t={t}: labels agree on {agree:.3f} of valid pixels"


def test_flow_key_is_chained_flow_prev(clips):
    """F(t->0)(x) = F(t->t-1)(x) + F(t-1->0)(x + F(t->t-1)(x)) on pixels valid in both steps."""
    clip = clips[0]
    for t in range(2, clip.length):
        valid = clip.valid_prev[t] & warp_nearest(clip.valid_key[t - 1], clip.flow_prev[t]) & clip.valid_key[t]
        chained = clip.flow_prev[t] + warp_bilinear(clip.flow_key[t - 1], clip.flow_prev[t])
        assert np.abs(chained - clip.flow_key[t])[valid].max() < 1e-3


def test_occlusion_and_parallax(clips):
    clip = clips[1]
    t = clip.length - 1
    assert 0.02 < 1 - clip.valid_key[t].mean() < 0.6, "some pixels are occluded or leave the image"
    speed = np.abs(clip.flow_prev[1:, ..., 0] - clip.flow_prev[1:, :1, :1, 0])
    near_ground = speed[:, -5:][clip.labels[1:, -5:] != IGNORE_LABEL].mean()
    sky = speed[clip.labels[1:] == SKY].mean() if (clip.labels == SKY).any() else 0.0
    building = speed[clip.labels[1:] == BUILDING].mean()
    assert near_ground > 2 * building > sky - 1e-6, "parallax: near ground faster than buildings, sky slowest"


def test_ignore_band_is_thin(clips):
    """About one pixel around objects: a few % of a 180x240 frame, less at higher resolution."""
    frac = np.mean(np.stack([c.labels for c in clips]) == IGNORE_LABEL)
    assert 0.0 < frac < 0.07
    high = generate_clip(0, length=1, height=360, width=480)
    assert np.mean(high.labels == IGNORE_LABEL) < frac


def test_class_content_over_twenty_clips(twenty_clips):
    labels = np.stack([c.labels for c in twenty_clips])
    counts = np.bincount(labels.ravel(), minlength=256)[:11]
    fractions = counts / labels.size
    missing = [CLASS_NAMES[c] for c in range(11) if counts[c] == 0]
    assert not missing, f"classes never generated: {missing}"
    for c in THIN_CLASSES:
        assert fractions[c] < 0.05, f"{CLASS_NAMES[c]} covers {fractions[c]:.1%} of pixels"
    for c in (SKY, BUILDING, ROAD):
        assert fractions[c] > 0.08, f"{CLASS_NAMES[c]} should be a large class, covers {fractions[c]:.1%}"
    assert fractions[POLE] > 0.001


def _run_lengths(mask: np.ndarray) -> np.ndarray:
    """Lengths of the horizontal runs of True in a (H, W) mask."""
    padded = np.pad(mask.astype(np.int8), ((0, 0), (1, 1)))
    edges = np.diff(padded, axis=1)
    return np.flatnonzero(edges.ravel() == -1) - np.flatnonzero(edges.ravel() == 1)


def test_thin_structures_are_a_few_pixels_wide():
    """At the laptop frame size (180x240) most thin-class runs are <= 8 px wide: under 3 px at
    s = 0.35, less than half the LR network's 8-px feature stride, so low resolution loses them."""
    runs = np.concatenate([_run_lengths(np.isin(generate_clip(seed, 1, 180, 240).labels[0], THIN_CLASSES))
                           for seed in (21, 22, 23)])
    assert runs.size > 100 and np.mean(runs <= 8) > 0.5


def test_same_seed_same_street_at_every_resolution():
    """A seed fixes the street, not its pixels: 120x160 labels match 360x480 labels sampled every 3 px."""
    low, high = generate_clip(8, 2, 120, 160), generate_clip(8, 2, 360, 480)
    down = high.labels[:, 1::3, 1::3]
    known = (low.labels != IGNORE_LABEL) & (down != IGNORE_LABEL)
    assert np.mean((low.labels == down)[known]) > 0.97


def test_walking_people_are_not_rigid():
    """Pedestrians swing legs and arms: their pixels follow no translation, so they are never
    valid for a reference frame, and their label mask changes shape, not only position."""
    from arseg_tutorial.scenes.classes import PEDESTRIAN
    from arseg_tutorial.scenes.layout import build_scene

    scene = build_scene(0, 8, 180, 240)
    people = [s for s in scene.sprites if s.class_id == PEDESTRIAN]
    assert people and not any(p.rigid for p in people) and all(s.rigid for s in scene.sprites
                                                              if s.class_id != PEDESTRIAN)
    assert not np.allclose(people[0].picture(0)[..., 3], people[0].picture(4)[..., 3], atol=0.1)
    # painted when asked, not kept one per frame: the scene holds one picture, frame 0's
    assert all(p.rgba.ndim == 3 and p.picture(7).shape == p.rgba.shape for p in people)
    np.testing.assert_array_equal(people[0].picture(0), people[0].rgba)
    for clip in (generate_clip(seed, 6, 180, 240) for seed in (0, 1)):
        on_people = clip.labels[1:] == PEDESTRIAN
        assert on_people.any() and not clip.valid_prev[1:][on_people].any()


def test_iter_clip_streams_the_frames_and_labels_of_generate_clip():
    from arseg_tutorial.scenes import iter_clip

    clip = generate_clip(7, length=9, height=120, width=160)
    pairs = list(iter_clip(7, length=9, height=120, width=160))
    assert len(pairs) == 9
    for t, (frame, labels) in enumerate(pairs):
        assert frame.dtype == labels.dtype == np.uint8
        np.testing.assert_array_equal(frame, clip.frames[t])
        np.testing.assert_array_equal(labels, clip.labels[t])
    with pytest.raises(ValueError, match="even number"):
        iter_clip(7, length=9, height=121, width=160)           # checked at the call, not at the first frame
