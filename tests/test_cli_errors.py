"""Every bad input to the command line ends in one sentence on stderr, naming the input and the
fix, with exit status 2 and no traceback; ``--debug`` or ``ARSEG_DEBUG=1`` shows the traceback.
"""
from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from arseg_tutorial import assets, cli
from arseg_tutorial.cli import main
from arseg_tutorial.codec import encode_video
from arseg_tutorial.codec.synthetic import translating_texture
from arseg_tutorial.config import data_dir
from arseg_tutorial.train.data import ClipConfig, load_clips
from test_codec_errors import write_with_pyav
from test_real_data import write_png

pytestmark = pytest.mark.usefixtures("one_thread")
ROOT = Path(__file__).resolve().parent.parent
TRAIN = ["train", "--method", "hr", "--profile", "ci"]
EVALUATE = ["evaluate", "--method", "lr"]


def fails_in_one_sentence(capsys, argv, *words, status=2) -> str:
    """Run the CLI in-process; its stderr must be one ``error: ...`` line holding ``words``."""
    assert main([str(a) for a in argv]) == status
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert all(word in lines[0] for word in words), lines[0]
    return lines[0]


@pytest.mark.parametrize("argv, words", [
    (TRAIN[:3] + ["--profile", "bogus"], ["--profile", "'bogus'", "ci"]),
    (TRAIN + ["--threads", "-1"], ["--threads", "-1"]),
    (TRAIN + ["--seed", "-1"], ["--seed", "0 or more"]),
    (TRAIN + ["--scale", "0"], ["--scale", "0 < s <= 1"]),
    (TRAIN + ["--scale", "7"], ["--scale", "0 < s <= 1"]),
    (TRAIN + ["--batch-size", "1"], ["--batch-size", "at least 2"]),
    (TRAIN + ["--device", "banana"], ["'banana' (--device)", "cpu"]),
    (EVALUATE + ["--scale", "0"], ["--scale", "0 < s <= 1"]),
    (EVALUATE + ["--scale", "-1"], ["--scale"]),
    (EVALUATE + ["--scale", "nan"], ["--scale", "nan"]),
    (EVALUATE + ["--scale", "0.3"], ["--scale 0.3", "shipped scales: 0.25, 0.35, 0.5, 0.75",
                                     "--checkpoint"]),
    (EVALUATE + ["--seed", "-1"], ["--seed", "0 or more"]),
    (["bench-player", "v.mp4", "--passes", "0"], ["--passes", "positive"]),
    (["bench-player", "v.mp4", "--frames", "0"], ["--frames", "positive"]),
    (["bench-player", "v.mp4", "--frames", "-5"], ["--frames", "positive"]),
    (["build-assets", "--workers", "0"], ["--workers", "positive"]),
    (["student-copy", "--force"], ["--force", "--refresh"]),
])
def test_bad_arguments(capsys, argv, words):
    fails_in_one_sentence(capsys, argv, *words)


@pytest.mark.parametrize("variable, value, words", [
    ("ARSEG_PROFILE", "bogus", ["ARSEG_PROFILE='bogus'", "unset"]),
    ("ARSEG_DEVICE", "banana", ["ARSEG_DEVICE='banana'", "cpu"]),
])
def test_bad_environment_variables_even_for_info(capsys, monkeypatch, variable, value, words):
    monkeypatch.setenv(variable, value)
    fails_in_one_sentence(capsys, ["info"], *words)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_asked_for_without_cuda(capsys, monkeypatch):
    monkeypatch.setenv("ARSEG_DEVICE", "cuda")
    fails_in_one_sentence(capsys, TRAIN, "ARSEG_DEVICE='cuda'", "no CUDA GPU", "cpu")


@pytest.mark.parametrize("flag, argv", [("--json", EVALUATE[:2] + ["hr"]), ("--out", TRAIN)])
def test_outputs_are_checked_before_any_work(tmp_path, capsys, monkeypatch, flag, argv):
    import arseg_tutorial.train.data as data

    monkeypatch.setattr(data, "load_clips", lambda *a, **k: pytest.fail("work started"))
    fails_in_one_sentence(capsys, argv + [flag, tmp_path], flag, "is a folder")
    (tmp_path / "file").write_text("x")
    fails_in_one_sentence(capsys, argv + [flag, tmp_path / "file" / "r.json"], flag, "which is a file")


def test_a_file_as_output_folder(tmp_path, capsys):
    (tmp_path / "work").write_text("x")
    fails_in_one_sentence(capsys, ["student-copy", "--out", tmp_path / "work"], "--out", "not a folder")


# bench-player on videos it cannot play
@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return translating_texture(16, 48, 64, (1.0, 0.5), seed=2)


def _made_with(codec: str, container_format: str):
    return lambda path, frames: write_with_pyav(path, frames[:8], codec, container_format)


def _audio_only(path, frames):
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=44100)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 44100, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _truncated(path, frames):
    write_with_pyav(path, frames, "libx264", "mp4")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _zero_frames(path, frames):
    with av.open(str(path), "w", format="matroska") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()


VIDEOS = {
    "hevc.mkv": (_made_with("libx265", "matroska"), "HEVC"),
    "vp9.mkv": (_made_with("libvpx-vp9", "matroska"), "VP9"),
    "av1.mkv": (_made_with("libsvtav1", "matroska"), "AV1"),
    "mpeg4.mp4": (_made_with("mpeg4", "mp4"), "MPEG4"),
    "audio.mp4": (_audio_only, "no video stream"),
    "image.mp4": (lambda path, frames: write_png(path, frames[0]), "PNG"),
    "truncated.mp4": (_truncated, "truncated"),
    "bframes.mp4": (lambda path, frames: encode_video(frames, path, gop=8, bframes=2), "B-frames"),
    "empty.mp4": (lambda path, frames: path.write_bytes(b""), "empty (0 bytes)"),
    "zero.mkv": (_zero_frames, "0 frames"),
    "fifo.mp4": (lambda path, frames: os.mkfifo(path), "not a regular file"),
    "loop.mp4": (lambda path, frames: path.symlink_to(path.name), "loops back"),
    "missing.mp4": (lambda path, frames: None, "does not exist"),
}


@pytest.mark.parametrize("name", sorted(VIDEOS))
def test_bench_player_on_videos_it_cannot_play(tmp_path, capsys, frames, name):
    make, words = VIDEOS[name]
    make(tmp_path / name, frames)
    fails_in_one_sentence(capsys, ["bench-player", tmp_path / name, "--random-weights", "--profile", "ci"],
                          name, words)


# data/ damaged or incomplete
@pytest.fixture
def own_data(tmp_path, monkeypatch):
    """A copy of data/'s manifest in a folder that stands in for data/ (no checkpoint files)."""
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "manifest.json").write_bytes((data_dir() / "manifest.json").read_bytes())
    monkeypatch.setattr(assets, "data_dir", lambda: folder)
    return folder


def test_a_missing_shipped_checkpoint_says_data_is_incomplete(own_data, capsys):
    fails_in_one_sentence(capsys, ["evaluate", "--method", "hr"], "hr.pt is missing",
                          "data/ is incomplete", "git checkout -- data/")


def test_a_manifest_that_is_not_json(own_data, capsys):
    (own_data / "manifest.json").write_text('{"profile": ')
    fails_in_one_sentence(capsys, ["evaluate", "--method", "hr"], "manifest.json is not valid JSON",
                          "git checkout -- data/")


# a full disk while caching clips
def test_a_full_disk_names_the_cache_folder_and_no_cache(tmp_path, monkeypatch):
    import arseg_tutorial.train.data as data

    monkeypatch.setenv("ARSEG_CACHE_DIR", str(tmp_path))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(data, "_save_npz_atomic", full)
    config = ClipConfig(first_seed=1, num_clips=1, height=120, width=160, gop_length=4)
    with pytest.raises(OSError, match=f"clip cache in {tmp_path / 'clips'}.*--no-cache"):
        load_clips(config)
    monkeypatch.setattr(data.shutil, "disk_usage", lambda folder: type("U", (), {"free": 10}))
    monkeypatch.setattr(data, "build_clips", lambda *a, **k: pytest.fail("clips built"))
    with pytest.raises(OSError, match="0 MB are free.*--no-cache"):
        load_clips(config)


def test_evaluate_real_names_the_shape_it_expected():
    from arseg_tutorial.realdata import RealClip, evaluate_real
    from arseg_tutorial.scenes.classes import CLASS_NAMES

    t, h, w = 4, 16, 16
    clip = RealClip(np.zeros((t, h, w, 3), np.uint8), np.zeros((t, h, w), np.uint8), np.ones(t, bool),
                    CLASS_NAMES, tuple(map(str, range(t))), tuple(map(str, range(t))))
    with pytest.raises(ValueError, match=r"shape \(4,\).*\(T, H, W\) = \(4, 16, 16\)"):
        evaluate_real(lambda frames, flows: np.zeros(4), clip, gop_length=4)


# the one-sentence rule itself
def test_an_unexpected_error_is_one_line_with_status_1(capsys, monkeypatch):
    def broken(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "cmd_info", broken)
    fails_in_one_sentence(capsys, ["info"], "ZeroDivisionError", "--debug", status=1)


def test_debug_flag_and_variable_raise_with_the_traceback(monkeypatch):
    with pytest.raises(ValueError, match="banana"):
        main(TRAIN + ["--device", "banana", "--debug"])
    monkeypatch.setenv("ARSEG_DEBUG", "1")
    with pytest.raises(ValueError, match="banana"):
        main(TRAIN + ["--device", "banana"])


def test_the_real_command_line_prints_one_line_or_with_debug_a_traceback():
    env = {**os.environ, "ARSEG_PROFILE": "bogus"}
    env.pop("ARSEG_DEBUG", None)
    run = subprocess.run([sys.executable, "-m", "arseg_tutorial", "info"], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr.strip().splitlines() == [
        "error: ARSEG_PROFILE='bogus' is not a profile; valid profiles are ci, laptop, paper: set "
        "ARSEG_PROFILE=ci|laptop|paper or unset it"], run.stderr
    run = subprocess.run([sys.executable, "-m", "arseg_tutorial", "--debug", "info"], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    assert run.returncode == 1 and "Traceback" in run.stderr and "bogus" in run.stderr


def test_outputs_in_folders_that_do_not_exist_yet_are_accepted(tmp_path):
    from arseg_tutorial.cli_checks import check_output

    check_output(str(tmp_path / "new" / "deeper" / "r.json"), "--json")     # created when written
    check_output(str(tmp_path / "new-folder"), "--out", folder=True)
