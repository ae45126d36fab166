"""The live explorer views: the same pictures as the static figures, cached states equal to fresh
ones, blitting equal to a full draw, and a busy sign while slow work runs."""
from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

from arseg_tutorial.codec import encode_to_bytes, read_video  # noqa: E402
from arseg_tutorial.widgets import ClipPlayerView  # noqa: E402
from arseg_tutorial.widgets import codec as codec_widgets  # noqa: E402
from arseg_tutorial.widgets.codec import (SCRUBBER_OVERLAYS, FrameScrubberView, GopExplorerView,  # noqa: E402
                                          frame_scrubber_state, frame_scrubber_update, gop_explorer,
                                          gop_explorer_update)
from arseg_tutorial.widgets.live import BUSY_PREFIX, live_face  # noqa: E402
from arseg_tutorial.widgets.resolution import ResolutionExplorer, ResolutionLiveView  # noqa: E402


def assert_blit_is_a_full_draw(view, **state):
    """The PNG of the blitted state equals a full draw of the same figure (up to a few edge pixels)."""
    blitted = np.asarray(Image.open(io.BytesIO(view.render_png(**state))))
    view.figure.canvas.draw()
    full = np.asarray(view.figure.canvas.buffer_rgba())[..., :3]
    assert blitted.shape == full.shape
    assert (np.abs(blitted.astype(int) - full).max(-1) > 0).sum() <= 8


def same_images(mine, fresh):
    for a, b in zip(mine.images, fresh.images, strict=True):
        np.testing.assert_array_equal(np.ma.getdata(a.get_array()), np.ma.getdata(b.get_array()))
        np.testing.assert_array_equal(np.ma.getmaskarray(a.get_array()), np.ma.getmaskarray(b.get_array()))


def test_clip_player_view_blits_what_a_full_draw_shows(codec_clip):
    view = ClipPlayerView(codec_clip)
    view.render_png(t=5)
    assert_blit_is_a_full_draw(view, t=0)      # frame 0 shows the "no previous frame" note
    assert_blit_is_a_full_draw(view, t=3)


def test_gop_view_after_other_settings_shows_the_static_figure(codec_clip):
    view = GopExplorerView(codec_clip.frames, 12, 0)
    for setting in ((6, 0), (12, 2)):
        view.render_png(gop_length=setting[0], bframes=setting[1])
    view.set_state(gop_length=4, bframes=1)
    fresh = gop_explorer_update(codec_clip.frames, 4, 1)
    for mine, theirs in zip(view.figure.axes, fresh.axes, strict=True):
        assert [p.get_facecolor() for p in mine.patches] == [p.get_facecolor() for p in theirs.patches]
        assert [p.get_height() for p in mine.patches] == [p.get_height() for p in theirs.patches]
        assert [t.get_text() for t in mine.texts] == [t.get_text() for t in theirs.texts]
        assert mine.get_title() == theirs.get_title()
        assert mine.get_ylim() == pytest.approx(theirs.get_ylim())
        legends = [ax.get_legend() for ax in (mine, theirs)]
        assert [[t.get_text() for t in legend.get_texts()] if legend else None for legend in legends[:1]] == \
            [[t.get_text() for t in legend.get_texts()] if legend else None for legend in legends[1:]]
    assert "B" in "".join(t.get_text() for t in view.strip.texts)
    assert view.figure._suptitle.get_text() == fresh._suptitle.get_text()
    plt.close(fresh)
    assert_blit_is_a_full_draw(view, gop_length=12, bframes=0)


def test_gop_view_encodes_once_says_so_first_and_equals_a_fresh_encode(codec_clip):
    frames = codec_clip.frames[:8]
    view = GopExplorerView(frames, 4, 0)
    assert view.pending(gop_length=5, bframes=1) == "encoding the clip with GOP length 5, 1 B-frames"
    cached = view.state(5, 1)
    assert view.pending(gop_length=5, bframes=1) is None and view.state(5, 1) is cached
    fresh = read_video(encode_to_bytes(frames, gop=5, bframes=1), motion_vectors=False)
    assert cached["frame_types"] == fresh.frame_types
    np.testing.assert_array_equal(cached["packet_sizes"], fresh.packet_sizes)   # same bytes


def test_busy_sign_shows_while_a_new_setting_is_encoded_and_clears(codec_clip):
    face = gop_explorer(codec_clip.frames[:10])
    controls, busy = face.children[0].children[:2], face.children[0].children[2]
    image = face.children[1]
    seen = []
    image.observe(lambda change: seen.append(busy.value), names="value")   # the sign as the image arrives
    before = image.value
    controls[0].value = 7                     # a GOP length not encoded yet
    assert seen == [BUSY_PREFIX + "encoding the clip with GOP length 7, 0 B-frames"]
    assert busy.value == "" and image.value != before
    controls[0].value = 12                    # encoded when the face was made: no sign
    assert seen[-1] == "" and busy.value == ""


def test_live_face_clears_the_busy_sign_when_drawing_fails():
    import ipywidgets as widgets

    def render_png(x: int) -> bytes:
        if x == 2:
            raise RuntimeError("boom")
        return b"png"

    slider = widgets.IntSlider(value=1)
    face = live_face(render_png, {"x": slider}, pending=lambda x: "slow")
    with pytest.raises(RuntimeError):
        slider.value = 2
    assert face.children[0].children[1].value == ""


@pytest.mark.parametrize("overlay", [SCRUBBER_OVERLAYS[0], SCRUBBER_OVERLAYS[1]])
def test_scrubber_view_after_other_frames_shows_the_static_figure(codec_video, codec_clip, overlay):
    scrubber = FrameScrubberView(codec_video, codec_clip)
    assert scrubber.pending(t=3, overlay=overlay) == f"drawing the overlay '{overlay}'"
    for t in (3, 7):
        scrubber.render_png(t=t, overlay=overlay)
    assert scrubber.pending(t=11, overlay=overlay) is None
    view = scrubber.figures[overlay]
    view.set_state(t=11)
    fresh = frame_scrubber_update(codec_video, codec_clip, 11, overlay)
    for mine, theirs in zip(view.figure.axes[:2], fresh.axes[:2]):
        same_images(mine, theirs)
        assert mine.get_title() == theirs.get_title()
    mine_lines, mine_arrows = view.left.collections
    theirs_lines, theirs_arrows = fresh.axes[0].collections
    assert len(mine_lines.get_segments()) == len(theirs_lines.get_segments())
    np.testing.assert_allclose(np.concatenate(mine_lines.get_segments()), np.concatenate(theirs_lines.get_segments()))
    np.testing.assert_allclose(mine_arrows.get_offsets(), theirs_arrows.get_offsets())
    np.testing.assert_allclose(mine_arrows.U, theirs_arrows.U)
    np.testing.assert_allclose(mine_arrows.V, theirs_arrows.V)
    assert view.figure._suptitle.get_text() == fresh._suptitle.get_text()
    plt.close(fresh)
    assert_blit_is_a_full_draw(view, t=5)


def test_scrubber_states_are_cached_and_equal_fresh_ones(codec_video, codec_clip):
    scrubber = FrameScrubberView(codec_video, codec_clip)
    cached = scrubber.state(6)
    assert scrubber.state(6) is cached
    fresh = frame_scrubber_state(codec_video, codec_clip, 6)
    for name, value in fresh.items():
        np.testing.assert_array_equal(cached[name], value)
    with pytest.raises(ValueError, match="overlay must be one of"):
        scrubber.render_png(t=6, overlay="depth")


def test_resolution_view_after_other_scales_shows_the_static_figure(codec_clip):
    explorer = ResolutionExplorer(codec_clip.frames[0], codec_clip.labels[0], cost_size=(96, 128), net_width=0.25)
    view = ResolutionLiveView(explorer, 0.5)
    assert view.pending(lr_scale=0.3) == "counting GMACs at s = 0.30"
    for scale in (0.3, 1.0):                   # at s = 1 LR + CReFF costs more than HR: the axis grows
        view.render_png(lr_scale=scale)
    assert view.pending(lr_scale=0.3) is None
    view.set_state(lr_scale=0.7)
    fresh = explorer.figure(0.7)
    for mine, theirs in zip(view.figure.axes, fresh.axes, strict=True):
        same_images(mine, theirs)
        assert mine.get_title() == theirs.get_title()
        assert [p.get_height() for p in mine.patches] == pytest.approx([p.get_height() for p in theirs.patches])
        assert [t.get_text() for t in mine.texts] == [t.get_text() for t in theirs.texts]
        assert mine.get_ylim() == pytest.approx(theirs.get_ylim())
    plt.close(fresh)
    for key, value in explorer.update(0.7).items():
        np.testing.assert_array_equal(view.state(0.7)[key], value)
    assert_blit_is_a_full_draw(view, lr_scale=1.0)
    assert_blit_is_a_full_draw(view, lr_scale=0.3)


def test_resolution_view_labels_each_bar_with_its_current_height(codec_clip):
    """The GMACs written on the bars follow the slider (``Axes.bar_label`` alone keeps the values
    the bars had when the figure was drawn)."""
    explorer = ResolutionExplorer(codec_clip.frames[0], codec_clip.labels[0])      # the paper's 720x960 cost
    view = ResolutionLiveView(explorer, 0.5)
    shown = {}
    for scale in (0.3, 0.8):
        view.set_state(lr_scale=scale)
        heights = [bar.get_height() for bar in view.bars]
        shown[scale] = [label.get_text() for label in view.bar_labels]
        assert shown[scale] == [f"{height:.1f}" for height in heights]
        assert [label.get_text() for label in view.cost_ax.texts] == shown[scale]   # no stale label left
    assert shown[0.3][1] != shown[0.8][1], "the LR bar's label did not change with s"


@pytest.fixture(scope="module")
def attention_explorer():
    from arseg_tutorial.models import ARSeg, build_model
    from arseg_tutorial.widgets.attention import AttentionExplorer, DemoModel, make_encoded_pair

    torch.manual_seed(0)
    model = ARSeg(build_model("bisenet18", 11, width=0.125), build_model("bisenet18", 11, width=0.125), 0.5)
    return AttentionExplorer(DemoModel(model.eval(), False, "untrained"), make_encoded_pair(3, 120, 160, 4))


def test_attention_view_after_other_states_shows_the_static_figure(attention_explorer):
    from arseg_tutorial.widgets.attention_view import AttentionLiveView

    view = AttentionLiveView(attention_explorer, 60, 80)
    for y, x, k, aligned in ((20, 30, 9, True), (100, 150, 3, False)):
        view.render_png(pixel_y=y, pixel_x=x, kernel=k, aligned=aligned)
    view.set_state(pixel_y=50, pixel_x=40, kernel=5, aligned=False)
    fresh = attention_explorer.figure(50, 40, 5, False)
    for mine, theirs in zip(view.figure.axes, fresh.axes, strict=True):
        same_images(mine, theirs)
        assert mine.get_title() == theirs.get_title()
        assert mine.get_xlim() == pytest.approx(theirs.get_xlim()) and mine.get_ylim() == pytest.approx(theirs.get_ylim())
        assert list(mine.get_xticks()) == list(theirs.get_xticks())
        assert [(p.get_xy(), p.get_width()) for p in mine.patches] == [(p.get_xy(), p.get_width()) for p in theirs.patches]
        for a, b in zip(mine.lines, theirs.lines, strict=True):
            assert a.get_xydata().tolist() == b.get_xydata().tolist()
    cells, theirs_cells = view.window_ax.collections[0], fresh.axes[0].collections[0]
    np.testing.assert_allclose(cells.get_facecolor(), theirs_cells.get_facecolor())
    assert len(cells.get_paths()) == len(theirs_cells.get_paths()) == 25
    np.testing.assert_allclose(cells.get_paths()[7].vertices, theirs_cells.get_paths()[7].vertices)
    heat_map, theirs = view.weights_ax.images[0], fresh.axes[2].images[0]
    assert heat_map.get_clim() == pytest.approx(theirs.get_clim()) and heat_map.get_extent() == theirs.get_extent()
    assert [t.get_text() for t in view.window_ax.get_legend().get_texts()][0] == "5x5 window"
    plt.close(fresh)
    assert_blit_is_a_full_draw(view, pixel_y=70, pixel_x=90, kernel=7, aligned=True)


def test_attention_maps_are_cached_and_equal_a_fresh_computation(attention_explorer):
    from arseg_tutorial.widgets.attention import creff_with_kernel
    from arseg_tutorial.widgets.attention_view import AttentionLiveView

    view = AttentionLiveView(attention_explorer, 60, 80)
    assert view.pending(pixel_y=10, pixel_x=10, kernel=9, aligned=False) is not None
    view.render_png(pixel_y=10, pixel_x=10, kernel=9, aligned=False)
    assert view.pending(pixel_y=90, pixel_x=20, kernel=9, aligned=False) is None
    cached = attention_explorer.attention_map(9, False)
    assert attention_explorer.attention_map(9, False) is cached
    creff = creff_with_kernel(attention_explorer.demo.model.lr_model.creff, 9)
    with torch.no_grad():
        fresh = creff(attention_explorer.lr_feature, attention_explorer.references[False], return_attention=True).attention
    torch.testing.assert_close(cached, fresh)
    state = attention_explorer.update(90, 20, kernel=9, aligned=False)
    np.testing.assert_array_equal(state["weights"], fresh[0, 90 // 8, 20 // 8].view(9, 9).numpy())


def test_gop_cache_is_shared_with_the_static_state(codec_clip):
    frames = codec_clip.frames[:6]
    view = GopExplorerView(frames, 3, 0)
    key = codec_widgets._encoding_key(frames, 3, 0)
    assert key in codec_widgets._ENCODED and view.pending(gop_length=3, bframes=0) is None


def test_every_explorer_fits_a_laptop_window_unscaled(codec_video, codec_clip, attention_explorer):
    """No explorer PNG is wider than ``FIGURE_WIDTH_IN``: JupyterLab would shrink it, and its 9 pt text."""
    from arseg_tutorial.viz import FIGURE_WIDTH_IN
    from arseg_tutorial.widgets.attention_view import AttentionLiveView
    from arseg_tutorial.widgets.live import EXPLORER_DPI

    resolution = ResolutionExplorer(codec_clip.frames[0], codec_clip.labels[0], cost_size=(96, 128), net_width=0.25)
    pictures = {"clip player": ClipPlayerView(codec_clip).render_png(t=2),
                "GOP explorer": GopExplorerView(codec_clip.frames, 12, 0).render_png(gop_length=12, bframes=0),
                "scrubber": FrameScrubberView(codec_video, codec_clip).render_png(t=5, overlay=SCRUBBER_OVERLAYS[0]),
                "resolution": ResolutionLiveView(resolution, 0.5).render_png(lr_scale=0.5),
                "attention": AttentionLiveView(attention_explorer, 60, 80).render_png(
                    pixel_y=60, pixel_x=80, kernel=3, aligned=True)}
    for name, png in pictures.items():
        assert Image.open(io.BytesIO(png)).width <= round(FIGURE_WIDTH_IN * EXPLORER_DPI), name
    plt.close("all")
