"""Fixtures shared by the unit tests (the session-wide setup lives in the root conftest.py)."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread: on a shared 2-core machine, two threads can wait on each other for
    seconds per step."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def codec_clip():
    """A 12-frame 120x160 clip (seed 3): the codec explorers' test data."""
    from arseg_tutorial.scenes import generate_clip

    return generate_clip(3, length=12, height=120, width=160)


@pytest.fixture(scope="module")
def codec_video(codec_clip):
    """``codec_clip`` encoded as one H.264 GOP and decoded with its motion vectors."""
    from arseg_tutorial.codec import encode_to_bytes, read_video

    return read_video(encode_to_bytes(codec_clip.frames, gop=12))


@pytest.fixture(scope="module")
def tiny_networks():
    """(HR, LR) BiSeNet18 at width 0.125, seed 0, eval mode, no CReFF yet: each test module gets
    its own pair to shape (add CReFF, wrap in ARSeg)."""
    from arseg_tutorial.models import build_model
    from arseg_tutorial.scenes import NUM_CLASSES

    torch.manual_seed(0)
    return tuple(build_model("bisenet18", NUM_CLASSES, width=0.125).eval() for _ in range(2))


@pytest.fixture(scope="module")
def two_gop_video(tmp_path_factory):
    """A factory: ``two_gop_video(seed, gop_length)`` encodes a fresh 2-GOP 120x160 test video."""
    from arseg_tutorial.endtoend import make_test_video

    def make(seed: int, gop_length: int):
        return make_test_video(seed, num_gops=2, height=120, width=160, gop_length=gop_length,
                               path=tmp_path_factory.mktemp("video") / f"video-{seed}.mp4")
    return make
