"""Caches and work that heal: damaged caches rebuilt, stale temporaries removed, bad folders and
arguments refused before any work, a full disk named, data/ never overwritten by another profile."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from arseg_tutorial import atomic, config as arseg_config
from arseg_tutorial.cli import main
from arseg_tutorial.config import data_dir, get_profile
from arseg_tutorial.train import build
from arseg_tutorial.train.checkpoint import atomic_torch_save
from arseg_tutorial.train.data import ClipConfig, clips_cache_path, load_clips

TINY = ClipConfig(first_seed=7_000, num_clips=1, height=120, width=160, gop_length=4)


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(arseg_config.CACHE_ENV, str(folder))
    return folder


def test_a_cut_short_cache_file_is_rebuilt_with_a_warning(cache):
    first = load_clips(TINY)
    path = clips_cache_path(TINY)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    with pytest.warns(RuntimeWarning, match="damaged.*rebuilding"):
        again = load_clips(TINY)
    assert np.array_equal(again.frames, first.frames)
    assert np.array_equal(load_clips(TINY).flow_key, first.flow_key)   # healed: no warning now


def test_temporaries_of_killed_writers_are_removed(tmp_path):
    target = tmp_path / "run.pt"
    script = textwrap.dedent(f"""
        import os
        from arseg_tutorial.atomic import atomic_path
        with atomic_path({str(target)!r}) as tmp:
            tmp.write_bytes(b"x" * 1000)
            os.kill(os.getpid(), 9)
    """)
    subprocess.run([sys.executable, "-c", script], check=False)
    left = list(tmp_path.glob(".run.pt.*.tmp"))
    assert len(left) == 1
    old_style = tmp_path / ".run.pt.abc123.tmp"
    old_style.write_bytes(b"")
    os.utime(old_style, (time.time() - 2 * atomic.STALE_AFTER_S,) * 2)
    fresh = tmp_path / ".run.pt.def456.tmp"   # maybe another writer's, still working
    fresh.write_bytes(b"")
    atomic_torch_save({"w": torch.zeros(1)}, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == [fresh.name, "run.pt"]


def test_an_unwritable_cache_fails_before_building_and_no_cache_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(arseg_config.CACHE_ENV, "/sys/arseg-cache")
    built = []
    monkeypatch.setattr("arseg_tutorial.train.data.build_clips", lambda *a, **k: built.append(1))
    with pytest.raises(PermissionError, match="--no-cache"):
        load_clips(TINY)
    assert built == []
    monkeypatch.undo()
    folder = tmp_path / "never"
    monkeypatch.setenv(arseg_config.CACHE_ENV, str(folder))
    assert len(load_clips(TINY, use_cache=False)) == 1
    assert not folder.exists()


def test_a_full_disk_says_so_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    target = tmp_path / "run.pt"
    atomic_torch_save({"step": 1}, target)
    before = target.read_bytes()

    def full(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 64 vs 0")

    monkeypatch.setattr(torch, "save", full)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9, 0))
    with pytest.raises(OSError, match="no space left.*previous file there"):
        atomic_torch_save({"step": 2}, target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]


@pytest.mark.parametrize("argv, words", [
    (["train", "--method", "hr", "--steps", "0"], "--steps: must be a positive"),
    (["train", "--method", "hr", "--batch-size", "0"], "--batch-size: must be at least 2"),
    (["train", "--method", "hr", "--max-steps", "-1"], "--max-steps: must be 0 or more"),
    (["evaluate", "--method", "hr", "--clips", "0"], "--clips: must be a positive"),
    (["evaluate", "--method", "hr", "--clips", "-3"], "--clips: must be a positive"),
])
def test_zero_and_negative_counts_are_refused(capsys, argv, words):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1, err


def test_zero_clips_is_an_error_and_leaves_no_cache_file(cache):
    with pytest.raises(ValueError, match="num_clips must be at least 1"):
        load_clips(ClipConfig(first_seed=1, num_clips=0, height=120, width=160))
    assert not (cache / "clips").exists() or not any((cache / "clips").iterdir())


def test_max_steps_0_only_loads_the_checkpoint(tmp_path, capsys):
    args = ["train", "--method", "hr", "--profile", "ci", "--threads", "1", "--quiet",
            "--checkpoint", str(tmp_path / "run.pt")]
    assert main([*args, "--max-steps", "0"]) == 0
    assert "0/3 steps" in capsys.readouterr().out


def test_build_assets_refuses_another_profiles_data(tmp_path, capsys):
    folder = tmp_path / "data"
    shutil.copytree(data_dir(), folder)
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    with pytest.raises(FileExistsError, match="profile laptop.*profile ci.*--force"):
        build.build_assets(get_profile("ci"), folder, progress=False)
    assert main(["build-assets", "--profile", "ci", "--out", str(folder), "--quiet"]) == 2
    assert "--profile laptop" in capsys.readouterr().err
    assert before == {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    build.check_overwrite(get_profile("laptop"), folder)            # the same profile may rebuild
    build.check_overwrite(get_profile("ci"), folder, force=True)    # and --force may replace


def _run_script(path, timeout_s: float = 60.0) -> tuple[int, str, float]:
    """Run a Python script in its own process group; kill the whole group if it outlives the
    timeout (a script that respawns workers must not outlive the test)."""
    start = time.monotonic()
    process = subprocess.Popen([sys.executable, str(path)], cwd=path.parent, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        output, _ = process.communicate()
        pytest.fail(f"{path.name} still ran after {timeout_s} s (hung or respawning):\n{output[-2000:]}")
    return process.returncode, output, time.monotonic() - start


def test_two_workers_from_a_script_without_a_main_guard_fail_fast_naming_the_script(tmp_path):
    body = ("from arseg_tutorial.train.data import ClipConfig, build_clips\n"
            "{indent}clips = build_clips(ClipConfig(first_seed=7_000, num_clips=2, height=120, width=160, "
            "gop_length=3), workers=2)\n"
            "{indent}print('built', clips.frames.shape)\n")
    script = tmp_path / "make_clips.py"
    script.write_text(body.format(indent=""))
    returncode, output, _ = _run_script(script)
    assert returncode != 0 and "built (" not in output, output[-2000:]
    message = output.strip().splitlines()[-1]   # the parent's error, after the workers' tracebacks
    assert "make_clips.py" in message and 'if __name__ == "__main__":' in message, message
    assert "workers=1" in message, message
    assert "bootstrapping phase" not in output   # the workers stop with the same sentence, first

    guarded = tmp_path / "guarded.py"
    guarded.write_text(body.format(indent="    ").replace("\n    clips", "\nif __name__ == '__main__':\n    clips"))
    returncode, output, _ = _run_script(guarded)
    assert returncode == 0 and "built (2, 3, 120, 160, 3)" in output, output[-2000:]
