"""Real-data loader: tiny CamVid-style folders written here with PyAV's PNG encoder (no downloads)."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch

from arseg_tutorial.evaluate import evaluate_by_distance, make_segmenter
from arseg_tutorial.scenes import CLASS_NAMES
from arseg_tutorial.realdata import (CAMVID_LABEL_COLORS, encode_gops, evaluate_real,
                                     gop_windows, iter_real_clips, load_real_clip,
                                     read_label_image)

H, W = 48, 64
SHIFT_PX = 2  # the texture moves right by 2 px per frame: frame t(x) = frame 0(x - 2 t)


def write_png(path: Path, image: np.ndarray) -> Path:
    """Write (H, W, 3) uint8 RGB or (H, W) uint8 grey as a PNG with PyAV's image2 muxer."""
    grey = image.ndim == 2
    with av.open(str(path), "w", format="image2") as container:
        stream = container.add_stream("png", rate=1)
        stream.height, stream.width = image.shape[:2]
        stream.pix_fmt = "gray" if grey else "rgb24"
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="gray" if grey else "rgb24")
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return path


def texture(length: int, height: int = H, width: int = W) -> tuple[np.ndarray, np.ndarray]:
    """(T, H, W, 3) frames of a smooth texture (sum of sinusoids, wavelengths 8..32 px) translating
    right, and (T, H, W) labels moving with it: 6-px bands of classes 0..10 and the void index 11."""
    rng = np.random.default_rng(0)
    start = SHIFT_PX * length
    y, x = np.mgrid[0:height, 0:width + start].astype(np.float32)
    image = np.full(x.shape + (3,), 128.0, np.float32)
    for _ in range(6):
        wavelength, angle, phase = rng.uniform(8, 32), rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
        wave = np.sin(2 * np.pi * (np.cos(angle) * x + np.sin(angle) * y) / wavelength + phase)
        image += wave[..., None] * rng.uniform(10, 25, 3)
    bands = (np.arange(width + start) // 6) % 12
    columns = [slice(start - SHIFT_PX * t, start - SHIFT_PX * t + width) for t in range(length)]
    frames = np.stack([image[:, c] for c in columns]).clip(0, 255).round().astype(np.uint8)
    labels = np.stack([np.broadcast_to(bands[c], (height, width)) for c in columns]).astype(np.uint8)
    return frames, labels


def make_folder(root: Path, length: int, labelled=None, suffix: str = "") -> tuple[np.ndarray, np.ndarray]:
    frames, labels = texture(length)
    (root / "frames").mkdir()
    (root / "labels").mkdir()
    for t in range(length):
        write_png(root / "frames" / f"seq_f{t}.png", frames[t])
        if labelled is None or t in labelled:
            write_png(root / "labels" / f"seq_f{t}{suffix}.png", labels[t])
    return frames, labels


def test_round_trip_frames_labels_void_and_natural_order(tmp_path):
    frames, labels = make_folder(tmp_path, 12)
    clip = load_real_clip(tmp_path / "frames", tmp_path / "labels")
    assert clip.frames.shape == (12, H, W, 3) and clip.frames.dtype == np.uint8
    np.testing.assert_array_equal(clip.frames, frames)  # PNG is lossless; f10 after f9, not after f1
    assert clip.frame_sources[10].endswith("seq_f10.png") and clip.label_sources[2].endswith("seq_f2.png")
    expected = np.where(labels == 11, 255, labels)
    np.testing.assert_array_equal(clip.labels, expected)
    assert (clip.labels == 255).any() and clip.labels[clip.labels != 255].max() <= 10
    assert clip.labelled.all() and clip.class_names == CLASS_NAMES


def test_unlabelled_frames_get_ignore_labels(tmp_path):
    _, labels = make_folder(tmp_path, 5, labelled={1, 3})
    clip = load_real_clip(tmp_path / "frames", tmp_path / "labels", max_frames=4)
    assert clip.length == 4 and clip.labelled.tolist() == [False, True, False, True]
    assert (clip.labels[[0, 2]] == 255).all() and clip.label_sources[0] is None
    np.testing.assert_array_equal(clip.labels[3], np.where(labels[3] == 11, 255, labels[3]))
    assert clip.labelled_indices.tolist() == [1, 3]
    unlabelled = load_real_clip(tmp_path / "frames")
    assert not unlabelled.labelled.any() and (unlabelled.labels == 255).all()
    chunk = load_real_clip(tmp_path / "frames", tmp_path / "labels", first_frame=2, max_frames=1)
    assert chunk.length == 1 and not chunk.labelled.any()  # a chunk without labels is no error
    chunk = load_real_clip(tmp_path / "frames", tmp_path / "labels", first_frame=3)
    assert chunk.labelled.tolist() == [True, False] and chunk.frame_sources[0].endswith("seq_f3.png")


def test_colour_labels_with_suffix(tmp_path):
    frames, labels = texture(2)
    (tmp_path / "f").mkdir()
    (tmp_path / "l").mkdir()
    colours = np.concatenate([CAMVID_LABEL_COLORS, [(0, 0, 0)]]).astype(np.uint8)[labels]  # 11: void
    colours[:, 0, 0] = (1, 2, 3)  # a colour the 11-class map does not have
    for t in range(2):
        write_png(tmp_path / "f" / f"{t:03d}.png", frames[t])
        write_png(tmp_path / "l" / f"{t:03d}_L.png", colours[t])
    clip = load_real_clip(tmp_path / "f", tmp_path / "l", label_suffix="_L", label_format="color")
    expected = np.where(labels == 11, 255, labels)
    expected[:, 0, 0] = 255
    np.testing.assert_array_equal(clip.labels, expected)
    with pytest.raises(ValueError, match="label_format='color'"):
        read_label_image(tmp_path / "l" / "000_L.png")


def test_palette_labels_are_read_as_indices_and_jpeg_labels_refused(tmp_path):
    _, labels = texture(1)
    palette = np.zeros((256, 4), np.uint8)
    palette[:, 1], palette[:, 3] = np.arange(256)[::-1], 255  # colours unrelated to the indices
    with av.open(str(tmp_path / "p.png"), "w", format="image2") as container:
        stream = container.add_stream("png", rate=1)
        stream.height, stream.width, stream.pix_fmt = H, W, "pal8"
        frame = av.VideoFrame.from_ndarray((np.ascontiguousarray(labels[0]), palette), format="pal8")
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    expected = np.where(labels[0] == 11, 255, labels[0])
    np.testing.assert_array_equal(read_label_image(tmp_path / "p.png"), expected)
    with pytest.raises(ValueError, match="JPEG"):
        read_label_image(tmp_path / "label.jpg")


def test_resize_bilinear_frames_nearest_labels(tmp_path):
    frames, labels = make_folder(tmp_path, 2)
    clip = load_real_clip(tmp_path / "frames", tmp_path / "labels", size=(24, 32))
    assert clip.frames.shape == (2, 24, 32, 3) and clip.labels.shape == (2, 24, 32)
    np.testing.assert_array_equal(clip.labels, np.where(labels == 11, 255, labels)[:, 1::2, 1::2])
    box = frames.astype(np.float32).reshape(2, 24, 2, 32, 2, 3).mean((2, 4))  # 2x2 block averages
    assert np.abs(clip.frames.astype(np.float32) - box).mean() < 1.5  # antialiased bilinear ~ box
    flat = tmp_path / "flat"
    flat.mkdir()
    write_png(flat / "a.png", np.full((H, W, 3), (10, 200, 90), np.uint8))
    assert (load_real_clip(flat, size=(12, 16)).frames == (10, 200, 90)).all()
    grown = load_real_clip(tmp_path / "frames", size=(96, 128))
    assert grown.frames.shape == (2, 96, 128, 3)


def test_video_file_as_frame_source(tmp_path):
    from arseg_tutorial.codec import encode_video

    frames, labels = texture(6)
    encode_video(frames, tmp_path / "clip.mp4", crf=10)
    (tmp_path / "labels").mkdir()
    write_png(tmp_path / "labels" / "4.png", labels[4])
    clip = load_real_clip(tmp_path / "clip.mp4", tmp_path / "labels", max_frames=5)
    assert clip.frames.shape == (5, H, W, 3) and clip.labelled.tolist() == [False] * 4 + [True]
    assert np.abs(clip.frames.astype(int) - frames[:5]).mean() < 3  # H.264 at crf 10: nearly lossless
    assert clip.frame_sources[4].endswith("clip.mp4#4")
    chunk = load_real_clip(tmp_path / "clip.mp4", tmp_path / "labels", first_frame=3, max_frames=2)
    np.testing.assert_array_equal(chunk.frames, clip.frames[3:5])
    assert chunk.labelled.tolist() == [False, True]  # label files are named by absolute frame index


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_real_clip(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="no images"):
        load_real_clip(tmp_path / "empty")
    frames, labels = make_folder(tmp_path, 3)
    with pytest.raises(FileNotFoundError, match="labels folder"):
        load_real_clip(tmp_path / "frames", tmp_path / "no_labels")
    with pytest.raises(ValueError, match="label_suffix"):
        load_real_clip(tmp_path / "frames", tmp_path / "labels", label_suffix="_L")
    with pytest.raises(ValueError, match="even"):
        load_real_clip(tmp_path / "frames", size=(25, 32))

    bad = labels[1].copy()
    bad[0, :2] = (12, 40)
    write_png(tmp_path / "labels" / "seq_f1.png", bad)
    with pytest.raises(ValueError, match=r"seq_f1\.png.*values 12, 40"):
        load_real_clip(tmp_path / "frames", tmp_path / "labels")
    write_png(tmp_path / "labels" / "seq_f1.png", labels[1, :40])
    with pytest.raises(ValueError, match=r"seq_f1\.png.* is 40x64 but its frame"):
        load_real_clip(tmp_path / "frames", tmp_path / "labels")

    write_png(tmp_path / "frames" / "seq_f2.png", frames[2, :46])
    with pytest.raises(ValueError, match=r"seq_f2\.png.* is 46x64 .*one size"):
        load_real_clip(tmp_path / "frames")

    (tmp_path / "odd").mkdir()
    write_png(tmp_path / "odd" / "a.png", frames[0, :47, :63])
    with pytest.raises(ValueError, match=r"47x63.*size=\(46, 62\)"):
        load_real_clip(tmp_path / "odd")
    assert load_real_clip(tmp_path / "odd", size=(46, 62)).frame_size == (46, 62)


def test_gop_windows_place_each_labelled_frame_at_each_distance(tmp_path):
    make_folder(tmp_path, 14, labelled={11, 12})
    clip = load_real_clip(tmp_path / "frames", tmp_path / "labels")
    # frame 11 fits at d = 9, 10, 11 (starts 2, 1, 0); frame 12 at d = 10, 11 (starts 2, 1)
    assert gop_windows(clip, 12) == [(0, [11]), (1, [10, 11]), (2, [9, 10])]
    assert gop_windows(clip, 12, distances=[11]) == [(0, [11]), (1, [11])]
    assert gop_windows(clip, 12, protocol="consecutive") == [(0, [11])]
    with pytest.raises(ValueError, match="fewer than one GOP"):
        gop_windows(clip, 16)
    with pytest.raises(ValueError, match="no labelled frame can be scored"):
        encode_gops(load_real_clip(tmp_path / "frames", max_frames=12))  # nothing labelled


def test_chunks_overlap_so_that_each_window_is_in_exactly_one_chunk(tmp_path):
    make_folder(tmp_path, 20, labelled={3, 11, 12, 19})
    whole = load_real_clip(tmp_path / "frames", tmp_path / "labels")
    chunks = list(iter_real_clips(tmp_path / "frames", tmp_path / "labels", chunk_frames=14))
    offsets = [whole.frame_sources.index(c.frame_sources[0]) for c in chunks]
    assert offsets == [0, 3, 6] and [c.length for c in chunks] == [14, 14, 14]
    for chunk, offset in zip(chunks, offsets):
        np.testing.assert_array_equal(chunk.frames, whole.frames[offset:offset + chunk.length])
    pairs = [(offset + s, d) for c, offset in zip(chunks, offsets) for s, ds in gop_windows(c) for d in ds]
    assert sorted(pairs) == [(s, d) for s, ds in gop_windows(whole) for d in ds]  # no pair twice
    with pytest.raises(ValueError, match="chunk_frames"):
        next(iter_real_clips(tmp_path / "frames", chunk_frames=8))


def test_encoded_gops_have_keyframe_first_and_motion_vector_flow(tmp_path):
    make_folder(tmp_path, 13, labelled={11, 12})
    clip = load_real_clip(tmp_path / "frames", tmp_path / "labels")
    clips = encode_gops(clip, gop_length=12)
    assert clips.frames.shape == (2, 12, H, W, 3) and clips.flow_key.shape == (2, 12, H, W, 2)
    assert (clips.labels[0, :11] == 255).all() and (clips.labels[1, :10] == 255).all()
    np.testing.assert_array_equal(clips.labels[1, 11], clip.labels[12])
    assert (clips.packet_bytes[:, 0] > 2 * clips.packet_bytes[:, 1:].max(1)).all()  # the I-frame
    originals = np.stack([clip.frames[0:12], clip.frames[1:13]])  # windows start at frames 0 and 1
    assert np.abs(clips.frames.astype(int) - originals).mean() < 4  # decoded frames: close, lossy
    for d in (1, 6, 11):
        inner = clips.valid_key[0, d, 8:-8, 8 + SHIFT_PX * d:-8]
        flow = clips.flow_key[0, d, 8:-8, 8 + SHIFT_PX * d:-8][inner]
        np.testing.assert_allclose(np.median(flow, 0), (-SHIFT_PX * d, 0), atol=0.5)


def test_evaluate_real_matches_evaluate_by_distance_and_runs_a_model(tmp_path):
    make_folder(tmp_path, 13)
    clip = load_real_clip(tmp_path / "frames", tmp_path / "labels")

    def brightness(frames, flows):  # a deterministic "segmenter" that depends on the decoded frames
        return frames.mean(-1).astype(np.int64) * 11 // 256

    streamed = evaluate_real(brightness, clip)
    clips = encode_gops(clip)
    pooled = evaluate_by_distance(brightness, clips.frames, clips.labels, clips.flow_key, CLASS_NAMES)
    assert len(streamed.per_distance) == 12
    np.testing.assert_allclose(streamed.per_distance, pooled.per_distance)
    assert streamed.frames == 2 * 12 and pooled.frames == 2 * 12
    twice = evaluate_real(brightness, (c for c in [clip, clip]))  # pooled over clips, streamed
    np.testing.assert_allclose(twice.per_distance, streamed.per_distance)
    assert twice.frames == 4 * 12
    chunked = evaluate_real(brightness, iter_real_clips(tmp_path / "frames", tmp_path / "labels",
                                                        chunk_frames=12))
    np.testing.assert_allclose(chunked.per_distance, streamed.per_distance)
    assert chunked.frames == streamed.frames

    from arseg_tutorial.models import build_model

    torch.manual_seed(0)
    hr = build_model("bisenet18", len(CLASS_NAMES), width=0.125)
    lr = build_model("bisenet18", len(CLASS_NAMES), width=0.125)
    lr.add_creff()
    report = evaluate_real(make_segmenter("arseg", hr, lr, 0.5), clip, gmacs_per_frame=0.01)
    assert len(report.per_distance) == 12 and all(0.0 <= m <= 100.0 for m in report.per_distance)
    assert report.gmacs_per_frame == 0.01


def test_evaluate_real_says_which_distances_lack_labels(tmp_path):
    make_folder(tmp_path, 12, labelled={0, 11})
    clip = load_real_clip(tmp_path / "frames", tmp_path / "labels")
    with pytest.raises(ValueError, match=r"distance\(s\) \[1, 2, 3, 4, 5, 6, 7, 8, 9, 10\]"):
        evaluate_real(lambda f, g: np.zeros(f.shape[:3], np.int64), clip)


def test_real_footage_lives_in_realdata_only():
    """The generator's package holds no real-footage names (no shim re-exporting moved names)."""
    import arseg_tutorial.scenes as scenes

    for name in ("RealClip", "load_real_clip", "iter_real_clips", "encode_gops", "evaluate_real"):
        assert not hasattr(scenes, name), name
    with pytest.raises(ImportError):
        from arseg_tutorial.scenes import load_real_clip  # noqa: F401


def test_real_footage_modules_import_nothing_above_them():
    """realdata.load reads files: it must not pull in evaluation or training code."""
    import subprocess
    import sys

    code = ("import sys, arseg_tutorial.realdata.load; "
            "print(sorted(m for m in sys.modules if m.startswith(('arseg_tutorial.evaluate', "
            "'arseg_tutorial.train', 'arseg_tutorial.models'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_sample_video_is_real_h264_street_footage():
    from arseg_tutorial.codec import read_video
    from arseg_tutorial.realdata import BIKES_SHOT_STARTS, sample_video

    clip = load_real_clip(sample_video("bikes"), first_frame=BIKES_SHOT_STARTS[3], max_frames=3)
    assert clip.frames.shape == (3, 272, 640, 3) and not clip.labelled.any()
    assert read_video(sample_video("carphone"), motion_vectors=False).size == (144, 176)


def test_sample_video_explains_what_is_missing(monkeypatch):
    from importlib import metadata

    from arseg_tutorial.realdata import samples

    with pytest.raises(ValueError, match="bikes"):
        samples.sample_video("akiyo")

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(samples.metadata, "distribution", missing)
    with pytest.raises(FileNotFoundError, match="make setup"):
        samples.sample_video("bikes")
