"""The training loop: same seed -> same weights; an interrupted run resumes to the same weights."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from arseg_tutorial.train.data import ClipSet
from arseg_tutorial.train.loops import TrainConfig, make_batch
from arseg_tutorial.train.trainer import train


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_clips(num_clips: int = 2, length: int = 12, height: int = 48, width: int = 64) -> ClipSet:
    """Random frames with labels that depend on them, and a uniform flow: enough to train on."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (num_clips, length, height, width, 3), dtype=np.uint8)
    labels = (frames[..., 0] // 64).astype(np.uint8)
    flow = np.zeros((num_clips, length, height, width, 2), np.float32)
    flow[..., 0] = 1.5
    return ClipSet(frames, labels, flow, np.ones(labels.shape, bool),
                   np.zeros((num_clips, length), np.int64))


def tiny_config(method: str = "hr", steps: int = 4, **changes) -> TrainConfig:
    base = dict(method=method, steps=steps, batch_size=2, learning_rate=1e-3, crop_size=(32, 48),
                net_width=0.125, num_classes=4, scale=1.0 if method == "hr" else 0.5,
                stage1_steps=steps // 2 if method == "arseg" else 0)
    return TrainConfig(**{**base, **changes})


def _params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_same_seed_same_weights_other_seed_other_weights(tmp_path):
    clips = tiny_clips()
    first = train(tiny_config(steps=2), clips, tmp_path / "a.pt", progress=False)
    again = train(tiny_config(steps=2), clips, tmp_path / "b.pt", progress=False)
    other = train(tiny_config(steps=2, seed=1), clips, tmp_path / "c.pt", progress=False)
    assert _same(_params(first.model), _params(again.model))
    assert not _same(_params(first.model), _params(other.model))
    assert [h["loss"] for h in first.history] == [h["loss"] for h in again.history]


@pytest.mark.parametrize("method", ["hr", "arseg"])
def test_interrupted_run_resumes_to_the_same_weights(tmp_path, method):
    clips = tiny_clips()
    hr_state = None
    if method == "arseg":
        hr_state = train(tiny_config(steps=1), clips, tmp_path / "hr.pt", progress=False).model.state_dict()
    config = tiny_config(method, steps=4)
    seen = []
    whole = train(config, clips, tmp_path / "whole.pt", hr_state=hr_state, progress=False,
                  on_step=seen.append)
    assert [r["step"] for r in seen] == [1, 2, 3, 4]
    part = train(config, clips, tmp_path / "split.pt", hr_state=hr_state, progress=False, max_steps=2)
    assert part.steps_done == 2 and not part.complete
    resumed = train(config, clips, tmp_path / "split.pt", hr_state=hr_state, progress=False)
    assert resumed.complete and len(resumed.history) == 4
    assert _same(_params(whole.model), _params(resumed.model))
    assert resumed.history == whole.history


def test_resume_refuses_a_checkpoint_of_another_config(tmp_path):
    clips = tiny_clips()
    train(tiny_config(steps=1), clips, tmp_path / "run.pt", progress=False)
    with pytest.raises(ValueError, match="another config"):
        train(tiny_config(steps=2), clips, tmp_path / "run.pt", progress=False)


def test_arseg_freezes_the_copied_classifier_and_trains_with_fst(tmp_path):
    clips = tiny_clips()
    hr = train(tiny_config(steps=1), clips, tmp_path / "hr.pt", progress=False).model
    result = train(tiny_config("arseg", steps=2), clips, tmp_path / "ar.pt",
                   hr_state=hr.state_dict(), progress=False)
    assert torch.equal(result.model.classifier.weight, hr.classifier.weight)
    assert [h["stage"] for h in result.history] == [1, 2]
    assert all(h["fst"] > 0 for h in result.history)
    unfrozen = train(tiny_config("arseg", steps=2, freeze_classifier=False), clips,
                     tmp_path / "ar2.pt", hr_state=hr.state_dict(), progress=False)
    assert not torch.equal(unfrozen.model.classifier.weight, hr.classifier.weight)
    with pytest.raises(ValueError, match="hr_state"):
        train(tiny_config("lr"), clips, tmp_path / "lr.pt", progress=False)


def test_batches_split_over_processes_cover_the_global_batch():
    clips = tiny_clips()
    config = tiny_config("arseg", batch_size=4)
    whole = make_batch(clips, config, step=3)
    shares = [make_batch(clips, config, step=3, rank=r, world_size=2) for r in range(2)]
    assert torch.equal(whole["frame"][0::2], shares[0]["frame"])
    assert all(torch.equal(a, b) for a, b in zip(whole["flow"][1::2], shares[1]["flow"]))
    assert whole["offset"][1::2] == shares[1]["offset"]
    zero = make_batch(clips, tiny_config("arseg", batch_size=4, flow="zero"), step=3)
    assert not any(f.any() for f in zero["flow"]) and sum(f.abs().sum() for f in whole["flow"]) > 0


def test_arseg_batches_keep_the_whole_keyframe_and_a_grid_aligned_crop():
    from arseg_tutorial.train.augment import CROP_ALIGN

    clips = tiny_clips(height=64, width=96)
    batch = make_batch(clips, tiny_config("arseg", batch_size=4, crop_size=(32, 48)), step=1)
    assert batch["frame"].shape == (4, 3, 32, 48)
    for key, flow, (top, left) in zip(batch["key"], batch["flow"], batch["offset"]):
        assert key.shape[-2:] == flow.shape[-2:] and key.shape[-1] > 48  # whole, not cropped
        assert top % CROP_ALIGN == 0 and left % CROP_ALIGN == 0


def test_keyframe_reference_is_the_whole_frame_warp_cut_to_the_crop():
    """What the trainer fuses equals the test-time warp of the whole keyframe, cut to the crop."""
    from arseg_tutorial.train.loops import crop_feature, keyframe_references
    from arseg_tutorial.train.trainer import build_networks

    hr_state = build_networks(tiny_config(output_stride=4))[0].state_dict()
    _, arseg = build_networks(tiny_config("arseg", output_stride=4), hr_state)
    key = torch.rand(3, 64, 96)
    flow = torch.zeros(2, 64, 96)
    flow[0] = 3.0
    batch = {"key": [key], "flow": [flow], "offset": [(16, 24)]}
    with torch.no_grad():
        reference = keyframe_references(arseg, batch, (32, 48))
        whole = arseg.warp_keyframe_feature(arseg.hr_model.forward_phase1(key[None]), flow[None], key[None])
    assert reference.shape[-2:] == (8, 12)
    assert torch.equal(reference, whole[..., 4:12, 6:18])
    # a crop that reaches past the feature is padded with zeros
    padded = crop_feature(whole, (56, 88), (32, 48), 4)
    assert padded.shape[-2:] == (8, 12) and not padded[..., 2:, :].any()


def test_creff_kernel_variant_and_init_follow_the_config():
    from arseg_tutorial.train.trainer import build_networks

    hr_state = build_networks(tiny_config())[0].state_dict()
    model, arseg = build_networks(tiny_config("arseg", creff_kernel=3, creff_variant="position_bias"),
                                  hr_state)
    creff = model.creff
    assert creff.kernel == 3 and arseg.lr_model is model
    channels = creff.channels
    x = torch.rand(2, channels, 6, 7)
    assert creff.variant == "position_bias" and creff.position_bias.argmax() == 4
    with torch.no_grad():  # identity init: K and V are the identity, Q the identity / sqrt(C)
        assert torch.allclose(creff.key_conv(x), x) and torch.allclose(creff.value_conv(x), x)
        assert torch.allclose(creff.query_conv(x), x / channels ** 0.5)
        # a constant reference comes back unchanged away from the border: the weights sum to 1
        # (the position-bias variant's output is the attention alone)
        reference = torch.full((1, channels, 6, 7), 0.5)
        lr_feature = torch.rand(1, channels, 6, 7)
        result = creff(lr_feature, reference, return_attention=True)
    assert torch.allclose(result.fused[..., 1:-1, 1:-1], torch.tensor(0.5), atol=1e-5)
    assert result.attention.shape[-1] == 9
    paper, _ = build_networks(tiny_config("arseg"), hr_state)  # the default: the paper's module
    assert paper.creff.kernel == 7 and not torch.allclose(paper.creff.value_conv(x), x)
    assert paper.creff.variant == "paper" and paper.creff.position_bias is None
    assert "position_bias" not in dict(paper.creff.named_parameters())
    with pytest.raises(ValueError, match="creff_variant"):
        tiny_config("arseg", creff_variant="swin")
    with pytest.raises(ValueError, match="odd"):
        tiny_config("arseg", creff_kernel=4)


def test_shipped_profiles_choose_the_creff_window():
    from arseg_tutorial.config import get_profile
    from arseg_tutorial.train.recipes import make_config

    assert get_profile("paper").creff_kernel == 7
    for name in ("ci", "laptop"):
        profile = get_profile(name)
        assert make_config(profile, "arseg", 0.5).creff_kernel == profile.creff_kernel == 3
