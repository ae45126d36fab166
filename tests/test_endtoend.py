"""Notebook 07's end-to-end run: a multi-GOP video through AR-Seg and per-frame HR, overlay video,
all of it streamed (memory that does not grow with the video)."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from arseg_tutorial import codec
from arseg_tutorial.endtoend import (FRAME_TYPE_RGB, MP4Writer, compare_on_video, make_test_video,
                                     overlay_frame, write_mp4)
from arseg_tutorial.evaluate import confusion_matrix, mean_iou
from arseg_tutorial.models import build_model
from arseg_tutorial.player import STAGES, ARSegPlayer, HRPlayer, inference_networks
from arseg_tutorial.scenes import NUM_CLASSES, generate_clip
from arseg_tutorial.viz import colorize_labels

GOP = 4


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def video(two_gop_video):
    return two_gop_video(970_001, GOP)


@pytest.fixture(scope="module")
def networks(tiny_networks):
    hr, lr = tiny_networks
    lr.add_creff()
    lr.classifier.load_state_dict(hr.classifier.state_dict())     # as in a shipped AR-Seg checkpoint
    return hr, lr.eval()


@pytest.fixture(scope="module")
def overlay_path(tmp_path_factory):
    return tmp_path_factory.mktemp("overlay") / "overlay.mp4"


@pytest.fixture(scope="module")
def comparison(video, networks, overlay_path):
    return compare_on_video(video, *networks, lr_scale=0.5, progress=False, warp_only=True,
                            keep=(0, 1, 5), overlay_path=overlay_path)


@pytest.fixture(scope="module")
def played(video, networks):
    """Each player run alone over the whole video, as ``compare_on_video`` runs them (AR-Seg's
    P-frames decoded at the LR size): method -> (N, H, W) labels, and the HR player's frames."""
    hr, arseg = inference_networks(*networks, 0.5)
    out = {}
    for method, player in (("hr", HRPlayer(video.path, hr)),
                           ("arseg", ARSegPlayer(video.path, arseg, lr_decode=True)),
                           ("warp", ARSegPlayer(video.path, arseg, warp_only=True, lr_decode=True))):
        with torch.inference_mode():
            steps = [player.step() for _ in range(video.num_frames)]
        out[method] = np.stack([labels for _, labels in steps])
        if method == "hr":
            out["frames"] = np.stack([frame.image for frame, _ in steps])
    return out


def test_test_video_has_one_i_frame_per_gop_and_its_labels_on_disk(video):
    decoded = codec.read_video(video.path)
    assert decoded.frame_types == "IPPP" * 2
    labels = video.labels
    assert isinstance(labels, np.memmap) and not labels.flags.writeable and labels.shape == (8, 120, 160)
    np.testing.assert_array_equal(labels, generate_clip(970_001, 8, 120, 160).labels)
    np.testing.assert_array_equal(np.stack(list(video.iter_labels())), labels)
    assert video.labels_path.parent == video.path.parent and video.labels_path.suffix == ".npy"


def test_make_test_video_rebuilds_the_same_bytes_and_an_old_map_stays_readable(video, tmp_path):
    path = tmp_path / "again.mp4"
    first = make_test_video(970_001, num_gops=2, height=120, width=160, gop_length=GOP, path=path)
    old_map, old_bytes = first.labels, path.read_bytes()
    second = make_test_video(970_001, num_gops=2, height=120, width=160, gop_length=GOP, path=path)
    assert second == first and path.read_bytes() == old_bytes == video.path.read_bytes()
    assert second.labels_path.read_bytes() == video.labels_path.read_bytes()
    np.testing.assert_array_equal(old_map, second.labels)     # the replaced file is still mapped
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.labels.npy", "again.mp4"]


def test_an_interrupted_make_test_video_leaves_no_file(tmp_path, monkeypatch):
    from arseg_tutorial import scenes

    def failing(*args, real=scenes.iter_clip, **kwargs):
        yield from real(*args, **kwargs)
        raise KeyboardInterrupt                                # after the last frame, before the end

    monkeypatch.setattr(scenes, "iter_clip", failing)
    with pytest.raises(KeyboardInterrupt):
        make_test_video(970_001, num_gops=1, height=120, width=160, gop_length=GOP, path=tmp_path / "v.mp4")
    assert list(tmp_path.iterdir()) == []


def test_arseg_uses_hr_on_i_frames_and_the_players_labels(video, comparison, played):
    assert comparison.frame_types == "IPPPIPPP" and comparison.methods == ("hr", "arseg", "warp")
    np.testing.assert_array_equal(comparison.arseg_equals_hr,
                                  [np.array_equal(a, b) for a, b in zip(played["hr"], played["arseg"])])
    assert comparison.arseg_equals_hr[[0, 4]].all() and not comparison.arseg_equals_hr.all()
    assert sorted(comparison.kept) == [0, 1, 5]
    for t, kept in comparison.kept.items():
        np.testing.assert_array_equal(kept.image, played["frames"][t])
        np.testing.assert_array_equal(kept.labels, video.labels[t])
        assert kept.frame_type == comparison.frame_types[t]
        for method in ("hr", "arseg", "warp"):
            np.testing.assert_array_equal(kept.predictions[method], played[method][t])
    assert set(comparison.stages["arseg"]) == set(STAGES) and comparison.stages["arseg"]["creff"] > 0


def test_default_keep_and_bad_keep(video, networks):
    result = compare_on_video(video, *networks, lr_scale=0.5, progress=False)
    assert sorted(result.kept) == [0, GOP // 2, GOP - 1] and result.overlay_path is None
    assert result.methods == ("hr", "arseg")
    with pytest.raises(ValueError, match="keep"):
        compare_on_video(video, *networks, lr_scale=0.5, progress=False, keep=(8,))


def test_an_lr_branch_keeps_its_own_trained_classifier(video, networks):
    hr, _ = networks
    lr = build_model("bisenet18", NUM_CLASSES, width=0.125)
    lr.add_creff()
    before = lr.classifier.weight.detach().clone()
    compare_on_video(video, hr, lr.eval(), lr_scale=0.5, progress=False, keep=())
    assert torch.equal(lr.classifier.weight, before) and not torch.equal(before, hr.classifier.weight)


def test_per_frame_scores_and_times(video, comparison, played):
    assert set(comparison.summary()) >= {"warp_miou", "warp_total_ms", "speedup_total"}
    for method in ("hr", "arseg", "warp"):
        expected = [mean_iou(confusion_matrix(p, l, NUM_CLASSES)) for p, l in zip(played[method], video.labels)]
        np.testing.assert_allclose(comparison.miou[method], expected)
        assert (comparison.network_ms[method] > 0).all() and (comparison.decode_ms[method] > 0).all()
        assert comparison.network_ms[method].shape == (8,)
    summary = comparison.summary()
    assert summary["speedup_total"] == pytest.approx(
        comparison.total_ms("hr").mean() / comparison.total_ms("arseg").mean())
    assert summary["arseg_miou"] == pytest.approx(comparison.miou["arseg"].mean())


def test_overlay_frame_panels_strip_and_alpha(comparison):
    kept = comparison.kept[1]
    panels = [kept.labels, kept.predictions["hr"], kept.predictions["arseg"]]
    frame = overlay_frame(kept.image, panels, "P", alpha=1.0, strip_px=4, gap_px=2)
    assert frame.shape == (4 + 120, 3 * 160 + 4, 3)
    np.testing.assert_array_equal(frame[4:, :160], colorize_labels(kept.labels))
    np.testing.assert_array_equal(frame[4:, -160:], colorize_labels(kept.predictions["arseg"]))
    assert (frame[4:, 160:162] == 255).all() and tuple(frame[0, 0]) == FRAME_TYPE_RGB["P"]
    plain = kept.overlay(alpha=0.0)
    np.testing.assert_array_equal(plain[6:, 162:322], kept.image)
    assert tuple(comparison.kept[0].overlay()[0, 0]) == FRAME_TYPE_RGB["I"]
    with pytest.raises(ValueError, match="alpha"):
        overlay_frame(kept.image, panels, "P", alpha=2.0)
    with pytest.raises(ValueError, match="frame's size"):
        overlay_frame(kept.image, [kept.labels[:, :10]], "P")


def test_the_overlay_video_holds_every_frame(comparison, overlay_path):
    assert comparison.overlay_path == overlay_path
    back = codec.read_video(overlay_path, motion_vectors=False)
    assert back.codec == "h264" and back.frames.shape == (8, 126, 484, 3)
    for t, kept in comparison.kept.items():
        assert np.abs(back.frames[t].astype(int) - kept.overlay()).mean() < 6
    assert not list(overlay_path.parent.glob(".*"))             # no temporary file left behind


def test_write_mp4_round_trip_pads_odd_sizes(tmp_path):
    rng = np.random.default_rng(0)
    frames = np.repeat(rng.integers(0, 255, (3, 1, 1, 3), dtype=np.uint8), 33 * 45, 1).reshape(3, 33, 45, 3)
    path = write_mp4(frames, tmp_path / "x.mp4", fps=5, crf=10)
    back = codec.read_video(path, motion_vectors=False)
    assert back.codec == "h264" and back.frames.shape == (3, 34, 46, 3)
    assert np.abs(back.frames[:, :32, :44].astype(int) - frames[:, :32, :44]).mean() < 4
    assert [p.name for p in tmp_path.iterdir()] == ["x.mp4"]     # no temporary file left behind
    with pytest.raises(ValueError, match="uint8"):
        write_mp4(frames.astype(np.float32), tmp_path / "y.mp4")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_mp4(frames, tmp_path / "missing" / "y.mp4")


def test_an_interrupted_or_empty_mp4_writer_leaves_no_file(tmp_path):
    frame = np.zeros((32, 48, 3), np.uint8)
    with pytest.raises(KeyboardInterrupt), MP4Writer(tmp_path / "cut.mp4") as writer:
        writer.write(frame)
        raise KeyboardInterrupt
    with pytest.raises(ValueError, match="one size"), MP4Writer(tmp_path / "sizes.mp4") as writer:
        writer.write(frame)
        writer.write(frame[:16])
    with pytest.raises(ValueError, match="no frames"), MP4Writer(tmp_path / "empty.mp4"):
        pass
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError, match="with block"):
        MP4Writer(tmp_path / "x.mp4").write(frame)


MEMORY_SCRIPT = textwrap.dedent("""
    import sys, tempfile
    from pathlib import Path
    import torch
    from arseg_tutorial.endtoend import compare_on_video, make_test_video
    from arseg_tutorial.models import build_model
    from arseg_tutorial.scenes import NUM_CLASSES

    torch.set_num_threads(1)
    torch.manual_seed(0)
    hr = build_model("bisenet18", NUM_CLASSES, width=0.125).eval()
    lr = build_model("bisenet18", NUM_CLASSES, width=0.125)
    lr.add_creff()
    folder = Path(tempfile.mkdtemp())
    video = make_test_video(970_002, int(sys.argv[1]), 120, 160, 4, path=folder / "v.mp4")
    compare_on_video(video, hr, lr.eval(), 0.5, progress=False, overlay_path=folder / "o.mp4")
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    print(int(status["VmHWM"].split()[0]) / 1024)
""")
MEMORY_MARGIN_MIB = 10.0
"""How much higher a 4x longer video may peak. Measured here: +5 to +6 MiB for 48 more 120x160
frames, the ARSeg player's heap settling (its allocator's growth levels off after a few hundred
frames; nothing is kept); the implementation this replaced, which held the frames, the label
maps and the overlay video, peaked 65 to 85 MiB higher."""


def _peak_rss_mib(num_gops: int) -> float:
    out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(num_gops)], capture_output=True,
                         text=True, check=True)
    return float(out.stdout.split()[-1])


def test_memory_does_not_grow_with_the_length_of_the_video():
    short, long = _peak_rss_mib(4), _peak_rss_mib(16)          # 16 and 64 frames of 120x160
    assert long - short < MEMORY_MARGIN_MIB, f"peak RSS {short:.1f} MiB for 16 frames, {long:.1f} MiB for 64"
