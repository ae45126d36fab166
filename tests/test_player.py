"""The streaming players: each faster path against the path it replaces (nothing here is timed)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from arseg_tutorial.models import ARSeg
from arseg_tutorial.models.preprocess import to_input
from arseg_tutorial.player import ARSegPlayer, HRPlayer

pytestmark = pytest.mark.usefixtures("one_thread")
GOP = 6


@pytest.fixture(scope="module")
def video(two_gop_video):
    return two_gop_video(970_003, GOP)


@pytest.fixture(scope="module")
def arseg(tiny_networks):
    return ARSeg(*tiny_networks, 0.5, creff_kernel=3).eval()


def play(player) -> list[np.ndarray]:
    out = []
    with torch.inference_mode():
        while (step := player.step()) is not None:
            out.append(step[1])
    return out


def test_hr_player_is_the_hr_network_on_every_frame(video, arseg):
    from arseg_tutorial.codec import read_video

    labels = play(HRPlayer(video.path, arseg.hr_model))
    frames = read_video(video.path, motion_vectors=False).frames
    assert len(labels) == len(frames) == 2 * GOP
    with torch.inference_mode():
        for t in (0, 3, 7):
            expected = arseg.hr_model(to_input(frames[t])[None]).argmax(1)[0].numpy()
            np.testing.assert_array_equal(labels[t], expected)


def test_arseg_player_matches_the_model_on_the_per_pixel_path(video, arseg):
    from arseg_tutorial.codec import flow_to_keyframe, read_video

    labels = play(ARSegPlayer(video.path, arseg, chain="pixel"))
    decoded = read_video(video.path)
    with torch.inference_mode():
        key = arseg.keyframe(to_input(decoded.frames[GOP])[None])
        np.testing.assert_array_equal(labels[GOP], key.logits.argmax(1)[0].numpy())
        flow, _ = flow_to_keyframe(decoded, GOP + 4)
        logits = arseg.nonkeyframe(to_input(decoded.frames[GOP + 4])[None], key.feature, flow).logits
    np.testing.assert_array_equal(labels[GOP + 4], logits.argmax(1)[0].numpy())


def test_grid_chain_player_agrees_with_the_per_pixel_player(video, arseg):
    grid = np.stack(play(ARSegPlayer(video.path, arseg)))
    pixel = np.stack(play(ARSegPlayer(video.path, arseg, chain="pixel")))
    np.testing.assert_array_equal(grid[[0, 1, GOP, GOP + 1]], pixel[[0, 1, GOP, GOP + 1]])
    agreement = (grid == pixel).mean(axis=(1, 2))
    assert agreement.min() >= 0.95, agreement


@pytest.mark.parametrize("warp_only", [False, True])
def test_a_gop_in_one_batch_gives_the_per_frame_labels(video, arseg, warp_only):
    """Batched convolutions may round differently: labels agree on >= 99.9 % of the pixels."""
    one = np.stack(play(ARSegPlayer(video.path, arseg, warp_only=warp_only)))
    gop = np.stack(play(ARSegPlayer(video.path, arseg, warp_only=warp_only, batch_gop=True)))
    assert gop.shape == one.shape == (2 * GOP, 120, 160)
    assert (gop == one).mean() >= 0.999
    hr_one = np.stack(play(HRPlayer(video.path, arseg.hr_model)))
    hr_gop = np.stack(play(HRPlayer(video.path, arseg.hr_model, batch_gop=True)))
    assert (hr_one == hr_gop).mean() >= 0.999
    np.testing.assert_array_equal(gop[[0, GOP]], hr_gop[[0, GOP]])


def test_a_gop_batch_classifies_once_only_when_the_classifiers_are_one(video, arseg):
    """FST shares HR's classifier with the LR branch; a GOP batch then classifies the keyframe
    and its P-frames in one call. An LR branch with a classifier of its own keeps two calls and
    gets the same labels as frame by frame."""
    import copy

    assert ARSegPlayer(video.path, arseg)._one_classifier
    own = copy.deepcopy(arseg)
    with torch.no_grad():
        for p in own.lr_model.classifier.parameters():
            p.add_(0.05 * torch.randn_like(p))
    assert not ARSegPlayer(video.path, own)._one_classifier
    one = np.stack(play(ARSegPlayer(video.path, own)))
    gop = np.stack(play(ARSegPlayer(video.path, own, batch_gop=True)))
    assert (gop == one).mean() >= 0.999
    assert (gop != np.stack(play(ARSegPlayer(video.path, arseg, batch_gop=True)))).any()


def test_players_keep_at_most_one_gop(video, arseg):
    player = ARSegPlayer(video.path, arseg, batch_gop=True)
    with torch.inference_mode():
        player.step()
        assert len(player._ready) == GOP - 1 and player._pending.frame_type == "I"
        for _ in range(GOP):
            player.step()
        assert len(player._ready) == GOP - 1 and player._pending is None


def test_bench_player_command_writes_the_table_and_json(video, tmp_path, capsys):
    import json

    from arseg_tutorial.cli import main

    out = tmp_path / "bench.json"
    assert main(["bench-player", str(video.path), "--profile", "ci", "--random-weights",
                 "--passes", "1", "--frames", "4", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert {"hr_ms_per_frame", "arseg_ms_per_frame", "speedup", "stages", "bound"} <= set(result)
    assert len(result["speedup_passes"]) == len(result["noise_floor"]) == 1 and result["bound"] > 0
    assert result["frames"] == 4 and set(result["stages"]) == {"hr", "arseg"}
    assert result["stages"]["arseg"]["lr_net"] > 0 and result["stages"]["hr"]["lr_net"] == 0
    assert "speed-up" in capsys.readouterr().out


def test_to_input_is_the_imagenet_normalisation_bit_for_bit():
    """The in-place normalisation in ``to_input`` gives what ``normalize`` gives (same ops, same
    rounding), in the channels-last layout the networks read fastest."""
    from arseg_tutorial.models.preprocess import normalize

    frames = np.random.default_rng(5).integers(0, 256, (2, 9, 11, 3), dtype=np.uint8)
    expected = normalize(torch.from_numpy(frames).float().div(255.0).permute(0, 3, 1, 2))
    got = to_input(frames)
    assert torch.equal(got, expected)
    assert got.is_contiguous(memory_format=torch.channels_last)
    assert frames.max() > 0 and torch.equal(to_input(torch.from_numpy(frames)), expected)


def test_lr_decode_gives_lr_p_frames_and_labels_close_to_the_torch_resized_input(video, arseg):
    """P-frames straight from swscale at the LR size: the same frame types, motion vectors and
    I-frames as ``iter_video``; P-frames within a few grey levels of the torch-resized frame
    (how far trained networks' labels move is measured in docs/performance.md)."""
    from arseg_tutorial.codec import iter_video
    from arseg_tutorial.models.arseg import downsample_frame
    from arseg_tutorial.playerframes import iter_lr_frames

    full, lr = list(iter_video(video.path)), list(iter_lr_frames(video.path, 0.5))
    assert [f.frame_type for f in lr] == [f.frame_type for f in full]
    for a, b in zip(full, lr):
        np.testing.assert_array_equal(a.motion_vectors, b.motion_vectors)
        if a.frame_type == "I":
            np.testing.assert_array_equal(a.image, b.image)
        else:
            assert b.image.shape == (a.image.shape[0] // 2, a.image.shape[1] // 2, 3)
            resized = downsample_frame(torch.from_numpy(a.image).permute(2, 0, 1)[None].float(), 0.5)
            difference = np.abs(resized[0].permute(1, 2, 0).numpy() - b.image)
            assert difference.mean() < 3 and np.percentile(difference, 99) < 30      # grey levels
    resized = np.stack(play(ARSegPlayer(video.path, arseg)))
    seen, phase1 = [], arseg.lr_model.forward_phase1
    arseg.lr_model.forward_phase1 = lambda x: seen.append(tuple(x.shape[-2:])) or phase1(x)
    try:
        decoded = np.stack(play(ARSegPlayer(video.path, arseg, lr_decode=True)))
    finally:
        del arseg.lr_model.forward_phase1
    np.testing.assert_array_equal(decoded[[0, GOP]], resized[[0, GOP]])        # I-frames: HR, full frame
    height, width = full[0].image.shape[:2]
    assert set(seen) == {(height // 2, width // 2)}                            # the LR branch reads s = 0.5
