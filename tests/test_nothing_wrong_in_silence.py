"""Nothing wrong passes in silence: the seven inputs that used to give a plausible result.

Non-finite weights, weights changed under their recorded hash, a student copy written over the
tracked notebooks, damaged frames in the players, a gap in frame numbers, a batch that cannot
fit in memory, and a manifest entry outside data/ (docs/safety.md lists them).
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from arseg_tutorial import assets
from arseg_tutorial.checkpoint_file import CheckpointFileError, network_meta, read_torch_file
from arseg_tutorial.cli import main
from arseg_tutorial.codec import encode_video
from arseg_tutorial.codec.errors import CorruptVideoError
from arseg_tutorial.config import data_dir
from arseg_tutorial.evaluate import make_segmenter
from arseg_tutorial.memory import check_fits, train_step_bytes
from arseg_tutorial.player import HRPlayer
from arseg_tutorial.playerbench import check_playable
from arseg_tutorial.realdata import load_real_clip
from arseg_tutorial.scenes import generate_clip
from arseg_tutorial.student import RECORD_NAME
from arseg_tutorial.train.checkpoint import CHECKPOINT_KEYS, load_checkpoint
from test_real_data import texture, write_png
from test_student_copy import CELL, _write_sources

pytestmark = pytest.mark.usefixtures("one_thread")
CONFIG = {"model": "bisenet18", "num_classes": 11, "net_width": 0.125, "method": "hr", "scale": 1.0}


def one_error_line(capsys) -> str:
    """The CLI's stderr: exactly one line, ``error: ...``, and no traceback."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def export(path, poison=None):
    """A width-0.125 HR network exported with its meta; ``poison(model)`` changes it first."""
    torch.manual_seed(0)
    model = assets.build_network(CONFIG, False)
    if poison is not None:
        poison(model)
    meta = network_meta(CONFIG, profile="ci", has_creff=False, state_dict=model.state_dict())
    assets.export_state_dict(model, path, meta)
    return model


def _nan_weight(model) -> None:
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] = float("nan")


# 1. Non-finite weights
def test_nan_weights_are_refused_naming_the_file_and_the_tensor(tmp_path, capsys):
    path = tmp_path / "nan.pt"
    model = export(path, _nan_weight)
    name = next(iter(model.state_dict()))
    with pytest.raises(CheckpointFileError, match=rf"nan\.pt holds 1 NaN.*{name}"):
        assets.load_network(path)
    assert main(["evaluate", "--method", "hr", "--profile", "ci", "--checkpoint", str(path)]) == 2
    assert "NaN" in one_error_line(capsys)


def test_a_trainer_checkpoint_with_nan_weights_is_refused(tmp_path):
    path = tmp_path / "run.pt"
    torch.save({**dict.fromkeys(CHECKPOINT_KEYS, 0), "meta": {},
                "model": {"w": torch.tensor([1.0, float("inf")])}}, path)
    with pytest.raises(CheckpointFileError, match="infinite value.*'w'"):
        load_checkpoint(path)


def test_evaluation_refuses_non_finite_logits():
    torch.manual_seed(0)
    model = assets.build_network(CONFIG, False)
    _nan_weight(model)
    segment = make_segmenter("hr", hr_model=model, batched=True)
    with pytest.raises(ValueError, match="NaN or infinite logits"):
        segment(np.zeros((2, 32, 32, 3), np.uint8), np.zeros((2, 32, 32, 2), np.float32))


# 2. The recorded weights hash is checked on every load
def test_weights_changed_under_their_recorded_hash_are_refused(tmp_path, capsys):
    path = tmp_path / "changed.pt"
    export(path)
    state = read_torch_file(path)
    first = next(iter(state["state_dict"]))
    state["state_dict"][first] += 1
    torch.save(state, path)
    with pytest.raises(CheckpointFileError, match="changed after the file was written"):
        assets.load_network(path)
    assert main(["evaluate", "--method", "hr", "--profile", "ci", "--checkpoint", str(path)]) == 2
    assert "sha256" in one_error_line(capsys)
    export(path)
    assert assets.load_network(path)[1]["method"] == "hr"      # the intact file still loads


# 3. student-copy never writes into the tracked notebooks
@pytest.mark.parametrize("inside", ["", "sub"])
def test_a_copy_into_the_source_folder_is_refused(tmp_path, capsys, inside):
    source = tmp_path / "notebooks"
    _write_sources(source, CELL)
    before = {p.name: p.read_bytes() for p in source.iterdir()}
    out = source / inside if inside else source
    assert main(["student-copy", "--source", str(source), "--out", str(out), "--refresh", "--force"]) == 2
    assert "inside" in one_error_line(capsys)
    assert {p.name: p.read_bytes() for p in source.iterdir()} == before    # no blank, no record


def test_a_notebook_or_record_that_is_not_json_is_named_before_anything_is_written(tmp_path, capsys):
    source, work = tmp_path / "notebooks", tmp_path / "work"
    _write_sources(source, CELL)
    (source / "02_c.ipynb").write_text("{not json")
    assert main(["student-copy", "--source", str(source), "--out", str(work)]) == 2
    assert "02_c.ipynb is not valid JSON" in one_error_line(capsys)
    assert not list(work.glob("*.ipynb")) if work.exists() else True
    (source / "02_c.ipynb").unlink()
    work.mkdir(exist_ok=True)
    (work / RECORD_NAME).write_text("garbage")
    assert main(["student-copy", "--source", str(source), "--out", str(work)]) == 2
    assert f"{RECORD_NAME} is not valid JSON" in one_error_line(capsys)


# 4. The players report damaged frames and refuse a stream of concealment only
@pytest.fixture(scope="module")
def damaged_video(tmp_path_factory):
    """A 24-frame 120x160 H.264 file with random bytes in its middle (frames decode, some
    concealed), as in test_video_input."""
    frames = np.asarray(generate_clip(5, length=24, height=120, width=160).frames)
    path = tmp_path_factory.mktemp("damaged") / "damaged.mp4"
    encode_video(frames, path, gop=12, bframes=0)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 500] = np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def header_only_h264(path, frames: np.ndarray, keep_bytes: int = 1200):
    """A raw H.264 stream cut after ``keep_bytes``: its one frame is all error concealment."""
    import av

    with av.open(str(path), "w", format="h264") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
    path.write_bytes(path.read_bytes()[:keep_bytes])
    return path


def test_a_player_reports_the_damaged_frames_read_video_reports(damaged_video, tiny_networks):
    from arseg_tutorial.codec import read_video

    with pytest.warns(UserWarning, match="damaged data"):
        expected = read_video(damaged_video, allow_partial=True).damaged_frames
    assert expected
    player = HRPlayer(damaged_video, tiny_networks[0])
    with torch.inference_mode(), pytest.warns(UserWarning, match=r"\(display order\).*damaged data"):
        while player.step() is not None:
            pass
    assert player.damaged_frames == expected
    assert check_playable(damaged_video) == expected


def test_bench_player_prints_the_damaged_frames(damaged_video, capsys):
    assert main(["bench-player", str(damaged_video), "--random-weights", "--profile", "ci",
                 "--passes", "1"]) == 0
    out = capsys.readouterr()
    assert "decoded from damaged data" in out.out and "Traceback" not in out.err


def test_a_stream_of_concealment_only_is_refused_before_any_network_runs(tmp_path, capsys):
    frames = np.asarray(generate_clip(5, length=4, height=120, width=160).frames)
    path = header_only_h264(tmp_path / "header.h264", frames)
    with pytest.raises(CorruptVideoError, match="every frame.*damaged data"):
        check_playable(path)
    assert main(["bench-player", str(path), "--random-weights", "--profile", "ci"]) == 2
    assert "header.h264" in one_error_line(capsys)


def test_compare_on_video_reports_damaged_frames(two_gop_video, tiny_networks):
    from arseg_tutorial.endtoend import compare_on_video

    video = two_gop_video(11, 12)
    data = bytearray(video.path.read_bytes())
    start = int(len(data) * 0.6)        # inside the second GOP: frames 12-23 are concealed
    data[start:start + 500] = np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8).tobytes()
    video.path.write_bytes(bytes(data))
    hr, lr = (assets.build_network(CONFIG, creff) for creff in (False, True))
    with pytest.warns(UserWarning, match="damaged data"):
        compare_on_video(video, hr, lr, 0.5, progress=False)


# 5. A gap in frame numbers is refused, naming it
def test_a_gap_in_frame_numbers_is_refused_naming_it(tmp_path):
    frames, _ = texture(10)
    folder = tmp_path / "frames"
    folder.mkdir()
    for t in range(10):
        write_png(folder / f"seq_f{t if t < 5 else t + 10}.png", frames[t])
    with pytest.raises(ValueError, match=r"'seq_f4\.png' to 'seq_f15\.png' \(frames 5-14 are missing\)"):
        load_real_clip(folder)
    assert load_real_clip(folder, max_frames=5).length == 5          # each run loads on its own
    assert load_real_clip(folder, first_frame=5).length == 5


# 6. A batch that cannot fit in memory is refused before any work
def test_a_batch_beyond_memory_is_refused_before_any_work(capsys, monkeypatch):
    import arseg_tutorial.train.data as data

    monkeypatch.setattr(data, "load_clips", lambda *a, **k: pytest.fail("work started"))
    assert main(["train", "--method", "hr", "--profile", "ci", "--batch-size", "100000",
                 "--max-steps", "1"]) == 2
    line = one_error_line(capsys)
    assert "--batch-size 100000" in line and "GB" in line and "smaller --batch-size" in line


def test_check_fits_compares_with_the_free_memory(monkeypatch):
    import arseg_tutorial.memory as memory

    monkeypatch.setattr(memory, "available_bytes", lambda device=None: 2**30)
    check_fits(train_step_bytes(2, (96, 128), 0.125, "hr"), "--batch-size 2", "less")
    with pytest.raises(MemoryError, match="--batch-size 1000 needs about .* GB.*1.0 GB free"):
        check_fits(train_step_bytes(1000, (96, 128), 0.125, "hr"), "--batch-size 1000", "less")


def test_evaluate_refuses_more_clips_than_memory_holds(capsys):
    assert main(["evaluate", "--method", "hr", "--clips", str(10**9)]) == 2
    assert "--clips 1000000000" in one_error_line(capsys)


# 7. Manifest entries are file names inside data/
@pytest.mark.parametrize("outside", ["absolute", "parent"])
def test_a_manifest_entry_outside_data_is_refused(tmp_path, outside):
    folder = tmp_path / "data"
    (folder / "checkpoints").mkdir(parents=True)
    manifest = json.loads((data_dir() / "manifest.json").read_text())
    elsewhere = tmp_path / "elsewhere.pt"
    shutil.copy(data_dir() / manifest["checkpoints"]["hr"]["file"], elsewhere)
    manifest["checkpoints"]["hr"]["file"] = (str(elsewhere) if outside == "absolute"
                                             else "../elsewhere.pt")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="not a path inside.*file names in data/ only"):
        assets.load_shipped("hr", folder)
    assert assets.verify_hashes(folder)["hr"] is False
