"""Shared figure helpers (arseg_tutorial.viz) and the widget pattern + clip player (arseg_tutorial.widgets)."""
from __future__ import annotations

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from arseg_tutorial.scenes import CLASS_NAMES, IGNORE_LABEL, PALETTE, generate_clip  # noqa: E402
from arseg_tutorial.viz import (add_class_legend, colorize_labels, flow_to_rgb, plot_clip_overview,  # noqa: E402
                                show_images)
from arseg_tutorial.widgets import CLIP_PANELS, clip_player, clip_player_update  # noqa: E402


@pytest.fixture(scope="module")
def clip():
    return generate_clip(4, length=4, height=120, width=160)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_colorize_labels_uses_palette_and_black_ignore():
    labels = np.array([[0, 3, 10], [IGNORE_LABEL, 8, 1]], np.uint8)
    rgb = colorize_labels(labels)
    assert rgb.shape == (2, 3, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[0, 1], PALETTE[3])
    np.testing.assert_array_equal(rgb[0, 2], PALETTE[10])
    np.testing.assert_array_equal(rgb[1, 0], [0, 0, 0])
    assert colorize_labels(np.zeros((2, 4, 5), np.int64)).shape == (2, 4, 5, 3)


@pytest.mark.parametrize("bad", [np.zeros((2, 2), np.float32), np.full((2, 2), 11), np.full((2, 2), -1)])
def test_colorize_labels_rejects_bad_input(bad):
    with pytest.raises(ValueError, match="labels"):
        colorize_labels(bad)


def test_flow_to_rgb_colour_wheel():
    flow = np.zeros((1, 5, 2), np.float32)
    flow[0, 1] = (4, 0)
    flow[0, 2] = (-4, 0)
    flow[0, 3] = (0, 4)
    flow[0, 4] = (2, 0)
    rgb = flow_to_rgb(flow, max_magnitude=4).astype(int)
    np.testing.assert_array_equal(rgb[0, 0], [255, 255, 255])
    assert len({tuple(c) for c in rgb[0, 1:4]}) == 3, "different directions, different hues"
    assert np.all(rgb[0, 4] >= rgb[0, 1]), "smaller motion is paler"
    assert rgb[0, 1, 0] == 255 and rgb[0, 1, 1] < 60, "Middlebury wheel: motion along +x is red"
    with pytest.raises(ValueError, match="dx, dy"):
        flow_to_rgb(np.zeros((3, 3, 3)))


def test_show_images_small_multiples_and_legend():
    images = [np.zeros((6, 8, 3), np.uint8)] * 5
    fig, axes = show_images(images, [f"image {i}" for i in range(5)], ncols=3, suptitle="demo")
    assert axes.shape == (2, 3)
    assert axes[0, 0].get_title() == "image 0" and axes[1, 0].get_xlabel() == "x (px)"
    assert axes[0, 0].get_ylabel() == "y (px)" and not axes[1, 2].axison
    legend = add_class_legend(axes[0, 0])
    assert [t.get_text() for t in legend.get_texts()] == list(CLASS_NAMES) + ["ignore (255)"]
    fig_legend = add_class_legend(fig, classes=[0, 8], ignore=False)
    assert [t.get_text() for t in fig_legend.get_texts()] == ["Sky", "Car"]


def test_plot_clip_overview(clip):
    fig = plot_clip_overview(clip, times=[0, 3])
    titles = [ax.get_title() for ax in fig.axes]
    assert "frame, t = 3" in titles and "flow to frame 0, t = 3" in titles and "labels, t = 0" in titles


def test_clip_player_update_draws_the_requested_frame(clip):
    fig = clip_player_update(clip, t=2)
    image_axes = [ax for ax in fig.axes if ax.images and ax.get_title() != "flow key"]
    assert len(image_axes) == len(CLIP_PANELS)
    assert [ax.get_title() for ax in fig.axes][-1] == "flow key"
    np.testing.assert_array_equal(image_axes[0].images[0].get_array(), clip.frames[2])
    np.testing.assert_array_equal(image_axes[1].images[0].get_array(), colorize_labels(clip.labels[2]))
    fig = clip_player_update(clip, t=0, panels=("labels",))
    assert len([ax for ax in fig.axes if ax.images]) == 1          # no flow panel, no flow key
    fig = clip_player_update(clip, t=0, panels=("flow to previous",))
    assert "no\nprevious frame" in fig.axes[0].texts[0].get_text()


def test_clip_player_update_rejects_bad_parameters(clip):
    with pytest.raises(ValueError, match="0 <= t <= 3"):
        clip_player_update(clip, t=4)
    with pytest.raises(ValueError, match="panels"):
        clip_player_update(clip, t=0, panels=("depth",))


def test_clip_player_face_has_a_frame_slider(clip):
    box = clip_player(clip)
    slider = box.children[0].children[0]
    assert (slider.min, slider.max, slider.value) == (0, 3, 0)
    slider.value = 3


def test_clip_player_view_updates_in_place_to_what_a_fresh_figure_shows(clip):
    from arseg_tutorial.widgets import ClipPlayerView

    view = ClipPlayerView(clip)
    figure = view.figure
    for t in (3, 1):
        png = view.render_png(t)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and view.figure is figure
        fresh = clip_player_update(clip, t=t)
        for mine, reference in zip(view.axes, [ax for ax in fresh.axes if ax.images]):
            np.testing.assert_array_equal(mine.images[0].get_array(), reference.images[0].get_array())
            assert mine.get_title() == reference.get_title()
        assert figure._suptitle.get_text() == fresh._suptitle.get_text()
    with pytest.raises(ValueError, match="0 <= t <= 3"):
        view.render_png(4)
