"""The codec explorers' pure cores and the codec figures."""
from __future__ import annotations

import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from arseg_tutorial.codec import encode_to_bytes, read_video  # noqa: E402
from arseg_tutorial.codec.quality import transfer_by_distance  # noqa: E402
from arseg_tutorial.scenes import NUM_CLASSES, generate_clip  # noqa: E402
from arseg_tutorial.viz.codec import plot_decode_order, plot_gop_summary  # noqa: E402
from arseg_tutorial.widgets.codec import (SCRUBBER_OVERLAYS, frame_scrubber_state,  # noqa: E402
                                          frame_scrubber_update, gop_explorer_state,
                                          gop_explorer_update)


@pytest.fixture(scope="module")
def clip(codec_clip):
    return codec_clip


@pytest.fixture(scope="module")
def video(codec_video):
    return codec_video


def test_gop_explorer_state_follows_the_settings(clip):
    p_only = gop_explorer_state(clip.frames, gop_length=6, bframes=0)
    assert p_only["frame_types"] == "IPPPPP" * 2
    with_b = gop_explorer_state(clip.frames, gop_length=6, bframes=1)
    assert with_b["frame_types"] == "IBPBPP" * 2 and with_b["bframes"] == 1
    limited = gop_explorer_state(clip.frames, gop_length=3, bframes=3)
    assert limited["bframes"] == 1 and limited["frame_types"] == "IBP" * 4
    intra = gop_explorer_state(clip.frames, gop_length=1)
    assert intra["frame_types"] == "I" * 12
    # fewer I-frames -> a smaller file than all-intra
    assert p_only["file_bytes"] < 0.7 * p_only["intra_only_bytes"]
    assert intra["file_bytes"] == intra["intra_only_bytes"]


def test_gop_explorer_figure(clip):
    fig = gop_explorer_update(clip.frames, gop_length=12, bframes=2)
    assert "GOP length 12, 2 B-frames" in fig._suptitle.get_text()
    assert "kB" in fig.axes[-1].get_title()
    plt.close(fig)


def test_scrubber_state_is_consistent(video, clip):
    key_state = frame_scrubber_state(video, clip, 0)
    assert not key_state["chained_flow"].any() and key_state["chained_valid"].all()
    np.testing.assert_array_equal(key_state["warped_labels"], clip.labels[0])
    state = frame_scrubber_state(video, clip, 11)
    assert state["mean_error_px"] < 3.0
    assert np.isnan(state["error_px"][~state["chained_valid"]]).all()
    with pytest.raises(ValueError, match="outside the video"):
        frame_scrubber_state(video, clip, 12)


@pytest.mark.parametrize("overlay", SCRUBBER_OVERLAYS)
def test_scrubber_draws_every_overlay(video, clip, overlay):
    fig = frame_scrubber_update(video, clip, t=5, overlay=overlay)
    assert "d = 5" in fig._suptitle.get_text()
    plt.close(fig)
    with pytest.raises(ValueError, match="overlay must be one of"):
        frame_scrubber_update(video, clip, t=5, overlay="sparkles")


def test_transfer_by_distance_curves(video, clip):
    curves = transfer_by_distance(video, clip, NUM_CLASSES)
    assert list(curves["distance"]) == list(range(12))
    assert curves["miou_copy"][0] == curves["miou_vectors"][0] == 1.0
    assert curves["epe_vectors_px"][0] == 0.0
    assert curves["miou_vectors"][11] > curves["miou_copy"][11]
    assert np.all(np.diff(curves["valid_fraction"]) <= 1e-9)  # chains only lose validity


def test_codec_figures_have_titles_and_labels(video):
    fig = plot_gop_summary(video.frame_types, video.packet_sizes, "summary")
    assert all(ax.get_xlabel() for ax in fig.axes)
    plt.close(fig)
    b_video = read_video(encode_to_bytes(video.frames, gop=12, bframes=2))
    fig = plot_decode_order(b_video.frame_types, b_video.decode_order)
    assert fig.axes[0].get_title() == "display order vs decode order"
    plt.close(fig)
