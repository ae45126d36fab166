"""Real-data folders that would load wrong: a frame number used twice, index labels read as
colours, a size given as (width, height), nonsense GOP lengths. Each is named when loading."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from test_real_data import H, W, make_folder, texture, write_png

from arseg_tutorial.realdata import (evaluate_real, gop_windows, iter_real_clips, load_real_clip,
                                     read_label_image)
from arseg_tutorial.realdata.load import CAMVID_LABEL_COLORS


def test_two_files_with_one_frame_number_are_refused_naming_both(tmp_path):
    frames, _ = make_folder(tmp_path, 5)
    write_png(tmp_path / "frames" / "seq_f3.jpg", frames[3])   # PyAV writes PNG bytes; the name counts
    with pytest.raises(ValueError, match=r"seq_f3\.jpg.*seq_f3\.png|seq_f3\.png.*seq_f3\.jpg"):
        load_real_clip(tmp_path / "frames")
    (tmp_path / "frames" / "seq_f3.jpg").unlink()
    write_png(tmp_path / "frames" / "seq_f03.png", frames[3])  # the same number, written another way
    with pytest.raises(ValueError, match=r"seq_f03\.png.*seq_f3\.png|seq_f3\.png.*seq_f03\.png"):
        load_real_clip(tmp_path / "frames")
    (tmp_path / "frames" / "seq_f03.png").unlink()
    assert load_real_clip(tmp_path / "frames").length == 5


def test_index_labels_read_as_colours_say_which_format_they_are(tmp_path):
    make_folder(tmp_path, 2)                                    # grey index labels
    with pytest.raises(ValueError, match=r"seq_f0\.png.*class indices.*label_format='index'"):
        load_real_clip(tmp_path / "frames", tmp_path / "labels", label_format="color")
    _, labels = texture(1)
    as_rgb = write_png(tmp_path / "rgb_index.png", np.repeat(labels[0][..., None], 3, axis=2))
    with pytest.raises(ValueError, match=r"rgb_index\.png.*class indices.*label_format='index'"):
        read_label_image(as_rgb, label_format="color")
    other = np.zeros((H, W, 3), np.uint8)
    other[:, : W // 4] = CAMVID_LABEL_COLORS[3]                 # a quarter road, the rest another map's
    other[:, W // 4:] = (250, 170, 30)
    with pytest.raises(ValueError, match=r"75% of .*other\.png.*\(250, 170, 30\).*CAMVID_LABEL_COLORS"):
        read_label_image(write_png(tmp_path / "other.png", other), label_format="color")
    void = np.zeros((H, W, 3), np.uint8)                        # mostly void (black) is a valid label,
    void[:4] = CAMVID_LABEL_COLORS[3]
    assert (read_label_image(write_png(tmp_path / "void.png", void), label_format="color")[:4] == 3).all()
    void[:4] = CAMVID_LABEL_COLORS[0]                           # and so is sky and void only (both grey)
    assert (read_label_image(write_png(tmp_path / "sky.png", void), label_format="color")[:4] == 0).all()


def test_a_size_that_changes_the_aspect_ratio_warns_about_the_order(tmp_path):
    make_folder(tmp_path, 1)                                    # frames are 48x64 (H x W)
    with pytest.warns(UserWarning, match=r"size=\(64, 48\) is \(height, width\).*48x64.*size=\(48, 64\)"):
        clip = load_real_clip(tmp_path / "frames", size=(64, 48))
    assert clip.frame_size == (64, 48)                          # done as asked, but not silently
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_real_clip(tmp_path / "frames", size=(24, 32)).frame_size == (24, 32)
        assert load_real_clip(tmp_path / "frames", size=(46, 62)).frame_size == (46, 62)  # 1.1 %


@pytest.mark.parametrize("gop_length", [0, -3, 2.5])
def test_nonsense_gop_lengths_are_refused(tmp_path, gop_length):
    make_folder(tmp_path, 12)
    clip = load_real_clip(tmp_path / "frames", tmp_path / "labels")
    segment = lambda frames, flows: np.zeros(frames.shape[:3], np.uint8)  # noqa: E731
    with pytest.raises(ValueError, match=f"gop_length must be an int >= 1.*{gop_length}"):
        evaluate_real(segment, clip, gop_length=gop_length)
    with pytest.raises(ValueError, match="gop_length must be an int >= 1"):
        evaluate_real(segment, iter([clip]), gop_length=gop_length)
    with pytest.raises(ValueError, match="gop_length must be an int >= 1"):
        gop_windows(clip, gop_length)
    with pytest.raises(ValueError, match="gop_length must be an int >= 1"):
        next(iter_real_clips(tmp_path / "frames", gop_length=gop_length))


def test_distances_outside_the_gop_are_refused(tmp_path):
    make_folder(tmp_path, 12)
    clip = load_real_clip(tmp_path / "frames", tmp_path / "labels")
    with pytest.raises(ValueError, match=r"distances must lie in 0\.\.11, got \[12\]"):
        gop_windows(clip, 12, distances=[12])
